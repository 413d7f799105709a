"""Null events (blocks.main.null_events): fixation-only periods placed by the design, shown by the
presenter, recorded in events.tsv as trial_type "null", never rows of the trial CSV."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from paradigm import load_protocol
from paradigm.cli import main
from paradigm.design import build_design
from paradigm.headless import HeadlessPresenter
from paradigm.pilot import run_pilot
from paradigm.presenter import SessionAborted
from stimuli import read_manifest

REPO = Path(__file__).resolve().parents[2]
SINGER = REPO / "protocols" / "singer2004.yaml"
JITTER = {"count": 3, "duration_s": [4.5, 6.5]}


@pytest.fixture(scope="module")
def singer():
    loaded = load_protocol(SINGER)
    return loaded, read_manifest(loaded.manifest_path)


@pytest.fixture(scope="module")
def jittered(default_protocol):
    """The default protocol (4 main blocks) with 3 jittered null events per main block."""
    return load_protocol(REPO / "protocols" / "default.yaml",
                         {"stimuli.manifest": str(default_protocol.manifest_path),
                          "blocks.main.null_events": JITTER})


def _events(path):
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def test_singer_preset_declares_null_events(singer):
    """The preset has 5.5-s null events (the open instance's length), its count marked assumed."""
    loaded, _ = singer
    spec = loaded.protocol.blocks.main.null_events
    assert spec.count == 16 and spec.duration_s == (5.5, 5.5)
    line = next(x for x in SINGER.read_text(encoding="utf-8").splitlines() if x.strip().startswith("null_events:"))
    assert "assumed" in line


def test_design_places_count_per_main_block(jittered, manifest):
    """Each main block holds exactly `count` null events, in distinct gaps, none in practice or before a
    block's first trial, each lasting within the protocol's range."""
    protocol = jittered.protocol
    design = build_design(protocol, manifest, slot=1, seed=11, participant_group="A")
    for block in design.blocks:
        trials = [t for t in design.trials if t.block == block.number]
        nulls = [t for t in trials if t.null_before_s is not None]
        if block.kind == "practice":
            assert nulls == [] and block.n_null == 0
            continue
        assert len(nulls) == block.n_null == JITTER["count"]
        assert all(t.trial_in_block > 1 for t in nulls)
        assert all(4.5 <= t.null_before_s <= 6.5 for t in nulls)
    assert len({t.null_before_s for t in design.trials if t.null_before_s}) > 1   # jitter is drawn


def test_design_same_seed_same_schedule_and_trials_unchanged(jittered, default_protocol, manifest):
    """Same seed → the same null schedule; the trials themselves are exactly those without null events."""
    a = build_design(jittered.protocol, manifest, slot=0, seed=5, participant_group="B")
    b = build_design(jittered.protocol, manifest, slot=0, seed=5, participant_group="B")
    c = build_design(jittered.protocol, manifest, slot=0, seed=6, participant_group="B")
    plain = build_design(default_protocol.protocol, manifest, slot=0, seed=5, participant_group="B")
    schedule = lambda d: [(t.trial, t.null_before_s) for t in d.trials if t.null_before_s]  # noqa: E731
    assert a.records() == b.records() and schedule(a) == schedule(b)
    assert schedule(a) != schedule(c)
    assert len(a.trials) == len(plain.trials)
    strip = lambda d: [r | {"null_before_s": None} for r in d.records()]  # noqa: E731
    assert strip(a) == strip(plain)
    assert all(t.null_before_s is None for t in plain.trials)


def test_null_events_in_events_tsv_not_in_trial_csv(jittered, manifest, tmp_path):
    """A headless pilot writes each null event to events.tsv (fixation only, onset on the clock, duration
    in range, trial n/a, nothing asked) and leaves the trial CSV one row per real trial."""
    result = run_pilot(jittered, manifest, n_participants=1, out_dir=tmp_path, seed=2)
    session = result.sessions[0]
    assert session.status == "completed"
    rows = list(csv.DictReader(session.files.trials.open(newline="")))
    assert len(rows) == session.n_planned == 4 * 40 + jittered.protocol.blocks.practice.n_trials
    sidecar = json.loads(session.files.sidecar.read_text(encoding="utf-8"))
    assert sidecar["n_null_events_planned"] == 4 * JITTER["count"]
    events = _events(session.files.events)
    nulls = events[events.trial_type == "null"]
    main_blocks = sorted({r["block"] for r in rows if r["block_kind"] == "main"})
    assert nulls.groupby("block").size().to_dict() == {b: JITTER["count"] for b in main_blocks}
    frame = 1 / jittered.protocol.display.refresh_hz
    assert pd.to_numeric(nulls.duration).between(4.5 - frame, 6.5 + frame).all()
    assert (nulls[["trial", "stimulus_id", "pain", "response", "response_time"]] == "n/a").all().all()
    # a null event comes after the previous trial's last screen (a break screen, not in events.tsv, may
    # come between), and its trial's first screen follows it at once
    onsets = pd.to_numeric(events.onset)
    ends = onsets + pd.to_numeric(events.duration)
    for i in nulls.index:
        assert onsets[i] >= ends[i - 1] - 3e-6 and abs(onsets[i + 1] - ends[i]) < 3e-6
        assert events.trial[i + 1] != "n/a" and events.trial[i - 1] not in ("n/a", events.trial[i + 1])


class _AbortOnNull(HeadlessPresenter):
    """Ends the session (like a confirmed Escape) during the n-th null event."""

    def __init__(self, *args, at, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.seen = at, 0

    def show_fixation(self, symbol, duration_s, *, code=None):
        if code == 9:   # the Singer preset's null-event trigger code
            self.seen += 1
            if self.seen == self.at:
                raise SessionAborted("test")
        return super().show_fixation(symbol, duration_s, code=code)


def _null_schedule(path):
    """Each null event as (trial it precedes, duration)."""
    events = _events(path)
    return [(events.trial[i + 1], events.duration[i]) for i in events.index[events.trial_type == "null"]]


def test_singer_resume_after_abort_keeps_the_schedule(singer, tmp_path):
    """Aborted during a null event, the resumed session runs the same trials and null events as an
    uninterrupted one (the cut-off trial reruns with its null event, none is doubled)."""
    loaded, manifest = singer
    cut = run_pilot(loaded, manifest, n_participants=1, out_dir=tmp_path / "cut", seed=4,
                    presenter_factory=lambda lang, port: _AbortOnNull(loaded.protocol, lang, port, at=5))
    assert cut.sessions[0].status == "aborted"
    done_before = cut.sessions[0].n_done
    assert 0 < done_before < cut.sessions[0].n_planned
    assert len(_null_schedule(cut.sessions[0].files.events)) == 4
    resumed = run_pilot(loaded, manifest, n_participants=1, out_dir=tmp_path / "cut", seed=4, resume=True)
    whole = run_pilot(loaded, manifest, n_participants=1, out_dir=tmp_path / "whole", seed=4)
    got, want = resumed.sessions[0], whole.sessions[0]
    assert got.status == want.status == "completed" and got.n_done == want.n_done == 84
    assert _null_schedule(got.files.events) == _null_schedule(want.files.events)
    assert len(_null_schedule(want.files.events)) == 16
    design_columns = ["trial", "block", "stimulus_id", "pain", "perspective"]
    read = lambda p: [[r[c] for c in design_columns] for r in csv.DictReader(p.open(newline=""))]  # noqa: E731
    assert read(got.files.trials) == read(want.files.trials)


def test_singer_data_only_pilot_cli(tmp_path, capsys):
    """`paradigm pilot protocols/singer2004.yaml --participants 2 --out TMP` runs; each session has 16
    null events of 5.5 s and 84 trial rows."""
    code = main(["pilot", str(SINGER), "--participants", "2", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    data = sorted((tmp_path / "data").glob("*_events.tsv"))
    assert len(data) == 2
    for path in data:
        nulls = _events(path).query("trial_type == 'null'")
        assert len(nulls) == 16
        assert pd.to_numeric(nulls.duration).sub(5.5).abs().max() < 1e-6
        assert (nulls.value_code == "9").all()
        trials = pd.read_csv(str(path).replace("_events.tsv", "_data.csv"))
        assert len(trials) == 84 and trials.trial.tolist() == list(range(1, 85))


def test_validate_summary_counts_null_events(capsys):
    """`paradigm validate` names the null events and adds their time to the expected duration."""
    assert main(["validate", str(SINGER)]) == 0
    out = capsys.readouterr().out
    assert "2:main/none(80 + 16 null)" in out
    assert "null       16 null events (16 per main block), fixation 5.5 s each" in out
    assert "null events 1.5 min" in out   # 16 × 5.5 s
