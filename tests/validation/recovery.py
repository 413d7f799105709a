"""Parameter recovery of the engine on simulated studies: 95% CI coverage and Type I error.

Simulates ``--studies`` studies of the default protocol (``paradigm.study_sim``, 24
participants) and fits each with ``analysis.fit_lmm`` (REML, Satterthwaite df) using the
maximal model of the simulation,
``rating_pain_intensity ~ pain * perspective * group + stimulus_type + (1 + pain | participant) + (1 | stimulus_id)``.

True values are kept away from the scale's ends so that clipping and anchor snapping (which
bias estimates towards the middle) do not act: intercept 50, pain 20, perspective 5,
group −3, pain:group −4, pain:perspective 3, every other term 0 (stimulus_type, perspective:group
and the three-way term are the nulls whose Type I error is counted); anchor_snap 0.
Targets: coverage 93–97 %, Type I error 4–6 %. Writes ``recovery_output.txt`` beside itself.

    .venv/bin/python tests/validation/recovery.py [--studies 500] [--jobs 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FORMULA = ("rating_pain_intensity ~ pain * perspective * group + stimulus_type + (1 + pain | participant) "
           "+ (1 | stimulus_id)")
TRUE = {"(Intercept)": 50.0, "pain": 20.0, "perspective": 5.0, "group": -3.0, "stimulus_type": 0.0,
        "pain:perspective": 3.0, "pain:group": -4.0, "perspective:group": 0.0, "pain:perspective:group": 0.0}
PARAMS = {"ratings": {"pain_intensity": {
    "intercept": 50.0, "sd_participant_pain": 10.0, "anchor_snap": 0.0,
    "effects": {"pain": 20.0, "perspective": 5.0, "group": -3.0, "pain:group": -4.0, "pain:perspective": 3.0}}}}


def _fit(simulate, seed):
    from analysis.design_matrices import DESIGN_CONTRASTS
    from analysis.lmm import fit_lmm

    fixed = fit_lmm(simulate(24, seed), FORMULA, contrasts=DESIGN_CONTRASTS).fixed.set_index("term")
    return fixed[["estimate", "ci_low", "ci_high", "p"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from joblib import Parallel, delayed
    from stimuli import read_manifest

    from paradigm.protocol_load import load_protocol
    from paradigm.study_sim import StudySimulator

    loaded = load_protocol(ROOT / "protocols" / "default.yaml")
    simulate = StudySimulator(loaded, read_manifest(loaded.manifest_path), params=PARAMS)
    # percent of range = points on the 0-100 VAS, so true values are on the data's scale
    low, high = loaded.protocol.ratings[0].range
    scale = (high - low) / 100.0
    seeds = np.random.SeedSequence(2026).generate_state(args.studies)
    start = time.perf_counter()
    fits = Parallel(n_jobs=args.jobs)(delayed(_fit)(simulate, int(s)) for s in seeds)
    elapsed = time.perf_counter() - start
    lines = [f"parameter recovery: {args.studies} studies x 24 participants, default protocol, {FORMULA}",
             f"fitting time {elapsed:.1f} s with {args.jobs} workers", "",
             f"{'term':<24}{'true':>8}{'mean est':>10}{'bias':>8}{'coverage':>10}{'p<.05':>8}"]
    for term, value in TRUE.items():
        truth = low + value * scale if term == "(Intercept)" else value * scale
        est = np.array([f.loc[term, "estimate"] for f in fits])
        cover = np.mean([f.loc[term, "ci_low"] <= truth <= f.loc[term, "ci_high"] for f in fits])
        sig = np.mean([f.loc[term, "p"] < 0.05 for f in fits])
        lines.append(f"{term:<24}{truth:>8.2f}{est.mean():>10.2f}{est.mean() - truth:>8.2f}"
                     f"{cover:>10.3f}{sig:>8.3f}{'  (null: Type I error)' if value == 0 else ''}")
    nulls = [t for t, v in TRUE.items() if v == 0]
    type1 = np.mean([[f.loc[t, "p"] < 0.05 for t in nulls] for f in fits])
    coverage = np.mean([[f.loc[t, "ci_low"] <= (low + v * scale if t == "(Intercept)" else v * scale)
                         <= f.loc[t, "ci_high"] for t, v in TRUE.items()] for f in fits])
    lines += ["", f"mean 95% CI coverage over all terms: {coverage:.3f} (target 0.93-0.97)",
              f"Type I error over the null terms: {type1:.3f} (target 0.04-0.06)"]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (Path(__file__).parent / "recovery_output.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
