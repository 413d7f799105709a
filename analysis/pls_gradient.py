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
from scipy.linalg.blas import dtrmm
from scipy.linalg.lapack import dtrtri

__all__ = ["deviance_gradient", "interior", "logdet_pwrss_gradients"]

BOUND_TOL = 1e-7  # a diagonal element of θ closer than this to 0 is on its bound


def logdet_pwrss_gradients(problem, s, reml: bool):
    """(∂ log|M| or ∂ log|A|, ∂ r²) along θ at an evaluated state, or None where the formulas do not apply."""
    cache = s.__dict__.setdefault("_gradients", {})
    if reml not in cache:
        cache[reml] = _gradients(problem, s, reml) if interior(problem, s.theta) else None
    return cache[reml]


def interior(problem, theta) -> bool:
    """Whether every diagonal element of θ is away from its bound of 0 (where the formulas apply)."""
    return not any(abs(t) < BOUND_TOL for t in theta[problem.diagonal].tolist())


def _gradients(problem, s, reml: bool):
    theta = s.theta
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
    if nc:
        # M⁻¹ = ℒ⁻ᵀℒ⁻¹ with ℒ = [[L1, 0], [Ũ', R']]: pivot blocks L1⁻ᵀ(I + Y_jY_j')L1⁻¹
        # with Y = ŨR⁻¹, rest blocks from R⁻¹R⁻ᵀ
        Rinv = _upper_inverse(s.R[:nc, :nc])
        U_tilde = np.empty((l1 * p1, nc))
        if q2:  # Ũ: U with the rest random columns times Λr (the dense U holds them so)
            U_tilde[:, :q2] = U_rest if problem.dense_C else problem.times_lambda(U_rest, theta)
        if reml:
            U_tilde[:, q2:] = U_x
        # Σ_j L1⁻ᵀ(I + Y_jY_j')L1⁻¹ = Σ_j L1⁻ᵀL1⁻¹ + Σ_j W_jW_j' with W_j = L1⁻ᵀY_j
        Y = dtrmm(1.0, Rinv, U_tilde.T, side=0, lower=0, trans_a=1).T  # Ũ R⁻¹, R⁻¹ triangular
        W = np.matmul(s.L1inv.transpose(0, 2, 1), Y.reshape(l1, p1, nc))
        inv_blocks = _level_sum(s.L1inv.transpose(0, 2, 1)) + _level_sum(W)
    else:
        inv_blocks = _level_sum(s.L1inv.transpose(0, 2, 1))
    d_logdet = np.empty(problem.n_theta)
    d_pwrss = np.empty(problem.n_theta)
    # the pivot as one unit (T1 block-diagonal over its terms), then the other terms
    _unit(d_logdet, d_pwrss, T1, inv_blocks, u1, zr1, problem._pivot_tri, problem._pivot_theta)
    if problem.rest_scalar and q2:
        # every other term scalar: its summed 1 × 1 blocks of M⁻¹ are sums of squared rows of R⁻¹
        where, starts = problem.rest_theta, problem.rest_starts
        S = np.add.reduceat(np.einsum("ij,ij->i", Rinv[:q2], Rinv[:q2]), starts)
        d_logdet[where] = 2.0 * (np.diff(np.append(starts, q2)) - S) / theta[where]
        d_pwrss[where] = -2.0 * np.add.reduceat(zr_rest * u2, starts)
        return d_logdet, d_pwrss
    off = 0
    for k in problem.rest:
        blk, size = problem.blocks[k], problem.sizes[k]
        S_k = _level_sum(Rinv[off:off + size].reshape(blk.n_levels, blk.p, nc))
        _unit(d_logdet, d_pwrss, problem.T(theta, k), S_k, u2[off:off + size].reshape(blk.n_levels, blk.p),
              zr_rest[off:off + size].reshape(blk.n_levels, blk.p), problem.tri[k], problem.theta_slices[k])
        off += size
    return d_logdet, d_pwrss


def _upper_inverse(R: np.ndarray, leaf: int = 64) -> np.ndarray:
    """Inverse of an upper-triangular R (its lower triangle zero), by halves: LAPACK's dtrtri is slow above ~60."""
    n = len(R)
    if n <= leaf:
        return dtrtri(R, lower=0)[0]
    h = n // 2
    out = np.zeros((n, n), order="F")
    out[:h, :h] = first = _upper_inverse(R[:h, :h], leaf)
    out[h:, h:] = last = _upper_inverse(R[h:, h:], leaf)
    out[:h, h:] = dtrmm(1.0, last, dtrmm(-1.0, first, R[:h, h:], side=0, lower=0), side=1, lower=0)
    return out


def _unit(d_logdet, d_pwrss, T, S, u, zr, tri, where):
    """Write one unit's derivatives: factor T, its summed M⁻¹ blocks S, modes u and Z'r per level."""
    Tinv, _ = dtrtri(T, lower=1)
    G = 2.0 * (len(u) * np.eye(len(T)) - S) @ Tinv
    F = zr.T @ u
    r, c = tri
    d_logdet[where] = G[c, r]
    d_pwrss[where] = -2.0 * F[r, c]


def _level_sum(A: np.ndarray) -> np.ndarray:
    """Σ_j A_j A_j' over the levels j of a (levels, p, n) array, as one matrix product."""
    flat = A.transpose(1, 0, 2).reshape(A.shape[1], -1)
    return flat @ flat.T


def deviance_gradient(problem, s, reml: bool):
    """Gradient of the profiled criterion along θ, or None where the analytic formulas do not apply."""
    parts = logdet_pwrss_gradients(problem, s, reml)
    if parts is None:
        return None
    d_logdet, d_pwrss = parts
    m = problem.n - (problem.p if reml else 0)
    return d_logdet + m * d_pwrss / s.pwrss
