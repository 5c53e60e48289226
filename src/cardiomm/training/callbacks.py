"""Diagnostic callbacks: per-rank sample logs and per-rank weight dumps (used by the DDP test).

- :class:`SampleLogCallback` appends ``epoch index`` lines (dataset indices of every training frame this
  rank processes) to ``<folder>/rank<r>.txt``: ranks must see disjoint frames within an epoch.
- :class:`RankWeightsCallback` writes this rank's model state dict to ``<folder>/rank<r>.safetensors``
  at the end of training: DDP ranks must hold identical weights.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import lightning as L

from cardiomm.utils.atomic import atomic_path

__all__ = ["SampleLogCallback", "RankWeightsCallback"]


class SampleLogCallback(L.Callback):
    """Log the dataset indices of the training frames each rank processes.

    Parameters
    ----------
    folder
        Output folder (created); one text file per global rank.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        epoch = trainer.current_epoch
        with open(self.folder / f"rank{trainer.global_rank}.txt", "a") as fh:
            for index in batch.index.tolist():
                fh.write(f"{epoch} {index}\n")


class RankWeightsCallback(L.Callback):
    """Save each rank's model weights (safetensors) when training ends.

    Parameters
    ----------
    folder
        Output folder (created); one file per global rank.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from safetensors.torch import save_file  # noqa: PLC0415 - lazy: importing this module loads no safetensors

        model = getattr(pl_module, "model", pl_module)
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.folder / f"rank{trainer.global_rank}.safetensors") as tmp:
            save_file(tensors, str(tmp))
