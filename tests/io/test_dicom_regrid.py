"""Slices of a DICOM stack re-planned between breath-holds with another matrix, pixel spacing or field of
view: read on the stack's grid (:func:`cardiomm.io.dicom_geometry.regridded`), or left out with a note.

The images hold a function that is linear in patient coordinates, which bilinear interpolation
reproduces exactly: every resampled pixel is checked against the function at that pixel's position
(up to the uint16 rounding of the written values)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.io import read_dicom_series
from cardiomm.io.dicom_geometry import regridded

from .dicom_tags import retag

N_T = 3
SHAPE = (32, 28)  # rows (y), columns (x) of the stack's images
SPACING = (1.5, 1.25)  # the fixture's (row, column) spacing [mm]
POSITIONS = [0.0, 8.0, 16.0, 24.0, 32.0, 40.0]


def _linear(t: int, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
    """Signal of frame ``t`` at patient position (x, y, z) [mm]: linear in x and y."""
    return 200.0 + 50.0 * t + 6.0 * x + 4.0 * y + z


def _frames(shape: tuple[int, int], spacing: tuple[float, float], origin: tuple[float, float], z: float):
    """(t, 1, rows, columns) uint16 images of :func:`_linear` on a grid with first pixel at ``origin``
    (x, y) [mm]."""
    y = origin[1] + spacing[0] * np.arange(shape[0])[:, None]
    x = origin[0] + spacing[1] * np.arange(shape[1])[None, :]
    return np.stack([np.round(_linear(t, x, y, z))[None] for t in range(N_T)]).astype(np.uint16)


def _expected(z: float) -> np.ndarray:
    return _frames(SHAPE, SPACING, (0.0, 0.0), z)[:, 0].astype(np.float32)


def _stack(write: Callable[..., None], root: Path, skip: set[int], **tags: object) -> None:
    """A per-slice export of the stack without the slices in ``skip``."""
    for z, pos in enumerate(POSITIONS):
        if z not in skip:
            write(
                root / f"sax{z}", _frames(SHAPE, SPACING, (0.0, 0.0), pos), positions=[pos], uid=f"1.2.9.{z}"
            )
            retag(root / f"sax{z}", SeriesNumber=10 + z, SeriesDescription="sax", FlipAngle=50, **tags)


def _odd(
    write: Callable[..., None],
    folder: Path,
    z: int,
    shape: tuple[int, int],
    spacing: tuple[float, float],
    origin: tuple[float, float],
    uid: str | None = None,
    **tags: object,
) -> None:
    """Slice ``z`` written with its own matrix, pixel spacing and field of view (first pixel at
    ``origin``), as the stack's series of that slice unless ``uid`` is given."""
    pos = POSITIONS[z]
    write(folder, _frames(shape, spacing, origin, pos), positions=[pos], uid=uid or f"1.2.9.{z}")
    tags = {"SeriesNumber": 10 + z, "SeriesDescription": "sax", "FlipAngle": 50, **tags}
    retag(folder, PixelSpacing=list(spacing), ImagePositionPatient=[origin[0], origin[1], pos], **tags)


def _part(write: Callable[..., None], folder: Path, positions: list[float]) -> None:
    """Slices at ``positions`` re-planned as one series: 30 x 26 pixels of 1.8 x 1.6 mm, first pixel at
    (-4, -3) mm, flip angle 52 (within the stack's sequence)."""
    spacing, origin = (1.8, 1.6), (-4.0, -3.0)
    part = np.concatenate([_frames((30, 26), spacing, origin, p) for p in positions], axis=1)
    write(folder, part, positions=positions, uid="1.2.9.40")
    retag(folder, SeriesNumber=40, FlipAngle=52, PixelSpacing=list(spacing))
    retag(folder, lambda ds, _: setattr(ds, "ImagePositionPatient", [*origin, ds.ImagePositionPatient[2]]))


