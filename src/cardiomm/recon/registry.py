"""Method registry: ``get_reconstructor("cardiomm" | "zf" | "sense" | "cs" | "varnet" | "promptmr")``."""

from __future__ import annotations

from pathlib import Path

from cardiomm.errors import UnknownChoiceError
from cardiomm.recon.base import Reconstructor
from cardiomm.recon.learned import LearnedRecon
from cardiomm.utils.precision import Precision, parse_precision

__all__ = ["METHODS", "LEARNED_METHODS", "get_reconstructor"]

#: Every method name understood by ``cardiomm reconstruct --method``.
METHODS: tuple[str, ...] = ("cardiomm", "zf", "sense", "cs", "varnet", "promptmr")
#: Methods that load a trained checkpoint.
LEARNED_METHODS: tuple[str, ...] = ("cardiomm", "varnet", "promptmr")


def get_reconstructor(
    name: str,
    model: str | Path | None = None,
    *,
    device: str = "cpu",
    precision: str | Precision = Precision.FP32,
    dc: str = "soft",
    compile: bool = False,
) -> Reconstructor:
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
    precision
        ``fp32`` / ``tf32`` / ``bf16`` for learned methods (:mod:`cardiomm.utils.precision`); the
        classical methods always compute in complex64.
    dc
        Data consistency of learned methods' output: ``soft`` (default, the network's own), ``hard`` or
        ``sense`` (see :class:`~cardiomm.recon.learned.LearnedRecon`).
    compile
        ``torch.compile`` the learned methods' U-Nets (:mod:`cardiomm.recon.compile`); classical
        methods ignore it.

    Raises
    ------
    ConfigError
        An unknown ``precision`` (checked for every method, so a typo never passes silently).
    """
    from cardiomm.recon import classical  # noqa: PLC0415 - import cycle: recon.registry -> recon -> recon.registry

    precision = parse_precision(precision)
    if name == "zf":
        return classical.ZeroFilledRecon()
    if name == "sense":
        return classical.SenseRecon()
    if name == "cs":
        return classical.L1WaveletRecon()
    if name in LEARNED_METHODS:
        return LearnedRecon.from_checkpoint(
            name, model, device=device, precision=precision, dc=dc, compile=compile
        )
    raise UnknownChoiceError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
