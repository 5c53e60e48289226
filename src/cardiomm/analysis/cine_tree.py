"""Cine phenotypes over an MMCMR tree: reconstructions vs fully sampled vs ground truth (Fig. 1d analysis).

For every short-axis cine reconstruction ``PRED/[<Method>/]Cine/TestSet/TaskAll/.../cine_sax_mask_<P><R>.mat``
(the layout :func:`cardiomm.evaluation.tree.find_predictions` reads), the fully sampled reference (coil
RSS of ``REF/.../FullSample/.../cine_sax.mat``) and the reconstruction are segmented with the same
segmenter and the 11 phenotypes computed with :func:`cardiomm.analysis.phenotypes.compute_phenotypes`.
When a ``cine_sax_gt.h5`` sidecar exists (``cardiomm simulate``), the phenotypes of its labels are the
ground truth of the fully sampled segmentation.

Geometry follows the published pipeline (reference section 13): in-plane spacing ``FOV / ReconMatrix``
from ``_info.csv``, except UIH scanners and ``Center007`` where it is ``FOV / n`` (image size); the frame
time is ``TR`` with the UIH header fix ``TR x 10``; the slice spacing is ``SliceThickness``. The paper
excluded ``Center007``, ``Center010``, ``Center012`` (pediatric) and the 0.55 T / 5.0 T scanners from the
phenotype analysis; :data:`PAPER_EXCLUSIONS` reproduces that and is the default of
:func:`cine_phenotype_tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from cardiomm.analysis.phenotypes import CardiacPhenotypes, compute_phenotypes
from cardiomm.analysis.plausibility import SEGMENTATION_FLAGS
from cardiomm.analysis.qc_figure import phenotype_qc_figure
from cardiomm.database.paths import parse_path
from cardiomm.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd

    from cardiomm.analysis.segmentation.base import Segmenter
    from cardiomm.evaluation.tree import PredFile

__all__ = [
    "PAPER_EXCLUSIONS",
    "CineGeometry",
    "cine_geometry",
    "is_excluded",
    "cine_phenotype_tables",
    "truth_summary",
]

#: Centers and field tokens the published phenotype scripts skip (pediatric, 0.55 T and 5.0 T).
PAPER_EXCLUSIONS: tuple[str, ...] = ("Center007", "Center010", "Center012", "055T", "50T")
#: Vendors whose ``_info.csv`` needs the published fixes (``FOV / n`` spacing and ``TR x 10``).
_FOV_OVER_N_VENDORS = ("UIH",)
_FOV_OVER_N_CENTERS = ("Center007",)
_TR_X10_VENDORS = ("UIH",)


@dataclass(frozen=True)
class CineGeometry:
    """Voxel spacing ``(dz, dy, dx)`` [mm] and frame time [s] of a cine stack (None when unknown)."""

    spacing_mm: tuple[float, float, float]
    frame_dt_s: float | None


def cine_geometry(kspace_path: Path, image_shape: Sequence[int]) -> CineGeometry:
    """Geometry of the image ``(t, z, y, x)`` of ``kspace_path`` from its ``_info.csv`` (published fixes).

    Raises :class:`~cardiomm.errors.InputFileError` when the CSV is missing.
    """
    from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    csv = find_scan_csv(kspace_path)
    if csv is None:
        raise InputFileError("no _info.csv next to the file: voxel spacing unknown", path=kspace_path)
    p = read_scan_csv(csv)
    info = parse_path(kspace_path)
    ny, nx = int(image_shape[-2]), int(image_shape[-1])
    dy, dx = p.pixel_spacing_y_mm, p.pixel_spacing_x_mm
    if (
        (info.vendor in _FOV_OVER_N_VENDORS or info.center in _FOV_OVER_N_CENTERS)
        and p.fov_x_mm
        and p.fov_y_mm
    ):
        dy, dx = p.fov_y_mm / ny, p.fov_x_mm / nx
    dt = p.tr_s
    if dt is not None and info.vendor in _TR_X10_VENDORS:
        dt *= 10.0
    return CineGeometry((p.slice_spacing_mm, dy, dx), dt)


def is_excluded(path: Path, exclusions: Sequence[str] = PAPER_EXCLUSIONS) -> bool:
    """True when a path component equals an excluded center or contains an excluded field token."""
    parts = Path(path).parts
    for token in exclusions:
        if token.startswith("Center"):
            if token in parts:
                return True
        elif any(f"_{token}_" in f"_{part}_" for part in parts):
            return True
    return False


def _rows(
    case: str, method: str, pattern: str, accel: int, rec: CardiacPhenotypes, ref: CardiacPhenotypes
) -> list[dict[str, object]]:
    rv, fv = rec.values(), ref.values()
    qc = ";".join(sorted(set(rec.qc_flags) | set(ref.qc_flags)))
    return [
        {
            "case": case,
            "method": method,
            "pattern": pattern,
            "accel": accel,
            "phenotype": k,
            "value_recon": rv[k],
            "value_ref": fv[k],
            "qc": qc,
        }
        for k in rv
    ]


def cine_phenotype_tables(
    pred_root: Path,
    ref_root: Path,
    segmenter: Segmenter,
    *,
    method: str | None = None,
    stem: str = "cine_sax",
    exclusions: Sequence[str] = PAPER_EXCLUSIONS,
    on_file: Callable[[PredFile], None] | None = None,
    qc_dir: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phenotypes of every ``<stem>`` reconstruction and its fully sampled reference.

    Parameters
    ----------
    pred_root, ref_root
        Reconstruction tree (``cardiomm reconstruct`` output) and the MMCMR tree with ``FullSample``.
    segmenter
        Applied identically to references and reconstructions.
    method
        Method name when ``pred_root`` holds one method's tree directly.
    stem
        File stem to analyse (short-axis cine).
    exclusions
        Centers / field tokens to skip (default: the paper's); ``()`` keeps everything.
    on_file
        Called after each reconstruction (progress bars).
    qc_dir
        When given, a QC figure (:func:`~cardiomm.analysis.qc_figure.phenotype_qc_figure`) of every
        segmentation with a segmentation QC flag (missing / small label, irregular LV curve, implausible
        phenotype or label geometry, see :mod:`cardiomm.analysis.plausibility`) is written there:
        ``<case>_FullSample_qc.png`` for references,
        ``<case>_<method>_<pattern><R>_qc.png`` for reconstructions (``/`` in the case path -> ``__``).

    Returns
    -------
    pairs, truth
        ``pairs``: long table ``case, method, pattern, accel, phenotype, value_recon, value_ref, qc`` (the
        input of :func:`cardiomm.analysis.agreement.agreement_table`). ``truth``: one row per reference
        case and phenotype, ``case, phenotype, value_ref, value_truth, rel_error_pct`` (empty when no
        ``_gt.h5`` sidecar exists).
    """
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.evaluation.tree import find_predictions, reference_volume  # noqa: PLC0415 - lazy: importing this module loads no skimage, torch
    from cardiomm.io import read_image_mat  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    preds = [
        p
        for p in find_predictions(Path(pred_root), method)
        if p.ref_rel.stem == stem and not is_excluded(p.ref_rel, exclusions)
    ]
    if not preds:
        raise InputFileError(
            f"no {stem} reconstructions left after exclusions {list(exclusions)}", path=Path(pred_root)
        )
    ref_cache: dict[Path, tuple[CardiacPhenotypes, CineGeometry]] = {}
    rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    for pf in preds:
        info = parse_path(pf.path)
        if pf.ref_rel not in ref_cache:
            ref_path = Path(ref_root) / pf.ref_rel
            ref_img = reference_volume(Path(ref_root), pf.ref_rel)
            geom = cine_geometry(ref_path, ref_img.shape)
            ref_lab = segmenter.segment(ref_img, geom.spacing_mm)
            ref_ph = compute_phenotypes(ref_lab, geom.spacing_mm, geom.frame_dt_s, lifespan=info.lifespan)
            ref_cache[pf.ref_rel] = (ref_ph, geom)
            _flagged_figure(qc_dir, f"{_slug(pf.ref_rel.parent)}_FullSample", ref_lab, ref_ph, geom, ref_img)
            truth_rows.extend(_truth_rows(ref_path, pf.ref_rel.parent.as_posix(), ref_ph))
        ref_ph, geom = ref_cache[pf.ref_rel]
        img = np.abs(read_image_mat(pf.path, "reconimage").numpy())
        rec_lab = segmenter.segment(img, geom.spacing_mm)
        rec_ph = compute_phenotypes(rec_lab, geom.spacing_mm, geom.frame_dt_s, lifespan=info.lifespan)
        tag = f"{pf.method}_{info.sampling_pattern}{int(info.acceleration or 0)}"
        _flagged_figure(qc_dir, f"{_slug(pf.ref_rel.parent)}_{tag}", rec_lab, rec_ph, geom, img)
        rows.extend(
            _rows(
                pf.ref_rel.parent.as_posix(),
                pf.method,
                info.sampling_pattern,
                int(info.acceleration or 0),
                rec_ph,
                ref_ph,
            )
        )
        if on_file is not None:
            on_file(pf)
    truth_cols = ["case", "phenotype", "value_ref", "value_truth", "rel_error_pct"]
    return pd.DataFrame(rows), pd.DataFrame(truth_rows, columns=truth_cols)


