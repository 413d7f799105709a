"""Tests for analysis.lmm_result: tables, JSON shape and the text summary."""
from __future__ import annotations

import json

import numpy as np
from lmm_reference import fit_reference


def test_to_dict_is_json_and_matches_tables():
    """to_dict is JSON-serialisable and carries the same numbers as the tables."""
    m = fit_reference("pain_rating")
    doc = json.loads(json.dumps(m.to_dict()))
    assert doc["n_obs"] == m.n_obs and doc["reml"] is True
    assert [f["term"] for f in doc["fixed"]] == list(m.fixed.term)
    assert np.allclose([f["estimate"] for f in doc["fixed"]], m.fixed.estimate)
    groups = [r["group"] for r in doc["random"]]
    assert groups == ["stimulus", "participant", "participant", "participant"]
    corr = [r for r in doc["random"] if r["term2"] is not None][0]
    assert corr["term1"] == "(Intercept)" and corr["term2"] == "pain" and -1 <= corr["corr"] <= 1


def test_fixed_table_columns():
    """The fixed-effects table has the house columns."""
    assert list(fit_reference("sleepstudy").fixed.columns) == ["term", "estimate", "se", "df", "t", "p", "ci_low",
                                                               "ci_high"]


def test_random_sd_is_sqrt_variance():
    """Each variance row's sd is its square root and covariances match correlations times SDs."""
    r = fit_reference("sleepstudy").random
    var = r[r.term2.isna()]
    assert np.allclose(var.sdcor, np.sqrt(var.vcov))
    cov = r[r.term2.notna()].iloc[0]
    assert np.isclose(cov.vcov, cov.sdcor * var.sdcor.iloc[0] * var.sdcor.iloc[1])


def test_summary_mentions_everything():
    """The text summary names the criterion, both effects tables and the residual SD."""
    text = fit_reference("penicillin").summary()
    assert "REML criterion at convergence" in text and "Random effects" in text and "Residual sd" in text
