"""The pain-empathy task: protocols, trial design, sessions, simulated participants and data files.

Importing this package loads neither PsychoPy nor the analysis stack; the protocol model
(pydantic) loads on first use, so ``paradigm --help`` starts fast.
"""
import logging

from .errors import DesignError, ProtocolError, SessionError

__all__ = ["DesignError", "LoadedProtocol", "Protocol", "ProtocolError", "SessionError", "load_protocol"]
__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY = {"Protocol": ".protocol", "LoadedProtocol": ".protocol_load", "load_protocol": ".protocol_load"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'paradigm' has no attribute {name!r}")
