"""Power by simulation: null and huge effects, the Wilson interval, the CLI's JSON and its errors."""
from __future__ import annotations

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest

from analysis.power import plot_power, power_curve, wilson_interval

FORMULA = "y ~ pain + (1 | participant)"


def _simulate(n_participants, seed, effect=0.0):
    rng = np.random.default_rng(seed)
    pain = np.tile(np.repeat(["pain", "neutral"], 10), n_participants)
    participant = np.repeat([f"p{i}" for i in range(n_participants)], 20)
    u = np.repeat(rng.normal(0, 5, n_participants), 20)
    x = np.where(pain == "pain", 0.5, -0.5)
    return pd.DataFrame({"participant": participant, "pain": pain,
                         "y": 50 + effect * x + u + rng.normal(0, 10, len(x))})


def test_null_near_alpha_and_huge_near_one():
    """A null effect is significant in about alpha of studies; a huge one in (nearly) all."""
    null = power_curve(_simulate, FORMULA, ["pain"], participants=(10,), n_sims=60, seed=1)
    assert null.loc[0, "power"] <= 0.15 and null.loc[0, "ci_low"] <= 0.05 <= null.loc[0, "ci_high"] + 0.05
    huge = power_curve(partial(_simulate, effect=20.0), FORMULA, ["pain"], participants=(6, 10), n_sims=10, seed=1)
    assert list(huge["participants"]) == [6, 10] and (huge["power"] >= 0.9).all()


def test_parallel_matches_serial(tmp_path):
    """Two joblib workers give the same table as one process; the plot is written."""
    a = power_curve(_simulate, FORMULA, ["pain"], participants=(6,), n_sims=4, seed=3)
    b = power_curve(_simulate, FORMULA, ["pain"], participants=(6,), n_sims=4, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(a, b)
    assert plot_power(a, tmp_path / "p.png").stat().st_size > 0


def test_dask_backend_matches_serial():
    """The Dask backend (an in-process LocalCluster here, a cluster's Client in use) gives the serial answer."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) \
            as cluster, distributed.Client(cluster):
        a = power_curve(_simulate, FORMULA, ["pain"], participants=(6,), n_sims=4, seed=3, backend="dask")
    b = power_curve(_simulate, FORMULA, ["pain"], participants=(6,), n_sims=4, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_wilson_interval():
    """Wilson's interval matches a known value and stays inside [0, 1]."""
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 5)[0] == 0.0 and wilson_interval(5, 5)[1] == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"participants": (1,)}, "participants"), ({"n_sims": 0}, "n_sims"), ({"backend": "ray"}, "backend")])
def test_bad_arguments(kwargs, message):
    """Bad arguments raise ValueError naming the parameter."""
    with pytest.raises(ValueError, match=message):
        power_curve(_simulate, FORMULA, ["pain"], **kwargs)


def _manifest(loaded):
    """The --set option pointing the protocol at the test's placeholder stimulus set."""
    return ["--set", f"stimuli.manifest={dict(loaded.overrides)['stimuli.manifest']}"]


def test_cli_json_shape(default_protocol, capsys):
    """`analysis power --json` gives power and Wilson intervals per sample size and term."""
    from analysis.cli import main

    assert main(["power", str(default_protocol.path), *_manifest(default_protocol), "--participants", "4,6",
                 "--sims", "2", "--json",
                 "--terms", "pain", "--effect", "pain=50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["participants"] == [4, 6] and set(out["power"]) == {"4", "6"}
    assert 0 <= out["power"]["4"]["pain"] <= 1 and len(out["ci"]["6"]["pain"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--participants", "a,b"], "--participants"), (["--sims", "0"], "--sims"),
    (["--effect", "pain"], "TERM=VALUE"), (["--rating", "nope"], "--rating"), (["--effect", "colour=3"], "colour")])
def test_cli_bad_input_exit_2(default_protocol, capsys, argv, message):
    """Bad input prints one line naming the option and exits with status 2."""
    from analysis.cli import main

    assert main(["power", str(default_protocol.path), *_manifest(default_protocol), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
