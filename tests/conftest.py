"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from cardiomm.utils.shared_data import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder ``../shared/data``; skips the test with a clear message when absent."""
    root = shared_data_dir()
    if root is None:
        pytest.skip("real data folder ../shared/data not found (set CARDIOMM_SHARED_DATA); skipping")
    return root


@pytest.fixture
def torch_single_thread():  # noqa: ANN201 - generator fixture
    """Run a test with one torch thread, restoring the previous setting.

    Tiny models issue thousands of small ops; with several OpenMP threads on a shared 2-core machine each
    op waits for descheduled threads (10x slower under load). One thread is as fast when the machine is
    idle and far more robust when it is busy.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _write_dicom_series(
    folder: Path,
    images: np.ndarray,
    *,
    positions: list[float],
    uid: str = "1.2.3.4",
    trigger_dt: float = 40.0,
    shuffle: bool = True,
    sizes: dict[int, tuple[int, int]] | None = None,
    thickness: float = 6.0,
    inversion_times_ms: Sequence[float] | np.ndarray | None = None,
    ti_in_comments: bool = False,
    echo_times_ms: list[float] | None = None,
    nominal_interval_ms: float | None = None,
) -> None:
    """Write a synthetic MR DICOM series: ``images`` (t, z, y, x) uint16, slice z at ``positions[z]`` (mm).

    ``inversion_times_ms`` ``(t,)`` or ``(t, z)`` / ``echo_times_ms`` give image (t, z) its
    ``InversionTime`` / ``EchoTime`` (with
    ``ti_in_comments`` the TI goes into ``ImageComments`` as ``"TI <ms>"``, as Siemens MOLLI writes it).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    n_t, n_z = images.shape[:2]
    order = np.random.default_rng(0).permutation(n_t * n_z) if shuffle else np.arange(n_t * n_z)
    for k, idx in enumerate(order):
        z, t = divmod(int(idx), n_t)
        arr = images[t, z]
        if sizes and idx in sizes:
            arr = np.zeros(sizes[idx], np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, meta.MediaStorageSOPInstanceUID, "MR"
        ds.SeriesInstanceUID = uid
        ds.InstanceNumber = int(idx) + 1  # acquisition order: slice-major
        ds.TriggerTime = t * trigger_dt
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, positions[z]]
        ds.PixelSpacing, ds.SliceThickness = [1.5, 1.25], thickness
        ds.RepetitionTime, ds.EchoTime, ds.MagneticFieldStrength = 3.2, 1.4, 1.5
        if echo_times_ms is not None:
            ds.EchoTime = echo_times_ms[t]
        if nominal_interval_ms is not None:
            ds.NominalInterval = nominal_interval_ms
        if inversion_times_ms is not None:
            tis = np.asarray(inversion_times_ms, dtype=float)
            ti = float(tis[t] if tis.ndim == 1 else tis[t, z])
            if ti_in_comments:
                ds.ImageComments = f"T1 MOLLI TI {ti:g} ms"
            else:
                ds.InversionTime = ti
        ds.Rows, ds.Columns = arr.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.ascontiguousarray(arr, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"img{k:03d}.dcm", enforce_file_format=True)


@pytest.fixture(scope="session")
def write_dicom_series() -> Callable[..., None]:
    """The synthetic DICOM series writer (see :func:`_write_dicom_series`)."""
    return _write_dicom_series
