"""``stimuli check``: every problem of a manifest and its images, plus low-level image statistics.

Problems (the set is unusable until fixed; :class:`~stimuli.errors.ManifestError` lists all):
bad rows (see :mod:`stimuli.manifest`), unknown columns, duplicate ids, missing, unreadable or
hash-mismatched files, incomplete or inconsistent pain/neutral pairs, attributes unbalanced
across pain levels, and image sizes that differ within a stimulus type.

Warnings (the set works but may confound pain with low-level features): a pain condition whose
mean statistic differs from its neutral condition by more than a tolerance (:data:`TOLERANCES`),
missing hashes and missing PSPI for pain faces.
"""
from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ManifestError
from .images import ImageTooLarge, open_image
from .imagestats import STAT_NAMES, image_stats
from .manifest import (ATTRIBUTE_NAMES, ATTRIBUTE_PREFIX, MANIFEST_COLUMNS, REQUIRED_COLUMNS, _parse_row,
                       is_attribute_column)

__all__ = ["check_manifest", "CheckReport", "TOLERANCES"]

log = logging.getLogger("stimuli")

# Largest pain-minus-neutral difference of condition means before a confound is flagged:
# ("relative", x) = fraction of the neutral mean, ("absolute", x) = in the statistic's units.
TOLERANCES = {
    "mean_luminance": ("relative", 0.02),
    "rms_contrast": ("relative", 0.05),
    "spectral_slope": ("absolute", 0.10),
    "high_sf_energy": ("relative", 0.15),
}


@dataclass
class CheckReport:
    """What ``stimuli check`` found: ``problems`` (errors), ``warnings`` and per-image statistics."""

    path: Path
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    stats: list = field(default_factory=list)          # one dict per image: ids, condition, statistics
    n_stimuli: int = 0

    @property
    def ok(self):
        return not self.problems

    def condition_table(self):
        """Mean of each statistic per (stimulus_type, pain): list of dicts, sorted."""
        groups = defaultdict(list)
        for row in self.stats:
            groups[(row["stimulus_type"], row["pain"])].append(row)
        table = []
        for (stype, pain), rows in sorted(groups.items()):
            entry = {"stimulus_type": stype, "pain": pain, "n": len(rows)}
            for name in STAT_NAMES:
                entry[name] = sum(r[name] for r in rows) / len(rows)
            table.append(entry)
        return table

    def raise_for_problems(self):
        """Raise :class:`ManifestError` listing every problem, if there are any."""
        if self.problems:
            raise ManifestError(self.path, self.problems)


