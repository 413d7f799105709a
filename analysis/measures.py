"""The measures of a data set — each rating and the pain judgement — and which trials asked each one.

A protocol may ask a rating only in some conditions (``asked_when`` in the protocol, e.g.
intensity only on self trials). Such a rating's empty cells on the other trials are *not
asked*, which is not *missing*: they count neither as timeouts nor against a participant.
Which trials asked a measure comes from the sessions' sidecars (the protocol's
``asked_when``, recorded by ``paradigm``) and from the pattern of answers: a design cell
(pain × perspective × group × stimulus type) in which no participant gave the measure a
single answer did not ask it. When the sidecars say such a cell asked the measure, the
report warns (a recording fault, or an edited file) and treats the cell as not asked —
the only reading under which the rest can be analysed. A trial asked a measure when it is
``declared_asked`` and its cell is one of the ``answered_cells`` (``analysis.qc`` combines them).

Within a measure's asked trials a design factor may not vary (intensity asked only on self
trials has one perspective); such a factor is left out of that measure's tables and models
(:func:`measure_factors`), and the report says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FACTORS", "Measure", "answered_cells", "cell_codes", "declared_asked", "describe_asked",
           "factors_present", "measure_factors"]

FACTORS = ("pain", "perspective", "group", "stimulus_type")


@dataclass(frozen=True)
class Measure:
    """One measure: its answer and RT columns, its scale and timeout, where it is asked (None: unknown)."""

    name: str                       # "rating_<name>" or "judgement"
    kind: str                       # "rating" | "judgement"
    range: tuple | None = None      # a rating's [low, high]; None when no sidecar records it
    timeout_s: float | None = None
    asked_when: dict | None = None  # {factor: levels}; {} = every trial; None = read off the answers

    @property
    def value(self) -> str:
        return "judgement_correct" if self.kind == "judgement" else self.name

    @property
    def rt(self) -> str:
        return f"{self.name}_rt_s"

    @property
    def label(self) -> str:
        return self.name.removeprefix("rating_").replace("_", " ")


def factors_present(trials: pd.DataFrame) -> list[str]:
    """The design factors that take at least two levels (other than 'none') in ``trials``."""
    out = []
    for factor in FACTORS:
        if factor in trials.columns and len(set(pd.unique(trials[factor].dropna())) - {"none", ""}) >= 2:
            out.append(factor)
    return out


def declared_asked(trials: pd.DataFrame, measure: Measure) -> pd.Series:
    """Boolean per trial: asked by the protocol's ``asked_when`` (every trial when it is unknown)."""
    asked = pd.Series(True, index=trials.index)
    for factor, levels in (measure.asked_when or {}).items():
        asked &= trials[factor].isin(list(levels))
    return asked


def answered_cells(trials: pd.DataFrame, measure: Measure, cells: np.ndarray | None = None) -> pd.Series:
    """Boolean per trial: does the trial's design cell hold at least one answer to ``measure``?

    ``cells``: the trials' design-cell codes (``cell_codes`` over ``FACTORS``), when already known.
    """
    answered = trials[measure.value].notna().to_numpy()
    if cells is None:
        cells = cell_codes(trials, [f for f in FACTORS if f in trials.columns])
    return pd.Series(np.bincount(cells, weights=answered)[cells] > 0, index=trials.index)


def cell_codes(trials: pd.DataFrame, columns) -> np.ndarray:
    """One integer per row for its combination of ``columns`` (a fast group key)."""
    key = np.zeros(len(trials), dtype=np.int64)
    for column in columns:
        codes, levels = pd.factorize(trials[column], use_na_sentinel=False)
        key = key * (len(levels) + 1) + codes
    return pd.factorize(key)[0]


def describe_asked(trials: pd.DataFrame, asked: pd.Series) -> str | None:
    """A phrase such as "only on self trials (perspective)" when ``asked`` is not every trial, else None."""
    if asked.all():
        return None
    if not asked.any():
        return "on no trial"
    for factor in FACTORS:
        if factor not in trials.columns:
            continue
        levels = sorted(set(trials.loc[asked, factor]))
        if (trials[factor].isin(levels) == asked).all():
            return f"only on {' and '.join(levels)} trials ({factor})"
    n_cells = trials.groupby([trials[f] for f in FACTORS if f in trials.columns], observed=True).ngroups
    n_asked = trials[asked].groupby([trials[f] for f in FACTORS if f in trials.columns], observed=True).ngroups
    return f"in {n_asked} of {n_cells} design cells"


def measure_factors(asked: pd.DataFrame, factors: list[str]) -> tuple[list[str], list[str]]:
    """The design ``factors`` that vary within a measure's asked trials, and those that do not."""
    varying = factors_present(asked)
    return [f for f in factors if f in varying], [f for f in factors if f not in varying]
