"""Parity of the report's RM-ANOVA with afex and of its mixed-model means and contrasts with emmeans.

R's numbers are committed in tests/analysis/reference/parity (made by make_parity.R; see its
README): R is not needed here. Tolerances, and the differences measured when they were set:

* RM-ANOVA (afex::aov_ez): F and p relative 1e-6, partial η² and GG ε absolute 1e-6, dfs
  exact (measured: F 8e-13 relative, η² 4e-15, ε 7e-16).
* emmeans estimates and SEs: |difference| ≤ 1e-4 × R's SE (measured: estimate 2e-8 × SE,
  SE 4e-6 × SE).
* Satterthwaite df: relative 1e-4 (measured 3.6e-5). The toolkit differentiates the
  Hessian and vcov(β) by forward differences (analysis.satterthwaite, O(h) error ~1e-5)
  and its optimum θ differs from lme4's within optimiser tolerance (1.4e-5 relative, same
  REML criterion to 4e-10); with central differences at R's θ the toolkit's own pieces
  give lmerTest's df to 5e-8 (checked below), so no formula difference hides in 1e-4.

The R reference fit is converged tightly (bobyqa, rhoend 1e-12): lme4's default optimizer
stops early here (rating_unpleasantness: convergence warning, REML criterion 8e-5 above
the optimum, SEs 1.5e-3 relative off); the toolkit's criterion is checked against both.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import DESIGN_CONTRASTS, fit_lmm
from analysis.descriptives import participant_means
from analysis.models import cell_means, pain_contrasts
from analysis.rm_anova import rm_anova

PARITY = Path(__file__).parent / "reference" / "parity"
FACTORS = ["pain", "perspective", "group", "stimulus_type"]
CELL = ["pain", "perspective", "group"]
RATINGS = ["rating_pain_intensity", "rating_unpleasantness"]
DF_RTOL = 1e-4


def _json(name: str) -> dict:
    return json.loads((PARITY / name).read_text())


@lru_cache(maxsize=None)
def _trials() -> pd.DataFrame:
    return pd.read_csv(PARITY / "pilot_trials.csv")


@lru_cache(maxsize=None)
def _fit(dv: str):
    ref = _json("emmeans_pilot.json")["models"][dv]
    return fit_lmm(_trials(), ref["formula"], reml=ref["reml"], contrasts=DESIGN_CONTRASTS)


def _emmeans(dv: str) -> dict:
    return _json("emmeans_pilot.json")["models"][dv]


def _check_anova(table: pd.DataFrame, terms: list) -> None:
    ours = table.set_index("term")
    assert sorted(ours.index) == sorted(t["term"] for t in terms)
    for t in terms:
        row = ours.loc[t["term"]]
        assert (row.num_df, row.den_df) == (t["num_df"], t["den_df"]), t["term"]
        assert row.F == pytest.approx(t["F"], rel=1e-6), t["term"]
        assert row.p == pytest.approx(t["p"], rel=1e-6), t["term"]
        assert row.eta_p2 == pytest.approx(t["pes"], abs=1e-6), t["term"]
        assert row.gg_epsilon == pytest.approx(t["gg_epsilon"], abs=1e-6), t["term"]
        assert row.p_gg == pytest.approx(t["p_gg"], rel=1e-6), t["term"]


# ---------------------------------------------------------------- RM-ANOVA vs afex


@pytest.mark.parametrize("dv", RATINGS)
def test_rm_anova_matches_afex_on_pilot(dv):
    """rm_anova on participant_means of the pilot reproduces afex's F, dfs, p, partial η² and ε for all 15 terms."""
    ref = _json("afex_pilot.json")["ratings"][dv]
    means = participant_means(_trials(), dv, FACTORS)
    assert len(means) == ref["n_cells"]
    table, left_out = rm_anova(means, dv, FACTORS)
    assert left_out == [] and len(table) == 15
    _check_anova(table, ref["terms"])


def test_rm_anova_matches_afex_greenhouse_geisser():
    """On obk.long's phase × hour cells rm_anova gives afex's GG ε (≠ 1), corrected p and uncorrected table."""
    ref = _json("afex_obk.json")
    cells = pd.read_csv(PARITY / "obk_cells.csv", dtype={"id": str})
    table, left_out = rm_anova(cells, "value", ["phase", "hour"], subject="id")
    assert left_out == []
    assert all(t["gg_epsilon"] < 0.8 for t in ref["terms"])  # the case exercises a real correction
    _check_anova(table, ref["terms"])
    for t in ref["terms"]:
        assert t["gg_epsilon"] == pytest.approx(t["gg_epsilon_car"], abs=1e-12)  # afex's df ratio is car's ε


# ---------------------------------------------------------------- mixed model vs lmerTest + emmeans


