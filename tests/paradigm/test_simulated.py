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


# --- the grounded simulator: RTs, drift, anchors, truth ------------------------------------

QUIET = {"lapse_rate": 0.0, "practice_rt_gain": 0.0, "fatigue_rt_per_100_trials": 0.0,
         "fatigue_noise_per_100_trials": 0.0, "judgement_sd_participant_s": 0.0,
         "judgement_sd_participant_pain_s": 0.0}


def _judgements(default_protocol, manifest, overrides, n_people=40):
    """(trial, key, rt) for every main and practice trial of ``n_people`` simulated people."""
    protocol = _likert_protocol(default_protocol).protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params(overrides)
    out = []
    for seed in range(n_people):
        person = SimulatedParticipant(protocol, sim, {"pain_intensity": {}}, seed=seed)
        out += [(t, *person.judge(t, protocol.judgement)) for t in design.trials]
    return out, sim


def test_judgement_rt_mean_is_t0_plus_mu_plus_tau(default_protocol, manifest):
    """Without participant spread or drift, the mean RT is t0 + mu + tau and none is below t0 + mu − 5 sigma."""
    answers, sim = _judgements(default_protocol, manifest, {**QUIET, "judgement_t0_s": 0.5,
                                                            "judgement_rt_effects.pain": 0.0})
    rts = np.array([rt for _, key, rt in answers if key is not None])
    assert len(rts) > 0.998 * len(answers)   # a few pass the 2-s timeout
    expected = sim.judgement_t0_s + sim.judgement_mu_s + sim.judgement_tau_s
    assert abs(rts.mean() - expected) < 0.01
    assert rts.min() > sim.judgement_t0_s + sim.judgement_mu_s - 5 * sim.judgement_sigma_s - 0.08
    # ex-Gaussian: right-skewed (skewness 2 tau^3 / (sigma^2 + tau^2)^1.5 = 1.37 for the defaults)
    from scipy.stats import skew

    assert 1.0 < skew(rts) < 1.7


def test_pain_slows_judgements_by_the_set_amount(default_protocol, manifest):
    """The pain − neutral RT difference equals judgement_rt_effects.pain; a group term is accepted too."""
    answers, _ = _judgements(default_protocol, manifest, {**QUIET, "judgement_rt_effects.pain": 0.3,
                                                          "judgement_rt_effects.group": 0.0})
    frame = pd.DataFrame([(t.pain, rt) for t, key, rt in answers], columns=["pain", "rt"])
    means = frame.groupby("pain")["rt"].mean()
    assert abs(means["pain"] - means["neutral"] - 0.3) < 0.015


def test_participant_pain_slopes_give_the_open_data_d_z(default_protocol, manifest):
    """With the default participant slope SD, per-person pain slowing has d_z near 0.6 (open_rating_data)."""
    protocol = _likert_protocol(default_protocol).protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params({"lapse_rate": 0.0})
    diffs = []
    for seed in range(150):
        person = SimulatedParticipant(protocol, sim, {"pain_intensity": {}}, seed=seed)
        rt = {"pain": [], "neutral": []}
        for t in design.trials:
            key, seconds = person.judge(t, protocol.judgement)
            if key is not None:
                rt[t.pain].append(seconds)
        diffs.append(np.mean(rt["pain"]) - np.mean(rt["neutral"]))
    diffs = np.array(diffs)
    assert 0.12 < diffs.mean() < 0.20 and 0.45 < diffs.mean() / diffs.std(ddof=1) < 0.8


def test_practice_and_fatigue_drift(default_protocol, manifest):
    """RTs start slow (practice), then slow down with trial number (fatigue) by the set fractions."""
    protocol = default_protocol.protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    rating = protocol.ratings[0]

    def rts(overrides, trials):
        sim = simulation_params({**QUIET, **overrides})
        people = [SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=s)
                  for s in range(30)]
        return np.array([person.rate(t, rating)[1] for person in people for t in trials])

    trials = design.trials
    none = {"practice_rt_gain": 0.0, "fatigue_rt_per_100_trials": 0.0}
    fatigue = {"practice_rt_gain": 0.0, "fatigue_rt_per_100_trials": 0.4}
    ratio = rts(fatigue, trials) / rts(none, trials)
    assert np.allclose(ratio, [1 + 0.4 * (t.trial - 1) / 100 for _ in range(30) for t in trials])
    practice = {"practice_rt_gain": 0.5, "practice_tau_trials": 5.0, "fatigue_rt_per_100_trials": 0.0}
    early, late = trials[:10], trials[-40:]
    assert rts(practice, early).mean() > 1.15 * rts(none, early).mean()
    assert rts(practice, late).mean() == pytest.approx(rts(none, late).mean(), rel=1e-6)


