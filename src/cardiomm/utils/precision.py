"""The arithmetic precision of a ``--precision`` option: ``fp32`` (default), ``tf32``, ``bf16`` or ``auto``.

``fp32``
    Full float32 everywhere. On CUDA, TF32 is switched *off* for matmuls and cuDNN convolutions while
    the networks run (torch enables it for cuDNN convolutions by default), so results do not depend on
    the GPU generation.
``tf32``
    float32 tensors, but CUDA matmuls and convolutions may use TF32 tensor cores (Ampere and newer:
    10-bit mantissa products, float32 accumulation). **No effect on the CPU**: there it is ``fp32``.
``bf16``
    ``torch.autocast(device_type, dtype=torch.bfloat16)`` around the network forward pass. Autocast only
    touches real floating-point tensors of its op lists (convolutions, linear layers, ...), so the
    networks' real-valued U-Net layers run in bfloat16 while the complex64 parts (centred FFTs,
    coil expand / reduce, data consistency, the RSS output) stay complex64 / float32:
    ``complex_to_channels`` / ``channels_to_complex`` are the boundary, and the latter casts back to
    float32 before building complex64. Works on the CPU too (slower than fp32 there unless the CPU has
    native bfloat16 instructions).
``auto``
    Resolved before anything runs (:func:`resolve_precision`): ``bf16`` on a CPU with native bfloat16
    arithmetic (Intel AMX-BF16 or AVX512-BF16: the shipped networks 0.61-0.89x the fp32 time per frame
    on such a Xeon, images within 0.4-0.7 % relative L2, PSNR within 0.06 dB), ``fp32`` everywhere else
    (other CPUs, where bf16 is emulated and slower, and CUDA GPUs, where bf16 is slower at batch 1).
    The default of ``cardiomm demo``; commands whose images are kept default to ``fp32``, so that
    their output does not depend on the machine.

The outputs of the reconstructors are float32 in every mode. The CUDA flags are process-wide; the
context manager sets them on entry and restores the previous values on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING

from cardiomm.errors import ConfigError
from cardiomm.types import parse_choice

if TYPE_CHECKING:
    import torch

__all__ = [
    "Precision",
    "PRECISIONS",
    "PRECISION_HELP",
    "parse_precision",
    "resolve_precision",
    "native_cpu_bf16",
    "precision_context",
    "precision_note",
]


class Precision(StrEnum):
    """Arithmetic precision of the learned networks (see the module docstring)."""

    FP32 = "fp32"
    TF32 = "tf32"
    BF16 = "bf16"


#: Every accepted ``--precision`` value but ``auto`` (which :func:`resolve_precision` turns into one).
PRECISIONS: tuple[str, ...] = tuple(p.value for p in Precision)

#: The ``--precision`` value that picks bf16 where the CPU computes it natively (:func:`resolve_precision`).
AUTO = "auto"

#: Help text of the ``--precision`` options.
PRECISION_HELP = (
    "fp32 (full float32), tf32 (TF32 tensor-core matmuls/convolutions on CUDA GPUs; no effect on the "
    "CPU), bf16 (bfloat16 autocast of the networks' real-valued layers; FFTs and data consistency "
    "stay complex64) or auto (bf16 on a CPU with native bfloat16 arithmetic, AMX or AVX512-BF16; "
    "fp32 elsewhere)."
)


def parse_precision(spec: str | Precision) -> Precision:
    """``"fp32"`` / ``"tf32"`` / ``"bf16"`` (any case, surrounding blanks ignored) -> :class:`Precision`.

    Raises
    ------
    ConfigError
        Any other value.
    """
    if isinstance(spec, Precision):
        return spec
    key = str(spec).strip().lower()
    return parse_choice(Precision, spec if key not in PRECISIONS else key, "precision")


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (Intel AMX-BF16 tiles or AVX512-BF16), as torch reports
    it; False where torch cannot tell (other architectures, other torch builds)."""
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # private torch.cpu probes
    try:
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
    except RuntimeError:
        return False


def resolve_precision(spec: str | Precision, device: str | torch.device = "cpu") -> Precision:
    """:func:`parse_precision`, with ``auto`` resolved for ``device``: ``bf16`` on a CPU with native
    bfloat16 arithmetic (:func:`native_cpu_bf16`), ``fp32`` otherwise (including every CUDA device).

    Raises
    ------
    ConfigError
        Any value but ``fp32``, ``tf32``, ``bf16`` and ``auto``.
    """
    if not isinstance(spec, Precision) and str(spec).strip().lower() == AUTO:
        on_cpu = str(device).split(":")[0] == "cpu"
        return Precision.BF16 if on_cpu and native_cpu_bf16() else Precision.FP32
    try:
        return parse_precision(spec)
    except ConfigError as exc:
        raise ConfigError(f"{exc}, {AUTO}") from None


def precision_note(precision: str | Precision, device: str) -> str | None:
    """A one-line notice when ``precision`` does nothing on ``device`` (``tf32`` off CUDA), else ``None``."""
    if parse_precision(precision) is Precision.TF32 and not str(device).startswith("cuda"):
        return f"--precision tf32 has no effect on device {device}: it computes in fp32 there"
    return None


@contextmanager
def _cuda_tf32(allow: bool) -> Iterator[None]:
    """Set TF32 for CUDA matmuls and cuDNN convolutions to ``allow``; restore the previous flags."""
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
        torch.backends.cudnn.allow_tf32 = cudnn


@contextmanager
def precision_context(precision: str | Precision, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run the enclosed network forward (or train step) at ``precision`` on ``device``.

    Parameters
    ----------
    precision
        ``fp32``, ``tf32`` or ``bf16`` (see the module docstring).
    device
        The torch device the network runs on (``cpu``, ``cuda:0``); only its type matters.

    Raises
    ------
    ConfigError
        An unknown ``precision``, or ``bf16`` on a CUDA GPU without bfloat16 support.
    """
    import torch  # noqa: PLC0415 - lazy: importing this module loads no torch

    prec = parse_precision(precision)
    device_type = torch.device(device).type
    with ExitStack() as stack:
        if device_type == "cuda":
            stack.enter_context(_cuda_tf32(prec is Precision.TF32))
            if prec is Precision.BF16 and not torch.cuda.is_bf16_supported():
                raise ConfigError(f"precision bf16 requested but GPU {device} has no bfloat16 support")
        if prec is Precision.BF16:
            stack.enter_context(torch.autocast(device_type, dtype=torch.bfloat16))
        yield
