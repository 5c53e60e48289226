"""Tests of cardiomm.io.ismrmrd_h5 on a small ISMRMRD file written with the ismrmrd API."""

from __future__ import annotations

from pathlib import Path

import h5py
import ismrmrd
import ismrmrd.xsd
import numpy as np
import pytest

from cardiomm.errors import FileFormatError, InputFileError, MissingKeyError, ShapeError
from cardiomm.io.ismrmrd_h5 import read_ismrmrd

NX, NY, NC, NZ, NPHASE, NREP = 16, 12, 2, 2, 3, 2


def _header(nx: int, ny: int, ny_center: int, ny_max: int, *, z: int = 1) -> str:
    x = ismrmrd.xsd
    limit = x.limitType
    enc = x.encodingType(
        trajectory=x.trajectoryType("cartesian"),
        encodedSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=nx, y=ny, z=z),
            fieldOfView_mm=x.fieldOfViewMm(x=300.0, y=225.0, z=8.0),
        ),
        reconSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=nx // 2, y=ny, z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=150.0, y=225.0, z=8.0),
        ),
        encodingLimits=x.encodingLimitsType(
            kspace_encoding_step_1=limit(minimum=0, maximum=ny_max, center=ny_center),
            kspace_encoding_step_2=limit(minimum=0, maximum=z - 1, center=0),
            slice=limit(minimum=0, maximum=NZ - 1, center=0),
            phase=limit(minimum=0, maximum=NPHASE - 1, center=0),
            repetition=limit(minimum=0, maximum=NREP - 1, center=0),
        ),
    )
    hdr = x.ismrmrdHeader(
        experimentalConditions=x.experimentalConditionsType(H1resonanceFrequency_Hz=63500000), encoding=[enc]
    )
    return x.ToXML(hdr)


def _acq(
    data: np.ndarray,
    *,
    ky: int,
    z: int,
    phase: int,
    rep: int,
    flags: tuple[int, ...] = (),
    center: int | None = None,
) -> ismrmrd.Acquisition:
    acq = ismrmrd.Acquisition.from_array(data.astype(np.complex64))
    acq.idx.kspace_encode_step_1 = ky
    acq.idx.slice = z
    acq.idx.phase = phase
    acq.idx.repetition = rep
    acq.center_sample = data.shape[1] // 2 if center is None else center
    for flag in flags:
        acq.set_flag(flag)
    return acq


def _write(path: Path, xml: str, acqs: list) -> None:
    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dset.write_xml_header(xml)
    for a in acqs:
        dset.append_acquisition(a)
    dset.close()


