"""Tests for `analysis report`: truth recovery on a pilot, a self-contained escaped page, Chromium, bad input."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import numpy as np
import pytest
from report_data import TRUTH, read_rows, run_truth_pilot, write_rows

from analysis.cli import main

REPO = Path(__file__).resolve().parents[2]
EVIL = "<script>alert(1)</script>"
SECTIONS = ("data", "timing", "descriptives", "figures", "anova", "models", "contrasts", "methods")


@pytest.fixture(scope="module")
def built(default_protocol, manifest, tmp_path_factory):
    """A 20-participant truth pilot (seed 7), one ID made hostile and one row duplicated, reported by the CLI."""
    root = tmp_path_factory.mktemp("report")
    data = run_truth_pilot(default_protocol, manifest, root / "pilot", n_participants=20, seed=7)
    first = sorted(data.glob("*_data.csv"))[0]
    header, rows = read_rows(first)
    rows = [dict(r, participant=EVIL) for r in rows]
    write_rows(first, header, rows[:30] + [rows[29]] + rows[30:])
    out = root / "out" / "report.html"
    code = main(["-q", "report", str(data), "-o", str(out)])
    return code, out, root


@pytest.fixture(scope="module")
def tables(built):
    """The report's CSV tables by name."""
    _, out, _ = built
    return {p.name.removeprefix("report_").removesuffix(".csv"): pd.read_csv(p)
            for p in out.parent.glob("report_*.csv")}


@pytest.mark.slow
def test_report_recovers_true_fixed_effects(built, tables):
    """Every fixed effect's 95% CI covers the simulation's truth for both ratings (seed 7; see report_data)."""
    code, _, _ = built
    assert code == 0
    for name, truth in TRUTH.items():
        fixed = tables[f"lmm_fixed_{name}"].set_index("term")
        true = {"(Intercept)": truth["intercept"], **truth["effects"]}
        for term, row in fixed.iterrows():
            value = true.get(term, 0.0)
            assert row.ci_low <= value <= row.ci_high, (name, term, value, row.ci_low, row.ci_high)
        assert tables[f"simulation_truth_{name}"]["covered"].all()
        con = tables[f"contrasts_{name}"].set_index("contrast")
        bias = con.loc["in-group bias: pain effect in-group − out-group"]
        assert bias.ci_low <= -truth["effects"]["pain:group"] <= bias.ci_high


@pytest.mark.slow
def test_report_has_every_table_and_section(built, tables):
    """The page has every section, each marked as simulated, and the tables are written beside it."""
    _, out, _ = built
    html = out.read_text()
    for anchor in SECTIONS:
        body = html.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]
        assert "SIMULATED DATA" in body, anchor
    for name in ("descriptives_pain_intensity", "anova_unpleasantness", "contrasts_pain_intensity",
                 "marginal_means_unpleasantness", "exclusions_participants", "effect_sizes_pain_intensity",
                 "lmm_fixed_log_pain_intensity_rt", "lmm_selection_pain_intensity"):
        assert name in tables and len(tables[name])
    assert (tables["anova_pain_intensity"]["gg_epsilon"] == 1.0).all()
    assert "Greenhouse" not in html or "sphericity holds trivially" in html
    assert "Python" in html and "statsmodels" in html
    steps = tables["lmm_selection_pain_intensity"]
    assert steps["formula"].iloc[0].endswith("(1 + pain + perspective + group + stimulus_type | participant) "
                                             "+ (1 + perspective + group | stimulus_id)")   # the maximal start
    assert steps["formula"].iloc[-1] in html and "maximal random structure" in html
    assert html.count("data:image/png;base64,") == 4


@pytest.mark.slow
def test_duplicated_row_listed(built, tables):
    """The duplicated row is left out and listed with its file and line."""
    dropped = tables["dropped_rows"]
    assert len(dropped) == 1 and dropped["line"].iloc[0] == 32 and "duplicated" in dropped["reason"].iloc[0]


