"""Reconstruct whole files and MMCMR TestSet trees with any :class:`~cardiomm.recon.base.Reconstructor`.

Inputs
------
* a CMRxRecon ``.mat`` with fully sampled k-space (``kspace_full`` / ``kspace``) plus a mask file
  (retrospective undersampling ``k * mask``), or already undersampled data (``kus``, or zeros where not
  sampled) whose mask is read from ``--mask`` or inferred from the non-zero samples;
* an ISMRMRD/OCMR ``.h5``, a fastMRI ``.h5`` or a Siemens twix ``.dat`` (same rules);
* a folder in the MMCMR TestSet layout (``.../FullSample/...`` + ``.../Mask_TaskAll/...``): every mask
  file gives one task, reconstructed into a mirrored tree
  ``OUT/<method>/<path of the mask file below INPUT, with Mask_TaskAll -> TaskAll>`` (the published
  ``Results/<Method>/ReconResult/...`` layout).

Outputs are magnitude volumes ``(t, z, y, x)`` written as ``.mat`` (key ``reconimage``, MATLAB
``[nx, ny, nz, nt]``), optionally NIfTI, PNG (middle slice, first frame) and cine GIF.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cardiomm.errors import ConfigError, InputFileError, MaskError
from cardiomm.io import KSpaceVolume, check_mask_fits, read_kspace, read_mask
from cardiomm.layout import FULL_DIR, MASK_DIR, RESULT_DIR, scan_stem, swap_folder
from cardiomm.recon.base import ReconInput, Reconstructor
from cardiomm.sampling import (
    DEFAULT_ACS,
    make_test_mask,
    mask_type_of,
    parse_mask_filename,
    parse_pattern,
    seed_from_string,
)

__all__ = [
    "ReconTask",
    "MaskSpec",
    "discover_tasks",
    "filter_tasks",
    "load_task",
    "reconstruct_volume",
    "infer_mask",
    "infer_pattern",
    "mask_file_to_fullsample",
]

log = logging.getLogger(__name__)


@dataclass
class ReconTask:
    """One file to reconstruct.

    Attributes
    ----------
    kspace_path
        The k-space file.
    mask_path
        Mask file, or ``None`` when the data are already undersampled (mask inferred).
    out_path
        Output ``.mat`` path.
    rel_path
        Path used for metadata (prompt): the mask path for tree tasks, else the k-space path.
    mask_spec
        Retrospective undersampling of fully sampled data with a generated test-protocol mask instead of
        a mask file (see :class:`MaskSpec`).
    """

    kspace_path: Path
    mask_path: Path | None
    out_path: Path
    rel_path: str
    extra: dict[str, str] = field(default_factory=dict)
    mask_spec: MaskSpec | None = None


@dataclass(frozen=True)
class MaskSpec:
    """A test-protocol mask generated for the file's own ``(t, ky, kx)`` size.

    Attributes
    ----------
    pattern
        ``Uniform``, ``ktGaussian``, ``ktRadial`` or ``ktUniform``.
    accel
        Nominal acceleration ``R`` (ACS not counted).
    acs
        ACS lines / square side.
    seed
        Seed of random patterns; ``None`` derives one from the file name
        (:func:`~cardiomm.sampling.seed_from_string`), so a file always gets the same mask.
    """

    pattern: str
    accel: int
    acs: int = DEFAULT_ACS
    seed: int | None = None

    def make(self, volume: KSpaceVolume) -> torch.Tensor:
        """The mask ``(t, ky, kx)`` bool for ``volume``."""
        n_t, _, _, n_y, n_x = volume.kspace.shape
        seed = self.seed if self.seed is not None else seed_from_string(Path(volume.source).name)
        mask = make_test_mask(self.pattern, self.accel, n_x, n_y, n_t, acs=self.acs, seed=seed)
        return torch.from_numpy(np.ascontiguousarray(mask))

    @property
    def token(self) -> str:
        """File-name token, e.g. ``ktGaussian8``."""
        return f"{parse_pattern(self.pattern).value}{self.accel}"


def mask_file_to_fullsample(mask_file: Path) -> Path:
    """``.../Mask_TaskAll/C/V/P/<name>_mask_<P><R>.mat`` -> ``.../FullSample/C/V/P/<name>.mat``."""
    if MASK_DIR not in mask_file.parts:
        raise InputFileError(f"not inside a {MASK_DIR} folder", path=mask_file)
    parts = swap_folder(mask_file.parts, MASK_DIR, FULL_DIR)
    return Path(*parts[:-1], scan_stem(mask_file.name) + ".mat")


def discover_tasks(
    input_path: Path, out: Path, method: str, mask: Path | None = None, mask_spec: MaskSpec | None = None
) -> list[ReconTask]:
    """List the reconstruction tasks for a file or an MMCMR TestSet folder (sorted, deterministic).

    ``mask`` (a mask file) or ``mask_spec`` (a generated mask) undersample a single fully sampled file.
    """
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputFileError("no such file or folder", path=input_path)
    if input_path.is_dir():
        masks = sorted(
            p for p in input_path.rglob("*_mask_*.mat") if MASK_DIR in p.parts and not p.name.startswith(".")
        )
        if not masks:
            raise InputFileError(f"no {MASK_DIR}/**/*_mask_<Pattern><R>.mat files found", path=input_path)
        tasks = []
        for m in masks:
            rel = m.relative_to(input_path)
            out_rel = Path(*[RESULT_DIR if p == MASK_DIR else p for p in rel.parts])
            tasks.append(ReconTask(mask_file_to_fullsample(m), m, out / method / out_rel, rel.as_posix()))
        return tasks
    if mask is not None and mask_spec is not None:
        raise ConfigError("give a mask file or a generated mask (pattern and acceleration), not both")
    token = mask.stem.split("_mask_")[-1] if mask else mask_spec.token if mask_spec else ""
    out_path = out if out.suffix == ".mat" else out / f"{input_path.stem}{'_' + token if token else ''}.mat"
    rel_path = (mask or input_path).as_posix()
    return [ReconTask(input_path, mask, out_path, rel_path, mask_spec=mask_spec)]


def filter_tasks(tasks: list[ReconTask], include: Sequence[str]) -> list[ReconTask]:
    """The tasks whose file name or relative path (``rel_path``, POSIX) matches one of the ``include``
    globs (``fnmatch``); all tasks when ``include`` is empty."""
    if not include:
        return list(tasks)
    return [
        t
        for t in tasks
        if any(fnmatch.fnmatch(Path(t.rel_path).name, g) or fnmatch.fnmatch(t.rel_path, g) for g in include)
    ]


def infer_mask(volume: KSpaceVolume) -> torch.Tensor:
    """Sampling mask ``(t, ky, kx)`` of already undersampled data: non-zero anywhere over slices and coils."""
    return (volume.kspace.abs() > 0).any(dim=2).any(dim=1)


def infer_pattern(
    mask: torch.Tensor, mask_path: Path | None, mask_spec: MaskSpec | None = None
) -> tuple[str, int]:
    """``(mask_type, R)`` of a generated mask's spec, else from the mask file name, else guessed from the
    mask geometry.

    Without a file name: a mask varying along kx is ``radial``; lines are ``uniform`` when equispaced
    outside the centre, else ``random``; R is the sampled-line fraction's inverse, rounded.
    """
    if mask_spec is not None:
        return str(mask_type_of(parse_pattern(mask_spec.pattern))), int(mask_spec.accel)
    if mask_path is not None:
        try:
            pattern, accel = parse_mask_filename(mask_path)
            return str(mask_type_of(pattern)), int(accel)
        except Exception:  # noqa: BLE001 - fall back to geometry
            pass
    m = mask.bool()
    frac = m.float().mean().item()
    accel = max(1, round(1.0 / max(frac, 1e-6)))
    if not bool((m == m[..., :1]).all()):
        return "radial", accel
    lines = torch.nonzero(m[0, :, 0]).flatten()
    gaps = torch.diff(lines)
    uniform = gaps.numel() > 2 and int(gaps.max()) == int(torch.mode(gaps).values) if gaps.numel() else False
    return ("uniform" if uniform else "random"), accel


def load_task(task: ReconTask, volume: KSpaceVolume | None = None) -> tuple[KSpaceVolume, torch.Tensor]:
    """Read the k-space and the mask ``(t, ky, kx)`` of a task; undersample retrospectively.

    ``volume``: the k-space of ``task.kspace_path`` already read (for another mask of the same file),
    used instead of reading the file again.
    """
    path = task.kspace_path
    if volume is None:
        if not path.exists():
            raise InputFileError("k-space file not found (FullSample counterpart of the mask?)", path=path)
        volume = read_kspace(path)
    if task.mask_spec is not None:
        if volume.undersampled or (volume.mask is not None and not bool(volume.mask.all())):
            msg = "the k-space is already undersampled: a generated mask needs fully sampled data"
            raise MaskError(msg, path=path)
        mask = check_mask_fits(volume, task.mask_spec.make(volume))
    elif task.mask_path is not None:
        mask = check_mask_fits(volume, read_mask(task.mask_path), mask_source=task.mask_path)
    elif volume.mask is not None:
        mask = volume.mask.bool()
    else:
        mask = infer_mask(volume)
        if bool(mask.all()):
            raise MaskError(
                "the k-space is fully sampled and no --mask was given (nothing to reconstruct)", path=path
            )
    if not bool(mask.any()):
        raise MaskError("the mask samples nothing", path=task.mask_path or path)
    return volume, mask


def iter_batches(
    volume: KSpaceVolume, mask: torch.Tensor, batch_size: int
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Yield ``(slice, masked_kspace (b, c, ky, kx), mask (b, 1, ky, kx))`` over t-major frames."""
    frames = volume.frames()
    n_t, n_z = volume.n_frames, volume.n_slices
    if mask.shape[0] == 1 and n_t > 1:
        mask = mask.expand(n_t, *mask.shape[1:])
    frame_masks = mask.bool().repeat_interleave(n_z, dim=0).unsqueeze(1)  # t-major: b = t * nz + z
    for start in range(0, frames.shape[0], batch_size):
        sl = slice(start, min(start + batch_size, frames.shape[0]))
        m = frame_masks[sl]
        yield sl, frames[sl] * m, m


