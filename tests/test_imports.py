"""Import discipline: no package pulls in PsychoPy; the data-only pilot needs no plotting or statistics stack."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("psychopy", "matplotlib", "statsmodels", "pingouin")


def loaded_after(code):
    """Heavy top-level modules present in a fresh interpreter after running ``code``."""
    probe = code + f"\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", ["paradigm", "stimuli", "analysis"])
def test_package_import_is_light(package):
    """Importing a package loads none of PsychoPy, matplotlib, statsmodels or pingouin."""
    assert loaded_after(f"import {package}") == []


def test_help_is_light():
    """`paradigm --help` imports no heavy library."""
    assert loaded_after("from paradigm.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass") == []


def test_data_only_pilot_is_light(placeholder_manifest, tmp_path):
    """A whole data-only pilot runs without PsychoPy, matplotlib, statsmodels or pingouin."""
    code = (f"from paradigm.cli import main\n"
            f"assert main(['-q', 'pilot', 'protocols/default.yaml', '--set', 'stimuli.manifest={placeholder_manifest}',"
            f" '--participants', '1', '--out', '{tmp_path / 'out'}', '--jobs', '1']) == 0")
    assert loaded_after(code) == []


@pytest.mark.parametrize("package", ["paradigm", "stimuli", "analysis"])
def test_public_api(package):
    """Every name in a package's __all__ exists."""
    module = __import__(package)
    assert all(hasattr(module, name) for name in module.__all__)


def test_psychopy_is_imported_only_in_paradigm_lab():
    """No module outside paradigm/lab names psychopy in an import statement."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"^\s*(from|import)\s+psychopy\b", re.MULTILINE)
    offenders = [str(path.relative_to(root)) for package in ("paradigm", "stimuli", "analysis")
                 for path in (root / package).rglob("*.py")
                 if pattern.search(path.read_text(encoding="utf-8")) and "lab" not in path.relative_to(root).parts]
    assert offenders == []
