"""Build the fixed-effects matrix X and the random-effects blocks of Z from a DataFrame and a parsed formula.

Coding of categorical (string, boolean or pandas categorical) predictors:

* by default R's treatment contrasts: the first level in sorted order is the reference and
  each other level gets a column named ``<variable><level>`` (``groupB``);
* ``contrasts={"pain": {"pain": 0.5, "neutral": -0.5}}``: a single column named as the
  variable (``pain``) holding the given value per level (effect coding);
* ``contrasts={"x": "sum"}``: R's ``contr.sum`` (columns ``x1``, ``x2``, ...).

A numeric column named in ``contrasts`` is coded as a factor of its values.

``DESIGN_CONTRASTS`` holds the project's effect coding of the design's two-level factors
(pain, self, outgroup and hand = +0.5). Numeric predictors enter as they are. When the
intercept is removed (``0 +`` or ``- 1``), the first categorical main effect gets one
indicator column per level, as in R.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg.lapack import dpotrf

from .formula import Formula, TermList

__all__ = ["DESIGN_CONTRASTS", "FixedDesign", "RandomBlock", "build_design"]

DESIGN_CONTRASTS = {
    "pain": {"pain": 0.5, "neutral": -0.5},
    "perspective": {"self": 0.5, "other": -0.5},
    "group": {"outgroup": 0.5, "ingroup": -0.5},
    "stimulus_type": {"hand": 0.5, "face": -0.5},
}


@dataclass
class FixedDesign:
    """The fixed-effects model matrix with R's column names and the term each column belongs to."""

    X: np.ndarray
    names: list[str]
    term_of_column: list[str]
    term_labels: list[str]


@dataclass
class RandomBlock:
    """One random-effect term: per-observation model rows ``M`` (n × p) and the grouping factor."""

    group: str
    names: list[str]
    M: np.ndarray
    codes: np.ndarray
    levels: list[str]
    factor: str = ""  # the grouping factor's name, shared by terms split from (x || g)

    @property
    def p(self) -> int:
        return self.M.shape[1]

    @property
    def n_levels(self) -> int:
        return len(self.levels)


def is_categorical(series: pd.Series) -> bool:
    """Whether a column is coded by contrasts (text, boolean, categorical) rather than entered as a number."""
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _codes(series: pd.Series, mask: np.ndarray):
    """Integer codes of the rows in ``mask`` and the sorted levels they use (a categorical's own order)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, levels = series.cat.codes.to_numpy(dtype=np.int64), list(series.cat.categories)
    else:
        # factorize in order of appearance (twice as fast as sort=True), then sort the few levels
        codes, uniques = pd.factorize(series)
        found = uniques.tolist()
        try:
            order = sorted(range(len(found)), key=found.__getitem__)
        except TypeError:
            order = sorted(range(len(found)), key=lambda i: str(found[i]))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[codes[mask]]
        levels = [found[i] for i in order]
        mask = slice(None)
    codes = codes[mask]
    used = np.bincount(codes, minlength=len(levels)) > 0
    if not used.all():
        codes = (np.cumsum(used) - 1)[codes]
        levels = [lev for lev, keep in zip(levels, used) if keep]
    return codes, levels


class _Columns:
    """The formula's columns restricted to complete rows, each converted once (numbers or codes and levels)."""

    def __init__(self, data: pd.DataFrame, variables: list[str]):
        self.series = {var: data[var] for var in variables}
        self.present = {var: ~np.asarray(series.array.isna(), dtype=bool) for var, series in self.series.items()}
        mask = np.ones(len(data), dtype=bool)
        for present in self.present.values():
            mask &= present
        self.mask = mask
        self.n = int(mask.sum())
        self._cache: dict = {}
        self.coded_by_request: set = set()

    def is_categorical(self, var: str) -> bool:
        """Text, boolean and categorical columns, and any column given a coding in ``contrasts``."""
        return var in self.coded_by_request or is_categorical(self.series[var])

    def numeric(self, var: str) -> np.ndarray:
        key = ("numeric", var)
        if key not in self._cache:
            self._cache[key] = self.series[var].to_numpy(dtype=float)[self.mask]
        return self._cache[key]

    def coded(self, var: str):
        key = ("codes", var)
        if key not in self._cache:
            self._cache[key] = _codes(self.series[var], self.mask)
        return self._cache[key]


