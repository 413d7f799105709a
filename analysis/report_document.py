"""The report's HTML document: its sections, in order, from the tables, fits and figures (all text escaped)."""
from __future__ import annotations

import pandas as pd

from .qc import SOURCES
from .report_html import esc, page, table

__all__ = ["document"]


def _label(measure):
    return measure.removeprefix("rating_").replace("_", " ")


def _p(text):
    return f"<p>{esc(text)}</p>"


def _data_section(data, qc, tables) -> str:
    people = qc.participants
    parts = [_p(f"{len(data.files)} trial files, protocol(s) {', '.join(map(str, data.protocols))}; "
                f"{len(people)} participants, {len(data.trials)} main trials (and {len(data.practice)} practice "
                f"trials set aside); ratings: {', '.join(data.ratings)}; judgement: "
                f"{'yes' if data.has_judgement else 'none in these data'}.")]
    for warning in data.warnings + qc.warnings:
        parts.append(f'<div class="warn">{esc(warning)}</div>')
    if len(tables["skipped_files"]):
        parts.append("<h3>CSV files not read</h3>" + table(tables["skipped_files"]))
    if len(tables["dropped_rows"]):
        parts.append("<h3>Rows and answers left out while reading</h3>" + table(tables["dropped_rows"]))
    parts.append(_sessions_part(data.sessions))
    parts.append("<h3>Participants</h3>")
    n_out = int(people["excluded"].sum())
    parts.append(_p(f"{n_out} of {len(people)} participants excluded."))
    parts.append(table(people, digits={"missing_rate": 3, "accuracy": 3}))
    parts.append("<h3>Trials per measure</h3>" + table(tables["exclusions_trials"]))
    c = qc.config
    rows = [("anticipation_s", f"RT < {c.anticipation_s:g} s", SOURCES["anticipation_s"]),
            ("rt_z", f"|z| > {c.rt_z:g} on log RT within participant", SOURCES["rt_z"]),
            ("max_missing", f"more than {c.max_missing:.0%} of the trials asking a measure unanswered", SOURCES["max_missing"]),
            ("min_accuracy", f"judgement accuracy below {c.min_accuracy:.0%}", SOURCES["min_accuracy"]),
            ("exclude_incomplete", "yes" if c.exclude_incomplete else "no", SOURCES["exclude_incomplete"]),
            ("duration_tolerance_s", f"{c.duration_tolerance_s * 1000:.1f} ms; trials excluded for timing: "
                                     f"{'yes' if c.exclude_timing else 'no (reported only)'}",
             SOURCES["duration_tolerance_s"])]
    parts.append("<h3>Exclusion rules</h3>" + table(pd.DataFrame(rows, columns=["setting", "rule", "source"])))
    return "".join(parts)


def _sessions_part(sessions) -> str:
    """Sessions: how completeness was judged, and the sessions that are incomplete or disagree with their sidecar."""
    if not len(sessions):
        return ""
    odd = sessions[~sessions["complete"] | (sessions["note"] != "")]
    bases = "; ".join(sorted(set(sessions["basis"])))
    text = _p(f"{len(sessions)} sessions; {int(sessions['complete'].sum())} complete. Completeness is judged from "
              f"the rows on disk ({bases}); a sidecar's status is a cross-check.")
    columns = ["participant", "session", "file", "status", "n_rows", "n_planned", "complete", "note"]
    return "<h3>Sessions</h3>" + text + (table(odd[columns]) if len(odd) else "")


def _scope_notes(summary) -> str:
    """Each measure's scope sentence and what could not be estimated."""
    parts = [_p(m["scope_note"]) for m in summary["measures"] if m.get("scope_note")]
    for m in summary["measures"]:
        for analysis, reason in m.get("not_estimable", {}).items():
            parts.append(f'<div class="warn">{esc(_label(m["measure"]))}, {esc(analysis)}: not estimable — '
                         f"{esc(reason)}</div>")
    return "".join(parts)


