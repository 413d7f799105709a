"""Tests over model terms: type-III F tests with Satterthwaite df, and likelihood-ratio tests of nested models."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["anova_type3", "compare_models"]


def anova_type3(result) -> pd.DataFrame:
    """Type-III ANOVA table of a fitted model: term, num_df, den_df, F, p (Satterthwaite).

    Each term other than the intercept is tested by the joint Wald F over its columns,
    with lmerTest's multi-df Satterthwaite denominator df (Kuznetsova, Brockhoff &
    Christensen 2017, JSS 82(13), doi:10.18637/jss.v082.i13): lmerTest's
    ``contest(m, L, joint = TRUE)`` with L selecting the term's columns. For numeric and
    effect-coded (one-column) terms this is lmerTest's ``anova(m, type = 3)``; for a model
    with a single term the rows are, as in lmerTest, those of the sequential hypothesis
    (the Doolittle factor of X'X), which span the same hypothesis. For treatment-coded
    factors with more than two levels in models with several terms, lmerTest's type-III
    table uses another basis of the same hypothesis (and, inside interactions, other
    lower-order hypotheses): the F of a main effect is the same, but since the multi-df
    Satterthwaite df depends on the basis, its denominator df can differ by a few per cent.
    """
    if result.satterthwaite is None:
        raise ValueError("the model was fitted with satterthwaite=False; refit with satterthwaite=True for anova()")
    owners = np.array(result.fixed_design.term_of_column)
    terms = [t for t in result.fixed_design.term_labels if t != "(Intercept)"]
    # with a single term lmerTest tests the sequential (type-I) hypothesis, whose basis is
    # the unit upper-triangular Doolittle factor of X'X; its F is the same, its df may differ
    basis = _doolittle(result.fixed_design.X) if len(terms) == 1 else np.eye(len(result.beta))
    rows = []
    for term in terms:
        cols = np.flatnonzero(owners == term)
        L = basis[cols]
        F, num_df, den_df = result.satterthwaite.f_test(L, result.beta)
        rows.append((term, num_df, den_df, F, float(stats.f.sf(F, num_df, den_df))))
    return pd.DataFrame(rows, columns=["term", "num_df", "den_df", "F", "p"])


def _doolittle(X: np.ndarray) -> np.ndarray:
    """Unit upper-triangular U with X'X = U'DU (the rows of the sequential hypotheses)."""
    R = np.linalg.qr(X, mode="r")
    return R / np.diag(R)[:, None]


def compare_models(*models, refit: bool = True) -> pd.DataFrame:
    """Likelihood-ratio tests of nested models, as lme4's ``anova(m0, m1, ...)``.

    REML fits are refitted by maximum likelihood first (``refit=True``, lme4's default);
    models are ordered by their number of parameters and each is tested against the one
    before it. Columns: model (formula), npar, aic, bic, loglik, deviance, chisq, df, p.
    """
    if len(models) < 2:
        raise ValueError(f"compare_models needs at least two fitted models (got {len(models)})")
    n_obs = {m.n_obs for m in models}
    if len(n_obs) > 1:
        raise ValueError(f"models were fitted to different numbers of observations {sorted(n_obs)}; "
                         f"fit them to the same rows")
    fits = []
    for m in models:
        if m.reml and refit:
            from .lmm import fit_lmm

            m = fit_lmm(m.data, m.formula, reml=False, contrasts=m.contrasts, satterthwaite=False)
        fits.append(m)
    fits.sort(key=lambda m: m.n_params)
    rows, prev = [], None
    for m in fits:
        dev = m.criterion
        chisq = df = p = np.nan
        if prev is not None:
            chisq = max(prev.criterion - dev, 0.0)
            df = m.n_params - prev.n_params
            p = float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
        rows.append((m.formula, m.n_params, m.aic, m.bic, m.loglik, dev, chisq, df, p))
        prev = m
    return pd.DataFrame(rows, columns=["model", "npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p"])
