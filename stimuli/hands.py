"""Procedural hands: a needle penetrating the back of the hand (pain) or a cotton swab touching
the same spot (neutral), the contrast of Xu et al. (2009) and Decety et al. (2010).

Both images of an identity share the hand, pose and contact point; they differ only inside
:func:`hand_regions` (the instrument and the skin it touches).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .faces import SKIN_TONES, background
from .raster import Canvas, ellipse_bbox, sd_box, sd_capsule, sd_ellipse, smin

__all__ = ["HandParams", "random_hand", "render_hand", "render_hand_pair", "hand_regions", "INSTRUMENTS"]

INSTRUMENTS = ("needle", "swab")
SLEEVES = ((60, 70, 95), (130, 60, 60), (70, 100, 80), (150, 150, 155), (95, 80, 70), (40, 40, 48))
LIGHT = (-0.45, -0.55, 0.70)
TOOL_SCALE = 1.25           # instrument lengths relative to the drawing units below
TOOL_WIDTH = 1.4            # instrument thickness relative to the drawing units below
# finger base x, base angle (rad from vertical), length, radius — index, middle, ring, little
FINGERS = ((-0.155, -0.10, 0.40, 0.050), (-0.05, -0.02, 0.45, 0.052), (0.055, 0.06, 0.42, 0.049),
           (0.155, 0.17, 0.33, 0.043))


@dataclass(frozen=True)
class HandParams:
    """One hand identity; lengths are image units (the image spans -1…1)."""

    group: str
    skin: tuple
    sleeve: tuple
    side: str                # right | left (the hand is mirrored for left)
    angle: float             # rotation in radians, positive clockwise
    scale: float
    spread: float            # extra fan-out of the fingers in radians
    lengths: tuple           # per-finger length factors
    target: tuple            # contact point on the back of the hand, local units
    approach: float          # instrument direction in radians above the horizontal, from the right


def random_hand(rng, group, *, tone=None):
    """Draw a hand identity for ``group`` from ``rng`` (a :class:`numpy.random.Generator`)."""
    key = group if group in SKIN_TONES else ("A" if sum(map(ord, str(group))) % 2 == 0 else "B")
    u = rng.uniform
    skin = SKIN_TONES[key][int(rng.integers(len(SKIN_TONES[key]))) if tone is None else tone]
    return HandParams(
        group=str(group), skin=tuple(float(np.clip(c + u(-6, 6), 0, 255)) for c in skin),
        sleeve=SLEEVES[int(rng.integers(len(SLEEVES)))], side=("right", "left")[int(rng.integers(2))],
        angle=u(-0.25, 0.25), scale=u(1.22, 1.36), spread=u(0.0, 0.12),
        lengths=tuple(float(v) for v in u(0.93, 1.07, size=4)),
        target=(u(-0.05, 0.08), u(0.14, 0.26)), approach=u(0.55, 0.95),
    )


class _Pose:
    """Maps image coordinates to the hand's local frame (upright right hand, wrist at the bottom)."""

    def __init__(self, p):
        self.c, self.s = float(np.cos(p.angle)), float(np.sin(p.angle))
        self.m = -1.0 if p.side == "left" else 1.0
        self.k = float(p.scale)
        self.oy = 0.12

    def local(self, x, y):
        dx, dy = x, y - self.oy
        u = (self.c * dx + self.s * dy) / self.k
        v = (-self.s * dx + self.c * dy) / self.k + self.oy
        return self.m * u, v

    def image(self, u, v):
        u, dv = self.m * u * self.k, (v - self.oy) * self.k
        return self.c * u - self.s * dv, self.s * u + self.c * dv + self.oy


