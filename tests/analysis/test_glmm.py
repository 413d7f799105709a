"""analysis.fit_glmm against lme4::glmer (binomial, Laplace): numbers from reference/glmm/make_glmm_reference.R.

Tolerances. Our criterion is the exact Laplace approximation at the PIRLS modes; lme4
evaluates it with PIRLS stopped at a relative change of 1e-7 in the penalised deviance and
log|L|² factored at the weights of the iterate before the last, so its −2 log-likelihood sits
about 5e-4 above the exact value at its own estimates, its optimum moves by ~1e-3 SE, and
its finite-difference Hessian (summary's SEs) differs from the exact one by ~1%. At lme4's
(θ, β) our conditional modes and conditional deviance agree with lme4's to ~1e-8.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis import DESIGN_CONTRASTS, fit_glmm
from analysis.design_matrices import build_design
from analysis.formula import parse_formula
from analysis.pirls import BernoulliLaplace

from .lmm_reference import REFERENCE as LMM_REFERENCE

REFERENCE = LMM_REFERENCE / "glmm"
MODELS = ["glmm_cbpp", "glmm_pain_intercepts", "glmm_pain_slope", "glmm_singular"]
_FITS: dict = {}


def _ref(name):
    ref = json.loads((REFERENCE / f"{name}.json").read_text())
    return ref, pd.read_csv(REFERENCE / ref["data"])


def _coding(ref):
    return None if ref["coding"] == "treatment" else DESIGN_CONTRASTS


def _fit(name):
    ref, data = _ref(name)
    if name not in _FITS:
        _FITS[name] = fit_glmm(data, ref["formula"], family="binomial", contrasts=_coding(ref))
    return _FITS[name], ref


@pytest.mark.parametrize("name", MODELS)
def test_fixed_effects_match_glmer(name):
    fit, ref = _fit(name)
    r = pd.DataFrame(ref["fixed"])
    ours = fit.fixed
    assert ours.term.tolist() == r.term.tolist()
    np.testing.assert_allclose(ours.estimate, r.estimate, rtol=0, atol=5e-3 * r.se.min())
    assert np.max(np.abs(ours.estimate - r.estimate) / r.se) < 5e-3
    # summary(glmer)'s SEs come from lme4's finite-difference Hessian over (θ, β) (see module docstring)
    np.testing.assert_allclose(ours.se, r.se, rtol=0.02)
    np.testing.assert_allclose(ours.z, r.z, atol=0.06)
    assert np.all(np.abs(ours.ci_low - r.ci_low) < 0.05 * r.se)
    assert np.all(np.abs(ours.ci_high - r.ci_high) < 0.05 * r.se)
    # vcov(use.hessian = FALSE): from the PIRLS system, no finite differences on lme4's side
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_rx)), r.se_rx, rtol=5e-4)


@pytest.mark.parametrize("name", MODELS)
def test_variance_components_and_likelihood_match_glmer(name):
    fit, ref = _fit(name)
    r = pd.DataFrame(ref["random"])
    ours = fit.random
    assert ours.group.tolist() == r.group.tolist()
    assert ours.term1.tolist() == r.term1.tolist()
    sd = r.term2.isna().to_numpy()
    np.testing.assert_allclose(ours.sdcor[sd], r.sdcor[sd], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(ours.sdcor[~sd], r.sdcor[~sd], atol=2e-3)
    np.testing.assert_allclose(fit.theta, np.atleast_1d(ref["theta"]), rtol=2e-3, atol=5e-4)
    # our optimum of the exact Laplace deviance is at or below lme4's value, within lme4's evaluation error
    assert fit.deviance <= ref["minus_two_loglik"] + 1e-6
    assert fit.deviance == pytest.approx(ref["minus_two_loglik"], abs=1e-3)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=5e-4)
    assert fit.aic == pytest.approx(ref["AIC"], abs=1e-3)
    assert fit.bic == pytest.approx(ref["BIC"], abs=1e-3)
    assert fit.conditional_deviance == pytest.approx(ref["deviance"], rel=1e-4)  # lme4's deviance(fit)
    assert fit.n_params == ref["df"]
    assert fit.n_obs == ref["n_obs"]
    assert fit.singular == ref["singular"]
    assert fit.converged
    assert len(fit.warnings) == int(ref["singular"])
    assert all("boundary (singular) fit" in w for w in fit.warnings)


@pytest.mark.parametrize("name", MODELS)
def test_pirls_at_lme4_estimates_reproduces_its_modes(name):
    ref, data = _ref(name)
    _, y, fixed, blocks = build_design(data, parse_formula(ref["formula"]), _coding(ref))
    model = BernoulliLaplace(y, fixed.X, blocks)
    theta = np.atleast_1d(ref["theta"])
    state = model.pirls(theta, np.asarray(ref["beta"]))
    assert state.converged
    assert state.sum_dev == pytest.approx(ref["deviance"], rel=1e-8)  # lme4's deviance(): conditional deviance
    for blk, b in zip(blocks, model.modes_per_term(theta, state.u)):
        r = ref["ranef"][blk.factor]
        assert r["levels"] == blk.levels
        for j, term in enumerate(blk.names):
            np.testing.assert_allclose(b[:, j], r["values"][term], atol=1e-6)
    assert state.laplace == pytest.approx(ref["minus_two_loglik"], abs=1e-3)


def test_ranef_fitted_and_to_dict():
    fit, ref = _fit("glmm_pain_slope")
    re = fit.ranef["participant"]
    assert list(re.columns) == ["(Intercept)", "pain"]
    np.testing.assert_allclose(re["pain"], ref["ranef"]["participant"]["values"]["pain"], atol=5e-3)
    assert np.all((fit.fitted > 0) & (fit.fitted < 1))
    d = fit.to_dict()
    json.dumps(d)
    assert d["family"] == "binomial" and d["link"] == "logit" and d["reml"] is False
    assert [row["term"] for row in d["fixed"]] == fit.term_names
    assert set(d["fixed"][0]) == {"term", "estimate", "se", "z", "p", "ci_low", "ci_high"}
    assert {row["group"] for row in d["random"]} == {"participant", "stimulus_id"}
    assert d["logLik"] == pytest.approx(fit.loglik)
    assert d["singular"] is False and d["converged"] is True
    assert "Wald z" in fit.summary()
    with pytest.raises(NotImplementedError):
        fit.anova()


def test_boolean_response_is_accepted():
    ref, data = _ref("glmm_cbpp")
    data = data.assign(case=data.y.astype(bool))
    fit = fit_glmm(data, "case ~ period + (1 | herd)")
    np.testing.assert_allclose(fit.beta, _fit("glmm_cbpp")[0].beta, rtol=1e-6)


@pytest.mark.parametrize("values, message", [
    ([0, 1, 2, 1], "must be 0/1"),
    ([0.0, 0.5, 1.0, 1.0], "must be 0/1"),
    ([1, 1, 1, 1], "both 0s and 1s"),
])
def test_bad_response_is_a_clear_value_error(values, message):
    n = 40
    data = pd.DataFrame({"y": np.resize(values, n), "x": np.arange(n) % 2, "g": np.repeat(list("abcdefgh"), 5)})
    with pytest.raises(ValueError, match=message):
        fit_glmm(data, "y ~ x + (1 | g)")


def test_other_family_and_no_random_term_are_rejected():
    ref, data = _ref("glmm_cbpp")
    with pytest.raises(ValueError, match="not implemented"):
        fit_glmm(data, "y ~ period + (1 | herd)", family="poisson")
    with pytest.raises(ValueError, match="no random term"):
        fit_glmm(data, "y ~ period")


def test_singular_fit_matches_glmer_closely():
    # at θ = 0 lme4's PIRLS details do not matter: the fits agree to rounding
    fit, ref = _fit("glmm_singular")
    r = pd.DataFrame(ref["fixed"])
    assert fit.singular and fit.theta[0] == 0.0
    np.testing.assert_allclose(fit.fixed.estimate, r.estimate, rtol=1e-6)
    np.testing.assert_allclose(fit.fixed.se, r.se, rtol=1e-5)
    assert fit.loglik == pytest.approx(ref["logLik"], abs=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_first_stage_matches_glmer_nagq0(name):
    from analysis.glmm import _stage_one

    ref, data = _ref(name)
    _, y, fixed, blocks = build_design(data, parse_formula(ref["formula"]), _coding(ref))
    model = BernoulliLaplace(y, fixed.X, blocks)
    theta, beta = _stage_one(model, model.structure.theta0)
    np.testing.assert_allclose(theta, np.atleast_1d(ref["nAGQ0"]["theta"]), atol=5e-4)
    np.testing.assert_allclose(beta, ref["nAGQ0"]["beta"], atol=1e-4)
