"""Tests for analysis.read: checked trial data, practice set aside, and errors naming file, line and column."""
from __future__ import annotations

import shutil

import pytest
from report_data import read_rows, write_rows

from analysis.read import TrialDataError, read_trials


@pytest.fixture(scope="module")
def small_pilot(default_protocol, manifest, tmp_path_factory):
    """Three simulated participants of the default protocol (default simulation parameters)."""
    from paradigm.pilot import run_pilot

    out = tmp_path_factory.mktemp("pilot3")
    run_pilot(default_protocol, manifest, n_participants=3, out_dir=out, seed=2)
    return out / "data"


def one_file(small_pilot, tmp_path, edit=None, name="sub-x_ses-1_task-default_data.csv"):
    """Copy the first participant's CSV into tmp_path, optionally editing its rows; return the path."""
    source = sorted(small_pilot.glob("*_data.csv"))[0]
    header, rows = read_rows(source)
    if edit is not None:
        header, rows = edit(header, rows)
    path = tmp_path / name
    write_rows(path, header, rows)
    return path


def test_reads_pilot_folder(small_pilot):
    """A pilot folder gives main trials, practice set aside, both ratings, simulated marked and the truth."""
    data = read_trials(small_pilot)
    assert len(data.trials) == 3 * 160 and len(data.practice) == 3 * 8
    assert set(data.trials["block_kind"]) == {"main"}
    assert data.ratings == ["pain_intensity", "unpleasantness"]
    assert data.simulated and not data.has_judgement
    assert data.simulation_params["ratings"]["pain_intensity"]["effects"]["pain"] == 90.0
    assert data.trials["rating_pain_intensity"].dtype.kind == "f"
    assert set(data.sessions["status"]) == {"completed"}


def test_dataset_root_and_duplicate_paths(small_pilot):
    """The pilot's root folder works, and a file given twice is read once."""
    root = read_trials(small_pilot.parent)
    twice = read_trials([small_pilot, sorted(small_pilot.glob("*_data.csv"))[0]])
    assert len(root.trials) == len(twice.trials) == 480


def test_empty_timing_and_missing_optional_columns(small_pilot, tmp_path):
    """Empty timing columns and a missing stimulus_file/perspective column are accepted."""
    def edit(header, rows):
        for row in rows:
            for c in ("stimulus_onset_s", "stimulus_offset_s", "dropped_frames", "stimulus_duration_s"):
                row[c] = ""
            del row["stimulus_file"], row["perspective"]
        return [h for h in header if h not in ("stimulus_file", "perspective")], rows

    data = read_trials(one_file(small_pilot, tmp_path, edit))
    assert set(data.trials["perspective"]) == {"none"}
    assert data.trials["stimulus_onset_s"].isna().all()


def test_duplicated_rows_are_left_out_with_a_warning(small_pilot, tmp_path):
    """A duplicated trial row is dropped (first copy kept), listed with its line, and warned about."""
    def edit(header, rows):
        return header, rows[:20] + [dict(rows[15])] + rows[20:]

    data = read_trials(one_file(small_pilot, tmp_path, edit))
    assert len(data.trials) == 160
    assert len(data.dropped) == 1 and data.dropped[0][1] == 22 and "duplicated" in data.dropped[0][2]
    assert sum("duplicated" in w for w in data.warnings) == 1


@pytest.mark.parametrize("edit, fragments", [
    (lambda h, r: ([c for c in h if c != "pain"], [{k: v for k, v in x.items() if k != "pain"} for x in r]),
     ["required column 'pain' is missing"]),
    (lambda h, r: (h, [dict(x, rating_pain_intensity="lots") if i == 30 else x for i, x in enumerate(r)]),
     ["line 32", "column 'rating_pain_intensity'", "'lots' is not a number"]),
    (lambda h, r: (h, [dict(x, pain="ouch") if i == 9 else x for i, x in enumerate(r)]),
     ["line 11", "column 'pain'", "not one of pain, neutral"]),
    (lambda h, r: (h, [dict(x, timed_out="maybe") if i == 0 else x for i, x in enumerate(r)]),
     ["line 2", "column 'timed_out'"]),
    (lambda h, r: (h, []), ["header but no trial rows"]),
])
def test_bad_values_name_file_line_column(small_pilot, tmp_path, edit, fragments):
    """Bad columns and values raise TrialDataError naming the file, the line and the column."""
    path = one_file(small_pilot, tmp_path, edit)
    with pytest.raises(TrialDataError) as info:
        read_trials(path)
    message = str(info.value)
    assert str(path) in message and all(f in message for f in fragments), message


def test_mixed_protocols_refused_unless_allowed(small_pilot, tmp_path):
    """Files of two protocols are refused, naming both, unless allow_mixed_protocols is set."""
    def other(header, rows):
        return header, [dict(r, protocol="other", protocol_sha256="f" * 64, participant="y") for r in rows]

    a = one_file(small_pilot, tmp_path)
    b = one_file(small_pilot, tmp_path, other, name="sub-y_ses-1_task-other_data.csv")
    with pytest.raises(TrialDataError, match="differs from"):
        read_trials([a, b])
    assert read_trials([a, b], allow_mixed_protocols=True).protocols == ["default", "other"]


def test_empty_folder_and_missing_path(tmp_path):
    """An empty folder and a missing path are errors that name them."""
    with pytest.raises(TrialDataError, match="holds no trial CSV"):
        read_trials(tmp_path)
    with pytest.raises(TrialDataError, match="does not exist"):
        read_trials(tmp_path / "nope.csv")


def test_incomplete_session_without_sidecar(small_pilot, tmp_path):
    """Without sidecars the sessions' status is unknown (None) and every file still reads."""
    for f in sorted(small_pilot.glob("*_data.csv")):
        shutil.copy(f, tmp_path / f.name)
    data = read_trials(tmp_path)
    assert data.sessions["status"].isna().all() and data.simulation_params is None


def test_lab_data_is_not_marked_simulated(small_pilot, tmp_path):
    """Rows with mode lab and simulated false give unsimulated data and no simulation parameters."""
    def lab(header, rows):
        return header, [dict(r, mode="lab", simulated="false") for r in rows]

    data = read_trials(one_file(small_pilot, tmp_path, lab))
    assert not data.simulated and data.simulation_params is None
