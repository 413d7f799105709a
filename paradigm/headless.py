"""A presenter with no window: a virtual clock advanced by frame-quantised durations and response times."""
from __future__ import annotations

from .presenter import Answer, StimulusShown


class HeadlessPresenter:
    """Runs a session instantly; onsets are what a perfect display at ``refresh_hz`` would give.

    ``time_scale`` > 0 also sleeps that fraction of each interval in real time (1.0 =
    real time), for runs that other processes watch.
    """

    def __init__(self, protocol, language, port, *, time_scale=0.0):
        self.refresh_hz = protocol.display.refresh_hz
        self.language, self.port, self.time_scale = language, port, time_scale
        self._t = 0.0

    def now(self):
        return self._t

    def _frames(self, duration_s):
        return max(1, round(duration_s * self.refresh_hz)) / self.refresh_hz

    def _advance(self, seconds, code=None):
        onset = self._t
        if code is not None:
            self.port.send(code, onset)
        if self.time_scale:
            import time

            time.sleep(seconds * self.time_scale)
        self._t += seconds
        return onset

    def prepare_block(self, trials, manifest):
        pass

    def show_text(self, text, responder, *, code=None):
        return self._advance(self._frames(responder.proceed()), code)

    def show_fixation(self, symbol, duration_s, *, code=None):
        return self._advance(self._frames(duration_s), code)

    def show_cue(self, text, duration_s, *, code=None):
        return self._advance(self._frames(duration_s), code)

    def show_blank(self, duration_s, *, code=None):
        return self._advance(self._frames(duration_s), code)

    def show_stimulus(self, trial, duration_s, *, code=None):
        shown = self._frames(duration_s)
        onset = self._advance(shown, code)
        return StimulusShown(onset, onset + shown, 0)

    def _answer(self, value, rt, timeout_s, code, response_code):
        if value is None:
            onset = self._advance(self._frames(timeout_s or rt), code)
            return Answer(onset, None, None)
        onset = self._advance(rt, code)
        if response_code is not None:
            self.port.send(response_code, self._t)
        return Answer(onset, value, rt)

    def ask_rating(self, rating, trial, responder, *, code=None, response_code=None):
        value, rt = responder.rate(trial, rating)
        return self._answer(value, rt, rating.timeout_s, code, response_code)

    def ask_judgement(self, judgement, trial, responder, *, code=None, response_code=None):
        key, rt = responder.judge(trial, judgement)
        return self._answer(key, rt, judgement.timeout_s, code, response_code)

    def show_feedback(self, text, duration_s):
        return self._advance(self._frames(duration_s))

    def close(self):
        pass
