"""Tests for analysis.type3: lmerTest's type-III hypothesis matrices."""
from __future__ import annotations

import numpy as np
import pytest
from lmm_reference import fit_reference, reference_data

from analysis import fit_lmm
from analysis.type3 import type3_contrasts


def test_numeric_and_effect_coded_terms_test_their_own_columns():
    """With numeric or one-column codings every term's hypothesis is its own coefficient."""
    m = fit_reference("pain_rating")
    contrasts = type3_contrasts(m)
    eye = np.eye(len(m.beta))
    for i, term in enumerate(m.fixed_design.names[1:], start=1):
        assert np.allclose(contrasts[term], eye[[i]])


def test_single_term_uses_the_sequential_basis():
    """A one-term model's rows are the unit upper-triangular Doolittle rows, as lmerTest builds them."""
    rows = type3_contrasts(fit_reference("sleepstudy_factor_slope"))["phase"]
    assert np.allclose(rows, [[0, 1, -0.5], [0, 0, 1]])


def test_main_effect_under_an_interaction_is_marginal():
    """With treatment coding, a main effect inside an interaction is not its simple-effect column."""
    m = fit_reference("pain_treatment")
    row = type3_contrasts(m)["pain"]
    assert row.shape == (1, len(m.beta))
    assert np.count_nonzero(np.abs(row) > 1e-12) > 1


def test_sum_coding_is_refused():
    """Sum-coded factors are refused with a message saying how to recode them."""
    data = reference_data("sleepstudy")
    m = fit_lmm(data, "Reaction ~ Days * phase + (1 | Subject)", contrasts={"phase": "sum"})
    with pytest.raises(ValueError, match="sum"):
        type3_contrasts(m)
