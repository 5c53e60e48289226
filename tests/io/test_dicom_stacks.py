"""How a DICOM folder becomes one stack: series per slice, position noise, mixed series, R-R interval; and
the other ways scanners and archives write the same cine (Enhanced multi-frame objects, files without
the DICOM preamble, SliceLocation but no ImagePositionPatient, a whole study in one folder), each read as
the classic series is or refused with a typed error."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import DataValueError, InputFileError, ShapeError
from cardiomm.io import read_dicom_series

from .dicom_tags import retag

N_T, N_Z = 3, 4
POSITIONS = [0.0, 8.0, 16.0, 24.0]


def _images() -> np.ndarray:
    """(t, z, y, x) uint16 with every image distinct (value = 100 t + 10 z + 1 plus a ramp)."""
    t, z = np.meshgrid(np.arange(N_T), np.arange(N_Z), indexing="ij")
    ramp = np.arange(6 * 5, dtype=np.uint16).reshape(6, 5)
    return (100 * t + 10 * z + 1)[..., None, None].astype(np.uint16) + ramp


def test_one_series_per_slice_reads_as_the_stack(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    write_dicom_series(tmp_path / "one", imgs, positions=POSITIONS)
    for z, pos in enumerate(POSITIONS):  # as archives deliver short-axis cines: a series per slice
        write_dicom_series(
            tmp_path / "split" / f"sax_{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}"
        )
    first = sorted((tmp_path / "split").rglob("*.dcm"))[0]
    (tmp_path / "split" / "copy.dcm").write_bytes(first.read_bytes())  # the same image exported twice
    one, split = read_dicom_series(tmp_path / "one"), read_dicom_series(tmp_path / "split")
    np.testing.assert_array_equal(one.magnitude, imgs.astype(np.float32))
    np.testing.assert_array_equal(split.magnitude, one.magnitude)
    assert split.slice_spacing == one.slice_spacing == 8.0
    np.testing.assert_allclose(np.asarray(split.slice_positions), POSITIONS)


def test_series_that_are_not_one_stack_are_listed(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cine with a localizer beside it: the cine is the one multi-slice, multi-frame stack, read with
    the choice logged; with a second such stack (another orientation) the folder is refused, listed."""
    imgs = _images()
    write_dicom_series(tmp_path / "mix", imgs, positions=POSITIONS)
    write_dicom_series(tmp_path / "mix" / "loc", imgs[:1, :1], positions=[0.0], uid="1.2.8")
    write_dicom_series(tmp_path / "two", imgs, positions=POSITIONS)
    write_dicom_series(tmp_path / "two" / "sag", imgs, positions=POSITIONS, uid="1.2.8")

    def sagittal(description: str) -> Callable[[object, int], None]:
        def change(ds: object, _: int) -> None:
            ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # type: ignore[attr-defined]
            ds.ImagePositionPatient = [ds.ImagePositionPatient[2], 0, 0]  # type: ignore[attr-defined]
            ds.SeriesDescription = description  # type: ignore[attr-defined]

        return change

    retag(tmp_path / "mix" / "loc", sagittal("localizer"))
    retag(tmp_path / "two" / "sag", sagittal("sagittal cine"))
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        mix = read_dicom_series(tmp_path / "mix")
    np.testing.assert_array_equal(mix.magnitude, imgs.astype(np.float32))
    assert any("reading the only multi-slice, multi-frame stack" in r.getMessage() for r in caplog.records)
    with pytest.raises(InputFileError, match=r"2 series that are not one stack.*'sagittal cine' \(12"):
        read_dicom_series(tmp_path / "two")


