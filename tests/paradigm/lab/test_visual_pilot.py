"""The visual pilot: the default protocol, shortened, in a PsychoPy window under Xvfb with simulated input."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lab_helpers import QUICK_ANSWERS, SHORT, run_paradigm
from PIL import Image

from paradigm import load_protocol
from paradigm.datafiles import trial_columns
from paradigm.triggers import code_for

pytestmark = [pytest.mark.display, pytest.mark.slow]
STEM = "sub-sim001_ses-1_task-default"


@pytest.fixture(scope="module")
def pilots(xvfb, stimulus_set, tmp_path_factory):
    """The same one-participant pilot run visually (with screenshots) and data-only."""
    root = tmp_path_factory.mktemp("visual")
    args = ["protocols/default.yaml", "--set", f"stimuli.manifest={stimulus_set}", *SHORT, *QUICK_ANSWERS,
            "--participants", "1", "--seed", "5"]
    visual = run_paradigm(xvfb, "pilot", *args, "--visual", "--out", str(root / "visual"),
                          "--screenshots", str(root / "shots"))
    assert visual.returncode == 0, visual.stderr[-2000:]
    headless = run_paradigm(xvfb, "pilot", *args, "--out", str(root / "headless"))
    assert headless.returncode == 0, headless.stderr[-2000:]
    return root


def _data(root, which):
    return pd.read_csv(root / which / "data" / f"{STEM}_data.csv", keep_default_na=False, dtype=str)


def test_visual_pilot_follows_contract(pilots, stimulus_set):
    """Every trial is on disk in contract columns, marked simulated, with the session completed."""
    data = _data(pilots, "visual")
    loaded = load_protocol("protocols/default.yaml", {"stimuli.manifest": str(stimulus_set)})
    assert list(data.columns) == trial_columns(loaded.protocol)
    assert list(data["trial"]) == [str(i) for i in range(1, 19)]
    assert set(data["mode"]) == {"pilot"} and set(data["simulated"]) == {"true"}
    sidecar = json.loads((pilots / "visual" / "data" / f"{STEM}_session.json").read_text())
    assert sidecar["status"] == "completed" and sidecar["n_trials_done"] == 18
    display = sidecar["parts"][0]["display"]
    assert display["frame_hz"] == 60.0 and display["fullscreen"] is False
    assert display["paced"] is True and display["renderer"]   # Xvfb has no vsync, whatever its drawing speed
    assert sidecar["parts"][0]["frame_intervals"]["n_flips"] > 18 * 40
    assert "psychopy" in sidecar["software"]


def test_answers_pass_through_psychopy_input(pilots):
    """Ratings, RTs and trial order entered through PsychoPy's slider and keyboard equal the data-only pilot's."""
    visual, headless = _data(pilots, "visual"), _data(pilots, "headless")
    columns = ["trial", "stimulus_id", "rating_pain_intensity", "rating_pain_intensity_rt_s",
               "rating_unpleasantness", "rating_unpleasantness_rt_s", "timed_out"]
    pd.testing.assert_frame_equal(visual[columns], headless[columns])


def test_stimulus_lasts_whole_frames(pilots):
    """The 0.3 s stimulus is shown for 18 frames at 60 Hz: onsets and offsets come from flips."""
    data = _data(pilots, "visual")
    duration = pd.to_numeric(data["stimulus_duration_s"])
    assert abs(duration.median() - 0.3) < 1.5 / 60
    assert (pd.to_numeric(data["dropped_frames"]) >= 0).all()
    onsets = pd.to_numeric(data["stimulus_onset_s"])
    assert (pd.to_numeric(data["stimulus_offset_s"]) > onsets).all() and onsets.is_monotonic_increasing
    assert (onsets > pd.to_numeric(data["fixation_onset_s"])).all()


def test_triggers_match_the_map_on_their_flips(pilots, stimulus_set):
    """Each event's code goes out once, at the event's flip; each answer sends the response code."""
    loaded = load_protocol("protocols/default.yaml", {"stimuli.manifest": str(stimulus_set)})
    codes = loaded.protocol.triggers.codes
    sidecar = json.loads((pilots / "visual" / "data" / f"{STEM}_session.json").read_text())
    sent = [(t, c) for t, c in sidecar["parts"][0]["triggers_sent"]]
    events = pd.read_csv(pilots / "visual" / "data" / f"{STEM}_events.tsv", sep="\t", keep_default_na=False)
    expected_codes = {"fixation": codes["fixation"], "stimulus": codes["stimulus"], "blank": None,
                      "rating": codes["rating"], "iti": codes["iti"]}
    flips = []
    for _, event in events.iterrows():
        if event["trial_type"] == "instructions":
            continue
        assert str(event["value_code"]) == ("n/a" if expected_codes[event["trial_type"]] is None
                                            else str(expected_codes[event["trial_type"]]))
        if event["value_code"] != "n/a":
            flips.append((float(event["onset"]), int(event["value_code"])))
    event_codes = [s for s in sent if s[1] != code_for(codes, "response")]
    assert len(event_codes) == len(flips)
    for (t_sent, c_sent), (t_flip, c_flip) in zip(event_codes, flips):
        assert c_sent == c_flip and abs(t_sent - t_flip) < 1e-5
    answered = (events["trial_type"] == "rating") & (events["response"] != "n/a")
    assert sum(c == code_for(codes, "response") for _, c in sent) == answered.sum()


def _image(root, name):
    return np.asarray(Image.open(root / "shots" / f"{name}.png").convert("L"), dtype=float)


def test_screenshots_show_each_screen(pilots):
    """Fixation, stimulus and rating screens are drawn: not blank, the picture in the centre."""
    background = _image(pilots, "blank")
    assert background.std() < 1.0
    grey = np.median(background)
    for name in ("fixation", "stimulus", "rating_pain_intensity", "rating_unpleasantness", "text"):
        image = _image(pilots, name)
        assert image.shape == background.shape and (np.abs(image - grey) > 20).mean() > 0.0005, name
    stimulus = _image(pilots, "stimulus")
    h, w = stimulus.shape
    centre = stimulus[int(h * 0.35):int(h * 0.65), int(w * 0.42):int(w * 0.58)]
    corners = np.concatenate([stimulus[:50, :50].ravel(), stimulus[-50:, -50:].ravel()])
    assert np.abs(centre - grey).mean() > 5 and np.abs(corners - grey).max() < 1
    rating = _image(pilots, "rating_pain_intensity")
    band = rating[int(h * 0.5):int(h * 0.6)]
    assert (np.abs(band - grey) > 10).mean(axis=1).max() > 0.6   # the slider's bar spans the screen's width
