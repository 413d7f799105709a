"""The result of ``fit_lmm``: tidy tables, conditional modes, information criteria and the JSON shape."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["LmmResult", "finite_or_none", "random_records"]


def finite_or_none(x):
    """A plain float, or None for NaN/inf (JSON has no NaN)."""
    x = float(x)
    return x if np.isfinite(x) else None


def random_records(random: pd.DataFrame) -> list[dict]:
    """The random-effects table as the Analysis JSON's records: variances/SDs, covariances/correlations."""
    num = finite_or_none
    return [{"group": r.group, "term1": r.term1, "term2": None, "variance": num(r.vcov), "sd": num(r.sdcor)}
            if pd.isna(r.term2) else
            {"group": r.group, "term1": r.term1, "term2": r.term2, "covariance": num(r.vcov), "corr": num(r.sdcor)}
            for r in random.itertuples()]


@dataclass
class LmmResult:
    """A fitted linear mixed model; tables are pandas DataFrames with Python-name columns."""

    formula: str
    reml: bool
    contrasts: dict
    data: pd.DataFrame = field(repr=False)
    rows: np.ndarray = field(repr=False)  # positions in ``data`` of the complete rows used
    fixed_design: object = field(repr=False)
    blocks: list = field(repr=False)
    theta: np.ndarray
    beta: np.ndarray
    sigma: float
    criterion: float
    vcov: np.ndarray = field(repr=False)
    modes: list = field(repr=False)
    fitted: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    converged: bool
    singular: bool
    optimizer_message: str
    n_evaluations: int
    warnings: list
    satterthwaite: object = field(repr=False)
    n_theta: int = 0
    theta_slices: list = field(default_factory=list, repr=False)
    _problem: object = field(default=None, repr=False, compare=False)  # the PLS problem, for completing a fit

    # ----------------------------------------------------------- counts
    @property
    def n_obs(self) -> int:
        return len(self.rows)

    @property
    def n_params(self) -> int:
        """Parameters as lme4 counts them for AIC/BIC: β, θ and σ."""
        return len(self.beta) + self.n_theta + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (REML log-likelihood for a REML fit), −criterion/2 as lme4's logLik."""
        return -0.5 * self.criterion

    @property
    def aic(self) -> float:
        return self.criterion + 2 * self.n_params

    @property
    def bic(self) -> float:
        return self.criterion + np.log(self.n_obs) * self.n_params

    @property
    def deviance(self) -> float:
        """ML deviance for an ML fit; for a REML fit the REML criterion (lme4's ``REMLcrit``)."""
        return self.criterion

    @property
    def term_names(self) -> list[str]:
        return list(self.fixed_design.names)

    # ----------------------------------------------------------- tables
    @cached_property
    def fixed(self) -> pd.DataFrame:
        """Fixed effects: term, estimate, se, df (Satterthwaite), t, p, ci_low, ci_high (95%)."""
        se = np.sqrt(np.diag(self.vcov))
        if self.satterthwaite is not None:
            df = self.satterthwaite.df_coefficients()
        else:
            df = np.full(len(self.beta), np.nan)
        t = self.beta / se
        p = 2 * special.stdtr(df, -np.abs(t))
        half = special.stdtrit(df, 0.975) * se
        return pd.DataFrame({"term": self.term_names, "estimate": self.beta, "se": se, "df": df, "t": t, "p": p,
                             "ci_low": self.beta - half, "ci_high": self.beta + half})

    def covariance(self, k: int) -> np.ndarray:
        """Covariance matrix σ²TT' of random term k."""
        blk = self.blocks[k]
        T = np.zeros((blk.p, blk.p))
        rows, cols = np.tril_indices(blk.p)
        order = np.lexsort((rows, cols))  # column-major, lme4's θ order
        T[rows[order], cols[order]] = self.theta[self.theta_slices[k]]
        return self.sigma ** 2 * T @ T.T

    @property
    def random(self) -> pd.DataFrame:
        """Random-effect variances and covariances: group, term1, term2 (None for a variance), vcov, sdcor."""
        rows = []
        for k, blk in enumerate(self.blocks):
            S = self.covariance(k)
            sd = np.sqrt(np.diag(S))
            for i, name in enumerate(blk.names):
                rows.append((blk.group, name, None, S[i, i], sd[i]))
            for i in range(blk.p):
                for j in range(i + 1, blk.p):
                    corr = S[j, i] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((blk.group, blk.names[i], blk.names[j], S[j, i], corr))
        return pd.DataFrame(rows, columns=["group", "term1", "term2", "vcov", "sdcor"])

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes (BLUPs) per grouping factor: rows are levels, columns the terms' names.

        Terms on the same factor (as from ``(1 + x || g)``) share one table, as in lme4's ``ranef``.
        """
        out = {}
        for blk, b in zip(self.blocks, self.modes):
            table = pd.DataFrame(b, index=pd.Index(blk.levels, name=blk.factor), columns=blk.names)
            out[blk.factor] = pd.concat([out[blk.factor], table], axis=1) if blk.factor in out else table
        return out

    # ----------------------------------------------------------- tests
    def anova(self) -> pd.DataFrame:
        """Type-III ANOVA with Satterthwaite F tests (see ``analysis.anova.anova_type3``)."""
        from .anova import anova_type3

        return anova_type3(self)

    # ----------------------------------------------------------- output
    def to_dict(self) -> dict:
        """The design's Analysis JSON shape (plain floats, ``None`` for a missing value)."""
        num = finite_or_none
        fixed = [{"term": r.term, "estimate": num(r.estimate), "se": num(r.se), "df": num(r.df), "t": num(r.t),
                  "p": num(r.p)} for r in self.fixed.itertuples()]
        return {"formula": self.formula, "n_obs": self.n_obs, "reml": self.reml, "criterion": num(self.criterion),
                "fixed": fixed, "random": random_records(self.random), "residual_sd": num(self.sigma),
                "converged": self.converged, "singular": self.singular}

    def summary(self) -> str:
        """A plain-text summary like lme4's: criterion, random effects, fixed effects, warnings."""
        crit = "REML criterion at convergence" if self.reml else "deviance"
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}",
                 f"Formula: {self.formula}", f"{crit}: {self.criterion:.4f}",
                 f"AIC {self.aic:.4f}  BIC {self.bic:.4f}  logLik {self.loglik:.4f}  observations {self.n_obs}", "",
                 "Random effects:"]
        rnd = self.random.copy()
        rnd["term2"] = rnd["term2"].fillna("")
        lines.append(rnd.to_string(index=False))
        lines.append(f"Residual sd: {self.sigma:.6g}")
        lines += ["", "Fixed effects (Satterthwaite df):", self.fixed.to_string(index=False)]
        for note in self.warnings:
            lines.append(f"warning: {note}")
        return "\n".join(lines)
