"""An APA-style methods-and-results paragraph written from the report's numbers, and the software versions."""
from __future__ import annotations

import platform
from importlib import metadata

import numpy as np

from .report_html import fmt_p

__all__ = ["methods_results", "software_versions"]

PACKAGES = ("numpy", "scipy", "pandas", "statsmodels", "matplotlib")


_MAXIMAL = ("starting from the maximal random structure the design supports (Barr et al., 2013): correlated "
            "random slopes on participants for every factor that varied within participants and on stimuli for "
            "every factor that varied within stimuli (main effects), and ")

def software_versions() -> dict:
    """Python and the numerical packages the report used, with their installed versions."""
    out = {"Python": platform.python_version()}
    from . import __version__

    out["analysis (this toolkit)"] = __version__
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


def _n(x, digits=2):
    return f"{x:.{digits}f}".replace("-", "−")


def _ci(row, digits=2):
    return f"[{_n(row['ci_low'], digits)}, {_n(row['ci_high'], digits)}]"


def _label(measure):
    return measure.removeprefix("rating_").replace("_", " ")


def methods_results(summary: dict) -> list[str]:
    """Paragraphs (plain text, to be escaped by the caller) from the report's summary numbers.

    ``summary`` keys: n_files, n_participants, n_excluded, exclusion_reasons, simulated,
    config, trial_exclusion (measure → percent), factors, measures (per rating: formula,
    pain (contrast row), bias (row or None), perspective (coefficient row or None),
    anova_pain (row or None), dz (row or None)), rt_formulas, versions.
    """
    s = summary
    c = s["config"]
    who = "simulated participants (a data-only pilot)" if s["simulated"] else "participants"
    paras = []
    excl = (f"{s['n_excluded']} were excluded ({'; '.join(s['exclusion_reasons'])})" if s["n_excluded"]
            else "none was excluded")
    what = "Ratings" if s["measures"] else "Log judgement RTs"
    trials = "; ".join(f"{_label(m)} {p:.1f}%" for m, p in s["trial_exclusion"].items())
    paras.append(
        f"Methods. Data of {s['n_participants'] + s['n_excluded']} {who} from {s['n_files']} trial files were "
        f"analysed; {excl}, leaving {s['n_participants']}. Participants were excluded when more than "
        f"{c.max_missing:.0%} of the main trials that asked a measure left it unanswered"
        + (f", when judgement accuracy was below {c.min_accuracy:.0%}" if s.get("has_judgement") else "")
        + (", or when their session was incomplete" if c.exclude_incomplete else "")
        + f". Practice trials were not analysed. Trials were excluded when the response timed out, was faster "
        f"than {c.anticipation_s * 1000:g} ms (anticipation), or lay more than {c.rt_z:g} SD from the "
        f"participant's mean log RT (excluded trials: {trials}). "
        f"The design factors ({', '.join(s['factors'])}) were effect-coded −0.5/+0.5 (pain, self, out-group "
        f"and hand = +0.5), so each coefficient is the difference between the levels and the intercept the "
        f"grand mean of the cells. {what} were analysed with linear mixed models with crossed random effects "
        f"of participants and stimuli (Judd, Westfall & Kenny, 2012), " + (_MAXIMAL if s["measures"] else
                                                                            "with random intercepts, ")
        + f"simplifying the random part while a fit was singular: correlations were removed, then terms with zero "
        f"variance (or else the smallest slope) were dropped, and the correlations of the remaining terms were "
        f"restored when that fit was non-singular (after Bates, Kliegl, Vasishth & Baayen, 2015). Models were "
        f"fitted by REML with the toolkit's implementation of the lme4 algorithm (Bates, "
        f"Mächler, Bolker & Walker, 2015) and Satterthwaite degrees of freedom (Kuznetsova et al., 2017). A repeated-measures ANOVA "
        f"on participant cell means (univariate tests, as statsmodels' AnovaRM) is reported beside them; "
        f"{s['sphericity_note']}")
    for m in s["measures"]:
        refused = m.get("not_estimable") or {}
        model = (f"The final model was {m['formula']}." if m["formula"] else
                 f"The mixed model was not estimable: {refused['mixed model']}." if "mixed model" in refused else
                 "No mixed model was requested.")
        parts = [f"Results, {_label(m['measure'])}. " + (m.get("scope_note") or "") + (" " if m.get("scope_note")
                                                                                       else "") + model]
        parts += [f"The {what} was not estimable: {why}." for what, why in refused.items() if what != "mixed model"]
        if m.get("pain") is not None:
            r = m["pain"]
            parts.append(f"Pain pictures were rated higher than neutral ones, b = {_n(r['estimate'])}, 95% CI "
                         f"{_ci(r)}, t({_n(r['df'], 1)}) = {_n(r['t'])}, p {_p(r['p'])}"
                         if r["estimate"] > 0 else
                         f"The pain effect was b = {_n(r['estimate'])}, 95% CI {_ci(r)}, "
                         f"t({_n(r['df'], 1)}) = {_n(r['t'])}, p {_p(r['p'])}")
            if m.get("dz") is not None and np.isfinite(m["dz"]["d_z"]):
                parts[-1] += f"; on participant means d_z = {_n(m['dz']['d_z'])}"
            parts[-1] += "."
        if m.get("perspective") is not None:
            r = m["perspective"]
            parts.append(f"Ratings under the self perspective differed from the other perspective by "
                         f"b = {_n(r['estimate'])}, 95% CI {_ci(r)}, t({_n(r['df'], 1)}) = {_n(r['t'])}, "
                         f"p {_p(r['p'])}.")
        if m.get("bias") is not None:
            r = m["bias"]
            parts.append(f"The in-group bias (pain effect for in-group minus out-group stimuli) was "
                         f"{_n(r['estimate'])}, 95% CI {_ci(r)}, t({_n(r['df'], 1)}) = {_n(r['t'])}, "
                         f"p {_p(r['p'])}.")
        if m.get("anova_pain") is not None and np.isfinite(m["anova_pain"]["F"]):
            r = m["anova_pain"]
            parts.append(f"In the repeated-measures ANOVA the main effect of pain was F({r['num_df']:.0f}, "
                         f"{r['den_df']:.0f}) = {_n(r['F'])}, p {_p(r['p'])}, partial η² = {_n(r['eta_p2'])}.")
        paras.append(" ".join(parts))
    j = s.get("judgement")
    if j is not None:
        text = (f"Results, judgement. Mean judgement accuracy was {100 * j['accuracy']:.1f}% "
                f"(SD {100 * j['accuracy_sd']:.1f}% over participants).")
        if j.get("accuracy_pain") is not None:
            r = j["accuracy_pain"]
            text += (f" In a logistic mixed model of accuracy ({j['accuracy_formula']}; Laplace approximation as "
                     f"lme4's glmer), pain pictures differed from neutral ones by b = {_n(r['estimate'], 3)} "
                     f"log-odds (odds ratio {np.exp(r['estimate']):.2f}), 95% CI {_ci(r, 3)}, z = {_n(r['z'])}, "
                     f"p {_p(r['p'])}.")
        if j.get("accuracy_not_fitted"):
            text += f" The logistic mixed model of accuracy was not fitted: {j['accuracy_not_fitted']}."
        if j.get("rt_pain") is not None:
            r = j["rt_pain"]
            text += (f" On log judgement RT (correct trials), pain pictures differed from neutral ones by "
                     f"b = {_n(r['estimate'], 3)} (a factor of {np.exp(r['estimate']):.3f}), 95% CI "
                     f"{_ci(r, 3)}, t({_n(r['df'], 1)}) = {_n(r['t'])}, p {_p(r['p'])}.")
        paras.append(text)
    if s.get("rt_formulas"):
        paras.append("Response times were log-transformed and analysed with " + "; ".join(s["rt_formulas"]) + ".")
    paras.append("Software: " + ", ".join(f"{k} {v}" for k, v in s["versions"].items()) + ".")
    return [p for p in paras if p]


def _p(p):
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"
