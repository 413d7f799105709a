"""A simulated participant whose ratings and responses follow a known linear mixed model.

For each rating the true model, in percent of the scale's range, is::

    y = intercept + Σ effect·x + u_participant + u_participant,pain·x_pain + w_stimulus + ε

with the design's two-level factors effect-coded ±0.5 (pain, self, outgroup and hand = +0.5;
a factor a design lacks is 0), participant effects bivariate normal with correlation
``corr``, stimulus intercepts shared by every participant of a pilot (judd2012), and ε
normal with an SD that grows with fatigue. The latent value is mapped onto the rating's
own range; within ``anchor_window`` percent of an anchor it snaps to the anchor with
probability ``anchor_snap`` (VAS answers pile at the ends), beyond the range it is clipped,
and it is rounded to the scale's granularity (Likert: whole points). This is the model
``analysis`` fits, so a pilot has known true values.

Rating RTs are log-normal::

    log rt = log(median) + Σ effect·x + v_participant + sdlog·z,   then × drift(n)

with one participant intercept v (SD ``rating_rt_sd_participant_log``) shared by the ratings.

Judgement RTs are ex-Gaussian plus a non-decision time::

    rt = t0 + (mu + v_participant + v_participant,pain·x_pain + Σ effect·x + sigma·z + tau·e) · drift(n)

and rating RTs as above, where ``drift(n)`` = (1 + practice gain ·
exp(−(n−1)/practice tau)) · (1 + fatigue · (n−1)/100) for the session's n-th trial: faster
over the first trials, slower later. Lapses (no answer, the trial times out) happen with
``lapse_rate``, rising with fatigue; an RT past the timeout is a timeout too.

Defaults and their sources (keys of ``seeds/references.yaml``; "toolkit choice" = no
source gives the number): see the comments in :class:`SimulationParams`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np

CODES = {
    "pain": {"pain": 0.5, "neutral": -0.5},
    "perspective": {"self": 0.5, "other": -0.5},
    "group": {"outgroup": 0.5, "ingroup": -0.5},
    "stimulus_type": {"hand": 0.5, "face": -0.5},
}
EFFECT_TABLES = ("effects", "judgement_rt_effects", "rating_rt_effects")


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
    anchor_window: float = 3.0     # percent of the range next to each anchor …
    anchor_snap: float = 0.5       # … where an answer snaps to the anchor with this probability (toolkit choice)


@dataclass(frozen=True)
class SimulationParams:
    """Everything the simulated participant needs; overridable by ``simulation:`` or ``--param``."""

    ratings: dict = field(default_factory=lambda: {
        # other's pain: 8.15 vs 1.35 on 1-9 (open_rating_data, d_z ≈ 4.2). Latent pain effect 90 and
        # slope SD 28 give, after the anchors, observed means ≈ 9 vs 86 and d_z ≈ 4.2 (measured on 400
        # simulated participants of the default protocol; test_simulated checks it). Self > other
        # (jackson2006; size: toolkit choice); small group effect on explicit ratings (xu2009,
        # han2018 [M]). Intercept and residual SD: toolkit choices.
        "pain_intensity": RatingParams(intercept=46.0, effects={
            "pain": 90.0, "perspective": 5.0, "group": -2.0, "pain:group": -4.0, "pain:perspective": 3.0},
            sd_participant=10.0, sd_participant_pain=28.0, corr=0.2, sd_stimulus=5.0, sd_residual=12.0),
        # own unpleasantness: d_z ≈ 1.0 (open_rating_data; ≈ 1.05 measured as above); self − other
        # ≈ +5.8 (open_cue_data, where other − self = −5.8 on VAS 0-100 unpleasantness)
        "unpleasantness": RatingParams(intercept=30.0, effects={
            "pain": 30.0, "perspective": 6.0, "group": -1.0, "pain:group": -3.0, "pain:perspective": 4.5},
            sd_participant=15.0, sd_participant_pain=28.0, corr=0.3, sd_stimulus=4.0, sd_residual=14.0),
    })
    default_rating: RatingParams = RatingParams(effects={"pain": 40.0})
    # rating RTs: log-normal (toolkit choice), log(rt) = log(median) + Σ effect·x + v_participant + sdlog·z.
    # Condition effects on the log scale and the participant intercept SD: assumed (no source gives
    # them for VAS rating times); modest: painful pictures rated 5 % slower, self 3 % slower, and
    # participants' typical rating speed varying by about ±20 %.
    rating_rt_median_s: float = 1.8
    rating_rt_sdlog: float = 0.35
    rating_rt_effects: dict = field(default_factory=lambda: {"pain": 0.05, "perspective": 0.03})
    rating_rt_sd_participant_log: float = 0.2
    # judgement RTs: ex-Gaussian + non-decision time. t0 + mu + tau = 0.78 s, so neutral ≈ 0.70 s and
    # pain ≈ 0.86 s (toolkit choice); pain 160 ms slower with d_z ≈ 0.6, hence a participant pain-slope
    # SD of 0.25 s (open_rating_data); accuracy 98 % (open_rating_data).
    judgement_t0_s: float = 0.35
    judgement_mu_s: float = 0.28
    judgement_sigma_s: float = 0.08
    judgement_tau_s: float = 0.15
    judgement_rt_effects: dict = field(default_factory=lambda: {"pain": 0.16})
    judgement_sd_participant_s: float = 0.08
    judgement_sd_participant_pain_s: float = 0.25
    judgement_accuracy: float = 0.98
    # lapses, practice and fatigue (toolkit choices)
    lapse_rate: float = 0.01
    fatigue_lapse_per_100_trials: float = 0.5    # lapse rate × (1 + this · (n−1)/100)
    practice_rt_gain: float = 0.2                # the first trial is 20 % slower …
    practice_tau_trials: float = 15.0            # … decaying with this time constant in trials
    fatigue_rt_per_100_trials: float = 0.03      # RTs 3 % slower per 100 trials
    fatigue_noise_per_100_trials: float = 0.05   # residual SD 5 % larger per 100 trials
    continue_rt_s: float = 2.0

    def rating(self, name) -> RatingParams:
        return self.ratings.get(name, self.default_rating)

    def to_dict(self):
        return asdict(self)


def simulation_params(overrides=None) -> SimulationParams:
    """Defaults updated by a nested mapping (protocol ``simulation:``) or dotted ``key=value`` pairs.

    ``ratings.pain_intensity.effects.pain=60``, ``judgement_rt_effects.group=0.02`` or
    ``lapse_rate=0.05`` all work; a rating the defaults lack starts from ``default_rating``.
    """
    tree = asdict(SimulationParams())
    for key, value in _flatten(overrides or {}).items():
        _assign(tree, key.split("."), value, key)
    ratings = {name: RatingParams(**values) for name, values in tree.pop("ratings").items()}
    params = SimulationParams(ratings=ratings, default_rating=RatingParams(**tree.pop("default_rating")), **tree)
    _check(params)
    return params


def _check(params):
    """Refuse non-finite numbers, negative SDs and times, probabilities outside [0, 1] and correlations
    outside [-1, 1], naming the parameter."""
    ratings = {f"ratings.{name}": r for name, r in params.ratings.items()} | {"default_rating": params.default_rating}
    for name, value in _flatten(params.to_dict()).items():
        if not math.isfinite(value):
            raise ValueError(f"simulation parameter '{name}' must be a finite number (got {value:g})")
        last = name.rsplit(".", 1)[-1]
        if (last.startswith("sd_") or last.endswith("_s") or last.endswith("_sdlog") or last == "anchor_window"
                or last.endswith("_trials") or "per_100" in last) and "effects" not in name and value < 0:
            raise ValueError(f"simulation parameter '{name}' must be ≥ 0 (got {value:g})")
    if params.rating_rt_median_s <= 0:
        raise ValueError(f"simulation parameter 'rating_rt_median_s' must be > 0 (got {params.rating_rt_median_s:g})")
    probabilities = {"lapse_rate": params.lapse_rate, "judgement_accuracy": params.judgement_accuracy,
                     **{f"{prefix}.anchor_snap": r.anchor_snap for prefix, r in ratings.items()}}
    for name, value in probabilities.items():
        if not 0 <= value <= 1:
            raise ValueError(f"simulation parameter '{name}' must be a probability from 0 to 1 (got {value:g})")
    for prefix, rating in ratings.items():
        if not -1 <= rating.corr <= 1:
            raise ValueError(f"simulation parameter '{prefix}.corr' must be from -1 to 1 (got {rating.corr:g})")


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
    if parts[-2:-1] and parts[-2] in EFFECT_TABLES:
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


def cell_mean(effects, intercept, x):
    """``intercept + Σ effect·x(term)``; ``x(term)`` gives a trial's predictor (a number) or a design's (an array)."""
    return intercept + sum(e * x(t) for t, e in effects.items())


def participant_cov(p: RatingParams):
    """Covariance of a participant's (intercept, pain slope) offsets for one rating."""
    c = p.corr * p.sd_participant * p.sd_participant_pain
    return [[p.sd_participant ** 2, c], [c, p.sd_participant_pain ** 2]]


