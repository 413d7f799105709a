"""Find the data files behind the paths a user gives: one finder for ``fit``, ``report`` and ``power``.

A path is a CSV file, a folder of CSV files, or a dataset root holding ``data/`` (a pilot's
or a lab's output folder). Inside folders, a trial CSV is recognised by its header — the
trial-data contract's required columns (``TRIAL_HEADER``) — not by its name, and files the
toolkit wrote itself (the CSV tables beside a report's HTML page, which carries the
toolkit's ``generator`` tag) are never taken for data. A file named explicitly is always
used; whether it is a trial CSV decides how it is read.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DataFileError", "DataFiles", "GENERATOR", "TRIAL_HEADER", "find_data_files", "is_trial_csv"]

# The columns every trial CSV has (the contract's core; ratings and judgements vary by protocol).
TRIAL_HEADER = ("participant", "session", "protocol", "mode", "simulated", "block_kind", "trial", "pain", "timed_out")
GENERATOR = "pain-empathy-toolkit report"   # the <meta name="generator"> of a report page


class DataFileError(ValueError):
    """A path that holds no usable data file; the message names it."""


@dataclass
class DataFiles:
    """Trial CSVs, other CSV tables (named by the user, or found in a folder), and what was left out."""

    trial: list = field(default_factory=list)
    other_named: list = field(default_factory=list)
    other_found: list = field(default_factory=list)
    skipped: list = field(default_factory=list)   # (path, reason)

    def trial_files(self) -> list:
        """The trial CSVs; CSVs found in folders that are not trial CSVs join ``skipped``.

        Raises ``DataFileError`` for a named file that is not a trial CSV, or when there is none.
        """
        empty = next((f for f in self.other_named if Path(f).stat().st_size == 0), None)
        if empty is not None:
            raise DataFileError(f"{empty}: the file is empty; a trial CSV has a header and one row per trial")
        if self.other_named:
            missing = missing_columns(self.other_named[0])
            raise DataFileError(f"{self.other_named[0]}: required column '{missing[0]}' is missing, so this is not "
                                f"a trial CSV (a trial CSV has the columns {', '.join(TRIAL_HEADER)} and "
                                f"rating_<name> or judgement columns)")
        if not self.trial:
            first = self.other_found[0] if self.other_found else None
            raise DataFileError("no trial CSV found" + (f" ({first} lacks {', '.join(missing_columns(first))})"
                                                         if first else "")
                                + f"; a trial CSV has the columns {', '.join(TRIAL_HEADER)}")
        self.skipped += [(str(f), "not a trial CSV (header)") for f in self.other_found]
        self.other_found = []
        return list(self.trial)

    @property
    def other(self) -> list:
        return self.other_named + self.other_found


def _header(path: Path) -> set:
    """The column names of the file's first line (only that line is decoded)."""
    try:
        with open(path, "rb") as fh:
            line = fh.readline(1 << 20).decode("utf-8-sig")
        return {h.strip() for h in next(csv.reader([line]), [])}
    except (OSError, UnicodeDecodeError, csv.Error):
        return set()


def missing_columns(path: Path) -> list:
    """The columns of ``TRIAL_HEADER`` the file's header lacks."""
    header = _header(path)
    return [c for c in TRIAL_HEADER if c not in header]


def is_trial_csv(path: Path) -> bool:
    """Whether the file's header has every column of ``TRIAL_HEADER``."""
    return not missing_columns(path)


def report_outputs(folder: Path) -> set:
    """The CSV tables written beside a toolkit report page in ``folder`` (``<stem>_*.csv``)."""
    out = set()
    for page in folder.glob("*.html"):
        try:
            head = page.read_text(encoding="utf-8", errors="replace")[:2000]
        except OSError:
            continue
        if f'content="{GENERATOR}' in head:
            out |= {p.resolve() for p in folder.glob(f"{page.stem}_*.csv")}
    return out


def _folder_files(folder: Path) -> list:
    found = sorted(folder.glob("*.csv"))
    if (folder / "data").is_dir():   # a dataset root
        found += sorted((folder / "data").glob("*.csv"))
    return found


def find_data_files(paths) -> DataFiles:
    """Classify the CSV files behind ``paths`` (see the module docstring).

    Raises
    ------
    DataFileError
        A path that does not exist, or a folder with no CSV file that could be data.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out, seen = DataFiles(), set()
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates, from_folder = [path], False
        elif path.is_dir():
            candidates, from_folder = _folder_files(path), True
            outputs = report_outputs(path) | (report_outputs(path / "data") if (path / "data").is_dir() else set())
        else:
            raise DataFileError(f"data file '{path}' does not exist; give trial CSV files or folders of them")
        taken = 0
        for file in candidates:
            key = file.resolve()
            if key in seen:
                continue
            seen.add(key)
            if from_folder and key in outputs:
                out.skipped.append((str(file), "a table of a report written by this toolkit"))
                continue
            (out.trial if is_trial_csv(file) else out.other_found if from_folder else out.other_named).append(file)
            taken += 1
        if from_folder and not taken:
            besides = " besides a report's own tables" if candidates else ""
            raise DataFileError(f"folder '{path}' holds no trial CSV (no .csv file{besides}, here or in a data/ "
                                f"folder); give trial CSV files or folders of them")
    if not out.trial and not out.other:
        raise DataFileError("no data given; give trial CSV files or folders of them")
    return out
