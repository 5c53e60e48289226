"""Safe checkpoints: safetensors weights + JSON config + model card (no pickle, no ``torch.load``).

Layout for ``save_checkpoint("run/ckpt", ...)`` (a folder)::

    run/ckpt/model.safetensors   weights; its metadata also embeds the config and card (self-contained)
    run/ckpt/config.json         ModelConfig.to_json()
    run/ckpt/model_card.md       human-readable card (preset, parameter counts, sha256, extra fields)

For ``save_checkpoint("best.safetensors", ...)`` (a file) the side files are ``best.json`` and
``best.md``. Tensors shared between state-dict keys (the tied PReLU of ``shared_prelu=True``) are stored
once, with an alias table in the metadata. Every file is written atomically.

:func:`load_checkpoint` rebuilds the model from the embedded config and raises
:class:`~cardiomm.errors.CheckpointError` (one line, naming the file) for a missing, truncated or corrupt
file, a config that does not parse, a preset other than ``expected_preset``, missing / unexpected keys,
shape mismatches or non-finite weights.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cardiomm import __version__
from cardiomm.errors import CardiommError, CheckpointError
from cardiomm.models.cardiomm import CardioMM, count_parameters
from cardiomm.models.config import PRESETS, ModelConfig
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "checkpoint_paths",
    "LoadedCheckpoint",
    "WEIGHTS_NAME",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "model_card.md"
_META_CONFIG = "cardiomm_config"
_META_CARD = "cardiomm_card"
_META_ALIASES = "cardiomm_aliases"


@dataclass(frozen=True)
class LoadedCheckpoint:
    """What :func:`load_checkpoint` returns: the model (eval mode), its config and its card."""

    model: CardioMM
    config: ModelConfig
    card: dict[str, Any]
    path: Path


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """``(weights, config, card)`` paths of a checkpoint folder or ``*.safetensors`` file."""
    p = Path(path)
    if p.suffix == ".safetensors":
        return p, p.with_suffix(".json"), p.with_suffix(".md")
    return p / WEIGHTS_NAME, p / CONFIG_NAME, p / CARD_NAME


#: How the output layer of each ``output_dc`` mode weighs the network's image (model cards).
_OUTPUT_WEIGHTS = {
    "sense": "a learned weight lam",
    "sense-mask": "a learned weight lam per sampling mask",
    "sense-noise": "a learned weight lam scaled by each frame's measured noise",
}


def output_description(output_dc: str, floor: float = 0.0) -> str:
    """The model card's ``output`` field for a network with the output layer ``output_dc`` whose weight
    is at least ``floor`` (``output_dc_floor``)."""
    weight = _OUTPUT_WEIGHTS.get(output_dc)
    if weight is not None:
        if floor > 0:
            weight = f"{weight}, at least {floor:g}"
        return (
            "magnitude (b, y, x) float32 of the trained SENSE data-consistency layer "
            f"(output_dc = {output_dc}: the network's coil maps, {weight}, fixed CG iterations)"
        )
    return "RSS magnitude (b, y, x) float32"


def _version() -> str:
    return __version__


def _dedupe(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Keep one key per shared tensor; return (tensors, alias -> canonical key)."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], str] = {}
    for key, t in state.items():
        ident = (t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape), tuple(t.stride()))
        if t.numel() and ident in seen:
            aliases[key] = seen[ident]
            continue
        seen[ident] = key
        tensors[key] = t.detach().to("cpu").contiguous()
    return tensors, aliases


def card_markdown(title: str, card: Mapping[str, Any], config_json: str, sha256: str) -> str:
    """Model card: a field table (parameter counts formatted), the weights' sha256 and the JSON config."""
    lines = [f"# {title}", "", "| field | value |", "|---|---|"]
    for key, value in card.items():
        if key != "parameters":
            lines.append(f"| {key} | {value} |")
    for key, value in card.get("parameters", {}).items():
        lines.append(f"| parameters ({key}) | {value:,} |")
    lines.append(f"| sha256 of the weights file | `{sha256}` |")
    lines += ["", "## Config", "", "```json", config_json, "```", ""]
    return "\n".join(lines)


