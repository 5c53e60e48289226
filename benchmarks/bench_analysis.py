"""Benchmark of the downstream analysis: vectorised MOLLI T1 fit vs a per-pixel curve_fit loop, phenotypes.

Run with ``.venv/bin/python benchmarks/run.py analysis``.
"""

from __future__ import annotations

import time

import numpy as np

from cardiomm.analysis.mapping import fit_molli_t1, molli_signal
from cardiomm.analysis.phenotypes import compute_phenotypes

TI_S = np.array([128, 881, 1628, 2381, 3131, 208, 951, 1711]) / 1000.0


def _molli_pixels(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t1 = rng.uniform(0.3, 2.0, n)
    a = rng.uniform(200.0, 1000.0, n)
    ratio = rng.uniform(1.8, 2.2, n)
    sig = np.abs(molli_signal(TI_S[:, None], a, a * ratio, t1 / (ratio - 1)))
    return sig + rng.normal(0, 5.0, sig.shape), t1


def _curve_fit_loop(sig: np.ndarray) -> np.ndarray:
    """Per-pixel scipy curve_fit with the same polarity restoration (every flip point, best residual)."""
    from scipy.optimize import curve_fit

    order = np.argsort(TI_S)
    t = TI_S[order]
    model = lambda x, a, b, ts: a - b * np.exp(-x / ts)  # noqa: E731
    out = np.full(sig.shape[1], np.nan)
    for p in range(sig.shape[1]):
        y = sig[order, p]
        best = (np.inf, np.nan)
        for k in range(t.size):
            yk = np.where(np.arange(t.size) < k, -y, y)
            try:
                with np.errstate(over="ignore"):
                    popt, _ = curve_fit(model, t, yk, p0=(y[-1], 2 * y[-1], 1.0), maxfev=2000)
            except RuntimeError:
                continue
            rss = float(((model(t, *popt) - yk) ** 2).sum())
            if rss < best[0]:
                best = (rss, popt[2] * (popt[1] / popt[0] - 1))
        out[p] = best[1]
    return out


def _phantom(n_frames: int = 20, n_slices: int = 12, size: int = 192) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size].astype(float)
    r = np.hypot(yy - size / 2, xx - size / 2)
    ang = np.degrees(np.arctan2(-(yy - size / 2), xx - size / 2)) % 360
    lab = np.zeros((n_frames, n_slices, size, size), np.uint8)
    for t in range(n_frames):
        r_lv = 25 - 8 * np.sin(np.pi * t / n_frames) ** 2
        sl = np.zeros((size, size), np.uint8)
        sl[r <= 34] = 2
        sl[r <= r_lv] = 1
        sl[(r > 34.5) & (r <= 50) & (np.abs(ang - 180) <= 60)] = 3
        lab[t] = sl
    return lab


def run() -> str:
    """Measure and return the Markdown section."""
    n_vec, n_loop = 128 * 128, 150
    sig, t1 = _molli_pixels(n_vec)
    fit_molli_t1(sig[:, :1000], TI_S)  # warm-up
    t0 = time.perf_counter()
    fit = fit_molli_t1(sig, TI_S)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    loop_t1 = _curve_fit_loop(sig[:, :n_loop])
    t_loop = time.perf_counter() - t0
    px_vec, px_loop = n_vec / t_vec, n_loop / t_loop
    diff = np.nanmedian(np.abs(fit.t1[:n_loop] - loop_t1)) * 1e3
    err = np.nanmedian(np.abs(fit.t1 / t1 - 1)) * 100

    lab = _phantom()
    compute_phenotypes(lab[:2], (8.0, 1.5, 1.5), 0.04)  # warm-up
    times = {}
    for wt in (False, True):
        t0 = time.perf_counter()
        for _ in range(3):
            compute_phenotypes(lab, (8.0, 1.5, 1.5), 0.04, with_wall_thickness=wt)
        times[wt] = (time.perf_counter() - t0) / 3

    return "\n".join(
        [
            "## analysis",
            "",
            "MOLLI 5(3)3 T1 fit (8 TIs, magnitude data with polarity restoration, Gaussian noise sigma 5 on",
            "amplitudes 200-1000, T1 300-2000 ms). Baseline: per-pixel `scipy.optimize.curve_fit` loop",
            f"with the same polarity restoration (every flip point), on the first {n_loop} of those pixels.",
            "",
            "| T1 fit | pixels | time (s) | pixels / s |",
            "|---|---|---|---|",
            f"| vectorised (grid + linear LS + batched LM) | {n_vec} | {t_vec:.2f} | {px_vec:,.0f} |",
            f"| curve_fit loop (baseline) | {n_loop} | {t_loop:.2f} | {px_loop:,.0f} |",
            "",
            f"Speed-up: **{px_vec / px_loop:.0f}x**. Median |T1 vectorised - T1 curve_fit| = {diff:.3f} ms; "
            f"median relative T1 error vs truth (noise) = {err:.2f} %.",
            "",
            f"Phenotypes of a label volume (t, z, y, x) = {lab.shape}: "
            f"{times[False] * 1e3:.0f} ms without wall thickness, {times[True] * 1e3:.0f} ms with "
            "(global + 16 AHA segments at ED).",
        ]
    )


if __name__ == "__main__":
    print(run())