def _factor_columns(name: str, coded, spec, full: bool):
    """Columns coding one categorical variable (given as codes and levels), and their names."""
    codes, levels = coded
    k = len(levels)
    if full:
        return np.eye(k)[codes], [f"{name}{lev}" for lev in levels]
    if isinstance(spec, dict):
        missing = [lev for lev in levels if lev not in spec and str(lev) not in spec]
        if missing:
            raise ValueError(f"contrasts[{name!r}] must give a value for every level of {name!r}: "
                             f"missing {missing} (levels: {[str(lev) for lev in levels]})")
        values = np.array([spec[lev] if lev in spec else spec[str(lev)] for lev in levels], dtype=float)
        return values[codes][:, None], [name]
    if spec in (None, "treatment"):
        return np.eye(k)[codes][:, 1:], [f"{name}{lev}" for lev in levels[1:]]
    if spec == "sum":
        matrix = np.vstack([np.eye(k - 1), -np.ones(k - 1)])
        return matrix[codes], [f"{name}{i}" for i in range(1, k)]
    raise ValueError(f"contrasts[{name!r}] must be 'treatment', 'sum' or a mapping level -> value (got {spec!r})")


def _model_matrix(data: _Columns, terms: TermList, contrasts: dict, *, overparameterised: bool = False):
    """Columns for an intercept plus terms, R's column names and each column's term label.

    ``overparameterised``: every factor with a multi-column coding gets one indicator per
    level in every term (lmerTest's rank-deficient design for type-III contrasts).
    """
    n = data.n
    columns, names, owners = [], [], []
    if terms.intercept:
        columns.append(np.ones((n, 1)))
        names.append("(Intercept)")
        owners.append("(Intercept)")
    cache: dict = {}
    full_factor = None
    if not terms.intercept:
        full_factor = next((t[0] for t in terms.terms if len(t) == 1 and data.is_categorical(t[0])), None)
    for term in terms.terms:
        block, block_names = np.ones((n, 1)), [""]
        for var in term:
            if data.is_categorical(var):
                full = len(term) == 1 and var == full_factor
                if overparameterised and not isinstance(contrasts.get(var), dict):
                    full = True
                if (var, full) not in cache:
                    cache[var, full] = _factor_columns(var, data.coded(var), contrasts.get(var), full=full)
                cols, cnames = cache[var, full]
            else:
                cols, cnames = data.numeric(var)[:, None], [var]
            # R varies the first variable of an interaction fastest
            block = (block[:, None, :] * cols[:, :, None]).reshape(n, -1)
            block_names = [f"{b}:{c}" if b else c for c in cnames for b in block_names]
        columns.append(block)
        names += block_names
        owners += [":".join(term)] * len(block_names)
    X = np.hstack(columns) if columns else np.empty((n, 0))
    return X, names, owners


