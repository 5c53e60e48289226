"""Learned baselines trained under the CardioMM protocol (E2E-VarNet). The PromptMR-style baseline is
:class:`cardiomm.models.CardioMM` with ``text_conditioning=False``."""

from cardiomm.models.baselines.varnet import VARNET_PRESETS, VarNet, VarNetConfig

__all__ = ["VarNet", "VarNetConfig", "VARNET_PRESETS"]