def _hand_sdf(p, pose):
    """Signed distance to the whole hand (with forearm), in image units."""
    fingers = []
    for (bx, ang, length, r), f in zip(FINGERS, p.lengths):
        ang = ang + p.spread * (bx / 0.155)
        tip = (bx + np.sin(ang) * length * f, 0.06 - np.cos(ang) * length * f)
        fingers.append(sd_capsule(bx, 0.06, *tip, r, r * 0.82))
    thumb1 = sd_capsule(-0.16, 0.36, -0.33, 0.14, 0.068, 0.06)
    thumb2 = sd_capsule(-0.33, 0.14, -0.42, -0.02, 0.06, 0.05)
    palm = sd_box(0.0, 0.22, 0.205, 0.2, 0.11)
    arm = sd_capsule(0.01, 1.5, 0.0, 0.45, 0.155)

    def f(x, y):
        u, v = pose.local(x, y)
        d = smin(palm(u, v), arm(u, v), 0.08)
        d = smin(d, smin(thumb1(u, v), thumb2(u, v), 0.02), 0.05)
        fd = fingers[0](u, v)
        for g in fingers[1:]:
            fd = np.minimum(fd, g(u, v))
        return smin(d, fd, 0.035) * pose.k
    return f


def _instrument_axis(p, pose):
    """Contact point and unit direction (pointing away from the skin) in image units."""
    tx, ty = pose.image(*p.target)
    return (float(tx), float(ty)), (float(np.cos(p.approach)), float(-np.sin(p.approach)))


def hand_regions(params):
    """Boxes ``(x0, y0, x1, y1)`` in image units that contain every pain-vs-neutral difference."""
    (tx, ty), (dx, dy) = _instrument_axis(params, _Pose(params))
    ex, ey = tx + 0.82 * TOOL_SCALE * dx, ty + 0.82 * TOOL_SCALE * dy
    return {"instrument": (min(tx, ex) - 0.12, min(ty, ey) - 0.12, max(tx, ex) + 0.14, max(ty, ey) + 0.16)}


def render_hand(params, instrument="swab", *, size_px=512, supersample=1.0):
    """Render a hand touched by ``instrument`` (``"needle"`` = pain, ``"swab"`` = neutral)."""
    if instrument not in INSTRUMENTS:
        raise ValueError(f"'instrument' must be one of {', '.join(INSTRUMENTS)} (got {instrument!r})")
    cv, skin = _base(params, size_px, supersample)
    (_needle if instrument == "needle" else _swab)(cv, params, _Pose(params), skin)
    return cv.image()


def render_hand_pair(params, *, size_px=512, supersample=1.0):
    """Render ``(pain, neutral)``: needle and swab on the same hand, the hand drawn once."""
    pain, skin = _base(params, size_px, supersample)
    neutral = pain.copy()
    pose = _Pose(params)
    _needle(pain, params, pose, skin)
    _swab(neutral, params, pose, skin)
    return pain.image(), neutral.image()


def _base(params, size_px, supersample):
    """Backdrop, drop shadow, hand, nails and sleeve: everything but the instrument."""
    p, pose = params, _Pose(params)
    cv = Canvas(size_px, supersample=supersample, background=background)
    corners = [pose.image(u, v) for u in (-0.56, 0.37) for v in (-0.52, 1.7)]
    full = (min(c[0] for c in corners) - 0.02, min(c[1] for c in corners) - 0.02,
            max(c[0] for c in corners) + 0.12, max(c[1] for c in corners) + 0.12)
    win = cv.window(full)
    d_hand = _hand_sdf(p, pose)(win[1], win[2])          # evaluated once, shifted for the shadow
    shift_i, shift_j = int(round(0.05 / cv.px)), int(round(0.035 / cv.px))
    d_shadow = np.full_like(d_hand, 1.0)
    d_shadow[shift_i:, shift_j:] = d_hand[:-shift_i, :-shift_j]
    cv.paint(lambda x, y: d_shadow, full, (40, 40, 44), soft=0.035, opacity=0.35)   # drop shadow
    skin = np.asarray(p.skin, np.float32)

    def shade(x, y, d):
        gy, gx = np.gradient(d)
        norm = np.hypot(gx, gy) + 1e-9
        t = np.clip(-d / 0.05, 0, 1)
        z = np.sqrt(1 - (1 - t) ** 2)
        r = np.sqrt(np.clip(1 - z * z, 0, 1))
        lam = np.maximum((gx / norm) * r * LIGHT[0] + (gy / norm) * r * LIGHT[1] + z * LIGHT[2], 0)
        return np.clip(skin * (0.5 + 0.55 * lam)[..., None], 0, 255)
    cv.paint(lambda x, y: d_hand, full, shade)
    _details(cv, p, pose, skin)
    _sleeve(cv, p, pose)
    return cv, skin


