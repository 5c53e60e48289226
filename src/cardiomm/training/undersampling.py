"""Retrospective undersampling of fully sampled frames: :class:`UndersampledFrames` -> :class:`ReconSample`.

The wrapped *source* yields :class:`cardiomm.database.dataset.FrameSample` (k-space ``(c, ky, kx)``,
RSS target, volume max, header, metadata prompt): the shard dataset
(:class:`cardiomm.database.dataset.CardiacFrameDataset`) or the in-memory tree dataset
(:class:`cardiomm.training.tree.TreeFrameDataset`).

Masks (reference section 8.2, with explicit randomness, style rule 7):

- **training** (``train=True``): a fresh mask per sample from a generator seeded with
  ``SeedSequence([seed, epoch, index])``; R in ``accelerations`` (4, 8, 16, 24), pattern in
  ``patterns`` (uniform, random, radial), ACS ``n_acs`` (20), drawn by
  :class:`cardiomm.sampling.TrainingMaskSampler` in the order R -> pattern -> mask. The same
  (seed, epoch, index) always gives the same mask, on any rank or worker; nothing global is touched.
- **evaluation** (``train=False``): one fixed mask per frame, seeded with
  ``SeedSequence([seed_from_string(fname), frame])`` (``sha256`` of the file id, as the validation
  seeds of the style guide), same family and R range, independent of the epoch and of ``seed``.

Masked k-space = ``kspace * mask`` (exact zeros where not sampled); the undersampling prompt is
:func:`cardiomm.text.prompts.undersampling_prompt` of (pattern, R).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from cardiomm.database.dataset import FrameSample
from cardiomm.errors import ConfigError
from cardiomm.physics import coil_compress, ifft2c
from cardiomm.sampling import (
    DEFAULT_ACS,
    TRAIN_ACCELERATIONS,
    TrainingMask,
    TrainingMaskSampler,
    seed_from_string,
)
from cardiomm.text.prompts import undersampling_prompt
from cardiomm.training.records import ReconSample
from cardiomm.types import TrainMaskType

__all__ = ["FrameSource", "UndersampledFrames", "train_mask_generator", "eval_mask_generator", "frame_shapes"]

#: Every training mask pattern (the default of :class:`UndersampledFrames`).
_ALL_TRAIN_PATTERNS: tuple[str, ...] = tuple(m.value for m in TrainMaskType)


class FrameSource(Protocol):
    """What :class:`UndersampledFrames` needs from a frame dataset."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> FrameSample: ...


