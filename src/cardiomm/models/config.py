"""Model configuration: the :class:`ModelConfig` dataclass and the named :data:`PRESETS`.

A config is plain data (ints, tuples, strings, bools) and round-trips through JSON
(:meth:`ModelConfig.to_dict` / :meth:`ModelConfig.from_dict`); checkpoints store it next to the weights.

Presets
-------
``paper``
    The released CardioMM (reference 7.3 / 7.8): K = 10 cascades, cascade U-Net 48 / [72, 96, 120] /
    prompts [24, 48, 72] x L [3, 3, 3] x S [64, 32, 16], CABs enc [2, 3, 3] dec [2, 2, 3] skip [1, 1, 1]
    bottleneck 3; sensitivity U-Net 24 / [36, 48, 60] / prompts [12, 24, 36]; CLIP text (512 -> 256).
    63,439,426 trainable parameters (63,439,174 with ``shared_prelu=True``) and 5,225,472 fixed
    prompt-bank values, vs the reference's analytic ~63.4 M / ~5.2 M (Appendix A).
``small``
    Same topology, trainable on a 2-core CPU and about 1 s per 10-coil 246 x 512 frame there
    (BENCHMARKS.md): K = 4, 8 / [16, 24, 32] / prompts [4, 8, 8] x S [32, 16, 8], one CAB per stage,
    sensitivity U-Net 4 / [6, 8, 8]; MiniLM text (384 -> 64). 717,921 trainable parameters,
    89,856 prompt-bank values.
``tiny``
    For unit tests: K = 2, 4 / [4, 4, 4], hash text encoder (16 -> 8); 21,196 trainable parameters.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cardiomm.errors import ConfigError, UnknownChoiceError

__all__ = ["ModelConfig", "PRESETS", "get_config", "HEAD_NORMS", "OUTPUT_DC_MODES", "RUNTIME_FIELDS"]

#: Normalisations of the projection-head output (see :class:`cardiomm.models.heads.LMHead`).
HEAD_NORMS = ("l2", "published")

#: Output layers (``output_dc`` of :class:`ModelConfig` and of the VarNet config): ``"none"``, the RSS of
#: the final k-space (published), ``"sense"``, the trained
#: :class:`~cardiomm.models.layers.output_dc.OutputDC`, ``"sense-mask"``, that layer with a weight that
#: depends on each frame's sampling mask, or ``"sense-noise"``, with a weight that follows each frame's
#: measured noise (:func:`~cardiomm.models.layers.output_dc.noise_ratio`).
OUTPUT_DC_MODES = ("none", "sense", "sense-mask", "sense-noise")

#: Fields that do not define the architecture (runtime options, the init seed); ignored when matching
#: checkpoints against presets.
RUNTIME_FIELDS = ("grad_checkpoint", "init_seed")

Triple = tuple[int, int, int]


def check_output_dc_floor(floor: object, where: str) -> None:
    """Raise :class:`ConfigError` unless ``floor`` (the lower bound of the output layer's weight) is a
    finite number >= 0."""
    if (
        isinstance(floor, bool)
        or not isinstance(floor, (int, float))
        or not math.isfinite(floor)
        or floor < 0
    ):
        raise ConfigError(f"{where}: output_dc_floor must be a finite number >= 0, got {floor!r}")


def check_output_dc(output_dc: object, iterations: object, where: str, floor: object = 0.0) -> None:
    """Raise :class:`UnknownChoiceError` unless ``output_dc`` is one of :data:`OUTPUT_DC_MODES`, and
    :class:`ConfigError` unless ``iterations`` (its CG iterations) is a positive integer and ``floor``
    (the lower bound of its weight) a finite number >= 0, zero without an output layer."""
    if output_dc not in OUTPUT_DC_MODES:
        raise UnknownChoiceError(f"{where}: output_dc {output_dc!r} not in {OUTPUT_DC_MODES}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ConfigError(f"{where}: output_dc_iterations must be a positive integer, got {iterations!r}")
    check_output_dc_floor(floor, where)
    if floor and output_dc == "none":
        raise ConfigError(f"{where}: output_dc_floor {floor!r} needs an output layer (output_dc != none)")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`~cardiomm.models.cardiomm.CardioMM` model.

    Attributes
    ----------
    preset
        Name of the preset this config came from (``"custom"`` otherwise); checked when loading.
    n_cascades
        Number of unrolled cascades K.
    n_feat0, feature_dim, prompt_dim
        Cascade U-Net widths: top level, encoder levels 2-3 + bottleneck, prompt channels per decoder level.
    len_prompt, prompt_size
        Prompt-bank length L and spatial size S per decoder level (shared with the sensitivity U-Net).
    n_enc_cab, n_dec_cab, n_skip_cab, n_bottleneck_cab
        CAB counts (shared with the sensitivity U-Net, as published).
    sens_n_feat0, sens_feature_dim, sens_prompt_dim
        Sensitivity U-Net widths.
    kernel_size, reduction
        CAB kernel and channel-attention reduction (3 and 4 in CardioMM).
    text_dim
        Dimension of the raw text-encoder embedding (512 CLIP, 384 MiniLM).
    embed_dim
        Output of the projection heads (256 in CardioMM).
    text_encoder
        Name of the text encoder the model expects (see ``cardiomm.text.get_encoder``).
    text_conditioning
        False: no heads, no metadata adapters; prompt weights from pooled features (PromptMR-style).
    shared_prelu
        True ties every default-activation PReLU of all U-Nets (the published quirk, needed to load
        published weights); False (default) gives each CAB its own PReLU.
    head_norm
        ``"l2"`` (default): L2 normalisation of the 256-d head output over features. ``"published"``:
        the released code's effective behaviour, ``x / max(|x|, 1e-12)`` element-wise (its
        ``F.normalize(dim=1)`` acts on a singleton axis), i.e. a sign vector; needed for published weights.
    output_dc
        ``"none"`` (default, as published): the output is the RSS of the last cascade's k-space.
        ``"sense"``: a trained SENSE data-consistency layer with the network's coil maps and a learned
        weight (:class:`~cardiomm.models.layers.output_dc.OutputDC`) gives the output.
    output_dc_iterations
        Conjugate-gradient iterations of that layer (the same at training and inference).
    output_dc_floor
        Lower bound of that layer's weight, per frame (0 = none): a noise-scaled weight
        (``"sense-noise"``) never falls below it, so a frame with little measured noise does not let
        that noise through (``docs/models.md``).
    grad_checkpoint
        Activation checkpointing per cascade during training (runtime option).
    init_seed
        Seed of the parameter and prompt-bank initialisation (the global RNG state is not touched).
    """

    preset: str = "custom"
    n_cascades: int = 10
    n_feat0: int = 48
    feature_dim: Triple = (72, 96, 120)
    prompt_dim: Triple = (24, 48, 72)
    len_prompt: Triple = (3, 3, 3)
    prompt_size: Triple = (64, 32, 16)
    n_enc_cab: Triple = (2, 3, 3)
    n_dec_cab: Triple = (2, 2, 3)
    n_skip_cab: Triple = (1, 1, 1)
    n_bottleneck_cab: int = 3
    sens_n_feat0: int = 24
    sens_feature_dim: Triple = (36, 48, 60)
    sens_prompt_dim: Triple = (12, 24, 36)
    kernel_size: int = 3
    reduction: int = 4
    text_dim: int = 512
    embed_dim: int = 256
    text_encoder: str = "clip"
    text_conditioning: bool = True
    shared_prelu: bool = False
    head_norm: str = "l2"
    output_dc: str = "none"
    output_dc_iterations: int = 10
    output_dc_floor: float = 0.0
    grad_checkpoint: bool = False
    init_seed: int = 0

    def __post_init__(self) -> None:
        for name in (
            "feature_dim",
            "prompt_dim",
            "len_prompt",
            "prompt_size",
            "n_enc_cab",
            "n_dec_cab",
            "n_skip_cab",
            "sens_feature_dim",
            "sens_prompt_dim",
        ):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != 3:
                raise ConfigError(f"model config: {name} must have 3 entries, got {value!r}")
            object.__setattr__(self, name, tuple(int(v) for v in value))
            minimum = 0 if name == "n_skip_cab" else 1
            if min(getattr(self, name)) < minimum:
                raise ConfigError(f"model config: {name} entries must be >= {minimum}, got {value!r}")
        for name in (
            "n_cascades",
            "n_feat0",
            "n_bottleneck_cab",
            "sens_n_feat0",
            "kernel_size",
            "reduction",
            "text_dim",
            "embed_dim",
        ):
            value = getattr(self, name)
            minimum = 0 if name == "n_bottleneck_cab" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"model config: {name} must be a positive integer, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"model config: kernel_size must be odd, got {self.kernel_size}")
        if self.head_norm not in HEAD_NORMS:
            raise UnknownChoiceError(f"model config: head_norm {self.head_norm!r} not in {HEAD_NORMS}")
        check_output_dc(self.output_dc, self.output_dc_iterations, "model config", self.output_dc_floor)

    # --- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def to_json(self) -> str:
        """Pretty JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`~cardiomm.errors.ConfigError`."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"model config must be a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"model config: unknown keys {unknown}")
        try:
            return cls(**dict(data))
        except TypeError as exc:
            raise ConfigError(f"model config: {exc}") from None

    def architecture(self) -> dict[str, Any]:
        """The fields that determine the weights (everything but ``preset`` and :data:`RUNTIME_FIELDS`)."""
        d = self.to_dict()
        for name in (*RUNTIME_FIELDS, "preset"):
            d.pop(name)
        return d

    def replace(self, **changes: Any) -> ModelConfig:
        """Copy with ``changes`` (the preset name becomes ``custom`` if the architecture changes)."""
        new = dataclasses.replace(self, **changes)
        if "preset" not in changes and new.architecture() != self.architecture():
            new = dataclasses.replace(new, preset="custom")
        return new


PRESETS: dict[str, ModelConfig] = {
    "paper": ModelConfig(preset="paper"),
    "small": ModelConfig(
        preset="small",
        n_cascades=4,
        n_feat0=8,
        feature_dim=(16, 24, 32),
        prompt_dim=(4, 8, 8),
        len_prompt=(3, 3, 3),
        prompt_size=(32, 16, 8),
        n_enc_cab=(1, 1, 1),
        n_dec_cab=(1, 1, 1),
        n_skip_cab=(1, 1, 1),
        n_bottleneck_cab=1,
        sens_n_feat0=4,
        sens_feature_dim=(6, 8, 8),
        sens_prompt_dim=(2, 4, 4),
        text_dim=384,
        embed_dim=64,
        text_encoder="minilm",
    ),
    "tiny": ModelConfig(
        preset="tiny",
        n_cascades=2,
        n_feat0=4,
        feature_dim=(4, 4, 4),
        prompt_dim=(2, 2, 2),
        len_prompt=(2, 2, 2),
        prompt_size=(8, 4, 2),
        n_enc_cab=(1, 1, 1),
        n_dec_cab=(1, 1, 1),
        n_skip_cab=(1, 1, 1),
        n_bottleneck_cab=1,
        sens_n_feat0=4,
        sens_feature_dim=(4, 4, 4),
        sens_prompt_dim=(2, 2, 2),
        text_dim=16,
        embed_dim=8,
        text_encoder="hash",
    ),
}


def get_config(name_or_config: str | ModelConfig | Mapping[str, Any], **overrides: Any) -> ModelConfig:
    """Resolve a preset name, a config or a config dict, then apply ``overrides``."""
    if isinstance(name_or_config, ModelConfig):
        cfg = name_or_config
    elif isinstance(name_or_config, str):
        if name_or_config not in PRESETS:
            choices = ", ".join(PRESETS)
            raise UnknownChoiceError(f"unknown model preset {name_or_config!r}; choose from {choices}")
        cfg = PRESETS[name_or_config]
    else:
        cfg = ModelConfig.from_dict(name_or_config)
    return cfg.replace(**overrides) if overrides else cfg
