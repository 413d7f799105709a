"""Parameter recovery of the engine on simulated studies: 95% CI coverage and Type I error.

Simulates ``--studies`` studies of the default protocol (``paradigm.study_sim``, 24
participants) and fits each with ``analysis.fit_lmm`` (REML, Satterthwaite df). With
``--model maximal`` (default) each study gets what ``analysis report`` fits: the maximal
random structure the design supports, simplified by the singular-fit rule of
``analysis.models``; with ``--model simulated`` the random structure of the simulation,
``(1 + pain | participant) + (1 | stimulus_id)``.

True values are kept away from the scale's ends so that clipping and anchor snapping (which
bias estimates towards the middle) do not act: intercept 50, pain 20, perspective 5,
group −3, pain:group −4, pain:perspective 3, every other term 0 (stimulus_type, perspective:group
and the three-way term are the nulls whose Type I error is counted); anchor_snap 0.
Targets: coverage 93–97 %, Type I error 4–6 % (issue 7: "with the maximal model"). Writes
``recovery_output.txt`` beside itself.

    .venv/bin/python tests/validation/recovery.py [--studies 500] [--jobs 2] [--model maximal|simulated]
                                                    [--out recovery_output.txt]
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

FORMULA = ("rating_pain_intensity ~ pain * perspective * group + stimulus_type + (1 + pain | participant) "
           "+ (1 | stimulus_id)")
TRUE = {"(Intercept)": 50.0, "pain": 20.0, "perspective": 5.0, "group": -3.0, "stimulus_type": 0.0,
        "pain:perspective": 3.0, "pain:group": -4.0, "perspective:group": 0.0, "pain:perspective:group": 0.0}
PARAMS = {"ratings": {"pain_intensity": {
    "intercept": 50.0, "sd_participant_pain": 10.0, "anchor_snap": 0.0,
    "effects": {"pain": 20.0, "perspective": 5.0, "group": -3.0, "pain:group": -4.0, "pain:perspective": 3.0}}}}


FACTORS = ["pain", "perspective", "group", "stimulus_type"]


def _fit(simulate, seed, model):
    """The fixed-effect table of one simulated study and the formula it ended with."""
    from analysis.design_matrices import DESIGN_CONTRASTS
    from analysis.lmm import fit_lmm
    from analysis.models import fit_with_selection

    data = simulate(24, seed)
    if model == "maximal":
        selected = fit_with_selection(data, "rating_pain_intensity", FACTORS)
        result, formula = selected.result, selected.formula
    else:
        result, formula = fit_lmm(data, FORMULA, contrasts=DESIGN_CONTRASTS), FORMULA
    return result.fixed.set_index("term")[["estimate", "ci_low", "ci_high", "p"]], formula.split(" ~ ")[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model", choices=("maximal", "simulated"), default="maximal")
    parser.add_argument("--out", default=str(Path(__file__).with_name("recovery_output.txt")))
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
    results = Parallel(n_jobs=args.jobs)(delayed(_fit)(simulate, int(s), args.model) for s in seeds)
    elapsed = time.perf_counter() - start
    fits = [fixed for fixed, _ in results]
    chosen = pd.Series([formula for _, formula in results]).value_counts()
    model = ("maximal random structure, simplified by the singular-fit rule of analysis.models"
             if args.model == "maximal" else FORMULA)
    lines = [f"parameter recovery: {args.studies} studies x 24 participants, default protocol, {model}",
             f"fitting time {elapsed:.1f} s with {args.jobs} workers", "",
             "final models (count):", *[f"  {n:>4}  {formula}" for formula, n in chosen.items()], "",
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
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
