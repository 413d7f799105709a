"""A small anti-aliased rasteriser: signed-distance shapes painted onto a float RGB canvas.

Coordinates are image units: ``x`` runs from -1 (left edge) to +1 (right edge) and ``y``
from -1 (top) to +1 (bottom), whatever the pixel size. A shape is a function
``sdf(x, y) -> distance`` (negative inside, in image units) plus a bounding box; only the
pixels inside the box are evaluated, which keeps a face of ~80 shapes fast.
Every edge gets an analytic one-pixel coverage ramp (anti-aliasing from the distance); for
finer texture the canvas can also render at ``supersample`` times the output size and be
reduced with Pillow's Lanczos filter.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Canvas", "sd_ellipse", "sd_circle", "sd_capsule", "sd_polyline", "sd_box",
           "sd_between", "smin", "coverage", "bezier", "stroke_bbox", "ellipse_bbox"]


class Canvas:
    """A float32 RGB canvas (values 0–255) in image units.

    Parameters
    ----------
    size_px : int
        Output width and height in pixels.
    supersample : float
        Rendering scale factor (1–4) before the Lanczos reduction.
    background : callable or tuple
        RGB triple, or ``f(x, y) -> (h, 1, 3)`` for a vertical gradient (called with one column).
    """

    def __init__(self, size_px, *, supersample=1.0, background=(128, 128, 128)):
        if int(size_px) < 16:
            raise ValueError(f"'size_px' must be at least 16 (got {size_px})")
        self.size_px = int(size_px)
        if not 1 <= supersample <= 4:
            raise ValueError(f"'supersample' must be from 1 to 4 (got {supersample})")
        self.supersample = float(supersample)
        self.n = int(round(self.size_px * self.supersample))
        self.px = 2.0 / self.n                                 # one canvas pixel in image units
        axis = (np.arange(self.n, dtype=np.float32) + 0.5) * self.px - 1.0
        self._axis = axis
        if callable(background):   # evaluated on one column, then spread (backgrounds vary with y only)
            self.rgb = np.empty((self.n, self.n, 3), dtype=np.float32)
            self.rgb[:] = np.asarray(background(axis[:1][None, :], axis[:, None]), dtype=np.float32)
        else:
            self.rgb = np.empty((self.n, self.n, 3), dtype=np.float32)
            self.rgb[:] = np.asarray(background, dtype=np.float32)

    def copy(self):
        """An independent canvas with the same pixels (to branch a drawing)."""
        other = object.__new__(Canvas)
        other.__dict__.update(self.__dict__)
        other.rgb = self.rgb.copy()
        return other

    def window(self, bbox):
        """Slices and coordinate grids for ``bbox = (x0, y0, x1, y1)``; None when off-canvas."""
        x0, y0, x1, y1 = bbox
        i0 = max(0, int(np.floor((y0 + 1.0) / self.px)))
        i1 = min(self.n, int(np.ceil((y1 + 1.0) / self.px)) + 1)
        j0 = max(0, int(np.floor((x0 + 1.0) / self.px)))
        j1 = min(self.n, int(np.ceil((x1 + 1.0) / self.px)) + 1)
        if i1 <= i0 or j1 <= j0:
            return None
        x, y = np.meshgrid(self._axis[j0:j1], self._axis[i0:i1])
        return (slice(i0, i1), slice(j0, j1)), x, y

    def paint(self, sdf, bbox, colour, *, soft=0.0, opacity=1.0, mask=None):
        """Composite a shape over the canvas.

        Parameters
        ----------
        sdf : callable
            ``sdf(x, y)`` signed distance in image units.
        bbox : tuple
            ``(x0, y0, x1, y1)`` containing the shape (and its soft edge).
        colour : tuple or callable
            RGB triple, or ``f(x, y, d) -> (h, w, 3)`` for shaded fills.
        soft : float
            Extra edge softness in image units (0 = crisp, anti-aliased by supersampling).
        opacity : float or callable
            Overall alpha, or ``f(x, y, d) -> (h, w)``.
        mask : callable, optional
            ``f(x, y) -> (h, w)`` alpha multiplier (clips the shape to another shape).
        """
        win = self.window(bbox)
        if win is None:
            return
        sl, x, y = win
        d = np.asarray(sdf(x, y), dtype=np.float32)
        alpha = coverage(d, self.px, soft)
        alpha *= opacity(x, y, d) if callable(opacity) else np.float32(opacity)
        if mask is not None:
            alpha *= mask(x, y)
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if not len(rows):
            return
        sub = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))   # skip fully transparent margins
        x, y, d, alpha = x[sub], y[sub], d[sub], alpha[sub]
        col = colour(x, y, d) if callable(colour) else np.asarray(colour, dtype=np.float32)
        dst = self.rgb[sl][sub]
        dst += alpha[..., None] * (col - dst)

    def image(self):
        """The canvas reduced to ``size_px`` as an 8-bit RGB :class:`PIL.Image.Image`."""
        from PIL import Image

        arr = np.clip(np.rint(self.rgb), 0, 255).astype(np.uint8)
        img = Image.fromarray(arr)   # uint8 (h, w, 3): RGB
        if self.n != self.size_px:
            img = img.resize((self.size_px, self.size_px), Image.LANCZOS)
        return img


def coverage(d, px, soft=0.0):
    """Alpha from a signed distance: a one-pixel linear ramp widened by ``soft``."""
    width = px + 2.0 * soft
    return np.clip(0.5 - d / np.float32(width), 0.0, 1.0).astype(np.float32)


def sd_circle(cx, cy, r):
    """Signed distance to a disc."""
    cx, cy, r = float(cx), float(cy), float(r)
    return lambda x, y: np.hypot(x - cx, y - cy) - r


def sd_ellipse(cx, cy, rx, ry, angle=0.0):
    """Approximate signed distance to an ellipse (exact on the axes), rotated by ``angle`` radians."""
    c, s = float(np.cos(angle)), float(np.sin(angle))
    cx, cy, rx, ry = float(cx), float(cy), float(rx), float(ry)

    def f(x, y):
        dx, dy = x - cx, y - cy
        u, v = (c * dx + s * dy, -s * dx + c * dy) if angle else (dx, dy)
        k0 = np.hypot(u / rx, v / ry)
        k1 = np.hypot(u / rx**2, v / ry**2)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)
    return f


def sd_box(cx, cy, hx, hy, radius=0.0, angle=0.0):
    """Signed distance to a rounded rectangle with half-sizes ``hx``, ``hy``."""
    c, s = float(np.cos(angle)), float(np.sin(angle))
    cx, cy, hx, hy, radius = float(cx), float(cy), float(hx), float(hy), float(radius)

    def f(x, y):
        dx, dy = x - cx, y - cy
        u, v = np.abs(c * dx + s * dy) - (hx - radius), np.abs(-s * dx + c * dy) - (hy - radius)
        outside = np.hypot(np.maximum(u, 0), np.maximum(v, 0))
        return outside + np.minimum(np.maximum(u, v), 0) - radius
    return f


def _segment(x, y, ax, ay, bx, by):
    """Distance from points to segment a–b and the projection parameter t in [0, 1]."""
    ax, ay, bx, by = float(ax), float(ay), float(bx), float(by)
    px, py = x - ax, y - ay
    vx, vy = bx - ax, by - ay
    t = np.clip((px * vx + py * vy) / max(vx * vx + vy * vy, 1e-12), 0.0, 1.0)
    return np.hypot(px - t * vx, py - t * vy), t


def sd_capsule(ax, ay, bx, by, ra, rb=None):
    """Signed distance to a (tapered) capsule from radius ``ra`` at a to ``rb`` at b."""
    rb = ra if rb is None else rb

    def f(x, y):
        dist, t = _segment(x, y, ax, ay, bx, by)
        return dist - (ra + (rb - ra) * t)
    return f


def sd_polyline(points, r0, r1=None):
    """Signed distance to a stroke along ``points`` whose radius tapers from r0 to r1.

    On an axis-aligned grid each segment is evaluated only near itself; farther away the
    distance is clamped to a positive margin (where it paints nothing anyway).
    """
    pts = [(float(px), float(py)) for px, py in np.asarray(points, dtype=np.float64)]
    r0 = float(r0)
    r1 = r0 if r1 is None else float(r1)
    seg = [float(np.hypot(bx - ax, by - ay)) for (ax, ay), (bx, by) in zip(pts, pts[1:])]
    total = max(sum(seg), 1e-12)
    cum = [sum(seg[:k]) / total for k in range(len(pts))]
    pad = max(r0, r1) + 0.03

    def piece(k, x, y):
        dist, t = _segment(x, y, *pts[k], *pts[k + 1])
        return dist - (r0 + (r1 - r0) * (cum[k] + t * (cum[k + 1] - cum[k])))

    def f(x, y):
        grid = (x.ndim == 2 and min(x.shape) > 1 and x[0, 0] == x[-1, 0] and y[0, 0] == y[0, -1])
        if not grid:
            return np.minimum.reduce([piece(k, x, y) for k in range(len(pts) - 1)])
        xs, ys = x[0], y[:, 0]
        best = np.full(x.shape, pad, dtype=np.float32)
        for k in range(len(pts) - 1):
            (ax, ay), (bx, by) = pts[k], pts[k + 1]
            j0, j1 = np.searchsorted(xs, [min(ax, bx) - pad, max(ax, bx) + pad])
            i0, i1 = np.searchsorted(ys, [min(ay, by) - pad, max(ay, by) + pad])
            if j1 > j0 and i1 > i0:
                sub = (slice(i0, i1), slice(j0, j1))
                best[sub] = np.minimum(best[sub], piece(k, x[sub], y[sub]))
        return best
    return f


def sd_between(top, bottom, x0, x1):
    """Approximate signed distance to the region ``top(x) < y < bottom(x)`` for ``x0 < x < x1``.

    The distance is vertical (good for the gently curved lids and lips it is used for).
    """
    def f(x, y):
        xc = np.clip(x, x0, x1)
        return np.maximum.reduce([top(xc) - y, y - bottom(xc), x0 - x, x - x1])
    return f


def ellipse_bbox(cx, cy, rx, ry, pad=0.0):
    """Bounding box of an ellipse (any rotation) grown by ``pad``."""
    r = max(rx, ry) + pad
    return (cx - r, cy - r, cx + r, cy + r)


def smin(a, b, k):
    """Smooth minimum of two distances (an organic union with blend radius ``k``)."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def bezier(p0, p1, p2, n=16):
    """Points on a quadratic Bézier curve (for strokes drawn with :func:`sd_polyline`)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def stroke_bbox(points, pad):
    """Bounding box of a point list grown by ``pad``."""
    pts = np.asarray(points)
    return (pts[:, 0].min() - pad, pts[:, 1].min() - pad, pts[:, 0].max() + pad, pts[:, 1].max() + pad)
