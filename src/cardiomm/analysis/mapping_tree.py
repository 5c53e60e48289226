"""Myocardial T1 / T2 biomarkers over an MMCMR tree: reconstructions vs fully sampled vs ground truth.

For every ``T1map`` (MOLLI) or ``T2map`` (T2-prepared) reconstruction in the ``cardiomm reconstruct``
layout, the map is fitted on the reconstruction and on the fully sampled reference (coil RSS) with the
same model (:func:`~cardiomm.analysis.mapping.fit_molli_t1` with polarity restoration and Look-Locker
correction; :func:`~cardiomm.analysis.mapping.fit_exponential_decay` for T2), and the myocardial mean
is taken over one myocardial mask per case. Times (TI list / T2-prep durations) come from ``_info.csv``.

The mask is the myocardium (label 2) of the ``<stem>_gt.h5`` sidecar (``cardiomm simulate``), or of a
``<stem>_labels.npy`` file ``(z, y, x)`` next to the fully sampled file for real data; the same mask is
used for reference and reconstruction so that only the image differs. By default the mean is taken over a
conservative mid-wall ROI (the myocardium eroded by one pixel, :func:`mid_wall_roi`), as clinical ROIs
are drawn: at 1.3-2.7 mm pixels the whole-myocardium mean of simulated T2 maps is ~15 % too long from
blood-pool partial volume, the mid-wall mean within ~2 %. The truth value is averaged over the same ROI.
The output uses the long format of
:func:`cardiomm.analysis.agreement.agreement_table` with phenotypes ``T1`` and ``T2`` in ms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import binary_erosion

from cardiomm.analysis.cine_tree import is_excluded
from cardiomm.analysis.labels import MYO
from cardiomm.analysis.mapping import fit_exponential_decay, fit_molli_t1
from cardiomm.database.paths import parse_path
from cardiomm.errors import ConfigError, InputFileError, ShapeError

if TYPE_CHECKING:
    import pandas as pd

    from cardiomm.evaluation.tree import PredFile

__all__ = [
    "BIOMARKER_UNITS",
    "myocardial_mask",
    "mid_wall_roi",
    "myocardial_mean_ms",
    "mapping_biomarker_tables",
]

#: Smallest mid-wall ROI (pixels per slice) before falling back to the whole myocardium.
MID_WALL_MIN_PIXELS = 5
#: Biomarker name -> unit.
BIOMARKER_UNITS: dict[str, str] = {"T1": "ms", "T2": "ms"}
_STEMS = {"T1map": "T1", "T2map": "T2"}


def myocardial_mask(ref_path: Path) -> tuple[NDArray[np.bool_], NDArray[np.float64] | None]:
    """Myocardium ``(z, y, x)`` of the fully sampled file ``ref_path`` and the true map [ms] if known.

    Raises :class:`~cardiomm.errors.InputFileError` when neither a ``_gt.h5`` sidecar nor a
    ``_labels.npy`` file exists.
    """
    sidecar = ref_path.with_name(ref_path.stem + "_gt.h5")
    labels = ref_path.with_name(ref_path.stem + "_labels.npy")
    if sidecar.is_file():
        from cardiomm.simulate.truth import read_ground_truth  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

        gt = read_ground_truth(sidecar)
        myo = np.asarray(gt["labels"][0]) == MYO
        true_map = gt["maps"].get("t1" if ref_path.stem.startswith("T1") else "t2")
        return myo, None if true_map is None else np.asarray(true_map[0], dtype=np.float64) * 1e3
    if labels.is_file():
        return np.load(labels) == MYO, None
    raise InputFileError(
        f"no myocardial mask: expected {sidecar.name} or {labels.name} beside it", path=ref_path
    )


def mid_wall_roi(myo: NDArray[np.bool_], min_pixels: int = MID_WALL_MIN_PIXELS) -> NDArray[np.bool_]:
    """Conservative mid-wall ROI: each slice's myocardium eroded by one pixel (4-connected), which keeps
    blood-pool and epicardial-fat partial volume out of the mean; a slice keeps its full mask when fewer
    than ``min_pixels`` pixels would remain."""
    out = np.zeros_like(myo)
    for z in range(myo.shape[0]):
        eroded = binary_erosion(myo[z])
        out[z] = eroded if eroded.sum() >= min_pixels else myo[z]
    return out


def myocardial_mean_ms(
    series: NDArray[np.float32], times_s: Sequence[float], kind: str, myo: NDArray[np.bool_]
) -> float:
    """Fit ``series`` ``(n_times, z, y, x)`` inside ``myo`` and return the myocardial mean [ms]."""
    if series.shape[1:] != myo.shape:
        raise ShapeError(f"series {series.shape} and myocardial mask {myo.shape} do not match")
    if len(times_s) != series.shape[0]:
        raise ConfigError(f"{len(times_s)} times for a series of {series.shape[0]} contrasts")
    if kind == "T1":
        values = fit_molli_t1(series, np.asarray(times_s), mask=myo).t1
    else:
        values = fit_exponential_decay(series, np.asarray(times_s), mask=myo).t2
    return float(np.nanmean(values[myo]) * 1e3)


def mapping_biomarker_tables(
    pred_root: Path,
    ref_root: Path,
    *,
    method: str | None = None,
    exclusions: Sequence[str] = (),
    mid_wall: bool = True,
    on_file: Callable[[PredFile], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Myocardial T1 / T2 of every mapping reconstruction and of its fully sampled reference.

    Returns
    -------
    pairs, truth
        ``pairs``: ``case, method, pattern, accel, phenotype (T1 | T2), value_recon, value_ref`` [ms];
        ``truth``: ``case, phenotype, value_ref, value_truth, rel_error_pct`` (simulated data only).
    """
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.evaluation.tree import find_predictions, reference_volume  # noqa: PLC0415 - lazy: importing this module loads no skimage, torch
    from cardiomm.io import read_image_mat  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch
    from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv  # noqa: PLC0415 - lazy: importing this module loads no h5py, torch

    preds = [
        p
        for p in find_predictions(Path(pred_root), method)
        if p.ref_rel.stem in _STEMS and not is_excluded(p.ref_rel, exclusions)
    ]
    if not preds:
        raise InputFileError("no T1map / T2map reconstructions found", path=Path(pred_root))
    cache: dict[Path, tuple[float, NDArray[np.bool_], tuple[float, ...]]] = {}
    rows: list[dict[str, object]] = []
    truth_rows: list[dict[str, object]] = []
    for pf in preds:
        kind = _STEMS[pf.ref_rel.stem]
        case = pf.ref_rel.parent.as_posix()
        if pf.ref_rel not in cache:
            ref_path = Path(ref_root) / pf.ref_rel
            csv = find_scan_csv(ref_path)
            if csv is None:
                raise InputFileError(
                    "no _info.csv next to the file: inversion / preparation times unknown", path=ref_path
                )
            params = read_scan_csv(csv)
            times = params.ti_list_s if kind == "T1" else params.prep_times_s
            myo, true_map = myocardial_mask(ref_path)
            if mid_wall:
                myo = mid_wall_roi(myo)
            true_ms = float(true_map[myo].mean()) if true_map is not None and myo.any() else None
            ref_ms = myocardial_mean_ms(reference_volume(Path(ref_root), pf.ref_rel), times, kind, myo)
            cache[pf.ref_rel] = (ref_ms, myo, times)
            if true_ms is not None:
                truth_rows.append(
                    {
                        "case": case,
                        "phenotype": kind,
                        "value_ref": ref_ms,
                        "value_truth": true_ms,
                        "rel_error_pct": 100.0 * (ref_ms - true_ms) / true_ms,
                    }
                )
        ref_ms, myo, times = cache[pf.ref_rel]
        img = np.abs(read_image_mat(pf.path, "reconimage").numpy())
        info = parse_path(pf.path)
        rows.append(
            {
                "case": case,
                "method": pf.method,
                "pattern": info.sampling_pattern,
                "accel": int(info.acceleration or 0),
                "phenotype": kind,
                "value_recon": myocardial_mean_ms(img, times, kind, myo),
                "value_ref": ref_ms,
                "qc": "",
            }
        )
        if on_file is not None:
            on_file(pf)
    cols = ["case", "phenotype", "value_ref", "value_truth", "rel_error_pct"]
    return pd.DataFrame(rows), pd.DataFrame(truth_rows, columns=cols)