def _details(cv, p, pose, skin):
    """Nails, knuckle creases and knuckle highlights, drawn in the hand's frame."""
    for (bx, ang, length, r), f in zip(FINGERS, p.lengths):
        ang = ang + p.spread * (bx / 0.155)
        dx, dy = np.sin(ang), -np.cos(ang)
        for frac, op in ((0.0, 0.18), (0.5, 0.3), (0.78, 0.3)):
            cx, cy = bx + dx * length * f * frac, 0.06 + dy * length * f * frac
            rr = r * (1 - 0.18 * frac)
            if frac == 0.0:
                col, sdf = np.minimum(skin * 1.15, 255), sd_ellipse(cx, cy, rr * 0.8, rr * 0.55, ang)
            else:
                col, sdf = skin * 0.6, sd_ellipse(cx, cy, rr * 0.75, rr * 0.12, ang)
            _local_paint(cv, pose, sdf, (cx, cy), rr + 0.03, col, soft=0.006, opacity=op)
        nx, ny = bx + dx * (length * f - 0.045), 0.06 + dy * (length * f - 0.045)
        nail = sd_box(nx, ny, r * 0.55, 0.04, r * 0.5, -ang)
        nail_col = np.minimum(skin * np.array([1.0, 0.92, 0.92]) + 30, 255)
        _local_paint(cv, pose, nail, (nx, ny), 0.09, nail_col, opacity=0.85)
        _local_paint(cv, pose, sd_box(nx - 0.01 * np.cos(ang), ny - 0.01, r * 0.15, 0.025, r * 0.15, -ang),
                     (nx, ny), 0.09, (255, 255, 255), soft=0.006, opacity=0.35)


def _local_paint(cv, pose, sdf, centre, radius, colour, **kw):
    """Paint a shape defined in the hand's frame (distances scale with the hand)."""
    cx, cy = pose.image(*centre)
    r = radius * pose.k
    cv.paint(lambda x, y: sdf(*pose.local(x, y)) * pose.k, (cx - r, cy - r, cx + r, cy + r), colour, **kw)


def _sleeve(cv, p, pose):
    sleeve = sd_box(0.005, 1.25, 0.2, 0.58, 0.04)
    col = np.asarray(p.sleeve, np.float32)
    cv.paint(lambda x, y: sleeve(*pose.local(x, y)) * pose.k, (-1, 0.2, 1, 1),
             lambda x, y, d: np.clip(col * (0.7 + 0.35 * np.clip(-d / 0.08, 0, 1))[..., None], 0, 255))
    cuff = sd_box(0.005, 0.71, 0.205, 0.035, 0.02)
    cv.paint(lambda x, y: cuff(*pose.local(x, y)) * pose.k, (-1, 0.2, 1, 1), col * 0.8)


def _metal(base, d, r):
    t = np.clip(-d / r, 0, 1)
    return np.clip(np.asarray(base, np.float32) * (0.55 + 0.6 * np.sqrt(t))[..., None], 0, 255)


def _along(t, d, a, b):
    a, b = a * TOOL_SCALE, b * TOOL_SCALE
    return (t[0] + a * d[0], t[1] + a * d[1]), (t[0] + b * d[0], t[1] + b * d[1])


def _stick(cv, t, d, a, b, ra, rb, colour, **kw):
    (ax, ay), (bx, by) = _along(t, d, a, b)
    ra, rb = ra * TOOL_WIDTH, rb * TOOL_WIDTH
    pad = max(ra, rb) + 0.03
    cv.paint(sd_capsule(ax, ay, bx, by, ra, rb), (min(ax, bx) - pad, min(ay, by) - pad, max(ax, bx) + pad,
                                                  max(ay, by) + pad), colour, **kw)


def _shadow(cv, t, d, a, b, r):
    _stick(cv, (t[0] + 0.03, t[1] + 0.045), d, a, b, r, r, (30, 25, 25), soft=0.02, opacity=0.3)


