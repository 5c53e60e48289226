"""Reading analysis inputs: shapes, label checks, what counts as images, geometry precedence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.cine_geometry import cine_geometry, scan_csv_geometry
from cardiomm.analysis.volumes import AnalysisVolume, as_label_volume, load_volume, read_label_frame
from cardiomm.errors import ConfigError, DataValueError, InputFileError, UnknownChoiceError
from cardiomm.types import CardiacLabel


def test_load_volume_npy_shapes(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((3, 4, 5), np.float32))
    assert load_volume(tmp_path / "a.npy").data.shape == (1, 3, 4, 5)  # (z, y, x): one frame
    assert load_volume(tmp_path / "a.npy", series=True).data.shape == (3, 1, 4, 5)  # (t, y, x): one slice
    np.save(tmp_path / "b.npy", np.zeros((4, 5), np.float32))
    vol = load_volume(tmp_path / "b.npy")
    assert vol.data.shape == (1, 1, 4, 5) and vol.spacing_mm is None and vol.frame_dt_s is None
    with pytest.raises(InputFileError):
        load_volume(tmp_path / "missing.npy")
    (tmp_path / "c.txt").write_text("x")
    with pytest.raises(UnknownChoiceError):
        load_volume(tmp_path / "c.txt")


def test_as_label_volume_checks_values(tmp_path: Path) -> None:
    np.testing.assert_array_equal(as_label_volume(np.array([0.0, 2.0]), tmp_path), [0, 2])
    with pytest.raises(DataValueError, match="non-integer"):
        as_label_volume(np.array([0.5]), tmp_path)
    with pytest.raises(DataValueError, match="out of range"):
        as_label_volume(np.array([-1, 3]), tmp_path)
    np.save(tmp_path / "lab.npy", np.full((2, 3, 4), CardiacLabel.MYO, np.int16))
    frame = read_label_frame(tmp_path / "lab.npy")
    assert frame.dtype == np.uint8 and frame.shape == (2, 3, 4) and (frame == CardiacLabel.MYO).all()


def test_holds_images() -> None:
    assert not AnalysisVolume(np.zeros((1, 1, 2, 2), np.uint8)).holds_images()
    assert AnalysisVolume(np.full((1, 1, 2, 2), 0.5)).holds_images()
    assert AnalysisVolume(np.full((1, 1, 2, 2), 300.0)).holds_images()
    assert AnalysisVolume(np.zeros((1, 1, 2, 2)), from_dicom=True).holds_images()


def test_cine_geometry_precedence(tmp_path: Path) -> None:
    """Options beat the file header, which beats the _info.csv; no spacing anywhere is an error."""
    src = tmp_path / "seg.npy"
    np.save(src, np.zeros((1, 1, 2, 2), np.uint8))
    csv = (
        "Parameter,Value\nFOVx(mm),3\nFOVy(mm),3\nReconMatrix_X,2\nReconMatrix_Y,2\n"
        "SliceThickness(mm),8\nTR(ms),50\n"
    )
    (tmp_path / "seg_info.csv").write_text(csv)
    from_csv = scan_csv_geometry(src)
    assert from_csv == ((8.0, 1.5, 1.5), pytest.approx(0.05))
    bare = AnalysisVolume(np.zeros((1, 1, 2, 2)))
    assert cine_geometry(bare, from_csv) == cine_geometry(bare, from_csv, spacing_mm=None)
    assert cine_geometry(bare, from_csv).spacing_mm == (8.0, 1.5, 1.5)
    header = AnalysisVolume(np.zeros((1, 1, 2, 2)), spacing_mm=(6.0, 1.0, 1.0), frame_dt_s=0.04)
    assert cine_geometry(header, from_csv) == cine_geometry(header)
    given = cine_geometry(header, from_csv, spacing_mm=(5.0, 2.0, 2.0), frame_dt_s=0.03)
    assert given.spacing_mm == (5.0, 2.0, 2.0) and given.frame_dt_s == 0.03
    with pytest.raises(ConfigError, match="spacing unknown"):
        cine_geometry(bare)
    with pytest.raises(InputFileError):
        scan_csv_geometry(src, tmp_path / "none_info.csv")
