"""Model construction by kind and the release artefact (safetensors + JSON config + model card).

Model kinds:

=============  ===================================================================================
``cardiomm``   :class:`cardiomm.models.CardioMM` with text conditioning (projection heads trained)
``promptmr``   :class:`cardiomm.models.CardioMM` with ``text_conditioning=False`` (PromptMR-style)
``varnet``     :class:`cardiomm.models.baselines.VarNet` (E2E-VarNet)
=============  ===================================================================================

Release format. CardioMM / PromptMR use :func:`cardiomm.models.save_checkpoint` unchanged (the model
kind goes into the card). VarNet uses the same layout, written here: ``model.safetensors`` (weights;
metadata ``cardiomm_config`` / ``cardiomm_card``), ``config.json`` = ``VarNetConfig.to_dict()``
(with ``"model": "varnet"``) and ``model_card.md``. :func:`load_release` dispatches on that key and never
unpickles anything (safetensors + JSON only).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cardiomm import __version__
from cardiomm.errors import CheckpointError, ConfigError, UnknownChoiceError
from cardiomm.models import CardioMM, count_parameters
from cardiomm.models.baselines import VARNET_PRESETS, VarNet, VarNetConfig
from cardiomm.models.checkpoint import (
    card_markdown,
    checkpoint_paths,
    load_checkpoint,
    load_weights,
    output_description,
    save_checkpoint,
)
from cardiomm.utils.atomic import atomic_path

if TYPE_CHECKING:
    from cardiomm.models.baselines import VarNet

__all__ = ["MODEL_KINDS", "Release", "build_model", "model_kind", "save_release", "load_release"]

#: Model kinds understood by :func:`build_model` and the training module.
MODEL_KINDS: tuple[str, ...] = ("cardiomm", "promptmr", "varnet")


def build_model(kind: str, preset: str = "small", overrides: Mapping[str, Any] | None = None) -> nn.Module:
    """Build a fresh network of ``kind`` from a preset plus field overrides.

    Parameters
    ----------
    kind
        ``cardiomm``, ``promptmr`` or ``varnet``.
    preset
        ``paper``, ``small`` or ``tiny`` (:data:`cardiomm.models.PRESETS` /
        :data:`cardiomm.models.baselines.VARNET_PRESETS`).
    overrides
        Config field changes (e.g. ``{"n_cascades": 6}`` or ``{"grad_checkpoint": True}``).
    """
    overrides = dict(overrides or {})
    if kind in ("cardiomm", "promptmr"):
        if kind == "promptmr":
            overrides["text_conditioning"] = False
        elif overrides.get("text_conditioning") is False:
            raise ConfigError("model kind 'cardiomm' needs text_conditioning=True (use kind 'promptmr')")
        return CardioMM(preset, **overrides)
    if kind == "varnet":
        if preset not in VARNET_PRESETS:
            raise UnknownChoiceError(
                f"unknown VarNet preset {preset!r}; choose from {', '.join(VARNET_PRESETS)}"
            )
        if overrides.pop("grad_checkpoint", False):
            raise ConfigError("gradient checkpointing is only available for the CardioMM / PromptMR models")
        try:
            config = replace(VARNET_PRESETS[preset], **overrides)
        except TypeError as exc:
            raise ConfigError(f"invalid VarNet override: {exc}") from None
        return VarNet(config)
    raise UnknownChoiceError(f"unknown model kind {kind!r}; choose from {', '.join(MODEL_KINDS)}")


def model_kind(model: nn.Module) -> str:
    """The kind of a built network (``cardiomm``, ``promptmr`` or ``varnet``)."""
    if isinstance(model, VarNet):
        return "varnet"
    if isinstance(model, CardioMM):
        return "cardiomm" if model.config.text_conditioning else "promptmr"
    raise UnknownChoiceError(f"not a cardiomm reconstruction network: {type(model).__name__}")


@dataclass(frozen=True)
class Release:
    """A loaded release: the model (eval mode), its kind, config object and card."""

    model: nn.Module
    kind: str
    config: Any
    card: dict[str, Any]
    path: Path


def _save_varnet(path: str | os.PathLike[str], model: VarNet, extra_card: Mapping[str, Any]) -> Path:
    from safetensors.torch import save_file  # noqa: PLC0415 - lazy: importing this module loads no safetensors

    weights, config_path, card_path = checkpoint_paths(path)
    config_json = json.dumps(model.config.to_dict(), indent=2, sort_keys=True)
    card: dict[str, Any] = {
        "model": "E2E-VarNet",
        "model_kind": "varnet",
        "preset": model.config.preset,
        "cardiomm_version": __version__,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input": "masked_kspace (b, c, ky, kx) complex64, mask (b, 1, ky, kx) bool",
        "output": output_description(model.config.output_dc, model.config.output_dc_floor),
        "parameters": count_parameters(model),
    }
    card.update(dict(extra_card))
    try:
        card_json = json.dumps(card, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"extra_card is not JSON-serialisable: {exc}", path=path) from None
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": "pt",
        "cardiomm_config": config_json,
        "cardiomm_card": card_json,
        "cardiomm_aliases": "{}",
    }
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    with atomic_path(config_path) as tmp:
        tmp.write_text(config_json + "\n")
    with atomic_path(card_path) as tmp:
        title = f"E2E-VarNet checkpoint: `{json.loads(card_json).get('preset', 'custom')}`"
        tmp.write_text(card_markdown(title, json.loads(card_json), config_json, sha))
    return weights


def save_release(
    path: str | os.PathLike[str], model: nn.Module, extra_card: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` as safetensors + ``config.json`` + ``model_card.md``; return the weights path.

    Parameters
    ----------
    path
        A folder (created) or a ``*.safetensors`` file name.
    model
        A :class:`~cardiomm.models.CardioMM` or :class:`~cardiomm.models.baselines.VarNet`.
    extra_card
        JSON-serialisable card fields (training data, steps, wall time, metrics...).
    """
    kind = model_kind(model)
    card = {"model_kind": kind, **dict(extra_card or {})}
    if kind == "varnet":
        assert isinstance(model, VarNet)  # model_kind checked the class
        return _save_varnet(path, model, card)

    assert isinstance(model, CardioMM)  # model_kind accepts nothing else
    return save_checkpoint(path, model, extra_card=card)


