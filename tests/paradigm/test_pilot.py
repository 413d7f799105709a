"""The data-only pilot: contract files, no overwrites, crash safety under SIGKILL, and exact resume."""
from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from paradigm.cli import main
from paradigm.datafiles import trial_columns
from paradigm.pilot import run_pilot

CONTRACT = ["participant", "session", "protocol", "protocol_sha256", "mode", "simulated", "block", "block_kind",
            "trial", "stimulus_id", "stimulus_file", "stimulus_type", "pain", "participant_group",
            "stimulus_group", "group", "perspective", "fixation_onset_s", "stimulus_onset_s", "stimulus_offset_s",
            "stimulus_duration_s", "dropped_frames", "rating_pain_intensity", "rating_pain_intensity_rt_s",
            "rating_unpleasantness", "rating_unpleasantness_rt_s", "timed_out", "timestamp_utc"]
DESIGN_COLUMNS = ["trial", "block", "block_kind", "stimulus_id", "pain", "group", "perspective", "stimulus_type"]


@pytest.fixture(scope="module")
def pilot(default_protocol, manifest, tmp_path_factory):
    """Four simulated participants of the default protocol, written to a fresh folder."""
    out = tmp_path_factory.mktemp("pilot")
    result = run_pilot(default_protocol, manifest, n_participants=4, out_dir=out, seed=11)
    return out, result


def test_pilot_files_follow_contract(pilot, default_protocol):
    """Every session writes the contract's CSV, sidecar, events and dataset description."""
    out, result = pilot
    assert [s.status for s in result.sessions] == ["completed"] * 4
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["@type"] == "Dataset" and "rating_pain_intensity" in description["variableMeasured"]
    for index in range(1, 5):
        stem = out / "data" / f"sub-sim{index:03d}_ses-1_task-default"
        data = pd.read_csv(f"{stem}_data.csv", keep_default_na=False, dtype=str)
        assert set(CONTRACT) <= set(data.columns)
        assert list(data.columns) == trial_columns(default_protocol.protocol)
        assert len(data) == 168 and list(data["trial"]) == [str(i) for i in range(1, 169)]
        assert set(data["mode"]) == {"pilot"} and set(data["simulated"]) == {"true"}
        assert set(data["block_kind"]) == {"practice", "main"}
        answered = pd.to_numeric(data["rating_pain_intensity"], errors="coerce").dropna()
        assert answered.between(0, 100).all() and len(answered) > 150
        assert (pd.to_numeric(data["stimulus_duration_s"]) == 3.5).all()
        assert data["stimulus_onset_s"].str.match(r"^\d+(\.\d{1,6})?$").all()
        onsets = pd.to_numeric(data["stimulus_onset_s"])
        assert onsets.is_monotonic_increasing
        sidecar = json.loads(open(f"{stem}_session.json").read())
        assert sidecar["status"] == "completed" and sidecar["n_trials_done"] == 168
        assert sidecar["intended_stimulus_s"] == [3.5, 3.5]   # the protocol's, for the report's timing QC
        assert sidecar["protocol"]["sha256"] == default_protocol.sha256 == data["protocol_sha256"].iloc[0]
        assert len(sidecar["manifest"]["sha256"]) == 64 and "numpy" in sidecar["software"]
        assert sidecar["simulation"]["params"]["ratings"]["pain_intensity"]["effects"]["pain"] == 90.0
        events = pd.read_csv(f"{stem}_events.tsv", sep="\t")
        assert list(events.columns[:3]) == ["onset", "duration", "trial_type"]
        assert (events["duration"] > 0).all() and events["onset"].is_monotonic_increasing
        assert set(events["trial"]) == set(range(1, 169))


def test_slots_and_groups_crossed(pilot):
    """Simulated participants cross counterbalancing slot with participant group."""
    out, _ = pilot
    seen = set()
    for index in range(1, 5):
        sidecar = json.loads((out / "data" / f"sub-sim{index:03d}_ses-1_task-default_session.json").read_text())
        seen.add((sidecar["counterbalancing_slot"], sidecar["participant_group"]))
    assert seen == {(0, "A"), (1, "A"), (0, "B"), (1, "B")}


def test_pilot_recovers_pain_effect(pilot):
    """Pain pictures are rated far above neutral ones, as the simulator's large pain effect implies."""
    out, _ = pilot
    frames = [pd.read_csv(p) for p in sorted((out / "data").glob("*_data.csv"))]
    data = pd.concat(frames)
    means = data[data.block_kind == "main"].groupby("pain")["rating_pain_intensity"].mean()
    assert 60 < means["pain"] - means["neutral"] < 85


