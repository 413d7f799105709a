"""Tests for analysis.satterthwaite: denominator df as lmerTest computes them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lmm_reference import fit_reference, load_reference

from analysis.satterthwaite import _combine_df


def test_df_within_one_percent(model_name):
    """Satterthwaite df of every fixed effect are within 1% of lmerTest's."""
    ref = pd.DataFrame(load_reference(model_name)["fixed"]).set_index("term")
    ours = fit_reference(model_name).fixed.set_index("term").loc[ref.index]
    assert np.max(np.abs(ours.df / ref.df - 1)) < 0.01


def test_p_values_and_confidence_intervals(model_name):
    """p values follow from the df; the 95% CI is estimate ± t(0.975, df)·se."""
    from scipy import stats

    ref = pd.DataFrame(load_reference(model_name)["fixed"]).set_index("term")
    ours = fit_reference(model_name).fixed.set_index("term").loc[ref.index]
    assert np.allclose(ours.p, ref.p, rtol=0.02, atol=1e-12)
    half = stats.t.ppf(0.975, ours.df) * ours.se
    assert np.allclose(ours.ci_high - ours.estimate, half) and np.allclose(ours.estimate - ours.ci_low, half)


def test_combined_df_rules():
    """Equal parts give their common df, any part at most 2 gives 2, otherwise Fai–Cornelius's formula."""
    assert _combine_df(np.array([10.0, 10.0])) == pytest.approx(10.0)
    assert _combine_df(np.array([1.5, 30.0])) == 2.0
    nu = np.array([10.0, 20.0])
    e = np.sum(nu / (nu - 2))
    assert _combine_df(nu) == pytest.approx(2 * e / (e - 2))
