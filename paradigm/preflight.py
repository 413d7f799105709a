"""Checks a lab session or visual pilot makes before its window opens.

Every image the protocol can show must exist and decode, so a missing or corrupt file stops
the start with one line instead of a crash in the middle of a session.
"""
from __future__ import annotations

from .design import eligible_stimuli
from .errors import SessionError


def check_images(protocol, manifest):
    """Raise SessionError naming every image of the design that is missing or unreadable."""
    from PIL import UnidentifiedImageError

    from stimuli.images import open_image

    problems = []
    for stimulus in eligible_stimuli(protocol, manifest):
        if stimulus.path is None:
            continue
        try:
            with open_image(stimulus.path) as image:
                image.load()
        except FileNotFoundError:
            problems.append(f"{stimulus.path}: file not found (stimulus {stimulus.stimulus_id})")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            problems.append(f"{stimulus.path}: not a readable image (stimulus {stimulus.stimulus_id}: {exc})")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise SessionError(f"{manifest.path}: {problems[0]}{more}; fix the files or the manifest before testing")
