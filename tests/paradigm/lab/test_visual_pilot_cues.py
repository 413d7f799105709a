"""A visual pilot of a per-trial-cue design: minimal-group team frames, a pain judgement, practice feedback, German texts."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lab_helpers import SCREEN, run_paradigm
from PIL import Image

pytestmark = [pytest.mark.display, pytest.mark.slow]
TEAM_COLOURS = {"blau": "#1f77b4", "gelb": "#ffbf00"}


def _protocol(folder, manifest):
    text = f"""
name: cuejudge
language: de
stimuli: {{manifest: "{manifest}", filter: {{stimulus_type: [face]}}}}
factors:
  pain: [pain, neutral]
  stimulus_type: [face]
  perspective: {{levels: [self, other], assignment: trial, cue_every_trial: true}}
  group: {{kind: minimal, participant_levels: [blau, gelb], team_colours: {json.dumps(TEAM_COLOURS)}, marker: frame}}
timeline:
  - {{event: fixation, duration_s: [0.2, 0.3]}}
  - {{event: cue, duration_s: 0.3}}
  - {{event: stimulus, duration_s: 0.3}}
  - {{event: judgement, keys: {{pain: j, neutral: f}}, prompt: "Schmerz?  F = nein   J = ja", timeout_s: 3}}
  - {{event: iti, duration_s: 0.2}}
blocks: {{practice: {{n_trials: 2, feedback: true}}, main: {{trials_per_cell: 1}}}}
instructions:
  de: {{welcome: "Willkommen.", practice: "Zuerst eine Übung.", perspective_self: "Sie selbst",
        perspective_other: "Die andere Person", cue_self: "Stellen Sie sich vor, es passiert Ihnen.",
        cue_other: "Stellen Sie sich vor, es passiert dieser Person.", feedback_correct: "Richtig",
        feedback_incorrect: "Falsch", feedback_too_slow: "Zu langsam", end: "Danke!",
        continue_prompt: "Weiter mit der Leertaste."}}
  en: {{welcome: "Welcome.", practice: "Practice first.", perspective_self: "You", perspective_other: "Them",
        cue_self: "Imagine this is happening to you.", cue_other: "Imagine this is happening to this person."}}
display: {{fullscreen: true, size_px: [{SCREEN[0]}, {SCREEN[1]}]}}
triggers: {{backend: virtual, codes: {{fixation: 10, cue: {{self: 11, other: 12}}, stimulus: 20, judgement: 30,
           iti: 40, response: 50}}}}
"""
    path = folder / "cuejudge.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(xvfb, stimulus_set, tmp_path_factory):
    """The protocol run as a visual pilot (with screenshots) and as a data-only pilot of the same seed."""
    root = tmp_path_factory.mktemp("cues")
    protocol = _protocol(root, stimulus_set)
    common = ["pilot", str(protocol), "--participants", "1", "--seed", "2", "--param", "continue_rt_s=0.3"]
    visual = run_paradigm(xvfb, *common, "--visual", "--out", str(root / "visual"), "--screenshots",
                          str(root / "shots"))
    assert visual.returncode == 0, visual.stderr[-2000:]
    headless = run_paradigm(xvfb, *common, "--out", str(root / "headless"))
    assert headless.returncode == 0, headless.stderr[-2000:]
    return root


def _files(root, which, suffix):
    return root / which / "data" / f"sub-sim001_ses-1_task-cuejudge_{suffix}"


def test_judgements_and_cues_match_the_data_only_pilot(runs):
    """Judgement keys, correctness, RTs and per-trial perspectives equal the data-only pilot's."""
    columns = ["trial", "block_kind", "stimulus_id", "perspective", "group", "judgement", "judgement_correct",
               "judgement_rt_s", "timed_out"]
    visual = pd.read_csv(_files(runs, "visual", "data.csv"), keep_default_na=False, dtype=str)
    headless = pd.read_csv(_files(runs, "headless", "data.csv"), keep_default_na=False, dtype=str)
    pd.testing.assert_frame_equal(visual[columns], headless[columns])
    assert set(visual["perspective"]) == {"self", "other"} and set(visual["group"]) == {"ingroup", "outgroup"}


def test_cue_codes_and_practice_feedback(runs):
    """Each cue sends its perspective's code on its flip; practice trials show feedback, main trials do not."""
    events = pd.read_csv(_files(runs, "visual", "events.tsv"), sep="\t", keep_default_na=False)
    cues = events[events["trial_type"] == "cue"]
    assert list(cues["value_code"].astype(int)) == [11 if p == "self" else 12 for p in cues["perspective"]]
    sidecar = json.loads(_files(runs, "visual", "session.json").read_text())
    sent = {round(t, 6): c for t, c in sidecar["parts"][0]["triggers_sent"]}
    assert all(sent[round(float(t), 6)] == int(c) for t, c in zip(cues["onset"], cues["value_code"]))
    feedback_trials = set(events.loc[events["trial_type"] == "feedback", "trial"])
    assert feedback_trials == {1, 2}


def test_team_frame_and_german_text_on_screen(runs):
    """The stimulus carries a team-coloured frame; the cue screen shows text."""
    stimulus = np.asarray(Image.open(runs / "shots" / "stimulus.png").convert("RGB"), dtype=int)
    colours = [np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in TEAM_COLOURS.values()]
    near = [(np.abs(stimulus - colour).sum(axis=2) < 40).mean() for colour in colours]
    assert max(near) > 0.005
    cue = np.asarray(Image.open(runs / "shots" / "cue.png").convert("L"), dtype=float)
    assert (np.abs(cue - np.median(cue)) > 40).mean() > 0.001
    assert (runs / "shots" / "feedback.png").exists() and (runs / "shots" / "judgement.png").exists()
