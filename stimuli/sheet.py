"""``stimuli sheet``: a contact sheet PNG of a set, neutral and pain side by side per pair."""
from __future__ import annotations

import logging
from collections import defaultdict

from .images import open_image
from .outputs import check_output, png_info, png_is_ours
from .manifest import read_manifest

__all__ = ["contact_sheet"]

log = logging.getLogger("stimuli")
_GAP = 6
_LABEL_PX = 14


def contact_sheet(manifest, out, *, thumb_px=160, per_cell=None, columns=4, colours=None):
    """Write a contact sheet of ``manifest``'s pairs to ``out`` (PNG); return its path.

    Parameters
    ----------
    manifest : str or Path
        The set's manifest.
    out : str or Path
        The PNG to write.
    thumb_px : int
        Width and height of each image's thumbnail.
    per_cell : int, optional
        At most this many pairs per (stimulus_type, group); default all.
    columns : int
        Pairs per row.
    colours : int or None
        Reduce the sheet to this many colours (smaller file); None keeps full RGB.
    """
    from PIL import Image, ImageDraw, ImageFont

    if int(thumb_px) < 16:
        raise ValueError(f"'thumb_px' must be at least 16 (got {thumb_px})")
    if int(columns) < 1:
        raise ValueError(f"'columns' must be at least 1 (got {columns})")
    m = read_manifest(manifest)
    out = check_output(out, inputs=[m.path, *(s.path for s in m.stimuli if s.path is not None)], ours=png_is_ours)
    pairs = defaultdict(dict)
    for s in m.stimuli:
        if s.path is not None and s.stimulus_type != "cue":
            pairs[(s.stimulus_type, s.group, s.pair_id or s.stimulus_id)][s.pain] = s
    taken, keys = defaultdict(int), []
    for key in sorted(pairs):
        if per_cell is None or taken[key[:2]] < per_cell:
            taken[key[:2]] += 1
            keys.append(key)
    if not keys:
        raise ValueError(f"{m.path}: no images to show")
    tile_w, tile_h = 2 * thumb_px + _GAP, thumb_px + _LABEL_PX + _GAP
    n_rows = -(-len(keys) // columns)
    sheet = Image.new("RGB", (columns * (tile_w + _GAP) + _GAP, n_rows * tile_h + _GAP), (255, 255, 255))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for k, key in enumerate(keys):
        x0, y0 = _GAP + (k % columns) * (tile_w + _GAP), _GAP + (k // columns) * tile_h
        pain_pspi = ""
        for j, pain in enumerate(("neutral", "pain")):
            s = pairs[key].get(pain)
            if s is None:
                continue
            with open_image(s.path) as img:
                thumb = img.convert("RGB")
                thumb.thumbnail((thumb_px, thumb_px), Image.LANCZOS)
            sheet.paste(thumb, (x0 + j * (thumb_px + _GAP), y0))
            if pain == "pain" and s.pspi is not None:
                pain_pspi = f" PSPI {s.pspi:g}"
        draw.text((x0, y0 + thumb_px + 1), f"{key[2]} ({key[1]}): neutral | pain{pain_pspi}", fill=(20, 20, 20),
                  font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    if colours:
        sheet = sheet.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    sheet.save(out, format="PNG", optimize=True, pnginfo=png_info())
    log.info("wrote contact sheet %s (%d pairs)", out, len(keys))
    return out
