"""Method registry: ``get_reconstructor("cardiomm" | "zf" | "sense" | "cs" | "varnet" | "promptmr")``."""

from __future__ import annotations

from pathlib import Path

from cardiomm.errors import UnknownChoiceError
from cardiomm.recon.base import Reconstructor

__all__ = ["METHODS", "LEARNED_METHODS", "get_reconstructor"]

#: Every method name understood by ``cardiomm reconstruct --method``.
METHODS: tuple[str, ...] = ("cardiomm", "zf", "sense", "cs", "varnet", "promptmr")
#: Methods that load a trained checkpoint.
LEARNED_METHODS: tuple[str, ...] = ("cardiomm", "varnet", "promptmr")


def get_reconstructor(name: str, model: str | Path | None = None, *, device: str = "cpu") -> Reconstructor:
    """Build a reconstruction method by name.

    Parameters
    ----------
    name
        One of :data:`METHODS`.
    model
        Checkpoint (folder or ``.safetensors``) for learned methods; default: the shipped checkpoint of
        that method.
    device
        Torch device for learned methods.
    """
    from cardiomm.recon import classical

    if name == "zf":
        return classical.ZeroFilledRecon()
    if name == "sense":
        return classical.SenseRecon()
    if name == "cs":
        return classical.L1WaveletRecon()
    if name in LEARNED_METHODS:
        from cardiomm.recon.learned import LearnedRecon

        return LearnedRecon.from_checkpoint(name, model, device=device)
    raise UnknownChoiceError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
