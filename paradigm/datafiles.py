"""A session's files: the trial CSV, the session sidecar, BIDS events and the dataset description.

Layout (Psych-DS keyword–value names, data under ``data/`` of the dataset root)::

    OUT/dataset_description.json
    OUT/data/sub-<participant>_ses-<session>_task-<protocol>_data.csv      one row per trial
    OUT/data/sub-…_session.json                                              provenance + status
    OUT/data/sub-…_events.tsv  (+ _events.json)                              BIDS events, one per screen

Rows are appended one trial at a time, each with a single ``write`` on a file opened with
``O_APPEND`` (in the kernel at once, so a killed process loses nothing written; fsynced too in a
lab session); files are created with exclusive mode, so an existing participant's data are
never overwritten. ``…_session.lock`` exists while a process writes the session
(:mod:`paradigm.locks`).
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import SessionError

BASE_COLUMNS = [
    "participant", "session", "protocol", "protocol_sha256", "mode", "simulated",
    "block", "block_kind", "trial", "trial_in_block",
    "stimulus_id", "stimulus_file", "stimulus_type", "pain", "identity",
    "participant_group", "stimulus_group", "group", "perspective",
    "fixation_onset_s", "stimulus_onset_s", "stimulus_offset_s", "stimulus_duration_s", "dropped_frames",
]
ONSET_COLUMNS = ("fixation_onset_s", "stimulus_onset_s", "stimulus_offset_s")   # shifted by a part's clock origin
EVENT_COLUMNS = ["onset", "duration", "trial_type", "trial", "block", "stimulus_id", "pain", "perspective",
                 "group", "response", "response_time", "value_code"]


def trial_columns(protocol):
    """The trial CSV's columns for ``protocol``, in contract order."""
    columns = list(BASE_COLUMNS)
    for rating in protocol.ratings:
        columns += [f"rating_{rating.name}", f"rating_{rating.name}_rt_s"]
    if protocol.judgement is not None:
        columns += ["judgement", "judgement_correct", "judgement_rt_s"]
    return columns + ["timed_out", "timestamp_utc"]


@dataclass(frozen=True)
class SessionFiles:
    """Where one participant's session lives."""

    root: Path
    participant: str
    session: int
    task: str

    @property
    def stem(self):
        return f"sub-{self.participant}_ses-{self.session}_task-{self.task}"

    @property
    def data_dir(self):
        return self.root / "data"

    @property
    def trials(self):
        return self.data_dir / f"{self.stem}_data.csv"

    @property
    def sidecar(self):
        return self.data_dir / f"{self.stem}_session.json"

    @property
    def events(self):
        return self.data_dir / f"{self.stem}_events.tsv"

    @property
    def events_json(self):
        return self.data_dir / f"{self.stem}_events.json"

    @property
    def lock(self):
        return self.data_dir / f"{self.stem}_session.lock"

    def existing(self):
        return [p for p in (self.trials, self.sidecar, self.events, self.events_json) if p.exists()]


def _format(value):
    """A CSV cell: empty for missing, true/false, floats to the microsecond without trailing zeros."""
    kind = type(value)
    if kind is float:
        return ("%.6f" % value).rstrip("0").rstrip(".") if value == value else ""
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    return str(value)


