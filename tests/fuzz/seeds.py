"""Small valid seed files of every reader format, written with the project's writers and the format
libraries (h5py, scipy, ismrmrd, pydicom, nibabel, twixtools).

:func:`make_seeds` writes them all into a folder and returns ``{seed name: path}``; the ISMRMRD writer
:func:`write_ismrmrd` also takes a ``tamper`` dict so that structured mutations rebuild the file with one
header field changed.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np

# k-space seed size (t, z, c, ky, kx): tiny, but every axis > 1 where the format allows it
T, Z, C, KY, KX = 2, 1, 2, 8, 6
#: The real twix file the twix seed is derived from (relative to the shared data folder).
TWIX_REAL = "kspace/fallback_noncardiac/twixtools_gre_brain_2ch.dat"


def _kspace(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _mask() -> np.ndarray:
    m = np.zeros((T, KY, KX), np.uint8)
    m[:, ::2] = 1
    m[:, KY // 2 - 1 : KY // 2 + 1] = 1
    return m


def _write_mats(root: Path, rng: np.random.Generator, seeds: dict[str, Path]) -> None:
    import scipy.io

    from cardiomm.io import save_mat, write_recon_mat

    k = _kspace(rng, (T, Z, C, KY, KX))
    seeds["mat73"] = save_mat(root / "k73.mat", {"kspace": k})
    seeds["mat5"] = root / "k5.mat"
    scipy.io.savemat(seeds["mat5"], {"kspace": k.T}, do_compression=False)
    seeds["mat5z"] = root / "k5z.mat"
    scipy.io.savemat(seeds["mat5z"], {"kspace": k.T, "extra": np.arange(3.0)}, do_compression=True)
    seeds["mat4"] = root / "k4.mat"
    scipy.io.savemat(seeds["mat4"], {"kspace": k[0, 0, 0].T}, format="4")
    seeds["mask73"] = save_mat(root / "m73.mat", {"mask": _mask()})
    seeds["mask5"] = root / "m5.mat"
    scipy.io.savemat(seeds["mask5"], {"mask": _mask().T})
    img = np.abs(k[:, :, 0]).astype(np.float32)
    seeds["image73"] = write_recon_mat(root / "i73.mat", img)
    seeds["image5"] = write_recon_mat(root / "i5.mat", img, version="5")


def ismrmrd_xml(*, nx: int = 16, ny: int = KY, limits: bool = True, matrix_x: int | None = None) -> str:
    """ISMRMRD XML header of the ISMRMRD seed (2-D Cartesian, ``T`` phases, one slice)."""
    import ismrmrd.xsd as x

    lim = x.limitType
    enc_limits = {}
    if limits:
        enc_limits = {
            "kspace_encoding_step_1": lim(minimum=0, maximum=ny - 1, center=ny // 2),
            "kspace_encoding_step_2": lim(minimum=0, maximum=0, center=0),
            "slice": lim(minimum=0, maximum=Z - 1, center=0),
            "phase": lim(minimum=0, maximum=T - 1, center=0),
            "repetition": lim(minimum=0, maximum=0, center=0),
            "contrast": lim(minimum=0, maximum=0, center=0),
            "set": lim(minimum=0, maximum=0, center=0),
        }
    enc = x.encodingType(
        trajectory=x.trajectoryType("cartesian"),
        encodedSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=matrix_x or nx, y=ny, z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=300.0, y=225.0, z=8.0),
        ),
        reconSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=nx // 2, y=ny, z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=150.0, y=225.0, z=8.0),
        ),
        encodingLimits=x.encodingLimitsType(**enc_limits),
    )
    hdr = x.ismrmrdHeader(
        experimentalConditions=x.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        encoding=[enc],
        sequenceParameters=x.sequenceParametersType(TR=[3.0], TE=[1.5]),
    )
    return str(x.ToXML(hdr))


def write_ismrmrd(path: Path, tamper: dict[str, Any] | None = None, seed: int = 0) -> Path:
    """The ISMRMRD seed: one noise scan, then ``T`` phases x ``KY`` lines of ``C`` coils x 16 samples.

    ``tamper`` changes one thing: ``{"acq": i, "field": name, "value": v}`` sets a header field (an
    ``idx`` counter such as ``"phase"`` or a head field such as ``"number_of_samples"``) of acquisition
    ``i``; ``{"nan": i}`` puts a NaN into its data; ``{"limits": False}`` drops the encoding limits;
    ``{"matrix_x": n}`` changes the encoded matrix of the XML header.
    """
    import ismrmrd

    tamper = tamper or {}
    rng = np.random.default_rng(seed)
    nx = 16
    xml = ismrmrd_xml(nx=nx, limits=tamper.get("limits", True), matrix_x=tamper.get("matrix_x"))
    acqs = []
    noise = ismrmrd.Acquisition.from_array(_kspace(rng, (C, nx)))
    noise.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
    acqs.append(noise)
    for phase in range(T):
        for ky in range(KY):
            acq = ismrmrd.Acquisition.from_array(_kspace(rng, (C, nx)))
            acq.idx.kspace_encode_step_1 = ky
            acq.idx.phase = phase
            acq.center_sample = nx // 2
            acq.read_dir[:] = (1.0, 0.0, 0.0)
            acq.phase_dir[:] = (0.0, 1.0, 0.0)
            acq.slice_dir[:] = (0.0, 0.0, 1.0)
            acqs.append(acq)
    if "acq" in tamper:
        acq = acqs[int(tamper["acq"])]
        field, value = tamper["field"], tamper["value"]
        if field in ("number_of_samples", "active_channels"):
            data = acq.data  # keep the samples, change the declared size through the raw header
            head = acq.getHead()
            setattr(head, field, int(value))
            acq = ismrmrd.Acquisition(head)
            flat = acq.data.reshape(-1)
            src = data.reshape(-1)[: flat.size]
            flat[: src.size] = src
            acqs[int(tamper["acq"])] = acq
        elif hasattr(acq.idx, field):
            setattr(acq.idx, field, int(value))
        else:
            setattr(acq, field, value)
    if "nan" in tamper:
        acqs[int(tamper["nan"])].data[0, 1] = np.nan
    path.unlink(missing_ok=True)  # the ismrmrd library appends to an existing file
    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dset.write_xml_header(xml)
    for acq in acqs:
        dset.append_acquisition(acq)
    dset.close()
    return path


def _write_h5s(root: Path, rng: np.random.Generator, seeds: dict[str, Path]) -> None:
    import h5py

    from cardiomm.io import write_training_h5

    seeds["training"] = write_training_h5(root / "train.h5", _kspace(rng, (T, Z, C, KY, KX)), prompt="p")
    seeds["fastmri"] = root / "fastmri.h5"
    with h5py.File(seeds["fastmri"], "w") as f:
        f.create_dataset("kspace", data=_kspace(rng, (2, C, KX, KY)))
        f.create_dataset("reconstruction_rss", data=rng.random((2, KX, KY)).astype(np.float32))
        f.create_dataset("mask", data=(np.arange(KY) % 2 == 0).astype(np.float32))
        f.create_dataset("ismrmrd_header", data=ismrmrd_xml())
        f.attrs["acquisition"] = "CORPD_FBK"
        f.attrs["max"] = 1.0
    seeds["ismrmrd"] = write_ismrmrd(root / "raw.h5")


def _write_dicoms(folder: Path, rng: np.random.Generator) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    n_t, n_z = 2, 2
    for k in range(n_t * n_z):
        z, t = divmod(k, n_t)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(k)])
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, meta.MediaStorageSOPInstanceUID, "MR"
        ds.SeriesInstanceUID = "1.2.3.4"
        ds.InstanceNumber = k + 1
        ds.TriggerTime = t * 40.0
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, 8.0 * z]
        ds.PixelSpacing, ds.SliceThickness = [1.5, 1.25], 6.0
        ds.RepetitionTime, ds.EchoTime, ds.MagneticFieldStrength = 3.2, 1.4, 1.5
        ds.RescaleSlope, ds.RescaleIntercept = 1.0, 0.0
        ds.Rows, ds.Columns = KY, KX
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = rng.integers(0, 4000, (KY, KX), dtype=np.uint16).tobytes()
        ds.save_as(folder / f"img{k:03d}.dcm", enforce_file_format=True)
    return folder


def _write_twix(root: Path, shared: Path | None) -> Path | None:
    """A small twix file derived from the real one (16 lines around the centre), or None without it."""
    if shared is None or not (shared / TWIX_REAL).is_file():
        return None
    import twixtools

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        scans = twixtools.read_twix(str(shared / TWIX_REAL), verbose=False)
        mdbs = [m for m in scans[-1]["mdb"] if not m.is_flag_set("SYNCDATA")]
        scans[-1]["mdb"] = [m for m in mdbs if 72 <= m.mdh.Counter.Lin < 88]
        (root / "raw.dat").unlink(missing_ok=True)  # write_twix refuses to replace a file
        twixtools.write_twix(scans, str(root / "raw.dat"))
    return root / "raw.dat"


def make_seeds(root: Path, shared: Path | None = None) -> dict[str, Path]:
    """Write every seed into ``root``; return ``{seed name: path}`` (the DICOM seed is a folder).

    ``shared`` is the real-data folder; without it (or without its twix file) there is no twix seed.
    """
    from cardiomm.io import ScanParameters, write_nifti, write_scan_csv

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240516)
    seeds: dict[str, Path] = {}
    _write_mats(root, rng, seeds)
    _write_h5s(root, rng, seeds)
    seeds["dicom"] = _write_dicoms(root / "dicom", rng)
    vol = rng.random((T, 2, KY, KX)).astype(np.float32)
    seeds["nifti"] = write_nifti(root / "img.nii", vol, voxel_size_mm=(1.5, 1.25, 6.0), frame_time_s=0.04)
    seeds["niftigz"] = write_nifti(root / "img.nii.gz", vol, voxel_size_mm=(1.5, 1.25, 6.0))
    params = ScanParameters(
        fov_x_mm=300.0, fov_y_mm=225.0, recon_matrix_x=KX, recon_matrix_y=KY, slice_thickness_mm=8.0,
        tr_s=3e-3, te_s=1.5e-3, ti_list_s=(0.1, 0.2, 0.3), extras={"Vendor": "Siemens"},
    )  # fmt: skip
    seeds["csv"] = write_scan_csv(root / "scan_info.csv", params)
    twix = _write_twix(root, shared)
    if twix is not None:
        seeds["twix"] = twix
    return seeds
