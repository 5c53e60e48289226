"""Ground truth of simulated scans: phenotypes from label maps and the ``<name>_gt.h5`` sidecar.

Phenotypes follow the CardioMM pipeline definitions (reference section 13) applied to the stored
labels (1 LV blood pool, 2 LV myocardium, 3 RV blood pool):

- ED = frame of maximum LV (label 1) volume, ES = frame of minimum (first frame on ties);
- volumes = voxel count x voxel volume (``dz dy dx 1e-3`` mL); RV volumes at the LV-defined ED/ES;
- LVM = myocardium volume at ED x 1.05 g/mL; SV = EDV - ESV; EF = SV / EDV x 100;
- HR = 60 / (n_frames x frame_dt); LVCO = LVSV x HR x 1e-3 (L/min).

Wall thickness (ED, per slice with at least 10 LV and 10 MYO pixels): mean over endocardial boundary
points of the distance to the nearest epicardial boundary point, boundaries taken at pixel faces
(midpoints between a myocardium pixel and its LV / outside 4-neighbour), in mm; ``WT_Global`` is the
mean over slices. This is a pixel-face approximation of the reference's smoothed OpenCV contours; the
analytic ED wall thickness of each slice is stored separately.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from cardiomm.errors import ShapeError
from cardiomm.simulate.tissues import Tissue
from cardiomm.types import CardiacLabel
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "MYOCARDIAL_DENSITY",
    "phenotypes_from_labels",
    "wall_thickness",
    "write_ground_truth",
    "read_ground_truth",
]

#: Myocardial density [g/mL].
MYOCARDIAL_DENSITY = 1.05


def _faces(inside: NDArray[np.bool_], other: NDArray[np.bool_], dy: float, dx: float) -> NDArray[np.float64]:
    """Midpoints [mm] (y, x) of faces between ``inside`` pixels and 4-neighbours in ``other``."""
    pts = []
    for axis in (0, 1):
        for shift in (-1, 1):
            nb = np.zeros_like(other)
            src = [slice(None)] * 2
            dst = [slice(None)] * 2
            if shift == 1:
                src[axis], dst[axis] = slice(1, None), slice(None, -1)
            else:
                src[axis], dst[axis] = slice(None, -1), slice(1, None)
            nb[tuple(dst)] = other[tuple(src)]  # nb[p] = other[p + shift]
            yy, xx = np.nonzero(inside & nb)
            off = np.zeros(2)
            off[axis] = 0.5 * shift
            pts.append(np.stack([(yy + off[0]) * dy, (xx + off[1]) * dx], axis=-1))
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def wall_thickness(labels_ed: NDArray[np.integer], spacing_yx: tuple[float, float]) -> NDArray[np.float64]:
    """Mean LV wall thickness [mm] of each slice of an ED label volume ``(z, y, x)`` (NaN if skipped)."""
    dy, dx = spacing_yx
    out = np.full(labels_ed.shape[0], np.nan)
    for z, sl in enumerate(labels_ed):
        lv, myo = sl == CardiacLabel.LV, sl == CardiacLabel.MYO
        if lv.sum() < 10 or myo.sum() < 10:
            continue
        endo = _faces(myo, lv, dy, dx)
        epi = _faces(myo, ~(lv | myo), dy, dx)
        if len(endo) == 0 or len(epi) == 0:
            continue
        dist, _ = cKDTree(epi).query(endo)
        out[z] = float(dist.mean())
    return out


def phenotypes_from_labels(
    labels: NDArray[np.integer], spacing: tuple[float, float, float], frame_dt: float
) -> dict[str, float]:
    """Compute the cine phenotypes from a SAX label volume.

    Parameters
    ----------
    labels
        ``(t, z, y, x)`` labels (1 LV, 2 MYO, 3 RV).
    spacing
        Voxel size ``(dz, dy, dx)`` [mm].
    frame_dt
        Time between frames [s].

    Returns
    -------
    dict[str, float]
        ``LVEDV (mL)``, ``LVESV (mL)``, ``LVSV (mL)``, ``LVEF (%)``, ``LVCO (L/min)``, ``LVM (g)``,
        ``RVEDV (mL)``, ``RVESV (mL)``, ``RVSV (mL)``, ``RVEF (%)``, ``WT_Global (mm)``, ``HR (bpm)``,
        ``ED frame``, ``ES frame`` (CSV column names of the reference pipeline).

    Raises
    ------
    ShapeError
        ``labels`` is not 4-D.
    """
    if labels.ndim != 4:
        raise ShapeError(f"labels must be (t, z, y, x), got shape {labels.shape}")
    vox_ml = float(np.prod(spacing)) * 1e-3
    lv = (labels == CardiacLabel.LV).sum(axis=(1, 2, 3)) * vox_ml
    rv = (labels == CardiacLabel.RV).sum(axis=(1, 2, 3)) * vox_ml
    ed, es = int(np.argmax(lv)), int(np.argmin(lv))
    hr = 60.0 / (labels.shape[0] * frame_dt)
    lvsv, rvsv = lv[ed] - lv[es], rv[ed] - rv[es]
    wt = wall_thickness(labels[ed], (spacing[1], spacing[2]))
    return {
        "LVEDV (mL)": float(lv[ed]),
        "LVESV (mL)": float(lv[es]),
        "LVSV (mL)": float(lvsv),
        "LVEF (%)": float(100.0 * lvsv / lv[ed]) if lv[ed] > 0 else float("nan"),
        "LVCO (L/min)": float(lvsv * hr * 1e-3),
        "LVM (g)": float((labels[ed] == CardiacLabel.MYO).sum() * vox_ml * MYOCARDIAL_DENSITY),
        "RVEDV (mL)": float(rv[ed]),
        "RVESV (mL)": float(rv[es]),
        "RVSV (mL)": float(rvsv),
        "RVEF (%)": float(100.0 * rvsv / rv[ed]) if rv[ed] > 0 else float("nan"),
        "WT_Global (mm)": float(np.nanmean(wt)) if np.isfinite(wt).any() else float("nan"),
        "HR (bpm)": float(hr),
        "ED frame": float(ed),
        "ES frame": float(es),
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_ground_truth(
    path: str | os.PathLike[str],
    *,
    labels: NDArray[np.uint8],
    tissue: NDArray[np.uint8],
    maps: dict[str, NDArray[np.float32]],
    metadata: dict[str, Any],
    phenotypes: dict[str, float] | None = None,
    extras: dict[str, Any] | None = None,
    tissue_table: dict[str, NDArray[np.float64]] | None = None,
) -> Path:
    """Write a ``<name>_gt.h5`` ground-truth sidecar atomically.

    Layout: datasets ``labels`` and ``tissue`` (``(t, z, y, x)`` uint8), ``maps/<name>`` (float32,
    attribute ``unit``), ``tissue_table/<param>`` (tissue-indexed, attribute ``tissues``); root
    attributes ``metadata`` and ``phenotypes`` (JSON strings) plus each phenotype as its own
    attribute, and ``extras`` (JSON). Arrays are gzip-compressed.
    """
    final = Path(path)
    opts = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    units = {"pd": "1", "velocity": "cm/s"}
    with atomic_path(final) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("labels", data=labels, **opts)
        f.create_dataset("tissue", data=tissue, **opts)
        grp = f.create_group("maps")
        for name, arr in maps.items():
            ds = grp.create_dataset(name, data=np.asarray(arr, np.float32), **opts)
            ds.attrs["unit"] = units.get(name, "s")
        if tissue_table is not None:
            tt = f.create_group("tissue_table")
            tt.attrs["tissues"] = json.dumps([t.name for t in Tissue])
            for name, values in tissue_table.items():
                tt.create_dataset(name, data=np.asarray(values, np.float64))
        f.attrs["metadata"] = json.dumps(metadata, default=_json_default, sort_keys=True)
        f.attrs["extras"] = json.dumps(extras or {}, default=_json_default, sort_keys=True)
        f.attrs["phenotypes"] = json.dumps(phenotypes or {}, sort_keys=True)
        for key, value in (phenotypes or {}).items():
            f.attrs[key] = value
        f.attrs["label_convention"] = ", ".join(f"{int(lab)} {lab.short_name}" for lab in CardiacLabel)
    return final


def read_ground_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sidecar written by :func:`write_ground_truth`.

    Returns
    -------
    dict
        ``labels``, ``tissue``, ``maps`` (dict), ``metadata``, ``phenotypes``, ``extras``.
    """
    with h5py.File(path, "r") as f:
        return {
            "labels": f["labels"][()],
            "tissue": f["tissue"][()],
            "maps": {k: f["maps"][k][()] for k in f["maps"]},
            "metadata": json.loads(f.attrs["metadata"]),
            "phenotypes": json.loads(f.attrs["phenotypes"]),
            "extras": json.loads(f.attrs["extras"]),
        }
