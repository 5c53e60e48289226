"""Compressed DICOM cines as PACS exports write them (JPEG Lossless, JPEG-LS, RLE, JPEG 2000) read pixel for
pixel as the uncompressed series; pixel data no decoder can read is refused naming its transfer syntax."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.errors import FileFormatError
from cardiomm.io import read_dicom_series

POSITIONS = [0.0, 8.0, 16.0]


def _images() -> np.ndarray:
    """(t, z, y, x) uint16, 12-bit like MR magnitude, with every image distinct and some texture."""
    rng = np.random.default_rng(3)
    return rng.integers(0, 4096, size=(2, len(POSITIONS), 12, 10)).astype(np.uint16)


def _transcode(folder: Path, syntax: str) -> None:
    """Rewrite every file of ``folder`` with GDCM in the transfer syntax named ``syntax`` (GDCM's
    ``TransferSyntax`` constant), as a PACS export does."""
    import gdcm

    for f in sorted(folder.glob("*.dcm")):
        reader = gdcm.ImageReader()
        reader.SetFileName(str(f))
        assert reader.Read()
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(getattr(gdcm.TransferSyntax, syntax)))
        change.SetInput(reader.GetImage())
        assert change.Change()
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(f))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        assert writer.Write()


@pytest.mark.parametrize(
    ("syntax", "uid"),
    [
        ("JPEGLosslessProcess14_1", "1.2.840.10008.1.2.4.70"),  # the usual lossless PACS export
        ("JPEGLSLossless", "1.2.840.10008.1.2.4.80"),
        ("RLELossless", "1.2.840.10008.1.2.5"),
        ("JPEG2000Lossless", "1.2.840.10008.1.2.4.90"),
    ],
)
def test_compressed_series_read_as_the_uncompressed_one(
    write_dicom_series: Callable[..., None], tmp_path: Path, syntax: str, uid: str
) -> None:
    import pydicom

    imgs = _images()
    write_dicom_series(tmp_path / "s", imgs, positions=POSITIONS)
    _transcode(tmp_path / "s", syntax)
    first = sorted((tmp_path / "s").glob("*.dcm"))[0]
    assert pydicom.dcmread(first).file_meta.TransferSyntaxUID == uid  # really compressed
    got = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(got.magnitude, imgs.astype(np.float32))


def test_undecodable_pixel_data_is_refused_naming_the_syntax(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    """A JPEG Lossless file whose payload is not JPEG (a broken export): a typed error naming the file
    and the transfer syntax, not a decoder's traceback."""
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLosslessSV1

    write_dicom_series(tmp_path / "s", _images(), positions=POSITIONS)
    broken = sorted((tmp_path / "s").glob("*.dcm"))[1]
    ds = pydicom.dcmread(broken)
    ds.PixelData = encapsulate([b"\xff\xd8" + bytes(200)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.save_as(broken, enforce_file_format=True)
    with pytest.raises(FileFormatError, match=rf"{broken.name}: cannot decode pixel data \(JPEG Lossless"):
        read_dicom_series(tmp_path / "s")
