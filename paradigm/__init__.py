"""The pain-empathy task: protocols, trial design, sessions, simulated participants and data files.

Importing this package loads neither PsychoPy nor the analysis stack; the PsychoPy
presenter is imported only when a window is opened.
"""
import logging

from .errors import DesignError, ProtocolError, SessionError
from .protocol import Protocol
from .protocol_load import LoadedProtocol, load_protocol

__all__ = ["DesignError", "LoadedProtocol", "Protocol", "ProtocolError", "SessionError", "load_protocol"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
