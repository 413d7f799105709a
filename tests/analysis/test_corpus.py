"""A corpus of degenerate and unusual data sets, each with its exact expected outcome.

Every case starts from a small base pilot (4 simulated participants of the default
protocol, 4 trials per cell: 8 practice + 64 main trials each), applies one named edit and
runs ``analysis.cli.main``. For every case: the exit code; for exit 2 one line on stderr
naming the problem and no traceback; for exit 0 the warnings and table values expected;
and no input file changed.
"""
from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest
from corpus_data import (ask_only_on, copy_data, data_files, digests, edit_json, edit_rows, load, main_answers, pilot,
                         protocol_file, read_rows, run_cli, set_cells, sidecar, table, tables, write_rows)

SMALL = {"blocks__main__trials_per_cell": 4}
FORMULA = "rating_pain_intensity ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id)"
N_MAIN, N_PRACTICE = 64, 8


class Corpus:
    """The base pilots (built on first use, once per module) and the base report's tables."""

    def __init__(self, manifest_path, manifest, root: Path):
        self.manifest_path, self.manifest, self.root = manifest_path, manifest, root

    def _pilot(self, name, edit=None, n=4, seed=11):
        path = protocol_file(self.root / f"{name}_protocol", self.manifest_path, edit=edit)
        return pilot(load(path, **SMALL), self.manifest, self.root / name, n=n, seed=seed)

    @cached_property
    def base(self) -> Path:
        """The default protocol's pilot (dataset root)."""
        return self._pilot("base")

    @cached_property
    def asked_on_self(self) -> Path:
        """The default protocol with pain intensity asked only on self trials (``asked_when``)."""
        return self._pilot("asked", ask_only_on("pain_intensity", "perspective", ["self"]))

    @cached_property
    def no_group(self) -> Path:
        """The default protocol without the group factor (its sidecars record group: none)."""
        def edit(data):
            data["factors"].pop("group")
            data["constraints"]["max_run_length"].pop("group")
        return self._pilot("nogroup", edit)

    @cached_property
    def base_tables(self) -> dict:
        """The tables of ``report --models none`` on the base pilot."""
        page = self.root / "base_report" / "r.html"
        from analysis.cli import main

        assert main(["-q", "report", str(self.base / "data"), "-o", str(page), "--models", "none"]) == 0
        return tables(page)


@pytest.fixture(scope="module")
def corpus(placeholder_manifest, manifest, tmp_path_factory):
    return Corpus(placeholder_manifest, manifest, tmp_path_factory.mktemp("corpus"))


@dataclass
class Expect:
    """One case's command (data arguments, options) and outcome (exit code, stderr fragments, table checks)."""

    data: list
    code: int
    options: list = field(default_factory=lambda: ["--models", "none"])
    stderr: list = field(default_factory=list)        # fragments that must appear on stderr
    not_stderr: list = field(default_factory=list)    # fragments that must not
    check: object = None                              # check(page) for exit 0
    command: str = "report"
    inputs: list = None                               # folders whose files must stay unchanged (default: data)


CASES = {}


def case(function):
    CASES[function.__name__.removeprefix("case_")] = function
    return function


def _base_copy(corpus, folder, source=None):
    return copy_data(source or corpus.base, folder / "data")


def _mains(file, rating="pain_intensity"):
    """Indices of the main rows of a trial CSV with an answer to ``rating``."""
    return [i for i, r in enumerate(read_rows(file)[1]) if r["block_kind"] == "main" and r[f"rating_{rating}"]]


def _same_tables(corpus, page, data, *, but=("dropped_rows", "skipped_files")):
    """The tables beside ``page`` are the base report's (file paths compared relative to the data folder)."""
    got = {k: v.replace(str(data), "<data>") for k, v in tables(page).items()}
    want = {k: v.replace(str(corpus.base / "data"), "<data>") for k, v in corpus.base_tables.items()}
    assert set(got) == set(want)
    for name in want:
        if name not in but:
            assert got[name] == want[name], name


def _scope_checks(page):
    """Intensity asked only on self trials: nobody excluded, perspective out of its tables, the sentence said."""
    people = table(page, "exclusions_participants")
    assert not people["excluded"].any() and (people["missing_rate"] < 0.2).all()
    counts = table(page, "exclusions_trials").set_index(["measure", "reason"])["n"]
    assert counts[("rating_pain_intensity", "not asked (not counted as missing)")] == 4 * N_MAIN // 2
    assert "perspective" not in table(page, "descriptives_pain_intensity").columns
    assert "perspective" in table(page, "descriptives_unpleasantness").columns
    assert "perspective" not in "".join(table(page, "anova_pain_intensity")["term"])
    assert "perspective" in "".join(table(page, "anova_unpleasantness")["term"])
    assert "perspective" not in table(page, "lmm_selection_pain_intensity")["formula"].iat[-1].split("~")[1]
    html = page.read_text(encoding="utf-8")
    assert ("Pain intensity was asked only on self trials (perspective); perspective does not vary within its "
            "answers and is left out of its tables and models.") in html


