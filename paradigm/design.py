"""Build a participant's trial table from the protocol, the manifest, a counterbalancing slot and a seed.

:func:`build_design` is pure: the same inputs give the same table, which is what a resumed
session continues. Every trial's jittered durations are drawn here, before the first trial,
and so are the null events' places and durations (``blocks.main.null_events``): a null event
is stored on the trial it precedes (:attr:`Trial.null_before_s`), so the table keeps one row
per real trial and a resumed session reruns a cut-off trial together with its null event.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, replace

import numpy as np

from stimuli.manifest import Stimulus

from .counterbalance import balanced_latin_square
from .errors import DesignError
from .protocol import TIMED_EVENTS, Protocol
from .randomise import order_block


@dataclass(frozen=True, slots=True)
class Trial:
    """One row of the trial table (everything decided before the session starts)."""

    trial: int                 # 1-based in the session
    block: int                 # 1-based in the session
    block_kind: str            # practice | main
    trial_in_block: int
    stimulus_id: str
    stimulus_file: str
    stimulus_type: str
    pain: str
    identity: str
    stimulus_group: str
    group: str                 # ingroup | outgroup | none
    perspective: str           # self | other | none
    team: str                  # minimal groups: the stimulus's team (drawn as a marker); else ""
    durations_s: tuple         # per timeline event: planned seconds, None for response events
    null_before_s: float | None = None   # a null event (fixation only) this long comes just before the trial


@dataclass(frozen=True)
class Block:
    number: int
    kind: str                  # practice | main
    perspective: str           # the block's perspective instruction, or none
    n_trials: int
    n_null: int = 0            # null events among the block's trials


@dataclass(frozen=True)
class Design:
    """A participant's whole trial table with the choices that produced it."""

    trials: tuple[Trial, ...]
    blocks: tuple[Block, ...]
    slot: int
    seed: int
    participant_group: str
    block_order: tuple[str, ...]

    def records(self):
        """The trials as dicts (durations as a list), for comparison and export."""
        return [asdict(t) | {"durations_s": list(t.durations_s)} for t in self.trials]


def n_slots(protocol: Protocol) -> int:
    """How many counterbalancing slots the protocol's block orders have."""
    levels = _block_levels(protocol)
    if protocol.counterbalancing.block_order == "fixed" or len(levels) < 2:
        return 1
    return len(balanced_latin_square(levels))


def build_design(protocol: Protocol, manifest, *, slot: int, seed: int, participant_group=None) -> Design:
    """Return the trial table for one participant.

    Parameters
    ----------
    protocol : Protocol
    manifest : stimuli.Manifest
    slot : int
        Counterbalancing slot (0-based), e.g. from :func:`~paradigm.counterbalance.slot_from_participant`.
    seed : int
        Seeds the only random generator used.
    participant_group : str, optional
        The participant's group (natural groups: required) or team (minimal: drawn if None).
    """
    rng = np.random.default_rng(seed)
    group_spec = protocol.factors.group
    participant_group = _participant_group(group_spec, participant_group, rng)
    stimuli = _eligible(protocol, manifest)
    teams = _assign_teams(stimuli, group_spec, rng) if group_spec.kind == "minimal" else {}
    strata = _strata(stimuli, protocol, participant_group, teams)
    chosen, practice_pool = _choose_units(strata, protocol, rng)

    order = _block_order(protocol, slot)
    block_specs = []
    if protocol.blocks.practice.n_trials:
        block_specs.append(("practice", "none", _practice_trials(practice_pool, protocol, teams, rng)))
    per_block = _main_trials(chosen, protocol, order, teams, rng)
    for level, trials in zip(order * protocol.blocks.main.blocks_per_level, per_block):
        block_specs.append(("main", level, trials))

    c = protocol.constraints
    durations = _durations(protocol, sum(len(items) for *_, items in block_specs), rng)
    last_seen, rows, blocks = {}, [], []
    for number, (kind, level, items) in enumerate(block_specs, start=1):
        ordered = order_block(
            items, rng, max_run=c.max_run_length, min_distance=c.min_repeat_distance,
            identity_of=lambda t: t["identity"],
            levels_of=lambda t: tuple(t[f] for f in c.max_run_length),
            last_seen=last_seen, start=len(rows), label=f"block {number} ({kind}, {level})")
        for i, item in enumerate(ordered, start=1):
            rows.append(Trial(trial=len(rows) + 1, block=number, block_kind=kind, trial_in_block=i,
                              durations_s=durations[len(rows)], **item))
        blocks.append(Block(number=number, kind=kind, perspective=level, n_trials=len(ordered)))
    if protocol.blocks.main.null_events is not None:
        rows, blocks = _place_null_events(protocol.blocks.main.null_events, rows, blocks, rng)
    return Design(trials=tuple(rows), blocks=tuple(blocks), slot=slot, seed=seed,
                  participant_group=participant_group or "", block_order=tuple(order))


