"""--precision of the learned reconstructors: bf16 close to fp32, fp32 the default, tf32 a no-op on the
CPU, the complex physics untouched by autocast, typos refused with a typed error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from cardiomm.errors import ConfigError
from cardiomm.recon import ReconInput, get_reconstructor
from cardiomm.recon.learned import CHECKPOINT_DIR, LearnedRecon
from cardiomm.utils.precision import Precision

from .conftest import line_mask

LEARNED = [m for m in ("cardiomm", "promptmr", "varnet") if (CHECKPOINT_DIR / m).is_dir()]

#: Largest relative L2 error of a bf16 reconstruction vs fp32 accepted. Measured on this phantom
#: (64 x 80, 6 coils, R = 4 uniform) with the shipped checkpoints: 3.7e-3 CardioMM, 2.9e-3 PromptMR,
#: 1.8e-3 VarNet (bfloat16 keeps 8 mantissa bits, ~4e-3 relative per rounding).
BF16_REL_TOL = 2e-2


def _input(phantom: dict[str, torch.Tensor]) -> ReconInput:
    k = phantom["kspace"]
    mask = line_mask(*k.shape[-2:], 4)
    return ReconInput(
        k * mask,
        mask,
        "uniform",
        4,
        20,
        "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis.",
        "Undersampling: 4x uniform.",
    )


def _rel(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float((x.double() - ref.double()).norm() / ref.double().norm())


@pytest.fixture(scope="module")
def recons() -> Callable[[str, str], LearnedRecon]:
    """Cached shipped-checkpoint reconstructors by ``(method, precision)``."""
    cache: dict[tuple[str, str], LearnedRecon] = {}

    def get(method: str, precision: str) -> LearnedRecon:
        if (method, precision) not in cache:
            recon = get_reconstructor(method, precision=precision)
            assert isinstance(recon, LearnedRecon)
            cache[method, precision] = recon
        return cache[method, precision]

    return get


@pytest.mark.parametrize("method", LEARNED)
def test_learned_recon_bf16_is_close_to_fp32(
    method: str, recons: Callable[[str, str], LearnedRecon], phantom: dict[str, torch.Tensor]
) -> None:
    inp = _input(phantom)
    ref = recons(method, "fp32")(inp)
    out = recons(method, "bf16")(inp)
    assert out.dtype == torch.float32 and out.shape == ref.shape and torch.isfinite(out).all()
    err = _rel(out, ref)
    assert 0 < err < BF16_REL_TOL, f"{method}: bf16 vs fp32 relative L2 error {err:.2e}"


@pytest.mark.parametrize("method", LEARNED)
def test_learned_recon_fp32_is_the_default_and_tf32_is_fp32_on_cpu(
    method: str, recons: Callable[[str, str], LearnedRecon], phantom: dict[str, torch.Tensor]
) -> None:
    inp = _input(phantom)
    default = get_reconstructor(method)
    assert isinstance(default, LearnedRecon) and default.precision is Precision.FP32
    ref = default(inp)
    assert torch.equal(recons(method, "fp32")(inp), ref)
    tf32 = recons(method, "tf32")
    assert tf32.precision is Precision.TF32 and tf32.device.type == "cpu"
    assert torch.equal(tf32(inp), ref)


class _DtypeLog(TorchDispatchMode):
    """Records ``(op name, output dtypes)`` of every aten op run (after autocast has cast the inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[tuple[str, list[torch.dtype]]] = []

    def __torch_dispatch__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        out = func(*args, **(kwargs or {}))
        flat = out if isinstance(out, (tuple, list)) else [out]
        self.ops.append((str(func), [t.dtype for t in flat if isinstance(t, torch.Tensor)]))
        return out


@pytest.mark.parametrize("method", LEARNED)
def test_bf16_runs_the_convolutions_in_bf16_and_keeps_the_physics_complex64(
    method: str, recons: Callable[[str, str], LearnedRecon], phantom: dict[str, torch.Tensor]
) -> None:
    """Autocast reaches the U-Net convolutions; every complex tensor (FFTs, coil expand/reduce, data
    consistency) stays complex64; the output is float32."""
    recon = recons(method, "bf16")
    log = _DtypeLog()
    with torch.no_grad(), log:
        out = recon(_input(phantom))
    assert out.dtype == torch.float32
    convs = [dts for name, dts in log.ops if name.startswith("aten.conv")]
    assert convs and all(dts == [torch.bfloat16] for dts in convs), f"{method}: {len(convs)} convolutions"
    ffts = [dts for name, dts in log.ops if "fft" in name]
    assert ffts and all(dts == [torch.complex64] for dts in ffts)
    complex_out = {dt for _, dts in log.ops for dt in dts if dt.is_complex}
    assert complex_out == {torch.complex64}


def test_invalid_precision_is_a_config_error() -> None:
    for name in ("zf", "varnet"):
        with pytest.raises(ConfigError, match=r"unknown precision 'fp16'; choose from fp32, tf32, bf16"):
            get_reconstructor(name, precision="fp16")
    with pytest.raises(ConfigError, match="unknown precision 'half'"):
        LearnedRecon("varnet", torch.nn.Identity(), precision="half")
    recon = get_reconstructor("varnet", precision=" BF16 ")
    assert isinstance(recon, LearnedRecon) and recon.precision is Precision.BF16


def test_reuse_marker_of_a_learned_method_records_its_precision() -> None:
    """A tree reconstructed at bf16 is not reused for an fp32 request (and vice versa), nor one made with
    other weights (the marker holds their SHA-256, also for the shipped checkpoint)."""
    from cardiomm.recon.learned import CHECKPOINT_DIR
    from cardiomm.scoring import _marker
    from cardiomm.utils.hashing import sha256_file

    shipped = sha256_file(CHECKPOINT_DIR / "varnet" / "model.safetensors")
    assert _marker("varnet", 9, None, "fp32") == {"tasks": 9, "model": "None", "weights_sha256": shipped}
    assert _marker("varnet", 9, None, "bf16") == {
        "tasks": 9, "model": "None", "weights_sha256": shipped, "precision": "bf16"
    }  # fmt: skip
    other = CHECKPOINT_DIR / "cardiomm"  # other weights under the same method name: another marker
    assert _marker("varnet", 9, other, "fp32")["weights_sha256"] == sha256_file(other / "model.safetensors")
    assert "weights_sha256" not in _marker("sense", 9, None, "fp32")
    assert _marker("sense", 9, None, "bf16") == _marker("sense", 9, None, "fp32")
