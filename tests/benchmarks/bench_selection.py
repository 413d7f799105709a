"""Benchmark: the report's random-structure selection (``fit_with_selection``) on 1,000 simulated studies.

Each study is 30 participants × 128 main trials of the default protocol (``--set
blocks.main.trials_per_cell=8``, ``paradigm.study_sim``), fitted as the report fits the
pain-intensity rating: maximal random structure, simplified by the singular-fit rule of
``analysis.models``. Studies run in ``--jobs`` joblib workers, each taking consecutive
chunks of studies and keeping one ``cache`` dict across them (all studies share one design).
Target (issue): 1,000 studies in 60 s on 2 cores. With ``--check N`` the first N studies
are refitted by the cold path — every candidate a full ``fit_lmm`` fit (Satterthwaite
df included, no mapped starts: ``fit=fit_lmm``) — and the kept formulas, fixed estimates,
SEs and df are compared.

    .venv/bin/python tests/benchmarks/bench_selection.py [--sims 1000] [--jobs 2] [--chunk 50] [--check 50]
"""
from __future__ import annotations

import argparse
import collections
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DV = "rating_pain_intensity"
FACTORS = ["pain", "perspective", "group", "stimulus_type"]


def make_simulator(trials_per_cell: int):
    from stimuli import read_manifest

    from paradigm.protocol_load import load_protocol, parse_override
    from paradigm.study_sim import StudySimulator

    loaded = load_protocol(ROOT / "protocols" / "default.yaml",
                           [parse_override(f"blocks.main.trials_per_cell={trials_per_cell}")])
    return StudySimulator(loaded, read_manifest(loaded.manifest_path))


def fit_chunk(simulate, seeds, cold=False):
    """Simulate and fit consecutive studies with one cache dict (or by the cold path); per study a summary."""
    from analysis.lmm import fit_lmm
    from analysis.models import fit_with_selection

    cache, out = {}, []
    for seed in seeds:
        data = simulate(30, int(seed))
        start, cpu = time.perf_counter(), time.process_time()
        if cold:
            fit = fit_with_selection(data, DV, FACTORS, fit=fit_lmm)
        else:
            fit = fit_with_selection(data, DV, FACTORS, cache=cache)
        fixed = fit.result.fixed
        out.append({"formula": fit.formula, "steps": fit.steps, "seconds": time.perf_counter() - start,
                    "cpu": time.process_time() - cpu,
                    "estimate": fixed["estimate"].to_numpy(), "se": fixed["se"].to_numpy(),
                    "df": fixed["df"].to_numpy()})
    return out


def run(simulate, seeds, jobs, chunk, cold=False):
    from joblib import Parallel, delayed

    chunks = [seeds[i:i + chunk] for i in range(0, len(seeds), chunk)]
    if jobs == 1:
        parts = [fit_chunk(simulate, c, cold) for c in chunks]
    else:
        parts = Parallel(n_jobs=jobs)(delayed(fit_chunk)(simulate, c, cold) for c in chunks)
    return [study for part in parts for study in part]


def agreement(fast, cold) -> str:
    """Kept formulas, steps and the largest differences of the kept model's fixed-effect table."""
    same = [i for i, (a, b) in enumerate(zip(fast, cold)) if a["formula"] == b["formula"]]
    steps = sum(fast[i]["steps"] == cold[i]["steps"] for i in same)
    est = max(np.max(np.abs(fast[i]["estimate"] - cold[i]["estimate"]) / cold[i]["se"]) for i in same)
    se = max(np.max(np.abs(fast[i]["se"] - cold[i]["se"]) / cold[i]["se"]) for i in same)
    df = max(np.max(np.abs(fast[i]["df"] - cold[i]["df"]) / cold[i]["df"]) for i in same)
    return (f"agreement with the cold path on {len(cold)} studies: same kept formula {len(same)}, same steps "
            f"(formula, singular, converged) {steps}; kept model max |Δestimate|/SE {est:.1e}, "
            f"max |ΔSE|/SE {se:.1e}, max |Δdf|/df {df:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50, help="consecutive studies per task (one cache dict each)")
    parser.add_argument("--trials-per-cell", type=int, default=8, help="blocks.main.trials_per_cell (8: 128 trials)")
    parser.add_argument("--check", type=int, default=50, help="studies refitted by the cold path (0: none)")
    args = parser.parse_args()

    simulate = make_simulator(args.trials_per_cell)
    seeds = np.random.SeedSequence(1).generate_state(args.sims)
    rows = len(simulate(30, int(seeds[0])))
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} cores, {platform.machine()}, "
          f"Python {platform.python_version()}")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    fast = run(simulate, seeds, args.jobs, args.chunk)
    elapsed = time.perf_counter() - start
    fitting = sum(s["seconds"] for s in fast)
    cpu = sum(s["cpu"] for s in fast)
    print(f"{args.sims} studies of 30 participants ({rows} trials) simulated and fitted by fit_with_selection "
          f"(maximal start + rule, cache dict per worker chunk), {args.jobs} workers: {elapsed:.1f} s in total "
          f"(target <= 60 s for 1,000); fit_with_selection {fitting / args.sims * 1000:.1f} ms per study "
          f"(wall time inside the workers; CPU time {cpu / args.sims * 1000:.1f} ms); load average before "
          f"{load:.2f}")
    seconds = np.array([s["seconds"] for s in fast]) * 1000
    print(f"per study: median {np.median(seconds):.0f} ms, 90 % {np.percentile(seconds, 90):.0f} ms, "
          f"max {seconds.max():.0f} ms; the slowest 1 % take {np.sort(seconds)[-len(seconds) // 100:].sum() / 1000:.1f} s")
    candidates = sum(len(s["steps"]) for s in fast) / len(fast)
    print(f"candidates per study {candidates:.2f}; kept formulas:")
    for formula, count in collections.Counter(s["formula"].split(" ~ ")[1] for s in fast).most_common(5):
        print(f"  {count:5d}  {formula}")
    if args.check:
        n = min(args.check, args.sims)
        start = time.perf_counter()
        cold = run(simulate, seeds[:n], args.jobs, args.chunk, cold=True)
        seconds = time.perf_counter() - start
        print(f"cold path (fit=fit_lmm: full fits, no mapped starts) on the first {n} studies: {seconds:.1f} s, "
              f"{sum(s['seconds'] for s in cold) / n * 1000:.1f} ms per study")
        print(agreement(fast[:n], cold))


if __name__ == "__main__":
    main()
