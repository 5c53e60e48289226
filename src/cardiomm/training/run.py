"""Run a training from a :class:`~cardiomm.training.config.TrainConfig` (what ``cardiomm train`` calls).

Steps: seed -> build :class:`ReconModule` + :class:`FrameDataModule` -> Lightning ``Trainer``
(:func:`make_trainer`) -> optional validation before training -> ``fit`` (resuming from
``checkpoints/last.ckpt`` with ``resume=True``) -> final validation (and test on the TestSet) ->
on global rank 0: the release checkpoint (safetensors + ``config.json`` + ``model_card.md`` with data,
steps, wall time, and final metrics model vs zero-filled), ``metrics.json`` and ``config.yaml``.

Lightning ``.ckpt`` files under ``checkpoints/`` are internal training state (optimiser, scheduler,
loop counters; pickled by Lightning) and only serve ``--resume``. The release artefact needs no pickle.

Precision ``auto`` (default): ``bf16-mixed`` on GPUs that support bf16, ``16-mixed`` on other GPUs,
``32-true`` on CPU. The physics (FFTs, data consistency, coil combination) stays complex64 in every mode.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cardiomm.errors import CheckpointError, ConfigError
from cardiomm.training.config import TrainConfig
from cardiomm.utils.atomic import atomic_path

__all__ = ["TrainResult", "make_trainer", "train", "resolve_precision", "LAST_CKPT"]

LAST_CKPT = "last.ckpt"


@dataclass
class TrainResult:
    """Outcome of :func:`train` (on every rank; files are written by rank 0 only)."""

    output_dir: Path
    release_dir: Path | None
    global_step: int
    epochs: float
    wall_time_s: float
    initial: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    global_rank: int = 0


def resolve_precision(precision: Any, accelerator: Any) -> Any:
    """``auto`` -> ``bf16-mixed`` / ``16-mixed`` on CUDA, ``32-true`` otherwise; other values unchanged."""
    if precision not in (None, "auto"):
        return precision
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    cuda = torch.cuda.is_available() and str(accelerator) in ("auto", "gpu", "cuda")
    if not cuda:
        return "32-true"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


def run_logger(out: Path) -> Any:
    """TensorBoard logs in ``out/tb`` when ``tensorboard`` is installed (extra ``[tensorboard]``), else
    Lightning's CSV logger (``out/tb/metrics.csv``): the default install leaves out tensorboard's
    ~60 MB (grpc, its data server) that only browsing the logs needs."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger  # noqa: PLC0415 - lazy: importing this module loads no lightning

    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        return TensorBoardLogger(save_dir=str(out), name="tb", version="", default_hp_metric=False)
    return CSVLogger(save_dir=str(out), name="tb", version="")


