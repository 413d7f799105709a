"""Tests for the fast path of the report's model selection: one pivot block for a factor's terms, deferred
Satterthwaite df, mapped starts, cached designs, and agreement with full (cold) fits."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_models import FACTORS, trials
from test_pls import brute_force

from analysis.design_matrices import DESIGN_CONTRASTS, build_design
from analysis.formula import parse_formula
from analysis.lmm import convergence_checkable, fit_lmm, with_satterthwaite
from analysis.lmm_start import NUDGE, mapped_start
from analysis.models import _variance, fit_with_selection
from analysis.pls import PLSProblem
from analysis.pls_gradient import deviance_gradient


def crossed(n=400, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n), "z": rng.normal(size=n),
                         "a": rng.integers(0, 15, n).astype(str), "b": rng.integers(0, 25, n).astype(str)})


def problem(data, formula):
    _, y, fixed, blocks = build_design(data, parse_formula(formula))
    return PLSProblem(y, fixed.X, blocks), y, fixed.X


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("other, theta_other", [("(1 | a)", [1.3]), ("(1 + x | a)", [1.3, -0.4, 0.6]),
                                                ("(1 + x || a)", [1.3, 0.6])])
def test_terms_of_one_factor_form_one_pivot(reml, other, theta_other):
    """The terms of (1 + x + z || b) are eliminated together and the deviance is still the brute-force one."""
    pls, y, X = problem(crossed(), f"y ~ x + (1 + x + z || b) + {other}")
    assert len(pls.pivot_terms) == 3 and {pls.blocks[k].factor for k in pls.pivot_terms} == {"b"}
    theta = np.array([0.7, 0.4, 0.9] + theta_other)
    expected, beta = brute_force(pls, y, X, theta, reml)
    assert pls.criterion(pls.evaluate(theta), reml) == pytest.approx(expected, rel=1e-10)
    assert np.allclose(pls.solve(pls.evaluate(theta))[0], beta, rtol=1e-8)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("other", ["(1 + x | a)", "(1 + x + z || a)"])
def test_gradient_with_a_pivot_of_several_terms(reml, other):
    """The analytic gradient with the terms of (1 + x + z || b) eliminated together matches central differences."""
    pls, _, _ = problem(crossed(), f"y ~ x + (1 + x + z || b) + {other}")
    assert pls.rest_scalar == ("||" in other)
    theta = np.array([0.7, 0.4, 0.9, 1.3, 0.3, 0.6])
    grad = deviance_gradient(pls, pls.evaluate(theta), reml)
    h = 1e-6
    numeric = np.array([(pls.deviance(theta + h * e, reml) - pls.deviance(theta - h * e, reml)) / (2 * h)
                        for e in np.eye(len(theta))])
    assert np.max(np.abs(grad - numeric)) <= 1e-5 * np.max(np.abs(numeric))
    assert deviance_gradient(pls, pls.evaluate(theta * [1, 0, 1, 1, 1, 1]), reml) is None  # on a bound


def test_deferred_satterthwaite_is_the_full_fit():
    """fit_lmm(satterthwaite=False) completed by with_satterthwaite is fit_lmm's default result."""
    data = trials(slope_sd=6.0)
    formula = "y ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)"
    full = fit_lmm(data, formula, contrasts=DESIGN_CONTRASTS)
    lazy = fit_lmm(data, formula, contrasts=DESIGN_CONTRASTS, satterthwaite=False)
    assert lazy.satterthwaite is None and np.isnan(lazy.fixed["df"]).all()
    done = with_satterthwaite(lazy)
    pd.testing.assert_frame_equal(done.fixed, full.fixed, rtol=1e-12)
    assert (done.converged, done.warnings) == (full.converged, full.warnings)
    assert with_satterthwaite(done) is done


def test_convergence_check_applies_inside_the_bounds_only():
    """The scaled-gradient check (which can change `converged`) applies when no variance factor is at 0."""
    data = trials(slope_sd=0.0)
    singular = fit_lmm(data, "y ~ pain + (1 + pain || participant) + (1 | stimulus_id)", contrasts=DESIGN_CONTRASTS,
                       satterthwaite=False)
    assert singular.singular and not convergence_checkable(singular)
    regular = fit_lmm(data, "y ~ pain + (1 | participant) + (1 | stimulus_id)", contrasts=DESIGN_CONTRASTS,
                      satterthwaite=False)
    assert convergence_checkable(regular)


def test_mapped_start_takes_the_previous_covariances():
    """A || fit mapped onto the correlated model: its variances, no correlation, zero variances moved off 0."""
    assert NUDGE > 1e-4
    data = trials(slope_sd=0.0)
    previous = fit_lmm(data, "y ~ pain + (1 + pain || participant) + (1 | stimulus_id)", contrasts=DESIGN_CONTRASTS)
    pls, _, _ = problem(data.assign(**{c: data[c].map(DESIGN_CONTRASTS[c]) for c in ("pain",)}),
                        "y ~ pain + (1 + pain | participant) + (1 + perspective | stimulus_id)")
    theta = mapped_start(pls, previous)
    relative = {(r.group.split(".")[0], r.term1): r.vcov / previous.sigma ** 2
                for r in previous.random.itertuples() if pd.isna(r.term2)}
    for k, blk in enumerate(pls.blocks):
        T = np.zeros((blk.p, blk.p))
        T[pls.tri[k]] = theta[pls.theta_slices[k]]
        for i, name in enumerate(blk.names):
            want = np.sqrt(relative.get((blk.factor, name), 1.0))  # a column the previous fit lacks: 1
            assert T[i, i] == pytest.approx(want if want > 1e-4 else NUDGE, rel=1e-6)
        assert np.allclose(T[np.tril_indices(blk.p, -1)], 0.0)


