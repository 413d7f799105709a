"""Tests for analysis.models: the singular-fit simplification rule, formulas, and contrasts from the fixed effects."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.models import RandomPart, cell_means, fit_with_selection, maximal_random, model_formula, pain_contrasts


def trials(slope_sd, n_people=16, n_stimuli=8, seed=1):
    """Crossed participants × stimuli with pain, perspective and group, effect-coded truth, known slope SD."""
    rng = np.random.default_rng(seed)
    stim = rng.normal(0, 2, 2 * n_stimuli)
    rows = []
    for p in range(n_people):
        u0, u1 = rng.normal(0, 4), rng.normal(0, slope_sd)
        for s in range(2 * n_stimuli):
            pain = "pain" if s < n_stimuli else "neutral"
            for persp in ("self", "other"):
                group = "ingroup" if (s + p) % 2 else "outgroup"
                x = 0.5 if pain == "pain" else -0.5
                g = 0.5 if group == "outgroup" else -0.5
                y = 50 + 20 * x + 3 * (0.5 if persp == "self" else -0.5) - 4 * x * g + u0 + u1 * x + stim[s]
                rows.append({"participant": f"p{p}", "stimulus_id": f"s{s}", "pain": pain, "perspective": persp,
                             "group": group, "y": y + rng.normal(0, 3)})
    return pd.DataFrame(rows)


FACTORS = ["pain", "perspective", "group"]


def test_formula_shapes():
    """Candidate formulas follow the documented steps."""
    assert model_formula("y", FACTORS, RandomPart(slopes=("pain",))) == \
        "y ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)"
    assert model_formula("y", FACTORS, RandomPart(slopes=("pain",), correlated=False, stimulus=False)) == \
        "y ~ pain * perspective * group + (1 + pain || participant)"
    assert model_formula("y", ["pain", "stimulus_type"]) == \
        "y ~ pain + stimulus_type + (1 | participant) + (1 | stimulus_id)"
    assert model_formula("y", FACTORS, RandomPart(("pain", "group"), ("perspective",), stimulus=False)) == \
        "y ~ pain * perspective * group + (1 + pain + group | participant) + (0 + perspective | stimulus_id)"


def test_maximal_structure_follows_the_design():
    """Slopes on participants for factors varying within them; on stimuli only for those varying within stimuli."""
    data = trials(slope_sd=6.0)
    assert maximal_random(data, FACTORS) == RandomPart(("pain", "perspective", "group"), ("perspective", "group"))
    between = data.assign(group=np.where(data["participant"].str[1:].astype(int) % 2, "ingroup", "outgroup"))
    assert maximal_random(between, FACTORS) == RandomPart(("pain", "perspective"), ("perspective", "group"))
    assert maximal_random(data, FACTORS, stimulus=False) == RandomPart(("pain", "perspective", "group"), (),
                                                                       stimulus=False)


def test_non_singular_keeps_the_largest_model():
    """With a real pain-slope variance the first (largest) candidate is kept."""
    fit = fit_with_selection(trials(slope_sd=6.0), "y", FACTORS, slopes=("pain",))
    assert len(fit.steps) == 1 and "(1 + pain | participant)" in fit.formula and not fit.result.singular


def test_singular_fit_is_simplified_by_the_rule():
    """Without a slope variance the rule drops the correlation, then the slope, and ends non-singular."""
    fit = fit_with_selection(trials(slope_sd=0.0), "y", FACTORS, slopes=("pain",))
    formulas = [f for f, _, _ in fit.steps]
    assert formulas[0].endswith("(1 + pain | participant) + (1 | stimulus_id)")
    assert fit.steps[0][1] is True
    assert fit.formula.endswith("(1 | participant) + (1 | stimulus_id)")
    assert not fit.result.singular
    assert all("||" in f for f in formulas[1:-1])


def test_contrasts_agree_with_coefficients():
    """Pain overall equals the pain coefficient; in-group bias is −pain:group; cell means average to the intercept."""
    fit = fit_with_selection(trials(slope_sd=6.0), "y", FACTORS, slopes=("pain",))
    fixed = fit.result.fixed.set_index("term")
    con = pain_contrasts(fit.result, FACTORS).set_index("contrast")
    assert con.loc["pain − neutral (all)", "estimate"] == pytest.approx(fixed.loc["pain", "estimate"])
    assert con.loc["pain − neutral (all)", "se"] == pytest.approx(fixed.loc["pain", "se"])
    assert con.loc["pain − neutral (all)", "df"] == pytest.approx(fixed.loc["pain", "df"], rel=1e-6)
    bias = con.loc["in-group bias: pain effect in-group − out-group"]
    assert bias["estimate"] == pytest.approx(-fixed.loc["pain:group", "estimate"])
    assert bias["ci_low"] <= 4 <= bias["ci_high"]
    means = cell_means(fit.result, FACTORS)
    assert len(means) == 8 and means["estimate"].mean() == pytest.approx(fixed.loc["(Intercept)", "estimate"])
    cells = [c for c in con.index if c.startswith("pain − neutral |")]
    assert len(cells) == 4
    assert np.mean([con.loc[c, "estimate"] for c in cells]) == pytest.approx(fixed.loc["pain", "estimate"])


def test_rule_drops_the_slope_without_variance():
    """Starting from pain and perspective slopes, pain's slope (the one with variance) is never the one dropped;
    the correlation of what is left is restored."""
    for seed in (1, 4):  # seeds whose correlated and uncorrelated fits are both singular
        fit = fit_with_selection(trials(slope_sd=6.0, seed=seed), "y", FACTORS, slopes=("pain", "perspective"))
        assert [s[1] for s in fit.steps] == [True, True, False, False]
        assert fit.steps[2][0].endswith("(1 + pain || participant) + (1 | stimulus_id)")
        assert fit.formula.endswith("(1 + pain | participant) + (1 | stimulus_id)")


def test_maximal_start_is_simplified_to_the_supported_terms():
    """From the maximal structure on data with only a pain-slope variance, the rule ends non-singular keeping it."""
    fit = fit_with_selection(trials(slope_sd=6.0), "y", FACTORS)
    assert fit.steps[0][0].endswith("(1 + pain + perspective + group | participant) "
                                    "+ (1 + perspective + group | stimulus_id)")
    assert fit.steps[0][1] is True and not fit.result.singular
    random = fit.result.random
    pain_slope = random[random["group"].str.startswith("participant") & (random["term1"] == "pain")
                        & random["term2"].isna()]
    assert float(pain_slope["sdcor"].iloc[0]) == pytest.approx(6.0, rel=0.5)   # the true slope SD survives
    variances = random[random["term2"].isna() & (random["group"] != "Residual")]["vcov"]
    assert (variances > 1e-6 * fit.result.sigma ** 2).all() and len(variances) < 7   # zero terms dropped
