"""`stimuli match`: luminance- and contrast-equalised copies with a new manifest."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stimuli import read_manifest
from stimuli.check import check_manifest
from stimuli.cli import main
from stimuli.imagestats import luma
from stimuli.match import match_image, match_set


@pytest.fixture(scope="module")
def matched(small_set, tmp_path_factory):
    return match_set(small_set, tmp_path_factory.mktemp("matched") / "set")


def test_pain_and_neutral_luminance_within_one_percent(matched):
    """After matching, pain and neutral mean luminance differ by under 1 % in each stimulus type."""
    table = {(r["stimulus_type"], r["pain"]): r for r in check_manifest(matched).condition_table()}
    for stype in ("face", "hand"):
        pain, neutral = table[(stype, "pain")]["mean_luminance"], table[(stype, "neutral")]["mean_luminance"]
        assert abs(pain - neutral) / neutral < 0.01


def test_every_image_hits_the_targets(matched):
    """Each matched image's mean luma and RMS contrast are within 1 % of the set's targets."""
    ys = [luma(Image.open(s.path)) for s in read_manifest(matched).stimuli]
    means, stds = np.array([y.mean() for y in ys]), np.array([y.std() for y in ys])
    assert np.ptp(means) / means.mean() < 0.01
    assert np.ptp(stds) / stds.mean() < 0.02


def test_matched_manifest_is_valid_and_marked(matched, small_set):
    """The new manifest passes check, keeps ids and attributes and says the images were matched."""
    report = check_manifest(matched, stats=False)
    assert report.ok, report.problems
    new, old = read_manifest(matched).stimuli, read_manifest(small_set).stimuli
    assert [s.stimulus_id for s in new] == [s.stimulus_id for s in old]
    assert all(s.source.endswith("(luminance/contrast matched)") for s in new)
    assert [s.attributes for s in new] == [s.attributes for s in old]
    assert [s.pspi for s in new] == [s.pspi for s in old]


def test_originals_untouched(small_set, tmp_path):
    """Matching does not modify the source set."""
    before = {s.path: s.path.read_bytes() for s in read_manifest(small_set).stimuli}
    assert main(["match", str(small_set), "--out", str(tmp_path / "m")]) == 0
    assert all(p.read_bytes() == b for p, b in before.items())


def test_match_refuses_its_own_folder(small_set, capsys):
    """Writing the matched set over the source folder is refused with exit 2."""
    assert main(["match", str(small_set), "--out", str(small_set.parent)]) == 2
    assert "'out' must differ from the manifest's folder" in capsys.readouterr().err


def test_match_image_grey():
    """A greyscale gradient is mapped to the requested mean and standard deviation."""
    arr = np.tile(np.linspace(40, 200, 64, dtype=np.float64), (64, 1)).astype(np.uint8)
    out = match_image(arr, 0.5, 0.1)
    y = out / 255.0
    assert abs(y.mean() - 0.5) < 0.002 and abs(y.std() - 0.1) < 0.002