def _needle(cv, p, pose, skin):
    t, d = _instrument_axis(p, pose)
    _shadow(cv, t, d, 0.05, 0.7, 0.04)
    cv.paint(sd_ellipse(*t, 0.06, 0.045), ellipse_bbox(*t, 0.06, 0.045, 0.08), (200, 40, 40), soft=0.03,
             opacity=0.4)                                                        # reddened skin
    cv.paint(sd_ellipse(*t, 0.016, 0.01), ellipse_bbox(*t, 0.016, 0.01, 0.03), skin * 0.45, soft=0.006)
    drop = (t[0] - 0.016, t[1] + 0.03)
    cv.paint(sd_ellipse(*drop, 0.019, 0.024), ellipse_bbox(*drop, 0.019, 0.024, 0.02),
             lambda x, y, dd: np.clip(np.array([150, 10, 16], np.float32) * (0.8 + 0.6 * np.clip(-dd / 0.012, 0, 1))
                                      [..., None], 0, 255))
    cv.paint(sd_ellipse(drop[0] - 0.006, drop[1] - 0.009, 0.005, 0.005), ellipse_bbox(*drop, 0.02, 0.02, 0.02),
             (255, 220, 220), opacity=0.8)
    _stick(cv, t, d, 0.0, 0.24, 0.0045, 0.0045, lambda x, y, dd: _metal((215, 218, 225), dd, 0.0045 * TOOL_WIDTH))
    _stick(cv, t, d, 0.24, 0.3, 0.012, 0.02, (80, 150, 110))                     # hub
    _stick(cv, t, d, 0.3, 0.62, 0.036, 0.036, (225, 232, 238), opacity=0.92)     # barrel
    _stick(cv, t, d, 0.31, 0.46, 0.028, 0.028, (236, 220, 140), opacity=0.8)    # liquid
    for k in range(8):
        a = 0.34 + 0.035 * k
        (ax, ay), _ = _along(t, d, a, a)
        nx, ny = -d[1], d[0]
        r0, r1 = 0.048, (0.017 if k % 2 else 0.0)
        pts = ((ax + nx * r0, ay + ny * r0), (ax + nx * r1, ay + ny * r1))
        cv.paint(sd_capsule(*pts[0], *pts[1], 0.0025), (ax - 0.05, ay - 0.05, ax + 0.05, ay + 0.05), (90, 90, 100))
    (fx, fy), _ = _along(t, d, 0.62, 0.62)
    cv.paint(sd_box(fx, fy, 0.016, 0.095, 0.01, -np.arctan2(d[1], d[0])), (fx - 0.1, fy - 0.1, fx + 0.1, fy + 0.1),
             (200, 205, 212))                                                    # finger flange
    _stick(cv, t, d, 0.62, 0.74, 0.012, 0.012, (235, 238, 240))                 # plunger rod
    (qx, qy), _ = _along(t, d, 0.75, 0.75)
    cv.paint(sd_box(qx, qy, 0.014, 0.06, 0.01, -np.arctan2(d[1], d[0])), (qx - 0.1, qy - 0.1, qx + 0.1, qy + 0.1),
             (235, 238, 240))


def _swab(cv, p, pose, skin):
    t, d = _instrument_axis(p, pose)
    _shadow(cv, t, d, 0.05, 0.7, 0.02)
    cv.paint(sd_ellipse(t[0] + 0.004, t[1] + 0.006, 0.03, 0.014), ellipse_bbox(*t, 0.03, 0.03, 0.03), skin * 0.6,
             soft=0.008, opacity=0.5)                                            # contact shadow
    _stick(cv, t, d, 0.04, 0.74, 0.011, 0.011, lambda x, y, dd: _metal((240, 236, 226), dd, 0.011 * TOOL_WIDTH))
    c = (t[0] + 0.058 * d[0], t[1] + 0.058 * d[1])
    cv.paint(sd_ellipse(*c, 0.064, 0.038, float(np.arctan2(d[1], d[0]))), ellipse_bbox(*c, 0.064, 0.038, 0.02),
             lambda x, y, dd: np.clip(np.array([250, 250, 248], np.float32)
                                      * (0.72 + 0.3 * np.clip(-dd / 0.02, 0, 1) ** 0.5
                                         + 0.03 * np.sin(900 * x) * np.sin(700 * y))[..., None], 0, 255))
