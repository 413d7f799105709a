"""Shared fixtures: one small generated set per session, copied per test that edits it."""
from __future__ import annotations

import shutil

import pytest

SMALL = {"identities_per_group": 2, "size_px": 96, "workers": 1}


@pytest.fixture(scope="session")
def small_settings():
    """The generate_set keyword arguments (besides the seed 7) of :func:`small_set`."""
    return dict(SMALL)


@pytest.fixture(scope="session")
def small_set(tmp_path_factory):
    """A generated set with 2 identities per (type, group) at 96 px: 16 images; do not modify."""
    from stimuli.generate import generate_set

    return generate_set(tmp_path_factory.mktemp("small") / "set", seed=7, **SMALL)


@pytest.fixture
def set_copy(small_set, tmp_path):
    """A private copy of the small set (for tests that break it); returns its manifest path."""
    dest = tmp_path / "set"
    shutil.copytree(small_set.parent, dest)
    return dest / "manifest.csv"
