"""Opening stimulus images safely: the pixel count is checked from the header, before decoding.

A 420 kB PNG can declare 12,000 × 12,000 pixels and take gigabytes once decoded; no
stimulus needs more than ``MAX_PIXELS`` (50 megapixels, e.g. 7,000 × 7,000 — far beyond
any screen), so a larger image is refused with its size instead of being decoded.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["MAX_PIXELS", "ImageTooLarge", "open_image"]

MAX_PIXELS = 50_000_000


class ImageTooLarge(ValueError):
    """An image whose declared size is beyond ``MAX_PIXELS``."""


def open_image(path):
    """``PIL.Image.open(path)`` after checking the declared pixel count; raises ``ImageTooLarge``."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():   # the size is judged below, against this module's own limit
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{Path(path)}: {exc}; stimulus images may have at most {MAX_PIXELS // 1_000_000} "
                            f"megapixels — scale it down") from None
    width, height = img.size
    if width * height > MAX_PIXELS:
        img.close()
        raise ImageTooLarge(f"{Path(path)}: {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
                            f"stimulus images may have at most {MAX_PIXELS // 1_000_000} megapixels — scale it down")
    return img
