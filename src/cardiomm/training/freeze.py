"""Train only parts of a network (fine-tuning and adaptation): ``--train-only`` / ``run.train_only``.

A spec is a comma-separated list of parts; every parameter outside them is frozen
(``requires_grad = False``), so the optimiser never sees it:

=============  ===================================================================================
``heads``      the text projection heads ``lm_head_meta`` / ``lm_head_us`` (CardioMM only)
``prompts``    the prompt blocks (``prompt_level*``: prompt-bank weighting and convolution) and the
               metadata adapters (``metacond_level*``) of every U-Net (CardioMM / PromptMR); the prompt
               banks themselves are fixed buffers in every mode
``sens``       the coil-sensitivity network (``sens_net``)
``last:N``     the last N cascades, their data-consistency weights included (VarNet: and the step
               sizes ``eta``, one shared parameter), and the trained output layer (``output_dc``)
``output``     the trained output layer (``output_dc``: its weight ``lam`` and the per-mask weights
               ``lam_weights``), alone a per-site choice of how far the output trusts the measured
               samples against the network (needs a larger learning rate, e.g. ``1e-2``)
``all``        everything (the default; same as no spec)
=============  ===================================================================================

Example: ``heads,prompts`` adapts the conditioning only; ``sens,last:1`` re-learns the coil maps
and the final refinement.
"""

from __future__ import annotations

import re

from torch import nn

from cardiomm.errors import ConfigError

__all__ = ["TRAIN_PARTS", "parse_train_only", "apply_train_only"]

#: Named parts accepted in a spec (besides ``last:N``).
TRAIN_PARTS: tuple[str, ...] = ("heads", "prompts", "sens", "output", "all")

_LAST = re.compile(r"^last:(\d+)$")


def parse_train_only(spec: str | None) -> tuple[str, ...]:
    """Normalised parts of ``spec`` (``()`` means everything); raises :class:`ConfigError` if invalid."""
    if spec is None:
        return ()
    parts = tuple(dict.fromkeys(p.strip().lower() for p in str(spec).split(",") if p.strip()))
    for part in parts:
        m = _LAST.match(part)
        if part not in TRAIN_PARTS and (m is None or int(m.group(1)) < 1):
            raise ConfigError(
                f"unknown train-only part {part!r}; use a comma-separated list of "
                f"{', '.join(TRAIN_PARTS)} or last:N (N >= 1)"
            )
    return () if "all" in parts else parts


def _selected(name: str, parts: tuple[str, ...], n_cascades: int) -> bool:
    for part in parts:
        if part == "heads" and name.startswith(("lm_head_meta.", "lm_head_us.")):
            return True
        if part == "prompts" and re.search(r"\.(prompt_level|metacond_level)\d+\.", name):
            return True
        if part == "sens" and name.startswith("sens_net."):
            return True
        if part == "output" and name.startswith("output_dc."):
            return True
        m = _LAST.match(part)
        if m:
            n = int(m.group(1))
            if n > n_cascades:
                raise ConfigError(f"train-only {part}: the network has only {n_cascades} cascades")
            c = re.match(r"^cascades\.(\d+)\.", name)
            if (c and int(c.group(1)) >= n_cascades - n) or name == "eta" or name.startswith("output_dc."):
                return True
    return False


def apply_train_only(model: nn.Module, spec: str | None) -> dict[str, int]:
    """Freeze every parameter of ``model`` outside ``spec``; return the trainable / frozen counts.

    Raises
    ------
    ConfigError
        An invalid spec, a part the network does not have (``heads`` without text conditioning,
        ``last:N`` beyond its cascades), or a spec that leaves nothing to train.
    """
    parts = parse_train_only(spec)
    cascades = getattr(model, "cascades", None)
    n_cascades = len(cascades) if isinstance(cascades, nn.ModuleList) else 0
    if "heads" in parts and getattr(model, "lm_head_meta", None) is None:
        raise ConfigError("train-only 'heads': this network has no text projection heads (not CardioMM)")
    if "output" in parts and getattr(model, "output_dc", None) is None:
        raise ConfigError("train-only 'output': this network has no trained output layer (output_dc)")
    counts = {"trainable": 0, "frozen": 0}
    for name, p in model.named_parameters():
        keep = not parts or _selected(name, parts, n_cascades)
        p.requires_grad_(keep)
        counts["trainable" if keep else "frozen"] += p.numel()
    if counts["trainable"] == 0:
        raise ConfigError(f"train-only {spec!r} selects no parameter of this network")
    return counts