def _read_metadata(weights: Path) -> dict[str, str]:
    if not weights.is_file():
        raise CheckpointError("checkpoint not found", path=weights)
    from safetensors import safe_open  # noqa: PLC0415 - lazy: importing this module loads no safetensors

    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            return dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"not a readable safetensors checkpoint ({msg})", path=weights) from None


def load_release(path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Release:
    """Load a release written by :func:`save_release` (or :func:`cardiomm.models.save_checkpoint`).

    Only safetensors and JSON are read (no pickle). Raises :class:`~cardiomm.errors.CheckpointError`
    for a missing, corrupt or mismatching checkpoint.
    """
    weights, config_path, _ = checkpoint_paths(path)
    metadata = _read_metadata(weights)
    text = metadata.get("cardiomm_config")
    if text is None and config_path.is_file():
        text = config_path.read_text()
    try:
        raw_config = json.loads(text) if text else {}
        card = json.loads(metadata.get("cardiomm_card", "{}"))
    except json.JSONDecodeError:
        raise CheckpointError("corrupt checkpoint metadata", path=weights) from None
    if raw_config.get("model") == "varnet":
        try:
            config = VarNetConfig.from_dict(raw_config)
        except ConfigError as exc:
            raise CheckpointError(f"invalid VarNet config in checkpoint: {exc}", path=weights) from None
        model: nn.Module = VarNet(config)
        load_weights(model, weights)
        model.to(device).eval()
        return Release(model=model, kind="varnet", config=config, card=card, path=weights)

    loaded = load_checkpoint(weights, device=device)
    kind = str(card.get("model_kind", "cardiomm" if loaded.config.text_conditioning else "promptmr"))
    return Release(model=loaded.model, kind=kind, config=loaded.config, card=loaded.card, path=weights)
