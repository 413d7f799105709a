"""The published-paradigm presets in protocols/: sources named, designs buildable, pilots runnable."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from paradigm import load_protocol
from paradigm.cli import main
from paradigm.datafiles import trial_columns
from paradigm.design import build_design, n_slots
from paradigm.pilot import run_pilot
from stimuli import read_manifest

REPO = Path(__file__).resolve().parents[2]
PROTOCOLS = REPO / "protocols"
PRESETS = ["jackson2005", "jackson2006", "xu2009", "han_erp", "singer2004", "lamm2007", "default"]
BASE_CONTRACT = ["participant", "session", "protocol", "protocol_sha256", "mode", "simulated", "block",
                 "block_kind", "trial", "stimulus_id", "stimulus_file", "stimulus_type", "pain",
                 "participant_group", "stimulus_group", "group", "perspective", "fixation_onset_s",
                 "stimulus_onset_s", "stimulus_offset_s", "stimulus_duration_s", "dropped_frames", "timed_out",
                 "timestamp_utc"]
REFERENCES = yaml.safe_load((REPO / "seeds" / "references.yaml").read_text(encoding="utf-8"))
BUNDLED = REPO / "stimuli" / "sets" / "default" / "manifest.csv"


def _header(name):
    """The comment lines before the first YAML key of a preset."""
    lines = []
    for line in (PROTOCOLS / f"{name}.yaml").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return lines


def _seeds(name):
    found = [line for line in _header(name) if line.startswith("seeds:")]
    assert len(found) == 1, f"{name}.yaml: the header needs exactly one 'seeds:' line"
    return [key.strip() for key in found[0][len("seeds:"):].split(",") if key.strip()]


def _load(name, placeholder_manifest):
    """The preset with image manifests pointed at the test set; shipped text-cue manifests kept."""
    loaded = load_protocol(PROTOCOLS / f"{name}.yaml")
    if PROTOCOLS in loaded.manifest_path.parents:
        return loaded
    return load_protocol(PROTOCOLS / f"{name}.yaml", {"stimuli.manifest": str(placeholder_manifest)})


def _groups(protocol):
    group = protocol.factors.group
    return list(group.participant_levels) if group.kind == "natural" else [None]


def test_every_preset_is_present():
    """Each preset of issue 7 is a file in protocols/."""
    assert sorted(PRESETS) == sorted(p.stem for p in PROTOCOLS.glob("*.yaml"))


@pytest.mark.parametrize("name", PRESETS)
def test_header_names_seeds_that_exist(name):
    """A preset's header names its seeds keys, every one an entry of seeds/references.yaml."""
    keys = _seeds(name)
    assert keys, f"{name}.yaml names no seeds"
    missing = [k for k in keys if k not in REFERENCES]
    assert not missing, f"{name}.yaml cites {missing}, not in seeds/references.yaml"


@pytest.mark.parametrize("name", PRESETS)
def test_header_says_which_numbers_are_recalled(name):
    """The header has a 'Recalled [M]' statement, and every '[M key]' it cites is a recalled take of that key."""
    text = " ".join(_header(name))
    assert "Recalled [M] numbers used:" in text
    for key in re.findall(r"\[M ([a-z0-9_]+)", text):
        assert key in _seeds(name), f"{name}.yaml marks [M {key}] but does not list {key} under seeds"
        statuses = {t["status"] for t in REFERENCES[key]["takes"]}
        assert "recalled" in statuses, f"{name}.yaml marks [M {key}], but seeds lists nothing of {key} as recalled"


def test_references_follow_the_file_structure():
    """Every reference has authors, year, title, journal, DOI and checked/recalled statuses."""
    for key, entry in REFERENCES.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
        assert {"authors", "year", "title", "journal", "doi", "doi_status", "takes"} <= set(entry), key
        assert entry["doi_status"] in ("checked", "recalled", "none"), key
        assert (entry["doi"] is None) == (entry["doi_status"] == "none"), key
        if entry["doi"]:
            assert entry["doi"].startswith("10."), key
        assert entry["takes"] and all(t["status"] in ("verified", "recalled") and t["what"]
                                      for t in entry["takes"]), key


@pytest.mark.parametrize("name", PRESETS)
def test_design_builds_for_every_slot_and_group(name, placeholder_manifest):
    """The trial table builds for every counterbalancing slot and participant group over several seeds."""
    loaded = _load(name, placeholder_manifest)
    protocol, manifest = loaded.protocol, read_manifest(loaded.manifest_path)
    for seed in range(5):
        for slot in range(n_slots(protocol)):
            for group in _groups(protocol):
                design = build_design(protocol, manifest, slot=slot, seed=seed, participant_group=group)
                main_trials = [t for t in design.trials if t.block_kind == "main"]
                cells = {(t.pain, t.stimulus_type, t.group, t.perspective) for t in main_trials}
                assert len(main_trials) == len(cells) * protocol.blocks.main.trials_per_cell


