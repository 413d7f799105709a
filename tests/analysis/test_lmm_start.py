"""Tests for analysis.lmm_start: the moment-based start and the Newton steps from it."""
from __future__ import annotations

import numpy as np
import pytest
from lmm_reference import load_reference, reference_data

from analysis.design_matrices import DESIGN_CONTRASTS, build_design
from analysis.formula import parse_formula
from analysis.lmm import _objective
from analysis.lmm_start import _canonical, moment_start, newton_steps
from analysis.pls import PLSProblem


def problem_for(name):
    ref = load_reference(name)
    _, y, fixed, blocks = build_design(reference_data(name), parse_formula(ref["formula"]), DESIGN_CONTRASTS)
    return PLSProblem(y, fixed.X, blocks), ref


@pytest.mark.parametrize("name", ["pain_rating", "pain_log_rt", "sleepstudy", "insteval_10k"])
def test_moment_start_is_near_the_optimum(name):
    """The moment start's variance factors are within a factor 1.5 of lme4's optimum, and beat θ = 1."""
    problem, ref = problem_for(name)
    start = moment_start(problem)
    optimum = np.array(ref["theta"])
    diag = problem.diagonal
    assert np.all(np.abs(np.log(start[diag] / optimum[diag])) < np.log(1.5))
    assert problem.deviance(start, True) < problem.deviance(problem.theta0, True)


def test_newton_steps_reach_the_optimum():
    """Newton steps from the moment start end within 1e-9 relative of lme4's criterion."""
    problem, ref = problem_for("pain_rating")
    count = [0]
    reached = newton_steps(problem, _objective(problem, True, count), moment_start(problem))
    assert reached is not None
    assert problem.deviance(reached, True) <= ref["criterion"] * (1 + 1e-9)
    assert count[0] <= 20


def test_canonical_flips_columns_with_negative_diagonal():
    """Flipping a column of T_k with a negative diagonal keeps the covariance and makes the diagonal positive."""
    problem, _ = problem_for("sleepstudy")
    theta = np.array([-0.9, 0.1, 0.3])
    flipped = _canonical(problem, theta)
    assert np.allclose(flipped, [0.9, -0.1, 0.3])
    assert problem.deviance(flipped, True) == pytest.approx(problem.deviance(theta, True), rel=1e-12)
