"""Benchmark: time to generate, check, match and sheet the default stimulus set (prints figures).

Run from the repository root::

    python tests/benchmarks/bench_stimuli.py [--workers N] [--keep DIR]

Target: the default set (96 images at 512×512) in under 30 s on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def _cpu_s():
    """CPU seconds used so far by this process and its finished children (the render workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=None, help="rendering processes (default: up to 2)")
    ap.add_argument("--keep", help="generate into this folder instead of a temporary one")
    args = ap.parse_args()

    from stimuli.check import check_manifest
    from stimuli.generate import generate_set
    from stimuli.match import match_set
    from stimuli.sheet import contact_sheet

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "default"
        print(f"cpus: {os.cpu_count()}, load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        t0, c0 = time.perf_counter(), _cpu_s()
        manifest = generate_set(out, workers=args.workers)
        t_gen, c_gen = time.perf_counter() - t0, _cpu_s() - c0
        n = sum(1 for _ in out.rglob("*.png"))
        print(f"generate default set: {t_gen:6.1f} s wall, {c_gen:.1f} s CPU over all processes "
              f"({n} images, {c_gen / n * 1000:.0f} ms CPU per image)")
        t0 = time.perf_counter()
        generate_set(out, workers=args.workers, if_missing=True)
        print(f"generate --if-missing (cache hit): {time.perf_counter() - t0:6.2f} s")
        t0 = time.perf_counter()
        report = check_manifest(manifest)
        print(f"check with image statistics: {time.perf_counter() - t0:6.1f} s  "
              f"({len(report.problems)} problems, {len(report.warnings)} warnings)")
        t0 = time.perf_counter()
        match_set(manifest, Path(tmp) / "matched")
        print(f"match: {time.perf_counter() - t0:6.1f} s")
        t0 = time.perf_counter()
        contact_sheet(manifest, Path(tmp) / "sheet.png")
        print(f"contact sheet: {time.perf_counter() - t0:6.1f} s")
        print(f"target: generate < 30 s wall -> {'met' if t_gen < 30 else 'NOT met'}"
              f" (load average now {os.getloadavg()[0]:.2f}; other jobs on the machine slow the wall time)")


if __name__ == "__main__":
    main()
