"""Power by simulation: simulate studies per sample size, fit the mixed model, count significant terms.

Power of a term at n participants is the share of simulated studies whose Satterthwaite
p value (``fit_lmm``) is below ``alpha``, with a Wilson 95% interval (Wilson 1927, JASA
22:209, doi:10.1080/01621459.1927.10502953). ``analysis`` does not know how studies are
simulated: it takes a callable ``simulate(n_participants, seed) -> DataFrame`` (the CLI
builds one from ``paradigm.study_sim``).
"""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

__all__ = ["power_curve", "plot_power", "wilson_interval"]

logger = logging.getLogger(__name__)


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _one(simulate, formula, terms, n, seed, contrasts):
    from .lmm import fit_lmm

    data = simulate(n, seed)
    try:
        fixed = fit_lmm(data, formula, contrasts=contrasts).fixed.set_index("term")
    except (ValueError, np.linalg.LinAlgError) as exc:
        logger.info("fit failed at n=%d seed=%d: %s", n, seed, exc)
        return {t: math.nan for t in terms}
    return {t: float(fixed.loc[t, "p"]) if t in fixed.index else math.nan for t in terms}


def power_curve(simulate, formula, terms, participants=(20, 30, 40), n_sims=200, *, alpha=0.05, n_jobs=None,
                backend="joblib", seed=0, contrasts="design", progress=None) -> pd.DataFrame:
    """Simulated power of each fixed-effect term at each sample size.

    Parameters
    ----------
    simulate : callable
        ``simulate(n_participants, seed) -> DataFrame`` of trials (must be picklable for n_jobs > 1).
    formula : str
        lme4-style formula fitted to every simulated study.
    terms : sequence of str
        Fixed-effect terms (as in ``LmmResult.fixed["term"]``) whose power is reported.
    participants : sequence of int
    n_sims : int
        Studies per sample size.
    alpha : float
    n_jobs : int, optional
        Parallel workers (None or 1: in-process).
    backend : {"joblib", "dask"}
        "dask" needs ``dask.distributed`` and a running ``Client``.
    seed : int
        Study seeds are drawn from ``numpy.random.SeedSequence(seed)``.
    contrasts : "design" or dict
        "design": the project's effect coding (``DESIGN_CONTRASTS``).
    progress : callable, optional
        ``progress(1)`` after each fitted study.

    Returns
    -------
    DataFrame with columns participants, term, power, ci_low, ci_high, n_sims, n_failed.
    """
    participants = [int(n) for n in participants]
    if not participants or min(participants) < 2:
        raise ValueError(f"'participants' must be sample sizes of at least 2 (got {participants})")
    if int(n_sims) < 1:
        raise ValueError(f"'n_sims' must be at least 1 (got {n_sims})")
    if not 0 < alpha < 1:
        raise ValueError(f"'alpha' must be between 0 and 1 (got {alpha})")
    if backend not in ("joblib", "dask"):
        raise ValueError(f"'backend' must be 'joblib' or 'dask' (got {backend!r})")
    if isinstance(contrasts, str):
        from .design_matrices import DESIGN_CONTRASTS
        contrasts = DESIGN_CONTRASTS
    terms = list(terms)
    seeds = np.random.SeedSequence(seed).generate_state(len(participants) * int(n_sims))
    tasks = [(n, int(seeds[i * n_sims + j])) for i, n in enumerate(participants) for j in range(int(n_sims))]
    results = _run(simulate, formula, terms, tasks, contrasts, n_jobs, backend, progress)
    rows = []
    for n in participants:
        ps = [r for (m, _), r in zip(tasks, results) if m == n]
        for term in terms:
            values = np.array([r[term] for r in ps], dtype=float)
            ok = values[np.isfinite(values)]
            k = int((ok < alpha).sum())
            low, high = wilson_interval(k, len(ok))
            rows.append({"participants": n, "term": term, "power": k / len(ok) if len(ok) else math.nan,
                         "ci_low": low, "ci_high": high, "n_sims": len(ok), "n_failed": len(values) - len(ok)})
    return pd.DataFrame(rows)


def _run(simulate, formula, terms, tasks, contrasts, n_jobs, backend, progress):
    if backend == "dask":
        try:
            from dask.distributed import get_client
        except ImportError:
            raise ImportError("backend='dask' needs dask.distributed (pip install 'dask[distributed]')") from None
        client = get_client()
        futures = client.map(lambda t: _one(simulate, formula, terms, t[0], t[1], contrasts), tasks)
        return client.gather(futures)
    if not n_jobs or n_jobs == 1:
        out = []
        for n, s in tasks:
            out.append(_one(simulate, formula, terms, n, s, contrasts))
            if progress:
                progress(1)
        return out
    from joblib import Parallel, delayed

    out = []
    calls = (delayed(_one)(simulate, formula, terms, n, s, contrasts) for n, s in tasks)
    for result in Parallel(n_jobs=n_jobs, return_as="generator", batch_size=8)(calls):
        out.append(result)
        if progress:
            progress(1)
    return out


def plot_power(table: pd.DataFrame, path, *, alpha=0.05):
    """Power against sample size per term, with Wilson 95% intervals, as a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for term, rows in table.groupby("term", sort=False):
        ax.errorbar(rows["participants"], rows["power"], yerr=[rows["power"] - rows["ci_low"],
                    rows["ci_high"] - rows["power"]], marker="o", capsize=3, label=term)
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.axhline(alpha, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="participants", ylabel="power", ylim=(0, 1.02))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
