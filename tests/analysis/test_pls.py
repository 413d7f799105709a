"""Tests for analysis.pls: the profiled deviance equals the brute-force marginal-likelihood formula."""
from __future__ import annotations

import numpy as np
import pytest
from lmm_reference import load_reference, reference_data

from analysis.design_matrices import DESIGN_CONTRASTS, build_design
from analysis.formula import parse_formula
from analysis.pls import PLSProblem


def problem_for(name):
    ref = load_reference(name)
    _, y, fixed, blocks = build_design(reference_data(name), parse_formula(ref["formula"]), DESIGN_CONTRASTS)
    return PLSProblem(y, fixed.X, blocks), y, fixed.X


def brute_force(problem, y, X, theta, reml):
    """(RE)ML deviance from V = I + ZΛΛ'Z' and GLS, with dense n × n matrices."""
    Z = np.hstack([problem.z_matrix(k).toarray() for k in range(len(problem.blocks))])
    lam = [np.kron(np.eye(b.n_levels), problem.T(theta, k)) for k, b in enumerate(problem.blocks)]
    L = np.zeros((Z.shape[1], Z.shape[1]))
    off = 0
    for block in lam:
        L[off:off + len(block), off:off + len(block)] = block
        off += len(block)
    V = np.eye(len(y)) + Z @ L @ L.T @ Z.T
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    beta = np.linalg.solve(XtViX, X.T @ Vi @ y)
    r = y - X @ beta
    n, p = X.shape
    m = n - p if reml else n
    dev = np.linalg.slogdet(V)[1] + m * (1 + np.log(2 * np.pi * (r @ Vi @ r) / m))
    return dev + (np.linalg.slogdet(XtViX)[1] if reml else 0.0), beta


@pytest.mark.parametrize("name", ["sleepstudy", "penicillin", "pastes_nested"])
@pytest.mark.parametrize("reml", [True, False])
def test_profiled_deviance_matches_brute_force(name, reml):
    """PLS with the pivot elimination gives the marginal (RE)ML deviance and the GLS β at an arbitrary θ."""
    problem, y, X = problem_for(name)
    theta = problem.theta0 * 0.7 + 0.1
    state = problem.evaluate(theta)
    expected, beta = brute_force(problem, y, X, theta, reml)
    assert problem.criterion(state, reml) == pytest.approx(expected, rel=1e-10)
    assert np.allclose(problem.solve(state)[0], beta, rtol=1e-8)


def test_conditional_modes_solve_the_penalised_system():
    """b = Λu where u solves (Λ'Z'ZΛ + I)u = Λ'Z'(y − Xβ)."""
    problem, y, X = problem_for("penicillin")
    theta = np.array([1.2, 2.5])
    state = problem.evaluate(theta)
    beta, modes = problem.solve(state)
    Z = np.hstack([problem.z_matrix(k).toarray() for k in range(len(problem.blocks))])
    lam = np.concatenate([np.full(problem.sizes[k], theta[k]) for k in range(len(problem.blocks))])
    ZL = Z * lam
    u = np.linalg.solve(ZL.T @ ZL + np.eye(len(lam)), ZL.T @ (y - X @ beta))
    assert np.allclose(np.concatenate([b.ravel() for b in modes]), lam * u, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("reml", [True, False])
def test_three_crossed_terms_with_a_correlated_non_pivot_slope(reml):
    """Three random terms, one a correlated slope outside the pivot, match the brute-force deviance."""
    import pandas as pd

    rng = np.random.default_rng(11)
    n = 240
    data = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "a": rng.integers(0, 12, n).astype(str), "b": rng.integers(0, 9, n).astype(str),
                         "c": rng.integers(0, 30, n).astype(str)})
    formula = parse_formula("y ~ x + (1 + x | a) + (1 | b) + (1 | c)")
    _, y, fixed, blocks = build_design(data, formula)
    problem = PLSProblem(y, fixed.X, blocks)
    assert problem.blocks[problem.pivot].group == "c" and not problem.rest_scalar
    theta = np.array([0.8, 0.3, 0.5, 0.6, 0.9])
    state = problem.evaluate(theta)  # θ in lme4 order: c, then a (2 × 2), then b
    expected, beta = brute_force(problem, y, fixed.X, theta, reml)
    assert problem.criterion(state, reml) == pytest.approx(expected, rel=1e-10)
    assert np.allclose(problem.solve(state)[0], beta, rtol=1e-8)
