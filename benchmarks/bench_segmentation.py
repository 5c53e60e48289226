"""Benchmark of the embedded short-axis segmenters: the default ``acdcunet`` (eight-fold test-time
augmentation) against its own single pass, ``simunet`` (torch) and ``myopari`` (onnxruntime).

Run with ``.venv/bin/python benchmarks/run.py segmentation``. Input: a rendered phantom cine stack
(10 frames x 5 slices, 192 x 192 at 1.8 mm), the same for all. ``myopari`` needs
``pip install --no-deps myopari``; without it it is not timed.
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
    rows = [
        ("acdcunet (default, 8-fold TTA)", _time(get_segmenter("acdcunet"), img, spacing)),
        ("acdcunet, single pass", _time(get_segmenter("acdcunet", flip_tta=False), img, spacing)),
        ("simunet", _time(get_segmenter("simunet"), img, spacing)),
    ]
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
    lines += [
        "",
        f"The eight-fold test-time augmentation costs **{rows[0][1] / rows[1][1]:.1f}x** the single pass "
        "(8 network passes per slice; cropping and resampling are shared).",
    ]
    if len(rows) == 4:
        lines += [
            f"The default (eight-fold) is **{rows[3][1] / rows[0][1]:.1f}x** and simunet **"
            f"{rows[3][1] / rows[2][1]:.0f}x** faster than myopari on this stack."
        ]
    else:
        lines += ["myopari not installed: not timed this run (`pip install --no-deps myopari`)."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
