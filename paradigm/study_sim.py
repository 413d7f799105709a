"""Whole simulated studies in memory, fast: the simulated participant's model, vectorised.

:func:`simulate_study` returns the main trials of ``n_participants`` simulated people in the
trial-CSV column contract (participant, pain, perspective, group, stimulus_type, stimulus_id,
``rating_<name>``, ``rating_<name>_rt_s``, judgement…, timed_out), without writing files.
It draws from the model of :class:`~paradigm.simulated.SimulatedParticipant` (same
parameters, effect coding, fatigue, lapses, timeouts, anchor snapping, clipping and
rounding; see that module's docstring) but not from its random stream: answers agree in
distribution, not one by one (``tests/paradigm/test_study_sim.py`` checks cell means and SDs).

Speed comes from building each counterbalancing slot × participant group's design once
(:class:`StudySimulator`) and drawing every participant's effects and every trial's noise
as arrays; trial order and stimulus choice are therefore shared by participants of the same
slot and group, which a power analysis does not need to vary.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .design import build_design, n_slots
from .simulated import CODES, simulation_params

__all__ = ["StudySimulator", "simulate_study"]


def _codes(values, factor):
    table = CODES[factor]
    return np.array([table.get(v, 0.0) for v in values], dtype=float)


class StudySimulator:
    """A picklable ``simulate(n_participants, seed) -> DataFrame`` for one protocol and parameter set.

    Parameters
    ----------
    loaded : LoadedProtocol
    manifest : stimuli.Manifest
    params : dict, optional
        Simulation parameter overrides on top of the protocol's ``simulation:`` section
        (as ``paradigm pilot --param``).
    design_seed : int
        Seeds the one design built per counterbalancing slot and participant group.
    """

    def __init__(self, loaded, manifest, *, params=None, design_seed=0):
        from .pilot import _merge

        protocol = loaded.protocol
        self.sim = simulation_params(_merge(protocol.simulation, params or {}))
        self.ratings = [(r.name, tuple(r.range), r.step, r.timeout_s) for r in protocol.ratings]
        j = protocol.judgement
        self.judgement = None if j is None else (dict(j.keys), j.timeout_s)
        self.stimulus_ids = [s.stimulus_id for s in manifest.stimuli]
        index = {sid: i for i, sid in enumerate(self.stimulus_ids)}
        group = protocol.factors.group
        self.n_slots = n_slots(protocol)
        self.levels = list(group.participant_levels) if group.kind != "none" else [None]
        self.designs = {}
        for slot in range(self.n_slots):
            for level in self.levels:
                trials = [t for t in build_design(protocol, manifest, slot=slot, seed=design_seed + slot,
                                                  participant_group=level).trials if t.block_kind == "main"]
                cols = {c: np.array([getattr(t, c) for t in trials], dtype=object)
                        for c in ("pain", "perspective", "group", "stimulus_type", "stimulus_id")}
                x = {f: _codes(cols[f], f) for f in CODES}
                n = np.array([t.trial for t in trials], dtype=float)
                self.designs[slot, level] = {"cols": cols, "x": x, "n": n, "block": np.array([t.block for t in trials]),
                                             "stim": np.array([index[s] for s in cols["stimulus_id"]])}

    def _x(self, d, term):
        out = np.ones(len(d["n"]))
        for factor in term.split(":"):
            out = out * d["x"][factor]
        return out

    def __call__(self, n_participants, seed) -> pd.DataFrame:
        """Simulate one study of ``n_participants``; the same seed gives the same table."""
        if n_participants < 1:
            raise ValueError(f"'n_participants' must be at least 1 (got {n_participants})")
        sim, rng = self.sim, np.random.default_rng(seed)
        stim_effects = {name: rng.normal(0.0, sim.rating(name).sd_stimulus, len(self.stimulus_ids))
                        for name, *_ in self.ratings}
        frames = []
        for i in range(n_participants):
            slot = i % self.n_slots
            level = self.levels[(i // self.n_slots) % len(self.levels)]
            frames.append(self._participant(self.designs[slot, level], i + 1, level, stim_effects, rng))
        return pd.DataFrame({key: np.concatenate([f[key] for f in frames]) for key in frames[0]})

    def _participant(self, d, index, level, stim_effects, rng):
        sim, n = self.sim, d["n"]
        m = len(n)
        drift = (1.0 + sim.practice_rt_gain * np.exp(-(n - 1) / sim.practice_tau_trials)
                 if sim.practice_tau_trials > 0 else np.ones(m)) * (1.0 + sim.fatigue_rt_per_100_trials * (n - 1) / 100)
        lapse_p = sim.lapse_rate * (1.0 + sim.fatigue_lapse_per_100_trials * (n - 1) / 100.0)
        out = {"participant": np.full(m, f"sim{index:03d}", dtype=object),
               "participant_group": np.full(m, level or "", dtype=object), "block": d["block"],
               "block_kind": np.full(m, "main", dtype=object), "trial": n.astype(int), **d["cols"]}
        timed_out = np.zeros(m, dtype=bool)
        for name, (low, high), step, timeout in self.ratings:
            p = sim.rating(name)
            chol = np.linalg.cholesky(np.array([
                [p.sd_participant ** 2, p.corr * p.sd_participant * p.sd_participant_pain],
                [p.corr * p.sd_participant * p.sd_participant_pain, p.sd_participant_pain ** 2]]) + 1e-12 * np.eye(2))
            u0, u1 = chol @ rng.standard_normal(2)
            mean = d.get(("mean", name))
            if mean is None:
                mean = d["mean", name] = p.intercept + sum(e * self._x(d, t) for t, e in p.effects.items())
            noise = p.sd_residual * (1.0 + sim.fatigue_noise_per_100_trials * (n - 1) / 100.0)
            pct = mean + u0 + u1 * d["x"]["pain"] + stim_effects[name][d["stim"]] + noise * rng.standard_normal(m)
            snap = rng.random(m) < p.anchor_snap
            pct = np.where(snap & (pct < p.anchor_window), 0.0,
                           np.where(snap & (pct > 100.0 - p.anchor_window), 100.0, pct))
            value = np.clip(low + pct / 100.0 * (high - low), low, high)
            if step:
                value = low + np.round((value - low) / step) * step
            rt = sim.rating_rt_median_s * np.exp(sim.rating_rt_sdlog * rng.standard_normal(m)) * drift
            lapse = rng.random(m) < lapse_p
            late = (rt > timeout) if timeout else np.zeros(m, dtype=bool)
            rt = np.where(lapse, (timeout or 0.0) + 0.5 + np.where(timeout, 0.0, rt), rt)
            missing = lapse | late
            out[f"rating_{name}"] = np.where(missing, np.nan, value)
            out[f"rating_{name}_rt_s"] = rt
            timed_out |= missing
        if self.judgement is not None:
            keys, timeout = self.judgement
            mu = sim.judgement_mu_s + rng.normal(0.0, sim.judgement_sd_participant_s)
            slope = rng.normal(0.0, sim.judgement_sd_participant_pain_s)
            location = mu + slope * d["x"]["pain"] + sum(e * self._x(d, t) for t, e in sim.judgement_rt_effects.items())
            decision = location + sim.judgement_sigma_s * rng.standard_normal(m) \
                + sim.judgement_tau_s * rng.standard_exponential(m)
            rt = np.maximum(sim.judgement_t0_s + decision * drift, 0.15)
            missing = (rng.random(m) < lapse_p) | ((rt > timeout) if timeout else False)
            correct = rng.random(m) < sim.judgement_accuracy
            pain = d["cols"]["pain"] == "pain"
            answer_pain = np.where(correct, pain, ~pain)
            key = np.where(answer_pain, keys["pain"], keys["neutral"]).astype(object)
            out["judgement"] = np.where(missing, None, key)
            out["judgement_correct"] = np.where(missing, None, correct).astype(object)
            out["judgement_rt_s"] = np.where(missing, timeout or rt, rt) if timeout else rt
            timed_out |= missing
        out["timed_out"] = timed_out
        return out


def simulate_study(loaded, manifest, n_participants, *, seed, params=None) -> pd.DataFrame:
    """Main trials of ``n_participants`` simulated participants of ``loaded``'s protocol, in memory.

    See :class:`StudySimulator`; build one and call it repeatedly to simulate many studies.
    """
    return StudySimulator(loaded, manifest, params=params)(n_participants, seed)
