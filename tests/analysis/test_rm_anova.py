"""Tests for analysis.rm_anova: equal to statsmodels' AnovaRM, with Greenhouse–Geisser ε where it applies."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.rm_anova import rm_anova


def cell_means(levels, n=10, seed=0):
    """Participant cell means of a within design with correlated, unequal-variance cells."""
    rng = np.random.default_rng(seed)
    names = list(levels)
    grid = pd.MultiIndex.from_product([levels[k] for k in names], names=names).to_frame(index=False)
    rows = []
    for s in range(n):
        person = rng.normal(0, 2)
        for i, cell in grid.iterrows():
            rows.append({"participant": f"s{s}", **cell.to_dict(),
                         "y": person + 0.5 * i + rng.normal(0, 1 + 0.4 * i) + (s % 3) * (i % 3)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("levels", [
    {"a": ["x", "y"], "b": ["u", "v"]},
    {"a": ["x", "y"], "b": ["u", "v", "w"]},
    {"a": ["x", "y"], "b": ["u", "v"], "c": ["k", "l"]},
])
def test_equals_anovarm(levels):
    """F, df and p equal statsmodels' AnovaRM for every term."""
    means = cell_means(levels)
    ours, _ = rm_anova(means, "y", list(levels))
    ref, _ = rm_anova(means, "y", list(levels), method="statsmodels")
    merged = ours.merge(ref, on="term", suffixes=("", "_ref"))
    assert len(merged) == len(ours) == len(ref)
    for col in ("F", "num_df", "den_df", "p"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-9)


def test_greenhouse_geisser():
    """Two-level effects have ε = 1; a three-level factor gets 1/(k−1) ≤ ε ≤ 1 and p_gg ≥ p."""
    means = cell_means({"a": ["x", "y"], "b": ["u", "v", "w"]})
    table, _ = rm_anova(means, "y", ["a", "b"])
    table = table.set_index("term")
    assert table.loc["a", "gg_epsilon"] == 1.0
    eps = table.loc["b", "gg_epsilon"]
    assert 0.5 <= eps <= 1.0 and table.loc["b", "p_gg"] >= table.loc["b", "p"]
    assert 0 < table.loc["a", "eta_p2"] < 1


def test_incomplete_participant_left_out():
    """A participant missing a cell is left out and listed."""
    means = cell_means({"a": ["x", "y"], "b": ["u", "v"]})
    means = means.drop(index=means.index[(means.participant == "s3") & (means.a == "x") & (means.b == "u")])
    table, left_out = rm_anova(means, "y", ["a", "b"])
    assert left_out == ["s3"] and (table["den_df"] == 8).all()