# --- who is in which group --------------------------------------------------------------

def _participant_group(spec, given, rng):
    if spec.kind == "none":
        return None
    if given is None:
        if spec.kind == "natural":
            raise DesignError(f"this protocol compares groups: give the participant's group "
                              f"(one of {', '.join(spec.participant_levels)})")
        return str(rng.choice(list(spec.participant_levels)))
    if given not in spec.participant_levels:
        raise DesignError(f"participant group must be one of {', '.join(spec.participant_levels)} "
                          f"(got '{given}')")
    return given


def _stimulus_group(stimulus, spec):
    attr = spec.stimulus_attribute
    return stimulus.group if attr == "group" else stimulus.attributes.get(attr, "")


def _eligible(protocol, manifest):
    """The manifest rows that pass the protocol's filter and belong to the design's levels."""
    f = protocol.factors
    keep = []
    for s in manifest.stimuli:
        if any(_column(s, col) not in allowed for col, allowed in protocol.stimuli.filter.items()):
            continue
        if s.stimulus_type in f.stimulus_type and s.pain in f.pain:
            keep.append(s)
    if not keep:
        raise DesignError(f"{manifest.path}: no stimuli match the filter {protocol.stimuli.filter} and "
                          f"the levels stimulus_type={list(f.stimulus_type)}, pain={list(f.pain)}")
    if f.group.kind == "natural":
        bad = sorted({_stimulus_group(s, f.group) for s in keep} - set(f.group.participant_levels))
        if bad:
            raise DesignError(f"{manifest.path}: column '{f.group.stimulus_attribute}' has values {bad}; "
                              f"allowed: {', '.join(f.group.participant_levels)} (filter the others out)")
    return keep


def eligible_stimuli(protocol, manifest):
    """The manifest rows a participant of ``protocol`` can be shown (filter and factor levels applied)."""
    return _eligible(protocol, manifest)


def _column(stimulus, name):
    value = getattr(stimulus, name) if name in Stimulus.__dataclass_fields__ else stimulus.attributes.get(name)
    return "" if value is None else str(value)


def _identity(s):
    return s.identity or s.stimulus_id


def _assign_teams(stimuli, spec, rng):
    """Minimal groups: deal each stimulus type's identities to the two teams at random, evenly

    (shuffled within each natural group first, so teams are balanced on it too)."""
    teams = {}
    by_type = defaultdict(set)
    for s in stimuli:
        by_type[s.stimulus_type].add((s.group, _identity(s)))
    for stype in sorted(by_type):
        ids = sorted(by_type[stype])
        ids = sorted((ids[i] for i in rng.permutation(len(ids))), key=lambda gi: gi[0])
        offset = int(rng.integers(2))
        for i, (_, identity) in enumerate(ids):
            teams[identity] = spec.participant_levels[(i + offset) % 2]
    return teams


