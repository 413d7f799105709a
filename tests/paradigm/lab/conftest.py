"""Fixtures for the PsychoPy tests: an Xvfb screen and a small generated stimulus set."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab_helpers import SCREEN  # noqa: E402


@pytest.fixture(scope="session")
def xvfb():
    """An Xvfb display for the session's tests; returns the environment to run PsychoPy in."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is missing: run the tests through tests/run.sh, which installs it")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
                             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as fh:
        number = fh.readline().strip()
    env = dict(os.environ, DISPLAY=f":{number}", PSYCHOPYNOPACKAGES="1", PYTHONUNBUFFERED="1")
    yield env
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def stimulus_set(tmp_path_factory):
    """A generated set, 2 identities per (type, group) at 256 px: enough for the short protocol."""
    from stimuli.generate import generate_set

    return generate_set(tmp_path_factory.mktemp("lab_set") / "set", seed=3, identities_per_group=2,
                        size_px=256, workers=1)
