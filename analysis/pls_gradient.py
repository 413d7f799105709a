"""Analytic gradient of the profiled (RE)ML deviance with respect to θ.

For M = D'KD + E (the PLS matrix over u and β, D = diag(Λθ, I)), the derivative of
log|M| along θ_i is 2 tr(M⁻¹D'KD_i) = 2[tr(D⁻¹D_i) − tr(M⁻¹ED⁻¹D_i)], which needs only
the per-level diagonal blocks of M⁻¹, summed over the levels of each term; the
derivative of r²(θ) is −2 (Λ_i u)'Z'r (the PLS solution is a minimum). ML uses
A = Λ'Z'ZΛ + I in place of M. The formulas divide by the diagonal of each T_k, so
they are used only away from the boundary; the caller falls back to finite differences.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dtrtri

__all__ = ["deviance_gradient", "logdet_pwrss_gradients"]


def logdet_pwrss_gradients(problem, s, reml: bool):
    """(∂ log|M| or ∂ log|A|, ∂ r²) along θ at an evaluated state, or None where the formulas do not apply."""
    cache = s.__dict__.setdefault("_gradients", {})
    if reml not in cache:
        cache[reml] = _gradients(problem, s, reml)
    return cache[reml]


def _gradients(problem, s, reml: bool):
    theta = s.theta
    if any(abs(t) < 1e-7 for t in theta[problem.diagonal].tolist()):
        return None
    q2, p = problem.q2, problem.p
    piv = problem.pivot
    beta, u1, u2, b = problem.modes(s)
    l1, p1 = u1.shape
    b_rest = np.concatenate([b[k].ravel() for k in problem.rest]) if problem.rest else np.zeros(0)
    # Z'r, pivot levels then the rest
    zr1 = problem.Zy1 - problem.ZX1 @ beta - np.einsum("jab,jb->ja", problem.G, b[piv])
    K = problem.K
    if q2:
        if problem.dense_C:
            C = problem.Cfull[:, :, :q2].reshape(l1 * p1, q2)
            U_rest, U_x = s.U[:, :q2], s.U[:, q2:q2 + p]
        else:
            C = problem.C
            U_rest, U_x = s.Us.toarray(), s.U[:, :p]
        zr1 = zr1 - (C @ b_rest).reshape(l1, p1)
        zr_rest = K[:q2, -1] - K[:q2, q2:q2 + p] @ beta - C.T @ b[piv].ravel() - K[:q2, :q2] @ b_rest
    else:
        U_x = s.U[:, :p]
    # diagonal blocks of M⁻¹ (REML) or A⁻¹ (ML)
    nc = q2 + p if reml else q2
    S = {}
    if nc:
        # M⁻¹ = ℒ⁻ᵀℒ⁻¹ with ℒ = [[L1, 0], [Ũ', R']]: pivot blocks L1⁻ᵀ(I + Y_jY_j')L1⁻¹
        # with Y = ŨR⁻¹, rest blocks from R⁻¹R⁻ᵀ
        Rinv, _ = dtrtri(s.R[:nc, :nc], lower=0)  # R's lower triangle is zero (dpotrf clean=1)
        Y = problem.times_lambda(U_rest, theta) @ Rinv[:q2] if q2 else 0.0
        if reml:
            Y = Y + U_x @ Rinv[q2:]
        Y = Y.reshape(l1, p1, nc)
        P = np.einsum("jan,jbn->jab", Y, Y)
        P[:, problem._diag1, problem._diag1] += 1.0
        inv_blocks = np.einsum("jca,jcd,jdb->ab", s.L1inv, P, s.L1inv, optimize=False)
        off = 0
        for k in problem.rest:
            blk = problem.blocks[k]
            rows = Rinv[off:off + problem.sizes[k]].reshape(blk.n_levels, blk.p, nc)
            S[k] = np.einsum("jan,jbn->ab", rows, rows)
            off += problem.sizes[k]
    else:
        inv_blocks = np.einsum("jba,jbc->ac", s.L1inv, s.L1inv)
    S[piv] = inv_blocks
    d_logdet = np.empty(problem.n_theta)
    d_pwrss = np.empty(problem.n_theta)
    off = 0
    for k, blk in enumerate(problem.blocks):
        T = problem.T(theta, k)
        Tinv, _ = dtrtri(T, lower=1)
        G = 2.0 * (blk.n_levels * np.eye(blk.p) - S[k]) @ Tinv
        if k == piv:
            u_k, zr_k = u1, zr1
        else:
            u_k = u2[off:off + problem.sizes[k]].reshape(blk.n_levels, blk.p)
            zr_k = zr_rest[off:off + problem.sizes[k]].reshape(blk.n_levels, blk.p)
            off += problem.sizes[k]
        F = zr_k.T @ u_k
        r, c = problem.tri[k]
        sl = problem.theta_slices[k]
        d_logdet[sl] = G[c, r]
        d_pwrss[sl] = -2.0 * F[r, c]
    return d_logdet, d_pwrss


def deviance_gradient(problem, s, reml: bool):
    """Gradient of the profiled criterion along θ, or None where the analytic formulas do not apply."""
    parts = logdet_pwrss_gradients(problem, s, reml)
    if parts is None:
        return None
    d_logdet, d_pwrss = parts
    m = problem.n - (problem.p if reml else 0)
    return d_logdet + m * d_pwrss / s.pwrss