# ------------------------------------------------------------------ where a rating is asked
@case
def case_asked_when_self_only(corpus, folder):
    """Protocol asks intensity only on self trials: exit 0, no warning, perspective left out of intensity's analysis."""
    data = _base_copy(corpus, folder, corpus.asked_on_self)
    return Expect([data], 0, ["--models", "ratings"], not_stderr=["no participant answered"],
                  check=_scope_checks)


@case
def case_self_only_by_hand(corpus, folder):
    """Intensity blanked on other trials, sidecars say asked everywhere: exit 0, warning, treated as not asked."""
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        set_cells(file, lambda r: r["perspective"] == "other", rating_pain_intensity="", rating_pain_intensity_rt_s="")
    return Expect([data], 0, ["--models", "ratings"],
                  stderr=["warning: pain intensity: no participant answered it on 128 trials whose design cells the "
                          "sidecars say asked it (perspective other); those cells are treated as not asked"],
                  check=_scope_checks)


@case
def case_one_group_level(corpus, folder):
    """Every trial in-group: exit 0, group is in no table (descriptives, ANOVA)."""
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        set_cells(file, lambda r: r["block_kind"] == "main", group="ingroup")

    def check(page):
        for key in ("pain_intensity", "unpleasantness"):
            assert "group" not in table(page, f"descriptives_{key}").columns
            assert list(table(page, f"anova_{key}")["term"]) == [
                "pain", "perspective", "stimulus_type", "pain:perspective", "pain:stimulus_type",
                "perspective:stimulus_type", "pain:perspective:stimulus_type"]
    return Expect([data], 0, check=check)


# ------------------------------------------------------------------ degenerate answers
def _constant(corpus, folder, columns):
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        for column in columns:   # answered trials only: timeouts stay missing
            set_cells(file, lambda r, c=column: r[c] != "", **{column: "50"})
    return data


def _not_estimable(page, key):
    anova = table(page, f"anova_{key}")
    assert anova[["F", "p", "eta_p2", "p_gg"]].isna().all().all()
    assert anova["note"].str.startswith("not estimable: no error variance").all()
    assert f"lmm_fixed_{key}" not in tables(page)
    refused = table(page, "not_estimable").set_index(["measure", "analysis"])["reason"]
    assert refused[(key, "mixed model")] == "every answer is 50: the answers do not vary"
    assert refused[(key, "repeated-measures ANOVA")].startswith("15 of 15 terms have no error variance")


@case
def case_constant_both_ratings(corpus, folder):
    """Every answer 50 in both ratings: exit 0, ANOVA F/p empty with a note, mixed models not estimable (reason)."""
    data = _constant(corpus, folder, ["rating_pain_intensity", "rating_unpleasantness"])

    def check(page):
        for key in ("pain_intensity", "unpleasantness"):
            _not_estimable(page, key)
        assert "∞" not in page.read_text(encoding="utf-8")
    return Expect([data], 0, ["--models", "ratings"], check=check)


@case
def case_constant_intensity_only(corpus, folder):
    """Every intensity answer 50: intensity not estimable; unpleasantness fully reported (finite F, p; its model)."""
    data = _constant(corpus, folder, ["rating_pain_intensity"])

    def check(page):
        _not_estimable(page, "pain_intensity")
        anova = table(page, "anova_unpleasantness")
        assert len(anova) == 15 and np.isfinite(anova[["F", "p"]].to_numpy()).all() and anova["note"].isna().all()
        fixed = table(page, "lmm_fixed_unpleasantness")
        assert len(fixed) == 9 and np.isfinite(fixed["p"]).all()
        assert "unpleasantness" not in set(table(page, "not_estimable")["measure"])
    return Expect([data], 0, ["--models", "ratings"], check=check)


@case
def case_empty_design_cell(corpus, folder):
    """No intensity answer in pain × self × out-group: the mixed model is not estimable, naming the cell."""
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        set_cells(file, lambda r: (r["pain"], r["perspective"], r["group"]) == ("pain", "self", "outgroup"),
                  rating_pain_intensity="", rating_pain_intensity_rt_s="")

    def check(page):
        refused = table(page, "not_estimable").set_index(["measure", "analysis"])["reason"]
        assert refused[("pain_intensity", "mixed model")] == (
            "the design cell pain × self × outgroup holds no answers, so the interaction terms cannot be estimated")
        assert refused[("pain_intensity", "repeated-measures ANOVA")] == "fewer than two participants with every cell"
        assert "unpleasantness" not in set(refused.index.get_level_values(0))
        assert "lmm_fixed_unpleasantness" in tables(page)
    return Expect([data], 0, ["--models", "ratings"], check=check,
                  stderr=["warning: pain intensity: no participant answered it on 32 trials whose design cells the "
                          "sidecars say asked it (pain pain × perspective self × group outgroup); those cells are "
                          "treated as not asked"])


# ------------------------------------------------------------------ values outside what the protocol allows
def _one_value(corpus, folder, column, value, which=3, rating="pain_intensity"):
    data = _base_copy(corpus, folder)
    file = data_files(data)[1]
    i = _mains(file, rating)[which]
    header, rows = read_rows(file)
    rows[i][column] = value
    write_rows(file, header, rows)
    return data, file, i + 2


