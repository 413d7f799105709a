"""Read and validate a stimulus manifest (CSV), the interface between a stimulus set and a task.

A manifest lists one image (or text cue) per row. Columns:

=============== ========================================================================
file            image path relative to the manifest's folder (empty for ``cue`` rows)
stimulus_id     unique id of the row
pair_id         id shared by a pain image and its matched neutral partner
stimulus_type   ``face``, ``hand`` or ``cue``
pain            ``pain`` or ``neutral`` (for cues: high vs low outcome)
group           the depicted person's group for natural-group designs (e.g. ``A``/``B``)
identity        the person or hand shown; repeats of one identity are spaced by the design
pspi            Prkachin–Solomon Pain Intensity 0–16 (faces), empty otherwise
label           text drawn for ``cue`` rows
source, licence where the image comes from and under which terms
sha256          hex digest of the file, checked by ``stimuli check``
=============== ========================================================================

Any further column is a free attribute kept in ``Stimulus.attributes``. Free attributes are
declared by name: either one of the common names in :data:`ATTRIBUTE_NAMES` (``sex``, ``age``,
``ethnicity``, ``skin_tone``, ``hand_side``, …) or any name starting with ``attr_`` (e.g.
``attr_camera``). :func:`read_manifest` keeps every extra column; ``stimuli check`` reports
any other column as unknown, which catches typos such as ``pian`` or ``licence_``.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ManifestError

MANIFEST_COLUMNS = (
    "file", "stimulus_id", "pair_id", "stimulus_type", "pain", "group", "identity",
    "pspi", "label", "source", "licence", "sha256",
)
REQUIRED_COLUMNS = ("stimulus_id", "stimulus_type", "pain")
ATTRIBUTE_NAMES = (
    "sex", "gender", "age", "age_group", "ethnicity", "race", "skin_tone", "hair", "hair_style",
    "expression", "body_part", "hand_side", "view", "model", "set", "notes", "description",
)
ATTRIBUTE_PREFIX = "attr_"
STIMULUS_TYPES = ("face", "hand", "cue")
PAIN_LEVELS = ("pain", "neutral")
# ids reach trial CSVs and spreadsheets: no leading = + - @ (formula injection), no control characters
STIMULUS_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Stimulus:
    """One manifest row; ``path`` is absolute (None for a text cue)."""

    stimulus_id: str
    stimulus_type: str
    pain: str
    file: str = ""
    path: Path | None = None
    pair_id: str = ""
    group: str = ""
    identity: str = ""
    pspi: float | None = None
    label: str = ""
    source: str = ""
    licence: str = ""
    sha256: str = ""
    attributes: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: where it lives, its bytes' hash and its stimuli in file order."""

    path: Path
    sha256: str
    stimuli: tuple[Stimulus, ...]

    def __len__(self):
        return len(self.stimuli)


def read_manifest(path, *, check_files=True) -> Manifest:
    """Read ``path`` and return a :class:`Manifest`; raise :class:`ManifestError` listing every problem.

    Parameters
    ----------
    path : str or Path
        The manifest CSV.
    check_files : bool
        Also require every non-cue row's image file to exist.
    """
    import hashlib

    path = Path(path)
    if path.is_dir():
        raise ManifestError(path, [f"is a folder; give the manifest CSV file (e.g. {path / 'manifest.csv'})"])
    if not path.is_file():
        raise ManifestError(path, ["file not found"])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    reader = csv.DictReader(text.splitlines())
    columns = reader.fieldnames or []
    problems = [f"missing column '{c}' (required: {', '.join(REQUIRED_COLUMNS)})"
                for c in REQUIRED_COLUMNS if c not in columns]
    if problems:
        raise ManifestError(path, problems)
    stimuli, seen = [], {}
    for line, row in enumerate(reader, start=2):
        stimulus, row_problems = _parse_row(row, line, path.parent, check_files)
        if stimulus is not None and stimulus.stimulus_id in seen:
            row_problems.append(f"line {line}: stimulus_id '{stimulus.stimulus_id}' duplicates line "
                                f"{seen[stimulus.stimulus_id]}")
        if stimulus is not None:
            seen.setdefault(stimulus.stimulus_id, line)
        problems.extend(row_problems)
        if not row_problems:
            stimuli.append(stimulus)
    if not stimuli and not problems:
        problems.append("no stimuli listed")
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path=path.resolve(), sha256=hashlib.sha256(raw).hexdigest(), stimuli=tuple(stimuli))


