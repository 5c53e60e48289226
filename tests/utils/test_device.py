"""--device: auto picks what is there; a missing GPU is a typed error, never a silent fallback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.utils.device import resolve_device


def test_resolve_device_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu") == "cpu" and resolve_device(" CPU ") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    for spec in ("cuda", "cuda:0", "cuda:3"):
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device(spec)
    for spec in ("gpu", "cuda:x", "mps", ""):
        with pytest.raises(ConfigError, match="unknown device"):
            resolve_device(spec)


def test_resolve_device_with_two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda:0" and resolve_device("cuda") == "cuda:0"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(ConfigError, match="2 CUDA device"):
        resolve_device("cuda:2")


def test_cli_refuses_a_missing_gpu_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cardiomm.cli.main import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "demo_out"
    assert main(["demo", "--out", str(out), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not out.exists()
    args = ["compare", str(tmp_path / "x.mat"), "--pattern", "Uniform", "--accel", "8", "--device", "cuda:1"]
    assert main(args) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    rec = ["reconstruct", str(tmp_path / "x.mat"), "--out", str(tmp_path / "r"), "--device", "cuda"]
    assert main(rec) == 2
    assert "no CUDA GPU" in capsys.readouterr().err and not (tmp_path / "r").exists()