def _out_of_range(value):
    def build(corpus, folder):
        data, file, line = _one_value(corpus, folder, "rating_pain_intensity", value)
        shown = f"{float(value):g}"
        return Expect([data], 2, stderr=[f"{file}, line {line}, column 'rating_pain_intensity': {shown} is outside "
                                         f"the scale's range 0 to 100; correct the file, or drop such answers with "
                                         f"--allow-out-of-range"])
    build.__doc__ = f"A rating of {value} on the 0–100 scale: exit 2 naming file, line, column and range."
    return build


CASES["rating_250"] = _out_of_range("250")
CASES["rating_minus_40"] = _out_of_range("-40")
CASES["rating_1e6"] = _out_of_range("1e6")


@case
def case_out_of_range_allowed(corpus, folder):
    """250, −40 and 1e6 with --allow-out-of-range: exit 0, the three answers dropped and listed by line."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[1]
    rows_at = _mains(file)[3:6]
    header, rows = read_rows(file)
    for i, value in zip(rows_at, ("250", "-40", "1e6")):
        rows[i]["rating_pain_intensity"] = value
    write_rows(file, header, rows)

    def check(page):
        dropped = table(page, "dropped_rows")
        assert list(dropped["line"]) == [i + 2 for i in rows_at] and set(dropped["file"]) == {str(file)}
        assert list(dropped["reason"]) == [
            f"rating_pain_intensity = {v} outside the scale's range 0 to 100; answer dropped"
            for v in ("250", "-40", "1e+06")]
        base = corpus.base_tables
        counts = table(page, "exclusions_trials").set_index(["measure", "reason"])["n"]
        assert counts[("rating_pain_intensity", "timeout or missing")] == 3 + int(
            _counts(base).get(("rating_pain_intensity", "timeout or missing"), 0))
    return Expect([data], 0, ["--models", "none", "--allow-out-of-range"], check=check)


def _counts(tables_text):
    import io

    import pandas as pd

    return pd.read_csv(io.StringIO(tables_text["exclusions_trials"])).set_index(["measure", "reason"])["n"]


def _bad_rt(value, allowed=False):
    def build(corpus, folder):
        data, file, line = _one_value(corpus, folder, "rating_unpleasantness_rt_s", value, rating="unpleasantness")
        if allowed:
            return Expect([data], 0)
        return Expect([data], 2, stderr=[f"{file}, line {line}, column 'rating_unpleasantness_rt_s': {float(value):g} "
                                         f"is outside a response time above 0 s and at most the timeout 8 s"])
    return build


CASES["rt_zero"] = _bad_rt("0")
CASES["rt_zero"].__doc__ = "An unpleasantness RT of 0 s: exit 2 naming file, line, column."
CASES["rt_negative"] = _bad_rt("-0.25")
CASES["rt_negative"].__doc__ = "An RT of −0.25 s: exit 2 naming file, line, column."
CASES["rt_beyond_timeout"] = _bad_rt("9.5")
CASES["rt_beyond_timeout"].__doc__ = "An RT of 9.5 s under an 8 s timeout: exit 2 naming file, line, column."
CASES["rt_in_timeouts_last_frame"] = _bad_rt("8.04", allowed=True)
CASES["rt_in_timeouts_last_frame"].__doc__ = "An RT of 8.04 s (8 s timeout, last-frame margin 0.05 s): exit 0."


def _not_a_number(column, value, rating="pain_intensity"):
    def build(corpus, folder):
        data, file, line = _one_value(corpus, folder, column, value, rating=rating)
        return Expect([data], 2, stderr=[f"{file}, line {line}, column '{column}': {value!r} is not a number"])
    build.__doc__ = f"{value!r} in {column}: exit 2 naming file, line, column."
    return build


CASES["inf_rating"] = _not_a_number("rating_pain_intensity", "inf")
CASES["inf_onset"] = _not_a_number("stimulus_onset_s", "inf")
CASES["nan_rt"] = _not_a_number("rating_unpleasantness_rt_s", "nan", rating="unpleasantness")


@case
def case_level_outside_protocol(corpus, folder):
    """Group 'outgroup' in a protocol whose sidecars record group none: exit 2 naming the levels."""
    data = _base_copy(corpus, folder, corpus.no_group)
    file = data_files(data)[1]
    i = _mains(file)[3]
    header, rows = read_rows(file)
    rows[i]["group"] = "outgroup"
    write_rows(file, header, rows)
    return Expect([data], 2, stderr=[f"{file}, line {i + 2}, column 'group': 'outgroup' is not a level of this "
                                     f"protocol's group (levels: none)"])


@case
def case_level_outside_contract(corpus, folder):
    """'Pain' (capitalised) in the pain column: exit 2 naming the contract's levels."""
    data, file, line = _one_value(corpus, folder, "pain", "Pain")
    return Expect([data], 2, stderr=[f"{file}, line {line}, column 'pain': 'Pain' is not one of pain, neutral"])


@case
def case_blank_block_kind(corpus, folder):
    """A main row of sim001 with an empty block_kind: exit 2 naming file, line and column (not a silently lost trial)."""
    data, file, line = _one_value(corpus, folder, "block_kind", "")
    return Expect([data], 2, stderr=[f"{file}, line {line}, column 'block_kind'"])


