"""One writer per session: an exclusive OS lock on ``…_session.lock`` beside the session's files.

The lock is ``flock`` (``msvcrt.locking`` on Windows) on an open file, so the OS releases it
when the holding process dies, however it dies. The holder writes its PID into the file, so a
refusal can name it. The file is removed on release; an acquirer that finds it replaced (the
previous holder removed it between our open and our lock) retries on the new one, so two
processes never both believe they hold the lock.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import SessionError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class SessionLocked(SessionError):
    """Another live process holds the session's lock."""

    def __init__(self, data_file, lock_path, pid):
        self.lock_path, self.pid = Path(lock_path), pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{data_file} is being written by {holder} (lock {lock_path}); stop that process or "
                         f"let it finish, then resume")


def _try_lock(fd):
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder_pid(path):
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _same_file(fd, path):
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


@contextmanager
def session_lock(lock_path, data_file, *, wait_s=0.0, should_stop=None):
    """Hold the exclusive lock at ``lock_path`` for the ``with`` block.

    Parameters
    ----------
    lock_path : Path
        The lock file (created if missing, removed on release).
    data_file : Path
        The file named in the refusal.
    wait_s : float
        How long to wait for a holder that is ending (e.g. a worker finalising after a kill).
    should_stop : callable, optional
        Polled while waiting; when it returns true the wait ends with the refusal.

    Raises
    ------
    SessionLocked
        When another process still holds the lock after ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        if _try_lock(fd):
            if _same_file(fd, lock_path):
                break
            os.close(fd)       # locked a file its holder has just removed: take the new one
            continue
        os.close(fd)
        if time.monotonic() >= deadline or (should_stop is not None and should_stop()):
            raise SessionLocked(data_file, lock_path, _holder_pid(lock_path))
        time.sleep(0.05)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
        os.close(fd)           # releases the lock
