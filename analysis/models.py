"""Trial-level mixed models for the report: random-structure selection, marginal means and contrasts.

Rating model, in lme4 notation, with the factors that vary in the data (effect-coded
±0.5: pain, self, outgroup, hand = +0.5; ``DESIGN_CONTRASTS``), here for the default protocol::

    rating ~ pain * perspective * group + stimulus_type
             + (1 + pain + perspective + group + stimulus_type | participant)
             + (1 + perspective + group | stimulus_id)

Stimuli are crossed with participants (Judd, Westfall & Kenny 2012, JPSP 103:54,
doi:10.1037/a0028347). The random part starts from the maximal structure the design
supports (Barr, Levy, Scheepers & Tily 2013, JML 68:255, doi:10.1016/j.jml.2012.11.001):
a correlated random slope on participants for every factor that varies within
participants, and on stimuli for every factor that varies within stimuli (a stimulus is
seen under both perspectives and, in natural-group designs, as in-group by some
participants and out-group by others; pain and stimulus type are fixed properties of a
stimulus). Slopes are for main effects: interaction slopes are not attempted (their
covariance matrices grow as 8 × 8 per participant and are not identified at a lab
study's size). While the fit is singular the random part is simplified by this rule,
after Bates, Kliegl, Vasishth & Baayen 2015 (arXiv:1506.04967):

1. fit the same terms without correlations (``||``);
2. drop every term whose variance is (near) zero — below ``ZERO_VARIANCE`` × σ² — or,
   when none is, the slope with the smallest variance; refit without correlations; repeat
   while singular (the participant intercept is never dropped);
3. once a zero-correlation model is non-singular and still has slopes, restore the
   correlations of its terms and keep that model if it is non-singular.

Stimulus random effects enter only when every pain × stimulus-type cell holds at least
``MIN_STIMULI_PER_CELL`` distinct stimuli (a cue task's two cues are the conditions
themselves, not a sample of stimuli). Log-RT models start from crossed random intercepts.
Contrasts are l'β with SE √(l'Vl) from the fixed-effect covariance V and lmerTest-style
Satterthwaite df for the single contrast l.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import special

from .design_matrices import DESIGN_CONTRASTS
from .measures import cell_codes

__all__ = ["ModelFit", "RandomPart", "cell_means", "contrast", "fit_with_selection", "maximal_random",
           "model_formula", "pain_contrasts"]

CROSSED = ("pain", "perspective", "group")
SLOPE_FACTORS = ("pain", "perspective", "group", "stimulus_type")
MIN_STIMULI_PER_CELL = 3
ZERO_VARIANCE = 1e-6   # a random-effect variance below this × σ² counts as zero


@dataclass(frozen=True)
class RandomPart:
    """One candidate random structure: slopes per grouping factor, correlated or not."""

    slopes: tuple = ()            # participant random slopes (the intercept is always there)
    stimulus_slopes: tuple = ()
    stimulus: bool = True         # a stimulus random intercept
    correlated: bool = True

    @property
    def has_slopes(self) -> bool:
        return bool(self.slopes or self.stimulus_slopes)


@dataclass
class ModelFit:
    """A selected model: the final result and the formulas tried on the way."""

    measure: str
    formula: str
    result: object
    steps: list = field(default_factory=list)  # (formula, singular, converged)


def _fixed_part(dv, factors):
    crossed = [f for f in CROSSED if f in factors]
    rhs = " * ".join(crossed) if crossed else "1"
    if "stimulus_type" in factors:
        rhs += " + stimulus_type"
    return f"{dv} ~ {rhs}"


def _term(group, intercept, slopes, correlated):
    if not intercept and not slopes:
        return None
    inside = " + ".join((["1"] if intercept else ["0"]) + list(slopes))
    return f"({inside} {'|' if correlated or len(slopes) == 0 else '||'} {group})"


def model_formula(dv, factors, random: RandomPart = RandomPart()) -> str:
    """The lme4 formula of one candidate model."""
    participant = _term("participant", True, [s for s in random.slopes if s in factors], random.correlated)
    stimulus = _term("stimulus_id", random.stimulus, [s for s in random.stimulus_slopes if s in factors],
                     random.correlated)
    return " + ".join(p for p in (_fixed_part(dv, factors), participant, stimulus) if p)


def _varies_within(units: np.ndarray, levels: np.ndarray) -> bool:
    """Whether every unit (integer codes) seen more than once shows more than one level (codes; -1 = missing)."""
    known, width = levels >= 0, max(int(levels.max()), 0) + 1
    pairs = np.unique(units[known] * width + levels[known])
    n_levels = np.bincount(pairs // width, minlength=units.max() + 1)
    repeated = np.bincount(units) > 1
    return bool(repeated.any() and (n_levels[repeated] > 1).all())


def maximal_random(data: pd.DataFrame, factors: list[str], stimulus: bool = True) -> RandomPart:
    """The maximal main-effect random structure the design supports (see the module's rule)."""
    codes = {f: pd.factorize(data[f])[0] for f in SLOPE_FACTORS if f in factors}
    people = pd.factorize(data["participant"])[0]
    slopes = tuple(f for f in codes if _varies_within(people, codes[f]))
    stimulus = stimulus and _stimuli_sampled(data)
    items = pd.factorize(data["stimulus_id"])[0] if stimulus else None
    stimulus_slopes = tuple(f for f in codes if stimulus and _varies_within(items, codes[f]))
    return RandomPart(slopes, stimulus_slopes, stimulus, correlated=True)


def _variance(result, factor, term):
    """Variance of ``term`` on grouping ``factor``; ``||`` terms are the groups 'factor', 'factor.1', …."""
    for k, blk in enumerate(result.blocks):  # the first match in the order of ``result.random``
        if (blk.group == factor or blk.group.startswith(f"{factor}.")) and term in blk.names:
            i = blk.names.index(term)
            return float(result.covariance(k)[i, i])
    return 0.0


def _simpler(part: RandomPart, result) -> RandomPart | None:
    """Step 2 of the rule: drop the zero-variance terms, else the smallest slope; None if nothing is left to drop."""
    variances = {("participant", s): _variance(result, "participant", s) for s in part.slopes}
    variances.update({("stimulus_id", s): _variance(result, "stimulus_id", s) for s in part.stimulus_slopes})
    if part.stimulus:
        variances[("stimulus_id", "(Intercept)")] = _variance(result, "stimulus_id", "(Intercept)")
    if not variances:
        return None
    zero = {k for k, v in variances.items() if v < ZERO_VARIANCE * result.sigma ** 2}
    if not zero:
        slopes_only = {k: v for k, v in variances.items() if k[1] != "(Intercept)"}
        if not slopes_only:
            return None
        zero = {min(slopes_only, key=slopes_only.get)}
    return replace(part, slopes=tuple(s for s in part.slopes if ("participant", s) not in zero),
                   stimulus_slopes=tuple(s for s in part.stimulus_slopes if ("stimulus_id", s) not in zero),
                   stimulus=part.stimulus and ("stimulus_id", "(Intercept)") not in zero, correlated=False)


def fit_with_selection(data: pd.DataFrame, dv: str, factors: list[str], *, slopes="maximal",
                       stimulus: bool = True, fit=None, cache: dict | None = None) -> ModelFit:
    """Fit the starting random structure and simplify by the module's rule while the fit is singular.

    Parameters
    ----------
    data : DataFrame
        Trials; rows without a response are left out of every fit and of the choice of the
        starting structure (so excluded trials may be given as missing responses, which
        keeps the rows — and a ``cache`` — the same across studies of one design).
    dv : str
        The response column.
    factors : list of str
        The design factors that vary in the data.
    slopes : "maximal" or sequence of str
        ``"maximal"`` (the default: :func:`maximal_random`) or the participant slopes to
        start from, with stimulus intercepts only.
    stimulus : bool
        Whether stimulus random effects may enter.
    fit : callable, optional
        Another engine (e.g. ``fit_glmm``), called as ``fit(data, formula, contrasts=...)``
        for every candidate. The default, ``fit_lmm``, computes Satterthwaite df only for the
        model kept: a singular candidate is never reported, and a candidate is completed
        earlier only when lme4's convergence check applies to it, so that ``steps`` records
        the same ``converged`` as full fits do.
    cache : dict, optional
        Default engine only. A dict the caller keeps across studies of one design (the same
        rows and factor columns, responses differing, as in a power simulation): it holds
        what depends on the design alone — the starting structure and each candidate's
        model matrices — rebuilt when the factor columns differ. Answers are the same
        with or without it.

    Returns
    -------
    ModelFit
    """
    engine = fit is None
    answered = data[data[dv].notna()] if data[dv].isna().any() else data
    part = _starting_part(answered, factors, slopes, stimulus, cache if engine else None)
    steps, fitted = [], {}

    def attempt(candidate):
        formula = model_formula(dv, factors, candidate)
        if not engine:
            result = fit(data, formula, contrasts=DESIGN_CONTRASTS)
        elif formula in fitted:  # restoring the correlations of the first candidate: the same fit
            result = fitted[formula]
        else:
            previous = list(fitted.values())[-1] if fitted else None
            result = fitted[formula] = _fit_candidate(data, formula, cache, previous)
        steps.append((formula, result.singular, result.converged))
        return formula, result

    formula, result = attempt(part)
    if result.singular and part.correlated and part.has_slopes:
        part = replace(part, correlated=False)
        formula, result = attempt(part)
    while result.singular:
        simpler = _simpler(part, result)
        if simpler is None:
            break   # (1 | participant) alone, or a singular fit the rule cannot simplify: kept, warned
        part = simpler
        formula, result = attempt(part)
    if not result.singular and not part.correlated and part.has_slopes and len(steps) > 1:
        restored = replace(part, correlated=True)
        formula2, result2 = attempt(restored)
        if not result2.singular:
            formula, result = formula2, result2
    if engine:
        from .lmm import with_satterthwaite

        result = with_satterthwaite(result)
    return ModelFit(measure=dv, formula=formula, result=result, steps=steps)


def _fit_candidate(data, formula, cache, previous):
    """One candidate by ``fit_lmm``, from the best of the moment start and the previous candidate's covariances.

    Satterthwaite df are left for the model kept, unless the convergence check applies (see
    :func:`fit_with_selection`).
    """
    from .lmm import convergence_checkable, fit_lmm, with_satterthwaite

    result = fit_lmm(data, formula, contrasts=DESIGN_CONTRASTS, satterthwaite=False,
                     start_from=[] if previous is None else [previous],
                     design_cache=None if cache is None else cache.setdefault("designs", {}))
    return with_satterthwaite(result) if convergence_checkable(result) else result


def _starting_part(data, factors, slopes, stimulus, cache) -> RandomPart:
    """The first candidate; the maximal structure is looked up in ``cache`` when the design is the one seen."""
    if not (isinstance(slopes, str) and slopes == "maximal"):
        chosen = tuple(s for s in slopes if s in factors)
        return RandomPart(chosen, (), stimulus and _stimuli_sampled(data), correlated=True)
    if cache is None:
        return maximal_random(data, factors, stimulus)
    from .lmm import snapshot, unchanged

    used = ["participant", "stimulus_id", *(c for c in (*SLOPE_FACTORS, *factors) if c in data.columns)]
    known = cache.setdefault("maximal_random", {})
    key = (tuple(factors), stimulus)
    if key not in known or not unchanged(data, known[key][0]):
        known[key] = (snapshot(data, dict.fromkeys(used)), maximal_random(data, factors, stimulus))
    return known[key][1]


def _stimuli_sampled(data: pd.DataFrame) -> bool:
    """Whether stimuli are a sample: at least MIN_STIMULI_PER_CELL per pain × stimulus-type cell."""
    ids = data["stimulus_id"]
    named = (ids != "").to_numpy()
    if not named.any():
        return False
    cells = [c for c in ("pain", "stimulus_type") if c in data.columns]
    cell, item = cell_codes(data, cells)[named], pd.factorize(ids[named])[0]
    pairs = np.unique(cell * (item.max() + 1) + item)          # distinct (cell, stimulus) pairs
    per_cell = np.bincount(pairs // (item.max() + 1))
    return bool(len(per_cell) and per_cell[per_cell > 0].min() >= MIN_STIMULI_PER_CELL)


def _row(result, levels: dict) -> np.ndarray:
    """Design row of the fixed effects for a cell given as {factor: level}; absent factors at 0."""
    l = np.zeros(len(result.term_names))
    for i, term in enumerate(result.term_names):
        if term == "(Intercept)":
            l[i] = 1.0
            continue
        value = 1.0
        for factor in term.split(":"):
            coding = DESIGN_CONTRASTS.get(factor)
            value *= coding.get(levels.get(factor), 0.0) if coding else 0.0
        l[i] = value
    return l


def contrast(result, l: np.ndarray) -> dict:
    """Estimate, SE, Satterthwaite df, t, p and 95% CI of the linear combination l'β."""
    l = np.asarray(l, dtype=float)
    est = float(l @ result.beta)
    se = float(np.sqrt(l @ result.vcov @ l))
    df = float(result.satterthwaite.df_contrast(l)) if result.satterthwaite is not None else np.inf
    t = est / se if se > 0 else np.nan
    p = float(2 * special.stdtr(df, -abs(t))) if np.isfinite(t) else np.nan
    half = float(special.stdtrit(df, 0.975) * se)
    return {"estimate": est, "se": se, "df": df, "t": t, "p": p, "ci_low": est - half, "ci_high": est + half}


def _cells(factors):
    crossed = [f for f in CROSSED if f in factors]
    levels = [sorted(DESIGN_CONTRASTS[f], key=lambda v: -DESIGN_CONTRASTS[f][v]) for f in crossed]
    return crossed, [dict(zip(crossed, combo)) for combo in itertools.product(*levels)]


def cell_means(result, factors) -> pd.DataFrame:
    """Model-based marginal means per pain × perspective × group cell (stimulus type averaged)."""
    crossed, cells = _cells(factors)
    rows = [{**cell, **contrast(result, _row(result, cell))} for cell in cells]
    return pd.DataFrame(rows, columns=[*crossed, "estimate", "se", "df", "t", "p", "ci_low", "ci_high"])


def pain_contrasts(result, factors) -> pd.DataFrame:
    """Pain − neutral within each perspective × group cell, overall, and in-group bias.

    In-group bias is the pain effect for in-group minus out-group stimuli (−1 × the
    pain:group coefficient under the design's coding); self − other likewise.
    """
    cols = ["contrast", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    if "pain" not in factors:
        return pd.DataFrame(columns=cols)
    splits = [f for f in ("perspective", "group") if f in factors]

    def effect(where):
        return _row(result, {**where, "pain": "pain"}) - _row(result, {**where, "pain": "neutral"})

    rows = [{"contrast": "pain − neutral (all)", **contrast(result, effect({}))}]
    if splits:
        for combo in itertools.product(*[sorted(DESIGN_CONTRASTS[f], key=lambda v: -DESIGN_CONTRASTS[f][v])
                                         for f in splits]):
            where = dict(zip(splits, combo))
            rows.append({"contrast": f"pain − neutral | {', '.join(combo)}", **contrast(result, effect(where))})
    if "group" in factors:
        l = effect({"group": "ingroup"}) - effect({"group": "outgroup"})
        rows.append({"contrast": "in-group bias: pain effect in-group − out-group", **contrast(result, l)})
    if "perspective" in factors:
        l = effect({"perspective": "self"}) - effect({"perspective": "other"})
        rows.append({"contrast": "pain effect self − other", **contrast(result, l)})
    return pd.DataFrame(rows, columns=cols)
