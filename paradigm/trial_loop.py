"""The one trial loop every session runs: lab, visual pilot and data-only pilot alike.

It walks the trial table from a given trial, shows block instructions and breaks, runs each
trial's timeline through the presenter, and hands one row plus its events to the writer
before the next trial starts.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .protocol import text_in
from .triggers import code_for

FEEDBACK_S = 0.8


def run_trials(context, design, presenter, responder, writer, *, start=0, on_trial=None):
    """Run ``design.trials[start:]``; return the number of trials completed."""
    protocol = context.protocol
    texts = protocol.instructions[context.language]
    total = len(design.trials)
    blocks = {b.number: b for b in design.blocks}
    done = start
    if start == 0:
        presenter.show_text(texts.welcome, responder, code=code_for(protocol.triggers.codes, "instructions"))
    for trial in design.trials[start:]:
        block = blocks[trial.block]
        if trial.trial_in_block == 1 or done == start:
            presenter.prepare_block([t for t in design.trials if t.block == trial.block], context.manifest)
        screen = _between_trials_text(texts, trial, block, done, start, total, protocol, design)
        if screen:
            presenter.show_text(screen, responder, code=code_for(protocol.triggers.codes, "instructions"))
        row, events = run_trial(context, trial, presenter, responder)
        writer.write_trial(row, events)
        done += 1
        if on_trial is not None:
            on_trial(done, total)
    presenter.show_text(texts.end, responder)
    return done


def _between_trials_text(texts, trial, block, done, start, total, protocol, design):
    """A break (every N main trials and between main blocks), then the block's instructions."""
    parts = []
    every = protocol.blocks.break_every_n_trials
    new_block = trial.trial_in_block == 1
    if done > start and trial.block_kind == "main" and (new_block or (every and done % every == 0)):
        parts.append(texts.break_text.format(done=done, total=total))
    if new_block or done == start:
        first_main = next(b.number for b in design.blocks if b.kind == "main")
        parts.append(texts.practice if block.kind == "practice" else texts.main if block.number == first_main else "")
        if block.perspective in ("self", "other"):
            parts.append(getattr(texts, f"perspective_{block.perspective}"))
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def run_trial(context, trial, presenter, responder):
    """Run one trial's timeline, after its null event if it has one; return its CSV row and its BIDS events."""
    protocol, codes = context.protocol, context.protocol.triggers.codes
    row = context.row_template | {
        "block": trial.block, "block_kind": trial.block_kind, "trial": trial.trial,
        "trial_in_block": trial.trial_in_block, "stimulus_id": trial.stimulus_id,
        "stimulus_file": trial.stimulus_file, "stimulus_type": trial.stimulus_type, "pain": trial.pain,
        "identity": trial.identity, "stimulus_group": trial.stimulus_group, "group": trial.group,
        "perspective": trial.perspective,
    }
    events, timed_out = [], False

    def event(name, onset, **extra):
        events.append({"onset": onset, "trial_type": name, "trial": trial.trial, "block": trial.block,
                       "stimulus_id": trial.stimulus_id, "pain": trial.pain, "perspective": trial.perspective,
                       "group": trial.group, "value_code": code_for(codes, name, trial), **extra})

    if trial.null_before_s is not None:   # a null event: fixation only, no trial of its own (trial n/a)
        code = code_for(codes, "null")
        events.append({"onset": presenter.show_fixation(protocol.null_symbol, trial.null_before_s, code=code),
                       "trial_type": "null", "block": trial.block, "value_code": code})
    for spec, duration in zip(protocol.timeline, trial.durations_s):
        kind, code = spec.event, code_for(codes, spec.event, trial)
        if kind == "fixation":
            row["fixation_onset_s"] = presenter.show_fixation(spec.symbol, duration, code=code)
            event(kind, row["fixation_onset_s"])
        elif kind == "cue":
            text = getattr(protocol.instructions[context.language], f"cue_{trial.perspective}", "")
            event(kind, presenter.show_cue(text, duration, code=code))
        elif kind == "stimulus":
            shown = presenter.show_stimulus(trial, duration, code=code)
            row.update(stimulus_onset_s=shown.onset_s, stimulus_offset_s=shown.offset_s,
                       stimulus_duration_s=shown.offset_s - shown.onset_s, dropped_frames=shown.dropped_frames)
            event(kind, shown.onset_s)
        elif kind in ("blank", "iti"):
            event(kind, presenter.show_blank(duration, code=code))
        elif kind == "rating":
            if not spec.asked_on(trial):   # not asked in this condition: its cells stay empty
                continue
            answer = presenter.ask_rating(spec, trial, responder, code=code,
                                          response_code=code_for(codes, "response", trial))
            row[f"rating_{spec.name}"], row[f"rating_{spec.name}_rt_s"] = answer.value, answer.rt_s
            timed_out |= answer.value is None
            event(kind, answer.onset_s, response=answer.value, response_time=answer.rt_s)
        elif kind == "judgement":
            answer = presenter.ask_judgement(spec, trial, responder, code=code,
                                             response_code=code_for(codes, "response", trial))
            correct = None if answer.value is None else answer.value == spec.keys[trial.pain]
            row.update(judgement=answer.value, judgement_correct=correct, judgement_rt_s=answer.rt_s)
            timed_out |= answer.value is None
            event(kind, answer.onset_s, response=answer.value, response_time=answer.rt_s)
            if trial.block_kind == "practice" and protocol.blocks.practice.feedback:
                texts = protocol.instructions[context.language]
                message = (texts.feedback_too_slow if correct is None
                           else texts.feedback_correct if correct else texts.feedback_incorrect)
                event("feedback", presenter.show_feedback(message, FEEDBACK_S))
    end = presenter.now()
    for current, following in zip(events, events[1:] + [{"onset": end}]):
        current["duration"] = following["onset"] - current["onset"]
    row["timed_out"] = timed_out
    row["timestamp_utc"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return row, events
