"""``build_report``: from trial CSVs to one self-contained HTML report and its tables as CSV.

Steps: read and check (``read_trials``), QC and exclusions (``apply_qc``), descriptives
and d_z, repeated-measures ANOVA, mixed models with contrasts, log-RT models, figures,
the methods-and-results text; each table is also written as ``<report stem>_<table>.csv``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .descriptives import cell_descriptives, factors_present, pain_effect_sizes
from .models import SLOPE_FACTORS
from .qc import QcConfig, apply_qc
from .read import read_trials

__all__ = ["MODEL_KINDS", "Report", "build_report"]

logger = logging.getLogger(__name__)
MODEL_KINDS = ("ratings", "rt", "accuracy")


@dataclass
class Report:
    """What a report holds: the HTML, its tables by name, the fitted models and the checked data."""

    html: str
    tables: dict
    fits: dict
    data: object
    qc: object
    summary: dict = field(default_factory=dict)
    paths: list = field(default_factory=list)


def _truth_table(params: dict, measure: str, fixed: pd.DataFrame) -> pd.DataFrame | None:
    name = measure.removeprefix("rating_")
    ratings = (params or {}).get("ratings", {})
    truth = ratings.get(name) or (params or {}).get("default_rating")
    if not truth:
        return None
    true = {"(Intercept)": truth["intercept"], **truth.get("effects", {})}
    rows = []
    for r in fixed.itertuples():
        key = r.term
        value = true.get(key, 0.0)
        rows.append((r.term, value, r.estimate, r.ci_low, r.ci_high, bool(r.ci_low <= value <= r.ci_high)))
    return pd.DataFrame(rows, columns=["term", "true", "estimate", "ci_low", "ci_high", "covered"])


def build_report(paths, out=None, *, config: QcConfig | None = None, ratings=None, models=MODEL_KINDS,
                 slopes="maximal", allow_mixed_protocols: bool = False, progress=None, verbose=None) -> Report:
    """Build the HTML report of the trial CSVs in ``paths``; write it to ``out`` when given.

    Parameters
    ----------
    paths : path or list of paths
        Trial CSV files or folders (see ``read_trials``).
    out : path, optional
        The HTML file; the tables go beside it as ``<stem>_<table>.csv``.
    config : QcConfig, optional
        Exclusion thresholds (defaults documented in ``analysis.qc``).
    ratings : list of str, optional
        Rating names to analyse (default: every rating in the files).
    models : iterable of {"ratings", "rt"}
        Which mixed models to fit: rating models with contrasts, log-RT models.
    slopes : "maximal" or iterable of str
        The random slopes the rating models start from: ``"maximal"`` (default; the
        maximal structure the design supports, ``analysis.models.maximal_random``) or
        participant slopes; the singular-fit rule of ``analysis.models`` simplifies from there.
    allow_mixed_protocols : bool
        Accept files of several protocols.
    progress : callable, optional
        ``progress(step_name)`` after each step (the CLI drives a progress bar with it).
    verbose : bool, optional
        Log each step at INFO level.
    """
    from . import report_sections as sections

    config = config or QcConfig()
    models = tuple(models)
    if slopes != "maximal":
        slopes = (slopes,) if isinstance(slopes, str) else tuple(slopes)
        wrong = [s for s in slopes if s not in SLOPE_FACTORS]
        if wrong:
            raise ValueError(f"'slopes' must be maximal or among {', '.join(SLOPE_FACTORS)} (got {wrong[0]!r})")
    bad = [m for m in models if m not in MODEL_KINDS]
    if bad:
        raise ValueError(f"'models' must be among {', '.join(MODEL_KINDS)} (got {bad[0]!r})")

    def step(name):
        if verbose:
            logger.info("report: %s", name)
        if progress is not None:
            progress(name)

    data = read_trials(paths, allow_mixed_protocols=allow_mixed_protocols)
    if ratings:
        unknown = [r for r in ratings if r not in data.ratings]
        if unknown:
            raise ValueError(f"rating '{unknown[0]}' is not in the data (ratings: {', '.join(data.ratings)})")
        data.ratings = [r for r in data.ratings if r in ratings]
    step("read")
    qc = apply_qc(data, config)
    kept = int((~qc.participants["excluded"]).sum())
    if kept < 2:
        first = qc.participants[qc.participants["excluded"]].iloc[0]
        raise ValueError(f"only {kept} of {len(qc.participants)} participants remain after the exclusions (e.g. "
                         f"{first['participant']}: {first['reason']}); a report needs at least 2 — check the "
                         f"thresholds (--max-missing, --min-accuracy, --keep-incomplete)")
    trials = qc.trials
    factors = factors_present(trials)
    rating_measures = [f"rating_{r}" for r in data.ratings]
    step("qc")
    tables, fits, summaries = {}, {}, []
    for measure in rating_measures:
        used = trials[trials[f"use_{measure}"]]
        key = measure.removeprefix("rating_")
        tables[f"descriptives_{key}"] = cell_descriptives(used, measure, factors) if factors else pd.DataFrame()
        tables[f"effect_sizes_{key}"] = pain_effect_sizes(used, measure, factors)
        anova, left_out = sections.anova_for(used, measure, factors)
        tables[f"anova_{key}"] = anova
        summaries.append({"measure": measure, "anova_left_out": left_out})
    step("descriptives and ANOVA")
    rt_formulas = []
    if "ratings" in models:
        for measure, summ in zip(rating_measures, summaries):
            key = measure.removeprefix("rating_")
            fit, extra = sections.rating_model(trials[trials[f"use_{measure}"]], measure, factors, slopes)
            fits[measure] = fit
            tables[f"lmm_fixed_{key}"] = fit.result.fixed
            tables[f"lmm_random_{key}"] = fit.result.random
            tables.update({f"{name}_{key}": t for name, t in extra.items()})
            truth = _truth_table(data.simulation_params, measure, fit.result.fixed) if data.simulated else None
            if truth is not None:
                tables[f"simulation_truth_{key}"] = truth
            step(f"model {key}")
    if "rt" in models:
        rt_measures = rating_measures + (["judgement"] if data.has_judgement else [])
        for measure in rt_measures:
            fit = sections.rt_model(trials, measure, factors)
            if fit is None:
                continue
            key = f"{measure.removeprefix('rating_')}_rt"
            fits[key] = fit
            tables[f"lmm_fixed_log_{key}"] = fit.result.fixed
            rt_formulas.append(fit.formula)
            step(f"model {key}")
    if data.has_judgement:
        used = trials[trials["judgement_correct"].notna() & ~trials["participant"].isin(qc.excluded_participants)]
        used = used.assign(accuracy=used["judgement_correct"].astype(float))
        tables["judgement_accuracy"] = cell_descriptives(used, "accuracy", factors)
        fit, why_not = sections.accuracy_model(used, factors) if "accuracy" in models else (None, None)
        if why_not:
            tables["accuracy_model_note"] = pd.DataFrame({"model": ["judgement accuracy"], "not_fitted": [why_not]})
        if fit is not None:
            fits["judgement_accuracy"] = fit
            tables["glmm_fixed_judgement_accuracy"] = fit.result.fixed
            tables["glmm_random_judgement_accuracy"] = fit.result.random
            tables["lmm_selection_judgement_accuracy"] = sections.selection_steps(fit)
            step("model judgement accuracy")
    tables["exclusions_participants"] = qc.participants
    tables["exclusions_trials"] = qc.trial_counts
    tables["dropped_rows"] = pd.DataFrame(data.dropped, columns=["file", "line", "reason"])
    figures = sections.figures(trials, rating_measures, factors, qc, data.has_judgement)
    step("figures")
    summary = sections.summary(data, qc, factors, tables, fits, rating_measures, rt_formulas, summaries)
    from .report_document import document

    html = document(data, qc, factors, tables, fits, figures, summary)
    step("html")
    report = Report(html=html, tables=tables, fits=fits, data=data, qc=qc, summary=summary)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(html, encoding="utf-8")
        report.paths.append(out)
        for name, frame in tables.items():
            if isinstance(frame, pd.DataFrame) and len(frame.columns):
                path = out.with_name(f"{out.stem}_{name}.csv")
                frame.to_csv(path, index=False)
                report.paths.append(path)
    step("written")
    return report