def check_manifest(path, *, stats=True, tolerances=None):
    """Check a manifest and its images; return a :class:`CheckReport` (never raises for bad input).

    Parameters
    ----------
    path : str or Path
        The manifest CSV.
    stats : bool
        Compute image statistics and confound warnings (reads every image fully).
    tolerances : dict, optional
        Overrides of :data:`TOLERANCES`.
    """
    path = Path(path)
    report = CheckReport(path=path)
    tol = {**TOLERANCES, **(tolerances or {})}
    if not path.is_file():
        report.problems.append(f"is a folder; give the manifest CSV file (e.g. {path / 'manifest.csv'})"
                               if path.is_dir() else "file not found")
        return report
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        report.problems.append(f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        return report
    reader = csv.DictReader(text.splitlines())
    columns = reader.fieldnames or []
    _check_columns(columns, report)
    if any(c not in columns for c in REQUIRED_COLUMNS):
        return report
    stimuli, seen = [], {}
    for line, row in enumerate(reader, start=2):
        stim, row_problems = _parse_row(row, line, path.parent, True)
        if stim is not None and stim.stimulus_id:
            if stim.stimulus_id in seen:
                row_problems.append(f"line {line}: stimulus_id '{stim.stimulus_id}' duplicates line "
                                    f"{seen[stim.stimulus_id]} (ids must be unique)")
            seen.setdefault(stim.stimulus_id, line)
        report.problems.extend(row_problems)
        if not row_problems:
            stimuli.append((line, stim))
    if not stimuli and not report.problems:
        report.problems.append("no stimuli listed")
    report.n_stimuli = len(stimuli)
    images = _check_files(stimuli, report)
    _check_pairs(stimuli, report)
    _check_balance(stimuli, columns, report)
    _check_sizes(stimuli, images, report)
    if stats:
        _image_statistics(stimuli, images, report, tol)
    return report


def _check_columns(columns, report):
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    report.problems.extend(f"missing column '{c}' (required: {', '.join(REQUIRED_COLUMNS)})" for c in missing)
    for name, n in Counter(columns).items():
        if n > 1:
            report.problems.append(f"column '{name}' appears {n} times in the header")
    for name in columns:
        if name not in MANIFEST_COLUMNS and not is_attribute_column(name):
            report.problems.append(
                f"unknown column '{name}' (allowed: {', '.join(MANIFEST_COLUMNS)}; free attributes: "
                f"{', '.join(ATTRIBUTE_NAMES)} or any name starting with '{ATTRIBUTE_PREFIX}')")


def _check_files(stimuli, report):
    """Hashes and readability; returns {stimulus_id: (mode, size)} for readable images."""
    from PIL import UnidentifiedImageError

    images = {}
    for line, s in stimuli:
        if s.path is None:
            continue
        try:
            data = s.path.read_bytes()
        except OSError as exc:
            report.problems.append(f"line {line}: cannot read '{s.file}' ({exc.strerror or exc})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if not s.sha256:
            report.warnings.append(f"line {line}: no sha256 for '{s.file}' (its content cannot be verified)")
        elif s.sha256.lower() != digest:
            report.problems.append(f"line {line}: sha256 of '{s.file}' is {digest[:12]}…, the manifest says "
                                   f"{s.sha256[:12]}… (file changed; regenerate or update the manifest)")
        try:
            with open_image(s.path) as img:
                img.load()
                images[s.stimulus_id] = (img.mode, img.size)
        except ImageTooLarge as exc:
            report.problems.append(f"line {line}: {exc}")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            report.problems.append(f"line {line}: '{s.file}' is not a readable image ({type(exc).__name__}: "
                                   f"{str(exc)[:80]})")
        if s.stimulus_type == "face" and s.pain == "pain" and s.pspi is None:
            report.warnings.append(f"line {line}: pain face '{s.stimulus_id}' has no pspi")
        if s.pain == "neutral" and s.pspi:
            report.warnings.append(f"line {line}: neutral '{s.stimulus_id}' has pspi {s.pspi:g} (expected 0)")
    return images


def _check_pairs(stimuli, report):
    pairs = defaultdict(list)
    for line, s in stimuli:
        if s.stimulus_type == "cue":
            continue
        if not s.pair_id:
            report.problems.append(f"line {line}: pair_id is empty for '{s.stimulus_id}' (every face/hand "
                                   f"needs a pain/neutral partner with the same pair_id)")
            continue
        pairs[s.pair_id].append((line, s))
    for pid, members in pairs.items():
        by_pain = defaultdict(list)
        for line, s in members:
            by_pain[s.pain].append(line)
        for pain in ("pain", "neutral"):
            lines = by_pain.get(pain, [])
            where = f"line{'s' if len(members) > 1 else ''} {', '.join(str(m[0]) for m in members)}"
            if not lines:
                report.problems.append(f"pair '{pid}' ({where}) has no {pain} image (each pair needs exactly "
                                       f"one pain and one neutral)")
            elif len(lines) > 1:
                report.problems.append(f"pair '{pid}' has {len(lines)} {pain} images (lines "
                                       f"{', '.join(map(str, lines))}; exactly one allowed)")
        for attr in ("stimulus_type", "identity", "group"):
            values = {getattr(s, attr) for _, s in members}
            if len(values) > 1:
                detail = ", ".join(f"'{getattr(s, attr)}' (line {line})" for line, s in members)
                report.problems.append(f"pair '{pid}' mixes {attr} values {detail} (a pair shows one "
                                       f"{attr})")


def _check_balance(stimuli, columns, report):
    attrs = ["group"] + [c for c in columns if c not in MANIFEST_COLUMNS and is_attribute_column(c)]
    rows = [s for _, s in stimuli if s.stimulus_type != "cue"]
    for stype in sorted({s.stimulus_type for s in rows}):
        subset = [s for s in rows if s.stimulus_type == stype]
        for attr in attrs:
            counts = {pain: Counter((s.group if attr == "group" else s.attributes.get(attr, "")) for s in subset
                                    if s.pain == pain) for pain in ("pain", "neutral")}
            if counts["pain"] != counts["neutral"]:
                def fmt(c):
                    return " ".join(f"{k or '(empty)'}={v}" for k, v in sorted(c.items())) or "none"
                report.problems.append(f"{stype}: '{attr}' is unbalanced across pain levels (pain: "
                                       f"{fmt(counts['pain'])}; neutral: {fmt(counts['neutral'])})")


def _check_sizes(stimuli, images, report):
    by_type = defaultdict(list)
    for line, s in stimuli:
        if s.stimulus_id in images:
            by_type[s.stimulus_type].append((line, s, images[s.stimulus_id]))
    for stype, items in by_type.items():
        common, _ = Counter(size for _, _, (_, size) in items).most_common(1)[0]
        for line, s, (_, size) in items:
            if size != common:
                report.problems.append(f"line {line}: '{s.file}' is {size[0]}×{size[1]} px but most {stype} "
                                       f"images are {common[0]}×{common[1]} (sizes must match)")


def _image_statistics(stimuli, images, report, tol):

    for line, s in stimuli:
        if s.stimulus_id not in images:
            continue
        with open_image(s.path) as img:
            img = img.convert("RGB") if img.mode not in ("L", "RGB") else img.copy()
        report.stats.append({"stimulus_id": s.stimulus_id, "pair_id": s.pair_id, "stimulus_type": s.stimulus_type,
                             "pain": s.pain, "group": s.group, **image_stats(img)})
    table = {(r["stimulus_type"], r["pain"]): r for r in report.condition_table()}
    for stype in sorted({k[0] for k in table}):
        pain, neutral = table.get((stype, "pain")), table.get((stype, "neutral"))
        if not pain or not neutral:
            continue
        for name in STAT_NAMES:
            kind, limit = tol[name]
            diff = pain[name] - neutral[name]
            size = diff / neutral[name] if kind == "relative" and neutral[name] else diff
            if abs(size) > limit:
                amount = f"{size:+.1%}" if kind == "relative" else f"{size:+.3f}"
                allowed = f"{limit:.0%}" if kind == "relative" else f"{limit}"
                report.warnings.append(
                    f"possible confound: {stype} pain vs neutral {name} differs by {amount} "
                    f"({pain[name]:.4f} vs {neutral[name]:.4f}; tolerance ±{allowed}); consider `stimuli match`")
