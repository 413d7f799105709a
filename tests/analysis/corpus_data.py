"""Helpers for the observation and corpus tests: small pilots, protocol variants, CSV edits, CLI runs.

No fixtures here (the fixtures live in the test modules); everything works with the
``paradigm`` and ``analysis`` packages of any commit that has ``run_pilot`` and ``analysis.cli.main``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROTOCOLS = REPO / "protocols"


# ------------------------------------------------------------------ protocols and pilots
def protocol_file(folder, manifest_path, name="default", edit=None) -> Path:
    """``protocols/<name>.yaml`` with its manifest set to ``manifest_path``, edited by ``edit(dict)``, in ``folder``.

    The file keeps the bundled protocol's name, so data from it count as the same task.
    """
    data = yaml.safe_load((PROTOCOLS / f"{name}.yaml").read_text(encoding="utf-8"))
    data["stimuli"]["manifest"] = str(manifest_path)
    if edit is not None:
        edit(data)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def ask_only_on(rating, factor, levels):
    """An ``edit`` for :func:`protocol_file`: ask the rating ``rating`` only on ``factor`` in ``levels``."""
    def edit(data):
        for event in data["timeline"]:
            if event.get("event") == "rating" and event.get("name") == rating:
                event["asked_when"] = {factor: list(levels)}
    return edit


def load(path, manifest_path=None, **overrides):
    """``paradigm.load_protocol`` with dotted overrides given as keyword arguments (``__`` for ``.``)."""
    from paradigm import load_protocol

    items = {k.replace("__", "."): v for k, v in overrides.items()}
    if manifest_path is not None:
        items["stimuli.manifest"] = str(manifest_path)
    return load_protocol(path, items)


def pilot(loaded, manifest, out, n=4, seed=0) -> Path:
    """A data-only pilot of ``n`` simulated participants into the dataset root ``out``; returns ``out``."""
    from paradigm.pilot import run_pilot

    run_pilot(loaded, manifest, n_participants=n, out_dir=out, seed=seed)
    return Path(out)


def copy_data(root, dest) -> Path:
    """A copy of a dataset root's ``data/`` folder as ``dest`` (trial CSVs and their sidecars); returns ``dest``."""
    dest = Path(dest)
    shutil.copytree(Path(root) / "data", dest, ignore=shutil.ignore_patterns("*_events.*"))
    return dest


def data_files(folder) -> list:
    """The trial CSVs (``*_data.csv``) of a folder, sorted."""
    return sorted(Path(folder).glob("*_data.csv"))


def sidecar(data_file) -> Path:
    """The ``…_session.json`` beside a ``…_data.csv``."""
    data_file = Path(data_file)
    return data_file.with_name(data_file.name[: -len("_data.csv")] + "_session.json")


# ------------------------------------------------------------------ editing trial CSVs byte-faithfully
def read_rows(path):
    """A CSV as its header and a list of row dicts (strings, as on disk)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def write_rows(path, header, rows):
    """Write row dicts under ``header`` with ``\\n`` line ends (as ``paradigm`` writes them)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def edit_rows(path, change):
    """Rewrite a CSV with ``change(rows)`` applied (in place on the dicts, or returning new rows)."""
    header, rows = read_rows(path)
    out = change(rows)
    write_rows(path, header, rows if out is None else out)


def set_cells(path, where=None, **values):
    """Set ``values`` (column=text) in the rows of a CSV for which ``where(row)`` holds (every row without it)."""
    def change(rows):
        for row in rows:
            if where is None or where(row):
                row.update(values)
    edit_rows(path, change)


def edit_json(path, change):
    """Rewrite a JSON file with ``change(dict)`` applied in place."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    change(data)
    Path(path).write_text(json.dumps(data, indent=2), encoding="utf-8")


def main_answers(folder, rating) -> int:
    """The number of main trials with an answer to ``rating`` in a folder's trial CSVs (counted by hand)."""
    return sum(1 for f in data_files(folder) for r in read_rows(f)[1]
               if r["block_kind"] == "main" and r[f"rating_{rating}"].strip() != "")


# ------------------------------------------------------------------ files and the command line
def digests(folder) -> dict:
    """sha256 of every file under ``folder`` by relative path (to show that inputs stay untouched)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(argv, capsys):
    """``analysis.cli.main(argv)`` → (exit code, stdout, stderr)."""
    from analysis.cli import main

    capsys.readouterr()
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tables(html_path) -> dict:
    """The CSV tables written beside a report page, by name, as text (``<stem>_<name>.csv``)."""
    html_path = Path(html_path)
    prefix = f"{html_path.stem}_"
    return {p.name[len(prefix):-4]: p.read_text(encoding="utf-8")
            for p in sorted(html_path.parent.glob(f"{prefix}*.csv"))}


def table(html_path, name):
    """One table beside a report page as a DataFrame."""
    import pandas as pd

    text = tables(html_path)[name]
    return pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame()