def train_mask_generator(seed: int, epoch: int, index: int) -> np.random.Generator:
    """Per-sample generator of a training mask, a pure function of ``(seed, epoch, index)``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(epoch), int(index)]))


def eval_mask_generator(fname: str, frame: int) -> np.random.Generator:
    """Per-frame generator of a validation / test mask, from ``sha256(fname)`` and the frame index."""
    return np.random.default_rng(np.random.SeedSequence([seed_from_string(fname), int(frame)]))


def frame_shapes(source: Any) -> list[tuple[int, ...]]:
    """Per-sample k-space shapes of ``source`` (``frame_shapes()`` if it has one, else one read per scan)."""
    fn = getattr(source, "frame_shapes", None)
    if callable(fn):
        return [tuple(s) for s in fn()]
    scan_of = getattr(source, "scan_of", None)
    if callable(scan_of):  # read the first frame of each scan only
        shapes: list[tuple[int, ...]] = []
        known: dict[int, tuple[int, ...]] = {}
        for i in range(len(source)):
            s, _ = scan_of(i)
            if s not in known:
                known[s] = tuple(source[i].kspace.shape)
            shapes.append(known[s])
        return shapes
    return [tuple(source[i].kspace.shape) for i in range(len(source))]


def _undersampling_prompt(pattern: str, acceleration: int) -> str:
    return str(undersampling_prompt(acceleration, pattern))


class UndersampledFrames(Dataset[ReconSample]):
    """Undersampled frames of a source dataset.

    Parameters
    ----------
    source
        Dataset of fully sampled :class:`~cardiomm.database.dataset.FrameSample`.
    train
        Fresh mask per ``(epoch, index)`` (True) or a fixed mask per frame (False).
    seed
        Base seed of the training masks.
    accelerations
        Candidate nominal R.
    patterns
        Candidate families (``uniform``, ``random``, ``radial``).
    n_acs
        ACS size.
    with_prompts
        Build the undersampling prompt (needs the text package); False gives ``""``.
    single_coil_fraction
        Training only: this fraction of samples (drawn per ``(seed, epoch, index)``) is SVD-compressed
        to one virtual coil, with the magnitude of that coil's image as the target, so that the model
        also meets single-coil data (CMRxRecon single-coil, emulated single-coil fastMRI). 0: never.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        train: bool,
        seed: int = 0,
        accelerations: Sequence[int] = TRAIN_ACCELERATIONS,
        patterns: Sequence[str] = _ALL_TRAIN_PATTERNS,
        n_acs: int = DEFAULT_ACS,
        with_prompts: bool = True,
        single_coil_fraction: float = 0.0,
    ) -> None:
        if not 0.0 <= single_coil_fraction <= 1.0:
            raise ConfigError(f"single_coil_fraction must be in [0, 1], got {single_coil_fraction}")
        if n_acs < 0:
            raise ConfigError(f"n_acs must be >= 0, got {n_acs}")
        self.source = source
        self.train = train
        self.seed = int(seed)
        self.n_acs = int(n_acs)
        self.with_prompts = with_prompts
        self.single_coil_fraction = float(single_coil_fraction)
        self.sampler = TrainingMaskSampler(accelerations, patterns, acs=n_acs, seed=self.seed)

    def __len__(self) -> int:
        return len(self.source)

    def draw_mask(
        self, shape: tuple[int, int], *, index: int, epoch: int, fname: str, frame: int
    ) -> TrainingMask:
        """The mask of one sample (``(ky, kx)`` bool with its pattern and R)."""
        rng = (
            train_mask_generator(self.seed, epoch, index) if self.train else eval_mask_generator(fname, frame)
        )
        return self.sampler(shape, seed=rng)

    def __getitem__(self, key: int | tuple[int, int] | Sequence[int]) -> ReconSample:
        """``key`` = index, or ``(index, epoch)`` as yielded by
        :class:`~cardiomm.training.samplers.FrameBatchSampler`."""
        if isinstance(key, int | np.integer):
            index, epoch = int(key), 0
        else:
            index, epoch = int(key[0]), int(key[1])
        item = self.source[index]
        kspace = item.kspace.to(torch.complex64)
        target, max_value = item.target.to(torch.float32), float(item.max_value)
        if self.train and self.single_coil_fraction > 0 and kspace.shape[-3] > 1:
            if np.random.default_rng([self.seed, epoch, index, 1]).random() < self.single_coil_fraction:
                kspace, _ = coil_compress(kspace, 1)
                target = ifft2c(kspace)[0].abs()
                max_value = float(target.max())
        ny, nx = kspace.shape[-2:]
        draw = self.draw_mask((ny, nx), index=index, epoch=epoch, fname=item.scan_id, frame=item.frame)
        mask = torch.from_numpy(np.ascontiguousarray(draw.mask))[None]  # (1, ky, kx)
        masked = kspace * mask
        pattern = str(draw.pattern.value if isinstance(draw.pattern, TrainMaskType) else draw.pattern)
        return ReconSample(
            masked_kspace=masked,
            mask=mask,
            mask_type=pattern,
            acceleration=int(draw.acceleration),
            n_acs=int(draw.acs),
            target=target,
            max_value=max_value,
            metadata_prompt=item.prompt,
            undersampling_prompt=_undersampling_prompt(pattern, draw.acceleration)
            if self.with_prompts
            else "",
            fname=item.scan_id,
            frame=int(item.frame),
            index=index,
        )