def _strata(stimuli, protocol, participant_group, teams):
    """Group stimuli by (stimulus_type, group level); each stratum maps identity → pain → stimuli."""
    spec = protocol.factors.group
    strata = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for s in stimuli:
        if spec.kind == "natural":
            group = "ingroup" if _stimulus_group(s, spec) == participant_group else "outgroup"
        elif spec.kind == "minimal":
            group = "ingroup" if teams[_identity(s)] == participant_group else "outgroup"
        else:
            group = "none"
        strata[(s.stimulus_type, group)][_identity(s)][s.pain].append(s)
    needed = [(t, g) for t in protocol.factors.stimulus_type
              for g in (("ingroup", "outgroup") if spec.kind != "none" else ("none",))]
    for key in needed:
        if key not in strata:
            raise DesignError(f"no stimuli for stimulus_type={key[0]}, group={key[1]} after the filter "
                              f"(participant group {participant_group!r})")
    return {key: strata[key] for key in needed}


def _choose_units(strata, protocol, rng):
    """Pick the identities each cell uses; the rest serve the practice block.

    Paired sets (identities with every pain level) are chosen by identity, so pain and
    neutral pictures show the same people; unpaired sets are chosen per pain level.
    """
    main = protocol.blocks.main
    need = main.trials_per_cell // main.repetitions
    pains = protocol.factors.pain
    chosen, leftover = {}, {}
    for key, identities in strata.items():
        paired = sorted(i for i, by_pain in identities.items() if all(p in by_pain for p in pains))
        if len(paired) >= need:
            pools = dict.fromkeys(pains, paired)
            picked = [paired[i] for i in rng.permutation(len(paired))[:need]]
            picks = dict.fromkeys(pains, picked)
        else:
            pools = {p: sorted(i for i, by_pain in identities.items() if p in by_pain) for p in pains}
            picks = {}
            for pain in pains:
                pool = pools[pain]
                if len(pool) < need:
                    raise DesignError(
                        f"stimulus_type={key[0]}, group={key[1]}, pain={pain}: {len(pool)} identities "
                        f"after the filter, but trials_per_cell {main.trials_per_cell} / repetitions "
                        f"{main.repetitions} needs {need}; raise repetitions, lower trials_per_cell "
                        f"or add stimuli")
                picks[pain] = [pool[i] for i in rng.permutation(len(pool))[:need]]
        for pain in pains:
            chosen[(key, pain)] = [identities[i][pain] for i in picks[pain]]
            rest = [i for i in pools[pain] if i not in set(picks[pain])] or pools[pain]
            leftover[(key, pain)] = [identities[i][pain] for i in rest]
    return chosen, leftover


def _block_levels(protocol):
    p = protocol.factors.perspective
    return list(p.levels) if p and p.assignment == "blocked" else []


def _block_order(protocol, slot):
    levels = _block_levels(protocol)
    if not levels:
        return ["none"]
    if protocol.counterbalancing.block_order == "fixed":
        return levels
    rows = balanced_latin_square(levels)
    return list(rows[slot % len(rows)])


def _trial_perspectives(protocol):
    p = protocol.factors.perspective
    return list(p.levels) if p and p.assignment == "trial" else [None]


def _item(stimulus, key, perspective, teams):
    stype, group = key
    return {"stimulus_id": stimulus.stimulus_id, "stimulus_file": stimulus.file,
            "stimulus_type": stype, "pain": stimulus.pain, "identity": _identity(stimulus),
            "stimulus_group": stimulus.group, "group": group, "perspective": perspective,
            "team": teams.get(_identity(stimulus), "")}


def _pick(images, rng):
    return images[int(rng.integers(len(images)))] if len(images) > 1 else images[0]


