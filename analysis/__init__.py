"""Analysis of pain-empathy trial data: reading, checks, mixed models, power and the report.

Importing this package is light: the mixed-model engine (numpy, scipy, pandas) loads on
first use of one of its names; matplotlib only when a report draws its figures.
"""
import logging

__all__ = ["DESIGN_CONTRASTS", "FormulaError", "LmmResult", "QcConfig", "TrialData", "TrialDataError",
           "anova_type3", "apply_qc", "build_report", "compare_models", "fit_glmm", "fit_lmm", "parse_formula",
           "power_curve", "read_trials", "rm_anova"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "fit_lmm": ".lmm", "fit_glmm": ".glmm", "LmmResult": ".lmm_result", "compare_models": ".anova",
    "anova_type3": ".anova",
    "parse_formula": ".formula", "FormulaError": ".formula", "DESIGN_CONTRASTS": ".design_matrices",
    "read_trials": ".read", "TrialData": ".read", "TrialDataError": ".read", "QcConfig": ".qc", "apply_qc": ".qc",
    "build_report": ".report", "rm_anova": ".rm_anova", "power_curve": ".power",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
