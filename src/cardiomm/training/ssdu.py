"""k-space splitting for self-supervised learning from undersampled data (SSDU, ZS-SSL) and its loss.

SSDU (Yaman et al., MRM 2020, doi:10.1002/mrm.28378) splits the acquired k-space locations ``Omega`` of
a frame into two disjoint sets: ``Theta``, given to the network as its input and data-consistency mask,
and ``Lambda``, held back; the loss compares the network's k-space estimate with the measurement on
``Lambda`` only. ZS-SSL (Yaman et al., ICLR 2022, arXiv:2102.07737) holds out a further fixed set
``Gamma`` from ``Omega`` that is never in ``Theta`` nor ``Lambda``; the loss on ``Gamma`` (network input
``Omega \\ Gamma``) drives automatic early stopping.

Choices here:

* **The ACS region stays in ``Theta``** (as ZS-SSL; SSDU keeps a small central block): the
  sensitivity networks estimate coil maps from the ACS, so a split never removes calibration lines.
  ``Lambda`` and ``Gamma`` are drawn from the acquired locations *outside* the ACS region.
* **Variable-density (Gaussian) selection** as in SSDU: a location is picked with probability
  proportional to ``exp(-d^2 / (2 s^2))`` around the k-space centre, ``s = (n - 1) / std_scale`` per
  axis (``std_scale = 4`` as published), sequentially without replacement among the candidates.
* **Unit** ``line`` (default for 1-D Cartesian masks): whole ky lines move between the sets, so
  ``Theta`` is again a line mask of the family the network was trained on; ``spoke`` does the same for
  Cartesian radial masks (whole spokes, found by :func:`cardiomm.sampling.spokes.spoke_labels`, move,
  chosen uniformly: every spoke crosses the centre; a mask without recognisable spokes falls back to
  points); ``point`` (SSDU's original choice, used for other 2-D masks) moves single ``(ky, kx)``
  locations.
* Fractions count units (lines, spokes or points) outside the ACS: ``val_fraction`` of them form ``Gamma``;
  ``loss_fraction`` of the rest form ``Lambda`` (at least one unit in each set, at least one left in
  ``Theta``). A frame needs two such units to be split and three to also give a validation set
  (kt masks at high R on small matrices have frames with fewer: those are skipped, not the scan).

All masks are ``(ky, kx)`` bool numpy arrays per frame; randomness comes only from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cardiomm.errors import ConfigError, MaskError
from cardiomm.sampling.spokes import spoke_labels

__all__ = [
    "LOSS_WEIGHTINGS",
    "SPLIT_UNITS",
    "SplitSpec",
    "is_line_mask",
    "acs_band",
    "gaussian_select",
    "holdout",
    "split_frame",
    "loss_units",
    "outer_units",
    "check_acs",
    "ssdu_loss",
    "ssdu_line_errors",
    "unit_ids",
    "unit_weights",
]

#: Loss weightings accepted by :class:`SplitSpec` (``k``: :mod:`cardiomm.training.ssdu_weight`).
LOSS_WEIGHTINGS: tuple[str, ...] = ("none", "k")

#: Units accepted by :class:`SplitSpec` (``auto``: lines for 1-D Cartesian masks, else points).
SPLIT_UNITS: tuple[str, ...] = ("auto", "line", "spoke", "point")


@dataclass(frozen=True)
class SplitSpec:
    """How acquired k-space locations are split.

    Attributes
    ----------
    loss_fraction
        Fraction of the non-ACS units (after the validation hold-out) drawn into the loss set ``Lambda``
        (SSDU's rho = 0.4).
    val_fraction
        Fraction of the non-ACS units held out once per frame as the validation set ``Gamma``
        (ZS-SSL; 0 disables validation and early stopping).
    unit
        ``auto``, ``line``, ``spoke`` or ``point`` (see the module docstring).
    std_scale
        Gaussian selection width: ``s = (n - 1) / std_scale`` per axis.
    weighting
        ``none`` (SSDU) or ``k``: the loss weighted by ``(1 - K)^-1`` from the sampling and split
        densities (Millard and Chiew; :mod:`cardiomm.training.ssdu_weight`).
    """

    loss_fraction: float = 0.4
    val_fraction: float = 0.2
    unit: str = "auto"
    std_scale: float = 4.0
    weighting: str = "none"

    def __post_init__(self) -> None:
        if not 0.0 < self.loss_fraction < 1.0:
            raise ConfigError(f"loss fraction must be in (0, 1), got {self.loss_fraction}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"validation fraction must be in [0, 1), got {self.val_fraction}")
        if self.unit not in SPLIT_UNITS:
            raise ConfigError(f"split unit must be one of {', '.join(SPLIT_UNITS)}, got {self.unit!r}")
        if self.std_scale <= 0:
            raise ConfigError(f"std_scale must be > 0, got {self.std_scale}")
        if self.weighting not in LOSS_WEIGHTINGS:
            raise ConfigError(
                f"loss weighting must be one of {', '.join(LOSS_WEIGHTINGS)}, got {self.weighting!r}"
            )

    def to_dict(self) -> dict[str, object]:
        """Plain dict for the model card."""
        return {
            "loss_fraction": self.loss_fraction,
            "val_fraction": self.val_fraction,
            "unit": self.unit,
            "std_scale": self.std_scale,
            "weighting": self.weighting,
            "acs": "kept in the data-consistency set",
        }


def is_line_mask(mask: np.ndarray) -> bool:
    """True when every ky row of the ``(ky, kx)`` mask is all sampled or all empty (1-D Cartesian)."""
    return bool(np.all(mask == mask[:, :1]))


def _grid_ids(candidates: np.ndarray, kind: str) -> np.ndarray:
    """Unit id of every candidate location, ``-1`` elsewhere: its ky row (``line``) or flat index."""
    if kind == "line":
        return np.where(candidates, np.arange(candidates.shape[0])[:, None], -1)
    return np.where(candidates, np.arange(candidates.size).reshape(candidates.shape), -1)


def unit_ids(acquired: np.ndarray, candidates: np.ndarray, spec: SplitSpec) -> tuple[str, np.ndarray]:
    """The unit kind of a frame's split and the unit id of every candidate location (``-1`` elsewhere):
    the ky row (``line``), the spoke (``spoke``) or the flat index (``point``)."""
    if spec.unit != "point" and is_line_mask(acquired):
        return "line", _grid_ids(candidates, "line")
    if spec.unit == "spoke":
        labels = spoke_labels(acquired, candidates)
        if labels is not None:
            return "spoke", labels
    return "point", _grid_ids(candidates, "point")


def acs_band(shape: tuple[int, int], mask_type: str, n_acs: int) -> np.ndarray:
    """The calibration region the networks use, ``(ky, kx)`` bool (not intersected with a mask).

    The central ``n_acs`` ky lines, or the central ``n_acs x n_acs`` square for ``radial``; the same
    centring as :func:`cardiomm.models.sensitivity_net.acs_mask`.
    """
    ny, nx = shape
    if not 1 <= n_acs <= ny:
        raise MaskError(f"an ACS of {n_acs} lines does not fit {ny} ky lines")
    out = np.zeros(shape, dtype=bool)
    y0 = (ny - n_acs + 1) // 2
    if mask_type == "radial":
        if n_acs > nx:
            raise MaskError(f"an ACS square of {n_acs} does not fit {nx} kx samples")
        x0 = (nx - n_acs + 1) // 2
        out[y0 : y0 + n_acs, x0 : x0 + n_acs] = True
    else:
        out[y0 : y0 + n_acs] = True
    return out


def _gaussian_weights(shape: tuple[int, int], std_scale: float) -> np.ndarray:
    ny, nx = shape
    sy = max((ny - 1) / std_scale, 1e-6)
    sx = max((nx - 1) / std_scale, 1e-6)
    ky = (np.arange(ny) - ny // 2)[:, None]
    kx = (np.arange(nx) - nx // 2)[None, :]
    return np.exp(-0.5 * ((ky / sy) ** 2 + (kx / sx) ** 2))


def gaussian_select(
    candidates: np.ndarray, n: int, rng: np.random.Generator, *, unit: str = "point", std_scale: float = 4.0
) -> np.ndarray:
    """Pick ``n`` units among ``candidates`` by Gaussian variable-density selection without replacement.

    Parameters
    ----------
    candidates
        ``(ky, kx)`` bool: the selectable locations.
    n
        Units to pick: points, or ky lines when ``unit == "line"`` (a line is a row holding candidates).
    rng
        The only source of randomness.
    unit, std_scale
        ``"line"`` or ``"point"``; see :class:`SplitSpec`.

    Returns
    -------
    numpy.ndarray
        ``(ky, kx)`` bool, a subset of ``candidates``.
    """
    kind = "line" if unit == "line" else "point"
    return _select(_grid_ids(candidates, kind), kind, n, rng, std_scale)


def _select(ids: np.ndarray, kind: str, n: int, rng: np.random.Generator, std_scale: float) -> np.ndarray:
    """The locations of ``n`` of the unit ids ``ids`` (``-1``: not selectable) drawn without replacement:
    by Gaussian variable density about the k-space centre for lines (at the centre column) and points,
    uniformly for spokes (every spoke crosses the centre)."""
    units, p = unit_weights(ids, kind, std_scale)
    if n > units.size:
        raise MaskError(f"cannot pick {n} of {units.size} {kind}s")
    picked = rng.choice(units, size=n, replace=False, p=p / p.sum()) if n else units[:0]
    return np.isin(ids, picked) & (ids >= 0)


def unit_weights(ids: np.ndarray, kind: str, std_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The selectable unit ids of ``ids`` (``-1``: none) and their unnormalised draw weights: Gaussian
    variable density about the k-space centre for lines (at the centre column) and points, equal for
    spokes."""
    units = np.unique(ids[ids >= 0])
    if kind == "spoke":
        return units, np.ones(units.size)
    weights = _gaussian_weights(ids.shape, std_scale)
    return units, weights[units, ids.shape[1] // 2] if kind == "line" else weights.reshape(-1)[units]


def _count(ids: np.ndarray) -> int:
    return int(np.unique(ids[ids >= 0]).size)


def holdout(acquired: np.ndarray, acs: np.ndarray, spec: SplitSpec, rng: np.random.Generator) -> np.ndarray:
    """The ZS-SSL validation set ``Gamma`` of one frame, ``(ky, kx)`` bool.

    ``acquired`` and ``acs`` are ``(ky, kx)`` bool; ``Gamma`` lies in ``acquired & ~acs`` and leaves at
    least two units for the training splits. Empty when ``val_fraction`` is 0 or the frame has fewer
    than three acquired units outside the ACS.
    """
    if spec.val_fraction <= 0:
        return np.zeros_like(acquired, dtype=bool)
    unit, ids = unit_ids(acquired, acquired & ~acs, spec)
    n_units = _count(ids)
    if n_units < 3:  # keep two units for Theta and Lambda: this frame has no validation set
        return np.zeros_like(acquired, dtype=bool)
    n = min(max(1, round(spec.val_fraction * n_units)), n_units - 2)
    return _select(ids, unit, n, rng, spec.std_scale)


def split_frame(
    acquired: np.ndarray, acs: np.ndarray, spec: SplitSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One SSDU split ``(Theta, Lambda)`` of a frame's available locations.

    Parameters
    ----------
    acquired
        ``(ky, kx)`` bool: the locations available for training (the acquired set minus ``Gamma``).
    acs
        ``(ky, kx)`` bool calibration region (stays in ``Theta``).

    Returns
    -------
    tuple
        ``Theta`` and ``Lambda``, ``(ky, kx)`` bool, disjoint, ``Theta | Lambda == acquired``.
    """
    unit, ids = unit_ids(acquired, acquired & ~acs, spec)
    n_units = _count(ids)
    if n_units < 2:
        raise MaskError(f"{n_units} acquired {unit}(s) outside the ACS: too few to split")
    lam = _select(ids, unit, loss_units(n_units, spec), rng, spec.std_scale)
    return acquired & ~lam, lam


def loss_units(n_units: int, spec: SplitSpec) -> int:
    """Units drawn into ``Lambda`` from ``n_units >= 2``: ``loss_fraction`` of them, at least one, and at
    least one left in ``Theta``."""
    return min(max(1, round(spec.loss_fraction * n_units)), n_units - 1)


def outer_units(mask: np.ndarray, acs: np.ndarray, spec: SplitSpec) -> int:
    """Acquired units (ky lines, spokes, or points) of a frame outside the ACS."""
    return _count(unit_ids(mask, mask & ~acs, spec)[1])


def check_acs(frame_masks: np.ndarray, acs: np.ndarray, what: str) -> None:
    """Refuse frames without a calibration region.

    Parameters
    ----------
    frame_masks
        ``(b, ky, kx)`` bool acquired locations per frame.
    acs
        ``(ky, kx)`` bool calibration region (:func:`acs_band`).
    what
        The file, named in the error.

    Raises
    ------
    MaskError
        Less than 90 % of the ACS region acquired in some frame.
    """
    n_band = int(acs.sum())
    for t, m in enumerate(frame_masks):
        covered = int((m & acs).sum())
        if covered < 0.9 * n_band:
            raise MaskError(
                f"frame {t}: no calibration (ACS) region: {covered} of the {n_band} central ACS "
                "locations are acquired; self-supervised adaptation needs the ACS (check --acs)",
                path=what,
            )


def ssdu_loss(
    pred_kspace: torch.Tensor,
    kspace: torch.Tensor,
    loss_mask: torch.Tensor,
    eps: float = 1e-12,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Normalised L1 + L2 k-space loss on held-back locations (SSDU), averaged over frames.

    Per frame: ``||M (k_hat - k)||_2 / ||M k||_2 + ||M (k_hat - k)||_1 / ||M k||_1`` over all coils,
    with ``M`` the loss mask; norms of complex values (``|z|``). With ``weight`` (``(b, 1, ky, kx)``
    float, e.g. the K-weights of :mod:`cardiomm.training.ssdu_weight`), ``M`` is ``sqrt(weight)`` on the
    loss mask: the squared error is weighted by ``weight``.

    Parameters
    ----------
    pred_kspace
        Network k-space estimate ``(b, c, ky, kx)`` complex64.
    kspace
        Measured k-space ``(b, c, ky, kx)`` complex64 (its values at ``loss_mask`` are used).
    loss_mask
        ``(b, 1, ky, kx)`` bool.
    weight
        Optional ``(b, 1, ky, kx)`` non-negative float weights of the squared error.

    Returns
    -------
    torch.Tensor
        Scalar float32.
    """
    m = loss_mask.to(pred_kspace.device)
    diff = torch.where(m, pred_kspace - kspace, torch.zeros((), dtype=pred_kspace.dtype, device=m.device))
    ref = torch.where(m, kspace, torch.zeros((), dtype=kspace.dtype, device=m.device))
    if weight is not None:
        amp = weight.to(device=m.device, dtype=torch.float32).sqrt()
        diff, ref = diff * amp, ref * amp
    dims = (1, 2, 3)
    l2 = torch.linalg.vector_norm(diff, dim=dims) / torch.linalg.vector_norm(ref, dim=dims).clamp_min(eps)
    l1 = diff.abs().sum(dim=dims) / ref.abs().sum(dim=dims).clamp_min(eps)
    return (l1 + l2).mean()


def ssdu_line_errors(
    pred_kspace: torch.Tensor, kspace: torch.Tensor, loss_mask: torch.Tensor, eps: float = 1e-12
) -> torch.Tensor:
    """Squared error of every held-back k-space line: ``sum |k_hat - k|^2`` over the coils and the
    samples of one ``ky`` row of ``loss_mask``, over the frame's ``||M k||_2^2``.

    The units of the release test when a run has too few validation frames for a per-frame test
    (:func:`cardiomm.training.adapt.significant_gain`). Shapes as :func:`ssdu_loss`.

    Returns
    -------
    torch.Tensor
        ``(n_lines,)`` float64: frame by frame, the rows of ``loss_mask`` holding a sample, in ``ky``
        order.
    """
    m = loss_mask.to(pred_kspace.device)
    err = torch.where(m, (pred_kspace - kspace).abs().square(), torch.zeros((), device=m.device))
    ref = torch.where(m, kspace.abs().square(), torch.zeros((), device=m.device))
    per_row = err.sum(dim=(1, 3)).double()  # (b, ky)
    scale = ref.sum(dim=(1, 2, 3)).double().clamp_min(eps)  # (b,)
    rows = m.any(dim=3).any(dim=1)  # (b, ky)
    return (per_row / scale[:, None])[rows]
