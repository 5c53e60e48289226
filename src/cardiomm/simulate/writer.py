"""Write one simulated scan as CMRxRecon files: ``.mat`` k-space, ``_info.csv``, ``_gt.h5`` and test masks."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cardiomm.io.mat import save_mat
from cardiomm.io.scan_csv import ScanParameters, write_scan_csv
from cardiomm.layout import FULL_DIR, MASK_DIR, TEST_SET, mask_file_name, swap_folder
from cardiomm.sampling import make_test_mask, seed_from_string
from cardiomm.simulate.anatomy import Disease, HeartParams
from cardiomm.simulate.centers import Center
from cardiomm.simulate.phantom import View
from cardiomm.simulate.protocols import ScanSpec, SizePreset
from cardiomm.simulate.scan import SimulatedScan, simulate_scan
from cardiomm.simulate.tissues import tissue_parameter_arrays
from cardiomm.simulate.truth import phenotypes_from_labels, write_ground_truth
from cardiomm.types import Modality

__all__ = ["write_scan", "matlab_squeeze", "scan_parameters", "write_test_masks", "VIEW_TEXT", "TEST_MASKS"]

#: View token -> view string of the metadata prompt (reference 4.1).
VIEW_TEXT: dict[str, str] = {
    "sax": "short-axis",
    "2ch": "long-axis",
    "3ch": "long-axis",
    "4ch": "long-axis",
    "sag": "sagittal aorta",
    "tra": "transversal aorta",
}
#: The nine test masks of the protocol: (pattern, R).
TEST_MASKS: tuple[tuple[str, int], ...] = tuple(
    (p, r) for p in ("Uniform", "ktGaussian", "ktRadial") for r in (8, 16, 24)
)


def matlab_squeeze(kspace: np.ndarray) -> np.ndarray:
    """Drop the leading ``t`` (and then ``z``) axes of length 1, as MATLAB drops trailing singletons.

    ``(1, z, c, ky, kx)`` -> ``(z, c, ky, kx)`` (MATLAB ``[nx, ny, nc, nz]``); ``(1, 1, c, ky, kx)`` ->
    ``(c, ky, kx)``; ``(t, 1, c, ky, kx)`` with ``t > 1`` stays 5-D.
    """
    out = kspace
    while out.ndim > 3 and out.shape[0] == 1:
        out = out[0]
    return out


def scan_parameters(scan: SimulatedScan, center: Center, heart: HeartParams) -> ScanParameters:
    """``_info.csv`` parameters of a scan, including the center's emulated header quirks.

    ``TR`` is the frame interval for time-resolved scans (cine, aorta, tagging, flow, perfusion; this is
    how the phenotype pipeline derives the frame time) and the sequence TR otherwise. ``FOVx`` is the
    reconstructed (not oversampled) FOV.
    """
    proto = scan.protocol
    _, dy, dx = scan.spacing
    nx = int(round(center.fov[0] / dx))
    ny = int(round(center.fov[1] / dy))
    interp = 2 if "fov_over_n" in center.quirks else 1
    tr = proto.frame_dt if proto.time_resolved else proto.tr
    if "tr_div10" in center.quirks:
        tr = tr / 10.0
    extras: dict[str, float | str | tuple[float, ...]] = {
        "FlipAngle(deg)": proto.flip,
        "FieldStrength(T)": center.field_t,
        "SequenceTR(ms)": proto.tr * 1e3,
        "HeartRate(bpm)": round(heart.heart_rate, 3),
        "Sequence": proto.sequence,
    }
    if proto.venc:
        extras["VENC(cm/s)"] = proto.venc
    if proto.tag_spacing:
        extras["TagSpacing(mm)"] = proto.tag_spacing
    return ScanParameters(
        fov_x_mm=center.fov[0],
        fov_y_mm=center.fov[1],
        recon_matrix_x=nx * interp,
        recon_matrix_y=ny * interp,
        slice_thickness_mm=proto.slice_thickness,
        tr_s=tr,
        te_s=proto.te,
        ti_list_s=tuple(proto.ti),
        prep_times_s=tuple(proto.prep),
        extras=extras,
    )


def write_test_masks(root: Path, relpath: str, nt: int, ny: int, nx: int, seed: int) -> list[str]:
    """Write the nine protocol masks of a TestSet file; return their relative paths.

    Masks come from :func:`cardiomm.sampling.make_test_mask` with ACS 20 and the per-file ``seed``;
    stored as ``mask`` ``(t, ky, kx)`` (MATLAB ``[nx, ny, nt]``) or ``(ky, kx)`` when ``nt == 1``.
    """
    parts = swap_folder(PurePosixPath(relpath).parts, FULL_DIR, MASK_DIR)
    stem = PurePosixPath(relpath).stem
    out = []
    for pattern, accel in TEST_MASKS:
        mask = make_test_mask(pattern, accel, nx, ny, nt, acs=20, seed=seed, squeeze=True)
        rel = "/".join([*parts[:-1], mask_file_name(stem, pattern, accel)])
        save_mat(root / rel, {"mask": np.asarray(mask, dtype=bool)}, compress=True)
        out.append(rel)
    return out


def write_scan(
    root: Path,
    relpath: str,
    spec: ScanSpec,
    center: Center,
    heart: HeartParams,
    *,
    size: SizePreset | str,
    scan_seed: int,
    coil_seed: int,
    split: str,
    patient: str,
    disease: Disease | str,
    global_seed: int,
) -> dict[str, Any]:
    """Simulate and write one scan (k-space, CSV, sidecar, and test masks for TestSet files).

    Returns
    -------
    dict
        The manifest entry of the file.
    """
    scan = simulate_scan(spec, center, heart, size=size, seed=scan_seed, coil_seed=coil_seed)
    mat_path = root / relpath
    stem = mat_path.stem
    save_mat(mat_path, {"kspace_full": matlab_squeeze(scan.kspace)})
    write_scan_csv(mat_path.with_name(f"{stem}_info.csv"), scan_parameters(scan, center, heart))
    n_t, _, _, ny, nx = scan.kspace.shape
    mask_seed = int(seed_from_string(relpath))
    masks = write_test_masks(root, relpath, n_t, ny, nx, mask_seed) if split == TEST_SET else []
    proto = scan.protocol
    phen = None
    if spec.modality is Modality.CINE and spec.view is View.SAX:
        phen = phenotypes_from_labels(scan.labels, scan.spacing, proto.frame_dt)
    metadata = {
        "center": center.code,
        "center_label": center.label,
        "vendor": center.vendor,
        "field_t": center.field_t,
        "scanner": center.model,
        "scanner_folder": center.scanner_folder,
        "internal": center.internal,
        "split": split,
        "patient_id": patient,
        "modality": spec.modality.value,
        "stem": stem,
        "view_token": spec.view.value,
        "view": "through-plane" if spec.modality is Modality.FLOW2D else VIEW_TEXT[spec.view.value],
        "disease": str(disease),
        "population": center.population.value,
        "sequence": proto.sequence,
        "seeds": {
            "global": global_seed,
            "subject": coil_seed,
            "scan": scan_seed,
            "coils": coil_seed,
            "mask": mask_seed if masks else None,
        },
        "mask_files": [PurePosixPath(m).name for m in masks],
        "ti_s": list(proto.ti),
        "prep_times_s": list(proto.prep),
        "venc_cm_s": proto.venc,
        "tag_spacing_mm": proto.tag_spacing,
        "flip_deg": proto.flip,
        "tr_s": proto.tr,
        "te_s": proto.te,
        "frame_dt_s": proto.frame_dt,
        "heart_rate_bpm": heart.heart_rate,
        "rr_s": heart.rr,
        "cardiac_phases": proto.phases,
        "acquisition_times_s": proto.times,
        "slice_depths_mm": list(proto.slice_depths),
        "voxel_spacing_mm": {"z": scan.spacing[0], "y": scan.spacing[1], "x": scan.spacing[2]},
        "readout_oversampling": center.readout_oversampling,
        "quirks": list(center.quirks),
        "snr": center.snr,
        "noise_std": scan.noise_std,
        "kspace_shape_tzcyx": list(scan.kspace.shape),
        "heart": asdict(heart),
        "time_axis": _time_axis(spec.modality),
        "units": {"maps": "s (pd relative, velocity cm/s)", "times": "s", "lengths": "mm"},
    }
    table = tissue_parameter_arrays(center.field_t)
    write_ground_truth(
        mat_path.with_name(f"{stem}_gt.h5"),
        labels=scan.labels,
        tissue=scan.tissue,
        maps=scan.maps,
        metadata=metadata,
        phenotypes=phen,
        extras=scan.extras,
        tissue_table=table,
    )
    return {
        "path": relpath,
        "info_csv": str(PurePosixPath(relpath).with_name(f"{stem}_info.csv")),
        "gt": str(PurePosixPath(relpath).with_name(f"{stem}_gt.h5")),
        "masks": masks,
        "mask_seed": mask_seed,
        "center": center.code,
        "split": split,
        "patient": patient,
        "modality": spec.modality.value,
        "stem": stem,
        "view": spec.view.value,
        "disease": str(disease),
        "shape_tzcyx": list(scan.kspace.shape),
        "phenotypes": phen,
        "ti_s": list(proto.ti),
        "prep_times_s": list(proto.prep),
    }


def _time_axis(modality: Modality) -> str:
    return {
        Modality.FLOW2D: "2 x cardiac phases, encoding-major (t = enc * n_phases + phase; enc 1 = +VENC)",
        Modality.T1MAP: "MOLLI inversion times in acquisition order (ti_s)",
        Modality.T2MAP: "T2-prep durations (prep_times_s)",
        Modality.T1RHO: "spin-lock durations (prep_times_s)",
        Modality.PERFUSION: "dynamics, one per heartbeat",
        Modality.LGE: "single frame",
        Modality.T1W: "single frame",
        Modality.T2W: "single frame",
        Modality.BLACKBLOOD: "single frame",
    }.get(modality, "cardiac phases over one RR interval")
