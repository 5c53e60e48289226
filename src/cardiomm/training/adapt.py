"""Self-supervised adaptation of a release to a site's undersampled data (``cardiomm adapt``).

No fully sampled data are used: SSDU k-space splitting (Yaman et al. 2020) trains the network to predict
acquired samples it was not given, and a ZS-SSL validation set (Yaman et al. 2022) stops it early.
The split rules are in :mod:`cardiomm.training.ssdu`, the inputs in :mod:`cardiomm.training.adapt_data`.

One optimiser step (:func:`adapt_model`):

1. pick a scan (probability proportional to its splittable frames) and ``batch_frames`` of them;
2. draw ``n_splits`` fresh ``(Theta, Lambda)`` splits of each frame's available locations
   ``Omega \\ Gamma`` (the ACS stays in ``Theta``);
3. run the network on ``k * Theta`` with mask ``Theta`` and take the multi-coil k-space of its output
   (``forward_kspace``: with a trained SENSE output layer, ``F S x`` of that layer, so that adaptation
   tunes the layer's ``lam`` as well; without one, the last cascade's k-space);
4. loss: normalised L1 + L2 between that estimate and the measured samples on ``Lambda``
   (:func:`~cardiomm.training.ssdu.ssdu_loss`), with ``weighting = "k"`` each location's squared error
   weighted by ``(1 - K)^-1`` of the scan's sampling density (:mod:`cardiomm.training.ssdu_weight`);
   Adam step.

Every ``val_every`` steps (and before the first step) the validation loss is the same k-space loss on
the fixed sets ``Gamma`` with input ``Omega \\ Gamma``, over up to ``max_val_frames`` frames spread
over the scans (at least :data:`MIN_TEST_FRAMES` of each protocol). The weights of the lowest
validation loss are kept (step 0: the unchanged model), except those of a step that is worse than
step 0 on one protocol by more than ``significance`` standard errors of the paired per-frame
differences (:mod:`cardiomm.training.adapt_release`), and the run stops after ``patience``
evaluations without a new best. They are released only if their per-frame validation losses beat
step 0's by more than ``significance`` standard errors of the paired differences
(:func:`significant_gain`); otherwise the input weights are. With fewer than
:data:`MIN_TEST_FRAMES` validation frames (one slice of one frame, say) the test's units are the
held-out k-space lines of those frames instead (squared error per line,
:func:`~cardiomm.training.ssdu.ssdu_line_errors`). With ``val_fraction = 0`` there is no validation and
the last weights are released.

A plain torch loop (no Lightning): single process, CPU or one GPU. :func:`adapt` wraps it: load the
release, load the scans, adapt, write a new release atomically (an interrupted run leaves no folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from cardiomm.errors import CheckpointError, ConfigError, DataValueError
from cardiomm.models.release import load_release, save_release
from cardiomm.recon.learned import shipped_checkpoint
from cardiomm.text import get_encoder
from cardiomm.training.adapt_data import AdaptScan, load_scans, protocol_name, sha256_file
from cardiomm.training.adapt_release import (
    MIN_TEST_FRAMES,
    EarlyStopping,
    protocol_means,
    significant_gain,
    worse_protocols,
)
from cardiomm.training.freeze import apply_train_only
from cardiomm.training.ssdu import SplitSpec, acs_band, split_frame, ssdu_line_errors, ssdu_loss
from cardiomm.training.ssdu_weight import k_weight, loss_probability, sampling_density
from cardiomm.utils.atomic import atomic_dir

__all__ = [
    "AdaptOptions",
    "AdaptResult",
    "CurvePoint",
    "EarlyStopping",
    "adapt_model",
    "adapt",
    "Predict",
    "significant_gain",
    "validation_losses",
    "validation_errors",
    "MIN_TEST_FRAMES",
]

#: ``predict(model, scan, masked_kspace (b, c, ky, kx), mask (b, 1, ky, kx)) -> k-space (b, c, ky, kx)``.
Predict = Callable[[nn.Module, AdaptScan, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AdaptOptions:
    """Settings of an adaptation run.

    Attributes
    ----------
    steps
        Maximum optimiser steps.
    lr
        Adam learning rate.
    batch_frames
        Frames per step (all from one scan).
    n_splits
        Random ``(Theta, Lambda)`` splits per frame per step (the batch is ``batch_frames * n_splits``).
    val_every
        Steps between validation losses.
    patience
        Evaluations without improvement before stopping (0: never stop early).
    max_val_frames
        Frames in the validation loss (with several protocols: at least :data:`MIN_TEST_FRAMES` of each).
    significance
        Release a changed model only if its per-frame validation losses are lower than step 0's by more
        than ``significance`` standard errors of the paired differences (with fewer than
        :data:`MIN_TEST_FRAMES` validation frames: the squared errors of their held-out k-space lines),
        and never a step whose losses on one protocol are higher than step 0's by more than that
        (:mod:`cardiomm.training.adapt_release`); 0: no test, the lowest validation loss is released.
    seed
        Seed of the splits, of the frame order and of the validation sets.
    train_only
        Parts to train (:mod:`cardiomm.training.freeze`); ``None``: all.
    split
        Split fractions and unit.
    """

    steps: int = 30
    lr: float = 1e-4
    batch_frames: int = 1
    n_splits: int = 2
    val_every: int = 10
    patience: int = 5
    max_val_frames: int = 16
    significance: float = 2.0
    seed: int = 0
    train_only: str | None = None
    split: SplitSpec = field(default_factory=SplitSpec)

    def __post_init__(self) -> None:
        for name in ("steps", "batch_frames", "n_splits", "val_every", "max_val_frames"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0, got {self.patience}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        if not (np.isfinite(self.significance) and self.significance >= 0):
            raise ConfigError(f"significance must be a number >= 0, got {self.significance}")


@dataclass(frozen=True)
class CurvePoint:
    """One validation: step, mean training loss since the previous one (``None`` at step 0), val loss,
    the protocols on which the step is significantly worse than step 0 (it is then not released), and
    the mean val loss of each protocol (empty with a single protocol)."""

    step: int
    train_loss: float | None
    val_loss: float
    worse: tuple[str, ...] = ()
    by_protocol: tuple[tuple[str, float], ...] = ()


@dataclass
class AdaptResult:
    """Outcome of an adaptation: steps run, the released step and why the run stopped."""

    steps_run: int
    best_step: int
    best_val_loss: float | None
    stop_reason: str
    curve: list[CurvePoint]
    wall_time_s: float
    trainable: int = 0
    release_dir: Path | None = None


def _val_frames(scans: Sequence[AdaptScan], n: int) -> dict[int, list[int]]:
    """Frames with a validation set, evenly spread over the scans of each protocol: scan -> frame
    indices (ascending scans). One protocol: up to ``n`` frames; several: up to ``ceil(n / protocols)``
    per protocol but at least :data:`MIN_TEST_FRAMES` where it has them (the protocol release test)."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for s, scan in enumerate(scans):
        for f in range(scan.n_frames):
            if bool(scan.val_masks[f].any()):
                groups.setdefault(protocol_name(scan), []).append((s, f))
    quota = n if len(groups) <= 1 else max(MIN_TEST_FRAMES, -(-n // len(groups)))
    chosen: list[tuple[int, int]] = []
    for pool in groups.values():
        picks = np.unique(np.linspace(0, len(pool) - 1, min(quota, len(pool))).round().astype(int))
        chosen += [pool[int(p)] for p in picks]
    out: dict[int, list[int]] = {}
    for s, f in sorted(chosen):
        out.setdefault(s, []).append(f)
    return out


def _acs(scan: AdaptScan) -> np.ndarray:
    return acs_band(tuple(scan.shape[-2:]), scan.mask_type, scan.n_acs)  # type: ignore[arg-type]


def validation_losses(
    model: nn.Module, scans: Sequence[AdaptScan], frames: dict[int, list[int]], predict: Predict, device: str
) -> np.ndarray:
    """Per-frame k-space losses on ``Gamma`` over ``frames``, in the order of ``frames`` (float64)."""
    return validation_errors(model, scans, frames, predict, device)[0]


@torch.no_grad()
def validation_errors(
    model: nn.Module, scans: Sequence[AdaptScan], frames: dict[int, list[int]], predict: Predict, device: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame k-space losses on ``Gamma`` over ``frames`` (as :func:`validation_losses`), and the
    squared error of every held-out line of those frames (:func:`~cardiomm.training.ssdu.ssdu_line_errors`),
    both float64."""
    model.eval()
    losses: list[float] = []
    lines: list[np.ndarray] = []
    for s, idx in frames.items():
        scan = scans[s]
        for start in range(0, len(idx), 4):
            chunk = idx[start : start + 4]
            k = scan.kspace(chunk).to(device)
            gamma = scan.val_masks[chunk][:, None].to(device)
            avail = (scan.masks[chunk] & ~scan.val_masks[chunk])[:, None].to(device)
            pred = predict(model, scan, k * avail, avail)
            for i in range(len(chunk)):
                sl = slice(i, i + 1)
                losses.append(float(ssdu_loss(pred[sl], k[sl], gamma[sl])))
            lines.append(ssdu_line_errors(pred, k, gamma).cpu().numpy())
    return np.asarray(losses, dtype=np.float64), np.concatenate(lines) if lines else np.zeros(0)


def adapt_model(
    model: nn.Module,
    scans: Sequence[AdaptScan],
    predict: Predict,
    options: AdaptOptions,
    *,
    device: str = "cpu",
    evaluate: Callable[[nn.Module], float | np.ndarray] | None = None,
    protocols: Sequence[str] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[CurvePoint], None] | None = None,
) -> AdaptResult:
    """Adapt ``model`` in place (see the module docstring); on return it holds the released weights.

    Parameters
    ----------
    model
        The network, on ``device``; its trainable parameters are those with ``requires_grad``.
    scans
        From :func:`cardiomm.training.adapt_data.load_scans`.
    predict
        Runs the network: ``predict(model, scan, masked_kspace, mask)`` -> k-space ``(b, c, ky, kx)``.
    options
        Steps, lr, splits, validation and stopping.
    evaluate
        Replaces the validation loss (tests: a known curve): a number, or per-frame losses (then the
        significance test applies); default :func:`validation_errors`.
    protocols
        With ``evaluate``: the protocol of each of its frames (the protocol release test,
        :func:`~cardiomm.training.adapt_release.worse_protocols`); default: none tested. Without
        ``evaluate`` the protocols of the validation frames are used.
    on_step, on_eval
        Progress callbacks: ``(step, loss)`` after each step, the curve point after each validation.

    Raises
    ------
    DataValueError
        A non-finite training loss.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("nothing to train: every parameter is frozen")
    rng = np.random.default_rng([options.seed, 1])
    spec = options.split
    val_frames = _val_frames(scans, options.max_val_frames)
    if evaluate is None:
        protocols = [protocol_name(scans[s]) for s, idx in val_frames.items() for _ in idx]
    use_val = evaluate is not None or (spec.val_fraction > 0 and bool(val_frames))
    acs = [_acs(scan) for scan in scans]
    weights = np.asarray([len(scan.train_frames) for scan in scans], dtype=float)
    optimizer = torch.optim.Adam(params, lr=options.lr)
    stopper = EarlyStopping(options.patience)
    curve: list[CurvePoint] = []

    def validate(step: int, train_losses: list[float]) -> bool:
        if evaluate is not None:
            frames = units = np.atleast_1d(np.asarray(evaluate(model), dtype=np.float64))
        else:  # too few frames for a per-frame release test: the held-out lines are its units
            frames, lines = validation_errors(model, scans, val_frames, predict, device)
            units = frames if frames.size >= MIN_TEST_FRAMES else lines
        loss = float(frames.mean())
        worse = worse_protocols(stopper.first_units, frames, protocols or (), options.significance)
        train = round(float(np.mean(train_losses)), 6) if train_losses else None
        by_protocol = protocol_means(frames, protocols or ())
        point = CurvePoint(step, train, round(loss, 6), tuple(worse), by_protocol)
        curve.append(point)
        if on_eval is not None:
            on_eval(point)
        return stopper.update(step, loss, model, units, worse)

    densities: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # scan: (Omega \ Gamma per frame, P)
    frame_weights: dict[tuple[int, int], np.ndarray] = {}

    def k_weights(s: int, f: int) -> np.ndarray:  # (1 - K)^-1 of scan s, frame f (computed once)
        if (s, f) not in frame_weights:
            if s not in densities:
                avail = (scans[s].masks & ~scans[s].val_masks).numpy()
                densities[s] = avail, sampling_density(avail, scans[s].acceleration)
            avail, density = densities[s]
            frame_weights[(s, f)] = k_weight(density, loss_probability(avail[f], acs[s], spec))
        return frame_weights[(s, f)]

    start = time.perf_counter()
    stop_reason = "steps" if use_val or spec.val_fraction == 0 else "steps (no frame has a validation set)"
    step = 0
    train_losses: list[float] = []
    if use_val:
        validate(0, [])
    while step < options.steps:
        model.train()
        s = int(rng.choice(len(scans), p=weights / weights.sum()))
        scan = scans[s]
        n = min(options.batch_frames, len(scan.train_frames))
        frames = [int(f) for f in rng.choice(scan.train_frames, size=n, replace=False)]
        thetas, lams = [], []
        for f in frames:
            avail = (scan.masks[f] & ~scan.val_masks[f]).numpy()
            for _ in range(options.n_splits):
                theta, lam = split_frame(avail, acs[s], spec, rng)
                thetas.append(theta)
                lams.append(lam)
        k = scan.kspace([f for f in frames for _ in range(options.n_splits)]).to(device)
        theta_t = torch.from_numpy(np.stack(thetas))[:, None].to(device)
        lam_t = torch.from_numpy(np.stack(lams))[:, None].to(device)
        weight = None
        if spec.weighting == "k":
            w = [k_weights(s, f) for f in frames for _ in range(options.n_splits)]
            weight = torch.from_numpy(np.stack(w).astype(np.float32))[:, None].to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = ssdu_loss(predict(model, scan, k * theta_t, theta_t), k, lam_t, weight=weight)
        if not torch.isfinite(loss):
            raise DataValueError(f"non-finite adaptation loss at step {step + 1}")
        loss.backward()
        optimizer.step()
        step += 1
        train_losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, train_losses[-1])
        if use_val and (step % options.val_every == 0 or step == options.steps):
            stop = validate(step, train_losses)
            train_losses = []
            if stop:
                stop_reason = "early stopping"
                break
    wall = time.perf_counter() - start
    model.eval()
    if use_val and stopper.best_state is not None:
        best_before = stopper.best_step
        if stopper.refused:
            steps = [str(r[0]) for r in stopper.refused]
            names = sorted({n for r in stopper.refused for n in r[1]})
            stop_reason += (
                f"; step{'s' if len(steps) > 1 else ''} {', '.join(steps)} not released: worse than step 0 "
                f"on {', '.join(names)}"
            )
        if stopper.keep_first_unless_significant(options.significance):  # a gain within the noise
            stop_reason += (
                f"; the validation gain of step {best_before} is within {options.significance:g} "
                "standard errors, the input weights are released"
            )
        model.load_state_dict(stopper.best_state)
        best_step, best_val = stopper.best_step, round(stopper.best, 6)
    else:
        best_step, best_val = step, None
    trainable = sum(p.numel() for p in params)
    return AdaptResult(step, best_step, best_val, stop_reason, curve, round(wall, 1), trainable)


def make_predict(kind: str, encoder: Any, device: str) -> Predict:
    """The ``predict`` of a release kind: ``forward_kspace`` with the scan's prompts / mask type / ACS."""
    embeddings: dict[str, torch.Tensor] = {}

    def embed(text: str) -> torch.Tensor:
        if text not in embeddings:
            embeddings[text] = encoder.encode([text]).to(device)
        return embeddings[text]

    def predict(model: nn.Module, scan: AdaptScan, k: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        forward_kspace = cast(Callable[..., torch.Tensor], model.forward_kspace)
        if kind == "varnet":
            return forward_kspace(k, m, scan.mask_type, scan.n_acs)
        meta = us = None
        if kind == "cardiomm":
            meta, us = embed(scan.metadata_prompt), embed(scan.undersampling_prompt)
        return forward_kspace(k, m, meta, us, scan.mask_type, scan.n_acs)

    return predict


def _card_table(result: AdaptResult) -> str:
    lines = [
        "",
        "## Adaptation (self-supervised, no fully sampled data)",
        "",
        f"Released weights: step {result.best_step} of {result.steps_run} ({result.stop_reason}).",
        "",
        "| step | train loss | validation loss |",
        "|---:|---:|---:|",
    ]
    for p in result.curve:
        train = "" if p.train_loss is None else f"{p.train_loss:.5f}"
        mark = " (released)" if p.step == result.best_step else ""
        mark += f" (worse on {', '.join(p.worse)})" if p.worse else ""
        lines.append(f"| {p.step}{mark} | {train} | {p.val_loss:.5f} |")
    return "\n".join(lines) + "\n"


def adapt(
    input_path: Path,
    out: Path,
    *,
    model_path: Path | None = None,
    method: str = "cardiomm",
    mask: Path | None = None,
    include: Sequence[str] = (),
    n_acs: int = 20,
    prompt: str | None = None,
    options: AdaptOptions | None = None,
    device: str = "cpu",
    overwrite: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[CurvePoint], None] | None = None,
) -> AdaptResult:
    """Adapt a release to the undersampled data of ``input_path`` and write the result to ``out``.

    Parameters
    ----------
    input_path
        An undersampled scan, a folder of them or a TestSet tree (:mod:`cardiomm.training.adapt_data`).
    out
        Release folder to write (safetensors + ``config.json`` + ``model_card.md``), atomically.
    model_path
        The release to start from; default the shipped checkpoint of ``method``.
    method
        ``cardiomm``, ``promptmr`` or ``varnet``: the release must hold this kind.
    mask, include, n_acs, prompt
        Single-file mask, file-name globs for folders, ACS size, metadata-prompt override.
    options
        :class:`AdaptOptions`.
    device
        A torch device string (resolved by the caller).
    overwrite
        Replace an existing ``out``.

    Raises
    ------
    CheckpointError
        The release is unreadable or holds another model kind than ``method``.
    ConfigError
        ``out`` exists (without ``overwrite``), or is the input or the release itself.
    MaskError, InputFileError
        Unusable input (see :func:`cardiomm.training.adapt_data.load_scan`).
    """
    options = options or AdaptOptions()
    out = Path(out)
    source = Path(model_path) if model_path is not None else shipped_checkpoint(method)
    out_r, in_r = out.resolve(), Path(input_path).resolve()
    if out_r == in_r or (in_r.is_dir() and out_r.is_relative_to(in_r)):
        raise ConfigError("the output release must not be, or be inside, the input", path=out)
    source_dir = source.resolve() if source.is_dir() else source.resolve().parent
    if out_r == source_dir:
        raise ConfigError("the output release must not replace the release adapted from", path=out)
    if out.exists() and not overwrite:
        raise ConfigError("the output exists already; pass --overwrite to replace it", path=out)
    release = load_release(source, device=device)
    if release.kind != method:
        raise CheckpointError(f"the release holds a {release.kind!r} model, not {method!r}", path=source)
    model = release.model.to(device)
    counts = apply_train_only(model, options.train_only)
    encoder = None
    if release.kind == "cardiomm":
        name = release.config.text_encoder
        encoder = get_encoder(name, **({"dim": release.config.text_dim} if name == "hash" else {}))
    scans = load_scans(
        Path(input_path), mask=mask, include=include, n_acs=n_acs, spec=options.split,
        seed=options.seed, prompt=prompt,
    )  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        result = adapt_model(
            model, scans, make_predict(release.kind, encoder, device), options,
            device=device, on_step=on_step, on_eval=on_eval,
        )  # fmt: skip
    result.trainable = counts["trainable"]
    card = {
        "adaptation": "SSDU k-space splitting (Yaman et al. 2020), ZS-SSL early stopping (Yaman et al. 2022)",
        "adapted_from_sha256": sha256_file(release.path),
        "adapted_from_preset": getattr(release.config, "preset", "custom"),
        "adaptation_sources": [scan.card() for scan in scans],
        "adaptation_frames": sum(scan.n_frames for scan in scans),
        "adaptation_steps_run": result.steps_run,
        "adaptation_released_step": result.best_step,
        "adaptation_stop_reason": result.stop_reason,
        "adaptation_best_val_loss": result.best_val_loss,
        "adaptation_val_curve": [[p.step, p.train_loss, p.val_loss] for p in result.curve],
        "adaptation_val_by_protocol": {
            str(p.step): dict(p.by_protocol) for p in result.curve if p.by_protocol
        },
        "adaptation_split": options.split.to_dict(),
        "adaptation_options": {k: v for k, v in asdict(options).items() if k != "split"},
        "adaptation_trainable_parameters": counts["trainable"],
        "adaptation_n_acs": n_acs,
        "adaptation_device": str(device),
        "wall_time_s": result.wall_time_s,
    }

    with atomic_dir(out) as tmp:
        save_release(tmp, model.cpu(), extra_card=card)
        card_md = tmp / "model_card.md"
        card_md.write_text(card_md.read_text() + _card_table(result))
    result.release_dir = out
    return result
