"""Simulation benchmark: ``cardiomm simulate mini --size tiny`` end to end, and k-space synthesis speed.

- Tree: wall time and on-disk size of the tiny tree (k-space, CSVs, ground-truth sidecars, test masks,
  manifest), median of 3 runs into fresh temporary folders.
- Synthesis: frames (one slice x one time point, all coils) per second of :func:`simulate_scan` for a
  cine SAX stack at the ``small`` preset (phantom rendering with 2x2 supersampling, contrast, coil
  maps, FFT, noise), and of the coil-weighting + FFT step alone (:func:`coil_kspace`), 8 coils.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path


def _tree_once() -> tuple[float, float, int]:
    from cardiomm.simulate import generate_mini

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        manifest = generate_mini(Path(tmp) / "tiny", size="tiny", seed=0)
        elapsed = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    return elapsed, size / 1e6, len(manifest["files"])


def run() -> str:
    """Run the simulation benchmark and return its Markdown section."""
    from cardiomm.simulate import HeartParams, get_center, get_spec, simulate_scan
    from cardiomm.simulate.scan import coil_kspace

    load = os.getloadavg()[0]
    runs = [_tree_once() for _ in range(3)]
    t_tree = statistics.median(r[0] for r in runs)
    mb, n_files = runs[0][1], runs[0][2]

    center = get_center("Center015")
    spec = get_spec("cine_sax")
    simulate_scan(spec, center, HeartParams(), size="small", seed=0)  # warm-up (imports, caches)
    times, n_frames = [], 0
    for seed in range(3):
        t0 = time.perf_counter()
        scan = simulate_scan(spec, center, HeartParams(), size="small", seed=seed)
        times.append(time.perf_counter() - t0)
        n_frames = scan.kspace.shape[0] * scan.kspace.shape[1]
    fps_scan = n_frames / statistics.median(times)
    shape = scan.kspace.shape

    img = scan.image
    csm = scan.csm
    coil_kspace(img, csm)
    t_fft = []
    for _ in range(5):
        t0 = time.perf_counter()
        coil_kspace(img, csm)
        t_fft.append(time.perf_counter() - t0)
    fps_fft = n_frames / statistics.median(t_fft)
    return (
        "\n".join(
            [
                "## Simulation (`cardiomm simulate`)",
                "",
                "| what | value |",
                "|---|---|",
                f"| tiny tree: files (k-space) | {n_files} scans + masks, sidecars, CSVs |",
                f"| tiny tree: wall time (median of 3) | {t_tree:.2f} s |",
                f"| tiny tree: size on disk | {mb:.1f} MB |",
                f"| `simulate_scan` cine SAX small {tuple(int(s) for s in shape)} (t, z, c, ky, kx) | "
                f"{fps_scan:.0f} frames/s |",
                f"| `coil_kspace` (coil weighting + FFT only), same data | {fps_fft:.0f} frames/s |",
                "",
                f"A frame is one (t, z) image with all {shape[2]} coils ({shape[3]} x {shape[4]}). "
                f"Load average before the run: {load:.2f}. "
                "The `small` tree (96 scans, 9 centers) takes about "
                "a minute and ~1.5 GB (measured once, not part of this benchmark).",
            ]
        )
        + "\n"
    )
