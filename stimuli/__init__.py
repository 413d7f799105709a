"""Stimulus sets for pain-empathy tasks: manifests, the procedural set and image checks.

``import stimuli`` stays light (csv and hashlib only); the rendering and image functions below
are imported on first use.
"""
import logging

from .errors import ManifestError
from .manifest import MANIFEST_COLUMNS, Manifest, Stimulus, read_manifest, write_manifest

__all__ = ["MANIFEST_COLUMNS", "Manifest", "ManifestError", "Stimulus", "read_manifest", "write_manifest",
           "generate_set", "check_manifest", "match_set", "contact_sheet", "manifest_from_folder",
           "ActionUnits", "render_face", "render_hand", "team_marker"]
__version__ = "0.1.0"

_LAZY = {"generate_set": "generate", "check_manifest": "check", "match_set": "match",
         "contact_sheet": "sheet", "manifest_from_folder": "folder", "ActionUnits": "facs", "team_marker": "markers",
         "render_face": "faces", "render_hand": "hands"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'stimuli' has no attribute '{name}'")


logging.getLogger(__name__).addHandler(logging.NullHandler())
