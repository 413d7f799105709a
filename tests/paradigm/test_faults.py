"""Data safety under real faults: killed pilots and orphaned workers, a second writer, resume rules, CLI limits."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paradigm import interrupt
from paradigm.cli import main
from paradigm.datafiles import SessionFiles
from paradigm.errors import SessionError
from paradigm.headless import HeadlessPresenter
from paradigm.presenter import SessionAborted

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--set", "blocks.main.trials_per_cell=2"]
N_TRIALS = 40                      # 8 practice + 16 cells × 2 main trials
TIME_COLUMNS = ["fixation_onset_s", "stimulus_onset_s", "stimulus_offset_s", "timestamp_utc"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _args(protocol, out, *extra):
    return ["pilot", str(protocol.path), "--set", f"stimuli.manifest={protocol.manifest_path}", *SMALL,
            "--out", str(out), *extra]


def _cmd(protocol, out, *extra):
    return [sys.executable, "-m", "paradigm", *_args(protocol, out, *extra)]


def _sessions(out):
    return sorted((Path(out) / "data").glob("*_session.json"))


def _status(out):
    return {p.name.split("_")[0]: json.loads(p.read_text())["status"] for p in _sessions(out)}


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _process_table():
    """{pid: (ppid, state)} of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2:].split()
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid):
    """PIDs of the processes below ``pid``."""
    table, found, frontier = _process_table(), set(), {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids):
    """Those of ``pids`` that still run (a zombie has ended)."""
    table = _process_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}


def _wait_gone(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(pids)


def _wait_for_rows(csv_glob, n, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        counts = [p.read_bytes().count(b"\n") - 1 for p in csv_glob()]
        if counts and max(counts) >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"no trial CSV reached {n} rows")


@pytest.fixture(scope="module")
def reference(default_protocol, tmp_path_factory):
    """An uninterrupted 12-participant pilot (seed 7) of the small protocol: its rows per participant."""
    out = tmp_path_factory.mktemp("reference")
    assert main(_args(default_protocol, out, "--participants", "12", "--seed", "7", "--jobs", "1")) == 0
    return {p.name.split("_")[0]: pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns=TIME_COLUMNS)
            for p in sorted((out / "data").glob("*_data.csv"))}


def _check_dataset(out, reference, n):
    """Every file parses; each session is complete, its rows equal the uninterrupted pilot's, parts chain up."""
    data = Path(out) / "data"
    assert sorted(p.name.split("_")[0] for p in data.glob("*_data.csv")) == sorted(reference)[:n]
    assert not list(data.glob("*.lock")), "a lock file outlived its writer"
    for sub, want in list(reference.items())[:n]:
        stem = data / f"{sub}_ses-1_task-default"
        got = pd.read_csv(f"{stem}_data.csv", dtype=str, keep_default_na=False)
        assert list(got["trial"]) == [str(i) for i in range(1, N_TRIALS + 1)], sub
        pd.testing.assert_frame_equal(got.drop(columns=TIME_COLUMNS), want, obj=sub)
        assert pd.to_numeric(got["stimulus_onset_s"]).is_monotonic_increasing, sub
        events = pd.read_csv(f"{stem}_events.tsv", sep="\t")
        assert events["onset"].is_monotonic_increasing and set(events["trial"].dropna()) == set(range(1, N_TRIALS + 1))
        sidecar = json.loads(Path(f"{stem}_session.json").read_text())
        assert sidecar["status"] == "completed" and sidecar["n_trials_done"] == N_TRIALS, sub
        parts = sidecar["parts"]
        for before, after in zip(parts, parts[1:]):
            assert after["first_trial"] == before["last_trial"] + 1, (sub, parts)
            assert after["clock_origin_s"] >= before["clock_origin_s"], (sub, parts)


