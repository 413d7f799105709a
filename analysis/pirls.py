"""Penalised iteratively reweighted least squares and the Laplace deviance of a Bernoulli (logit) GLMM.

Follows lme4's ``glmer`` (Bates, Mächler, Bolker & Walker 2015, JSS 67(1),
doi:10.18637/jss.v067.i01, section 5 of the lme4 vignette "Computational methods"): for
the relative covariance factor Λθ, the conditional modes ũ of the spherical random
effects u maximise the penalised log-likelihood; PIRLS finds them by Newton steps with the
weights W = diag(μ(1 − μ)) and step halving. At ũ, with L the Cholesky factor of
Λθ'Z'WZΛθ + I, the Laplace approximation of −2 log-likelihood is

    log|L|² + ‖ũ‖² + Σ −2 log p(yᵢ | μᵢ)

(lme4's ``devfun`` at nAGQ = 1). With β fixed, PIRLS runs over u only (glmer's second,
joint (θ, β) stage); with β free, over (β, u) together (glmer's first stage, nAGQ = 0).

The random-effects structure — Z per term, the θ layout and its bounds, the factors T_k —
comes from ``pls.PLSProblem``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf, dpotrs
from scipy.special import expit

from .pls import PLSProblem

__all__ = ["BernoulliLaplace", "PirlsState"]

_MAX_ITER = 60
_MAX_HALVINGS = 30


@dataclass
class PirlsState:
    """The conditional modes at (θ, β) and the pieces of the Laplace deviance."""

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray          # spherical conditional modes (level-major per term, terms in lme4's order)
    eta: np.ndarray        # linear predictor Xβ + ZΛu
    mu: np.ndarray         # fitted probabilities
    ldL2: float            # log|L|², L L' = Λ'Z'WZΛ + I at μ
    sum_dev: float         # Σ −2 log p(yᵢ | μᵢ) (the Bernoulli deviance)
    iterations: int
    converged: bool

    @property
    def laplace(self) -> float:
        """Laplace approximation of −2 log-likelihood (lme4's deviance at nAGQ = 1)."""
        return self.ldL2 + float(self.u @ self.u) + self.sum_dev


def bernoulli_deviance(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """−2 log p(yᵢ | ηᵢ) for 0/1 responses under the logit link, stable for large |η|."""
    return 2.0 * np.logaddexp(0.0, (1.0 - 2.0 * y) * eta)


def _cholesky(A: np.ndarray) -> np.ndarray:
    R, info = dpotrf(A, lower=0, clean=1, overwrite_a=0)
    if info != 0:
        raise np.linalg.LinAlgError("the PIRLS system is not positive definite")
    return R


class BernoulliLaplace:
    """One Bernoulli GLMM: PIRLS at (θ, β) and the Laplace deviance.

    Parameters
    ----------
    y : 0/1 responses (n,)
    X : fixed-effects matrix (n, p)
    blocks : random terms (``design_matrices.RandomBlock``) in lme4's order
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, blocks):
        self.y = np.asarray(y, dtype=float)
        self.X = np.asarray(X, dtype=float)
        self.n, self.p = X.shape
        self.structure = PLSProblem(self.y, self.X, blocks)
        self.blocks = blocks
        self.n_theta = self.structure.n_theta
        self.lower = self.structure.lower
        self.theta_slices = self.structure.theta_slices
        self.Z = sp.hstack([self.structure.z_matrix(k) for k in range(len(blocks))], format="csr")
        self.q = self.Z.shape[1]
        self._offsets = np.cumsum([0] + self.structure.sizes)
        self._u = np.zeros(self.q)        # warm start: the last modes found, as lme4 keeps them
        self._u_joint = np.zeros(self.q)
        self._beta_joint = None
        self.evaluations = 0

    # ------------------------------------------------------------ structure
    def lambda_matrix(self, theta: np.ndarray) -> sp.csr_matrix:
        """Block-diagonal Λθ: per term, one T_k per level."""
        parts = []
        for k, b in enumerate(self.blocks):
            T = self.structure.T(theta, k)
            parts.append(sp.kron(sp.identity(b.n_levels, format="csr"), sp.csr_matrix(T), format="csr"))
        return sp.block_diag(parts, format="csr")

    def modes_per_term(self, theta: np.ndarray, u: np.ndarray) -> list[np.ndarray]:
        """b = Λu per term, as (levels × terms' columns) arrays."""
        out = []
        for k, b in enumerate(self.blocks):
            uk = u[self._offsets[k]:self._offsets[k + 1]].reshape(b.n_levels, b.p)
            out.append(uk @ self.structure.T(theta, k).T)
        return out

    # ------------------------------------------------------------ PIRLS
    def pirls(self, theta: np.ndarray, beta: np.ndarray | None = None, *, tol: float = 1e-20) -> PirlsState:
        """Conditional modes at θ with β fixed (``beta`` given) or estimated jointly (``beta=None``).

        Newton steps on the penalised deviance ‖u‖² + Σ −2 log p(y | μ) with step halving;
        stops when the Newton decrement falls below ``tol`` (relative to the deviance).
        """
        self.evaluations += 1
        theta = np.array(theta, dtype=float)
        ZL = (self.Z @ self.lambda_matrix(theta)).tocsc()
        joint = beta is None
        y, X, q, p = self.y, self.X, self.q, self.p
        if joint:
            u = self._u_joint.copy()
            b = np.zeros(p) if self._beta_joint is None else self._beta_joint.copy()
        else:
            u, b = self._u.copy(), np.asarray(beta, dtype=float)
        if not np.all(np.isfinite(u)):
            u = np.zeros(q)
        offset = X @ b

        def penalised(u_, b_):
            eta_ = (X @ b_ if joint else offset) + ZL @ u_
            return float(u_ @ u_) + float(bernoulli_deviance(y, eta_).sum()), eta_

        pdev, eta = penalised(u, b)
        if not np.isfinite(pdev):
            u, pdev, eta = np.zeros(q), *penalised(np.zeros(q), b)
        converged = False
        for it in range(1, _MAX_ITER + 1):
            mu = expit(eta)
            w = mu * (1.0 - mu)
            resid = y - mu
            H = self._hessian(ZL, w, joint)
            grad = np.concatenate([ZL.T @ resid - u, X.T @ resid]) if joint else ZL.T @ resid - u
            R = _cholesky(H)
            step, info = dpotrs(R, grad, lower=0)
            decrement = float(grad @ step)
            if decrement < 1e-8:
                # in Newton's quadratic region: take the full step (a decrease is below rounding here)
                u, b = u + step[:q], (b + step[q:] if joint else b)
                pdev, eta = penalised(u, b)
                if decrement < tol * (1.0 + abs(pdev)) or np.max(np.abs(step)) < 1e-13:
                    converged = True
                    break
                continue
            scale = 1.0
            for _ in range(_MAX_HALVINGS):
                u_new = u + scale * step[:q]
                b_new = b + scale * step[q:] if joint else b
                pdev_new, eta_new = penalised(u_new, b_new)
                if pdev_new <= pdev:
                    break
                scale *= 0.5
            else:
                break
            u, b, pdev, eta = u_new, b_new, pdev_new, eta_new
        mu = expit(eta)
        w = mu * (1.0 - mu)
        Ruu = _cholesky(self._hessian(ZL, w, False))
        ldL2 = 2.0 * float(np.log(np.diagonal(Ruu)).sum())
        if joint:
            self._u_joint, self._beta_joint = u.copy(), b.copy()
        else:
            self._u = u.copy()
        return PirlsState(theta, b.copy(), u, eta, mu, ldL2, float(bernoulli_deviance(y, eta).sum()), it, converged)

    def _hessian(self, ZL, w, joint: bool) -> np.ndarray:
        """Λ'Z'WZΛ + I, bordered by the fixed-effects blocks when β is estimated too."""
        WZL = ZL.multiply(w[:, None]).tocsc()
        A = (ZL.T @ WZL).toarray()
        A[np.diag_indices(self.q)] += 1.0
        if not joint:
            return A
        WX = self.X * w[:, None]
        top = np.asarray(WZL.T @ self.X)
        return np.block([[A, top], [top.T, self.X.T @ WX]])

    # ------------------------------------------------------------ criteria
    def laplace(self, theta: np.ndarray, beta: np.ndarray) -> float:
        """Laplace deviance at (θ, β), or inf where PIRLS cannot be solved."""
        try:
            s = self.pirls(theta, beta)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            self._u = np.zeros(self.q)
            return np.inf
        value = s.laplace
        return value if np.isfinite(value) else np.inf

    def laplace_nagq0(self, theta: np.ndarray) -> tuple[float, PirlsState | None]:
        """glmer's nAGQ = 0 criterion at θ (β estimated inside PIRLS) and its state."""
        try:
            s = self.pirls(theta, None)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            self._u_joint, self._beta_joint = np.zeros(self.q), None
            return np.inf, None
        return (s.laplace if np.isfinite(s.laplace) else np.inf), s

    def rx_vcov(self, state: PirlsState) -> np.ndarray:
        """vcov(β) from the Schur complement of the PIRLS system at the modes (lme4's ``use.hessian = FALSE``)."""
        ZL = (self.Z @ self.lambda_matrix(state.theta)).tocsc()
        w = state.mu * (1.0 - state.mu)
        H = self._hessian(ZL, w, True)
        return np.linalg.inv(H)[self.q:, self.q:]
