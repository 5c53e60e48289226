"""``--compile``: ``torch.compile`` of the networks' real-valued U-Nets for long inference runs.

The cascades of CardioMM / the PromptMR-style twin (:class:`~cardiomm.models.layers.unet.PromptUnet`)
and of E2E-VarNet (:class:`~cardiomm.models.baselines.varnet.Unet`), and their coil-sensitivity
networks, spend their time in real-valued convolutions; the FFTs, the data consistency and the output
layer work on complex64 tensors, which the compilers handle poorly, so only the U-Nets are compiled and
everything around them stays eager. Measured on the CPU (shipped CardioMM, one 10-coil 213 x 320
frame, one thread; BENCHMARKS.md): 0.70x the eager time per frame, the image within 1.3e-6 of eager
(relative to its maximum), after a first call that compiles for about 2.5 minutes (the compiled kernels
are cached on disk by torch for later runs). Worth it for a tree of many frames of one size; a new
frame size compiles again.

The backend is ``inductor`` (torch's default); ``CARDIOMM_COMPILE_BACKEND`` names another one (e.g.
``aot_eager`` to check the graph capture without generating code).

:func:`channels_last_convs` (always applied by :class:`~cardiomm.recon.learned.LearnedRecon`) stores the
convolution weights channels-last, so that every convolution runs in the channels-last layout that
oneDNN / cuDNN prefer: E2E-VarNet's U-Nets take ordinary contiguous images and ran 0.93x the time per
frame on the CPU with it; CardioMM's complex-to-real channel stacking already hands its U-Nets
channels-last images, so it is unchanged there.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from cardiomm.errors import ConfigError

__all__ = ["COMPILED_CLASSES", "compile_unets", "channels_last_convs"]

#: Class names of the modules that are compiled.
COMPILED_CLASSES = ("PromptUnet", "Unet")


def compile_unets(model: nn.Module, *, backend: str | None = None) -> int:
    """Replace every U-Net of ``model`` (:data:`COMPILED_CLASSES`) by its ``torch.compile`` wrapper, in
    place; returns how many were wrapped. ``backend``: default ``CARDIOMM_COMPILE_BACKEND`` or
    ``inductor``.

    Raises
    ------
    ConfigError
        ``model`` has no U-Net to compile, or the backend is unknown.
    """
    chosen = backend or os.environ.get("CARDIOMM_COMPILE_BACKEND") or "inductor"
    targets = [
        (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child).__name__ in COMPILED_CLASSES
    ]
    if not targets:
        raise ConfigError(f"--compile: {type(model).__name__} has no U-Net to compile")
    if chosen not in torch._dynamo.list_backends(exclude_tags=()):
        raise ConfigError(
            f"--compile: unknown torch.compile backend {chosen!r} (CARDIOMM_COMPILE_BACKEND); "
            f"e.g. {', '.join(torch._dynamo.list_backends())}"
        )
    for parent, name in targets:
        setattr(parent, name, torch.compile(getattr(parent, name), backend=chosen))
    return len(targets)


def channels_last_convs(model: nn.Module) -> int:
    """Store the weight of every 2-D convolution of ``model`` channels-last, in place (same values, same
    results within float rounding); returns how many were converted."""
    n = 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.weight.ndim == 4:
            module.weight.data = module.weight.data.contiguous(memory_format=torch.channels_last)
            n += 1
    return n
