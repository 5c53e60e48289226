"""Benchmark of the embedded short-axis segmenters: ``simunet`` (torch) vs ``myopari`` (onnxruntime).

Run with ``.venv/bin/python benchmarks/run.py segmentation``. Input: a rendered phantom cine stack
(10 frames x 5 slices, 192 x 192 at 1.8 mm), the same for both. ``myopari`` needs
``pip install --no-deps myopari``; without it only simunet is timed.
"""

from __future__ import annotations

import importlib.util
import time

import numpy as np


def _stack(n_t: int = 10, n_z: int = 5, size: int = 192, spacing: float = 1.8) -> np.ndarray:
    from cardiomm.simulate.anatomy import sample_heart
    from cardiomm.simulate.contrast import bssfp
    from cardiomm.simulate.phantom import Grid, View, render_frame
    from cardiomm.simulate.tissues import tissue_parameter_arrays

    heart = sample_heart("NC", "Adult", np.random.default_rng(0))
    par = tissue_parameter_arrays(1.5)
    signal = bssfp(par["pd"], par["t1"], par["t2"], 55.0)
    out = np.zeros((n_t, n_z, size, size), np.float32)
    for t in range(n_t):
        for z in range(n_z):
            depth = (z + 0.5) / n_z * heart.epi_length_ed
            maps = render_frame(
                heart, View.SAX, Grid(size, size, spacing, spacing, 1), phase=t / n_t, z=depth
            )
            out[t, z] = signal[maps.tissue]
    return out + np.abs(np.random.default_rng(1).normal(0, 0.02, out.shape)).astype(np.float32)


def _time(seg: object, img: np.ndarray, spacing: tuple[float, float, float], repeats: int = 2) -> float:
    seg.segment(img[:1], spacing)  # type: ignore[attr-defined]  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        seg.segment(img, spacing)  # type: ignore[attr-defined]
    return (time.perf_counter() - t0) / repeats


def run() -> str:
    """Measure and return the Markdown section."""
    from cardiomm.analysis.segmentation import get_segmenter

    img = _stack()
    spacing = (10.0, 1.8, 1.8)
    n = img.shape[0] * img.shape[1]
    rows = [("simunet", _time(get_segmenter("simunet"), img, spacing))]
    if (
        importlib.util.find_spec("myopari") is not None
        and importlib.util.find_spec("onnxruntime") is not None
    ):
        rows.append(("myopari (baseline)", _time(get_segmenter("myopari"), img, spacing, repeats=1)))
    lines = [
        "## segmentation",
        "",
        f"Short-axis cine stack (t, z, y, x) = {img.shape} at 1.8 mm (rendered phantom), "
        "whole stack per call.",
        "",
        "| segmenter | s per stack | ms per slice |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {t:.2f} | {t / n * 1e3:.0f} |" for name, t in rows]
    if len(rows) == 2:
        lines += ["", f"simunet is **{rows[1][1] / rows[0][1]:.0f}x** faster than myopari on this stack."]
    else:
        lines += ["", "myopari not installed: no baseline this run (`pip install --no-deps myopari`)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
