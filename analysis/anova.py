"""Tests over model terms: type-III F tests with Satterthwaite df, and likelihood-ratio tests of nested models."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["anova_type3", "compare_models"]


def anova_type3(result) -> pd.DataFrame:
    """Type-III ANOVA table of a fitted model: term, num_df, den_df, F, p (Satterthwaite).

    Each term other than the intercept is tested on lmerTest's type-III hypothesis (see
    ``analysis.type3``) by the Wald F with lmerTest's multi-df Satterthwaite denominator
    df (Kuznetsova, Brockhoff & Christensen 2017, JSS 82(13), doi:10.18637/jss.v082.i13),
    as ``anova(m, type = 3)`` reports it. For numeric and effect-coded (one-column) terms
    the hypothesis is the joint test of the term's own columns. Factors coded with "sum"
    contrasts are refused; code them as treatment or as one-column effect codings.
    """
    if result.satterthwaite is None:
        raise ValueError("the model was fitted with satterthwaite=False; refit with satterthwaite=True for anova()")
    from .type3 import type3_contrasts

    rows = []
    for term, L in type3_contrasts(result).items():
        F, num_df, den_df = result.satterthwaite.f_test(L, result.beta)
        rows.append((term, num_df, den_df, F, float(stats.f.sf(F, num_df, den_df))))
    return pd.DataFrame(rows, columns=["term", "num_df", "den_df", "F", "p"])


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
