"""Procedural hands: needle vs cotton swab on the same spot."""
from __future__ import annotations

import numpy as np
import pytest

from stimuli.hands import hand_regions, random_hand, render_hand

SIZE = 192


@pytest.fixture(scope="module", params=[("A", 3), ("B", 3), ("A", 5), ("B", 8)], ids=lambda v: f"{v[0]}-seed{v[1]}")
def hand(request):
    """Hands of both groups, left and right, in several poses."""
    return random_hand(np.random.default_rng(request.param[1]), request.param[0])


def test_pair_differs_only_at_the_instrument(hand):
    """Needle and swab images are equal outside the instrument region and differ inside it."""
    pain = np.asarray(render_hand(hand, "needle", size_px=SIZE), dtype=np.int16)
    neutral = np.asarray(render_hand(hand, "swab", size_px=SIZE), dtype=np.int16)
    diff = np.abs(pain - neutral).sum(axis=2)
    x0, y0, x1, y1 = hand_regions(hand)["instrument"]
    mask = np.zeros_like(diff, bool)
    to_px = lambda v: (v + 1) / 2 * SIZE            # noqa: E731
    mask[max(0, int(to_px(y0)) - 2): int(np.ceil(to_px(y1))) + 2,
         max(0, int(to_px(x0)) - 2): int(np.ceil(to_px(x1))) + 2] = True
    assert diff[~mask].max() == 0
    assert diff[mask].sum() > 1000


def test_hand_is_drawn_in_skin_tone(hand):
    """The centre of the back of the hand has the identity's skin colour (within shading)."""
    img = np.asarray(render_hand(hand, "swab", size_px=SIZE), dtype=float)
    centre = img[int(SIZE * 0.55), int(SIZE * 0.5)]
    assert np.abs(centre / np.asarray(hand.skin) - centre.mean() / np.mean(hand.skin)).max() < 0.15


def test_unknown_instrument_is_refused(hand):
    """An instrument other than needle or swab names the allowed values."""
    with pytest.raises(ValueError, match="'instrument' must be one of needle, swab"):
        render_hand(hand, "scalpel", size_px=64)


def test_pair_renderer_matches_single_renders(hand):
    """render_hand_pair gives the same bytes as rendering needle and swab separately."""
    from stimuli.hands import render_hand_pair

    pain, neutral = render_hand_pair(hand, size_px=96)
    assert pain.tobytes() == render_hand(hand, "needle", size_px=96).tobytes()
    assert neutral.tobytes() == render_hand(hand, "swab", size_px=96).tobytes()
