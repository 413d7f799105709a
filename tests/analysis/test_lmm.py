"""Tests for analysis.lmm: fits agree with lme4's on the committed reference models."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lmm_reference import fit_reference, load_reference, reference_data

from analysis import fit_lmm


def fixed_pair(name):
    ref = pd.DataFrame(load_reference(name)["fixed"]).set_index("term")
    ours = fit_reference(name).fixed.set_index("term")
    assert list(ours.index) == list(ref.index)
    return ours, ref


def random_pair(name):
    ref = pd.DataFrame(load_reference(name)["random"])
    ours = fit_reference(name).random
    key = ["group", "term1", "term2"]
    ref["term2"] = ref["term2"].where(ref["term2"].notna(), None)
    merged = ours.merge(ref, on=key, suffixes=("", "_ref"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged
    return merged


def test_fixed_effects_within_1e4_se(model_name):
    """Fixed-effect estimates are within 1e-4 of lme4's standard error of lme4's estimates."""
    ours, ref = fixed_pair(model_name)
    assert np.max(np.abs(ours.estimate - ref.estimate) / ref.se) < 1e-4


def test_standard_errors_within_1e3(model_name):
    """Standard errors are within 1e-3 relative of lme4's."""
    ours, ref = fixed_pair(model_name)
    assert np.max(np.abs(ours.se / ref.se - 1)) < 1e-3


def test_variance_components_within_2e3(model_name):
    """Variances, covariances, SDs and correlations are within 2e-3 relative of lme4's."""
    m = random_pair(model_name)
    for col in ("vcov", "sdcor"):
        tol = 2e-3 * np.abs(m[col + "_ref"]) + 1e-10
        assert np.all(np.abs(m[col] - m[col + "_ref"]) <= tol), m[[col, col + "_ref"]]
    ref = load_reference(model_name)
    assert fit_reference(model_name).sigma == pytest.approx(ref["sigma"], rel=2e-3)


def test_criterion_no_worse_than_lme4(model_name):
    """The REML criterion or ML deviance is no worse than lme4's by more than 1e-6 relative."""
    ref = load_reference(model_name)
    ours = fit_reference(model_name)
    assert ours.criterion <= ref["criterion"] * (1 + 1e-6) if ref["criterion"] > 0 else \
        ours.criterion <= ref["criterion"] + 1e-6 * abs(ref["criterion"])


def test_information_criteria_like_lme4(model_name):
    """logLik, AIC and BIC match lme4's, with the parameters counted as lme4 counts them."""
    ref = load_reference(model_name)
    ours = fit_reference(model_name)
    assert ours.n_params == ref["df_loglik"]
    assert ours.n_obs == ref["n_obs"]
    for ours_value, ref_value in ((ours.loglik, ref["logLik"]), (ours.aic, ref["AIC"]), (ours.bic, ref["BIC"])):
        assert ours_value == pytest.approx(ref_value, rel=1e-6)


def test_singular_flag_like_lme4(model_name):
    """The singular-fit diagnostic agrees with lme4's isSingular."""
    assert fit_reference(model_name).singular == load_reference(model_name)["isSingular"]


def test_conditional_modes_like_lme4(model_name):
    """Conditional modes (BLUPs) agree with lme4's ranef within 2e-3 of each term's spread."""
    ref = load_reference(model_name)["ranef"]
    ours = fit_reference(model_name).ranef
    assert set(ours) == set(ref)
    for group, table in ref.items():
        theirs = pd.DataFrame(table["values"], index=[str(x) for x in table["levels"]])
        mine = ours[group].loc[theirs.index, list(theirs.columns)]
        spread = theirs.abs().max()
        assert np.all(np.abs(mine - theirs) <= 2e-3 * spread + 1e-10)


def test_fitted_plus_residuals_is_response():
    """Fitted values plus residuals give back the response, and fitted includes the random effects."""
    data = reference_data("sleepstudy")
    m = fit_lmm(data, "Reaction ~ Days + (Days | Subject)")
    assert np.allclose(m.fitted + m.residuals, data["Reaction"])
    fixed_only = m.fixed_design.X @ m.beta
    assert not np.allclose(m.fitted, fixed_only)


