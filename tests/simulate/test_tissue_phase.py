"""Tissue-dependent image phase of the real-anatomy synthesis (chemical shift, flow, susceptibility)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import ConfigError, ShapeError
from cardiomm.physics.fft import ifft2c_np
from cardiomm.simulate.real_anatomy import ANATOMY_CENTERS, AnatomyCenter, build_corpus, synthesise_scan
from cardiomm.simulate.tissue_phase import tissue_phase


def _tissues(n_t: int = 2, n_z: int = 2, n: int = 64) -> np.ndarray:
    """A square body of three tissue bands of distinct intensity and equal area (muscle, fat, blood pool)
    on a black background; the band boundaries move by four pixels per frame."""
    out = np.zeros((n_t, n_z, n, n), np.float32)
    for t in range(n_t):
        body = out[t, :, 8:56, 8:56]
        body[..., : 16 + 4 * t] = 150.0
        body[..., 16 + 4 * t : 32 + 4 * t] = 500.0
        body[..., 32 + 4 * t :] = 900.0
    return out


def test_each_tissue_keeps_one_phase_and_the_background_none() -> None:
    mag = _tissues()
    phase = tissue_phase(mag, 1.5, np.random.default_rng(0), knots=3, blur_px=0.0)
    assert phase.shape == mag.shape and phase.dtype == np.float32
    assert np.abs(phase).max() <= 1.5 + 1e-6
    far = np.ones((64, 64), bool)
    far[4:60, 4:60] = False  # background beyond the magnitude's blur
    np.testing.assert_array_equal(phase[:, :, far], 0.0)
    values = []
    for lo, hi in ((10, 22), (30, 38), (46, 54)):  # band interiors (columns) in both frames
        v = phase[:, :, 12:52, lo:hi]
        assert np.ptp(v) < 1e-6  # one offset per tissue, in every frame and slice (the subject's offsets)
        values.append(float(v.flat[0]))
    assert len({round(v, 4) for v in values}) == 3  # three tissues, three offsets
    # column 26 is fat in frame 0 and muscle in frame 1: its phase follows the tissue
    assert phase[0, 0, 30, 26] == pytest.approx(values[1]) and phase[1, 0, 30, 26] == pytest.approx(values[0])


def test_seeded_off_by_default_and_bad_options() -> None:
    mag = _tissues()
    a = tissue_phase(mag, 1.0, np.random.default_rng(3))
    np.testing.assert_array_equal(a, tissue_phase(mag, 1.0, np.random.default_rng(3)))
    assert not np.array_equal(a, tissue_phase(mag, 1.0, np.random.default_rng(4)))
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(tissue_phase(mag, 0.0, rng), 0.0)
    assert rng.random() == np.random.default_rng(5).random()  # off draws nothing
    with pytest.raises(ShapeError):
        tissue_phase(mag[0], 1.0, rng)
    for kwargs in ({"max_rad": 4.0}, {"max_rad": float("nan")}, {"max_rad": 1.0, "knots": 1},
                   {"max_rad": 1.0, "blur_px": -1.0}):  # fmt: skip
        with pytest.raises(ConfigError):
            tissue_phase(mag, rng=rng, **kwargs)  # type: ignore[arg-type]


_NOISELESS = AnatomyCenter(
    "Center901", "test", "GE", "Test", 1.5, ANATOMY_CENTERS[2].array, None, 64, 3.0, snr_15t=1e12
)


def test_synthesis_phase_changes_only_the_phase(tmp_path: Path) -> None:
    mag = _tissues(n_t=1, n_z=1)
    plain = synthesise_scan(mag, (8.0, 1.5, 1.5), _NOISELESS, seed=2)
    again = synthesise_scan(mag, (8.0, 1.5, 1.5), _NOISELESS, seed=2, tissue_phase_rad=0.0)
    np.testing.assert_array_equal(plain.kspace, again.kspace)  # off: byte-identical to before
    rough = synthesise_scan(mag, (8.0, 1.5, 1.5), _NOISELESS, seed=2, tissue_phase_rad=1.5)
    a, b = ifft2c_np(plain.kspace)[0, 0], ifft2c_np(rough.kspace)[0, 0]
    np.testing.assert_allclose(np.sqrt((np.abs(b) ** 2).sum(0)), np.sqrt((np.abs(a) ** 2).sum(0)), atol=0.05)
    # the coil-combined phase difference is the tissue phase (same coils, same smooth phase)
    padded = np.pad(mag, ((0, 0), (0, 0), (0, 0), (32, 32)))  # the 2x readout oversampling
    expected = tissue_phase(padded, 1.5, np.random.default_rng([2, 11]))
    diff = np.angle((b * np.conj(a)).sum(0))
    body = np.sqrt((np.abs(a) ** 2).sum(0)) > 100
    np.testing.assert_allclose(np.angle(np.exp(1j * (diff - expected[0, 0])))[body], 0.0, atol=1e-3)
    for bad in (-1.0, float("nan"), 4.0):
        with pytest.raises(ConfigError, match="tissue"):
            synthesise_scan(mag, (8.0, 1.5, 1.5), _NOISELESS, seed=2, tissue_phase_rad=bad)
    with pytest.raises(ConfigError, match="tissue_phase_rad"):
        build_corpus([tmp_path], tmp_path / "x", centers=ANATOMY_CENTERS[:1], tissue_phase_rad=-1.0)


def test_corpus_records_the_tissue_phase(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    nib.save(nib.Nifti1Image(_tissues(n_t=1, n_z=2)[0].transpose(2, 1, 0), np.diag([1.5, 1.5, 8.0, 1])),
             src / "a.nii.gz")  # fmt: skip
    centers = tuple(ANATOMY_CENTERS[:1])
    plain = build_corpus([src], tmp_path / "p", default_role="train", centers=centers)
    rough = build_corpus([src], tmp_path / "r", default_role="train", centers=centers, tissue_phase_rad=1.0)
    assert "tissue_phase_rad" not in plain and rough["tissue_phase_rad"] == 1.0
    assert plain["files"][0]["noise_std"] == rough["files"][0]["noise_std"]
    args = ["simulate", "real-anatomy", str(src), "--out", str(tmp_path / "c"), "--no-progress"]
    assert main([*args, "--tissue-phase", "0.8"]) == 0
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["tissue_phase_rad"] == 0.8
    assert main([*args[:4], str(tmp_path / "d"), "--no-progress", "--tissue-phase", "-1"]) == 2
    assert not (tmp_path / "d").exists()  # refused before anything is written