def _timing_section(qc) -> str:
    t = qc.timing
    if not t.get("available"):
        return _p("The data hold no timing columns (dropped_frames, stimulus onsets and offsets are empty); "
                  "no timing check was possible.")
    names = {"n_trials": "main trials", "n_dropped_trials": "trials with dropped frames",
             "n_dropped_frames": "dropped frames in all", "intended_s": "intended stimulus duration (s)",
             "deviation_ms_mean": "measured − intended, mean (ms)",
             "deviation_ms_sd": "measured − intended, SD (ms)",
             "deviation_ms_max": "largest |measured − intended| (ms)",
             "n_off_duration": "trials off the intended duration by more than the tolerance",
             "n_flagged": "trials flagged for timing"}
    rows = [(names.get(k, k), f"{v:d}" if isinstance(v, int) else f"{v:.3f}") for k, v in t.items()
            if k not in ("available", "intended_from")]
    body = table(pd.DataFrame(rows, columns=["quantity", "value"]))
    source = ("the protocol's stimulus duration, as recorded in every session's sidecar"
              if t.get("intended_from") == "protocol" else
              "the most common measured duration (durations are whole frames; the sidecars do not name one fixed "
              "duration)")
    note = (f"Measured duration = stimulus_offset_s − stimulus_onset_s; the intended duration is {source}. "
            "A pilot runs on a virtual clock, so its timing is exact by construction.")
    return body + _p(note)


def _descriptives_section(tables, data, summary) -> str:
    parts = [_scope_notes(summary)]
    for r in data.ratings:
        parts.append(f"<h3>{esc(_label(r))}: cell means over participant means</h3>")
        parts.append(table(tables[f"descriptives_{r}"]))
        parts.append(f"<h3>{esc(_label(r))}: pain − neutral on participant means (d_z)</h3>")
        parts.append(table(tables[f"effect_sizes_{r}"]))
    if "judgement_accuracy" in tables:
        parts.append("<h3>Judgement accuracy (proportion correct)</h3>"
                     + table(tables["judgement_accuracy"], digits={"mean": 3, "sd": 3, "ci_low": 3, "ci_high": 3}))
    parts.append(_p("Mean, SD and 95% CI (t) are over participants' cell means, so n is the number of "
                    "participants."))
    return "".join(parts)


def _figures_section(figures) -> str:
    captions = {"ratings": "Ratings by condition: each participant's cell mean and the mean ± 95% CI.",
                "rt": "Response-time distributions of kept trials.",
                "items": "Per-stimulus (item) means.",
                "participants": "Participant QC: missing trials (and judgement accuracy) with thresholds."}
    return "".join(f'<figure><img alt="{esc(captions[k])}" src="{v}"><figcaption>{esc(captions[k])}'
                   f"</figcaption></figure>" for k, v in figures.items())


def _anova_section(tables, data, summary) -> str:
    parts = []
    for r, m in zip(data.ratings, summary["measures"]):
        digits = {"num_df": 0, "den_df": 0, "F": 2, "eta_p2": 3, "gg_epsilon": 3}
        parts.append(f"<h3>{esc(_label(r))}</h3>" + table(tables[f"anova_{r}"], digits=digits))
        if m["anova_left_out"]:
            parts.append(_p(f"Left out for an incomplete design: {', '.join(map(str, m['anova_left_out']))}."))
    parts.append(_p("Repeated-measures ANOVA on participant cell means (univariate F tests from orthonormal "
                    "contrasts of the cell means, equal to statsmodels' AnovaRM on a complete design); "
                    + summary["sphericity_note"] + " eta_p2 is partial η²."))
    return "".join(parts)


def _fit_tables(fit, key, tables) -> str:
    res = fit.result
    logistic = hasattr(res, "conditional_deviance")
    fitted = (f"Laplace −2 log-likelihood {res.deviance:.2f}" if logistic else
              f"REML criterion {res.criterion:.2f}, residual SD {res.sigma:.3f}")
    parts = [f"<p>Final model: <code>{esc(fit.formula)}</code> — {res.n_obs} trials, {fitted}, "
             f"converged: {'yes' if res.converged else 'no'}, singular: {'yes' if res.singular else 'no'}.</p>"]
    for note in res.warnings:
        parts.append(f'<div class="warn">{esc(note)}</div>')
    if f"lmm_selection_{key}" in tables:
        parts.append("<p>Random-structure selection (from the largest candidate, simplified while singular):</p>"
                     + table(tables[f"lmm_selection_{key}"]))
    parts.append("<p>Fixed effects (log-odds, Wald z, 95% CI):</p>" + table(res.fixed) if logistic else
                 "<p>Fixed effects (Satterthwaite df, 95% CI):</p>" + table(res.fixed, digits={"df": 1}))
    rnd = res.random.copy()
    rnd["term2"] = rnd["term2"].fillna("")
    parts.append("<p>Random effects (variance / covariance; sdcor: SD or correlation):</p>"
                 + table(rnd, digits={"vcov": 3, "sdcor": 3}))
    return "".join(parts)