def _parse_row(row, line, root, check_files):
    """Turn one CSV row into a Stimulus, collecting problems instead of stopping at the first."""
    if None in row:
        return None, [f"line {line}: more fields than columns"]
    values = {k: (v or "").strip() for k, v in row.items()}
    problems = []
    sid = values.get("stimulus_id", "")
    if not sid:
        problems.append(f"line {line}: stimulus_id is empty")
    elif not STIMULUS_ID.fullmatch(sid):
        problems.append(f"line {line}: stimulus_id {sid!r} must start with a letter or digit and hold only letters, "
                        f"digits and _ . - (no spaces or control characters)")
    stype = values.get("stimulus_type", "")
    if stype not in STIMULUS_TYPES:
        problems.append(f"line {line}: stimulus_type must be one of {', '.join(STIMULUS_TYPES)} (got '{stype}')")
    pain = values.get("pain", "")
    if pain not in PAIN_LEVELS:
        problems.append(f"line {line}: pain must be one of {', '.join(PAIN_LEVELS)} (got '{pain}')")
    pspi = None
    if values.get("pspi"):
        try:
            pspi = float(values["pspi"])
        except ValueError:
            pspi = -1.0
        if not 0 <= pspi <= 16:
            problems.append(f"line {line}: pspi must be a number from 0 to 16 (got '{values['pspi']}')")
    file, image = values.get("file", ""), None
    if stype == "cue":
        if not (values.get("label") or file):
            problems.append(f"line {line}: a cue needs a label or a file")
    elif not file:
        problems.append(f"line {line}: file is empty (only cue rows may have no file)")
    if file:
        image = (root / file).resolve()
        if check_files and not image.is_file():
            problems.append(f"line {line}: file '{file}' not found under {root}")
    known = {k: values.get(k, "") for k in MANIFEST_COLUMNS}
    extra = {k: v for k, v in values.items() if k not in MANIFEST_COLUMNS}
    if problems:
        return (Stimulus(stimulus_id=sid, stimulus_type=stype, pain=pain) if sid else None), problems
    known.pop("pspi")
    known.pop("file")
    return Stimulus(file=file, path=image, pspi=pspi, attributes=extra,
                    **{k: v for k, v in known.items()}), []


def is_attribute_column(name):
    """Whether ``name`` is a declared free attribute (a common name or ``attr_…``)."""
    return name in ATTRIBUTE_NAMES or (name.startswith(ATTRIBUTE_PREFIX) and len(name) > len(ATTRIBUTE_PREFIX))


def write_manifest(path, rows, *, attributes=()):
    """Write ``rows`` (dicts keyed by column) as a manifest CSV with the standard columns first.

    Parameters
    ----------
    path : str or Path
        Where to write; the folder must exist.
    rows : iterable of dict
        One dict per stimulus; missing columns are written empty.
    attributes : sequence of str
        Free attribute columns appended after the standard ones, in this order.
    """
    bad = [a for a in attributes if not is_attribute_column(a)]
    if bad:
        raise ValueError(f"attribute columns must be one of {', '.join(ATTRIBUTE_NAMES)} or start with "
                         f"'{ATTRIBUTE_PREFIX}' (got {', '.join(bad)})")
    columns = list(MANIFEST_COLUMNS) + list(attributes)
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="raise", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return path