def test_start_from_reaches_the_same_optimum():
    """Starting from another data set's optimum (a θ) or from a fit of another structure ends where a cold fit does."""
    data = trials(slope_sd=6.0)
    formula = "y ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)"
    cold = fit_lmm(data, formula, contrasts=DESIGN_CONTRASTS)
    other = fit_lmm(trials(slope_sd=6.0, seed=5), formula, contrasts=DESIGN_CONTRASTS)
    smaller = fit_lmm(data, "y ~ pain * perspective * group + (1 | participant)", contrasts=DESIGN_CONTRASTS)
    for start_from in (other.theta, smaller, [smaller, other.theta]):
        warm = fit_lmm(data, formula, contrasts=DESIGN_CONTRASTS, start_from=start_from)
        assert warm.criterion == pytest.approx(cold.criterion, abs=1e-7)
        assert np.allclose(warm.fixed["estimate"], cold.fixed["estimate"], atol=1e-5 * cold.fixed["se"].min())


def test_variance_lookup_matches_the_random_table():
    """_variance reads the covariance matrices directly; it equals the lookup in `random` it replaces."""
    fit = fit_lmm(trials(slope_sd=6.0), "y ~ pain + (1 + pain + perspective || participant) + (1 | stimulus_id)",
                  contrasts=DESIGN_CONTRASTS)
    rnd = fit.random
    for factor, term in [("participant", "pain"), ("participant", "perspective"), ("participant", "(Intercept)"),
                         ("stimulus_id", "(Intercept)"), ("stimulus_id", "pain")]:
        on = (rnd["group"] == factor) | rnd["group"].str.startswith(f"{factor}.")
        row = rnd[on & (rnd["term1"] == term) & rnd["term2"].isna()]
        assert _variance(fit, factor, term) == (float(row["vcov"].iloc[0]) if len(row) else 0.0)


@pytest.mark.parametrize("slope_sd", [0.0, 6.0])
def test_fast_selection_agrees_with_full_fits(slope_sd):
    """The default engine (deferred df, mapped starts, cached designs) keeps what full fits of every candidate keep."""
    from analysis.lmm import fit_lmm as full

    cache = {}
    for seed in (1, 2):
        data = trials(slope_sd=slope_sd, seed=seed)
        fast = fit_with_selection(data, "y", FACTORS, cache=cache)
        cold = fit_with_selection(data, "y", FACTORS, fit=full)
        assert fast.formula == cold.formula and fast.steps == cold.steps
        a, b = fast.result.fixed, cold.result.fixed
        assert np.max(np.abs(a["estimate"] - b["estimate"]) / b["se"]) < 1e-4
        assert np.max(np.abs(a["se"] - b["se"]) / b["se"]) < 1e-4
        assert np.max(np.abs(a["df"] - b["df"]) / b["df"]) < 1e-2
        assert fast.result.satterthwaite is not None
    assert {f for f, _, _ in fast.steps} <= {formula for formula, _ in cache["designs"]}


def test_cache_reuses_the_starting_structure_only_for_the_same_design():
    """The maximal structure is looked up in `cache` for the same factor columns, found anew for another design."""
    data = trials(slope_sd=6.0)
    cache = {}
    first = fit_with_selection(data, "y", FACTORS, cache=cache)
    again = fit_with_selection(data.assign(y=data["y"] + 1.0), "y", FACTORS, cache=cache)
    assert first.steps[0][0] == again.steps[0][0]
    between = data.assign(group=np.where(data["participant"].str[1:].astype(int) % 2, "ingroup", "outgroup"))
    other = fit_with_selection(between, "y", FACTORS, cache=cache)
    assert "group" not in other.steps[0][0].split("|")[0].split("(")[-1]  # no participant slope for a between factor


def test_design_cache_gives_the_same_fit():
    """fit_lmm with a design cache across data sets of one design equals fits without it (missing responses too)."""
    data = trials(slope_sd=6.0)
    rng = np.random.default_rng(4)
    redrawn = data.assign(y=data["y"] + rng.normal(0, 2, len(data)))
    redrawn.loc[rng.choice(len(data), 40, replace=False), "y"] = np.nan
    no_p3 = redrawn.assign(y=redrawn["y"].where(redrawn["participant"] != "p3"))  # a level without responses
    formula = "y ~ pain * perspective * group + (1 + pain | participant) + (1 + perspective | stimulus_id)"
    cache = {}
    for frame in (data, redrawn, no_p3, redrawn):
        cached = fit_lmm(frame, formula, contrasts=DESIGN_CONTRASTS, design_cache=cache)
        plain = fit_lmm(frame, formula, contrasts=DESIGN_CONTRASTS)
        assert cached.n_obs == plain.n_obs and np.array_equal(cached.rows, plain.rows)
        assert cached.criterion == pytest.approx(plain.criterion, rel=1e-12)
        pd.testing.assert_frame_equal(cached.fixed, plain.fixed, rtol=1e-8)
    assert len(cache) == 1
    other = data.assign(pain=data["pain"].iloc[::-1].to_numpy())  # another design: rebuilt
    assert fit_lmm(other, formula, contrasts=DESIGN_CONTRASTS, design_cache=cache).criterion == pytest.approx(
        fit_lmm(other, formula, contrasts=DESIGN_CONTRASTS).criterion, rel=1e-12)
