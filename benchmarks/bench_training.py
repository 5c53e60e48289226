"""Training benchmark: one optimiser step (forward + SSIM loss + backward + AdamW) per frame on CPU.

Models: CardioMM ``small`` (text-conditioned, MiniLM-sized 384-d embeddings fed as precomputed tensors,
as in training where the frozen encoder's outputs are cached per prompt), PromptMR-style ``small`` and
E2E-VarNet ``small``. Frames: 10 coils x 246 x 512 (CMRxRecon cine SAX matrix) and the
``simulate mini --size small`` frame (8 coils x 88 x 224). Masks: training uniform R = 8, ACS 20.
Times are medians over repeats after one warm-up step, with 1 and 2 intra-op threads; the machine is
shared, so the 1-minute load average is reported next to the numbers.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
import torch

FRAMES = {
    "10 x 246 x 512 (CMRxRecon SAX)": (10, 246, 512),
    "8 x 88 x 224 (simulate mini small)": (8, 88, 224),
}
KINDS = ("cardiomm", "promptmr", "varnet")


def _frame(c: int, ny: int, nx: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(masked k-space (1, c, ky, kx), mask (1, 1, ky, kx), RSS target (1, y, x)) of a smooth phantom."""
    from cardiomm.physics.coil_combine import rss
    from cardiomm.physics.fft import fft2c, ifft2c
    from cardiomm.sampling import TrainingMaskSampler

    y, x = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    img = (((x / 0.8) ** 2 + (y / 0.9) ** 2 < 1) * (1 + 0.5 * y)).astype(np.complex64)
    ang = 2 * np.pi * np.arange(c) / c
    csm = np.stack([np.exp(-((x - np.cos(a)) ** 2 + (y - np.sin(a)) ** 2)) for a in ang]).astype(np.complex64)
    k = fft2c(torch.from_numpy(csm * img))[None]
    draw = TrainingMaskSampler((8,), ("uniform",), seed=0)((ny, nx))
    mask = torch.from_numpy(draw.mask)[None, None]
    return k * mask, mask, rss(ifft2c(k), dim=1)


def _step_time(kind: str, frame: tuple[int, int, int], threads: int, repeats: int) -> float:
    from cardiomm.models.release import build_model
    from cardiomm.training.losses import SSIMLoss

    torch.set_num_threads(threads)
    model = build_model(kind, "small")
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.01)
    loss_fn = SSIMLoss()
    k, mask, target = _frame(*frame)
    dr = target.amax(dim=(-2, -1))
    emb = torch.nn.functional.normalize(torch.randn(1, 384), dim=-1)

    def step() -> None:
        if kind == "varnet":
            out = model(k, mask, "uniform", 20)
        else:
            out = model(k, mask, emb, emb, "uniform", 20)
        loss = loss_fn(out, target, dr)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
        opt.step()

    step()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run() -> str:
    """Run the training benchmark and return its Markdown section."""
    before = torch.get_num_threads()
    load = os.getloadavg()[0]
    rows = []
    try:
        for label, frame in FRAMES.items():
            for kind in KINDS:
                repeats = 2 if frame[1] > 200 else 3
                t1 = _step_time(kind, frame, 1, repeats)
                t2 = _step_time(kind, frame, 2, repeats)
                rows.append(f"| {label} | {kind} small | {t1:.3f} | {t2:.3f} |")
    finally:
        torch.set_num_threads(before)
    load_after = os.getloadavg()[0]
    lines = [
        "## Training step (CPU)",
        "",
        "One optimiser step per frame (forward + SSIM loss + backward + norm clipping + AdamW), batch 1,",
        "`small` presets, training uniform mask R = 8 + ACS 20; median seconds after a warm-up step.",
        "",
        "| frame (coils x ky x kx) | model | 1 thread (s) | 2 threads (s) |",
        "|---|---|---:|---:|",
        *rows,
        "",
        f"1-minute load average {load:.1f} before / {load_after:.1f} after "
        "(the CPU is shared: a load above the",
        "core count inflates the times, most visibly with 2 threads).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
