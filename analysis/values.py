"""Answers checked against the protocol: rating ranges, response times and the design's factor levels.

A rating outside its scale's range, a response time ≤ 0 or beyond the measure's timeout
(plus ``TIMEOUT_MARGIN_S`` for the last frame), or a factor level the protocol does not
have is an error naming file, line, column, value and what is allowed. For a data set
with a known recording problem, ``allow_out_of_range`` instead drops the bad answers (the
answer and its RT become missing) and lists every one of them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["TIMEOUT_MARGIN_S", "check_levels", "check_values"]

TIMEOUT_MARGIN_S = 0.05   # three 60-Hz frames: a response in the timeout's last frame is timed after it


class ValueRangeError(ValueError):
    """An answer outside what the protocol allows; the message names file, line, column and value."""


def _where(frame, i, column) -> str:
    return f"{frame.at[i, 'source_file']}, line {frame.at[i, 'source_line']}, column '{column}'"


def _bad_answers(trials, measure):
    """(column, mask, allowed) for each check of ``measure`` that applies."""
    checks = []
    if measure.kind == "rating" and measure.range is not None:
        low, high = measure.range
        values = trials[measure.value]
        checks.append((measure.value, values.notna() & ((values < low) | (values > high)),
                       f"the scale's range {low:g} to {high:g}"))
    if measure.rt in trials.columns:
        rt = trials[measure.rt]
        limit = "" if measure.timeout_s is None else f" and at most the timeout {measure.timeout_s:g} s"
        bad = rt.notna() & (rt <= 0)
        if measure.timeout_s is not None:
            bad |= rt.notna() & (rt > measure.timeout_s + TIMEOUT_MARGIN_S) & trials[measure.value].notna()
        checks.append((measure.rt, bad, f"a response time above 0 s{limit}"))
    return checks


def check_values(trials: pd.DataFrame, measures, *, allow_out_of_range=False) -> list:
    """Check every measure's answers and RTs; return the dropped answers as (file, line, reason).

    Raises ``ValueRangeError`` on the first bad value unless ``allow_out_of_range``, in
    which case each bad answer and its RT are set missing in ``trials`` (in place).
    """
    dropped = []
    for measure in measures:
        for column, bad, allowed in _bad_answers(trials, measure):
            if not bad.any():
                continue
            if not allow_out_of_range:
                i = bad.idxmax()
                raise ValueRangeError(f"{_where(trials, i, column)}: {trials.at[i, column]:g} is outside {allowed}; "
                                      f"correct the file, or drop such answers with --allow-out-of-range")
            for i in np.flatnonzero(bad.to_numpy()):
                row = trials.index[i]
                dropped.append((trials.at[row, "source_file"], int(trials.at[row, "source_line"]),
                                f"{column} = {trials.at[row, column]:g} outside {allowed}; answer dropped"))
            trials.loc[bad, measure.value] = np.nan
            if measure.rt in trials.columns:
                trials.loc[bad, measure.rt] = np.nan
    return dropped


def check_levels(trials: pd.DataFrame, factor_levels: dict, files_with_levels: set) -> None:
    """Refuse a factor level that the protocol (as its sidecar records it) does not have.

    ``factor_levels`` maps factor → allowed main-trial levels; practice trials may also be
    'none'. Only rows of ``files_with_levels`` (files whose sidecar records the levels)
    are checked.
    """
    checked = trials["source_file"].isin(files_with_levels)
    for factor, allowed in factor_levels.items():
        if factor not in trials.columns:
            continue
        practice = trials["block_kind"] == "practice"
        ok = trials[factor].isin(list(allowed)) | (practice & (trials[factor] == "none"))
        bad = checked & ~ok
        if bad.any():
            i = bad.idxmax()
            raise ValueRangeError(f"{_where(trials, i, factor)}: {trials.at[i, factor]!r} is not a level of this "
                                  f"protocol's {factor} (levels: {', '.join(allowed)})")
