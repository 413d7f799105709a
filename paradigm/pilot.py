"""A pilot: simulated participants run the protocol through the same session code as a lab.

Participants are ``sim001``, ``sim002``, …; counterbalancing slots follow their numbers and
natural groups alternate every ``n_slots`` participants, so slot and group are crossed.
Stimulus effects are drawn once per pilot, shared by every participant, as real stimuli are.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .design import n_slots
from .headless import HeadlessPresenter
from .session import run_session
from .simulated import SimulatedParticipant, draw_stimulus_effects, simulation_params
from .triggers import VirtualPort

log = logging.getLogger("paradigm")


@dataclass(frozen=True)
class PilotResult:
    out_dir: Path
    sessions: tuple   # SessionResult per participant


def participant_id(index):
    """The id of the ``index``-th (1-based) simulated participant."""
    return f"sim{index:03d}"


def run_pilot(loaded, manifest, *, n_participants, out_dir, seed=0, params=None, time_scale=0.0,
              resume=False, presenter_factory=None, progress=None) -> PilotResult:
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
    progress : callable, optional
        ``progress(n_done_trials)`` after every trial.
    """
    protocol = loaded.protocol
    sim = simulation_params(_merge(protocol.simulation, params or {}))
    out_dir = Path(out_dir)
    root = np.random.SeedSequence(seed)
    stimulus_seq, *participant_seqs = root.spawn(1 + n_participants)
    stimulus_ids = [s.stimulus_id for s in manifest.stimuli]
    effects = draw_stimulus_effects(stimulus_ids, [r.name for r in protocol.ratings], sim,
                                    np.random.default_rng(stimulus_seq))
    slots, group = n_slots(protocol), protocol.factors.group
    results = []
    for index in range(1, n_participants + 1):
        pid = participant_id(index)
        child = participant_seqs[index - 1]
        design_seed, answer_seed = (int(x) for x in child.generate_state(2))
        participant_group = (group.participant_levels[((index - 1) // slots) % 2]
                             if group.kind == "natural" else None)
        responder = SimulatedParticipant(protocol, sim, effects, answer_seed)
        port = VirtualPort()
        presenter = (presenter_factory(protocol.language, port) if presenter_factory
                     else HeadlessPresenter(protocol, protocol.language, port, time_scale=time_scale))
        extra = {"pilot": {"seed": seed, "participant_index": index, "answer_seed": answer_seed},
                 "simulation": {"params": sim.to_dict(), "participant_truth": responder.truth}}
        status = _resume_mode(out_dir, pid, protocol.name) if resume else "new"
        if status == "completed":
            continue
        result = run_session(
            loaded, manifest, participant=pid, session=1, out_dir=out_dir, presenter=presenter,
            responder=responder, mode="pilot", simulated=True, seed=design_seed, slot=(index - 1) % slots,
            participant_group=participant_group, resume=status == "resume", fsync=False,
            sidecar_extra=extra, on_trial=(lambda done, total: progress(1)) if progress else None)
        presenter.close()
        results.append(result)
        if result.status != "completed":
            break
    return PilotResult(out_dir, tuple(results))


def _merge(base, overrides):
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _resume_mode(out_dir, pid, task):
    """'completed', 'resume' or 'new' for one simulated participant already (partly) on disk."""
    import json

    from .datafiles import SessionFiles

    files = SessionFiles(out_dir, pid, 1, task)
    if not files.sidecar.exists():
        return "new"
    status = json.loads(files.sidecar.read_text(encoding="utf-8")).get("status")
    return "completed" if status == "completed" else "resume"
