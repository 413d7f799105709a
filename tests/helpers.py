"""Shared test helpers: small placeholder stimulus sets written to a temporary folder."""
from __future__ import annotations

import csv
from pathlib import Path

PLACEHOLDER_COLUMNS = ["file", "stimulus_id", "pair_id", "stimulus_type", "pain", "group", "identity",
                       "pspi", "label", "source", "licence", "sha256"]


def write_placeholder_manifest(folder, *, identities_per_group=12, types=("face", "hand"), groups=("A", "B"),
                               with_files=True):
    """Write a paired manifest (pain + neutral per identity) with tiny grey PNGs; return its path."""
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for stype in types:
        for group in groups:
            for k in range(identities_per_group):
                identity = f"{stype}{group}{k:02d}"
                for pain in ("pain", "neutral"):
                    name = f"images/{identity}_{pain}.png"
                    if with_files:
                        Image.new("L", (8, 8), 100 if pain == "pain" else 120).save(folder / name)
                    rows.append({"file": name, "stimulus_id": f"{identity}_{pain}", "pair_id": identity,
                                 "stimulus_type": stype, "pain": pain, "group": group, "identity": identity,
                                 "pspi": (8 if pain == "pain" else 0) if stype == "face" else "",
                                 "label": "", "source": "placeholder", "licence": "CC0", "sha256": ""})
    path = folder / "manifest.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=PLACEHOLDER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path
