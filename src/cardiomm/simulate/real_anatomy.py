"""Real-anatomy k-space corpus: real magnitude image volumes -> multi-coil k-space of synthetic centers.

This is how MMCMR-427K builds its UKSK center (real magnitude images turned into multi-coil k-space),
made realistic enough that a model trained on it transfers to scanner data. Each subject (a DICOM
series folder or a NIfTI volume) is assigned to one synthetic center, which fixes the acquisition:

1. **Matrix.** The image is resampled (anti-aliased) to the center's readout matrix with square pixels,
   keeping the physical field of view; centers acquire 144-176 readout samples, as clinical cine does.
2. **Readout oversampling 2x.** The image is zero-padded along the readout (``x``) to twice its width,
   as CMRxRecon / MMCMR store the raw readout: the object fills the central FOV.
3. **Phase.** A smooth background phase (transmit / receive phase, eddy currents; a degree-2 polynomial)
   plus the bSSFP off-resonance phase of a field map that scales with B0
   (:mod:`cardiomm.simulate.offresonance`).
4. **Coils.** The center's receive array (:mod:`cardiomm.simulate.coil_arrays`, 8-32 elements, anterior /
   posterior panels or a ring), tilted as a double-oblique short axis is, moving along the stack with the
   slice position; maps normalised to ``sum_c |S_c|^2 = 1``.
5. **Noise.** The image noise reaches a target standard deviation ``mean(object) / SNR`` with
   ``SNR = snr_15t (B0 / 1.5 T)^0.65`` (SNR grows less than linearly with the field at clinical
   strengths: body noise, SAR-limited flip angles and longer bSSFP TR at 3 T; ``snr_15t = 27`` puts 3 T
   at the object-mean SNR 42 measured on the real CMRxRecon 3 T cine slice). The source images' own
   noise counts towards it: correlated channel noise (mutual inductance) adds only the rest, at least
   30 % of the target (:mod:`cardiomm.simulate.source_noise`).
6. **Virtual coils.** Arrays of more elements than the center stores are SVD-compressed
   (:func:`cardiomm.physics.coil_compress`, per slice, calibrated on the central 24 lines of every
   frame), as CMRxRecon stores 10 virtual coils.

Output: the MMCMR layout ``OUT/Cine/<Set>/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/cine_sax.mat``
with ``_info.csv``, the nine test masks under ``Mask_TaskAll`` for ``TestSet`` files, and
``OUT/manifest.json``. Subject names never enter the tree: patients are ``P001``... per center and the
manifest records only a hash of the subject name. Everything is seeded by ``(seed, subject name)``:
the same inputs give byte-identical k-space.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from cardiomm.errors import ConfigError, DataValueError, InputFileError, ShapeError
from cardiomm.io.image_series import read_image_series
from cardiomm.io.mat import save_mat
from cardiomm.io.scan_csv import ScanParameters, write_scan_csv
from cardiomm.layout import FULL_DIR, TEST_SET, TRAIN_SET, VAL_SET
from cardiomm.physics import coil_compress
from cardiomm.sampling import seed_from_string
from cardiomm.simulate.anatomy_centers import ANATOMY_CENTERS, AnatomyCenter
from cardiomm.simulate.coil_arrays import add_correlated_noise, array_csm, noise_covariance
from cardiomm.simulate.coils import smooth_phase
from cardiomm.simulate.offresonance import bssfp_phase, off_resonance_map
from cardiomm.simulate.scan import coil_kspace
from cardiomm.simulate.source_noise import added_noise_std, source_noise_std
from cardiomm.simulate.tissue_phase import check_amplitude, tissue_phase
from cardiomm.simulate.tree import MANIFEST_NAME
from cardiomm.simulate.writer import matlab_squeeze, write_test_masks
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "AnatomyCenter",
    "ANATOMY_CENTERS",
    "ROLE_SETS",
    "SyntheticScan",
    "synthesise_scan",
    "find_subjects",
    "assign_centers",
    "build_corpus",
    "load_split",
    "select_subjects",
]

PathLike = str | os.PathLike[str]

#: Split role -> MMCMR set folder.
ROLE_SETS: dict[str, str] = {"train": TRAIN_SET, "val": VAL_SET, "test": TEST_SET}
MANIFEST_FORMAT = "cardiomm-real-anatomy/1"


@dataclass
class SyntheticScan:
    """One synthesised scan.

    Attributes
    ----------
    kspace
        ``(t, z, c, ky, kx)`` complex64 (readout ``kx`` 2x oversampled).
    spacing
        ``(dz, dy, dx)`` [mm] of the reconstructed grid (``dz`` = slice thickness).
    matrix
        Reconstruction matrix ``(nx, ny)`` (``nx`` without oversampling).
    noise_std
        Per-channel standard deviation of the added complex noise (before coil compression).
    source_noise_std
        Per-pixel noise std already in the (resampled) source magnitude images
        (:func:`cardiomm.simulate.source_noise.source_noise_std`).
    """

    kspace: NDArray[np.complex64]
    spacing: tuple[float, float, float]
    matrix: tuple[int, int]
    noise_std: float
    source_noise_std: float = 0.0


def _subject_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8], "little") >> 1


def _body_semi_axes(mag: NDArray[np.float32], spacing: tuple[float, float]) -> tuple[float, float]:
    """Thorax semi-axes ``(x, y)`` [mm]: the object's extent, floored at a small adult's chest."""
    proj = mag.max(axis=(0, 1))
    thr = 0.1 * float(np.percentile(proj, 99)) if proj.size else 0.0
    ys, xs = np.nonzero(proj > thr)
    ext_y = (ys.max() - ys.min() + 1) * spacing[0] if ys.size else 0.0
    ext_x = (xs.max() - xs.min() + 1) * spacing[1] if xs.size else 0.0
    return max(0.5 * ext_x + 20.0, 140.0), max(0.5 * ext_y + 10.0, 100.0)


def _resample(mag: NDArray[np.float32], shape: tuple[int, int]) -> NDArray[np.float32]:
    from skimage.transform import resize  # noqa: PLC0415 - lazy: importing this module loads no skimage

    if mag.shape[-2:] == shape:
        return mag
    t, z = mag.shape[:2]
    out = resize(
        mag.reshape(t * z, *mag.shape[-2:]).transpose(1, 2, 0),
        shape,
        order=3,
        mode="edge",
        anti_aliasing=True,
        preserve_range=True,
    )
    return np.clip(out.transpose(2, 0, 1).reshape(t, z, *shape), 0, None).astype(np.float32)


def synthesise_scan(
    magnitude: NDArray[np.floating],
    spacing: tuple[float, float, float],
    center: AnatomyCenter,
    *,
    seed: int,
    slice_spacing: float | None = None,
    snr_factor: float = 1.0,
    tissue_phase_rad: float = 0.0,
) -> SyntheticScan:
    """Synthesise one center's multi-coil k-space of a magnitude volume (steps 1-6 of the module notes).

    Parameters
    ----------
    magnitude
        ``(t, z, y, x)`` non-negative images, ``x`` becomes the readout.
    spacing
        Source voxel size ``(dz, dy, dx)`` [mm].
    center
        The acquisition center.
    seed
        Seed of every random choice (phase, field map, array tilt and jitter, noise).
    slice_spacing
        Centre-to-centre slice distance [mm] (default ``dz``).
    snr_factor
        Factor on the center's SNR for this scan (patient habitus, coil placement, breath-hold and
        protocol differences; :func:`build_corpus` draws it with ``snr_spread``).
    tissue_phase_rad
        Largest tissue phase offset [rad] (:mod:`cardiomm.simulate.tissue_phase`; its own seeded stream,
        so every other draw is unchanged); ``0``: off, the image phase is smooth apart from bSSFP bands.

    Raises
    ------
    ShapeError, DataValueError
        Not 4-D, empty, non-finite or negative images.
    ConfigError
        ``tissue_phase_rad`` outside ``[0, pi]``.
    """
    mag = np.asarray(magnitude, dtype=np.float32)
    if mag.ndim != 4 or min(mag.shape) < 1 or min(mag.shape[-2:]) < 16:
        raise ShapeError(f"magnitude must be (t, z, y, x) with y, x >= 16, got shape {mag.shape}")
    if not np.isfinite(mag).all():
        raise DataValueError("magnitude images contain NaN/Inf")
    if (mag < 0).any() or not (mag > 0).any():
        raise DataValueError("magnitude images must be non-negative and not all zero")
    check_amplitude(tissue_phase_rad)
    rng = np.random.default_rng(seed)
    n_t, n_z, ny0, nx0 = mag.shape
    nx = center.matrix_x
    dx = spacing[2] * nx0 / nx
    ny = max(16, int(round(ny0 * spacing[1] / dx)))
    img = _resample(mag, (ny, nx))
    dy = dx
    full = np.zeros((n_t, n_z, ny, 2 * nx), np.float32)  # readout oversampled 2x, object in the central FOV
    full[..., nx // 2 : nx // 2 + nx] = img
    semi = _body_semi_axes(full, (dy, dx))
    tilt = (rng.uniform(-35, 35), rng.uniform(-35, 35), rng.uniform(-20, 20))
    array_seed = int(rng.integers(2**31))
    dz = slice_spacing if slice_spacing is not None else spacing[0]
    csm = np.empty((n_z, center.array.n_elements, ny, 2 * nx), np.complex64)
    phase = np.empty((n_z, ny, 2 * nx), np.float32)
    for z in range(n_z):
        csm[z], centres = array_csm(
            center.array,
            (ny, 2 * nx),
            (dy, dx),
            body_semi_axes=semi,
            seed=array_seed,
            tilt_deg=tilt,
            slice_offset=dz * (z - (n_z - 1) / 2),
        )
        df = off_resonance_map((ny, 2 * nx), (dy, dx), center.field_t, rng)
        phase[z] = smooth_phase((ny, 2 * nx), rng) + bssfp_phase(df, center.tr_ms * 1e-3)

    if tissue_phase_rad > 0:  # (t, z, y, x); else (z, y, x), the same for every frame
        phase = phase + tissue_phase(full, tissue_phase_rad, np.random.default_rng([seed, 11]))
    kspace = coil_kspace(full * np.exp(1j * phase).astype(np.complex64), csm)
    obj = full[full > 0.1 * np.percentile(full[full > 0], 99)]
    if not (np.isfinite(snr_factor) and snr_factor > 0):
        raise DataValueError(f"snr_factor must be positive, got {snr_factor}")
    target = float(obj.mean() / (center.snr * snr_factor))
    source = source_noise_std(img)
    sigma = added_noise_std(target, source)
    cov = noise_covariance(centres, center.array.noise_correlation, rng)
    add_correlated_noise(kspace, sigma, cov, rng)
    if center.virtual_coils is not None and center.virtual_coils < kspace.shape[2]:
        kspace = _compress(kspace, center.virtual_coils)
    return SyntheticScan(
        kspace=kspace,
        spacing=(float(spacing[0]), dy, dx),
        matrix=(nx, ny),
        noise_std=sigma,
        source_noise_std=source,
    )


def _compress(kspace: NDArray[np.complex64], n_virtual: int, calib_lines: int = 24) -> NDArray[np.complex64]:
    k = torch.from_numpy(kspace)
    ky = k.shape[-2]
    lines = min(calib_lines, ky)
    start = (ky - lines + 1) // 2
    calib = k[..., start : start + lines, :].permute(1, 2, 0, 3, 4)  # (z, c, t, lines, kx)
    calib = calib.reshape(calib.shape[0], calib.shape[1], -1, calib.shape[-1])[None]  # (1, z, c, t*lines, kx)
    out, _ = coil_compress(k, n_virtual, calib)
    return out.contiguous().numpy()


# ----------------------------------------------------------------------------------------------- corpus
def find_subjects(sources: Iterable[PathLike]) -> dict[str, Path]:
    """Subjects under ``sources``: name -> DICOM series folder or NIfTI file.

    A source is a NIfTI file, a folder of DICOM files (one subject) or a folder whose entries are such
    subjects. Names are the NIfTI stem (without ``.nii`` / ``.nii.gz``) or the DICOM folder name.

    Raises
    ------
    InputFileError
        A missing source, a source without any subject, or two subjects with the same name.
    """
    found: dict[str, Path] = {}

    def add(name: str, path: Path) -> None:
        if name in found and found[name] != path:
            raise InputFileError(f"two subjects are named {name!r} ({found[name]} and {path})", path=path)
        found[name] = path

    def is_nifti(p: Path) -> bool:
        return p.is_file() and p.name.endswith((".nii", ".nii.gz"))

    def has_dicom(p: Path) -> bool:
        return any(c.is_file() and (c.suffix.lower() == ".dcm" or c.suffix == "") for c in p.iterdir())

    for src in sources:
        p = Path(src)
        if not p.exists():
            raise InputFileError("source not found", path=p)
        before = len(found)
        if is_nifti(p):
            add(p.name.removesuffix(".gz").removesuffix(".nii"), p)
        elif p.is_dir() and any(c.is_file() and c.suffix.lower() == ".dcm" for c in p.iterdir()):
            add(p.name, p)
        elif p.is_dir():
            for child in sorted(p.iterdir()):
                if is_nifti(child):
                    add(child.name.removesuffix(".gz").removesuffix(".nii"), child)
                elif child.is_dir() and has_dicom(child):
                    add(child.name, child)
        if len(found) == before:
            raise InputFileError("no NIfTI volume or DICOM series found", path=p)
    return found


def load_split(path: PathLike) -> dict[str, str]:
    """Read a split file (JSON ``{"train": [...], "val": [...], "test": [...]}``) -> subject -> role.

    Raises
    ------
    InputFileError, ConfigError
        Unreadable file, unknown role, or a subject listed twice.
    """
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InputFileError(f"cannot read split file ({type(err).__name__})", path=p) from None
    return _subject_roles(raw.get("subjects", raw) if isinstance(raw, dict) else raw, p)


def _subject_roles(raw: object, path: Path | None = None) -> dict[str, str]:
    """``{role: [subjects]}`` or ``{subject: role}`` -> subject -> role (validated)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("a split is a mapping {role: [subjects]} or {subject: role}", path=path)
    roles: dict[str, str] = {}
    for key, value in raw.items():
        pairs = (
            [(str(n), str(key)) for n in value]
            if isinstance(value, (list, tuple))
            else [(str(key), str(value))]
        )
        for name, role in pairs:
            if role not in ROLE_SETS:
                if isinstance(value, (list, tuple)):
                    break  # other lists of a split file (e.g. counts) are not roles
                raise ConfigError(
                    f"unknown role {role!r} of subject {name!r}; choose from {', '.join(ROLE_SETS)}",
                    path=path,
                )
            if name in roles:
                raise ConfigError(f"subject {name!r} is in both {roles[name]!r} and {role!r}", path=path)
            roles[name] = role
    if not roles:
        raise ConfigError(f"the split lists no subjects under {', '.join(ROLE_SETS)}", path=path)
    return roles


