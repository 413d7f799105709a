"""Counterbalancing: balanced Latin squares over block orders, indexed by the participant number."""
from __future__ import annotations

import re

from .errors import SessionError


def balanced_latin_square(levels):
    """Rows of a Williams design over ``levels``: each level once per position, each ordered pair once.

    For an odd number of levels the mirrored rows are added, so there are ``2n`` rows
    (Williams 1949, Aust. J. Sci. Res. 2:149).
    """
    n = len(levels)
    if n == 0:
        return [()]
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [tuple(levels[(i + r) % n] for i in first) for r in range(n)]
    if n % 2:
        rows += [tuple(reversed(row)) for row in rows]
    return rows


def slot_from_participant(participant: str, n_slots: int) -> int:
    """The 0-based counterbalancing slot: (number in the participant id − 1) mod ``n_slots``.

    ``P07`` and ``7`` both give slot 6 mod n. An id without digits needs an explicit slot.
    """
    digits = re.findall(r"\d+", participant)
    if not digits:
        raise SessionError(f"participant '{participant}' has no number to counterbalance by; "
                           "use an id with a number (e.g. P07) or give --slot")
    return (int(digits[-1]) - 1) % max(n_slots, 1)
