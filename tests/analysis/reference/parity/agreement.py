"""Print the worst-case differences between the toolkit and the committed afex / emmeans numbers.

Run from the repository root: ``.venv/bin/python tests/analysis/reference/parity/agreement.py``.
RM-ANOVA: F and p relative, dfs / partial η² / GG ε absolute. Mixed model: estimate and SE
as a fraction of R's SE, Satterthwaite df relative and absolute, against the tightly
converged R fit ("tight") and against the fit with lme4's default optimizer ("default").
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import DESIGN_CONTRASTS, fit_lmm
from analysis.descriptives import participant_means
from analysis.models import cell_means, pain_contrasts
from analysis.rm_anova import rm_anova

HERE = Path(__file__).resolve().parent
FACTORS = ["pain", "perspective", "group", "stimulus_type"]
CELL = ["pain", "perspective", "group"]


def anova_diffs(table: pd.DataFrame, terms: list) -> dict:
    ours = table.set_index("term")
    out = {}
    for t in terms:
        row = ours.loc[t["term"]]
        for col, key, rel in [("F", "F", True), ("p", "p", True), ("p_gg", "p_gg", True), ("num_df", "num_df", False),
                              ("den_df", "den_df", False), ("eta_p2", "pes", False), ("gg_epsilon", "gg_epsilon", False)]:
            d = abs(row[col] - t[key]) / (abs(t[key]) if rel else 1.0)
            out[col] = max(out.get(col, 0.0), d)
    return out


def lmm_diffs(fit, ref: dict) -> dict:
    rows = []
    cm = cell_means(fit, FACTORS).set_index(CELL)
    for r in ref["cell_means"]:
        rows.append((cm.loc[tuple(r[f] for f in CELL)], r["emmean"], r["SE"], r["df"]))
    pc = pain_contrasts(fit, FACTORS)
    pc = pc.set_index(pc["contrast"].str.replace("−", "-"))
    for r in ref["contrasts"]:
        rows.append((pc.loc[r["contrast"]], r["estimate"], r["SE"], r["df"]))
    return {"estimate/SE": max(abs(o.estimate - e) / s for o, e, s, _ in rows),
            "SE rel": max(abs(o.se - s) / s for o, _, s, _ in rows),
            "df rel": max(abs(o.df / d - 1) for o, _, _, d in rows),
            "df abs": max(abs(o.df - d) for o, _, _, d in rows)}


def main() -> None:
    trials = pd.read_csv(HERE / "pilot_trials.csv")
    fmt = lambda d: ", ".join(f"{k} {v:.2g}" for k, v in d.items())  # noqa: E731
    for dv, rec in json.loads((HERE / "afex_pilot.json").read_text())["ratings"].items():
        table, _ = rm_anova(participant_means(trials, dv, FACTORS), dv, FACTORS)
        print(f"afex {dv}: {fmt(anova_diffs(table, rec['terms']))}")
    obk = json.loads((HERE / "afex_obk.json").read_text())
    cells = pd.read_csv(HERE / "obk_cells.csv", dtype={"id": str})
    table, _ = rm_anova(cells, "value", ["phase", "hour"], subject="id")
    print(f"afex obk.long phase x hour: {fmt(anova_diffs(table, obk['terms']))}")
    for dv, ref in json.loads((HERE / "emmeans_pilot.json").read_text())["models"].items():
        fit = fit_lmm(trials, ref["formula"], reml=ref["reml"], contrasts=DESIGN_CONTRASTS)
        print(f"lmm {dv}: criterion - R tight {fit.criterion - ref['reml_criterion']:.2g}, "
              f"- R default {fit.criterion - ref['default_optimizer']['reml_criterion']:.2g}; "
              f"theta rel {np.max(np.abs(fit.theta / np.asarray(ref['theta']) - 1)):.2g}")
        print(f"  emmeans tight:   {fmt(lmm_diffs(fit, ref))}")
        print(f"  emmeans default: {fmt(lmm_diffs(fit, ref['default_optimizer']))}")


if __name__ == "__main__":
    main()
