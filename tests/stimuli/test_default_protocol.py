"""Contract with `paradigm`: the default protocol builds a design from a generated default-layout set."""
from __future__ import annotations

from pathlib import Path

import pytest

from stimuli import read_manifest
from stimuli.generate import generate_set

PROTOCOL = Path(__file__).resolve().parents[2] / "protocols" / "default.yaml"


@pytest.mark.skipif(not PROTOCOL.is_file(), reason="protocols/default.yaml not in this checkout")
def test_default_protocol_runs_on_the_generated_layout(tmp_path):
    """12 identities per type and group (tiny images) satisfy the default protocol's design."""
    paradigm_load = pytest.importorskip("paradigm.protocol_load")
    paradigm_design = pytest.importorskip("paradigm.design")
    manifest = generate_set(tmp_path / "default", size_px=64, workers=1)
    loaded = paradigm_load.load_protocol(PROTOCOL, {"stimuli.manifest": str(manifest)})
    assert loaded.manifest_path == manifest.resolve()
    design = paradigm_design.build_design(loaded.protocol, read_manifest(loaded.manifest_path), slot=0, seed=1,
                                          participant_group="A")
    main = [t for t in design.trials if t.block_kind == "main"]
    assert len(main) == 160
    assert {(t.stimulus_type, t.pain, t.group) for t in main} == {
        (s, p, g) for s in ("face", "hand") for p in ("pain", "neutral") for g in ("ingroup", "outgroup")}
    assert all((manifest.parent / t.stimulus_file).is_file() for t in design.trials)