def _read_on_the_stack_grid(root: Path, exact: int) -> None:
    """The whole stack read on its grid: the first ``exact`` slices as written, the others resampled
    (the linear signal, up to uint16 rounding)."""
    got = read_dicom_series(root)
    assert got.magnitude.shape == (N_T, len(POSITIONS), *SHAPE)
    want = np.stack([_expected(p) for p in POSITIONS], 1)
    np.testing.assert_array_equal(got.magnitude[:, :exact], want[:, :exact])
    np.testing.assert_allclose(got.magnitude[:, exact:], want[:, exact:], atol=1.0)


@pytest.mark.parametrize(
    ("shape", "spacing", "origin"),
    [
        ((48, 46), (1.2, 1.0), (-5.0, -5.0)),  # finer pixels, larger field of view
        ((26, 20), (2.0, 2.0), (-2.0, -1.0)),  # coarser pixels
    ],
    ids=["finer", "coarser"],
)
def test_a_replanned_slice_is_resampled_onto_the_stack(
    write_dicom_series: Callable[..., None],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    shape: tuple[int, int],
    spacing: tuple[float, float],
    origin: tuple[float, float],
) -> None:
    _stack(write_dicom_series, tmp_path, skip={2})
    _odd(write_dicom_series, tmp_path / "sax2", 2, shape, spacing, origin)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(tmp_path)
    assert got.magnitude.shape == (N_T, len(POSITIONS), *SHAPE)
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS)
    for z, pos in enumerate(POSITIONS):
        if z != 2:
            np.testing.assert_array_equal(got.magnitude[:, z], _expected(pos))
    np.testing.assert_allclose(got.magnitude[:, 2], _expected(POSITIONS[2]), atol=1.0)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "resampled onto the stack's 32 x 28 grid (1.5 x 1.25 mm pixels)" in said
    assert f"{shape[0]} x {shape[1]} of {spacing[0]:.3g} x {spacing[1]:.3g} mm" in said


