"""nnU-Net v2 backend for user-provided trained models (e.g. the UK Biobank SAX model used by CardioMM).

``nnunetv2`` is an optional dependency, imported lazily (``pip install nnunetv2``). The model folder
is an nnU-Net results folder such as
``Dataset100_UKBB_Petersen_SAX/nnUNetTrainer__nnUNetPlans__2d`` (with ``plans.json``,
``dataset.json`` and ``fold_*/checkpoint_final.pth``). The predictor is used as a library
(``nnunetv2.inference.predict_from_raw_data.nnUNetPredictor.predict_single_npy_array``), one frame
``(z, y, x)`` at a time with spacing ``(dz, dy, dx)``; a ``2d`` configuration segments slice by slice.

Labels: the UK Biobank SAX dataset already uses the cardiomm convention (1 LV, 2 MYO, 3 RV); pass
``label_map`` for models trained with another convention (e.g. ``ACDC_TO_CARDIOMM``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cardiomm.analysis.labels import remap_labels
from cardiomm.analysis.segmentation.base import Segmenter, as_tzyx
from cardiomm.errors import ModelNotFoundError

__all__ = ["NnUNetSegmenter"]

_INSTALL = "pip install nnunetv2"


class NnUNetSegmenter(Segmenter):
    """Segment with a trained nnU-Net v2 model folder.

    Parameters
    ----------
    model_folder
        nnU-Net trained-model folder (``.../nnUNetTrainer__nnUNetPlans__2d``).
    folds
        Folds to ensemble (default ``(0,)``).
    checkpoint
        Checkpoint file name inside each fold folder.
    device
        torch device string (``"cpu"``, ``"cuda"``).
    label_map
        Model label -> cardiomm label; None keeps the labels (UK Biobank convention).
    use_mirroring, tile_step_size
        nnU-Net test-time mirroring and sliding-window step.

    Raises
    ------
    ModelNotFoundError
        ``nnunetv2`` is not installed, or the model folder does not exist.
    """

    name = "nnunet"

    def __init__(
        self,
        model_folder: str | os.PathLike[str],
        *,
        folds: Sequence[int] = (0,),
        checkpoint: str = "checkpoint_final.pth",
        device: str = "cpu",
        label_map: Mapping[int, int] | None = None,
        use_mirroring: bool = True,
        tile_step_size: float = 0.5,
    ) -> None:
        try:
            import nnunetv2  # noqa: F401, PLC0415 - optional dependency (installed by the user)
        except ImportError:
            msg = f"the nnU-Net segmenter needs the optional package nnunetv2: {_INSTALL}"
            raise ModelNotFoundError(msg) from None
        self.model_folder = Path(model_folder)
        if not (self.model_folder / "plans.json").is_file():
            msg = "not an nnU-Net v2 trained-model folder (no plans.json)"
            raise ModelNotFoundError(msg, path=self.model_folder)
        self.folds = tuple(folds)
        self.checkpoint = checkpoint
        self.device = device
        self.label_map = dict(label_map) if label_map is not None else None
        self.use_mirroring = use_mirroring
        self.tile_step_size = tile_step_size
        self._predictor: Any = None

    @property
    def predictor(self) -> Any:
        """The initialised ``nnUNetPredictor`` (built on first use)."""
        if self._predictor is None:
            import torch  # noqa: PLC0415 - lazy: importing this module loads no torch
            from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor  # noqa: PLC0415 - optional dependency (installed by the user)

            pred = nnUNetPredictor(
                tile_step_size=self.tile_step_size,
                use_gaussian=True,
                use_mirroring=self.use_mirroring,
                device=torch.device(self.device),
                verbose=False,
                verbose_preprocessing=False,
                allow_tqdm=False,
            )
            pred.initialize_from_trained_model_folder(
                str(self.model_folder), use_folds=self.folds, checkpoint_name=self.checkpoint
            )
            self._predictor = pred
        return self._predictor

    def segment(self, images: ArrayLike, spacing_mm: tuple[float, float, float]) -> NDArray[np.uint8]:
        """Segment ``(t, z, y, x)`` magnitude images frame by frame; returns uint8 cardiomm labels."""
        vol, shape = as_tzyx(images)
        props = {"spacing": [float(s) for s in spacing_mm]}
        frames = []
        for t in range(vol.shape[0]):
            seg = self.predictor.predict_single_npy_array(vol[t][None], dict(props), None, None, False)
            seg = np.asarray(seg)
            if self.label_map:
                frames.append(remap_labels(seg, self.label_map, strict=False))
            else:
                frames.append(seg.astype(np.uint8))
        return np.ascontiguousarray(np.stack(frames).reshape(shape))
