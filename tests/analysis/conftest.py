"""Fixtures for the mixed-model tests; puts this folder on sys.path for the lmm_reference helpers."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lmm_reference import MODELS  # noqa: E402


@pytest.fixture(params=MODELS)
def model_name(request):
    """Each reference model by name."""
    return request.param
