"""The limits ``paradigm run`` and ``paradigm pilot`` put on their options, checked before anything runs.

Each check returns a one-line problem naming the option, the value and what is allowed, or
None; nothing here writes to disk.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

MAX_PARTICIPANTS = 10_000
MAX_TIME_SCALE = 100.0


def usable_cores():
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def participants_problem(n):
    if not 1 <= n <= MAX_PARTICIPANTS:
        return f"--participants {n}: allowed are 1 to {MAX_PARTICIPANTS:,} participants per pilot"
    return None


def seed_problem(seed):
    if seed < 0:
        return f"--seed {seed}: the seed must be a whole number ≥ 0"
    return None


def time_scale_problem(scale):
    if not (math.isfinite(scale) and 0 <= scale <= MAX_TIME_SCALE):
        return (f"--time-scale {scale:g}: allowed are finite numbers from 0 (instant) to {MAX_TIME_SCALE:g} "
                f"(1 = real time)")
    return None


def jobs_problem(jobs, force):
    cores = usable_cores()
    if jobs < 1:
        return f"--jobs {jobs}: at least 1 worker process is needed"
    if jobs > cores and not force:
        return (f"--jobs {jobs}: this machine has {cores} core{'s' if cores > 1 else ''}; use at most {cores}, "
                f"or add --force-jobs to run more workers than cores")
    if jobs > MAX_PARTICIPANTS:
        return f"--jobs {jobs}: allowed are 1 to {MAX_PARTICIPANTS:,} (with --force-jobs)"
    return None


def out_problem(out, option="--out"):
    """Why ``out`` cannot be the dataset folder (it may not exist yet), or None.

    Where the data will go is tried for real (a folder made and removed at once), as
    permission bits do not tell everything (root, read-only or special file systems).
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        return f"{option} {out}: this is a file; give a folder (it is created if missing)"
    data = path / "data"
    if data.exists() and not data.is_dir():
        return f"{option} {out}: {data} is a file; give another {option}"
    probe = data
    while not probe.exists():       # the nearest existing folder: where the new ones will be made
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{option} {out}: {probe} is a file, so the folder cannot be made there"
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".paradigm-write-test-", dir=probe))
    except OSError as exc:
        where = "" if probe in (path, data) else f" ({probe}, where it would be made)"
        return (f"{option} {out}: the folder is not writable{where}: {exc.strerror or exc}; "
                f"give a folder you may write to")
    return None
