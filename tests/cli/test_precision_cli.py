"""--precision on `reconstruct`, `compare` and `demo`: parsed, passed to the library (also to the isolated
worker of a folder run), typos refused before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import ConfigError
from cardiomm.utils.precision import Precision

INCLUDE = "cine_lax_2ch_mask_Uniform8.mat"


@pytest.fixture(scope="module")
def testset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=3, modalities=["Cine"])
    return root / "Cine" / "TestSet"


def test_precision_typo_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = str(tmp_path / "x.mat")
    runs = {
        "reconstruct": ["reconstruct", x, "--out", str(tmp_path / "r"), "--method", "varnet"],
        "compare": ["compare", x, "--pattern", "Uniform", "--accel", "8", "--out", str(tmp_path / "c")],
        "demo": ["demo", "--out", str(tmp_path / "d")],
    }
    for argv in runs.values():
        assert main([*argv, "--device", "cpu", "--precision", "fp16"]) == 2
        assert "unknown precision 'fp16'; choose from fp32, tf32, bf16" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


class _Stop(ConfigError):
    """Raised by the recorders below once the CLI has handed over its arguments."""


def _recorder(seen: dict[str, Any], key: str, arg: int | None = None) -> Any:
    def record(*args: Any, **kwargs: Any) -> None:
        seen[key] = kwargs["precision"] if arg is None else args[arg]
        raise _Stop("stopped after the hand-over")

    return record


def test_precision_option_reaches_the_library(
    testset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cardiomm.cli.demo
    import cardiomm.recon.batch
    import cardiomm.recon.compare

    seen: dict[str, Any] = {}
    monkeypatch.setattr(cardiomm.recon.batch, "build_reconstructors", _recorder(seen, "single", 3))
    monkeypatch.setattr(cardiomm.recon.batch, "reconstruct_tasks_isolated", _recorder(seen, "folder"))
    monkeypatch.setattr(cardiomm.recon.compare, "run_comparison", _recorder(seen, "compare"))
    monkeypatch.setattr(cardiomm.cli.demo, "run_demo", _recorder(seen, "demo"))
    x = str(tmp_path / "x.mat")
    argvs = {
        "single": ["reconstruct", x, "--out", str(tmp_path / "r"), "--precision", "BF16"],
        "folder": ["reconstruct", str(testset), "--out", str(tmp_path / "f"), "--precision", "bf16"],
        "compare": ["compare", x, "--pattern", "Uniform", "--accel", "8", "--precision", "bf16"],
        "demo": ["demo", "--out", str(tmp_path / "d"), "--precision", "bf16"],
    }
    for key, argv in argvs.items():
        assert main([*argv, "--device", "cpu"]) == 2
        assert "stopped after the hand-over" in capsys.readouterr().err
        assert seen.pop(key) is Precision.BF16, key
    main(["reconstruct", x, "--out", str(tmp_path / "r"), "--device", "cpu"])
    assert seen.pop("single") is Precision.FP32  # the default
    main(["compare", x, "--pattern", "Uniform", "--accel", "8", "--device", "cpu", "--precision", "tf32"])
    assert seen.pop("compare") is Precision.TF32
    assert "no effect on device cpu" in capsys.readouterr().out
    import cardiomm.utils.precision

    for native, expected in ((True, Precision.BF16), (False, Precision.FP32)):  # auto, resolved here
        monkeypatch.setattr(cardiomm.utils.precision, "native_cpu_bf16", lambda n=native: n)
        main(["demo", "--out", str(tmp_path / "d"), "--device", "cpu"])  # the demo's default is auto
        assert seen.pop("demo") is expected
        main(["reconstruct", x, "--out", str(tmp_path / "r"), "--device", "cpu", "--precision", "auto"])
        assert seen.pop("single") is expected


def test_precision_reaches_the_isolated_worker(testset: Path, tmp_path: Path) -> None:
    """A folder run reconstructs in a worker process: bf16 there is close to fp32, not equal to it."""
    from cardiomm.io import read_image_mat

    images = {}
    for prec in ("fp32", "bf16"):
        out = tmp_path / prec
        argv = ["reconstruct", str(testset), "--out", str(out), "--method", "varnet", "--include", INCLUDE]
        assert main([*argv, "--device", "cpu", "--precision", prec]) == 0
        files = sorted((out / "varnet").rglob(INCLUDE))
        assert files
        images[prec] = np.concatenate([read_image_mat(f).numpy().ravel() for f in files])
    ref, bf16 = images["fp32"].astype(np.float64), images["bf16"].astype(np.float64)
    err = np.linalg.norm(bf16 - ref) / np.linalg.norm(ref)
    assert 0 < err < 2e-2, err
