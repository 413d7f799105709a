"""Quality control and exclusions: ``QcConfig`` (thresholds and their sources) and ``apply_qc``.

Defaults and where they come from (tags: [M] recalled from the paper, not checked against
it; "convention" = common practice with no single source):

- anticipations: a response faster than 150 ms cannot follow from processing the picture;
  cut-offs of 100–200 ms are common (Whelan 2008, Psychological Record 58:475 [M];
  Ratcliff 1993, Psychological Bulletin 114:510, doi:10.1037/0033-2909.114.3.510 [M]).
- RT outliers: |z| > 3 on log RT within participant — a convention (log RTs are closer to
  normal; Ratcliff 1993 [M] compares such cut-offs).
- participants: more than 20% of the trials that asked a measure left it unanswered
  (timeouts) — a convention; judgement accuracy below 70% — a convention (chance is 50%;
  open per-participant data give ≈ 98%); an incomplete session — its rows do not cover the
  trials its sidecar planned, or, without a sidecar, it has fewer main trials than the
  largest session (``analysis.sessions``).
- timing: any dropped frame, or a measured stimulus duration more than one frame at 60 Hz
  (16.7 ms) away from the intended one (the protocol's, from the sessions' sidecars, when
  every session shares one fixed duration; else the most common duration of the data set,
  as durations are whole frames) — flagged and reported; trials are excluded for timing only
  when asked (``exclude_timing``), since a pilot's virtual clock never drops a frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .measures import FACTORS, Measure, answered_cells, cell_codes, declared_asked

__all__ = ["QcConfig", "QcResult", "apply_qc"]

NOT_ASKED = "not asked"
SOURCES = {
    "anticipation_s": "Whelan 2008, Psychol Rec 58:475 [M]; Ratcliff 1993, Psychol Bull 114:510 [M]",
    "rt_z": "convention (log RT, within participant; cf. Ratcliff 1993 [M])",
    "max_missing": "convention",
    "min_accuracy": "convention (chance 50%, typical accuracy about 98%)",
    "exclude_incomplete": "convention: a participant contributes a complete design",
    "duration_tolerance_s": "one frame at 60 Hz; durations are whole frames",
}


@dataclass(frozen=True)
class QcConfig:
    """Exclusion thresholds; see the module docstring for the source of each default."""

    anticipation_s: float = 0.150
    rt_z: float = 3.0
    max_missing: float = 0.20
    min_accuracy: float = 0.70
    exclude_incomplete: bool = True
    duration_tolerance_s: float = 1 / 60
    exclude_timing: bool = False

    def __post_init__(self):
        for name in ("anticipation_s", "rt_z", "duration_tolerance_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"'{name}' must be a number >= 0 (got {getattr(self, name)!r})")
        for name in ("max_missing", "min_accuracy"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"'{name}' must be a proportion between 0 and 1 (got {getattr(self, name)!r})")


@dataclass
class QcResult:
    """Per-trial use flags and reasons, the participant table and the timing summary."""

    trials: pd.DataFrame          # main trials with use_<measure> and why_<measure> columns
    participants: pd.DataFrame    # participant, n_trials, missing_rate, accuracy, complete, excluded, reason
    trial_counts: pd.DataFrame    # measure, reason, n
    timing: dict
    config: QcConfig
    measures: list = field(default_factory=list)        # measure names
    warnings: list = field(default_factory=list)

    @property
    def excluded_participants(self) -> list:
        return list(self.participants.loc[self.participants["excluded"], "participant"])


def _log_rt_outlier(rt: np.ndarray, who: np.ndarray, ok: np.ndarray, z: float) -> np.ndarray:
    """|z| of log RT within participant (codes ``who``) above ``z``; mean and SD over the ``ok`` trials with RT > 0."""
    use = ok & (rt > 0)
    log = np.where(use, np.log(np.where(use, rt, 1.0)), 0.0)
    n = np.bincount(who, weights=use)
    mean = np.bincount(who, weights=log) / np.where(n > 0, n, 1)
    ss = np.bincount(who, weights=np.where(use, (log - mean[who]) ** 2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(ss / (n - 1))
        zs = np.abs(log - mean[who]) / sd[who]
    return use & (zs > z)


def _flag(trials, measure, asked, who, config) -> tuple[pd.Series, np.ndarray]:
    """Why each trial's answer to ``measure`` is not used ("" = used), and which asked trials lack an answer.

    ``who`` holds the participants' integer codes. The reasons come back as a categorical column.
    """
    missing = asked & trials[measure.value].isna().to_numpy()
    rt = trials[measure.rt].to_numpy(float) if measure.rt in trials.columns else np.full(len(trials), np.nan)
    anticip = asked & ~missing & (rt < config.anticipation_s)
    ok = asked & ~missing & ~anticip & ~np.isnan(rt)
    outlier = _log_rt_outlier(rt, who, ok, config.rt_z)
    reasons = ["", NOT_ASKED, "timeout or missing", f"anticipation (RT < {config.anticipation_s * 1000:g} ms)",
               f"RT outlier (|z| > {config.rt_z:g} on log RT within participant)"]
    codes = np.select([~asked, missing, anticip, outlier], [1, 2, 3, 4], default=0)
    return pd.Series(pd.Categorical.from_codes(codes, reasons), index=trials.index), missing


def _protocol_duration(sessions) -> float | None:
    """The stimulus duration every session's sidecar names, when it is one fixed value."""
    if sessions is None or "intended_stimulus_s" not in sessions.columns:
        return None
    named = {tuple(v) for v in sessions["intended_stimulus_s"] if isinstance(v, (list, tuple)) and len(v) == 2}
    if len(named) != 1 or len(sessions["intended_stimulus_s"].dropna()) != len(sessions):
        return None
    low, high = named.pop()
    return float(low) if low == high else None


