"""Print how closely analysis.fit_lmm reproduces each committed lme4/lmerTest reference fit.

    .venv/bin/python tests/analysis/reference/agreement.py

Columns: max |Δβ|/SE, max relative ΔSE, max relative Δ(variance, covariance, sd, corr),
relative Δcriterion (negative: our optimum is better), max relative Δ Satterthwaite df
(t tests, and type-III F tests against lmerTest's anova(m, type = 3)), and max
relative Δ BLUP (scaled by the term's largest mode).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from analysis import DESIGN_CONTRASTS, fit_lmm  # noqa: E402


def agreement(name: str) -> dict:
    """Worst-case differences between our fit and lme4's for one reference model."""
    ref = json.loads((HERE / f"{name}.json").read_text())
    coding = None if ref.get("coding") == "treatment" else DESIGN_CONTRASTS
    m = fit_lmm(pd.read_csv(HERE / ref["data"]), ref["formula"], reml=ref["reml"], contrasts=coding)
    rf = pd.DataFrame(ref["fixed"]).set_index("term")
    fx = m.fixed.set_index("term").loc[rf.index]
    rr = pd.DataFrame(ref["random"])
    rr["term2"] = rr["term2"].where(rr["term2"].notna(), None)
    ours = m.random.copy()
    ours["term2"] = ours["term2"].where(ours["term2"].notna(), None)
    merged = ours.merge(rr, on=["group", "term1", "term2"], suffixes=("", "_ref"))
    rel = [np.abs(merged[c] - merged[c + "_ref"]) / np.maximum(np.abs(merged[c + "_ref"]), 1e-12)
           for c in ("vcov", "sdcor")]
    ra = pd.DataFrame(ref["anova"] if isinstance(ref["anova"], list) else [])
    den = 0.0
    if len(ra):
        an = m.anova().set_index("term").loc[ra.term]
        den = float(np.max(np.abs(an.den_df.to_numpy() / ra.DenDF.to_numpy() - 1)))
    blup = 0.0
    for group, table in ref["ranef"].items():
        theirs = pd.DataFrame(table["values"], index=[str(x) for x in table["levels"]])
        mine = m.ranef[group].loc[theirs.index, list(theirs.columns)]
        blup = max(blup, float(np.max(np.abs(mine - theirs).max() / theirs.abs().max())))
    return {
        "model": name, "n_obs": m.n_obs,
        "max|dbeta|/se": float(np.max(np.abs(fx.estimate - rf.estimate) / rf.se)),
        "max_rel_dse": float(np.max(np.abs(fx.se / rf.se - 1))),
        "max_rel_dvar": float(max(r.max() for r in rel)),
        "rel_dcrit": (m.criterion - ref["criterion"]) / abs(ref["criterion"]),
        "max_rel_ddf": float(np.max(np.abs(fx.df / rf.df - 1))),
        "max_rel_dden_df": den,
        "max_rel_dblup": blup,
        "singular": f"{m.singular}/{ref['isSingular']}",
    }


if __name__ == "__main__":
    rows = [agreement(p.stem) for p in sorted(HERE.glob("*.json"))]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.2e}"))
