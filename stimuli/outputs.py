"""Files the ``stimuli`` commands write never replace a file they did not write themselves.

An output path that is an input (the manifest, one of its images), a folder, or an
existing file without this toolkit's mark is refused with one line. PNGs carry the mark as
their ``Software`` text chunk; other outputs are recognised by how this toolkit writes them.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["SOFTWARE", "check_output", "png_info", "png_is_ours"]

SOFTWARE = "pain-empathy-toolkit stimuli"


def png_info():
    """PNG text chunks that mark a picture as written by this toolkit."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Software", SOFTWARE)
    return info


def png_is_ours(path) -> bool:
    """Whether ``path`` is a PNG this toolkit wrote (its ``Software`` chunk)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.format == "PNG" and str(img.info.get("Software", "")).startswith(SOFTWARE)
    except (OSError, ValueError, SyntaxError):
        return False


def check_output(path, *, inputs=(), ours=None, option="--out", hint="choose another name or move it away") -> Path:
    """Refuse ``path`` as an output when it is an input, a folder, or someone else's file; return it."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; give a file name")
    target = path.resolve()
    if any(target == Path(p).resolve() for p in inputs):
        raise ValueError(f"{option} {path} is one of the inputs; writing there would destroy it — choose another "
                         f"name")
    if path.exists() and not (ours is not None and ours(path)):
        raise ValueError(f"{option} {path} already exists and was not written by this command; {hint} "
                         f"(nothing is overwritten)")
    return path
