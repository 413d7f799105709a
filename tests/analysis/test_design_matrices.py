"""Tests for analysis.design_matrices: R's column names and codings, and the input errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.design_matrices import DESIGN_CONTRASTS, build_design
from analysis.formula import parse_formula


@pytest.fixture
def frame():
    """Twelve rows, a three-level text factor, a numeric covariate and two groupings."""
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "y": rng.normal(size=12), "x": np.arange(12.0), "f": list("abc") * 4,
        "pain": ["pain", "neutral"] * 6, "g": list("uuuvvvwwwzzz"), "h": list("pq") * 6,
    })


def design(frame, text, contrasts=None):
    return build_design(frame, parse_formula(text), contrasts)


def test_treatment_contrasts_named_like_r(frame):
    """A text factor gets R's treatment columns <var><level> with the first sorted level as reference."""
    _, _, fixed, _ = design(frame, "y ~ x * f + (1 | g)")
    assert fixed.names == ["(Intercept)", "x", "fb", "fc", "x:fb", "x:fc"]
    assert fixed.term_of_column == ["(Intercept)", "x", "f", "f", "x:f", "x:f"]
    assert np.array_equal(fixed.X[:3, 2], [0, 1, 0])


def test_effect_coding_gives_one_named_column(frame):
    """The design coding puts pain in one column named pain, +0.5 for pain and -0.5 for neutral."""
    _, _, fixed, _ = design(frame, "y ~ pain * x + (1 | g)", DESIGN_CONTRASTS)
    assert fixed.names == ["(Intercept)", "pain", "x", "pain:x"]
    assert list(fixed.X[:2, 1]) == [0.5, -0.5]


def test_sum_contrasts(frame):
    """contr.sum columns are named <var>1, <var>2 and code the last level -1."""
    _, _, fixed, _ = design(frame, "y ~ f + (1 | g)", {"f": "sum"})
    assert fixed.names == ["(Intercept)", "f1", "f2"]
    assert list(fixed.X[2, 1:]) == [-1, -1]


def test_no_intercept_full_dummy(frame):
    """Without an intercept the first factor gets one indicator per level, as in R."""
    _, _, fixed, _ = design(frame, "y ~ 0 + f + x + (1 | g)")
    assert fixed.names == ["fa", "fb", "fc", "x"]


def test_two_factor_interaction_names_vary_first_fastest(frame):
    """Interaction columns of two factors vary the first factor fastest, as R names them."""
    _, _, fixed, _ = design(frame, "y ~ f:h + f + h + (1 | g)")
    assert fixed.names[-2:] == ["fb:hq", "fc:hq"]


def test_random_blocks_ordered_by_levels_and_nested_labels(frame):
    """Random terms sort by decreasing number of levels; a:b grouping labels join level names with ':'."""
    _, _, _, blocks = design(frame, "y ~ x + (1 | h) + (1 | g:h)")
    assert [b.group for b in blocks] == ["g:h", "h"]
    assert blocks[0].levels[:2] == ["u:p", "u:q"]


def test_missing_rows_dropped(frame):
    """Rows with a missing value in a used column are dropped."""
    frame.loc[0, "x"] = np.nan
    rows, y, _, _ = design(frame, "y ~ x + (1 | g)")
    assert len(rows) == len(y) == 11


@pytest.mark.parametrize("text, error, fragment", [
    ("y ~ xx + (1 | g)", KeyError, "did you mean 'x'"),
    ("f ~ x + (1 | g)", ValueError, "must be numeric"),
    ("y ~ x + (1 | one)", ValueError, "needs at least 2 levels"),
    ("y ~ x + f + fb + (1 | g)", ValueError, "rank deficient: column 'fb'"),
    ("y ~ x + (1 | row)", ValueError, "fewer levels than observations"),
    ("y ~ empty + (1 | g)", ValueError, "no non-missing values"),
])
def test_bad_input_names_the_term(frame, text, error, fragment):
    """Each kind of bad input raises an error naming the term."""
    frame["one"] = "A"
    frame["row"] = [f"r{i}" for i in range(12)]
    frame["empty"] = np.nan
    frame["fb"] = (frame["f"] == "b").astype(float)
    with pytest.raises(error) as info:
        design(frame, text)
    assert fragment in str(info.value)


def test_contrast_mapping_must_cover_levels(frame):
    """A level-value coding that misses a level is refused, naming the level."""
    with pytest.raises(ValueError, match="missing"):
        design(frame, "y ~ f + (1 | g)", {"f": {"a": -0.5, "b": 0.5}})


def test_numeric_column_named_in_contrasts_is_a_factor(frame):
    """A numeric 0/1 column given a coding is coded as a factor of its values."""
    frame["z"] = [0, 1] * 6
    _, _, fixed, _ = design(frame, "y ~ z + (1 | g)", {"z": {0: -0.5, 1: 0.5}})
    assert fixed.names == ["(Intercept)", "z"]
    assert list(fixed.X[:2, 1]) == [-0.5, 0.5]
    _, _, fixed, _ = design(frame, "y ~ z + (1 | g)", {"z": "treatment"})
    assert fixed.names == ["(Intercept)", "z1"]
