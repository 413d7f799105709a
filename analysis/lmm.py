"""Fit linear mixed models given as lme4-style formulas: ``fit_lmm``.

The model is y = Xβ + Zb + ε with b ~ N(0, σ²ΛθΛθ') and ε ~ N(0, σ²I). The profiled
(RE)ML deviance of Bates, Mächler, Bolker & Walker (2015), "Fitting linear mixed-effects
models using lme4", JSS 67(1), doi:10.18637/jss.v067.i01, is minimised over θ with the
diagonal elements of each relative covariance factor bounded below by 0.
"""
from __future__ import annotations

import logging
import warnings as _warnings
from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import optimize

from .design_matrices import RandomBlock, _check_rank, build_design, is_categorical
from .formula import parse_formula
from .lmm_result import LmmResult
from .lmm_start import mapped_start, moment_start, newton_steps
from .pls import PLSProblem
from .pls_gradient import deviance_gradient, interior
from .satterthwaite import Satterthwaite

__all__ = ["convergence_checkable", "fit_lmm", "with_satterthwaite"]

logger = logging.getLogger(__name__)

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance on θ elements with a lower bound of 0
CONVERGENCE_TOL = 2e-3  # lme4's check on the Newton step H⁻¹g at the optimum
KKT_TOL = 1e-2  # |∂criterion/∂θ| (deviance units) treated as zero at a boundary optimum
BOUND_OFFSET = 1e-6  # the optimisers' bound on the diagonal of Λ (lme4's is 0), where the analytic gradient applies
BOUNDARY_NUDGE = 0.05  # where the check of a singular fit restarts the bounded θ elements
LBFGS_MEMORY = 30  # L-BFGS-B's stored corrections: about every step, for the models' 2-30 parameters


def _objective(problem: PLSProblem, reml: bool, count: list):
    """Criterion and gradient at θ: analytic where it applies (off the bounds), else forward differences."""
    def f(theta):
        count[0] += 1
        try:
            state = problem.evaluate(theta)
        except (np.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        value = problem.criterion(state, reml)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(theta)
        grad = deviance_gradient(problem, state, reml)
        if grad is None:
            grad = np.empty_like(theta)
            for i in range(len(theta)):
                step = 1e-7 * max(abs(theta[i]), 1.0)  # forward: never crosses a lower bound
                shifted = theta.copy()
                shifted[i] += step
                grad[i] = (problem.deviance(shifted, reml) - value) / step
                count[0] += 1
        return value, grad
    return f


def _scaled_gradient(problem: PLSProblem, state, satt: Satterthwaite, reml: bool) -> float | None:
    """max |H⁻¹g| over the parameters off their bounds, as lme4's convergence check, or None if unavailable.

    H is the Hessian of the profiled criterion: the Schur complement, over σ, of the
    Satterthwaite Hessian of the deviance in (θ, σ).
    """
    grad = deviance_gradient(problem, state, reml)
    if grad is None:
        return None
    H, k = satt.hessian, problem.n_theta
    profiled = H[:k, :k] - np.outer(H[:k, k], H[k, :k]) / H[k, k]
    free = ~((problem.lower == 0) & (state.theta < 1e-6))
    if not free.any():
        return None
    try:
        step = np.linalg.solve(profiled[np.ix_(free, free)], grad[free])
    except np.linalg.LinAlgError:
        return None
    return float(np.max(np.abs(step)))


def _minimise(problem: PLSProblem, reml: bool, theta0=None):
    """Minimise the profiled criterion over θ.

    From a moment-based start and a few Newton steps (when they apply), bounded L-BFGS-B
    with the analytic gradient (lme4's bounds: diagonals of Λ ≥ 0; the optimisers keep
    them ≥ BOUND_OFFSET, where the criterion and its analytic gradient are taken at the
    same point, and an element ending there is set to 0), checked by bounded
    Nelder–Mead when it fails or ends non-finite (a failed line search where the
    first-order conditions hold is a success). A fit that ends on a bound is checked
    by the optimality (KKT) conditions — forward derivatives of the bounded elements
    non-negative, the free ones near zero — and, when they fail, by a second
    gradient-based optimiser (TNC) started just off the bound.
    """
    lower = problem.lower
    bounded = lower == 0
    bounds = [(BOUND_OFFSET if b else None, None) for b in bounded]
    start = problem.theta0 if theta0 is None else np.where(bounded, np.maximum(theta0, BOUND_OFFSET), theta0)
    count = [0]
    objective = _objective(problem, reml, count)

    def f(theta):
        count[0] += 1
        return problem.deviance(theta, reml)

    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)
        if theta0 is None:
            moments = moment_start(problem)
            if moments is not None and f(moments) < f(start):
                start = moments
                reached = newton_steps(problem, objective, start)
                if reached is not None:
                    start = reached
        best = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                 options={"ftol": 1e-13, "gtol": 1e-5, "maxiter": 2000, "maxcor": LBFGS_MEMORY})
        used = "L-BFGS-B"
        on_bound = np.any((lower == 0) & (best.x <= 1e-6))
        if on_bound and best.success and np.isfinite(best.fun) and not _kkt_holds(objective, best.x, lower):
            # a singular fit whose one-sided derivatives say the criterion falls off the bound:
            # a second, gradient-based optimiser (truncated Newton) restarted just off the bound
            nudged = np.where((lower == 0) & (best.x <= 1e-6), BOUNDARY_NUDGE, best.x)
            check = optimize.minimize(objective, nudged, jac=True, method="TNC", bounds=bounds,
                                      options={"ftol": 1e-13, "gtol": 1e-6, "maxfun": 2000})
            if np.isfinite(check.fun) and check.fun < best.fun - 1e-8:
                best, used = check, "L-BFGS-B, then TNC"
        elif not best.success and np.isfinite(best.fun) and _kkt_holds(objective, best.x, lower):
            # a line search that fails where the criterion no longer falls by more than its rounding
            best.success, used = True, "L-BFGS-B (first-order conditions hold)"
        elif not best.success or not np.isfinite(best.fun):
            check = optimize.minimize(f, best.x if np.isfinite(best.fun) else start, method="Nelder-Mead",
                                      bounds=bounds, options={"xatol": 1e-8, "fatol": 1e-10, "maxfev": 20000,
                                                              "adaptive": len(start) > 4})
            if np.isfinite(check.fun) and (check.fun < best.fun or not np.isfinite(best.fun)):
                best, used = check, "L-BFGS-B, then Nelder-Mead"
            elif check.success:
                best = optimize.OptimizeResult(x=best.x, fun=best.fun, success=abs(check.fun - best.fun) < 1e-6,
                                               message=best.message, nit=best.nit)
    theta = np.where(bounded & (best.x <= BOUND_OFFSET), 0.0, best.x)
    return theta, float(best.fun), bool(best.success), f"{used}: {best.message}", count[0]