def test_existing_data_never_overwritten(pilot, default_protocol, capsys):
    """A second pilot into the same folder is refused with exit 2 and leaves every file unchanged."""
    out, _ = pilot
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "data").iterdir()}
    code = main(["pilot", str(default_protocol.path), "--set", f"stimuli.manifest={default_protocol.manifest_path}",
                 "--participants", "2", "--out", str(out), "--seed", "11", "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "already exist" in err and "--resume" in err and err.count("\n") == 1
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "data").iterdir()}
    assert before == after


def test_parallel_pilot_matches_serial(default_protocol, manifest, tmp_path):
    """Worker processes write exactly the rows a single process writes (timestamps aside)."""
    serial = run_pilot(default_protocol, manifest, n_participants=3, out_dir=tmp_path / "a", seed=5)
    parallel = run_pilot(default_protocol, manifest, n_participants=3, out_dir=tmp_path / "b", seed=5, n_jobs=2)
    assert [s.status for s in parallel.sessions] == ["completed"] * 3
    for a, b in zip(serial.sessions, parallel.sessions):
        da = pd.read_csv(a.files.trials).drop(columns="timestamp_utc")
        db = pd.read_csv(b.files.trials).drop(columns="timestamp_utc")
        pd.testing.assert_frame_equal(da, db)


def _cli(protocol, *extra):
    return [sys.executable, "-m", "paradigm", "pilot", str(protocol.path),
            "--set", f"stimuli.manifest={protocol.manifest_path}", "--participants", "1", "--seed", "21",
            "--jobs", "1", *extra]


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_sigkill_then_resume(default_protocol, tmp_path):
    """SIGKILL at a random trial leaves every completed row; --resume finishes with the same trial table."""
    rng = np.random.default_rng(int(time.time()))
    kill_after = int(rng.integers(5, 150))
    out = tmp_path / "killed"
    csv_path = out / "data" / "sub-sim001_ses-1_task-default_data.csv"
    proc = subprocess.Popen(_cli(default_protocol, "--out", str(out), "--time-scale", "0.002"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if csv_path.exists() and csv_path.read_text().count("\n") - 1 >= kill_after:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    text = csv_path.read_text()
    complete = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(complete.splitlines()))
    assert len(rows) >= kill_after, f"killed after {kill_after}"
    assert [int(r["trial"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["timestamp_utc"] for r in rows)
    sidecar = json.loads((out / "data" / "sub-sim001_ses-1_task-default_session.json").read_text())
    assert sidecar["status"] == "running"

    resumed = subprocess.run(_cli(default_protocol, "--out", str(out), "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole"
    fresh = subprocess.run(_cli(default_protocol, "--out", str(whole)), capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr

    got, want = _rows(csv_path), _rows(whole / "data" / "sub-sim001_ses-1_task-default_data.csv")
    assert [int(r["trial"]) for r in got] == list(range(1, 169))
    assert [[r[c] for c in DESIGN_COLUMNS] for r in got] == [[r[c] for c in DESIGN_COLUMNS] for r in want]
    assert [r["rating_pain_intensity"] for r in got] == [r["rating_pain_intensity"] for r in want]
    assert got[: len(rows)] == rows  # the rows on disk before the kill are untouched
    sidecar = json.loads((out / "data" / "sub-sim001_ses-1_task-default_session.json").read_text())
    assert sidecar["status"] == "completed"
    assert [p["status"] for p in sidecar["parts"]] == ["killed", "completed"]
    assert sidecar["parts"][1]["first_trial"] == len(rows) + 1
    events = pd.read_csv(out / "data" / "sub-sim001_ses-1_task-default_events.tsv", sep="\t")
    per_trial = events.groupby("trial")["trial_type"].apply(list)
    assert len(per_trial) == 168 and per_trial.map(len).nunique() == 1


def test_resume_refuses_changed_protocol(default_protocol, manifest, tmp_path, capsys):
    """Resuming with a protocol whose hash differs is refused, naming both hashes."""
    out = tmp_path / "p"
    run_pilot(default_protocol, manifest, n_participants=1, out_dir=out, seed=3)
    sidecar_path = out / "data" / "sub-sim001_ses-1_task-default_session.json"
    sidecar = json.loads(sidecar_path.read_text())
    sidecar["status"] = "aborted"
    sidecar_path.write_text(json.dumps(sidecar))
    code = main(["pilot", str(default_protocol.path), "--set", f"stimuli.manifest={default_protocol.manifest_path}",
                 "--set", "blocks.practice.n_trials=4", "--participants", "1", "--out", str(out), "--resume",
                 "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "resume with the original protocol" in err


def test_bad_param_is_one_line(default_protocol, tmp_path, capsys):
    """A misspelt simulation parameter is named with a suggestion; nothing is written."""
    code = main(["pilot", str(default_protocol.path), "--set", f"stimuli.manifest={default_protocol.manifest_path}",
                 "--participants", "1", "--out", str(tmp_path / "x"), "--param", "lapse_rat=0.1"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'lapse_rate'" in err
    assert not (tmp_path / "x").exists()