def drift(params: SimulationParams, n):
    """The RT multiplier on the session's ``n``-th trial (a number or an array of trial numbers)."""
    practice = 1.0 + params.practice_rt_gain * np.exp(-(np.asarray(n, dtype=float) - 1) / params.practice_tau_trials) \
        if params.practice_tau_trials > 0 else 1.0
    return practice * (1.0 + params.fatigue_rt_per_100_trials * (np.asarray(n, dtype=float) - 1) / 100.0)


def lapse_probability(params: SimulationParams, n):
    """The chance of a lapse on the ``n``-th trial, rising with fatigue."""
    return params.lapse_rate * (1.0 + params.fatigue_lapse_per_100_trials * (np.asarray(n, dtype=float) - 1) / 100.0)


def residual_sd(p: RatingParams, params: SimulationParams, n):
    """The residual SD (percent of range) on the ``n``-th trial, growing with fatigue."""
    return p.sd_residual * (1.0 + params.fatigue_noise_per_100_trials * (np.asarray(n, dtype=float) - 1) / 100.0)


def to_scale(pct, snap, p: RatingParams, low, high, step):
    """Latent percent → the answer on the rating's scale: anchor snapping (where ``snap``), clipping, rounding."""
    pct = np.where(snap & (pct < p.anchor_window), 0.0, np.where(snap & (pct > 100.0 - p.anchor_window), 100.0, pct))
    value = np.clip(low + pct / 100.0 * (high - low), low, high)
    if step:
        value = low + np.round((value - low) / step) * step
    return value


