"""Benchmark: data-only pilot throughput and `paradigm --help` start-up time.

Run: python tests/benchmarks/bench_pilot.py [--sessions 60]
Targets (issue 2): ≥ 20 simulated 160-trial sessions per second, files included;
`paradigm --help` under 0.5 s with no PsychoPy import.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the repo first: tests/stimuli must not shadow stimuli


def pilot_rate(n_sessions, n_jobs, manifest):
    from stimuli import read_manifest

    from paradigm import load_protocol
    from paradigm.pilot import run_pilot

    loaded = load_protocol(REPO / "protocols" / "default.yaml", {"stimuli.manifest": str(manifest)})
    stimuli = read_manifest(loaded.manifest_path)
    out = Path(tempfile.mkdtemp(prefix="bench-pilot-"))
    try:
        start = time.perf_counter()
        result = run_pilot(loaded, stimuli, n_participants=n_sessions, out_dir=out, seed=1, n_jobs=n_jobs)
        elapsed = time.perf_counter() - start
        n_main = sum(1 for line in open(result.sessions[0].files.trials) if ",main," in line)
        assert all(s.status == "completed" for s in result.sessions)
        return n_sessions / elapsed, n_main
    finally:
        shutil.rmtree(out)


def help_time(runs=7):
    command = [sys.executable, "-m", "paradigm", "--help"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    probe = ("import sys\nfrom paradigm.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print('psychopy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return statistics.median(times), min(times), out.strip().splitlines()[-1] == "True"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args()
    from helpers import write_placeholder_manifest

    default_set = REPO / "stimuli" / "sets" / "default" / "manifest.csv"
    manifest = default_set if default_set.exists() else write_placeholder_manifest(tempfile.mkdtemp())
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, Python {sys.version.split()[0]}; manifest {manifest}")
    for jobs in sorted({1, cores}):
        rate, n_main = pilot_rate(args.sessions, jobs, manifest)
        print(f"data-only pilot, default protocol ({n_main} main trials + practice), {args.sessions} sessions, "
              f"{jobs} process(es): {rate:.1f} sessions/s (target ≥ 20)")
    median, best, psychopy = help_time()
    print(f"`python -m paradigm --help`: median {median * 1000:.0f} ms, best {best * 1000:.0f} ms "
          f"(target < 500 ms); psychopy imported: {psychopy}")


if __name__ == "__main__":
    main()