def _main_trials(chosen, protocol, order, teams, rng):
    """Deal each cell's presentations evenly over the blocks of every block level."""
    main = protocol.blocks.main
    blocks = [[] for _ in range(len(order) * main.blocks_per_level)]
    for b_level_index, level in enumerate(order):
        block_ids = [i * len(order) + b_level_index for i in range(main.blocks_per_level)]
        for (key, pain), units in chosen.items():
            for perspective in _trial_perspectives(protocol):
                shown = perspective or level
                cell = [_item(_pick(images, rng), key, shown, teams)
                        for _ in range(main.repetitions) for images in units]
                cell = [cell[i] for i in rng.permutation(len(cell))]
                for j, item in enumerate(cell):
                    blocks[block_ids[j % main.blocks_per_level]].append(item)
    return blocks


def _practice_trials(pool, protocol, teams, rng):
    """Practice trials from identities not used in the main blocks, balanced on every factor.

    Cells are drawn in pairs of opposites (every two-level factor flipped), so any even
    number of practice trials has as many pain as neutral trials, faces as hands, and so on.
    """
    n = protocol.blocks.practice.n_trials
    perspectives = _trial_perspectives(protocol)
    cells = [(key, pain, persp) for key, pain in sorted(pool) for persp in perspectives]
    pairs, seen = [], set()
    for cell in cells:
        if cell not in seen:
            partner = _opposite(cell, cells)
            seen.update({cell, partner})
            pairs.append((cell, partner))
    queues = {cell: [] for cell in pool}
    items = []
    while len(items) < n:
        for i in rng.permutation(len(pairs)):
            for key, pain, persp in pairs[i][:: 1 if rng.random() < 0.5 else -1]:
                if len(items) < n:
                    queue = queues[(key, pain)]
                    if not queue:  # each identity once before any repeats
                        queue.extend(pool[(key, pain)][j] for j in rng.permutation(len(pool[(key, pain)])))
                    items.append(_item(_pick(queue.pop(), rng), key, persp or "none", teams))
    return items


def _opposite(cell, cells):
    """The cell with every factor that has two levels among ``cells`` flipped."""
    flat = [_flat(c) for c in cells]
    flipped = []
    for position, value in enumerate(_flat(cell)):
        levels = sorted({f[position] for f in flat}, key=str)
        flipped.append(levels[1 - levels.index(value)] if len(levels) == 2 else value)
    return cells[flat.index(tuple(flipped))]


def _flat(cell):
    (stype, group), pain, persp = cell
    return (stype, group, pain, persp)


def _place_null_events(spec, rows, blocks, rng):
    """Put ``spec.count`` null events in distinct gaps between each main block's trials.

    Drawn after every trial is ordered, so the trials (their order, stimuli and durations)
    are the same as without null events; a gap holds at most one null event.
    """
    rows, out = list(rows), []
    lo, hi = spec.duration_s
    for block in blocks:
        if block.kind != "main":
            out.append(block)
            continue
        gaps = block.n_trials - 1
        if spec.count > gaps:
            raise DesignError(f"blocks.main.null_events.count {spec.count} does not fit block {block.number}: "
                              f"its {block.n_trials} trials leave {gaps} gaps, and each holds one null event")
        first = next(i for i, t in enumerate(rows) if t.block == block.number)
        places = np.sort(rng.choice(gaps, size=spec.count, replace=False)) + 1   # trial_in_block 2..n, 0-based
        seconds = np.round(rng.uniform(lo, hi, spec.count), 4).tolist() if hi > lo else [lo] * spec.count
        for place, duration in zip(places.tolist(), seconds):
            rows[first + place] = replace(rows[first + place], null_before_s=duration)
        out.append(replace(block, n_null=spec.count))
    return rows, out


def _durations(protocol, n_trials, rng):
    """Each trial's planned seconds per timeline event (jitter drawn uniformly); None for responses."""
    columns = []
    for event in protocol.timeline:
        if isinstance(event, TIMED_EVENTS):
            lo, hi = event.duration_s
            columns.append(np.round(rng.uniform(lo, hi, n_trials), 4).tolist() if hi > lo else [lo] * n_trials)
        else:
            columns.append([None] * n_trials)
    return list(zip(*columns))