def test_two_parts_of_a_stack_with_other_fields_of_view_are_one_stack(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """The stack's last three slices re-planned (one series) with a larger field of view of coarser
    pixels: two multi-slice cine stacks at disjoint slices, read as one on the finer grid."""
    _stack(write_dicom_series, tmp_path, skip={3, 4, 5})
    _part(write_dicom_series, tmp_path / "part2", POSITIONS[3:])
    _read_on_the_stack_grid(tmp_path, exact=3)


def test_a_cropped_slice_is_zero_outside_its_field_of_view(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """A slice re-planned with a smaller field of view (rows 0-19 of 32): read, 0 outside it."""
    _stack(write_dicom_series, tmp_path, skip={2})
    _odd(write_dicom_series, tmp_path / "sax2", 2, (20, 28), SPACING, (0.0, 0.0))
    got = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(got.magnitude[:, 2, :20], _expected(POSITIONS[2])[:, :20])
    assert not got.magnitude[:, 2, 21:].any()


@pytest.mark.parametrize(
    ("why", "z", "tags", "shape", "origin"),
    [
        ("another sequence (a tagged cine)", 2, {"FlipAngle": 12}, (48, 46), (-5.0, -5.0)),
        ("another echo time", 2, {"EchoTime": 2.4}, (48, 46), (-5.0, -5.0)),
        ("at a slice the stack has", 1, {}, (48, 46), (-5.0, -5.0)),
        ("covering too little", 2, {}, (12, 46), (-5.0, -5.0)),
        ("two steps beyond the stack", 4, {}, (48, 46), (-5.0, -5.0)),
    ],
    ids=["flip", "echo", "collision", "coverage", "beyond"],
)
def test_a_parallel_series_that_is_not_a_missing_slice_is_left_out(
    write_dicom_series: Callable[..., None],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    why: str,
    z: int,
    tags: dict[str, object],
    shape: tuple[int, int],
    origin: tuple[float, float],
) -> None:
    """Not resampled into the stack, but named in a warning: a series of another sequence, one at a
    slice the stack has (a repeat with another matrix), one covering under half the field of view, one
    that would leave a gap; the rest of the stack is read as it is."""
    missing = {2} if z == 2 else {3, 4, 5} if z == 4 else set()
    _stack(write_dicom_series, tmp_path, skip=missing)
    _odd(
        write_dicom_series,
        tmp_path / "odd",
        z,
        shape,
        (1.2, 1.0),
        origin,
        "1.2.9.30",
        SeriesNumber=30,
        **tags,
    )
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(tmp_path)
    kept = [p for k, p in enumerate(POSITIONS) if k not in missing]
    np.testing.assert_allclose(np.asarray(got.slice_positions), kept, err_msg=why)
    np.testing.assert_array_equal(got.magnitude, np.stack([_expected(p) for p in kept], 1))
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "left out though parallel to the stack" in said and "resampled" not in said


def test_regridding_a_slice_onto_its_own_grid_changes_nothing(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """The identity: a slice sampled at its own pixel centres is itself, and covers its whole grid."""
    import pydicom

    _stack(write_dicom_series, tmp_path, skip=set())
    f = sorted((tmp_path / "sax1").glob("*.dcm"))[0]
    ds = pydicom.dcmread(f)
    view = regridded(f, ds, ds)
    assert view is not None and view[1] == 1.0
    np.testing.assert_array_equal(view[0].pixel_array, ds.pixel_array.astype(np.float32))


def test_a_replanned_slice_with_broken_geometry_is_refused_naming_it(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    from cardiomm.errors import DataValueError

    _stack(write_dicom_series, tmp_path, skip={2})
    _odd(write_dicom_series, tmp_path / "sax2", 2, (48, 46), (0.0, 1.0), (-5.0, -5.0))
    with pytest.raises(DataValueError, match=r"PixelSpacing \[0.0, 1.0\] .* must be positive") as info:
        read_dicom_series(tmp_path)
    assert "sax2" in str(info.value)


def test_regridding_onto_coarser_pixels_matches_skimage_resize_with_anti_aliasing() -> None:
    """A 60 x 60 image of 1-mm pixels with detail at its Nyquist limit, sampled onto 24 x 24 pixels of
    2.5 mm placed as :func:`skimage.transform.resize` places them (output pixel i at input coordinate
    (i + 0.5) 2.5 - 0.5): equal to ``resize(..., order=1, anti_aliasing=True)`` away from the border (the
    two pad the image differently), where sampling without the Gaussian would alias the detail."""
    from types import SimpleNamespace

    from skimage.transform import resize

    rng = np.random.default_rng(3)
    image = rng.uniform(0, 1000, (60, 60)) + 500.0 * (np.indices((60, 60)).sum(0) % 2)

    def slice_(pixels: np.ndarray | None, size: int, spacing: float, first: float) -> SimpleNamespace:
        return SimpleNamespace(
            pixel_array=pixels,
            Rows=size,
            Columns=size,
            PixelSpacing=[spacing, spacing],
            ImageOrientationPatient=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            ImagePositionPatient=[first, first, 0.0],
        )

    source = slice_(image, 60, 1.0, -0.75)  # its first pixel 0.75 mm before the target's
    view = regridded(Path("odd.dcm"), source, slice_(None, 24, 2.5, 0.0))
    assert view is not None and view[1] == 1.0
    want = resize(image, (24, 24), order=1, anti_aliasing=True, preserve_range=True)
    got = view[0].pixel_array
    np.testing.assert_allclose(got[2:-2, 2:-2], want[2:-2, 2:-2], rtol=1e-4)
    assert np.abs(got - want)[2:-2, 2:-2].max() < 0.05 * np.abs(want).std()


@pytest.mark.parametrize(
    ("shift", "moved"), [((3.75, -4.5), True), ((0.3, 0.4), False)], ids=["3px", "subpixel"]
)
def test_a_slice_recentred_in_plane_is_put_back_on_the_stack_axis(
    write_dicom_series: Callable[..., None],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    shift: tuple[float, float],
    moved: bool,
) -> None:
    """Slice 2 written with the stack's matrix and pixel spacing but its field of view moved in plane
    (x, y) [mm]: its anatomy would sit shifted in the stack. Three pixels: resampled onto the stack's
    grid (exact where its field of view covers it, 0 elsewhere); under half a pixel: read as it is."""
    _stack(write_dicom_series, tmp_path, skip={2})
    _odd(write_dicom_series, tmp_path / "sax2", 2, SHAPE, SPACING, shift)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(tmp_path)
    said = " ".join(r.getMessage() for r in caplog.records)
    if not moved:
        np.testing.assert_array_equal(got.magnitude[:, 2], _frames(SHAPE, SPACING, shift, POSITIONS[2])[:, 0])
        assert "re-centred" not in said
        return
    want = _expected(POSITIONS[2])
    dx, dy = round(shift[0] / SPACING[1]), round(shift[1] / SPACING[0])  # 3 columns right, 3 rows up
    rows, cols = slice(0, SHAPE[0] + dy), slice(dx, None)
    np.testing.assert_array_equal(got.magnitude[:, 2, rows, cols], want[:, rows, cols])
    covered = np.zeros(SHAPE, bool)
    covered[rows, cols] = True
    assert not got.magnitude[:, 2][:, ~covered].any()
    assert "field of view re-centred in plane (up to 5.9 mm" in said and "(series 12" in said
    for z in (0, 1, 3, 4, 5):
        np.testing.assert_array_equal(got.magnitude[:, z], _expected(POSITIONS[z]))


def test_frames_of_another_size_in_one_slice_are_refused_not_recentred(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """One series whose slice holds a frame of another matrix (its centre therefore elsewhere): a broken
    series, refused by the reader, never resampled as if the field of view had moved."""
    from cardiomm.errors import ShapeError

    frames = _frames(SHAPE, SPACING, (0.0, 0.0), 0.0)
    write_dicom_series(tmp_path / "s", frames, positions=[0.0], sizes={1: (16, 16)})
    with pytest.raises(ShapeError, match="mixed image sizes"):
        read_dicom_series(tmp_path)


def test_a_stack_with_most_slices_replanned_is_read_on_the_grid_of_its_largest_part(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """Slices 0-1 at the first plan, 2 and 3 re-planned one way (a series each), 4-5 another way (one
    series): no part has three slices; the finer of the two-slice parts sets the grid, the rest fill it."""
    _stack(write_dicom_series, tmp_path, skip={2, 3, 4, 5})
    for z in (2, 3):  # a two-slice part of coarser pixels: the first part's grid is the finer one
        _odd(write_dicom_series, tmp_path / f"sax{z}", z, (26, 20), (2.0, 2.0), (-2.0, -1.0))
    _part(write_dicom_series, tmp_path / "part2", POSITIONS[4:])
    _read_on_the_stack_grid(tmp_path, exact=2)


def test_the_series_listing_marks_a_resampled_series(
    write_dicom_series: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`analyse series`: the re-planned slice's series is read on the stack's grid (``*~``), the others
    as they are (``*``)."""
    from cardiomm.cli.main import main
    from cardiomm.io import list_dicom_series

    _stack(write_dicom_series, tmp_path, skip={2})
    _odd(write_dicom_series, tmp_path / "sax2", 2, (48, 46), (1.2, 1.0), (-5.0, -5.0))
    rows, refusal = list_dicom_series(tmp_path)
    assert refusal is None and all(r.picked for r in rows)
    assert [r.number for r in rows if r.regridded] == [12]
    assert main(["analyse", "series", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "*~" in out and "~ read on the stack's grid" in out
