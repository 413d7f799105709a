"""The report's statistical steps per measure: its scope, ANOVA, rating and log-RT models, figures, the summary."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .descriptives import participant_means
from .estimable import NotEstimable, check_fit, check_response
from .measures import describe_asked, measure_factors
from .models import cell_means, fit_with_selection, pain_contrasts
from .rm_anova import rm_anova

__all__ = ["MeasureScope", "anova_for", "figures", "rating_fit", "rating_model", "rt_model", "scope_of", "summary"]


@dataclass(frozen=True)
class MeasureScope:
    """Where a measure was asked and which design factors its tables and models use."""

    measure: str
    factors: list
    left_out: list      # design factors constant within the measure's asked trials
    asked: str | None   # e.g. "only on self trials (perspective)"; None = every trial

    @property
    def note(self) -> str:
        """One sentence for the report (empty when the measure was asked on every trial of the design)."""
        label = self.measure.removeprefix("rating_").replace("_", " ")
        parts = [f"{label} was asked {self.asked}"] if self.asked else []
        if self.left_out:
            parts.append(f"{' and '.join(self.left_out)} {'does' if len(self.left_out) == 1 else 'do'} not vary "
                         f"within its answers and {'is' if len(self.left_out) == 1 else 'are'} left out of its "
                         f"tables and models")
        return (("; ".join(parts) + ".").capitalize() if parts else "")


def scope_of(trials: pd.DataFrame, measure: str, factors: list[str]) -> MeasureScope:
    """The scope of ``measure`` from the QC'd trials (their ``asked_<measure>`` column)."""
    asked = trials[f"asked_{measure}"]
    varying, constant = measure_factors(trials if asked.all() else trials[asked], factors)
    return MeasureScope(measure, varying, constant, describe_asked(trials, asked))


def anova_for(used: pd.DataFrame, measure: str, factors: list[str]):
    """Repeated-measures ANOVA of ``measure`` over the factors present, on participant cell means."""
    if not factors:
        return pd.DataFrame(), []
    return rm_anova(participant_means(used, measure, factors), measure, factors)


def selection_steps(fit) -> pd.DataFrame:
    """The formulas a selection tried, numbered, with their singular and converged flags."""
    steps = pd.DataFrame(fit.steps, columns=["formula", "singular", "converged"])
    steps.insert(0, "step", range(1, len(steps) + 1))
    return steps


def rating_model(trials: pd.DataFrame, measure: str, factors: list[str], slopes="maximal", *, use=None):
    """The selected rating model and its tables: selection steps, type-III tests, cell means, contrasts.

    Raises ``NotEstimable`` (with the reason) for data no model can describe.
    """
    fit = rating_fit(trials, measure, factors, slopes, use=use)
    extra = {"lmm_selection": selection_steps(fit), "lmm_anova": fit.result.anova(),
             "marginal_means": cell_means(fit.result, factors), "contrasts": pain_contrasts(fit.result, factors)}
    return fit, extra


def rating_fit(trials: pd.DataFrame, measure: str, factors: list[str], slopes="maximal", *, use=None, cache=None):
    """The report's rating model of ``measure`` (maximal start, singular-fit rule), or ``NotEstimable``.

    The one definition the report and ``analysis.power`` share. ``use`` marks the trials
    that enter (default: all); the others are given to the fit as missing answers, so a
    power simulation's studies keep one set of rows and share ``cache`` (see
    ``analysis.models.fit_with_selection``).
    """
    data = trials if use is None else trials.assign(**{measure: trials[measure].where(use)})
    check_response(data[data[measure].notna()], measure, factors)
    return _fit_or_not_estimable(data, measure, factors, slopes=slopes, cache=cache)


def rt_model(trials: pd.DataFrame, measure: str, factors: list[str]):
    """Log-RT model with crossed random intercepts (judgement: correct trials only), or None without RTs."""
    rt = f"{measure}_rt_s"
    if rt not in trials.columns:
        return None
    keep = trials[f"use_{measure}"] & (trials[rt] > 0)
    if measure == "judgement":
        keep &= trials["judgement_correct"].fillna(False).astype(bool)
    data = trials[keep].copy()
    dv = f"log_{measure}_rt"
    data[dv] = np.log(data[rt])
    check_response(data, dv, factors)
    return _fit_or_not_estimable(data, dv, factors, slopes=())


def _fit_or_not_estimable(data, dv, factors, **options):
    """``fit_with_selection``, with a fit the data cannot support turned into ``NotEstimable``."""
    try:
        fit = fit_with_selection(data, dv, factors, **options)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise NotEstimable(f"the model cannot be fitted to these data ({str(exc).splitlines()[0]})") from None
    check_fit(fit.result, dv)
    return fit


