"""Regenerate pilot_trials.csv, the pilot data of the R parity references, from the repository root.

Command (from the repository root, which holds protocols/ and stimuli/sets/default)::

    .venv/bin/python tests/analysis/reference/parity/make_data.py

It runs ``paradigm pilot protocols/default.yaml --participants 16 --out <tmp> --seed 11``
(a seeded, data-only pilot of the default protocol), reads the sessions with
``analysis.read_trials``, keeps the main trials (block_kind == "main") and writes the
columns participant, stimulus_id, pain, perspective, group, stimulus_type,
rating_pain_intensity, rating_unpleasantness (a missing rating is an empty field) to
pilot_trials.csv beside this script, sorted by participant and trial order.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
COLUMNS = ["participant", "stimulus_id", "pain", "perspective", "group", "stimulus_type",
           "rating_pain_intensity", "rating_unpleasantness"]
PILOT = ["pilot", "protocols/default.yaml", "--participants", "16", "--seed", "11"]


def main() -> int:
    from analysis import read_trials

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "parity_pilot"
        subprocess.run([sys.executable, "-m", "paradigm", *PILOT, "--out", str(out)], cwd=ROOT, check=True)
        data = read_trials(out)
    trials = data.trials
    trials = trials[trials["block_kind"] == "main"].sort_values(["participant", "session", "trial"])
    trials[COLUMNS].to_csv(HERE / "pilot_trials.csv", index=False, float_format="%.10g")
    print(f"wrote {HERE / 'pilot_trials.csv'}: {len(trials)} main trials, "
          f"{trials['participant'].nunique()} participants")
    return 0


if __name__ == "__main__":
    sys.exit(main())
