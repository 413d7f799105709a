"""A worker process that ends when its parent does: SIGTERM to itself, so its session is finalised.

On Linux the kernel sends the signal (``prctl(PR_SET_PDEATHSIG)``) the moment the parent dies;
elsewhere a thread polls the parent's PID. Either way the worker's session then ends like an
abort (:mod:`paradigm.interrupt`): the rows stay, the sidecar says ``aborted``.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_S = 0.5


def parent_alive(parent_pid):
    """Whether ``parent_pid`` is still this process's parent."""
    return os.getppid() == parent_pid


def _prctl_pdeathsig(sig):
    """Ask Linux to send ``sig`` when the parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _poll(parent_pid):
    while parent_alive(parent_pid):
        time.sleep(POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)


def tie_to_parent(parent_pid):
    """Call first thing in a worker: SIGTERM to this process once ``parent_pid`` is gone.

    If the parent is already gone (it died before this call), the signal is sent at once.
    """
    if not _prctl_pdeathsig(signal.SIGTERM):
        threading.Thread(target=_poll, args=(parent_pid,), daemon=True, name="lifeline").start()
    if not parent_alive(parent_pid):   # died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
