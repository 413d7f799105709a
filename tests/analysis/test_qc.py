"""Tests for analysis.qc: trial flags, participant exclusions and the timing summary on hand-made trials."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.qc import QcConfig, apply_qc
from analysis.read import TrialData


def make_data(n_people=4, n_trials=40, judgement=False, seed=0):
    """Synthetic checked trials: two ratings' worth of one rating, log-normal RTs, optional judgement."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_people):
        for t in range(n_trials):
            rows.append({"participant": f"p{p}", "session": 1.0, "trial": float(t + 1), "block_kind": "main",
                         "pain": "pain" if t % 2 else "neutral", "perspective": "self", "group": "ingroup",
                         "stimulus_type": "face", "stimulus_id": f"s{t % 10}", "timed_out": False,
                         "rating_x": float(rng.uniform(10, 90)), "rating_x_rt_s": float(rng.lognormal(0.5, 0.2)),
                         "stimulus_onset_s": 10.0 * t, "stimulus_offset_s": 10.0 * t + 3.5,
                         "dropped_frames": 0.0,
                         **({"judgement_correct": True, "judgement_rt_s": float(rng.lognormal(-0.5, 0.2))}
                            if judgement else {})})
    trials = pd.DataFrame(rows)
    sessions = pd.DataFrame({"participant": [f"p{p}" for p in range(n_people)], "session": 1,
                             "file": "f.csv", "status": "completed", "n_trials_planned": n_trials})
    return TrialData(trials=trials, practice=trials.iloc[:0], files=["f.csv"], ratings=["x"], protocols=["t"],
                     simulated=False, has_judgement=judgement, sessions=sessions)


def test_timeouts_anticipations_and_outliers_are_flagged():
    """Missing ratings, RTs under 150 ms and a far log-RT outlier get their reasons; the rest are kept."""
    data = make_data()
    data.trials.loc[0, "rating_x"] = np.nan
    data.trials.loc[1, "rating_x_rt_s"] = 0.1
    data.trials.loc[2, "rating_x_rt_s"] = 60.0
    qc = apply_qc(data)
    why = qc.trials["why_rating_x"]
    assert why[0] == "timeout or missing" and why[1].startswith("anticipation") and why[2].startswith("RT outlier")
    assert (why[3:] == "").all() and qc.trials["use_rating_x"].sum() == len(why) - 3
    assert qc.participants["excluded"].sum() == 0


def test_participant_exclusions_missing_accuracy_incomplete():
    """Too many missing trials, low accuracy and an incomplete session each exclude a participant."""
    data = make_data(judgement=True)
    t = data.trials
    t.loc[(t.participant == "p0") & (t.trial <= 10), "rating_x"] = np.nan  # 25% missing
    t.loc[(t.participant == "p1") & (t.trial <= 15), "judgement_correct"] = False  # 62.5% correct
    data.sessions.loc[data.sessions.participant == "p2", "status"] = "aborted"
    qc = apply_qc(data)
    people = qc.participants.set_index("participant")
    assert "missing 25%" in people.loc["p0", "reason"]
    assert "accuracy 62%" in people.loc["p1", "reason"] or "accuracy 63%" in people.loc["p1", "reason"]
    assert "incomplete session (aborted)" in people.loc["p2", "reason"]
    assert qc.excluded_participants == ["p0", "p1", "p2"]
    assert not qc.trials.loc[qc.trials.participant == "p1", "use_rating_x"].any()
    kept = apply_qc(data, QcConfig(max_missing=0.3, min_accuracy=0.5, exclude_incomplete=False))
    assert kept.excluded_participants == []


def test_timing_flags_and_optional_exclusion():
    """Dropped frames and an off duration are counted; trials are excluded for timing only when asked."""
    data = make_data()
    data.trials.loc[3, "dropped_frames"] = 2.0
    data.trials.loc[4, "stimulus_offset_s"] += 0.05
    qc = apply_qc(data)
    assert qc.timing["n_dropped_trials"] == 1 and qc.timing["n_off_duration"] == 1 and qc.timing["n_flagged"] == 2
    assert qc.timing["intended_s"] == pytest.approx(3.5)
    assert qc.trials["use_rating_x"][[3, 4]].all()
    strict = apply_qc(data, QcConfig(exclude_timing=True))
    assert not strict.trials["use_rating_x"][[3, 4]].any()


def test_intended_duration_comes_from_the_sidecars():
    """When every session's sidecar names one fixed stimulus duration, durations are checked against it, not the mode."""
    data = make_data()
    data.trials["stimulus_offset_s"] = data.trials["stimulus_onset_s"] + 3.45   # every trial 50 ms short
    assert apply_qc(data).timing["n_off_duration"] == 0   # no sidecar: the mode is taken as intended
    data.sessions["intended_stimulus_s"] = [[3.5, 3.5]] * len(data.sessions)
    qc = apply_qc(data)
    assert qc.timing["intended_from"] == "protocol" and qc.timing["intended_s"] == 3.5
    assert qc.timing["n_off_duration"] == len(data.trials) and qc.timing["deviation_ms_mean"] == pytest.approx(-50)
    data.sessions["intended_stimulus_s"] = [[3.0, 4.0]] * len(data.sessions)   # jittered: back to the mode
    assert apply_qc(data).timing["intended_from"] == "modal"


def test_no_timing_columns():
    """Without timing values the summary says timing is unavailable."""
    data = make_data()
    data.trials[["stimulus_onset_s", "stimulus_offset_s", "dropped_frames"]] = np.nan
    assert apply_qc(data).timing == {"available": False}


@pytest.mark.parametrize("kwargs", [{"max_missing": 1.5}, {"rt_z": -1}, {"min_accuracy": -0.1}])
def test_config_validates(kwargs):
    """Thresholds out of range are refused with the field's name."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        QcConfig(**kwargs)
