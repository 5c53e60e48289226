"""2-process DDP on CPU (gloo) through ``cardiomm train``: disjoint samples per rank, identical weights.

Runs in a subprocess (Lightning's ``ddp`` strategy re-launches the command for rank 1), with the tiny
preset on tiny frames for two short epochs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import torch
from safetensors.torch import load_file

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


def test_ddp_two_ranks_disjoint_samples_identical_weights(tiny_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    sets = {
        "data.data": tiny_tree, "data.val_from": "split", "data.val_fraction": 0.5,
        "data.max_train_frames": None, "data.max_val_frames": 2, "data.max_test_frames": 0,
        "trainer.accelerator": "cpu", "trainer.devices": 2, "trainer.strategy": "ddp",
        "trainer.max_epochs": 2, "trainer.max_steps": -1, "trainer.log_every_n_steps": 1,
        "run.output_dir": out, "run.log_samples": True, "run.dump_rank_weights": True,
        "run.validate_before_fit": False, "run.threads": 1,
    }  # fmt: skip
    cmd = [sys.executable, "-m", "cardiomm.cli.main", "train", "--config", str(CONFIG)]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={'null' if value is None else value}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    seen: dict[int, dict[int, list[int]]] = {}
    for rank in (0, 1):
        per_epoch: dict[int, list[int]] = defaultdict(list)
        for line in (out / "samples" / f"rank{rank}.txt").read_text().split("\n"):
            if line:
                epoch, index = map(int, line.split())
                per_epoch[epoch].append(index)
        seen[rank] = per_epoch
    n_train = 4  # the 50 % patient split keeps 2 training scans of (t=2, z=2) or (t=2, z=1): >= 4 frames
    for epoch in (0, 1):
        a, b = seen[0][epoch], seen[1][epoch]
        assert len(a) == len(b) >= n_train // 2  # same number of steps on both ranks
        assert set(a).isdisjoint(b)  # ranks see disjoint frames

    w0 = load_file(str(out / "ranks" / "rank0.safetensors"))
    w1 = load_file(str(out / "ranks" / "rank1.safetensors"))
    assert w0.keys() == w1.keys()
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    release = load_file(str(out / "release" / "model.safetensors"))  # written by rank 0 only
    assert all(torch.equal(release[k], w0[k]) for k in release)
