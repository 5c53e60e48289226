"""Inputs of self-supervised adaptation: undersampled scans, held as their acquired samples only.

``INPUT`` of ``cardiomm adapt`` is one of

* a k-space file (``.mat``, ``.h5``, ``.dat``) that is already undersampled (``kus``, or zeros where
  not sampled; the mask is the file's own or inferred from the non-zero samples), or a fully sampled
  file with an explicit ``--mask`` (it is undersampled on load);
* a folder holding ``*_kus_*.mat`` files (for example a CMRxRecon ``UnderSample_Task*`` tree): those are
  used, and nothing else is read;
* an MMCMR TestSet tree without ``kus`` files: every ``Mask_TaskAll/.../<name>_mask_<P><R>.mat`` gives
  one scan, read through :func:`cardiomm.recon.pipeline.load_task` (the ``FullSample`` k-space times the
  mask);
* any other folder: its k-space files, each of which must be undersampled.

**The fully sampled values never reach the adaptation.** A scan is multiplied by its mask right after
:func:`~cardiomm.recon.pipeline.load_task` returns, and :class:`AdaptScan` keeps only the samples at the
acquired locations (``values``: ``(c, n_acquired)`` per frame) and the mask; the volume read from the
file is dropped. A scan is identified in the model card by the sha256 of its files, never by name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cardiomm.errors import ConfigError, InputFileError, MaskError
from cardiomm.layout import GT_DIR, MASK_DIR, MASK_TOKEN
from cardiomm.recon.pipeline import ReconTask, discover_tasks, filter_tasks, infer_pattern, load_task
from cardiomm.recon.prompts import task_prompts
from cardiomm.training.ssdu import SplitSpec, acs_band, check_acs, holdout, outer_units
from cardiomm.utils.hashing import sha256_file

__all__ = [
    "AdaptScan",
    "discover_inputs",
    "load_scan",
    "load_scans",
    "protocol_name",
    "sha256_file",
    "KUS_TOKEN",
]

log = logging.getLogger(__name__)

#: File-name token of undersampled CMRxRecon files (``<name>_kus_<Pattern><R>.mat``).
KUS_TOKEN = "_kus_"
_KSPACE_SUFFIXES = (".mat", ".h5", ".dat")


@dataclass
class AdaptScan:
    """One undersampled scan, reduced to what adaptation may use.

    Attributes
    ----------
    label
        The input path, for progress messages only (never written into a release).
    kspace_sha256, mask_sha256
        sha256 of the k-space file and of the mask file (``None`` when the mask came with the data).
    shape
        ``(t, z, c, ky, kx)`` of the volume.
    mask_type, acceleration, n_acs
        Network inputs: ``uniform`` / ``random`` / ``radial``, nominal R, ACS size.
    metadata_prompt, undersampling_prompt
        The prompts ``cardiomm reconstruct`` builds for this scan.
    masks
        Acquired locations ``Omega`` per frame, ``(b, ky, kx)`` bool, b = t * z t-major.
    val_masks
        The fixed ZS-SSL validation set ``Gamma`` per frame, ``(b, ky, kx)`` bool, inside ``masks``.
    values
        Per frame, the measured samples at ``masks[i]``: ``(c, n_i)`` complex64.
    train_frames
        Frames with at least two acquired units outside the ACS (the others cannot be split).
    """

    label: str
    kspace_sha256: str
    mask_sha256: str | None
    shape: tuple[int, int, int, int, int]
    mask_type: str
    acceleration: int
    n_acs: int
    metadata_prompt: str
    undersampling_prompt: str
    masks: torch.Tensor
    val_masks: torch.Tensor
    values: list[torch.Tensor] = field(repr=False)
    train_frames: list[int] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        """Number of 2-D frames ``b = t * z``."""
        return int(self.masks.shape[0])

    @property
    def n_coils(self) -> int:
        """Number of coils ``c``."""
        return int(self.shape[2])

    def kspace(self, frames: Sequence[int]) -> torch.Tensor:
        """Measured k-space of ``frames``, ``(n, c, ky, kx)`` complex64, zero where not acquired."""
        _, _, c, ny, nx = self.shape
        out = torch.zeros(len(frames), c, ny, nx, dtype=torch.complex64)
        for j, i in enumerate(frames):
            out[j][:, self.masks[i]] = self.values[i]
        return out

    def card(self) -> dict[str, object]:
        """PHI-free description for the model card (hashes, shape, pattern)."""
        return {
            "kspace_sha256": self.kspace_sha256,
            "mask_sha256": self.mask_sha256,
            "shape_tzcyx": list(self.shape),
            "mask_type": self.mask_type,
            "acceleration": self.acceleration,
            "acquired_fraction": round(float(self.masks.float().mean()), 4),
            "frames_trained": len(self.train_frames),
            "frames_validated": int(self.val_masks.flatten(1).any(1).sum()),
        }


def _is_kspace_candidate(path: Path) -> bool:
    return (
        path.suffix.lower() in _KSPACE_SUFFIXES
        and not path.name.startswith(".")
        and MASK_TOKEN not in path.name
        and MASK_DIR not in path.parts
        and GT_DIR not in path.parts
    )


def discover_inputs(
    input_path: Path, *, mask: Path | None = None, include: Sequence[str] = ()
) -> list[ReconTask]:
    """The scans of ``INPUT`` as reconstruction tasks (sorted; see the module docstring for the rules).

    ``include`` keeps only the files whose name, or path relative to ``input_path``, matches one of
    these globs. ``mask`` undersamples a single fully sampled file.

    Raises
    ------
    InputFileError
        No such path, or nothing usable in a folder.
    ConfigError
        ``--mask`` with a folder.
    """
    input_path = Path(input_path)
    if not input_path.exists():
        raise InputFileError("no such file or folder", path=input_path)
    if not input_path.is_dir():
        return discover_tasks(input_path, Path("adapt.mat"), "adapt", mask)
    if mask is not None:
        raise ConfigError("--mask undersamples a single file; a folder brings its masks or kus files")
    files = sorted(p for p in input_path.rglob("*") if p.is_file() and _is_kspace_candidate(p))
    kus = [p for p in files if KUS_TOKEN in p.name]
    tasks: list[ReconTask]
    if kus:
        tasks = [ReconTask(p, None, Path(), p.relative_to(input_path).as_posix()) for p in kus]
    elif any(input_path.rglob(f"{MASK_DIR}/**/*{MASK_TOKEN}*.mat")):
        tasks = discover_tasks(input_path, Path("adapt"), "adapt")
    else:
        tasks = [ReconTask(p, None, Path(), p.relative_to(input_path).as_posix()) for p in files]
    tasks = filter_tasks(tasks, include)
    if not tasks:
        raise InputFileError(
            "nothing to adapt on: no *_kus_*.mat, Mask_TaskAll masks or k-space files"
            + (f" matching {' '.join(include)}" if include else ""),
            path=input_path,
        )
    return tasks


def load_scan(
    task: ReconTask,
    *,
    n_acs: int,
    spec: SplitSpec,
    rng: np.random.Generator,
    prompt: str | None = None,
) -> AdaptScan:
    """Read one task, keep only its acquired samples, check it can be split and draw its ``Gamma``.

    Raises
    ------
    MaskError
        A fully sampled file without a mask (nothing to adapt on), a scan without ACS, too few acquired
        lines to split (the message names the file).
    """
    what = task.mask_path or task.kspace_path
    try:
        volume, mask = load_task(task)
    except MaskError as exc:
        if exc.message.startswith("the k-space is fully sampled"):
            raise MaskError(
                "the k-space is fully sampled and no mask was given: nothing to adapt on "
                "(give undersampled data, a TestSet tree with its masks, or --mask)",
                path=task.kspace_path,
            ) from None
        raise
    t, z, c, ny, nx = (int(s) for s in volume.kspace.shape)
    mask = mask.bool()
    if mask.shape[0] == 1 and t > 1:
        mask = mask.expand(t, ny, nx)
    # undersample at once: from here on only the acquired samples exist
    frames = (volume.kspace * mask[:, None, None]).reshape(t * z, c, ny, nx)
    del volume
    frame_masks = mask.repeat_interleave(z, dim=0).contiguous()  # (b, ky, kx), b = t * z t-major
    values = [frames[i][:, frame_masks[i]].clone() for i in range(t * z)]
    del frames
    name_source = task.mask_path or (task.kspace_path if KUS_TOKEN in task.kspace_path.name else None)
    mask_type, accel = infer_pattern(mask, name_source)
    acs = acs_band((ny, nx), mask_type, n_acs)
    masks_np = mask.numpy()
    check_acs(masks_np, acs, str(what))
    units = [outer_units(m, acs, spec) for m in masks_np]
    if max(units) < 2:
        raise MaskError(
            f"too few acquired lines to split: at most {max(units)} acquired line(s)/point(s) outside the "
            f"{n_acs}-line ACS region per frame; self-supervised adaptation needs at least 2",
            path=what,
        )
    gamma = np.stack([holdout(m, acs, spec, rng) for m in frame_masks.numpy()])
    train_frames = [i for i in range(t * z) if units[i // z] >= 2]
    meta, us = task_prompts(task, mask_type, accel, override=prompt)
    return AdaptScan(
        label=str(what),
        kspace_sha256=sha256_file(task.kspace_path),
        mask_sha256=sha256_file(task.mask_path) if task.mask_path is not None else None,
        shape=(t, z, c, ny, nx),
        mask_type=mask_type,
        acceleration=int(accel),
        n_acs=n_acs,
        metadata_prompt=meta,
        undersampling_prompt=us,
        masks=frame_masks,
        val_masks=torch.from_numpy(gamma),
        values=values,
        train_frames=train_frames,
    )


def load_scans(
    input_path: Path,
    *,
    mask: Path | None = None,
    include: Sequence[str] = (),
    n_acs: int = 20,
    spec: SplitSpec | None = None,
    seed: int = 0,
    prompt: str | None = None,
) -> list[AdaptScan]:
    """Discover and load every scan of ``INPUT`` (see :func:`discover_inputs` and :func:`load_scan`).

    The validation sets ``Gamma`` are drawn from ``numpy.random.default_rng([seed, i])`` for scan ``i``.
    """
    if n_acs < 1:
        raise ConfigError(f"--acs must be >= 1 for adaptation (the ACS stays in the DC set), got {n_acs}")
    spec = spec or SplitSpec()
    scans = []
    for i, task in enumerate(discover_inputs(input_path, mask=mask, include=include)):
        rng = np.random.default_rng([seed, i])
        scans.append(load_scan(task, n_acs=n_acs, spec=spec, rng=rng, prompt=prompt))
        log.info("adapt: %s: %d frames, %s", scans[-1].label, scans[-1].n_frames, protocol_name(scans[-1]))
    if not scans:  # pragma: no cover - discover_inputs raises first
        raise MaskError("nothing to adapt on", path=input_path)
    return scans


def protocol_name(scan: AdaptScan) -> str:
    """The scan's sampling protocol, e.g. ``"radial R8"``: its mask type and nominal acceleration."""
    return f"{scan.mask_type} R{scan.acceleration}"
