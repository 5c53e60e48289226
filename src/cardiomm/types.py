"""Shared enumerations. Enum values keep the published strings byte for byte (they enter prompts)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MaskPattern", "TrainMaskType", "Modality", "UNKNOWN"]

#: Explicit "unknown" value for metadata fields.
UNKNOWN = "unknown"


class MaskPattern(StrEnum):
    """Sampling-pattern names as they appear in mask file names (``<name>_mask_<Pattern><R>.mat``)."""

    UNIFORM = "Uniform"
    KT_GAUSSIAN = "ktGaussian"
    KT_RADIAL = "ktRadial"
    KT_UNIFORM = "ktUniform"


class TrainMaskType(StrEnum):
    """Mask families as used in the undersampling prompt (lowercase, as in the published code)."""

    UNIFORM = "uniform"
    RANDOM = "random"
    RADIAL = "radial"


class Modality(StrEnum):
    """The 12 MMCMR-427K modalities.

    Values are modality keys; :attr:`folder` gives the top-level folder of the MMCMR tree (11 folders:
    T1 and T2 mapping share ``Mapping``).
    """

    CINE = "Cine"
    T1MAP = "T1map"
    T2MAP = "T2map"
    T1RHO = "T1rho"
    LGE = "LGE"
    PERFUSION = "Perfusion"
    T1W = "T1w"
    T2W = "T2w"
    FLOW2D = "Flow2d"
    BLACKBLOOD = "BlackBlood"
    AORTA = "Aorta"
    TAGGING = "Tagging"

    @property
    def folder(self) -> str:
        """Top-level folder name in the MMCMR-427K tree."""
        return "Mapping" if self in (Modality.T1MAP, Modality.T2MAP) else self.value