def _best_start(problem: PLSProblem, reml: bool, start_from) -> np.ndarray:
    """Of the moment-based start (else lme4's) and those from ``start_from`` (see ``fit_lmm``), the lowest criterion's."""
    given = start_from if isinstance(start_from, (list, tuple)) else [start_from]
    starts = [mapped_start(problem, s) if isinstance(s, LmmResult) else np.asarray(s, dtype=float) for s in given]
    moments = moment_start(problem)
    starts.append(problem.theta0 if moments is None else moments)
    return starts[0] if len(starts) == 1 else min(starts, key=lambda theta: problem.deviance(theta, reml))


def _kkt_holds(objective, theta, lower, tol=KKT_TOL) -> bool:
    """Whether θ on a bound is a constrained minimum to first order (gradient from ``objective``)."""
    value, grad = objective(theta)
    if not np.isfinite(value) or not np.all(np.isfinite(grad)):
        return False
    at_bound = (lower == 0) & (theta <= 1e-6)
    return bool(np.all(grad[at_bound] > -tol) and np.all(np.abs(grad[~at_bound]) < tol))


def fit_lmm(data: pd.DataFrame, formula: str, *, reml: bool = True, contrasts: dict | None = None,
            satterthwaite: bool = True, start=None, verbose=None, start_from=None,
            design_cache: dict | None = None) -> LmmResult:
    """Fit a linear mixed model written as an lme4 formula, by (RE)ML.

    Model: the formula in lme4 notation, e.g.
    ``rating ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)``;
    random terms ``(expr | g)``, ``(expr || g)`` (uncorrelated), crossed and nested
    (``(1 | a/b)``, ``(1 | a:b)``) grouping. Implements lme4's penalised least squares on
    the profiled deviance (Bates, Mächler, Bolker & Walker 2015, JSS 67(1),
    doi:10.18637/jss.v067.i01) with lmerTest's Satterthwaite degrees of freedom
    (Kuznetsova, Brockhoff & Christensen 2017, JSS 82(13), doi:10.18637/jss.v082.i13).

    Parameters
    ----------
    data : DataFrame
        One row per observation; rows with a missing value in a used column are dropped.
    formula : str
        lme4-style formula.
    reml : bool
        REML (default) or maximum likelihood.
    contrasts : dict, optional
        Coding of categorical predictors by column: ``"treatment"`` (R's default, first
        sorted level is the reference, columns ``<var><level>``), ``"sum"``, or a mapping
        ``{level: value}`` giving one column named as the variable, e.g.
        ``{"pain": {"pain": 0.5, "neutral": -0.5}}``; ``analysis.DESIGN_CONTRASTS`` is
        the project's effect coding of the design's factors.
    satterthwaite : bool
        Compute Satterthwaite df, p values and CIs for the fixed effects (default True).
    start : array-like, optional
        Starting θ (lme4's order); default 1 on the diagonals, 0 elsewhere.
    verbose : bool, optional
        Log the optimisation summary at INFO level.
    start_from : LmmResult or array-like, or a list of them (may be empty), optional
        Candidate starts (ignored when ``start`` is given): a fit of another random
        structure on the same data, whose relative covariances are matched to this model's
        terms by grouping factor and column name (``lmm_start.mapped_start``), or a θ of
        this model (a NumPy array), e.g. its optimum on another data set of the same
        design. With the moment-based start they compete on the criterion, and the
        optimiser starts from the best (no Newton steps); the answer changes only within
        optimiser noise.
    design_cache : dict, optional
        A dict kept by the caller across fits of data sets that share their predictor and
        grouping columns (e.g. simulated studies of one design; the response and its
        missing values may differ): the formula's model matrices for all rows are built
        once, kept there, and subset to the rows with a response. The fit is the same as
        without it.

    Returns
    -------
    LmmResult
        Tables (``fixed``, ``random``), ``ranef``, ``fitted``, ``residuals``,
        ``anova()``, ``to_dict()``, diagnostics (``converged``, ``singular``, ``warnings``).

    Raises
    ------
    FormulaError, KeyError, ValueError
        Bad formula syntax, a term missing from the data, a non-numeric response, a
        one-level grouping factor, an all-missing column or rank-deficient fixed effects.
    """
    with _one_blas_thread():
        return _fit(data, formula, reml, contrasts, satterthwaite, start, verbose, start_from, design_cache)