def test_fatigue_adds_noise(default_protocol, manifest):
    """With noise fatigue, late ratings scatter more around the person's cell means than early ones."""
    protocol = default_protocol.protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params({**QUIET, "fatigue_noise_per_100_trials": 2.0,
                             "ratings.unpleasantness.anchor_snap": 0.0})
    rating = protocol.ratings[1]
    spread = {"early": [], "late": []}
    for seed in range(30):
        person = SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=seed)
        truth = person.truth["ratings"]["unpleasantness"]["participant_cell_means"]
        main_trials = [t for t in design.trials if t.block_kind == "main"]
        for part, trials in (("early", main_trials[:40]), ("late", main_trials[-40:])):
            for t in trials:
                value, _ = person.rate(t, rating)
                label = "_".join(v for v in (t.pain, t.perspective, t.group, t.stimulus_type) if v != "none")
                if 5 < truth[label] < 95:
                    spread[part].append(value - truth[label])
    assert np.std(spread["late"]) > 1.8 * np.std(spread["early"])


def test_vas_answers_snap_to_the_anchors(default_protocol, manifest):
    """With certain snapping, no answer falls inside the anchor windows and more sit on the anchors."""
    protocol = default_protocol.protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    rating = protocol.ratings[0]

    def answers(snap):
        sim = simulation_params({**QUIET, "ratings.pain_intensity.anchor_snap": snap,
                                 "ratings.pain_intensity.anchor_window": 10})
        people = [SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=s)
                  for s in range(20)]
        values = [person.rate(t, rating)[0] for person in people for t in design.trials]
        return np.array([v for v in values if v is not None])

    snapped, clipped = answers(1.0), answers(0.0)
    assert not ((snapped > 0) & (snapped < 10)).any() and not ((snapped > 90) & (snapped < 100)).any()
    assert ((clipped > 0) & (clipped < 10)).any()
    at_anchor = lambda v: np.mean((v == 0) | (v == 100))  # noqa: E731 - a one-line measure
    assert at_anchor(snapped) > at_anchor(clipped) + 0.05


def test_lapses_rise_with_fatigue(default_protocol, manifest):
    """Lapses (no answer) occur at lapse_rate early and more often late when fatigue raises them."""
    protocol = default_protocol.protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params({"lapse_rate": 0.1, "fatigue_lapse_per_100_trials": 3.0})
    rating = protocol.ratings[0]
    missing = {"early": [], "late": []}
    for seed in range(40):
        person = SimulatedParticipant(protocol, sim, {"pain_intensity": {}, "unpleasantness": {}}, seed=seed)
        for part, trials in (("early", design.trials[:30]), ("late", design.trials[-30:])):
            missing[part] += [person.rate(t, rating)[0] is None for t in trials]
    assert 0.06 < np.mean(missing["early"]) < 0.2 and np.mean(missing["late"]) > 0.4


def test_judgements_repeat_per_trial(default_protocol, manifest):
    """A second participant of the same seed, asked only from trial 100 on, judges exactly alike."""
    protocol = _likert_protocol(default_protocol).protocol
    design = build_design(protocol, manifest, slot=0, seed=3, participant_group="A")
    sim = simulation_params()
    a = SimulatedParticipant(protocol, sim, {"pain_intensity": {}}, seed=5)
    b = SimulatedParticipant(protocol, sim, {"pain_intensity": {}}, seed=5)
    whole = [(a.rate(t, protocol.ratings[0]), a.judge(t, protocol.judgement)) for t in design.trials]
    later = [(b.rate(t, protocol.ratings[0]), b.judge(t, protocol.judgement)) for t in design.trials[100:]]
    assert whole[100:] == later


