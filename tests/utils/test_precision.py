"""--precision: parsing, the CUDA TF32 flags set and restored, autocast only for bf16."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.utils.precision import (
    PRECISIONS,
    Precision,
    native_cpu_bf16,
    parse_precision,
    precision_context,
    precision_note,
    resolve_precision,
)


@pytest.fixture
def tf32_flags() -> Iterator[tuple[bool, bool]]:
    """Known CUDA TF32 flags before the test (matmul off, cuDNN on: torch's defaults); restored after."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    yield False, True
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _flags() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def test_parse_precision_accepts_the_three_and_refuses_the_rest() -> None:
    assert PRECISIONS == ("fp32", "tf32", "bf16")
    assert [parse_precision(p) for p in (" FP32", "tf32", "Bf16")] == list(Precision)
    assert parse_precision(Precision.BF16) is Precision.BF16
    for bad in ("fp16", "float32", "", "bfloat16"):
        with pytest.raises(ConfigError, match="unknown precision .*; choose from fp32, tf32, bf16"):
            parse_precision(bad)


def test_auto_is_bf16_only_on_a_cpu_with_native_bfloat16(monkeypatch: pytest.MonkeyPatch) -> None:
    import cardiomm.utils.precision as precision

    for native, expected in ((True, Precision.BF16), (False, Precision.FP32)):
        monkeypatch.setattr(precision, "native_cpu_bf16", lambda native=native: native)
        assert resolve_precision("auto", "cpu") is expected
        assert resolve_precision(" AUTO ", torch.device("cpu")) is expected
        for cuda in ("cuda", "cuda:1", torch.device("cuda", 0)):
            assert resolve_precision("auto", cuda) is Precision.FP32  # bf16 is slower at batch 1 there
        assert resolve_precision("tf32", "cpu") is Precision.TF32  # explicit values pass through
    with pytest.raises(ConfigError, match="choose from fp32, tf32, bf16, auto"):
        resolve_precision("fp16", "cpu")


def test_native_cpu_bf16_follows_the_torch_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(native_cpu_bf16(), bool)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert native_cpu_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert native_cpu_bf16() is True
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert native_cpu_bf16() is False  # a torch without the probes: fp32


def test_precision_context_on_cpu_touches_no_flag_and_autocasts_only_bf16(
    tf32_flags: tuple[bool, bool],
) -> None:
    for prec in ("fp32", "tf32"):
        with precision_context(prec, "cpu"):
            assert _flags() == tf32_flags and not torch.is_autocast_enabled("cpu")
    with precision_context("bf16", "cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu") and _flags() == tf32_flags


def test_precision_context_sets_and_restores_the_cuda_tf32_flags(
    tf32_flags: tuple[bool, bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flags are plain process state: settable without a GPU, so this runs everywhere."""
    with precision_context("tf32", "cuda:0"):
        assert _flags() == (True, True)
    assert _flags() == tf32_flags
    with precision_context(Precision.FP32, torch.device("cuda", 0)):
        assert _flags() == (False, False)  # strict fp32: also no TF32 in cuDNN convolutions
    assert _flags() == tf32_flags
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    with pytest.raises(ConfigError, match="no bfloat16 support"), precision_context("bf16", "cuda:0"):
        pass
    assert _flags() == tf32_flags
    with pytest.raises(ConfigError, match="unknown precision"), precision_context("half", "cpu"):
        pass


def test_precision_note_only_for_tf32_off_cuda() -> None:
    note = precision_note("tf32", "cpu")
    assert note is not None and "no effect" in note and "cpu" in note
    assert precision_note("tf32", "cuda:0") is None
    assert precision_note("bf16", "cpu") is None and precision_note("fp32", "cpu") is None
