"""Satterthwaite degrees of freedom for t and F tests of fixed effects, as lmerTest computes them.

Kuznetsova, Brockhoff & Christensen (2017), "lmerTest package: tests in linear mixed effects
models", JSS 82(13), doi:10.18637/jss.v082.i13. The variance parameters are
φ = (θ, σ); their asymptotic covariance is A = 2 H⁻¹ with H the Hessian of the (RE)ML
deviance −2ℓ(θ, σ) at the optimum (β profiled out), and for a contrast l the
degrees of freedom are ν = 2 (l'Cl)² / (g'Ag), where C = vcov(β) = σ²(R_X'R_X)⁻¹ and
g = ∂(l'Cl)/∂φ. Derivatives with respect to θ are forward differences of the analytic
gradient (central second differences of the deviance where that gradient does not apply); those with
respect to σ are analytic.
"""
from __future__ import annotations

import numpy as np

from .pls_gradient import logdet_pwrss_gradients

__all__ = ["Satterthwaite"]


class Satterthwaite:
    """Hessian-based covariance of (θ, σ) and the Jacobian of vcov(β), ready for contrasts.

    Parameters
    ----------
    problem : PLSProblem of the fitted model
    theta, sigma : the optimum
    reml : whether the deviance is the REML criterion
    """

    def __init__(self, problem, theta: np.ndarray, sigma: float, reml: bool):
        self.problem, self.reml = problem, reml
        theta = np.asarray(theta, dtype=float)
        k, p = len(theta), problem.p
        s2 = sigma * sigma
        m = problem.n - (p if reml else 0)

        def parts(t):
            st = problem.evaluate(t)
            g = st.ldL2 + (st.ldRX2 if reml else 0.0) + st.pwrss / s2
            grads = logdet_pwrss_gradients(problem, st, reml)
            grad = None if grads is None else grads[0] + grads[1] / s2
            return g, st.pwrss, problem.rx_inverse(st), grad

        g0, pw0, rxi0, grad0 = parts(theta)
        H = np.zeros((k + 1, k + 1))
        jac = np.zeros((k + 1, p, p))
        if grad0 is not None:
            # forward differences of the analytic gradient (k evaluations; O(h) error ~1e-5 relative)
            h = 1e-5 * np.maximum(np.abs(theta), 0.05)
            eye = np.diag(h)
            plus = [parts(theta + eye[i]) for i in range(k)]
            analytic = all(x[3] is not None for x in plus)
        else:
            analytic = False
        if analytic:
            for i in range(k):
                H[:k, i] = (plus[i][3] - grad0) / h[i]
                H[i, k] = H[k, i] = -2.0 * ((plus[i][1] - pw0) / h[i]) / sigma ** 3
                jac[i] = s2 * (plus[i][2] - rxi0) / h[i]
        else:
            # second differences from θ ± h_i and θ ± (h_i + h_j): k² + k evaluations
            h = 1e-4 * np.maximum(np.abs(theta), 0.05)
            eye = np.diag(h)
            plus = [parts(theta + eye[i]) for i in range(k)]
            minus = [parts(theta - eye[i]) for i in range(k)]
            for i in range(k):
                H[i, i] = (plus[i][0] - 2.0 * g0 + minus[i][0]) / h[i] ** 2
                for j in range(i):
                    fpp = parts(theta + eye[i] + eye[j])[0]
                    fmm = parts(theta - eye[i] - eye[j])[0]
                    H[i, j] = H[j, i] = (fpp - plus[i][0] - plus[j][0] + 2.0 * g0 - minus[i][0] - minus[j][0]
                                         + fmm) / (2.0 * h[i] * h[j])
                H[i, k] = H[k, i] = -2.0 * ((plus[i][1] - minus[i][1]) / (2.0 * h[i])) / sigma ** 3
                jac[i] = s2 * (plus[i][2] - minus[i][2]) / (2.0 * h[i])
        H[:k, :k] = 0.5 * (H[:k, :k] + H[:k, :k].T)
        H[k, k] = 6.0 * pw0 / s2 ** 2 - 2.0 * m / s2
        jac[k] = 2.0 * sigma * rxi0
        self.hessian = H
        values, vectors = np.linalg.eigh(H)
        keep = values > 1e-8 * max(values.max(), 1e-300)
        self.positive_definite = bool(keep.all())
        self.vcov_varpar = 2.0 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
        self.jacobian = jac
        self.vcov_beta = s2 * rxi0

    def df_coefficients(self) -> np.ndarray:
        """Satterthwaite df of each coefficient β_i (the unit contrasts), at once."""
        var = np.diag(self.vcov_beta)
        grad = np.diagonal(self.jacobian, axis1=1, axis2=2)  # (k + 1, p): ∂ var(β_i) / ∂φ
        denom = np.einsum("ki,kl,li->i", grad, self.vcov_varpar, grad)
        with np.errstate(divide="ignore"):
            return np.where(denom > 0, 2.0 * var * var / denom, np.inf)

    def df_contrast(self, l: np.ndarray) -> float:
        """Satterthwaite df of the single contrast l'β."""
        l = np.asarray(l, dtype=float)
        var = float(l @ self.vcov_beta @ l)
        grad = np.einsum("i,kij,j->k", l, self.jacobian, l)
        denom = float(grad @ self.vcov_varpar @ grad)
        return 2.0 * var * var / denom if denom > 0 else np.inf

    def f_test(self, L: np.ndarray, beta: np.ndarray):
        """Joint Wald F over the rows of L with the multi-df Satterthwaite denominator df.

        Returns ``(F, num_df, den_df)``; as lmerTest, the contrast is rotated onto the
        eigenvectors of L C L' and the rank-deficient directions dropped.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        VL = L @ self.vcov_beta @ L.T
        d, P = np.linalg.eigh(VL)
        order = np.argsort(d)[::-1]
        d, P = d[order], P[:, order]
        tol = max(np.finfo(float).eps ** 0.5 * d[0], 0.0)
        q = int((d > tol).sum())
        PtL = (P.T @ L)[:q]
        if q == 1:
            est = float(PtL[0] @ beta)
            return est * est / d[0], 1, self.df_contrast(PtL[0])
        t2 = (PtL @ beta) ** 2 / d[:q]
        F = float(t2.sum() / q)
        nu = np.array([self.df_contrast(row) for row in PtL])
        return F, q, _combine_df(nu)


def _combine_df(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of an F test from the df of its q orthogonal 1-df parts (Fai & Cornelius 1996)."""
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - len(nu))
