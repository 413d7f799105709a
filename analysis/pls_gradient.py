"""Analytic gradient of the profiled (RE)ML deviance with respect to θ.

For M = D'KD + E (the PLS matrix over u and β, D = diag(Λθ, I)), the derivative of
log|M| along θ_i is 2 tr(M⁻¹D'KD_i) = 2[tr(D⁻¹D_i) − tr(M⁻¹ED⁻¹D_i)], which needs only
the per-level diagonal blocks of M⁻¹, summed over the levels of each term; the
derivative of r²(θ) is −2 (Λ_i u)'Z'r (the PLS solution is a minimum). ML uses
A = Λ'Z'ZΛ + I in place of M. The formulas divide by the diagonal of each T_k, so
they are used only away from the boundary (the caller falls back to finite differences),
except for a scalar term at 0, whose derivatives are 0 there (the criterion is even in its θ).
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dtrmm
from scipy.linalg.lapack import dtrtri

__all__ = ["deviance_gradient", "interior", "logdet_pwrss_gradients"]

BOUND_TOL = 1e-7  # a diagonal element of θ closer than this to 0 is on its bound


def logdet_pwrss_gradients(problem, s, reml: bool, *, zero_scalars: bool = False):
    """(∂ log|M| or ∂ log|A|, ∂ r²) along θ at an evaluated state, or None where the formulas do not apply.

    They do not apply on a bound, except, with ``zero_scalars``, at a scalar term's θ of 0.
    """
    key = (reml, zero_scalars and not interior(problem, s.theta))
    cache = s.__dict__.setdefault("_gradients", {})
    if key not in cache:
        cache[key] = _gradients(problem, s, reml, key[1])
    return cache[key]


def interior(problem, theta) -> bool:
    """Whether every diagonal element of θ is away from its bound of 0 (where all the formulas apply)."""
    return not any(abs(t) < BOUND_TOL for t in theta[problem.diagonal].tolist())


def _gradients(problem, s, reml: bool, zero_scalars: bool):
    theta = s.theta
    if not zero_scalars and not interior(problem, theta):
        return None
    for k, (r, c) in enumerate(problem.tri):
        if len(r) > 1 and np.min(np.abs(theta[problem.theta_slices[k]][r == c])) < BOUND_TOL:
            return None
    q2, p = problem.q2, problem.p
    beta, u1, u2, b = problem.modes(s)
    l1, p1 = u1.shape
    T1 = problem.T(theta, "pivot")
    b1 = u1 @ T1.T  # the pivot's b over all its terms' columns
    b_rest = np.concatenate([b[k].ravel() for k in problem.rest]) if problem.rest else np.zeros(0)
    # Z'r, pivot levels then the rest
    zr1 = problem.Zy1 - problem.ZX1 @ beta - np.einsum("jab,jb->ja", problem.G, b1)
    K = problem.K
    if q2:
        if problem.dense_C:
            C = problem.Cfull[:, :, :q2].reshape(l1 * p1, q2)
            U_rest, U_x = s.U[:, :q2], s.U[:, q2:q2 + p]
        else:
            C = problem.C
            U_rest, U_x = s.Us.toarray(), s.U[:, :p]
        zr1 = zr1 - (C @ b_rest).reshape(l1, p1)
        zr_rest = K[:q2, -1] - K[:q2, q2:q2 + p] @ beta - C.T @ b1.ravel() - K[:q2, :q2] @ b_rest
    else:
        U_x = s.U[:, :p]
    # diagonal blocks of M⁻¹ (REML) or A⁻¹ (ML)
    nc = q2 + p if reml else q2
    S = {}
    if nc:
        # M⁻¹ = ℒ⁻ᵀℒ⁻¹ with ℒ = [[L1, 0], [Ũ', R']]: pivot blocks L1⁻ᵀ(I + Y_jY_j')L1⁻¹
        # with Y = ŨR⁻¹, rest blocks from R⁻¹R⁻ᵀ
        Rinv, _ = dtrtri(s.R[:nc, :nc], lower=0)  # R's lower triangle is zero (dpotrf clean=1)
        U_tilde = np.empty((l1 * p1, nc))
        if q2:
            U_tilde[:, :q2] = problem.times_lambda(U_rest, theta)
        if reml:
            U_tilde[:, q2:] = U_x
        # Σ_j L1⁻ᵀ(I + Y_jY_j')L1⁻¹ = Σ_j L1⁻ᵀL1⁻¹ + Σ_j W_jW_j' with W_j = L1⁻ᵀY_j
        Y = dtrmm(1.0, Rinv, U_tilde.T, side=0, lower=0, trans_a=1).T  # Ũ R⁻¹, R⁻¹ triangular
        W = np.matmul(s.L1inv.transpose(0, 2, 1), Y.reshape(l1, p1, nc))
        inv_blocks = _level_sum(s.L1inv.transpose(0, 2, 1)) + _level_sum(W)
        off = 0
        for k in problem.rest:
            blk = problem.blocks[k]
            S[k] = _level_sum(Rinv[off:off + problem.sizes[k]].reshape(blk.n_levels, blk.p, nc))
            off += problem.sizes[k]
    else:
        inv_blocks = _level_sum(s.L1inv.transpose(0, 2, 1))
    # per term (the pivot's terms are column blocks of it): T, summed M⁻¹ blocks, u, Z'r
    units = {k: (inv_blocks[cols, cols], u1[:, cols], zr1[:, cols])
             for k, cols in zip(problem.pivot_terms, problem.pivot_columns)}
    off = 0
    for k in problem.rest:
        blk, size = problem.blocks[k], problem.sizes[k]
        units[k] = (S[k], u2[off:off + size].reshape(blk.n_levels, blk.p),
                    zr_rest[off:off + size].reshape(blk.n_levels, blk.p))
        off += size
    d_logdet = np.zeros(problem.n_theta)
    d_pwrss = np.zeros(problem.n_theta)
    for k, (S_k, u_k, zr_k) in units.items():
        T = problem.T(theta, k)
        if len(T) == 1 and abs(T[0, 0]) < BOUND_TOL:
            continue  # the criterion depends on a scalar term's θ through θ² only: zero derivative at 0
        Tinv, _ = dtrtri(T, lower=1)
        G = 2.0 * (len(u_k) * np.eye(len(T)) - S_k) @ Tinv
        F = zr_k.T @ u_k
        r, c = problem.tri[k]
        d_logdet[problem.theta_slices[k]] = G[c, r]
        d_pwrss[problem.theta_slices[k]] = -2.0 * F[r, c]
    return d_logdet, d_pwrss


def _level_sum(A: np.ndarray) -> np.ndarray:
    """Σ_j A_j A_j' over the levels j of a (levels, p, n) array, as one matrix product."""
    flat = A.transpose(1, 0, 2).reshape(A.shape[1], -1)
    return flat @ flat.T


def deviance_gradient(problem, s, reml: bool, *, zero_scalars: bool = False):
    """Gradient of the profiled criterion along θ, or None where the analytic formulas do not apply.

    ``zero_scalars``: also at a scalar term's θ of 0, where the derivatives are 0.
    """
    parts = logdet_pwrss_gradients(problem, s, reml, zero_scalars=zero_scalars)
    if parts is None:
        return None
    d_logdet, d_pwrss = parts
    m = problem.n - (problem.p if reml else 0)
    return d_logdet + m * d_pwrss / s.pwrss
