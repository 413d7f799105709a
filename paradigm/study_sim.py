"""Whole simulated studies in memory, fast: the simulated participant's model, vectorised.

:func:`simulate_study` returns the main trials of ``n_participants`` simulated people in the
trial-CSV column contract (participant, pain, perspective, group, stimulus_type, stimulus_id,
``rating_<name>``, ``rating_<name>_rt_s``, judgement…, timed_out), without writing files.
It draws from the model of :class:`~paradigm.simulated.SimulatedParticipant` (same
parameters and the same response-model functions: cell means, participant covariance, drift,
lapses, residual SD, anchor snapping, clipping and rounding, rating and judgement RTs; see
that module's docstring) but not from its random stream: answers agree in
distribution, not one by one (``tests/paradigm/test_study_sim.py`` checks cell means and SDs).

Speed comes from building each counterbalancing slot × participant group's design once
(:class:`StudySimulator`) and drawing every participant's effects and every trial's noise
as arrays; trial order and stimulus choice are therefore shared by participants of the same
slot and group, which a power analysis does not need to vary. The seed-independent columns
(participant, design factors, stimulus, block, trial) are built once per sample size as
categoricals with sorted categories, so a study costs only its random draws; text columns
therefore come back as ``category`` dtype (the values are the trial-CSV strings).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .design import build_design, n_slots
from .simulated import (CODES, cell_mean, drift, judgement_location, lapse_probability, participant_cov,
                        rating_rt, residual_sd, simulation_params, to_scale)

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
                asked = {("asked", r.name): np.array([r.asked_on(t) for t in trials], dtype=bool)
                         for r in protocol.ratings}
                self.designs[slot, level] = {"cols": cols, "x": x, "n": n, "block": np.array([t.block for t in trials]),
                                             "stim": np.array([index[s] for s in cols["stimulus_id"]]),
                                             "is_pain": cols["pain"] == "pain", **asked}

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
        layout = self._layout(n_participants)
        numbers = {key: np.empty(layout["rows"]) for key in self._numeric_columns()}
        judged = {"judgement": np.empty(layout["rows"], dtype=np.int8),
                  "judgement_correct": np.empty(layout["rows"], dtype=np.int8)}
        timed_out = np.empty(layout["rows"], dtype=bool)
        for (start, stop), d in zip(layout["spans"], layout["designs"]):
            self._participant(d, stim_effects, rng, numbers, judged, timed_out, slice(start, stop))
        out = dict(layout["text"])
        for name, *_ in self.ratings:
            out[f"rating_{name}"] = numbers[f"rating_{name}"]
            out[f"rating_{name}_rt_s"] = numbers[f"rating_{name}_rt_s"]
        if self.judgement is not None:
            keys, _ = self.judgement
            # codes: -1 missing, 0 neutral key, 1 pain key / 0 wrong, 1 right
            key_levels = [keys["neutral"], keys["pain"]]
            order = sorted(range(2), key=key_levels.__getitem__)
            rank = np.empty(2, dtype=np.int8)
            rank[order] = np.arange(2)
            code = judged["judgement"]
            out["judgement"] = pd.Categorical.from_codes(
                np.where(code < 0, -1, rank[np.maximum(code, 0)]), [key_levels[i] for i in order])
            correct = np.array([None, False, True], dtype=object)
            out["judgement_correct"] = correct[judged["judgement_correct"] + 1]
            out["judgement_rt_s"] = numbers["judgement_rt_s"]
        out["timed_out"] = timed_out
        return pd.DataFrame(out, copy=False)

    def _numeric_columns(self):
        names = [f"rating_{name}{suffix}" for name, *_ in self.ratings for suffix in ("", "_rt_s")]
        return names + (["judgement_rt_s"] if self.judgement is not None else [])

    def _layout(self, n_participants):
        """The per-study columns that do not depend on the seed, built once per sample size.

        Text columns are categoricals with sorted categories (what ``fit_lmm`` would derive from
        text), so building a study costs no string handling.
        """
        cache = self.__dict__.setdefault("_layouts", {})
        if n_participants in cache:
            return cache[n_participants]
        designs, spans, start = [], [], 0
        for i in range(n_participants):
            slot = i % self.n_slots
            level = self.levels[(i // self.n_slots) % len(self.levels)]
            d = self.designs[slot, level]
            designs.append((d, i + 1, level))
            spans.append((start, start + len(d["n"])))
            start += len(d["n"])

        def text(values):
            values = np.asarray(values, dtype=object)
            missing = np.array([v is None for v in values])
            levels = sorted({v for v in values[~missing]})
            index = {v: k for k, v in enumerate(levels)}
            return pd.Categorical.from_codes([-1 if v is None else index[v] for v in values], levels)

        parts = {"participant": [], "participant_group": [], "block": [], "block_kind": [], "trial": [],
                 **{c: [] for c in designs[0][0]["cols"]}}
        for d, index, level in designs:
            m = len(d["n"])
            parts["participant"].append(np.full(m, f"sim{index:03d}", dtype=object))
            parts["participant_group"].append(np.full(m, level or "", dtype=object))
            parts["block"].append(d["block"])
            parts["block_kind"].append(np.full(m, "main", dtype=object))
            parts["trial"].append(d["n"].astype(int))
            for c, values in d["cols"].items():
                parts[c].append(values)
        columns = {}
        for key, values in parts.items():
            values = np.concatenate(values)
            columns[key] = values if values.dtype.kind in "iuf" else text(values)
        layout = cache[n_participants] = {"rows": start, "spans": spans,
                                          "designs": [d for d, *_ in designs], "text": columns}
        return layout

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_layouts", None)
        return state

    def _participant(self, d, stim_effects, rng, numbers, judged, timed_out, rows):
        sim, n = self.sim, d["n"]
        m = len(n)
        def x(term):
            return self._x(d, term)

        if "drift" not in d:
            d["drift"] = drift(sim, n) * np.ones(m)
            d["lapse_p"] = lapse_probability(sim, n)
            d["rt_effects"] = cell_mean(sim.rating_rt_effects, 0.0, x)
        drift_n, lapse_p = d["drift"], d["lapse_p"]
        rt_location = d["rt_effects"] + rng.normal(0.0, sim.rating_rt_sd_participant_log)
        missing_any = np.zeros(m, dtype=bool)
        for name, (low, high), step, timeout in self.ratings:
            p = sim.rating(name)
            chol = np.linalg.cholesky(np.array(participant_cov(p)) + 1e-12 * np.eye(2))
            u0, u1 = chol @ rng.standard_normal(2)
            mean = d.get(("mean", name))
            if mean is None:
                mean = d["mean", name] = cell_mean(p.effects, p.intercept, x)
                d["noise", name] = residual_sd(p, sim, n)
            pct = mean + u0 + u1 * d["x"]["pain"] + stim_effects[name][d["stim"]] \
                + d["noise", name] * rng.standard_normal(m)
            value = to_scale(pct, rng.random(m) < p.anchor_snap, p, low, high, step)
            rt = rating_rt(sim, rng.standard_normal(m), rt_location, drift_n)
            lapse = rng.random(m) < lapse_p
            late = (rt > timeout) if timeout else np.zeros(m, dtype=bool)
            rt = np.where(lapse, (timeout or 0.0) + 0.5 + np.where(timeout, 0.0, rt), rt)
            asked = d["asked", name]
            missing = (lapse | late) & asked
            numbers[f"rating_{name}"][rows] = np.where(missing | ~asked, np.nan, value)
            numbers[f"rating_{name}_rt_s"][rows] = np.where(asked, rt, np.nan)
            missing_any |= missing
        if self.judgement is not None:
            keys, timeout = self.judgement
            mu = sim.judgement_mu_s + rng.normal(0.0, sim.judgement_sd_participant_s)
            slope = rng.normal(0.0, sim.judgement_sd_participant_pain_s)
            location = judgement_location(sim, mu, slope, x)
            decision = location + sim.judgement_sigma_s * rng.standard_normal(m) \
                + sim.judgement_tau_s * rng.standard_exponential(m)
            rt = np.maximum(sim.judgement_t0_s + decision * drift_n, 0.15)
            missing = (rng.random(m) < lapse_p) | ((rt > timeout) if timeout else False)
            correct = rng.random(m) < sim.judgement_accuracy
            answer_pain = np.where(correct, d["is_pain"], ~d["is_pain"])
            judged["judgement"][rows] = np.where(missing, -1, answer_pain)
            judged["judgement_correct"][rows] = np.where(missing, -1, correct)
            numbers["judgement_rt_s"][rows] = np.where(missing, timeout or rt, rt) if timeout else rt
            missing_any |= missing
        timed_out[rows] = missing_any


def simulate_study(loaded, manifest, n_participants, *, seed, params=None) -> pd.DataFrame:
    """Main trials of ``n_participants`` simulated participants of ``loaded``'s protocol, in memory.

    See :class:`StudySimulator`; build one and call it repeatedly to simulate many studies.
    """
    return StudySimulator(loaded, manifest, params=params)(n_participants, seed)