def test_position_noise_within_a_slice_is_tolerated(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    write_dicom_series(
        tmp_path / "s", imgs, positions=[p + 0.005 for p in POSITIONS]
    )  # 0.01-mm rounding edge
    jitter = np.random.default_rng(1).uniform(-0.004, 0.004, N_T * N_Z)

    def nudge(ds: object, k: int) -> None:
        x, y, z = (float(v) for v in ds.ImagePositionPatient)  # type: ignore[attr-defined]
        ds.ImagePositionPatient = [x, y, z + float(jitter[k])]  # type: ignore[attr-defined]

    retag(tmp_path / "s", nudge)
    series = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(series.magnitude, imgs.astype(np.float32))
    assert series.slice_spacing == pytest.approx(8.0, abs=0.01)


def test_rr_interval_is_the_median_over_the_images(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    write_dicom_series(tmp_path / "s", _images(), positions=POSITIONS, nominal_interval_ms=800.0)
    retag(tmp_path / "s", lambda ds, k: setattr(ds, "NominalInterval", 700.0 + 10 * (k % 5)))  # 700-740
    expected = np.median([700.0 + 10 * (k % 5) for k in range(N_T * N_Z)]) * 1e-3  # not the first file's
    assert read_dicom_series(tmp_path / "s").rr_interval == pytest.approx(expected) != 0.700


def _classic(folder: Path, write: Callable[..., None]) -> list[object]:
    """A classic series (one image per file, shuffled) and its data sets in file-name order."""
    import pydicom

    tis = [100, 180, 260]  # inversion times per frame, as a MOLLI series holds them
    write(folder, _images(), positions=POSITIONS, nominal_interval_ms=800.0, inversion_times_ms=tis)
    return [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]


def _enhanced(classic: list[object], out: Path, *, shared_measures: bool) -> None:
    """The classic images as one Enhanced MR object: pixel data stacked, geometry and timing moved into
    per-frame functional groups (pixel measures in the shared groups when ``shared_measures``)."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    def item(**values: object) -> Dataset:
        ds = Dataset()
        for k, v in values.items():
            setattr(ds, k, v)
        return ds

    top = copy.deepcopy(classic[0])
    for tag in (
        "ImagePositionPatient",
        "ImageOrientationPatient",
        "PixelSpacing",
        "SliceThickness",
        "TriggerTime",
        "NominalInterval",
        "EchoTime",
        "RepetitionTime",
        "InversionTime",
    ):
        if tag in top:
            delattr(top, tag)
    top.SOPClassUID = top.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    top.SOPInstanceUID = top.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    per_frame = []
    classic = sorted(classic, key=lambda ds: int(ds.InstanceNumber))  # type: ignore[attr-defined]  # frames in acquisition order
    for ds in classic:
        groups = item(
            PlanePositionSequence=[item(ImagePositionPatient=ds.ImagePositionPatient)],  # type: ignore[attr-defined]
            PlaneOrientationSequence=[item(ImageOrientationPatient=ds.ImageOrientationPatient)],  # type: ignore[attr-defined]
            CardiacSynchronizationSequence=[
                item(NominalCardiacTriggerDelayTime=ds.TriggerTime, RRIntervalTimeNominal=800.0)  # type: ignore[attr-defined]
            ],
            MREchoSequence=[item(EffectiveEchoTime=1.4)],
            MRModifierSequence=[item(InversionTimes=[ds.InversionTime])],  # type: ignore[attr-defined]
        )
        if not shared_measures:
            groups.PixelMeasuresSequence = [item(PixelSpacing=[1.5, 1.25], SliceThickness=6.0)]
        per_frame.append(groups)
    top.PerFrameFunctionalGroupsSequence = per_frame
    if shared_measures:
        top.SharedFunctionalGroupsSequence = [
            item(PixelMeasuresSequence=[item(PixelSpacing=[1.5, 1.25], SliceThickness=6.0)])
        ]
    top.NumberOfFrames = len(classic)
    top.PixelData = np.stack([ds.pixel_array for ds in classic]).tobytes()  # type: ignore[attr-defined]
    out.mkdir(parents=True)
    top.save_as(out / "enhanced.dcm", enforce_file_format=True)


@pytest.mark.parametrize("shared_measures", [False, True])
def test_enhanced_multiframe_reads_as_the_classic_series(
    write_dicom_series: Callable[..., None], tmp_path: Path, shared_measures: bool
) -> None:
    classic = _classic(tmp_path / "classic", write_dicom_series)
    _enhanced(classic, tmp_path / "enhanced", shared_measures=shared_measures)
    ref, got = read_dicom_series(tmp_path / "classic"), read_dicom_series(tmp_path / "enhanced")
    np.testing.assert_array_equal(ref.magnitude, _images().astype(np.float32))
    np.testing.assert_array_equal(got.magnitude, ref.magnitude)
    assert got.spacing == ref.spacing == (6.0, 1.5, 1.25)
    assert got.slice_spacing == ref.slice_spacing == 8.0
    assert got.frame_dt == ref.frame_dt == pytest.approx(0.040)
    assert got.rr_interval == ref.rr_interval == pytest.approx(0.800)
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS)
    assert got.echo_times is not None and np.allclose(got.echo_times, 1.4e-3)
    assert ref.inversion_times is not None and got.inversion_times is not None  # a MOLLI-like series
    np.testing.assert_allclose(got.inversion_times, ref.inversion_times)
    np.testing.assert_allclose(ref.inversion_times[:, 0], [0.100, 0.180, 0.260])


def test_multiframe_without_frame_geometry_is_refused(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    classic = _classic(tmp_path / "classic", write_dicom_series)
    _enhanced(classic, tmp_path / "legacy", shared_measures=False)
    import pydicom

    f = tmp_path / "legacy" / "enhanced.dcm"
    ds = pydicom.dcmread(f)
    del ds.PerFrameFunctionalGroupsSequence  # frames without geometry (legacy multi-frame)
    ds.save_as(f, enforce_file_format=True)
    with pytest.raises(ShapeError, match=r"enhanced.dcm.*multi-frame image \(12 frames\) without per-frame"):
        read_dicom_series(tmp_path / "legacy")


def test_files_without_preamble_or_suffix_are_read(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """Raw data sets (no 128-byte preamble, no file meta, no suffix), as old exports write them."""
    from pydicom import dcmwrite

    classic = _classic(tmp_path / "classic", write_dicom_series)
    (tmp_path / "raw").mkdir()
    for k, ds in enumerate(classic):
        del ds.file_meta  # type: ignore[attr-defined]
        ds.preamble = None  # type: ignore[attr-defined]
        dcmwrite(tmp_path / "raw" / f"I{k:03d}", ds, implicit_vr=True, little_endian=True)  # type: ignore[arg-type]
    (tmp_path / "raw" / "notes").write_bytes(b"\x08\x00 not DICOM after all")  # starts like it: ignored
    assert (tmp_path / "raw" / "I000").read_bytes()[:2] == b"\x08\x00"
    got = read_dicom_series(tmp_path / "raw")
    np.testing.assert_array_equal(got.magnitude, _images().astype(np.float32))
    assert got.slice_spacing == 8.0


def _slice_location_only(ds: object, *, between: float | None) -> None:
    """Drop ImagePositionPatient / Orientation; SliceLocation on an oblique scanner axis (0.672 x the
    distance along the normal, as in the Sunnybrook cines) and, optionally, SpacingBetweenSlices."""
    z = float(ds.ImagePositionPatient[2])  # type: ignore[attr-defined]
    del ds.ImagePositionPatient, ds.ImageOrientationPatient  # type: ignore[attr-defined]
    ds.SliceLocation = round(-0.672 * z, 3)  # type: ignore[attr-defined]
    if between is not None:
        ds.SpacingBetweenSlices = between  # type: ignore[attr-defined]


def test_slice_location_only_uses_spacing_between_slices(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import pydicom

    for name, between, thick in (("with", 8.0, 6.0), ("without", None, 6.0), ("thin", None, 4.0)):
        write_dicom_series(tmp_path / name, _images(), positions=POSITIONS, thickness=thick)
        for f in (tmp_path / name).glob("*.dcm"):
            ds = pydicom.dcmread(f)
            _slice_location_only(ds, between=between)
            ds.save_as(f, enforce_file_format=True)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.image_series"):
        got = read_dicom_series(tmp_path / "with")
    assert not caplog.records
    np.testing.assert_array_equal(got.magnitude, _images().astype(np.float32))  # order kept
    assert got.slice_spacing == 8.0  # not the SliceLocation step 5.376
    assert np.allclose(np.abs(np.diff(np.asarray(got.slice_positions))), 8.0)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.image_series"):
        got = read_dicom_series(tmp_path / "without")
    assert got.slice_spacing == 6.0  # steps of 5.376 mm would overlap 6-mm slices: the thickness, said
    assert any("less than the slice thickness 6.00 mm" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.image_series"):
        got = read_dicom_series(tmp_path / "thin")
    assert got.slice_spacing == pytest.approx(5.376)  # the only distance the headers give: said aloud
    assert any("taken from SliceLocation" in r.getMessage() for r in caplog.records)


def test_missing_positions_are_refused(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    import pydicom

    write_dicom_series(tmp_path / "none", _images(), positions=POSITIONS)
    write_dicom_series(tmp_path / "some", _images(), positions=POSITIONS)
    for f in (tmp_path / "none").glob("*.dcm"):
        ds = pydicom.dcmread(f)
        del ds.ImagePositionPatient
        ds.save_as(f, enforce_file_format=True)
    with pytest.raises(DataValueError, match="no slice position in the headers"):
        read_dicom_series(tmp_path / "none")  # 4 slices x 3 frames would read as one slice of 12 frames
    f = sorted((tmp_path / "some").glob("*.dcm"))[2]
    ds = pydicom.dcmread(f)
    del ds.ImagePositionPatient
    ds.save_as(f, enforce_file_format=True)
    with pytest.raises(DataValueError, match=rf"ImagePositionPatient on 11 of 12 images \(not on {f.name}"):
        read_dicom_series(tmp_path / "some")


def test_missing_pixel_spacing_is_said(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import pydicom

    write_dicom_series(tmp_path / "s", _images(), positions=POSITIONS)
    for f in (tmp_path / "s").glob("*.dcm"):
        ds = pydicom.dcmread(f)
        del ds.PixelSpacing
        ds.save_as(f, enforce_file_format=True)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.image_series"):
        got = read_dicom_series(tmp_path / "s")
    assert got.spacing[1:] == (1.0, 1.0)
    assert any("no PixelSpacing" in r.getMessage() for r in caplog.records)


def test_a_study_folder_reads_the_series_asked_for(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """A study exported to one folder (a localizer, the short-axis cine one series per slice, a
    long-axis series): the short-axis stack is read by itself or when selected by description, the
    long-axis series by number or UID; a selection matching nothing lists what is there."""
    import pydicom

    imgs = _images()
    study = tmp_path / "study"
    write_dicom_series(study / "loc", imgs[:1, :1], positions=[0.0], uid="1.2.8")
    for z, pos in enumerate(POSITIONS):
        write_dicom_series(study / f"sax{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
    write_dicom_series(study / "lax", imgs[:, :1], positions=[0.0], uid="1.2.7")
    for f in study.rglob("*.dcm"):
        ds = pydicom.dcmread(f)
        part = f.parent.name
        if part.startswith("sax"):
            ds.SeriesDescription, ds.SeriesNumber = "cine_sax", 10 + int(part[3:])
        else:
            ds.SeriesDescription = {"loc": "localizer", "lax": "cine_4ch"}[part]
            ds.SeriesNumber = {"loc": 1, "lax": 20}[part]
            ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
        ds.save_as(f, enforce_file_format=True)
    sax = read_dicom_series(study, "SAX")  # four series, one per slice, that form one stack
    np.testing.assert_array_equal(sax.magnitude, imgs.astype(np.float32))
    picked = read_dicom_series(study)  # the only multi-slice, multi-frame stack of the study
    np.testing.assert_array_equal(picked.magnitude, sax.magnitude)
    lax = read_dicom_series(study, "20")
    np.testing.assert_array_equal(lax.magnitude, imgs[:, :1].astype(np.float32))
    assert read_dicom_series(study, "1.2.7").magnitude.shape == lax.magnitude.shape
    with pytest.raises(InputFileError, match=r"no series matches 'lge'; the folder holds: .*'localizer'"):
        read_dicom_series(study, "lge")


def test_a_study_folder_leaves_out_other_acquisitions_at_the_stack_slices(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Parallel series at the cine's slices: an LGE stack (one image per slice) and a MOLLI series at two
    slices (five images each) are left out with a note; a slice acquired twice is read from the later
    series, the earlier one left out; the choice is logged."""
    imgs = _images()
    study = tmp_path / "study"
    write_dicom_series(study / "cine", imgs, positions=POSITIONS)
    write_dicom_series(study / "lge", imgs[:1] + 7, positions=POSITIONS, uid="1.2.5")
    molli = np.repeat(imgs[:1, 1:3] + 9, 5, axis=0)
    write_dicom_series(
        study / "molli",
        molli,
        positions=POSITIONS[1:3],
        uid="1.2.6",
        inversion_times_ms=[100, 180, 260, 900, 1700],
    )
    again = imgs[:, 2:3] + 500  # the third slice again, later, with other pixel values
    write_dicom_series(study / "again", again, positions=[POSITIONS[2]], uid="1.2.7")
    for name, number in (("cine", 7), ("lge", 20), ("molli", 30), ("again", 9)):
        retag(study / name, SeriesNumber=number, SeriesDescription=name)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(study)
    want = imgs.astype(np.float32)
    want[:, 2] = again[:, 0]
    np.testing.assert_array_equal(got.magnitude, want)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "left out, not frames of the cine stack's slices: 'lge' (series 20, 4 images); 'molli'" in said
    assert "the slice at 16.00 mm was acquired 2 times: reading the later one, 'again' (series 9" in said


@pytest.mark.parametrize("turn", ["transposed", "flipped", "transposed and flipped"])
def test_a_slice_saved_with_other_in_plane_axes_is_turned_to_the_stack(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture, turn: str
) -> None:
    """A per-slice export whose third slice was saved with rows and columns swapped and / or reversed
    (its geometry headers saying so): read turned back to the stack's axes, with a note; the slice
    cropped (another field of view) is resampled onto the stack's grid, and left out, named in a
    warning, when it covers too little of it."""
    imgs = _images()
    n_rows, n_cols = imgs.shape[2:]
    for z, pos in enumerate(POSITIONS):
        write_dicom_series(tmp_path / f"sax{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
        retag(tmp_path / f"sax{z}", SeriesNumber=10 + z, SeriesDescription="sax")
    odd = tmp_path / "sax2"
    for f in odd.glob("*.dcm"):
        f.unlink()
    pixels, iop, ipp = imgs[:, 2:3], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, 0.0, POSITIONS[2]]
    spacing = [1.5, 1.25]  # the fixture's (row, column) spacing
    if "flipped" in turn:  # columns reversed: the first column is now the last one
        pixels, iop = pixels[..., ::-1], [-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ipp = [(n_cols - 1) * spacing[1], 0.0, POSITIONS[2]]
    if "transposed" in turn:
        pixels, iop, spacing = pixels.transpose(0, 1, 3, 2), iop[3:] + iop[:3], spacing[::-1]
    write_dicom_series(odd, np.ascontiguousarray(pixels), positions=[POSITIONS[2]], uid="1.2.9.2")
    retag(odd, SeriesNumber=12, SeriesDescription="sax")

    def geometry(ds: object, _: int) -> None:
        ds.ImageOrientationPatient, ds.ImagePositionPatient, ds.PixelSpacing = iop, ipp, spacing  # type: ignore[attr-defined]

    retag(odd, geometry)
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(got.magnitude, imgs.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS)
    assert any(
        "other in-plane axes" in r.getMessage() and "(series 12" in r.getMessage() for r in caplog.records
    )
    cropped = tmp_path / "sax2"  # re-planned with a smaller field of view: on the stack's grid, 0 outside
    for rows, read in ((4, True), (1, False)):
        for f in cropped.glob("*.dcm"):
            f.unlink()
        write_dicom_series(cropped, imgs[:, 2:3, :rows], positions=[POSITIONS[2]], uid="1.2.9.2")
        retag(cropped, SeriesNumber=12, SeriesDescription="sax")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
            got = read_dicom_series(tmp_path)
        said = " ".join(r.getMessage() for r in caplog.records)
        if read:
            want = imgs.astype(np.float32)
            want[:, 2, rows:] = 0
            np.testing.assert_array_equal(got.magnitude, want)
            assert "resampled onto the stack's 6 x 5 grid" in said and "covering 67%" in said
        else:  # one row of six: too little of the field of view; the other slices are read
            np.testing.assert_array_equal(got.magnitude, imgs[:, [0, 1, 3]].astype(np.float32))
            assert (
                "left out though parallel to the stack (another matrix or pixel spacing): 'sax' (series 12"
                in said
            )


def _tilt(deg: float) -> Callable[[object, int], None]:
    """Turn an image's plane by ``deg`` about its column direction through the image centre."""

    def change(ds: object, _: int) -> None:
        iop = np.asarray(ds.ImageOrientationPatient, dtype=float)  # type: ignore[attr-defined]
        row, col = iop[:3], iop[3:]
        dy, dx = (float(v) for v in ds.PixelSpacing)  # type: ignore[attr-defined]
        half = row * dx * (ds.Columns - 1) / 2 + col * dy * (ds.Rows - 1) / 2  # type: ignore[attr-defined]
        centre = np.asarray(ds.ImagePositionPatient, dtype=float) + half  # type: ignore[attr-defined]
        a = np.radians(deg)
        row = row * np.cos(a) + np.cross(row, col) * np.sin(a)
        ds.ImageOrientationPatient = [*row, *col]  # type: ignore[attr-defined]
        ds.ImagePositionPatient = list(
            centre - row * dx * (ds.Columns - 1) / 2 - col * dy * (ds.Rows - 1) / 2
        )  # type: ignore[attr-defined]

    return change


@pytest.mark.parametrize("per_slice", [True, False])
def test_slices_tilted_a_few_degrees_are_one_stack_at_their_centres(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture, per_slice: bool
) -> None:
    """Slices re-planned between breath-holds (one 4 degrees off): read as one stack, positioned at the
    image centres (at the corners the tilted slice would be ~0.3 mm x half the field of view off), the
    tilt logged; a series holding planes 30 degrees apart is several views, refused."""
    imgs = _images()
    if per_slice:
        for z, pos in enumerate(POSITIONS):
            write_dicom_series(tmp_path / f"sax{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
        retag(tmp_path / "sax2", _tilt(4.0))
    else:
        write_dicom_series(tmp_path / "s", imgs, positions=POSITIONS, shuffle=False)
        retag(tmp_path / "s", lambda ds, k: _tilt(4.0)(ds, k) if 2 * N_T <= k < 3 * N_T else None)
    with caplog.at_level(logging.WARNING):
        got = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(got.magnitude, imgs.astype(np.float32))
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS, atol=1e-6)
    assert any("slices tilted up to 4.0 degrees" in r.getMessage() for r in caplog.records)
    if not per_slice:
        retag(tmp_path / "s", lambda ds, k: _tilt(30.0)(ds, k) if k < N_T else None)
        with pytest.raises(InputFileError, match="planes up to 3[0-9] degrees apart"):
            read_dicom_series(tmp_path)


def test_derived_images_at_the_stack_slices_are_not_read_as_a_repeat(
    write_dicom_series: Callable[..., None], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A later series of DERIVED images at every slice (an analysis result or reformat saved by the
    scanner) is left out, not read as the later acquisition."""
    imgs = _images()
    write_dicom_series(tmp_path / "cine", imgs, positions=POSITIONS)
    write_dicom_series(tmp_path / "vf", imgs + 1000, positions=POSITIONS, uid="1.2.6")
    retag(tmp_path / "cine", SeriesNumber=7, SeriesDescription="cine")
    retag(tmp_path / "vf", SeriesNumber=8, SeriesDescription="cine_InlineVF")
    retag(tmp_path / "cine", lambda ds, _: setattr(ds, "ImageType", ["ORIGINAL", "PRIMARY", "M"]))
    retag(tmp_path / "vf", lambda ds, _: setattr(ds, "ImageType", ["DERIVED", "SECONDARY"]))
    with caplog.at_level(logging.WARNING, logger="cardiomm.io.dicom_series"):
        got = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(got.magnitude, imgs.astype(np.float32))
    assert any("derived images (ImageType DERIVED)" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "case", ["same number", "inversion recovery", "MOLLI and its MOCO", "single image off the stack"]
)
def test_a_study_folder_that_is_not_clear_is_refused(
    write_dicom_series: Callable[..., None], tmp_path: Path, case: str
) -> None:
    """A repeat that cannot be ordered (one SeriesNumber, a SeriesTime on one series only), an
    inversion-recovery series acquired twice (pre and post contrast?) or beside its motion-corrected copy
    (which one to fit is the user's choice), and a one-image series at a slice the cine does not cover (a
    cine slice with one frame) are not guessed."""
    imgs = _images()
    study = tmp_path / "study"
    if case == "inversion recovery":
        tis = [100, 180, 260]
        write_dicom_series(study / "a", imgs, positions=POSITIONS, inversion_times_ms=tis)
        write_dicom_series(study / "b", imgs[:, 1:2], positions=[8.0], uid="1.2.7", inversion_times_ms=tis)
        retag(study / "b", SeriesNumber=9, SeriesDescription="post")
    elif case == "MOLLI and its MOCO":  # Siemens: TIs in ImageComments, the motion-corrected copy DERIVED
        tis = [100, 180, 260]
        write_dicom_series(
            study / "a", imgs, positions=POSITIONS, inversion_times_ms=tis, ti_in_comments=True
        )
        write_dicom_series(
            study / "b",
            imgs + 9,
            positions=POSITIONS,
            uid="1.2.7",
            inversion_times_ms=tis,
            ti_in_comments=True,
        )
        retag(study / "b", SeriesNumber=9, SeriesDescription="MOLLI_MOCO")
        retag(study / "b", lambda ds, _: setattr(ds, "ImageType", ["DERIVED", "PRIMARY", "MOCO"]))
    elif case == "same number":  # and a SeriesTime on one of them only
        write_dicom_series(study / "a", imgs, positions=POSITIONS)
        write_dicom_series(study / "b", imgs[:, 1:2], positions=[8.0], uid="1.2.7")
        retag(study / "a", SeriesNumber=7, SeriesDescription="cine")
        retag(study / "b", SeriesNumber=7, SeriesDescription="cine")
        retag(study / "b", lambda ds, _: setattr(ds, "SeriesTime", "101010"))
    else:
        write_dicom_series(study / "a", imgs[:, :3], positions=POSITIONS[:3])
        write_dicom_series(study / "b", imgs[:1, 3:], positions=POSITIONS[3:], uid="1.2.7")
    expected = {
        "MOLLI and its MOCO": r"same slice position \(0.00 mm\), .*'MOLLI_MOCO' \(series 9, 3 images\)",
        "single image off the stack": "different numbers of frames",
    }.get(case, "same slice position")
    with pytest.raises((InputFileError, ShapeError), match=expected):
        read_dicom_series(study)


def test_series_of_two_studies_are_not_stacked(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """Two examinations' per-slice cines in one folder (two patients, or one patient twice), at the same
    positions: no stack mixes them (the later series would otherwise replace every slice); selecting
    the series reads them (for exports whose anonymiser gave each series its own study UID)."""
    imgs = _images()
    for study, offset in (("1.9.1", 0), ("1.9.2", 500)):
        for z, pos in enumerate(POSITIONS):
            folder = tmp_path / study / f"sax{z}"
            write_dicom_series(folder, imgs[:, z : z + 1] + offset, positions=[pos], uid=f"{study}.{z}")
            retag(folder, SeriesNumber=10 + z + offset, SeriesDescription="sax" if offset else "cine_sax")
            retag(folder, lambda ds, _, study=study: setattr(ds, "StudyInstanceUID", study))
    with pytest.raises(
        InputFileError, match=r"series of 2 studies \(StudyInstanceUID\) in one folder: study 1"
    ):
        read_dicom_series(tmp_path)
    got = read_dicom_series(tmp_path, "cine_sax")
    np.testing.assert_array_equal(got.magnitude, imgs.astype(np.float32))


def test_a_per_slice_export_starts_at_the_first_breath_hold(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """Instance numbers restart in every series of a per-slice export: the series numbers tell which end
    of the stack was acquired first, and that slice comes first (as the lowest instance number does in
    one series)."""
    imgs = _images()
    for z, pos in enumerate(POSITIONS):
        write_dicom_series(tmp_path / f"sax{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
        # the last position was acquired first
        retag(tmp_path / f"sax{z}", SeriesNumber=20 - z, SeriesDescription="sax")
        retag(tmp_path / f"sax{z}", lambda ds, k: setattr(ds, "InstanceNumber", k + 1))
    got = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(got.magnitude, imgs[:, ::-1].astype(np.float32))
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS[::-1])


def test_series_listing_counts_alike_series_once(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    imgs = _images()
    for z, pos in enumerate(POSITIONS):
        write_dicom_series(tmp_path / f"sax{z}", imgs[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
        retag(tmp_path / f"sax{z}", SeriesNumber=5 + z, SeriesDescription="sax")
    with pytest.raises(InputFileError, match=r"'sax' \(4 series: 5-8, 3 images each\)"):
        read_dicom_series(tmp_path, "lge")