def accuracy_model(used: pd.DataFrame, factors: list[str]):
    """Logistic mixed model of judgement accuracy (``analysis.glmm``): ``(fit, None)`` or ``(None, why not)``.

    Starts from ``(1 + pain | participant) + (1 | stimulus_id)`` — a glmer-style fit per
    candidate costs seconds, so the start is the pain slope rather than every slope — and is
    simplified by the same singular-fit rule as the rating models.
    """
    from .glmm import fit_glmm

    data = used.assign(correct=used["judgement_correct"].astype(int))
    if data["correct"].nunique() < 2 or data["participant"].nunique() < 2:
        return None, "accuracy does not vary (or fewer than two participants)"
    try:
        return fit_with_selection(data, "correct", factors, slopes=("pain",), fit=fit_glmm), None
    except ValueError as exc:
        cells = data.groupby(factors, observed=True)["correct"].mean() if factors else data["correct"]
        separated = bool(((cells == 0) | (cells == 1)).any())
        return None, (f"{exc}" + ("; a design cell is at 0 % or 100 % accuracy (complete separation)"
                                  if separated else ""))


def figures(trials, rating_measures, scopes, qc, has_judgement) -> dict:
    """The report's figures as data URIs by name (each rating over the factors of its scope)."""
    from . import figures as fig

    out = {"ratings": fig.ratings_plot(trials, rating_measures, {m: scopes[m].factors for m in rating_measures})} \
        if rating_measures else {}
    rt_measures = rating_measures + (["judgement"] if has_judgement else [])
    out["rt"] = fig.rt_plot(trials, rt_measures)
    if rating_measures and trials["stimulus_id"].astype(str).replace("", np.nan).notna().any():
        out["items"] = fig.item_plot(trials, rating_measures)
    out["participants"] = fig.participant_qc_plot(qc.participants, qc.config.max_missing, qc.config.min_accuracy)
    return out


def _row(table, column, value):
    if table is None or not len(table) or column not in table.columns:
        return None
    hit = table[table[column] == value]
    return hit.iloc[0].to_dict() if len(hit) else None


def summary(data, qc, factors, tables, fits, rating_measures, rt_formulas, per_measure) -> dict:
    """The numbers the methods-and-results text is written from."""
    from .methods_text import software_versions

    people = qc.participants
    excluded = people[people["excluded"]]
    multi = [f for f in factors if qc.trials[f].nunique() > 2]
    measures = []
    for measure, extra in zip(rating_measures, per_measure):
        key = measure.removeprefix("rating_")
        entry = {"measure": measure, "formula": fits[measure].formula if measure in fits else None}
        if measure in fits:
            con = tables[f"contrasts_{key}"]
            entry["pain"] = _row(con, "contrast", "pain − neutral (all)")
            entry["bias"] = _row(con, "contrast", "in-group bias: pain effect in-group − out-group")
            entry["perspective"] = _row(fits[measure].result.fixed, "term", "perspective")
        entry["anova_pain"] = _row(tables.get(f"anova_{key}"), "term", "pain")
        entry["dz"] = _row(tables.get(f"effect_sizes_{key}"), "cell", "all")
        entry["anova_left_out"] = extra["anova_left_out"]
        entry["scope_note"] = extra["scope"].note
        entry["not_estimable"] = extra["not_estimable"]
        measures.append(entry)
    counts = qc.trial_counts
    trial_exclusion = {}
    for measure in qc.measures:
        part = counts[(counts["measure"] == measure) & ~counts["reason"].isin(["kept", "participant excluded"])
                      & ~counts["reason"].str.startswith("not asked")]
        n_asked = int(qc.trials[f"asked_{measure}"].sum())
        trial_exclusion[measure] = 100.0 * part["n"].sum() / n_asked if n_asked else 0.0
    if multi:
        note = (f"for effects involving {', '.join(multi)} (more than two levels) Greenhouse–Geisser corrected p "
                f"values are reported; effects of two-level factors have one numerator df, so sphericity holds "
                f"trivially.")
    else:
        note = ("every factor had two levels, so each effect has one numerator df and sphericity holds trivially "
                "(no correction needed).")
    judgement = None
    if data.has_judgement:
        kept = people[~people["excluded"]]
        judgement = {"accuracy": float(kept["accuracy"].mean()), "accuracy_sd": float(kept["accuracy"].std()),
                     "rt_pain": _row(fits["judgement_rt"].result.fixed, "term", "pain")
                     if "judgement_rt" in fits else None,
                     "accuracy_pain": _row(fits["judgement_accuracy"].result.fixed, "term", "pain")
                     if "judgement_accuracy" in fits else None,
                     "accuracy_formula": fits["judgement_accuracy"].formula if "judgement_accuracy" in fits else None,
                     "accuracy_not_fitted": tables["accuracy_model_note"]["not_fitted"].iloc[0]
                     if "accuracy_model_note" in tables else None}
    return {"judgement": judgement, "n_files": len(data.files), "n_participants": int((~people["excluded"]).sum()),
            "n_excluded": int(len(excluded)),
            "exclusion_reasons": [f"{p}: {r}" for p, r in zip(excluded["participant"], excluded["reason"])],
            "simulated": data.simulated, "config": qc.config, "trial_exclusion": trial_exclusion,
            "factors": factors, "measures": measures, "rt_formulas": rt_formulas, "has_judgement": data.has_judgement,
            "sphericity_note": note, "versions": software_versions()}
