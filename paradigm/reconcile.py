"""Resume planning: compare a session's rows on disk with its rebuilt design and its sidecar.

What is consistent is finished; what is not is refused in one line, so a resume never repeats
or drops a trial:

- every row must parse with the header's columns, and row *i* must be trial *i* of the design
  rebuilt from the sidecar's seed, slot and group, of this participant and protocol;
- an unterminated last line (a write cut off by a kill) is dropped and kept in the sidecar;
- fewer rows than the sidecar says were done means rows were lost: refused;
- every planned trial on disk but the status not ``completed`` (a kill between the last row
  and the sidecar update): the session is marked completed, with a note in ``repairs``;
- otherwise the plan is to run from the first missing trial, onsets continuing from the end
  of the last trial on disk (the part's ``clock_origin_s``).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from .datafiles import ONSET_COLUMNS, trial_columns
from .design import build_design
from .errors import SessionError

STATUSES = ("running", "aborted", "crashed", "completed")


class SessionComplete(SessionError):
    """The session is already complete: nothing to resume."""


@dataclass
class ResumePlan:
    """What a resume does: the sidecar (updated), the design, where to start, what to repair."""

    sidecar: dict
    design: object
    start: int              # trials on disk; the next to run is ``start + 1``
    fragment: str           # an unterminated last line of the trial CSV, dropped before appending
    trials_keep: int        # bytes of the trial CSV to keep (whole lines)
    events_keep: int        # bytes of the events file to keep (up to the last trial on disk)
    clock_origin_s: float   # the session time where the last trial on disk ended
    complete: bool          # every planned trial is on disk: the sidecar is repaired, nothing runs


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def read_sidecar(files):
    """The session sidecar as a dict; a missing or unreadable one is refused in one line."""
    try:
        data = json.loads(files.sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionError(f"nothing to resume: {files.sidecar} is missing") from None
    except (OSError, ValueError) as exc:
        raise SessionError(f"{files.sidecar}: cannot be read as JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise SessionError(f"{files.sidecar}: not a session sidecar (a JSON object was expected)")
    return data


def _field(sidecar, files, *keys):
    value = sidecar
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise SessionError(f"{files.sidecar}: the field {'.'.join(keys)!r} is missing; not resuming")
        value = value[key]
    return value


def read_trial_file(path):
    """``(header, rows, fragment, n_whole_bytes)`` of a trial CSV.

    ``fragment`` is an unterminated last line (a write cut off by a kill); a row with the
    wrong number of cells, or bytes that are not UTF-8 before it, are refused.
    """
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1
    fragment = data[cut:].decode("utf-8", errors="replace")
    try:
        text = data[:cut].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SessionError(f"{path}: byte {exc.start} is not UTF-8; the file is damaged, not resuming") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    rows = []
    for record in reader:
        if len(record) != len(header):
            raise SessionError(f"{path}, line {reader.line_num}: {len(record)} cells where the header has "
                               f"{len(header)}; the file is damaged, not resuming")
        rows.append(dict(zip(header, record)))
    return header, rows, fragment, cut


def plan_resume(files, loaded, manifest) -> ResumePlan:
    """Check the session on disk against the protocol now given; return what to do.

    Raises
    ------
    SessionComplete
        The sidecar says completed and every planned trial is on disk.
    SessionError
        Anything inconsistent, with a one-line reason naming the file.
    """
    if not files.sidecar.exists() and files.trials.exists():
        raise SessionError(f"{files.trials} has no sidecar ({files.sidecar.name} is missing), so how it was made "
                           f"cannot be checked; not resuming")
    sidecar = read_sidecar(files)
    ran = _field(sidecar, files, "protocol", "sha256")
    if ran != loaded.sha256:
        raise SessionError(f"{files.sidecar}: the session ran protocol sha256 {str(ran)[:12]}…, but {loaded.path} "
                           f"now has {loaded.sha256[:12]}…; resume with the original protocol")
    if _field(sidecar, files, "manifest", "sha256") != manifest.sha256:
        raise SessionError(f"{files.sidecar}: the stimulus manifest changed since the session started "
                           f"({manifest.path}); resume with the original manifest")
    status = _field(sidecar, files, "status")
    if status not in STATUSES:
        raise SessionError(f"{files.sidecar}: status {status!r} is not one of {', '.join(STATUSES)}; not resuming")
    design = build_design(loaded.protocol, manifest, slot=_field(sidecar, files, "counterbalancing_slot"),
                          seed=_field(sidecar, files, "seed"),
                          participant_group=_field(sidecar, files, "participant_group") or None)
    planned = len(design.trials)
    if sidecar.get("n_trials_planned", planned) != planned:
        raise SessionError(f"{files.sidecar}: {sidecar['n_trials_planned']} trials were planned, the rebuilt "
                           f"design has {planned}; not resuming")
    done_before = sidecar.get("n_trials_done") or 0
    if not isinstance(done_before, int) or done_before < 0:
        raise SessionError(f"{files.sidecar}: n_trials_done {done_before!r} is not a whole number ≥ 0; not resuming")
    if not files.trials.exists():
        if done_before or status == "completed":
            raise SessionError(f"{files.trials} is missing but {files.sidecar} records {done_before} trials done; "
                               f"restore the file, not resuming")
        rows, fragment, keep = [], "", 0    # killed before the first row: start afresh
    else:
        rows, fragment, keep = _checked_rows(files, loaded, sidecar, design)
    if len(rows) < done_before:
        raise SessionError(f"{files.trials} holds {len(rows)} trials but {files.sidecar} records {done_before} "
                           f"done; rows were lost, not resuming (restore the file from a backup)")
    if fragment:
        sidecar.setdefault("discarded_fragments", []).append(fragment)
    if status == "completed":
        if len(rows) == planned and not fragment:
            raise SessionComplete(f"{files.trials}: the session is already complete; nothing to resume")
        raise SessionError(f"{files.sidecar} says completed but {files.trials} holds {len(rows)} of {planned} "
                           f"trials{' and a cut-off line' if fragment else ''}; not resuming")
    for part in sidecar.setdefault("parts", []):
        if part.get("status") == "running":
            part.update(status="killed", last_trial=len(rows))
    complete = len(rows) == planned
    if complete:
        sidecar.setdefault("repairs", []).append({
            "utc": _now(), "status_was": status,
            "note": f"all {planned} trials were on disk but the status was '{status}' (the process ended after its "
                    f"last trial, before its final sidecar update); marked completed on resume, nothing rerun"})
        sidecar.update(status="completed", n_trials_done=planned,
                       ended_utc=rows[-1].get("timestamp_utc") or _now())
    kept_events = _kept_event_lines(files, int(rows[-1]["trial"]) if rows else 0)
    return ResumePlan(sidecar, design, len(rows), fragment, keep, sum(map(len, kept_events)),
                      _clock_origin(kept_events, rows), complete)


def _checked_rows(files, loaded, sidecar, design):
    header, rows, fragment, keep = read_trial_file(files.trials)
    columns = trial_columns(loaded.protocol)
    if header is None:                   # an empty file, or killed while writing the header
        return [], fragment, 0
    if header != columns:
        raise SessionError(f"{files.trials}: the header is not the protocol's {len(columns)} trial columns; "
                           f"not resuming")
    if len(rows) > len(design.trials):
        raise SessionError(f"{files.trials} holds {len(rows)} rows but the session plans {len(design.trials)} "
                           f"trials; not resuming")
    who, sha = str(sidecar.get("participant")), loaded.sha256
    for line, (row, trial) in enumerate(zip(rows, design.trials), start=2):
        if row["trial"] != str(trial.trial) or row["stimulus_id"] != trial.stimulus_id:
            raise SessionError(f"{files.trials}, line {line}: trial {row['trial']} (stimulus {row['stimulus_id']}) "
                               f"where the rebuilt trial table has trial {trial.trial} (stimulus "
                               f"{trial.stimulus_id}); not resuming")
        if row["participant"] != who or row["protocol_sha256"] != sha:
            raise SessionError(f"{files.trials}, line {line}: participant {row['participant']!r} / protocol "
                               f"{row['protocol_sha256'][:12]} is not this session's ({who!r} / {sha[:12]}); "
                               f"not resuming")
    return rows, fragment, keep


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _clock_origin(kept_events, rows):
    """Where the last trial on disk ended on the session clock (0 without one)."""
    if not rows:
        return 0.0
    ends = []
    for line in kept_events[1:]:
        cells = line.decode("utf-8", errors="replace").rstrip("\n").split("\t")
        onset, duration = _float(cells[0]), _float(cells[1]) if len(cells) > 1 else None
        if onset is not None:
            ends.append(onset + (duration or 0.0))
    if not ends:   # no events file: the latest onset in the rows
        ends = [v for row in rows for v in map(_float, (row.get(c) for c in ONSET_COLUMNS)) if v is not None]
    return round(max(ends, default=0.0), 6)


def _kept_event_lines(files, last_trial):
    """The events file's header and lines (bytes) up to ``last_trial``'s last event; [] without a file.

    What follows belongs to the trial that was cut off (it runs again) or is a cut-off line.
    """
    try:
        lines = files.events.read_bytes().splitlines(keepends=True)
    except FileNotFoundError:
        return []
    if not lines or not lines[0].endswith(b"\n"):
        return []
    keep = 1
    for i, line in enumerate(lines[1:], start=1):
        cells = line.split(b"\t")
        trial = cells[3] if len(cells) > 3 else b""
        if line.endswith(b"\n") and trial.isdigit() and int(trial) <= last_trial:
            keep = i + 1
    return lines[:keep]
