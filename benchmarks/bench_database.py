"""Database tool chain: index rate, prepare throughput, dataset random access.

Data: four ``cardiomm simulate mini --size tiny`` trees (seeds 0-3, 100 scans, ~115 MB; ``small`` is
~1.5 GB and too slow to generate here), written to a temporary folder. Imports (torch, pandas,
pyarrow, h5py) are warmed before timing. Baselines measured in the same run:

- index: files/s of a first index (headers + streamed sha256), of a re-index with nothing changed
  (stat only) and with 2 worker processes;
- prepare: input MB/s of ``prepare_shards`` vs reading the same raw files to ``/dev/null``;
- dataset: random-access frames/s of :class:`CardiacFrameDataset` vs raw ``h5py`` reads of the same
  frames (file opened per read, as a naive loader does, and kept open).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT_NAME = "MMCMR"
N_TREES = 4


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _read_to_null(paths: list[Path]) -> None:
    with open(os.devnull, "wb") as null:
        for p in paths:
            with open(p, "rb") as fh:
                while block := fh.read(1 << 20):
                    null.write(block)


def run() -> str:
    """Run the benchmark and return a Markdown section."""
    import h5py
    import pandas  # noqa: F401 - warm imports before timing
    import pyarrow.parquet  # noqa: F401
    import torch  # noqa: F401

    import cardiomm.io  # noqa: F401
    from cardiomm.database.catalog import index_tree, read_catalog
    from cardiomm.database.dataset import CardiacFrameDataset
    from cardiomm.database.shards import prepare_shards, read_manifest
    from cardiomm.simulate.tree import generate_mini

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ.setdefault("CARDIOMM_SALT_FILE", str(base / "secret" / "salt"))
        root = base / ROOT_NAME
        for seed in range(N_TREES):
            generate_mini(root / f"seed{seed}", size="tiny", seed=seed, progress=False)
        n_sources = len([p for p in root.rglob("*.mat") if "Mask_" not in str(p)])

        t0 = time.perf_counter()
        first = index_tree(root, base / "c1" / "catalog.parquet", workers=1)
        t_first = time.perf_counter() - t0
        t_again = _best(lambda: index_tree(root, base / "c1" / "catalog.parquet", workers=1))
        t0 = time.perf_counter()
        index_tree(root, base / "c2" / "catalog.parquet", workers=2)
        t_par = time.perf_counter() - t0
        cat = base / "c1" / "catalog.parquet"
        frame = read_catalog(cat)
        raw_paths = [root / r for r in frame["relpath"]]
        mb = sum(p.stat().st_size for p in raw_paths) / 1e6

        t_null = _best(lambda: _read_to_null(raw_paths))
        t0 = time.perf_counter()
        rep = prepare_shards(root, base / "shards", cat, workers=1)
        t_prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        prepare_shards(root, base / "shards2", cat, workers=2)
        t_prep2 = time.perf_counter() - t0
        t_resume = _best(lambda: prepare_shards(root, base / "shards", cat, workers=1), repeat=1)

        out = base / "shards"
        ds = CardiacFrameDataset(cat, out)
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(ds), size=min(2000, 20 * len(ds)))
        entries = {e["scan_id"]: e for e in read_manifest(out)["shards"]}
        located = [ds.scan_of(int(i)) for i in idx]
        paths = [out / entries[ds.headers[s].scan_id]["path"] for s, _ in located]

        def dataset_reads() -> None:
            for i in idx:
                ds[int(i)]

        def raw_reads_reopen() -> None:
            for p, (_, b) in zip(paths, located, strict=True):
                with h5py.File(p, "r") as f:
                    f["kspace"][b]
                    f["reconstruction_rss"][b]

        handles: dict[Path, h5py.File] = {}

        def raw_reads_open() -> None:
            for p, (_, b) in zip(paths, located, strict=True):
                f = handles.get(p) or handles.setdefault(p, h5py.File(p, "r"))
                f["kspace"][b]
                f["reconstruction_rss"][b]

        dataset_reads()  # warm the page cache and the dataset's handles
        t_ds = _best(dataset_reads)
        t_raw = _best(raw_reads_reopen)
        t_open = _best(raw_reads_open)
        for f in handles.values():
            f.close()
        ds.close()

    n = len(idx)
    lines = [
        "## database",
        "",
        f"Data: {N_TREES} x `cardiomm simulate mini --size tiny` (seeds 0-{N_TREES - 1}; {n_sources} scans, "
        f"{mb:.1f} MB of k-space .mat, {int(frame['n_frames'].sum())} frames); `--size small` is too slow to "
        "generate for a benchmark run.",
        "",
        "| step | measure | value | baseline (same run) | ratio |",
        "|---|---|---:|---:|---:|",
        f"| index, first run, 1 worker | files/s (headers + sha256) | {first.n_sources / t_first:.1f} | "
        f"re-index, nothing changed: {first.n_sources / t_again:.0f} files/s | "
        f"{t_first / t_again:.1f}x slower |",
        f"| index, first run, 2 workers | files/s | {first.n_sources / t_par:.1f} | 1 worker: "
        f"{first.n_sources / t_first:.1f} files/s | {t_first / t_par:.2f}x |",
        f"| prepare, 1 worker | input MB/s | {mb / t_prep:.1f} | read to /dev/null: {mb / t_null:.0f} MB/s | "
        f"{t_null / t_prep:.3f} |",
        f"| prepare, 2 workers | input MB/s | {mb / t_prep2:.1f} | read to /dev/null: "
        f"{mb / t_null:.0f} MB/s | "
        f"{t_null / t_prep2:.3f} |",
        f"| prepare re-run (all shards verified) | input MB/s equivalent | {mb / t_resume:.1f} | first run "
        f"{mb / t_prep:.1f} MB/s | {t_prep / t_resume:.1f}x faster |",
        f"| dataset random access | frames/s | {n / t_ds:.0f} | raw h5py, reopen per read: {n / t_raw:.0f} | "
        f"{t_raw / t_ds:.2f}x |",
        f"| dataset random access | frames/s | {n / t_ds:.0f} | raw h5py, files kept open: "
        f"{n / t_open:.0f} | "
        f"{t_open / t_ds:.2f}x |",
        "",
        f"Shards written: {rep.n_written}, {rep.bytes_out / 1e6:.1f} MB (k-space + RSS, uncompressed). "
        "prepare includes a sha256 check of each source, the RSS computation, the shard write and the "
        "shard content digest; 2-worker timings include the process-pool start (torch import in the fork "
        "server). The machine is shared (2 cores, other jobs running): expect noise.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