def test_read_ismrmrd_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    shape = (NREP * NPHASE, NZ, NC, NY, NX)
    k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    noise = rng.standard_normal((NC, NX)) + 0j
    acqs = [_acq(noise, ky=0, z=0, phase=0, rep=0, flags=(ismrmrd.ACQ_IS_NOISE_MEASUREMENT,))]
    skipped_line = (1, 0, 3)  # (t, z, ky) never acquired -> undersampled
    for rep in range(NREP):
        for phase in range(NPHASE):
            t = rep * NPHASE + phase
            for z in range(NZ):
                for ky in range(NY):
                    if (t, z, ky) == skipped_line:
                        continue
                    line = k[t, z, :, ky]
                    flags = (ismrmrd.ACQ_IS_REVERSE,) if ky == 5 else ()
                    data = line[:, ::-1] if ky == 5 else line
                    acqs.append(_acq(data, ky=ky, z=z, phase=phase, rep=rep, flags=flags))
    # a repeated acquisition of one line (e.g. a second average) is averaged
    acqs.append(_acq(k[0, 0, :, 2] + 2.0, ky=2, z=0, phase=0, rep=0))
    _write(tmp_path / "raw.h5", _header(NX, NY, NY // 2, NY - 1), acqs)

    vol = read_ismrmrd(tmp_path / "raw.h5")
    assert vol.kspace.shape == (NREP * NPHASE, NZ, NC, NY, NX)
    assert vol.matlab_shape == (NX, NY, NC, NZ, NREP * NPHASE)
    expected = k.copy()
    expected[1, 0, :, 3] = 0
    expected[0, 0, :, 2] += 1.0
    np.testing.assert_allclose(vol.kspace.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert vol.undersampled and vol.mask is not None and vol.mask.shape == (NREP * NPHASE, NY, NX)
    assert bool(vol.mask[1, 3].any())  # slice 1 has the line in frame 1: union over slices
    assert bool(vol.mask.all())


def test_read_ismrmrd_partial_fourier_and_asymmetric_echo(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ny_acq, ns, center = 9, 12, 4  # lines 0..8 with centre 4 -> placed at 6-4=2 .. 10; echo 12 of 16 samples
    acqs = []
    lines = {}
    for ky in range(ny_acq):
        data = (rng.standard_normal((NC, ns)) + 1j * rng.standard_normal((NC, ns))).astype(np.complex64)
        lines[ky] = data
        acqs.append(_acq(data, ky=ky, z=0, phase=0, rep=0, center=center))
    xml = _header(NX, NY, center, ny_acq - 1)
    _write(tmp_path / "pf.h5", xml, acqs)
    vol = read_ismrmrd(tmp_path / "pf.h5")
    k = vol.kspace.numpy()[0, 0]
    for ky, data in lines.items():
        row = ky - center + NY // 2
        start = NX // 2 - center
        np.testing.assert_array_equal(k[:, row, start : start + ns], data)
        assert not k[:, row, :start].any()
    assert not k[:, : NY // 2 - center].any()  # unacquired partial-Fourier lines stay zero
    assert vol.undersampled


def test_read_ismrmrd_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_ismrmrd(tmp_path / "none.h5")
    (tmp_path / "t.h5").write_text("text")
    with pytest.raises(FileFormatError):
        read_ismrmrd(tmp_path / "t.h5")
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["kspace"] = np.zeros((1, 2, 2), np.complex64)
    with pytest.raises(MissingKeyError, match="found: kspace"):
        read_ismrmrd(tmp_path / "plain.h5")
    line = np.ones((NC, NX), np.complex64)
    _write(tmp_path / "3d.h5", _header(NX, NY, NY // 2, NY - 1, z=4), [_acq(line, ky=0, z=0, phase=0, rep=0)])
    with pytest.raises(ShapeError, match="3-D"):
        read_ismrmrd(tmp_path / "3d.h5")


def _rotation(deg_z: float, deg_x: float) -> np.ndarray:
    """Columns: read, phase and slice directions of an oblique plane (orthonormal, right-handed)."""
    cz, sz = np.cos(np.radians(deg_z)), np.sin(np.radians(deg_z))
    cx, sx = np.cos(np.radians(deg_x)), np.sin(np.radians(deg_x))
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    return rz @ rx


def _header_with_patient(nx: int, ny: int) -> str:
    x = ismrmrd.xsd
    hdr = x.CreateFromDocument(_header(nx, ny, ny // 2, ny - 1))
    hdr.measurementInformation = x.measurementInformationType(patientPosition=x.patientPositionType.HFS)
    hdr.sequenceParameters = x.sequenceParametersType(TR=[3.2], TE=[1.4])
    return x.ToXML(hdr)


def test_read_ismrmrd_geometry_oblique_slices(tmp_path: Path) -> None:
    from cardiomm.io.ismrmrd_h5 import read_ismrmrd_geometry

    rot = _rotation(30.0, 20.0)
    centres = [np.array([10.0, -20.0, 30.0]) + 9.0 * z * rot[:, 2] for z in range(NZ)]
    acqs = []
    for z in range(NZ):
        for ky in range(NY):
            acq = _acq(np.ones((NC, NX)), ky=ky, z=z, phase=0, rep=0)
            acq.position, acq.read_dir = tuple(centres[z]), tuple(rot[:, 0])
            acq.phase_dir, acq.slice_dir = tuple(rot[:, 1]), tuple(rot[:, 2])
            acqs.append(acq)
    _write(tmp_path / "geo.h5", _header_with_patient(NX, NY), acqs)

    geo = read_ismrmrd_geometry(tmp_path / "geo.h5")
    assert geo is not None
    assert geo.encoded_fov_mm == (300.0, 225.0, 8.0) and geo.recon_fov_mm == (150.0, 225.0, 8.0)
    assert geo.encoded_matrix == (NX, NY) and geo.recon_matrix == (NX // 2, NY)
    assert geo.positions_mm is not None and len(geo.positions_mm) == NZ
    np.testing.assert_allclose(geo.positions_mm, centres, atol=1e-4)  # float32 in the acquisition header
    for got, col in ((geo.read_dir, 0), (geo.phase_dir, 1), (geo.slice_dir, 2)):
        np.testing.assert_allclose(got, rot[:, col], atol=1e-6)
    assert geo.tr_s == pytest.approx(3.2e-3) and geo.te_s == pytest.approx(1.4e-3)
    assert geo.patient_position == "HFS"


def test_read_ismrmrd_geometry_without_slice_geometry(tmp_path: Path) -> None:
    from cardiomm.io.ismrmrd_h5 import read_ismrmrd_geometry

    # acquisitions without direction vectors (all zero): field of view only
    acqs = [_acq(np.ones((NC, NX)), ky=ky, z=0, phase=0, rep=0) for ky in range(NY)]
    _write(tmp_path / "nogeo.h5", _header(NX, NY, NY // 2, NY - 1), acqs)
    geo = read_ismrmrd_geometry(tmp_path / "nogeo.h5")
    assert geo is not None and geo.positions_mm is None and geo.read_dir is None
    assert geo.encoded_fov_mm[0] == 300.0 and geo.patient_position == "" and geo.tr_s is None
    # a fastMRI file: the XML in 'ismrmrd_header', no acquisitions
    with h5py.File(tmp_path / "fastmri.h5", "w") as f:
        f["kspace"] = np.zeros((1, 2, NY, NX), np.complex64)
        f["ismrmrd_header"] = _header(NX, NY, NY // 2, NY - 1)
    geo = read_ismrmrd_geometry(tmp_path / "fastmri.h5")
    assert geo is not None and geo.recon_fov_mm[0] == 150.0 and geo.positions_mm is None
    # no header at all, and bad files
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f["kspace"] = np.zeros((1, 2, 2), np.complex64)
    assert read_ismrmrd_geometry(tmp_path / "plain.h5") is None
    with pytest.raises(InputFileError):
        read_ismrmrd_geometry(tmp_path / "none.h5")
    (tmp_path / "t.h5").write_text("text")
    with pytest.raises(FileFormatError):
        read_ismrmrd_geometry(tmp_path / "t.h5")
    with h5py.File(tmp_path / "badxml.h5", "w") as f:
        f["ismrmrd_header"] = "<not xml"
    with pytest.raises(FileFormatError, match="XML"):
        read_ismrmrd_geometry(tmp_path / "badxml.h5")
