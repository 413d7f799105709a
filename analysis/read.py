"""Read and check trial CSVs against the trial-data contract: ``read_trials``.

The contract (what ``paradigm`` writes, one row per trial): the columns of
``analysis.files.TRIAL_HEADER`` plus, per rating, ``rating_<name>`` and
``rating_<name>_rt_s``, and for a pain judgement ``judgement``, ``judgement_correct`` and
``judgement_rt_s``; levels as in ``LEVELS``; numbers in the units the column names; empty
cells for missing values. The sessions' sidecars (``…_session.json``) add the protocol's
factor levels, each rating's scale range and timeout, where each rating is asked, and the
planned number of trials.

Which trials enter an analysis (one definition for ``fit``, ``report`` and ``power``):
the main-block trials; practice trials only on request (``include_practice``). Every
problem names the file, the line (1 = the header) and the column. Errors that make the
data unusable raise ``TrialDataError``; recoverable ones (an exact duplicate of a trial row,
a last line cut off by a kill, answers dropped under ``allow_out_of_range``) leave the row
or answer out and are listed in ``TrialData.dropped``.
"""
from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .files import DataFileError, TRIAL_HEADER, find_data_files
from .measures import Measure
from .sessions import SessionError, completeness, read_sidecar, unique_files
from .values import ValueRangeError, check_levels, check_values

__all__ = ["LEVELS", "TRIAL_HEADER", "TrialData", "TrialDataError", "read_trials"]

logger = logging.getLogger(__name__)

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
OPTIONAL_LEVELS = ("group", "perspective", "stimulus_type")   # empty = the factor is not in the design
TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
RATING = re.compile(r"^rating_(?P<name>.+?)(?P<rt>_rt_s)?$")
IDENTITY = ("participant", "session", "trial")


class TrialDataError(ValueError):
    """Trial data that cannot be analysed; the message names file, line and column."""


@dataclass
class TrialData:
    """Checked trials: those analysed, practice set aside, their sessions and measures, and what was left out."""

    trials: pd.DataFrame
    practice: pd.DataFrame
    files: list
    ratings: list
    protocols: list
    simulated: bool
    has_judgement: bool
    sessions: pd.DataFrame   # one row per session: completeness from the rows, the sidecar's status, notes
    measures: dict = field(default_factory=dict)    # name -> Measure (rating_<name>, judgement)
    dropped: list = field(default_factory=list)     # (file, line, reason) of rows or answers left out
    skipped_files: list = field(default_factory=list)   # (file, reason) of CSVs in the folders not read
    warnings: list = field(default_factory=list)
    simulation_params: dict | None = None
    observed_truth: dict | None = None   # a pilot's expected answers per design cell, per rating

    @property
    def participants(self) -> list:
        return sorted(self.trials["participant"].unique())


def _where(frame, index, column) -> str:
    return f"{frame['source_file'][index]}, line {frame['source_line'][index]}, column '{column}'"


def _numeric(frame, column) -> pd.Series:
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw.where(raw != "", None), errors="coerce")
    bad = (values.isna() & (raw != "")) | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        i = bad.idxmax()
        raise TrialDataError(f"{_where(frame, i, column)}: {raw[i]!r} is not a number "
                             f"(a finite number in the column's units, or empty for a missing value)")
    return values.astype(float)


def _boolean(frame, column) -> pd.Series:
    raw = frame[column].str.strip().str.lower()
    bad = ~raw.isin(TRUE | FALSE | {""})
    if bad.any():
        i = bad.idxmax()
        raise TrialDataError(f"{_where(frame, i, column)}: {frame[column][i]!r} is not true/false (or empty)")
    return raw.map(lambda v: True if v in TRUE else (False if v in FALSE else np.nan))