#: QC-flag prefixes that point at the segmentation rather than at the stack's coverage or header.
_SEGMENTATION_FLAGS = ("missing_", "small_", "irregular_", *SEGMENTATION_FLAGS)


def _slug(case: Path) -> str:
    return "__".join(case.parts)


def _flagged_figure(
    qc_dir: Path | None,
    name: str,
    labels: NDArray[np.uint8],
    ph: CardiacPhenotypes,
    geom: CineGeometry,
    images: NDArray[np.floating],
) -> None:
    """The QC figure of a segmentation with a label QC flag (missing / small labels, irregular LV curve,
    implausible phenotypes or label geometry; not the stack-coverage flags ``few_slices`` /
    ``single_frame`` nor ``implausible_HR``). Nothing when ``qc_dir`` is None."""
    if qc_dir is None or not any(f.startswith(_SEGMENTATION_FLAGS) for f in ph.qc_flags):
        return

    qc_dir.mkdir(parents=True, exist_ok=True)
    phenotype_qc_figure(
        qc_dir / f"{name}_qc.png",
        labels,
        ph,
        geom.spacing_mm,
        images=images,
        frame_dt_s=geom.frame_dt_s,
        title=name.replace("__", "/"),
    )


def _truth_rows(ref_path: Path, case: str, ref_ph: CardiacPhenotypes) -> list[dict[str, object]]:
    sidecar = ref_path.with_name(ref_path.stem + "_gt.h5")
    if not sidecar.is_file():
        return []
    from cardiomm.simulate.truth import read_ground_truth  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    truth = read_ground_truth(sidecar)["phenotypes"]
    out = []
    for k, v in ref_ph.values().items():
        key = next((t for t in truth if t.split(" (")[0] == k), None)
        if key is None:
            continue
        t = float(truth[key])
        out.append(
            {
                "case": case,
                "phenotype": k,
                "value_ref": v,
                "value_truth": t,
                "rel_error_pct": 100.0 * (v - t) / t if t else float("nan"),
            }
        )
    return out


def truth_summary(truth: pd.DataFrame) -> pd.DataFrame:
    """Per phenotype: number of cases, mean and max absolute relative error [%] of fully sampled vs truth."""
    g = truth.assign(abs_err=truth["rel_error_pct"].abs()).groupby("phenotype", sort=False)["abs_err"]
    return g.agg(n="count", mean_abs_pct="mean", max_abs_pct="max").reset_index()
