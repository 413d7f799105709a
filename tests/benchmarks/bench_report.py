"""Benchmark: `analysis report` on a data-only pilot of 60 participants × 160 main trials.

Run: .venv/bin/python tests/benchmarks/bench_report.py [--participants 60] [--repeats 1]
Target (issue 6): under 15 s for the whole report (reading, QC, ANOVA, mixed models of
both ratings and their log RTs, figures, HTML and CSV tables), in a fresh interpreter so
import time counts too.
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


def make_pilot(n, folder):
    from helpers import write_placeholder_manifest
    from stimuli import read_manifest

    from paradigm import load_protocol
    from paradigm.pilot import run_pilot

    manifest = write_placeholder_manifest(folder / "stimuli")
    loaded = load_protocol(REPO / "protocols" / "default.yaml", {"stimuli.manifest": str(manifest)})
    run_pilot(loaded, read_manifest(loaded.manifest_path), n_participants=n, out_dir=folder / "pilot", seed=1)
    return folder / "pilot"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        pilot = make_pilot(args.participants, folder)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "analysis", "-q", "report", str(pilot), "-o",
                            str(folder / "report.html")], check=True)
            times.append(time.perf_counter() - start)
        size = (folder / "report.html").stat().st_size / 1e6
        print(f"analysis report, {args.participants} participants x 160 main trials: {min(times):.2f} s "
              f"(best of {args.repeats}; target < 15 s); report.html {size:.2f} MB")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
