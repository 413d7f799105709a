"""Benchmark: ``analysis power`` — 1,000 simulated studies of 30 participants, each analysed as the report does.

Runs ``analysis.power.protocol_power`` on the default protocol with
``blocks.main.trials_per_cell=8`` (30 participants × 128 main trials, 16 cells × 8), rating
``pain_intensity``: each study is simulated in memory (``paradigm.study_sim``), goes through
the report's exclusions, and is fitted from the maximal random structure the design supports,
simplified by the singular-fit rule (``analysis.models``), with Satterthwaite p values.
Target (issue 11): ≤ 60 s for 1,000 studies on 2 cores. Prints the time, the per-study
time, the power table and the final models the studies ended with.

    .venv/bin/python tests/benchmarks/bench_power.py [--sims 1000] [--jobs 2] [--trials-per-cell 8]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--trials-per-cell", type=int, default=8, help="blocks.main.trials_per_cell (8: 128 trials)")
    args = parser.parse_args()

    from analysis.power import protocol_power

    start = time.perf_counter()
    result = protocol_power(ROOT / "protocols" / "default.yaml", (args.participants,), args.sims,
                            overrides=[("blocks.main.trials_per_cell", args.trials_per_cell)], n_jobs=args.jobs,
                            seed=1)
    elapsed = time.perf_counter() - start
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    print(f"analysis: {result.analysis}")
    print(f"{args.sims} studies of {args.participants} participants x {16 * args.trials_per_cell} trials, "
          f"{args.jobs} workers: {elapsed:.1f} s ({elapsed / args.sims * 1000:.1f} ms per study); target <= 60 s "
          f"for 1,000")
    print(result.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("final models:")
    for row in result.models.itertuples():
        print(f"  {row.n_studies:>5}  {row.model.split(' ~ ')[1]}")


if __name__ == "__main__":
    main()
