"""One test per observation of the issue "Trustworthy numbers" (each failed on 13e55ff, before the change).

Every analysis answer is right or refused with the reason. The data are small pilots of
the bundled protocols (placeholder stimuli), edited where an observation needs odd data.
"""
from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from corpus_data import (PROTOCOLS, copy_data, data_files, digests, edit_rows, load, main_answers, pilot, read_rows,
                         run_cli, set_cells, sidecar, table, tables, write_rows)

FORMULA = "rating_pain_intensity ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)"
SMALL = {"blocks__main__trials_per_cell": 4}


@pytest.fixture(scope="module")
def small(placeholder_manifest, manifest, tmp_path_factory):
    """Four simulated participants of the default protocol, 4 trials per cell (64 main + 8 practice each)."""
    loaded = load(PROTOCOLS / "default.yaml", placeholder_manifest, **SMALL)
    return pilot(loaded, manifest, tmp_path_factory.mktemp("small"), n=4, seed=7)


def _fixed(doc):
    return {f["term"]: f for f in doc["fixed"]}


def test_fit_uses_main_trials_with_effect_coded_perspective(small, tmp_path, capsys):
    """Observation 1: `analysis fit` on a pilot fits the main trials only, with one effect-coded perspective term."""
    from analysis.report import build_report

    code, out, err = run_cli(["fit", small / "data", "--formula", FORMULA, "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert [f["term"] for f in doc["fixed"]] == ["(Intercept)", "pain", "perspective", "group", "pain:perspective",
                                                "pain:group", "perspective:group", "pain:perspective:group"]
    assert doc["n_obs"] == main_answers(small / "data", "pain_intensity")   # practice trials (perspective none) out
    report = build_report(small / "data", None, models=("ratings",))
    reported = report.tables["lmm_fixed_pain_intensity"].set_index("term").loc["pain:group"]
    assert abs(_fixed(doc)["pain:group"]["estimate"] - reported["estimate"]) < 0.5 * reported["se"]


def test_rating_asked_only_on_self_trials_is_not_missing(small, tmp_path, capsys):
    """Observation 2: intensity answered only on self trials excludes nobody, drops perspective from its analysis, leaks no warning."""
    data = copy_data(small, tmp_path / "data")
    for file in data_files(data):
        set_cells(file, lambda r: r["perspective"] == "other", rating_pain_intensity="", rating_pain_intensity_rt_s="")
    out = tmp_path / "out" / "r.html"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run_cli(["report", data, "-o", out, "--models", "ratings"], capsys)
    assert code == 0, err
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    people = table(out, "exclusions_participants")
    assert not people["excluded"].any()
    assert "perspective" not in table(out, "descriptives_pain_intensity").columns
    assert "perspective" in table(out, "descriptives_unpleasantness").columns
    assert "perspective" not in set(table(out, "anova_pain_intensity")["term"])
    formula = table(out, "lmm_selection_pain_intensity")["formula"].iat[-1]
    assert "perspective" not in formula.split("~")[1]
    html = out.read_text(encoding="utf-8")
    assert "perspective does not vary within its answers and is left out of its tables and models" in html


def test_constant_ratings_are_not_estimable(small, tmp_path, capsys):
    """Observation 3: ratings that are all 50 get "not estimable" with the reason, and no F or p value."""
    data = copy_data(small, tmp_path / "data")
    for file in data_files(data):
        set_cells(file, rating_pain_intensity="50", rating_unpleasantness="50")
    out = tmp_path / "out" / "r.html"
    code, _, err = run_cli(["report", data, "-o", out, "--models", "ratings"], capsys)
    assert code == 0, err
    for key in ("pain_intensity", "unpleasantness"):
        anova = table(out, f"anova_{key}")
        assert anova[["F", "p", "eta_p2"]].isna().all().all(), anova
        assert anova["note"].str.startswith("not estimable").all()
        assert f"lmm_fixed_{key}" not in tables(out)
    refused = table(out, "not_estimable")
    assert set(refused.loc[refused["analysis"] == "mixed model", "measure"]) == {"pain_intensity", "unpleasantness"}
    assert refused["reason"].str.contains("every answer is 50: the answers do not vary").any()
    html = out.read_text(encoding="utf-8")
    assert "∞" not in html and "F = inf" not in html and "not estimable" in html


def test_out_of_range_ratings_refused_or_dropped(small, tmp_path, capsys):
    """Observation 4: ratings 250, −40 and 1e6 on a 0–100 scale stop the report (file, line, column, range) or are dropped and listed."""
    data = copy_data(small, tmp_path / "data")
    file = data_files(data)[1]
    header, rows = read_rows(file)
    mains = [i for i, r in enumerate(rows) if r["block_kind"] == "main" and r["rating_pain_intensity"]]
    for i, value in zip(mains[:3], ("250", "-40", "1e6")):
        rows[i]["rating_pain_intensity"] = value
    edit_rows(file, lambda _: rows)
    code, _, err = run_cli(["report", data, "-o", tmp_path / "r.html", "--models", "none"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"{file}, line {mains[0] + 2}, column 'rating_pain_intensity': 250 is outside the scale's range 0 to 100" \
        in err
    out = tmp_path / "ok" / "r.html"
    code, _, err = run_cli(["report", data, "-o", out, "--models", "none", "--allow-out-of-range"], capsys)
    assert code == 0, err
    dropped = table(out, "dropped_rows")
    assert sorted(dropped["line"]) == [i + 2 for i in mains[:3]]
    assert set(dropped["file"]) == {str(file)} and dropped["reason"].str.contains("outside the scale's range").all()


def test_sessions_identity_duplicates_and_completeness(small, tmp_path, capsys):
    """Observation 5: one ID in two different files and two different copies of a trial are refused naming both; completeness comes from the rows."""
    data = copy_data(small, tmp_path / "same_id")
    first, _, third, _ = data_files(data)
    other = data / "lab2" / first.name
    other.parent.mkdir()
    header, rows = read_rows(third)
    write_rows(other, header, [dict(r, participant="sim001") for r in rows])
    code, _, err = run_cli(["report", data, other, "-o", tmp_path / "a.html", "--models", "none"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert str(first) in err and str(other) in err and "participant sim001 session 1" in err

    data = copy_data(small, tmp_path / "conflict")
    file = data_files(data)[0]
    header, rows = read_rows(file)
    twin = dict(rows[20], rating_unpleasantness="1" if rows[20]["rating_unpleasantness"] == "0" else "0")
    write_rows(file, header, rows + [twin])
    code, _, err = run_cli(["report", data, "-o", tmp_path / "b.html", "--models", "none"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{file}, line 22 and {file}, line {len(rows) + 2} both hold trial {rows[20]['trial']}" in err

    data = copy_data(small, tmp_path / "short")
    file = data_files(data)[0]
    edit_rows(file, lambda rows: rows[:-10])   # its sidecar still says completed
    out = tmp_path / "c" / "r.html"
    code, _, err = run_cli(["report", data, "-o", out, "--models", "none"], capsys)
    assert code == 0, err
    assert "the sidecar says completed, but 62 of 72 trials are on disk; treated as incomplete" in err
    people = table(out, "exclusions_participants").set_index("participant")
    assert people.loc["sim001", "excluded"] and "incomplete session" in people.loc["sim001", "reason"]
    assert not people.drop(index="sim001")["excluded"].any()


def test_judgement_accuracy_intervals_stay_within_0_and_1(placeholder_manifest, manifest, tmp_path):
    """Observation 6: the xu2009 preset's judgement-accuracy intervals stay inside 0–100 % and hold the mean."""
    from analysis.report import build_report

    loaded = load(PROTOCOLS / "xu2009.yaml", placeholder_manifest, **SMALL)
    root = pilot(loaded, manifest, tmp_path / "xu", n=4, seed=0)
    accuracy = build_report(root / "data", None, models=()).tables["judgement_accuracy"]
    assert (accuracy["mean"] < 1).any()   # a cell near, not at, 100 % (where the old interval passed 1)
    assert (accuracy["ci_low"] >= 0).all() and (accuracy["ci_high"] <= 1).all()
    assert ((accuracy["ci_low"] <= accuracy["mean"]) & (accuracy["mean"] <= accuracy["ci_high"])).all()


def test_wilson_interval_holds_the_estimate_and_power_plots_at_0_and_1(tmp_path):
    """Observation 7: wilson_interval(k, n) holds k/n inside [0, 1] for every n ≤ 1000, and plot_power draws power 0 and 1."""
    from analysis.power import plot_power, wilson_interval

    bad = []
    for n in range(1, 1001):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            if not 0.0 <= low <= k / n <= high <= 1.0:
                bad.append((k, n, low, high))
    assert not bad, bad[:5]
    rows = []
    for term, k in (("pain", 10), ("group", 0), ("perspective", 5)):
        low, high = wilson_interval(k, 10)
        rows.append({"participants": 20, "term": term, "power": k / 10, "ci_low": low, "ci_high": high,
                     "n_sims": 10, "n_failed": 0})
    path = plot_power(pd.DataFrame(rows), tmp_path / "x.png")
    assert path.stat().st_size > 0


def test_power_analyses_studies_as_the_report_does(small, placeholder_manifest, tmp_path, capsys):
    """Observation 8: `analysis power` starts each study's model from the report's maximal structure and says so."""
    from analysis.report import build_report

    code, out, err = run_cli(["power", PROTOCOLS / "default.yaml", "--participants", "4", "--sims", "1", "--json",
                              "--set", f"stimuli.manifest={placeholder_manifest}",
                              "--set", "blocks.main.trials_per_cell=4"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    report = build_report(small / "data", None, models=("ratings",))
    start = report.tables["lmm_selection_pain_intensity"]["formula"].iat[0]
    assert doc.get("start_formula", doc.get("formula")) == start
    assert "(1 + pain + perspective" in start
    assert "analysis report" in doc["analysis"] and start in doc["analysis"]
    assert sum(doc["models"]["4"].values()) == 1


def test_truth_table_is_on_the_observed_scale(placeholder_manifest, manifest, tmp_path):
    """Observation 9: a pilot's truth table gives the expected observed effects (`true`) beside the latent ones, and covers them about nominally."""
    from analysis.report import build_report

    loaded = load(PROTOCOLS / "default.yaml", placeholder_manifest, **SMALL)
    root = pilot(loaded, manifest, tmp_path / "truth", n=12, seed=0)
    report = build_report(root / "data", None, models=("ratings",))
    truths = {key: report.tables[f"simulation_truth_{key}"].set_index("term")
              for key in ("pain_intensity", "unpleasantness")}
    n_terms = sum(len(t) for t in truths.values())
    n_covered = sum(int(t["covered"].sum()) for t in truths.values())
    assert n_covered >= n_terms - 2, truths   # 95 % intervals: about 1 of 18 misses
    assert truths["pain_intensity"].loc["pain", "covered"]
    cells = json.loads(sidecar(data_files(root / "data")[0]).read_text())["simulation"]["observed_cell_means"]
    for key, truth in truths.items():
        assert {"true", "true_latent", "covered"} <= set(truth.columns)
        expected = pd.DataFrame(cells[key])
        assert truth.loc["(Intercept)", "true"] == pytest.approx(expected["mean"].mean(), abs=1e-6)
        by_pain = expected.groupby("pain")["mean"].mean()
        assert truth.loc["pain", "true"] == pytest.approx(by_pain["pain"] - by_pain["neutral"], abs=1e-6)
    intensity = truths["pain_intensity"].loc["pain"]
    assert intensity["true_latent"] - intensity["true"] > 5   # answers pile at the top anchor: the scale matters


def test_one_finder_for_report_and_fit(small, tmp_path, capsys):
    """Observation 10: a folder holding its own report is reported and fitted as before, and `fit` takes a dataset root."""
    lab = tmp_path / "lab"
    lab.mkdir()
    for k, file in enumerate(data_files(small / "data"), start=1):   # a lab's own file names
        (lab / f"participant_{k:02d}.csv").write_bytes(file.read_bytes())
    before = digests(lab)
    page = lab / "report.html"
    code, _, err = run_cli(["report", lab, "-o", page, "--models", "none"], capsys)
    assert code == 0, err
    first = tables(page)
    code, _, err = run_cli(["report", lab, "-o", page, "--models", "none"], capsys)
    assert code == 0, err
    second = tables(page)
    assert {k: v for k, v in first.items() if k != "skipped_files"} == \
        {k: v for k, v in second.items() if k != "skipped_files"}
    assert {k: v for k, v in digests(lab).items() if k in before} == before

    data = copy_data(small, tmp_path / "study" / "data")
    code, _, err = run_cli(["report", data, "-o", data / "report.html", "--models", "none"], capsys)
    assert code == 0, err
    fits = []
    for where in (small / "data", data, tmp_path / "study"):
        code, out, err = run_cli(["fit", where, "--formula", FORMULA, "--json"], capsys)
        assert code == 0, err
        fits.append(json.loads(out))
    assert fits[0] == fits[1] == fits[2]
