"""Hostile inputs to the three CLIs, each run as a real process under a memory and a time cap.

Every case states its exit code and a fragment of its one-line message; every case must end
without a traceback, inside the caps (no runaway), and leave every input file unchanged.
"""
from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MEMORY_CAP = 3 * 1024 ** 3   # bytes of address space per process
TIME_CAP_S = 90
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@dataclass
class Case:
    argv: list
    code: int
    fragment: str
    inputs: list = field(default_factory=list)


def _capped():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run(argv, cwd):
    """Run a console script of the venv under the caps; returns (code, stderr)."""
    proc = subprocess.run([str(BIN / argv[0]), *map(str, argv[1:])], cwd=cwd, capture_output=True, text=True,
                          timeout=TIME_CAP_S, preexec_fn=_capped, env={**os.environ, "PSYCHOPYNOPACKAGES": "1"})
    return proc.returncode, proc.stderr


def digest(path: Path) -> dict:
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# ------------------------------------------------------------------ building the inputs
def _default_text(placeholder_manifest) -> str:
    text = (REPO / "protocols" / "default.yaml").read_text()
    return text.replace("../stimuli/sets/default/manifest.csv", str(placeholder_manifest))


def _protocol(tmp, placeholder_manifest, edit=None, name="p.yaml") -> Path:
    text = _default_text(placeholder_manifest)
    path = tmp / name
    path.write_text(edit(text) if edit else text)
    return path


def _bomb(levels=12) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def pilot_data(tmp_path_factory, default_protocol, manifest):
    """A small pilot (3 participants) whose CSVs the analysis cases edit."""
    from paradigm.pilot import run_pilot
    from paradigm.protocol_load import load_protocol

    loaded = load_protocol(default_protocol.path, {**dict(default_protocol.overrides),
                                                   "blocks.main.trials_per_cell": 2})
    out = tmp_path_factory.mktemp("pilot")
    run_pilot(loaded, manifest, n_participants=3, out_dir=out, seed=5)
    return out / "data"


def _copy_data(pilot_data, tmp, edit=None) -> Path:
    folder = tmp / "data"
    folder.mkdir()
    for f in pilot_data.iterdir():
        text = f.read_text()
        (folder / f.name).write_text(edit(f.name, text) if edit and f.name.endswith("_data.csv") else text)
    return folder


def _set_cell(column, value, file_index=0, row=5):
    """An edit putting ``value`` into ``column`` of data row ``row`` of the ``file_index``-th trial CSV."""
    import csv
    import io

    def edit(name, text):
        if not name.startswith(f"sub-sim00{file_index + 1}_"):
            return text
        rows = list(csv.reader(io.StringIO(text)))
        rows[row][rows[0].index(column)] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()
    return edit


