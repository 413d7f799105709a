"""Broken protocols: each ends in one line naming file, line or field, value and what is allowed, exit 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from paradigm.cli import main

VALID = """\
name: tiny
stimuli:
  manifest: {manifest}
factors:
  pain: [pain, neutral]
  stimulus_type: [face, hand]
  perspective: {{levels: [self, other], assignment: blocked}}
  group: {{kind: natural, participant_levels: [A, B]}}
timeline:
  - {{event: fixation, duration_s: [0.5, 1.0]}}
  - {{event: stimulus, duration_s: 1.0}}
  - event: rating
    name: pain_intensity
    scale: vas
    question: How much pain does this person feel?
    anchors: [No pain, Worst possible pain]
    range: [0, 100]
    timeout_s: 5
  - {{event: judgement, keys: {{pain: f, neutral: j}}, timeout_s: 2}}
  - {{event: iti, duration_s: 1.0}}
blocks:
  practice: {{n_trials: 4}}
  main: {{trials_per_cell: 4, blocks_per_level: 2}}
constraints:
  max_run_length: {{pain: 3}}
  min_repeat_distance: 2
instructions:
  en:
    welcome: Hello
    practice: Practice
    perspective_self: Imagine it is you
    perspective_other: Imagine it is them
"""

MAIN = "main: {{trials_per_cell: 4, blocks_per_level: 2}}"


def _null(spec):
    """The main block line with ``null_events: spec`` added."""
    return MAIN[:-2] + f", null_events: {spec}}}}}"


# (case id, text to replace, replacement, words the one-line message must contain)
CASES = [
    ("unknown-top-key", "timeline:", "timline:", ["unknown key 'timline'", "did you mean 'timeline'", "tiny.yaml:9:"]),
    ("unknown-event-key", "    question:", "    qestion:", ["unknown key 'qestion'", "did you mean 'question'",
                                                             "timeline[2]"]),
    ("negative-duration", "duration_s: 1.0}}\n  - event", "duration_s: -1.0}}\n  - event",
     ["timeline[1].duration_s", "must not be negative", "-1.0"]),
    ("text-duration", "duration_s: 1.0}}\n  - event", "duration_s: soon}}\n  - event",
     ["timeline[1].duration_s", "'soon'", "[min, max]"]),
    ("inverted-jitter", "[0.5, 1.0]", "[1.0, 0.5]", ["timeline[0].duration_s", "inverted", "min 1 > max 0.5"]),
    ("missing-blocks", "blocks:\n  practice: {{n_trials: 4}}\n  main: {{trials_per_cell: 4, blocks_per_level: 2}}\n",
     "", ["blocks: is required but missing"]),
    ("text-count", "trials_per_cell: 4,", "trials_per_cell: four,", ["blocks.main.trials_per_cell", "'four'",
                                                                    "integer"]),
    ("unknown-event", "event: iti", "event: flash", ["unknown event 'flash'", "fixation", "timeline[4]"]),
    ("two-stimuli", "  - {{event: iti, duration_s: 1.0}}", "  - {{event: stimulus, duration_s: 1.0}}",
     ["exactly one stimulus event (got 2)"]),
    ("inverted-scale", "range: [0, 100]", "range: [100, 0]", ["timeline[2].range", "inverted", "[low, high]"]),
    ("likert-fraction", "scale: vas", "scale: likert\n    granularity: 0.5",
     ["likert scale needs whole-number range and granularity 1", "0.5"]),
    ("same-keys", "neutral: j", "neutral: f", ["two different keys"]),
    ("duplicate-rating", "  - {{event: iti, duration_s: 1.0}}",
     "  - {{event: rating, name: pain_intensity, scale: vas, question: Q, anchors: [a, b]}}",
     ["rating names must be unique", "pain_intensity"]),
    ("run-on-blocked-factor", "max_run_length: {{pain: 3}}", "max_run_length: {{perspective: 3}}",
     ["do not vary within a block", "perspective"]),
    ("zero-run", "max_run_length: {{pain: 3}}", "max_run_length: {{pain: 0}}",
     ["constraints.max_run_length.pain", "greater than or equal to 1", "0"]),
    ("unknown-run-factor", "max_run_length: {{pain: 3}}", "max_run_length: {{colour: 3}}",
     ["constraints.max_run_length.colour", "'pain', 'stimulus_type', 'group' or 'perspective'"]),
    ("bad-name", "name: tiny", "name: my task", ["name", "pattern", "'my task'"]),
    ("language-missing", "  en:\n", "  de:\n", ["instructions need the protocol language 'en'", "['de']"]),
    ("cue-without-trial-perspective", "  - {{event: iti, duration_s: 1.0}}",
     "  - {{event: cue, duration_s: 1.0}}", ["cue event belongs in the timeline"]),
    ("three-groups", "participant_levels: [A, B]", "participant_levels: [A, B, C]",
     ["factors.group", "must name two groups", "'C'"]),
    ("trigger-code-range", "instructions:", "triggers: {{codes: {{stimulus: 300}}}}\ninstructions:",
     ["triggers.codes.stimulus", "less than or equal to 255", "300"]),
    ("refresh-text", "instructions:", "display: {{refresh_hz: fast}}\ninstructions:",
     ["display.refresh_hz", "number", "'fast'"]),
    ("filter-not-list", "  manifest:", "  filter: {{stimulus_type: face}}\n  manifest:",
     ["stimuli.filter.stimulus_type", "list", "'face'"]),
    ("practice-text-missing", "    practice: Practice\n", "", ["instructions.en needs practice"]),
    ("negative-practice", "n_trials: 4", "n_trials: -4", ["blocks.practice.n_trials", "greater than or equal to 0"]),
    ("indivisible-blocks", "blocks_per_level: 2", "blocks_per_level: 3",
     ["trials_per_cell (4) must be a multiple of blocks_per_level (3)"]),
    ("yaml-syntax", "  pain: [pain, neutral]", "  pain: [pain, neutral", ["YAML syntax error", "tiny.yaml:"]),
    ("null-count-text", MAIN, _null("{{count: many, duration_s: 5.5}}"),
     ["blocks.main.null_events.count", "integer", "'many'"]),
    ("null-count-zero", MAIN, _null("{{count: 0, duration_s: 5.5}}"),
     ["blocks.main.null_events.count", "greater than or equal to 1", "0"]),
    ("null-zero-duration", MAIN, _null("{{count: 2, duration_s: 0}}"),
     ["blocks.main.null_events", "duration_s must be more than 0 s", "0"]),
    ("null-inverted-jitter", MAIN, _null("{{count: 2, duration_s: [6.5, 4.5]}}"),
     ["blocks.main.null_events.duration_s", "inverted", "min 6.5 > max 4.5"]),
    ("null-unknown-key", MAIN, _null("{{number: 2, duration_s: 5.5}}"),
     ["unknown key 'number'", "allowed: count, duration_s"]),
    ("null-not-mapping", MAIN, _null("3"),
     ["blocks.main.null_events", "dictionary"]),
]

# Broken designs, found by building every slot's trial table (DesignError / ManifestError)
DESIGN_CASES = [
    ("too-few-identities", "trials_per_cell: 4,", "trials_per_cell: 20,",
     ["12 identities", "trials_per_cell 20 / repetitions 1 needs 20", "raise repetitions"]),
    ("impossible-distance", "min_repeat_distance: 2", "min_repeat_distance: 30", ["min_repeat_distance 30"]),
    ("impossible-run", "max_run_length: {{pain: 3}}", "max_run_length: {{pain: 1, stimulus_type: 1, group: 1}}",
     ["no order of its", "loosen a constraint"]),
    ("filter-empties", "  manifest:", "  filter: {{stimulus_type: [cue]}}\n  manifest:", ["no stimuli match"]),
    ("null-count-too-big", MAIN, _null("{{count: 16, duration_s: 5.5}}"),
     ["null_events.count 16 does not fit block", "16 trials leave 15 gaps"]),
]


def write(tmp_path, text):
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_validate(path, capsys):
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    return code, err


@pytest.fixture
def valid_text(placeholder_manifest):
    return VALID.format(manifest=placeholder_manifest)


def test_valid_protocol_passes(tmp_path, valid_text, capsys):
    """The unbroken base protocol validates and prints its design summary."""
    code = main(["validate", str(write(tmp_path, valid_text))])
    out = capsys.readouterr().out
    assert code == 0
    assert "cells      16, trials per cell 4" in out


@pytest.mark.parametrize("case, old, new, words", CASES + DESIGN_CASES, ids=[c[0] for c in CASES + DESIGN_CASES])
def test_broken_protocol_one_line(tmp_path, valid_text, capsys, case, old, new, words):
    """Each broken protocol gives exit 2 and one line naming the file and what is wrong."""
    old, new = old.format(), new.format()
    assert old in valid_text, f"case {case} does not apply to the base protocol"
    path = write(tmp_path, valid_text.replace(old, new, 1))
    code, err = run_validate(path, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in err
    if case not in {c[0] for c in DESIGN_CASES}:
        assert str(path) in line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"


def test_empty_file(tmp_path, capsys):
    """An empty protocol says so and lists what a protocol needs."""
    code, err = run_validate(write(tmp_path, "  \n"), capsys)
    assert code == 2 and "file is empty" in err and "timeline" in err


def test_top_level_list(tmp_path, capsys):
    """A protocol that is a YAML list, not a mapping, is refused with line 1."""
    code, err = run_validate(write(tmp_path, "- a\n- b\n"), capsys)
    assert code == 2 and "tiny.yaml:1: the top level must be a mapping of fields (got list)" in err


def test_not_utf8(tmp_path, capsys):
    """Bytes that are not UTF-8 are named as such."""
    path = tmp_path / "tiny.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    code, err = run_validate(path, capsys)
    assert code == 2 and "is not UTF-8 text" in err


def test_missing_protocol_file(tmp_path, capsys):
    """A protocol path that does not exist is named."""
    code, err = run_validate(tmp_path / "nope.yaml", capsys)
    assert code == 2 and "nope.yaml: file not found" in err


def test_missing_manifest(tmp_path, valid_text, placeholder_manifest, capsys):
    """A manifest path that does not exist is named with the manifest's path."""
    path = write(tmp_path, valid_text.replace(str(placeholder_manifest), str(tmp_path / "gone.csv")))
    code, err = run_validate(path, capsys)
    assert code == 2 and "gone.csv: file not found" in err


