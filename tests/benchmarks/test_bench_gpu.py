"""benchmarks/bench_gpu.py: the skip section without CUDA, the timing code path on a tiny model (on the CPU
here, on CUDA too where there is one), and no import beyond what the GPU machines have."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from .conftest import BENCHMARKS, load_bench

BENCH = BENCHMARKS / "bench_gpu.py"
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_gpu")


def test_bench_gpu_without_cuda_returns_the_skip_section(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    text = bench.run()
    assert text.startswith("## GPU") and "Skipped:" in text and "CUDA" in text
    assert "benchmarks/bench_gpu.py" in text and "|" not in text


@pytest.mark.parametrize("device", DEVICES)
def test_bench_gpu_timing_loop_runs_on_a_tiny_model(
    bench: ModuleType, device: str, torch_single_thread: None
) -> None:
    res = bench.measure(
        device,
        presets=("tiny",),
        batches=(1, 2),
        precisions=("fp32", "tf32", "bf16"),
        frame=(2, 24, 16),
        train_preset="tiny",
        train_precisions=("fp32", "bf16"),
        repeats=1,
        warmup=1,
    )
    assert res.fft_ms > 0 and len(res.infer) == 6 and len(res.train) == 2
    assert all(r.ms_per_frame is not None and r.ms_per_frame > 0 for r in res.infer)
    assert all(t.s_per_step is not None and t.s_per_step > 0 for t in res.train)
    diffs = {r.precision: r.rel_diff for r in res.infer if r.batch == 1}
    assert diffs["fp32"] is None and diffs["bf16"] is not None and 0 < diffs["bf16"] < 2e-2
    if device == "cpu":
        assert diffs["tf32"] == 0.0  # no effect on the CPU
    assert all((r.peak_gib is not None) == (device != "cpu") for r in res.infer)
    text = bench.to_markdown(res)
    assert text.count("| tiny | 2 | 21,196 |") == 6 and "| tiny | 1 | bf16 |" in text


def test_bench_gpu_deadline_skips_what_is_left(bench: ModuleType) -> None:
    res = bench.measure("cpu", presets=("tiny",), batches=(1,), frame=(2, 24, 16), budget_s=0, repeats=1)
    assert res.infer and all(r.ms_per_frame is None and "time budget" in r.note for r in res.infer)
    assert res.train and all(t.s_per_step is None and "time budget" in t.note for t in res.train)
    assert "skipped (time budget)" in bench.to_markdown(res)


#: Top-level modules the GPU machines have: torch (and what torch itself imports), lightning,
#: torchmetrics, h5py, scipy, typer, rich and their dependencies; the standard library.
ALLOWED = {
    "cardiomm", "bench_gpu", "torch", "numpy", "lightning", "lightning_utilities", "torchmetrics", "h5py",
    "scipy", "typer", "click", "rich", "markdown_it", "mdurl", "pygments", "shellingham",
    "typing_extensions", "sympy", "mpmath", "networkx", "jinja2", "markupsafe", "fsspec", "filelock",
    "packaging", "yaml", "tqdm", "triton", "nvidia", "torchgen", "cython_runtime",
}  # fmt: skip

_CHILD = """
import pkgutil, runpy, sys
import torch
torch.set_num_threads(1)  # tiny ops: one thread is fastest on a busy machine
allowed = set(sys.argv[2].split(",")) | set(sys.stdlib_module_names)
for info in pkgutil.iter_modules():  # every other installed package: absent, as on the GPU machine
    if info.name not in allowed and not info.name.startswith("_") and info.name not in sys.modules:
        sys.modules[info.name] = None
mod = runpy.run_path(sys.argv[1], run_name="__main__")  # prints the skip section (no CUDA here)
res = mod["measure"]("cpu", presets=("tiny",), batches=(1,), frame=(2, 24, 16), train_preset="tiny",
                     repeats=1, warmup=0)
print(mod["to_markdown"](res))
loaded = {m.split(".")[0] for m, v in sys.modules.items() if v is not None}
print("OUTSIDE", sorted(m for m in loaded - allowed if not m.startswith("_")))
"""


def test_bench_gpu_imports_only_what_the_gpu_machine_has(tmp_path: Path) -> None:
    """Standalone run (``python3 benchmarks/bench_gpu.py``) with every other package made unimportable."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(BENCH), ",".join(sorted(ALLOWED))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## GPU" in proc.stdout and "| tiny | 2 | 21,196 | 1 | bf16 |" in proc.stdout
    assert "Skipped:" in proc.stdout or torch.cuda.is_available()
    assert proc.stdout.rsplit("OUTSIDE", 1)[1].strip() == "[]", proc.stdout[-500:]