def make_trainer(config: TrainConfig, *, callbacks: list[Any] | None = None) -> Any:
    """Lightning ``Trainer`` for ``config`` (checkpointing, TensorBoard, progress bar, our samplers)."""
    import lightning as L  # noqa: PLC0415 - lazy: importing this module loads no lightning
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar  # noqa: PLC0415 - lazy: importing this module loads no lightning

    from cardiomm.training.callbacks import RankWeightsCallback, SampleLogCallback  # noqa: PLC0415 - lazy: importing this module loads no lightning

    # known and harmless: our module moves its typed batches itself; a deprecation inside Lightning
    warnings.filterwarnings("ignore", message=".*overridden `transfer_batch_to_device`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # a run that stops (max_steps, max_time) before its first validation: the top-k checkpoint has no
    # val/loss yet and last.ckpt is still written; Lightning raises instead once validation has run
    warnings.filterwarnings("ignore", message=".*could not find the monitored key.*")
    run = config.run
    out = Path(run.output_dir)
    kwargs = dict(config.trainer)
    if kwargs.get("use_distributed_sampler", False):
        raise ConfigError(
            "trainer.use_distributed_sampler must stay false: FrameDataModule shards frames per rank"
        )
    kwargs["use_distributed_sampler"] = False
    kwargs["precision"] = resolve_precision(kwargs.get("precision"), kwargs.get("accelerator", "auto"))
    kwargs.setdefault("gradient_clip_algorithm", "norm")
    # no_grad instead of inference_mode for evaluation: the torchmetrics states are reused between the
    # validate() before training and the validation passes inside fit()
    kwargs.setdefault("inference_mode", False)
    kwargs.setdefault("enable_progress_bar", run.progress_bar)
    cbs: list[Any] = [
        ModelCheckpoint(
            dirpath=out / "checkpoints",
            filename="epoch{epoch:03d}-step{step}",
            monitor="val/loss",
            mode="min",
            save_top_k=run.save_top_k,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        *(
            [
                ModelCheckpoint(
                    dirpath=out / "checkpoints",
                    save_top_k=0,
                    save_last=True,
                    every_n_train_steps=run.every_n_train_steps,
                )
            ]  # fmt: skip
            if run.every_n_train_steps
            else []
        ),
        LearningRateMonitor(logging_interval="epoch"),
    ]
    if kwargs["enable_progress_bar"]:
        cbs.append(RichProgressBar())
    if run.log_samples:
        cbs.append(SampleLogCallback(out / "samples"))
    if run.dump_rank_weights:
        cbs.append(RankWeightsCallback(out / "ranks"))
    cbs.extend(callbacks or [])
    kwargs.setdefault("logger", run_logger(out))
    kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + cbs
    kwargs.setdefault("default_root_dir", str(out))
    return L.Trainer(**kwargs)


def init_weights(module: Any, release: str | os.PathLike[str]) -> None:
    """Copy a release's weights into ``module.model`` (fine-tuning start).

    Raises
    ------
    CheckpointError
        Unreadable release, or another model kind / network configuration than the module's.
    """
    from cardiomm.models.release import load_release  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

    loaded = load_release(release)
    if loaded.kind != module.kind:
        raise CheckpointError(
            f"init_from holds a {loaded.kind!r} model, the run trains {module.kind!r}", path=release
        )
    mine = module.model.config
    # a run may add the trained output layer to a release without one (its ``lam`` starts at the init),
    # or make a release's fixed weight mask-dependent (``lam`` kept, the mask weights start at zero) or
    # noise-scaled (``lam`` kept: the weight at the reference noise); the weight's floor holds no weights
    if mine.output_dc != "none":
        mine = replace(mine, output_dc_floor=loaded.config.output_dc_floor)
    pair = (loaded.config.output_dc, mine.output_dc)
    widens = pair in (("sense", "sense-mask"), ("sense", "sense-noise")) or (
        loaded.config.output_dc == "none" and mine.output_dc != "none"
    )
    if widens:
        mine = replace(
            mine,
            output_dc=loaded.config.output_dc,
            output_dc_iterations=loaded.config.output_dc_iterations,
            preset=loaded.config.preset,
        )
    if mine != loaded.config:
        raise CheckpointError(
            "init_from holds another network configuration (preset) than the run's", path=release
        )
    result = module.model.load_state_dict(loaded.model.state_dict(), strict=not widens)
    if any(not key.startswith("output_dc.") for key in result.missing_keys) or result.unexpected_keys:
        raise CheckpointError(f"init_from: weights do not match ({result})", path=release)


def _metrics(trainer: Any, prefix: str) -> dict[str, float]:
    return {
        k[len(prefix) + 1 :]: round(float(v), 6)
        for k, v in sorted(trainer.callback_metrics.items())
        if k.startswith(prefix + "/")
    }


def train(config: TrainConfig, *, resume: bool = False, callbacks: list[Any] | None = None) -> TrainResult:
    """Train as configured; see the module docstring. Returns the run's numbers."""
    import lightning as L  # noqa: PLC0415 - lazy: importing this module loads no lightning
    import yaml  # noqa: PLC0415 - lazy: the CLI imports this module and loads no yaml up front

    from cardiomm.training.datamodule import FrameDataModule  # noqa: PLC0415 - lazy: importing this module loads no lightning, numpy, rich, torch
    from cardiomm.training.module import ReconModule  # noqa: PLC0415 - lazy: importing this module loads no lightning, numpy, torch, torchmetrics

    run = config.run
    out = Path(run.output_dir)
    ckpt_path = None
    if resume:
        last = out / "checkpoints" / LAST_CKPT
        if not last.is_file():
            raise ConfigError("nothing to resume: no checkpoints/last.ckpt in the output folder", path=out)
        ckpt_path = str(last)
    if run.threads is not None:
        import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

        torch.set_num_threads(int(run.threads))
    L.seed_everything(run.seed, workers=True, verbose=False)
    module = ReconModule(**config.model)
    if run.init_from is not None and not resume:
        init_weights(module, run.init_from)
    trained_parts = None
    if run.train_only is not None:  # also on resume: the optimiser state holds the same parameters
        from cardiomm.training.freeze import apply_train_only  # noqa: PLC0415 - lazy: importing this module loads no torch

        trained_parts = {"spec": run.train_only, **apply_train_only(module.model, run.train_only)}
    data_kwargs = dict(config.data)
    data_kwargs.setdefault("with_prompts", module.uses_text)
    data_kwargs.setdefault("progress", run.progress_bar)
    datamodule = FrameDataModule(**data_kwargs)
    trainer = make_trainer(config, callbacks=callbacks)
    if trainer.is_global_zero:
        with atomic_path(out / "config.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))

    initial: dict[str, float] = {}
    if run.validate_before_fit and not resume:
        trainer.validate(module, datamodule=datamodule, verbose=False)
        initial = _metrics(trainer, "val")
    start = time.perf_counter()
    try:  # weights_only: a checkpoint can never run code (a crafted last.ckpt is refused)
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"refused to load: not a plain-data checkpoint ({exc})", path=ckpt_path
        ) from None
    wall = time.perf_counter() - start
    if trainer.interrupted:
        raise KeyboardInterrupt

    if run.release_from == "best":
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        if best:  # our own Lightning checkpoint, read as plain data (weights_only: no code can run)
            try:
                module = ReconModule.load_from_checkpoint(best, weights_only=True)
            except pickle.UnpicklingError as exc:
                raise CheckpointError(
                    f"refused to load: not a plain-data checkpoint ({exc})", path=best
                ) from None
    trainer.validate(module, datamodule=datamodule, verbose=False)
    final = _metrics(trainer, "val")
    test: dict[str, float] = {}
    if run.test_after_fit and datamodule.has_test():
        trainer.test(module, datamodule=datamodule, verbose=False)
        test = _metrics(trainer, "test")

    frames = datamodule.summary()
    per_epoch = trainer.num_training_batches
    epochs = (
        trainer.global_step / per_epoch
        if per_epoch and per_epoch != float("inf")
        else float(trainer.current_epoch)
    )
    result = TrainResult(
        output_dir=out, release_dir=None, global_step=int(trainer.global_step), epochs=round(epochs, 2),
        wall_time_s=round(wall, 1), initial=initial, final=final, test=test, frames=frames,
        global_rank=int(trainer.global_rank),
    )  # fmt: skip
    if trainer.is_global_zero:
        card = {
            "training_data": str(config.data.get("data")),
            "data_source": datamodule.resolved_source(),
            "frames": frames,
            "optimizer_steps": result.global_step,
            "epochs": result.epochs,
            "wall_time_s": result.wall_time_s,
            "precision": str(trainer.precision),
            "world_size": int(trainer.world_size),
            "loss": module.hparams["loss"],
            "config_file": config.source,
            "val_start": initial,
            "val_final": final,
            "test_final": test,
            "released_from": run.release_from,
            "initialised_from": run.init_from,
            **({"trained_parts": trained_parts} if trained_parts else {}),
        }
        if run.release:
            from cardiomm.models.release import save_release  # noqa: PLC0415 - lazy: importing this module loads no numpy, torch

            result.release_dir = out / "release"
            save_release(result.release_dir, module.model.cpu(), extra_card=card)

        with atomic_path(out / "metrics.json") as tmp:
            tmp.write_text(json.dumps(card, indent=1, sort_keys=True, default=str) + "\n")
    return result
