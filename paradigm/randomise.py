"""Order a block's trials at random under run-length and repeat-distance constraints.

Trials are placed one at a time, each drawn uniformly from those that keep every
constraint and leave the rest of the block arrangeable; a dead end restarts the block.
A constraint that cannot be met is reported with its reason, never relaxed; the search
is bounded (attempts and placements), so constraints that cannot be met together are
reported in seconds.
"""
from __future__ import annotations

from collections import Counter

from .errors import DesignError

MAX_ATTEMPTS = 2000
MAX_PLACEMENTS_PER_TRIAL = 250   # work budget: a block of n trials gets at most 250·n placements in all


def order_block(items, rng, *, max_run, min_distance, identity_of, levels_of, last_seen, start, label):
    """Return ``items`` in a random order that satisfies the constraints.

    Parameters
    ----------
    items : list
        The block's trials, in any order.
    rng : numpy.random.Generator
    max_run : dict
        Factor name → longest allowed run of one level (within the block).
    min_distance : int
        Fewest other trials between two trials of one identity (across blocks via ``last_seen``).
    identity_of, levels_of : callable
        ``identity_of(item)`` → identity; ``levels_of(item)`` → tuple of levels in ``max_run`` order.
    last_seen : dict
        Identity → session position of its latest trial before this block; updated in place.
    start : int
        Session position (0-based) of the block's first trial.
    label : str
        Names the block in error messages.
    """
    factors = list(max_run)
    limits = [max_run[f] for f in factors]
    signatures = [levels_of(item) for item in items]
    _check_feasible(items, signatures, factors, limits, min_distance, identity_of, label)
    budget = MAX_PLACEMENTS_PER_TRIAL * len(items)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        order, placed = _attempt(items, signatures, limits, min_distance, identity_of, dict(last_seen), start, rng)
        if order is not None:
            for pos, i in enumerate(order):
                last_seen[identity_of(items[i])] = start + pos
            return [items[i] for i in order]
        budget -= placed
        if budget <= 0:
            break
    raise DesignError(f"{label}: no order of its {len(items)} trials meets max_run_length "
                      f"{dict(max_run)} and min_repeat_distance {min_distance} "
                      f"after {attempt} random attempts (they may not be satisfiable together); loosen a "
                      f"constraint")


def _check_feasible(items, signatures, factors, limits, min_distance, identity_of, label):
    n = len(items)
    for k, (factor, limit) in enumerate(zip(factors, limits)):
        counts = Counter(sig[k] for sig in signatures)
        for level, count in counts.items():
            room = limit * (n - count + 1)
            if count > room:
                raise DesignError(
                    f"{label}: max_run_length {factor}={limit} cannot hold: {count} of {n} trials are "
                    f"'{level}', and the {n - count} others can separate at most {room}")
    if min_distance:
        repeats = Counter(identity_of(item) for item in items)
        identity, count = repeats.most_common(1)[0]
        if (count - 1) * (min_distance + 1) + 1 > n:
            raise DesignError(
                f"{label}: min_repeat_distance {min_distance} cannot hold: identity '{identity}' appears "
                f"{count} times in {n} trials")


def _attempt(items, signatures, limits, min_distance, identity_of, last_seen, start, rng):
    n, n_factors = len(items), len(limits)
    buckets = {}
    for i, sig in enumerate(signatures):
        buckets.setdefault(sig, []).append(i)
    identities = [identity_of(item) for item in items]
    counts = [Counter(sig[k] for sig in signatures) for k in range(n_factors)]
    run_level, run_length = [None] * n_factors, [0] * n_factors
    order = []
    for pos in range(n):
        left_after = n - pos - 1
        candidates = []
        for sig, members in buckets.items():
            if not members or not _fits(sig, counts, run_level, run_length, limits, left_after):
                continue
            for i in members:
                seen = last_seen.get(identities[i])
                if seen is None or start + pos - seen > min_distance:
                    candidates.append(i)
        if not candidates:
            return None, pos
        pick = candidates[int(rng.integers(len(candidates)))]
        sig = signatures[pick]
        buckets[sig].remove(pick)
        order.append(pick)
        last_seen[identities[pick]] = start + pos
        for k, level in enumerate(sig):
            counts[k][level] -= 1
            if run_level[k] == level:
                run_length[k] += 1
            else:
                run_level[k], run_length[k] = level, 1
    return order, n


def _fits(sig, counts, run_level, run_length, limits, left_after):
    """Placing a trial with levels ``sig`` keeps every run short and the rest arrangeable."""
    for k, level in enumerate(sig):
        limit = limits[k]
        length = run_length[k] + 1 if run_level[k] == level else 1
        if length > limit:
            return False
        for other, count in counts[k].items():
            if other == level:
                count -= 1
                room = limit * (left_after - count) + limit - length
            else:
                room = limit * (left_after - count + 1)
            if count > room:
                return False
    return True
