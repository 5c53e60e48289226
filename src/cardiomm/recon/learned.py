"""Learned methods behind the :class:`Reconstructor` interface: CardioMM, PromptMR-style, E2E-VarNet.

Checkpoints are safetensors + JSON config (no pickle). The shipped demonstration checkpoints live in
``cardiomm/assets/checkpoints/<method>/`` and are used when no ``--model`` is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch

from cardiomm.errors import CheckpointError, ModelNotFoundError
from cardiomm.models.checkpoint import checkpoint_paths
from cardiomm.models.layers.output_dc import sense_proximal
from cardiomm.models.release import load_release
from cardiomm.physics import ifft2c, rss
from cardiomm.recon.base import ReconInput, Reconstructor
from cardiomm.recon.compile import channels_last_convs, compile_unets
from cardiomm.text import get_encoder
from cardiomm.types import DataConsistency, parse_choice
from cardiomm.utils.precision import Precision, parse_precision, precision_context

if TYPE_CHECKING:
    from cardiomm.text import TextEncoder

_KMaps = tuple[torch.Tensor, torch.Tensor]

__all__ = [
    "LearnedRecon", "shipped_checkpoint", "kspace_scale", "sense_consistent", "CHECKPOINT_DIR",
    "SENSE_DC_LAM", "SENSE_DC_ITERATIONS",
]  # fmt: skip
#: Weight of the network image in the SENSE data consistency (relative to the data term; chosen on the
#: real-anatomy *validation* split, ``docs/models.md``).
SENSE_DC_LAM = 0.03
#: Conjugate-gradient iterations of the SENSE data consistency (warm-started from the network image).
SENSE_DC_ITERATIONS = 30

#: Folder of the shipped checkpoints (inside the installed package).
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"


def shipped_checkpoint(method: str) -> Path:
    """Path of the shipped checkpoint of ``method`` (raises :class:`ModelNotFoundError` when absent)."""
    path = CHECKPOINT_DIR / method
    if not (path / "model.safetensors").is_file():
        raise ModelNotFoundError(
            f"no shipped checkpoint for method '{method}'; pass --model PATH or train one with "
            f"`cardiomm train --config configs/<{method}>.yaml`",
            path=path,
        )
    return path


def _config_json(path: Path) -> dict[str, object]:
    _, cfg, _ = checkpoint_paths(path)
    if not path.exists():
        raise CheckpointError("checkpoint not found", path=path)
    if not cfg.is_file():
        raise CheckpointError("checkpoint has no config.json next to its weights", path=path)
    try:
        return dict(json.loads(cfg.read_text()))
    except (json.JSONDecodeError, OSError, UnicodeDecodeError, TypeError, ValueError):
        raise CheckpointError("corrupt checkpoint config.json", path=cfg) from None


class LearnedRecon(Reconstructor):
    """A trained network (CardioMM, its no-text PromptMR-style variant, or E2E-VarNet).

    Parameters
    ----------
    name
        ``cardiomm``, ``promptmr`` or ``varnet``.
    model
        The network; called as ``model(masked_kspace, mask, meta_emb, us_emb, mask_type, n_acs)``
        (CardioMM) or ``model(masked_kspace, mask, mask_type, n_acs)`` (VarNet).
    encoder
        Frozen text encoder for CardioMM (``None`` for the others).
    device
        Torch device of the network (``cpu``, ``cuda:0``).
    precision
        ``fp32`` (default), ``tf32`` (CUDA only; no effect on the CPU) or ``bf16`` (autocast of the
        network's real-valued layers): see :mod:`cardiomm.utils.precision`. The text encoder always runs
        in float32 and the output image is float32 in every mode.
    dc
        Data consistency of the output (``docs/models.md`` has the measurements). The networks end with
        a learned *soft* consistency step (CardioMM's weighted average, VarNet's gradient step) that
        also smooths the acquired samples; ``"soft"`` (default) returns the network's own output, as
        published, or, for a network trained with an output layer (``output_dc="sense"`` in its config,
        :class:`~cardiomm.models.layers.output_dc.OutputDC`), that layer's output. ``"hard"``: the
        final multi-coil k-space keeps the acquired samples exactly where the mask is set, its own
        estimate elsewhere, before the root-sum-of-squares (the measured noise of every coil comes
        back). ``"sense"``: the image closest to the network's that agrees
        with the acquired samples through the network's own coil maps,
        ``argmin_x ||M F S x - y||^2 + lam ||x - x_net||^2`` (:func:`sense_consistent`,
        ``lam`` = :data:`SENSE_DC_LAM`, :data:`SENSE_DC_ITERATIONS` CG steps from ``x_net``); the coils
        are combined with the maps, so the measured samples come back with less noise than ``"hard"``.
        Both raise PSNR and can lower SSIM (the measured noise returns).
    compile
        Compile the network's U-Nets with ``torch.compile`` (:mod:`cardiomm.recon.compile`): faster per
        frame after a first call that compiles for minutes; for long runs.

    Raises
    ------
    ConfigError
        An unknown ``precision``.
    """

    def __init__(
        self,
        name: str,
        model: torch.nn.Module,
        encoder: TextEncoder | None = None,
        device: str = "cpu",
        precision: str | Precision = Precision.FP32,
        dc: str | DataConsistency = DataConsistency.SOFT,
        compile: bool = False,
    ) -> None:
        self.name = name
        self.dc = parse_dc(dc)
        self.precision = parse_precision(precision)
        self.model = model.eval().to(device)
        channels_last_convs(self.model)
        if compile:
            compile_unets(self.model)
        self.encoder = encoder
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(
        cls,
        name: str,
        path: str | Path | None = None,
        *,
        device: str = "cpu",
        precision: str | Precision = Precision.FP32,
        dc: str | DataConsistency = DataConsistency.SOFT,
        compile: bool = False,
    ) -> LearnedRecon:
        """Load the checkpoint of method ``name`` (default: the shipped one), checking that it fits;
        the network runs on ``device`` at ``precision`` (see :class:`LearnedRecon`, also for ``dc`` and
        ``compile``)."""
        precision = parse_precision(precision)  # a typo fails before the checkpoint is read
        parse_dc(dc)
        ckpt = Path(path) if path is not None else shipped_checkpoint(name)
        config = _config_json(ckpt)
        kind = (
            "varnet"
            if config.get("model") == "varnet"
            else ("cardiomm" if config.get("text_conditioning", True) else "promptmr")
        )
        if kind != name:
            raise CheckpointError(f"checkpoint holds a '{kind}' model, not '{name}'", path=ckpt)

        release = load_release(ckpt, device=device)
        encoder = None
        if kind == "cardiomm":
            encoder = get_encoder(release.config.text_encoder)
        return cls(name, release.model, encoder, device, precision, dc, compile)

    def _embed(self, texts: list[str]) -> torch.Tensor:
        assert self.encoder is not None
        return self.encoder.encode(texts).to(self.device)

    def reconstruct(self, inp: ReconInput) -> torch.Tensor:
        """Reconstruct ``inp`` at any k-space scale: the network sees the k-space divided by
        :func:`kspace_scale` and its image is multiplied back, so an input scaled by ``s`` gives the
        image scaled by ``s`` exactly (the networks' absolute floors, e.g. a std clamp, never dominate)."""
        k = inp.masked_kspace.to(self.device)
        m = inp.mask.to(self.device).expand(k.shape[0], 1, *k.shape[-2:])
        scale = kspace_scale(k)
        return self._run(k / scale, m, inp) * scale.cpu()

    def network_inputs(
        self,
        k: torch.Tensor,
        m: torch.Tensor,
        mask_type: str,
        n_acs: int,
        metadata_prompt: str,
        undersampling_prompt: str,
    ) -> tuple[object, ...]:
        """The positional arguments of the network's ``forward_kspace_maps`` for k-space ``k``
        ``(b, c, ky, kx)`` and mask ``m`` (the prompts encoded, in float32, for text-conditioned models)."""
        if self.name == "varnet":
            return (k, m, mask_type, n_acs)
        if self.encoder is None:
            return (k, m, None, None, mask_type, n_acs)
        b = k.shape[0]
        meta = self._embed([metadata_prompt]).expand(b, -1)
        us = self._embed([undersampling_prompt]).expand(b, -1)
        return (k, m, meta, us, mask_type, n_acs)

    def _run(self, k: torch.Tensor, m: torch.Tensor, inp: ReconInput) -> torch.Tensor:
        """The network on k-space ``k`` ``(b, c, ky, kx)`` complex64 and mask ``m`` ``(b, 1, ky, kx)``
        bool, at :attr:`precision` -> RSS image ``(b, y, x)`` float32 on the CPU."""
        args = self.network_inputs(
            k, m, str(inp.mask_type), inp.n_acs, inp.metadata_prompt, inp.undersampling_prompt
        )
        with precision_context(self.precision, self.device):
            k_out, csm = cast(Callable[..., _KMaps], self.model.forward_kspace_maps)(*args)
        k_out = k_out.to(torch.complex64)
        if self.dc is DataConsistency.SENSE:
            return sense_consistent(k, m, k_out, csm.to(torch.complex64)).abs().cpu()
        if self.dc is DataConsistency.HARD:
            return rss(ifft2c(torch.where(m, k.to(k_out.dtype), k_out)), dim=1).cpu()
        output_image = cast(Callable[..., torch.Tensor], self.model.output_image)
        return output_image(k, m, k_out, csm.to(torch.complex64)).float().cpu()


def parse_dc(dc: str | DataConsistency) -> DataConsistency:
    """``dc`` as a :class:`~cardiomm.types.DataConsistency`; an unknown name is a :class:`ConfigError`."""
    return parse_choice(DataConsistency, dc, "data consistency")


def sense_consistent(
    kspace: torch.Tensor,
    mask: torch.Tensor,
    k_net: torch.Tensor,
    csm: torch.Tensor,
    lam: float = SENSE_DC_LAM,
    n_iter: int = SENSE_DC_ITERATIONS,
) -> torch.Tensor:
    """The ``dc="sense"`` option: :func:`~cardiomm.models.layers.output_dc.sense_proximal` (same
    arguments and result) with the weight and CG step count chosen on the validation split."""
    return sense_proximal(kspace, mask, k_net, csm, lam, n_iter)


def kspace_scale(kspace: torch.Tensor) -> torch.Tensor:
    """Root mean square of the acquired (non-zero) samples of ``kspace``, a 0-d real tensor; 1 when
    nothing is acquired. Positively homogeneous: ``kspace_scale(s * k) == s * kspace_scale(k)``."""
    mag2 = kspace.abs().double().square()
    n = int((mag2 > 0).sum())
    if n == 0:
        return torch.ones((), dtype=torch.float32, device=kspace.device)
    rms = (mag2.sum() / n).sqrt()
    if not torch.isfinite(rms) or rms == 0:
        return torch.ones((), dtype=torch.float32, device=kspace.device)
    return rms.to(torch.float32)
