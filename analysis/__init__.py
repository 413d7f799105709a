"""Analysis of pain-empathy trial data: reading, checks, mixed models, power and the report.

Importing this package is light: the mixed-model engine (numpy, scipy, pandas) loads on
first use of one of its names.
"""
import logging

__all__ = ["DESIGN_CONTRASTS", "FormulaError", "LmmResult", "anova_type3", "compare_models", "fit_lmm",
           "parse_formula"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {
    "fit_lmm": ".lmm", "LmmResult": ".lmm_result", "compare_models": ".anova", "anova_type3": ".anova",
    "parse_formula": ".formula", "FormulaError": ".formula", "DESIGN_CONTRASTS": ".design_matrices",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
