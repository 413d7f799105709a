"""Open the PsychoPy window and measure its refresh rate.

Durations are counted in frames at the measured rate. When the display does not lock flips
to its refresh (no vsync: a software rasteriser such as Mesa's llvmpipe under Xvfb, whose
"refresh" is only its drawing speed and varies with load; a measured rate far above the
protocol's; or no stable rate at all), flips are paced in software at the protocol's rate;
these facts and any mismatch are recorded in the sidecar.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

log = logging.getLogger("paradigm")

MISMATCH = 0.02   # relative difference from the protocol's refresh that is reported
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast")   # Mesa rasterisers with no display to sync to


@dataclass(frozen=True)
class DisplayTiming:
    """What the session's timing rests on; written to the sidecar's ``display``."""

    expected_refresh_hz: float
    measured_refresh_hz: float | None
    frame_hz: float              # the rate durations are counted in
    paced: bool                  # flips paced in software (no vsync)
    renderer: str                # the OpenGL renderer string
    fullscreen: bool
    size_px: tuple
    screen: int
    warning: str | None

    def to_dict(self):
        return asdict(self)


def open_window(display, *, windowed=False, pace=None):
    """Return ``(window, DisplayTiming)`` for the protocol's ``display`` settings.

    ``pace`` forces software pacing on or off; None decides from the renderer and the measured rate.
    """
    from psychopy import visual

    fullscreen = display.fullscreen and not windowed
    win = visual.Window(size=display.size_px, fullscr=fullscreen, screen=display.screen, units="height",
                        color=display.background, colorSpace="rgb", winType="pyglet", allowGUI=not fullscreen,
                        checkTiming=False, waitBlanking=True)
    win.mouseVisible = not fullscreen
    measured = win.getActualFrameRate(nIdentical=20, nMaxFrames=240, nWarmUpFrames=20, threshold=1)
    expected = float(display.refresh_hz)
    renderer = _gl_renderer()
    software = any(name in renderer.lower() for name in SOFTWARE_RENDERERS)
    no_vsync = bool(software or measured is None or measured > 1.5 * expected)
    paced = no_vsync if pace is None else bool(pace)
    frame_hz = expected if (paced or measured is None) else float(measured)
    warning = None
    if software and paced:
        warning = (f"software OpenGL renderer ({renderer}): no vsync, flips are paced in software at "
                   f"{expected:g} Hz" + ("" if measured is None else f" (free-running rate {measured:.2f} Hz)"))
    elif measured is None:
        warning = f"refresh rate could not be measured (unstable frame times); timing uses {expected:g} Hz"
    elif abs(measured - expected) / expected > MISMATCH:
        warning = (f"measured refresh {measured:.2f} Hz differs from the protocol's {expected:g} Hz"
                   + ("; flips are paced in software at the protocol's rate (no vsync)" if paced else
                      f"; durations are counted in frames of {measured:.2f} Hz"))
    if warning:
        log.warning(warning)
    win.recordFrameIntervals = True
    size = tuple(int(v) for v in win.size)
    return win, DisplayTiming(expected, None if measured is None else round(float(measured), 3), frame_hz, paced,
                              renderer, fullscreen, size, display.screen, warning)


def _gl_renderer():
    """The OpenGL renderer of the current context ("" when it cannot be read)."""
    try:
        from pyglet.gl import gl_info
        return str(gl_info.get_renderer())
    except Exception:   # an exotic backend: the rate rules alone decide
        return ""
