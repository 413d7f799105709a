"""Screen elements built once per session: rating sliders and minimal-group team markers."""
from __future__ import annotations

from psychopy import visual

from ..protocol import text_in

SLIDER_SIZE, SLIDER_POS = (1.0, 0.04), (0.0, -0.05)   # height units; tests click by these


def make_slider(win, rating, display, language):
    """A VAS (continuous line, anchors at the ends) or Likert (numbered ticks) Slider for ``rating``."""
    low, high = rating.range
    labels = [text_in(a, language) for a in rating.anchors]
    if rating.scale == "likert":
        ticks = list(range(int(low), int(high) + 1))
        labels = [str(t) for t in ticks]
        labels[0] = f"{ticks[0]}\n{text_in(rating.anchors[0], language)}"
        labels[-1] = f"{ticks[-1]}\n{text_in(rating.anchors[1], language)}"
        style = "rating"
    else:
        ticks, style = [low, high], "slider"
    return visual.Slider(win, ticks=ticks, labels=labels, granularity=rating.step, style=style, size=SLIDER_SIZE,
                         pos=SLIDER_POS, units="height", font=display.font, labelHeight=display.text_height * 0.8,
                         color=display.foreground, markerColor="#d62728")


def team_markers(win, protocol):
    """Minimal groups: a coloured frame or band per team, drawn with the stimulus."""
    group = protocol.factors.group
    if group.kind != "minimal":
        return {}
    h = protocol.display.stimulus_height
    markers = {}
    for team, colour in group.team_colours.items():
        if group.marker == "frame":
            markers[team] = visual.Rect(win, width=h * 1.08, height=h * 1.08, lineWidth=12, lineColor=colour,
                                        fillColor=None, units="height")
        else:
            markers[team] = visual.Rect(win, width=h, height=h * 0.08, pos=(0, -h * 0.58), lineColor=None,
                                        fillColor=colour, units="height")
    return markers