@case
def case_blank_pain_without_sidecars(corpus, folder):
    """An empty pain level in a main row, no sidecars: exit 2 naming file, line and column (not a phantom design cell)."""
    data, file, line = _one_value(corpus, folder, "pain", "")
    for side in data.glob("*_session.json"):
        side.unlink()
    return Expect([data], 2, stderr=[f"{file}, line {line}, column 'pain'"])


@case
def case_blank_pain_with_sidecars(corpus, folder):
    """The same with the sidecars: exit 2, an empty pain is refused by the contract (every row needs one)."""
    data, file, line = _one_value(corpus, folder, "pain", "")
    return Expect([data], 2, stderr=[f"{file}, line {line}, column 'pain': '' is not one of pain, neutral "
                                     f"(every row needs one)"])


# ------------------------------------------------------------------ sessions, files and duplicates
@case
def case_same_id_two_files(corpus, folder):
    """sim003's trials relabelled sim001 in a second folder: exit 2 naming both files."""
    data = _base_copy(corpus, folder)
    first, _, third, _ = data_files(data)
    other = folder / "lab2" / first.name
    other.parent.mkdir()
    header, rows = read_rows(third)
    write_rows(other, header, [dict(r, participant="sim001") for r in rows])
    return Expect([data, other], 2, stderr=[f"{other} and {first} both hold participant sim001 session 1 with "
                                            f"different trials"], inputs=[data, other.parent])


def _identical_copy(corpus, folder, name):
    data = _base_copy(corpus, folder)
    first = data_files(data)[0]
    copy = data / name
    shutil.copy(first, copy)

    def check(page):
        _same_tables(corpus, page, data)
        dropped = table(page, "dropped_rows")
        assert list(dropped["file"]) == [str(copy)]
        assert list(dropped["reason"]) == [f"an identical copy of {first}; read once"]
    return Expect([data], 0, check=check)


@case
def case_identical_copy(corpus, folder):
    """A byte-identical copy of sim001's file sorting after it: exit 0, the copy read once and listed; the base's tables."""
    return _identical_copy(corpus, folder, "sub-sim001_ses-1_task-default_data_copy.csv")


@case
def case_identical_copy_sorting_first(corpus, folder):
    """The same copy named so that it sorts first (…_backup_data.csv): the original, with its sidecar, is the one read."""
    return _identical_copy(corpus, folder, "sub-sim001_ses-1_task-default_backup_data.csv")


@case
def case_two_sessions_one_participant(corpus, folder):
    """sim002's file relabelled as sim001 session 2: exit 0, three participants, sim001 with 128 main trials."""
    data = _base_copy(corpus, folder)
    second = data_files(data)[1]
    target = data / "sub-sim001_ses-2_task-default_data.csv"
    header, rows = read_rows(second)
    write_rows(target, header, [dict(r, participant="sim001", session="2") for r in rows])
    edit_json(sidecar(second), lambda d: d.update(participant="sim001", session=2))
    sidecar(second).rename(sidecar(target))
    second.unlink()

    def check(page):
        people = table(page, "exclusions_participants").set_index("participant")
        assert list(people.index) == ["sim001", "sim003", "sim004"] and not people["excluded"].any()
        assert people.loc["sim001", "n_trials"] == 2 * N_MAIN
        sessions = table(page, "sessions")
        assert list(zip(sessions["participant"], sessions["session"])) == [("sim001", 1), ("sim001", 2),
                                                                           ("sim003", 1), ("sim004", 1)]
        assert sessions["complete"].all()
    return Expect([data], 0, check=check)


@case
def case_conflicting_duplicate_trial(corpus, folder):
    """Trial 21 of sim001 twice with different unpleasantness: exit 2 naming both lines."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    header, rows = read_rows(file)
    twin = dict(rows[20], rating_unpleasantness="1" if rows[20]["rating_unpleasantness"] == "0" else "0")
    write_rows(file, header, rows + [twin])
    return Expect([data], 2, stderr=[
        f"{file}, line 22 and {file}, line {len(rows) + 2} both hold trial 21 of participant sim001 session 1 with "
        f"different values (rating_unpleasantness: {float(rows[20]['rating_unpleasantness'] or 'nan'):g} vs "
        f"{float(twin['rating_unpleasantness']):g}); keep the right one and delete the other"])


@case
def case_exact_duplicate_row(corpus, folder):
    """Trial 21 of sim001 repeated exactly: exit 0, warning, the repeat listed; every other table as the base's."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    header, rows = read_rows(file)
    write_rows(file, header, rows + [dict(rows[20])])

    def check(page):
        _same_tables(corpus, page, data)
        dropped = table(page, "dropped_rows")
        assert list(dropped["line"]) == [len(rows) + 2]
        assert dropped["reason"].iat[0].startswith("a duplicated row: an exact repeat of trial 21 (participant "
                                                   "sim001, session 1) at line 22")
    return Expect([data], 0, check=check, stderr=["warning: 1 duplicated trial row left out (exact repeats; the "
                                                  "first copy of each trial is kept)"])


