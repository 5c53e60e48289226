"""``ReconModule``: the LightningModule that trains any cardiomm reconstruction network.

It owns the loss, optimiser, schedule, text embedding and logging (style rule 12); the networks are
plain ``nn.Module``\\ s built by :func:`cardiomm.models.release.build_model`.

Recipe (reference section 8.1): SSIM loss (:class:`cardiomm.training.losses.SSIMLoss`,
``data_range`` = volume max of the fully sampled RSS) or L1; AdamW (lr 2e-4, weight decay 0.01);
StepLR (every 5 epochs, gamma 0.3); gradient-norm clipping is a Trainer option
(``gradient_clip_val``, 0.01 in the paper). A non-finite training loss aborts the run, as published.

Text conditioning (kind ``cardiomm``): the frozen text encoder (:func:`cardiomm.text.get_encoder`) is
**not** a sub-module (not in the state dict, not wrapped by DDP, never trained); it encodes each distinct
prompt once (its per-prompt cache) on the CPU, and the raw embeddings ``(b, text_dim)`` enter the
model, whose trainable projection heads are part of the network.

Validation / test: loss plus PSNR / SSIM / NMSE under the evaluation protocol
(:func:`cardiomm.evaluation.frame_metrics`: per-frame 99.5-percentile normalisation, skimage metrics)
for the model **and** the zero-filled RSS of the same undersampled frames. Metrics are
``torchmetrics.MeanMetric`` averages over frames, synchronised across DDP ranks at the epoch end, and
logged as ``val/loss``, ``val/psnr``, ``val/zf_psnr``... (``test/...`` for the test set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.types import OptimizerLRSchedulerConfig
from torch import nn
from torchmetrics import MeanMetric

from cardiomm.errors import ConfigError, DataValueError
from cardiomm.models import CardioMM
from cardiomm.models.layers.output_dc import OutputDC
from cardiomm.models.release import MODEL_KINDS, build_model
from cardiomm.physics.coil_combine import rss
from cardiomm.physics.fft import ifft2c
from cardiomm.text import get_encoder
from cardiomm.training.losses import make_loss
from cardiomm.training.records import ReconBatch

__all__ = ["ReconModule", "METRIC_NAMES"]

#: Per-stage metrics (model and zero-filled).
METRIC_NAMES: tuple[str, ...] = ("loss", "psnr", "ssim", "nmse", "zf_loss", "zf_psnr", "zf_ssim", "zf_nmse")


class ReconModule(L.LightningModule):
    """Train / validate / test a reconstruction network on :class:`~cardiomm.training.records.ReconBatch`.

    Parameters
    ----------
    model
        ``cardiomm`` (text-conditioned), ``promptmr`` (CardioMM without text) or ``varnet``.
    preset
        Model preset: ``paper``, ``small`` or ``tiny``.
    model_overrides
        Config field changes of the network (e.g. ``{"n_cascades": 6}``).
    text_encoder
        Text encoder name or folder (``minilm``, ``clip``, ``hash``...); default: the one the model
        config names. Only used by ``cardiomm``.
    loss
        ``ssim`` (published) or ``l1``.
    lr, weight_decay
        AdamW settings.
    lr_step_epochs, lr_gamma
        StepLR: multiply the lr by ``lr_gamma`` every ``lr_step_epochs`` epochs.
    grad_checkpoint
        Activation checkpointing per cascade (CardioMM / PromptMR; for ``paper`` on small GPUs).
    eval_scheme
        Normalisation of the evaluation metrics (``percentile``, ``maxval``, ``std``).
    log_images
        Log one validation frame (target | zero-filled | model) per epoch to TensorBoard.
    output_lam_jitter
        Random scaling of the trained output layer's weight during training
        (:attr:`~cardiomm.models.layers.output_dc.OutputDC.lam_jitter`; 0 = off); needs an output layer.
    """

    def __init__(
        self,
        model: str = "cardiomm",
        preset: str = "small",
        model_overrides: Mapping[str, Any] | None = None,
        text_encoder: str | None = None,
        loss: str = "ssim",
        lr: float = 2e-4,
        weight_decay: float = 0.01,
        lr_step_epochs: int = 5,
        lr_gamma: float = 0.3,
        grad_checkpoint: bool = False,
        eval_scheme: str = "percentile",
        log_images: bool = True,
        output_lam_jitter: float = 0.0,
    ) -> None:
        super().__init__()
        if model not in MODEL_KINDS:
            raise ConfigError(f"unknown model kind {model!r}; choose from {', '.join(MODEL_KINDS)}")
        self.save_hyperparameters()
        overrides = dict(model_overrides or {})
        if grad_checkpoint:
            overrides["grad_checkpoint"] = True
        self.kind = model
        self.model = build_model(model, preset, overrides)
        self.loss_fn = make_loss(loss)
        if output_lam_jitter:
            layer = getattr(self.model, "output_dc", None)
            try:
                jitter = float(output_lam_jitter)
            except (TypeError, ValueError):
                jitter = math.nan
            if not isinstance(layer, OutputDC) or not math.isfinite(jitter) or jitter < 0:
                raise ConfigError(
                    "model.output_lam_jitter must be a finite number >= 0 and needs an output layer "
                    f"(output_dc = sense, sense-mask or sense-noise); got {output_lam_jitter!r}"
                )
            layer.lam_jitter = jitter
        self.eval_scheme = eval_scheme
        self.log_images = log_images
        self.text_encoder_name = text_encoder
        self._encoder: Any = None  # frozen, outside the module tree (see the module docstring)
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict({m: MeanMetric(nan_strategy="ignore") for m in METRIC_NAMES})
                for stage in ("val", "test")
            }
        )

    # ------------------------------------------------------------------------------------ text
    @property
    def uses_text(self) -> bool:
        """True for the text-conditioned CardioMM."""
        return self.kind == "cardiomm"

    def text_encoder(self) -> Any:
        """The frozen text encoder (built on first use)."""
        if self._encoder is None:
            model = self.model
            assert isinstance(model, CardioMM), "only CardioMM / PromptMR networks have a text config"
            config = model.config
            name = self.text_encoder_name or config.text_encoder
            kwargs = {"dim": config.text_dim} if str(name).lower() == "hash" else {}
            encoder = get_encoder(name, **kwargs)
            if encoder.dim != config.text_dim:
                raise ConfigError(
                    f"text encoder {name!r} gives {encoder.dim}-d embeddings "
                    f"but the model expects {config.text_dim}"
                )
            self._encoder = encoder
        return self._encoder

    def embed(self, prompts: Sequence[str]) -> torch.Tensor:
        """Raw embeddings ``(b, text_dim)`` float32 on the module's device (cached per prompt)."""
        if any(not p for p in prompts):
            raise DataValueError("empty prompt in a batch for the text-conditioned model")
        return self.text_encoder().encode(list(prompts)).to(self.device)

    # ------------------------------------------------------------------------------------ forward
    @staticmethod
    def _mask_type(batch: ReconBatch) -> str | list[str]:
        types = list(batch.mask_type)
        return types[0] if len(set(types)) == 1 else types

    def forward(self, batch: ReconBatch) -> torch.Tensor:
        """Reconstruction ``(b, y, x)`` float32 of a batch."""
        mask_type = self._mask_type(batch)
        if self.kind == "varnet":
            return self.model(batch.masked_kspace, batch.mask, mask_type, batch.n_acs)
        meta = us = None
        if self.uses_text:
            meta, us = self.embed(batch.metadata_prompt), self.embed(batch.undersampling_prompt)
        return self.model(batch.masked_kspace, batch.mask, meta, us, mask_type, batch.n_acs)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move a :class:`ReconBatch` (frozen dataclass) to ``device``."""
        if isinstance(batch, ReconBatch):
            return batch.to(device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    @staticmethod
    def zero_filled(batch: ReconBatch) -> torch.Tensor:
        """RSS of the inverse FFT of the undersampled k-space ``(b, y, x)``."""
        return rss(ifft2c(batch.masked_kspace.to(torch.complex64)), dim=1).float()

    # ------------------------------------------------------------------------------------ steps
    def training_step(self, batch: ReconBatch, batch_idx: int) -> torch.Tensor:
        output = self(batch)
        loss = self.loss_fn(output, batch.target, batch.max_value)
        if not torch.isfinite(loss):
            raise DataValueError(
                f"non-finite training loss at step {self.global_step} "
                f"(frames {list(batch.fname)} {batch.frame.tolist()})"
            )
        b = len(batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=b, sync_dist=True)
        self.log(
            "train/acceleration",
            batch.acceleration.float().mean(),
            on_step=True,
            on_epoch=False,
            batch_size=b,
        )
        return loss

    def _eval_step(self, stage: str, batch: ReconBatch, batch_idx: int) -> None:
        from cardiomm.evaluation import frame_metrics  # noqa: PLC0415 - lazy: importing this module loads no skimage

        output = self(batch).float()
        zf = self.zero_filled(batch)
        b = len(batch)
        stage_metrics = cast(nn.ModuleDict, self.metrics[stage])
        m = {name: cast(MeanMetric, metric) for name, metric in stage_metrics.items()}
        for i in range(b):  # per-frame losses so that the epoch value is a mean over frames
            sl = slice(i, i + 1)
            m["loss"].update(self.loss_fn(output[sl], batch.target[sl], batch.max_value[sl]).detach())
            m["zf_loss"].update(self.loss_fn(zf[sl], batch.target[sl], batch.max_value[sl]).detach())
            gt = batch.target[i].detach().cpu().numpy()
            for prefix, pred in (("", output[i]), ("zf_", zf[i])):
                fm = frame_metrics(gt, pred.detach().cpu().numpy(), scheme=self.eval_scheme)
                m[f"{prefix}psnr"].update(torch.tensor(fm.psnr, dtype=torch.float32))
                m[f"{prefix}ssim"].update(torch.tensor(fm.ssim, dtype=torch.float32))
                m[f"{prefix}nmse"].update(torch.tensor(fm.nmse, dtype=torch.float32))
        for name, metric in m.items():
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True, batch_size=b,
                     prog_bar=name in ("loss", "psnr", "zf_psnr"))  # fmt: skip
        if stage == "val" and batch_idx == 0 and self.log_images:
            self._log_image(batch, output, zf)

    def validation_step(self, batch: ReconBatch, batch_idx: int) -> None:
        self._eval_step("val", batch, batch_idx)

    def test_step(self, batch: ReconBatch, batch_idx: int) -> None:
        self._eval_step("test", batch, batch_idx)

    def predict_step(self, batch: ReconBatch, batch_idx: int) -> torch.Tensor:
        return self(batch)

    def _log_image(self, batch: ReconBatch, output: torch.Tensor, zf: torch.Tensor) -> None:
        if not isinstance(self.logger, TensorBoardLogger) or self.trainer.sanity_checking:
            return
        row = torch.cat([batch.target[0], zf[0], output[0]], dim=-1).detach().float().cpu()
        row = (row / max(float(batch.max_value[0]), 1e-12)).clamp(0, 1)
        tag = f"val/{batch.fname[0]}#{int(batch.frame[0])}: target | zero-filled | model"
        self.logger.experiment.add_image(tag, row[None], self.global_step)

    # ------------------------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        hp = self.hparams
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp["weight_decay"])
        scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=hp["lr_step_epochs"], gamma=hp["lr_gamma"]
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
