"""A rating asked only in some conditions (asked_when): validation, the session's rows, the simulator, the sidecar."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from paradigm import load_protocol
from paradigm.errors import ProtocolError

SELF_ONLY = {"timeline.3.asked_when": {"perspective": ["self"]}}   # timeline[3]: the pain_intensity rating


@pytest.fixture(scope="module")
def self_only(default_protocol):
    """The default protocol with pain intensity asked on self trials only."""
    return load_protocol(default_protocol.path, {**dict(default_protocol.overrides), **SELF_ONLY})


def test_unknown_level_is_refused(default_protocol):
    """asked_when naming a level the design lacks is refused, naming the rating and the allowed levels."""
    with pytest.raises(ProtocolError, match=r"pain_intensity.*asked_when\.perspective.*levels: \['self', 'other'\]"):
        load_protocol(default_protocol.path, {**dict(default_protocol.overrides),
                                              "timeline.3.asked_when": {"perspective": ["me"]}})


def test_pilot_rows_leave_the_rating_empty_where_not_asked(self_only, manifest, tmp_path):
    """Other-perspective rows have no pain-intensity answer or RT and are not timeouts; the sidecar records the rule."""
    from paradigm.pilot import run_pilot

    run_pilot(self_only, manifest, n_participants=1, out_dir=tmp_path, seed=4, params={"lapse_rate": 0.0})
    rows = pd.read_csv(next((tmp_path / "data").glob("*_data.csv")), keep_default_na=False)
    main = rows[rows["block_kind"] == "main"]
    other, own = main[main["perspective"] == "other"], main[main["perspective"] == "self"]
    assert len(other) == 80 and (other["rating_pain_intensity"] == "").all()
    assert (other["rating_pain_intensity_rt_s"] == "").all() and (other["rating_unpleasantness"] != "").all()
    assert (own["rating_pain_intensity"] != "").all()
    assert (main["timed_out"].astype(str).str.lower() == "false").mean() > 0.95
    sidecar = json.loads(next((tmp_path / "data").glob("*_session.json")).read_text())
    assert sidecar["measures"]["ratings"]["pain_intensity"]["asked_when"] == {"perspective": ["self"]}
    assert sidecar["measures"]["ratings"]["unpleasantness"]["asked_when"] == {}
    assert sidecar["factor_levels"]["perspective"] == ["self", "other"] and sidecar["n_main_trials_planned"] == 160


def test_study_simulator_respects_asked_when(self_only, manifest):
    """The in-memory simulator leaves the rating empty (not missing) on other-perspective trials."""
    from paradigm.study_sim import StudySimulator

    study = StudySimulator(self_only, manifest, params={"lapse_rate": 0.0})(6, 1)
    other = study["perspective"] == "other"
    assert study.loc[other, "rating_pain_intensity"].isna().all()
    assert study.loc[other, "rating_pain_intensity_rt_s"].isna().all()
    assert study.loc[~other, "rating_pain_intensity"].notna().mean() > 0.95
    assert study["timed_out"].mean() < 0.05


def test_expected_observed_cells(default_protocol):
    """Without clipping the expected answers are the latent cell means; with the default ceiling, pain cells fall below."""
    from paradigm.simulated import CODES, cell_mean, expected_observed_cells, simulation_params

    protocol = default_protocol.protocol
    flat = simulation_params({"ratings": {"pain_intensity": {"intercept": 50, "effects": {"pain": 10},
                                                             "sd_participant_pain": 5, "anchor_snap": 0}}})
    cells = pd.DataFrame(expected_observed_cells(protocol, flat, range(9, 169))["pain_intensity"])
    p = flat.rating("pain_intensity")
    latent = [cell_mean(p.effects, p.intercept, lambda term, c=c: np.prod([CODES[f][c[f]] for f in term.split(":")]))
              for c in cells.to_dict("records")]
    assert np.abs(cells["mean"] - latent).max() < 0.3
    default = pd.DataFrame(expected_observed_cells(protocol, simulation_params(), range(9, 169))["pain_intensity"])
    pain = default[default["pain"] == "pain"]
    assert (pain["mean"] < 46 + 45 - 1).all()   # the latent pain cells are ≥ 88.5; the 100 ceiling pulls them down
