"""Low-level image statistics that can confound pain with appearance.

Luminance is the Rec. 709 luma of the gamma-encoded pixel values scaled to 0–1 (what the
SHINE toolbox matches on for colour images converted to grey). Statistics:

``mean_luminance``
    mean luma (0–1).
``rms_contrast``
    standard deviation of luma (0–1).
``spectral_slope``
    slope of log amplitude against log spatial frequency (4–64 cycles per image) of the
    rotationally averaged amplitude spectrum; natural images lie near -1 to -1.5,
    steeper = blurrier.
``high_sf_energy``
    share of spectral power above 32 cycles per image (fine detail).
"""
from __future__ import annotations

import numpy as np

__all__ = ["luma", "image_stats", "STAT_NAMES"]

STAT_NAMES = ("mean_luminance", "rms_contrast", "spectral_slope", "high_sf_energy")
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
_SF_SIZE = 256


def luma(img):
    """Rec. 709 luma (0–1, float32) of a PIL image or an ``(h, w[, 3|4])`` 0–255 array."""
    arr = np.asarray(img.convert("RGB") if hasattr(img, "convert") and img.mode not in ("L", "RGB") else img,
                     dtype=np.float32)
    if arr.ndim == 3:
        arr = arr[..., 0] * LUMA_WEIGHTS[0] + arr[..., 1] * LUMA_WEIGHTS[1] + arr[..., 2] * LUMA_WEIGHTS[2]
    return arr / np.float32(255.0)


def _spectrum(y):
    """Rotationally averaged amplitude spectrum (index = cycles per image) of a square luma array."""
    n = y.shape[0]
    win = np.hanning(n)
    f = np.fft.fftshift(np.fft.fft2((y - y.mean()) * np.outer(win, win)))
    amp = np.abs(f)
    k = np.arange(n) - n // 2
    r = np.rint(np.hypot(*np.meshgrid(k, k))).astype(int)
    sums = np.bincount(r.ravel(), weights=amp.ravel())
    counts = np.bincount(r.ravel())
    return sums[: n // 2] / np.maximum(counts[: n // 2], 1)


def image_stats(img):
    """The :data:`STAT_NAMES` statistics of one image (a PIL image); returns a dict of floats."""
    from PIL import Image

    y = luma(img)
    stats = {"mean_luminance": float(y.mean()), "rms_contrast": float(y.std())}
    small = img.convert("L") if img.mode != "L" else img
    small = luma(small.resize((_SF_SIZE, _SF_SIZE), Image.BILINEAR))
    amp = _spectrum(small)
    f = np.arange(4, 65)
    stats["spectral_slope"] = float(np.polyfit(np.log(f), np.log(amp[f] + 1e-12), 1)[0])
    power = amp[1:] ** 2 * np.arange(1, len(amp))          # power per ring × ring circumference
    stats["high_sf_energy"] = float(power[31:].sum() / max(power.sum(), 1e-12))
    return stats
