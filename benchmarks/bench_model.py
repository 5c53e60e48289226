"""CardioMM model benchmark: inference per 10-coil 246 x 512 frame, FFT floor, peak memory, train step.

``run() -> str`` returns the Markdown section for BENCHMARKS.md (see ``benchmarks/run.py``). Memory is
measured in a fresh subprocess per case as the growth of the peak resident set (``VmHWM``) during the
first call over the RSS just before it (model built, inputs allocated), because ``tracemalloc`` cannot
see torch allocations.

Usage: ``.venv/bin/python benchmarks/run.py model`` (or ``python benchmarks/bench_model.py`` to print).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from cardiomm.models import CardioMM, count_parameters  # noqa: E402
from cardiomm.physics.coil_combine import rss  # noqa: E402
from cardiomm.physics.fft import fft2c, ifft2c  # noqa: E402
from cardiomm.utils.precision import precision_context, resolve_precision  # noqa: E402

N_COILS, NY, NX = 10, 246, 512
REPEATS = {"tiny": 5, "small": 5, "paper": 2}


def _frame(model: CardioMM, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """One 10-coil 246 x 512 frame, uniform R = 4 + 20 ACS lines, with random text embeddings."""
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(1, N_COILS, NY, NX, dtype=torch.complex64, generator=g)
    mask = torch.zeros(1, 1, NY, NX, dtype=torch.bool)
    mask[:, :, ::4] = True
    mask[:, :, (NY - 20 + 1) // 2 : (NY - 20 + 1) // 2 + 20] = True
    d = model.config.text_dim
    return k * mask, mask, torch.randn(1, d, generator=g), torch.randn(1, d, generator=g)


def _timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _ssim_loss(x: torch.Tensor, y: torch.Tensor, data_range: torch.Tensor) -> torch.Tensor:
    """fastMRI-style SSIM loss (7 x 7 uniform window, k1 = 0.01, k2 = 0.03): ``1 - mean SSIM``."""
    x, y = x[:, None], y[:, None]
    w = torch.ones(1, 1, 7, 7) / 49
    n = 49
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    ux, uy = torch.conv2d(x, w), torch.conv2d(y, w)
    uxx, uyy, uxy = torch.conv2d(x * x, w), torch.conv2d(y * y, w), torch.conv2d(x * y, w)
    cov = n / (n - 1)
    vx, vy, vxy = cov * (uxx - ux * ux), cov * (uyy - uy * uy), cov * (uxy - ux * uy)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return 1 - s.mean()


def _train_step(model: CardioMM, batch: tuple[torch.Tensor, ...], target: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    out = model(*batch, "uniform")
    loss = _ssim_loss(out, target, target.max())
    loss.backward()


def _target(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return rss(ifft2c(batch[0]), dim=1, eps=0.0)


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _child(case: str) -> dict[str, float]:
    """Run one case in this (fresh) process; report the peak-RSS growth of its first call in MiB.

    Uses the kernel's per-process high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``).
    ``ru_maxrss`` is not usable here: Linux carries the parent's high-water mark across fork + exec.
    """
    kind, preset = case.split(":")
    model = CardioMM(preset)
    batch = _frame(model)
    target = _target(batch)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_mib("VmRSS")
    except OSError:
        before = None
    if before is None:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if kind == "infer":
        model.eval()
        with torch.no_grad():
            model(*batch, "uniform")
    else:
        _train_step(model.train(), batch, target)
    peak = _status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"baseline_mib": before, "peak_growth_mib": peak - before}


def _memory(case: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    res = subprocess.run(
        [sys.executable, __file__, "--child", case], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def _cpu_seconds(fn, repeats: int) -> float:
    """Minimum single-thread CPU time of ``fn`` (robust to other processes on a shared machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fn()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
    finally:
        torch.set_num_threads(previous)
    return best


def run() -> str:
    threads = torch.get_num_threads()
    load = os.getloadavg()[0]
    # FFT floor: one centred FFT of all 10 coils (246 x 512), measured in this run
    k = torch.randn(1, N_COILS, NY, NX, dtype=torch.complex64)
    with torch.no_grad():
        fft2c(k)
        t_fft10 = min(_timed(lambda: fft2c(k), 20))
        cpu_fft10 = _cpu_seconds(lambda: fft2c(k), 20)

    rows = []
    for preset, repeats in REPEATS.items():
        model = CardioMM(preset).eval()
        counts = count_parameters(model)
        batch = _frame(model)
        with torch.no_grad():
            model(*batch, "uniform")  # warm-up
            times = _timed(lambda: model(*batch, "uniform"), repeats)  # noqa: B023
            cpu = _cpu_seconds(lambda: model(*batch, "uniform"), max(1, repeats // 2))  # noqa: B023
        n_casc = model.config.n_cascades
        mem = _memory(f"infer:{preset}")
        rows.append((preset, counts, n_casc, min(times), statistics.median(times), cpu, mem))
        del model

    # the same `small` forward at `--precision auto` (the demo's default; reconstruct keeps fp32):
    # bf16 autocast where the CPU computes bfloat16 natively, fp32 elsewhere (then equal to the table)
    auto = resolve_precision("auto", "cpu")
    model = CardioMM("small").eval()
    batch = _frame(model)
    with torch.no_grad(), precision_context(auto, "cpu"):
        model(*batch, "uniform")  # warm-up
        auto_times = _timed(lambda: model(*batch, "uniform"), REPEATS["small"])
    small_fp32 = next(r for r in rows if r[0] == "small")[3]

    model = CardioMM("small").train()
    batch = _frame(model)
    target = _target(batch)
    _train_step(model, batch, target)  # warm-up
    train_times = _timed(lambda: _train_step(model, batch, target), 3)
    train_cpu = _cpu_seconds(lambda: _train_step(model, batch, target), 2)
    train_mem = _memory("train:small")

    lines = [
        "## Model (CardioMM presets)",
        "",
        f"Inference on one {N_COILS}-coil {NY} x {NX} frame (uniform R = 4 + 20 ACS lines, batch 1, "
        f"`torch.no_grad`). Wall time with {threads} threads (min and median of the repeats) and "
        "single-thread CPU time (min; insensitive to other processes on this shared machine, "
        f"1-min load average at start {load:.1f}). FFT floor = 2 x K x {N_COILS} centred FFTs of "
        f"{NY} x {NX}, measured in this run the same two ways (one {N_COILS}-coil `fft2c`: "
        f"{t_fft10 * 1e3:.1f} ms wall, {cpu_fft10 * 1e3:.1f} ms CPU). Peak memory = growth of the peak "
        "RSS during the first call in a fresh subprocess (model and inputs already built).",
        "",
        "| preset | K | trainable params | prompt banks | wall / frame (min) | wall median | "
        "1-thread CPU / frame | CPU ratio to FFT floor | peak memory growth |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for preset, counts, n_casc, t_min, t_med, cpu, mem in rows:
        floor_cpu = 2 * n_casc * cpu_fft10
        lines.append(
            f"| {preset} | {n_casc} | {counts['trainable']:,} | {counts['buffers']:,} | {t_min:.3f} s | "
            f"{t_med:.3f} s | {cpu:.3f} s | {cpu / floor_cpu:.1f}x ({floor_cpu * 1e3:.0f} ms) | "
            f"{mem['peak_growth_mib']:.0f} MiB |"
        )
    lines += [
        "",
        f"`small` at `--precision auto` (here {auto.value}: bf16 autocast around the networks where the "
        f"CPU computes bfloat16 natively, fp32 elsewhere), same frame and threads: wall min "
        f"{min(auto_times):.3f} s, median {statistics.median(auto_times):.3f} s; "
        f"/ fp32 of the table: {min(auto_times) / small_fp32:.2f}.",
        "",
        f"`small` train step (forward + SSIM loss + backward, one frame as above): wall min "
        f"{min(train_times):.2f} s, median {statistics.median(train_times):.2f} s over 3 "
        f"({threads} threads); "
        f"1-thread CPU {train_cpu:.2f} s; peak memory growth {train_mem['peak_growth_mib']:.0f} MiB.",
        "",
        "Reference: the analytic count for `paper` is ~63.4 M trainable and ~5.2 M fixed prompt-bank values "
        "(cardiomm_reference.md Appendix A). Timings on a shared CPU vary with load; the minima are the "
        "better estimates of the machine's speed.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2])))
    else:
        print(run())
