"""When a model's numbers mean nothing: ``NotEstimable`` and the checks that raise it.

Degenerate data — answers that do not vary, a design cell with no answers, fewer than two
participants, a model that fits the answers exactly — get "not estimable" and the reason,
never an F, t or p value. Variation is judged relative to the size of the numbers
(``RELATIVE_TOL`` of their mean square), so rounding noise in sums of identical values
does not pass for an effect.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .measures import cell_codes

__all__ = ["RELATIVE_TOL", "NotEstimable", "check_fit", "check_response", "no_variation"]

RELATIVE_TOL = 1e-10


class NotEstimable(ValueError):
    """The data cannot support the analysis; the message is the reason, for the report."""


def no_variation(spread_ss: float, values) -> bool:
    """Whether a sum of squares ``spread_ss`` is nil next to the mean square of ``values`` (floating-point noise)."""
    values = np.asarray(values, dtype=float)
    scale = float(np.mean(values ** 2)) * max(values.size, 1) if values.size else 0.0
    return not spread_ss > RELATIVE_TOL * scale


def check_response(data: pd.DataFrame, dv: str, factors: list[str], *, unit: str = "participant") -> None:
    """Refuse a model of ``dv`` on ``data`` that cannot be estimated, naming why.

    Checks: at least two ``unit`` levels with an answer; answers that vary; every cell of
    the crossed two-level factors (pain × perspective × group) holding answers.
    """
    used = data[data[dv].notna()]
    if used[unit].nunique() < 2:
        raise NotEstimable(f"answers from {used[unit].nunique()} {unit}(s); a model needs at least 2")
    y = used[dv].to_numpy(float)
    if no_variation(float(((y - y.mean()) ** 2).sum()), y):
        raise NotEstimable(f"every answer is {y[0]:g}: the answers do not vary")
    crossed = [f for f in ("pain", "perspective", "group") if f in factors]
    n_levels = [len(pd.unique(used[f])) for f in crossed]
    if crossed and len(np.unique(cell_codes(used, crossed))) < np.prod(n_levels):   # a cell is empty: which?
        have = set(used.groupby(crossed, observed=True).size().index)
        levels = [sorted(set(used[f])) for f in crossed]
        for cell in itertools.product(*levels):
            key = cell if len(cell) > 1 else cell[0]
            if key not in have:
                raise NotEstimable(f"the design cell {' × '.join(cell)} holds no answers, so the interaction "
                                   f"terms cannot be estimated")


def check_fit(result, dv: str) -> None:
    """Refuse a fitted model whose residual variance is nil: the answers are a function of the design."""
    y = result.data[dv].to_numpy(float)[result.rows] if hasattr(result, "rows") else None
    sigma = getattr(result, "sigma", None)
    if y is not None and sigma is not None and no_variation(sigma ** 2 * len(y), y):
        raise NotEstimable("the model reproduces every answer exactly (no residual variance): the answers "
                           "are fixed by the design cells")
