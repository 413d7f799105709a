"""Team markers for minimal-group designs: a coloured frame or band over a stimulus image.

The presenter draws the marker of the team a stimulus was dealt to (the trial table's ``team``
column); the images themselves stay team-free so that teams can be re-dealt per participant.
"""
from __future__ import annotations

__all__ = ["TEAM_COLOURS", "team_marker"]

# Colour-blind-safe pair (Okabe–Ito blue and orange), then further distinct colours.
TEAM_COLOURS = ((0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167))
STYLES = ("frame", "band")


def team_marker(image, colour, *, style="frame", width_frac=0.04):
    """Return a copy of ``image`` (PIL) with a team marker.

    Parameters
    ----------
    image : PIL.Image.Image
        The stimulus.
    colour : tuple
        RGB of the team, e.g. ``TEAM_COLOURS[0]``.
    style : str
        ``"frame"`` (border on all sides) or ``"band"`` (a bar along the top edge).
    width_frac : float
        Marker thickness as a fraction of the image's shorter side (0–0.25).
    """
    from PIL import ImageDraw

    if style not in STYLES:
        raise ValueError(f"'style' must be one of {', '.join(STYLES)} (got {style!r})")
    if not 0 < width_frac <= 0.25:
        raise ValueError(f"'width_frac' must be in (0, 0.25] (got {width_frac})")
    out = image.convert("RGB")
    w, h = out.size
    t = max(1, round(min(w, h) * width_frac))
    draw = ImageDraw.Draw(out)
    colour = tuple(int(c) for c in colour)
    if style == "band":
        draw.rectangle((0, 0, w - 1, 2 * t - 1), fill=colour)
    else:
        for k in range(t):
            draw.rectangle((k, k, w - 1 - k, h - 1 - k), outline=colour)
    return out
