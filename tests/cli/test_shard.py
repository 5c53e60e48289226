"""--shard: N processes share a TestSet tree (one per GPU or node); parts are whole files, disjoint,
balanced by bytes, and together write exactly the files of one unsharded run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import ConfigError
from cardiomm.recon.pipeline import ReconTask
from cardiomm.utils.shard import Shard, parse_shard, shard_device, shard_tasks


@pytest.fixture(scope="module")
def testset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=5, modalities=["Cine"])
    return root / "Cine" / "TestSet"


def test_parse_shard_from_text_and_from_the_launcher() -> None:
    assert parse_shard("1/4", {}) == Shard(1, 4) and parse_shard(" 0 / 1 ", {}) == Shard(0, 1)
    for bad in ("4/4", "-1/4", "1/0", "a/b", "", "1", "1/2/3", "0.5/2"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad, {})
    assert parse_shard("auto", {"RANK": "3", "WORLD_SIZE": "8"}) == Shard(3, 8)  # torchrun
    assert parse_shard("AUTO", {"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}) == Shard(1, 2)
    torchrun_first = {"RANK": "0", "WORLD_SIZE": "2", "SLURM_PROCID": "5", "SLURM_NTASKS": "9"}
    assert parse_shard("auto", torchrun_first) == Shard(0, 2)
    with pytest.raises(ConfigError, match="no launcher variables"):
        parse_shard("auto", {"RANK": "0"})
    with pytest.raises(ConfigError, match="not part numbers"):
        parse_shard("auto", {"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="does not exist"):
        parse_shard("auto", {"RANK": "2", "WORLD_SIZE": "2"})


def test_parts_are_whole_files_disjoint_complete_and_balanced(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 1000, size=23)
    tasks = []
    for i, size in enumerate(sizes):
        src = tmp_path / f"f{i:02d}.mat"
        src.write_bytes(b"x" * int(size))
        tasks += [
            ReconTask(src, tmp_path / f"m{i}_{r}.mat", tmp_path / f"o{i}_{r}.mat", f"{i}/{r}")
            for r in (8, 16)
        ]
    tasks.append(ReconTask(tmp_path / "gone.mat", None, tmp_path / "gone_out.mat", "gone"))  # unreadable
    for n in (1, 2, 3, 5, 30):
        parts = [shard_tasks(tasks, Shard(k, n)) for k in range(n)]
        assert sorted(t.rel_path for p in parts for t in p) == sorted(t.rel_path for t in tasks)
        owners = {}
        for k, part in enumerate(parts):
            assert part == [t for t in tasks if t in part]  # original order kept
            for t in part:
                assert owners.setdefault(t.kspace_path, k) == k  # a file's masks stay together
        sizes_of = [
            {t.kspace_path: t.kspace_path.stat().st_size for t in p if t.kspace_path.exists()} for p in parts
        ]
        load = [sum(s.values()) for s in sizes_of]
        assert max(load) - min(load) <= int(sizes.max())  # greedy balance: within one file
        assert parts == [shard_tasks(list(tasks), Shard(k, n)) for k in range(n)]  # deterministic


def test_torchrun_local_rank_picks_the_process_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert shard_device("auto", {}) == "auto"
    assert shard_device("cuda:1", {"LOCAL_RANK": "3"}) == "cuda:1"  # explicit devices are kept
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert shard_device("auto", {"LOCAL_RANK": "1"}) == "auto"  # no GPU: the CPU, as usual
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert shard_device("auto", {"LOCAL_RANK": "2"}) == "cuda:2"
    assert shard_device("Auto", {"LOCAL_RANK": "7"}) == "Auto"  # more processes than GPUs: resolved as usual


def test_two_shards_write_the_files_of_one_run(
    testset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cardiomm.io import read_image_mat

    argv = ["reconstruct", str(testset), "--method", "zf", "--include", "cine_sax_mask_*"]
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    for k in (0, 1):  # the second through torchrun's variables
        shard = ["--shard", f"{k}/2"] if k == 0 else ["--shard", "auto"]
        monkeypatch.setenv("RANK", str(k))
        assert main([*argv, "--out", str(tmp_path / "two"), *shard]) == 0
        assert f"part {k} of 2" in capsys.readouterr().out
        assert json.loads((tmp_path / "two" / f"failures.shard-{k}-of-2.json").read_text()) == []
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.mat"))
    two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.mat"))
    assert one == two and len(one) >= 2
    for rel in one:
        np.testing.assert_array_equal(
            read_image_mat(tmp_path / "one" / rel), read_image_mat(tmp_path / "two" / rel)
        )
    assert not (tmp_path / "two" / "failures.json").exists()
    n_files = len({p.parent for p in (tmp_path / "one").rglob("*.mat")})
    empty = ["--shard", f"{n_files + 1}/{n_files + 2}"]  # more parts than files: an empty part is no error
    assert main([*argv, "--out", str(tmp_path / "empty"), *empty]) == 0
    assert [p.name for p in (tmp_path / "empty").iterdir()] == [
        f"failures.shard-{n_files + 1}-of-{n_files + 2}.json"
    ]


def test_bad_shards_are_usage_errors_before_any_work(testset: Path, tmp_path: Path) -> None:
    one_file = next(testset.rglob("FullSample/**/*.mat"))
    for target, shard in ((testset, "2/2"), (testset, "x"), (one_file, "0/2")):
        assert (
            main(
                ["reconstruct", str(target), "--out", str(tmp_path / "o"), "--method", "zf", "--shard", shard]
            )
            == 2
        )
    assert not (tmp_path / "o").exists()


def test_importing_the_cli_loads_no_torch() -> None:
    code = "import sys, cardiomm.cli.main; assert 'torch' not in sys.modules, 'torch'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