def assign_centers(
    subjects: Mapping[str, str], centers: Sequence[AnatomyCenter], seed: int
) -> dict[str, AnatomyCenter]:
    """Subject -> center: test subjects over every center, others over internal centers only.

    Within each role the subjects are ranked by ``sha256(seed/name)`` and dealt round-robin, so
    centers get balanced, reproducible shares whatever the input order.
    """
    out: dict[str, AnatomyCenter] = {}
    for role in sorted(set(subjects.values())):
        pool = [c for c in centers if c.internal or role == "test"]
        if not pool:
            raise ConfigError(f"no center can take {role!r} subjects (all are external)")
        names = sorted(
            (n for n, r in subjects.items() if r == role), key=lambda n: (_subject_seed(seed, n), n)
        )
        for i, name in enumerate(names):
            out[name] = pool[i % len(pool)]
    return out


def select_subjects(
    found: Mapping[str, Path],
    *,
    split: PathLike | Mapping[str, Any] | None = None,
    roles: Sequence[str] | None = None,
    default_role: str = "train",
) -> dict[str, str]:
    """Subject -> role of the subjects :func:`build_corpus` writes (see its parameters).

    Raises
    ------
    ConfigError, InputFileError
        A bad split or role, or no subject left.
    """
    if default_role not in ROLE_SETS:
        raise ConfigError(f"unknown role {default_role!r}; choose from {', '.join(ROLE_SETS)}")
    for role in roles or ():
        if role not in ROLE_SETS:
            raise ConfigError(f"unknown role {role!r}; choose from {', '.join(ROLE_SETS)}")
    if split is None:
        wanted = {name: default_role for name in found}
    else:
        mapping = load_split(split) if isinstance(split, (str, os.PathLike)) else _subject_roles(split)
        wanted = {name: mapping[name] for name in found if name in mapping}
    if roles is not None:
        wanted = {n: r for n, r in wanted.items() if r in roles}
    if not wanted:
        raise ConfigError("no subject to write (check the split file and --roles)")
    return wanted


