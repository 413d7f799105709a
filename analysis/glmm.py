"""Binomial (logit) generalized linear mixed models by the Laplace approximation: ``fit_glmm``.

Matches lme4's default ``glmer(..., family = binomial)`` fit (nAGQ = 1): a first stage
minimises the nAGQ = 0 criterion over θ (β estimated inside PIRLS), and a second stage
minimises the Laplace deviance over θ and β jointly, PIRLS giving the conditional modes at
each (θ, β) (Bates, Mächler, Bolker & Walker 2015, JSS 67(1), doi:10.18637/jss.v067.i01).
Fixed effects get Wald z tests with the covariance from the finite-difference Hessian of
the deviance over (θ, β), as ``summary(glmer)`` (``vcov(use.hessian = TRUE)``).
"""
from __future__ import annotations

import logging
import warnings as _warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import optimize, special

from .design_matrices import build_design
from .formula import parse_formula
from .lmm import CONVERGENCE_TOL, SINGULAR_TOL, _one_blas_thread
from .lmm_result import LmmResult, finite_or_none, random_records
from .pirls import BernoulliLaplace

__all__ = ["GlmmResult", "fit_glmm"]

logger = logging.getLogger(__name__)

Z_975 = special.ndtri(0.975)
HESSIAN_STEP = 1e-4  # lme4's deriv12 step for the Hessian at the optimum


@dataclass
class GlmmResult(LmmResult):
    """A fitted binomial GLMM. ``fitted`` are probabilities, ``residuals`` y − μ (response scale).

    ``criterion`` and ``deviance`` are −2 log-likelihood (Laplace), the deviance ``summary(glmer)``
    prints; ``conditional_deviance`` is the Bernoulli deviance Σ −2 log p(yᵢ | μᵢ) at the
    conditional modes, lme4's ``deviance(fit)``.
    """

    family: str = "binomial"
    link: str = "logit"
    vcov_rx: np.ndarray = field(default=None, repr=False)
    conditional_deviance: float = float("nan")

    @property
    def n_params(self) -> int:
        """Parameters as lme4 counts them for AIC/BIC: β and θ (no scale parameter)."""
        return len(self.beta) + self.n_theta

    @property
    def df_residual(self) -> int:
        return self.n_obs - self.n_params

    @cached_property
    def fixed(self) -> pd.DataFrame:
        """Fixed effects (log-odds): term, estimate, se, z, p, ci_low, ci_high (95% Wald)."""
        se = np.sqrt(np.diag(self.vcov))
        z = self.beta / se
        p = 2 * special.ndtr(-np.abs(z))
        return pd.DataFrame({"term": self.term_names, "estimate": self.beta, "se": se, "z": z, "p": p,
                             "ci_low": self.beta - Z_975 * se, "ci_high": self.beta + Z_975 * se})

    def anova(self):
        raise NotImplementedError("type-III F tests are for linear mixed models; compare nested GLMMs by "
                                  "their logLik, or test single coefficients with the Wald z table `fixed`")

    def to_dict(self) -> dict:
        """The Analysis JSON shape of the LMM result, with Wald z in place of Satterthwaite t."""
        num = finite_or_none
        fixed = [{"term": r.term, "estimate": num(r.estimate), "se": num(r.se), "z": num(r.z), "p": num(r.p),
                  "ci_low": num(r.ci_low), "ci_high": num(r.ci_high)} for r in self.fixed.itertuples()]
        return {"formula": self.formula, "n_obs": self.n_obs, "reml": False, "criterion": num(self.criterion),
                "fixed": fixed, "random": random_records(self.random), "converged": self.converged, "singular": self.singular,
                "family": self.family, "link": self.link, "nAGQ": 1, "logLik": num(self.loglik),
                "AIC": num(self.aic), "BIC": num(self.bic), "deviance": num(self.deviance)}

    def summary(self) -> str:
        lines = ["Generalized linear mixed model fit by maximum likelihood (Laplace approximation)",
                 f"Family: {self.family} ({self.link})", f"Formula: {self.formula}",
                 f"AIC {self.aic:.4f}  BIC {self.bic:.4f}  logLik {self.loglik:.4f}  deviance {self.deviance:.4f}"
                 f"  df.resid {self.df_residual}  observations {self.n_obs}", "", "Random effects:"]
        rnd = self.random.copy()
        rnd["term2"] = rnd["term2"].fillna("")
        lines.append(rnd.to_string(index=False))
        lines += ["", "Fixed effects (Wald z):", self.fixed.to_string(index=False)]
        lines += [f"warning: {note}" for note in self.warnings]
        return "\n".join(lines)


def _binary_response(y: np.ndarray, name: str) -> np.ndarray:
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        examples = sorted(set(np.unique(y[bad]).tolist()))[:5]
        raise ValueError(f"response {name!r} of a binomial GLMM must be 0/1 (or boolean) per trial; "
                         f"found values such as {examples}")
    if y.min() == y.max():
        raise ValueError(f"response {name!r} is {int(y[0])} on every row used; a binomial GLMM needs both 0s and 1s")
    return y


def _response_as_number(data: pd.DataFrame, name: str) -> pd.DataFrame:
    """Booleans become 0/1 so that design building accepts them as a numeric response."""
    if name in data.columns and pd.api.types.is_bool_dtype(data[name]):
        data = data.copy()
        data[name] = data[name].astype(float)
    return data


def _central_gradient(f, x, lower, h=1e-5):
    g = np.empty_like(x)
    f0 = None
    for i in range(len(x)):
        step = h * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        if down[i] < lower[i]:  # one-sided at a bound
            f0 = f(x) if f0 is None else f0
            g[i] = (f(up) - f0) / step
        else:
            g[i] = (f(up) - f(down)) / (2 * step)
    return g


def _hessian(f, x, h=HESSIAN_STEP):
    """Central-difference Hessian (lme4's deriv12 scheme: step h on every coordinate)."""
    k = len(x)
    f0 = f(x)
    H = np.empty((k, k))
    plus, minus = np.empty(k), np.empty(k)
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        plus[i], minus[i] = f(x + e), f(x - e)
        H[i, i] = (plus[i] - 2 * f0 + minus[i]) / h ** 2
    for i in range(k):
        for j in range(i):
            ei, ej = np.zeros(k), np.zeros(k)
            ei[i], ej[j] = h, h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h ** 2)
    return H, (plus - minus) / (2 * h)


def _stage_one(model: BernoulliLaplace, theta0):
    """glmer's nAGQ = 0 stage: minimise over θ with β inside PIRLS; returns θ and β."""
    lower = model.lower
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]

    def f(theta):
        return model.laplace_nagq0(theta)[0]

    res = optimize.minimize(f, theta0, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-10, "gtol": 1e-6, "eps": 1e-7, "maxiter": 500})
    theta = res.x if np.isfinite(res.fun) else np.asarray(theta0, dtype=float)
    _, state = model.laplace_nagq0(theta)
    if state is None:
        raise ValueError("PIRLS failed at the starting values; check the response and the random-effects terms")
    return theta, state.beta


def _stage_two(model: BernoulliLaplace, x0):
    """Minimise the Laplace deviance over (θ, β): L-BFGS-B on central differences, then Nelder–Mead if needed."""
    k = model.n_theta
    lower = np.concatenate([model.lower, np.full(model.p, -np.inf)])
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]

    def f(x):
        return model.laplace(x[:k], x[k:])

    def fg(x):
        value = f(x)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(x)
        return value, _central_gradient(f, x, lower)

    best = optimize.minimize(fg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                             options={"ftol": 1e-14, "gtol": 1e-7, "maxiter": 1000})
    used = "L-BFGS-B"
    on_bound = np.any((lower == 0) & (best.x <= 1e-6))
    if not best.success or on_bound:
        check = optimize.minimize(f, best.x, method="Nelder-Mead", bounds=bounds,
                                  options={"xatol": 1e-8, "fatol": 1e-10, "maxfev": 40000, "adaptive": len(x0) > 4})
        if np.isfinite(check.fun) and check.fun < best.fun:
            best, used = check, "L-BFGS-B, then Nelder-Mead"
    return best, used, f


def fit_glmm(data: pd.DataFrame, formula: str, family: str = "binomial", *, contrasts: dict | None = None,
             start=None, verbose=None) -> GlmmResult:
    """Fit a binomial (logit) generalized linear mixed model written as an lme4 formula.

    Model: logit P(yᵢ = 1) = Xβ + Zb, b ~ N(0, ΛθΛθ'), e.g.
    ``correct ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)``,
    fitted as lme4's ``glmer(formula, family = binomial)`` by default: Laplace
    approximation (nAGQ = 1) with PIRLS conditional modes, a first nAGQ = 0 stage over θ,
    then joint optimisation over (θ, β) (Bates, Mächler, Bolker & Walker 2015, JSS 67(1),
    doi:10.18637/jss.v067.i01). Random terms as in ``fit_lmm``.

    Parameters
    ----------
    data : DataFrame
        One row per trial; the response is 0/1 (or boolean). Rows with a missing value in a
        used column are dropped.
    formula : str
        lme4-style formula.
    family : str
        ``"binomial"`` (logit link), the only family implemented.
    contrasts : dict, optional
        Coding of categorical predictors, as in ``fit_lmm`` (``analysis.DESIGN_CONTRASTS``
        is the design's effect coding).
    start : array-like, optional
        Starting θ (lme4's order) for the first stage; default 1 on the diagonals, 0 elsewhere.
    verbose : bool, optional
        Log the optimisation summary at INFO level.

    Returns
    -------
    GlmmResult
        Tables ``fixed`` (estimate, se, z, p, 95% Wald CI on the log-odds scale) and
        ``random`` (SDs and correlations), ``ranef``, ``fitted`` (probabilities),
        ``loglik``/``aic``/``bic``/``deviance``, ``to_dict()``, ``converged``, ``singular``, ``warnings``.

    Raises
    ------
    FormulaError, KeyError, ValueError
        Bad formula, a term missing from the data, a response that is not 0/1, an unknown
        family, or the design errors of ``fit_lmm``.
    """
    if str(family).lower() not in ("binomial", "bernoulli"):
        raise ValueError(f"family {family!r} is not implemented; fit_glmm fits family='binomial' (logit link)")
    with _one_blas_thread():
        return _fit(data, formula, contrasts, start, verbose)


def _fit(data, formula, contrasts, start, verbose) -> GlmmResult:
    parsed = parse_formula(formula)
    if not parsed.random:
        raise ValueError(f"formula {formula!r} has no random term such as (1 | group); fit_glmm needs at least one")
    data = _response_as_number(data, parsed.response)
    rows, y, fixed, blocks = build_design(data, parsed, contrasts)
    y = _binary_response(y, parsed.response)
    model = BernoulliLaplace(y, fixed.X, blocks)
    k = model.n_theta
    theta0 = model.structure.theta0 if start is None else np.asarray(start, dtype=float)
    with _warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _warnings.simplefilter("ignore", RuntimeWarning)
        theta1, beta1 = _stage_one(model, theta0)
        best, used, f = _stage_two(model, np.concatenate([theta1, beta1]))
        x = best.x.copy()
        x[:k] = np.where((model.lower == 0) & (np.abs(x[:k]) < 1e-10), 0.0, x[:k])
        H, grad = _hessian(f, x)
    theta, beta = x[:k], x[k:]
    state = model.pirls(theta, beta)
    success = bool(best.success) and state.converged
    message = f"{used}: {best.message}"
    singular = bool(np.any(theta[model.lower == 0] < SINGULAR_TOL))
    notes = [note for flag, note in (
        (not success, f"model may not have converged ({message})"),
        (singular, "boundary (singular) fit: a variance is (near) zero or a correlation is ±1 (lme4 isSingular)"),
    ) if flag]
    vcov_rx = model.rx_vcov(state)
    H = 0.5 * (H + H.T)
    try:
        np.linalg.cholesky(H)
        vcov = (2.0 * np.linalg.inv(H))[k:, k:]
    except np.linalg.LinAlgError:
        vcov = vcov_rx
        notes.append("the Hessian of the deviance over (θ, β) is not positive definite; "
                     "standard errors are from the PIRLS system (RX) instead")
    else:
        free = ~((np.concatenate([model.lower, np.full(model.p, -np.inf)]) == 0) & (x <= 1e-6))
        if free.any():
            scaled = np.linalg.solve(H[np.ix_(free, free)], grad[free])
            if np.max(np.abs(scaled)) > CONVERGENCE_TOL:
                success = False
                notes.append(f"model failed to converge: max|scaled gradient| = {np.max(np.abs(scaled)):.3g} "
                             f"(tolerance {CONVERGENCE_TOL})")
    for note in notes:
        logger.warning("%s: %s", formula, note)
    if verbose:
        logger.info("%s: %s after %d PIRLS runs, -2 log-likelihood %.6f", formula, message, model.evaluations,
                    state.laplace)
    modes = model.modes_per_term(theta, state.u)
    return GlmmResult(
        formula=formula, reml=False, contrasts=dict(contrasts or {}), data=data, rows=rows, fixed_design=fixed,
        blocks=blocks, theta=theta, beta=beta, sigma=1.0, criterion=float(state.laplace), vcov=vcov, modes=modes,
        fitted=state.mu, residuals=y - state.mu, converged=success, singular=singular, optimizer_message=message,
        n_evaluations=model.evaluations, warnings=notes, satterthwaite=None, n_theta=k,
        theta_slices=model.theta_slices, vcov_rx=vcov_rx, conditional_deviance=state.sum_dev,
    )
