"""Simulate pain-empathy rating data for the reference fits: ``python make_data.py`` writes pain_40x48.csv.

Each participant (group A or B) rates every stimulus (pained or neutral face of a team A or
B identity) under the self and the other perspective, twice; about 2% of trials are
dropped as time-outs. Ratings and log RTs come from crossed participant and stimulus
effects with a correlated participant slope for pain. Seeded: the file is reproducible.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def simulate(n_participants: int = 40, n_stimuli: int = 48, *, seed: int = 20261201,
             repeats: int = 2) -> pd.DataFrame:
    """Trial-level data: participant, stimulus, pain, perspective, group, rating, log_rt."""
    rng = np.random.default_rng(seed)
    p_ids = np.array([f"P{i + 1:03d}" for i in range(n_participants)])
    s_ids = np.array([f"S{j + 1:03d}" for j in range(n_stimuli)])
    p_team = np.arange(n_participants) % 2
    s_pain = (np.arange(n_stimuli) // 2) % 2 == 0
    s_team = np.arange(n_stimuli) % 2
    pi, si, persp = np.meshgrid(np.arange(n_participants), np.arange(n_stimuli), np.arange(2 * repeats),
                                indexing="ij")
    pi, si, persp = pi.ravel(), si.ravel(), persp.ravel() % 2
    keep = rng.random(pi.size) > 0.02
    pi, si, persp = pi[keep], si[keep], persp[keep]
    pain = np.where(s_pain[si], 0.5, -0.5)
    self_ = np.where(persp == 0, 0.5, -0.5)
    out = np.where(p_team[pi] != s_team[si], 0.5, -0.5)
    # participant intercept and pain slope (sd 10 and 8, correlation 0.3), stimulus intercept sd 5
    cov = np.array([[100.0, 0.3 * 10 * 8], [0.3 * 10 * 8, 64.0]])
    u = rng.multivariate_normal([0, 0], cov, size=n_participants)
    w = rng.normal(0, 5, size=n_stimuli)
    mean = (45 + 28 * pain + 3 * self_ - 4 * out - 3 * pain * out + 2 * pain * self_ + 1.5 * pain * self_ * out)
    rating = mean + u[pi, 0] + u[pi, 1] * pain + w[si] + rng.normal(0, 12, pi.size)
    up, ws = rng.normal(0, 0.15, n_participants), rng.normal(0, 0.05, n_stimuli)
    log_rt = (np.log(0.9) + 0.06 * pain - 0.03 * self_ + 0.02 * out + up[pi] + ws[si] + rng.normal(0, 0.25, pi.size))
    return pd.DataFrame({
        "participant": p_ids[pi], "stimulus": s_ids[si],
        "pain": np.where(pain > 0, "pain", "neutral"), "perspective": np.where(self_ > 0, "self", "other"),
        "group": np.where(out > 0, "outgroup", "ingroup"),
        "rating": np.round(np.clip(rating, 0, 100), 2), "log_rt": np.round(log_rt, 5),
    })


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "pain_40x48.csv"
    simulate().to_csv(out, index=False)
    print(f"wrote {out}")