@pytest.fixture(scope="module")
def default_layout_set(tmp_path_factory):
    """The default set's manifest (24 + 24 identities, two groups), generated small when it is not on disk."""
    if BUNDLED.exists():
        return BUNDLED
    from stimuli.generate import generate_set

    return generate_set(tmp_path_factory.mktemp("default_set") / "set", size_px=64, workers=1)


@pytest.mark.parametrize("name", PRESETS)
def test_validates_with_the_default_set(name, default_layout_set, capsys):
    """`paradigm validate` accepts the preset as shipped, against the generated default set."""
    args = ["validate", str(PROTOCOLS / f"{name}.yaml")]
    shipped = yaml.safe_load((PROTOCOLS / f"{name}.yaml").read_text(encoding="utf-8"))["stimuli"]["manifest"]
    if shipped == "../stimuli/sets/default/manifest.csv":
        args += ["--set", f"stimuli.manifest={default_layout_set}"]
    assert main(args) == 0, capsys.readouterr().err
    assert "every slot and participant group can be built" in capsys.readouterr().out


@pytest.mark.parametrize("name", PRESETS)
def test_runs_as_a_data_only_pilot(name, placeholder_manifest, tmp_path):
    """A whole pilot (every slot, both groups) completes and writes the contract's columns."""
    loaded = _load(name, placeholder_manifest)
    protocol = loaded.protocol
    n = n_slots(protocol) * len(_groups(protocol))
    result = run_pilot(loaded, read_manifest(loaded.manifest_path), n_participants=n, out_dir=tmp_path, seed=4)
    assert [s.status for s in result.sessions] == ["completed"] * n
    for session in result.sessions:
        data = pd.read_csv(session.files.trials, keep_default_na=False, dtype=str)
        wanted = BASE_CONTRACT + [c for r in protocol.ratings for c in (f"rating_{r.name}", f"rating_{r.name}_rt_s")]
        if protocol.judgement:
            wanted += ["judgement", "judgement_correct", "judgement_rt_s"]
        assert set(wanted) <= set(data.columns) and list(data.columns) == trial_columns(protocol)
        assert len(data) == protocol.blocks.practice.n_trials + sum(
            1 for t in build_design(protocol, read_manifest(loaded.manifest_path), slot=0, seed=0,
                                    participant_group=_groups(protocol)[0]).trials if t.block_kind == "main")
        main_rows = data[data.block_kind == "main"]
        durations = pd.to_numeric(main_rows["stimulus_duration_s"])
        stimulus = next(e for e in protocol.timeline if e.event == "stimulus").duration_s
        assert durations.between(stimulus[0] - 0.02, stimulus[1] + 0.02).all()
        for rating in protocol.ratings:
            values = pd.to_numeric(main_rows[f"rating_{rating.name}"], errors="coerce").dropna()
            assert len(values) > 0.8 * len(main_rows) and values.between(*rating.range).all()
        if protocol.judgement:
            assert set(main_rows["judgement"]) <= set(protocol.judgement.keys.values()) | {""}


def test_cue_preset_shows_text_cues(placeholder_manifest, tmp_path):
    """The Singer preset's stimuli are the shipped HIGH/LOW text cues, crossed with self/other per trial."""
    loaded = _load("singer2004", placeholder_manifest)
    manifest = read_manifest(loaded.manifest_path)
    assert {(s.stimulus_type, s.pain, s.label) for s in manifest.stimuli} == {
        ("cue", "pain", "HIGH"), ("cue", "neutral", "LOW")}
    design = build_design(loaded.protocol, manifest, slot=0, seed=1)
    blocks = {t.block for t in design.trials if t.block_kind == "main"}
    cells = {(t.pain, t.perspective) for t in design.trials if t.block_kind == "main"}
    assert len(blocks) == 1 and cells == {(p, q) for p in ("pain", "neutral") for q in ("self", "other")}


def test_cue_preset_simulates_the_open_cue_effects(placeholder_manifest):
    """The Singer preset's simulation section sets unpleasantness to the open cue-task estimates."""
    from paradigm.simulated import simulation_params

    effects = simulation_params(_load("singer2004", placeholder_manifest).protocol.simulation).rating(
        "unpleasantness").effects
    assert effects == {"pain": 28.1, "perspective": 5.8, "pain:perspective": 4.5, "group": 0.0, "pain:group": 0.0}
