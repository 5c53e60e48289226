"""Training: Lightning module and data module, losses, samplers, configs and the release artefact.

The only package (with ``cardiomm.cli``) that imports Lightning. Names are loaded on first access, so
``import cardiomm.training`` is light and ``cardiomm.training.losses`` works without Lightning.

=======================  =====================================================================
module                   content
=======================  =====================================================================
``losses``               :class:`SSIMLoss` (fastMRI semantics), :class:`L1Loss`, :func:`make_loss`
``records``              :class:`ReconSample`, :class:`ReconBatch`, :func:`collate_samples`
``dataset``              :class:`UndersampledFrames` (per-sample training masks, fixed eval masks)
``tree``                 :class:`TreeFrameDataset`, :func:`discover_scans`, :func:`split_scans`
``samplers``             :class:`FrameOrder`, :class:`FrameBatchSampler` (epoch/rank aware, shape groups)
``datamodule``           :class:`FrameDataModule` (tree or database shards)
``module``               :class:`ReconModule` (loss, AdamW + StepLR, text embedding, metrics, logging)
``release``              :func:`build_model`, :func:`save_release`, :func:`load_release`
``config`` / ``run``     :func:`load_config`, :class:`TrainConfig`, :func:`train`, :func:`make_trainer`
``callbacks``            :class:`SampleLogCallback`, :class:`RankWeightsCallback`
``freeze``               :func:`apply_train_only` (``--train-only`` / ``run.train_only``)
``ssdu``                 k-space splits (SSDU / ZS-SSL) and the k-space loss of ``cardiomm adapt``
``adapt_data``           :class:`AdaptScan`: the undersampled inputs of ``cardiomm adapt``
``adapt``                :func:`adapt` (self-supervised adaptation, a plain torch loop)
=======================  =====================================================================
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "SSIMLoss",
    "L1Loss",
    "make_loss",
    "ssim_map",
    "ReconSample",
    "ReconBatch",
    "collate_samples",
    "UndersampledFrames",
    "train_mask_generator",
    "eval_mask_generator",
    "TreeFrameDataset",
    "TreeScan",
    "discover_scans",
    "split_scans",
    "FrameOrder",
    "FrameBatchSampler",
    "FrameDataModule",
    "ReconModule",
    "MODEL_KINDS",
    "build_model",
    "save_release",
    "load_release",
    "Release",
    "TrainConfig",
    "RunOptions",
    "load_config",
    "train",
    "make_trainer",
    "TrainResult",
    "SampleLogCallback",
    "RankWeightsCallback",
]

_LAZY = {
    "SSIMLoss": "losses", "L1Loss": "losses", "make_loss": "losses", "ssim_map": "losses",
    "ReconSample": "records", "ReconBatch": "records", "collate_samples": "records",
    "UndersampledFrames": "dataset", "train_mask_generator": "dataset", "eval_mask_generator": "dataset",
    "TreeFrameDataset": "tree", "TreeScan": "tree", "discover_scans": "tree", "split_scans": "tree",
    "FrameOrder": "samplers", "FrameBatchSampler": "samplers",
    "FrameDataModule": "datamodule",
    "ReconModule": "module",
    "MODEL_KINDS": "release", "build_model": "release", "save_release": "release", "load_release": "release",
    "Release": "release",
    "TrainConfig": "config", "RunOptions": "config", "load_config": "config",
    "train": "run", "make_trainer": "run", "TrainResult": "run",
    "SampleLogCallback": "callbacks", "RankWeightsCallback": "callbacks",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"cardiomm.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cardiomm.training' has no attribute {name!r}")
