"""Power by simulation: simulate studies per sample size, analyse each, count significant terms.

Power of a term at n participants is the share of simulated studies whose Satterthwaite
p value is below ``alpha``, with a Wilson 95% interval (``analysis.proportions``).

:func:`protocol_power` is the power of the analysis the lab will run: it simulates studies
of a protocol (``paradigm``'s simulated participant, in memory — the one place ``analysis``
reaches into ``paradigm``) and analyses each exactly as ``analysis report`` analyses a
rating (:class:`ReportRatingAnalysis`): the same exclusions (``apply_qc``), the same
measure scope, and the same model — the maximal random structure the design supports,
simplified by the singular-fit rule of ``analysis.models``. :func:`power_curve` is the
general engine underneath: any ``simulate(n_participants, seed)`` and either a fixed lme4
formula or an analysis callable.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .proportions import wilson_interval

__all__ = ["PowerResult", "ReportRatingAnalysis", "plot_power", "power_curve", "protocol_power", "wilson_interval"]

logger = logging.getLogger(__name__)
CHUNK = 25          # studies per task sent to a worker
_CACHES: dict = {}   # design-level caches of fit_with_selection, one per measure and study size, in each process


@dataclass(frozen=True)
class StudyOutcome:
    """One simulated study's analysis: p value per term (NaN: not estimable) and the model it used."""

    p: dict
    model: str


class FormulaAnalysis:
    """Fit one fixed lme4 formula to every study (the design's effect coding)."""

    def __init__(self, formula: str, terms, contrasts):
        self.formula, self.terms, self.contrasts = formula, list(terms), contrasts

    def __call__(self, data) -> StudyOutcome:
        from .lmm import fit_lmm

        try:
            fixed = fit_lmm(data, self.formula, contrasts=self.contrasts).fixed.set_index("term")
        except (ValueError, np.linalg.LinAlgError) as exc:
            return StudyOutcome({t: math.nan for t in self.terms}, f"not estimable: {exc}")
        return StudyOutcome({t: float(fixed.loc[t, "p"]) if t in fixed.index else math.nan for t in self.terms},
                            self.formula)


@dataclass(frozen=True)
class ReportRatingAnalysis:
    """A simulated study analysed as ``analysis report`` analyses the rating ``measure``.

    Exclusions by ``config`` (``apply_qc``; every measure of the study counts towards a
    participant's missing rate, as in the report), the measure's asked trials and the
    design factors that vary within them, then ``report_sections.rating_fit``: the
    maximal random structure (or ``slopes``) simplified while singular.
    """

    measure: str
    measures: dict          # name -> analysis.measures.Measure of every measure the study has
    config: object = None   # QcConfig; None = the report's defaults
    slopes: object = "maximal"
    terms: tuple = ()

    def checked(self, data) -> pd.DataFrame:
        """The study's trials after the report's exclusions (``use_<measure>`` and ``asked_<measure>`` columns)."""
        from .qc import QcConfig, apply_qc
        from .read import TrialData

        ratings = [m.removeprefix("rating_") for m, spec in self.measures.items() if spec.kind == "rating"]
        study = TrialData(trials=data, practice=data.iloc[:0], files=[], ratings=ratings, protocols=[],
                          simulated=True, has_judgement="judgement" in self.measures, sessions=pd.DataFrame(),
                          measures=self.measures)
        return apply_qc(study, self.config or QcConfig()).trials

    def __call__(self, data) -> StudyOutcome:
        from .estimable import NotEstimable
        from .measures import FACTORS, factors_present
        from .report_sections import rating_fit, scope_of

        checked = self.checked(data)
        keep = ["participant", "stimulus_id", *FACTORS, self.measure, f"asked_{self.measure}", f"use_{self.measure}"]
        trials = checked[[c for c in keep if c in checked.columns]]   # the fit's columns only: cheaper copies
        scope = scope_of(trials, self.measure, factors_present(trials))
        cache = _CACHES.setdefault((self.measure, len(trials)), {})   # per process: studies of one design
        try:
            fit = rating_fit(trials, self.measure, scope.factors, self.slopes, use=trials[f"use_{self.measure}"],
                             cache=cache)
        except NotEstimable as exc:
            return StudyOutcome({t: math.nan for t in self.terms}, f"not estimable: {exc}")
        fixed = fit.result.fixed.set_index("term")
        return StudyOutcome({t: float(fixed.loc[t, "p"]) if t in fixed.index else math.nan for t in self.terms},
                            fit.formula)


