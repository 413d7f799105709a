"""Tests for analysis.anova: type-III Satterthwaite F tests and likelihood-ratio tests against lmerTest/lme4."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lmm_reference import fit_reference, load_reference, reference_data

from analysis import DESIGN_CONTRASTS, compare_models, fit_lmm

LRT_MODELS = [name for name in ("sleepstudy", "penicillin", "pain_rating") if "lrt" in load_reference(name)]


def _table(records):
    return pd.DataFrame(records if isinstance(records, list) else [])


def test_joint_f_like_lmertest_contest(model_name):
    """The joint F over each term's columns matches lmerTest's contest(m, L, joint = TRUE): F, df and p."""
    from scipy import stats

    ref = _table(load_reference(model_name)["anova_joint"])
    m = fit_reference(model_name)
    owners = np.array(m.fixed_design.term_of_column)
    for row in ref.itertuples():
        L = np.eye(len(m.beta))[owners == row.term]
        F, num_df, den_df = m.satterthwaite.f_test(L, m.beta)
        assert F == pytest.approx(row.F, rel=1e-3)
        assert num_df == row.NumDF
        assert den_df == pytest.approx(row.DenDF, rel=0.01)
        assert stats.f.sf(F, num_df, den_df) == pytest.approx(row.p, rel=0.02, abs=1e-12)


def test_type3_like_lmertest_anova(model_name):
    """anova() reproduces lmerTest's anova(m, type = 3): F, numerator and denominator df, p."""
    ref = _table(load_reference(model_name)["anova"])
    ours = fit_reference(model_name).anova()
    assert len(ours) == len(ref)
    if ref.empty:
        return
    ref = ref.set_index("term")
    ours = ours.set_index("term").loc[ref.index]
    assert np.allclose(ours.F, ref.F, rtol=1e-3)
    assert np.array_equal(ours.num_df, ref.NumDF)
    assert np.allclose(ours.den_df, ref.DenDF, rtol=0.01)
    assert np.allclose(ours.p, ref.p, rtol=0.02, atol=1e-12)


@pytest.mark.parametrize("name", LRT_MODELS)
def test_likelihood_ratio_like_lme4(name):
    """compare_models refits by ML and reproduces lme4's anova(m0, m1) table."""
    ref = load_reference(name)
    table = pd.DataFrame(ref["lrt"]["table"])
    data = reference_data(name)
    m0 = fit_lmm(data, ref["lrt"]["null_formula"], contrasts=DESIGN_CONTRASTS, satterthwaite=False)
    ours = compare_models(fit_reference(name), m0)
    assert list(ours.model) == [ref["lrt"]["null_formula"], ref["formula"]]
    assert list(ours.npar) == list(table.npar)
    for col, ref_col in (("aic", "AIC"), ("bic", "BIC"), ("loglik", "logLik"), ("deviance", "deviance")):
        assert np.allclose(ours[col], table[ref_col], rtol=1e-7)
    assert ours.chisq[1] == pytest.approx(table.Chisq[1], rel=1e-3, abs=1e-6)
    assert ours.df[1] == table.Df[1]
    assert ours.p[1] == pytest.approx(table.p[1], rel=1e-2, abs=1e-12)


def test_compare_needs_same_rows():
    """Models fitted to different rows are refused."""
    data = reference_data("sleepstudy")
    m1 = fit_lmm(data, "Reaction ~ Days + (1 | Subject)", satterthwaite=False)
    m2 = fit_lmm(data.iloc[:-10], "Reaction ~ Days + (1 | Subject)", satterthwaite=False)
    with pytest.raises(ValueError, match="different numbers of observations"):
        compare_models(m1, m2)
