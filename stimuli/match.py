"""``stimuli match``: luminance- and contrast-equalised copies of a set, with a new manifest.

In the manner of the SHINE toolbox's ``lumMatch`` (Willenbockel et al., 2010): every image's
luma is rescaled to the set's mean luminance and mean RMS contrast. For colour images the same
affine map is applied to R, G and B, which maps luma exactly and keeps hue. Clipping at 0 and
255 is compensated by a few re-fitting passes; each image ends within 0.5 % of the target
mean where the image's range allows it.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path, PurePosixPath

import numpy as np

from .images import open_image
from .imagestats import luma
from .manifest import MANIFEST_COLUMNS, read_manifest, write_manifest

__all__ = ["match_set", "match_image"]

log = logging.getLogger("stimuli")
MATCH_MARK = ".stimuli-match.json"   # marks a folder this command wrote, so a rerun may replace it


def match_image(arr, target_mean, target_std, *, passes=6):
    """Rescale an 8-bit ``(h, w[, 3])`` array to luma mean/std (0–1 units); returns uint8."""
    if not 0 < target_mean < 1:
        raise ValueError(f"'target_mean' must be between 0 and 1 (got {target_mean})")
    src = np.asarray(arr, dtype=np.float64)
    out = src
    gain, offset = 1.0, 0.0
    for _ in range(passes):
        y = luma(np.clip(np.rint(out), 0, 255)).astype(np.float64)
        m, s = y.mean(), y.std()
        if abs(m - target_mean) < 1e-4 and (s == 0 or abs(s - target_std) < 1e-4):
            break
        g = target_std / s if s > 0 else 1.0
        gain *= g
        offset = offset * g + 255.0 * (target_mean - m * g)
        out = src * gain + offset
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def match_set(manifest, out, *, suffix=" (luminance/contrast matched)"):
    """Write matched copies of every image of ``manifest`` into ``out`` plus ``out/manifest.csv``.

    Targets are the mean over all images of their mean luma and RMS contrast. Cue rows without
    a file are copied unchanged. Returns the new manifest path.
    """
    from PIL import Image

    src = read_manifest(manifest)
    out = Path(out)
    if out.resolve() == src.path.parent:
        raise ValueError(f"'out' must differ from the manifest's folder (got {out})")
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / MATCH_MARK).is_file()):
        raise ValueError(f"--out {out} must be a new or empty folder, or one stimuli match wrote before (nothing "
                         f"is overwritten)")
    images = {}
    for s in src.stimuli:
        if s.path is not None:
            with open_image(s.path) as img:
                images[s.stimulus_id] = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
    ys = [luma(a) for a in images.values()]
    target_mean = float(np.mean([y.mean() for y in ys]))
    target_std = float(np.mean([y.std() for y in ys]))
    log.info("matching %d images to mean luma %.4f, RMS contrast %.4f", len(images), target_mean, target_std)
    out.mkdir(parents=True, exist_ok=True)
    (out / MATCH_MARK).write_text(json.dumps({"written_by": "stimuli match", "source": str(src.path)}) + "\n")
    rows = []
    attributes = []
    for s in src.stimuli:
        for k in s.attributes:
            if k not in attributes:
                attributes.append(k)
        row = {c: getattr(s, c) for c in MANIFEST_COLUMNS if c not in ("file", "pspi")}
        row.update(s.attributes, pspi="" if s.pspi is None else f"{s.pspi:g}", file=s.file)
        if s.path is not None:
            rel = PurePosixPath(s.file.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts:
                rel = PurePosixPath("images") / f"{s.stimulus_id}.png"
            rel = rel.with_suffix(".png")
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(match_image(images[s.stimulus_id], target_mean, target_std)).save(dest, format="PNG")
            row.update(file=str(rel), sha256=hashlib.sha256(dest.read_bytes()).hexdigest(),
                       source=(s.source + suffix).strip())
        rows.append(row)
    return write_manifest(out / "manifest.csv", rows, attributes=attributes)
