"""A lab session driven by real X input (xdotool): the values typed and clicked are the values recorded."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from lab_helpers import REPO, ScreenDriver, input_protocol, paradigm_cmd
from PIL import Image

pytestmark = [pytest.mark.display, pytest.mark.slow]

# Per trial: the judgement key, the VAS value clicked, the Likert keys (first arrow = midpoint 5).
ANSWERS = [
    {"judgement": "j", "vas": 73, "likert_keys": ["Right", "Right", "Right"], "likert": 7},
    {"judgement": "f", "vas": 0, "likert_keys": ["2"], "likert": 2},
    {"judgement": "j", "vas": 100, "likert_keys": ["Left"], "likert": 5},
    {"judgement": "f", "vas": 38, "likert_keys": ["9", "Left"], "likert": 8},
]
STEM = "sub-P01_ses-1_task-labinput"


def _run(env, protocol, out, *extra, answers=ANSWERS, stop_after=None):
    proc = subprocess.Popen(paradigm_cmd("-v", "run", str(protocol), "--participant", "P01", "--out", str(out),
                                         *extra), env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    driver = ScreenDriver(proc, env, answers)
    code = driver.drive(stop_after=stop_after)
    return code, "".join(driver.log)


@pytest.fixture(scope="module")
def session(xvfb, stimulus_set, tmp_path_factory):
    """One complete lab session of 4 trials answered with xdotool, with screenshots."""
    root = tmp_path_factory.mktemp("lab")
    protocol = input_protocol(root, stimulus_set)
    code, log = _run(xvfb, protocol, root / "out", "--screenshots", str(root / "shots"))
    assert code == 0, log[-3000:]
    return root


def test_recorded_values_are_the_entered_values(session):
    """Judgement keys, clicked VAS values and Likert keys appear in the CSV exactly."""
    data = pd.read_csv(session / "out" / "data" / f"{STEM}_data.csv", keep_default_na=False, dtype=str)
    assert list(data["judgement"]) == [a["judgement"] for a in ANSWERS]
    assert [float(v) for v in data["rating_pain_intensity"]] == [a["vas"] for a in ANSWERS]
    assert [float(v) for v in data["rating_unpleasantness"]] == [a["likert"] for a in ANSWERS]
    correct = [("true" if (a["judgement"] == "j") == (p == "pain") else "false")
               for a, p in zip(ANSWERS, data["pain"])]
    assert list(data["judgement_correct"]) == correct
    for column in ("judgement_rt_s", "rating_pain_intensity_rt_s", "rating_unpleasantness_rt_s"):
        rt = pd.to_numeric(data[column])
        assert ((rt > 0.3) & (rt < 20)).all(), column
    assert set(data["mode"]) == {"lab"} and set(data["simulated"]) == {"false"}
    sidecar = json.loads((session / "out" / "data" / f"{STEM}_session.json").read_text())
    assert sidecar["status"] == "completed" and sidecar["windowed"] is False
    assert sidecar["parts"][0]["display"]["fullscreen"] is True


def test_condition_codes_follow_the_trigger_map(session):
    """The stimulus code depends on the trial's pain level, as the protocol's map says."""
    data = pd.read_csv(session / "out" / "data" / f"{STEM}_data.csv", keep_default_na=False, dtype=str)
    sidecar = json.loads((session / "out" / "data" / f"{STEM}_session.json").read_text())
    sent = sidecar["parts"][0]["triggers_sent"]
    stimulus_codes = [c for _, c in sent if c in (21, 22)]
    assert stimulus_codes == [21 if p == "pain" else 22 for p in data["pain"]]
    onsets = [round(float(t), 6) for t, c in sent if c in (21, 22)]
    assert onsets == [float(v) for v in data["stimulus_onset_s"]]
    assert sum(c == 50 for _, c in sent) == 3 * len(data)   # one response code per answer


def test_judgement_screenshot(session):
    """The judgement screen shows its prompt (text pixels on the grey background)."""
    image = np.asarray(Image.open(session / "shots" / "judgement.png").convert("L"), dtype=float)
    assert image.shape == (1024, 1280)
    assert 0.001 < (np.abs(image - np.median(image)) > 40).mean() < 0.2


def test_escape_keeps_data_and_resume_completes(xvfb, stimulus_set, tmp_path):
    """Escape + Y after two trials: status aborted with both rows; --resume then adds trials 3 and 4 only."""
    protocol = input_protocol(tmp_path, stimulus_set)
    out = tmp_path / "out"
    code, log = _run(xvfb, protocol, out, answers=ANSWERS, stop_after=2)
    assert code == 0, log[-3000:]
    csv_path = out / "data" / f"{STEM}_data.csv"
    sidecar = json.loads((out / "data" / f"{STEM}_session.json").read_text())
    assert sidecar["status"] == "aborted"
    first = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
    assert list(first["trial"]) == ["1", "2"]

    again = subprocess.run(paradigm_cmd("run", str(protocol), "--participant", "P01", "--out", str(out)),
                           env=xvfb, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--resume" in again.stderr and len(again.stderr.strip().splitlines()) == 1

    code, log = _run(xvfb, protocol, out, "--resume", answers=ANSWERS[2:])
    assert code == 0, log[-3000:]
    data = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
    assert list(data["trial"]) == ["1", "2", "3", "4"]
    assert data.iloc[:2].equals(first)
    assert [float(v) for v in data["rating_pain_intensity"]][2:] == [a["vas"] for a in ANSWERS[2:]]
    sidecar = json.loads((out / "data" / f"{STEM}_session.json").read_text())
    assert sidecar["status"] == "completed"
    assert [p["status"] for p in sidecar["parts"]] == ["aborted", "completed"]
    assert [p["first_trial"] for p in sidecar["parts"]] == [1, 3]
