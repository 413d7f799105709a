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


def reference_coding(ref: dict):
    """The contrasts that code a reference model as the R script did: the design's effect coding or R's default."""
    from analysis import DESIGN_CONTRASTS

    return None if ref.get("coding") == "treatment" else DESIGN_CONTRASTS


def fit_reference(name: str):
    """Our fit of a reference model (cached across tests), with the project's design coding."""
    if name not in _FITS:
        from analysis import fit_lmm

        ref = load_reference(name)
        _FITS[name] = fit_lmm(reference_data(name), ref["formula"], reml=ref["reml"], contrasts=reference_coding(ref))
    return _FITS[name]
