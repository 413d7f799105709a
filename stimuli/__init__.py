"""Stimulus sets for pain-empathy tasks: manifests, the procedural set and image checks."""
import logging

from .errors import ManifestError
from .manifest import MANIFEST_COLUMNS, Manifest, Stimulus, read_manifest

__all__ = ["MANIFEST_COLUMNS", "Manifest", "ManifestError", "Stimulus", "read_manifest"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