@pytest.mark.parametrize("dv", RATINGS)
def test_lmm_reaches_lme4_optimum(dv):
    """The toolkit's REML fit reaches the tightly converged lme4 criterion and is no worse than lme4's default optimizer."""
    ref = _emmeans(dv)
    fit = _fit(dv)
    assert fit.converged and not fit.singular and not ref["singular"]
    assert fit.n_obs == ref["n_obs"]
    assert fit.criterion == pytest.approx(ref["reml_criterion"], abs=1e-6)
    assert fit.criterion <= ref["default_optimizer"]["reml_criterion"] + 1e-8
    assert np.allclose(fit.theta, ref["theta"], rtol=1e-4)


@pytest.mark.parametrize("dv", RATINGS)
def test_cell_means_match_emmeans(dv):
    """cell_means gives emmeans' pain × perspective × group means (stimulus type averaged): estimate and SE to 1e-4 SE, df to 1e-4."""
    ours = cell_means(_fit(dv), FACTORS).set_index(CELL)
    ref = _emmeans(dv)["cell_means"]
    assert len(ours) == len(ref) == 8
    for r in ref:
        row = ours.loc[tuple(r[f] for f in CELL)]
        assert abs(row.estimate - r["emmean"]) <= 1e-4 * r["SE"]
        assert abs(row.se - r["SE"]) <= 1e-4 * r["SE"]
        assert row.df == pytest.approx(r["df"], rel=DF_RTOL)


@pytest.mark.parametrize("dv", RATINGS)
def test_pain_contrasts_match_emmeans(dv):
    """pain_contrasts gives emmeans' pain − neutral (overall, per cell), in-group bias and self − other: estimate, SE, df."""
    ours = pain_contrasts(_fit(dv), FACTORS)
    ours = ours.set_index(ours["contrast"].str.replace("−", "-"))
    ref = _emmeans(dv)["contrasts"]
    assert sorted(ours.index) == sorted(r["contrast"] for r in ref)
    for r in ref:
        row = ours.loc[r["contrast"]]
        assert abs(row.estimate - r["estimate"]) <= 1e-4 * r["SE"], r["contrast"]
        assert abs(row.se - r["SE"]) <= 1e-4 * r["SE"], r["contrast"]
        assert row.df == pytest.approx(r["df"], rel=DF_RTOL), r["contrast"]
        assert row.p == pytest.approx(r["p.value"], rel=1e-3), r["contrast"]


@pytest.mark.parametrize("dv", RATINGS)
def test_satterthwaite_pieces_give_lmertest_df_at_r_optimum(dv):
    """With central differences at lme4's θ, the toolkit's deviance gradient and (R_X'R_X)⁻¹ give lmerTest's df to 1e-6."""
    from analysis.models import _row
    from analysis.pls_gradient import logdet_pwrss_gradients

    ref = _emmeans(dv)
    fit = _fit(dv)
    problem = fit.satterthwaite.problem
    theta = np.asarray(ref["theta"], dtype=float)
    k, p = len(theta), problem.p
    sigma = float(np.sqrt(problem.evaluate(theta).pwrss / (problem.n - p)))
    assert sigma == pytest.approx(ref["sigma"], rel=1e-9)
    s2 = sigma * sigma

    def parts(t):
        st = problem.evaluate(t)
        ld, pw = logdet_pwrss_gradients(problem, st, True)
        return st.pwrss, problem.rx_inverse(st), ld + pw / s2

    pw0, rxi0, _ = parts(theta)
    H, jac = np.zeros((k + 1, k + 1)), np.zeros((k + 1, p, p))
    for i in range(k):
        h = 1e-5 * max(abs(theta[i]), 0.05)
        up, down = parts(theta + h * np.eye(k)[i]), parts(theta - h * np.eye(k)[i])
        H[:k, i] = (up[2] - down[2]) / (2 * h)
        H[i, k] = H[k, i] = -2.0 * (up[0] - down[0]) / (2 * h) / sigma ** 3
        jac[i] = s2 * (up[1] - down[1]) / (2 * h)
    H[:k, :k] = 0.5 * (H[:k, :k] + H[:k, :k].T)
    H[k, k] = 6.0 * pw0 / s2 ** 2 - 2.0 * (problem.n - p) / s2
    jac[k] = 2.0 * sigma * rxi0
    A, V = 2.0 * np.linalg.inv(H), s2 * rxi0
    for r in ref["cell_means"]:
        l = _row(fit, {f: r[f] for f in CELL})
        g = np.einsum("i,kij,j->k", l, jac, l)
        assert 2.0 * (l @ V @ l) ** 2 / (g @ A @ g) == pytest.approx(r["df"], rel=1e-6)
