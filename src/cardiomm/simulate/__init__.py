"""Synthetic multi-center, multi-modality cardiac MR k-space with ground truth.

- :mod:`~cardiomm.simulate.phantom`: analytic 2-D + time cardiac phantom (SAX, LAX 2/3/4ch, aorta);
  :mod:`~cardiomm.simulate.anatomy`: subject anatomy, motion and disease presets;
  :mod:`~cardiomm.simulate.tissues`: field-strength-dependent relaxation tables.
- :mod:`~cardiomm.simulate.contrast` / :mod:`~cardiomm.simulate.sequences`: signal equations of the 12
  modalities; :mod:`~cardiomm.simulate.protocols`: frame/slice layout and timings.
- :mod:`~cardiomm.simulate.coils`: Biot-Savart coil maps, background phase;
  :mod:`~cardiomm.simulate.scan`: one scan -> k-space ``(t, z, c, ky, kx)``.
- :mod:`~cardiomm.simulate.centers`: simulated centers; :mod:`~cardiomm.simulate.tree`: the MMCMR-style
  tree (``cardiomm simulate mini``); :mod:`~cardiomm.simulate.truth`: phenotypes and ``_gt.h5`` sidecars.
- :mod:`~cardiomm.simulate.from_images`: k-space from real magnitude images (DICOM / NIfTI).
"""

from cardiomm.simulate.anatomy import Disease, HeartParams, Infarct, Population, contraction, sample_heart
from cardiomm.simulate.centers import DEFAULT_CENTERS, Center, field_token, get_center
from cardiomm.simulate.coils import biot_savart_csm, normalise_csm, smooth_phase
from cardiomm.simulate.from_images import images_to_kspace_file, kspace_from_images, read_image_series
from cardiomm.simulate.phantom import LABELS, FrameMaps, Grid, View, render_frame
from cardiomm.simulate.protocols import SCAN_SPECS, Protocol, ScanSpec, SizePreset, get_spec, make_protocol
from cardiomm.simulate.scan import SimulatedScan, simulate_scan
from cardiomm.simulate.tissues import Relaxation, Tissue, relaxation_table
from cardiomm.simulate.tree import generate_mini, plan_mini
from cardiomm.simulate.truth import phenotypes_from_labels, read_ground_truth, write_ground_truth

__all__ = [
    "Center",
    "DEFAULT_CENTERS",
    "Disease",
    "FrameMaps",
    "Grid",
    "HeartParams",
    "Infarct",
    "LABELS",
    "Population",
    "Protocol",
    "Relaxation",
    "SCAN_SPECS",
    "ScanSpec",
    "SimulatedScan",
    "SizePreset",
    "Tissue",
    "View",
    "biot_savart_csm",
    "contraction",
    "field_token",
    "generate_mini",
    "get_center",
    "get_spec",
    "images_to_kspace_file",
    "kspace_from_images",
    "make_protocol",
    "normalise_csm",
    "phenotypes_from_labels",
    "plan_mini",
    "read_ground_truth",
    "read_image_series",
    "relaxation_table",
    "render_frame",
    "sample_heart",
    "simulate_scan",
    "smooth_phase",
    "write_ground_truth",
]
