"""Spokes of a Cartesian radial mask recovered from the mask alone, against the generator's own spokes."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.sampling import KtRadialMask, PoissonDiscMask, make_test_mask, radial_beams
from cardiomm.sampling.spokes import spoke_labels
from cardiomm.training.ssdu import acs_band


@pytest.mark.parametrize(("ny", "nx"), [(213, 320), (160, 160), (246, 512)])
@pytest.mark.parametrize("accel", [8, 16, 24])
def test_spokes_of_protocol_radial_masks_match_the_generator(ny: int, nx: int, accel: int) -> None:
    masks = make_test_mask("ktRadial", accel, nx, ny, 3)
    func = KtRadialMask(accel)
    outer = ~acs_band((ny, nx), "radial", 20)
    for t in range(3):
        drawn = func.spokes(ny, nx, func.frame_angles(t))  # (beams + 1, ky, kx)
        drawn[0] |= drawn[-1]  # the end angle is the start + 180 degrees: the same spoke, or one pixel off
        drawn = drawn[:-1]
        labels = spoke_labels(masks[t], masks[t] & outer)
        assert labels is not None
        assert labels.max() + 1 == radial_beams(accel)
        assert np.array_equal(labels >= 0, masks[t] & outer)
        matched = set()
        for k in range(labels.max() + 1):
            found = labels == k
            cover = [(s & found).sum() for s in drawn]
            best = int(np.argmax(cover))
            # near the ACS square neighbouring spokes share locations; far out every location is its own
            assert cover[best] >= 0.85 * found.sum()
            matched.add(best)
        assert len(matched) == radial_beams(accel)  # one found spoke per drawn spoke


def test_masks_without_spokes_are_not_labelled() -> None:
    rng = np.random.default_rng(3)
    lines = np.repeat((rng.random(96) < 0.2)[:, None], 128, axis=1)
    assert spoke_labels(lines) is None
    poisson = PoissonDiscMask(8)((96, 128), seed=4)
    assert spoke_labels(poisson) is None
    assert spoke_labels(rng.random((96, 128)) < 0.2) is None
    cross = np.zeros((96, 128), bool)
    cross[48], cross[:, 64], cross[10, 10] = True, True, True  # two spokes and a stray location
    assert spoke_labels(cross) is None
    radial = make_test_mask("ktRadial", 8, 128, 96, 1)[0]
    assert spoke_labels(radial, np.zeros_like(radial)) is None
