"""Accuracy of a segmenter on real labelled hearts: ACDC patients and Sunnybrook manual contours.

- :func:`acdc_scores`: Dice of LV, MYO and RV per patient and frame (ED, ES) against the ACDC expert
  labels. The ACDC HDF5 files store no pixel spacing; the stacks are segmented at the nominal
  :data:`ACDC_NOMINAL_SPACING_MM` (ACDC: 1.37-1.68 mm in-plane).
- :func:`sunnybrook_scores`: LV Dice at ED and ES and myocardium Dice at ED on the contoured slices
  (the whole stack is segmented), and LV EDV / ESV / mass from the segmentation (all slices, voxel
  counting) against the Simpson volumes of the manual contours (:meth:`SunnybrookCase.volumes`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from cardiomm.analysis.labels import LV, MYO, RV
from cardiomm.analysis.phenotypes import MYOCARDIAL_DENSITY_G_PER_ML, label_volumes_ml
from cardiomm.analysis.segmentation.base import Segmenter, dice
from cardiomm.analysis.segmentation.realdata import ACDC_NOMINAL_PIXEL_MM, ACDC_TO_CARDIOMM
from cardiomm.analysis.sunnybrook import load_sunnybrook_case
from cardiomm.errors import InputFileError

__all__ = ["ACDC_NOMINAL_SPACING_MM", "acdc_scores", "sunnybrook_scores", "SUNNYBROOK_CONTOUR_DIRS"]

#: Spacing ``(dz, dy, dx)`` [mm] given to ACDC stacks (the files record none).
ACDC_NOMINAL_SPACING_MM = (10.0, ACDC_NOMINAL_PIXEL_MM, ACDC_NOMINAL_PIXEL_MM)

#: Sunnybrook patient -> contour folder name (``link.csv`` of the shared subset).
SUNNYBROOK_CONTOUR_DIRS = {"SCD0000101": "SC-HF-I-1", "SCD0000201": "SC-HF-I-2", "SCD0000301": "SC-HF-I-4"}


def acdc_scores(
    segmenter: Segmenter, root: str | os.PathLike[str], patients: Sequence[str]
) -> list[dict[str, float | str]]:
    """Dice per structure of every patient and frame: ``[{"patient", "frame", "LV", "MYO", "RV"}]``.

    A structure absent from both prediction and reference scores 1; absent from one of them, 0.
    """
    rows: list[dict[str, float | str]] = []
    for pid in patients:
        path = Path(root) / f"{pid}.h5"
        if not path.is_file():
            raise InputFileError("ACDC patient file not found", path=path)
        with h5py.File(path, "r") as f:
            for frame, name in (("frame01", "ED"), ("frame02", "ES")):
                image = np.asarray(f[frame]["image"][()], dtype=np.float32)
                ref = ACDC_TO_CARDIOMM[np.asarray(f[frame]["label"][()])]
                pred = segmenter.segment(image, ACDC_NOMINAL_SPACING_MM)
                row: dict[str, float | str] = {"patient": pid, "frame": name}
                for label, key in ((LV, "LV"), (MYO, "MYO"), (RV, "RV")):
                    p, r = pred == label, ref == label
                    row[key] = dice(p, r) if (p.any() or r.any()) else 1.0
                rows.append(row)
    return rows


def sunnybrook_scores(
    segmenter: Segmenter, dicom_dir: str | os.PathLike[str], contour_dir: str | os.PathLike[str]
) -> dict[str, float]:
    """Dice and LV volumes of one Sunnybrook case against its manual contours.

    Returns ``{"LV ED", "LV ES", "MYO ED"}`` Dice, ``{"EDV", "ESV", "LVM"}`` from the segmentation and
    ``{"EDV ref", "ESV ref", "LVM ref"}`` from the contours [mL, g].
    """
    case = load_sunnybrook_case(dicom_dir, contour_dir)
    out: dict[str, float] = {}
    labels = {}
    for name, phase in (("ED", case.ed_phase), ("ES", case.es_phase)):
        ref, has = case.contour_labels(phase)
        pred = segmenter.segment(case.image[phase], case.spacing_mm)
        labels[name] = pred
        out[f"LV {name}"] = dice(pred[has] == LV, ref[has] == LV)
        if name == "ED":
            epi = np.array([(phase, z) in case.epi for z in range(ref.shape[0])])
            out["MYO ED"] = dice(pred[epi] == MYO, ref[epi] == MYO)
    vols = label_volumes_ml(np.stack([labels["ED"], labels["ES"]]), case.spacing_mm)
    ref_vol = case.volumes()
    out.update(
        {
            "EDV": float(vols[LV][0]),
            "ESV": float(vols[LV][1]),
            "LVM": float(vols[MYO][0]) * MYOCARDIAL_DENSITY_G_PER_ML,
            "EDV ref": ref_vol.edv_ml,
            "ESV ref": ref_vol.esv_ml,
            "LVM ref": ref_vol.lvm_g,
        }
    )
    return out
