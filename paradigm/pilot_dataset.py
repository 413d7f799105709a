"""Before a pilot resumes: the dataset on disk must be this pilot's (seed, protocol, simulation).

Every pilot sidecar in ``OUT/data`` is read. A resume with another ``--seed``, another
protocol hash (the file or its ``--set`` values) or other simulation parameters would mix two
pilots in one dataset, so it is refused naming both values. A session whose sidecar says
completed must hold every planned row, or the resume is refused.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import SessionError


def _plain(value):
    """``value`` as it reads back from a sidecar (tuples as lists, other objects as strings)."""
    return json.loads(json.dumps(value, default=str))


def _first_difference(old, new, path=""):
    """The first dotted name where ``old`` and ``new`` differ, with both values, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            found = _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    return None if old == new else (path or "(all)", old, new)


def _read(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SessionError(f"{path}: cannot be read as JSON ({' '.join(str(exc).split())}); a resume needs every "
                           f"sidecar of the pilot (restore it, or move that session's files away)") from None
    return data if isinstance(data, dict) else {}


def check_resumable(out_dir, loaded, seed, sim_params, task):
    """Refuse a resume that would mix pilots; return the ids of ``task``'s completed sessions.

    Parameters
    ----------
    out_dir : Path
        The pilot's dataset root.
    loaded : LoadedProtocol
        The protocol (and ``--set`` values) now given.
    seed : int
        The pilot seed now given.
    sim_params : dict
        The simulation parameters now in effect (``SimulationParams.to_dict()``).
    task : str
        The protocol's name (the ``task-`` of the file names).

    Raises
    ------
    SessionError
        One line naming the sidecar, the dataset's value and the value now given.
    """
    out_dir, completed = Path(out_dir), set()
    sim_params = _plain(sim_params)
    for path in sorted((out_dir / "data").glob("*_session.json")):
        sidecar = _read(path)
        pilot = sidecar.get("pilot")
        if not isinstance(pilot, dict):     # a lab session: not part of a pilot
            continue
        ran = str((sidecar.get("protocol") or {}).get("sha256"))
        if ran != loaded.sha256:
            raise SessionError(f"{loaded.path} (with its --set values) has protocol sha256 {loaded.sha256[:12]}…, "
                               f"but the pilot in {out_dir} ran {ran[:12]}… ({path.name}); resume with the original "
                               f"protocol and --set values, or use another --out")
        if pilot.get("seed") != seed:
            was = pilot.get("seed")
            raise SessionError(f"--seed {seed} does not match the pilot in {out_dir}: {path.name} was run with "
                               f"seed {was}; resume with --seed {was}, or use another --out")
        difference = _first_difference((sidecar.get("simulation") or {}).get("params"), sim_params)
        if difference:
            name, old, new = difference
            raise SessionError(f"simulation parameter {name} is {new!r} now but {old!r} in the pilot in {out_dir} "
                               f"({path.name}); resume with the original --param values, or use another --out")
        if sidecar.get("task") == task and sidecar.get("status") == "completed":
            _check_complete(path, sidecar)
            completed.add(sidecar.get("participant"))
    return completed


def _check_complete(path, sidecar):
    """A completed session's trial CSV must hold every planned row, and only those."""
    trials = path.with_name(path.name[:-len("_session.json")] + "_data.csv")
    planned = sidecar.get("n_trials_planned")
    try:
        data = trials.read_bytes()
    except FileNotFoundError:
        data = b""
    on_disk, cut = max(0, data.count(b"\n") - 1), bool(data) and not data.endswith(b"\n")
    if on_disk != planned or cut:
        raise SessionError(f"{path.name} says completed with {planned} trials but {trials} holds {on_disk} rows"
                           f"{' and a cut-off line' if cut else ''}; not resuming (restore the file, or move that "
                           f"session's files away)")