# ------------------------------------------------------------------ the cases
def protocol_cases(tmp, placeholder_manifest):
    """``paradigm validate`` on hostile protocols and overrides, and ``paradigm pilot`` / ``run`` on hostile options."""
    p = lambda edit=None, name="p.yaml": _protocol(tmp, placeholder_manifest, edit, name)  # noqa: E731
    big = tmp / "big.yaml"
    big.write_text("name: big\n" + "# padding\n" * 200_000)
    bomb = tmp / "bomb.yaml"
    bomb.write_text(_bomb())
    deep = tmp / "deep.yaml"
    deep.write_text("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    binary = tmp / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 10)
    cases = {
        "alias bomb": Case(["paradigm", "validate", bomb], 2, "anchors and aliases"),
        "alias in a real protocol": Case(["paradigm", "validate", p(lambda t: t.replace(
            "language: en", "language: &l en\ntitle2: *l"), "alias.yaml")], 2, "anchors and aliases"),
        "100,000-deep nesting": Case(["paradigm", "validate", deep], 2, "nested more than"),
        "duplicate key": Case(["paradigm", "validate", p(lambda t: t.replace("language: en", "language: en\nlanguage: de"),
                                                        "dup.yaml")], 2, "written twice (lines"),
        "/dev/zero": Case(["paradigm", "validate", "/dev/zero"], 2, "not a regular file"),
        "a folder": Case(["paradigm", "validate", tmp], 2, "is a folder"),
        "2 MB file": Case(["paradigm", "validate", big], 2, "larger than"),
        "binary garbage": Case(["paradigm", "validate", binary], 2, "UTF-8"),
        "top-level list": Case(["paradigm", "validate", p(lambda t: "- a\n- b\n", "list.yaml")], 2,
                               "top level must be a mapping"),
        "empty file": Case(["paradigm", "validate", p(lambda t: "", "empty.yaml")], 2, "file is empty"),
        "missing file": Case(["paradigm", "validate", tmp / "nope.yaml"], 2, "file not found"),
    }
    base = p()
    overrides = {
        "duration .inf": ("timeline.1.duration_s=.inf", "finite number of seconds"),
        "duration .nan": ("timeline.1.duration_s=.nan", "finite number of seconds"),
        "duration of a year": ("timeline.1.duration_s=31536000", "at most 86400"),
        "range to 1e308": ("timeline.3.range=[0, 1.0e+308]", "finite numbers within"),
        "timeout 1e-300 s": ("timeline.3.timeout_s=1.0e-300", "shorter than one frame"),
        "timeout .inf": ("timeline.3.timeout_s=.inf", "timeline[3].timeout_s"),
        "10^7 trials per cell": ("blocks.main.trials_per_cell=10000000", "at most 10000 are allowed"),
        "10^9 practice trials": ("blocks.practice.n_trials=1000000000", "at most 10000 are allowed"),
        "unknown break placeholder": ("instructions.en.break=Rest {oops}", "unknown placeholder {oops}"),
        "unbalanced break brace": ("instructions.en.break=Rest {done", "instructions.en.break"),
        "simulation nan": ("simulation={lapse_rate: .nan}", "must be a finite number"),
        "negative residual SD": ("simulation={ratings: {pain_intensity: {sd_residual: -5}}}", "must be ≥ 0"),
        "alias bomb via --set": ("simulation=" + _bomb(6).replace("\n", " ").replace("a0: ", "{a0: ", 1)[:-1] + "}",
                                 "anchors and aliases"),
        "asked_when with a level the design lacks": ("timeline.3.asked_when={perspective: [me]}", "not a level"),
        "impossible joint constraints": ("constraints.max_run_length={pain: 1, stimulus_type: 1, group: 1}",
                                         "no order of its"),
        "unknown key": ("blocks.main.trials_per_cel=3", "unknown key"),
    }
    for name, (override, fragment) in overrides.items():
        cases[f"--set {name}"] = Case(["paradigm", "validate", base, "--set", override], 2, fragment)
    a_file = tmp / "a_file.txt"
    a_file.write_text("not a folder\n")
    pilot = ["paradigm", "pilot", base, "--out", tmp / "pilot_out"]
    cases.update({
        "pilot --participants 10^9": Case([*pilot, "--participants", "1000000000"], 2, "--participants"),
        "pilot --jobs 10^6": Case([*pilot, "--participants", "2", "--jobs", "1000000"], 2, "--jobs"),
        "pilot --seed -1": Case([*pilot, "--participants", "2", "--seed", "-1"], 2, "--seed"),
        "pilot --time-scale nan": Case([*pilot, "--participants", "2", "--time-scale", "nan"], 2, "--time-scale"),
        "pilot --out a file": Case(["paradigm", "pilot", base, "--out", a_file, "--participants", "2"], 2, "--out",
                                   [a_file]),
        "run with a 300-character id": Case(["paradigm", "run", base, "--participant", "P" * 300, "--out",
                                             tmp / "run_out"], 2, "participant"),
    })
    return cases


def stimuli_cases(tmp, placeholder_manifest):
    """``stimuli`` commands on hostile images, manifests and outputs."""
    from PIL import Image

    big = tmp / "big"
    big.mkdir()
    Image.new("L", (12000, 12000), 128).save(big / "face_A_x01_pain.png", optimize=True)
    Image.new("L", (64, 64), 100).save(big / "face_A_x01_neutral.png")
    run(["stimuli", "manifest", big, "--out", big / "manifest.csv"], tmp)
    with open(big / "manifest.csv", "a") as fh:   # the lab's edit
        fh.write("\n")
    header = (placeholder_manifest.read_text().splitlines()[0])
    row = placeholder_manifest.read_text().splitlines()[1].split(",")
    images = placeholder_manifest.parent

    def manifest_with_id(sid, name):
        path = images / name
        path.write_text(header + "\n" + ",".join([row[0], sid, *row[2:]]) + "\n")
        return path
    text_file = tmp / "notes.txt"
    text_file.write_text("my notes\n")
    latin = tmp / "latin.csv"
    latin.write_bytes(header.encode() + b"\nimages/x.png,caf\xe9,,face,pain,A,x,,,,,\n")
    generated = tmp / "gen"
    run(["stimuli", "generate", "--out", generated, "--identities", "1", "--size", "64", "--workers", "1"], tmp)
    return {
        "12000 x 12000 PNG": Case(["stimuli", "check", big / "manifest.csv"], 2, "at most 50 megapixels",
                                  [big]),
        "sheet onto a text file": Case(["stimuli", "sheet", placeholder_manifest, "--out", text_file], 2,
                                       "already exists", [text_file]),
        "sheet onto the manifest": Case(["stimuli", "sheet", placeholder_manifest, "--out", placeholder_manifest],
                                        2, "is one of the inputs", [placeholder_manifest]),
        "sheet onto a folder": Case(["stimuli", "sheet", placeholder_manifest, "--out", tmp], 2, "is a folder"),
        "stats CSV onto the manifest": Case(["stimuli", "check", placeholder_manifest, "--stats-csv",
                                             placeholder_manifest], 2, "inputs", [placeholder_manifest]),
        "manifest over an edited manifest": Case(["stimuli", "manifest", big, "--out", big / "manifest.csv"], 2,
                                                 "--force", [big]),
        "generate over a set without flags": Case(["stimuli", "generate", "--out", generated, "--identities", "1",
                                                   "--size", "64"], 2, "--if-missing", [generated]),
        "match into a folder of other files": Case(["stimuli", "match", placeholder_manifest, "--out", big], 2,
                                                   "new or empty folder", [big]),
        "a folder as the manifest": Case(["stimuli", "check", images], 2, "is a folder"),
        "NUL in a stimulus id": Case(["stimuli", "check", manifest_with_id("face\x00x", "nul.csv")], 2,
                                     "stimulus_id"),
        "formula as a stimulus id": Case(["stimuli", "check", manifest_with_id("=cmd|' /C calc'!A0", "eq.csv")], 2,
                                         "must start with a letter or digit"),
        "manifest not UTF-8": Case(["stimuli", "check", latin], 2, "not UTF-8", [latin]),
        "manifest missing": Case(["stimuli", "check", tmp / "none.csv"], 2, "file not found"),
    }


def analysis_cases(tmp, pilot_data, placeholder_manifest):
    """``analysis`` commands on hostile data files and options."""
    def data(name, edit=None):
        folder = tmp / name
        folder.mkdir()
        return _copy_data(pilot_data, folder, edit)
    clean = data("clean")
    one = sorted(clean.glob("*_data.csv"))[0]
    formula = "rating_pain_intensity ~ pain + (1 | participant)"
    protocol = _protocol(tmp, placeholder_manifest)
    return {
        "-o onto a data file": Case(["analysis", "report", clean, "-o", one], 2, "one of the data files read",
                                    [clean]),
        "-o onto a folder": Case(["analysis", "report", clean, "-o", tmp], 2, "", [clean]),
        "rating inf": Case(["analysis", "report", data("inf", _set_cell("rating_pain_intensity", "inf"))], 2,
                           "is not a number"),
        "rating 1e308": Case(["analysis", "report", data("huge", _set_cell("rating_pain_intensity", "1e308"))], 2,
                             "outside the scale's range"),
        "rating -40": Case(["analysis", "report", data("neg", _set_cell("rating_pain_intensity", "-40"))], 2,
                           "outside the scale's range"),
        "RT 0": Case(["analysis", "report", data("rt0", _set_cell("rating_pain_intensity_rt_s", "0"))], 2,
                     "response time above 0 s"),
        "onset nan": Case(["analysis", "report", data("nan", _set_cell("stimulus_onset_s", "nan"))], 2,
                          "is not a number"),
        "level 'Pain'": Case(["analysis", "report", data("lvl", _set_cell("pain", "Pain"))], 2, "is not one of"),
        "NUL in a participant id": Case(["analysis", "report", data("nul", _set_cell("participant", "sim\x00001"))],
                                        2, ""),
        "binary file named as data": Case(["analysis", "report", _binary(tmp)], 2, ""),
        "a folder of text files": Case(["analysis", "report", _notes(tmp)], 2, "no trial CSV"),
        "one participant": Case(["analysis", "report", one], 2, "participants remain"),
        "fit: unknown column": Case(["analysis", "fit", clean, "--formula", "rating_x ~ pain + (1 | participant)"],
                                    2, "not a column"),
        "fit: formula garbage": Case(["analysis", "fit", clean, "--formula", "~~ ((("], 2, ""),
        "fit: --scale garbage": Case(["analysis", "fit", clean, "--formula", formula, "--scale", "x=1"], 2,
                                     "--scale"),
        "power: --sims 0": Case(["analysis", "power", protocol, "--sims", "0"], 2, "--sims"),
        "power: --participants 1": Case(["analysis", "power", protocol, "--participants", "1"], 2, "--participants"),
        "power: --participants abc": Case(["analysis", "power", protocol, "--participants", "abc"], 2,
                                          "--participants"),
        "power: unknown effect term": Case(["analysis", "power", protocol, "--effect", "colour=3", "--sims", "1"],
                                           2, "colour"),
        "power: alias bomb protocol": Case(["analysis", "power", _bomb_file(tmp), "--sims", "1"], 2,
                                           "anchors and aliases"),
    }


def _binary(tmp):
    path = tmp / "sub-x_ses-1_task-t_data.csv"
    path.write_bytes(os.urandom(4096))
    return path


def _notes(tmp):
    folder = tmp / "notes"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n")
    return folder


def _bomb_file(tmp):
    path = tmp / "bomb2.yaml"
    path.write_text(_bomb())
    return path


@pytest.fixture(scope="module")
def cases(tmp_path_factory, placeholder_manifest, pilot_data):
    tmp = tmp_path_factory.mktemp("hostile")
    out = {}
    for family, build in (("protocol", lambda d: protocol_cases(d, placeholder_manifest)),
                          ("stimuli", lambda d: stimuli_cases(d, placeholder_manifest)),
                          ("analysis", lambda d: analysis_cases(d, pilot_data, placeholder_manifest))):
        folder = tmp / family
        folder.mkdir()
        out.update({f"{family}: {name}": case for name, case in build(folder).items()})
    return out


CASE_NAMES = [f"protocol: {n}" for n in (
    "alias bomb", "alias in a real protocol", "100,000-deep nesting", "duplicate key", "/dev/zero", "a folder",
    "2 MB file", "binary garbage", "top-level list", "empty file", "missing file", "pilot --participants 10^9",
    "pilot --jobs 10^6", "pilot --seed -1", "pilot --time-scale nan", "pilot --out a file",
    "run with a 300-character id")] + [
    f"protocol: --set {n}" for n in (
        "duration .inf", "duration .nan", "duration of a year", "range to 1e308", "timeout 1e-300 s", "timeout .inf",
        "10^7 trials per cell", "10^9 practice trials", "unknown break placeholder", "unbalanced break brace",
        "simulation nan", "negative residual SD", "alias bomb via --set", "asked_when with a level the design lacks",
        "impossible joint constraints", "unknown key")] + [f"stimuli: {n}" for n in (
            "12000 x 12000 PNG", "sheet onto a text file", "sheet onto the manifest", "sheet onto a folder",
            "stats CSV onto the manifest", "manifest over an edited manifest", "generate over a set without flags",
            "match into a folder of other files", "a folder as the manifest", "NUL in a stimulus id",
            "formula as a stimulus id", "manifest not UTF-8", "manifest missing")] + [f"analysis: {n}" for n in (
                "-o onto a data file", "-o onto a folder", "rating inf", "rating 1e308", "rating -40", "RT 0",
                "onset nan", "level 'Pain'", "NUL in a participant id", "binary file named as data",
                "a folder of text files", "one participant", "fit: unknown column", "fit: formula garbage",
                "fit: --scale garbage", "power: --sims 0", "power: --participants 1", "power: --participants abc",
                "power: unknown effect term", "power: alias bomb protocol")]


def test_corpus_has_every_case(cases):
    """The parametrised names and the built cases are the same set (at least 60 hostile inputs)."""
    assert sorted(cases) == sorted(CASE_NAMES) and len(CASE_NAMES) >= 60


@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_input(name, cases, tmp_path):
    """The case ends with its exit code and one line naming the problem: no traceback, no runaway, inputs intact."""
    case = cases[name]
    watched = [Path(p) for p in case.inputs]
    before = {str(w): digest(w) for w in watched}
    code, err = run(case.argv, tmp_path)
    assert "Traceback" not in err and "MemoryError" not in err, err
    assert code == case.code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and case.fragment in lines[0], err
    assert {str(w): digest(w) for w in watched} == before