@case
def case_short_file_completed_sidecar(corpus, folder):
    """sim001 lacks its last 10 rows though its sidecar says completed: exit 0, disagreement warned, sim001 excluded."""
    data = _base_copy(corpus, folder)
    edit_rows(data_files(data)[0], lambda rows: rows[:-10])

    def check(page):
        people = table(page, "exclusions_participants").set_index("participant")
        assert people.loc["sim001", "reason"] == "incomplete session (session 1: 62 of 72 trials on disk)"
        assert list(people["excluded"]) == [True, False, False, False]
    return Expect([data], 0, check=check, stderr=[
        "the sidecar says completed, but 62 of 72 trials are on disk; treated as incomplete"])


@case
def case_all_rows_running_sidecar(corpus, folder):
    """Every row on disk under a 'running' sidecar: exit 0, disagreement warned, treated as complete."""
    data = _base_copy(corpus, folder)
    edit_json(sidecar(data_files(data)[0]), lambda d: d.update(status="running"))

    def check(page):
        assert not table(page, "exclusions_participants")["excluded"].any()
        _same_tables(corpus, page, data, but=("sessions",))
    return Expect([data], 0, check=check, stderr=[
        "all 72 trials are on disk though the sidecar says 'running' (the session ended before its sidecar was "
        "updated); treated as complete"])


def _no_sidecars(corpus, folder):
    data = _base_copy(corpus, folder)
    for file in data.glob("*_session.json"):
        file.unlink()
    return data


@case
def case_no_sidecars(corpus, folder):
    """No sidecar at all: exit 0, a warning per rating that its range is unknown (--scale), completeness from the largest session."""
    data = _no_sidecars(corpus, folder)

    def check(page):
        sessions = table(page, "sessions")
        assert set(sessions["basis"]) == {"main trials against the largest session (no sidecar with a trial plan)"}
        assert sessions["complete"].all()
    return Expect([data], 0, check=check, stderr=[
        f"warning: rating {name}: no scale range is recorded (no session sidecar names one), so its values were not "
        f"checked against a range; give it with --scale {name}=LOW,HIGH" for name in ("pain_intensity",
                                                                                    "unpleasantness")])


@case
def case_no_sidecars_with_scale(corpus, folder):
    """No sidecars, --scale for both ratings: exit 0 without the range warning."""
    data = _no_sidecars(corpus, folder)
    return Expect([data], 0, ["--models", "none", "--scale", "pain_intensity=0,100", "--scale",
                              "unpleasantness=0,100"], not_stderr=["no scale range is recorded"])


@case
def case_no_sidecars_250_without_scale(corpus, folder):
    """No sidecars, a 250, no --scale: exit 0 (no range to check against), the unknown range warned about."""
    data = _no_sidecars(corpus, folder)
    file = data_files(data)[1]
    header, rows = read_rows(file)
    rows[_mains(file)[3]]["rating_pain_intensity"] = "250"
    write_rows(file, header, rows)
    return Expect([data], 0, stderr=["warning: rating pain_intensity: no scale range is recorded"])


@case
def case_no_sidecars_250_with_scale(corpus, folder):
    """No sidecars, a 250 and --scale pain_intensity=0,100: exit 2 naming file, line, column and range."""
    data = _no_sidecars(corpus, folder)
    file = data_files(data)[1]
    i = _mains(file)[3]
    header, rows = read_rows(file)
    rows[i]["rating_pain_intensity"] = "250"
    write_rows(file, header, rows)
    return Expect([data], 2, ["--models", "none", "--scale", "pain_intensity=0,100"], stderr=[
        f"{file}, line {i + 2}, column 'rating_pain_intensity': 250 is outside the scale's range 0 to 100"])


@case
def case_malformed_scale(corpus, folder):
    """--scale pain_intensity=100,0: exit 2 with the expected form."""
    data = _base_copy(corpus, folder)
    return Expect([data], 2, ["--models", "none", "--scale", "pain_intensity=100,0"],
                  stderr=["--scale must be NAME=LOW,HIGH with LOW < HIGH"])


@case
def case_previous_report_in_folder(corpus, folder):
    """A folder holding its own previous report, reported again: exit 0, identical tables, the old tables skipped."""
    data = _base_copy(corpus, folder)
    page = data / "report.html"
    from analysis.cli import main

    assert main(["-q", "report", str(data), "-o", str(page), "--models", "none"]) == 0
    first = tables(page)

    def check(_):
        second = tables(page)
        assert {k: v for k, v in second.items() if k != "skipped_files"} == \
            {k: v for k, v in first.items() if k != "skipped_files"}
        skipped = table(page, "skipped_files")
        assert sorted(Path(f).name for f in skipped["file"]) == sorted(f"report_{name}.csv" for name in first)
        assert set(skipped["reason"]) == {"a table of a report written by this toolkit"}
        _same_tables(corpus, page, data)
    return Expect([data], 0, ["--models", "none", "-o", page], check=check)


