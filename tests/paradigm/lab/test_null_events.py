"""A visual pilot of the Singer preset (shortened): the PsychoPy presenter shows each null event as a
fixation; events.tsv has it with a flip onset, on which its trigger went out, and the same schedule
as a data-only pilot of the same seed."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from lab_helpers import QUICK_ANSWERS, run_paradigm

pytestmark = [pytest.mark.display, pytest.mark.slow]
SINGER = Path(__file__).resolve().parents[3] / "protocols" / "singer2004.yaml"
SHORT = ["blocks.practice.n_trials=0", "blocks.main.trials_per_cell=2", "blocks.main.repetitions=2",
         "blocks.main.null_events={count: 3, duration_s: [0.3, 0.5]}", "timeline.0.duration_s=0.2",
         "timeline.1.duration_s=0.3", "timeline.2.duration_s=0.2", "timeline.5.duration_s=0.2",
         "triggers.backend=virtual", "display.fullscreen=false"]


def _events(path):
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def _schedule(events):
    return [events.trial[i + 1] for i in events.index[events.trial_type == "null"]]


@pytest.fixture(scope="module")
def runs(xvfb, tmp_path_factory):
    root = tmp_path_factory.mktemp("null")
    common = ["pilot", str(SINGER), "--participants", "1", "--seed", "8", *QUICK_ANSWERS]
    for item in SHORT:
        common += ["--set", item]
    visual = run_paradigm(xvfb, *common, "--visual", "--out", str(root / "visual"))
    assert visual.returncode == 0, visual.stderr[-2000:]
    headless = run_paradigm(xvfb, *common, "--out", str(root / "headless"))
    assert headless.returncode == 0, headless.stderr[-2000:]
    return root


def test_visual_null_events_are_flip_timed_fixations(runs):
    """Three null events, fixation only, 0.3–0.5 s (whole frames) by flip onsets, trigger 9 on that flip;
    eight trial rows; the same places as the data-only pilot."""
    data = runs / "visual" / "data"
    events = _events(next(data.glob("*_events.tsv")))
    nulls = events[events.trial_type == "null"]
    assert len(nulls) == 3 and (nulls.trial == "n/a").all() and (nulls.stimulus_id == "n/a").all()
    durations = pd.to_numeric(nulls.duration)
    assert durations.between(0.3 - 0.02, 0.5 + 0.05).all(), durations.tolist()
    sidecar = json.loads(next(data.glob("*_session.json")).read_text())
    sent = [t for t, code in sidecar["parts"][-1]["triggers_sent"] if code == 9]
    assert len(sent) == 3
    assert all(abs(t - float(o)) < 1e-3 for t, o in zip(sent, nulls.onset))
    rows = pd.read_csv(next(data.glob("*_data.csv")))
    assert len(rows) == 8
    headless = _events(next((runs / "headless" / "data").glob("*_events.tsv")))
    assert _schedule(events) == _schedule(headless)