def _read_one(file: Path, dropped: list) -> pd.DataFrame:
    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TrialDataError(f"{file}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    if text and not text.endswith("\n") and "\n" in text:   # a last row cut off by a kill mid-write
        cut = text.rfind("\n") + 1
        dropped.append((str(file), text.count("\n", 0, cut) + 1, "an unterminated last line (a write cut off); "
                                                                    "left out"))
        text = text[:cut]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise TrialDataError(f"{file}: the file is empty; a trial CSV has a header and one row per trial") from None
    except pd.errors.ParserError as exc:
        raise TrialDataError(f"{file}: not a readable CSV table ({str(exc).splitlines()[0]})") from None
    if not any(RATING.match(c) and not RATING.match(c)["rt"] for c in frame.columns) \
            and "judgement_correct" not in frame.columns:
        raise TrialDataError(f"{file}: no rating or judgement column; a trial CSV has rating_<name> and "
                             f"rating_<name>_rt_s, or judgement, judgement_correct and judgement_rt_s")
    if frame.empty:
        raise TrialDataError(f"{file}: the file has a header but no trial rows")
    frame["source_file"] = str(file)
    frame["source_line"] = np.arange(len(frame)) + 2
    return frame


def _typed(frame: pd.DataFrame, ratings: list) -> pd.DataFrame:
    """Levels checked and numbers/booleans parsed over all files at once; errors name file, line, column."""
    for column, allowed in LEVELS.items():
        if column not in frame.columns:
            continue
        raw = frame[column].str.strip()
        optional = column in OPTIONAL_LEVELS
        bad = ~raw.isin(allowed + (("",) if optional else ()))
        if bad.any():
            i = bad.idxmax()
            raise TrialDataError(f"{_where(frame, i, column)}: {raw[i]!r} is not one of {', '.join(allowed)}"
                                 + (" (or empty)" if optional else " (every row needs one)"))
        frame[column] = raw.replace("", "none") if column in ("group", "perspective") else raw
    for column in ("participant", "stimulus_id"):
        if column in frame.columns:
            frame[column] = frame[column].str.strip()
            bad = frame[column].str.contains(r"[\x00-\x1f\x7f]", regex=True)
            if bad.any():
                i = bad.idxmax()
                raise TrialDataError(f"{_where(frame, i, column)}: {frame[column][i]!r} holds a control character "
                                     f"(an id is letters, digits and punctuation)")
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
    for column in ("participant", "trial", "session"):
        empty = out[column].isna() | (out[column].astype(str).str.strip() == "")
        if empty.any():
            raise TrialDataError(f"{_where(frame, empty.idxmax(), column)}: empty; every row needs a {column}")
    return out


def _duplicates(data: pd.DataFrame, dropped: list, warnings: list) -> pd.DataFrame:
    """Drop exact repeats of a trial's row (listed); refuse two different rows for one trial, naming both."""
    content = [c for c in data.columns if c not in ("source_file", "source_line", "timestamp_utc")]
    repeated = data.duplicated(list(IDENTITY), keep=False)
    if not repeated.any():
        return data
    groups = data[repeated].groupby(list(IDENTITY), sort=False)
    for _, rows in groups:
        first = rows.iloc[0]
        for _, row in rows.iloc[1:].iterrows():
            differ = [c for c in content if not _same(first[c], row[c])]
            if differ:
                raise TrialDataError(
                    f"{first['source_file']}, line {first['source_line']} and {row['source_file']}, line "
                    f"{row['source_line']} both hold trial {row['trial']:g} of participant {row['participant']} "
                    f"session {row['session']:g} with different values ({differ[0]}: {_shown(first[differ[0]])} vs "
                    f"{_shown(row[differ[0]])}); keep the right one and delete the other")
            dropped.append((row["source_file"], int(row["source_line"]),
                            f"a duplicated row: an exact repeat of trial {row['trial']:g} (participant "
                            f"{row['participant']}, session {row['session']:g}) at line {first['source_line']}; "
                            f"left out"))
    n_dup = int(repeated.sum() - groups.ngroups)
    warnings.append(f"{n_dup} duplicated trial row{'s' if n_dup > 1 else ''} left out (exact repeats; the first "
                    f"copy of each trial is kept)")
    return data[~data.duplicated(list(IDENTITY), keep="first")].reset_index(drop=True)


def _shown(value) -> str:
    """A cell's value as the file would show it: numbers plainly, missing as (empty)."""
    if isinstance(value, (float, np.floating)):
        return "(empty)" if np.isnan(value) else f"{float(value):g}"
    return repr(str(value)) if value != "" else "(empty)"


def _same(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def _protocol_key(frame):
    pairs = set(zip(frame["protocol"].str.strip(), frame.get("protocol_sha256", frame["protocol"]).str.strip()))
    return tuple(sorted(pairs))


def _check_protocols(frames, allow_mixed):
    first = None
    for frame in frames:
        key, file = _protocol_key(frame), frame["source_file"].iat[0]
        if len(key) > 1 and not allow_mixed:
            raise TrialDataError(f"{file}: rows of different protocols in one file ({key[0][0]!r} {key[0][1][:12]} "
                                 f"and {key[1][0]!r} {key[1][1][:12]}); analyse one protocol at a time")
        if first is None:
            first = (key, file)
        elif key != first[0] and not allow_mixed:
            raise TrialDataError(f"{file}: protocol {key[0][0]!r} ({key[0][1][:12]}) differs from {first[1]}'s "
                                 f"{first[0][0][0]!r} ({first[0][0][1][:12]}); analyse one protocol at a time or "
                                 f"allow mixed protocols (--allow-mixed-protocols)")


def _agreed(values, what, warnings):
    """The one value every sidecar that records ``what`` gives, or None (warned when they disagree)."""
    distinct = {repr(v): v for v in values if v is not None}
    if len(distinct) > 1:
        warnings.append(f"the sidecars disagree on {what}; it is not used")
        return None
    return next(iter(distinct.values()), None)


def _measures(ratings, has_judgement, sidecars, scales, warnings) -> dict:
    """Each measure's range, timeout and asked conditions, from the sidecars (or ``scales``)."""
    recorded = [s.get("measures") for s in sidecars if isinstance(s.get("measures"), dict)]
    complete = len(recorded) == len(sidecars) and recorded
    out = {}
    for name in ratings:
        spec = _agreed([(m.get("ratings") or {}).get(name) for m in recorded], f"rating {name}", warnings) or {}
        given = (scales or {}).get(name)
        value_range = tuple(given) if given else tuple(spec["range"]) if spec.get("range") else None
        if value_range is None:
            warnings.append(f"rating {name}: no scale range is recorded (no session sidecar names one), so its values "
                            f"were not checked against a range; give it with --scale {name}=LOW,HIGH")
        asked = spec.get("asked_when") if complete and spec else None
        out[f"rating_{name}"] = Measure(f"rating_{name}", "rating", value_range, spec.get("timeout_s"),
                                        None if asked is None else dict(asked))
    if has_judgement:
        spec = _agreed([m.get("judgement") for m in recorded], "the judgement", warnings) or {}
        out["judgement"] = Measure("judgement", "judgement", None, spec.get("timeout_s"), {} if spec else None)
    return out


def read_trials(paths, *, allow_mixed_protocols: bool = False, include_practice: bool = False,
                allow_out_of_range: bool = False, scales: dict | None = None) -> TrialData:
    """Read trial CSVs (files, folders of them, or dataset roots) into checked trials.

    Parameters
    ----------
    paths : path or list of paths
        CSV files or folders; a dataset root holding ``data/`` works too. In folders, trial
        CSVs are recognised by their header, and a report's own tables are never read.
    allow_mixed_protocols : bool
        Accept files of different protocols (by ``protocol`` and ``protocol_sha256``).
    include_practice : bool
        Analyse practice trials with the main trials (default: main trials only).
    allow_out_of_range : bool
        Drop (and list) answers outside a rating's range or with an impossible RT instead
        of refusing the data.
    scales : dict, optional
        ``{rating name: (low, high)}`` for data whose sidecars do not record a rating's range.

    Raises
    ------
    TrialDataError
        A missing path, a file that is not a trial CSV, a bad value or level (naming file,
        line and column), one session in two different files, conflicting copies of a
        trial, or mixed protocols.
    """
    dropped, warnings, notes = [], [], []
    try:
        found = find_data_files(paths)
        files = found.trial_files()
        frames = [_read_one(f, dropped) for f in files]
        frames = unique_files(frames, notes)
    except (DataFileError, SessionError) as exc:
        raise TrialDataError(str(exc)) from None
    dropped += notes
    kept = {frame["source_file"].iat[0] for frame in frames}
    files = [f for f in files if str(f) in kept]
    _check_protocols(frames, allow_mixed_protocols)
    rating_sets = [{m["name"] for c in f.columns if (m := RATING.match(c)) and not m["rt"]} for f in frames]
    ratings = sorted(set.intersection(*rating_sets))
    if set.union(*rating_sets) - set(ratings):
        warnings.append(f"ratings {', '.join(sorted(set.union(*rating_sets) - set(ratings)))} are not in every file; "
                        f"only {', '.join(ratings) or 'none'} are analysed")
    if not ratings and not all("judgement_correct" in f.columns for f in frames):
        raise TrialDataError("the files share no rating column and not all have a judgement; give files of one "
                             "protocol")
    sidecars = {str(f): read_sidecar(f, warnings) for f in files}
    data = pd.concat(frames, ignore_index=True)
    for column in data.columns:
        if column != "source_line" and data[column].isna().any():
            data[column] = data[column].fillna("")
    data = _duplicates(_typed(data, ratings), dropped, warnings)
    for column in ("group", "perspective", "stimulus_type", "stimulus_id"):
        if column not in data.columns:
            data[column] = "none" if column != "stimulus_id" else ""
    has_judgement = "judgement_correct" in data.columns and data["judgement_correct"].notna().any()
    measures = _measures(ratings, has_judgement, list(sidecars.values()), scales, warnings)
    levels = _agreed([s.get("factor_levels") for s in sidecars.values()], "the factor levels", warnings)
    try:
        if levels:
            check_levels(data, levels, {f for f, s in sidecars.items() if s.get("factor_levels")})
        dropped += check_values(data, measures.values(), allow_out_of_range=allow_out_of_range)
    except ValueRangeError as exc:
        raise TrialDataError(str(exc)) from None
    sessions = completeness(data, sidecars)
    warnings += [f"{r.file}: {r.note}" for r in sessions.itertuples() if r.note]
    for message in warnings:
        logger.warning(message)
    analysed = data if include_practice else data[data["block_kind"] == "main"]
    if analysed.empty:
        raise TrialDataError(f"{files[0]}: no main trials (block_kind 'main'); only practice trials were found")
    simulated = bool(data["simulated"].fillna(False).any() | (data["mode"] == "pilot").any())
    simulation = next((s["simulation"] for s in sidecars.values() if isinstance(s.get("simulation"), dict)), {})
    return TrialData(trials=analysed.reset_index(drop=True),
                     practice=data[data["block_kind"] == "practice"].reset_index(drop=True),
                     files=[str(f) for f in files], ratings=ratings, protocols=sorted(set(data["protocol"])),
                     simulated=simulated, has_judgement=has_judgement, sessions=sessions, measures=measures,
                     dropped=dropped, skipped_files=found.skipped, warnings=warnings,
                     simulation_params=simulation.get("params") if simulated else None,
                     observed_truth=simulation.get("observed_cell_means") if simulated else None)

