"""The design summary ``paradigm validate`` prints: cells, trials per cell, blocks, expected duration.

Building the summary builds the design for every counterbalancing slot and participant group,
so a constraint that no order can meet is reported here, before anyone is tested.
"""
from __future__ import annotations

from collections import Counter

from .design import build_design, n_slots
from .protocol import TIMED_EVENTS

# Typical answer times for events that wait for a response, capped by their timeout.
TYPICAL_RESPONSE_S = {"vas": 2.5, "likert": 2.0, "judgement": 0.8}
TYPICAL_CONTINUE_S = 3.0


def design_summary(loaded, manifest, *, seed=0) -> str:
    """Human-readable summary of the protocol's design; raises DesignError if a design cannot be built."""
    protocol = loaded.protocol
    group = protocol.factors.group
    groups = list(group.participant_levels) if group.kind == "natural" else [None]
    designs = [build_design(protocol, manifest, slot=slot, seed=seed + slot, participant_group=g)
               for slot in range(n_slots(protocol)) for g in groups]
    design = designs[0]
    main = [t for t in design.trials if t.block_kind == "main"]
    factors = ["pain", "stimulus_type", "group", "perspective"]
    varying = [f for f in factors if len({getattr(t, f) for t in main}) > 1]
    cells = Counter(tuple(getattr(t, f) for f in varying) for t in main)
    trial_s = _mean_trial_s(protocol)
    n_breaks = len([b for b in design.blocks]) + (len(main) // protocol.blocks.break_every_n_trials
                                                  if protocol.blocks.break_every_n_trials else 0)
    null = protocol.blocks.main.null_events
    n_null = sum(b.n_null for b in design.blocks)
    null_s = n_null * sum(null.duration_s) / 2 if null else 0.0
    total_s = len(design.trials) * trial_s + null_s + (n_breaks + 2) * TYPICAL_CONTINUE_S
    lines = [
        f"protocol   {protocol.name} — {protocol.title}" if protocol.title else f"protocol   {protocol.name}",
        f"file       {loaded.path}",
        f"sha256     {loaded.sha256}",
        f"manifest   {manifest.path} ({len(manifest)} stimuli)",
        f"factors    {' × '.join(f'{f} ({len({getattr(t, f) for t in main})})' for f in varying)}",
        f"cells      {len(cells)}, trials per cell {min(cells.values())}"
        + ("" if len(set(cells.values())) == 1 else f"–{max(cells.values())}"),
        f"trials     {len(design.trials)} ({len(main)} main"
        + (f", {protocol.blocks.practice.n_trials} practice)" if protocol.blocks.practice.n_trials else ")"),
        f"blocks     " + ", ".join(f"{b.number}:{b.kind}/{b.perspective}({b.n_trials}"
                                   + (f" + {b.n_null} null" if b.n_null else "") + ")" for b in design.blocks),
        f"orders     {n_slots(protocol)} counterbalancing slot(s): "
        + "; ".join(" → ".join(d.block_order) for d in designs[::len(groups)]),
        f"timeline   " + " → ".join(_event_label(e) for e in protocol.timeline),
        *([f"null       {n_null} null events ({null.count} per main block), fixation "
           + (f"{null.duration_s[0]:g} s" if null.duration_s[0] == null.duration_s[1]
              else f"{null.duration_s[0]:g}–{null.duration_s[1]:g} s") + " each, between trials"] if null else []),
        f"duration   ≈ {total_s / 60:.1f} min (mean trial {trial_s:.2f} s"
        + (f", null events {null_s / 60:.1f} min" if null else "") + "; responses assumed "
        f"VAS {TYPICAL_RESPONSE_S['vas']} s, Likert {TYPICAL_RESPONSE_S['likert']} s, "
        f"judgement {TYPICAL_RESPONSE_S['judgement']} s)",
        f"checked    {len(designs)} design(s): every slot and participant group can be built",
    ]
    return "\n".join(lines)


def _event_label(event):
    if isinstance(event, TIMED_EVENTS):
        lo, hi = event.duration_s
        return f"{event.event} {lo:g} s" if lo == hi else f"{event.event} {lo:g}–{hi:g} s"
    if event.event == "rating":
        when = "; ".join(f"{f} {'/'.join(v)}" for f, v in event.asked_when.items())
        return (f"rating:{event.name} ({event.scale} {event.range[0]:g}–{event.range[1]:g}"
                + (f"; only when {when}" if when else "") + ")")
    return "judgement"


def _mean_trial_s(protocol):
    total = 0.0
    for event in protocol.timeline:
        if isinstance(event, TIMED_EVENTS):
            total += sum(event.duration_s) / 2
        else:
            typical = TYPICAL_RESPONSE_S[event.scale if event.event == "rating" else "judgement"]
            total += min(typical, event.timeout_s) if event.timeout_s else typical
    return total
