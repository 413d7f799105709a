"""Tests for analysis.formula: lme4 formula syntax into terms."""
from __future__ import annotations

import pytest

from analysis.formula import FormulaError, parse_formula


def test_simple_random_slope():
    """A correlated random slope gives one random term with an intercept and the slope."""
    f = parse_formula("Reaction ~ Days + (Days | Subject)")
    assert f.response == "Reaction"
    assert f.fixed.labels == ["Days"] and f.fixed.intercept
    (term,) = f.random
    assert term.group == ("Subject",) and term.expr.intercept and term.expr.labels == ["Days"]


def test_star_expands_like_r():
    """a*b*c expands to main effects, two-way and three-way interactions in R's order."""
    f = parse_formula("y ~ a * b * c + (1 | g)")
    assert f.fixed.labels == ["a", "b", "c", "a:b", "a:c", "b:c", "a:b:c"]


def test_interaction_variable_order_follows_first_appearance():
    """Variables inside an interaction label are ordered by their first appearance in the formula."""
    assert parse_formula("y ~ a + b + b:a + (1 | g)").fixed.labels == ["a", "b", "a:b"]


@pytest.mark.parametrize("text", ["y ~ 0 + x + (1 | g)", "y ~ x - 1 + (1 | g)", "y ~ -1 + x + (1 | g)"])
def test_no_intercept(text):
    """0 + and - 1 remove the intercept."""
    assert not parse_formula(text).fixed.intercept


def test_double_bar_splits_columns():
    """(1 + x || g) becomes one term per model-matrix column."""
    f = parse_formula("y ~ x + (1 + x || g)")
    assert [t.only_column for t in f.random] == [0, 1]
    assert all(t.group == ("g",) for t in f.random)


def test_nested_grouping():
    """(1 | a/b) stands for (1 | a) + (1 | b:a) as lme4 names it; (1 | c:d) is one interaction factor."""
    f = parse_formula("y ~ 1 + (1 | a/b) + (1 | c:d)")
    assert [t.group for t in f.random] == [("a",), ("b", "a"), ("c", "d")]
    assert f.random[1].group_name == "b:a"


def test_parenthesised_sum_times_factor():
    """(a + b) * c distributes over the sum."""
    assert parse_formula("y ~ (a + b) * c + (1 | g)").fixed.labels == ["a", "b", "c", "a:c", "b:c"]


def test_backticks_and_variables():
    """Backtick names parse as names and variables lists every column used."""
    f = parse_formula("`my y` ~ `x 1` + (1 | g)")
    assert f.response == "my y" and f.variables == ["my y", "x 1", "g"]


@pytest.mark.parametrize("text, fragment", [
    ("Reaction Days", "response ~ terms"),
    ("y ~ x + (1 |", "ends too early"),
    ("y ~ x + log(z) + (1 | g)", "function calls"),
    ("y ~ x $ z", "unexpected character"),
    ("y ~ y + (1 | g)", "also appears"),
    ("a + b ~ x", "single column name"),
    ("y ~ x + (1 | 2)", "grouping factor"),
])
def test_bad_syntax_names_the_problem(text, fragment):
    """Bad formulas raise FormulaError whose message says what is wrong."""
    with pytest.raises(FormulaError) as info:
        parse_formula(text)
    assert fragment in str(info.value)
