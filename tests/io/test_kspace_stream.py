"""Frame-block streaming of raw k-space: same frames as the whole-volume readers, bounded blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from cardiomm.errors import DataValueError, MissingKeyError
from cardiomm.io import read_cmrxrecon, save_mat
from cardiomm.io.kspace_stream import open_frame_stream


def _kspace(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("frames_per_block", [1, 2, 3, 5, 100])
def test_frame_stream_blocks_equal_whole_read(tmp_path: Path, frames_per_block: int) -> None:
    path = tmp_path / "k.mat"
    save_mat(path, {"kspace_full": _kspace((4, 3, 2, 6, 5))})
    expected = read_cmrxrecon(path).frames().numpy()
    with open_frame_stream(path, fmt="cmrxrecon-mat") as stream:
        assert stream.streamed and (stream.n_frames, stream.n_slices, stream.frame_shape) == (4, 3, (2, 6, 5))
        assert stream.matlab_shape == (5, 6, 2, 3, 4)
        blocks = list(stream.blocks(frames_per_block * stream.frame_bytes))
    assert all(b.shape[0] <= frames_per_block and b.flags.c_contiguous for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), expected)


def test_frame_stream_double_precision_is_cast(tmp_path: Path) -> None:
    path = tmp_path / "double.mat"
    save_mat(path, {"kspace_full": _kspace((2, 2, 2, 6, 5)).astype(np.complex128)})
    expected = read_cmrxrecon(path).frames().numpy()
    with open_frame_stream(path, fmt="cmrxrecon-mat") as stream:
        assert stream.streamed
        got = np.concatenate(list(stream.blocks(3 * stream.frame_bytes)))
    assert got.dtype == np.complex64
    np.testing.assert_array_equal(got, expected)


def test_frame_stream_single_coil_key(tmp_path: Path) -> None:
    path = tmp_path / "single.mat"
    save_mat(path, {"kspace_single_full": _kspace((3, 2, 6, 5))})
    expected = read_cmrxrecon(path).frames().numpy()
    with open_frame_stream(path, fmt="cmrxrecon-mat") as stream:
        assert stream.streamed and stream.frame_shape == (1, 6, 5)
        got = np.concatenate(list(stream.blocks(3 * stream.frame_bytes)))
    np.testing.assert_array_equal(got, expected)


def test_frame_stream_falls_back_to_whole_read(tmp_path: Path) -> None:
    """v5 files and fewer dimensions are read whole, with the same frames."""
    v5 = tmp_path / "v5.mat"
    scipy.io.savemat(str(v5), {"kspace_full": np.transpose(_kspace((3, 2, 6, 5)))})
    small = tmp_path / "small.mat"
    save_mat(small, {"kspace_full": _kspace((2, 6, 5))})
    for path in (v5, small):
        expected = read_cmrxrecon(path).frames().numpy()
        with open_frame_stream(path, fmt="cmrxrecon-mat") as stream:
            assert not stream.streamed
            got = np.concatenate(list(stream.blocks(1)))
        np.testing.assert_array_equal(got, expected)


def test_frame_stream_errors(tmp_path: Path) -> None:
    k = _kspace((2, 1, 2, 4, 4))
    k[1, 0, 0, 1, 1] = np.inf
    save_mat(tmp_path / "inf.mat", {"kspace_full": k})
    with open_frame_stream(tmp_path / "inf.mat", fmt="cmrxrecon-mat") as stream:
        first = next(iter(stream.blocks(stream.frame_bytes)))  # frame 0 is finite
        assert first.shape == (1, 2, 4, 4)
        with pytest.raises(DataValueError, match="NaN/Inf"):
            list(stream.blocks(stream.frame_bytes))
    save_mat(tmp_path / "none.mat", {"other": np.ones((2, 2), np.float32)})
    with pytest.raises(MissingKeyError), open_frame_stream(tmp_path / "none.mat", fmt="cmrxrecon-mat"):
        pass
