"""Start or resume one participant's session: files, sidecar, design, the trial loop, the final status.

The sidecar's ``status`` is ``running`` while trials run, then ``completed``, ``aborted``
(Escape, SIGINT, SIGTERM) or ``crashed`` (an error). A hard kill leaves ``running``; the
next ``--resume`` records that part as ``killed`` and continues from the first missing trial
with the same trial table, rebuilt from the seed, slot and group in the sidecar
(:mod:`paradigm.reconcile` decides what a resume may do). One process at a time writes a
session: it holds the session's lock (:mod:`paradigm.locks`) from its first look at the files
to its last sidecar update.
"""
from __future__ import annotations

import functools
import logging
import platform
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import interrupt
from .counterbalance import slot_from_participant
from .datafiles import (SessionFiles, SessionWriter, ensure_dataset_description, events_sidecar, trial_columns,
                        truncate_to, write_json_atomic, write_json_new)
from .design import build_design, n_slots
from .errors import SessionError
from .locks import SessionLocked, session_lock
from .presenter import SessionAborted
from .protocol import PARTICIPANT_ID, StimulusEvent
from .reconcile import plan_resume
from .trial_loop import run_trials

log = logging.getLogger("paradigm")

MAX_ID_CHARS = 64        # a participant id's length (it is part of every file name)
MAX_SESSION = 9999
LOCK_WAIT_S = 5.0        # how long a start waits for a previous writer that is ending


def _shown(value):
    """``repr(value)``, cut short for a very long one."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:36]}… ({len(str(value))} characters)"


def participant_id_problem(participant):
    """Why ``participant`` cannot be an id (letters and digits, 1 to 64), or None."""
    if not isinstance(participant, str) or not PARTICIPANT_ID.fullmatch(participant) \
            or len(participant) > MAX_ID_CHARS:
        return f"must be 1 to {MAX_ID_CHARS} letters and digits (got {_shown(participant)})"
    return None


def session_number_problem(session):
    """Why ``session`` cannot be a session number (a whole number 1 to 9999), or None."""
    if isinstance(session, bool) or not isinstance(session, int) or not 1 <= session <= MAX_SESSION:
        return f"must be a whole number from 1 to {MAX_SESSION} (got {_shown(session)})"
    return None


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
    repaired: bool = False   # a resume found every trial on disk and only marked the session completed


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
        1 to 64 letters and digits; the session is 1 to 9999.
    out_dir : Path
        The dataset root (files go to ``out_dir/data``).
    presenter, responder
        See :mod:`paradigm.presenter`.
    seed, slot, participant_group
        The design's inputs; ``slot`` defaults to the participant number's slot and ``seed``
        to a fresh one. On resume all three come from the sidecar.
    fsync : bool
        Also fsync each row (lab sessions); a row is in the kernel as soon as it is written,
        so a killed process loses nothing either way.

    Raises
    ------
    SessionError
        A bad id, existing data without ``resume``, a session another process is writing, or
        one a resume cannot continue (:func:`paradigm.reconcile.plan_resume`;
        :class:`paradigm.reconcile.SessionComplete` when it is already complete).
    SessionAborted
        SIGINT/SIGTERM arrived before anything was written.
    """
    protocol = loaded.protocol
    for what, problem in (("participant id", participant_id_problem(participant)),
                          ("session", session_number_problem(session))):
        if problem:
            raise SessionError(f"{what} {problem}")
    language = language or protocol.language
    if language not in protocol.instructions:
        raise SessionError(f"language must be one of {', '.join(protocol.instructions)} (got {language!r})")
    out_dir = Path(out_dir)
    files = SessionFiles(out_dir, participant, session, protocol.name)
    design = None
    if resume:
        if not files.sidecar.exists() and not files.trials.exists():
            raise SessionError(f"nothing to resume: {files.trials} and {files.sidecar} are missing")
    else:
        if files.existing():
            raise _exists(files, protocol)
        if seed is None:
            import numpy as np

            seed = int(np.random.SeedSequence().generate_state(1)[0])
        slot = slot_from_participant(participant, n_slots(protocol)) if slot is None else slot
        design = build_design(protocol, manifest, slot=slot, seed=seed, participant_group=participant_group)
    try:
        files.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SessionError(f"{files.data_dir}: the folder cannot be made ({exc.strerror or exc})") from None
    with interrupt.handling_signals(), ExitStack() as held:
        try:
            held.enter_context(session_lock(files.lock, files.trials, wait_s=LOCK_WAIT_S,
                                            should_stop=interrupt.requested))
        except SessionLocked:
            interrupt.check()   # a stop request ended the wait: nothing was written
            raise
        interrupt.check()
        if resume:
            plan = plan_resume(files, loaded, manifest)
            truncate_to(files.trials, plan.trials_keep)
            truncate_to(files.events, plan.events_keep)
            if plan.complete:
                write_json_atomic(files.sidecar, plan.sidecar)
                log.warning("%s: all %d trials were on disk; marked completed (see 'repairs' in %s)",
                            files.trials, plan.start, files.sidecar.name)
                return SessionResult(files, "completed", plan.start, plan.start, repaired=True)
            sidecar, design, start, origin = plan.sidecar, plan.design, plan.start, plan.clock_origin_s
        else:
            if files.existing():   # created since the first look, by another process
                raise _exists(files, protocol)
            sidecar = _new_sidecar(loaded, manifest, design, participant, session, mode, simulated, language,
                                   sidecar_extra)
            start, origin = 0, 0.0
        return _run_part(loaded, manifest, files, sidecar, design, start, origin, language, mode, simulated,
                         presenter, responder, resume, fsync, on_trial)


