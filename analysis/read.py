"""Read and check trial CSVs (design.md's column contract): ``read_trials``.

Every problem names the file, the line (1 = the header) and the column. Errors that make
the data unusable raise ``TrialDataError``; recoverable ones (duplicated trial rows) leave
the rows out, log a warning and are listed in ``TrialData.dropped``.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TrialData", "TrialDataError", "read_trials"]

logger = logging.getLogger(__name__)

REQUIRED = ("participant", "session", "protocol", "mode", "simulated", "block_kind", "trial", "pain", "timed_out")
NUMERIC = ("session", "trial", "block", "fixation_onset_s", "stimulus_onset_s", "stimulus_offset_s",
           "stimulus_duration_s", "dropped_frames", "judgement_rt_s")
BOOLEAN = ("simulated", "timed_out", "judgement_correct")
LEVELS = {
    "block_kind": ("practice", "main"),
    "mode": ("lab", "pilot"),
    "pain": ("pain", "neutral"),
    "group": ("ingroup", "outgroup", "none"),
    "perspective": ("self", "other", "none"),
    "stimulus_type": ("face", "hand", "cue"),
}
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
RATING = re.compile(r"^rating_(?P<name>.+?)(?P<rt>_rt_s)?$")


class TrialDataError(ValueError):
    """Trial data that cannot be analysed; the message names file, line and column."""


@dataclass
class TrialData:
    """Checked trials: main trials, practice trials set aside, and what the files hold."""

    trials: pd.DataFrame
    practice: pd.DataFrame
    files: list
    ratings: list
    protocols: list
    simulated: bool
    has_judgement: bool
    sessions: pd.DataFrame  # participant, session, file, status, n_trials_planned, intended_stimulus_s (sidecars)
    dropped: list = field(default_factory=list)  # (file, line, reason) of rows left out while reading
    warnings: list = field(default_factory=list)
    simulation_params: dict | None = None

    @property
    def participants(self) -> list:
        return sorted(self.trials["participant"].unique())


def _files(paths) -> list[Path]:
    files, seen = [], set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob("*_data.csv")) or sorted(path.glob("*.csv"))
            if not found and (path / "data").is_dir():  # a pilot's dataset root
                found = sorted((path / "data").glob("*_data.csv"))
            if not found:
                raise TrialDataError(f"folder '{path}' holds no trial CSV (*_data.csv or *.csv); "
                                     f"give trial CSV files or folders of them")
        elif path.is_file():
            found = [path]
        else:
            raise TrialDataError(f"data file '{path}' does not exist; give trial CSV files or folders of them")
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    if not files:
        raise TrialDataError("no data given; give trial CSV files or folders of them")
    return files


def _where(frame, index, column) -> str:
    return f"{frame['source_file'][index]}, line {frame['source_line'][index]}, column '{column}'"


def _numeric(frame, column) -> pd.Series:
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
    bad = values.isna() & (raw != "")
    if bad.any():
        i = bad.idxmax()
        raise TrialDataError(f"{_where(frame, i, column)}: {raw[i]!r} is not a number "
                             f"(a number in seconds/units of the column, or empty for a missing value)")
    return values.astype(float)


def _boolean(frame, column) -> pd.Series:
    raw = frame[column].str.strip().str.lower()
    bad = ~raw.isin(TRUE | FALSE | {""})
    if bad.any():
        i = bad.idxmax()
        raise TrialDataError(f"{_where(frame, i, column)}: {frame[column][i]!r} is not true/false (or empty)")
    return raw.map(lambda v: True if v in TRUE else (False if v in FALSE else np.nan))


def _read_one(file: Path) -> tuple[pd.DataFrame, list]:
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise TrialDataError(f"{file}: the file is empty; a trial CSV has a header and one row per trial") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise TrialDataError(f"{file}: not a readable CSV table ({str(exc).splitlines()[0]})") from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    ratings = sorted({m["name"] for c in frame.columns if (m := RATING.match(c)) and not m["rt"]})
    if missing:
        raise TrialDataError(f"{file}: required column '{missing[0]}' is missing (design.md's trial CSV contract "
                             f"needs {', '.join(REQUIRED)} and rating_<name> columns)")
    if not ratings and "judgement_correct" not in frame.columns:
        raise TrialDataError(f"{file}: no rating or judgement column; the contract needs rating_<name> and "
                             f"rating_<name>_rt_s, or judgement, judgement_correct and judgement_rt_s")
    if frame.empty:
        raise TrialDataError(f"{file}: the file has a header but no trial rows")
    frame["source_file"] = str(file)
    frame["source_line"] = np.arange(len(frame)) + 2
    return frame, ratings


def _typed(frame: pd.DataFrame, ratings: list) -> pd.DataFrame:
    """Levels checked and numbers/booleans parsed over all files at once; errors name file, line, column."""
    for column, allowed in LEVELS.items():
        if column not in frame.columns:
            continue
        raw = frame[column].str.strip()
        bad = ~raw.isin(allowed + ("",))
        if bad.any():
            i = bad.idxmax()
            raise TrialDataError(f"{_where(frame, i, column)}: {raw[i]!r} is not one of {', '.join(allowed)} "
                                 f"(or empty)")
        frame[column] = raw.replace("", "none") if column in ("group", "perspective") else raw
    out = frame.copy()
    for column in NUMERIC:
        if column in frame.columns:
            out[column] = _numeric(frame, column)
    for name in ratings:
        out[f"rating_{name}"] = _numeric(frame, f"rating_{name}")
        rt = f"rating_{name}_rt_s"
        out[rt] = _numeric(frame, rt) if rt in frame.columns else np.nan
    for column in BOOLEAN:
        if column in frame.columns:
            out[column] = _boolean(frame, column)
    if out["trial"].isna().any():
        i = out["trial"].isna().idxmax()
        raise TrialDataError(f"{_where(frame, i, 'trial')}: the trial number is empty; every row needs one")
    if (frame["participant"].str.strip() == "").any():
        i = (frame["participant"].str.strip() == "").idxmax()
        raise TrialDataError(f"{_where(frame, i, 'participant')}: the participant ID is empty")
    return out


def _sidecar(file: Path) -> dict:
    side = file.with_name(file.name.replace("_data.csv", "_session.json"))
    if side == file or not side.is_file():
        return {}
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError):
        logger.warning("%s: sidecar is not readable JSON; completion is inferred from the trial count", side)
        return {}


def read_trials(paths, *, allow_mixed_protocols: bool = False) -> TrialData:
    """Read trial CSVs (files, or folders of ``*_data.csv``) into checked main and practice trials.

    Parameters
    ----------
    paths : path or list of paths
        CSV files or folders; a pilot's dataset root (holding ``data/``) works too.
    allow_mixed_protocols : bool
        Accept files of different protocols (by ``protocol`` and ``protocol_sha256``).

    Returns
    -------
    TrialData

    Raises
    ------
    TrialDataError
        A missing folder or file, an empty folder, a missing required column, a value of
        the wrong type or level (naming file, line and column), or mixed protocols.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = _files(paths)
    frames, rating_sets, sessions, warnings_, dropped = [], [], [], [], []
    first_protocol = None
    sim_params = None
    for file in files:
        frame, ratings = _read_one(file)
        rating_sets.append(ratings)
        key = tuple(sorted(set(zip(frame["protocol"], frame.get("protocol_sha256", frame["protocol"])))))
        if first_protocol is None:
            first_protocol = (key, file)
        elif key != first_protocol[0] and not allow_mixed_protocols:
            raise TrialDataError(f"{file}: protocol {key[0][0]!r} ({key[0][1][:12]}) differs from "
                                 f"{first_protocol[1]}'s {first_protocol[0][0][0]!r} "
                                 f"({first_protocol[0][0][1][:12]}); analyse one protocol at a time or allow "
                                 f"mixed protocols (--allow-mixed-protocols)")
        side = _sidecar(file)
        if sim_params is None and side.get("simulation"):
            sim_params = side["simulation"].get("params")
        for (participant, session), _part in frame.groupby(["participant", "session"]):
            sessions.append({"participant": participant, "session": session, "file": str(file),
                             "status": side.get("status"), "n_trials_planned": side.get("n_trials_planned"),
                             "intended_stimulus_s": side.get("intended_stimulus_s")})
        frames.append(frame)
    ratings = sorted(set.intersection(*map(set, rating_sets)))
    every = sorted(set().union(*map(set, rating_sets)))
    if set(every) - set(ratings):
        warnings_.append(f"ratings {', '.join(sorted(set(every) - set(ratings)))} are not in every file; "
                         f"only {', '.join(ratings) or 'none'} are analysed")
    if not ratings and not all("judgement_correct" in f.columns for f in frames):
        raise TrialDataError("the files share no rating column and not all have a judgement; give files of one "
                             "protocol")
    data = pd.concat(frames, ignore_index=True)
    for column in set().union(*(f.columns for f in frames)):
        if data[column].isna().any() and column not in ("source_line",):
            data[column] = data[column].fillna("")
    data = _typed(data, ratings)
    dup = data.duplicated(["participant", "session", "trial"], keep="first")
    if dup.any():
        for row in data[dup].itertuples():
            dropped.append((row.source_file, row.source_line,
                            f"duplicated trial row (participant {row.participant}, session {row.session:g}, "
                            f"trial {row.trial:g}); the first copy is kept"))
        n_dup = int(dup.sum())
        message = (f"{n_dup} duplicated trial row{'s' if n_dup > 1 else ''} left out (first at {dropped[0][0]}, line "
                   f"{dropped[0][1]}); the first copy of each trial is kept")
        logger.warning(message)
        warnings_.append(message)
        data = data[~dup].reset_index(drop=True)
    for column in ("group", "perspective", "stimulus_type", "stimulus_id"):
        if column not in data.columns:
            data[column] = "none" if column != "stimulus_id" else ""
    has_judgement = "judgement_correct" in data.columns and data["judgement_correct"].notna().any()
    practice = data[data["block_kind"] == "practice"].reset_index(drop=True)
    main = data[data["block_kind"] == "main"].reset_index(drop=True)
    if main.empty:
        raise TrialDataError(f"{files[0]}: no main trials (block_kind 'main'); only practice trials were found")
    simulated = bool(data["simulated"].fillna(False).any() | (data["mode"] == "pilot").any())
    return TrialData(trials=main, practice=practice, files=[str(f) for f in files], ratings=ratings,
                     protocols=sorted(set(data["protocol"])), simulated=simulated, has_judgement=has_judgement,
                     sessions=pd.DataFrame(sessions), dropped=dropped, warnings=warnings_,
                     simulation_params=sim_params if simulated else None)