def test_singular_fit_warns():
    """A model whose random variance is zero reports a singular fit in result.warnings."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"y": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    m = fit_lmm(data, "y ~ 1 + (1 | g)")
    if m.theta[0] < 1e-4:
        assert m.singular and any("singular" in w for w in m.warnings)


def test_needs_a_random_term():
    """A formula without random terms is refused with a clear message."""
    with pytest.raises(ValueError, match="no random term"):
        fit_lmm(reference_data("sleepstudy"), "Reaction ~ Days")


def test_ml_fit_differs_from_reml():
    """reml=False gives lme4's ML deviance for sleepstudy."""
    m = fit_lmm(reference_data("sleepstudy"), "Reaction ~ Days + (Days | Subject)", reml=False)
    assert not m.reml
    assert m.criterion == pytest.approx(load_reference("sleepstudy_ml")["criterion"], rel=1e-8)


@pytest.mark.parametrize("name", ["penicillin", "pain_rating_two_slopes"])
def test_sparse_cross_product_path_gives_the_same_fit(name, monkeypatch):
    """The sparse pivot-by-rest path (used for very many levels) reproduces the dense path's fit."""
    import analysis.pls

    monkeypatch.setattr(analysis.pls, "_DENSE_LIMIT", 0)
    ref = load_reference(name)
    from analysis import DESIGN_CONTRASTS

    sparse = fit_lmm(reference_data(name), ref["formula"], contrasts=DESIGN_CONTRASTS)
    dense = fit_reference(name)
    assert sparse.criterion == pytest.approx(dense.criterion, rel=1e-9)
    assert np.allclose(sparse.beta, dense.beta, rtol=1e-5, atol=1e-8)
    assert np.allclose(sparse.fixed.df, dense.fixed.df, rtol=1e-3)


def test_convergence_check_like_lme4():
    """The scaled gradient H⁻¹g is tiny at the optimum and flags a point away from it."""
    from analysis.lmm import CONVERGENCE_TOL, _scaled_gradient

    m = fit_reference("pain_rating")
    problem = m.satterthwaite.problem
    at_optimum = _scaled_gradient(problem, problem.evaluate(m.theta), m.satterthwaite, True)
    away = _scaled_gradient(problem, problem.evaluate(m.theta * 1.05), m.satterthwaite, True)
    assert at_optimum < 1e-4 < CONVERGENCE_TOL < away
    assert m.converged


def test_fit_does_not_depend_on_row_order():
    """Shuffling the rows gives the same criterion, estimates and variance components."""
    data = reference_data("penicillin")
    shuffled = data.sample(frac=1.0, random_state=np.random.default_rng(7)).reset_index(drop=True)
    a = fit_lmm(data, "diameter ~ 1 + (1 | plate) + (1 | sample)")
    b = fit_lmm(shuffled, "diameter ~ 1 + (1 | plate) + (1 | sample)")
    assert b.criterion == pytest.approx(a.criterion, rel=1e-10)
    assert np.allclose(b.beta, a.beta, rtol=1e-8)
    assert np.allclose(b.random.vcov, a.random.vcov, rtol=1e-5)


def test_rescaled_response_rescales_the_fit():
    """Multiplying the response by 10 multiplies β and σ by 10 and leaves θ and the df unchanged."""
    data = reference_data("sleepstudy")
    scaled = data.assign(Reaction=data["Reaction"] * 10)
    a = fit_lmm(data, "Reaction ~ Days + (Days | Subject)")
    b = fit_lmm(scaled, "Reaction ~ Days + (Days | Subject)")
    assert np.allclose(b.beta, 10 * a.beta, rtol=1e-7)
    assert b.sigma == pytest.approx(10 * a.sigma, rel=1e-6)
    assert np.allclose(b.theta, a.theta, rtol=1e-4, atol=1e-6)
    assert np.allclose(b.fixed.df, a.fixed.df, rtol=1e-3)
