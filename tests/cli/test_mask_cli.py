"""Tests of ``cardiomm mask``: the written v7.3 file and bad arguments."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.sampling import make_test_mask


def test_mask_cli_writes_cmrxrecon_style_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cine_sax_mask_ktGaussian16.mat"
    argv = [
        "mask",
        "--pattern",
        "ktGaussian",
        "--accel",
        "16",
        "--acs",
        "20",
        "--nx",
        "512",
        "--ny",
        "246",
        "--nt",
        "12",
        "--seed",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    with h5py.File(out, "r") as f:
        assert list(f.keys()) == ["mask"]
        stored = f["mask"][()]
        assert f["mask"].shape == (12, 246, 512)  # h5py order of MATLAB [nx, ny, nt]
        assert f["mask"].attrs["MATLAB_class"] == b"logical"
    np.testing.assert_array_equal(stored.astype(bool), make_test_mask("ktGaussian", 16, 512, 246, 12, seed=1))
    printed = capsys.readouterr().out
    assert "ktGaussian16" in printed and "ACS=20" in printed and "effective acceleration" in printed
    assert "sampled fraction" in printed


def test_mask_cli_single_frame_double(tmp_path: Path) -> None:
    out = tmp_path / "m.mat"
    argv = [
        "mask",
        "--pattern",
        "Uniform",
        "--accel",
        "8",
        "--acs",
        "16",
        "--nx",
        "64",
        "--ny",
        "46",
        "--out",
        str(out),
        "--dtype",
        "double",
    ]
    assert main(argv) == 0
    with h5py.File(out, "r") as f:
        assert f["mask"].shape == (46, 64) and f["mask"].dtype == np.float64
        np.testing.assert_array_equal(f["mask"][()] > 0, make_test_mask("Uniform", 8, 64, 46, 1, acs=16)[0])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--pattern", "ktFoo", "--accel", "8"], "unknown mask pattern"),
        (["--pattern", "Uniform", "--accel", "0"], "acceleration R must be a positive integer"),
        (["--pattern", "ktGaussian", "--accel", "8"], "seed"),
        (["--pattern", "ktRadial", "--accel", "8", "--acs", "300"], "ACS"),
        (["--pattern", "Uniform", "--accel", "8", "--dtype", "int8"], "dtype"),
    ],
)
def test_mask_cli_bad_arguments_exit_2_without_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "bad.mat"
    code = main(["mask", *extra, "--nx", "64", "--ny", "48", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []
