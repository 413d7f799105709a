"""Penalised least squares and the profiled deviance of a linear mixed model (lme4's algorithm).

Follows Bates, Mächler, Bolker & Walker (2015), "Fitting linear mixed-effects models using
lme4", JSS 67(1), doi:10.18637/jss.v067.i01, section 3: for relative covariance factor
Λθ, solve the penalised least-squares system with the Cholesky factor of
Λθ'Z'ZΛθ + I and profile β and σ out of the (RE)ML deviance.

The cross-products Z'Z, Z'X, X'X, Z'y, X'y and y'y are formed once, so a deviance
evaluation costs nothing per observation. The grouping factor whose terms have the most
columns (the "pivot": all its terms together, so that the terms of ``(1 + x || g)`` form
one block with a block-diagonal T) is block-diagonal in Z'Z: its blocks are factored as a
batch of small Cholesky factors and eliminated; the Schur complement over the other
random columns and X is factored densely.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dpotrf, dtrtri, dtrtrs

from .design_matrices import RandomBlock

__all__ = ["PLSProblem", "PLSState"]

_DENSE_LIMIT = 4_000_000  # pivot-by-rest cross-product entries kept dense below this


def _mirror_upper(Q, lower, upper):
    """Copy the upper triangle of square ``Q`` (what dsyrk wrote) onto its lower, in place.

    ``lower``/``upper`` are C-order flat indices of the strict lower triangle and of their
    mirrors; in a Fortran-ordered array the two roles swap.
    """
    if Q.flags.c_contiguous:
        flat = Q.reshape(-1)
        flat[lower] = flat[upper]
    else:
        flat = Q.reshape(-1, order="F")
        flat[upper] = flat[lower]


@dataclass
class PLSState:
    """Everything one evaluation at θ yields."""

    theta: np.ndarray
    ldL2: float       # log-determinant of L_θ squared
    ldRX2: float      # log-determinant of R_X squared
    pwrss: float      # penalised weighted residual sum of squares r²(θ)
    L1inv: np.ndarray  # inverses of the pivot blocks' Cholesky factors (l1, p1, p1)
    U: np.ndarray | None  # L1⁻¹ Λ1' Z1'[Zr X y] (q1 × m), the rest random columns times Λr; then X, y
    Us: object        # the sparse rest-random part of U when that is kept sparse, else None
    R: np.ndarray     # upper Cholesky factor of the augmented Schur complement over [rest random, X, y]


def _tri_index(p: int):
    """Row and column indices of a p × p lower triangle in column-major order (lme4's θ order)."""
    rows, cols = [], []
    for j in range(p):
        for i in range(j, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows), np.array(cols)


class PLSProblem:
    """Cross-products of one model, and the profiled deviance as a function of θ.

    Parameters
    ----------
    y, X : response (n,) and fixed-effects matrix (n, p)
    blocks : random terms (see ``design_matrices.RandomBlock``) in lme4's order
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, blocks):
        self.n, self.p = X.shape
        self.blocks = blocks
        self.sizes = [b.p * b.n_levels for b in blocks]
        self.theta_slices, start = [], 0
        for b in blocks:
            k = b.p * (b.p + 1) // 2
            self.theta_slices.append(slice(start, start + k))
            start += k
        self.n_theta = start
        self.tri = [_tri_index(b.p) for b in blocks]
        lower = []
        for b, (r, c) in zip(blocks, self.tri):
            lower += [0.0 if i == j else -np.inf for i, j in zip(r, c)]
        self.lower = np.array(lower)
        self.diagonal = np.flatnonzero(self.lower == 0)
        self._t_key, self._t_list = None, []
        self._last_state = None  # (θ bytes, state) of the last evaluation, reused when θ repeats
        self.theta0 = np.where(self.lower == 0, 1.0, 0.0)
        self.pivot_terms = self._pivot_group()
        self.pivot = self.pivot_terms[0]
        self.rest = [k for k in range(len(blocks)) if k not in self.pivot_terms]
        self._pivot_layout()
        self._cross_products(y, X)

    # ---------------------------------------------------------------- set-up
    def _pivot_group(self) -> tuple:
        """Indices of the terms on the grouping factor (same level codes) with the most random columns."""
        groups = []
        for k, b in enumerate(self.blocks):
            same = [g for g in groups if self.blocks[g[0]].n_levels == b.n_levels
                    and np.array_equal(self.blocks[g[0]].codes, b.codes)]
            if same:
                same[0].append(k)
            else:
                groups.append([k])
        return tuple(max(groups, key=lambda g: sum(self.sizes[k] for k in g)))

    def _pivot_layout(self):
        """The pivot as one block: its terms' columns side by side, θ indices and positions in the joint T1."""
        terms = [self.blocks[k] for k in self.pivot_terms]
        first = terms[0]
        self.pivot_block = first if len(terms) == 1 else RandomBlock(
            first.factor, [name for b in terms for name in b.names], np.hstack([b.M for b in terms]), first.codes,
            first.levels, first.factor)
        offsets = np.cumsum([0] + [b.p for b in terms])
        self.pivot_columns = [slice(a, b) for a, b in zip(offsets[:-1], offsets[1:])]
        self._pivot_tri = tuple(np.concatenate([self.tri[k][i] + off for k, off in zip(self.pivot_terms, offsets)])
                                for i in (0, 1))
        self._pivot_theta = np.concatenate([np.arange(self.n_theta)[self.theta_slices[k]] for k in self.pivot_terms])
        self._diag1 = np.arange(self.pivot_block.p)

    def z_matrix(self, k: int) -> sp.csr_matrix:
        """Sparse Z of random term k (n × p_k·l_k), columns level-major as in lme4."""
        return self._z(self.blocks[k])

    def _z(self, b) -> sp.csr_matrix:
        cols = (b.codes[:, None] * b.p + np.arange(b.p)[None, :]).ravel()
        indptr = np.arange(0, self.n * b.p + 1, b.p)
        return sp.csr_matrix((b.M.ravel(), cols, indptr), shape=(self.n, b.p * b.n_levels))

    def _cross_products(self, y, X):
        piv = self.pivot_block
        p1, l1, codes = piv.p, piv.n_levels, piv.codes
        M = piv.M
        self.G = np.empty((l1, p1, p1))
        for a in range(p1):
            for c in range(a, p1):
                self.G[:, a, c] = self.G[:, c, a] = np.bincount(codes, M[:, a] * M[:, c], minlength=l1)
        Xy = np.empty((self.n, self.p + 1), order="F")
        Xy[:, :self.p] = X
        Xy[:, self.p] = y
        ZXy1 = np.asarray(self._z(piv).T @ Xy).reshape(l1, p1, self.p + 1)
        self.ZX1, self.Zy1 = ZXy1[:, :, :self.p], ZXy1[:, :, self.p]
        self.q1 = p1 * l1
        self.q2 = sum(self.sizes[k] for k in self.rest)
        self.rest_scalar = all(self.blocks[k].p == 1 for k in self.rest)
        self.m = self.q2 + self.p + 1
        K = np.empty((self.m, self.m))
        K[self.q2:, self.q2:] = Xy.T @ Xy
        self.dense_C = True
        if self.rest:
            self.dense_C = self.q1 * self.q2 <= _DENSE_LIMIT
            offsets = np.cumsum([0] + [self.sizes[k] for k in self.rest])
            for i, k in enumerate(self.rest):
                rows = slice(offsets[i], offsets[i + 1])
                for j, l in enumerate(self.rest[:i + 1]):
                    K[rows, offsets[j]:offsets[j + 1]] = self._crossprod(self.blocks[k], self.blocks[l], k == l)
                    K[offsets[j]:offsets[j + 1], rows] = K[rows, offsets[j]:offsets[j + 1]].T
                K[rows, self.q2:] = self._crossprod_dense(k, Xy)
            K[self.q2:, :self.q2] = K[:self.q2, self.q2:].T
            self._lambda_pattern()
            if self.dense_C:
                C = np.concatenate([self._crossprod(piv, self.blocks[k], False) for k in self.rest], axis=1)
            else:
                Zr = sp.hstack([self.z_matrix(k) for k in self.rest], format="csr")
                self.C = (self._z(piv).T.tocsr() @ Zr).tocsr()
        if self.dense_C:
            parts = [C.reshape(l1, p1, self.q2)] if self.rest else []
            self.Cfull = np.concatenate(parts + [ZXy1], axis=2)
        else:
            self.Cfull = ZXy1
        self.K = np.asfortranarray(K)
        self._rr = np.arange(self.q2)
        self._scale = np.ones(self.m)
        self._rest_G = None
        if len(self.rest) == 1 and not self.rest_scalar:
            self._one_rest_term()
        if p1 == 2:
            pairs = ((0, 0), (0, 1), (1, 1))
            self._g11, self._g12, self._g22 = (np.ascontiguousarray(self.G[:, a, c]) for a, c in pairs)

    def _one_rest_term(self):
        """For a single non-pivot term (its Z'Z block-diagonal by level): its blocks and Z'[X y] per level."""
        b = self.blocks[self.rest[0]]
        levels, p = b.n_levels, b.p
        self._rest_G = np.stack([self.K[j * p:(j + 1) * p, j * p:(j + 1) * p] for j in range(levels)])
        self._rest_X = self.K[:self.q2, self.q2:].reshape(levels, p, -1)
        rows = p * np.arange(levels)[:, None, None] + np.arange(p)[:, None] + np.zeros((1, p), dtype=int)
        self._rest_diag = (rows.ravel(), rows.transpose(0, 2, 1).ravel())  # (level, a, c) → (jp + a, jp + c)

    def _scaled_K(self, theta) -> np.ndarray:
        """D K D with D = diag(Λr, I): the cross-products of the non-pivot random columns scaled by their Λ."""
        q2 = self.q2
        if self.rest_scalar:
            scale = self._scale
            scale[:q2] = theta[self.lam_idx]
            return np.asfortranarray(self.K * scale[:, None] * scale[None, :])
        if self._rest_G is not None:  # only the upper triangle is read (dsyrk, dpotrf)
            T = self.T(theta, self.rest[0])
            out = np.zeros(self.K.shape, order="F")
            out[self._rest_diag] = (T.T @ self._rest_G @ T).ravel()
            out[:q2, q2:] = (T.T @ self._rest_X).reshape(q2, -1)
            out[q2:, q2:] = self.K[q2:, q2:]
            return out
        out = self.K.copy(order="F")
        out[:, :q2] = self.times_lambda(out, theta)
        out[:q2, :] = self.times_lambda(out.T, theta).T
        return out

    @staticmethod
    def _crossprod(bi, bj, same: bool) -> np.ndarray:
        """Dense Z_i'Z_j of two random blocks by counting level pairs (block-diagonal when ``same``)."""
        out = np.zeros((bi.p * bi.n_levels, bj.p * bj.n_levels))
        idx = np.arange(bi.n_levels)
        key = bi.codes * bj.n_levels + bj.codes
        for a in range(bi.p):
            for c in range(a if same else 0, bj.p):  # a symmetric block: its upper triangle, mirrored
                w = bi.M[:, a] * bj.M[:, c]
                if same:
                    out[idx * bi.p + a, idx * bj.p + c] = out[idx * bi.p + c, idx * bj.p + a] = np.bincount(
                        bi.codes, w, minlength=bi.n_levels)
                else:
                    counts = np.bincount(key, w, minlength=bi.n_levels * bj.n_levels)
                    out[a::bi.p, c::bj.p] = counts.reshape(bi.n_levels, bj.n_levels)
        return out

    def _crossprod_dense(self, k: int, A: np.ndarray) -> np.ndarray:
        """Z_k'A for a dense n × c matrix A, level-major rows."""
        return np.asarray(self.z_matrix(k).T @ A)

    def _lambda_pattern(self):
        """Row/column/θ-index pattern of the sparse Λ over the non-pivot terms."""
        rows, cols, idx, off = [], [], [], 0
        for k in self.rest:
            b = self.blocks[k]
            r, c = self.tri[k]
            start = off + b.p * np.arange(b.n_levels)[:, None]
            rows.append((start + r).ravel())
            cols.append((start + c).ravel())
            idx.append(np.tile(self.theta_slices[k].start + np.arange(len(r)), b.n_levels))
            off += b.p * b.n_levels
        self.lam_rows, self.lam_cols = np.concatenate(rows), np.concatenate(cols)
        self.lam_idx = np.concatenate(idx)
        self.rest_starts = np.cumsum([0] + [self.sizes[k] for k in self.rest[:-1]])  # each term's first column
        self.rest_theta = np.array([self.theta_slices[k].start for k in self.rest])  # θ index (of scalar terms)

    def T(self, theta: np.ndarray, k) -> np.ndarray:
        """Lower-triangular relative covariance factor of term k, or of the whole pivot for ``k="pivot"``.

        Read-only; the last θ's factors are cached. The pivot's T1 is block-diagonal over its terms.
        """
        key = theta.tobytes()
        if key != self._t_key:
            factors = []
            for j, b in enumerate(self.blocks):
                T = np.zeros((b.p, b.p))
                r, c = self.tri[j]
                T[r, c] = theta[self.theta_slices[j]]
                factors.append(T)
            if len(self.pivot_terms) == 1:
                pivot = factors[self.pivot]
            else:
                pivot = np.zeros((self.pivot_block.p,) * 2)
                pivot[self._pivot_tri] = theta[self._pivot_theta]
            self._t_key, self._t_list = key, factors + [pivot]
        return self._t_list[-1 if k == "pivot" else k]

    def lambda_rest(self, theta):
        """Λ over the non-pivot terms: a vector (all scalar terms) or a sparse matrix."""
        values = theta[self.lam_idx]
        if self.rest_scalar:
            return values
        return sp.csr_matrix((values, (self.lam_rows, self.lam_cols)), shape=(self.q2, self.q2))

    def times_lambda(self, A: np.ndarray, theta) -> np.ndarray:
        """A[:, :q2] Λr (a new array), term by term: each level's p_k columns times T_k."""
        if self.rest_scalar:
            return A[:, :self.q2] * theta[self.lam_idx][None, :]
        out = np.empty((A.shape[0], self.q2))
        off = 0
        for k in self.rest:
            blk, size = self.blocks[k], self.sizes[k]
            part = A[:, off:off + size].reshape(A.shape[0], blk.n_levels, blk.p) @ self.T(theta, k)
            out[:, off:off + size] = part.reshape(A.shape[0], size)
            off += size
        return out

    def lambda_times(self, u2: np.ndarray, theta) -> np.ndarray:
        """Λr u2 for a vector over the non-pivot random columns."""
        if self.rest_scalar:
            return theta[self.lam_idx] * u2
        out, off = np.empty(self.q2), 0
        for k in self.rest:
            blk, size = self.blocks[k], self.sizes[k]
            out[off:off + size] = (u2[off:off + size].reshape(blk.n_levels, blk.p) @ self.T(theta, k).T).ravel()
            off += size
        return out

    # ------------------------------------------------------------ evaluation
    def _pivot_factor(self, theta):
        """B = L1⁻¹T1' per pivot level, L1⁻¹, and log|L1|², with closed forms for 1 × 1 and 2 × 2 blocks."""
        T1 = self.T(theta, "pivot")
        p1 = T1.shape[0]
        if p1 == 1:
            t = T1[0, 0]
            d = np.sqrt(t * t * self.G + 1.0)
            Linv = 1.0 / d
            return Linv * t, Linv, 2.0 * float(np.log(d).sum())
        if p1 == 2:
            (t11, _), (t21, t22) = T1.tolist()
            g11, g12, g22 = self._g11, self._g12, self._g22
            # A = T1' G T1 + I and its Cholesky factor, level by level
            a11 = (t11 * t11) * g11 + (2 * t11 * t21) * g12 + (t21 * t21) * g22 + 1.0
            a12 = (t11 * t22) * g12 + (t21 * t22) * g22
            a22 = (t22 * t22) * g22 + 1.0
            l11 = np.sqrt(a11)
            l21 = a12 / l11
            l22 = np.sqrt(a22 - l21 * l21)
            i11, i22 = 1.0 / l11, 1.0 / l22
            i21 = -l21 * i11 * i22
            Linv = np.zeros((len(l11), 2, 2))
            Linv[:, 0, 0], Linv[:, 1, 1], Linv[:, 1, 0] = i11, i22, i21
            B = np.empty_like(Linv)
            B[:, 0, 0], B[:, 0, 1] = i11 * t11, i11 * t21
            B[:, 1, 0], B[:, 1, 1] = i21 * t11, i21 * t21 + i22 * t22
            return B, Linv, 2.0 * float(np.log(a11).sum() * 0.5 + np.log(l22).sum())
        A = T1.T @ self.G @ T1
        A[:, self._diag1, self._diag1] += 1.0
        L1 = np.linalg.cholesky(A)
        Linv = np.linalg.inv(L1)
        return Linv @ T1.T, Linv, 2.0 * float(np.log(np.diagonal(L1, axis1=1, axis2=2)).sum())

    def evaluate(self, theta: np.ndarray) -> PLSState:
        """Solve the PLS problem at θ.

        With U = L1⁻¹Λ1'Z1'[Zr X y] the pivot term is eliminated, and the upper Cholesky
        factor R of D(K − U'U)D + E (K = [Zr X y]'[Zr X y], D = diag(Λr, I, 1), E = I on
        the rest-random block) holds L over the rest, R_X, and √r²(θ) as its last pivot.
        """
        theta = np.array(theta, dtype=float)  # a copy: the state keeps it
        key = theta.tobytes()
        if self._last_state is not None and self._last_state[0] == key:
            return self._last_state[1]
        state = self._evaluate(theta)
        self._last_state = (key, state)
        return state

    @functools.cached_property
    def _mirror(self):
        """Flat indices of the strict lower triangle of the reduced system and of their upper mirrors."""
        n = self.K.shape[0]
        lower = np.tril_indices(n, -1)
        return np.ravel_multi_index(lower, (n, n)), np.ravel_multi_index(lower[::-1], (n, n))

    def _evaluate(self, theta: np.ndarray) -> PLSState:
        B, L1inv, ldL2 = self._pivot_factor(theta)
        q2 = self.q2
        U = (B @ self.Cfull).reshape(self.q1, -1)
        Us = None
        if self.dense_C:
            # D(K − U'U)D = DKD − (UD)'(UD): U keeps its random columns times Λr
            if q2:
                U[:, :q2] = self.times_lambda(U, theta)
            Q = dsyrk(-1.0, U.T, beta=1.0, c=self._scaled_K(theta) if q2 else self.K, trans=0, lower=0,
                      overwrite_c=bool(q2))
        else:
            Bs = sp.block_diag(list(B), format="csr") if B.shape[1] > 1 else sp.diags(B.ravel())
            Us = (Bs @ self.C).tocsc()
            Q = self.K.copy()
            Q[:q2, :q2] -= (Us.T @ Us).toarray()
            Q[:q2, q2:] -= np.asarray(Us.T @ U)
            Q[q2:, q2:] -= U.T @ U
            if q2:
                _mirror_upper(Q, *self._mirror)
                Q[:, :q2] = self.times_lambda(Q, theta)
                Q[:q2, :] = self.times_lambda(Q.T, theta).T
        if q2:
            Q[self._rr, self._rr] += 1.0
        R, info = dpotrf(Q, lower=0, clean=1, overwrite_a=1)
        if info < 0 or (info > 0 and info < self.m):
            raise np.linalg.LinAlgError("the penalised least-squares system is not positive definite")
        pwrss = R[-1, -1] ** 2 if info == 0 else 0.0
        d = np.log(np.diagonal(R)[:-1])
        return PLSState(theta, ldL2 + 2.0 * float(d[:q2].sum()), 2.0 * float(d[q2:].sum()), float(pwrss),
                        L1inv, U, Us, R)

    def deviance(self, theta: np.ndarray, reml: bool) -> float:
        """Profiled REML criterion or ML deviance at θ, as lme4's ``devfun``."""
        try:
            s = self.evaluate(theta)
        except (np.linalg.LinAlgError, ValueError):
            return np.inf
        return self.criterion(s, reml)

    def criterion(self, s: PLSState, reml: bool) -> float:
        """The profiled criterion of an evaluated state."""
        if s.pwrss <= 0:
            return np.inf
        if reml:
            m = self.n - self.p
            return s.ldL2 + s.ldRX2 + m * (1.0 + np.log(2.0 * np.pi * s.pwrss / m))
        return s.ldL2 + self.n * (1.0 + np.log(2.0 * np.pi * s.pwrss / self.n))

    # -------------------------------------------------------------- solution
    def solve(self, s: PLSState):
        """β and the conditional modes b = Λu per term."""
        beta, _, _, b = self.modes(s)
        return beta, b

    def modes(self, s: PLSState):
        """β, the spherical modes u of the pivot (l1 × p1) and of the rest (flat), and b = Λu per term.

        A pivot of several terms has u1 over all their columns; its terms' b are column blocks of u1 T1'.
        """
        m1 = self.m - 1
        x, _ = dtrtrs(s.R[:m1, :m1], s.R[:m1, m1], lower=0)  # reads the upper triangle only
        u2, beta = x[:self.q2], x[self.q2:]
        n_dense = s.U.shape[1] - (self.p + 1)
        resid1 = s.U[:, -1] - s.U[:, n_dense:n_dense + self.p] @ beta
        if self.q2:  # the dense U holds UΛr already
            resid1 = resid1 - (s.U[:, :self.q2] @ u2 if s.Us is None else s.Us @ self.lambda_times(u2, s.theta))
        l1, p1 = s.L1inv.shape[:2]
        u1 = np.einsum("jba,jb->ja", s.L1inv, resid1.reshape(l1, p1))
        b = [None] * len(self.blocks)
        b1 = u1 @ self.T(s.theta, "pivot").T
        for k, cols in zip(self.pivot_terms, self.pivot_columns):
            b[k] = b1[:, cols]
        off = 0
        for k in self.rest:
            blk = self.blocks[k]
            uk = u2[off:off + self.sizes[k]].reshape(blk.n_levels, blk.p)
            b[k] = uk @ self.T(s.theta, k).T
            off += self.sizes[k]
        return beta, u1, u2, b

    def rx_inverse(self, s: PLSState) -> np.ndarray:
        """(R_X'R_X)⁻¹, so that vcov(β) = σ² times it."""
        RX = np.triu(s.R[self.q2:self.m - 1, self.q2:self.m - 1])
        RXi, info = dtrtri(RX, lower=0)
        return RXi @ RXi.T
