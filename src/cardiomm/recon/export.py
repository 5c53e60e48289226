"""Export a release as a self-contained TorchScript program for one protocol (``cardiomm export``).

The exported file runs without the ``cardiomm`` package (``torch.jit.load`` in Python, or libtorch in
C++): ``image = program(masked_kspace, mask)`` with ``masked_kspace`` ``(b, c, ky, kx)`` complex64
(zeros where not sampled) and ``mask`` ``(b, 1, ky, kx)`` bool, returning the magnitude ``(b, ky, kx)``
float32 exactly as :class:`~cardiomm.recon.learned.LearnedRecon` with ``dc="soft"``: the k-space is
divided by the RMS of its acquired samples and the image multiplied back, and the text prompts (for
CardioMM) are encoded at export time and stored in the program as constants.

A trace records one path through the network: the shape, the mask family and the prompts are fixed
when it is made. The program therefore checks each call: the k-space shape must be the exported one,
and a program exported for a line mask (Cartesian ``uniform`` / ``random``, i.e. ktGaussian: every
sampled ky line holds the whole readout) refuses a mask that is not constant along the readout,
because the traced data consistency applies FFTs along ky only
(:class:`~cardiomm.physics.sense.SenseNormalOp`). Export once per protocol (matrix, coil count, mask
family, batch size).

ONNX is not offered: the networks compute in complex64 and with complex FFTs, which the ONNX type
system and operator set cannot represent (``torch.onnx`` refuses complex tensors); asking for it is a
typed error that says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
from torch import nn

from cardiomm.errors import ConfigError, UnknownChoiceError
from cardiomm.models.release import load_release
from cardiomm.recon.learned import kspace_scale, shipped_checkpoint
from cardiomm.text import get_encoder
from cardiomm.types import TrainMaskType
from cardiomm.utils.atomic import atomic_path

__all__ = ["EXPORT_FORMATS", "ExportSpec", "export_release"]

#: ``--format`` choices of ``cardiomm export`` (``onnx`` is refused with the reason).
EXPORT_FORMATS = ("torchscript", "onnx")

#: Mask families whose sampled locations are whole ky lines (the readout fully sampled).
LINE_MASK_TYPES = (TrainMaskType.UNIFORM.value, TrainMaskType.RANDOM.value)


@dataclass(frozen=True)
class ExportSpec:
    """The protocol a program is exported for.

    Attributes
    ----------
    coils, ky, kx
        k-space shape per frame (``ky`` phase encodes, ``kx`` readout samples).
    mask_type
        The network's mask family: ``uniform``, ``random`` (ktGaussian) or ``radial``; the first two are
        line masks (Cartesian ky lines).
    acceleration
        Nominal acceleration, for the undersampling prompt.
    n_acs
        ACS size (lines, or the square side for radial).
    metadata_prompt
        CardioMM's metadata prompt (default: the prompt of an unknown scanner).
    batch
        Frames per call.
    """

    coils: int
    ky: int
    kx: int
    mask_type: str = TrainMaskType.UNIFORM.value
    acceleration: int = 8
    n_acs: int = 20
    metadata_prompt: str | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        for name in ("coils", "ky", "kx", "acceleration", "n_acs", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"export: {name} must be a positive integer, got {value!r}")
        if self.mask_type not in {m.value for m in TrainMaskType}:
            choices = ", ".join(m.value for m in TrainMaskType)
            raise UnknownChoiceError(f"export: mask type {self.mask_type!r}; choose from {choices}")


class _Network(nn.Module):
    """The traced part: the network on scaled k-space with the prompts as constants."""

    def __init__(self, model: nn.Module, kind: str, spec: ExportSpec, meta: torch.Tensor, us: torch.Tensor):
        super().__init__()
        self.model, self.kind, self.spec = model, kind, spec
        self.meta: torch.Tensor
        self.us: torch.Tensor
        self.register_buffer("meta", meta)
        self.register_buffer("us", us)

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b = kspace.shape[0]
        run = cast(Callable[..., torch.Tensor], self.model)
        if self.kind == "varnet":
            return run(kspace, mask, self.spec.mask_type, self.spec.n_acs)
        meta = None if self.kind == "promptmr" else self.meta.expand(b, -1)
        us = None if self.kind == "promptmr" else self.us.expand(b, -1)
        return run(kspace, mask, meta, us, self.spec.mask_type, self.spec.n_acs)


class _Program(nn.Module):
    """The scripted wrapper: input checks, k-space scaling, the traced network."""

    def __init__(self, network: torch.jit.ScriptModule, spec: ExportSpec) -> None:
        super().__init__()
        self.network = network
        self.shape = [spec.batch, spec.coils, spec.ky, spec.kx]
        self.lines = spec.mask_type in LINE_MASK_TYPES

    def forward(self, masked_kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if list(masked_kspace.shape) != self.shape or masked_kspace.dtype != torch.complex64:
            raise RuntimeError(
                f"this program was exported for complex64 k-space {self.shape} (b, c, ky, kx); "
                f"got {masked_kspace.dtype} {list(masked_kspace.shape)}"
            )
        if list(mask.shape) != [self.shape[0], 1, self.shape[2], self.shape[3]] or mask.dtype != torch.bool:
            raise RuntimeError(f"mask must be bool (b, 1, ky, kx) for k-space {self.shape}")
        if self.lines and not bool(torch.equal(mask.all(dim=-1), mask.any(dim=-1))):
            raise RuntimeError("this program was exported for a line mask: whole readouts sampled or not")
        scale = kspace_scale(masked_kspace)
        return self.network(masked_kspace / scale, mask) * scale


def export_release(
    release: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    spec: ExportSpec,
    *,
    method: str = "cardiomm",
    fmt: str = "torchscript",
    overwrite: bool = False,
) -> Path:
    """Write ``release`` (default: the shipped checkpoint of ``method``) as a TorchScript program.

    Returns
    -------
    Path
        ``out``, written atomically (an error leaves nothing).

    Raises
    ------
    UnknownChoiceError
        An unknown ``fmt``.
    ConfigError
        ``fmt="onnx"`` (complex-valued networks), or ``out`` exists without ``overwrite``.
    CheckpointError
        An unreadable release.
    """
    from cardiomm.text import metadata_prompt, undersampling_prompt  # noqa: PLC0415

    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError(f"export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if fmt == "onnx":
        raise ConfigError(
            "export --format onnx: the networks compute in complex64 with complex FFTs, which ONNX cannot "
            "represent (torch.onnx refuses complex tensors); use --format torchscript"
        )
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists (use --overwrite to replace it)")
    loaded = load_release(release if release is not None else shipped_checkpoint(method))
    model = loaded.model.eval()
    meta, us = torch.zeros(1, 1), torch.zeros(1, 1)
    if loaded.kind == "cardiomm":
        encoder = get_encoder(loaded.config.text_encoder)
        meta_text = spec.metadata_prompt or metadata_prompt(modality="cine")
        meta = encoder.encode([meta_text]).float()
        us = encoder.encode([undersampling_prompt(spec.acceleration, spec.mask_type)]).float()
    network = _Network(model, loaded.kind, spec, meta, us).eval()
    example_k, example_mask = _example(spec)
    with torch.no_grad():
        traced = torch.jit.trace(network, (example_k, example_mask), check_trace=False)
    program = torch.jit.script(_Program(traced, spec))
    with atomic_path(out) as tmp:
        torch.jit.save(program, str(tmp))
    return out


def _example(spec: ExportSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """A masked k-space and mask of the protocol's family to trace with (seeded)."""
    gen = torch.Generator().manual_seed(0)
    k = torch.randn(spec.batch, spec.coils, spec.ky, spec.kx, dtype=torch.complex64, generator=gen)
    mask = torch.zeros(spec.batch, 1, spec.ky, spec.kx, dtype=torch.bool)
    centre = slice(max(spec.ky // 2 - spec.n_acs // 2, 0), spec.ky // 2 + (spec.n_acs + 1) // 2)
    if spec.mask_type in LINE_MASK_TYPES:
        mask[:, :, :: spec.acceleration, :] = True
        mask[:, :, centre, :] = True
    else:
        mask |= torch.rand(spec.batch, 1, spec.ky, spec.kx, generator=gen) < 1.0 / spec.acceleration
        mask[:, :, centre, spec.kx // 2 - spec.n_acs // 2 : spec.kx // 2 + (spec.n_acs + 1) // 2] = True
    return k * mask, mask
