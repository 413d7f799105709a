"""``build_report``: from trial CSVs to one self-contained HTML report and its tables as CSV.

Steps: read and check (``read_trials``), QC and exclusions (``apply_qc``), descriptives
and d_z, repeated-measures ANOVA, mixed models with contrasts, log-RT models, figures,
the methods-and-results text; each table is also written as ``<report stem>_<table>.csv``,
spreadsheet-safe (a text cell that a spreadsheet would run as a formula is prefixed with ').
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import report_sections as sections
from .descriptives import cell_descriptives, factors_present, pain_effect_sizes
from .design_matrices import DESIGN_CONTRASTS
from .estimable import NotEstimable
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


def _design_rows(terms: list, cells: pd.DataFrame) -> np.ndarray:
    """The fixed-effect design rows (the design's effect coding) of ``cells``, one column per term."""
    X = np.ones((len(cells), len(terms)))
    for j, term in enumerate(terms):
        if term == "(Intercept)":
            continue
        for factor in term.split(":"):
            coding = DESIGN_CONTRASTS.get(factor, {})
            X[:, j] *= cells[factor].map(lambda v: coding.get(v, 0.0)).to_numpy(float) if factor in cells else 0.0
    return X


def truth_table(params: dict | None, observed: dict | None, measure: str, fixed: pd.DataFrame,
                value_range=None, asked_when=None) -> pd.DataFrame | None:
    """A pilot's true fixed effects beside the estimates: on the data's scale, and the latent model's.

    ``true`` is the expected *observed* effect — the least-squares projection of the
    pilot's expected answers per design cell (the latent model pushed through anchor
    snapping, clipping and rounding, ``simulation.observed_cell_means`` in the sidecars)
    onto the fitted model's fixed effects, over the cells that asked the measure
    (``asked_when``) — and ``covered`` compares the 95% CI with it.
    ``true_latent`` is the latent model's value (its percent-of-range numbers on the
    rating's scale), which the estimates need not cover where answers pile at an anchor.
    """
    name = measure.removeprefix("rating_")
    latent = ((params or {}).get("ratings") or {}).get(name) or (params or {}).get("default_rating")
    cells = (observed or {}).get(name)
    if not latent and not cells:
        return None
    low, high = value_range if value_range else (0.0, 100.0)
    terms = list(fixed["term"])
    rows = pd.DataFrame({"term": terms})
    if latent:
        span = (high - low) / 100.0
        effects = {"(Intercept)": low + latent["intercept"] * span,
                   **{k: v * span for k, v in latent.get("effects", {}).items()}}
        rows["true_latent"] = [effects.get(t, 0.0) for t in terms]
    if cells:
        cells = pd.DataFrame(cells)
        for factor, levels in (asked_when or {}).items():
            cells = cells[cells[factor].isin(list(levels))]
        beta, *_ = np.linalg.lstsq(_design_rows(terms, cells), cells["mean"].to_numpy(float), rcond=None)
        rows["true"] = beta
    else:
        rows["true"] = rows["true_latent"]
    rows["estimate"] = fixed["estimate"].to_numpy()
    rows["ci_low"], rows["ci_high"] = fixed["ci_low"].to_numpy(), fixed["ci_high"].to_numpy()
    rows["covered"] = (rows["ci_low"] <= rows["true"]) & (rows["true"] <= rows["ci_high"])
    return rows[["term", "true", *(["true_latent"] if latent else []), "estimate", "ci_low", "ci_high", "covered"]]


def build_report(paths, out=None, *, config: QcConfig | None = None, ratings=None, models=MODEL_KINDS,
                 slopes="maximal", allow_mixed_protocols: bool = False, read_options: dict | None = None,
                 progress=None, verbose=None) -> Report:
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
    read_options : dict, optional
        Further options of ``read_trials`` (``allow_out_of_range``, ``scales``).
    progress : callable, optional
        ``progress(step_name)`` after each step (the CLI drives a progress bar with it).
    verbose : bool, optional
        Log each step at INFO level.
    """
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

    data = read_trials(paths, allow_mixed_protocols=allow_mixed_protocols, **(read_options or {}))
    _choose_ratings(data, ratings)
    step("read")
    qc = apply_qc(data, config)
    _enough_participants(qc)
    step("qc")
    report = _Builder(data, qc, models, slopes, step).run()
    if out is not None:
        _write(report, Path(out))
    step("written")
    return report


def _choose_ratings(data, ratings):
    if not ratings:
        return
    unknown = [r for r in ratings if r not in data.ratings]
    if unknown:
        raise ValueError(f"rating '{unknown[0]}' is not in the data (ratings: {', '.join(data.ratings)})")
    data.ratings = [r for r in data.ratings if r in ratings]
    data.measures = {k: m for k, m in data.measures.items() if m.kind != "rating" or k[len("rating_"):] in ratings}


def _enough_participants(qc):
    people = qc.participants
    kept = int((~people["excluded"]).sum())
    if kept >= 2:
        return
    out = people[people["excluded"]]
    example = (f" (e.g. {out['participant'].iat[0]}: {out['reason'].iat[0]})" if len(out) else "")
    raise ValueError(f"{kept} of {len(people)} participants remain after the exclusions{example}; a report needs at "
                     f"least 2" + ("; check the thresholds (--max-missing, --min-accuracy, --keep-incomplete)"
                                   if len(out) else ""))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot run as spreadsheet formulas: a leading = + - @ tab or CR gets a ' (OWASP)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START)
                                          else v)
    return out


def _write(report, out: Path):
    """The HTML page and each table as ``<stem>_<name>.csv``; never over a data file given as input."""
    inputs = {Path(f).resolve() for f in report.data.files}
    targets = [out] + [out.with_name(f"{out.stem}_{name}.csv") for name in report.tables]
    clash = next((t for t in targets if t.resolve() in inputs), None)
    if clash is not None:
        raise ValueError(f"-o {out}: the report would write {clash}, which is one of the data files read; "
                         f"choose another output name")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.html, encoding="utf-8")
    report.paths.append(out)
    for name, frame in report.tables.items():
        if isinstance(frame, pd.DataFrame) and len(frame.columns):
            path = out.with_name(f"{out.stem}_{name}.csv")
            spreadsheet_safe(frame).to_csv(path, index=False)
            report.paths.append(path)


class _Builder:
    """The report's steps in order; each fills ``tables``, ``fits`` and the per-measure summaries."""

    def __init__(self, data, qc, models, slopes, step):
        self.data, self.qc, self.models, self.slopes, self.step = data, qc, models, slopes, step
        self.trials = qc.trials
        self.factors = factors_present(self.trials)
        self.ratings = [f"rating_{r}" for r in data.ratings]
        self.scopes = {m: sections.scope_of(self.trials, m, self.factors) for m in qc.measures}
        self.tables, self.fits, self.per_measure, self.rt_formulas = {}, {}, {}, []
        self.not_estimable = []   # (measure, analysis, reason)

    def run(self) -> Report:
        for measure in self.ratings:
            self._rating(measure)
        self.step("descriptives, ANOVA and rating models")
        if "rt" in self.models:
            for measure in self.qc.measures:
                self._rt(measure)
            self.step("log-RT models")
        if self.data.has_judgement:
            self._accuracy()
        self._qc_tables()
        figures = sections.figures(self.trials, self.ratings, self.scopes, self.qc, self.data.has_judgement)
        self.step("figures")
        summary = sections.summary(self.data, self.qc, self.factors, self.tables, self.fits, self.ratings,
                                   self.rt_formulas, [self.per_measure[m] for m in self.ratings])
        from .report_document import document

        html = document(self.data, self.qc, self.factors, self.tables, self.fits, figures, summary)
        self.step("html")
        return Report(html=html, tables=self.tables, fits=self.fits, data=self.data, qc=self.qc, summary=summary)

    def _refused(self, measure, analysis, reason):
        self.not_estimable.append((measure.removeprefix("rating_"), analysis, reason))
        self.per_measure.setdefault(measure, {"not_estimable": {}})["not_estimable"][analysis] = reason

    def _rating(self, measure):
        key, scope = measure.removeprefix("rating_"), self.scopes[measure]
        entry = self.per_measure.setdefault(measure, {"not_estimable": {}})
        entry["scope"] = scope
        used = self.trials[self.trials[f"use_{measure}"]]
        factors = scope.factors
        self.tables[f"descriptives_{key}"] = cell_descriptives(used, measure, factors) if factors else pd.DataFrame()
        self.tables[f"effect_sizes_{key}"] = pain_effect_sizes(used, measure, factors)
        anova, left_out = sections.anova_for(used, measure, factors)
        self.tables[f"anova_{key}"] = anova
        entry["anova_left_out"] = left_out
        if factors and anova.empty:
            self._refused(measure, "repeated-measures ANOVA", "fewer than two participants with every cell")
        elif len(anova) and (anova["note"] != "").any():
            self._refused(measure, "repeated-measures ANOVA", f"{int((anova['note'] != '').sum())} of {len(anova)} "
                          f"terms have no error variance (every participant's contrast scores alike); their F and p "
                          f"are left empty")
        if "ratings" not in self.models:
            return
        try:
            fit, extra = sections.rating_model(self.trials, measure, factors, self.slopes,
                                               use=self.trials[f"use_{measure}"])
        except NotEstimable as exc:
            self._refused(measure, "mixed model", str(exc))
            return
        self.fits[measure] = fit
        self.tables[f"lmm_fixed_{key}"] = fit.result.fixed
        self.tables[f"lmm_random_{key}"] = fit.result.random
        self.tables.update({f"{name}_{key}": t for name, t in extra.items()})
        spec = self.data.measures.get(measure)
        if self.data.simulated:
            truth = truth_table(self.data.simulation_params, self.data.observed_truth, measure, fit.result.fixed,
                                spec.range if spec else None, self._asked_when(measure))
            if truth is not None:
                self.tables[f"simulation_truth_{key}"] = truth

    def _asked_when(self, measure):
        spec = self.data.measures.get(measure)
        return spec.asked_when if spec is not None else None

    def _rt(self, measure):
        try:
            fit = sections.rt_model(self.trials, measure, self.scopes[measure].factors)
        except NotEstimable as exc:
            self._refused(measure, "log-RT model", str(exc))
            return
        if fit is None:
            return
        key = f"{measure.removeprefix('rating_')}_rt"
        self.fits[key] = fit
        self.tables[f"lmm_fixed_log_{key}"] = fit.result.fixed
        self.rt_formulas.append(fit.formula)

    def _accuracy(self):
        trials, factors = self.trials, self.scopes["judgement"].factors
        used = trials[trials["judgement_correct"].notna() & ~trials["participant"].isin(self.qc.excluded_participants)]
        used = used.assign(accuracy=used["judgement_correct"].astype(float))
        self.tables["judgement_accuracy"] = cell_descriptives(used, "accuracy", factors, proportion=True)
        fit, why_not = sections.accuracy_model(used, factors) if "accuracy" in self.models else (None, None)
        if why_not:
            self.tables["accuracy_model_note"] = pd.DataFrame({"model": ["judgement accuracy"],
                                                               "not_fitted": [why_not]})
        if fit is not None:
            self.fits["judgement_accuracy"] = fit
            self.tables["glmm_fixed_judgement_accuracy"] = fit.result.fixed
            self.tables["glmm_random_judgement_accuracy"] = fit.result.random
            self.tables["lmm_selection_judgement_accuracy"] = sections.selection_steps(fit)
            self.step("model judgement accuracy")

    def _qc_tables(self):
        data, qc = self.data, self.qc
        self.tables["exclusions_participants"] = qc.participants
        self.tables["exclusions_trials"] = qc.trial_counts
        self.tables["sessions"] = data.sessions.drop(columns=["intended_stimulus_s"], errors="ignore")
        self.tables["dropped_rows"] = pd.DataFrame(data.dropped, columns=["file", "line", "reason"])
        self.tables["skipped_files"] = pd.DataFrame(data.skipped_files, columns=["file", "reason"])
        self.tables["not_estimable"] = pd.DataFrame(self.not_estimable, columns=["measure", "analysis", "reason"])