class _AppendOnly:
    """A text file opened with ``O_APPEND``; each :meth:`write` is one ``os.write`` (and fsync)."""

    def __init__(self, path, *, create, fsync, header=None):
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_BINARY", 0) | (os.O_CREAT | os.O_EXCL if create else 0)
        try:
            self._fd = os.open(path, flags, 0o644)
        except FileExistsError:
            raise SessionError(f"{path} already exists; it is never overwritten") from None
        self._fsync = fsync
        if header is not None:
            self.write(header)

    def write(self, text):
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(self._fd, data):]
        if self._fsync:
            os.fsync(self._fd)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SessionWriter:
    """Appends trial rows and events for one session.

    ``resume=True`` appends to the files on disk (creating any that are missing, with their
    header). ``clock_origin_s`` is added to every onset written, so a resumed part's onsets
    continue from where the previous part ended.
    """

    def __init__(self, files: SessionFiles, columns, *, resume=False, fsync=True, clock_origin_s=0.0):
        self.files, self.columns = files, list(columns)
        self.clock_origin_s = float(clock_origin_s)
        files.data_dir.mkdir(parents=True, exist_ok=True)
        opened = []
        try:
            for path, header in ((files.trials, _csv_line(self.columns, ",")),
                                 (files.events, _csv_line(EVENT_COLUMNS, "\t"))):
                create = not (resume and path.exists())
                empty = create or path.stat().st_size == 0     # a resumed file cut before its header
                opened.append(_AppendOnly(path, create=create, fsync=fsync, header=header if empty else None))
        except BaseException:
            for f in opened:
                f.close()
            raise
        self._trials, self._events = opened

    def _shift(self, value):
        return value + self.clock_origin_s if self.clock_origin_s and type(value) in (float, int) else value

    def write_trial(self, row: dict, events):
        """Append one trial's events and then its row (a row on disk means a whole trial)."""
        if self.clock_origin_s:
            row = row | {c: self._shift(row.get(c)) for c in ONSET_COLUMNS}
            events = [e | {"onset": self._shift(e.get("onset"))} for e in events]
        if events:
            self._events.write(_csv_lines(
                [[v if type(v) is str else "n/a" if v is None else _format(v)
                  for v in map(e.get, EVENT_COLUMNS)] for e in events], "\t"))
        self._trials.write(_csv_line([v if type(v) is str else _format(v) for v in map(row.get, self.columns)], ","))

    def close(self):
        self._trials.close()
        self._events.close()


def _csv_line(values, delimiter):
    return _csv_lines([values], delimiter)


def _csv_lines(rows, delimiter):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_json_atomic(path: Path, data):
    """Replace ``path`` with ``data`` via a temporary file, so a crash leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder):
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json_new(path: Path, data):
    """Create ``path`` with ``data`` in one step (a whole file or none); refuse if it exists."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
            fh.write("\n")
        try:
            os.link(tmp, path)          # fails if path exists: never overwrites
        except FileExistsError:
            raise SessionError(f"{path} already exists; it is never overwritten") from None
        except OSError:                 # a file system without hard links: exclusive create
            try:
                with open(path, "x", encoding="utf-8") as fh:
                    fh.write(Path(tmp).read_text(encoding="utf-8"))
            except FileExistsError:
                raise SessionError(f"{path} already exists; it is never overwritten") from None
    finally:
        os.unlink(tmp)


def ensure_dataset_description(root: Path, protocol, columns):
    """Write the Psych-DS ``dataset_description.json`` at the dataset root unless one is there."""
    path = root / "dataset_description.json"
    if path.exists():
        return path
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": protocol.title or f"Pain-empathy task '{protocol.name}'",
        "description": f"Trial data of the pain-empathy task '{protocol.name}', one CSV per session, "
                       "written by the pain-empathy toolkit.",
        "variableMeasured": list(columns),
    }
    try:
        write_json_new(path, data)
    except SessionError:
        pass  # another session created it a moment ago
    return path


def events_sidecar(protocol):
    """The BIDS JSON sidecar describing the events.tsv columns."""
    return {
        "onset": {"Description": "Seconds from session start, at the flip that showed the screen",
                  "Units": "s"},
        "duration": {"Description": "Seconds the screen was shown", "Units": "s"},
        "trial_type": {"Description": "Screen shown",
                       "Levels": {e: e for e in ["instructions", *[ev.event for ev in protocol.timeline],
                                                 "feedback"]}
                       | ({"null": "null event: fixation only, no stimulus and no rating (trial n/a)"}
                          if protocol.blocks.main.null_events else {})},
        "trial": {"Description": "Trial number in the session (1-based)"},
        "block": {"Description": "Block number in the session (1-based)"},
        "stimulus_id": {"Description": "Manifest id of the stimulus shown"},
        "pain": {"Description": "pain or neutral"},
        "perspective": {"Description": "self, other or none"},
        "group": {"Description": "ingroup, outgroup or none"},
        "response": {"Description": "Rating value or judgement key; n/a when there was none"},
        "response_time": {"Description": "Seconds from screen onset to the response", "Units": "s"},
        "value_code": {"Description": "Trigger code sent on the screen's first flip"},
    }


def truncate_to(path: Path, size: int):
    """Cut ``path`` back to its first ``size`` bytes (a cut-off line, a cut-off trial's events); fsynced."""
    if not path.exists() or path.stat().st_size <= size:
        return
    with open(path, "r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())