def _select_slices(mag: NDArray[np.float32], max_slices: int | None) -> NDArray[np.float32]:
    """At most ``max_slices`` slices, evenly spread between (not at) the ends of the stack."""
    if max_slices is None or mag.shape[1] <= max_slices:
        return mag
    keep = sorted({int(round(v)) for v in np.linspace(0, mag.shape[1] - 1, max_slices + 2)[1:-1]})
    return mag[:, keep]


def _select_frames(mag: NDArray[np.float32], max_frames: int | None) -> NDArray[np.float32]:
    """At most ``max_frames`` frames, evenly spread over the cycle from the first
    (``linspace``, no endpoint)."""
    if max_frames is None or mag.shape[0] <= max_frames:
        return mag
    keep = sorted({int(v) for v in np.linspace(0, mag.shape[0], max_frames, endpoint=False)})
    return mag[keep]


def build_corpus(
    sources: Iterable[PathLike],
    out: PathLike,
    *,
    split: PathLike | Mapping[str, str] | None = None,
    roles: Sequence[str] | None = None,
    default_role: str = "train",
    centers: Sequence[AnatomyCenter] = ANATOMY_CENTERS,
    seed: int = 0,
    max_frames: int | None = None,
    max_slices: int | None = None,
    on_subject: Callable[[str], None] | None = None,
    snr_spread: float = 1.0,
    tissue_phase_rad: float = 0.0,
) -> dict[str, Any]:
    """Write a real-anatomy k-space tree (see the module notes) and return its manifest.

    Parameters
    ----------
    sources
        NIfTI files, DICOM series folders, or folders of them (:func:`find_subjects`).
    out
        Tree root (created). Existing files of the same names are replaced atomically.
    split
        Split file, or a mapping ``{role: [subjects]}`` or ``{subject: role}`` (roles ``train`` / ``val`` /
        ``test``); subjects it does not list are skipped. ``None``: every subject takes ``default_role``.
    roles
        Write only subjects of these roles (e.g. ``["train", "val"]`` for a training corpus).
    centers
        Synthetic centers (default :data:`ANATOMY_CENTERS`).
    seed
        Corpus seed (center assignment and every random draw).
    max_frames
        Keep at most this many frames per subject, evenly spread over the cycle (``None``: all).
    max_slices
        Keep at most this many slices per subject, evenly spread inside the stack (``None``: all; a
        quick benchmark subset).
    on_subject
        Called with each subject name after it is written.
    snr_spread
        Per-scan SNR variation: each scan's SNR is the center's times a factor drawn log-uniformly from
        ``[1 / snr_spread, snr_spread]`` (its own seeded stream: the other draws do not change). Real
        cine SNR varies by several-fold within one scanner (body size, coil placement, protocol), and a
        model trained at one noise level per center adds a noise floor to cleaner data. ``1``: off (the
        shipped corpora), and the manifest then has no ``snr_factor`` field.
    tissue_phase_rad
        Largest tissue phase offset [rad] of every scan (:func:`synthesise_scan`); ``0``: off (the test
        and validation trees of the benchmarks), and the manifest then has no ``tissue_phase_rad`` field.

    Raises
    ------
    InputFileError, ConfigError, FileFormatError, ShapeError, DataValueError
        Bad sources or options; raised before anything is written for option errors.
    """
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
    if max_slices is not None and max_slices < 1:
        raise ConfigError(f"max_slices must be >= 1, got {max_slices}")
    if not (np.isfinite(snr_spread) and snr_spread >= 1.0):
        raise ConfigError(f"snr_spread must be >= 1, got {snr_spread}")
    check_amplitude(tissue_phase_rad)
    codes = [c.code for c in centers]
    if len(set(codes)) != len(codes) or not codes:
        raise ConfigError("centers must be a non-empty list of distinct codes")
    found = find_subjects(sources)
    wanted = select_subjects(found, split=split, roles=roles, default_role=default_role)
    assigned = assign_centers(wanted, centers, seed)
    root = Path(out)
    counters: dict[tuple[str, str], int] = {}
    entries: list[dict[str, Any]] = []
    ordered = sorted(
        wanted, key=lambda n: (assigned[n].code, ROLE_SETS[wanted[n]], _subject_seed(seed, n), n)
    )
    for name in ordered:
        center, data_set = assigned[name], ROLE_SETS[wanted[name]]
        counters[(center.code, data_set)] = counters.get((center.code, data_set), 0) + 1
        patient = f"P{counters[(center.code, data_set)]:03d}"
        series = read_image_series(found[name])
        mag = _select_slices(_select_frames(series.magnitude, max_frames), max_slices)
        factor = 1.0
        if snr_spread > 1.0:
            u = np.random.default_rng([_subject_seed(seed, name), 7]).uniform(-1.0, 1.0)
            factor = float(snr_spread**u)
        scan = synthesise_scan(
            mag,
            series.spacing,
            center,
            seed=_subject_seed(seed, name),
            slice_spacing=series.slice_spacing,
            snr_factor=factor,
            tissue_phase_rad=tissue_phase_rad,
        )
        rel = "/".join(
            ["Cine", data_set, FULL_DIR, center.code, center.scanner_folder, patient, "cine_sax.mat"]
        )
        nx, ny = scan.matrix
        extras: dict[str, float | str | tuple[float, ...]] = {
            "FieldStrength(T)": center.field_t,
            "SequenceTR(ms)": center.tr_ms,
            "Sequence": "bSSFP",
            "Source": "real magnitude images, k-space synthesised (cardiomm simulate real-anatomy)",
        }
        if series.slice_spacing is not None:
            extras["SliceSpacing(mm)"] = series.slice_spacing
        params = ScanParameters(
            fov_x_mm=scan.spacing[2] * nx,
            fov_y_mm=scan.spacing[1] * ny,
            recon_matrix_x=nx,
            recon_matrix_y=ny,
            slice_thickness_mm=scan.spacing[0],
            tr_s=series.frame_dt,
            te_s=center.tr_ms * 5e-4,
            extras=extras,
        )
        mat = root / rel
        mat.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(mat) as tmp_mat, atomic_path(mat.with_name("cine_sax_info.csv")) as tmp_csv:
            save_mat(tmp_mat, {"kspace_full": matlab_squeeze(scan.kspace)})
            write_scan_csv(tmp_csv, params)
        n_t, _, _, ky, kx = scan.kspace.shape
        mask_seed = int(seed_from_string(rel))
        masks = write_test_masks(root, rel, n_t, ky, kx, mask_seed) if data_set == TEST_SET else []
        entries.append(
            {
                "path": rel,
                "center": center.code,
                "split": data_set,
                "patient": patient,
                "subject_sha256": hashlib.sha256(name.encode()).hexdigest()[:16],
                "shape_tzcyx": list(scan.kspace.shape),
                "spacing_zyx_mm": list(scan.spacing),
                "noise_std": scan.noise_std,
                "source_noise_std": scan.source_noise_std,
                "masks": masks,
                "mask_seed": mask_seed if masks else None,
            }
            | ({"snr_factor": factor} if snr_spread > 1.0 else {})
        )
        if on_subject is not None:
            on_subject(name)
    manifest = {
        "format": MANIFEST_FORMAT,
        "seed": seed,
        "max_frames": max_frames,
        "max_slices": max_slices,
        **({"tissue_phase_rad": tissue_phase_rad} if tissue_phase_rad > 0 else {}),
        "centers": [
            dict(asdict(c), scanner_folder=c.scanner_folder, snr=c.snr, n_coils=c.n_coils)
            for c in centers
            if any(e["center"] == c.code for e in entries)
        ],
        "files": sorted(entries, key=lambda e: e["path"]),
    }
    with atomic_path(root / MANIFEST_NAME) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest
