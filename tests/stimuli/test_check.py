"""`stimuli check`: each kind of defect is reported with a precise message, all at once."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest
from PIL import Image

from stimuli.check import check_manifest
from stimuli.cli import main


def _rows(path):
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def _write(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _edit(path, index, **changes):
    header, rows = _rows(path)
    rows[index].update(changes)
    _write(path, header, rows)
    return rows[index]


def _rehash(path, index):
    header, rows = _rows(path)
    rows[index]["sha256"] = hashlib.sha256((path.parent / rows[index]["file"]).read_bytes()).hexdigest()
    _write(path, header, rows)


def missing_file(m):
    _, rows = _rows(m)
    (m.parent / rows[0]["file"]).unlink()
    return f"line 2: file '{rows[0]['file']}' not found"


def hash_mismatch(m):
    _, rows = _rows(m)
    img = m.parent / rows[1]["file"]
    arr = np.asarray(Image.open(img)).copy()
    arr[0, 0] ^= 1
    Image.fromarray(arr).save(img)
    return f"line 3: sha256 of '{rows[1]['file']}' is"


def unreadable_image(m):
    _, rows = _rows(m)
    (m.parent / rows[2]["file"]).write_bytes(b"not a png at all")
    _rehash(m, 2)
    return f"line 4: '{rows[2]['file']}' is not a readable image"


def incomplete_pair(m):
    header, rows = _rows(m)
    gone = rows.pop(1)
    _write(m, header, rows)
    return f"pair '{gone['pair_id']}' (line 2) has no neutral image"


def duplicate_id(m):
    _, rows = _rows(m)
    _edit(m, 2, stimulus_id=rows[0]["stimulus_id"])
    return f"line 4: stimulus_id '{rows[0]['stimulus_id']}' duplicates line 2"


def unknown_column(m):
    header, rows = _rows(m)
    for r in rows:
        r["handedness"] = r.pop("hand_side")
    _write(m, [h if h != "hand_side" else "handedness" for h in header], rows)
    return "unknown column 'handedness' (allowed: file,"


def bad_pain_value(m):
    _edit(m, 0, pain="painful")
    return "line 2: pain must be one of pain, neutral (got 'painful')"


def bad_stimulus_type(m):
    _edit(m, 0, stimulus_type="foot")
    return "line 2: stimulus_type must be one of face, hand, cue (got 'foot')"


def pspi_out_of_range(m):
    _edit(m, 0, pspi="20")
    return "line 2: pspi must be a number from 0 to 16 (got '20')"


def size_mismatch(m):
    _, rows = _rows(m)
    img = m.parent / rows[0]["file"]
    Image.open(img).resize((50, 50)).save(img)
    _rehash(m, 0)
    return f"line 2: '{rows[0]['file']}' is 50×50 px but most face images are 96×96"


def pair_mixes_identity(m):
    row = _edit(m, 0, identity="someone_else")
    return f"pair '{row['pair_id']}' mixes identity values 'someone_else' (line 2)"


def unbalanced_attribute(m):
    _edit(m, 0, hair_style="mohawk")
    return "face: 'hair_style' is unbalanced across pain levels (pain:"


def empty_pair_id(m):
    row = _edit(m, 0, pair_id="")
    return f"line 2: pair_id is empty for '{row['stimulus_id']}'"


def missing_required_column(m):
    header, rows = _rows(m)
    for r in rows:
        del r["pain"]
    _write(m, [h for h in header if h != "pain"], rows)
    return "missing column 'pain' (required: stimulus_id, stimulus_type, pain)"


def header_only(m):
    m.write_text(m.read_text().splitlines()[0] + "\n")
    return "no stimuli listed"


def not_utf8(m):
    m.write_bytes(m.read_bytes().replace(b"procedural", b"proc\xe9dural", 1))
    return "not UTF-8 text"


DEFECTS = [header_only, not_utf8, missing_file, hash_mismatch, unreadable_image, incomplete_pair, duplicate_id,
           unknown_column,
           bad_pain_value, bad_stimulus_type, pspi_out_of_range, size_mismatch, pair_mixes_identity,
           unbalanced_attribute, empty_pair_id, missing_required_column]


def test_generated_set_passes(small_set):
    """The generated set has no problems and no confound warnings, with statistics per condition."""
    report = check_manifest(small_set)
    assert report.ok and report.problems == [] and report.warnings == []
    assert [(r["stimulus_type"], r["pain"], r["n"]) for r in report.condition_table()] == [
        ("face", "neutral", 4), ("face", "pain", 4), ("hand", "neutral", 4), ("hand", "pain", 4)]


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda f: f.__name__)
def test_each_defect_is_reported(set_copy, defect):
    """Each broken manifest yields its specific message."""
    expected = defect(set_copy)
    problems = check_manifest(set_copy).problems
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda f: f.__name__)
def test_cli_exits_2_without_traceback(set_copy, defect, capsys):
    """`stimuli check` exits 2 and prints one line per problem naming the manifest, no traceback."""
    defect(set_copy)
    assert main(["check", str(set_copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith(str(set_copy)) for line in err)
    assert "Traceback" not in "\n".join(err)


def test_every_problem_is_listed(set_copy):
    """Several defects at once are all reported, not only the first."""
    expected = [d(set_copy) for d in (bad_pain_value, pspi_out_of_range, unknown_column, missing_file)]
    problems = check_manifest(set_copy).problems
    for e in expected:
        assert any(e in p for p in problems), (e, problems)


def test_luminance_confound_is_flagged(set_copy, capsys):
    """Darkened pain hands trigger a mean-luminance confound warning; --strict exits 1."""
    header, rows = _rows(set_copy)
    for i, r in enumerate(rows):
        if r["stimulus_type"] == "hand" and r["pain"] == "pain":
            img = set_copy.parent / r["file"]
            Image.fromarray((np.asarray(Image.open(img)) * 0.85).astype(np.uint8)).save(img)
            r["sha256"] = hashlib.sha256(img.read_bytes()).hexdigest()
    _write(set_copy, header, rows)
    report = check_manifest(set_copy)
    assert report.ok
    assert any(w.startswith("possible confound: hand pain vs neutral mean_luminance differs by -15")
               for w in report.warnings), report.warnings
    assert main(["check", str(set_copy), "--strict"]) == 1
    assert main(["check", str(set_copy)]) == 0


def test_missing_hash_is_a_warning(set_copy):
    """An empty sha256 is reported as a warning, not a problem."""
    _edit(set_copy, 0, sha256="")
    report = check_manifest(set_copy, stats=False)
    assert report.ok and any("no sha256" in w for w in report.warnings)


def test_stats_csv_is_written(small_set, tmp_path):
    """--stats-csv writes one row per image with the statistics."""
    out = tmp_path / "stats.csv"
    assert main(["check", str(small_set), "--stats-csv", str(out)]) == 0
    _, rows = _rows(out)
    assert len(rows) == 16 and {"mean_luminance", "rms_contrast", "spectral_slope"} <= set(rows[0])


def test_neutral_with_pspi_is_a_warning(set_copy):
    """A neutral face with a PSPI above 0 is flagged as a warning."""
    _, rows = _rows(set_copy)
    index = next(i for i, r in enumerate(rows) if r["stimulus_type"] == "face" and r["pain"] == "neutral")
    _edit(set_copy, index, pspi="5")
    report = check_manifest(set_copy, stats=False)
    assert report.ok and any("has pspi 5 (expected 0)" in w for w in report.warnings)
