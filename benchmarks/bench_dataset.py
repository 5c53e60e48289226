"""Training data path at scale: frames/s from prepared shards against what a training step consumes.

Issue #17, item 4. Shards of paper-size cine frames (10 coils, 246 x 512 k-space with 2x readout
oversampling, complex64: 10 MB per frame, the CMRxRecon cine geometry) are written by ``db prepare`` and
read in random order, as the training sampler reads them:

- ``dataset``: :class:`cardiomm.database.dataset.CardiacFrameDataset` alone (k-space + RSS target);
- ``training transform``: the same through :class:`cardiomm.training.undersampling.UndersampledFrames`
  (a random mask, undersampling, ACS and prompts: what a training step receives);
- through a ``torch.utils.data.DataLoader`` with 0, 1 and 2 worker processes (batch 1, shuffled).

The need is one frame per optimiser step at batch 1: the ``paper`` preset takes ~0.5 s per step on an
H200 and ``small`` ~0.12 s (issue #17), i.e. 2 and 8.3 frames/s. Files are in the page cache (a cold
read is bounded by the storage instead; 10 MB per frame at 8.3 frames/s is 83 MB/s).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = (6, 4, 10, 246, 512)  # (t, z, c, ky, kx): 24 frames of 10 MB per scan
N_SCANS = 4
N_READS = 96
NEED = {"paper (H200, 0.5 s/step)": 2.0, "small (H200, 0.12 s/step)": 1 / 0.12}


def _rate(fn, n: int, repeat: int = 2) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def run() -> str:
    """Run the benchmark and return a Markdown section."""
    import torch
    from torch.utils.data import DataLoader

    from cardiomm.database.catalog import index_tree
    from cardiomm.database.dataset import CardiacFrameDataset
    from cardiomm.database.shards import prepare_shards
    from cardiomm.simulate.tree import generate_mini
    from cardiomm.training.records import collate_samples
    from cardiomm.training.undersampling import UndersampledFrames

    bench_db = _load_database_bench()
    r: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ.setdefault("CARDIOMM_SALT_FILE", str(base / "secret" / "salt"))
        tiny = base / "tiny"
        generate_mini(tiny, size="tiny", seed=0, progress=False)
        info = next(tiny.rglob("cine_sax_info.csv"))
        root = base / "paper" / "MMCMR"
        paths = bench_db._synthetic_scans(root, info, SHAPE, N_SCANS, seed=3)
        shutil.rmtree(tiny)
        cat = base / "catalog.parquet"
        index_tree(root, cat, workers=1)
        shards = base / "shards"
        rep = prepare_shards(root, shards, cat, workers=1)
        assert rep.n_written == N_SCANS and rep.n_failed == 0, rep
        r["frame_mb"] = float(np.prod(SHAPE[2:])) * 8 / 1e6
        r["gb"] = sum(p.stat().st_size for p in paths) / 1e9

        ds = CardiacFrameDataset(cat, shards)
        n = len(ds)
        order = np.random.default_rng(0).permutation(np.resize(np.arange(n), N_READS))
        torch.set_num_threads(1)

        def read_dataset() -> None:
            for i in order:
                ds[int(i)]

        frames = UndersampledFrames(ds, train=True, seed=0)

        def read_transformed() -> None:
            for i in order:
                frames[int(i)]

        read_dataset()  # open the files once
        r["dataset"] = _rate(read_dataset, len(order))
        r["transform"] = _rate(read_transformed, len(order))
        for workers in (0, 1, 2):
            sampler = [int(i) for i in order]

            def load(workers: int = workers, sampler: list[int] = sampler) -> None:
                loader = DataLoader(frames, batch_size=1, sampler=sampler, num_workers=workers,
                                    collate_fn=collate_samples)  # fmt: skip
                for _ in loader:
                    pass

            r[f"loader_{workers}"] = _rate(load, len(order))
        ds.close()
    return _section(r, n)


def _load_database_bench():  # type: ignore[no-untyped-def]
    import importlib.util

    path = Path(__file__).with_name("bench_database.py")
    spec = importlib.util.spec_from_file_location("bench_database", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _section(r: dict[str, float], n_frames: int) -> str:
    t, z, c, ky, kx = SHAPE
    rows = [
        ("`CardiacFrameDataset`, in-process", r["dataset"]),
        ("+ training transform (mask, undersampling, prompts), in-process", r["transform"]),
        ("DataLoader, 0 workers", r["loader_0"]),
        ("DataLoader, 1 worker", r["loader_1"]),
        ("DataLoader, 2 workers", r["loader_2"]),
    ]
    needs = list(NEED.items())
    head = "| read path | frames/s | MB/s | " + " | ".join(f"x need, {k}" for k, _ in needs) + " |"
    lines = [
        "## dataset",
        "",
        f"Training reads from `db prepare` shards of paper-size cine frames: {N_SCANS} scans of "
        f"(t, z, c, ky, kx) = ({t}, {z}, {c}, {ky}, {kx}) complex64, {n_frames} frames of "
        f"{r['frame_mb']:.1f} MB ({r['gb']:.2f} GB of k-space), files in the page cache, {N_READS} reads in "
        "random order, batch 1, one torch thread per process. Need: one frame per optimiser step "
        "(`paper` ~0.5 s/step on an H200 = 2 frames/s; `small` ~0.12 s = 8.3 frames/s).",
        "",
        head,
        "|---|---:|---:|" + "---:|" * len(needs),
    ]
    for name, rate in rows:
        ratios = " | ".join(f"{rate / need:.1f}x" for _, need in needs)
        lines.append(f"| {name} | {rate:.1f} | {rate * r['frame_mb']:.0f} | {ratios} |")
    lines += [
        "",
        "Scaling from 1 to 2 loader workers: "
        f"{r['loader_2'] / r['loader_1']:.2f}x (2 cores, shared with the main process).",
    ]
    return "\n".join(lines) + "\n"
