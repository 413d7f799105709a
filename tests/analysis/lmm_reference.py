"""lme4/lmerTest reference records and our (cached) fits of the same models, for the mixed-model tests."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

REFERENCE = Path(__file__).parent / "reference"
MODELS = sorted(p.stem for p in REFERENCE.glob("*.json"))


def load_reference(name: str) -> dict:
    """The reference record written by make_reference.R for one model."""
    return json.loads((REFERENCE / f"{name}.json").read_text())


def reference_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / load_reference(name)["data"])


_FITS: dict = {}


def fit_reference(name: str):
    """Our fit of a reference model (cached across tests), with the project's design coding."""
    if name not in _FITS:
        from analysis import DESIGN_CONTRASTS, fit_lmm

        ref = load_reference(name)
        _FITS[name] = fit_lmm(reference_data(name), ref["formula"], reml=ref["reml"], contrasts=DESIGN_CONTRASTS)
    return _FITS[name]