def rating_rt(params: SimulationParams, z, location, drift_n):
    """Rating RT (s): log-normal around the median shifted by ``location`` (log scale), times drift."""
    return params.rating_rt_median_s * np.exp(params.rating_rt_sdlog * z + location) * drift_n


def judgement_location(params: SimulationParams, mu, pain_slope, x):
    """A participant's Gaussian-component mean (s) of the judgement RT, before drift."""
    return mu + pain_slope * x("pain") + cell_mean(params.judgement_rt_effects, 0.0, x)


def draw_stimulus_effects(stimulus_ids, rating_names, params: SimulationParams, rng):
    """Stimulus intercepts per rating, shared by every participant of a pilot."""
    return {name: dict(zip(stimulus_ids, rng.normal(0.0, params.rating(name).sd_stimulus, len(stimulus_ids))))
            for name in rating_names}


def design_cells(protocol):
    """Every combination of the protocol's factor levels, as (pain, perspective, group, stimulus_type)."""
    levels = protocol.factor_levels()
    return list(itertools.product(levels["pain"], levels["perspective"], levels["group"], levels["stimulus_type"]))


def expected_observed_cells(protocol, params: SimulationParams, trial_numbers, *, n_draws=200_000, seed=0):
    """Each rating's expected answer per design cell on its own scale, by large-sample simulation.

    The latent model pushed through anchor snapping, clipping and rounding, integrated over
    participants, stimuli, residual noise and the session's trial positions
    (``trial_numbers``, for the fatigue term): the true values on the scale the data are
    on. Every cell uses the same draws (common random numbers), so differences between
    cells — the effects — carry little simulation error. Returns
    ``{rating: [{pain, perspective, group, stimulus_type, mean}, ...]}``.
    """
    rng = np.random.default_rng(seed)
    positions = np.asarray(trial_numbers, dtype=float)
    out = {}
    for rating in protocol.ratings:
        p, (low, high) = params.rating(rating.name), rating.range
        u0, u1 = np.linalg.cholesky(np.array(participant_cov(p)) + 1e-12 * np.eye(2)) @ rng.standard_normal((2, n_draws))
        offset = u0 + rng.normal(0.0, p.sd_stimulus, n_draws) \
            + residual_sd(p, params, rng.choice(positions, n_draws)) * rng.standard_normal(n_draws)
        snap = rng.random(n_draws) < p.anchor_snap
        rows = []
        for cell in (_Cell(*c) for c in design_cells(protocol)):
            pct = cell_mean(p.effects, p.intercept, lambda t: _x(cell, t)) + u1 * CODES["pain"][cell.pain] + offset
            value = to_scale(pct, snap, p, low, high, rating.step)
            rows.append({"pain": cell.pain, "perspective": cell.perspective, "group": cell.group,
                         "stimulus_type": cell.stimulus_type, "mean": float(value.mean())})
        out[rating.name] = rows
    return out


