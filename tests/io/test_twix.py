"""Tests of cardiomm.io.twix on the real Siemens twix file and on twix files derived from it.

The real file (``kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat``, VD/VE, 2-D GRE phantom,
2 coils, 160 lines x 320 oversampled columns, centre line 80, fully sampled) comes from the
``shared_data`` fixture and is never copied into the repository; derived files are written to
``tmp_path`` with ``twixtools.write_twix``. References are computed here with twixtools and numpy only.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import FileFormatError, InputFileError, MissingKeyError, ShapeError
from cardiomm.io import read_image_mat, read_twix_kspace, save_mat
from cardiomm.physics import ifft2c, rss
from cardiomm.recon.pipeline import ReconTask, load_task

REAL = "kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat"
NY, NX_OS, NC = 160, 320, 2


@pytest.fixture(scope="module")
def twix_file(shared_data: Path) -> Path:
    path = shared_data / REAL
    if not path.is_file():
        pytest.skip(f"real twix file {REAL} not found in the shared data folder; skipping")
    return path


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def _raw_twix(path: Path, *, remove_os: bool) -> tuple[np.ndarray, int]:
    """``(k (c, lin, col), centre line)`` straight from ``twixtools.map_twix`` (independent reference)."""
    import twixtools

    image = _quiet(twixtools.map_twix, str(path), verbose=False)[-1]["image"]
    image.flags["remove_os"] = remove_os
    arr = image[:]  # (Ide ... Ave, Lin, Cha, Col), all other counters singleton in this file
    assert arr.shape[:-3] == (1,) * 13
    return np.moveaxis(arr.reshape(arr.shape[-3:]), 1, 0), int(image.kspace_center_lin)


def _rss_np(k: np.ndarray) -> np.ndarray:
    """RSS over axis -3 of the centred orthonormal 2-D IFFT, numpy only."""
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(axis=-3))


@pytest.fixture(scope="module")
def volumes(twix_file: Path) -> dict[bool, Any]:
    return {ros: read_twix_kspace(twix_file, remove_os=ros) for ros in (True, False)}


def test_read_twix_kspace_real_file_layout(volumes: dict[bool, Any], twix_file: Path) -> None:
    vol = volumes[True]
    assert tuple(vol.kspace.shape) == (1, 1, NC, NY, NX_OS // 2)
    assert vol.kspace.dtype.is_complex and str(vol.kspace.dtype) == "torch.complex64"
    assert vol.n_coils == NC and vol.n_frames == 1 and vol.n_slices == 1
    assert vol.matlab_shape == (NX_OS // 2, NY, NC) and vol.key == "image" and vol.source == twix_file
    assert not vol.undersampled and vol.mask is not None and bool(vol.mask.all())
    assert tuple(vol.mask.shape) == (1, NY, NX_OS // 2)
    # remove_os halves the readout only
    assert tuple(volumes[False].kspace.shape) == (1, 1, NC, NY, NX_OS)


@pytest.mark.parametrize("remove_os", [True, False])
def test_read_twix_kspace_matches_twixtools_and_numpy(
    volumes: dict[bool, Any], twix_file: Path, remove_os: bool
) -> None:
    raw, centre = _raw_twix(twix_file, remove_os=remove_os)
    assert centre == NY // 2  # this file's lines are already centred: Lin == ky
    k = volumes[remove_os].kspace.numpy()[0, 0]
    np.testing.assert_allclose(k, raw, rtol=1e-6, atol=1e-6 * np.abs(raw).max())
    image = rss(ifft2c(volumes[remove_os].frames()), dim=1).numpy()[0]  # cardiomm's image path
    expected = _rss_np(raw)
    np.testing.assert_allclose(image, expected, rtol=1e-4, atol=1e-5 * expected.max())


def test_read_twix_kspace_centre_and_oversampling(volumes: dict[bool, Any]) -> None:
    for ros, nx in ((True, NX_OS // 2), (False, NX_OS)):
        energy = (np.abs(volumes[ros].kspace.numpy()) ** 2).sum(axis=(0, 1, 2))
        ky, kx = np.unravel_index(int(energy.argmax()), energy.shape)
        assert abs(int(ky) - NY // 2) <= 1 and abs(int(kx) - nx // 2) <= 1
    # oversampling removal keeps the central half of the image (twixtools' ifft/crop/fft keeps the
    # k-space amplitude, so the orthonormal image of nx/2 samples is 1/sqrt(2) of the oversampled one)
    img_os = _rss_np(volumes[False].kspace.numpy()[0, 0])
    img = _rss_np(volumes[True].kspace.numpy()[0, 0])
    crop = img_os[:, NX_OS // 4 : 3 * NX_OS // 4] / np.sqrt(2.0)
    np.testing.assert_allclose(img, crop, rtol=1e-4, atol=1e-4 * crop.max())


def _derive(src: Path, out: Path, edit: Any) -> Path:
    """Write a twix file whose measurement's mdb list is ``edit(mdbs)`` (``mdbs``: the real file's blocks)."""
    import twixtools

    scans = _quiet(twixtools.read_twix, str(src), verbose=False)
    mdbs = [m for m in scans[-1]["mdb"] if not m.is_flag_set("SYNCDATA")]
    scans[-1]["mdb"] = edit(mdbs)
    _quiet(twixtools.write_twix, scans, str(out))
    return out


def _copy(m: Any, data: np.ndarray | None = None, **counters: int) -> Any:
    new = m.convert_to_local()
    for name, value in counters.items():
        setattr(new.mdh.Counter, name, value)
    if data is not None:
        new.data = data
    return new


def test_read_twix_kspace_counters_partial_fourier_and_averages(twix_file: Path, tmp_path: Path) -> None:
    """Contrasts, phases, slices, averages, REFLECT, noise/PAT-reference scans, partial Fourier (two ways)."""
    raw, _ = _raw_twix(twix_file, remove_os=False)  # (c, lin, col)
    first = 40  # 6/8 partial Fourier: lines 0..39 never acquired

    def edit(mdbs: list[Any]) -> list[Any]:
        out = []
        for m in mdbs:
            lin = m.mdh.Counter.Lin
            if lin < first:
                continue
            d = np.asarray(m.data)
            if lin == 90:  # stored reversed with REFLECT set: the reader flips it back
                base = _copy(m, d[:, ::-1].copy())
                base.add_flag("REFLECT")
            else:
                base = m
            out.append(base)  # Phs 0, Sli 0
            out.append(_copy(m, 2 * d, Phs=1))
            if lin != 100:  # line 100 missing in slice 1, frame 0 only
                out.append(_copy(m, 3 * d, Sli=1))
            out.append(_copy(m, -d, Phs=1, Sli=1))
            out.append(_copy(m, 5 * d, Eco=1))  # second contrast, phase 0, slice 0 only
            if lin == 80:
                out.append(_copy(m, d + 1.0, Ave=1))  # second average -> mean = d + 0.5
            if lin == 120:
                noise = _copy(m, 100 * np.ones_like(d), Lin=0)
                noise.add_flag("NOISEADJSCAN")
                ref = _copy(m, 100 * np.ones_like(d), Lin=10)
                ref.add_flag("PATREFSCAN")
                out += [noise, ref]
        return out

    def shifted(mdbs: list[Any]) -> list[Any]:  # same data, Lin counted from the first line acquired
        out = edit(mdbs)
        for m in out:
            if not (m.is_flag_set("NOISEADJSCAN") or m.is_flag_set("PATREFSCAN")):
                m.mdh.Counter.Lin -= first
                m.mdh.CenterLin = NY // 2 - first
        return out

    expected = np.zeros((4, 2, NC, NY, NX_OS), np.complex64)  # t = 2 * Eco + Phs, z = Sli
    k = raw[:, first:]
    expected[0, 0, :, first:], expected[1, 0, :, first:] = k, 2 * k
    expected[0, 1, :, first:], expected[1, 1, :, first:] = 3 * k, -k
    expected[2, 0, :, first:] = 5 * k
    expected[0, 1, :, 100] = 0
    expected[0, 0, :, 80] += 0.5
    for name, fn in (("pf.dat", edit), ("pf_shifted.dat", shifted)):
        vol = read_twix_kspace(_derive(twix_file, tmp_path / name, fn), remove_os=False)
        assert tuple(vol.kspace.shape) == expected.shape, name
        np.testing.assert_allclose(vol.kspace.numpy(), expected, rtol=1e-6, atol=1e-6 * np.abs(raw).max())
        assert vol.undersampled and vol.matlab_shape == (NX_OS, NY, NC, 2, 4)
        mask = vol.mask.numpy()
        lines = mask[:, :, 0]
        assert not lines[:, :first].any() and not lines[3].any()  # PF lines; frame (Eco 1, Phs 1) empty
        assert lines[:3, first:].all()  # union over slices: line 100 counts as sampled in frame 0
        assert (mask == lines[:, :, None]).all()  # constant over kx


def test_read_twix_kspace_rejects_3d_and_non_cartesian(twix_file: Path, tmp_path: Path) -> None:
    data = twix_file.read_bytes()
    swaps = {
        "3d.dat": (b"sKSpace.ucDimension\t = \t2", b"sKSpace.ucDimension\t = \t4", "3-D"),
        "radial.dat": (b"sKSpace.ucTrajectory\t = \t1", b"sKSpace.ucTrajectory\t = \t2", "non-Cartesian"),
    }
    for name, (old, new, match) in swaps.items():
        assert data.count(old) == 2  # MeasYaps and Phoenix copies of the protocol
        (tmp_path / name).write_bytes(data.replace(old, new))
        with pytest.raises(ShapeError, match=match) as err:
            read_twix_kspace(tmp_path / name)
        assert str(tmp_path / name) in str(err.value)


def test_read_twix_kspace_bad_input(
    twix_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InputFileError) as err:
        read_twix_kspace(tmp_path / "none.dat")
    assert err.type is InputFileError  # same as the other readers: missing, not malformed
    data = twix_file.read_bytes()
    cases = {
        "text.dat": b"not a real twix file " * 8,
        "empty.dat": b"",
        "random.dat": np.random.default_rng(0).bytes(50_000),
        "truncated.dat": data[: len(data) - 5000],
        "protocol_cut.dat": data[:20_000],
        "header_cut.dat": data[: _header_end(twix_file) + 64],
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(FileFormatError) as err:
            read_twix_kspace(tmp_path / name)
        assert err.type is FileFormatError and str(tmp_path / name) in str(err.value), name
    with pytest.raises(FileFormatError, match="truncated"):
        read_twix_kspace(tmp_path / "truncated.dat")
    with pytest.raises(FileFormatError, match="truncated"):  # cut at the end of the protocol
        read_twix_kspace(tmp_path / "header_cut.dat")

    def noise_only(mdbs: list[Any]) -> list[Any]:
        for m in mdbs:
            m.add_flag("NOISEADJSCAN")
        return mdbs

    with pytest.raises(MissingKeyError, match="no image data"):  # a valid file without image scans
        read_twix_kspace(_derive(twix_file, tmp_path / "noise.dat", noise_only))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # twixtools' chatter is swallowed


def _header_end(path: Path) -> int:
    import twixtools

    scan = _quiet(twixtools.read_twix, str(path), parse_data=False, verbose=False)[-1]
    return int(scan["raidfile_hdr"]["off_"]) + len(scan["hdr_str"])


def test_pipeline_reads_twix_and_reconstruct_cli(twix_file: Path, tmp_path: Path) -> None:
    raw, _ = _raw_twix(twix_file, remove_os=True)
    volume, mask = load_task(ReconTask(twix_file, None, tmp_path / "o.mat", str(twix_file)))
    np.testing.assert_allclose(volume.kspace.numpy()[0, 0], raw, rtol=1e-6, atol=1e-6 * np.abs(raw).max())
    assert bool(mask.all())  # fully sampled: the reader's own mask

    line = np.zeros(NY, bool)
    line[::4] = True
    line[NY // 2 - 10 : NY // 2 + 10] = True
    mask_file = tmp_path / "twix_mask_Uniform4.mat"
    save_mat(mask_file, {"mask": np.repeat(line[:, None], NX_OS // 2, axis=1)[None].astype(np.uint8)})
    out = tmp_path / "recon.mat"
    argv = ["reconstruct", str(twix_file), "--mask", str(mask_file), "--out", str(out), "--method", "zf"]
    assert main(argv) == 0
    expected = _rss_np(raw * line[None, :, None])[None, None]  # (t, z, y, x)
    got = read_image_mat(out, "reconimage").numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * expected.max())