_CONTROLLER = []


def _one_blas_thread():
    """Single-threaded BLAS during a fit: its matrices are small, and threads cost more than they save."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/pingouin
        import contextlib

        return contextlib.nullcontext()
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _fit(data, formula, reml, contrasts, satterthwaite, start, verbose, start_from=None,
         design_cache=None) -> LmmResult:
    parsed = parse_formula(formula)
    if not parsed.random:
        raise ValueError(f"formula {formula!r} has no random term such as (1 | group); fit_lmm needs at least one")
    rows, y, fixed, blocks = _design(data, parsed, contrasts, design_cache)
    problem = PLSProblem(y, fixed.X, blocks)
    if start_from is not None and start is None:
        start = _best_start(problem, reml, start_from)
    theta, crit, success, message, n_eval = _minimise(problem, reml, start)
    state = problem.evaluate(theta)
    crit = problem.criterion(state, reml)
    beta, modes = problem.solve(state)
    m = problem.n - (problem.p if reml else 0)
    sigma = float(np.sqrt(state.pwrss / m))
    singular = bool(np.any(theta[problem.lower == 0] < SINGULAR_TOL))
    notes = []
    if not success:
        notes.append(f"model may not have converged ({message})")
    if singular:
        notes.append("boundary (singular) fit: a variance is (near) zero or a correlation is ±1; "
                     "see isSingular in lme4")
    for note in notes:
        logger.warning("%s: %s", formula, note)
    if verbose:
        logger.info("%s: %s after %d deviance evaluations, criterion %.6f", formula, message, n_eval, crit)
    fitted = fixed.X @ beta
    for k, b in enumerate(modes):
        blk = blocks[k]
        fitted = fitted + np.einsum("ij,ij->i", blk.M, b[blk.codes])
    result = LmmResult(
        formula=formula, reml=reml, contrasts=dict(contrasts or {}), data=data, rows=rows,
        fixed_design=fixed, blocks=blocks, theta=theta, beta=beta, sigma=sigma, criterion=float(crit),
        vcov=sigma ** 2 * problem.rx_inverse(state), modes=modes, fitted=fitted, residuals=y - fitted,
        converged=success, singular=singular, optimizer_message=message, n_evaluations=n_eval,
        warnings=notes, satterthwaite=None, n_theta=problem.n_theta, theta_slices=problem.theta_slices,
        _problem=problem,
    )
    return _complete(result) if satterthwaite else result


def _design(data: pd.DataFrame, parsed, contrasts, cache):
    """``build_design(data, parsed, contrasts)``, taken from ``cache`` when the predictor columns are those seen.

    The cached design covers every row with the predictors present; a fit drops the rows
    without a response. When that would drop a factor level, or the response is not a
    plain numeric column, the design is built anew (as are its errors).
    """
    response = data[parsed.response] if cache is not None and parsed.response in data.columns else None
    if response is None or not (isinstance(response.dtype, np.dtype) and response.dtype.kind in "fiu"):
        return build_design(data, parsed, contrasts)
    predictors = parsed.variables[1:]
    key = (parsed.text, repr(contrasts))
    if key not in cache or not unchanged(data, cache[key][0]):
        rows, _, fixed, blocks = build_design(data.assign(**{parsed.response: 0.0}), parsed, contrasts)
        codes = [pd.factorize(data[v].iloc[rows])[0] for v in predictors
                 if is_categorical(data[v]) or v in (contrasts or {})]
        cache[key] = (snapshot(data, predictors), rows, fixed, blocks, codes)
    _, rows, fixed, blocks, codes = cache[key]
    y = response.to_numpy(dtype=float)[rows]
    keep = ~np.isnan(y)
    if keep.all():
        return rows, y, fixed, blocks
    n = int(keep.sum())
    if (any(np.bincount(c[keep], minlength=c.max() + 1).min() == 0 for c in codes)
            or any(np.bincount(b.codes[keep], minlength=b.n_levels).min() == 0 or b.n_levels * b.p >= n
                   for b in blocks)):
        return build_design(data, parsed, contrasts)
    X = fixed.X[keep]
    _check_rank(X, fixed.names, "fixed effects")
    blocks = [RandomBlock(b.group, b.names, b.M[keep], b.codes[keep], b.levels, b.factor) for b in blocks]
    return rows[keep], y[keep], replace(fixed, X=X), blocks


def snapshot(data: pd.DataFrame, columns) -> dict:
    """Copies of some columns, to tell later whether another data set has the same ones (:func:`unchanged`)."""
    return {c: data[c].copy() for c in columns}


def unchanged(data: pd.DataFrame, kept: dict) -> bool:
    """Whether ``data`` holds the columns of a :func:`snapshot`, equal in values, dtype and index."""
    return all(c in data.columns and data[c].equals(column) for c, column in kept.items())


def with_satterthwaite(result: LmmResult) -> LmmResult:
    """Complete a fit made with ``satterthwaite=False`` as ``fit_lmm`` completes it by default.

    Adds the Satterthwaite df and lme4's convergence check (the scaled gradient, which needs
    the same Hessian), with their warnings; ``converged`` may turn False. The result is the
    one ``fit_lmm(..., satterthwaite=True)`` returns for the same fit.

    Parameters
    ----------
    result : LmmResult
        From ``fit_lmm``; returned as it is when it already has Satterthwaite df.

    Returns
    -------
    LmmResult
    """
    if result.satterthwaite is not None:
        return result
    if result._problem is None:
        raise ValueError("this result does not keep its fitted problem; refit with fit_lmm")
    with _one_blas_thread():
        return _complete(result)


def convergence_checkable(result: LmmResult) -> bool:
    """Whether lme4's scaled-gradient check applies to a fit (an analytic gradient at its θ).

    Only then can :func:`with_satterthwaite` change ``converged``.
    """
    return interior(result._problem, result.theta)


def _complete(result: LmmResult) -> LmmResult:
    """Satterthwaite df and the convergence check added to a fit (see :func:`with_satterthwaite`)."""
    problem, theta, reml = result._problem, result.theta, result.reml
    satt = Satterthwaite(problem, theta, result.sigma, reml)
    scaled = _scaled_gradient(problem, problem.evaluate(theta), satt, reml)
    notes, converged = [], result.converged
    if scaled is not None and scaled > CONVERGENCE_TOL:
        converged = False
        notes.append(f"model failed to converge: max|scaled gradient| = {scaled:.3g} (tolerance {CONVERGENCE_TOL})")
    if not satt.positive_definite:
        notes.append("the Hessian of the deviance over (θ, σ) is not positive definite; "
                     "Satterthwaite df may be unreliable")
    for note in notes:
        logger.warning("%s: %s", result.formula, note)
    return replace(result, satterthwaite=satt, converged=converged, warnings=result.warnings + notes)