class _Cell:
    """A trial-like object for one design cell (what :func:`_x` reads)."""

    def __init__(self, pain, perspective, group, stimulus_type):
        self.pain, self.perspective, self.group, self.stimulus_type = pain, perspective, group, stimulus_type

    @property
    def label(self):
        return "_".join(v for v in (self.pain, self.perspective, self.group, self.stimulus_type) if v != "none")


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
        cells = [_Cell(*c) for c in design_cells(protocol)]
        for rating in protocol.ratings:
            p = params.rating(rating.name)
            u0, u1 = rng.multivariate_normal([0.0, 0.0], participant_cov(p), method="cholesky")
            self._person[rating.name] = (float(u0), float(u1))
            low, high = rating.range
            self.truth["ratings"][rating.name] = {
                "intercept_offset": float(u0), "pain_slope_offset": float(u1),
                # fixed-effect cell means of the latent value on the rating's own scale (before anchors)
                "cell_means": {c.label: low + self._cell_mean(c, rating.name) / 100.0 * (high - low) for c in cells},
                "participant_cell_means": {
                    c.label: low + (self._cell_mean(c, rating.name) + u0 + u1 * CODES["pain"][c.pain]) / 100.0
                    * (high - low) for c in cells}}
        self._judgement_mu = params.judgement_mu_s + rng.normal(0.0, params.judgement_sd_participant_s)
        self._judgement_pain = rng.normal(0.0, params.judgement_sd_participant_pain_s)
        self.truth["judgement_mu_s"] = float(self._judgement_mu)
        self.truth["judgement_pain_slope_offset_s"] = float(self._judgement_pain)
        self.truth["judgement_rt_cell_means_s"] = {
            c.label: params.judgement_t0_s + self._judgement_location(c) + params.judgement_tau_s for c in cells}
        # drawn after everything else, so the other effects are those of a seed before rating-RT effects existed
        self._rt_offset = float(rng.normal(0.0, params.rating_rt_sd_participant_log))
        self.truth["rating_rt_log_offset"] = self._rt_offset
        self.truth["rating_rt_cell_medians_s"] = {   # before drift
            c.label: params.rating_rt_median_s * math.exp(self._rt_location(c)) for c in cells}

    CHUNK = 256

    def _draws(self, trial):
        """Standard normal, uniform and exponential variates for one trial.

        Drawn in chunks seeded by (seed, chunk), so a resumed session answers exactly as an
        uninterrupted one would, whatever trial it starts from. Uniform columns: one lapse
        and one anchor draw per rating, then judgement accuracy and judgement lapse.
        """
        chunk, row = divmod(trial.trial - 1, self.CHUNK)
        if chunk not in self._tables:
            rng = np.random.default_rng([self.seed, chunk])
            n = len(self.protocol.ratings)
            self._tables = {chunk: (rng.standard_normal((self.CHUNK, 2 * n + 1)).tolist(),
                                    rng.random((self.CHUNK, 2 * n + 2)).tolist(),
                                    rng.standard_exponential(self.CHUNK).tolist())}
        z, u, e = self._tables[chunk]
        return z[row], u[row], e[row]

    def _cell_mean(self, trial, name):
        """The rating's fixed-effect mean (percent of range) for the trial's cell."""
        key = (name, trial.pain, trial.perspective, trial.group, trial.stimulus_type)
        mean = self._means.get(key)
        if mean is None:
            p = self.params.rating(name)
            mean = self._means[key] = cell_mean(p.effects, p.intercept, lambda t: _x(trial, t))
        return mean

    def _judgement_location(self, trial):
        """This participant's Gaussian-component mean (s) for the trial's cell, before drift."""
        return judgement_location(self.params, self._judgement_mu, self._judgement_pain, lambda t: _x(trial, t))

    def _rt_location(self, trial):
        """This participant's log-scale shift of the rating RT for the trial's cell."""
        return self._rt_offset + cell_mean(self.params.rating_rt_effects, 0.0, lambda t: _x(trial, t))

    def drift(self, n):
        """The RT multiplier on the session's ``n``-th trial: practice speed-up times fatigue slow-down."""
        return float(drift(self.params, n))

    def _lapse(self, u, n):
        return u < lapse_probability(self.params, n)

    def rate(self, trial, rating):
        """Return ``(value or None, rt_s)``: the answer on the rating's own scale, or None after a lapse."""
        r, n_ratings = self._rating_index[rating.name], len(self.protocol.ratings)
        z, u, _ = self._draws(trial)
        p = self.params.rating(rating.name)
        rt = float(rating_rt(self.params, z[2 * r], self._rt_location(trial), self.drift(trial.trial)))
        if self._lapse(u[r], trial.trial):
            return None, (rating.timeout_s or rt) + 0.5
        if rating.timeout_s and rt > rating.timeout_s:
            return None, rt
        u0, u1 = self._person[rating.name]
        noise = residual_sd(p, self.params, trial.trial)
        pct = (self._cell_mean(trial, rating.name) + u0 + u1 * CODES["pain"][trial.pain]
               + self.stimulus_effects[rating.name].get(trial.stimulus_id, 0.0) + noise * z[2 * r + 1])
        low, high = rating.range
        return float(to_scale(pct, u[n_ratings + r] < p.anchor_snap, p, low, high, rating.step)), rt

    def judge(self, trial, judgement):
        """Return ``(key or None, rt_s)`` for a pain / no-pain judgement."""
        params = self.params
        z, u, e = self._draws(trial)
        decision = self._judgement_location(trial) + params.judgement_sigma_s * z[-1] + params.judgement_tau_s * e
        rt = max(params.judgement_t0_s + decision * self.drift(trial.trial), 0.15)
        if self._lapse(u[-1], trial.trial) or (judgement.timeout_s and rt > judgement.timeout_s):
            return None, judgement.timeout_s or rt
        correct = u[-2] < params.judgement_accuracy
        answer = trial.pain if correct else ("neutral" if trial.pain == "pain" else "pain")
        return judgement.keys[answer], rt

    def proceed(self):
        """Seconds until the participant presses a key on an instruction or break screen."""
        return self.params.continue_rt_s
