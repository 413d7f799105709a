"""The vectorised study simulator: column contract, reproducibility and agreement with SimulatedParticipant."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paradigm.design import build_design
from paradigm.simulated import SimulatedParticipant, draw_stimulus_effects, simulation_params
from paradigm.study_sim import StudySimulator, simulate_study

NO_STIMULUS = {"ratings": {"pain_intensity": {"sd_stimulus": 0.0}, "unpleasantness": {"sd_stimulus": 0.0}}}


def test_columns_and_seed(default_protocol, manifest):
    """A study has the contract's columns, one row per main trial, and a seed reproduces it."""
    a = simulate_study(default_protocol, manifest, 4, seed=1)
    b = simulate_study(default_protocol, manifest, 4, seed=1)
    pd.testing.assert_frame_equal(a, b)
    for column in ("participant", "pain", "perspective", "group", "stimulus_type", "stimulus_id", "timed_out",
                   *[f"rating_{r.name}" for r in default_protocol.protocol.ratings],
                   *[f"rating_{r.name}_rt_s" for r in default_protocol.protocol.ratings]):
        assert column in a.columns
    assert a["participant"].nunique() == 4 and set(a["pain"]) == {"pain", "neutral"}
    with pytest.raises(ValueError, match="n_participants"):
        simulate_study(default_protocol, manifest, 0, seed=1)


def _per_trial(loaded, manifest, n_participants):
    protocol = loaded.protocol
    sim = simulation_params(NO_STIMULUS)
    effects = draw_stimulus_effects([s.stimulus_id for s in manifest.stimuli], [r.name for r in protocol.ratings],
                                    sim, np.random.default_rng(0))
    rating = protocol.ratings[0]
    rows = []
    for i in range(n_participants):
        design = build_design(protocol, manifest, slot=0, seed=i, participant_group="A")
        person = SimulatedParticipant(protocol, sim, effects, seed=1000 + i)
        for t in design.trials:
            if t.block_kind == "main":
                rows.append({"participant": i, "pain": t.pain, "value": person.rate(t, rating)[0]})
    return pd.DataFrame(rows)


def test_agrees_with_simulated_participant(default_protocol, manifest):
    """Per pain level, participant-mean ratings and trial SDs agree with the per-trial participant (within 3 SE)."""
    n = 150
    name = default_protocol.protocol.ratings[0].name
    slow = _per_trial(default_protocol, manifest, n)
    fast = StudySimulator(default_protocol, manifest, params=NO_STIMULUS)(n, 5)
    fast = fast.rename(columns={f"rating_{name}": "value"})[["participant", "pain", "value"]]
    for level in ("pain", "neutral"):
        means = [d[d["pain"] == level].groupby("participant")["value"].mean() for d in (slow, fast)]
        se = np.sqrt(sum(m.var() / len(m) for m in means))
        assert abs(means[0].mean() - means[1].mean()) < 3 * se, level
        sds = [d[d["pain"] == level]["value"].std() for d in (slow, fast)]
        assert abs(sds[0] - sds[1]) / sds[0] < 0.1, (level, sds)
    for d in (slow, fast):
        assert 0.002 < d["value"].isna().mean() < 0.05


def test_rating_rt_effects_and_participant_variance(default_protocol, manifest):
    """The vectorised rating RTs carry the condition effects and participant intercepts of the per-trial model."""
    params = {"rating_rt_effects.pain": 0.2, "rating_rt_effects.perspective": -0.1, "rating_rt_sd_participant_log": 0.3}
    data = StudySimulator(default_protocol, manifest, params=params)(40, 2)
    name = default_protocol.protocol.ratings[0].name
    data = data.assign(log_rt=np.log(data[f"rating_{name}_rt_s"]))[~data["timed_out"]]
    for factor, high, low, effect in (("pain", "pain", "neutral", 0.2), ("perspective", "self", "other", -0.1)):
        cells = data.groupby(["participant", factor], observed=True)["log_rt"].mean().unstack()
        assert (cells[high] - cells[low]).mean() == pytest.approx(effect, abs=0.04), factor
    assert 0.2 < data.groupby("participant", observed=True)["log_rt"].mean().std() < 0.42
