"""Downstream, reconstruction-agnostic analysis: parametric mapping, segmentation, phenotypes, agreement.

Sub-modules (imported on first attribute access, so ``import cardiomm.analysis`` stays light):

- :mod:`~cardiomm.analysis.labels`: the label convention (LV blood pool = 1, MYO = 2, RV = 3) and converters.
- :mod:`~cardiomm.analysis.volumes`: image / label volumes and their geometry from .npy, .mat, NIfTI, DICOM,
  ``_gt.h5``.
- :mod:`~cardiomm.analysis.cine_geometry`: voxel spacing and frame time of a cine volume (options > file >
  ``_info.csv``).
- :mod:`~cardiomm.analysis.mapping`: vectorised T1 (MOLLI), T2, T1rho, T2* fits, ECV, myocardial statistics.
- :mod:`~cardiomm.analysis.aha`: AHA 16-segment assignment from a segmentation.
- :mod:`~cardiomm.analysis.segmentation`: pluggable segmenters (``get_segmenter(name)``).
- :mod:`~cardiomm.analysis.phenotypes`: ED/ES, volumes, EF, LVM, LVCO, wall thickness, QC.
- :mod:`~cardiomm.analysis.plausibility`: physiological ranges and label-geometry QC of the phenotypes.
- :mod:`~cardiomm.analysis.contours`: Simpson volumes from manual contour polygons (Sunnybrook style).
- :mod:`~cardiomm.analysis.agreement`: Pearson r, Bland-Altman, ICC, MAE (plots in ``agreement_plots``).
- :mod:`~cardiomm.analysis.sunnybrook`: reader for Sunnybrook cases (validation data).
- :mod:`~cardiomm.analysis.wall_thickness`: wall thickness, global and per AHA segment.
- :mod:`~cardiomm.analysis.cine_tree`: phenotypes of a reconstruction tree vs fully sampled vs truth.
- :mod:`~cardiomm.analysis.mapping_tree`: myocardial T1 / T2 of a reconstruction tree vs fully sampled.
- :mod:`~cardiomm.analysis.agreement_report`: the agreement report (CSV, figures, ``report.md``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "agreement",
    "agreement_plots",
    "agreement_report",
    "aha",
    "cine_geometry",
    "cine_tree",
    "contours",
    "labels",
    "mapping",
    "mapping_tree",
    "phenotypes",
    "plausibility",
    "segmentation",
    "sunnybrook",
    "volumes",
    "wall_thickness",
]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
