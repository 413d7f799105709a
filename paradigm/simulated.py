"""A simulated participant whose ratings and responses follow a known linear mixed model.

For each rating the true model, in percent of the scale's range, is::

    y = intercept + Σ effect·x + u_participant + u_participant,pain·x_pain + w_stimulus + ε

with the design's two-level factors effect-coded ±0.5 (pain, self, outgroup and hand = +0.5;
a factor a design lacks is 0), participant effects bivariate normal with correlation
``corr``, stimulus intercepts shared by every participant of a pilot, and ε normal. The
answer is clipped to the scale (so VAS answers pile at the anchors) and rounded to its
granularity (Likert: whole points). This is the model ``analysis`` fits, so a pilot has
known true values. Judgement RTs are ex-Gaussian; rating RTs log-normal; lapses time out.

Defaults follow ``../shared/literature.md`` (see ``seeds/references.yaml``): pain vs no-pain
ratings of the other's pain d_z ≈ 4.2, own unpleasantness d_z ≈ 1.0, judgement RT ≈ 160 ms
slower for pain with ≈ 98 % accuracy, self > other, a small in-group bias.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

CODES = {
    "pain": {"pain": 0.5, "neutral": -0.5},
    "perspective": {"self": 0.5, "other": -0.5},
    "group": {"outgroup": 0.5, "ingroup": -0.5},
    "stimulus_type": {"hand": 0.5, "face": -0.5},
}


@dataclass(frozen=True)
class RatingParams:
    """True values for one rating, in percent of the scale range (0 = low anchor, 100 = high)."""

    intercept: float = 40.0
    effects: dict = field(default_factory=dict)   # term ("pain", "pain:group", …) → effect
    sd_participant: float = 10.0
    sd_participant_pain: float = 10.0
    corr: float = 0.2
    sd_stimulus: float = 5.0
    sd_residual: float = 12.0


@dataclass(frozen=True)
class SimulationParams:
    """Everything the simulated participant needs; overridable by ``simulation:`` or ``--param``."""

    ratings: dict = field(default_factory=lambda: {
        # other's pain: 8.15 vs 1.35 on 1-9 (open data, d_z ≈ 4.2). Latent pain effect 90 and slope
        # SD 30 give, after clipping at the anchors, observed means ≈ 9 vs 84 and d_z ≈ 4.2 (measured
        # on 80 simulated participants of the default protocol).
        "pain_intensity": RatingParams(intercept=46.0, effects={
            "pain": 90.0, "perspective": 5.0, "group": -2.0, "pain:group": -4.0, "pain:perspective": 3.0},
            sd_participant=10.0, sd_participant_pain=30.0, corr=0.2, sd_stimulus=5.0, sd_residual=12.0),
        # own unpleasantness: d_z ≈ 1.0; self − other ≈ +5.8 (cue-task open data)
        "unpleasantness": RatingParams(intercept=30.0, effects={
            "pain": 30.0, "perspective": 6.0, "group": -1.0, "pain:group": -3.0, "pain:perspective": 4.5},
            sd_participant=15.0, sd_participant_pain=28.0, corr=0.3, sd_stimulus=4.0, sd_residual=14.0),
    })
    default_rating: RatingParams = RatingParams(effects={"pain": 40.0})
    rating_rt_median_s: float = 1.8
    rating_rt_sdlog: float = 0.35
    judgement_mu_s: float = 0.55
    judgement_sigma_s: float = 0.08
    judgement_tau_s: float = 0.15
    judgement_pain_slowing_s: float = 0.16
    judgement_sd_participant_s: float = 0.08
    judgement_accuracy: float = 0.98
    lapse_rate: float = 0.01
    continue_rt_s: float = 2.0

    def rating(self, name) -> RatingParams:
        return self.ratings.get(name, self.default_rating)

    def to_dict(self):
        return asdict(self)


def simulation_params(overrides=None) -> SimulationParams:
    """Defaults updated by a nested mapping (protocol ``simulation:``) or dotted ``key=value`` pairs.

    ``ratings.pain_intensity.effects.pain=60`` or ``lapse_rate=0.05`` both work; a rating
    the defaults lack starts from ``default_rating``.
    """
    tree = asdict(SimulationParams())
    for key, value in _flatten(overrides or {}).items():
        _assign(tree, key.split("."), value, key)
    ratings = {name: RatingParams(**values) for name, values in tree.pop("ratings").items()}
    return SimulationParams(ratings=ratings, default_rating=RatingParams(**tree.pop("default_rating")),
                            **tree)


def _flatten(mapping, prefix=""):
    out = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _assign(tree, parts, value, full):
    node = tree
    for i, part in enumerate(parts[:-1]):
        if node is tree["ratings"] and part not in node:
            node[part] = {**tree["default_rating"], "effects": dict(tree["default_rating"]["effects"])}
        if not isinstance(node.get(part), dict):
            _unknown(part, node, full)
        node = node[part]
    last = parts[-1]
    if parts[-2:-1] == ["effects"]:
        bad = [f for f in last.split(":") if f not in CODES]
        if bad:
            raise ValueError(f"simulation parameter '{full}': effect terms combine {', '.join(CODES)} "
                             f"with ':' (got '{last}')")
    elif last not in node:
        _unknown(last, node, full)
    elif isinstance(node[last], dict):
        raise ValueError(f"simulation parameter '{full}' is a group of values, not one (got {value!r})")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"simulation parameter '{full}' must be a number (got {value!r})") from None
    node[last] = float(value)


def _unknown(name, node, full):
    import difflib

    hint = difflib.get_close_matches(name, list(node), n=1)
    raise ValueError(f"simulation parameter '{full}': unknown name '{name}'"
                     + (f"; did you mean '{hint[0]}'?" if hint else f" (allowed: {', '.join(node)})"))


def _x(trial, term):
    """The effect-coded predictor of ``term`` ("pain:group" multiplies the codes) for a trial."""
    out = 1.0
    for factor in term.split(":"):
        out *= CODES[factor].get(getattr(trial, factor), 0.0)
    return out


def draw_stimulus_effects(stimulus_ids, rating_names, params: SimulationParams, rng):
    """Stimulus intercepts per rating, shared by every participant of a pilot."""
    return {name: dict(zip(stimulus_ids, rng.normal(0.0, params.rating(name).sd_stimulus, len(stimulus_ids))))
            for name in rating_names}


class SimulatedParticipant:
    """Answers ratings and judgements for one simulated person; ``truth`` holds its drawn effects."""

    def __init__(self, protocol, params: SimulationParams, stimulus_effects, seed):
        rng = np.random.default_rng(seed)
        self.protocol, self.params, self.seed = protocol, params, seed
        self.stimulus_effects = stimulus_effects
        self._tables, self._means = {}, {}
        self._rating_index = {r.name: i for i, r in enumerate(protocol.ratings)}
        self.truth = {"ratings": {}, "judgement_mu_s": None}
        self._person = {}
        for rating in protocol.ratings:
            p = params.rating(rating.name)
            cov = [[p.sd_participant ** 2, p.corr * p.sd_participant * p.sd_participant_pain],
                   [p.corr * p.sd_participant * p.sd_participant_pain, p.sd_participant_pain ** 2]]
            u0, u1 = rng.multivariate_normal([0.0, 0.0], cov, method="cholesky")
            self._person[rating.name] = (float(u0), float(u1))
            self.truth["ratings"][rating.name] = {"intercept_offset": float(u0), "pain_slope_offset": float(u1)}
        self._judgement_mu = params.judgement_mu_s + rng.normal(0.0, params.judgement_sd_participant_s)
        self.truth["judgement_mu_s"] = float(self._judgement_mu)

    CHUNK = 256

    def _draws(self, trial):
        """Standard normal, uniform and exponential variates for one trial.

        Drawn in chunks seeded by (seed, chunk), so a resumed session answers exactly as an
        uninterrupted one would, whatever trial it starts from.
        """
        chunk, row = divmod(trial.trial - 1, self.CHUNK)
        if chunk not in self._tables:
            rng = np.random.default_rng([self.seed, chunk])
            n = len(self.protocol.ratings)
            self._tables = {chunk: (rng.standard_normal((self.CHUNK, 2 * n + 1)).tolist(),
                                    rng.random((self.CHUNK, n + 2)).tolist(),
                                    rng.standard_exponential(self.CHUNK).tolist())}
        z, u, e = self._tables[chunk]
        return z[row], u[row], e[row]

    def _cell_mean(self, trial, name):
        """The rating's fixed-effect mean (percent of range) for the trial's cell."""
        key = (name, trial.pain, trial.perspective, trial.group, trial.stimulus_type)
        mean = self._means.get(key)
        if mean is None:
            p = self.params.rating(name)
            mean = self._means[key] = p.intercept + sum(e * _x(trial, t) for t, e in p.effects.items())
        return mean

    def rate(self, trial, rating):
        """Return ``(value or None, rt_s)``: the answer on the rating's own scale, or None after a lapse."""
        r = self._rating_index[rating.name]
        z, u, _ = self._draws(trial)
        p = self.params.rating(rating.name)
        rt = self.params.rating_rt_median_s * math.exp(self.params.rating_rt_sdlog * z[2 * r])
        if u[r] < self.params.lapse_rate:
            return None, (rating.timeout_s or rt) + 0.5
        if rating.timeout_s and rt > rating.timeout_s:
            return None, rt
        u0, u1 = self._person[rating.name]
        pct = (self._cell_mean(trial, rating.name) + u0 + u1 * CODES["pain"][trial.pain]
               + self.stimulus_effects[rating.name].get(trial.stimulus_id, 0.0) + p.sd_residual * z[2 * r + 1])
        low, high = rating.range
        value = min(max(low + pct / 100.0 * (high - low), low), high)
        if rating.step:
            value = low + round((value - low) / rating.step) * rating.step
        return float(value), rt

    def judge(self, trial, judgement):
        """Return ``(key or None, rt_s)`` for a pain / no-pain judgement."""
        params = self.params
        z, u, e = self._draws(trial)
        rt = (self._judgement_mu + params.judgement_sigma_s * z[-1] + params.judgement_tau_s * e
              + (params.judgement_pain_slowing_s if trial.pain == "pain" else 0.0))
        rt = max(rt, 0.15)
        if u[-1] < params.lapse_rate or (judgement.timeout_s and rt > judgement.timeout_s):
            return None, judgement.timeout_s or rt
        correct = u[-2] < params.judgement_accuracy
        answer = trial.pain if correct else ("neutral" if trial.pain == "pain" else "pain")
        return judgement.keys[answer], rt

    def proceed(self):
        """Seconds until the participant presses a key on an instruction or break screen."""
        return self.params.continue_rt_s