def reconstruct_volume(
    volume: KSpaceVolume,
    mask: torch.Tensor,
    method: Reconstructor,
    *,
    mask_type: str,
    acceleration: int,
    n_acs: int = DEFAULT_ACS,
    metadata_prompt: str = "",
    undersampling_prompt: str = "",
    batch_size: int = 4,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[torch.Tensor, float]:
    """Reconstruct every frame of ``volume`` under ``mask``.

    Returns
    -------
    tuple
        Magnitude volume ``(t, z, y, x)`` float32 and the mean wall time per frame [s].

    Raises
    ------
    ConfigError
        ``batch_size < 1`` or ``n_acs < 0``.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if n_acs < 0:
        raise ConfigError(f"n_acs must be >= 0, got {n_acs}")
    n_t, n_z = volume.n_frames, volume.n_slices
    out = torch.empty(n_t * n_z, volume.ny, volume.nx, dtype=torch.float32)
    t0 = time.perf_counter()
    for sl, k, m in iter_batches(volume, mask, batch_size):
        inp = ReconInput(k, m, mask_type, acceleration, n_acs, metadata_prompt, undersampling_prompt)
        out[sl] = method(inp)
        if on_batch is not None:
            on_batch(sl.stop - sl.start)
    per_frame = (time.perf_counter() - t0) / max(1, n_t * n_z)
    log.info("%s: %d frames, %.3f s/frame", volume.source, n_t * n_z, per_frame)
    return out.view(n_t, n_z, volume.ny, volume.nx), per_frame
