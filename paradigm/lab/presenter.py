"""The PsychoPy presenter: every screen of a trial in a window, frame by frame.

Timing rules: durations are whole frames; an onset is the time of
the flip that first showed the screen; a trigger goes out on that flip (``callOnFlip``);
every image of a block is loaded and uploaded as a texture before the block; between a
stimulus's flips there is only drawing. The stimulus ends with a flip to the background,
whose time is the offset; a blank or ITI right after it starts on that flip.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from psychopy import event
from psychopy import logging as pp_logging
from psychopy import visual
from psychopy.hardware import keyboard

from ..presenter import Answer, SessionAborted, StimulusShown
from ..protocol import text_in
from ..triggers import code_for
from .inputs import CONFIRM_KEY, CONTINUE_KEY, LiveInput
from .screens import make_slider, team_markers
from .window import open_window

log = logging.getLogger("paradigm")

ARROWS = ("left", "right")
QUESTION_POS, PROMPT_POS, PROMPT_SCALE = (0.0, 0.15), (0.0, -0.4), 0.75
QUIT_KEYS = ("y", "n")
MIN_TEXT_S = 0.3       # an instruction screen ignores keys this long (no accidental skips)
SPIN_S = 0.002         # software pacing sleeps until this close to the flip, then spins


class PsychoPyPresenter:
    """Shows a protocol's screens in a PsychoPy window; see :mod:`paradigm.presenter` for the interface.

    Parameters
    ----------
    protocol : Protocol
    language : str
    port : a trigger port (:mod:`paradigm.lab.ports`)
    windowed : bool
        A window instead of full screen (development; recorded in the data).
    input : LiveInput or SimulatedInput
    screenshot_dir : Path, optional
        Save the first frame of each kind of screen as a PNG there.
    pace : bool, optional
        Force software flip pacing on or off (default: on when the display has no vsync).
    """

    def __init__(self, protocol, language, port, *, windowed=False, input=None, screenshot_dir=None, pace=None):
        self.protocol, self.language, self.port = protocol, language, port
        self.input = input or LiveInput()
        self.win, self.timing = open_window(protocol.display, windowed=windowed, pace=pace)
        self.frame_s = 1.0 / self.timing.frame_hz
        self.keyboard = keyboard.Keyboard()
        self.mouse = event.Mouse(win=self.win)
        self.texts = protocol.instructions[language]
        self._labels = {}
        self._sliders = {}
        self._prewarm()
        self._fixation = visual.TextStim(self.win, "+", height=0.08, color=protocol.display.foreground,
                                         font=protocol.display.font)
        self._images = {}
        self._markers = team_markers(self.win, protocol)
        self._after_stimulus = _event_after_stimulus(protocol)
        self._background_since = None
        self._flips = []
        self._flip_started = None
        self._flip_at = None
        self._screenshots = Path(screenshot_dir) if screenshot_dir else None
        self._shot = set()
        self.t0 = pp_logging.defaultClock.getTime()

    # --- clock, flips, triggers ----------------------------------------------------------

    def now(self):
        return pp_logging.defaultClock.getTime() - self.t0

    def _frames(self, duration_s):
        return max(1, round(duration_s * self.timing.frame_hz))

    def _send(self, code):
        self.port.send(code, self._flip_at - self.t0)

    def _flip(self, code=None, kind=None):
        """Flip once (paced when the display has no vsync); return the flip time from session start.

        ``kind`` names the screen being shown for the first time: in screenshot mode its
        frame is read from the back buffer just before the flip and saved just after it.
        """
        shoot = self._screenshots is not None and kind is not None and kind not in self._shot
        if shoot:
            self.win.getMovieFrame(buffer="back")
        if code is not None:
            self.win.timeOnFlip(self, "_flip_at")
            self.win.callOnFlip(self._send, code)
        if self.timing.paced and self._flip_started is not None:
            due = self._flip_started + self.frame_s   # start swaps a frame apart, so intervals are one frame
            while (left := due - pp_logging.defaultClock.getTime()) > 0:
                if left > SPIN_S:
                    time.sleep(left - SPIN_S)
        self._flip_started = pp_logging.defaultClock.getTime()
        flip_time = self.win.flip()
        self._flips.append(flip_time)
        onset = flip_time - self.t0
        self.port.tick(onset)
        if shoot:
            self._shot.add(kind)
            self._screenshots.mkdir(parents=True, exist_ok=True)
            self.win.saveMovieFrames(str(self._screenshots / f"{kind}.png"))
        return onset

    def _hold(self, draw, n_frames, code, kind):
        """Show ``draw`` for ``n_frames`` flips (Escape checked between them); return the onset."""
        onset = None
        for i in range(n_frames):
            draw()
            flipped = self._flip(code if i == 0 else None, kind if i == 0 else None)
            if onset is None:
                onset = flipped
            self._check_escape()
        return onset

    # --- preparation -------------------------------------------------------------------

    def _label(self, text, pos=(0.0, 0.0), scale=1.0):
        """A TextStim for ``text`` at ``pos``, made once: no text is laid out during a trial."""
        key = (text, pos, scale)
        stim = self._labels.get(key)
        if stim is None:
            d = self.protocol.display
            stim = self._labels[key] = visual.TextStim(self.win, text, pos=pos, height=d.text_height * scale,
                                                       color=d.foreground, font=d.font, wrapWidth=1.2)
        return stim

    def _prewarm(self):
        """Make every text and slider a trial can show before the first trial."""
        t = self.texts
        for text in (t.cue_self, t.cue_other, t.feedback_correct, t.feedback_incorrect, t.feedback_too_slow):
            if text:
                self._label(text)
        self._label(t.rating_prompt, PROMPT_POS, PROMPT_SCALE)
        for rating in self.protocol.ratings:
            self._label(text_in(rating.question, self.language), QUESTION_POS)
            self._slider(rating)
        judgement = self.protocol.judgement
        if judgement is not None and judgement.prompt:
            self._label(text_in(judgement.prompt, self.language))

    def prepare_block(self, trials, manifest):
        """Load and upload every image of the block, and drop the previous block's textures."""
        height = self.protocol.display.stimulus_height
        by_id = {s.stimulus_id: s for s in manifest.stimuli}
        wanted = {}
        for trial in trials:
            if trial.stimulus_type == "cue" or trial.stimulus_file in wanted:
                continue
            stim = self._images.get(trial.stimulus_file)
            if stim is None:
                stim = visual.ImageStim(self.win, image=str(by_id[trial.stimulus_id].path), units="height",
                                        interpolate=True)
                w, h = stim.size
                stim.size = (height * w / h, height)
            wanted[trial.stimulus_file] = stim
        for stim in wanted.values():
            stim.draw()          # first draw finishes the upload before any trial
        self.win.clearBuffer()
        self._images = wanted
        self._cues = {t.stimulus_id: self._label(by_id[t.stimulus_id].label or t.stimulus_id)
                      for t in trials if t.stimulus_type == "cue"}

    # --- timed screens -----------------------------------------------------------------

    def show_fixation(self, symbol, duration_s, *, code=None):
        self._background_since = None
        if self._fixation.text != symbol:
            self._fixation.text = symbol
        return self._hold(self._fixation.draw, self._frames(duration_s), code, "fixation")

    def show_cue(self, text, duration_s, *, code=None):
        self._background_since = None
        return self._hold(self._label(text).draw, self._frames(duration_s), code, "cue")

    def show_stimulus(self, trial, duration_s, *, code=None):
        self._background_since = None
        if trial.stimulus_type == "cue":
            image = self._cues[trial.stimulus_id]
        else:
            image = self._images[trial.stimulus_file]
        marker = self._markers.get(trial.team)
        n = self._frames(duration_s)
        first = len(self._flips)
        image.draw()
        if marker is not None:
            marker.draw()
        onset = self._flip(code, "stimulus")
        for _ in range(n - 1):   # nothing but drawing between the stimulus's flips
            image.draw()
            if marker is not None:
                marker.draw()
            self._flip()
        following = self._after_stimulus
        offset = self._flip(code_for(self.protocol.triggers.codes, following, trial)
                            if following in ("blank", "iti") else None)
        self._background_since = offset
        intervals = [b - a for a, b in zip(self._flips[first:], self._flips[first + 1:])]
        dropped = self._dropped(intervals)
        self._check_escape()
        return StimulusShown(onset, offset, dropped)

    def show_blank(self, duration_s, *, code=None):
        n = self._frames(duration_s)
        if self._background_since is not None:   # the stimulus's offset flip already showed it
            onset, self._background_since = self._background_since, None
            self._hold(lambda: None, n - 1, None, "blank")
            return onset
        return self._hold(lambda: None, n, code, "blank")

    def show_feedback(self, text, duration_s):
        self._background_since = None
        return self._hold(self._label(text).draw, self._frames(duration_s), None, "feedback")

    # --- screens that wait for an answer --------------------------------------------------

    def show_text(self, text, responder, *, code=None):
        self._background_since = None
        body, prompt = self._label(text), self._label(self.texts.continue_prompt, PROMPT_POS, PROMPT_SCALE)
        self.input.begin("text", responder, not_before_s=MIN_TEXT_S)

        def draw():
            body.draw()
            prompt.draw()

        onset, _, _ = self._respond(draw, [CONTINUE_KEY], code, "text", min_s=MIN_TEXT_S)
        return onset

    def ask_rating(self, rating, trial, responder, *, code=None, response_code=None):
        self._background_since = None
        slider = self._slider(rating)
        slider.reset()
        slider.markerPos = None
        question = self._label(text_in(rating.question, self.language), QUESTION_POS)
        prompt = self._label(self.texts.rating_prompt, PROMPT_POS, PROMPT_SCALE)
        self.input.begin("rating", responder, trial, rating)
        low, high = rating.range
        step = rating.step or (high - low) / 100.0
        digits = [str(k) for k in range(int(low), int(high) + 1)] if rating.scale == "likert" and high <= 9 else []

        def draw():
            question.draw()
            slider.draw()
            prompt.draw()

        def on_key(name):
            if name in ARROWS:
                current = slider.markerPos
                start = (low + high) / 2 if current is None else current + (step if name == "right" else -step)
                slider.markerPos = min(max(start, low), high)
            elif name in digits:
                slider.markerPos = float(name)
            elif name == CONFIRM_KEY and slider.markerPos is not None:
                return float(slider.markerPos)
            return None

        self.win.mouseVisible = True
        try:
            onset, value, rt = self._respond(draw, [*ARROWS, *digits, CONFIRM_KEY], code, f"rating_{rating.name}",
                                             timeout_s=rating.timeout_s, on_key=on_key, slider=slider)
        finally:
            self.win.mouseVisible = not self.timing.fullscreen
        if value is not None and response_code is not None:
            self.port.send(response_code, self.now())
        return Answer(onset, value, rt)

    def ask_judgement(self, judgement, trial, responder, *, code=None, response_code=None):
        self._background_since = None
        prompt = self._label(text_in(judgement.prompt, self.language) if judgement.prompt else "")
        keys = list(judgement.keys.values())
        self.input.begin("judgement", responder, trial, judgement)
        onset, key, rt = self._respond(prompt.draw, keys, code, "judgement", timeout_s=judgement.timeout_s,
                                       on_key=lambda name: name)
        if key is not None and response_code is not None:
            self.port.send(response_code, self.now())
        return Answer(onset, key, rt)

    def _respond(self, draw, key_list, code, kind, *, timeout_s=None, on_key=None, slider=None, min_s=0.0):
        """Flip ``draw`` until ``on_key`` returns an answer or the timeout passes: ``(onset, answer, rt_s)``."""
        onset = None
        self.keyboard.clearEvents()
        watch = [*key_list, "escape"]
        while True:
            draw()
            if onset is None:
                self.win.callOnFlip(self.keyboard.clock.reset)
                self.win.callOnFlip(self.mouse.clickReset)
                onset = self._flip(code, kind)
                log.info("screen %s at %.3f s", kind, onset)
            else:
                self._flip()
            elapsed = self.now() - onset
            if timeout_s is not None and elapsed >= timeout_s:
                return onset, None, None
            if self.input.poll(elapsed, self.keyboard, slider):
                return onset, None, None
            for press in self.keyboard.getKeys(keyList=watch, waitRelease=True):
                if press.name == "escape":
                    self._confirm_quit()
                    continue
                if press.rt is not None and press.rt < min_s:
                    continue
                answer = on_key(press.name) if on_key else press.name
                if answer is not None:
                    return onset, answer, float(press.rt)

    def _check_escape(self):
        if self.keyboard.getKeys(keyList=["escape"], waitRelease=True):
            self._confirm_quit()

    def _confirm_quit(self):
        """Escape: ask the experimenter; Y ends the session (data kept, status aborted), N goes on."""
        question = self._label(self.texts.quit_prompt)
        self.keyboard.clearEvents()
        while True:
            question.draw()
            self._flip()
            for press in self.keyboard.getKeys(keyList=list(QUIT_KEYS), waitRelease=True):
                if press.name == "y":
                    raise SessionAborted("escape")
                return

    # --- cached stimuli ----------------------------------------------------------------

    def _slider(self, rating):
        slider = self._sliders.get(rating.name)
        if slider is None:
            slider = self._sliders[rating.name] = make_slider(self.win, rating, self.protocol.display, self.language)
        return slider

    def _dropped(self, intervals):
        """Frames missed in flip-to-flip ``intervals``: an interval of k frames drops k − 1."""
        return sum(max(0, round(i / self.frame_s) - 1) for i in intervals)

    def report(self):
        """Timing of this part of the session for the sidecar: display facts and frame intervals."""
        intervals = sorted(b - a for a, b in zip(self._flips, self._flips[1:]))
        summary = {"n_flips": len(self._flips)}
        if intervals:
            pick = lambda q: round(1000 * intervals[min(len(intervals) - 1, int(q * len(intervals)))], 3)  # noqa: E731
            summary.update(median_ms=pick(0.5), p99_ms=pick(0.99), max_ms=round(1000 * intervals[-1], 3),
                           n_dropped=self._dropped(intervals))
        out = {"display": self.timing.to_dict(), "frame_intervals": summary}
        if hasattr(self.port, "log"):   # the virtual backend: every code with its flip time
            out["triggers_sent"] = [[round(t, 6), code] for t, code in self.port.log]
        return out

    def close(self):
        self.win.close()


def _event_after_stimulus(protocol):
    kinds = [e.event for e in protocol.timeline]
    i = kinds.index("stimulus")
    return kinds[i + 1] if i + 1 < len(kinds) else None

