"""Starting values of θ: moment-based (with a few Newton steps from it) or mapped from a previous fit.

For each random term, the per-level least-squares fits b̂_j of the OLS residuals on the
term's columns give, after subtracting their sampling noise σ²G_j⁻¹, a rough estimate
of the term's covariance; divided by a within-level residual variance and factored, it
gives θ. The estimate ignores the other terms (crossed effects inflate it a little); it is
only a start, and the caller keeps lme4's default start when this one is worse.

A previous fit of another random structure on the same data (the step before in a
selection) gives a start too: its relative covariances, restricted to this model's terms.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mapped_start", "moment_start"]

NUDGE = 0.05  # where a start puts a variance factor that is (near) its bound of 0
ZERO = 1e-4  # a variance factor below this counts as on its bound (lme4's singular tolerance)


def _term_moments(G, r):
    """Per-level fits of residual sums r_j on cross-products G_j: fits, explained SS, mean G_j⁻¹."""
    p = G.shape[1]
    ridge = 1e-8 * np.maximum(np.trace(G, axis1=1, axis2=2), 1e-12)[:, None, None] * np.eye(p)
    Ginv = np.linalg.inv(G + ridge)
    b = (Ginv @ r[:, :, None])[:, :, 0]
    return b, float(np.einsum("ja,ja->", r, b)), Ginv.mean(axis=0)


def moment_start(problem) -> np.ndarray | None:
    """θ from method-of-moments estimates of each term's covariance, or None if they cannot be formed."""
    q2, p = problem.q2, problem.p
    K = problem.K
    XtX, Xty = K[q2:q2 + p, q2:q2 + p], K[q2:q2 + p, -1]
    try:
        beta = np.linalg.solve(XtX, Xty)
    except np.linalg.LinAlgError:
        return None
    ee = K[-1, -1] - 2 * beta @ Xty + beta @ XtX @ beta
    r1 = problem.Zy1 - problem.ZX1 @ beta
    moments = {k: _term_moments(problem.G[:, cols, cols], r1[:, cols])  # each of the pivot's terms on its own
               for k, cols in zip(problem.pivot_terms, problem.pivot_columns)}
    off = 0
    for k in problem.rest:
        blk, size = problem.blocks[k], problem.sizes[k]
        rows = slice(off, off + size)
        Zk = K[rows, rows].reshape(blk.n_levels, blk.p, blk.n_levels, blk.p)
        G = Zk[np.arange(blk.n_levels), :, np.arange(blk.n_levels), :]
        r = (K[rows, q2 + p] - K[rows, q2:q2 + p] @ beta).reshape(blk.n_levels, blk.p)
        moments[k] = _term_moments(G, r)
        off += size
    sigma2 = min((ee - ss) / max(problem.n - problem.sizes[k] - p, 1) for k, (_, ss, _) in moments.items())
    if not np.isfinite(sigma2) or sigma2 <= 0:
        return None
    theta = np.empty(problem.n_theta)
    for k, (b, _, Ginv_mean) in moments.items():
        S = b.T @ b / len(b) / sigma2 - Ginv_mean
        values, vectors = np.linalg.eigh(0.5 * (S + S.T))
        S = (vectors * np.maximum(values, 1e-4)) @ vectors.T
        T = np.linalg.cholesky(S)
        r, c = problem.tri[k]
        theta[problem.theta_slices[k]] = T[r, c]
    return theta


def _canonical(problem, theta: np.ndarray) -> np.ndarray:
    """Flip the sign of every column of each T_k whose diagonal is negative (the same covariance)."""
    theta = theta.copy()
    for k, (r, c) in enumerate(problem.tri):
        sl = theta[problem.theta_slices[k]]
        for j in np.unique(c):
            diag = np.flatnonzero((r == j) & (c == j))[0]
            if sl[diag] < 0:
                sl[c == j] *= -1
        theta[problem.theta_slices[k]] = sl
    return theta


def newton_steps(problem, objective, theta: np.ndarray, *, max_steps: int = 5):
    """Damped Newton steps on the profiled criterion from a good start, Hessian by differences of the gradient.

    Returns the point reached (or None when the steps do not apply: no analytic gradient,
    an indefinite Hessian or a variance heading to zero, where the bounded optimiser is
    the right tool). ``objective`` returns (criterion, gradient).
    """
    value, grad = objective(theta)
    k = len(theta)
    for iteration in range(max_steps):
        if not np.isfinite(value) or np.min(np.abs(theta[problem.diagonal]), initial=np.inf) < 1e-3:
            return None
        if iteration < 2:  # a fresh Hessian for the first two steps, then chord steps with the last one
            h = 1e-6 * np.maximum(np.abs(theta), 0.05)
            H = np.empty((k, k))
            for i in range(k):
                shifted = theta.copy()
                shifted[i] += h[i]
                H[:, i] = (objective(shifted)[1] - grad) / h[i]
            H = 0.5 * (H + H.T)
            try:
                chol = np.linalg.cholesky(H)
            except np.linalg.LinAlgError:
                return None
        step = -np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        for _ in range(5):
            trial = _canonical(problem, theta + step)
            new_value, new_grad = objective(trial)
            if new_value <= value:
                break
            step *= 0.5
        else:
            return theta
        theta, value, grad = trial, new_value, new_grad
        # the decrease still to come, predicted with this step's Hessian: stop when it is negligible
        remaining = 0.5 * grad @ np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
        if remaining <= 1e-12 * max(abs(value), 1.0):
            return theta
    return theta


def _off_bounds(problem, theta: np.ndarray) -> np.ndarray:
    """θ with every bounded (diagonal) element below ZERO raised to NUDGE.

    A variance factor of 0 is a stationary point of the criterion (which depends on it only
    through its square), so an optimiser started there would never leave it.
    """
    return np.where((problem.lower == 0) & (theta < ZERO), NUDGE, theta)


def mapped_start(problem, previous) -> np.ndarray:
    """θ for ``problem`` from the relative covariances of ``previous``, a fit on the same data.

    Each term gets the previous relative covariance (Σ/σ²) of its columns, matched by
    grouping factor and column name: zero between columns that were in different terms, 1
    on the diagonal for a column ``previous`` did not have. It is factored (eigenvalues
    floored) and its zero variances moved off the bounds (:func:`_off_bounds`).
    """
    cov = {}
    for k, blk in enumerate(previous.blocks):
        S = previous.covariance(k) / previous.sigma ** 2
        for i, a in enumerate(blk.names):
            for j, b in enumerate(blk.names):
                cov[blk.factor, a, b] = S[i, j]
    theta = np.empty(problem.n_theta)
    for k, blk in enumerate(problem.blocks):
        S = np.array([[cov.get((blk.factor, a, b), float(a == b)) for b in blk.names] for a in blk.names])
        values, vectors = np.linalg.eigh(S)
        T = np.linalg.cholesky((vectors * np.maximum(values, 1e-12)) @ vectors.T)
        r, c = problem.tri[k]
        theta[problem.theta_slices[k]] = T[r, c]
    return _off_bounds(problem, theta)
