"""Benchmark: analysis.fit_glmm (binomial, Laplace) on simulated trial-level pain-judgement accuracy.

Times ``correct ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)``
(and the intercepts-only model) on 60 participants × 160 trials (9,600 trials: 80 stimuli,
half pain, each seen from both perspectives), and lme4::glmer on the same CSV when Rscript
and lme4 are installed.

    .venv/bin/python tests/benchmarks/bench_glmm.py [--no-r]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from analysis import DESIGN_CONTRASTS, fit_glmm  # noqa: E402

FORMULAS = {
    "slope": "correct ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)",
    "intercepts": "correct ~ pain * perspective * group + (1 | participant) + (1 | stimulus_id)",
}

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
positive <- c(pain = "pain", perspective = "self", group = "outgroup")  # analysis.DESIGN_CONTRASTS
for (v in names(positive)) d[[v]] <- ifelse(d[[v]] == positive[[v]], 0.5, -0.5)
f <- as.formula(args[2])
cat(system.time(glmer(f, d, family = binomial))[["elapsed"]], "\n")
"""


def simulate(n_participants: int = 60, n_stimuli: int = 80, seed: int = 7) -> pd.DataFrame:
    """Trials of a between-group design: every participant sees every stimulus from both perspectives."""
    rng = np.random.default_rng(seed)
    stim_pain = np.repeat([0.5, -0.5], n_stimuli // 2)
    stim_b = rng.normal(0, 0.5, n_stimuli)
    cov = np.array([[0.64, 0.4 * 0.8 * 0.6], [0.4 * 0.8 * 0.6, 0.36]])
    part_b = rng.multivariate_normal([0, 0], cov, n_participants)
    p_idx = np.repeat(np.arange(n_participants), 2 * n_stimuli)
    s_idx = np.tile(np.arange(n_stimuli), 2 * n_participants)
    x_self = np.tile(np.repeat([0.5, -0.5], n_stimuli), n_participants)
    x_out = np.where(p_idx % 2 == 1, 0.5, -0.5)
    x_pain = stim_pain[s_idx]
    eta = (1.2 + 0.5 * x_pain + 0.3 * x_self - 0.2 * x_out + 0.25 * x_pain * x_self + 0.2 * x_pain * x_out
           + part_b[p_idx, 0] + part_b[p_idx, 1] * x_pain + stim_b[s_idx])
    return pd.DataFrame({
        "participant": [f"p{i:02d}" for i in p_idx], "stimulus_id": [f"s{i:03d}" for i in s_idx],
        "pain": np.where(x_pain > 0, "pain", "neutral"), "perspective": np.where(x_self > 0, "self", "other"),
        "group": np.where(x_out > 0, "outgroup", "ingroup"),
        "correct": (rng.random(len(eta)) < 1 / (1 + np.exp(-eta))).astype(int),
    })


def r_time(data: pd.DataFrame, formula: str) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "b.R"
        data.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        run = subprocess.run(["Rscript", str(script), str(csv), formula], capture_output=True, text=True)
        if run.returncode != 0:
            return None
        return float(run.stdout.split()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="skip the lme4 timing")
    args = parser.parse_args(argv)
    data = simulate()
    for label, formula in FORMULAS.items():
        start = time.perf_counter()
        fit = fit_glmm(data, formula, contrasts=DESIGN_CONTRASTS)
        elapsed = time.perf_counter() - start
        lme4 = None if args.no_r else r_time(data, formula)
        vs = f", lme4::glmer {lme4:.2f} s" if lme4 is not None else ""
        print(f"fit_glmm {label}: 60 participants x 160 trials ({fit.n_obs} trials): {elapsed:.2f} s "
              f"({fit.n_evaluations} PIRLS runs, -2logLik {fit.deviance:.3f}){vs}")


if __name__ == "__main__":
    main()
