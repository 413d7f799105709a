"""Generate the procedural stimulus set: faces and hands, pain and neutral, plus its manifest.

The set is a deterministic function of the seed and the layout: one
:class:`numpy.random.Generator` is created here from the seed and draws every identity in a
fixed order, so a seed always gives byte-identical PNGs. Images are rendered in worker
processes (identities are drawn first, in this process).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from .manifest import write_manifest

__all__ = ["generate_set", "plan_set", "set_is_current", "DEFAULT_SEED", "PSPI_LEVELS", "SOURCE", "LICENCE"]

log = logging.getLogger("stimuli")

DEFAULT_SEED = 2009
PSPI_LEVELS = tuple(range(6, 15))              # pain faces get graded PSPI 6–14
SOURCE = "procedural (pain-empathy toolkit)"
LICENCE = "CC0-1.0"
ATTRIBUTES = ("skin_tone", "hair_style", "hand_side")
SIDECAR = "generator.json"


def plan_set(seed=DEFAULT_SEED, *, identities_per_group=12, groups=("A", "B"), types=("face", "hand")):
    """Draw every identity of a set; returns a list of job dicts (no rendering).

    PSPI levels are dealt per stimulus type so that each group gets the same levels.
    """
    from .faces import random_face
    from .hands import random_hand

    if int(identities_per_group) < 1:
        raise ValueError(f"'identities_per_group' must be at least 1 (got {identities_per_group})")
    unknown = [t for t in types if t not in ("face", "hand")]
    if unknown:
        raise ValueError(f"'types' must be face and/or hand (got {', '.join(map(str, unknown))})")
    if len(set(groups)) != len(groups) or not groups:
        raise ValueError(f"'groups' must be distinct non-empty labels (got {groups})")
    rng = np.random.default_rng(seed)
    jobs = []
    for stype in types:
        levels = [PSPI_LEVELS[k % len(PSPI_LEVELS)] for k in range(identities_per_group)]
        levels = [int(v) for v in rng.permutation(levels)]
        for group in groups:
            for k in range(identities_per_group):
                tone = k % 5
                params = (random_face if stype == "face" else random_hand)(rng, group, tone=tone)
                jobs.append({"type": stype, "group": str(group), "identity": f"{stype}_{group}{k + 1:02d}",
                             "params": params, "pspi": levels[k] if stype == "face" else None})
    return jobs


def _render_job(job, out, size_px):
    """Render one identity's pain and neutral images into ``out``; return their manifest rows."""
    from .faces import ActionUnits, render_face_pair
    from .hands import render_hand_pair

    rows, p = [], job["params"]
    folder = Path(out) / job["type"]
    if job["type"] == "face":
        images = render_face_pair(p, ActionUnits.from_pspi(job["pspi"]), size_px=size_px)
        pspis, attrs = (job["pspi"], 0), {"hair_style": p.hair_style}
    else:
        images = render_hand_pair(p, size_px=size_px)
        pspis, attrs = (None, None), {"hand_side": p.side}
    for pain, img, pspi in zip(("pain", "neutral"), images, pspis):
        name = f"{job['identity']}_{pain}.png"
        path = folder / name
        img.save(path, format="PNG", compress_level=4)
        rows.append({"file": f"{job['type']}/{name}", "stimulus_id": f"{job['identity']}_{pain}",
                     "pair_id": job["identity"], "stimulus_type": job["type"], "pain": pain,
                     "group": job["group"], "identity": job["identity"],
                     "pspi": "" if pspi is None else pspi, "label": "", "source": SOURCE, "licence": LICENCE,
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "skin_tone": "lighter" if job["group"] == "A" else "darker" if job["group"] == "B" else "",
                     **attrs})
    return rows


def _remove_stale(out, types, keep):
    """Delete images a previous generation left in ``out/<type>/`` that the new set does not list."""
    import re

    ours = re.compile(r"^(face|hand)_[^/]+_(pain|neutral)\.png$")
    for stype in types:
        for path in (Path(out) / stype).glob("*.png"):
            if ours.match(path.name) and f"{stype}/{path.name}" not in keep:
                path.unlink()
                log.info("removed stale %s", path)


def _settings(seed, identities_per_group, groups, types, size_px):
    from . import __version__
    return {"generator": "stimuli.generate", "version": __version__, "seed": int(seed),
            "identities_per_group": int(identities_per_group), "groups": list(map(str, groups)),
            "types": list(types), "size_px": int(size_px)}


def _made_here(out):
    """Whether ``out`` carries the sidecar that generate_set writes."""
    try:
        return json.loads((Path(out) / SIDECAR).read_text()).get("generator") == "stimuli.generate"
    except (OSError, ValueError, AttributeError):
        return False


