"""Contact sheet, a lab's photo folder to a manifest, and the command line."""
from __future__ import annotations

import shutil

import pytest
from PIL import Image

from stimuli import read_manifest
from stimuli.check import check_manifest
from stimuli.cli import main
from stimuli.folder import manifest_from_folder, parse_name
from stimuli.errors import ManifestError


def test_contact_sheet_layout(small_set, tmp_path):
    """The sheet shows one neutral|pain tile per pair: 8 pairs in 4 columns give 2 rows."""
    out = tmp_path / "sheet.png"
    assert main(["sheet", str(small_set), "--out", str(out), "--thumb", "64", "--columns", "4"]) == 0
    with Image.open(out) as img:
        assert img.size == (4 * (2 * 64 + 6 + 6) + 6, 2 * (64 + 14 + 6) + 6)


def test_contact_sheet_per_cell(small_set, tmp_path):
    """--per-cell 1 keeps one pair per type and group (4 pairs, one row of 4)."""
    out = tmp_path / "sheet.png"
    assert main(["sheet", str(small_set), "--out", str(out), "--thumb", "32", "--per-cell", "1"]) == 0
    with Image.open(out) as img:
        assert img.size[1] == 32 + 14 + 6 + 6


@pytest.fixture
def lab_folder(small_set, tmp_path):
    """A lab-style folder: the small set's faces renamed by the convention, in a sub-folder."""
    folder = tmp_path / "photos"
    (folder / "faces").mkdir(parents=True)
    for s in read_manifest(small_set).stimuli:
        if s.stimulus_type == "face":
            ident = s.identity.replace("_", "-")
            pspi = f"_pspi{s.pspi:g}" if s.pain == "pain" else ""
            shutil.copy(s.path, folder / "faces" / f"face_{s.group}_{ident}_{s.pain}{pspi}.png")
    return folder


def test_folder_to_manifest(lab_folder, tmp_path):
    """Convention-named photos become a manifest with complete pairs that passes check."""
    out = tmp_path / "lab" / "manifest.csv"
    assert main(["manifest", str(lab_folder), "--out", str(out), "--source", "our lab",
                 "--licence", "internal"]) == 0
    m = read_manifest(out)
    assert len(m) == 8 and {s.source for s in m.stimuli} == {"our lab"}
    assert all(s.pspi is not None for s in m.stimuli)
    assert check_manifest(out).ok


def test_badly_named_photos_are_all_listed(lab_folder, capsys):
    """Every file breaking the naming convention is listed and the command exits 2."""
    (lab_folder / "IMG_0001.png").write_bytes(b"x")
    (lab_folder / "face_A_x1_sad.png").write_bytes(b"x")
    assert main(["manifest", str(lab_folder)]) == 2
    err = capsys.readouterr().err
    assert "'IMG_0001.png': name must be TYPE_GROUP_IDENTITY_PAIN" in err
    assert "'face_A_x1_sad.png': name must be" in err
    assert "Traceback" not in err


def test_template_lists_every_photo(lab_folder):
    """--template lists unparsed photos with empty fields for the lab to fill in."""
    (lab_folder / "IMG_0001.png").write_bytes(b"x")
    out = manifest_from_folder(lab_folder, template=True)
    text = out.read_text()
    assert "IMG_0001.png,IMG_0001,,,," in text and text.count("\n") == 10


def test_attributes_are_merged_by_identity(lab_folder, tmp_path):
    """An attributes CSV adds sex and age per identity."""
    ids = sorted({parse_name(p.name)["identity"] for p in lab_folder.rglob("*.png")})
    attrs = tmp_path / "attrs.csv"
    attrs.write_text("identity,sex,age\n" + "".join(f"{i},f,3{k}\n" for k, i in enumerate(ids)))
    m = read_manifest(manifest_from_folder(lab_folder, attributes=attrs))
    assert {s.attributes["sex"] for s in m.stimuli} == {"f"}
    assert len({s.attributes["age"] for s in m.stimuli}) == len(ids)


def test_undeclared_attribute_column_is_refused(lab_folder, tmp_path):
    """An attribute column that is neither a common name nor attr_… is refused."""
    attrs = tmp_path / "attrs.csv"
    attrs.write_text("identity,shoe_size\nx,42\n")
    with pytest.raises(ManifestError, match="unknown attribute column 'shoe_size'"):
        manifest_from_folder(lab_folder, attributes=attrs)


@pytest.mark.parametrize("name, expected", [
    ("face_A_m01_pain_pspi9.jpg", {"stimulus_type": "face", "group": "A", "identity": "m01", "pain": "pain",
                                   "pspi": "9"}),
    ("HAND_B_h-2_Neutral.PNG", {"stimulus_type": "hand", "group": "B", "identity": "h-2", "pain": "neutral",
                                "pspi": ""}),
    ("face_A_m01_pain.gif", None),
    ("face_A_m_01_pain.png", None),
])
def test_parse_name(name, expected):
    """File names are parsed by the convention, case-insensitively for type and pain."""
    assert parse_name(name) == expected


def test_cli_generate_then_check(tmp_path, capsys):
    """`stimuli generate` writes a set that `stimuli check` accepts; --if-missing reuses it."""
    out = tmp_path / "gen"
    args = ["generate", "--out", str(out), "--identities", "1", "--size", "64", "--workers", "1"]
    assert main(args) == 0
    stamp = (out / "manifest.csv").stat().st_mtime_ns
    assert main(args + ["--if-missing"]) == 0
    assert (out / "manifest.csv").stat().st_mtime_ns == stamp
    assert main(["check", str(out / "manifest.csv")]) == 0
    assert "8 stimuli, files, hashes and pairs OK" in capsys.readouterr().out


def test_cli_user_error_is_one_line(tmp_path, capsys):
    """A bad generate setting prints one line naming the parameter and exits 2."""
    assert main(["generate", "--out", str(tmp_path / "x"), "--size", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["stimuli generate: 'size_px' must be at least 64 (got 8)"]


@pytest.mark.parametrize("style", ["frame", "band"])
def test_team_marker(style):
    """The marker colours the border (frame) or the top band and leaves the centre alone."""
    from stimuli.markers import TEAM_COLOURS, team_marker

    img = Image.new("RGB", (100, 100), (128, 128, 128))
    out = team_marker(img, TEAM_COLOURS[0], style=style, width_frac=0.05)
    assert out.getpixel((2, 2)) == TEAM_COLOURS[0]
    assert out.getpixel((50, 50)) == (128, 128, 128)
    assert (out.getpixel((2, 50)) == TEAM_COLOURS[0]) == (style == "frame")
    assert img.getpixel((2, 2)) == (128, 128, 128)


def test_team_marker_rejects_bad_style():
    """An unknown marker style names the allowed ones."""
    from stimuli.markers import team_marker

    with pytest.raises(ValueError, match="'style' must be one of frame, band"):
        team_marker(Image.new("RGB", (10, 10)), (0, 0, 0), style="halo")
