"""k-space synthesis from magnitude images (DICOM / NIfTI), and bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import InputFileError, ShapeError
from cardiomm.io.kspace import read_cmrxrecon
from cardiomm.io.scan_csv import read_scan_csv
from cardiomm.physics.fft import ifft2c_np
from cardiomm.simulate.from_images import images_to_kspace_file, kspace_from_images, read_dicom_series


def _rss(kspace: np.ndarray) -> np.ndarray:
    return np.sqrt((np.abs(ifft2c_np(kspace)) ** 2).sum(axis=2))


def _nmse(a: np.ndarray, ref: np.ndarray) -> float:
    return float(((a - ref) ** 2).sum() / (ref**2).sum())


def _phantom(n_t: int = 3, n_z: int = 2, ny: int = 20, nx: int = 24) -> np.ndarray:
    yy, xx = np.mgrid[:ny, :nx]
    out = np.zeros((n_t, n_z, ny, nx), np.uint16)
    for t in range(n_t):
        for z in range(n_z):
            out[t, z] = 100 + 50 * z + 10 * t + ((yy - ny / 2) ** 2 + (xx - nx / 2) ** 2 < (5 + t) ** 2) * 400
    return out


def test_sunnybrook_from_images_rss_equals_magnitude(shared_data: Path, tmp_path: Path) -> None:
    import warnings

    import pydicom

    folder = shared_data / "segmentation/sunnybrook_scd_subset/dicoms/SCD0000101"
    out = tmp_path / "scd.mat"
    mat, csv = images_to_kspace_file(folder, out, n_coils=2, seed=0, noise=False)
    vol = read_cmrxrecon(mat)
    assert tuple(vol.kspace.shape) == (20, 12, 2, 256, 256)
    rss = _rss(vol.kspace.numpy())
    ref = np.zeros_like(rss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in range(1, 241):
            ref[(n - 1) % 20, (n - 1) // 20] = pydicom.dcmread(folder / f"{n}.dcm").pixel_array
    assert _nmse(rss, ref) < 1e-3
    params = read_scan_csv(csv)
    assert params.pixel_spacing_x_mm == pytest.approx(1.367188) and params.slice_thickness_mm == 10
    assert params.recon_matrix_x == 256 and params.tr_s == pytest.approx(0.0375, rel=0.02)
    assert params.extras["SliceSpacing"] == pytest.approx(10.0, abs=0.05)


def test_dicom_series_sorted_by_position_and_time(
    write_dicom_series: Callable[..., None],
    tmp_path: Path,
) -> None:
    imgs = _phantom()
    # slice 0 (first acquired) lies at the *highest* position: sorting must follow acquisition order
    write_dicom_series(tmp_path / "s", imgs, positions=[20.0, 14.0])
    series = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(series.magnitude, imgs.astype(np.float32))
    assert series.spacing == (6.0, 1.5, 1.25) and series.slice_spacing == pytest.approx(6.0)
    assert series.frame_dt == pytest.approx(0.040)


def test_from_images_dicom_writes_cmrxrecon(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    imgs = _phantom()
    write_dicom_series(tmp_path / "s", imgs, positions=[0.0, 6.0])
    out = tmp_path / "out" / "x.mat"
    mat, csv = images_to_kspace_file(tmp_path / "s", out, n_coils=3, seed=1, noise=False)
    k = read_cmrxrecon(mat).kspace.numpy()
    assert k.shape == (3, 2, 3, 20, 24)
    assert _nmse(_rss(k), imgs.astype(np.float32)) < 1e-10
    params = read_scan_csv(csv)
    assert params.fov_x_mm == pytest.approx(24 * 1.25) and params.fov_y_mm == pytest.approx(20 * 1.5)
    assert params.te_s == pytest.approx(1.4e-3) and params.tr_s == pytest.approx(0.040)


def test_from_images_nifti(tmp_path: Path) -> None:
    import nibabel as nib

    imgs = _phantom(n_t=2, n_z=3).astype(np.float32)  # (t, z, y, x)
    nii = nib.Nifti1Image(imgs.transpose(3, 2, 1, 0), np.diag([1.25, 1.5, 8.0, 1.0]))
    nii.header.set_zooms((1.25, 1.5, 8.0, 0.05))
    nii.header.set_xyzt_units("mm", "sec")
    nib.save(nii, tmp_path / "img.nii.gz")
    src = tmp_path / "img.nii.gz"
    mat, csv = images_to_kspace_file(src, tmp_path / "k.mat", n_coils=4, seed=0, noise=False)
    k = read_cmrxrecon(mat).kspace.numpy()
    assert k.shape == (2, 3, 4, 20, 24)
    np.testing.assert_allclose(_rss(k), imgs, rtol=1e-4, atol=1e-3)
    params = read_scan_csv(csv)
    assert params.slice_thickness_mm == 8.0 and params.tr_s == pytest.approx(0.05)


def test_kspace_from_images_noise_level_and_seed() -> None:
    mag = _phantom().astype(np.float32)
    k1, csm, sigma = kspace_from_images(mag, (1.5, 1.25), n_coils=4, seed=3, noise=True, snr=20)
    k2, _, _ = kspace_from_images(mag, (1.5, 1.25), n_coils=4, seed=3, noise=True, snr=20)
    k0, _, _ = kspace_from_images(mag, (1.5, 1.25), n_coils=4, seed=3, noise=False)
    assert k1.tobytes() == k2.tobytes()
    np.testing.assert_allclose((np.abs(csm) ** 2).sum(1), 1.0, atol=1e-5)
    assert np.std(k1 - k0) == pytest.approx(sigma, rel=0.1) and sigma > 0


def test_from_images_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no DICOM image") as err:
        images_to_kspace_file(tmp_path / "empty", tmp_path / "o.mat")
    assert str(tmp_path / "empty") in str(err.value)
    assert not (tmp_path / "o.mat").exists()


def test_from_images_mixed_series(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    imgs = _phantom(n_t=1, n_z=1)
    write_dicom_series(tmp_path / "m", imgs, positions=[0.0], uid="1.2.3")
    write_dicom_series(tmp_path / "m" / "other", imgs, positions=[0.0], uid="1.2.4")
    with pytest.raises(InputFileError, match="mixed series"):
        images_to_kspace_file(tmp_path / "m", tmp_path / "out" / "o.mat")
    assert not (tmp_path / "out").exists()


def test_from_images_mixed_sizes(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    imgs = _phantom(n_t=2, n_z=1)
    write_dicom_series(tmp_path / "m", imgs, positions=[0.0], sizes={1: (16, 16)})
    with pytest.raises(ShapeError, match="mixed image sizes"):
        images_to_kspace_file(tmp_path / "m", tmp_path / "o.mat")
    assert list(tmp_path.iterdir()) == [tmp_path / "m"]


def test_cli_from_images_bad_input_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out" / "o.mat"
    assert main(["simulate", "from-images", str(tmp_path / "empty"), str(out)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "empty" in err
    assert not (tmp_path / "out").exists()


def test_cli_from_images_ok(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    write_dicom_series(tmp_path / "s", _phantom(), positions=[0.0, 6.0])
    assert (
        main(
            [
                "simulate",
                "from-images",
                str(tmp_path / "s"),
                str(tmp_path / "k.mat"),
                "--coils",
                "2",
                "--no-noise",
            ]
        )
        == 0
    )
    assert read_cmrxrecon(tmp_path / "k.mat").n_coils == 2 and (tmp_path / "k_info.csv").is_file()


def test_cli_mini_unknown_modality_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tree"
    assert main(["simulate", "mini", str(out), "--modality", "Echo", "--no-progress"]) == 2
    assert "unknown modality 'Echo'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["simulate", "mini", str(out), "--size", "huge", "--no-progress"]) == 2
    assert not out.exists()


def test_cli_mini_tiny_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tree"
    assert main(["simulate", "mini", str(out), "--modality", "LGE", "--seed", "3", "--no-progress"]) == 0
    assert "scans" in capsys.readouterr().out
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mat") if "FullSample" in p.parts)
    assert files and all(f.startswith("LGE/") for f in files)


def test_from_images_output_must_be_mat(tmp_path: Path) -> None:
    """A non-.mat output is a typed error naming the file (was a NameError)."""
    with pytest.raises(InputFileError, match="out.nii"):
        images_to_kspace_file(tmp_path / "missing", tmp_path / "out.nii")
