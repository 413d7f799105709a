"""Start a lab session or a visual pilot in a PsychoPy window.

Everything that can be wrong with the start (an id that already has data, a missing or
unreadable image, a trigger port that does not open) is found before the window opens.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..datafiles import SessionFiles
from ..errors import SessionError
from .ports import open_port
from ..preflight import check_images
from ..protocol import PARTICIPANT_ID
from ..session import run_session
from .inputs import LiveInput, SimulatedInput

log = logging.getLogger("paradigm")


def run_lab(loaded, manifest, *, participant, session=1, out_dir, participant_group=None, language=None,
            slot=None, resume=False, windowed=False, screenshot_dir=None):
    """Run (or resume) one participant's session in a PsychoPy window; return the SessionResult."""
    from .presenter import PsychoPyPresenter

    protocol = loaded.protocol
    if not PARTICIPANT_ID.match(participant or ""):
        raise SessionError(f"participant id must be letters and digits only (got {participant!r})")
    files = SessionFiles(Path(out_dir), participant, session, protocol.name)
    if not resume and files.existing():
        raise SessionError(f"data for sub-{participant} ses-{session} task-{protocol.name} already exist "
                           f"({files.existing()[0]}); use --resume to continue it, or another participant/session")
    language = language or protocol.language
    if language not in protocol.instructions:
        raise SessionError(f"language must be one of {', '.join(protocol.instructions)} (got {language!r})")
    check_images(protocol, manifest)
    port = open_port(protocol.triggers)
    presenter = PsychoPyPresenter(protocol, language, port, windowed=windowed, input=LiveInput(),
                                  screenshot_dir=screenshot_dir)
    try:
        return run_session(loaded, manifest, participant=participant, session=session, out_dir=Path(out_dir),
                           presenter=presenter, responder=None, mode="lab", simulated=False, slot=slot,
                           participant_group=participant_group, language=language, resume=resume, fsync=True,
                           sidecar_extra={"windowed": windowed, "triggers_backend": port.backend})
    finally:
        presenter.close()
        port.close()


def visual_pilot_factory(loaded, manifest, *, screenshot_dir=None, windowed=True):
    """``factory(language, port)`` making a windowed presenter fed by the simulated participant."""
    from .presenter import PsychoPyPresenter

    check_images(loaded.protocol, manifest)

    def factory(language, port):
        return PsychoPyPresenter(loaded.protocol, language, port, windowed=windowed, input=SimulatedInput(),
                                 screenshot_dir=screenshot_dir)

    return factory