def _timing(trials, config, sessions=None) -> tuple[dict, pd.Series]:
    out = {"available": False}
    flag = pd.Series(False, index=trials.index)
    have = [c for c in ("dropped_frames", "stimulus_onset_s", "stimulus_offset_s") if c in trials.columns
            and trials[c].notna().any()]
    if not have:
        return out, flag
    out["available"] = True
    if "dropped_frames" in have:
        dropped = trials["dropped_frames"].fillna(0)
        out["n_dropped_trials"] = int((dropped > 0).sum())
        out["n_dropped_frames"] = int(dropped.sum())
        flag |= dropped > 0
    if "stimulus_onset_s" in have and "stimulus_offset_s" in have:
        measured = trials["stimulus_offset_s"] - trials["stimulus_onset_s"]
        rounded = measured.round(3).dropna()
        if len(rounded):
            from_protocol = _protocol_duration(sessions)
            intended = float(rounded.mode().iloc[0]) if from_protocol is None else from_protocol
            dev = measured - intended
            out.update(intended_s=intended, intended_from="protocol" if from_protocol is not None else "modal", deviation_ms_mean=float(dev.mean() * 1000),
                       deviation_ms_sd=float(dev.std() * 1000) if len(dev.dropna()) > 1 else 0.0,
                       deviation_ms_max=float(dev.abs().max() * 1000),
                       n_off_duration=int((dev.abs() > config.duration_tolerance_s + 1e-9).sum()))
            flag |= dev.abs() > config.duration_tolerance_s + 1e-9
    out["n_flagged"] = int(flag.sum())
    out["n_trials"] = int(len(trials))
    return out, flag


def _cells_text(trials, mask) -> str:
    """The design cells of the trials in ``mask``, e.g. "other × face, other × hand"."""
    cells = [f for f in FACTORS if f in trials.columns and trials.loc[mask, f].nunique() < trials[f].nunique()]
    if not cells:
        return "every cell"
    keys = sorted(set(map(tuple, trials.loc[mask, cells].astype(str).to_numpy())))
    return ", ".join(" × ".join(f"{f} {v}" for f, v in zip(cells, k)) for k in keys[:4]) + (", …" if len(keys) > 4
                                                                                           else "")


def measures_of(data) -> list:
    """The data's measures (``TrialData.measures``, or built from its ratings and judgement)."""
    if data.measures:
        return list(data.measures.values())
    out = [Measure(f"rating_{name}", "rating") for name in data.ratings]
    return out + ([Measure("judgement", "judgement")] if data.has_judgement else [])


def _completeness(data) -> dict:
    """participant -> (complete, description of what is missing) from the sessions table."""
    sessions = data.sessions
    out = {}
    if sessions is None or not len(sessions):
        return out
    if "complete" not in sessions.columns:   # a hand-built table: the sidecar status alone
        return {r.participant: (r.status == "completed", r.status) for r in sessions.itertuples()}
    for participant, part in sessions.groupby("participant"):
        short = part[~part["complete"].astype(bool)]
        what = "; ".join(f"session {r.session:g}: {r.n_rows} of {r.n_planned} trials on disk"
                         if pd.notna(r.n_planned) else f"session {r.session:g}: {r.n_main} main trials, fewer than "
                         f"the largest session" for r in short.itertuples())
        out[participant] = (short.empty, what)
    return out


