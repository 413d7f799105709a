"""Benchmark: `analysis report` on a data-only pilot of 60 participants × 160 main trials.

Run: .venv/bin/python tests/benchmarks/bench_report.py [--participants 60] [--repeats 1] [--jobs 2] [--data DIR]
Target (issue 6): under 15 s for the whole report (reading, QC, ANOVA, mixed models of
both ratings and their log RTs, figures, HTML and CSV tables), in a fresh interpreter so
import time counts too. ``--participants 500`` times the large report (target: under 60 s);
``--data`` times an existing pilot folder instead (e.g. one made by
``paradigm pilot protocols/default.yaml --participants 500 --out /tmp/p500 --seed 1 --jobs 2``).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the repo first: tests/stimuli must not shadow stimuli


def make_pilot(n, folder, jobs=1):
    from helpers import write_placeholder_manifest
    from stimuli import read_manifest

    from paradigm import load_protocol
    from paradigm.pilot import run_pilot

    manifest = write_placeholder_manifest(folder / "stimuli")
    loaded = load_protocol(REPO / "protocols" / "default.yaml", {"stimuli.manifest": str(manifest)})
    run_pilot(loaded, read_manifest(loaded.manifest_path), n_participants=n, out_dir=folder / "pilot", seed=1,
              n_jobs=jobs)
    return folder / "pilot"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="workers making the pilot (not timed)")
    parser.add_argument("--data", type=Path, help="an existing pilot folder to report on (no pilot is made)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        pilot = args.data or make_pilot(args.participants, folder, args.jobs)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "analysis", "-q", "report", str(pilot), "-o",
                            str(folder / "report.html")], check=True)
            times.append(time.perf_counter() - start)
        size = (folder / "report.html").stat().st_size / 1e6
        what = args.data or f"{args.participants} participants x 160 main trials"
        target = "15 s" if args.data is None and args.participants <= 60 else "60 s for 500 participants"
        print(f"analysis report, {what}: {min(times):.2f} s (best of {args.repeats}; target < {target}); "
              f"report.html {size:.2f} MB")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
