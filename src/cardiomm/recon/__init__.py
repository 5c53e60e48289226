"""Reconstruction methods behind one interface (CardioMM and the baselines) and the file pipeline."""

from cardiomm.recon.base import ReconInput, Reconstructor, acs_block_sampled
from cardiomm.recon.registry import LEARNED_METHODS, METHODS, get_reconstructor

__all__ = [
    "ReconInput",
    "Reconstructor",
    "acs_block_sampled",
    "METHODS",
    "LEARNED_METHODS",
    "get_reconstructor",
]
