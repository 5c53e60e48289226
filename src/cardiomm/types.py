"""Shared enumerations. Enum values keep the published strings byte for byte (they enter prompts)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import TypeVar

from cardiomm.errors import CardiommError, ConfigError

_E = TypeVar("_E", bound=StrEnum)

__all__ = [
    "MaskPattern", "TrainMaskType", "Modality", "MapKind", "CardiacLabel", "DataConsistency", "UNKNOWN",
    "parse_choice",
]  # fmt: skip

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


class DataConsistency(StrEnum):
    """Data consistency of a learned method's output (:class:`cardiomm.recon.learned.LearnedRecon`)."""

    SOFT = "soft"
    HARD = "hard"
    SENSE = "sense"


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


class MapKind(StrEnum):
    """Parametric map kinds of ``cardiomm analyse mapping`` (values are the ``--kind`` choices)."""

    T1 = "t1"
    T2 = "t2"
    T2_OFFSET = "t2-offset"
    T1RHO = "t1rho"
    T2STAR = "t2star"


class CardiacLabel(IntEnum):
    """Segmentation label values: the one label table of cardiomm.

    The convention of the UK Biobank nnU-Net models used by CardioMM (``Dataset100_UKBB_Petersen_SAX``):
    0 background, 1 LV blood pool, 2 LV myocardium, 3 RV blood pool. The simulator's long-axis and aorta
    views add 4 LA, 5 RA and 6 aortic lumen. ACDC numbers the ventricles the other way round (RV 1,
    LV 3); :mod:`cardiomm.analysis.labels` converts.
    """

    BACKGROUND = 0
    LV = 1
    MYO = 2
    RV = 3
    LA = 4
    RA = 5
    AORTA = 6

    @property
    def short_name(self) -> str:
        """Display name: ``"background"``, else the member name (``"LV"``, ``"MYO"``, ``"AORTA"``...)."""
        return "background" if self is CardiacLabel.BACKGROUND else self.name


def parse_choice(kind: type[_E], value: str | _E, what: str, error: type[CardiommError] = ConfigError) -> _E:
    """``value`` as a member of the string enumeration ``kind``; any other value raises ``error`` with
    ``unknown <what> '<value>'; choose from <the values>``."""
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise error(f"unknown {what} {value!r}; choose from {choices}") from None
