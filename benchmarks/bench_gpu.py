"""GPU benchmark: CardioMM per-frame time at fp32 / tf32 / bf16, the FFT floor, a ``paper`` train step.

``run() -> str`` returns the Markdown section for BENCHMARKS.md (see ``benchmarks/run.py``); on a machine
without CUDA it returns a short section saying the benchmark was skipped and why. Standalone::

    PYTHONPATH=src python3 benchmarks/bench_gpu.py

What is measured (one CUDA device, ``torch.cuda.synchronize`` around every timed call):

* **Model alone**, ``torch.no_grad``: presets ``small`` and ``paper`` (random initialisation: timing
  does not depend on the weights; built by :func:`cardiomm.models.release.build_model`, as training
  does), batch 1 and 8 of 10-coil 246 x 512 frames (uniform R = 4 + 20 ACS lines), text embeddings as
  random tensors of the preset's width (the frozen text encoder is not part of the model). Precisions
  as ``--precision`` (:mod:`cardiomm.utils.precision`). Median of a few repeats after warm-up calls,
  in ms per frame, with the peak allocated GPU memory of the call.
* **FFT floor**: ``fft2c`` + ``ifft2c`` of one such 10-coil frame; each model time is also given as a
  multiple of it (the network itself does about K + 1 such pairs, plus the CNNs).
* **Train step**, ``paper``, batch 1: forward + SSIM loss (the published loss) + backward + AdamW with
  gradient-norm clipping (the published recipe); bf16 autocasts the forward and loss only, as
  Lightning's ``bf16-mixed`` does. Peak memory = ``torch.cuda.max_memory_allocated`` over the timed
  steps (weights, AdamW state, activations; no gradient checkpointing).

Imports only torch and ``cardiomm`` modules that need nothing else (the GPU machines have torch,
lightning, torchmetrics, h5py, scipy, typer and rich). The whole run takes about a minute or two on an
H100-class GPU; a deadline (:data:`BUDGET_S`) skips what is left rather than overrun.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from cardiomm.models.release import build_model  # noqa: E402
from cardiomm.physics.coil_combine import rss  # noqa: E402
from cardiomm.physics.fft import fft2c, ifft2c  # noqa: E402
from cardiomm.training.losses import SSIMLoss  # noqa: E402
from cardiomm.utils.precision import PRECISIONS, Precision, parse_precision, precision_context  # noqa: E402

#: One CMRxRecon cine SAX frame: coils, ky, kx.
FRAME: tuple[int, int, int] = (10, 246, 512)
PRESETS: tuple[str, ...] = ("small", "paper")
BATCHES: tuple[int, ...] = (1, 8)
#: Timed calls per configuration, after :data:`WARMUP` untimed ones.
REPEATS = 5
WARMUP = 2
#: Wall-clock budget of the measurements [s]; configurations not started by then are reported as skipped.
BUDGET_S = 600.0


class InferRow(NamedTuple):
    """One inference configuration: milliseconds per frame (median), peak GPU memory [GiB], error."""

    preset: str
    n_cascades: int
    n_params: int
    batch: int
    precision: str
    ms_per_frame: float | None = None
    peak_gib: float | None = None
    rel_diff: float | None = None  # relative L2 difference to fp32 (same preset, batch 1)
    note: str = ""


class TrainRow(NamedTuple):
    """One train-step configuration: seconds per step (median), peak GPU memory [GiB]."""

    preset: str
    batch: int
    precision: str
    s_per_step: float | None = None
    peak_gib: float | None = None
    note: str = ""


class Results(NamedTuple):
    """Everything :func:`measure` found, for :func:`to_markdown` (``fft_ms`` [ms], ``seconds`` [s])."""

    device: str
    frame: tuple[int, int, int]
    fft_ms: float
    repeats: int
    warmup: int
    infer: list[InferRow]
    train: list[TrainRow]
    seconds: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None


def timed_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> list[float]:
    """Wall milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones (synchronised)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def make_inputs(
    text_dim: int, batch: int, frame: tuple[int, int, int], device: torch.device, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(masked k-space (b, c, ky, kx) complex64, mask (b, 1, ky, kx) bool, meta (b, text_dim),
    us (b, text_dim))``: unit-variance random k-space, uniform R = 4 + 20 central ACS lines (fewer on
    a small test frame), random text embeddings."""
    n_coils, ny, nx = frame
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(batch, n_coils, ny, nx, dtype=torch.complex64, generator=g)
    mask = torch.zeros(batch, 1, ny, nx, dtype=torch.bool)
    mask[:, :, ::4] = True
    n_acs = min(20, ny // 2)
    mask[:, :, (ny - n_acs + 1) // 2 : (ny - n_acs + 1) // 2 + n_acs] = True
    meta, us = torch.randn(batch, text_dim, generator=g), torch.randn(batch, text_dim, generator=g)
    return (k * mask).to(device), mask.to(device), meta.to(device), us.to(device)


def fft_floor_ms(frame: tuple[int, int, int], device: torch.device, repeats: int, warmup: int) -> float:
    """Median ms of ``ifft2c(fft2c(x))`` for one ``frame`` (c, y, x) complex64 on ``device``."""
    x = torch.randn(1, *frame, dtype=torch.complex64, device=device)
    with torch.no_grad():
        return statistics.median(timed_ms(lambda: ifft2c(fft2c(x)), device, repeats, warmup))


def _n_acs(frame: tuple[int, int, int]) -> int:
    return min(20, frame[1] // 2)


def _infer_call(
    model: torch.nn.Module,
    inputs: tuple[torch.Tensor, ...],
    n_acs: int,
    prec: Precision,
    device: torch.device,
    out: list[torch.Tensor],
) -> None:
    """One inference call at ``prec``; its image ``(b, y, x)`` replaces ``out[:]``."""
    with torch.no_grad(), precision_context(prec, device):
        out[:] = [model(*inputs, "uniform", n_acs)]


def _infer_preset(
    preset: str,
    batches: Sequence[int],
    precisions: Sequence[Precision],
    frame: tuple[int, int, int],
    device: torch.device,
    repeats: int,
    warmup: int,
    deadline: float,
) -> list[InferRow]:
    """Time every (batch, precision) of one preset (the first batch size also gives the fp32 diff)."""
    model = build_model("cardiomm", preset).eval().to(device)
    n_casc, text_dim = model.config.n_cascades, model.config.text_dim
    n_params = sum(p.numel() for p in model.parameters())
    rows: list[InferRow] = []
    reference: torch.Tensor | None = None
    for batch in batches:
        inputs = make_inputs(text_dim, batch, frame, device)
        for prec in precisions:
            head = (preset, n_casc, n_params, batch, prec.value)
            if time.perf_counter() > deadline:
                rows.append(InferRow(*head, note="skipped (time budget)"))
                continue
            out: list[torch.Tensor] = []
            call = partial(_infer_call, model, inputs, _n_acs(frame), prec, device, out)
            try:
                _reset_peak(device)
                ms = timed_ms(call, device, repeats, warmup)
            except torch.cuda.OutOfMemoryError:
                rows.append(InferRow(*head, note="out of memory"))
                continue
            rel = None
            if batch == batches[0]:
                if prec is Precision.FP32:
                    reference = out[0].float()
                elif reference is not None:
                    rel = float((out[0].float() - reference).norm() / reference.norm())
            rows.append(InferRow(*head, statistics.median(ms) / batch, _peak_gib(device), rel))
    return rows


def _train_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    inputs: tuple[torch.Tensor, ...],
    target: torch.Tensor,
    n_acs: int,
    device: torch.device,
    prec: Precision,
) -> None:
    """One optimiser step on a fixed batch: forward + SSIM loss vs ``target`` ``(b, y, x)`` + backward +
    gradient-norm clip + AdamW."""
    opt.zero_grad(set_to_none=True)
    data_range = target.amax(dim=(-2, -1))
    with precision_context(prec, device):  # bf16: autocast the forward and the loss only
        loss = SSIMLoss()(model(*inputs, "uniform", n_acs), target, data_range)
    # the backward pass keeps the TF32 setting, never autocast (torch's advice)
    with precision_context(Precision.TF32 if prec is Precision.TF32 else Precision.FP32, device):
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        opt.step()


def _train_preset(
    preset: str,
    batch: int,
    precisions: Sequence[Precision],
    frame: tuple[int, int, int],
    device: torch.device,
    repeats: int,
    warmup: int,
    deadline: float,
) -> list[TrainRow]:
    """Time a train step of ``preset`` at every precision (AdamW state allocated before the peak reset)."""
    model = build_model("cardiomm", preset).train().to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.01)
    inputs = make_inputs(model.config.text_dim, batch, frame, device)
    with torch.no_grad():
        target = rss(ifft2c(inputs[0]), dim=1)  # (b, y, x), like the output
    rows: list[TrainRow] = []
    for prec in precisions:
        if time.perf_counter() > deadline:
            rows.append(TrainRow(preset, batch, prec.value, note="skipped (time budget)"))
            continue
        step = partial(_train_step, model, opt, inputs, target, _n_acs(frame), device, prec)
        try:
            step()  # allocates the AdamW state before the peak is reset
            _reset_peak(device)
            ms = timed_ms(step, device, repeats, max(0, warmup - 1))
        except torch.cuda.OutOfMemoryError:
            rows.append(TrainRow(preset, batch, prec.value, note="out of memory"))
            opt.zero_grad(set_to_none=True)
            continue
        rows.append(TrainRow(preset, batch, prec.value, statistics.median(ms) / 1e3, _peak_gib(device)))
    return rows


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def measure(
    device: str = "cuda",
    *,
    presets: Sequence[str] = PRESETS,
    batches: Sequence[int] = BATCHES,
    precisions: Sequence[str] = PRECISIONS,
    frame: tuple[int, int, int] = FRAME,
    train_preset: str | None = "paper",
    train_batch: int = 1,
    train_precisions: Sequence[str] = PRECISIONS,
    repeats: int = REPEATS,
    warmup: int = WARMUP,
    budget_s: float = BUDGET_S,
) -> Results:
    """Run every timing on ``device`` (``cuda``, ``cuda:N`` or ``cpu`` for a quick check of the code path).

    Parameters
    ----------
    device
        Torch device.
    presets, batches, precisions
        Inference grid: CardioMM presets, frames per call, ``fp32`` / ``tf32`` / ``bf16``.
    frame
        ``(coils, ky, kx)`` of one frame.
    train_preset, train_batch, train_precisions
        The train-step measurement (``train_preset=None``: none).
    repeats, warmup
        Timed and untimed calls per configuration.
    budget_s
        Wall-clock budget [s]: configurations reached after it are reported as skipped.
    """
    dev = torch.device(device)
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    precs = [parse_precision(p) for p in precisions]
    fft_ms = fft_floor_ms(frame, dev, max(repeats, 10), warmup)
    infer: list[InferRow] = []
    for preset in presets:
        infer += _infer_preset(preset, batches, precs, frame, dev, repeats, warmup, deadline)
        _free(dev)
    train: list[TrainRow] = []
    if train_preset is not None:
        train_precs = [parse_precision(p) for p in train_precisions]
        train_repeats = max(2, repeats // 2)
        train = _train_preset(
            train_preset, train_batch, train_precs, frame, dev, train_repeats, warmup, deadline
        )
        _free(dev)
    return Results(str(dev), frame, fft_ms, repeats, warmup, infer, train, time.perf_counter() - t0)


def _fmt(value: float | None, spec: str, missing: str = "n/a", unit: str = "") -> str:
    return missing if value is None else format(value, spec) + unit


def _device_line(device: str) -> str:
    dev = torch.device(device)
    if dev.type != "cuda":
        return f"device {device} (CPU), torch {torch.__version__}"
    props = torch.cuda.get_device_properties(dev)
    return (
        f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    )


def to_markdown(res: Results) -> str:
    """The BENCHMARKS.md section of ``res`` (heading level 2)."""
    c, ny, nx = res.frame
    fp32 = {(r.preset, r.batch): r.ms_per_frame for r in res.infer if r.precision == "fp32"}
    lines = [
        "## GPU (CardioMM on CUDA: fp32 / tf32 / bf16)",
        "",
        f"{_device_line(res.device)}. Model alone (random init, random text embeddings, `torch.no_grad`) "
        f"on {c}-coil {ny} x {nx} frames, uniform R = 4 + ACS; median of {res.repeats} calls after "
        f"{res.warmup} warm-up calls, synchronised. `--precision` semantics as in `cardiomm reconstruct` "
        "(fp32 = TF32 off; tf32 = TF32 matmuls and cuDNN convolutions; bf16 = autocast of the real-valued "
        "layers, FFTs and data consistency in complex64). cuDNN autotuning (`cudnn.benchmark`) off, as in "
        "the CLI.",
        "",
        f"FFT floor: `fft2c` + `ifft2c` of one {c}-coil {ny} x {nx} frame = **{res.fft_ms:.3f} ms**.",
        "",
        "| preset | K | params | batch | precision | ms / frame | x FFT floor | speed-up vs fp32 | "
        "peak GPU memory | rel. L2 diff vs fp32 |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in res.infer:
        if r.ms_per_frame is None:
            lines.append(
                f"| {r.preset} | {r.n_cascades} | {r.n_params:,} | {r.batch} | {r.precision} | {r.note} "
                "| | | | |"
            )
            continue
        base = fp32.get((r.preset, r.batch))
        speed = None if base is None else base / r.ms_per_frame
        lines.append(
            f"| {r.preset} | {r.n_cascades} | {r.n_params:,} | {r.batch} | {r.precision} | "
            f"{r.ms_per_frame:.2f} | {r.ms_per_frame / res.fft_ms:.0f}x | {_fmt(speed, '.2f')}x | "
            f"{_fmt(r.peak_gib, '.2f', unit=' GiB')} | {_fmt(r.rel_diff, '.1e', '-')} |"
        )
    if res.train:
        lines += [
            "",
            "Train step (forward + SSIM loss + backward + AdamW, gradient-norm clip 0.01; bf16 autocasts the "
            "forward and loss; no gradient checkpointing); peak = `torch.cuda.max_memory_allocated` "
            "(weights, AdamW state, activations):",
            "",
            "| preset | batch | precision | s / step | peak GPU memory |",
            "|---|---:|---|---:|---:|",
        ]
        for t in res.train:
            if t.s_per_step is None:
                lines.append(f"| {t.preset} | {t.batch} | {t.precision} | {t.note} | |")
            else:
                lines.append(
                    f"| {t.preset} | {t.batch} | {t.precision} | {t.s_per_step:.3f} | "
                    f"{_fmt(t.peak_gib, '.2f', unit=' GiB')} |"
                )
    lines += [
        "",
        "The rel. L2 diff column compares the output image of each precision with fp32 on the same batch-1 "
        "input (random weights, so only indicative; on the CPU with the shipped checkpoints bf16 is within "
        "0.4 % of fp32, `tests/recon/test_precision.py`).",
        f"Whole benchmark: {res.seconds:.0f} s.",
    ]
    return "\n".join(lines) + "\n"


#: Text of the skip section; ``benchmarks/run.py`` then keeps the section measured on a GPU before.
SKIPPED_MARK = "Skipped: "


def skipped_section(reason: str) -> str:
    """The section written when the benchmark cannot run here."""
    return (
        "## GPU (CardioMM on CUDA: fp32 / tf32 / bf16)\n\n"
        f"{SKIPPED_MARK}{reason}. Run `PYTHONPATH=src python3 benchmarks/bench_gpu.py` (or "
        "`python benchmarks/run.py gpu`) on a machine with a CUDA GPU.\n"
    )


def cuda_unavailable_reason() -> str | None:
    """Why this process cannot use CUDA, or ``None`` when it can."""
    if torch.cuda.is_available():
        return None
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build (no CUDA)"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA GPU on this machine"


def run() -> str:
    """Measure on ``cuda`` and return the Markdown section; without CUDA, the skip section."""
    reason = cuda_unavailable_reason()
    if reason is not None:
        return skipped_section(reason)
    return to_markdown(measure("cuda"))


if __name__ == "__main__":
    print(run())
