"""Benchmark: 1,000 simulated studies of 30 participants simulated and fitted by ``power_curve``.

Simulates the default protocol (``paradigm.study_sim``) with ``--set
blocks.main.trials_per_cell=8``, i.e. 30 participants × 128 main trials (16 cells × 8) as issue 7
specifies (the protocol's own default is 10 per cell, 160 trials; ``--trials-per-cell 10`` times
that), and fits the report's rating model
``rating_pain_intensity ~ pain * perspective * group + stimulus_type + (1 + pain | participant) + (1 | stimulus_id)``
with Satterthwaite p values, in ``--jobs`` workers. Target (issue 7): under 30 s on 2 cores.
With ``--lme4`` (Rscript with lme4 present) the same studies are written to one CSV with a
``study`` column and refitted by ``lme4::lmer`` in one R loop, timed inside R.

    .venv/bin/python tests/benchmarks/bench_power.py [--sims 1000] [--jobs 2] [--trials-per-cell 8] [--lme4]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FORMULA = ("rating_pain_intensity ~ pain * perspective * group + stimulus_type + (1 + pain | participant) "
           "+ (1 | stimulus_id)")
R_LOOP = """
suppressMessages(library(lme4))
d <- read.csv(commandArgs(TRUE)[1])
for (f in c("pain", "perspective", "group", "stimulus_type")) d[[f]] <- factor(d[[f]])
contrasts(d$pain) <- c(-0.5, 0.5); contrasts(d$perspective) <- c(-0.5, 0.5)  # neutral/other = -0.5
contrasts(d$group) <- c(-0.5, 0.5); contrasts(d$stimulus_type) <- c(-0.5, 0.5)
studies <- split(d, d$study)  # split once: no per-study subsetting inside the timed loop
singular <- 0L
t <- system.time(for (s in studies) {
  fit <- lmer(%s, data = s)  # default lmerControl (derivative check included)
  singular <- singular + isSingular(fit)
})[["elapsed"]]
cat(length(studies), singular, t, "\\n")
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--trials-per-cell", type=int, default=8, help="blocks.main.trials_per_cell (8: 128 trials)")
    parser.add_argument("--lme4", action="store_true", help="also time lme4::lmer on the same studies")
    args = parser.parse_args()

    from stimuli import read_manifest

    from analysis.power import power_curve
    from paradigm.protocol_load import load_protocol, parse_override
    from paradigm.study_sim import StudySimulator

    loaded = load_protocol(ROOT / "protocols" / "default.yaml",
                           [parse_override(f"blocks.main.trials_per_cell={args.trials_per_cell}")])
    simulate = StudySimulator(loaded, read_manifest(loaded.manifest_path))
    start = time.perf_counter()
    for seed in range(50):
        simulate(30, seed)
    sim_ms = (time.perf_counter() - start) / 50 * 1000
    rows = len(simulate(30, 0))
    start = time.perf_counter()
    table = power_curve(simulate, FORMULA, ["pain", "pain:group"], (30,), args.sims, n_jobs=args.jobs, seed=1)
    elapsed = time.perf_counter() - start
    print(f"simulation alone: {sim_ms:.1f} ms per study of 30 participants ({rows} trials)")
    print(f"{args.sims} studies simulated and fitted, {args.jobs} workers: {elapsed:.1f} s "
          f"({elapsed / args.sims * 1000:.1f} ms per study); target < 30 s for 1,000")
    print(table.to_string(index=False))
    if args.lme4:
        if not shutil.which("Rscript"):
            print("lme4: Rscript not found, skipped")
            return
        import numpy as np
        import pandas as pd

        seeds = np.random.SeedSequence(1).generate_state(args.sims)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "studies.csv"
            pd.concat([simulate(30, int(s)).assign(study=i) for i, s in enumerate(seeds)]).to_csv(path, index=False)
            script = Path(tmp) / "loop.R"
            script.write_text(R_LOOP % FORMULA, encoding="utf-8")
            out = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=True)
            fitted, singular, seconds = out.stdout.split()[-3:]
            seconds = float(seconds)
            print(f"lme4 {_r_versions()}: lmer (default lmerControl, REML, one core, no Satterthwaite) refitting "
                  f"the same {fitted} studies: {seconds:.1f} s ({seconds / int(fitted) * 1000:.1f} ms per study; "
                  f"{int(singular)} singular)")
            if int(fitted) != 1000:
                print(f"  extrapolated to 1,000 studies: {seconds / int(fitted) * 1000:.0f} s "
                      f"(extrapolation from {fitted}, not measured)")


def _r_versions():
    code = 'cat(R.version$major, ".", R.version$minor, " ", format(packageVersion("lme4")), sep = "")'
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True).stdout.split()
    return f"(R {out[0]}, lme4 {out[1]})"


if __name__ == "__main__":
    main()