def _check(participants, n_sims, alpha, backend):
    participants = [int(n) for n in participants]
    if not participants or min(participants) < 2:
        raise ValueError(f"'participants' must be sample sizes of at least 2 (got {participants})")
    if int(n_sims) < 1:
        raise ValueError(f"'n_sims' must be at least 1 (got {n_sims})")
    if not 0 < alpha < 1:
        raise ValueError(f"'alpha' must be between 0 and 1 (got {alpha})")
    if backend not in ("joblib", "dask"):
        raise ValueError(f"'backend' must be 'joblib' or 'dask' (got {backend!r})")
    return participants


def _simulate_and_analyse(simulate, analysis, participants, n_sims, *, n_jobs, backend, seed, progress):
    """Per sample size, the outcomes of ``n_sims`` studies (seeds from ``SeedSequence(seed)``)."""
    seeds = np.random.SeedSequence(seed).generate_state(len(participants) * int(n_sims))
    tasks = [(n, int(seeds[i * n_sims + j])) for i, n in enumerate(participants) for j in range(int(n_sims))]
    outcomes = _run(simulate, analysis, tasks, n_jobs, backend, progress)
    return {n: [o for (m, _), o in zip(tasks, outcomes) if m == n] for n in participants}


def _power_table(outcomes: dict, terms, alpha) -> pd.DataFrame:
    rows = []
    for n, studies in outcomes.items():
        for term in terms:
            values = np.array([o.p.get(term, math.nan) for o in studies], dtype=float)
            ok = values[np.isfinite(values)]
            k = int((ok < alpha).sum())
            low, high = wilson_interval(k, len(ok))
            rows.append({"participants": n, "term": term, "power": k / len(ok) if len(ok) else math.nan,
                         "ci_low": low, "ci_high": high, "n_sims": len(ok), "n_failed": len(values) - len(ok)})
    return pd.DataFrame(rows)


def power_curve(simulate, formula, terms, participants=(20, 30, 40), n_sims=200, *, alpha=0.05, n_jobs=None,
                backend="joblib", seed=0, contrasts="design", progress=None) -> pd.DataFrame:
    """Simulated power of each fixed-effect term at each sample size.

    Parameters
    ----------
    simulate : callable
        ``simulate(n_participants, seed) -> DataFrame`` of trials (must be picklable for n_jobs > 1).
    formula : str or callable
        An lme4-style formula fitted to every simulated study, or an analysis
        ``analysis(data) -> StudyOutcome`` (e.g. :class:`ReportRatingAnalysis`).
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
        For a formula: "design" is the project's effect coding (``DESIGN_CONTRASTS``).
    progress : callable, optional
        ``progress(1)`` after each analysed study.

    Returns
    -------
    DataFrame with columns participants, term, power, ci_low, ci_high, n_sims, n_failed.
    """
    participants = _check(participants, n_sims, alpha, backend)
    terms = list(terms)
    if isinstance(formula, str):
        if isinstance(contrasts, str):
            from .design_matrices import DESIGN_CONTRASTS
            contrasts = DESIGN_CONTRASTS
        analysis = FormulaAnalysis(formula, terms, contrasts)
    else:
        analysis = formula
    outcomes = _simulate_and_analyse(simulate, analysis, participants, int(n_sims), n_jobs=n_jobs, backend=backend,
                                     seed=seed, progress=progress)
    return _power_table(outcomes, terms, alpha)