@pytest.mark.slow
def test_no_external_references_and_escaped(built):
    """Nothing is loaded from elsewhere, no script runs, and the hostile ID appears only as text."""
    _, out, _ = built
    html = out.read_text()
    lowered = html.lower()
    for bad in ("src=http", 'src="http', "href=http", 'href="http', "<link", "<script", "@import", "url("):
        assert bad not in lowered, bad
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?(?:data:|#))""", html)


def chromium():
    """The Chromium binary, or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def open_in_chromium(page, tmp_path, screenshot=None):
    """Load ``page`` in headless Chromium; return the console lines it logged (and save a screenshot)."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
            "--window-size=1280,2000"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run([*args, page.as_uri()], capture_output=True, text=True, timeout=120)
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


needs_chromium = pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed "
                                    "(apt-get install chromium; tests/run.sh installs it)")


@needs_chromium
def test_chromium_detects_a_console_error(tmp_path):
    """The console check really fails on a page with a script error (so the report check means something)."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>undefined_function();</script></body></html>")
    assert any("Uncaught" in line for line in open_in_chromium(page, tmp_path))


@pytest.mark.slow
@needs_chromium
def test_report_opens_in_chromium(built, tmp_path):
    """The report loads in headless Chromium without console messages; its screenshot is saved (REPORT_SCREENSHOT)."""
    import os

    _, out, root = built
    shot = root / "report.png"
    assert open_in_chromium(out, tmp_path, screenshot=shot) == []
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["REPORT_SCREENSHOT"])


# ------------------------------------------------------------------ bad input through the CLI
@pytest.fixture(scope="module")
def one_pilot(default_protocol, manifest, tmp_path_factory):
    """Three simulated participants' data folder (for the bad-input and cue-task cases)."""
    from paradigm.pilot import run_pilot

    out = tmp_path_factory.mktemp("pilot1")
    run_pilot(default_protocol, manifest, n_participants=3, out_dir=out, seed=3)
    return out / "data"


def bad_case(kind, tmp_path, source):
    """Arguments for one bad-input case, built from the pilot CSV ``source``."""
    header, rows = read_rows(source)
    path = tmp_path / "sub-a_ses-1_task-default_data.csv"
    if kind == "empty folder":
        (tmp_path / "empty").mkdir()
        return [str(tmp_path / "empty")], "holds no trial CSV"
    if kind == "missing column":
        write_rows(path, [h for h in header if h != "trial"], [{k: v for k, v in r.items() if k != "trial"}
                                                                 for r in rows])
        return [str(path)], "required column 'trial' is missing"
    if kind == "non-numeric rating":
        rows[12]["rating_unpleasantness"] = "n/a?"
        write_rows(path, header, rows)
        return [str(path)], "line 14, column 'rating_unpleasantness'"
    if kind == "mixed protocols":
        write_rows(path, header, rows)
        other = tmp_path / "sub-b_ses-1_task-other_data.csv"
        write_rows(other, header, [dict(r, participant="b", protocol="other", protocol_sha256="e" * 64)
                                   for r in rows])
        return [str(path), str(other)], "--allow-mixed-protocols"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["empty folder", "missing column", "non-numeric rating", "mixed protocols"])
