"""Tests for analysis.cli: the fit subcommand's output and its one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from lmm_reference import REFERENCE, load_reference

from analysis.cli import main

SLEEP = str(REFERENCE / "sleepstudy.csv")


def test_fit_prints_tables(capsys):
    """`analysis fit` prints the criterion, random and fixed effects and the type-III table."""
    assert main(["fit", SLEEP, "--formula", "Reaction ~ Days + (Days | Subject)"]) == 0
    out = capsys.readouterr().out
    assert "REML criterion at convergence: 1743.6283" in out
    assert "Type III ANOVA" in out and "Days" in out


def test_fit_json_has_the_design_shape(capsys):
    """--json prints exactly the keys of the Analysis JSON (README, Mixed models), with lme4's term names."""
    assert main(["fit", SLEEP, "--formula", "Reaction ~ Days + (Days | Subject)", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"formula", "n_obs", "reml", "criterion", "fixed", "random", "residual_sd", "converged",
                        "singular"}
    assert [f["term"] for f in doc["fixed"]] == ["(Intercept)", "Days"]
    assert set(doc["fixed"][0]) == {"term", "estimate", "se", "df", "t", "p"}
    assert set(doc["random"][0]) == {"group", "term1", "term2", "variance", "sd"}
    assert set(doc["random"][2]) == {"group", "term1", "term2", "covariance", "corr"}
    assert doc["criterion"] == pytest.approx(load_reference("sleepstudy")["criterion"], rel=1e-9)


def test_fit_ml_and_folder(tmp_path, capsys):
    """--ml fits by maximum likelihood, and a folder stands for the CSV files in it."""
    data = pd.read_csv(SLEEP)
    data.iloc[:90].to_csv(tmp_path / "a.csv", index=False)
    data.iloc[90:].to_csv(tmp_path / "b.csv", index=False)
    assert main(["fit", str(tmp_path), "--formula", "Reaction ~ Days + (Days | Subject)", "--ml", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reml"] is False and doc["n_obs"] == 180
    assert doc["criterion"] == pytest.approx(load_reference("sleepstudy_ml")["criterion"], rel=1e-8)


def test_design_coding_names_columns_by_factor(capsys):
    """Trial-style columns pain/perspective/group are effect-coded into columns named as the factor."""
    path = str(REFERENCE / "pain_40x48.csv")
    formula = "log_rt ~ pain * group + (1 | participant) + (1 | stimulus)"
    assert main(["fit", path, "--formula", formula, "--json"]) == 0
    terms = [f["term"] for f in json.loads(capsys.readouterr().out)["fixed"]]
    assert terms == ["(Intercept)", "pain", "group", "pain:group"]


def test_singular_fit_warning_printed(tmp_path, capsys):
    """A singular fit prints a warning on stderr and still exits 0."""
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"y": rng.normal(size=40), "g": np.repeat(list("abcd"), 10)})
    data.loc[data.g == "a", "y"] += 0.0
    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    code = main(["fit", str(path), "--formula", "y ~ 1 + (1 | g)", "--json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 0
    if doc["singular"]:
        assert "warning: boundary (singular) fit" in captured.err


@pytest.mark.parametrize("args, fragment", [
    (["fit", "missing.csv", "--formula", "y ~ 1 + (1 | g)"], "data file 'missing.csv' does not exist"),
    (["fit", SLEEP, "--formula", "Reaction ~ Dayz + (1 | Subject)"], "term 'Dayz'"),
    (["fit", SLEEP, "--formula", "Reaction ~ Days + (1 | "], "ends too early"),
    (["fit", SLEEP, "--formula", "Subject ~ Days + (1 | Days)"], None),
])
def test_bad_input_is_one_line_exit_2(args, fragment, capsys):
    """Bad input gives exit status 2 and one line on stderr naming the problem."""
    code = main(args)
    err = capsys.readouterr().err
    if fragment is None:  # a numeric column as response is a valid model
        assert code == 0
        return
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in err


def test_bad_input_in_data(tmp_path, capsys):
    """A one-level grouping factor and a text response are reported as errors naming the column."""
    path = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a"] * 4, "t": list("wxyz")}).to_csv(path, index=False)
    assert main(["fit", str(path), "--formula", "y ~ 1 + (1 | g)"]) == 2
    assert "'g' has 1 level" in capsys.readouterr().err
    assert main(["fit", str(path), "--formula", "t ~ 1 + (1 | g)"]) == 2
    assert "response 't' must be numeric" in capsys.readouterr().err


def test_module_entry_point_runs(tmp_path):
    """`python -m analysis fit` runs in a fresh interpreter and exits 0."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "analysis", "fit", SLEEP, "--formula",
                           "Reaction ~ Days + (1 | Subject)", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_obs"] == 180


def test_rank_deficient_and_empty_columns_name_file_and_term(tmp_path, capsys):
    """Rank-deficient fixed effects and an all-missing column are one-line errors naming the file and term."""
    path = tmp_path / "d.csv"
    frame = pd.read_csv(SLEEP)
    frame["Days2"] = frame["Days"] * 2
    frame["empty"] = np.nan
    frame.to_csv(path, index=False)
    assert main(["fit", str(path), "--formula", "Reaction ~ Days + Days2 + (1 | Subject)"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'Days2'" in err and "rank deficient" in err
    assert main(["fit", str(path), "--formula", "Reaction ~ empty + (1 | Subject)"]) == 2
    assert "'empty'" in capsys.readouterr().err


def test_internal_error_is_one_line_and_a_saved_traceback(tmp_path, capsys, monkeypatch):
    """A fault of the toolkit (not the user's) exits 1 with one line naming the file that holds its traceback."""
    import re

    import analysis.report

    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(analysis.report, "build_report", broken)
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal error (ZeroDivisionError" in err and "Traceback" not in err
    log = re.search(r"traceback in (\S+)$", err).group(1)
    assert "ZeroDivisionError: float division by zero" in open(log).read()
