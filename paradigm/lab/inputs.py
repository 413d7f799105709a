"""Who answers in a PsychoPy window: a person, or a simulated participant fed through PsychoPy's input.

Both are polled once per frame by the presenter's response screens, which then read
PsychoPy's own keyboard and slider. :class:`LiveInput` adds nothing (the person's keys and
clicks arrive by themselves); :class:`SimulatedInput` asks the simulated participant for its
answer when a screen starts and, once the planned response time has passed, sets the slider
as a mouse release would and presses the confirm or response key on PsychoPy's keyboard
device, so the visual pilot runs exactly the lab's response code.
"""
from __future__ import annotations

CONFIRM_KEY = "return"
CONTINUE_KEY = "space"
KEY_HOLD_S = 0.05


class LiveInput:
    """A person at the keyboard and mouse."""

    simulated = False

    def begin(self, screen, responder, trial=None, spec=None, *, not_before_s=0.0):
        pass

    def poll(self, elapsed_s, keyboard, slider=None):
        """Return True when the screen should end with no answer (never, for a person)."""
        return False


class SimulatedInput:
    """The simulated participant's answers, entered through PsychoPy's keyboard and slider."""

    simulated = True

    def __init__(self):
        self._plan = None

    def begin(self, screen, responder, trial=None, spec=None, *, not_before_s=0.0):
        """Ask the participant for this screen's answer: ``(key, rt_s, slider value)``.

        ``not_before_s``: the screen ignores keys until then (instruction screens), so the
        simulated press comes no earlier.
        """
        if screen == "text":
            self._plan = (CONTINUE_KEY, max(responder.proceed(), not_before_s), None)
        elif screen == "rating":
            value, rt = responder.rate(trial, spec)
            self._plan = (None if value is None else CONFIRM_KEY, rt, value)
        elif screen == "judgement":
            key, rt = responder.judge(trial, spec)
            self._plan = (key, rt, None)
        else:
            raise ValueError(f"screen must be text, rating or judgement (got {screen!r})")

    def poll(self, elapsed_s, keyboard, slider=None):
        """Enter the planned answer once its time has come; True for a lapse (no answer at all)."""
        if self._plan is None or elapsed_s < self._plan[1]:
            return False
        key, rt, value = self._plan
        self._plan = None
        if key is None:
            return True
        if value is not None and slider is not None:
            slider.recordRating(value, rt)
        press = keyboard.device.makeResponse(code=key, tDown=rt, name=key)
        press.rt, press.duration = rt, KEY_HOLD_S
        return False
