"""Prompt building and frozen text encoders.

Prompts (:mod:`cardiomm.text.prompts`) are pure string functions. Encoders
(:mod:`cardiomm.text.encoders`, MiniLM through :mod:`cardiomm.text.bert`) are loaded on first attribute
access, so ``import cardiomm.text`` stays light.
"""

from __future__ import annotations

from typing import Any

from cardiomm.text.prompts import (
    FIELD_TOKENS,
    LIFESPANS,
    MODALITY_KEYWORDS,
    MODALITY_PROMPT,
    format_field,
    lifespan_from_name,
    metadata_prompt,
    modality_view_from_name,
    normalise_prompt,
    scanner_from_dirname,
    undersampling_prompt,
)

_ENCODER_NAMES = (
    "TextEncoder",
    "CacheInfo",
    "HashEncoder",
    "MiniLMEncoder",
    "ClipTextEncoder",
    "get_encoder",
)

__all__ = [
    "FIELD_TOKENS",
    "LIFESPANS",
    "MODALITY_KEYWORDS",
    "MODALITY_PROMPT",
    "format_field",
    "lifespan_from_name",
    "metadata_prompt",
    "modality_view_from_name",
    "normalise_prompt",
    "scanner_from_dirname",
    "undersampling_prompt",
    *_ENCODER_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _ENCODER_NAMES:
        from cardiomm.text import encoders  # noqa: PLC0415 - lazy: importing this module loads no safetensors, torch

        return getattr(encoders, name)
    raise AttributeError(f"module 'cardiomm.text' has no attribute {name!r}")
