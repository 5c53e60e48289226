"""Pluggable short-axis segmentation: ``get_segmenter(name).segment(images, spacing_mm) -> labels``.

Registered backends:

- ``"acdcunet"`` (default): a U-Net trained on the real ACDC labels (train patients of the real-anatomy
  split) with heavy augmentation, weights shipped with the package (CC BY-NC-SA 4.0, from ACDC), run
  with torch (:class:`~cardiomm.analysis.segmentation.unet.AcdcUNetSegmenter`).
- ``"myopari"``: the ACDC-trained ONNX model of the ``myopari`` package, run with onnxruntime
  (:class:`~cardiomm.analysis.segmentation.myopari.MyopariSegmenter`; ``pip install 'cardiomm[onnx]'``).
- ``"simunet"``: a small U-Net trained only on ``cardiomm simulate`` phantom frames, weights shipped
  with the package, run with torch on CPU (:class:`~cardiomm.analysis.segmentation.unet.SimUNetSegmenter`;
  ``weights=`` for user-trained weights). See ``docs/segmentation.md`` for the comparison with myopari.
- ``"nnunet"``: a user-provided nnU-Net v2 model folder, e.g. UK Biobank SAX
  (:class:`~cardiomm.analysis.segmentation.nnunet.NnUNetSegmenter`; needs ``model_folder=``).

Further backends register with :func:`register_segmenter`. Output labels follow
:mod:`cardiomm.analysis.labels` (LV 1, MYO 2, RV 3).
Backend modules (onnxruntime, nnunetv2, torch) load only when a segmenter is built.
"""

from __future__ import annotations

from typing import Any

from cardiomm.analysis.segmentation.base import (
    DEFAULT_SEGMENTER,
    Segmenter,
    as_tzyx,
    available_segmenters,
    dice,
    get_segmenter,
    register_segmenter,
)
from cardiomm.analysis.segmentation.myopari import MyopariSegmenter
from cardiomm.analysis.segmentation.nnunet import NnUNetSegmenter
from cardiomm.errors import ConfigError

__all__ = [
    "DEFAULT_SEGMENTER",
    "Segmenter",
    "as_tzyx",
    "available_segmenters",
    "dice",
    "get_segmenter",
    "register_segmenter",
    "AcdcUNetSegmenter",
    "MyopariSegmenter",
    "NnUNetSegmenter",
    "SimUNetSegmenter",
]


def _myopari(**kwargs: Any) -> Segmenter:
    return MyopariSegmenter(**kwargs)


def _simunet(**kwargs: Any) -> Segmenter:
    from cardiomm.analysis.segmentation.unet import SimUNetSegmenter  # noqa: PLC0415 - lazy: importing this module loads no torch

    return SimUNetSegmenter(**kwargs)


def _acdcunet(**kwargs: Any) -> Segmenter:
    from cardiomm.analysis.segmentation.unet import AcdcUNetSegmenter  # noqa: PLC0415 - lazy: importing this module loads no torch

    return AcdcUNetSegmenter(**kwargs)


def _nnunet(**kwargs: Any) -> Segmenter:
    if "model_folder" not in kwargs:
        raise ConfigError("the nnunet segmenter needs model_folder=<trained nnU-Net v2 model folder>")

    return NnUNetSegmenter(**kwargs)


register_segmenter("acdcunet", _acdcunet)
register_segmenter("myopari", _myopari)
register_segmenter("simunet", _simunet)
register_segmenter("nnunet", _nnunet)


def __getattr__(name: str) -> Any:
    if name == "MyopariSegmenter":
        return MyopariSegmenter
    if name == "NnUNetSegmenter":
        return NnUNetSegmenter
    if name in ("SimUNetSegmenter", "AcdcUNetSegmenter"):
        from cardiomm.analysis.segmentation import unet  # noqa: PLC0415 - lazy: importing this module loads no torch

        return getattr(unet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