@dataclass
class PowerResult:
    """Power per sample size and term, and the models the simulated studies ended with."""

    table: pd.DataFrame          # participants, term, power, ci_low, ci_high, n_sims, n_failed
    models: pd.DataFrame         # participants, model, n_studies
    rating: str
    start_formula: str           # the maximal start of the random-structure selection
    analysis: str                # one sentence: what each study's analysis is
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """``{"protocol", "rating", "analysis", "start_formula", "participants", "power", "ci", "models"}``."""
        out = {"rating": self.rating, "analysis": self.analysis, "start_formula": self.start_formula,
               "participants": sorted({int(n) for n in self.table["participants"]}), "power": {}, "ci": {},
               "models": {}, **self.params}
        for row in self.table.itertuples():
            out["power"].setdefault(str(row.participants), {})[row.term] = row.power
            out["ci"].setdefault(str(row.participants), {})[row.term] = [row.ci_low, row.ci_high]
        for row in self.models.itertuples():
            out["models"].setdefault(str(row.participants), {})[row.model] = int(row.n_studies)
        return out


def protocol_power(protocol, participants=(20, 30, 40), n_sims=200, *, rating=None, effects=None, overrides=(),
                   terms=None, alpha=0.05, config=None, slopes="maximal", n_jobs=None, backend="joblib", seed=0,
                   progress=None) -> PowerResult:
    """Power of the report's analysis of one rating, for studies of ``protocol`` simulated in memory.

    Parameters
    ----------
    protocol : path
        A protocol YAML file (its stimulus manifest must exist).
    participants, n_sims, alpha, n_jobs, backend, seed, progress
        As :func:`power_curve`.
    rating : str, optional
        The rating to analyse (default: the protocol's first).
    effects : dict, optional
        True effects of that rating, percent of its range, e.g. ``{"pain": 10}`` (the
        simulated participant's parameters ``ratings.<rating>.effects.<term>``).
    overrides : sequence of (field, value)
        Protocol field overrides (as ``--set``).
    terms : sequence of str, optional
        Terms to report (default: every fixed effect but the intercept).
    config : QcConfig, optional
        Exclusion thresholds (default: the report's).
    slopes : "maximal" or sequence of str
        The random structure the selection starts from, as ``analysis report --slopes``.

    Raises
    ------
    ValueError
        An unreadable protocol or manifest, an unknown rating or effect term.
    """
    from stimuli import read_manifest

    from paradigm.errors import ProtocolError
    from paradigm.protocol_load import load_protocol
    from paradigm.session import measures_record
    from paradigm.study_sim import StudySimulator

    from .formula import parse_formula
    from .measures import Measure

    participants = _check(participants, n_sims, alpha, backend)
    try:
        loaded = load_protocol(protocol, list(overrides))
        manifest = read_manifest(loaded.manifest_path)
    except (ProtocolError, FileNotFoundError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    names = [r.name for r in loaded.protocol.ratings]
    rating = rating or (names[0] if names else None)
    if rating not in names:
        raise ValueError(f"'rating' must be one of {', '.join(names) or '(the protocol has no rating)'} "
                         f"(got {rating!r})")
    params = {f"ratings.{rating}.effects.{term}": value for term, value in (effects or {}).items()}
    try:
        simulate = StudySimulator(loaded, manifest, params=params)
    except (ProtocolError, ValueError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    record = measures_record(loaded.protocol)
    measures = {f"rating_{n}": Measure(f"rating_{n}", "rating", tuple(r["range"]), r["timeout_s"], r["asked_when"])
                for n, r in record["ratings"].items()}
    if record["judgement"] is not None:
        measures["judgement"] = Measure("judgement", "judgement", None, record["judgement"]["timeout_s"], {})
    measure = f"rating_{rating}"
    start = _start_formula(simulate(min(participants), seed), measure, measures, config, slopes)
    terms = list(terms) if terms else [":".join(t) for t in parse_formula(start).fixed.terms]
    analysis = ReportRatingAnalysis(measure, measures, config, slopes, tuple(terms))
    outcomes = _simulate_and_analyse(simulate, analysis, participants, int(n_sims), n_jobs=n_jobs, backend=backend,
                                     seed=seed, progress=progress)
    models = pd.DataFrame([(n, model, k) for n, studies in outcomes.items()
                           for model, k in Counter(o.model for o in studies).most_common()],
                          columns=["participants", "model", "n_studies"])
    sentence = (f"each simulated study analysed as analysis report analyses {rating}: the report's exclusions, "
                f"then a linear mixed model starting from {start} and simplified while singular (zero correlations, "
                f"drop zero-variance terms or the smallest slope, restore correlations), Satterthwaite p < {alpha:g}")
    return PowerResult(table=_power_table(outcomes, terms, alpha), models=models, rating=rating, start_formula=start,
                       analysis=sentence,
                       params={"alpha": alpha, "n_sims": int(n_sims), "effects": dict(effects or {})})


def _start_formula(sample, measure, measures, config, slopes) -> str:
    """The formula the report's selection starts from, on one simulated study (after its exclusions)."""
    from .measures import factors_present
    from .models import RandomPart, maximal_random, model_formula
    from .report_sections import scope_of

    trials = ReportRatingAnalysis(measure, measures, config, slopes).checked(sample)
    scope = scope_of(trials, measure, factors_present(trials))
    used = trials[trials[f"use_{measure}"]]
    random = maximal_random(used, scope.factors) if slopes == "maximal" else RandomPart(tuple(slopes))
    return model_formula(measure, scope.factors, random)


def _run(simulate, analysis, tasks, n_jobs, backend, progress):
    if backend == "dask":
        try:
            from dask.distributed import get_client
        except ImportError:
            raise ImportError("backend='dask' needs dask.distributed (pip install 'dask[distributed]')") from None
        client = get_client()
        futures = client.map(lambda t: analysis(simulate(t[0], t[1])), tasks)
        return client.gather(futures)
    if not n_jobs or n_jobs == 1:
        out = []
        for n, s in tasks:
            out.append(analysis(simulate(n, s)))
            if progress:
                progress(1)
        return out
    from joblib import Parallel, delayed

    # chunks of studies, so the simulator and analysis are sent to a worker a few times, not per study
    size = max(1, min(CHUNK, -(-len(tasks) // (4 * n_jobs))))
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    out = []
    for results in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_chunk)(simulate, analysis, c)
                                                                   for c in chunks):
        out += results
        if progress:
            progress(len(results))
    return out


def _chunk(simulate, analysis, tasks):
    return [analysis(simulate(n, seed)) for n, seed in tasks]


def plot_power(table: pd.DataFrame, path, *, alpha=0.05):
    """Power against sample size per term, with Wilson 95% intervals, as a PNG (matplotlib's Agg canvas).

    Terms are drawn side by side (a small horizontal offset each) with their own marker,
    so lines that coincide (power 1 for several terms) stay visible.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    groups = list(table.groupby("term", sort=False))
    sizes = sorted(int(n) for n in table["participants"].unique())
    step = float(min(np.diff(sizes)) if len(sizes) > 1 else max(sizes[0], 1)) * 0.3 / max(len(groups), 1)
    markers = "osD^v<>phX*"
    for i, (term, rows) in enumerate(groups):
        x = rows["participants"].to_numpy(float) + (i - (len(groups) - 1) / 2) * step
        power = rows["power"].to_numpy(float)
        below = np.clip(power - rows["ci_low"].to_numpy(float), 0.0, None)
        above = np.clip(rows["ci_high"].to_numpy(float) - power, 0.0, None)
        ax.errorbar(x, power, yerr=np.vstack([below, above]), marker=markers[i % len(markers)], capsize=3, label=term,
                    alpha=0.85)
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.axhline(alpha, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="participants", ylabel="power", ylim=(-0.02, 1.04), xticks=sizes)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="term", title_fontsize=7)
    fig.savefig(path, dpi=120)
    return path
