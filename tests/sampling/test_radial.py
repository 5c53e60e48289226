"""Tests of the pseudo-radial masks: spoke count and geometry, ACS square, library agreement."""

from __future__ import annotations

import numpy as np
import pytest

from cardiomm.errors import ConfigError, MaskError
from cardiomm.sampling import KtRadialMask, TrainRadialMask, radial_beams


@pytest.mark.parametrize(("accel", "beams"), [(4, 75), (8, 37), (16, 18), (24, 12)])
def test_radial_beams_match_protocol(accel: int, beams: int) -> None:
    assert radial_beams(accel) == beams == int(np.floor(180 / (0.6 * accel)))
    assert KtRadialMask(accel).n_spokes == beams


def _principal_direction(pixels: np.ndarray) -> np.ndarray:
    centred = pixels - pixels.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[0]


@pytest.mark.parametrize("accel", [8, 16, 24])
def test_kt_radial_frame_is_union_of_beams_spokes_through_centre(accel: int) -> None:
    nx, ny, nt, acs = 512, 246, 3, 20
    func = KtRadialMask(accel, acs=acs)
    mask = func((nt, ny, nx))
    beams = func.n_spokes
    a = max(nx, ny)
    # geometric centre of rotation, in (ky, kx) crop coordinates
    centre = np.array([(a - 1) / 2 - (a // 2 - ny // 2), (a - 1) / 2 - (a // 2 - nx // 2)])
    acs_mask = func.acs_mask((nt, ny, nx))
    for f in range(nt):
        angles = func.frame_angles(f)
        assert len(angles) == beams + 1  # end angle included
        assert angles[-1] - angles[0] == pytest.approx(180.0)
        spokes = func.spokes(ny, nx, angles)
        np.testing.assert_array_equal(spokes.any(axis=0) | acs_mask[f], mask[f])
        for spoke, angle in zip(spokes, angles, strict=True):
            pixels = np.argwhere(spoke).astype(float)
            assert len(pixels) >= min(nx, ny) - 2  # a full-length spoke
            assert np.min(np.linalg.norm(pixels - centre, axis=1)) <= 1.0  # through the centre
            # direction: angle counter-clockwise in MATLAB (x rows, y cols) display -> (ky, kx) = (cos, -sin)
            expected = np.array([np.cos(np.radians(angle)), -np.sin(np.radians(angle))])
            assert abs(_principal_direction(pixels) @ expected) > np.cos(np.radians(1.0))
        # beams distinct directions: the end spoke repeats the start direction
        assert len({round(float(d) % 180.0, 6) % 180.0 for d in angles}) == beams
    assert len({mask[f].tobytes() for f in range(nt)}) == nt  # frames differ (golden-angle start)


@pytest.mark.parametrize("accel", [8, 16, 24])
def test_kt_radial_is_deterministic_and_contains_acs_square(accel: int) -> None:
    shape = (4, 96, 128)
    func = KtRadialMask(accel)
    mask = func(shape)
    np.testing.assert_array_equal(mask, KtRadialMask(accel)(shape, seed=123))
    ky0, kx0 = 96 // 2 - 10, 128 // 2 - 10
    assert mask[:, ky0 : ky0 + 20, kx0 : kx0 + 20].all()
    np.testing.assert_array_equal(func.acs_mask(shape).sum(axis=(1, 2)), [400] * 4)


def test_kt_radial_end_spoke_duplicates_start_for_odd_square() -> None:
    func = KtRadialMask(16, acs=0)
    spokes = func.spokes(31, 31, func.frame_angles(1))  # a = 31: the line is through the centre pixel
    np.testing.assert_array_equal(spokes[0], spokes[-1])
    spokes_even = func.spokes(32, 32, func.frame_angles(1))  # a = 32: half a pixel off, shifted by one
    assert not np.array_equal(spokes_even[0], spokes_even[-1])


def test_kt_radial_exact_rotation_matches_skimage_port() -> None:
    # the official Python port's MATLAB-consistency case: ktRadialSampling(32, 31, 3, 8, 4.8, 137.5, true)
    exact = KtRadialMask(8, acs=8)((3, 31, 32))
    library = KtRadialMask(8, acs=8, rotation="library")((3, 31, 32))
    np.testing.assert_array_equal(exact, library)


@pytest.mark.parametrize("variant", [KtRadialMask, TrainRadialMask])
@pytest.mark.parametrize(("ny", "nx"), [(32, 31), (31, 32)])
def test_exact_rotation_matches_library_away_from_ties(variant: type, ny: int, nx: int) -> None:
    # skimage.transform.rotate (test variant) / scipy.ndimage.rotate (training variant), spoke by spoke;
    # at odd multiples of 45 degrees (half-pixel ties for even a) the libraries follow rounding noise
    exact, library = variant(16, acs=0), variant(16, acs=0, rotation="library")
    angles = np.concatenate([exact.angles(137.5 * j) for j in (0, 1, 2, 7)])  # 2 and 7 hit 315 / 45 deg
    ties = np.isclose(np.mod(angles, 90.0), 45.0)
    assert ties.any() and not ties.all()
    a_spokes, b_spokes = exact.spokes(ny, nx, angles), library.spokes(ny, nx, angles)
    np.testing.assert_array_equal(a_spokes[~ties], b_spokes[~ties])
    assert (a_spokes[ties] != b_spokes[ties]).sum(axis=(1, 2)).max() <= 2 * max(nx, ny)


def test_train_radial_variant_geometry() -> None:
    func = TrainRadialMask(8, acs=20)
    angles = func.angles(137.5 * 3)
    assert len(angles) == func.n_spokes and angles[-1] - angles[0] < 180.0  # end excluded
    assert func.line_row(512) == 256 and KtRadialMask(8).line_row(512) == 255
    mask = func((245, 64), seed=4)
    pad_y, pad_x = (245 - 20 + 1) // 2, (64 - 20 + 1) // 2
    assert mask[pad_y : pad_y + 20, pad_x : pad_x + 20].all()
    np.testing.assert_array_equal(mask, func((245, 64), seed=4))
    starts = {func.draw_start_angle(np.random.default_rng(s)) for s in range(200)}
    assert starts == {137.5 * i for i in range(30)}


def test_radial_rejects_bad_options() -> None:
    with pytest.raises(ConfigError):
        KtRadialMask(8, rotation="bilinear")  # type: ignore[arg-type]
    with pytest.raises(MaskError, match="too large"):
        KtRadialMask(400)
