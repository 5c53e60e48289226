"""Which weights an adaptation releases: early stopping and the release tests (``cardiomm adapt``).

Every validation of :func:`cardiomm.training.adapt.adapt_model` gives per-frame k-space losses on the
held-out sets ``Gamma``. Two paired tests on them, both at ``z`` standard errors of the paired
per-frame differences against step 0 (the unchanged model):

- **gain** (:func:`significant_gain`): the released weights must beat step 0 over all validation frames;
- **no protocol worse** (:func:`worse_protocols`): a step is not released if, for one protocol
  (sampling pattern and acceleration) of the input, its frames' losses are higher than step 0's by more
  than ``z`` standard errors, even when the loss over all frames fell. One release serves every
  protocol of the input, and a gain on most of them can hide a loss on one (measured on the 10 ACDC
  validation patients, ``docs/adapt.md``: after 20 steps the loss over 16 frames fell by 0.9 % while the
  held-out loss of the ktRadial 8x scans rose by 6 %, and their PSNR fell by 0.55 dB).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["EarlyStopping", "MIN_TEST_FRAMES", "protocol_means", "significant_gain", "worse_protocols"]

#: With fewer validation frames than this, the release test compares the held-out k-space lines; a
#: protocol with fewer frames than this is not tested on its own.
MIN_TEST_FRAMES = 3


def _paired_mean_se(first: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of ``other - first`` (paired, ``ddof = 1``)."""
    d = other - first
    return float(d.mean()), float(d.std(ddof=1)) / np.sqrt(d.size)


def significant_gain(first: np.ndarray | None, best: np.ndarray | None, z: float) -> bool | None:
    """Whether the per-frame losses ``best`` are lower than ``first`` (same frames) by more than ``z``
    standard errors of the paired differences; None when it cannot be tested (``z`` 0, fewer than 3
    frames, or frame counts that differ)."""
    if z <= 0 or first is None or best is None or first.size < MIN_TEST_FRAMES or first.shape != best.shape:
        return None
    mean, se = _paired_mean_se(first, best)
    return bool(mean + z * se < 0)


def worse_protocols(
    first: np.ndarray | None, losses: np.ndarray | None, protocols: Sequence[str], z: float
) -> list[str]:
    """The protocols whose frames' losses ``losses`` are higher than ``first``'s (the same frames, step 0)
    by more than ``z`` standard errors of the paired differences.

    Parameters
    ----------
    first, losses
        Per-frame validation losses ``(n,)``, in the order of ``protocols``.
    protocols
        ``n`` protocol names, one per frame (e.g. ``"ktRadial 8x"``); with a single protocol, or one with
        fewer than :data:`MIN_TEST_FRAMES` frames, that protocol is not tested here (the gain test over
        all frames covers a single protocol).
    z
        Standard errors; ``0`` switches the test off (an empty list).
    """
    if z <= 0 or first is None or losses is None or first.shape != losses.shape:
        return []
    worse = []
    for name, sel in _protocol_frames(protocols, first.size).items():
        if int(sel.sum()) < MIN_TEST_FRAMES:
            continue
        mean, se = _paired_mean_se(first[sel], losses[sel])
        if mean - z * se > 0:
            worse.append(name)
    return worse


def _protocol_frames(protocols: Sequence[str], n: int) -> dict[str, np.ndarray]:
    """Each protocol's frames as a boolean mask over the ``n`` frames, in order of first appearance;
    empty with a single protocol or when ``protocols`` does not name every frame."""
    names = np.asarray(protocols)
    if names.size != n or np.unique(names).size < 2:
        return {}
    return {name: names == name for name in dict.fromkeys(protocols)}


def protocol_means(losses: np.ndarray, protocols: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """``((protocol, mean loss of its frames), ...)`` in order of first appearance; empty with a single
    protocol or when ``protocols`` does not name every frame of ``losses``."""
    frames = _protocol_frames(protocols, losses.size)
    return tuple((name, round(float(losses[sel].mean()), 6)) for name, sel in frames.items())


class EarlyStopping:
    """Keep the state of the lowest validation loss among the steps allowed to be released; stop after
    ``patience`` evaluations without a new one."""

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best: float = float("inf")
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_frames: np.ndarray | None = None
        self.first: tuple[int, float, np.ndarray | None, dict[str, torch.Tensor]] | None = None
        self.bad = 0
        self.refused: list[tuple[int, list[str]]] = []  # (step, protocols worse) of lower-loss steps

    @property
    def first_units(self) -> np.ndarray | None:
        """The per-frame (or per-line) losses of the first evaluation, step 0; None before it."""
        return None if self.first is None else self.first[2]

    def update(
        self,
        step: int,
        loss: float,
        model: nn.Module,
        frames: np.ndarray | None = None,
        worse: Sequence[str] = (),
    ) -> bool:
        """Record ``loss`` (per-frame losses ``frames``, optional) at ``step``; ``worse``: protocols on
        which this step is significantly worse than step 0 (it cannot be released); True: stop the run."""
        if loss < self.best and self.first is not None and worse:
            self.refused.append((step, list(worse)))
        elif loss < self.best:
            self.best, self.best_step, self.bad, self.best_frames = loss, step, 0, frames
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if self.first is None:
                self.first = (step, loss, frames, self.best_state)
            return False
        self.bad += 1
        return self.patience > 0 and self.bad >= self.patience

    def keep_first_unless_significant(self, z: float) -> bool:
        """Go back to the first evaluation's state when the best one's per-frame gain over it is not
        larger than ``z`` standard errors (:func:`significant_gain`); True if it went back."""
        if self.first is None or self.best_step == self.first[0]:
            return False
        if significant_gain(self.first[2], self.best_frames, z) is not False:
            return False
        self.best_step, self.best, self.best_frames, self.best_state = self.first
        return True