def _check_rank(X: np.ndarray, names: list[str], what: str) -> None:
    if X.shape[1] == 0:
        return
    XtX = X.T @ X
    scale = np.sqrt(np.diag(XtX))
    if np.any(scale == 0):
        raise ValueError(f"{what} column {names[int(np.argmin(scale))]!r} is all zero in the data used")
    factor, info = dpotrf(XtX / np.outer(scale, scale), lower=0)
    diag = np.abs(np.diag(factor))
    bad = [info - 1] if info > 0 else list(np.flatnonzero(diag < 1e-6))
    if bad:
        raise ValueError(f"{what} are rank deficient: column {names[bad[0]]!r} is a linear combination of the "
                         f"columns before it; drop or recode that term")


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(map(str, options)), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def select_rows(data: pd.DataFrame, formula: Formula) -> _Columns:
    """The formula's columns on the complete rows; errors name a missing or unusable column."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame (got {type(data).__name__})")
    for var in formula.variables:
        if var not in data.columns:
            raise KeyError(f"term {var!r} of formula {formula.text!r} is not a column of the data"
                           f"{_suggest(var, data.columns)} (columns: {', '.join(map(str, data.columns))})")
    columns = _Columns(data, formula.variables)
    for var, present in columns.present.items():
        if not present.any():
            raise ValueError(f"column {var!r} used in formula {formula.text!r} has no non-missing values")
    if columns.n == 0:
        raise ValueError(f"no row of the data has all of {formula.variables} present")
    response = columns.series[formula.response]
    if is_categorical(response):
        example = response.dropna().iloc[0]
        raise ValueError(f"response {formula.response!r} must be numeric (got values such as {example!r})")
    return columns


def _label(level) -> str:
    """A level as R prints it: whole floats without the '.0'."""
    if isinstance(level, (float, np.floating)) and float(level).is_integer():
        return str(int(level))
    return str(level)


def _grouping(data: _Columns, group: tuple[str, ...]):
    if len(group) == 1:
        codes, levels = data.coded(group[0])
        return codes, [_label(lev) for lev in levels]
    parts = [data.coded(g) for g in group]
    key = np.zeros(data.n, dtype=np.int64)
    for codes, levels in parts:
        key = key * len(levels) + codes
    uniq, codes = np.unique(key, return_inverse=True)
    labels = []
    for k in uniq:
        names = []
        for codes_g, levels in reversed(parts):
            names.append(_label(levels[k % len(levels)]))
            k //= len(levels)
        labels.append(":".join(reversed(names)))
    return codes.astype(np.int64), labels


def build_design(data: pd.DataFrame, formula: Formula, contrasts: dict | None = None):
    """Response vector, fixed design and random blocks for ``formula`` on ``data``.

    Returns ``(rows, y, fixed, blocks)`` where ``rows`` are the positions of the complete rows used.
    """
    contrasts = dict(contrasts or {})
    columns = select_rows(data, formula)
    columns.coded_by_request = {var for var in contrasts if var != formula.response}
    n = columns.n
    y = columns.numeric(formula.response)
    X, names, owners = _model_matrix(columns, formula.fixed, contrasts)
    if X.shape[1] == 0:
        raise ValueError(f"formula {formula.text!r} has no fixed effects; keep at least the intercept")
    _check_rank(X, names, "fixed effects")
    fixed = FixedDesign(X, names, owners, list(dict.fromkeys(owners)))
    blocks, seen = [], {}
    for term in formula.random:
        M, rnames, _ = _model_matrix(columns, term.expr, contrasts)
        if term.only_column is not None:
            M, rnames = M[:, [term.only_column]], [rnames[term.only_column]]
        if M.shape[1] == 0:
            raise ValueError(f"random term ( ... | {term.group_name}) of formula {formula.text!r} has no columns")
        codes, levels = _grouping(columns, term.group)
        if len(levels) < 2:
            raise ValueError(f"grouping factor {term.group_name!r} has {len(levels)} level in the data used; "
                             f"a random effect needs at least 2 levels")
        if len(levels) >= n:
            raise ValueError(f"grouping factor {term.group_name!r} has {len(levels)} levels for {n} observations; "
                             f"it must have fewer levels than observations")
        if len(levels) * M.shape[1] >= n:
            raise ValueError(f"random term ({' + '.join(rnames)} | {term.group_name}) has {len(levels) * M.shape[1]} "
                             f"random effects for {n} observations; it must have fewer")
        blocks.append(RandomBlock(term.group_name, rnames, M, codes, levels, term.group_name))
    # lme4's order: when any term has more levels than the one before it, reverse the ascending sort by levels
    n_levels = [b.n_levels for b in blocks]
    if any(b > a for a, b in zip(n_levels, n_levels[1:])):
        blocks = [blocks[i] for i in reversed(np.argsort(n_levels, kind="stable"))]
    for block in blocks:
        count = seen.get(block.group, 0)
        seen[block.group] = count + 1
        if count:
            block.group = f"{block.group}.{count}"
    return np.flatnonzero(columns.mask), y, fixed, blocks


def overparameterised_design(data: pd.DataFrame, formula: Formula, contrasts: dict | None = None):
    """The fixed part with one indicator per level of each factor in every term, on the rows ``build_design`` uses.

    Returns ``(X, names, variables_of_term, numeric_of_term)``: the last two give each
    term's variables and those of them entered as numbers (numeric columns and
    one-column codings such as the design's effect coding).
    """
    contrasts = dict(contrasts or {})
    columns = select_rows(data, formula)
    columns.coded_by_request = {var for var in contrasts if var != formula.response}
    X, names, _ = _model_matrix(columns, formula.fixed, contrasts, overparameterised=True)
    numeric = {var for term in formula.fixed.terms for var in term
               if not columns.is_categorical(var) or isinstance(contrasts.get(var), dict)}
    variables = {":".join(t): set(t) for t in formula.fixed.terms}
    return X, names, variables, {label: vs & numeric for label, vs in variables.items()}
