"""Fixtures shared by the test suite: a placeholder stimulus set and the default protocol pointed at it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

from helpers import write_placeholder_manifest  # noqa: E402


@pytest.fixture(scope="session")
def placeholder_manifest(tmp_path_factory):
    """A paired face/hand manifest with 12 identities per type and group, tiny PNGs on disk."""
    return write_placeholder_manifest(tmp_path_factory.mktemp("stimuli"))


@pytest.fixture(scope="session")
def default_protocol(placeholder_manifest):
    """The bundled default protocol, its manifest pointed at the placeholder set."""
    from paradigm import load_protocol

    return load_protocol(REPO / "protocols" / "default.yaml", {"stimuli.manifest": str(placeholder_manifest)})


@pytest.fixture(scope="session")
def manifest(placeholder_manifest):
    from stimuli import read_manifest

    return read_manifest(placeholder_manifest)
