"""Tests of NIfTI, PNG and GIF export (cardiomm.io.nifti, cardiomm.io.images)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import nibabel as nib
import numpy as np
import pytest

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.io.images import to_uint8, write_cine_gif, write_png
from cardiomm.io.nifti import read_nifti, write_nifti


def test_write_nifti_affine_zooms_roundtrip(tmp_path: Path) -> None:
    vol = np.random.default_rng(0).random((4, 3, 6, 8)).astype(np.float32)  # (t, z, y, x)
    path = write_nifti(tmp_path / "v.nii.gz", vol, voxel_size_mm=(1.5, 1.25, 8.0), frame_time_s=0.04)
    img = nib.load(path)
    assert img.shape == (8, 6, 3, 4)
    np.testing.assert_allclose(img.affine, np.diag([1.5, 1.25, 8.0, 1.0]))
    assert img.header.get_zooms() == pytest.approx((1.5, 1.25, 8.0, 0.04))
    assert img.header.get_xyzt_units() == ("mm", "sec")
    np.testing.assert_array_equal(np.asarray(img.dataobj)[:, :, 1, 2], vol[2, 1].T)
    back = read_nifti(path)
    np.testing.assert_array_equal(back.volume.numpy(), vol)
    assert back.frame_time_s == pytest.approx(0.04) and back.voxel_size_mm == pytest.approx((1.5, 1.25, 8.0))
    single = write_nifti(tmp_path / "s.nii", vol[:1])
    assert nib.load(single).shape == (8, 6, 3)
    assert read_nifti(single).volume.shape == (1, 3, 6, 8)
    with pytest.raises(DataValueError):
        write_nifti(tmp_path / "bad.nii", vol, voxel_size_mm=(1.0, 0.0, 8.0))
    assert not (tmp_path / "bad.nii").exists()


def test_to_uint8_percentile_scaling() -> None:
    img = np.arange(1000, dtype=np.float64).reshape(20, 50)
    out = to_uint8(img, percentile=50.0)
    p50 = np.percentile(img, 50.0)
    np.testing.assert_array_equal(out, np.round(np.clip(img / p50, 0, 1) * 255).astype(np.uint8))
    assert to_uint8(np.zeros((4, 4))).max() == 0


def test_write_png_readback(tmp_path: Path) -> None:
    img = np.random.default_rng(1).random((6, 8))
    path = write_png(tmp_path / "f.png", img)
    back = iio.imread(path)
    assert back.shape == (6, 8) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, to_uint8(img))
    with pytest.raises(ShapeError):
        write_png(tmp_path / "g.png", np.ones((2, 6, 8)))
    with pytest.raises(DataValueError):
        write_png(tmp_path / "g.png", np.full((6, 8), np.nan))


def test_write_cine_gif_frame_count(tmp_path: Path) -> None:
    frames = np.stack([np.roll(np.eye(16, 20), k, axis=1) * (1 + k) for k in range(5)])
    path = write_cine_gif(tmp_path / "c.gif", frames, fps=20)
    back = iio.imread(path, index=None)
    assert back.shape[0] == 5 and back.shape[1:3] == (16, 20)
    meta = iio.immeta(path, index=0)
    assert meta.get("duration") == 50
    with pytest.raises(ShapeError):
        write_cine_gif(tmp_path / "d.gif", np.zeros((0, 4, 4)))