def _models_section(tables, fits, data, summary) -> str:
    coding = _p("Effect coding: pain, self, out-group and hand = +0.5, their other levels −0.5, so a coefficient "
                "is the difference between the levels and the intercept is the grand mean of the cells.")
    parts = [_scope_notes(summary), coding]
    if not fits:
        return "".join(parts[:1]) + _p("No mixed model was fitted (none requested, or none estimable).")
    for r in data.ratings:
        measure = f"rating_{r}"
        if measure not in fits:
            continue
        parts.append(f"<h3>{esc(_label(r))}</h3>" + _fit_tables(fits[measure], r, tables))
        parts.append("<p>Type-III tests (Satterthwaite):</p>" + table(tables[f"lmm_anova_{r}"], digits={"den_df": 1}))
        if f"simulation_truth_{r}" in tables:
            parts.append("<p>Simulated data: the simulation's true values against the estimates, on the rating's "
                         "scale. <i>true</i> is the expected observed effect — the latent model pushed through the "
                         "anchors, clipping and rounding of the answers (computed by the pilot from a large "
                         "simulated sample) — and <i>covered</i> says whether the 95% CI holds it; "
                         "<i>true_latent</i> is the latent model's value before answers reach the scale, which "
                         "the estimates need not cover where answers pile at an anchor.</p>"
                         + table(tables[f"simulation_truth_{r}"]))
    for key, fit in fits.items():
        if key.endswith("_rt") or key == "judgement_rt":
            parts.append(f"<h3>log RT: {esc(_label(key))}</h3>" + _fit_tables(fit, key, tables))
    if "accuracy_model_note" in tables:
        parts.append("<h3>Judgement accuracy: logistic mixed model</h3>"
                     f'<div class="warn">not fitted: {esc(tables["accuracy_model_note"]["not_fitted"].iloc[0])}</div>')
    if "judgement_accuracy" in fits:
        parts.append("<h3>Judgement accuracy: logistic mixed model</h3>"
                     + _fit_tables(fits["judgement_accuracy"], "judgement_accuracy", tables))
    return "".join(parts)


def _contrasts_section(tables, data) -> str:
    parts = []
    for r in data.ratings:
        if f"contrasts_{r}" not in tables:
            continue
        parts.append(f"<h3>{esc(_label(r))}: model-based cell means (stimulus type averaged)</h3>"
                     + table(tables[f"marginal_means_{r}"], digits={"df": 1}))
        parts.append(f"<h3>{esc(_label(r))}: contrasts</h3>" + table(tables[f"contrasts_{r}"], digits={"df": 1}))
    if not parts:
        return _p("No rating models were fitted (none requested, or the data hold no ratings), so no contrasts.")
    parts.append(_p("Contrasts are linear combinations l'β of the fixed effects with SE √(l'Vl) from their "
                    "covariance V and Satterthwaite df for the single contrast (the engine's df_contrast)."))
    return "".join(parts)


def _methods_section(summary, fits) -> str:
    from .methods_text import methods_results

    paras = "".join(_p(p) for p in methods_results(summary))
    formulas = "\n".join(f.formula for f in fits.values()) or "(no models)"
    versions = pd.DataFrame(list(summary["versions"].items()), columns=["software", "version"])
    return (f'<div class="methods">{paras}</div><h3>Exact formulas (lme4 notation)</h3><pre>{esc(formulas)}</pre>'
            f"<h3>Software</h3>{table(versions)}")


def document(data, qc, factors, tables, fits, figures, summary) -> str:
    """The report as one HTML string."""
    sections = [
        ("data", "Data and exclusions", _data_section(data, qc, tables)),
        ("timing", "Timing QC", _timing_section(qc)),
        ("descriptives", "Descriptives", _descriptives_section(tables, data, summary)),
        ("figures", "Figures", _figures_section(figures)),
        ("anova", "Repeated-measures ANOVA", _anova_section(tables, data, summary)),
        ("models", "Mixed models", _models_section(tables, fits, data, summary)),
        ("contrasts", "Marginal means and contrasts", _contrasts_section(tables, data)),
        ("methods", "Methods and results", _methods_section(summary, fits)),
    ]
    title = f"Pain-empathy report: {', '.join(map(str, data.protocols))}"
    intro = _p(f"Design factors present: {', '.join(factors) or 'none'}.")
    return page(title, intro, sections, data.simulated)