def apply_qc(data, config: QcConfig | None = None) -> QcResult:
    """Flag trials and participants of a ``TrialData`` by ``config`` (defaults: ``QcConfig()``).

    Trial level, per measure and over the trials that asked it (``analysis.measures``):
    timeout/missing, anticipation, log-RT outlier within participant (and, with
    ``exclude_timing``, dropped frames or an off stimulus duration); trials that did not ask
    a measure are marked "not asked" and are neither missing nor excluded. Participant
    level: the share of trials with an asked measure unanswered, judgement accuracy, an
    incomplete session (from the rows, ``analysis.sessions``); an excluded participant's
    trials are all unused.
    """
    config = config or QcConfig()
    trials = data.trials.copy()
    timing, timing_flag = _timing(trials, config, data.sessions)
    measures = measures_of(data)
    who, people = pd.factorize(trials["participant"], sort=True)
    cells = cell_codes(trials, [f for f in FACTORS if f in trials.columns])
    any_asked = np.zeros(len(trials), dtype=bool)
    any_missing = np.zeros(len(trials), dtype=bool)
    warnings = []
    for measure in measures:
        declared = declared_asked(trials, measure)
        asked = declared & answered_cells(trials, measure, cells)
        if measure.asked_when is not None and (declared & ~asked).any():
            warnings.append(f"{measure.label}: no participant answered it on {int((declared & ~asked).sum())} trials "
                            f"whose design cells the sidecars say asked it ({_cells_text(trials, declared & ~asked)}); "
                            f"those cells are treated as not asked")
        why, missing = _flag(trials, measure, asked.to_numpy(), who, config)
        if config.exclude_timing:
            timed = "timing (dropped frames or off stimulus duration)"
            why = why.cat.add_categories([timed]).mask((why == "") & timing_flag, timed)
        trials[f"asked_{measure.name}"] = asked
        trials[f"why_{measure.name}"] = why
        any_asked |= asked.to_numpy()
        any_missing |= missing
    complete_by = _completeness(data)
    counts = np.bincount(who)
    most = int(counts.max())
    asked_n = np.bincount(who, weights=any_asked)
    missing_n = np.bincount(who, weights=any_missing)
    if data.has_judgement:
        correct = pd.to_numeric(trials["judgement_correct"], errors="coerce").to_numpy(float)
        judged = ~np.isnan(correct)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracies = np.bincount(who, weights=np.where(judged, correct, 0.0)) / np.bincount(who, weights=judged)
    rows = []
    for i, participant in enumerate(people):
        n, n_asked = int(counts[i]), int(asked_n[i])
        missing_rate = float(missing_n[i] / n_asked) if n_asked else np.nan
        accuracy = float(accuracies[i]) if data.has_judgement else np.nan
        complete, what = complete_by.get(participant, (n >= most, f"{n} of {most} main trials"))
        reasons = []
        if not missing_rate <= config.max_missing:
            reasons.append(f"missing {missing_rate:.0%} of asked trials (> {config.max_missing:.0%})"
                           if n_asked else "no trial asked a measure")
        if data.has_judgement and not accuracy >= config.min_accuracy:
            reasons.append(f"judgement accuracy {accuracy:.0%} (< {config.min_accuracy:.0%})"
                           if np.isfinite(accuracy) else "no judgement answered")
        if config.exclude_incomplete and not complete:
            reasons.append(f"incomplete session ({what})")
        rows.append({"participant": participant, "n_trials": n, "missing_rate": missing_rate,
                     "accuracy": accuracy, "complete": bool(complete), "excluded": bool(reasons),
                     "reason": "; ".join(reasons)})
    for participant in sorted(set(complete_by) - set(people)):   # sessions without a main trial
        rows.append({"participant": participant, "n_trials": 0, "missing_rate": np.nan, "accuracy": np.nan,
                     "complete": False, "excluded": True,
                     "reason": f"no main trials (incomplete session: {complete_by[participant][1]})"})
    participants = pd.DataFrame(rows)
    if len(participants) > len(people):
        participants = participants.sort_values("participant", kind="stable").reset_index(drop=True)
    out_people = set(participants.loc[participants["excluded"], "participant"])
    kept_person = ~trials["participant"].isin(out_people).to_numpy()
    count_rows = []
    for measure in measures:
        why = trials[f"why_{measure.name}"]
        used, not_asked = (why == "").to_numpy(), (why == NOT_ASKED).to_numpy()
        trials[f"use_{measure.name}"] = used & kept_person
        tally = why[~used & ~not_asked].value_counts()
        count_rows += [(measure.name, reason, int(k)) for reason, k in sorted(tally[tally > 0].items())]
        count_rows.append((measure.name, "participant excluded", int((~kept_person & used).sum())))
        count_rows.append((measure.name, "kept", int((used & kept_person).sum())))
        if not_asked.any():
            count_rows.append((measure.name, "not asked (not counted as missing)", int(not_asked.sum())))
    return QcResult(trials=trials, participants=participants,
                    trial_counts=pd.DataFrame(count_rows, columns=["measure", "reason", "n"]), timing=timing,
                    config=config, measures=[m.name for m in measures], warnings=warnings)
