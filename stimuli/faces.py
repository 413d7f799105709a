"""Procedural faces with a FACS-driven pain expression (Prkachin–Solomon Pain Intensity).

A face is drawn from :class:`FaceParams` (identity: shape, features, hair, skin tone) and
:class:`ActionUnits` (expression). The pain image of an identity uses the same parameters as
its neutral image plus action units, so the two are pixel-aligned and differ only in the
brow, eye, nose and mouth regions (:func:`face_regions`); all-zero action units render the
neutral face byte for byte.

PSPI = AU4 + max(AU6, AU7) + max(AU9, AU10) + AU43, with AU4…AU10 rated 0–5 and AU43 0/1.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .facs import ActionUnits
from .raster import Canvas, bezier, ellipse_bbox, sd_between, sd_box, sd_circle, sd_ellipse, sd_polyline, stroke_bbox

__all__ = ["ActionUnits", "FaceParams", "random_face", "render_face", "render_face_pair", "face_regions",
           "SKIN_TONES"]

# Skin tones per default group (sRGB); group A lighter, group B darker.
SKIN_TONES = {
    "A": ((236, 198, 170), (228, 186, 152), (242, 208, 184), (224, 180, 146), (232, 192, 160)),
    "B": ((152, 104, 74), (132, 88, 62), (166, 118, 84), (116, 78, 54), (142, 98, 66)),
}
HAIR = {"A": ((38, 28, 22), (92, 62, 38), (150, 108, 62), (196, 160, 104), (120, 60, 34)),
        "B": ((22, 18, 16), (34, 26, 22), (48, 34, 26), (28, 22, 20), (60, 42, 30))}
IRIS = ((92, 62, 38), (60, 40, 26), (74, 112, 150), (96, 120, 78), (120, 92, 52))
SHIRTS = ((70, 92, 130), (120, 60, 62), (72, 110, 90), (110, 110, 120), (150, 130, 90), (60, 60, 70))
LIGHT = tuple(float(v) for v in np.array([-0.35, -0.5, 0.79]) / np.linalg.norm([-0.35, -0.5, 0.79]))


@dataclass(frozen=True)
class FaceParams:
    """One face identity; lengths are image units (the image spans -1…1)."""

    group: str
    skin: tuple
    hair: tuple
    iris: tuple
    shirt: tuple
    hair_style: str          # short | long | curly
    head_w: float
    head_h: float
    jaw: float               # 0 = oval, larger = narrower chin
    eye_dx: float
    eye_y: float
    eye_w: float
    eye_h: float
    brow_gap: float
    brow_arch: float
    brow_thick: float
    nose_w: float
    nose_y: float            # nose bottom
    mouth_w: float
    mouth_y: float
    lip_thick: float
    hairline: float


def random_face(rng, group, *, tone=None):
    """Draw a face identity for ``group`` from ``rng`` (a :class:`numpy.random.Generator`)."""
    key = group if group in SKIN_TONES else ("A" if sum(map(ord, str(group))) % 2 == 0 else "B")
    u = rng.uniform
    skin = SKIN_TONES[key][int(rng.integers(len(SKIN_TONES[key]))) if tone is None else tone]
    skin = tuple(float(np.clip(c + u(-6, 6), 0, 255)) for c in skin)
    head_h = u(0.72, 0.80)
    eye_y = -0.02 + u(-0.02, 0.02)
    return FaceParams(
        group=str(group), skin=skin,
        hair=HAIR[key][int(rng.integers(len(HAIR[key])))], iris=IRIS[int(rng.integers(len(IRIS)))]
        if key == "A" else IRIS[int(rng.integers(2))],
        shirt=SHIRTS[int(rng.integers(len(SHIRTS)))],
        hair_style=("short", "long", "curly")[int(rng.integers(3))],
        head_w=u(0.52, 0.60), head_h=head_h, jaw=u(0.15, 0.32),
        eye_dx=u(0.20, 0.23), eye_y=eye_y, eye_w=u(0.098, 0.112), eye_h=u(0.044, 0.054),
        brow_gap=u(0.10, 0.125), brow_arch=u(0.012, 0.03), brow_thick=u(0.014, 0.022),
        nose_w=u(0.055, 0.075), nose_y=eye_y + u(0.24, 0.28),
        mouth_w=u(0.15, 0.19), mouth_y=eye_y + u(0.41, 0.45), lip_thick=u(0.03, 0.042),
        hairline=u(0.50, 0.58),
    )


def face_regions(params):
    """Boxes ``(x0, y0, x1, y1)`` in image units that contain every expression change."""
    p = params
    ex = p.eye_dx + p.eye_w
    brow_top = p.eye_y - p.brow_gap - p.brow_arch - 0.06
    return {
        "brow": (-ex - 0.08, brow_top, ex + 0.08, p.eye_y - p.eye_h),
        "eyes": (-ex - 0.10, p.eye_y - p.brow_gap, ex + 0.10, p.eye_y + 0.16),
        "nose": (-p.nose_w - 0.07, p.eye_y - 0.06, p.nose_w + 0.07, p.nose_y + 0.05),
        "mouth": (-1.3 * p.mouth_w - 0.1, p.nose_y - 0.06, 1.3 * p.mouth_w + 0.1, p.mouth_y + 0.27),
    }


def background(x, y):
    """The shared backdrop of faces and hands: a soft vertical grey gradient."""
    g = (146.0 - 22.0 * (y + 1) / 2)
    return np.broadcast_to(np.stack([g, g, g + 3.0], axis=-1), np.broadcast_shapes(x.shape, y.shape) + (3,))


def _ell(cv, cx, cy, rx, ry, colour, *, angle=0.0, soft=0.0, opacity=1.0):
    """Paint an ellipse, evaluating only its bounding box."""
    cv.paint(sd_ellipse(cx, cy, rx, ry, angle), ellipse_bbox(cx, cy, rx, ry, 3 * soft + 0.01), colour,
             soft=soft, opacity=opacity)


def _shaded(rgb, factor):
    return np.clip(np.asarray(rgb, np.float32) * factor[..., None], 0, 255)


def _ellipsoid_light(cx, cy, rx, ry, ambient=0.58, diffuse=0.5):
    """Lambert shading of an ellipsoid seen face-on, lit from the upper left."""
    def f(x, y):
        u, v = (x - cx) / rx, (y - cy) / ry
        z = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
        n = np.maximum(u * LIGHT[0] + v * LIGHT[1] + z * LIGHT[2], 0.0)
        return (ambient + diffuse * n).astype(np.float32)
    return f


def render_face(params, aus=None, *, size_px=512, supersample=1.0):
    """Render a face; ``aus`` (:class:`ActionUnits`) defaults to neutral. Returns an RGB image."""
    cv = _base(params, size_px, supersample)
    _features(cv, params, aus or ActionUnits())
    return cv.image()


def render_face_pair(params, aus, *, size_px=512, supersample=1.0):
    """Render ``(pain, neutral)`` images of one face; the shared layers are drawn once.

    Identical to two :func:`render_face` calls, only faster.
    """
    base = _base(params, size_px, supersample)
    neutral = base.copy()
    _features(base, params, aus)
    _features(neutral, params, ActionUnits())
    return base.image(), neutral.image()


def _base(p, size_px, supersample):
    """Backdrop, body and head: everything drawn before the expression."""
    cv = Canvas(size_px, supersample=supersample, background=background)
    _body(cv, p, 0.0)
    _head(cv, p, 0.0)
    return cv


def _features(cv, p, aus):
    """Eyes, brows, nose, mouth (all shaped by the action units), then the hair over the forehead."""
    a = _visible(aus)
    _eyes(cv, p, a)
    _brows(cv, p, a)
    _nose(cv, p, a)
    _mouth(cv, p, a)
    _hair_front(cv, p, 0.0)


def _visible(aus):
    """Drawn strength of each graded action unit: concave in intensity, so that the weak and
    moderate levels of FACS (A–C) are still visible at stimulus size; 0 stays exactly 0."""
    graded = ("au4", "au6", "au7", "au9", "au10", "au26", "au27")
    return ActionUnits(**{f.name: (5.0 * (getattr(aus, f.name) / 5.0) ** 0.6 if f.name in graded
                                   else getattr(aus, f.name)) for f in fields(aus)})


def _body(cv, p, cy):
    skin = np.asarray(p.skin, np.float32)
    if p.hair_style == "long":
        hair_sdf = sd_ellipse(0, cy + 0.12, p.head_w + 0.12, p.head_h + 0.12)
        cv.paint(hair_sdf, ellipse_bbox(0, cy + 0.12, p.head_w + 0.12, p.head_h + 0.12, 0.01),
                 lambda x, y, d: _shaded(p.hair, 0.75 + 0.1 * np.sin(90 * x)))
    # neck with the jaw's shadow
    neck_top = cy + p.head_h * 0.55
    cv.paint(sd_box(0, (neck_top + 1.05) / 2, 0.19, (1.05 - neck_top) / 2, 0.05), (-0.3, neck_top - 0.1, 0.3, 1),
             lambda x, y, d: _shaded(skin, 0.78 - 0.22 * np.clip(1 - (y - cy - p.head_h * 0.8) / 0.15, 0, 1)
                                     - 0.08 * np.abs(x) / 0.2))
    # shoulders with a crew neckline
    body = sd_ellipse(0, 1.32, 0.92, 0.52)
    hole = sd_ellipse(0, cy + p.head_h + 0.1, 0.2, 0.12)
    cv.paint(lambda x, y: np.maximum(body(x, y), -hole(x, y)), (-1, 0.6, 1, 1),
             lambda x, y, d: _shaded(p.shirt, _ellipsoid_light(0, 1.32, 0.92, 0.52, 0.55, 0.55)(x, y)))


def _head(cv, p, cy):
    skin = np.asarray(p.skin, np.float32)
    ear_y = p.eye_y + 0.09
    for s in (-1, 1):
        ear = sd_ellipse(s * (p.head_w - 0.01), ear_y, 0.065, 0.12, angle=s * 0.12)
        cv.paint(ear, (s * p.head_w - 0.1, ear_y - 0.15, s * p.head_w + 0.1, ear_y + 0.15),
                 lambda x, y, d: _shaded(skin, 0.72 + 0.12 * np.clip(-d / 0.03, 0, 1)))
        _ell(cv, s * (p.head_w + 0.01), ear_y, 0.03, 0.075, skin * 0.55,
                 soft=0.012, opacity=0.5)

    def head_sdf(x, y):
        t = np.clip((y - cy) / p.head_h, 0, 1)
        scale = 1.0 - p.jaw * t ** 2
        return sd_ellipse(0, cy, p.head_w, p.head_h)(x / scale, y) * scale
    light = _ellipsoid_light(0, cy - 0.05, p.head_w * 1.05, p.head_h * 1.1)
    cv.paint(head_sdf, (-p.head_w - 0.02, cy - p.head_h - 0.02, p.head_w + 0.02, cy + p.head_h + 0.02),
             lambda x, y, d: _shaded(skin, light(x, y) * (0.9 + 0.1 * np.clip(-d / 0.06, 0, 1))))
    # cheek colour and the eye sockets' shade
    blush = np.array([200, 90, 80], np.float32) if p.group != "B" else np.array([120, 50, 40], np.float32)
    for s in (-1, 1):
        _ell(cv, s * (p.eye_dx + 0.03), p.eye_y + 0.17, 0.09, 0.06, blush,
                 soft=0.05, opacity=0.12)
        _ell(cv, s * p.eye_dx, p.eye_y - 0.02, p.eye_w * 1.15, p.eye_h * 1.6,
                 skin * 0.72, soft=0.03, opacity=0.45)


def _lids(p, a, s):
    """Functions for the upper lid, lower lid and closed-lid line of the eye on side ``s``."""
    ex, ey, w, h = s * p.eye_dx, p.eye_y, p.eye_w, p.eye_h
    upper = max(0.0, 1 - 0.05 * a.au7 - 0.03 * a.au4 - 0.02 * a.au6) * (1 - a.au43)
    lower = max(0.0, 1 - 0.12 * a.au7 - 0.07 * a.au6) * (1 - a.au43)
    lift = 0.004 * (a.au6 + a.au7) * (1 - a.au43)   # the lower lid rises with orbital tightening

    def bump(x, power):
        return np.clip(1 - ((x - ex) / w) ** 2, 0, 1) ** power
    mid = lambda x: ey + 0.2 * h * bump(x, 0.8) - lift * bump(x, 0.8)          # noqa: E731
    top = lambda x: mid(x) - 1.2 * h * upper * bump(x, 0.65) * (1 + 0.12 * s * (x - ex) / w)  # noqa: E731
    bottom = lambda x: mid(x) + 0.35 * h * lower * bump(x, 0.9)               # noqa: E731
    return top, bottom, mid


def _eyes(cv, p, a):
    squeeze = max(a.au6, a.au7) / 5
    for s in (-1, 1):
        ex, ey, w, h = s * p.eye_dx, p.eye_y, p.eye_w, p.eye_h
        top, bottom, mid = _lids(p, a, s)
        box = (ex - w - 0.02, ey - 2 * h, ex + w + 0.02, ey + 1.2 * h)
        xs = np.linspace(ex - w, ex + w, 11)
        # lower-lid bulge and crow's feet from orbital tightening
        if squeeze > 0:
            bulge = np.stack([xs * 0.9 + ex * 0.1, bottom(xs) + 0.03], axis=1)
            cv.paint(sd_polyline(bulge, 0.004), stroke_bbox(bulge, 0.03), np.array(p.skin) * 0.6,
                     soft=0.006, opacity=0.6 * squeeze)
            for k, ang in enumerate((-0.35, 0.0, 0.35)):
                x0 = ex + s * (w + 0.015)
                pts = [(x0, ey + 0.01 * k - 0.01),
                       (x0 + s * (0.03 + 0.012 * squeeze) * np.cos(ang), ey + 0.01 * k - 0.01 + 0.035 * np.sin(ang))]
                cv.paint(sd_polyline(pts, 0.0035), stroke_bbox(pts, 0.02), np.array(p.skin) * 0.6,
                         soft=0.004, opacity=0.7 * squeeze)
        if a.au6 > 0:   # raised cheek: a lit bulge below the eye
            cv.paint(sd_ellipse(ex + s * 0.02, ey + 0.1 - 0.004 * a.au6, w * 0.95, 0.035),
                     (ex - w - 0.1, ey, ex + w + 0.1, ey + 0.16), np.minimum(np.array(p.skin) * 1.12, 255),
                     soft=0.02, opacity=0.35 * a.au6 / 5)
        # lid crease
        crease = np.stack([xs, top(xs) - 0.018 - 0.006 * (1 - a.au43)], axis=1)
        cv.paint(sd_polyline(crease[2:-2], 0.004, 0.003), stroke_bbox(crease, 0.02), np.array(p.skin) * 0.62,
                 soft=0.004, opacity=0.6)
        eye = sd_between(top, bottom, ex - w, ex + w)
        if a.au43 < 1:
            cv.paint(eye, box, lambda x, y, d: _shaded((238, 232, 226), 0.8 + 0.2 * np.clip(-d / 0.02, 0, 1)))
            eye_mask = lambda x, y: np.clip(0.5 - eye(x, y) / cv.px, 0, 1)   # noqa: E731
            ir, ix, iy = h * 0.95, ex - s * 0.004, ey + 0.1 * h
            iris = np.asarray(p.iris, np.float32)
            cv.paint(sd_circle(ix, iy, ir), box, lambda x, y, d: _shaded(
                iris, 0.55 + 0.6 * np.clip(-d / ir, 0, 1) ** 0.5), mask=eye_mask)
            cv.paint(sd_circle(ix, iy, ir * 0.42), box, (12, 10, 10), mask=eye_mask)
            cv.paint(sd_circle(ix - 0.3 * ir, iy - 0.35 * ir, ir * 0.16), box, (250, 250, 250), mask=eye_mask)
            # the upper lid's shadow on the eyeball
            cv.paint(lambda x, y: y - top(x) - 0.012, box, (60, 40, 35), soft=0.008, opacity=0.35, mask=eye_mask)
            lower = np.stack([xs, bottom(xs)], axis=1)
            cv.paint(sd_polyline(lower, 0.003), stroke_bbox(lower, 0.01), np.array(p.skin) * 0.7, opacity=0.8)
        lash = np.stack([xs, top(xs)], axis=1)
        # lash line, thickening towards the outer corner
        cv.paint(sd_polyline(lash if s > 0 else lash[::-1], 0.005, 0.008), stroke_bbox(lash, 0.02), (28, 20, 18))


def _brows(cv, p, a):
    lower = 0.010 * a.au4
    for s in (-1, 1):
        inner = (s * (p.eye_dx - p.eye_w * 0.95 - 0.006 * a.au4), p.eye_y - p.brow_gap + lower)
        peak = (s * (p.eye_dx + 0.01), p.eye_y - p.brow_gap - 2 * p.brow_arch + 0.6 * lower)
        outer = (s * (p.eye_dx + p.eye_w * 1.35), p.eye_y - p.brow_gap + 0.012 + 0.2 * lower)
        pts = bezier(inner, peak, outer, 9)
        th = p.brow_thick * (1 + 0.04 * a.au4)
        cv.paint(sd_polyline(pts, th, th * 0.45), stroke_bbox(pts, th + 0.02),
                 lambda x, y, d: _shaded(p.hair, 1.0 + 0.25 * np.sin(400 * x + 250 * y)), soft=0.002)
    if a.au4 > 0:   # vertical furrows between the brows
        y0 = p.eye_y - p.brow_gap - 0.045
        for s in (-1, 1):
            pts = [(s * 0.022, y0), (s * 0.03, y0 + 0.06)]
            cv.paint(sd_polyline(pts, 0.004), stroke_bbox(pts, 0.02), np.array(p.skin) * 0.55, soft=0.004,
                     opacity=0.8 * a.au4 / 5)


def _nose(cv, p, a):
    skin = np.asarray(p.skin, np.float32)
    ny, nw = p.nose_y - 0.004 * a.au9, p.nose_w * (1 + 0.03 * a.au9)
    top = p.eye_y + 0.02
    _ell(cv, 0.035, (top + ny) / 2, 0.02, (ny - top) / 2, skin * 0.7, soft=0.02,
             opacity=0.5)                                                      # shaded side of the bridge
    _ell(cv, -0.012, (top + ny) / 2 - 0.02, 0.008, (ny - top) / 2.6,
             np.minimum(skin * 1.18, 255), soft=0.012, opacity=0.5)            # lit ridge
    for s in (-1, 1):
        _ell(cv, s * nw * 0.8, ny - 0.02, nw * 0.42, 0.034, skin * 0.72, soft=0.012,
                 opacity=0.5)                                                  # alae
    _ell(cv, 0, ny - 0.025, nw * 0.6, 0.04,
             lambda x, y, d: _shaded(skin, _ellipsoid_light(0, ny - 0.03, nw * 0.6, 0.045, 0.78, 0.34)(x, y)),
             soft=0.008)                                                       # tip
    for s in (-1, 1):
        _ell(cv, s * nw * 0.45, ny + 0.002, nw * 0.3, 0.011, skin * 0.3, angle=s * 0.3, soft=0.003)   # nostrils
    _ell(cv, 0, ny + 0.035, nw * 0.9, 0.02, skin * 0.7, soft=0.02, opacity=0.4)
    if a.au9 > 0:   # horizontal wrinkles across the bridge
        for k in range(3):
            yk = p.eye_y + 0.02 + 0.022 * k
            pts = bezier((-0.04, yk + 0.005), (0, yk - 0.006), (0.04, yk + 0.005), 5)
            cv.paint(sd_polyline(pts, 0.0035), stroke_bbox(pts, 0.02), skin * 0.58, soft=0.004,
                     opacity=0.85 * a.au9 / 5)


def _mouth(cv, p, a):
    skin = np.asarray(p.skin, np.float32)
    lip = skin * np.array([0.9, 0.58, 0.58], np.float32) + np.array([12, 0, 4], np.float32)
    nose = max(a.au9, a.au10) / 5
    open_ = min(1.0, max(a.au26, 1.4 * a.au27) / 5) if a.au25 else 0.0
    w = p.mouth_w * (1 + 0.18 * nose + 0.05 * open_)
    my = p.mouth_y - 0.006 * a.au10
    raise_, drop = 0.009 * a.au10 * (a.au25 > 0), 0.10 * open_
    corner = 0.008 * nose

    def bump(x, power):
        return np.clip(1 - (x / w) ** 2, 0, 1) ** power
    inner_top = lambda x: my + corner * (x / w) ** 2 - raise_ * bump(x, 0.3)                        # noqa: E731
    inner_bot = lambda x: my + corner * (x / w) ** 2 + drop * bump(x, 0.3)                         # noqa: E731
    t_up, t_lo = p.lip_thick * (1 - 0.05 * nose), p.lip_thick * 1.2 * (1 - 0.08 * open_)
    outer_top = lambda x: inner_top(x) - t_up * bump(x, 0.45) * (1 - 0.25 * np.exp(-(x / 0.02) ** 2))  # noqa: E731
    outer_bot = lambda x: inner_bot(x) + t_lo * bump(x, 0.5)                                        # noqa: E731
    # nasolabial folds, deepened by AU9/AU10
    for s in (-1, 1):
        pts = bezier((s * (p.nose_w + 0.02), p.nose_y - 0.03 - 0.01 * nose),
                     (s * (w + 0.04 + 0.01 * nose), p.nose_y + 0.02),
                     (s * (w + 0.03), my + 0.04), 8)
        cv.paint(sd_polyline(pts, 0.005, 0.003), stroke_bbox(pts, 0.03), skin * 0.62, soft=0.012,
                 opacity=0.15 + 0.6 * nose)
    box = (-w - 0.03, my - 0.1, w + 0.03, my + 0.2)
    cv.paint(sd_ellipse(0, my + t_lo + drop + 0.035, w * 0.5, 0.018), box, skin * 0.72, soft=0.02,
             opacity=0.45)                                                     # shadow under the lower lip
    cv.paint(sd_between(outer_top, inner_top, -w, w), box, lip * 0.92)
    cv.paint(sd_between(inner_bot, outer_bot, -w, w), box,
             lambda x, y, d: _shaded(lip, 0.95 + 0.12 * np.clip(1 - np.abs(y - (inner_bot(x) + 0.45 * t_lo))
                                                              / (0.5 * t_lo), 0, 1) * np.clip(1 - np.abs(x) / w, 0, 1)))
    if raise_ + drop > 0:
        gap = sd_between(inner_top, inner_bot, -w, w)
        cv.paint(gap, box, (52, 18, 22))
        gap_mask = lambda x, y: np.clip(0.5 - gap(x, y) / cv.px, 0, 1)   # noqa: E731
        teeth = lambda x, y, d: _shaded((236, 230, 214), 0.92 - 0.2 * (np.abs(((x / 0.05 + 0.5) % 1) - 0.5) > 0.46)
                                        - 0.35 * np.clip(np.abs(x) / w, 0, 1) ** 2)   # noqa: E731
        cv.paint(lambda x, y: y - inner_top(x) - 0.03, box, teeth, mask=gap_mask)
        if drop > 0.03:
            cv.paint(lambda x, y: inner_bot(x) - 0.022 - y, box, teeth, mask=gap_mask, opacity=0.9)
    line = np.stack([np.linspace(-w, w, 13), inner_top(np.linspace(-w, w, 13))], axis=1)
    cv.paint(sd_polyline(line, 0.003), stroke_bbox(line, 0.01), skin * 0.35, opacity=0.8)


def _hair_front(cv, p, cy):
    """Hair over the skull and forehead; curly hair is fuller with a bumpy outline and coils."""
    curly = p.hair_style == "curly"
    vol = 0.075 if curly else 0.025
    top_y = cy - p.head_h * p.hairline

    def cap(x, y):
        e = sd_ellipse(0, cy - 0.03, p.head_w + vol, p.head_h + vol)(x, y)
        if curly:
            e = e + 0.014 * np.sin(34 * np.arctan2(y - cy, x))
        ax = np.abs(x) / p.head_w
        line = top_y + 0.08 * ax ** 2 + 1.3 * np.clip(ax - 0.76, 0, 1) + (0.03 * x if p.hair_style == "long" else 0.0)
        if curly:
            line = line + 0.012 * np.sin(60 * x)
        return np.maximum(e, y - line)
    light = _ellipsoid_light(0, cy - 0.1, p.head_w + vol, p.head_h + vol, 0.55, 0.6)

    def texture(x, y, d):
        if curly:
            coils = 0.82 + 0.18 * np.sin(95 * x + 8 * np.sin(70 * y)) * np.sin(95 * y + 8 * np.sin(70 * x))
        else:
            coils = 0.88 + 0.12 * np.sin(140 * np.arctan2(y - cy - 0.3, x))
        return _shaded(p.hair, light(x, y) * coils)
    cv.paint(cap, (-p.head_w - 0.12, cy - p.head_h - 0.12, p.head_w + 0.12, top_y + 0.45), texture, soft=0.003)
