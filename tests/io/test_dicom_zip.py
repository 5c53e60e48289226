"""DICOM series in a ZIP archive (UK Biobank's per-participant short-axis ZIP, PACS exports): read as the
folder they unpack to, with errors naming the archive and member, nothing written outside a temporary
folder, and the unpacked size under the size guard."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.volumes import load_volume
from cardiomm.errors import FileFormatError, InputFileError, SizeLimitError
from cardiomm.io import read_dicom_series
from cardiomm.io.checks import MAX_ELEMENTS_ENV

POSITIONS = [0.0, 8.0, 16.0]


def _images() -> np.ndarray:
    t, z = np.meshgrid(np.arange(3), np.arange(len(POSITIONS)), indexing="ij")
    return (100 * t + 10 * z + 1)[..., None, None].astype(np.uint16) + np.arange(20, dtype=np.uint16).reshape(
        4, 5
    )


def _biobank_like(write_dicom_series: Callable[..., None], folder: Path) -> Path:
    """Every slice its own series, the files flat in one ZIP beside a manifest (as UK Biobank ships
    field 20209)."""
    for z, pos in enumerate(POSITIONS):
        write_dicom_series(folder / f"b{z + 1}", _images()[:, z : z + 1], positions=[pos], uid=f"1.2.9.{z}")
    archive = folder.parent / "1000000_20209_2_0.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, f in enumerate(sorted(folder.rglob("*.dcm"))):
            zf.write(f, f"1.3.12.2.{k}.dcm")
        zf.writestr("manifest.cvs", "filename,date,series discription\n")
    return archive


def test_a_zip_reads_as_its_folder(write_dicom_series: Callable[..., None], tmp_path: Path) -> None:
    archive = _biobank_like(write_dicom_series, tmp_path / "unzipped")
    got = read_dicom_series(archive)
    np.testing.assert_array_equal(got.magnitude, _images().astype(np.float32))
    np.testing.assert_allclose(np.asarray(got.slice_positions), POSITIONS)
    assert got.source == archive
    vol = load_volume(archive, None)  # the analyse commands' loader takes it too
    np.testing.assert_array_equal(vol.data, got.magnitude)


def test_members_stay_inside_the_unpacking_folder(
    write_dicom_series: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Member names with ``..`` or a root are unpacked below the temporary folder, never beside it (the
    temporary folders are made two levels below ``tmp_path`` here, so an escape would land in it)."""
    import tempfile

    deep = tmp_path / "t1" / "t2"
    deep.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    write_dicom_series(tmp_path / "s", _images(), positions=POSITIONS)
    archive = tmp_path / "a" / "b" / "evil.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for k, f in enumerate(sorted((tmp_path / "s").glob("*.dcm"))):
            zf.write(f, ("../../" if k % 2 else "/") + f"escaped{k}.dcm")
    got = read_dicom_series(archive)
    np.testing.assert_array_equal(got.magnitude, _images().astype(np.float32))
    assert not list(tmp_path.rglob("escaped*"))
    assert not list(deep.iterdir())  # the unpacking folder is gone


def test_a_broken_zip_or_member_is_named(
    write_dicom_series: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _biobank_like(write_dicom_series, tmp_path / "unzipped")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(FileFormatError, match=r"truncated\.zip: cannot read ZIP archive"):
        read_dicom_series(truncated)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            out.writestr(name, data[:300] if name == "1.3.12.2.4.dcm" else data)
    with pytest.raises(FileFormatError, match=r"damaged\.zip/1\.3\.12\.2\.4\.dcm: .*truncated or corrupt"):
        read_dicom_series(damaged)
    empty = tmp_path / "notes.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no images here")
    with pytest.raises(InputFileError, match=r"notes\.zip: no DICOM image files in archive"):
        read_dicom_series(empty)
    monkeypatch.setenv(MAX_ELEMENTS_ENV, "1000")
    with pytest.raises(SizeLimitError, match=r"1000000_20209_2_0\.zip: ZIP archive unpacks to"):
        read_dicom_series(archive)
