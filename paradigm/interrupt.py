"""SIGINT and SIGTERM as a request to stop: abort the running trials, never a half-written file.

While handlers are installed (:func:`handling_signals`, nestable), a signal is recorded; inside
:func:`armed` it also raises :class:`SessionAborted` at once, so the trial loop stops where it
is. Writes of a trial's row and events run in :func:`deferred`: a signal arriving there takes
effect right after the write. Outside the main thread nothing is installed.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

from .presenter import SessionAborted

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_state = {"depth": 0, "previous": {}, "requested": None, "armed": False}


def requested():
    """The name of the signal that asked to stop ('SIGINT', 'SIGTERM'), or None."""
    return _state["requested"]


def _handler(signum, frame):
    _state["requested"] = signal.Signals(signum).name
    if _state["armed"]:
        _state["armed"] = False
        raise SessionAborted(_state["requested"])


@contextmanager
def handling_signals():
    """Record SIGINT/SIGTERM for the block (the outermost block resets and restores)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state["depth"] == 0:
        _state.update(requested=None, armed=False,
                      previous={sig: signal.signal(sig, _handler) for sig in SIGNALS})
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            _state["armed"] = False
            for sig, old in _state["previous"].items():
                signal.signal(sig, old)


def check():
    """Raise SessionAborted if a stop was requested."""
    if _state["requested"]:
        raise SessionAborted(_state["requested"])


@contextmanager
def armed():
    """Inside the block a signal raises SessionAborted at once (one already recorded raises now)."""
    check()
    _state["armed"] = True
    try:
        yield
    finally:
        _state["armed"] = False


@contextmanager
def deferred():
    """A signal during the block is acted on when it ends (if the surrounding block is armed)."""
    was = _state["armed"]
    _state["armed"] = False
    try:
        yield
    finally:
        _state["armed"] = was
    if was:
        check()
