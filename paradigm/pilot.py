"""A pilot: simulated participants run the protocol through the same session code as a lab.

Participants are ``sim001``, ``sim002``, …; counterbalancing slots follow their numbers and
natural groups alternate every ``n_slots`` participants, so slot and group are crossed.
Stimulus effects are drawn once per pilot, shared by every participant, as real stimuli are.
With ``n_jobs`` > 1 sessions run in worker processes that end with the pilot
(:mod:`paradigm.workers`); a resume first checks the dataset is this pilot's
(:mod:`paradigm.pilot_dataset`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import interrupt
from .design import n_slots
from .errors import ProtocolError
from .headless import HeadlessPresenter
from .pilot_dataset import check_resumable
from .presenter import SessionAborted
from .reconcile import SessionComplete
from .session import run_session
from .simulated import (SimulatedParticipant, design_cells, draw_stimulus_effects, expected_observed_cells,
                        simulation_params)
from .triggers import VirtualPort

log = logging.getLogger("paradigm")


@dataclass(frozen=True)
class PilotResult:
    out_dir: Path
    sessions: tuple              # SessionResult per participant run (or resumed) now
    already_complete: int = 0    # participants a resume found complete and skipped
    problems: tuple = ()         # one line each: a worker that died mid-session
    interrupted: str | None = None   # 'SIGINT' / 'SIGTERM' when a signal stopped the pilot


def participant_id(index):
    """The id of the ``index``-th (1-based) simulated participant."""
    return f"sim{index:03d}"


def run_pilot(loaded, manifest, *, n_participants, out_dir, seed=0, params=None, time_scale=0.0,
              resume=False, presenter_factory=None, n_jobs=1, progress=None) -> PilotResult:
    """Simulate ``n_participants`` sessions into ``out_dir``; return their results.

    Parameters
    ----------
    loaded : LoadedProtocol
    manifest : stimuli.Manifest
    n_participants : int
    out_dir : str or Path
        Dataset root; refuses to overwrite any existing participant unless ``resume``.
    seed : int
        The pilot's seed; every participant's design and answers derive from it.
    params : dict, optional
        Simulation parameter overrides on top of the protocol's ``simulation:`` section.
    time_scale : float
        0 runs on a virtual clock; 1.0 paces the data-only pilot in real time.
    resume : bool
        Skip completed participants, resume interrupted ones, start the missing ones.
    presenter_factory : callable, optional
        ``presenter_factory(language, port)`` for a visual pilot; default: headless.
    n_jobs : int
        Worker processes for a data-only pilot (sessions are independent); 1 runs in-process.
    progress : callable, optional
        ``progress(n)`` as trials (in-process) or whole sessions' trials (workers) finish.
    """
    protocol = loaded.protocol
    try:
        sim = simulation_params(_merge(protocol.simulation, params or {}))
    except ValueError as exc:
        raise ProtocolError(loaded.path, str(exc), field="simulation (with --param)") from None
    out_dir = Path(out_dir)
    complete = check_resumable(out_dir, loaded, seed, sim.to_dict(), protocol.name) if resume else set()
    root = np.random.SeedSequence(seed)
    stimulus_seq, *participant_seqs = root.spawn(1 + n_participants)
    effects = draw_stimulus_effects([s.stimulus_id for s in manifest.stimuli],
                                    [r.name for r in protocol.ratings], sim, np.random.default_rng(stimulus_seq))
    observed = expected_observed_cells(protocol, sim, _main_trial_numbers(protocol))
    indices = [i for i in range(1, n_participants + 1) if participant_id(i) not in complete]
    jobs = [_Job(loaded, manifest, out_dir, index, seed, participant_seqs[index - 1], sim, effects,
                 observed, time_scale, resume) for index in indices]
    skipped = n_participants - len(jobs)
    if n_jobs > 1 and presenter_factory is None and len(jobs) > 1:
        return _run_parallel(out_dir, jobs, n_jobs, progress, skipped)
    results, interrupted = [], None
    with interrupt.handling_signals():
        for job in jobs:
            try:
                result = job.run(presenter_factory, progress)
            except SessionAborted:          # stopped before this session wrote anything
                break
            if result is None:
                skipped += 1
                continue
            results.append(result)
            if result.status != "completed" or interrupt.requested():
                break
        interrupted = interrupt.requested()
    return PilotResult(out_dir, tuple(results), skipped, interrupted=interrupted)


def _main_trial_numbers(protocol):
    """The session positions of the main trials (after the practice trials)."""
    first = protocol.blocks.practice.n_trials + 1
    return range(first, first + len(design_cells(protocol)) * protocol.blocks.main.trials_per_cell)


def _run_parallel(out_dir, jobs, n_jobs, progress, skipped):
    from .workers import run_tasks

    def on_value(index, result):
        if progress and result is not None:
            progress(result.n_done)

    outcome = run_tasks([job.run for job in jobs], n_jobs, on_value)
    results = [outcome.values[i] for i in sorted(outcome.values) if outcome.values[i] is not None]
    skipped += sum(v is None for v in outcome.values.values())
    problems = tuple(f"{participant_id(jobs[i].index)}: its {how} mid-session" for i, how in outcome.died)
    return PilotResult(out_dir, tuple(results), skipped, problems, outcome.interrupted)


@dataclass(frozen=True)
class _Job:
    """One simulated participant's session: everything needed to run it here or in a worker."""

    loaded: object
    manifest: object
    out_dir: Path
    index: int
    pilot_seed: int
    seed_sequence: object
    sim: object
    effects: dict
    observed_truth: dict     # expected answers per design cell on each rating's scale
    time_scale: float
    resume: bool

    def run(self, presenter_factory=None, progress=None):
        """Run (or resume) this participant's session; None when a resume finds it already complete."""
        from .datafiles import SessionFiles

        protocol = self.loaded.protocol
        pid = participant_id(self.index)
        files = SessionFiles(self.out_dir, pid, 1, protocol.name)
        resume = self.resume and bool(files.existing())
        design_seed, answer_seed = (int(x) for x in self.seed_sequence.generate_state(2))
        slots, group = n_slots(protocol), protocol.factors.group
        participant_group = (group.participant_levels[((self.index - 1) // slots) % 2]
                             if group.kind == "natural" else None)
        responder = SimulatedParticipant(protocol, self.sim, self.effects, answer_seed)
        port = VirtualPort()
        presenter = (presenter_factory(protocol.language, port) if presenter_factory
                     else HeadlessPresenter(protocol, protocol.language, port, time_scale=self.time_scale))
        extra = {"pilot": {"seed": self.pilot_seed, "participant_index": self.index, "answer_seed": answer_seed},
                 "simulation": {"params": self.sim.to_dict(), "observed_cell_means": self.observed_truth,
                                "participant_truth": responder.truth}}
        try:
            return run_session(
                self.loaded, self.manifest, participant=pid, session=1, out_dir=self.out_dir, presenter=presenter,
                responder=responder, mode="pilot", simulated=True, seed=design_seed,
                slot=(self.index - 1) % slots, participant_group=participant_group, resume=resume,
                fsync=False, sidecar_extra=extra, on_trial=(lambda done, total: progress(1)) if progress else None)
        except SessionComplete:   # completed since the resume looked (e.g. by a worker that was ending)
            return None
        finally:
            presenter.close()


def _merge(base, overrides):
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out
