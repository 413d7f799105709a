"""Benchmark: analysis.fit_lmm against lme4::lmer (when R is present) and statsmodels' MixedLM.

Times the whole fit including Satterthwaite df of
``rating ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)`` on
simulated pain-empathy data of 40 participants × 48 stimuli (~7,500 trials) and
200 × 96 (~75,000 trials). lme4's time is measured by Rscript on the same CSV (median of
repeats, after one warm-up fit); statsmodels fits the closest model it can express —
crossed variance components in one all-encompassing group, with an uncorrelated pain slope —
once, at the small size only unless --statsmodels-large is given (it takes many minutes and
gigabytes of memory at 75,000 trials). Targets from issue 5: at most 1/5 of lme4's time at 7,500 trials and 1/10 at
75,000.

    .venv/bin/python tests/benchmarks/bench_lmm.py [--repeats N] [--no-statsmodels] [--statsmodels-large]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "analysis" / "reference"))

from make_data import simulate  # noqa: E402

from analysis import DESIGN_CONTRASTS, fit_lmm  # noqa: E402

FORMULA = "rating ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)"
SIZES = [(40, 48), (200, 96)]
TARGETS = {(40, 48): 1 / 5, (200, 96): 1 / 10}
ISSUE_LME4_S = {(40, 48): 0.16, (200, 96): 1.65}  # lme4's times on the machine the issue was written on

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
d$pain <- ifelse(d$pain == "pain", 0.5, -0.5)
d$perspective <- ifelse(d$perspective == "self", 0.5, -0.5)
d$group <- ifelse(d$group == "outgroup", 0.5, -0.5)
f <- rating ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)
invisible(lmer(f, d))
n <- as.integer(args[2])
ts <- sapply(seq_len(n), function(i) system.time(lmer(f, d))[["elapsed"]])
cat(sprintf("%.6f %.6f\n", median(ts), min(ts)))
lt <- NA
if (requireNamespace("lmerTest", quietly = TRUE)) {
  suppressPackageStartupMessages(library(lmerTest))
  invisible(summary(lmerTest::lmer(f, d)))
  lt <- median(sapply(seq_len(max(1, n %/% 2)), function(i) system.time(summary(lmerTest::lmer(f, d)))[["elapsed"]]))
}
cat(sprintf("%.6f\n", lt))
"""


def time_ours(data, repeats):
    """Median and minimum wall time of fit_lmm plus its fixed-effects table (Satterthwaite df)."""
    fit_lmm(data, FORMULA, contrasts=DESIGN_CONTRASTS).fixed  # warm-up: imports and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit_lmm(data, FORMULA, contrasts=DESIGN_CONTRASTS)
        result.fixed
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), result


def time_lme4(csv, repeats):
    """lme4's (median, min) and lmerTest's median seconds, or None when Rscript or lme4 is missing."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(R_SCRIPT)
    proc = subprocess.run(["Rscript", handle.name, str(csv), str(repeats)], capture_output=True, text=True)
    Path(handle.name).unlink()
    if proc.returncode != 0:
        return None
    first, second = proc.stdout.split("\n")[:2]
    med, low = map(float, first.split())
    return med, low, float(second) if second.strip() != "NA" else None


def time_statsmodels(data):
    """Seconds for statsmodels' crossed variance-component fit (uncorrelated slope), and whether it converged."""
    import statsmodels.formula.api as smf

    frame = data.copy()
    for col, coding in DESIGN_CONTRASTS.items():
        if col in frame:
            frame[col] = frame[col].map(coding)
    frame["one"] = 1
    vc = {"participant": "0 + C(participant)", "slope": "0 + C(participant):pain", "stimulus": "0 + C(stimulus)"}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm("rating ~ pain * perspective * group", frame, groups="one", vc_formula=vc, re_formula="0")
        fit = model.fit(reml=True)
    return time.perf_counter() - start, bool(fit.converged)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats of each fit (default 7)")
    parser.add_argument("--no-statsmodels", action="store_true", help="skip the (slow) statsmodels fits")
    parser.add_argument("--statsmodels-large", action="store_true",
                        help="also time statsmodels at 75,000 trials (over 10 minutes and several GB here)")
    args = parser.parse_args(argv)
    print(f"formula: {FORMULA}")
    for n_p, n_s in SIZES:
        data = simulate(n_p, n_s)
        label = f"{n_p} participants x {n_s} stimuli ({len(data)} trials)"
        med, low, result = time_ours(data, args.repeats)
        print(f"\n{label}")
        print(f"  analysis.fit_lmm (incl. Satterthwaite): median {med * 1e3:8.1f} ms, min {low * 1e3:8.1f} ms"
              f"  [{result.n_evaluations} criterion+gradient evaluations, criterion {result.criterion:.6f}]")
        issue = ISSUE_LME4_S[(n_p, n_s)]
        print(f"  against the issue's lme4 figure of {issue * 1e3:.0f} ms: 1/{issue / med:.1f}"
              f" (target 1/{round(1 / TARGETS[(n_p, n_s)])}, i.e. <= {issue * TARGETS[(n_p, n_s)] * 1e3:.0f} ms)")
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "data.csv"
            data.to_csv(csv, index=False)
            lme4 = time_lme4(csv, max(3, args.repeats // 2))
        if lme4 is None:
            print("  lme4::lmer: skipped (Rscript with lme4 not found)")
        else:
            r_med, r_low, lmertest = lme4
            target = TARGETS[(n_p, n_s)]
            ratio = med / r_med
            verdict = "meets" if ratio <= target else "misses"
            print(f"  lme4::lmer:                             median {r_med * 1e3:8.1f} ms,"
                  f" min {r_low * 1e3:8.1f} ms")
            if lmertest is not None:
                print(f"  lmerTest::lmer + summary (Satterthwaite): median {lmertest * 1e3:8.1f} ms")
            print(f"  ratio fit_lmm / lme4 = 1/{1 / ratio:.1f} ({verdict} the target of 1/{round(1 / target)})")
        if args.no_statsmodels or (n_p, n_s) != SIZES[0] and not args.statsmodels_large:
            print("  statsmodels MixedLM: skipped (--statsmodels-large to include it)" if not args.no_statsmodels
                  else "  statsmodels MixedLM: skipped (--no-statsmodels)")
        else:
            seconds, converged = time_statsmodels(data)
            print(f"  statsmodels MixedLM (crossed VCs, uncorrelated slope): {seconds * 1e3:8.1f} ms"
                  f" (converged: {converged})")


if __name__ == "__main__":
    main()
