"""Tests for analysis.pls_gradient: the analytic gradient of the profiled deviance matches finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from lmm_reference import load_reference, reference_data

from analysis.design_matrices import DESIGN_CONTRASTS, build_design
from analysis.formula import parse_formula
from analysis.pls import PLSProblem
from analysis.pls_gradient import deviance_gradient


@pytest.mark.parametrize("name", ["sleepstudy", "sleepstudy_uncorrelated", "penicillin", "pastes_nested",
                                  "pain_rating", "pain_rating_two_slopes"])
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_central_differences(name, reml):
    """The analytic gradient agrees with central differences of the criterion to 1e-5 of its size."""
    ref = load_reference(name)
    _, y, fixed, blocks = build_design(reference_data(name), parse_formula(ref["formula"]), DESIGN_CONTRASTS)
    problem = PLSProblem(y, fixed.X, blocks)
    theta = problem.theta0 * 0.6 + 0.15
    grad = deviance_gradient(problem, problem.evaluate(theta), reml)
    h = 1e-6
    numeric = np.array([(problem.deviance(theta + h * e, reml) - problem.deviance(theta - h * e, reml)) / (2 * h)
                        for e in np.eye(len(theta))])
    assert np.max(np.abs(grad - numeric)) <= 1e-5 * np.max(np.abs(numeric))


def test_no_analytic_gradient_on_the_boundary():
    """At a zero diagonal element of Λ the formulas do not apply and the function says so."""
    ref = load_reference("penicillin")
    _, y, fixed, blocks = build_design(reference_data("penicillin"), parse_formula(ref["formula"]))
    problem = PLSProblem(y, fixed.X, blocks)
    assert deviance_gradient(problem, problem.evaluate(np.array([0.0, 1.0])), True) is None
