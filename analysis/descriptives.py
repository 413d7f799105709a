"""Descriptive tables: cell means over participants with SD and 95% CI, and d_z for pain effects."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["FACTORS", "cell_descriptives", "factors_present", "pain_effect_sizes", "participant_means"]

FACTORS = ("pain", "perspective", "group", "stimulus_type")


def factors_present(trials: pd.DataFrame) -> list[str]:
    """The design factors that take at least two levels (other than 'none') in ``trials``."""
    out = []
    for factor in FACTORS:
        if factor in trials.columns:
            levels = set(trials[factor].dropna()) - {"none", ""}
            if len(levels) >= 2:
                out.append(factor)
    return out


def participant_means(trials: pd.DataFrame, dv: str, factors: list[str]) -> pd.DataFrame:
    """Each participant's mean of ``dv`` per cell of ``factors`` (rows with a missing dv left out)."""
    used = trials.dropna(subset=[dv])
    return used.groupby(["participant", *factors], observed=True)[dv].mean().reset_index()


def _summary(values: np.ndarray) -> tuple:
    values = values[np.isfinite(values)]
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    sd = float(values.std(ddof=1)) if n > 1 else np.nan
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
    return n, mean, sd, mean - half, mean + half


def cell_descriptives(trials: pd.DataFrame, dv: str, factors: list[str]) -> pd.DataFrame:
    """Per cell: n_participants, n_trials, mean, sd (of participant means), ci_low, ci_high (95%, t)."""
    means = participant_means(trials, dv, factors)
    n_trials = trials.dropna(subset=[dv]).groupby(factors, observed=True).size()
    rows = []
    for cell, part in means.groupby(factors, observed=True):
        cell = cell if isinstance(cell, tuple) else (cell,)
        n, mean, sd, lo, hi = _summary(part[dv].to_numpy(float))
        rows.append((*cell, n, int(n_trials.loc[cell if len(cell) > 1 else cell[0]]), mean, sd, lo, hi))
    return pd.DataFrame(rows, columns=[*factors, "n_participants", "n_trials", "mean", "sd", "ci_low", "ci_high"])


def _dz(diff: np.ndarray) -> tuple:
    diff = diff[np.isfinite(diff)]
    n = len(diff)
    if n < 2:
        return n, np.nan, np.nan, np.nan, np.nan, np.nan
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    t = mean / (sd / np.sqrt(n)) if sd > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), n - 1)) if np.isfinite(t) else np.nan
    return n, mean, sd, (mean / sd if sd > 0 else np.nan), t, p


def pain_effect_sizes(trials: pd.DataFrame, dv: str, factors: list[str]) -> pd.DataFrame:
    """Pain − neutral on participant means, overall and within each perspective × group cell.

    Columns: cell, n, mean_diff, sd_diff, d_z (mean difference / SD of the differences,
    Cohen 1988's d for paired designs), t, df, p.
    """
    if "pain" not in factors:
        return pd.DataFrame(columns=["cell", "n", "mean_diff", "sd_diff", "d_z", "t", "df", "p"])
    splits = [f for f in ("perspective", "group") if f in factors]
    rows = []
    cells = [("all", None)]
    if splits:
        for key, _ in trials.groupby(splits, observed=True):
            key = key if isinstance(key, tuple) else (key,)
            cells.append((" × ".join(key), dict(zip(splits, key))))
    for label, where in cells:
        part = trials
        if where:
            for f, v in where.items():
                part = part[part[f] == v]
        wide = participant_means(part, dv, ["pain"]).pivot(index="participant", columns="pain", values=dv)
        if not {"pain", "neutral"} <= set(wide.columns):
            continue
        n, mean, sd, dz, t, p = _dz((wide["pain"] - wide["neutral"]).to_numpy(float))
        rows.append((label, n, mean, sd, dz, t, n - 1, p))
    return pd.DataFrame(rows, columns=["cell", "n", "mean_diff", "sd_diff", "d_z", "t", "df", "p"])
