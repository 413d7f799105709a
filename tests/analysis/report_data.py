"""Helpers for the report tests: pilot data with known truth, and small hand-made trial CSVs."""
from __future__ import annotations

import csv
from pathlib import Path

# True values (percent of the range) away from the scale's ends, so answers are rarely clipped.
TRUTH = {
    "pain_intensity": {"intercept": 50.0, "effects": {"pain": 30.0, "perspective": 6.0, "group": -3.0,
                                                      "pain:group": -5.0, "pain:perspective": 4.0},
                       "sd_participant": 6.0, "sd_participant_pain": 6.0, "corr": 0.2, "sd_stimulus": 3.0,
                       "sd_residual": 8.0},
    "unpleasantness": {"intercept": 45.0, "effects": {"pain": 20.0, "perspective": 5.0, "group": -2.0,
                                                      "pain:group": -3.0, "pain:perspective": 3.0},
                       "sd_participant": 6.0, "sd_participant_pain": 6.0, "corr": 0.3, "sd_stimulus": 3.0,
                       "sd_residual": 8.0},
}


def run_truth_pilot(protocol, manifest, out, n_participants=20, seed=5):
    """A data-only pilot of the default protocol with ``TRUTH``; returns its data folder."""
    from paradigm.pilot import run_pilot

    run_pilot(protocol, manifest, n_participants=n_participants, out_dir=out, seed=seed,
              params={"ratings": TRUTH})
    return Path(out) / "data"


def read_rows(path):
    """A trial CSV as a header and a list of row dicts."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def write_rows(path, header, rows):
    """Write row dicts under ``header`` as a CSV."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