def test_bad_input_one_line_exit_2(kind, one_pilot, tmp_path, capsys):
    """Each bad input gives exit status 2 and one line naming the file (and line/column), no traceback."""
    source = sorted(one_pilot.glob("*_data.csv"))[0]
    args, fragment = bad_case(kind, tmp_path, source)
    code = main(["report", *args, "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("analysis report: error: ") and fragment in err, err
    assert not (tmp_path / "r.html").exists()


def test_bad_threshold_and_unknown_rating(one_pilot, tmp_path, capsys):
    """A threshold out of range and an unknown rating name are one-line errors with exit status 2."""
    data = str(one_pilot)
    assert main(["report", data, "--max-missing", "2", "-o", str(tmp_path / "r.html")]) == 2
    assert "'max_missing' must be a proportion" in capsys.readouterr().err
    assert main(["report", data, "--ratings", "pain", "--models", "none", "-o", str(tmp_path / "r.html")]) == 2
    assert "rating 'pain' is not in the data" in capsys.readouterr().err
    assert main(["report", data, "--max-missing", "0", "--models", "none", "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "participants remain after the exclusions" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_cue_task_with_judgement_and_no_timing(one_pilot, tmp_path):
    """A cue task (no stimulus file, no group, no timing) with a judgement: the report adapts to what is there."""
    from analysis.report import build_report

    for k, source in enumerate(sorted(one_pilot.glob("*_data.csv"))):
        header, rows = read_rows(source)
        for i, r in enumerate(rows):
            r.update(stimulus_type="cue", stimulus_file="", group="none", stimulus_id=f"cue_{r['pain']}",
                     fixation_onset_s="", stimulus_onset_s="", stimulus_offset_s="", stimulus_duration_s="",
                     dropped_frames="", judgement="f", judgement_correct="false" if i % 10 == k else "true",
                     judgement_rt_s=f"{0.5 + 0.001 * ((i * 37) % 100):.3f}")
        write_rows(tmp_path / source.name, header + ["judgement", "judgement_correct", "judgement_rt_s"], rows)
    report = build_report(tmp_path, tmp_path / "out" / "cue.html")
    assert report.summary["factors"] == ["pain", "perspective"]
    assert "(1 | stimulus_id)" not in report.fits["rating_pain_intensity"].formula
    assert "judgement_rt" in report.fits and "judgement_accuracy" in report.tables
    assert report.tables["judgement_accuracy"]["mean"].between(0.85, 0.95).all()
    html = report.html
    assert "no timing check was possible" in html and "in-group bias" not in html
    assert (tmp_path / "out" / "cue_judgement_accuracy.csv").is_file()
    accuracy = report.fits["judgement_accuracy"]   # logistic mixed model; about 90 % correct in every cell
    intercept = accuracy.result.fixed.set_index("term").loc["(Intercept)"]
    assert intercept["ci_low"] <= np.log(0.9 / 0.1) <= intercept["ci_high"]
    assert "logistic mixed model of accuracy" in html and "Laplace" in html


def test_progress_bar_only_on_a_terminal(tmp_path, capsys, monkeypatch):
    """On a terminal the CLI draws a progress bar on stderr; otherwise stderr stays empty."""
    import sys
    from types import SimpleNamespace

    import analysis.report

    def fake_build(paths, out, *, progress=None, **kwargs):
        for step in ("read", "qc", "figures"):
            if progress is not None:
                progress(step)
        return SimpleNamespace(data=SimpleNamespace(warnings=[]), qc=SimpleNamespace(warnings=[]), fits={}, paths=[out])

    monkeypatch.setattr(analysis.report, "build_report", fake_build)
    assert main(["-q", "report", str(tmp_path), "-o", str(tmp_path / "a.html")]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "b.html")]) == 0
    err = capsys.readouterr().err
    assert "report" in err and "figures" in err


@pytest.mark.slow
def test_judgement_only_protocol(placeholder_manifest, tmp_path):
    """A protocol with a judgement and no rating (the Han-lab preset) gets accuracy, a judgement-RT model and text."""
    from stimuli import read_manifest

    from analysis.report import build_report
    from paradigm import load_protocol
    from paradigm.pilot import run_pilot

    loaded = load_protocol(REPO / "protocols" / "han_erp.yaml", {"stimuli.manifest": str(placeholder_manifest)})
    run_pilot(loaded, read_manifest(loaded.manifest_path), n_participants=4, out_dir=tmp_path / "p", seed=1)
    report = build_report(tmp_path / "p", tmp_path / "out" / "r.html")
    assert report.data.ratings == [] and report.data.has_judgement
    assert list(report.fits)[0] == "judgement_rt" and "judgement_accuracy" in report.tables
    assert "judgement_accuracy" in report.fits or "accuracy_model_note" in report.tables
    assert "Results, judgement. Mean judgement accuracy" in report.html
