"""Run independent tasks (pilot sessions) in forked worker processes that never outlive the caller.

- Each worker is tied to this process (:mod:`paradigm.lifeline`): if it dies, even by
  SIGKILL, every worker gets SIGTERM, finalises its running session as ``aborted`` and exits.
- SIGINT/SIGTERM to this process stops handing out tasks and sends SIGTERM to the workers;
  it returns once every worker has finalised its session and exited.
- A task's user error (a session that cannot be resumed, …) stops handing out tasks; the
  running ones finish, then the first error is raised.
- Workers take task numbers from a shared counter, so no more processes are forked than there
  are tasks, and none is left waiting on a queue.
"""
from __future__ import annotations

import os
import signal
import time
import traceback
from dataclasses import dataclass, field

from . import interrupt
from .errors import DesignError, ProtocolError, SessionError
from .lifeline import parent_alive, tie_to_parent
from .presenter import SessionAborted

STOP_GRACE_S = 30.0   # after a stop, how long workers get to finalise before SIGKILL
USER_ERRORS = (SessionError, ProtocolError, DesignError)


class WorkerCrashed(RuntimeError):
    """A task raised an unexpected error in a worker; the message holds its traceback."""


@dataclass
class PoolOutcome:
    """Each finished task's return value by task number, and what went wrong besides."""

    values: dict = field(default_factory=dict)
    died: list = field(default_factory=list)     # (task number, how its worker died) for each task cut off
    not_started: list = field(default_factory=list)   # tasks a stop request ended before they wrote anything
    interrupted: str | None = None               # 'SIGINT' / 'SIGTERM' when stopped by a signal


def run_tasks(tasks, n_workers, on_value=None) -> PoolOutcome:
    """Run ``tasks`` (callables, inherited by fork) in up to ``n_workers`` processes.

    Parameters
    ----------
    tasks : list of callable
        Each returns a picklable value (or None).
    n_workers : int
        At most this many processes; never more than there are tasks.
    on_value : callable, optional
        ``on_value(index, value)`` in this process as tasks finish.

    Raises
    ------
    SessionError
        The first user error a task raised (after the running tasks finished).
    WorkerCrashed
        A task raised anything else.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    ctx = multiprocessing.get_context("fork")
    n_workers = max(1, min(n_workers, len(tasks)))
    next_task, stop = ctx.Value("q", 0), ctx.RawValue("b", 0)
    pipes = [ctx.Pipe(duplex=False) for _ in range(n_workers)]
    parent = os.getpid()
    outcome, errors, running = PoolOutcome(), [], {}
    with interrupt.handling_signals():
        procs = []
        for k in range(n_workers):
            proc = ctx.Process(target=_worker, args=(k, pipes, tasks, next_task, stop, parent), daemon=False,
                               name=f"paradigm-worker-{k + 1}")
            proc.start()
            procs.append(proc)
        for _, writer in pipes:
            writer.close()
        readers = {reader: k for k, (reader, _) in enumerate(pipes)}
        stop_deadline = None
        while readers:
            for reader in wait(list(readers), timeout=0.2):
                k = readers[reader]
                try:
                    message = reader.recv()
                except (EOFError, OSError):   # the worker has exited
                    del readers[reader]
                    procs[k].join()
                    if k in running:
                        outcome.died.append((running.pop(k), _how_died(procs[k])))
                        stop.value = 1
                    continue
                kind, index, payload = message
                if kind == "start":
                    running[k] = index
                    continue
                running.pop(k, None)
                if kind == "value":
                    outcome.values[index] = payload
                    if on_value is not None:
                        on_value(index, payload)
                elif kind == "not started":
                    outcome.not_started.append(index)
                elif kind in ("error", "crash"):
                    errors.append((kind, payload))
                    stop.value = 1
            if interrupt.requested() and outcome.interrupted is None:
                outcome.interrupted = interrupt.requested()
                stop.value = 1
                stop_deadline = time.monotonic() + STOP_GRACE_S
                _signal_all(procs, signal.SIGTERM)
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                _signal_all(procs, signal.SIGKILL)
                stop_deadline = None
        for proc in procs:
            proc.join()
    crashes = [p for kind, p in errors if kind == "crash"]
    if crashes:
        raise WorkerCrashed(crashes[0])
    if errors:
        raise SessionError(errors[0][1])
    return outcome


def _signal_all(procs, sig):
    for proc in procs:
        if proc.is_alive():
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass


def _how_died(proc):
    code = proc.exitcode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit code {code}"
    return f"worker {proc.pid} died ({how})"


def _take(next_task, n_tasks, stop, parent):
    """The next task number, or None when there is none or the pool is stopping."""
    lock = next_task.get_lock()
    while not (stop.value or interrupt.requested() or not parent_alive(parent)):
        if lock.acquire(timeout=0.2):
            try:
                index = next_task.value
                if index >= n_tasks:
                    return None
                next_task.value = index + 1
                return index
            finally:
                lock.release()
    return None


def _worker(k, pipes, tasks, next_task, stop, parent):
    """A worker's life: take tasks until there are none, the pool stops, or the parent is gone."""
    conn = pipes[k][1]
    for j, (reader, writer) in enumerate(pipes):
        reader.close()
        if j != k:
            writer.close()
    with interrupt.handling_signals():   # (inherited from the parent's block: the same handlers, this process's state)
        tie_to_parent(parent)
        while (index := _take(next_task, len(tasks), stop, parent)) is not None:
            if not _send(conn, ("start", index, os.getpid())):
                break
            try:
                message = ("value", index, tasks[index]())
            except SessionAborted:        # stopped before its session wrote anything
                message = ("not started", index, None)
            except USER_ERRORS as exc:
                message = ("error", index, " ".join(str(exc).split()))
            except Exception:
                message = ("crash", index, traceback.format_exc())
            if not (parent_alive(parent) and _send(conn, message)):
                break
    conn.close()


def _send(conn, message):
    try:
        conn.send(message)
    except OSError:    # the parent is gone: its files are finalised, nobody to tell
        return False
    return True
