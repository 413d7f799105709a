"""Sessions behind trial files: their sidecars, who they are, and whether they are complete.

- **Identity.** One session (participant × session number) lives in one file. Two files
  holding the same session are an error naming both — unless they are byte-identical
  copies, which are read once (and listed). Two sessions of one participant are fine.
- **Completeness** is taken from the rows: a session is complete when its trial numbers
  are exactly 1 … the number its sidecar planned. The sidecar's status is a cross-check,
  and any disagreement is reported (a ``completed`` sidecar beside a short file, or all
  rows on disk under a ``running`` sidecar whose session was killed before it could say
  so). Without a sidecar, a session is compared with the largest session in the data, and
  the report says that this is the basis.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

__all__ = ["completeness", "read_sidecar", "sidecar_path", "unique_files"]

logger = logging.getLogger(__name__)


class SessionError(ValueError):
    """Files that cannot be analysed together (one session in two different files)."""


def sidecar_path(file: Path) -> Path | None:
    """The ``…_session.json`` beside a ``…_data.csv``, or None for another name."""
    file = Path(file)
    return file.with_name(file.name[:-len("_data.csv")] + "_session.json") if file.name.endswith("_data.csv") else None


def read_sidecar(file: Path, warnings: list) -> dict:
    """The sidecar of a trial file as a dict ({} when there is none); an unreadable one is warned about."""
    side = sidecar_path(file)
    if side is None or not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        warnings.append(f"{side}: not readable JSON ({str(exc).splitlines()[0]}); the session's completeness is "
                        f"judged from its rows alone")
        return {}
    if not isinstance(data, dict):
        warnings.append(f"{side}: not a session sidecar (a JSON object was expected); ignored")
        return {}
    return data


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _has_sidecar(file) -> bool:
    side = sidecar_path(file)
    return side is not None and side.is_file()


def unique_files(frames: list, notes: list) -> list:
    """Drop byte-identical copies among ``frames`` (one per file); refuse one session in two files.

    ``frames`` are DataFrames with ``participant``, ``session`` and ``source_file``. Of two
    identical copies the one with a sidecar is read (else the first).
    """
    owner, digests, kept = {}, {}, {}
    for frame in frames:
        file = frame["source_file"].iat[0]
        sessions = set(zip(frame["participant"].str.strip(), frame["session"].str.strip()))
        clash = next((owner[s] for s in sorted(sessions) if s in owner), None)
        if clash is not None:
            digests.setdefault(clash, _digest(clash))
            if _digest(file) == digests[clash]:
                if _has_sidecar(file) and not _has_sidecar(clash):   # keep the original, list the copy
                    del kept[clash]
                    kept[file] = frame
                    owner.update({s: file for s, f in owner.items() if f == clash})
                    file, clash = clash, file
                notes.append((file, "", f"an identical copy of {clash}; read once"))
                continue
            participant, session = next(s for s in sorted(sessions) if owner.get(s) == clash)
            raise SessionError(f"{file} and {clash} both hold participant {participant} session {session} with "
                               f"different trials; one session belongs in one file (give a different participant ID "
                               f"or session number, or leave one file out)")
        owner.update({s: file for s in sessions})
        kept[file] = frame
    return list(kept.values())


def _status_note(status, complete, n_rows, planned):
    if status is None:
        return ""
    if status == "completed" and not complete:
        return f"the sidecar says completed, but {n_rows} of {planned} trials are on disk; treated as incomplete"
    if status != "completed" and complete:
        return (f"all {planned} trials are on disk though the sidecar says '{status}' (the session ended before "
                f"its sidecar was updated); treated as complete")
    return ""


def completeness(data: pd.DataFrame, sidecars: dict) -> pd.DataFrame:
    """One row per session: participant, session, file, status, n_rows, n_main, n_planned, complete, basis, note.

    ``data`` holds every row read (practice and main, with ``source_file``); ``sidecars``
    maps a file to its sidecar dict.
    """
    rows = []
    groups = data.groupby(["participant", "session"], sort=True)
    largest_main = int(groups["block_kind"].apply(lambda k: (k == "main").sum()).max()) if len(data) else 0
    for (participant, session), part in groups:
        file = part["source_file"].iat[0]
        side = sidecars.get(file, {})
        planned = side.get("n_trials_planned")
        trials = set(part["trial"].astype(int))
        n_main = int((part["block_kind"] == "main").sum())
        if isinstance(planned, int) and planned > 0:
            complete = trials == set(range(1, planned + 1))
            basis, note = "rows against the sidecar's planned trials", _status_note(
                side.get("status"), complete, len(trials), planned)
        else:
            complete = n_main >= largest_main
            basis = "main trials against the largest session (no sidecar with a trial plan)"
            note = ""
        rows.append({"participant": participant, "session": session, "file": file, "status": side.get("status"),
                     "n_rows": len(part), "n_main": n_main, "n_planned": planned, "complete": bool(complete),
                     "basis": basis, "note": note,
                     "intended_stimulus_s": side.get("intended_stimulus_s")})
    return pd.DataFrame(rows, columns=["participant", "session", "file", "status", "n_rows", "n_main", "n_planned",
                                       "complete", "basis", "note", "intended_stimulus_s"])