def _exists(files, protocol):
    return SessionError(f"data for sub-{files.participant} ses-{files.session} task-{protocol.name} already exist "
                        f"({files.existing()[0]}); use --resume to continue it, or another participant/session")


def _run_part(loaded, manifest, files, sidecar, design, start, origin, language, mode, simulated, presenter,
              responder, resume, fsync, on_trial):
    """Run the trials from ``start`` as a new part of the session, holding its lock; finalise the sidecar."""
    protocol = loaded.protocol
    context = SessionContext(loaded, manifest, language, {
        "participant": files.participant, "session": files.session, "protocol": protocol.name,
        "protocol_sha256": loaded.sha256, "mode": mode, "simulated": simulated,
        "participant_group": design.participant_group or ""})
    columns = trial_columns(protocol)
    ensure_dataset_description(files.root, protocol, columns)
    part = {"started_utc": _now(), "first_trial": start + 1, "clock_origin_s": origin, "status": "running"}
    sidecar.setdefault("parts", []).append(part)
    sidecar["status"] = "running"
    if resume:
        write_json_atomic(files.sidecar, sidecar)
    else:
        write_json_new(files.sidecar, sidecar)
    if not files.events_json.exists():
        write_json_new(files.events_json, events_sidecar(protocol))
    writer = _SignalSafeWriter(SessionWriter(files, columns, resume=resume, fsync=fsync, clock_origin_s=origin))
    status = "crashed"
    try:
        with interrupt.armed():
            run_trials(context, design, presenter, responder, writer, start=start, on_trial=on_trial)
        status = "completed"
    except SessionAborted:
        # an abort on the goodbye screen, after the last trial, leaves a complete session
        status = "completed" if start + writer.n_rows == len(design.trials) else "aborted"
    finally:
        writer.close()
        done = start + writer.n_rows
        part.update(ended_utc=_now(), status=status, last_trial=done)
        if hasattr(presenter, "report"):   # a window's display facts and frame intervals
            part.update(presenter.report())
        sidecar.update(status=status, ended_utc=part["ended_utc"], n_trials_done=done)
        write_json_atomic(files.sidecar, sidecar)
    return SessionResult(files, status, done, len(design.trials))


class _SignalSafeWriter:
    """A SessionWriter whose trial writes finish before a signal takes effect; counts the rows written."""

    def __init__(self, writer):
        self._writer, self.n_rows = writer, 0

    def write_trial(self, row, events):
        with interrupt.deferred():
            self._writer.write_trial(row, events)
            self.n_rows += 1

    def close(self):
        self._writer.close()


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