@linux_only
@pytest.mark.slow
def test_kill9_parent_while_workers_run_then_resume(default_protocol, reference, tmp_path):
    """SIGKILL on the pilot's main process at seeded random times: within a second its workers have finalised
    their sessions (none left running) and exited, though each session needs ~4 s; an immediate --resume
    (itself killed in later rounds) ends with every trial exactly once."""
    rng = np.random.default_rng(20240607)
    out = tmp_path / "pilot"
    extra = ["--participants", "6", "--seed", "7", "--jobs", "3", "--force-jobs", "--time-scale", "0.01"]
    for round_ in range(4):
        proc = subprocess.Popen(_cmd(default_protocol, out, *extra, *(["--resume"] if round_ else [])),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if round_ == 0:
            _wait_for_rows(lambda: list((out / "data").glob("*_data.csv")), 1, proc)
        time.sleep(rng.uniform(0.2, 2.0))
        workers = _descendants(proc.pid)
        if round_ == 0:
            assert len(workers) == 3, "the kill should land while the workers run"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not _wait_gone(workers, timeout=1.0), f"round {round_}: workers outlived the killed pilot"
        assert "running" not in _status(out).values(), f"round {round_}: a worker left its session running"
    resumed = subprocess.run(_cmd(default_protocol, out, *extra, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    _check_dataset(out, reference, 6)


def _kill_at_end_script(tmp_path, protocol):
    """A pilot whose presenter SIGKILLs its process on the goodbye screen: after the last row, before the sidecar."""
    script = tmp_path / "kill_at_end.py"
    script.write_text(f"""
import os, signal, sys
from stimuli import read_manifest
from paradigm.headless import HeadlessPresenter
from paradigm.pilot import run_pilot
from paradigm.protocol_load import load_protocol

loaded = load_protocol({str(protocol.path)!r}, {{"stimuli.manifest": {str(protocol.manifest_path)!r},
                                                "blocks.main.trials_per_cell": 2}})
END = loaded.protocol.instructions[loaded.protocol.language].end

class KillAtEnd(HeadlessPresenter):
    def show_text(self, text, responder, *, code=None):
        if text == END:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().show_text(text, responder, code=code)

run_pilot(loaded, read_manifest(loaded.manifest_path), n_participants=1, out_dir=sys.argv[1], seed=7,
          presenter_factory=lambda language, port: KillAtEnd(loaded.protocol, language, port))
""")
    return script


@linux_only
def test_kill_between_last_row_and_sidecar_is_repaired(default_protocol, reference, tmp_path, capsys):
    """A kill after the last row but before the sidecar update leaves 'running'; --resume marks it completed with
    a note, reruns nothing, and (with --jobs 1) goes on to start the participants after it."""
    out = tmp_path / "pilot"
    killed = subprocess.run([sys.executable, str(_kill_at_end_script(tmp_path, default_protocol)), str(out)],
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    sidecar_path = out / "data" / "sub-sim001_ses-1_task-default_session.json"
    assert json.loads(sidecar_path.read_text())["status"] == "running"
    before = (out / "data" / "sub-sim001_ses-1_task-default_data.csv").read_bytes()
    assert before.count(b"\n") == N_TRIALS + 1

    code = main(_args(default_protocol, out, "--participants", "3", "--seed", "7", "--jobs", "1", "--resume"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 of 3 sessions completed" in captured.out and "1 only marked completed" in captured.out
    assert (out / "data" / "sub-sim001_ses-1_task-default_data.csv").read_bytes() == before
    sidecar = json.loads(sidecar_path.read_text())
    assert [p["status"] for p in sidecar["parts"]] == ["killed"] and sidecar["parts"][0]["last_trial"] == N_TRIALS
    assert sidecar["repairs"][0]["status_was"] == "running" and "nothing rerun" in sidecar["repairs"][0]["note"]
    _check_dataset(out, reference, 3)

    code = main(_args(default_protocol, out, "--participants", "3", "--seed", "7", "--resume"))
    captured = capsys.readouterr()
    assert code == 0 and captured.out.strip() == (f"pilot: all 3 sessions in {out / 'data'} are complete; "
                                                  f"nothing to resume")


@linux_only
def test_second_writer_is_refused(default_protocol, tmp_path, capsys, monkeypatch):
    """While a live pilot writes a session, a --resume of it is refused in one line naming the file and the
    writer's PID; after that writer is stopped (SIGTERM: aborted) the resume finishes it, no trial twice."""
    import paradigm.session

    monkeypatch.setattr(paradigm.session, "LOCK_WAIT_S", 0.3)
    out = tmp_path / "pilot"
    extra = ["--participants", "1", "--seed", "3", "--jobs", "1"]
    csv_path = out / "data" / "sub-sim001_ses-1_task-default_data.csv"
    proc = subprocess.Popen(_cmd(default_protocol, out, *extra, "--time-scale", "0.02"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_rows(lambda: [csv_path] if csv_path.exists() else [], 2, proc)
        code = main(_args(default_protocol, out, *extra, "--resume"))
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"{csv_path} is being written by process {proc.pid}" in err
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert json.loads(csv_path.with_name(csv_path.name.replace("_data.csv", "_session.json")).read_text())[
        "status"] == "aborted"
    assert main(_args(default_protocol, out, *extra, "--resume")) == 0
    assert [r["trial"] for r in _rows(csv_path)] == [str(i) for i in range(1, N_TRIALS + 1)]


@linux_only
@pytest.mark.slow
def test_sigterm_to_parallel_pilot_aborts_every_session(default_protocol, reference, tmp_path):
    """SIGTERM to a pilot with workers: each running session ends 'aborted', every worker exits, exit 1;
    --resume then completes the same data as an uninterrupted pilot."""
    out = tmp_path / "pilot"
    extra = ["--participants", "6", "--seed", "7", "--jobs", "3", "--force-jobs", "--time-scale", "0.003"]
    proc = subprocess.Popen(_cmd(default_protocol, out, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait_for_rows(lambda: list((out / "data").glob("*_data.csv")), 3, proc)
    workers = _descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "interrupted by SIGTERM" in stdout
    assert not _alive(workers)
    assert set(_status(out).values()) == {"aborted"} and len(_status(out)) == 3
    assert main(_args(default_protocol, out, *extra, "--resume")) == 0
    _check_dataset(out, reference, 6)


# ------------------------------------------------------------------ resume rules (in-process)
@pytest.fixture
def small_pilot(default_protocol, tmp_path):
    """Two completed sessions of the small protocol, seed 5."""
    out = tmp_path / "pilot"
    assert main(_args(default_protocol, out, "--participants", "2", "--seed", "5", "--jobs", "1")) == 0
    return out


def _snapshot(out):
    return {p: p.read_bytes() for p in sorted(Path(out).rglob("*")) if p.is_file()}


def _set_status(out, sub, status, **extra):
    path = Path(out) / "data" / f"{sub}_ses-1_task-default_session.json"
    sidecar = json.loads(path.read_text())
    sidecar.update(status=status, **extra)
    path.write_text(json.dumps(sidecar))


@pytest.mark.parametrize("option, expected", [
    (["--seed", "6"], "--seed 6 does not match the pilot in {out}: sub-sim001_ses-1_task-default_session.json "
                      "was run with seed 5; resume with --seed 5"),
    (["--seed", "5", "--set", "blocks.practice.n_trials=4"], "but the pilot in {out} ran"),
    (["--seed", "5", "--param", "lapse_rate=0.2"], "simulation parameter lapse_rate is 0.2 now but 0.01 in the pilot"),
])
def test_resume_must_match_the_pilot(default_protocol, small_pilot, capsys, option, expected):
    """A resume with another seed, protocol or simulation parameter is refused in one line naming both values,
    and nothing on disk changes."""
    _set_status(small_pilot, "sub-sim002", "aborted")
    before = _snapshot(small_pilot)
    code = main(_args(default_protocol, small_pilot, "--participants", "3", "--resume", "--jobs", "1", *option))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected.format(out=small_pilot) in err, err
    assert _snapshot(small_pilot) == before


def _garble(path, edit):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


@pytest.mark.parametrize("damage, expected", [
    (lambda lines: lines[:30] + [lines[29]] + lines[30:35], "line 31: trial 29 (stimulus"),       # a doubled trial
    (lambda lines: lines[:20] + ["garbled,line\n"] + lines[21:30], "line 21: 2 cells where the header has"),
    (lambda lines: lines[:10], "holds 9 trials but"),                                                # rows lost
])
def test_resume_refuses_inconsistent_rows(default_protocol, small_pilot, capsys, damage, expected):
    """A doubled trial, a garbled line or rows fewer than the sidecar records are refused in one line naming
    the file; nothing is written."""
    csv_path = small_pilot / "data" / "sub-sim002_ses-1_task-default_data.csv"
    _garble(csv_path, damage)
    _set_status(small_pilot, "sub-sim002", "aborted", n_trials_done=20)
    before = _snapshot(small_pilot)
    code = main(_args(default_protocol, small_pilot, "--participants", "2", "--seed", "5", "--resume", "--jobs", "1"))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(csv_path) in err and expected in err, err
    assert _snapshot(small_pilot) == before


def test_completed_sidecar_with_missing_rows_is_refused(default_protocol, small_pilot, capsys):
    """A session whose sidecar says completed but whose file lacks rows stops the resume before anything runs."""
    csv_path = small_pilot / "data" / "sub-sim001_ses-1_task-default_data.csv"
    _garble(csv_path, lambda lines: lines[:-3])
    code = main(_args(default_protocol, small_pilot, "--participants", "3", "--seed", "5", "--resume", "--jobs", "1"))
    err = capsys.readouterr().err
    assert code == 2 and "says completed with 40 trials" in err and "holds 37 rows" in err, err
    assert not (small_pilot / "data" / "sub-sim003_ses-1_task-default_data.csv").exists()


def test_resume_drops_a_cut_line_and_finishes(default_protocol, small_pilot):
    """A last line cut mid-row is dropped (kept in the sidecar), the trial reruns, and the file ends equal to the
    uninterrupted one (times aside)."""
    csv_path = small_pilot / "data" / "sub-sim002_ses-1_task-default_data.csv"
    whole = pd.read_csv(csv_path, dtype=str, keep_default_na=False).drop(columns=TIME_COLUMNS)
    lines = csv_path.read_text().splitlines(keepends=True)
    cut = lines[21][:25]
    csv_path.write_text("".join(lines[:21]) + cut)
    _set_status(small_pilot, "sub-sim002", "running", n_trials_done=0)
    assert main(_args(default_protocol, small_pilot, "--participants", "2", "--seed", "5", "--resume",
                      "--jobs", "1")) == 0
    got = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got.drop(columns=TIME_COLUMNS), whole)
    sidecar = json.loads(csv_path.with_name("sub-sim002_ses-1_task-default_session.json").read_text())
    assert sidecar["discarded_fragments"] == [cut] and sidecar["parts"][-1]["first_trial"] == 21


def test_resume_after_a_kill_before_the_first_row(default_protocol, small_pilot):
    """A session whose sidecar exists but whose trial and events files do not (killed right after starting) is
    started afresh by --resume."""
    data = small_pilot / "data"
    whole = pd.read_csv(data / "sub-sim002_ses-1_task-default_data.csv", dtype=str, keep_default_na=False)
    for suffix in ("data.csv", "events.tsv"):
        (data / f"sub-sim002_ses-1_task-default_{suffix}").unlink()
    _set_status(small_pilot, "sub-sim002", "running", n_trials_done=0)
    assert main(_args(default_protocol, small_pilot, "--participants", "2", "--seed", "5", "--resume",
                      "--jobs", "1")) == 0
    got = pd.read_csv(data / "sub-sim002_ses-1_task-default_data.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got.drop(columns=TIME_COLUMNS), whole.drop(columns=TIME_COLUMNS))
    assert len(pd.read_csv(data / "sub-sim002_ses-1_task-default_events.tsv", sep="\t")) > N_TRIALS


class _AbortAt(HeadlessPresenter):
    """Ends the session (like a confirmed Escape) at the ``at``-th stimulus."""

    def __init__(self, *args, at, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.seen = at, 0

    def show_stimulus(self, trial, duration_s, *, code=None):
        self.seen += 1
        if self.seen == self.at:
            raise SessionAborted("test")
        return super().show_stimulus(trial, duration_s, code=code)


def test_resumed_onsets_continue_and_parts_say_where(default_protocol, manifest, tmp_path):
    """After an abort at trial 13, the resumed part's onsets continue from where trial 12 ended (its clock origin,
    recorded in the sidecar's parts with the first trial); no onset goes back."""
    from paradigm.pilot import run_pilot
    from paradigm.protocol_load import load_protocol

    overrides = {**dict(default_protocol.overrides), "blocks.main.trials_per_cell": 2}
    loaded = load_protocol(default_protocol.path, overrides)
    cut = run_pilot(loaded, manifest, n_participants=1, out_dir=tmp_path, seed=4,
                    presenter_factory=lambda lang, port: _AbortAt(loaded.protocol, lang, port, at=13))
    assert cut.sessions[0].status == "aborted" and cut.sessions[0].n_done == 12
    events = pd.read_csv(cut.sessions[0].files.events, sep="\t")
    end_of_12 = float((events.onset + events.duration).max())
    resumed = run_pilot(loaded, manifest, n_participants=1, out_dir=tmp_path, seed=4, resume=True).sessions[0]
    sidecar = json.loads(resumed.files.sidecar.read_text())
    assert [(p["first_trial"], p["status"]) for p in sidecar["parts"]] == [(1, "aborted"), (13, "completed")]
    assert sidecar["parts"][1]["clock_origin_s"] == pytest.approx(end_of_12, abs=1e-6)
    data = pd.read_csv(resumed.files.trials)
    assert data["fixation_onset_s"].is_monotonic_increasing and data["stimulus_onset_s"].is_monotonic_increasing
    assert data["fixation_onset_s"].iloc[12] >= end_of_12
    events = pd.read_csv(resumed.files.events, sep="\t")
    assert events["onset"].is_monotonic_increasing and events.groupby("trial").size().nunique() == 1


def test_run_session_refuses_trailing_newline_id(default_protocol, manifest, tmp_path):
    """An id with a trailing newline (which `re.match` with `$` accepts) is refused; no file is made."""
    from paradigm.session import run_session

    with pytest.raises(SessionError, match="1 to 64 letters and digits"):
        run_session(default_protocol, manifest, participant="P01\n", out_dir=tmp_path, presenter=None,
                    responder=None)
    assert not list(tmp_path.iterdir())


def test_signal_during_a_row_write_waits_for_the_row(tmp_path):
    """Inside the armed trial loop, a signal during a deferred write takes effect right after the write."""
    written = []
    with interrupt.handling_signals(), pytest.raises(SessionAborted, match="SIGTERM"):
        with interrupt.armed():
            with interrupt.deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                written.append("row")
    assert written == ["row"]


def test_lock_names_the_holder(tmp_path):
    """A second holder of a session's lock is refused at once with the first holder's PID; released, it is free."""
    from paradigm.locks import SessionLocked, session_lock

    files = SessionFiles(tmp_path, "P01", 1, "default")
    files.data_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom paradigm.locks import session_lock\n"
        f"with session_lock({str(files.lock)!r}, 'x'):\n    print('held', flush=True)\n    time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SessionLocked, match=f"being written by process {holder.pid}"):
            with session_lock(files.lock, files.trials):
                pass
    finally:
        holder.kill()
        holder.wait()
    with session_lock(files.lock, files.trials, wait_s=2):   # the OS released the killed holder's lock
        assert files.lock.read_text().strip() == str(os.getpid())
    assert not files.lock.exists()


# ------------------------------------------------------------------ CLI limits
@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot create files in (chmod for a user, chattr +i for root)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root without chattr +i: no way to make an unwritable folder here")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


def _pilot_cli(protocol, out, *extra):
    return ["pilot", str(protocol.path), "--set", f"stimuli.manifest={protocol.manifest_path}", "--out", str(out),
            *extra]


@pytest.mark.parametrize("extra, expected", [
    (["--participants", "1000000000"], "--participants 1000000000: allowed are 1 to 10,000"),
    (["--participants", "0"], "--participants 0: allowed are 1 to 10,000"),
    (["--participants", "1", "--seed", "-1"], "--seed -1: the seed must be a whole number ≥ 0"),
    (["--participants", "1", "--time-scale", "nan"], "--time-scale nan: allowed are finite numbers from 0"),
    (["--participants", "1", "--time-scale", "inf"], "--time-scale inf: allowed are finite numbers from 0"),
    (["--participants", "1", "--time-scale", "-1"], "--time-scale -1: allowed are finite numbers from 0"),
    (["--participants", "1", "--jobs", "1000000"], "--jobs 1000000: this machine has"),
    (["--participants", "1", "--jobs", "0"], "--jobs 0: at least 1"),
    (["--participants", "1", "--jobs", "1000000", "--force-jobs"], "--jobs 1000000: allowed are 1 to 10,000"),
])
def test_pilot_limits(default_protocol, tmp_path, capsys, extra, expected):
    """Each out-of-range pilot option ends in one line naming option, value and what is allowed; exit 2,
    nothing written."""
    out = tmp_path / "out"
    code = main(_pilot_cli(default_protocol, out, *extra))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"paradigm pilot: error: {expected}"), err
    assert not out.exists()


def test_out_must_be_a_writable_folder(default_protocol, tmp_path, capsys, unwritable):
    """--out naming a file, a path under a file, or a folder that cannot be written: one line, exit 2."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out, expected in [(a_file, "this is a file"), (a_file / "sub", f"{a_file} is a file"),
                          (unwritable, "the folder is not writable"),
                          (unwritable / "new" / "deeper",
                           f"the folder is not writable ({unwritable}, where it would be made)")]:
        code = main(_pilot_cli(default_protocol, out, "--participants", "1"))
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and f"--out {out}: {expected}" in err, err
    assert a_file.read_text() == "x" and not list(unwritable.iterdir())


@pytest.mark.parametrize("participant, expected", [
    ("P" * 65, "'PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP… (65 characters)"),
    ("P01\n", "'P01\\n'"),
    ("P-01", "'P-01'"),
])
def test_run_participant_id_limits(default_protocol, tmp_path, capsys, participant, expected):
    """`paradigm run --participant` longer than 64 or not letters and digits only: one line, exit 2."""
    out = tmp_path / "out"
    code = main(["run", str(default_protocol.path), "--participant", participant, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"paradigm run: error: --participant must be 1 to 64 letters and digits (got {expected})")
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["run", "{protocol}", "--participant", "P01", "--out", "{out}"],
    ["pilot", "{protocol}", "--participants", "1", "--visual", "--out", "{out}"],
])
def test_missing_psychopy_gives_install_hint(default_protocol, tmp_path, capsys, monkeypatch, argv):
    """Without PsychoPy, `paradigm run` and `pilot --visual` print the install line, exit 2, write nothing."""
    monkeypatch.setitem(sys.modules, "psychopy", None)
    monkeypatch.setenv("DISPLAY", ":99")
    out = tmp_path / "out"
    code = main([a.format(protocol=default_protocol.path, out=out) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "pip install -e '.[lab]'" in err and "Traceback" not in err, err
    assert not out.exists()


def test_limits_hold_in_a_real_process(default_protocol, tmp_path):
    """The real command with --seed -1 exits 2 with one line on stderr and no traceback."""
    result = subprocess.run(_cmd(default_protocol, tmp_path / "out", "--participants", "1", "--seed", "-1"),
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
