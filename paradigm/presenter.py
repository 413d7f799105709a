"""What the session loop asks of a presenter; two implement it.

- :class:`paradigm.headless.HeadlessPresenter`: no window, a virtual clock (data-only pilot);
- ``paradigm.lab.presenter.PsychoPyPresenter``: a PsychoPy window (lab session, visual pilot).

Every ``show_*`` call returns the onset (seconds from session start, at the flip that showed
the screen in a window) and sends ``code`` on that flip. Response calls get the responder
(a person's keyboard/mouse, or a simulated participant) and return its answer.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol


class SessionAborted(Exception):
    """The experimenter ended the session (Escape confirmed, SIGINT or SIGTERM)."""


class StimulusShown(NamedTuple):
    onset_s: float
    offset_s: float
    dropped_frames: int


class Answer(NamedTuple):
    onset_s: float
    value: object          # rating value / judgement key, or None when it timed out
    rt_s: float | None


class Presenter(Protocol):
    def prepare_block(self, trials, manifest) -> None: ...
    def show_text(self, text, responder, *, code=None) -> float: ...
    def show_fixation(self, symbol, duration_s, *, code=None) -> float: ...
    def show_cue(self, text, duration_s, *, code=None) -> float: ...
    def show_stimulus(self, trial, duration_s, *, code=None) -> StimulusShown: ...
    def show_blank(self, duration_s, *, code=None) -> float: ...
    def ask_rating(self, rating, trial, responder, *, code=None, response_code=None) -> Answer: ...
    def ask_judgement(self, judgement, trial, responder, *, code=None, response_code=None) -> Answer: ...
    def show_feedback(self, text, duration_s) -> float: ...
    def now(self) -> float: ...
    def close(self) -> None: ...
