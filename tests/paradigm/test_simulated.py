"""The simulated participant and the headless presenter: parameters, scales, responses, frame-locked clock."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paradigm import load_protocol
from paradigm.design import build_design
from paradigm.headless import HeadlessPresenter
from paradigm.simulated import SimulatedParticipant, draw_stimulus_effects, simulation_params
from paradigm.triggers import VirtualPort, code_for


def test_overrides_nested_and_dotted():
    """Nested mappings and dotted names both override defaults; a new rating starts from default_rating."""
    params = simulation_params({"ratings": {"pain_intensity": {"effects": {"pain": 60}}}, "lapse_rate": 0.05,
                                "ratings.extra.intercept": 20})
    assert params.rating("pain_intensity").effects["pain"] == 60.0
    assert params.rating("pain_intensity").effects["group"] == -2.0
    assert params.lapse_rate == 0.05 and params.rating("extra").intercept == 20.0


@pytest.mark.parametrize("overrides, message", [
    ({"lapse_rat": 0.1}, "did you mean 'lapse_rate'"),
    ({"ratings.pain_intensity.effects.colour": 1}, "effect terms combine"),
    ({"judgement_accuracy": "high"}, "must be a number (got 'high')"),
    ({"ratings.pain_intensity": 3}, "is a group of values"),
])
def test_bad_overrides_named(overrides, message):
    """A bad simulation parameter raises ValueError naming it and what is allowed."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        simulation_params(overrides)


def _likert_protocol(default_protocol):
    return load_protocol(default_protocol.path, list(default_protocol.overrides) + [
        ("timeline.3", {"event": "rating", "name": "pain_intensity", "scale": "likert", "question": "Pain?",
                        "anchors": ["none", "worst"], "range": [1, 9], "timeout_s": 8}),
        ("timeline.4", {"event": "judgement", "keys": {"pain": "f", "neutral": "j"}, "timeout_s": 2.0})])


def test_likert_answers_are_whole_points_and_judgements_mostly_correct(default_protocol, manifest):
    """Likert answers are integers within the range; about 98% of judgements are correct."""
    protocol = _likert_protocol(default_protocol).protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params()
    effects = draw_stimulus_effects([s.stimulus_id for s in manifest.stimuli], ["pain_intensity"], sim,
                                    np.random.default_rng(0))
    person = SimulatedParticipant(protocol, sim, effects, seed=9)
    rating, judgement = protocol.ratings[0], protocol.judgement
    values = [person.rate(t, rating)[0] for t in design.trials]
    answered = [v for v in values if v is not None]
    assert all(float(v).is_integer() and 1 <= v <= 9 for v in answered)
    keys = [(t.pain, person.judge(t, judgement)) for t in design.trials]
    correct = [key == judgement.keys[pain] for pain, (key, rt) in keys if key is not None]
    assert 0.9 < np.mean(correct) <= 1.0
    rts = pd.Series([rt for _, (key, rt) in keys if key is not None])
    assert rts.min() >= 0.15 and 0.5 < rts.median() < 1.2


def test_answers_repeat_per_trial(default_protocol, manifest):
    """The same trial gets the same answer whenever it is asked: what makes a resumed pilot exact."""
    protocol = default_protocol.protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params()
    a = SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=5)
    b = SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=5)
    later = [b.rate(t, protocol.ratings[0]) for t in design.trials[100:]]
    assert [a.rate(t, protocol.ratings[0]) for t in design.trials][100:] == later


def test_headless_durations_are_whole_frames(default_protocol, manifest):
    """Virtual-clock durations are whole frames at the protocol's refresh rate; codes go to the port."""
    protocol = default_protocol.protocol
    port = VirtualPort()
    presenter = HeadlessPresenter(protocol, "en", port)
    trial = build_design(protocol, manifest, slot=0, seed=1, participant_group="A").trials[0]
    onset = presenter.show_fixation("+", 0.5123, code=code_for(protocol.triggers.codes, "fixation", trial))
    shown = presenter.show_stimulus(trial, 3.5, code=20)
    frames = (shown.onset_s - onset) * 60
    assert abs(frames - round(frames)) < 1e-9 and round(frames) == 31
    assert shown.offset_s - shown.onset_s == pytest.approx(3.5)
    assert port.log == [(0.0, 10), (shown.onset_s, 20)]


def test_trigger_codes_by_condition():
    """A condition map picks the most specific label whose levels all match the trial."""
    class T:
        pain, perspective, group, stimulus_type = "pain", "self", "outgroup", "face"

    codes = {"stimulus": {"pain": 21, "neutral": 22, "pain_self": 31, "pain_self_ingroup": 41}, "iti": 5}
    assert code_for(codes, "stimulus", T) == 31
    assert code_for(codes, "iti", T) == 5 and code_for(codes, "blank", T) is None
