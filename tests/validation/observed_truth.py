"""Coverage of the report's truth table on the default protocol with the simulator's default parameters.

The defaults put many answers at the VAS ends (pain intensity: latent pain effect 90 points
on a 0–100 scale, anchor snapping), so estimates cannot match the latent model; the report
compares them with the expected *observed* effects instead (``analysis.report.truth_table``
from ``paradigm.simulated.expected_observed_cells``). This script simulates ``--studies``
studies of 20 participants (``paradigm.study_sim``), analyses each rating as the report does
(exclusions, scope, maximal start and singular-fit rule: ``analysis.power.ReportRatingAnalysis``)
and prints, per rating and term, the coverage of the observed truth and of the latent one.
Target: observed-truth coverage about 95 % (0.93–0.97 over all terms). Writes
``observed_truth_output.txt`` beside itself.

    .venv/bin/python tests/validation/observed_truth.py [--studies 200] [--jobs 2] [--participants 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _study(simulate, analyses, n, seed, caches={}):   # noqa: B006 - one design cache per worker process
    """The fixed-effect tables of one simulated study, per rating (None when not estimable)."""
    from analysis.estimable import NotEstimable
    from analysis.measures import factors_present
    from analysis.report_sections import rating_fit, scope_of

    data = simulate(n, seed)
    out = {}
    for measure, analysis in analyses.items():
        trials = analysis.checked(data)
        scope = scope_of(trials, measure, factors_present(trials))
        try:
            out[measure] = rating_fit(trials, measure, scope.factors, use=trials[f"use_{measure}"],
                                      cache=caches.setdefault(measure, {})).result.fixed
        except NotEstimable:
            out[measure] = None
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).with_name("observed_truth_output.txt")))
    args = parser.parse_args()

    from joblib import Parallel, delayed
    from stimuli import read_manifest

    from analysis.measures import Measure
    from analysis.power import ReportRatingAnalysis
    from analysis.report import truth_table
    from paradigm.protocol_load import load_protocol
    from paradigm.session import measures_record
    from paradigm.simulated import expected_observed_cells, simulation_params
    from paradigm.study_sim import StudySimulator

    loaded = load_protocol(ROOT / "protocols" / "default.yaml")
    protocol = loaded.protocol
    simulate = StudySimulator(loaded, read_manifest(loaded.manifest_path))
    params = simulation_params(protocol.simulation)
    first = protocol.blocks.practice.n_trials + 1
    observed = expected_observed_cells(protocol, params, range(first, first + 160))
    record = measures_record(protocol)["ratings"]
    measures = {f"rating_{n}": Measure(f"rating_{n}", "rating", tuple(r["range"]), r["timeout_s"], r["asked_when"])
                for n, r in record.items()}
    analyses = {m: ReportRatingAnalysis(m, measures) for m in measures}
    seeds = np.random.SeedSequence(2027).generate_state(args.studies)
    start = time.perf_counter()
    studies = Parallel(n_jobs=args.jobs)(delayed(_study)(simulate, analyses, args.participants, int(s)) for s in seeds)
    elapsed = time.perf_counter() - start
    lines = [f"observed-truth coverage: {args.studies} studies x {args.participants} participants, default protocol "
             f"and simulation defaults, each rating analysed as the report does", f"time {elapsed:.1f} s with "
             f"{args.jobs} workers", ""]
    all_cover = []
    for measure in measures:
        tables = [t[measure] for t in studies if t[measure] is not None]
        rows = [truth_table(params.to_dict(), observed, measure, fixed, measures[measure].range) for fixed in tables]
        merged = pd.concat(rows).groupby("term", sort=False)
        summary = merged.apply(lambda g: pd.Series({
            "true": g["true"].iat[0], "true_latent": g["true_latent"].iat[0], "mean_est": g["estimate"].mean(),
            "coverage": g["covered"].mean(),
            "coverage_latent": ((g["ci_low"] <= g["true_latent"]) & (g["true_latent"] <= g["ci_high"])).mean()}))
        all_cover.append(summary["coverage"].mean())
        lines += [f"{measure} ({len(tables)} of {len(studies)} studies estimable)",
                  summary.to_string(float_format=lambda v: f"{v:.3f}"),
                  f"mean coverage: observed truth {summary['coverage'].mean():.3f}, latent truth "
                  f"{summary['coverage_latent'].mean():.3f}", ""]
    lines.append(f"mean coverage of the observed truth over all terms and ratings: {np.mean(all_cover):.3f} "
                 f"(target 0.93-0.97)")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
