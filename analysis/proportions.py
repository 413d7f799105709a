"""Intervals for proportions that stay inside 0–1 and always hold the estimate.

- :func:`wilson_interval`: Wilson's score interval for k successes in n (Wilson 1927,
  JASA 22:209, doi:10.1080/01621459.1927.10502953), used for power and exclusion rates.
- :func:`clustered_interval`: a proportion averaged over participants (judgement
  accuracy): Wilson's interval with the effective number of trials — the trials divided
  by the design effect, the variance of the participants' mean over its binomial variance
  (Kish 1965, *Survey Sampling*) — and the t quantile of the participants' df, so
  participant differences widen it while it stays bounded.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["clustered_interval", "wilson_interval"]

Z95 = 1.959963984540054


def wilson_interval(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (k and n may be effective, non-whole counts)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if k <= 0 else min(p, max(0.0, centre - half))
    high = 1.0 if k >= n else max(p, min(1.0, centre + half))
    return (low, high)


def clustered_interval(participant_means, n_trials: int) -> tuple[float, float]:
    """95% interval of the mean of participants' proportions, from ``n_trials`` trials in all (see the module)."""
    values = np.asarray(participant_means, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or n_trials < 1:
        return (math.nan, math.nan)
    p = float(values.mean())
    binomial = p * (1 - p) / n_trials
    observed = float(values.var(ddof=1)) / len(values)
    effect = max(1.0, observed / binomial) if binomial > 0 else 1.0
    n_eff = n_trials / effect
    return wilson_interval(p * n_eff, n_eff, z=float(stats.t.ppf(0.975, len(values) - 1)))
