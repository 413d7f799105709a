"""Trial-level mixed models for the report: random-structure selection, marginal means and contrasts.

Rating model, in lme4 notation, with the factors that vary in the data (effect-coded
±0.5: pain, self, outgroup, hand = +0.5; design.md)::

    rating ~ pain * perspective * group [+ stimulus_type] + (1 + pain | participant) + (1 | stimulus_id)

Stimuli are crossed with participants (Judd, Westfall & Kenny 2012, JPSP 103:54,
doi:10.1037/a0028347); the random part starts from the largest structure the report
attempts (Barr, Levy, Scheepers & Tily 2013, JML 68:255, doi:10.1016/j.jml.2012.11.001:
participant intercepts and pain slopes with their correlation, stimulus intercepts) and,
while the fit is singular, is simplified by this rule: (1) drop the correlations
(``||``); (2) drop the participant slope with the smallest variance and start again
from its correlated form; (3) with no slope left, drop a random intercept whose variance
is (near) zero, stimulus first. Stimulus intercepts enter only
when every pain × stimulus-type cell holds at least ``MIN_STIMULI_PER_CELL`` distinct
stimuli (a cue task's two cues are the conditions themselves, not a sample of stimuli). Log-RT models have crossed
random intercepts only. Contrasts are l'β with SE √(l'Vl) from the fixed-effect
covariance V and lmerTest-style Satterthwaite df for the single contrast l.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from .design_matrices import DESIGN_CONTRASTS

__all__ = ["ModelFit", "cell_means", "contrast", "fit_with_selection", "model_formula", "pain_contrasts"]

CROSSED = ("pain", "perspective", "group")
MIN_STIMULI_PER_CELL = 3


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


def model_formula(dv, factors, slopes=(), correlated=True, stimulus=True, participant=True):
    """The lme4 formula of one candidate model."""
    parts = [_fixed_part(dv, factors)]
    slopes = [s for s in slopes if s in factors]
    if participant:
        bar = "|" if correlated else "||"
        parts.append(f"(1 + {' + '.join(slopes)} {bar} participant)" if slopes else "(1 | participant)")
    elif slopes:
        parts.append(f"(0 + {' + '.join(slopes)} | participant)")
    if stimulus:
        parts.append("(1 | stimulus_id)")
    return " + ".join(parts)


def _variance(result, factor, term):
    """Variance of ``term`` on grouping ``factor``; ``||`` terms are the groups 'factor', 'factor.1', …."""
    rnd = result.random
    on_factor = (rnd["group"] == factor) | rnd["group"].str.startswith(f"{factor}.")
    row = rnd[on_factor & (rnd["term1"] == term) & rnd["term2"].isna()]
    return float(row["vcov"].iloc[0]) if len(row) else 0.0


def fit_with_selection(data: pd.DataFrame, dv: str, factors: list[str], *, slopes=("pain",),
                       stimulus: bool = True, fit=None) -> ModelFit:
    """Fit the largest candidate and simplify by the module's rule while the fit is singular."""
    if fit is None:
        from .lmm import fit_lmm as fit
    slopes = [s for s in slopes if s in factors]
    stimulus = stimulus and _stimuli_sampled(data)
    state = {"slopes": slopes, "correlated": len(slopes) > 0, "stimulus": stimulus, "participant": True}
    steps = []
    while True:
        formula = model_formula(dv, factors, **state)
        result = fit(data, formula, contrasts=DESIGN_CONTRASTS)
        steps.append((formula, result.singular, result.converged))
        if not result.singular:
            break
        if state["correlated"] and len(state["slopes"]) > 0:
            state["correlated"] = False
        elif state["slopes"]:
            smallest = min(state["slopes"], key=lambda s: _variance(result, "participant", s))
            state["slopes"] = [s for s in state["slopes"] if s != smallest]
            state["correlated"] = len(state["slopes"]) > 0
        elif state["stimulus"] and _variance(result, "stimulus_id", "(Intercept)") < 1e-6 * result.sigma ** 2:
            state["stimulus"] = False
        else:
            break  # (1 | participant) alone, or a singular fit the rule cannot simplify: keep it, warned
    return ModelFit(measure=dv, formula=formula, result=result, steps=steps)


def _stimuli_sampled(data: pd.DataFrame) -> bool:
    """Whether stimuli are a sample: at least MIN_STIMULI_PER_CELL per pain × stimulus-type cell."""
    ids = data["stimulus_id"].astype(str).replace("", np.nan)
    if ids.isna().all():
        return False
    cells = [c for c in ("pain", "stimulus_type") if c in data.columns]
    per_cell = data.assign(_id=ids).dropna(subset=["_id"]).groupby(cells, observed=True)["_id"].nunique()
    return bool(len(per_cell) and per_cell.min() >= MIN_STIMULI_PER_CELL)


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
