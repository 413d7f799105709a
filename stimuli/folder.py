"""``stimuli manifest FOLDER``: turn a lab's own photo folder into a manifest.

Photos are named ``TYPE_GROUP_IDENTITY_PAIN[_pspiN].EXT`` (case-insensitive for TYPE and PAIN):

- ``TYPE`` is ``face`` or ``hand``; ``PAIN`` is ``pain`` or ``neutral``;
- ``GROUP`` is the depicted person's group label (e.g. ``A``/``B``), ``IDENTITY`` the person
  or hand (letters, digits and ``-``; no ``_``);
- ``_pspiN`` (optional) gives a face's Prkachin–Solomon Pain Intensity, e.g. ``_pspi9``;
- ``EXT`` is png, jpg, jpeg, bmp, tif or tiff. Sub-folders are searched too.

Example: ``face_A_m01_pain_pspi9.jpg`` and ``face_A_m01_neutral.jpg`` form the pair ``face_A_m01``.
Free attributes per identity (sex, age, …) come from an optional CSV with an ``identity``
column. Photos that do not follow the convention can be listed in a template CSV instead
(``template=True``): every image gets a row, unparsed fields are left empty to fill in by hand.
"""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from .errors import ManifestError
from .manifest import ATTRIBUTE_NAMES, ATTRIBUTE_PREFIX, is_attribute_column, write_manifest
from .outputs import check_output

__all__ = ["manifest_from_folder", "parse_name", "NAME_PATTERN", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
NAME_PATTERN = re.compile(
    r"^(?P<type>face|hand)_(?P<group>[A-Za-z0-9-]+)_(?P<identity>[A-Za-z0-9-]+)_(?P<pain>pain|neutral)"
    r"(?:_pspi(?P<pspi>\d+(?:\.\d+)?))?$", re.IGNORECASE)
CONVENTION = ("TYPE_GROUP_IDENTITY_PAIN[_pspiN].EXT with TYPE face|hand, PAIN pain|neutral, no '_' inside "
              "GROUP or IDENTITY (e.g. face_A_m01_pain_pspi9.jpg)")


def parse_name(name):
    """Fields encoded in a file name following the convention, or None."""
    stem, ext = Path(name).stem, Path(name).suffix.lower()
    m = NAME_PATTERN.match(stem)
    if not m or ext not in IMAGE_EXTENSIONS:
        return None
    return {"stimulus_type": m["type"].lower(), "group": m["group"], "identity": m["identity"],
            "pain": m["pain"].lower(), "pspi": m["pspi"] or ""}


def _read_attributes(path):
    """Per-identity attributes from a CSV with an ``identity`` column; raises ManifestError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, [f"cannot read attributes ({exc})"]) from None
    reader = csv.DictReader(text.splitlines())
    cols = reader.fieldnames or []
    problems = [] if "identity" in cols else ["missing column 'identity'"]
    problems += [f"unknown attribute column '{c}' (allowed: {', '.join(ATTRIBUTE_NAMES)} or a name "
                 f"starting with '{ATTRIBUTE_PREFIX}')" for c in cols if c != "identity" and not is_attribute_column(c)]
    if problems:
        raise ManifestError(path, problems)
    return [c for c in cols if c != "identity"], {r["identity"].strip(): r for r in reader}


def manifest_from_folder(folder, out=None, *, source="", licence="", attributes=None, template=False,
                         force=False):
    """Write a manifest for the images in ``folder``; return its path.

    Parameters
    ----------
    folder : str or Path
        The photo folder (searched recursively).
    out : str or Path, optional
        Manifest to write (default ``folder/manifest.csv``); files are listed relative to its folder.
    source, licence : str
        Written to every row (e.g. ``"Delaware Pain Database"``, ``"research use only"``).
    attributes : str or Path, optional
        CSV with an ``identity`` column and free attribute columns (sex, age, …).
    template : bool
        Accept names outside the convention and leave their fields empty (a template to fill).
    force : bool
        Replace an existing manifest at ``out`` (it may hold a lab's edits, so by default it is kept).

    Raises
    ------
    ManifestError
        Listing every file whose name breaks the convention (unless ``template``), and every
        problem of the attributes file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(folder, ["folder not found"])
    out = Path(out) if out is not None else folder / "manifest.csv"
    check_output(out, ours=(lambda _: True) if force else None,
                 hint="choose another name, or add --force to replace it and lose its edits")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ManifestError(folder, [f"no images ({', '.join(IMAGE_EXTENSIONS)}) found"])
    attr_cols, attr_rows = _read_attributes(attributes) if attributes else ([], {})
    problems, rows = [], []
    for path in files:
        rel = Path(_relative(path, out.parent))
        fields = parse_name(path.name)
        if fields is None and not template:
            problems.append(f"'{path.relative_to(folder)}': name must be {CONVENTION}")
            continue
        fields = fields or {}
        identity = fields.get("identity", "")
        pair_id = f"{fields['stimulus_type']}_{fields['group']}_{identity}" if fields else ""
        stem = path.stem if not fields else f"{pair_id}_{fields['pain']}"
        row = {"file": rel.as_posix(), "stimulus_id": stem, "pair_id": pair_id,
               "stimulus_type": fields.get("stimulus_type", ""), "pain": fields.get("pain", ""),
               "group": fields.get("group", ""), "identity": identity, "pspi": fields.get("pspi", ""),
               "source": source, "licence": licence, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        if fields.get("stimulus_type") == "face" and fields.get("pain") == "neutral" and not row["pspi"]:
            row["pspi"] = "0"
        extra = attr_rows.get(identity)
        if attr_cols and identity and extra is None:
            problems.append(f"'{path.relative_to(folder)}': identity '{identity}' is not in {attributes}")
        row.update({c: (extra or {}).get(c, "") for c in attr_cols})
        rows.append(row)
    if problems:
        raise ManifestError(folder, problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_manifest(out, rows, attributes=attr_cols)


def _relative(path, base):
    """``path`` relative to ``base``, with ``..`` steps when needed."""
    import os
    return os.path.relpath(path.resolve(), base.resolve())
