"""The generated set: layout, manifest, determinism and the cache."""
from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from stimuli import read_manifest
from stimuli.generate import LICENCE, PSPI_LEVELS, SOURCE, generate_set, plan_set


def test_small_set_layout(small_set):
    """2 identities per type and group give 16 images, each identity a pain and a neutral image."""
    m = read_manifest(small_set)
    assert len(m) == 16
    cells = {}
    for s in m.stimuli:
        cells.setdefault((s.stimulus_type, s.group), set()).add(s.identity)
        assert s.pair_id == s.identity and s.source == SOURCE and s.licence == LICENCE
        assert s.path.is_file() and not s.file.startswith("/")
    assert {k: len(v) for k, v in cells.items()} == {(t, g): 2 for t in ("face", "hand") for g in ("A", "B")}


def test_pspi_recorded_for_faces(small_set):
    """Pain faces carry a PSPI in the default range, neutral faces 0 and hands none."""
    for s in read_manifest(small_set).stimuli:
        if s.stimulus_type == "hand":
            assert s.pspi is None
        elif s.pain == "pain":
            assert s.pspi in PSPI_LEVELS
        else:
            assert s.pspi == 0


def test_default_layout_has_twelve_identities_per_cell():
    """The default plan has 12 identities per type and group with PSPI levels varied."""
    jobs = plan_set()
    assert len(jobs) == 48
    levels = [j["pspi"] for j in jobs if j["type"] == "face"]
    assert len(set(levels)) >= 6
    assert sorted(j["pspi"] for j in jobs if j["type"] == "face" and j["group"] == "A") == \
        sorted(j["pspi"] for j in jobs if j["type"] == "face" and j["group"] == "B")


def test_same_seed_same_bytes(small_set, small_settings, tmp_path):
    """Generating again with the same seed reproduces every file hash."""
    again = generate_set(tmp_path / "again", seed=7, **small_settings)
    assert [s.sha256 for s in read_manifest(again).stimuli] == [s.sha256 for s in read_manifest(small_set).stimuli]


def test_other_seed_other_set(small_set, small_settings, tmp_path):
    """A different seed gives different images."""
    other = generate_set(tmp_path / "other", seed=8, **small_settings)
    assert {s.sha256 for s in read_manifest(other).stimuli}.isdisjoint(
        {s.sha256 for s in read_manifest(small_set).stimuli})


def test_if_missing_reuses_a_verified_set(set_copy, small_settings):
    """--if-missing leaves a current set untouched."""
    before = {p: p.stat().st_mtime_ns for p in set_copy.parent.rglob("*.png")}
    generate_set(set_copy.parent, seed=7, if_missing=True, **small_settings)
    assert {p: p.stat().st_mtime_ns for p in set_copy.parent.rglob("*.png")} == before


def test_if_missing_regenerates_a_damaged_set(set_copy, small_settings):
    """--if-missing regenerates when an image no longer matches its hash."""
    victim = next(set_copy.parent.rglob("*.png"))
    original = victim.read_bytes()
    victim.write_bytes(b"broken")
    generate_set(set_copy.parent, seed=7, if_missing=True, **small_settings)
    assert victim.read_bytes() == original


def test_if_missing_regenerates_for_another_seed(set_copy, small_settings):
    """--if-missing with a different seed replaces the set."""
    before = set_copy.read_bytes()
    generate_set(set_copy.parent, seed=99, if_missing=True, **small_settings)
    assert set_copy.read_bytes() != before


def test_manifest_has_declared_attributes(small_set):
    """The manifest's extra columns are declared free attributes."""
    with open(small_set, newline="") as fh:
        header = next(csv.reader(fh))
    assert header[-3:] == ["skin_tone", "hair_style", "hand_side"]


@pytest.mark.parametrize("kwargs, message", [
    ({"identities_per_group": 0}, "'identities_per_group' must be at least 1"),
    ({"size_px": 10}, "'size_px' must be at least 64"),
    ({"types": ("face", "foot")}, "'types' must be face and/or hand"),
    ({"workers": 0}, "'workers' must be at least 1"),
])
def test_bad_settings_are_refused(tmp_path, kwargs, message):
    """Impossible settings raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=message):
        generate_set(tmp_path / "x", **kwargs)


def test_import_stays_light():
    """`import stimuli` loads neither numpy, PIL nor matplotlib."""
    code = "import sys, stimuli; print(sorted(m for m in ('numpy', 'PIL', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_regenerating_smaller_removes_stale_images(set_copy, small_settings):
    """Regenerating with fewer identities removes the images the new manifest no longer lists."""
    generate_set(set_copy.parent, seed=7, force=True, **{**small_settings, "identities_per_group": 1})
    listed = {s.path for s in read_manifest(set_copy).stimuli}
    assert set(set_copy.parent.rglob("*.png")) == listed and len(listed) == 8


def test_refuses_to_overwrite_a_foreign_manifest(tmp_path):
    """A folder holding someone else's manifest.csv is left alone."""
    (tmp_path / "manifest.csv").write_text("file,stimulus_id\n")
    with pytest.raises(ValueError, match="holds a manifest.csv that stimuli generate did not write"):
        generate_set(tmp_path, identities_per_group=1, size_px=64, workers=1)
    assert (tmp_path / "manifest.csv").read_text() == "file,stimulus_id\n"
