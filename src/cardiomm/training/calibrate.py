"""Calibrating the output layer's weight per sampling mask on a validation split.

The trained SENSE output layer (:class:`~cardiomm.models.layers.output_dc.OutputDC`) weighs the network's
image against the acquired samples with ``lam``. Training chooses ``lam`` for its own loss and masks;
the protocol's masks and metric may want another one per mask (the stage-7 CardioMM gains 1.2 dB PSNR and
0.011 SSIM at ktRadial 8x with ``lam = 0.01`` instead of its trained 0.20). Calibration, with the
network's outputs fixed:

1. :func:`sweep_output_weight`: for each mask, the protocol PSNR / SSIM (means over the files) of the
   trained layer and of the layer at each ``lam`` of a grid;
2. :func:`choose_weights`: per mask, the ``lam`` of highest PSNR among those whose SSIM is at least the
   trained layer's minus ``ssim_tolerance``;
3. :func:`fit_mask_weights`: ``log lam = log lam_0 + LAM_GAIN w . phi(mask)`` fitted to them by least
   squares (:func:`~cardiomm.models.layers.output_dc.mask_features`);
4. :func:`with_mask_weights`: the model with that mask-dependent layer (``output_dc = "sense-mask"``),
   which :func:`sweep_output_weight` scores again (``lam="model"``) before anyone decides to keep it.

Only validation data may be used (never a test split). ``scripts/calibrate_output_layer.py`` runs it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from cardiomm.errors import ConfigError
from cardiomm.evaluation.metrics import evaluate_volume
from cardiomm.io import rss_from_kspace
from cardiomm.models.layers.output_dc import LAM_GAIN, OutputDC, mask_features, sense_proximal
from cardiomm.recon.learned import LearnedRecon, kspace_scale
from cardiomm.recon.pipeline import MaskSpec, ReconTask, infer_pattern, iter_batches, load_task
from cardiomm.recon.prompts import task_prompts

__all__ = ["SweepRow", "choose_weights", "fit_mask_weights", "sweep_output_weight", "with_mask_weights"]


@dataclass(frozen=True)
class SweepRow:
    """Mean protocol metrics over the files for one mask and one weight.

    ``lam`` is the fixed weight, or ``"model"`` for the model's own output layer. ``features`` are the
    mean :func:`mask_features` of the mask's frames.
    """

    mask: str
    lam: float | str
    psnr: float
    ssim: float
    features: tuple[float, float]


def _layer(model: nn.Module) -> OutputDC:
    layer = getattr(model, "output_dc", None)
    if not isinstance(layer, OutputDC):
        raise ConfigError("calibration needs a model with a trained output layer (output_dc = sense)")
    return layer


def sweep_output_weight(
    recon: LearnedRecon,
    files: Sequence[Path],
    masks: Sequence[MaskSpec],
    grid: Sequence[float],
    *,
    progress: Callable[[SweepRow], None] | None = None,
) -> list[SweepRow]:
    """Score ``recon``'s model on ``files`` (fully sampled) under each mask, with its own output layer
    (``lam="model"``) and with the layer at each weight of ``grid``; the network runs once per frame."""
    model = cast(Any, recon.model)  # CardioMM or VarNet: forward_kspace_maps / output_image
    layer = _layer(model)
    rows: list[SweepRow] = []
    for spec in masks:
        name = f"{spec.pattern}{spec.accel}"
        scores: dict[float | str, list[tuple[float, float]]] = {}
        features: list[torch.Tensor] = []
        for path in files:
            task = ReconTask(Path(path), None, Path("unused.mat"), Path(path).as_posix(), mask_spec=spec)
            volume, mask = load_task(task)
            mask_type, accel = infer_pattern(mask, None, spec)
            meta, us = task_prompts(task, mask_type, accel)
            reference = rss_from_kspace(volume.frames()).view(
                volume.n_frames, volume.n_slices, volume.ny, volume.nx
            )
            cached = []
            with torch.inference_mode():
                for _, k, m in iter_batches(volume, mask, 4):
                    scale = kspace_scale(k)
                    k = k / scale
                    inputs = recon.network_inputs(k, m, str(mask_type), spec.acs, meta, us)
                    k_out, csm = model.forward_kspace_maps(*inputs)
                    cached.append((k, m, k_out, csm, scale))
                    features.append(mask_features(m))
                weights: list[float | str] = ["model", *grid]
                for lam in weights:
                    images = []
                    for k, m, k_out, csm, scale in cached:
                        if lam == "model":
                            image = model.output_image(k, m, k_out, csm)
                        else:
                            weight = torch.full((k.shape[0],), float(lam))
                            image = sense_proximal(k, m, k_out, csm, weight, layer.n_iter).abs()
                        images.append(image * scale)
                    pred = torch.cat(images).view_as(reference)
                    metrics = evaluate_volume(reference, pred)
                    scores.setdefault(lam, []).append((metrics.psnr, metrics.ssim))
        phi = torch.cat(features).mean(dim=0)
        for lam, values in scores.items():
            row = SweepRow(
                name,
                lam,
                float(np.mean([v[0] for v in values])),
                float(np.mean([v[1] for v in values])),
                (float(phi[0]), float(phi[1])),
            )
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def choose_weights(rows: Sequence[SweepRow], ssim_tolerance: float = 0.005) -> dict[str, float]:
    """Per mask, the grid weight of highest PSNR whose SSIM is >= the model's own minus the tolerance
    (masks where none qualifies are left out)."""
    chosen: dict[str, float] = {}
    for name in dict.fromkeys(r.mask for r in rows):
        own = next(r for r in rows if r.mask == name and r.lam == "model")
        ok = [r for r in rows if r.mask == name and r.lam != "model" and r.ssim >= own.ssim - ssim_tolerance]
        if ok:
            chosen[name] = float(max(ok, key=lambda r: r.psnr).lam)
    return chosen


def fit_mask_weights(rows: Sequence[SweepRow], chosen: dict[str, float]) -> tuple[float, tuple[float, float]]:
    """Least-squares ``(lam_0, w)`` of ``log lam = log lam_0 + LAM_GAIN w . phi`` through the chosen
    weights (``phi`` the masks' mean features)."""
    features = {r.mask: r.features for r in rows}
    names = sorted(chosen)
    if len(names) < 3:
        raise ConfigError(f"calibration: {len(names)} masks qualify, at least 3 are needed for the fit")
    a = np.array([[1.0, LAM_GAIN * features[n][0], LAM_GAIN * features[n][1]] for n in names])
    b = np.log(np.array([chosen[n] for n in names]))
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return float(math.exp(coef[0])), (float(coef[1]), float(coef[2]))


def with_mask_weights(model: nn.Module, lam0: float, weights: tuple[float, float]) -> nn.Module:
    """A copy of ``model`` whose output layer is mask-dependent (``output_dc = "sense-mask"``) with
    ``lam_0`` and ``w``; every other weight unchanged."""
    _layer(model)
    config = replace(cast(Any, model.config), output_dc="sense-mask")
    new = type(model)(config).eval()
    state = copy.deepcopy(model.state_dict())
    state["output_dc.lam"] = torch.tensor([lam0])
    state["output_dc.lam_weights"] = torch.tensor(weights, dtype=torch.float32)
    new.load_state_dict(state)
    return new