@case
def case_truncated_last_line(corpus, folder):
    """sim001's last line cut mid-row (no newline): exit 0, the line listed as left out, sim001 incomplete and excluded."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    text = file.read_text(encoding="utf-8")
    file.write_text(text[:-40], encoding="utf-8")

    def check(page):
        dropped = table(page, "dropped_rows")
        assert list(zip(dropped["file"], dropped["line"])) == [(str(file), 73)]
        assert dropped["reason"].iat[0] == "an unterminated last line (a write cut off); left out"
        people = table(page, "exclusions_participants").set_index("participant")
        assert people.loc["sim001", "reason"] == "incomplete session (session 1: 71 of 72 trials on disk)"
    return Expect([data], 0, check=check)


@case
def case_truncated_last_line_running_sidecar(corpus, folder):
    """A session killed mid-write: last line cut, sidecar 'running': exit 0, the line listed, sim001 excluded, no disagreement."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    file.write_text(file.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    edit_json(sidecar(file), lambda d: d.update(status="running"))

    def check(page):
        assert list(table(page, "dropped_rows")["line"]) == [73]
        people = table(page, "exclusions_participants").set_index("participant")
        assert people.loc["sim001", "reason"] == "incomplete session (session 1: 71 of 72 trials on disk)"
        assert people["excluded"].sum() == 1
    return Expect([data], 0, check=check, not_stderr=["sidecar says"])


@case
def case_out_of_range_practice_answer(corpus, folder):
    """A 250 in a practice trial (not analysed): exit 2 all the same, naming its line."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    header, rows = read_rows(file)
    i = next(i for i, r in enumerate(rows) if r["block_kind"] == "practice" and r["rating_pain_intensity"])
    rows[i]["rating_pain_intensity"] = "250"
    write_rows(file, header, rows)
    return Expect([data], 2, stderr=[f"{file}, line {i + 2}, column 'rating_pain_intensity': 250 is outside"])


@case
def case_non_trial_csvs_only(corpus, folder):
    """A folder of CSV tables that are not trial CSVs: exit 2, no trial CSV found."""
    data = folder / "data"
    data.mkdir()
    (data / "scores.csv").write_text("participant,score\np1,3\np2,4\n", encoding="utf-8")
    return Expect([data], 2, stderr=["no trial CSV found", "scores.csv lacks session, protocol"])


@case
def case_empty_file_in_folder(corpus, folder):
    """A 0-byte *_data.csv beside the base files: exit 0, the empty file listed as skipped, the base's tables."""
    data = _base_copy(corpus, folder)
    empty = data / "sub-sim005_ses-1_task-default_data.csv"
    empty.write_bytes(b"")

    def check(page):
        _same_tables(corpus, page, data)
        skipped = table(page, "skipped_files")
        assert list(skipped["file"]) == [str(empty)]
    return Expect([data], 0, check=check)


@case
def case_empty_file_named(corpus, folder):
    """A 0-byte file named on the command line: exit 2 saying it is empty."""
    data = _base_copy(corpus, folder)
    empty = data / "sub-sim005_ses-1_task-default_data.csv"
    empty.write_bytes(b"")
    return Expect([*data_files(data)[:-1], empty], 2, stderr=[f"{empty}: the file is empty"], inputs=[data])


