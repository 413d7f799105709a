"""Procedural pain faces: PSPI coding, neutral identity, graded and localised change."""
from __future__ import annotations

import numpy as np
import pytest

from stimuli.faces import ActionUnits, face_regions, random_face, render_face

SIZE = 192


@pytest.fixture(scope="module")
def face():
    return random_face(np.random.default_rng(11), "A")


@pytest.fixture(scope="module", params=[("A", "short"), ("A", "long"), ("B", "curly"), ("B", "long")],
                ids=lambda v: "-".join(v))
def faces(request):
    """Faces of both groups and several hair styles."""
    from dataclasses import replace

    group, hair = request.param
    return replace(random_face(np.random.default_rng(len(hair)), group), hair_style=hair)


def _px(img):
    return np.asarray(img, dtype=np.int16)


def _region_mask(params, size, pad_px=2):
    mask = np.zeros((size, size), bool)
    for x0, y0, x1, y1 in face_regions(params).values():
        to_px = lambda v: (v + 1) / 2 * size            # noqa: E731
        mask[max(0, int(to_px(y0)) - pad_px): int(np.ceil(to_px(y1))) + pad_px,
             max(0, int(to_px(x0)) - pad_px): int(np.ceil(to_px(x1))) + pad_px] = True
    return mask


@pytest.mark.parametrize("pspi", range(17))
def test_from_pspi_has_that_pspi(pspi):
    """Action units built for a PSPI level score exactly that level with every AU in range."""
    aus = ActionUnits.from_pspi(pspi)
    assert aus.pspi == pspi
    assert max(aus.au4, aus.au6, aus.au7, aus.au9, aus.au10) <= 5


@pytest.mark.parametrize("bad", [-1, 17, 2.5, True])
def test_from_pspi_rejects_bad_levels(bad):
    """A PSPI outside 0–16 or not an integer is refused with the allowed range in the message."""
    with pytest.raises(ValueError, match="'pspi' must be an integer from 0 to 16"):
        ActionUnits.from_pspi(bad)


def test_action_unit_range_is_checked():
    """An AU intensity above 5 names the AU and the bad value."""
    with pytest.raises(ValueError, match=r"'au4' must be from 0 to 5 \(got 6\)"):
        ActionUnits(au4=6)


def test_pspi_zero_renders_identical_to_neutral(face):
    """PSPI 0 gives the same bytes as the neutral face."""
    assert render_face(face, ActionUnits.from_pspi(0), size_px=SIZE).tobytes() == \
        render_face(face, size_px=SIZE).tobytes()


def test_change_grows_with_pspi(faces):
    """The summed absolute difference from neutral increases with every PSPI step of 4."""
    face = faces
    neutral = _px(render_face(face, size_px=SIZE))
    change = [np.abs(_px(render_face(face, ActionUnits.from_pspi(k), size_px=SIZE)) - neutral).sum()
              for k in (0, 4, 8, 12, 16)]
    assert change[0] == 0
    assert all(b > a for a, b in zip(change, change[1:])), change


def test_change_is_confined_to_brow_eye_nose_mouth(faces):
    """Every changed pixel lies in the brow, eye, nose or mouth region; each region changes."""
    face = faces
    neutral = _px(render_face(face, size_px=SIZE))
    diff = np.abs(_px(render_face(face, ActionUnits.from_pspi(16), size_px=SIZE)) - neutral).sum(axis=2)
    mask = _region_mask(face, SIZE)
    assert diff[~mask].max() == 0
    for name, (x0, y0, x1, y1) in face_regions(face).items():
        sl = (slice(int((y0 + 1) / 2 * SIZE), int((y1 + 1) / 2 * SIZE)),
              slice(int((x0 + 1) / 2 * SIZE), int((x1 + 1) / 2 * SIZE)))
        assert diff[sl].sum() > 0, name


def test_identities_differ_and_are_reproducible():
    """Two draws from one generator differ; the same seed redraws the same face."""
    rng = np.random.default_rng(5)
    a, b = random_face(rng, "A"), random_face(rng, "A")
    assert a != b
    assert random_face(np.random.default_rng(5), "A") == a


def test_groups_differ_in_skin_tone():
    """Group B faces are darker-skinned than group A faces."""
    rng = np.random.default_rng(2)
    a = [sum(random_face(rng, "A").skin) for _ in range(5)]
    b = [sum(random_face(rng, "B").skin) for _ in range(5)]
    assert max(b) < min(a)


def test_pair_renderer_matches_single_renders(face):
    """render_face_pair gives the same bytes as rendering pain and neutral separately."""
    from stimuli.faces import render_face_pair

    aus = ActionUnits.from_pspi(9)
    pain, neutral = render_face_pair(face, aus, size_px=96)
    assert pain.tobytes() == render_face(face, aus, size_px=96).tobytes()
    assert neutral.tobytes() == render_face(face, size_px=96).tobytes()
