"""Trigger codes: which code an event sends, and the ports that send them.

``codes`` in the protocol map an event name (fixation, cue, stimulus, blank, rating,
judgement, iti, response, instructions) to a code 1–255, or to a mapping from condition
labels to codes: a label is levels joined by ``_`` (``pain``, ``pain_self``,
``neutral_other_outgroup``); the most specific label whose levels all match the trial wins.
"""
from __future__ import annotations


def code_for(codes, event, trial=None):
    """The code ``event`` sends for ``trial``, or None."""
    entry = codes.get(event)
    if entry is None or isinstance(entry, int):
        return entry
    if trial is None:
        return None
    levels = {trial.pain, trial.perspective, trial.group, trial.stimulus_type}
    best, best_parts = None, 0
    for label, code in entry.items():
        parts = label.split("_")
        if all(p in levels for p in parts) and len(parts) > best_parts:
            best, best_parts = code, len(parts)
    return best


class VirtualPort:
    """Records every code with its time instead of sending it (pilots and tests)."""

    backend = "virtual"

    def __init__(self):
        self.log = []

    def send(self, code, time_s):
        self.log.append((time_s, code))

    def tick(self, time_s):
        pass

    def close(self):
        pass


class NullPort:
    """Sends nothing (the default backend)."""

    backend = "none"

    def send(self, code, time_s):
        pass

    def tick(self, time_s):
        pass

    def close(self):
        pass
