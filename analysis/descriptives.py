"""Descriptive tables: cell means over participants with SD and 95% CI, and d_z for pain effects.

Proportions (judgement accuracy) get a bounded interval that holds the mean
(``analysis.proportions.clustered_interval``) instead of the t interval, which can pass 1.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .estimable import no_variation
from .measures import FACTORS, factors_present
from .proportions import clustered_interval

__all__ = ["FACTORS", "cell_descriptives", "factors_present", "pain_effect_sizes", "participant_means"]


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


def cell_descriptives(trials: pd.DataFrame, dv: str, factors: list[str], *, proportion: bool = False) -> pd.DataFrame:
    """Per cell: n_participants, n_trials, mean, sd (of participant means), ci_low, ci_high (95%).

    The interval is the t interval of participant means, or for a 0/1 ``dv`` with
    ``proportion=True`` the bounded interval of ``analysis.proportions.clustered_interval``.
    """
    used = trials.dropna(subset=[dv])
    keys = ["participant", *factors]
    per_person = used.groupby(keys, observed=True)[dv].agg(["mean", "sum", "count"]).reset_index()
    n_trials = used.groupby(factors, observed=True).size()
    rows = []
    for cell, part in per_person.groupby(factors, observed=True):
        cell = cell if isinstance(cell, tuple) else (cell,)
        n, mean, sd, lo, hi = _summary(part["mean"].to_numpy(float))
        if proportion:
            lo, hi = clustered_interval(part["mean"].to_numpy(float), int(part["count"].sum()))
        rows.append((*cell, n, int(n_trials.loc[cell if len(cell) > 1 else cell[0]]), mean, sd, lo, hi))
    return pd.DataFrame(rows, columns=[*factors, "n_participants", "n_trials", "mean", "sd", "ci_low", "ci_high"])


def _dz(diff: np.ndarray, scale: np.ndarray) -> tuple:
    """n, mean, SD, d_z, t, p of paired differences; no d_z, t or p when they do not vary (relative to ``scale``)."""
    diff = diff[np.isfinite(diff)]
    n = len(diff)
    if n < 2:
        return n, np.nan, np.nan, np.nan, np.nan, np.nan
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if no_variation(sd ** 2 * (n - 1), scale):
        sd = 0.0
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
        n, mean, sd, dz, t, p = _dz((wide["pain"] - wide["neutral"]).to_numpy(float), wide.to_numpy(float))
        rows.append((label, n, mean, sd, dz, t, n - 1, p))
    return pd.DataFrame(rows, columns=["cell", "n", "mean_diff", "sd_diff", "d_z", "t", "df", "p"])