@case
def case_header_only_file(corpus, folder):
    """A trial CSV with its header and no row: exit 2 naming it."""
    data = _base_copy(corpus, folder)
    header_only = data / "sub-sim005_ses-1_task-default_data.csv"
    header_only.write_text(data_files(data)[0].read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    return Expect([data], 2, stderr=[f"{header_only}: the file has a header but no trial rows"])


@case
def case_one_participant(corpus, folder):
    """sim001's file alone: exit 2, a report needs two participants."""
    data = _base_copy(corpus, folder)
    return Expect([data_files(data)[0]], 2, stderr=["1 of 1 participants remain after the exclusions; a report needs "
                                                    "at least 2"], inputs=[data])


@case
def case_everyone_excluded(corpus, folder):
    """Every file 10 rows short of its plan: exit 2, no participant remains, the reason given."""
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        edit_rows(file, lambda rows: rows[:-10])
    return Expect([data], 2, stderr=[
        "0 of 4 participants remain after the exclusions (e.g. sim001: incomplete session (session 1: 62 of 72 "
        "trials on disk)); a report needs at least 2; check the thresholds"])


@case
def case_practice_only_file(corpus, folder):
    """A file of practice trials only, alone: exit 2, no main trials."""
    data = _base_copy(corpus, folder)
    edit_rows(data_files(data)[0], lambda rows: [r for r in rows if r["block_kind"] == "practice"])
    first = data_files(data)[0]
    return Expect([first], 2, stderr=[f"{first}: no main trials (block_kind 'main'); only practice trials were found"],
                  inputs=[data])


@case
def case_practice_only_participant(corpus, folder):
    """sim001 with practice trials only beside three full sessions: exit 0, sim001 listed as excluded (incomplete)."""
    data = _base_copy(corpus, folder)
    edit_rows(data_files(data)[0], lambda rows: [r for r in rows if r["block_kind"] == "practice"])

    def check(page):
        people = table(page, "exclusions_participants").set_index("participant")
        assert list(people.index) == ["sim001", "sim002", "sim003", "sim004"]
        assert people.loc["sim001", "excluded"] and "incomplete session" in people.loc["sim001", "reason"]
    return Expect([data], 0, check=check, stderr=["the sidecar says completed, but 8 of 72 trials are on disk"])


def _other_protocol(corpus, folder):
    data = _base_copy(corpus, folder)
    set_cells(data_files(data)[3], protocol="other", protocol_sha256="e" * 64)
    return data


@case
def case_mixed_protocols(corpus, folder):
    """sim004's rows from another protocol: exit 2 pointing at --allow-mixed-protocols."""
    data = _other_protocol(corpus, folder)
    file = data_files(data)[3]
    return Expect([data], 2, stderr=[f"{file}: protocol 'other' (eeeeeeeeeeee) differs from",
                                     "--allow-mixed-protocols"])


@case
def case_mixed_protocols_allowed(corpus, folder):
    """The same with --allow-mixed-protocols: exit 0, the base's tables."""
    data = _other_protocol(corpus, folder)
    return Expect([data], 0, ["--models", "none", "--allow-mixed-protocols"],
                  check=lambda page: _same_tables(corpus, page, data))


@case
def case_crlf_line_ends(corpus, folder):
    """sim002's file saved with CRLF line ends: exit 0, the base's tables."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[1]
    file.write_bytes(file.read_bytes().replace(b"\n", b"\r\n"))
    return Expect([data], 0, check=lambda page: _same_tables(corpus, page, data))


@case
def case_shuffled_rows_and_columns(corpus, folder):
    """sim003's rows in reverse order and its columns reversed: exit 0, the base's tables."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[2]
    header, rows = read_rows(file)
    write_rows(file, header[::-1], rows[::-1])
    return Expect([data], 0, check=lambda page: _same_tables(corpus, page, data))


@case
def case_padded_levels(corpus, folder):
    """Spaces around every level and ID of sim002's file (" pain ", " sim002 "): exit 0, the base's tables."""
    data = _base_copy(corpus, folder)
    columns = ("participant", "pain", "perspective", "group", "stimulus_type", "stimulus_id")

    def pad(rows):
        for row in rows:
            row.update({c: f" {row[c]} " for c in columns})
    edit_rows(data_files(data)[1], pad)
    return Expect([data], 0, check=lambda page: _same_tables(corpus, page, data))


@case
def case_rating_missing_from_one_file(corpus, folder):
    """sim001's file without the pain-intensity columns: exit 0, a warning, unpleasantness alone analysed."""
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    header, rows = read_rows(file)
    kept = [c for c in header if not c.startswith("rating_pain_intensity")]
    write_rows(file, kept, [{c: r[c] for c in kept} for r in rows])

    def check(page):
        names = set(tables(page))
        assert "descriptives_unpleasantness" in names and not any("pain_intensity" in n for n in names)
    return Expect([data], 0, check=check, stderr=["warning: ratings pain_intensity are not in every file; only "
                                                  "unpleasantness are analysed"])


@case
def case_corrupt_sidecar(corpus, folder):
    """sim001's sidecar is not JSON: exit 0, a warning, its completeness judged from its rows."""
    data = _base_copy(corpus, folder)
    side = sidecar(data_files(data)[0])
    side.write_text("{not json", encoding="utf-8")

    def check(page):
        sessions = table(page, "sessions").set_index("participant")
        assert sessions.loc["sim001", "basis"] == ("main trials against the largest session (no sidecar with a trial "
                                                   "plan)")
        assert sessions["complete"].all() and not table(page, "exclusions_participants")["excluded"].any()
    return Expect([data], 0, check=check, stderr=[f"warning: {side}: not readable JSON", "the session's completeness "
                                                  "is judged from its rows alone"])


def _latin1_id(corpus, folder, row):
    data = _base_copy(corpus, folder)
    file = data_files(data)[0]
    lines = file.read_bytes().split(b"\n")
    lines[row] = lines[row].replace(b"sim001", "sïm001".encode("latin-1"))
    file.write_bytes(b"\n".join(lines))
    return Expect([data], 2, stderr=[f"{file}: not a UTF-8 text file (invalid continuation byte"])


@case
def case_not_utf8_late_row(corpus, folder):
    """A Latin-1 'ï' in sim001's 60th row: exit 2, not a UTF-8 text file."""
    return _latin1_id(corpus, folder, 60)


@case
def case_not_utf8_first_row(corpus, folder):
    """The same byte in sim001's first row: exit 2, not a UTF-8 text file (not a silently skipped participant)."""
    return _latin1_id(corpus, folder, 1)


# ------------------------------------------------------------------ analysis fit
def _fit_json(corpus, folder, *, practice=False):
    args = ["fit", corpus.base / "data", "--formula", FORMULA, "--json"] + (["--include-practice"] if practice else [])
    from analysis.cli import main
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main([str(a) for a in args]) == 0
    return json.loads(out.getvalue())


def _fit_check(expected_n, terms=None):
    def check(doc):
        assert doc["n_obs"] == expected_n
        if terms is not None:
            assert [f["term"] for f in doc["fixed"]] == terms
    return check


EFFECT_TERMS = ["(Intercept)", "pain", "perspective", "group", "pain:perspective", "pain:group", "perspective:group",
                "pain:perspective:group"]


@case
def case_fit_pilot_folder(corpus, folder):
    """`fit` on a pilot's data folder: exit 0, main trials only, effect-coded terms, the count said on stderr."""
    data = _base_copy(corpus, folder)
    return Expect([data], 0, ["--formula", FORMULA, "--json"], command="fit",
                  stderr=[f"data: {4 * N_MAIN} main trials of 4 participants from 4 trial files; {4 * N_PRACTICE} "
                          f"practice trials set aside"],
                  check=_fit_check(main_answers(data, "pain_intensity"), EFFECT_TERMS))


@case
def case_fit_include_practice(corpus, folder):
    """`fit --include-practice`: exit 0, practice rows in, a warning that perspective gets treatment contrasts."""
    data = _base_copy(corpus, folder)
    n_all = sum(1 for f in data_files(data) for r in read_rows(f)[1] if r["rating_pain_intensity"])
    return Expect([data], 0, ["--formula", FORMULA, "--json", "--include-practice"], command="fit",
                  stderr=["warning: perspective has the levels none, other, self, not just self and other, so it gets "
                          "treatment contrasts (reference none)"], check=_fit_check(n_all))


@case
def case_fit_folder_with_report(corpus, folder):
    """`fit` on a folder holding a report: exit 0, the same fit as on the clean folder."""
    data = _base_copy(corpus, folder)
    from analysis.cli import main

    assert main(["-q", "report", str(data), "-o", str(data / "report.html"), "--models", "none"]) == 0
    clean = _fit_json(corpus, folder)
    return Expect([data], 0, ["--formula", FORMULA, "--json"], command="fit", check=lambda doc: doc == clean or
                  pytest.fail(f"{doc} != {clean}"))


@case
def case_fit_dataset_root(corpus, folder):
    """`fit` on a dataset root (data/ inside): exit 0, the same fit as on its data folder."""
    _base_copy(corpus, folder)
    clean = _fit_json(corpus, folder)
    return Expect([folder], 0, ["--formula", FORMULA, "--json"], command="fit",
                  check=lambda doc: doc == clean or pytest.fail(f"{doc} != {clean}"))


@case
def case_fit_one_participant(corpus, folder):
    """`fit` with a participant random effect on one participant's file: exit 2, the grouping factor has 1 level."""
    data = _base_copy(corpus, folder)
    return Expect([data_files(data)[0]], 2, ["--formula", FORMULA], command="fit", inputs=[data], stderr=[
        "grouping factor 'participant' has 1 level in the data used; a random effect needs at least 2 levels"])


@case
def case_fit_one_group_level(corpus, folder):
    """`fit` with group in the formula on all-in-group data: exit 2, leave group out."""
    data = _base_copy(corpus, folder)
    for file in data_files(data):
        set_cells(file, lambda r: r["block_kind"] == "main", group="ingroup")
    return Expect([data], 2, ["--formula", FORMULA], command="fit", stderr=[
        "factor 'group' has one level (ingroup) in the data fitted; leave it out of the formula"])


@case
def case_fit_constant_response(corpus, folder):
    """`fit` on intensity answers all 50: exit 2, not estimable (the response does not vary)."""
    data = _constant(corpus, folder, ["rating_pain_intensity"])
    return Expect([data], 2, ["--formula", FORMULA], command="fit", stderr=[
        "not estimable: every value of rating_pain_intensity is 50: the response does not vary"])


@case
def case_fit_out_of_range(corpus, folder):
    """`fit` on data with a 250: exit 2 naming file, line, column and range."""
    data, file, line = _one_value(corpus, folder, "rating_pain_intensity", "250")
    return Expect([data], 2, ["--formula", FORMULA], command="fit", stderr=[
        f"{file}, line {line}, column 'rating_pain_intensity': 250 is outside the scale's range 0 to 100"])


# ------------------------------------------------------------------ the test
@pytest.mark.parametrize("name", list(CASES))
def test_case(name, corpus, tmp_path, capsys):
    """Each case's exit code, stderr and tables, and its inputs unchanged."""
    folder = tmp_path / "case"
    folder.mkdir()
    expect = CASES[name](corpus, folder)
    watched = [Path(p) for p in (expect.inputs or expect.data)]
    watched = [p if p.is_dir() else p.parent for p in watched]
    before = {str(w): digests(w) for w in watched}
    page = tmp_path / "out" / "r.html"
    argv = [expect.command, *expect.data, *expect.options]
    if expect.command == "report" and "-o" not in expect.options:
        argv += ["-o", page]
    elif "-o" in expect.options:
        page = Path(expect.options[expect.options.index("-o") + 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_cli(argv, capsys)
    assert code == expect.code, err
    leaked = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
    assert not leaked, leaked
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"analysis {expect.command}: error: "), err
        if expect.command == "report":
            assert not page.exists() or "-o" in expect.options
    for fragment in expect.stderr:
        assert fragment in err, err
    for fragment in expect.not_stderr:
        assert fragment not in err, err
    if code == 0 and expect.check is not None:
        expect.check(json.loads(out) if expect.command == "fit" else page)
    for w in watched:
        after = {k: v for k, v in digests(w).items() if k in before[str(w)] and not k.startswith(page.stem + "_")
                 and k != page.name}
        assert after == {k: v for k, v in before[str(w)].items() if k in after}
        assert set(after) == {k for k in before[str(w)] if not k.startswith(page.stem + "_") and k != page.name}
