"""Crash safety in a window (SIGKILL, SIGTERM) and start-up problems found before the first trial."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
from lab_helpers import QUICK_ANSWERS, REPO, SHORT, input_protocol, paradigm_cmd, run_paradigm

pytestmark = [pytest.mark.display, pytest.mark.slow]
STEM = "sub-sim001_ses-1_task-default"


def _pilot_args(stimulus_set, out):
    return ["pilot", "protocols/default.yaml", "--set", f"stimuli.manifest={stimulus_set}", *SHORT, *QUICK_ANSWERS,
            "--participants", "1", "--seed", "9", "--visual", "--out", str(out)]


def _rows(path):
    if not path.exists():
        return 0
    return max(0, path.read_text().count("\n") - 1)


def _interrupt(env, stimulus_set, out, n_rows, sig):
    """Start a visual pilot, send ``sig`` once ``n_rows`` trials are on disk; return the trial CSV's path."""
    csv_path = out / "data" / f"{STEM}_data.csv"
    proc = subprocess.Popen(paradigm_cmd(*_pilot_args(stimulus_set, out)), env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _rows(csv_path) < n_rows and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert _rows(csv_path) >= n_rows, "the pilot did not reach the trial to interrupt"
    proc.send_signal(sig)
    proc.wait(30)
    return csv_path


def test_sigkill_then_resume_loses_and_repeats_nothing(xvfb, stimulus_set, tmp_path):
    """SIGKILL mid-session keeps every completed trial; --resume finishes with the uninterrupted trial table."""
    out = tmp_path / "killed"
    csv_path = _interrupt(xvfb, stimulus_set, out, 5, signal.SIGKILL)
    kept = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
    assert len(kept) >= 5 and list(kept["trial"]) == [str(i) for i in range(1, len(kept) + 1)]

    resumed = run_paradigm(xvfb, *_pilot_args(stimulus_set, out), "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    reference = run_paradigm(xvfb, *[a for a in _pilot_args(stimulus_set, tmp_path / "whole") if a != "--visual"])
    assert reference.returncode == 0, reference.stderr[-2000:]
    data = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
    whole = pd.read_csv(tmp_path / "whole" / "data" / f"{STEM}_data.csv", keep_default_na=False, dtype=str)
    columns = ["trial", "block", "stimulus_id", "pain", "group", "perspective", "rating_pain_intensity",
               "rating_unpleasantness"]
    pd.testing.assert_frame_equal(data[columns], whole[columns])
    assert data.iloc[:len(kept)].equals(kept)
    sidecar = json.loads((out / "data" / f"{STEM}_session.json").read_text())
    assert [p["status"] for p in sidecar["parts"]] == ["killed", "completed"]
    assert sidecar["parts"][1]["first_trial"] == len(kept) + 1


def test_sigterm_aborts_and_keeps_rows(xvfb, stimulus_set, tmp_path):
    """SIGTERM ends the session like a confirmed Escape: status aborted, every completed row kept."""
    out = tmp_path / "term"
    csv_path = _interrupt(xvfb, stimulus_set, out, 3, signal.SIGTERM)
    sidecar = json.loads((out / "data" / f"{STEM}_session.json").read_text())
    assert sidecar["status"] == "aborted"
    assert sidecar["n_trials_done"] == _rows(csv_path) >= 3


def _one_line_error(result):
    lines = result.stderr.strip().splitlines()
    return result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr


def test_unknown_trigger_port_fails_before_the_window(xvfb, stimulus_set, tmp_path):
    """A serial port that does not exist ends the start in one line; no data file is created."""
    protocol = input_protocol(tmp_path, stimulus_set)
    result = run_paradigm(xvfb, "run", str(protocol), "--participant", "P01", "--out", str(tmp_path / "out"),
                          "--set", "triggers.backend=serial", "--set", "triggers.address=/dev/ttyNOPE9")
    assert _one_line_error(result), result.stderr
    assert "/dev/ttyNOPE9" in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("defect", ["missing", "corrupt"])
def test_bad_image_fails_before_the_window(xvfb, stimulus_set, tmp_path, defect):
    """A missing or unreadable image is reported at the start, with its path, before any trial."""
    folder = tmp_path / "set"
    shutil.copytree(stimulus_set.parent, folder)
    victim = sorted((folder / "face").glob("*.png"))[0]
    if defect == "missing":
        victim.unlink()
    else:
        victim.write_bytes(b"not an image at all")
    protocol = input_protocol(tmp_path, folder / "manifest.csv")
    result = run_paradigm(xvfb, "run", str(protocol), "--participant", "P01", "--out", str(tmp_path / "out"))
    if defect == "missing":   # the manifest reader already refuses a missing file
        assert _one_line_error(result) and victim.name in result.stderr, result.stderr
    else:
        assert _one_line_error(result) and victim.name in result.stderr and "readable" in result.stderr
    assert not (tmp_path / "out").exists()


def test_cancelled_dialog_writes_nothing(xvfb, stimulus_set, tmp_path):
    """Without --participant a dialog asks; pressing Escape on it ends cleanly and creates no files."""
    protocol = input_protocol(tmp_path, stimulus_set)
    out = tmp_path / "out"
    proc = subprocess.Popen(paradigm_cmd("run", str(protocol), "--out", str(out)), env=xvfb, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "labinput"], env=xvfb,
                               capture_output=True, text=True)
        if found.stdout.strip():
            window = found.stdout.split()[0]
            time.sleep(0.5)
            subprocess.run(["xdotool", "windowfocus", "--sync", window], env=xvfb, timeout=10)
            subprocess.run(["xdotool", "key", "--window", window, "Escape"], env=xvfb, timeout=10)
            break
        time.sleep(0.2)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert "cancelled" in err and not out.exists()
    assert not os.path.exists(out / "data")