def save_checkpoint(
    path: str | os.PathLike[str],
    model: CardioMM,
    config: ModelConfig | None = None,
    extra_card: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``model`` as safetensors + JSON config + model card; return the weights path.

    Parameters
    ----------
    path
        A folder (created) or a ``*.safetensors`` file name.
    model
        The model; its state dict is saved (prompt banks included).
    config
        Its config (default ``model.config``); must describe the same architecture.
    extra_card
        JSON-serialisable fields added to the model card (training data, epochs, metrics...).
    """
    config = model.config if config is None else config
    if config.architecture() != model.config.architecture():
        raise CheckpointError("config does not describe this model's architecture", path=path)
    weights, config_path, card_path = checkpoint_paths(path)
    tensors, aliases = _dedupe(model.state_dict())
    card: dict[str, Any] = {
        "model": "CardioMM",
        "preset": config.preset,
        "text_encoder": config.text_encoder,
        "cardiomm_version": _version(),
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "input": "masked_kspace (b, c, ky, kx) complex64, mask (b, 1, ky, kx) bool, "
        "text embeddings (b, text_dim)",
        "output": output_description(config.output_dc, config.output_dc_floor),
        "parameters": count_parameters(model),
    }
    card.update(dict(extra_card or {}))
    try:
        card_json = json.dumps(card, sort_keys=True, default=str)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"extra_card is not JSON-serialisable: {exc}", path=path) from None
    metadata = {
        "format": "pt",
        _META_CONFIG: json.dumps(config.to_dict(), sort_keys=True),
        _META_CARD: card_json,
        _META_ALIASES: json.dumps(aliases, sort_keys=True),
    }
    from safetensors.torch import save_file  # noqa: PLC0415 - lazy: importing this module loads no safetensors

    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    with atomic_path(config_path) as tmp:
        tmp.write_text(config.to_json() + "\n")
    with atomic_path(card_path) as tmp:
        tmp.write_text(
            card_markdown(
                f"CardioMM checkpoint: `{config.preset}`", json.loads(card_json), config.to_json(), sha
            )
        )
    return weights


def _read(weights: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not weights.is_file():
        raise CheckpointError("checkpoint not found", path=weights)
    from safetensors import safe_open  # noqa: PLC0415 - lazy: importing this module loads no safetensors

    try:
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError / ValueError
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"not a readable safetensors checkpoint ({msg})", path=weights) from None
    return metadata, tensors


def _config_from(metadata: Mapping[str, str], config_path: Path, weights: Path) -> ModelConfig:
    text = metadata.get(_META_CONFIG)
    if text is None and config_path.is_file():
        text = config_path.read_text()
    if text is None:
        raise CheckpointError("checkpoint carries no cardiomm model config", path=weights)
    try:
        return ModelConfig.from_dict(json.loads(text))
    except (json.JSONDecodeError, CardiommError) as exc:
        raise CheckpointError(f"invalid model config in checkpoint: {exc}", path=weights) from None


def _load_into(
    model: nn.Module, tensors: Mapping[str, torch.Tensor], aliases: Mapping[str, str], weights: Path
) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors and aliases.get(k) not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        raise CheckpointError("weights do not match the architecture: " + ", ".join(parts), path=weights)
    full = {k: tensors[k] if k in tensors else tensors[aliases[k]] for k in expected}
    for key, value in full.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"shape mismatch for {key}: checkpoint {tuple(value.shape)}, "
                f"model {tuple(expected[key].shape)}",
                path=weights,
            )
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(f"non-finite values in {key}", path=weights)
    model.load_state_dict(full, strict=True)


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a checkpoint's weights into an existing ``model`` (keys and shapes must match exactly)."""
    weights, _, _ = checkpoint_paths(path)
    metadata, tensors = _read(weights)
    _load_into(model, tensors, json.loads(metadata.get(_META_ALIASES, "{}")), weights)


def load_checkpoint(
    path: str | os.PathLike[str],
    expected_preset: str | ModelConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    grad_checkpoint: bool | None = None,
) -> LoadedCheckpoint:
    """Rebuild a :class:`CardioMM` from a checkpoint folder or ``*.safetensors`` file.

    Parameters
    ----------
    path
        Folder written by :func:`save_checkpoint` or its weights file.
    expected_preset
        If given, a preset name or config the checkpoint must match (else :class:`CheckpointError`).
    device
        Where to put the model.
    grad_checkpoint
        Override the runtime option stored in the config.
    """
    weights, config_path, _ = checkpoint_paths(path)
    metadata, tensors = _read(weights)
    config = _config_from(metadata, config_path, weights)
    if expected_preset is not None:
        if isinstance(expected_preset, str):
            if config.preset != expected_preset:
                raise CheckpointError(
                    f"checkpoint is for model preset {config.preset!r}, expected {expected_preset!r}",
                    path=weights,
                )
            reference = PRESETS.get(expected_preset)
        else:
            reference = expected_preset
        if reference is not None and reference.architecture() != config.architecture():
            diff = sorted(k for k, v in reference.architecture().items() if config.architecture().get(k) != v)
            raise CheckpointError(f"checkpoint architecture differs from the expected one in {diff}", weights)
    if grad_checkpoint is not None:
        config = config.replace(grad_checkpoint=grad_checkpoint)
    try:
        card = json.loads(metadata.get(_META_CARD, "{}"))
        aliases = json.loads(metadata.get(_META_ALIASES, "{}"))
    except json.JSONDecodeError:
        raise CheckpointError("corrupt checkpoint metadata", path=weights) from None
    model = CardioMM(config)
    _load_into(model, tensors, aliases, weights)
    model.to(device).eval()
    return LoadedCheckpoint(model=model, config=config, card=card, path=weights)