def test_missing_stimulus_file(tmp_path, valid_text, placeholder_manifest, capsys):
    """A manifest row whose image is missing is reported with its line, before anything runs."""
    folder = tmp_path / "set"
    folder.mkdir()
    text = placeholder_manifest.read_text().replace("images/faceA00_pain.png", "images/missing.png")
    (folder / "manifest.csv").write_text(text)
    path = write(tmp_path, valid_text.replace(str(placeholder_manifest), str(folder / "manifest.csv")))
    code, err = run_validate(path, capsys)
    assert code == 2
    assert "manifest.csv: line 2: file 'images/missing.png' not found" in err


def test_bad_override(tmp_path, valid_text, capsys):
    """A --set override into a section the protocol lacks is named."""
    code = main(["validate", str(write(tmp_path, valid_text)), "--set", "blocks.nothing.x=1"])
    err = capsys.readouterr().err
    assert code == 2 and "override 'blocks.nothing.x': 'blocks.nothing' is not a section" in err


def test_cli_subprocess_no_traceback(tmp_path, valid_text):
    """Through the real entry point, a broken protocol prints one line on stderr and exits 2."""
    path = write(tmp_path, valid_text.replace("duration_s: 1.0}", "duration_s: -1}", 1))
    proc = subprocess.run([sys.executable, "-m", "paradigm", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "must not be negative" in proc.stderr