def set_is_current(out, settings):
    """Whether ``out`` holds a set made with ``settings`` whose files all match the manifest hashes."""
    from .manifest import read_manifest
    from .errors import ManifestError

    out = Path(out)
    try:
        recorded = json.loads((out / SIDECAR).read_text())
        if {k: recorded.get(k) for k in settings} != settings:
            return False
        manifest = read_manifest(out / "manifest.csv")
    except (OSError, ValueError, ManifestError):
        return False
    return all(s.path is not None and hashlib.sha256(s.path.read_bytes()).hexdigest() == s.sha256
               for s in manifest.stimuli)


def keep_edited(out) -> list:
    """Move the files of a generated set in ``out`` that changed since generation into ``out/kept-<UTC time>/``.

    The manifest counts as edited when its hash differs from the one the set's sidecar
    recorded (or none was recorded); an image when its hash differs from the manifest's.
    Returns the new paths.
    """
    from datetime import datetime, timezone

    from .errors import ManifestError
    from .manifest import read_manifest

    out = Path(out)
    manifest_path = out / "manifest.csv"
    if not manifest_path.is_file():
        return []
    try:
        recorded = json.loads((out / SIDECAR).read_text()).get("manifest_sha256")
    except (OSError, ValueError, AttributeError):
        recorded = None
    edited = [] if recorded == hashlib.sha256(manifest_path.read_bytes()).hexdigest() else [manifest_path]
    try:
        stimuli = read_manifest(manifest_path, check_files=False).stimuli
    except ManifestError:
        stimuli = []
    inside = out.resolve()
    edited += [s.path for s in stimuli if s.path is not None and s.path.is_file() and s.sha256
               and s.path.resolve().is_relative_to(inside)
               and hashlib.sha256(s.path.read_bytes()).hexdigest() != s.sha256.lower()]
    if not edited:
        return []
    kept = out / f"kept-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
    moved = []
    for path in edited:
        target = kept / path.resolve().relative_to(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
        moved.append(target)
    return moved


def generate_set(out, *, seed=DEFAULT_SEED, identities_per_group=12, groups=("A", "B"),
                 types=("face", "hand"), size_px=512, workers=None, if_missing=False, force=False):
    """Render a procedural set into ``out`` and write ``out/manifest.csv``; return the manifest path.

    Parameters
    ----------
    out : str or Path
        Output folder (created).
    seed : int
        Seed of the one random generator that draws all identities.
    identities_per_group : int
        Identities per (stimulus type, group); each gets a pain and a neutral image.
    groups, types : sequence of str
        Group labels (``A`` lighter, ``B`` darker skin) and stimulus types (face, hand).
    size_px : int
        Image width and height in pixels.
    workers : int, optional
        Rendering processes (default: up to 2, by CPU count); 1 renders in this process.
        Workers are spawned, so a script calling this with several workers needs the usual
        ``if __name__ == "__main__":`` guard.
    if_missing : bool
        Skip generation when ``out`` already holds this set and every file matches its hash
        (and regenerate a set that is out of date).
    force : bool
        Regenerate a set that ``out`` already holds. Without it (or ``if_missing``) an
        existing set is refused. Either way, files edited since they were generated (the
        manifest, an image) are moved to ``out/kept-<time>/`` first, never overwritten.
    """
    out = Path(out)
    if int(size_px) < 64:
        raise ValueError(f"'size_px' must be at least 64 (got {size_px})")
    workers = min(2, os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"'workers' must be at least 1 (got {workers})")
    settings = _settings(seed, identities_per_group, groups, types, size_px)
    manifest_path = out / "manifest.csv"
    if if_missing and set_is_current(out, settings):
        log.info("%s is current (seed %s); not regenerating", manifest_path, seed)
        return manifest_path
    if manifest_path.exists() and not _made_here(out):
        raise ValueError(f"'out' holds a manifest.csv that stimuli generate did not write ({manifest_path}); "
                         f"choose an empty or generated folder")
    if manifest_path.exists() and not (force or if_missing):
        raise ValueError(f"--out {out} already holds a generated set; add --if-missing to reuse it (regenerated "
                         f"only when out of date) or --force to regenerate it (edited files are kept aside)")
    kept = keep_edited(out)
    if kept:
        log.warning("moved %d edited file(s) to %s before regenerating", len(kept), kept[0].parent)
    jobs = plan_set(seed, identities_per_group=identities_per_group, groups=groups, types=types)
    for stype in types:
        (out / stype).mkdir(parents=True, exist_ok=True)
    if manifest_path.exists():
        manifest_path.unlink()          # a half-written set must never look complete
    if workers > 1 and len(jobs) > 2:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_render_job, jobs, [out] * len(jobs), [size_px] * len(jobs)))
    else:
        results = [_render_job(job, out, size_px) for job in jobs]
    rows = [row for pair in results for row in pair]
    _remove_stale(out, types, {row["file"] for row in rows})
    write_manifest(manifest_path, rows, attributes=ATTRIBUTES)
    recorded = {**settings, "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest()}
    (out / SIDECAR).write_text(json.dumps(recorded, indent=2) + "\n")
    log.info("wrote %d images and %s", len(rows), manifest_path)
    return manifest_path
