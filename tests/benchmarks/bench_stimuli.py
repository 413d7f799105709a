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
        t0 = time.perf_counter()
        manifest = generate_set(out, workers=args.workers)
        t_gen = time.perf_counter() - t0
        n = sum(1 for _ in out.rglob("*.png"))
        print(f"generate default set: {t_gen:6.1f} s  ({n} images, {t_gen / n * 1000:.0f} ms per image wall)")
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
        print(f"target: generate < 30 s -> {'met' if t_gen < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
