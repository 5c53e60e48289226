"""Fixtures of the database tests: a tiny handmade MMCMR-style tree, its catalog and its shards.

The tree (``mini_root``) mimics ``MultiCoil/<Modality>/TrainingSet/{FullSample,Mask_TaskAll}/
CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>.mat`` with small v7.3 (and one v5) k-space files,
``_info.csv`` sidecars and masks. Everything is written once per session under a temporary folder;
the pseudonymisation salt lives in its own temporary folder (``CARDIOMM_SALT_FILE``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from cardiomm.io import save_mat

#: (center, vendor folder, patients) of the handmade tree.
CENTERS = (
    ("Center001", "Siemens_30T_Vida", ("P001", "P002", "P003")),
    ("Center002", "UIH_15T_umr588", ("P001", "P002")),
    ("Center014", "Siemens_055T_Freemax", ("P001",)),
)
#: (modality folder, file stems).
SCANS = (("Cine", ("cine_sax", "cine_lax")), ("Mapping", ("T1map",)))
#: k-space shape (t, z, c, ky, kx) of every v7.3 file.
SHAPE = (2, 2, 2, 12, 8)
INFO_CSV = "Parameter,Value\nFOVx(mm),320\nFOVy(mm),240\nSliceThickness(mm),6\nTR(ms),40\nTE(ms),1.5\n"


def random_kspace(rng: np.random.Generator, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Complex64 Gaussian k-space."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def build_mini_tree(root: Path, seed: int = 0) -> Path:
    """Write the handmade MMCMR tree under ``root / "MultiCoil"``; returns ``root``."""
    rng = np.random.default_rng(seed)
    for modality, stems in SCANS:
        for center, vendor, patients in CENTERS:
            for patient in patients:
                base = root / "MultiCoil" / modality / "TrainingSet"
                full = base / "FullSample" / center / vendor / patient
                masks = base / "Mask_TaskAll" / center / vendor / patient
                for stem in stems:
                    save_mat(full / f"{stem}.mat", {"kspace_full": random_kspace(rng)})
                    (full / f"{stem}_info.csv").write_text(INFO_CSV)
                    mask = np.zeros(SHAPE[:1] + SHAPE[3:], dtype=bool)
                    mask[:, ::4] = True
                    save_mat(masks / f"{stem}_mask_Uniform4.mat", {"mask": mask})
                    save_mat(masks / f"{stem}_mask_ktGaussian8.mat", {"mask": mask})
    # one MATLAB v5 file, 4-D [nx, ny, nc, nz] (no time axis)
    v5 = root / "MultiCoil/Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P001/cine_lvot.mat"
    scipy.io.savemat(str(v5), {"kspace_full": np.transpose(random_kspace(rng, (3, 2, 12, 8)))})
    # a temporary file of an interrupted write and a non-scan .mat (reconstruction)
    (v5.parent / ".cardiomm-tmp-1234abcd-cine_sax.mat").write_bytes(b"partial")
    save_mat(root / "MultiCoil/Cine/TrainingSet/GTSOS/Center001/gt.mat", {"gtsosimage": np.ones((2, 3))})
    # a .mat without k-space outside the sidecar folders: a source that is "not a scan"
    save_mat(root / "MultiCoil/Results/Center001/cine_sax.mat", {"reconimage": np.ones((2, 3), np.float32)})
    return root


#: Number of scans (catalog rows) of the mini tree.
N_MINI_SCANS = sum(len(p) for _, _, p in CENTERS) * sum(len(s) for _, s in SCANS) + 1


@pytest.fixture(scope="session")
def mini_spec() -> dict:
    """Facts about the mini tree: ``n_scans``, ``shape`` and a ``random_kspace`` function."""
    return {"n_scans": N_MINI_SCANS, "shape": SHAPE, "random_kspace": random_kspace}


@pytest.fixture(scope="session", autouse=True)
def salt_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session salt file outside every output folder, exported as ``CARDIOMM_SALT_FILE``."""
    path = tmp_path_factory.mktemp("secret") / "pseudonym.salt"
    old = os.environ.get("CARDIOMM_SALT_FILE")
    os.environ["CARDIOMM_SALT_FILE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("CARDIOMM_SALT_FILE", None)
    else:
        os.environ["CARDIOMM_SALT_FILE"] = old


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The handmade tree (read-only for tests: copy it before modifying)."""
    return build_mini_tree(tmp_path_factory.mktemp("mini"))


@pytest.fixture(scope="session")
def mini_catalog(mini_root: Path, tmp_path_factory: pytest.TempPathFactory, salt_file: Path) -> Path:
    """Catalog of the mini tree."""
    from cardiomm.database.catalog import index_tree

    cat = tmp_path_factory.mktemp("catalog") / "catalog.parquet"
    index_tree(mini_root, cat, workers=1)
    return cat


@pytest.fixture(scope="session")
def mini_shards(mini_root: Path, mini_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shards of the mini tree (prepared by one worker process)."""
    from cardiomm.database.shards import prepare_shards

    out = tmp_path_factory.mktemp("shards")
    prepare_shards(mini_root, out, mini_catalog, workers=1)
    return out


# ----------------------------------------------------------------------------------- planted PHI
#: Identifying strings planted in every input format; none may reach any output. ``Mustermann`` /
#: ``Erika`` are planted in allow-listed free-text fields (scanner vendor and model).
PHI_STRINGS = (
    "DOE^JANE", "19700101", "SN-998877", "St Elsewhere Hospital", "123 Fake Street", "free text comment XYZ",
    "ORIGID-4242", "Mustermann", "Erika",
)  # fmt: skip
#: A person name in the allow-listed ``systemVendor`` / ``systemModel`` header fields.
PHI_VENDOR, PHI_MODEL = "MUSTERMANN^ERIKA", "Erika Mustermann"


def ismrmrd_xml(
    nx: int = 8,
    ny: int = 8,
    n_phases: int = 2,
    *,
    phi: bool = True,
    vendor: str = "SIEMENS",
    model: str = "Avanto",
) -> str:
    """An ISMRMRD XML header (Siemens 1.5T Avanto, 2 coils) with PHI in every identifying field."""
    import ismrmrd.xsd as x

    lim = x.limitType
    enc = x.encodingType(
        trajectory=x.trajectoryType("cartesian"),
        encodedSpace=x.encodingSpaceType(matrixSize=x.matrixSizeType(x=nx, y=ny, z=1),
                                         fieldOfView_mm=x.fieldOfViewMm(x=300.0, y=300.0, z=8.0)),
        reconSpace=x.encodingSpaceType(matrixSize=x.matrixSizeType(x=nx, y=ny, z=1),
                                       fieldOfView_mm=x.fieldOfViewMm(x=300.0, y=300.0, z=8.0)),
        encodingLimits=x.encodingLimitsType(
            kspace_encoding_step_1=lim(minimum=0, maximum=ny - 1, center=ny // 2),
            slice=lim(minimum=0, maximum=0, center=0),
            phase=lim(minimum=0, maximum=n_phases - 1, center=0),
        ),
    )  # fmt: skip
    hdr = x.ismrmrdHeader(
        experimentalConditions=x.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        encoding=[enc],
        acquisitionSystemInformation=x.acquisitionSystemInformationType(
            systemVendor=vendor, systemModel=model, systemFieldStrength_T=1.494, receiverChannels=2,
            institutionName="St Elsewhere Hospital" if phi else None, stationName="ST1",
            deviceSerialNumber="SN-998877" if phi else None,
        ),
        sequenceParameters=x.sequenceParametersType(TR=[40.0], TE=[1.5], TI=[300.0]),
    )  # fmt: skip
    if phi:
        hdr.subjectInformation = x.subjectInformationType(patientName="DOE^JANE", patientID="ORIGID-4242",
                                                          patientBirthdate="1970-01-01")  # fmt: skip
        hdr.studyInformation = x.studyInformationType(
            studyDate="1970-01-01",
            referringPhysicianName="DOE^JANE",
            studyDescription="free text comment XYZ",
            studyID="ORIGID-4242",
        )
        hdr.measurementInformation = x.measurementInformationType(
            patientPosition=x.patientPositionType("HFS"), protocolName="cine_sax DOE^JANE",
            seriesDescription="free text comment XYZ")  # fmt: skip
        hdr.userParameters = x.userParametersType(userParameterString=[
            x.userParameterStringType(name="PatientBirthDay", value="19700101"),
            x.userParameterStringType(name="InstitutionAddress", value="123 Fake Street")])  # fmt: skip
    return x.ToXML(hdr)


def write_ismrmrd(
    path: Path, rng: np.random.Generator, *, nx: int = 8, ny: int = 8, n_phases: int = 2, **xml: str
) -> np.ndarray:
    """Write a fully sampled 2-coil Cartesian ISMRMRD file with PHI; returns k-space (t, 1, c, ky, kx).

    ``xml`` keywords (``vendor``, ``model``) go to :func:`ismrmrd_xml`.
    """
    import ismrmrd

    k = random_kspace(rng, (n_phases, 1, 2, ny, nx))
    path.parent.mkdir(parents=True, exist_ok=True)
    dset = ismrmrd.Dataset(str(path), "dataset", create_if_needed=True)
    dset.write_xml_header(ismrmrd_xml(nx, ny, n_phases, **xml))
    for t in range(n_phases):
        for ky in range(ny):
            acq = ismrmrd.Acquisition.from_array(k[t, 0, :, ky])
            acq.idx.kspace_encode_step_1 = ky
            acq.idx.phase = t
            acq.center_sample = nx // 2
            dset.append_acquisition(acq)
    dset.close()
    return k


def write_fastmri(path: Path, rng: np.random.Generator) -> np.ndarray:
    """fastMRI-style file ``kspace`` (slices, coils, kx, ky) with PHI in attrs and header."""
    import h5py

    k = random_kspace(rng, (2, 2, 8, 6))
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=k)
        f.create_dataset("ismrmrd_header", data=ismrmrd_xml(8, 6, 1).encode())
        f.attrs["patient_id"] = "ORIGID-4242"
        f.attrs["acquisition"] = "free text comment XYZ"
    return k


def write_dicom_series(folder: Path, *, n_slices: int = 2, n_phases: int = 3) -> None:
    """An MR DICOM series (8 x 6 images) with PHI in the basic-profile attributes."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    folder.mkdir(parents=True, exist_ok=True)
    series_uid = "1.2.826.0.1.3680043.8.498.19700101.4242"
    for i in range(n_slices * n_phases):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = f"{series_uid}.{i + 1}"
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, f"{series_uid}.{i + 1}"
        ds.Modality, ds.PatientName, ds.PatientID = "MR", "DOE^JANE", "ORIGID-4242"
        ds.PatientBirthDate = "19700101"
        ds.StudyDate, ds.ReferringPhysicianName = "19700101", "DOE^JANE"
        ds.InstitutionName, ds.InstitutionAddress = "St Elsewhere Hospital", "123 Fake Street"
        ds.DeviceSerialNumber, ds.ImageComments = "SN-998877", "free text comment XYZ"
        ds.SeriesDescription, ds.ProtocolName = "cine_sax DOE^JANE", "free text comment XYZ"
        ds.Manufacturer, ds.ManufacturerModelName, ds.MagneticFieldStrength = "SIEMENS", "Avanto", 1.494
        ds.PixelSpacing, ds.SliceThickness, ds.RepetitionTime, ds.EchoTime = [1.5, 1.25], 8, 40, 1.2
        ds.SliceLocation, ds.InstanceNumber = float(10 * (i // n_phases)), i + 1
        ds.SeriesInstanceUID, ds.StudyInstanceUID = series_uid, series_uid + ".9"
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 6, 16, 16, 15
        ds.PixelRepresentation, ds.SamplesPerPixel, ds.PhotometricInterpretation = 0, 1, "MONOCHROME2"
        ds.PixelData = np.full((8, 6), i, np.uint16).tobytes()
        pydicom.dcmwrite(folder / f"IM{i + 1:04d}", ds, enforce_file_format=True)


def fake_twix_header() -> dict:
    """A twix ``hdr`` dict as ``twixtools.read_twix`` returns it, with PHI in the scrubbed keys."""
    return {
        "Config": {"PatientID": "ORIGID-4242", "PatientBirthDay": "19700101", "tPatientName": "DOE^JANE"},
        "Dicom": {
            "Manufacturer": "SIEMENS", "ManufacturersModelName": "Aera", "flMagneticFieldStrength": 1.494,
            "InstitutionName": "St Elsewhere Hospital", "InstitutionAddress": "123 Fake Street",
            "DeviceSerialNumber": "SN-998877",
        },
        "Meas": {"tPatientName": "DOE^JANE", "tStudyDescription": "free text comment XYZ"},
        "MeasYaps": {
            "tProtocolName": "cine_sax free text comment XYZ", "lContrasts": 1, "lRepetitions": 0,
            "sKSpace": {"lBaseResolution": 192, "lPhaseEncodingLines": 156, "ucDimension": 2},
            "sSliceArray": {
                "lSize": 10, "asSlice": [{"dThickness": 8.0, "dPhaseFOV": 300.0, "dReadoutFOV": 360.0}],
            },
            "alTR": [39000], "alTE": [1400], "sPhysioImaging": {"lPhases": 25},
            "sPat": {"lAccelFactPE": 2, "lRefLinesPE": 24},
            "sCoilSelectMeas": {"aRxCoilSelectData": [{"asList": [{}, {}, {}, {}]}]},
        },
    }  # fmt: skip


@pytest.fixture(scope="session")
def phi_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mixed-format tree (CMRxRecon .mat + _info.csv, ISMRMRD, fastMRI, twix, DICOM) with planted PHI.

    Folder and file names are clean; ``ocmr/fs_0002_1_5T.h5`` holds a person name in its allow-listed
    vendor and model fields.

    ``twix/meas_cine.dat`` is not a real twix file: tests monkeypatch ``twixtools.read_twix`` to
    return :func:`fake_twix_header` (a real file is covered by the shared-data test).
    """
    root = tmp_path_factory.mktemp("phi") / "raw"
    rng = np.random.default_rng(7)
    scan = root / "MultiCoil/Cine/TrainingSet/FullSample/Center003/Siemens_15T_Avanto/P007"
    save_mat(scan / "cine_sax.mat", {"kspace_full": random_kspace(rng)})
    (scan / "cine_sax_info.csv").write_text(
        "Parameter,Value\nFOVx(mm),320\nFOVy(mm),240\nTR(ms),40\nPatientName,DOE^JANE\nBirthDate,19700101\n"
        "Institution,St Elsewhere Hospital\nAddress,123 Fake Street\nComment,free text comment XYZ\n"
        "OriginalID,ORIGID-4242\nSerial,SN-998877\n"
    )
    write_ismrmrd(root / "ocmr/fs_0001_1_5T.h5", rng)
    write_ismrmrd(root / "ocmr/fs_0002_1_5T.h5", rng, vendor=PHI_VENDOR, model=PHI_MODEL)
    write_fastmri(root / "fastmri/file1000001.h5", rng)
    (root / "twix").mkdir(parents=True)
    (root / "twix/meas_cine.dat").write_bytes(b"not a real twix file " * 8)
    write_dicom_series(root / "dicom/series01")
    return root


#: Folder / file names of ``phi_path_root`` that must never be stored (checked case-insensitively).
PHI_PATH_STRINGS = (
    "SMITH_JOHN", "19650412", "55443322", "Doe, Jane", "12.04.1965", "77665544", "MUSTERMANN_ERIKA",
    "1988-02-29",
)  # fmt: skip
_MMCMR = "MultiCoil/Cine/TrainingSet/{role}/Center001/Siemens_30T_Vida/{patient}"
#: Relative paths of ``phi_path_root``: sources that must be indexed (known layouts) and paths refused.
PHI_PATH_CLEAN = (
    _MMCMR.format(role="FullSample", patient="P001") + "/cine_sax.mat",
    "fastmri/file1000021.h5",
    "ocmr/fs_0005_1_5T.h5",
    "ocmr/us_0165_pt_1_5T.h5",
    "twix/meas_MID00123_FID04567_cine.dat",
    "dicom/SCD0000101",
)
PHI_PATH_REFUSED = (
    "ocmr/SMITH_JOHN_19650412/MRN-55443322/scan.h5",
    "fastmri/Doe, Jane 12.04.1965.h5",
    "dicom/PatID_77665544/series02",
    _MMCMR.format(role="FullSample", patient="MUSTERMANN_ERIKA") + "/cine_sax.mat",
    _MMCMR.format(role="Mask_TaskAll", patient="MUSTERMANN_ERIKA") + "/cine_sax_mask_Uniform4.mat",
    "MultiCoil/Cine/TrainingSet/FullSample/Center001/Siemens_30T_Vida/P002/cine_sax_1988-02-29.mat",
)


@pytest.fixture(scope="session")
def phi_path_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree whose folder and file names hold PHI (:data:`PHI_PATH_REFUSED`) next to clean sources
    with the names of the known layouts (:data:`PHI_PATH_CLEAN`: MMCMR, fastMRI, OCMR, twix, Sunnybrook).

    ``.dat`` files are placeholders: tests monkeypatch ``twixtools.read_twix`` (:func:`fake_twix_header`).
    """
    root = tmp_path_factory.mktemp("phipaths") / "raw"
    rng = np.random.default_rng(11)
    mask = np.zeros(SHAPE[:1] + SHAPE[3:], dtype=bool)
    mask[:, ::4] = True
    for rel in (*PHI_PATH_CLEAN, *PHI_PATH_REFUSED):
        path = root / rel
        if rel.startswith("dicom/"):
            write_dicom_series(path, n_slices=1, n_phases=2)
        elif "_mask_" in rel:
            save_mat(path, {"mask": mask})
        elif rel.endswith(".mat"):
            save_mat(path, {"kspace_full": random_kspace(rng)})
        elif rel.startswith("fastmri/"):
            write_fastmri(path, rng)
        elif rel.endswith(".h5"):
            write_ismrmrd(path, rng)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not a real twix file " * 8)
    save_mat(
        root / _MMCMR.format(role="Mask_TaskAll", patient="P001") / "cine_sax_mask_Uniform4.mat",
        {"mask": mask},
    )
    return root


@pytest.fixture(scope="session")
def phi_path_spec() -> dict[str, tuple[str, ...]]:
    """``clean`` / ``refused`` relative paths of ``phi_path_root`` and the ``strings`` that must not leak."""
    return {"clean": PHI_PATH_CLEAN, "refused": PHI_PATH_REFUSED, "strings": PHI_PATH_STRINGS}


@pytest.fixture()
def twix_header() -> dict:
    """A fresh fake twix header (see :func:`fake_twix_header`)."""
    return fake_twix_header()


@pytest.fixture(scope="session")
def phi_strings() -> tuple[str, ...]:
    """The planted PHI strings."""
    return PHI_STRINGS


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cardiomm simulate mini --size tiny`` tree (generated once per session, in-process)."""
    from cardiomm.simulate.tree import generate_mini

    root = tmp_path_factory.mktemp("sim") / "MMCMR"
    generate_mini(root, size="tiny", seed=0, progress=False)
    return root


# ---------------------------------------------------------------------------- crashing and hanging inputs
def _reader_of(fifo: Path) -> int | None:
    """PID of a process (of this user) that has ``fifo`` open, from /proc."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if str(fifo) in links:
            return int(proc.name)
    return None


def _segfault_reader(fifo: Path, limit_s: float, stop: threading.Event) -> None:
    """Kill every worker that opens ``fifo`` with ``SIGSEGV`` (a file that crashes its reader each time
    it is read, as a damaged file does), until ``stop`` is set (the test is over), the pipe is removed or
    ``limit_s`` has passed."""
    import errno
    import signal
    import time

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not stop.is_set():
        try:  # succeeds once a reader blocks in open(); the reader then waits in read()
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            if err.errno != errno.ENXIO:  # the pipe is gone: the test is over
                return
            time.sleep(0.05)
            continue
        try:
            while time.monotonic() < deadline and not stop.is_set():
                pid = _reader_of(fifo)
                if pid is not None and pid != os.getpid():
                    os.kill(pid, signal.SIGSEGV)
                    break
                time.sleep(0.05)
        finally:
            os.close(fd)


@pytest.fixture()
def bad_sources() -> Iterator[Callable[[Path, Path], None]]:
    """``make(crash, hang)``: two named pipes in place of source files. A worker that opens ``crash`` is
    killed with ``SIGSEGV`` (as a reader crashing inside a C library); nothing ever writes to ``hang``,
    so a worker that opens it blocks forever (as a reader spinning on a damaged file)."""

    threads: list[threading.Thread] = []
    stop = threading.Event()

    def make(crash: Path, hang: Path) -> None:
        for path in (crash, hang):
            path.unlink(missing_ok=True)
            os.mkfifo(path)
        thread = threading.Thread(target=_segfault_reader, args=(crash, 120.0, stop), daemon=True)
        thread.start()
        threads.append(thread)

    yield make
    stop.set()  # a process forked later (a DataLoader worker) must never meet this killer
    for thread in threads:
        thread.join(timeout=5)


def _descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(proc.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.fixture()
def descendants() -> Callable[[int], set[int]]:
    """``descendants(pid)``: the live (non-zombie) descendant processes of ``pid`` (Linux /proc)."""
    return _descendants
