"""Type-III hypothesis matrices for the fixed-effect terms, built as lmerTest builds them.

Kuznetsova, Brockhoff & Christensen (2017), JSS 82(13), doi:10.18637/jss.v082.i13: the
rows of the over-parameterised design (one indicator per factor level in every term) are
expressed in the model's parameters; each term's columns are made orthogonal to those of
the terms that contain it (higher-order terms with the same numeric variables), from the
highest order down; a term's hypothesis is then its columns, read at the parameters'
own rows. A model with one term uses the sequential (type-I) hypothesis: the rows of the
unit upper-triangular Doolittle factor of X'X. Numeric predictors and one-column codings
(the design's effect coding) are numbers here, as they are in the R reference script.
"""
from __future__ import annotations

import numpy as np

from .design_matrices import overparameterised_design
from .formula import parse_formula

__all__ = ["type3_contrasts"]


def _doolittle(X: np.ndarray) -> np.ndarray:
    """Unit upper-triangular U with X'X = U'DU (the rows of the sequential hypotheses)."""
    R = np.linalg.qr(X, mode="r")
    return R / np.diag(R)[:, None]


def _contains(inner: str, outer: str, variables: dict, numeric: dict) -> bool:
    return (variables[inner] < variables[outer]) and numeric[inner] == numeric[outer]


def type3_contrasts(result) -> dict[str, np.ndarray]:
    """Hypothesis rows (over the fixed effects) of each term other than the intercept."""
    design = result.fixed_design
    X, names = design.X, design.names
    owners = np.array(design.term_of_column)
    terms = [t for t in design.term_labels if t != "(Intercept)"]
    if len(terms) <= 1 or X.shape[1] <= 1:
        basis = _doolittle(X)
        return {t: basis[owners == t] for t in terms}
    formula = parse_formula(result.formula)
    if any(spec == "sum" for var, spec in result.contrasts.items() if var in formula.fixed.variables):
        raise ValueError("type-III tests are built for treatment and one-column codings; "
                         "recode 'sum'-coded factors as treatment or effect (one-column) codings")
    rdX, rd_names, variables, numeric = overparameterised_design(result.data, formula, result.contrasts)
    L = np.linalg.lstsq(X, rdX, rcond=None)[0].T  # rows: over-parameterised columns, columns: parameters
    L[np.abs(L) < 1e-10] = 0.0
    order = sorted(range(len(terms)), key=lambda i: -len(variables[terms[i]]))
    for i in order:
        term = terms[i]
        outer = [t for t in terms if _contains(term, t, variables, numeric)]
        if not outer:
            continue
        cols = owners == term
        others = np.isin(owners, outer)
        A = L[:, others]
        coef = np.linalg.lstsq(A, L[:, cols], rcond=None)[0]
        L[:, cols] = L[:, cols] - A @ coef
        L[np.abs(L) < 1e-10] = 0.0
    position = {name: i for i, name in enumerate(rd_names)}
    at_parameters = L[[position[name] for name in names]]
    out = {}
    for term in terms:
        rows = at_parameters[:, owners == term].T
        out[term] = rows[np.abs(rows).sum(axis=1) > 1e-8]
    return out
