"""Training configuration: YAML file -> :class:`TrainConfig` (validated against the typed signatures).

A config has five sections; the typed ``__init__`` signatures are the schema (style rule 14), so no
default is re-declared here and an unknown key is an error naming the file::

    model:    ReconModule arguments     (kind, preset, loss, lr, weight_decay, lr_step_epochs, ...)
    data:     FrameDataModule arguments (data, source, val_fraction, batch_size, max_val_frames, ...)
    trainer:  lightning.Trainer arguments (max_epochs, max_steps, max_time, devices, accelerator,
              strategy, precision, gradient_clip_val, num_nodes, log_every_n_steps, ...)
    run:      RunOptions below (seed, output_dir, checkpointing, release, debug switches)

``--set key=value`` overrides use dotted keys (``trainer.max_steps=20``, ``model.preset=tiny``,
``run.output_dir=runs/x``); values are parsed as YAML (``true``, ``3``, ``[4, 8]``, ``null``).
A relative ``data.data`` / ``run.output_dir`` is resolved against the current directory.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cardiomm.errors import ConfigError

__all__ = ["RunOptions", "TrainConfig", "load_config", "apply_overrides", "SECTIONS"]

SECTIONS: tuple[str, ...] = ("model", "data", "trainer", "run")


@dataclass
class RunOptions:
    """Options of a training run that are neither model, data nor Trainer arguments.

    Attributes
    ----------
    seed
        Seed of ``lightning.seed_everything`` (weight init noise, dropout); masks and frame order use
        ``data.seed`` through explicit generators.
    output_dir
        Run folder: ``checkpoints/``, ``tb/`` (TensorBoard), ``release/``, ``config.yaml``, ``metrics.json``.
    save_top_k
        Lightning checkpoints kept by ``val/loss`` (plus ``last.ckpt``, used by ``--resume``).
    every_n_train_steps
        Also write ``last.ckpt`` every N optimiser steps (mid-epoch resume points for long epochs);
        ``None``: only at epoch ends.
    validate_before_fit
        Run one validation pass before training (the "start" numbers of the model card).
    test_after_fit
        Evaluate the test split (TestSet) after training when it holds frames.
    release
        Write the release checkpoint (safetensors + config + model card) to ``output_dir/release``.
    release_from
        ``last`` (final weights) or ``best`` (lowest ``val/loss`` checkpoint, as the paper's inference).
    progress_bar
        Rich progress bar.
    log_samples
        Write each rank's training-frame indices to ``output_dir/samples/rank<r>.txt``.
    dump_rank_weights
        Write each rank's final weights to ``output_dir/ranks/rank<r>.safetensors``.
    threads
        ``torch.set_num_threads`` for CPU runs (``None``: torch's default). On a busy small CPU one
        thread per process is often faster than oversubscribed intra-op threads.
    init_from
        A release folder (or ``model.safetensors``) whose weights start the run (fine-tuning); its
        model kind and network configuration must equal the configured ones. Ignored by ``--resume``
        (the checkpoint holds the weights). Only safetensors and JSON are read.
    train_only
        Train only these parts of the network, freezing the rest (fine-tuning): a comma-separated list
        of ``heads``, ``prompts``, ``sens``, ``output``, ``last:N`` (see :mod:`cardiomm.training.freeze`);
        ``None``: everything.
    """

    seed: int = 42
    output_dir: str = "runs/default"
    save_top_k: int = 3
    every_n_train_steps: int | None = None
    validate_before_fit: bool = True
    test_after_fit: bool = True
    release: bool = True
    release_from: str = "last"
    progress_bar: bool = True
    log_samples: bool = False
    dump_rank_weights: bool = False
    threads: int | None = None
    init_from: str | None = None
    train_only: str | None = None


@dataclass
class TrainConfig:
    """A validated training configuration (the four sections of the YAML file)."""

    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    run: RunOptions = field(default_factory=RunOptions)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for ``config.yaml`` of the run and the model card)."""
        return {
            "model": dict(self.model),
            "data": dict(self.data),
            "trainer": dict(self.trainer),
            "run": asdict(self.run),
        }


def _parse_value(text: str) -> Any:
    import yaml  # noqa: PLC0415 - lazy: the CLI imports this module and loads no yaml up front

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(doc: dict[str, Any], sets: Sequence[str], *, source: str = "--set") -> dict[str, Any]:
    """Return a copy of ``doc`` with ``key.sub=value`` overrides applied."""
    out = copy.deepcopy(doc)
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not key=value", path=source)
        key, value = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if len(parts) < 2 or parts[0] not in SECTIONS:
            raise ConfigError(
                f"override key {key!r} must start with one of {', '.join(SECTIONS)}", path=source
            )
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"override {key!r}: {p!r} is not a section", path=source)
            node = nxt
        node[parts[-1]] = _parse_value(value)
    return out


def _check_keys(section: str, given: Mapping[str, Any], target: Any, path: str) -> None:
    params = inspect.signature(target).parameters
    allowed = {
        n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown {section} option(s) {unknown}; see {getattr(target, '__qualname__', target)}", path=path
        )


def _resolve(path_value: Any) -> Any:
    if isinstance(path_value, str) and path_value and not os.path.isabs(os.path.expanduser(path_value)):
        return str(Path(path_value).expanduser().resolve())
    return os.path.expanduser(path_value) if isinstance(path_value, str) else path_value


def load_config(
    path: str | os.PathLike[str] | None = None,
    sets: Sequence[str] = (),
    *,
    doc: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Read a YAML config (or a dict) and apply ``--set`` overrides.

    Raises
    ------
    ConfigError
        Unreadable YAML, unknown sections or keys, missing ``data.data``.
    """
    import yaml  # noqa: PLC0415 - lazy: the CLI imports this module and loads no yaml up front

    source = str(path) if path is not None else "<dict>"
    if doc is None:
        if path is None:
            raise ConfigError("no config given")
        p = Path(path)
        if not p.is_file():
            raise ConfigError("config file not found", path=p)
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML: {str(exc).splitlines()[0]}", path=p) from None
    else:
        loaded = dict(doc)
    if not isinstance(loaded, dict):
        raise ConfigError("config must be a mapping with sections model/data/trainer/run", path=source)
    unknown = sorted(set(loaded) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; expected {', '.join(SECTIONS)}", path=source)
    merged = apply_overrides(loaded, sets, source=source)
    for name in SECTIONS:
        if merged.get(name) is None:
            merged[name] = {}
        if not isinstance(merged[name], dict):
            raise ConfigError(f"section {name!r} must be a mapping", path=source)

    import lightning as L  # noqa: PLC0415 - lazy: importing this module loads no lightning

    from cardiomm.training.datamodule import FrameDataModule  # noqa: PLC0415 - lazy: importing this module loads no lightning, numpy, rich, torch
    from cardiomm.training.module import ReconModule  # noqa: PLC0415 - lazy: importing this module loads no lightning, numpy, torch, torchmetrics

    _check_keys("model", merged["model"], ReconModule.__init__, source)
    _check_keys("data", merged["data"], FrameDataModule.__init__, source)
    _check_keys("trainer", merged["trainer"], L.Trainer.__init__, source)
    run_fields = {f.name for f in fields(RunOptions)}
    bad = sorted(set(merged["run"]) - run_fields)
    if bad:
        raise ConfigError(f"unknown run option(s) {bad}; choose from {sorted(run_fields)}", path=source)
    if not merged["data"].get("data"):
        raise ConfigError("data.data (tree root or shard folder) is required", path=source)
    data = dict(merged["data"])
    for key in ("data", "catalog", "splits"):
        if isinstance(data.get(key), list):
            data[key] = [_resolve(v) for v in data[key]]
        elif data.get(key) is not None:
            data[key] = _resolve(data[key])
    run = RunOptions(**merged["run"])
    if run.release_from not in ("last", "best"):
        raise ConfigError(f"run.release_from must be 'last' or 'best', got {run.release_from!r}", path=source)
    run.output_dir = str(_resolve(run.output_dir))
    if run.init_from is not None:
        run.init_from = str(_resolve(run.init_from))
    if run.train_only is not None:
        from cardiomm.training.freeze import parse_train_only  # noqa: PLC0415 - lazy: importing this module loads no torch

        try:
            parse_train_only(str(run.train_only))
        except ConfigError as exc:
            raise ConfigError(f"run.train_only: {exc.message}", path=source) from None
        run.train_only = str(run.train_only)
    return TrainConfig(
        model=dict(merged["model"]), data=data, trainer=dict(merged["trainer"]), run=run, source=source
    )
