"""CardioMM networks as plain ``nn.Module``s (no Lightning).

Public API: :class:`CardioMM`, :class:`ModelConfig`, :data:`PRESETS`, :func:`get_config`,
:func:`save_checkpoint`, :func:`load_checkpoint`, :func:`load_weights`, :func:`count_parameters`,
:func:`convert_published_state_dict`, :class:`LMHead`, :class:`SensitivityNet`, :func:`acs_mask`.
Layers live in :mod:`cardiomm.models.layers`.
"""

from cardiomm.models.cardiomm import CardioMM, CardioMMBlock, convert_published_state_dict, count_parameters
from cardiomm.models.checkpoint import LoadedCheckpoint, load_checkpoint, load_weights, save_checkpoint
from cardiomm.models.config import PRESETS, ModelConfig, get_config
from cardiomm.models.heads import LMHead
from cardiomm.models.sensitivity_net import MASK_TYPES, SensitivityNet, acs_mask

__all__ = [
    "CardioMM",
    "CardioMMBlock",
    "ModelConfig",
    "PRESETS",
    "get_config",
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "LoadedCheckpoint",
    "count_parameters",
    "convert_published_state_dict",
    "LMHead",
    "SensitivityNet",
    "acs_mask",
    "MASK_TYPES",
]