def test_default_tuning_recovers_open_data_d_z(default_protocol, manifest):
    """The default pain-intensity tuning gives d_z near 4.2 and unpleasantness near 1.0 (open_rating_data)."""
    protocol = default_protocol.protocol
    designs = [build_design(protocol, manifest, slot=i % 2, seed=i, participant_group="AB"[(i // 2) % 2])
               for i in range(4)]
    sim = simulation_params()
    stimulus_ids = [s.stimulus_id for s in manifest.stimuli]
    d_z = {}
    for rating in protocol.ratings:
        diffs = []
        for seed in range(200):
            effects = draw_stimulus_effects(stimulus_ids, [r.name for r in protocol.ratings], sim,
                                            np.random.default_rng(seed // 20))
            person = SimulatedParticipant(protocol, sim, effects, seed=seed)
            values = {"pain": [], "neutral": []}
            for t in designs[seed % 4].trials:
                value, _ = person.rate(t, rating)
                if value is not None and t.block_kind == "main":
                    values[t.pain].append(value)
            diffs.append(np.mean(values["pain"]) - np.mean(values["neutral"]))
        d_z[rating.name] = np.mean(diffs) / np.std(diffs, ddof=1)
    assert 3.6 < d_z["pain_intensity"] < 4.9 and 0.8 < d_z["unpleasantness"] < 1.3


def test_truth_holds_cell_means_on_the_scale(default_protocol, manifest):
    """``truth`` gives fixed and personal cell means on the rating's own scale and the judgement's RT cells."""
    protocol = _likert_protocol(default_protocol).protocol
    sim = simulation_params()
    person = SimulatedParticipant(protocol, sim, {"pain_intensity": {}}, seed=1)
    cells = person.truth["ratings"]["pain_intensity"]["cell_means"]
    assert len(cells) == 16 and all(1 - 8 < v < 9 + 8 for v in cells.values())
    p = sim.rating("pain_intensity")
    base = {k: v for k, v in cells.items()}
    assert base["pain_self_outgroup_hand"] - base["neutral_self_outgroup_hand"] == pytest.approx(
        (p.effects["pain"] + 0.5 * p.effects["pain:perspective"] + 0.5 * p.effects["pain:group"]) / 100 * 8)
    rt_cells = person.truth["judgement_rt_cell_means_s"]
    mean_pain = np.mean([v for k, v in rt_cells.items() if k.startswith("pain")])
    mean_neutral = np.mean([v for k, v in rt_cells.items() if k.startswith("neutral")])
    assert mean_pain - mean_neutral == pytest.approx(0.16 + person.truth["judgement_pain_slope_offset_s"])


@pytest.mark.parametrize("overrides, message", [
    ({"lapse_rate": 1.5}, "'lapse_rate' must be a probability"),
    ({"ratings.pain_intensity.anchor_snap": -0.1}, "anchor_snap' must be a probability"),
    ({"judgement_rt_effects.colour": 0.1}, "effect terms combine"),
])
def test_bad_new_parameters_named(overrides, message):
    """Out-of-range probabilities and unknown RT effect terms are refused, naming the parameter."""
    with pytest.raises(ValueError, match=message):
        simulation_params(overrides)


def _rating_rts(default_protocol, manifest, overrides, n_people=40):
    protocol = default_protocol.protocol
    sim = simulation_params(overrides)
    rating = protocol.ratings[0]
    rows, offsets = [], []
    for i in range(n_people):
        person = SimulatedParticipant(protocol, sim, {r.name: {} for r in protocol.ratings}, seed=100 + i)
        offsets.append(person.truth["rating_rt_log_offset"])
        for t in build_design(protocol, manifest, slot=0, seed=i, participant_group="A").trials:
            value, rt = person.rate(t, rating) if t.block_kind == "main" else (None, None)
            if value is not None:   # answered (a lapse's RT is the timeout)
                rows.append({"participant": i, "pain": t.pain, "perspective": t.perspective,
                             "log_rt": np.log(rt / person.drift(t.trial))})
    return pd.DataFrame(rows), np.array(offsets)


def test_rating_rts_have_condition_effects_and_participant_intercepts(default_protocol, manifest):
    """log rating RT = log median + effects + participant offset + noise; the truth records offset and cell medians."""
    data, offsets = _rating_rts(default_protocol, manifest, {"rating_rt_effects.pain": 0.3,
                                                             "rating_rt_sd_participant_log": 0.25})
    cells = data.groupby(["participant", "pain"])["log_rt"].mean().unstack()
    assert (cells["pain"] - cells["neutral"]).mean() == pytest.approx(0.3, abs=0.03)
    person_means = data.groupby("participant")["log_rt"].mean()
    assert np.corrcoef(person_means, offsets)[0, 1] > 0.9
    assert 0.15 < offsets.std() < 0.35
    person = SimulatedParticipant(default_protocol.protocol, simulation_params(), {}, seed=3)
    medians = person.truth["rating_rt_cell_medians_s"]
    assert medians["pain_self_outgroup_hand"] / medians["neutral_self_outgroup_hand"] == pytest.approx(np.exp(0.05))
    assert simulation_params().to_dict()["rating_rt_effects"] == {"pain": 0.05, "perspective": 0.03}


def test_rating_rts_without_rt_effects_are_the_plain_log_normal(default_protocol, manifest):
    """With no effects and no participant SD the rating RT is the median times drift times exp(sdlog·z)."""
    data, offsets = _rating_rts(default_protocol, manifest, {"rating_rt_effects.pain": 0.0,
                                                             "rating_rt_effects.perspective": 0.0,
                                                             "rating_rt_sd_participant_log": 0.0}, n_people=10)
    assert np.all(offsets == 0.0)
    assert data["log_rt"].mean() == pytest.approx(np.log(1.8), abs=0.03)
    assert data["log_rt"].std() == pytest.approx(0.35, rel=0.1)
