"""The readers under test, the (seed, reader) targets, and the classification of one outcome.

:func:`classify` runs a reader on an input in this process and returns ``(outcome, detail)``:

- ``ok``: the reader returned a result that passes :func:`validate` (finite values, consistent shapes,
  positive spacings ...);
- ``typed``: a :class:`~cardiomm.errors.CardiommError` whose message names the input (the file, or for
  a DICOM folder the folder or a file in it);
- failures: ``invalid`` (a result that fails validation), ``unnamed`` (a typed error that does not
  name the input), ``untyped`` (any other exception).

``crash`` and ``hang`` are seen by the runner (the worker process dies or stops answering), and
``silent`` is an ``ok`` for an input its mutator declared detectably corrupt.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Outcomes that are failures of the readers.
FAILURES = ("crash", "hang", "untyped", "invalid", "unnamed", "silent")

#: (seed, reader) pairs the campaign draws from.
TARGETS: tuple[tuple[str, str], ...] = (
    ("mat73", "read_cmrxrecon"), ("mat73", "load_mat_variables"), ("mat73", "read_kspace"),
    ("mat5", "read_cmrxrecon"), ("mat5", "load_mat_variables"), ("mat5", "read_kspace"),
    ("mat5z", "read_cmrxrecon"), ("mat5z", "list_mat_variables"), ("mat4", "load_mat_variables"),
    ("mat4", "read_cmrxrecon"), ("mask73", "read_mask"), ("mask5", "read_mask"),
    ("image73", "read_image_mat"), ("image5", "read_image_mat"),
    ("training", "read_training_h5"), ("training", "read_kspace"),
    ("fastmri", "read_fastmri_h5"), ("fastmri", "read_kspace"), ("fastmri", "read_ismrmrd_geometry"),
    ("ismrmrd", "read_ismrmrd"), ("ismrmrd", "read_ismrmrd_geometry"), ("ismrmrd", "read_kspace"),
    ("twix", "read_twix_kspace"), ("twix", "read_kspace"),
    ("dicom", "read_dicom_series"), ("dicom", "read_image_series"),
    ("nifti", "read_nifti"), ("nifti", "read_nifti_series"),
    ("niftigz", "read_nifti"), ("niftigz", "read_image_series"),
    ("csv", "read_scan_csv"),
)  # fmt: skip


def readers() -> dict[str, Callable[[Path], Any]]:
    """Reader name -> function (imported lazily: the worker pays the import once)."""
    from cardiomm import io

    return {
        "read_cmrxrecon": io.read_cmrxrecon,
        "load_mat_variables": io.load_mat_variables,
        "list_mat_variables": io.list_mat_variables,
        "read_mask": io.read_mask,
        "read_image_mat": io.read_image_mat,
        "read_training_h5": io.read_training_h5,
        "read_fastmri_h5": io.read_fastmri_h5,
        "read_ismrmrd": io.read_ismrmrd,
        "read_ismrmrd_geometry": io.read_ismrmrd_geometry,
        "read_kspace": io.read_kspace,
        "read_twix_kspace": io.read_twix_kspace,
        "read_dicom_series": io.read_dicom_series,
        "read_image_series": io.read_image_series,
        "read_nifti": io.read_nifti,
        "read_nifti_series": io.read_nifti_series,
        "read_scan_csv": io.read_scan_csv,
        # harness self-tests: a reader that dies with a segmentation fault, one that never returns
        "_crash": lambda p: os.kill(os.getpid(), signal.SIGSEGV),
        "_hang": lambda p: time.sleep(3600),
    }


def _finite(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return bool(torch.isfinite(x).all()) if x.is_floating_point() or x.is_complex() else True
    arr = np.asarray(x)
    return bool(np.isfinite(arr).all()) if arr.dtype.kind in "fc" else True


def _positive(*values: float | None) -> bool:
    return all(v is None or (math.isfinite(v) and v > 0) for v in values)


def validate(result: Any) -> str | None:
    """A problem with a reader's result, or ``None`` when it is valid."""
    from cardiomm.io import (
        FastMRIRecord,
        ImageSeries,
        IsmrmrdGeometry,
        KSpaceVolume,
        NiftiVolume,
        ScanParameters,
        TrainingH5Record,
    )

    if isinstance(result, KSpaceVolume):
        k = result.kspace
        if k.ndim != 5 or k.dtype != torch.complex64 or k.numel() == 0 or not _finite(k):
            return f"k-space {tuple(k.shape)} {k.dtype} empty or not finite"
        m = result.mask
        if m is not None and (m.dtype != torch.bool or m.ndim != 3 or tuple(m.shape[1:]) != k.shape[-2:]):
            return f"mask {tuple(m.shape)} does not fit k-space {tuple(k.shape)}"
    elif isinstance(result, TrainingH5Record):
        if not _finite(result.kspace) or (
            result.reconstruction_rss is not None and not _finite(result.reconstruction_rss)
        ):
            return "training record not finite"
        if result.n_frames * result.n_slices != result.kspace.shape[0]:
            return "n_frames * n_slices does not match the frames"
        return validate(result.to_volume())
    elif isinstance(result, FastMRIRecord):
        if not _finite(result.kspace) or not all(_finite(r) for r in result.reconstructions.values()):
            return "fastMRI record not finite"
        if result.mask is not None and result.mask.numel() != result.kspace.shape[-2]:
            return "fastMRI mask does not fit"
    elif isinstance(result, ImageSeries):
        mag = result.magnitude
        if mag.ndim != 4 or mag.dtype != np.float32 or not _finite(mag) or (mag < 0).any():
            return "image series magnitude not 4-D finite non-negative float32"
        if not _positive(*result.spacing, result.slice_spacing):
            return f"image series spacing {result.spacing} / {result.slice_spacing} not positive"
        if result.frame_dt is not None and not math.isfinite(result.frame_dt):
            return "frame interval not finite"
    elif isinstance(result, NiftiVolume):
        if not _finite(result.volume) or not _positive(*result.voxel_size_mm) or not _finite(result.affine):
            return "NIfTI volume / voxel size / affine not finite and positive"
        if not (math.isfinite(result.frame_time_s) and result.frame_time_s >= 0):
            return "NIfTI frame time not finite"
    elif isinstance(result, ScanParameters):
        r = result
        if not _positive(
            r.fov_x_mm, r.fov_y_mm, r.slice_thickness_mm, r.pixel_spacing_x_mm, r.pixel_spacing_y_mm
        ):
            return "scan parameter lengths not finite and positive"
        times = [r.tr_s, r.te_s, *r.ti_list_s, *r.prep_times_s]
        if not all(t is None or (math.isfinite(t) and t >= 0) for t in times):
            return "scan parameter times not finite and non-negative"
    elif isinstance(result, IsmrmrdGeometry):
        vectors = [result.encoded_fov_mm, result.recon_fov_mm, *(result.positions_mm or ())]
        vectors += [v for v in (result.read_dir, result.phase_dir, result.slice_dir) if v is not None]
        if not all(_finite(v) for v in vectors):
            return "ISMRMRD geometry not finite"
    elif isinstance(result, torch.Tensor):
        if not _finite(result) or result.numel() == 0:
            return f"tensor {tuple(result.shape)} empty or not finite"
    elif isinstance(result, dict):
        if not all(isinstance(k, str) for k in result):
            return "variable names are not strings"
    elif result is not None:
        return f"unexpected result type {type(result).__name__}"
    return None


def classify(reader: str, path: Path, fn: Callable[[Path], Any] | None = None) -> tuple[str, str]:
    """Run ``reader`` on ``path`` here and classify the outcome (see the module docstring)."""
    from cardiomm.errors import CardiommError

    fn = fn or readers()[reader]
    try:
        result = fn(path)
    except CardiommError as err:
        text = str(err)
        if str(path) in text:
            return "typed", f"{type(err).__name__}: {text}"
        return "unnamed", f"{type(err).__name__}: {text}"
    except Exception as err:  # noqa: BLE001 - every other exception is a finding
        return "untyped", f"{type(err).__name__}: {str(err)[:300]}"
    try:
        problem = validate(result)
    except Exception as err:  # noqa: BLE001 - a result that cannot even be used is invalid
        problem = f"using the result raised {type(err).__name__}: {str(err)[:200]}"
    return ("invalid", problem) if problem else ("ok", "")
