"""Start or resume one participant's session: files, sidecar, design, the trial loop, the final status.

The sidecar's ``status`` is ``running`` while trials run, then ``completed``, ``aborted``
(Escape, SIGINT, SIGTERM) or ``crashed`` (an error). A hard kill leaves ``running``; the
next ``--resume`` records that part as ``killed`` and continues from the first missing trial
with the same trial table, rebuilt from the seed, slot and group in the sidecar.
"""
from __future__ import annotations

import functools
import json
import logging
import platform
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .counterbalance import slot_from_participant
from .datafiles import (SessionFiles, SessionWriter, drop_fragment, ensure_dataset_description, events_sidecar,
                        read_completed_rows, trial_columns, write_json_atomic, write_json_new)
from .design import build_design, n_slots
from .errors import SessionError
from .presenter import SessionAborted
from .protocol import PARTICIPANT_ID, StimulusEvent
from .trial_loop import run_trials

log = logging.getLogger("paradigm")


@dataclass
class SessionContext:
    """What the trial loop needs besides the trial table: protocol, language, the fixed row fields."""

    loaded: object
    manifest: object
    language: str
    row_template: dict = field(default_factory=dict)

    @property
    def protocol(self):
        return self.loaded.protocol


@dataclass(frozen=True)
class SessionResult:
    files: SessionFiles
    status: str
    n_done: int
    n_planned: int


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=1)
def _library_versions():
    from importlib import metadata

    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("pain-empathy-toolkit", "numpy", "pydantic", "pyyaml", "psychopy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def software_versions(extra=None):
    """Versions of Python and the libraries that shaped the data."""
    return _library_versions() | (extra or {})


def run_session(loaded, manifest, *, participant, session=1, out_dir, presenter, responder, mode="pilot",
                simulated=True, seed=None, slot=None, participant_group=None, language=None, resume=False,
                fsync=True, sidecar_extra=None, on_trial=None) -> SessionResult:
    """Run (or resume) one session and return where its files are and how it ended.

    Parameters
    ----------
    loaded : LoadedProtocol
    manifest : stimuli.Manifest
    participant, session : str, int
        Letters and digits only; the session is 1 or more.
    out_dir : Path
        The dataset root (files go to ``out_dir/data``).
    presenter, responder
        See :mod:`paradigm.presenter`.
    seed, slot, participant_group
        The design's inputs; ``slot`` defaults to the participant number's slot and ``seed``
        to a fresh one. On resume all three come from the sidecar.
    fsync : bool
        Also fsync each row (lab sessions); a flush alone survives a killed process.
    """
    protocol = loaded.protocol
    if not PARTICIPANT_ID.match(participant or ""):
        raise SessionError(f"participant id must be letters and digits only (got {participant!r})")
    if not isinstance(session, int) or session < 1:
        raise SessionError(f"session must be a whole number ≥ 1 (got {session!r})")
    language = language or protocol.language
    if language not in protocol.instructions:
        raise SessionError(f"language must be one of {', '.join(protocol.instructions)} (got {language!r})")
    files = SessionFiles(out_dir, participant, session, protocol.name)
    if resume:
        sidecar, design, start = _resume_state(files, loaded, manifest)
    else:
        existing = files.existing()
        if existing:
            raise SessionError(f"data for sub-{participant} ses-{session} task-{protocol.name} already exist "
                               f"({existing[0]}); use --resume to continue it, or another participant/session")
        if seed is None:
            import numpy as np

            seed = int(np.random.SeedSequence().generate_state(1)[0])
        slot = slot_from_participant(participant, n_slots(protocol)) if slot is None else slot
        design = build_design(protocol, manifest, slot=slot, seed=seed, participant_group=participant_group)
        sidecar = _new_sidecar(loaded, manifest, design, participant, session, mode, simulated, language,
                               sidecar_extra)
        start = 0
    context = SessionContext(loaded, manifest, language, {
        "participant": participant, "session": session, "protocol": protocol.name,
        "protocol_sha256": loaded.sha256, "mode": mode, "simulated": simulated,
        "participant_group": design.participant_group or ""})
    columns = trial_columns(protocol)
    ensure_dataset_description(out_dir, protocol, columns)
    files.data_dir.mkdir(parents=True, exist_ok=True)
    part = {"started_utc": _now(), "first_trial": start + 1, "status": "running"}
    sidecar["parts"].append(part)
    sidecar["status"] = "running"
    if resume:
        write_json_atomic(files.sidecar, sidecar)
    else:
        write_json_new(files.sidecar, sidecar)
        write_json_new(files.events_json, events_sidecar(protocol))
    writer = SessionWriter(files, columns, resume=resume, fsync=fsync)
    status, done = "crashed", start
    try:
        with _abort_on_signals():
            done = run_trials(context, design, presenter, responder, writer, start=start,
                              on_trial=on_trial)
        status = "completed"
    except SessionAborted:
        status = "aborted"
        done = _count_rows(files)
    except BaseException:
        done = _count_rows(files)
        raise
    finally:
        writer.close()
        part.update(ended_utc=_now(), status=status, last_trial=done)
        if hasattr(presenter, "report"):   # a window's display facts and frame intervals
            part.update(presenter.report())
        sidecar.update(status=status, ended_utc=part["ended_utc"], n_trials_done=done)
        write_json_atomic(files.sidecar, sidecar)
    return SessionResult(files, status, done, len(design.trials))


def _count_rows(files):
    rows, _ = read_completed_rows(files.trials)
    return len(rows)


def _intended_stimulus_s(protocol):
    """The stimulus event's duration [min, max] in seconds (equal for a fixed one), or None without one."""
    shown = [e for e in protocol.timeline if isinstance(e, StimulusEvent)]
    return list(shown[0].duration_s) if shown else None


def measures_record(protocol):
    """What the analysis needs to check and scope each measure: scale, range, timeout, where it is asked."""
    ratings = {r.name: {"scale": r.scale, "range": list(r.range), "step": r.step, "timeout_s": r.timeout_s,
                        "asked_when": {f: list(v) for f, v in r.asked_when.items()}} for r in protocol.ratings}
    judgement = protocol.judgement
    return {"ratings": ratings,
            "judgement": None if judgement is None else {"keys": dict(judgement.keys), "timeout_s": judgement.timeout_s}}


def _new_sidecar(loaded, manifest, design, participant, session, mode, simulated, language, extra):
    return {
        "participant": participant, "session": session, "task": loaded.protocol.name,
        "mode": mode, "simulated": simulated, "language": language,
        "protocol": {"path": str(loaded.path), "sha256": loaded.sha256,
                     "overrides": [[k, v] for k, v in loaded.overrides]},
        "manifest": {"path": str(manifest.path), "sha256": manifest.sha256},
        "seed": design.seed, "counterbalancing_slot": design.slot, "block_order": list(design.block_order),
        "participant_group": design.participant_group, "n_trials_planned": len(design.trials),
        "n_main_trials_planned": sum(t.block_kind == "main" for t in design.trials),
        "intended_stimulus_s": _intended_stimulus_s(loaded.protocol),
        "factor_levels": loaded.protocol.factor_levels(), "measures": measures_record(loaded.protocol),
        "software": software_versions(), "started_utc": _now(), "ended_utc": None,
        "status": "running", "n_trials_done": 0, "parts": [],
        **({"n_null_events_planned": n_null} if (n_null := sum(b.n_null for b in design.blocks)) else {}),
        **(extra or {}),
    }


def _resume_state(files, loaded, manifest):
    """Check the old session against the protocol now given; return (sidecar, design, first index)."""
    if not files.sidecar.exists() or not files.trials.exists():
        raise SessionError(f"nothing to resume: {files.trials} or {files.sidecar} is missing")
    try:
        sidecar = json.loads(files.sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SessionError(f"{files.sidecar}: cannot be read as JSON ({exc})") from None
    if sidecar["protocol"]["sha256"] != loaded.sha256:
        raise SessionError(f"{files.sidecar}: the session ran protocol sha256 {sidecar['protocol']['sha256'][:12]}…, "
                           f"but {loaded.path} now has {loaded.sha256[:12]}…; resume with the original protocol")
    if sidecar["manifest"]["sha256"] != manifest.sha256:
        raise SessionError(f"{files.sidecar}: the stimulus manifest changed since the session started "
                           f"({manifest.path}); resume with the original manifest")
    if sidecar["status"] == "completed":
        raise SessionError(f"{files.trials}: the session is already complete; nothing to resume")
    design = build_design(loaded.protocol, manifest, slot=sidecar["counterbalancing_slot"], seed=sidecar["seed"],
                          participant_group=sidecar["participant_group"] or None)
    rows, fragment = read_completed_rows(files.trials)
    for row, trial in zip(rows, design.trials):
        if row.get("trial") != str(trial.trial) or row.get("stimulus_id") != trial.stimulus_id:
            raise SessionError(f"{files.trials}: trial {row.get('trial')} does not match the rebuilt trial "
                               f"table (stimulus {row.get('stimulus_id')} vs {trial.stimulus_id}); not resuming")
    if len(rows) >= len(design.trials):
        raise SessionError(f"{files.trials}: all {len(rows)} trials are on disk; nothing to resume")
    for part in sidecar["parts"]:
        if part["status"] == "running":
            part.update(status="killed", last_trial=len(rows))
    if fragment:
        sidecar.setdefault("discarded_fragments", []).append(fragment)
        drop_fragment(files.trials, fragment)
    _drop_events_after(files, len(rows))
    return sidecar, design, len(rows)


def _drop_events_after(files, last_trial):
    """Remove the events of the trial that was cut off (it runs again); the header stays."""
    lines = files.events.read_text(encoding="utf-8").splitlines(keepends=True) if files.events.exists() else []
    keep = 1
    for i, line in enumerate(lines[1:], start=1):
        trial = line.split("\t")[3] if line.count("\t") > 3 else ""
        if line.endswith("\n") and trial.isdigit() and int(trial) <= last_trial:
            keep = i + 1
    if lines:
        drop_fragment(files.events, "".join(lines[keep:]))


@contextmanager
def _abort_on_signals():
    """SIGINT and SIGTERM end the session like a confirmed Escape (the data stay, status 'aborted')."""
    def handler(signum, frame):
        raise SessionAborted(signal.Signals(signum).name)

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
