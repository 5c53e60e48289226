"""Streamed scan -> shard conversion: digest taken while writing, block-size independence, bounded memory."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import cardiomm.database.convert as convert
from cardiomm.database.convert import ShardContent, block_rss, write_shard
from cardiomm.database.manifest import shard_digest
from cardiomm.io import read_cmrxrecon, rss_from_kspace, save_mat, write_training_h5

CONTENT = ShardContent("prompt text", {"center": "Center001", "vendor": "Siemens"}, {"field_t": 3.0, "n": 2})


def _rss_reference(frames: np.ndarray) -> np.ndarray:
    """RSS of the centred orthonormal IFFT, straight from numpy (independent of cardiomm)."""
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(frames, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(axis=1))


@pytest.fixture()
def odd_scan(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A v7.3 scan with odd sizes, (t, z, c, ky, kx) = (3, 3, 2, 9, 7)."""
    rng = np.random.default_rng(5)
    shape = (3, 3, 2, 9, 7)
    k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    path = tmp_path / "scan.mat"
    save_mat(path, {"kspace_full": k})
    return path, k


def test_block_rss_matches_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    for shape in ((4, 3, 12, 8), (2, 2, 9, 7)):  # even and odd sizes
        frames = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        got = block_rss(frames)
        assert got.dtype == np.float32 and got.shape == (shape[0], *shape[2:])
        np.testing.assert_allclose(got, _rss_reference(frames), rtol=1e-5, atol=1e-6)
        ref = rss_from_kspace(torch.from_numpy(frames)).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


def test_write_shard_digest_is_block_size_independent(
    odd_scan: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    src, k = odd_scan
    frame_bytes = 8 * 2 * 9 * 7
    digests = set()
    for n_frames in (1, 2, 3, 4, 9):  # blocks within one time frame, across time frames, whole volume
        shard = tmp_path / f"b{n_frames}" / "s.h5"
        digest, entry = write_shard(src, shard, fmt="cmrxrecon-mat", key=None, content=CONTENT,
                                    block_bytes=n_frames * frame_bytes)  # fmt: skip
        assert digest == shard_digest(shard) == entry.sha256
        assert (entry.n_frames, entry.nt, entry.nz, entry.shape) == (9, 3, 3, (9, 2, 9, 7))
        digests.add(digest)
    assert len(digests) == 1
    with h5py.File(tmp_path / "b2" / "s.h5", "r") as f:
        np.testing.assert_array_equal(f["kspace"][()], k.reshape(9, 2, 9, 7))
        rss = f["reconstruction_rss"][()]
        np.testing.assert_allclose(rss, _rss_reference(k.reshape(9, 2, 9, 7)), rtol=1e-5, atol=1e-6)
        assert f.attrs["max"] == rss.max() and f.attrs["norm"] == pytest.approx(np.linalg.norm(rss), rel=1e-6)
        assert list(f.attrs["matlab_shape"]) == [7, 9, 2, 3, 3] and f.attrs["prompt"] == "prompt text"
        assert f["kspace"].chunks == (1, 2, 9, 7) and f.attrs["center"] == "Center001"


def test_write_shard_same_content_as_write_training_h5(
    odd_scan: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    """Streamed and whole-volume writers give the same layout and attributes (RSS within rounding)."""
    src, _ = odd_scan
    _, entry = write_shard(src, tmp_path / "a.h5", fmt="cmrxrecon-mat", key=None, content=CONTENT)
    vol = read_cmrxrecon(src)
    write_training_h5(
        tmp_path / "b.h5", vol.frames(), n_frames=3, n_slices=3, prompt=CONTENT.prompt,
        metadata=CONTENT.metadata, extra_attrs=CONTENT.numbers, matlab_shape=vol.matlab_shape,
    )  # fmt: skip
    with h5py.File(tmp_path / "a.h5", "r") as a, h5py.File(tmp_path / "b.h5", "r") as b:
        assert sorted(a.keys()) == sorted(b.keys()) and sorted(a.attrs.keys()) == sorted(b.attrs.keys())
        for name in a.attrs:
            if name in ("max", "norm"):
                assert a.attrs[name] == pytest.approx(b.attrs[name], rel=1e-5)
            else:
                np.testing.assert_array_equal(a.attrs[name], b.attrs[name])
        np.testing.assert_array_equal(a["kspace"][()], b["kspace"][()])


def test_write_shard_rss_read_back_and_compression(
    odd_scan: tuple[Path, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The RSS part of the digest read back from the shard (large volumes) and gzip chunks: same digest."""
    src, _ = odd_scan
    plain, _ = write_shard(src, tmp_path / "a.h5", fmt="cmrxrecon-mat", key=None, content=CONTENT)
    monkeypatch.setattr(convert, "RSS_IN_MEMORY", 0)
    packed = ShardContent(CONTENT.prompt, CONTENT.metadata, CONTENT.numbers, compress=True)
    digest, _ = write_shard(
        src, tmp_path / "b.h5", fmt="cmrxrecon-mat", key=None, content=packed, block_bytes=1
    )
    assert digest == plain == shard_digest(tmp_path / "b.h5")
    with h5py.File(tmp_path / "b.h5", "r") as f:
        assert f["kspace"].compression == "gzip" and f["kspace"].chunks == (1, 2, 9, 7)


def test_write_shard_refuses_nan_and_leaves_nothing(tmp_path: Path) -> None:
    from cardiomm.errors import DataValueError

    k = np.ones((2, 1, 2, 4, 4), np.complex64)
    k[1, 0, 1, 2, 2] = np.nan
    save_mat(tmp_path / "nan.mat", {"kspace_full": k})
    with pytest.raises(DataValueError, match="NaN"):
        write_shard(tmp_path / "nan.mat", tmp_path / "out" / "s.h5", fmt="cmrxrecon-mat", key=None,
                    content=CONTENT, block_bytes=1)  # fmt: skip
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


def test_prepare_cli_compress_keeps_the_manifest(
    mini_root: Path, mini_catalog: Path, mini_shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``db prepare --compress`` writes gzip chunks with the manifest of uncompressed shards; the summary
    line gives the input rate and the peak worker memory."""
    from cardiomm.cli.main import main

    out = tmp_path / "gz"
    argv = ["db", "prepare", str(mini_root), str(out), "--catalog", str(mini_catalog), "--workers", "1",
            "--compress", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "manifest.json").read_bytes() == (mini_shards / "manifest.json").read_bytes()
    first = next(out.rglob("*.h5"))
    with h5py.File(first, "r") as f:
        assert f["kspace"].compression == "gzip"
    printed = " ".join(capsys.readouterr().out.split())
    assert "MB/s of new input" in printed and "peak worker memory" in printed


def test_progress_bar_shows_rate_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    from cardiomm.database._progress import progress_bar

    with progress_bar(True, 3, "preparing") as advance:
        for _ in range(3):
            advance(2_000_000)
    with progress_bar(False, 3, "off") as advance:
        advance(5)
    err = capsys.readouterr().err
    assert "preparing" in err and "files/s" in err and "ETA" in err and "off" not in err
