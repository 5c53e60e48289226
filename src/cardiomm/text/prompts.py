"""Prompt strings of CardioMM, byte for byte as the released code builds them (reference 4.1, 4.2, 5).

Metadata prompt: three fragments concatenated with **no** separator, then normalised::

    "{lifespan} cardiac MRI reconstruction."          (no trailing space)
    "Vendor: {field}, {vendor}, {scanner}. "
    "Modality: {modality}, {view}. "

    -> "Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis."

Undersampling prompt: ``"Undersampling: {acceleration}x {mask_type}."`` -> ``"Undersampling: 16x random."``.

Normalisation (:func:`normalise_prompt`): strip, collapse every whitespace run to one space, remove
newlines. The center and the disease (``medcon``) are never part of the prompt.

Path rules (:func:`modality_view_from_name`): the keyword table below is scanned **in order** and the
first keyword that occurs anywhere in the path wins (case-sensitive substring match, so ``T1mappost``
is unreachable behind ``T1map``, and ``aorta`` maps to modality ``cine``); then the first view token of
that keyword's table found anywhere in the path, else the keyword's default view.
"""

from __future__ import annotations

import os
import re

from cardiomm.errors import UnknownChoiceError
from cardiomm.sampling.registry import mask_type_of
from cardiomm.types import UNKNOWN, Modality

__all__ = [
    "LIFESPANS",
    "MODALITY_KEYWORDS",
    "MODALITY_PROMPT",
    "FIELD_TOKENS",
    "normalise_prompt",
    "format_field",
    "metadata_prompt",
    "undersampling_prompt",
    "modality_view_from_name",
    "lifespan_from_name",
    "scanner_from_dirname",
]

#: Lifespan values (published ``lifespan_mapping``); ``Adult`` is the default.
LIFESPANS = ("Adult", "Pediatric", "Fetal")

_SAX_LAX = {"sax": "short-axis", "lax": "long-axis"}

#: Path keyword -> (modality string, {view token: view string}), in the published scan order.
MODALITY_KEYWORDS: dict[str, tuple[str, dict[str, str]]] = {
    "cine": ("cine", {"sax": "short-axis", "lax": "long-axis", "ot": "outflow tract"}),
    "T1map": ("T1 mapping", _SAX_LAX),
    "T1mappost": ("T1 mapping post", _SAX_LAX),
    "T1rho": ("T1 rho mapping", _SAX_LAX),
    "T2map": ("T2 mapping", _SAX_LAX),
    "T2smap": ("T2 star mapping", _SAX_LAX),
    "aorta": ("cine", {"sag": "sagittal aorta", "tra": "transversal aorta"}),
    "tagging": ("tagging", _SAX_LAX),
    "flow2d": (
        "phase contrast",
        {"inplane": "in-plane", "throughplane": "through-plane", "through": "through-plane"},
    ),
    "perfusion": ("perfusion", _SAX_LAX),
    "lge": ("late Gadolinium enhancement", _SAX_LAX),
    "blackblood": ("blackblood", _SAX_LAX),
    "T1w": ("T1 weighted", _SAX_LAX),
    "T2w": ("T2 weighted", _SAX_LAX),
}

#: Keywords whose view defaults to ``short-axis`` / ``through-plane`` when no view token is found.
_SHORT_AXIS_DEFAULT = (
    "T1map",
    "T1mappost",
    "T1rho",
    "T2map",
    "T2smap",
    "tagging",
    "perfusion",
    "blackblood",
    "T1w",
    "T2w",
)
_THROUGH_PLANE_DEFAULT = ("flow2d",)

#: Modality key (``cardiomm.types.Modality``) -> modality string used in the prompt.
MODALITY_PROMPT: dict[Modality, str] = {
    Modality.CINE: "cine",
    Modality.T1MAP: "T1 mapping",
    Modality.T2MAP: "T2 mapping",
    Modality.T1RHO: "T1 rho mapping",
    Modality.LGE: "late Gadolinium enhancement",
    Modality.PERFUSION: "perfusion",
    Modality.T1W: "T1 weighted",
    Modality.T2W: "T2 weighted",
    Modality.FLOW2D: "phase contrast",
    Modality.BLACKBLOOD: "blackblood",
    Modality.AORTA: "cine",
    Modality.TAGGING: "tagging",
}

#: Scanner-folder field tokens -> prompt field strings (published ``extract_scanattrs``).
FIELD_TOKENS = {"15T": "1.5T", "30T": "3.0T", "50T": "5.0T", "055T": "0.55T"}


def normalise_prompt(text: str) -> str:
    """Published normalisation: ``re.sub(r"\\s+", " ", text.strip()).replace("\\n", "")``."""
    return re.sub(r"\s+", " ", text.strip()).replace("\n", "")


def format_field(field: float | str) -> str:
    """Field strength as written in the prompt: ``3.0 -> "3.0T"``, ``0.55 -> "0.55T"``, ``"30T" -> "3.0T"``.

    Accepts tesla as a number, a scanner-folder token (``15T``, ``30T``, ``50T``, ``055T``), an already
    formatted string (``"1.5T"``) or ``"unknown"``. Other tokens are kept as they are (as published).
    """
    if isinstance(field, bool):
        raise UnknownChoiceError(f"invalid field strength {field!r}")
    if isinstance(field, (int, float)):
        if not field > 0:
            raise UnknownChoiceError(f"invalid field strength {field!r} T")
        text = f"{float(field):g}"
        return f"{text if '.' in text else text + '.0'}T"
    return FIELD_TOKENS.get(field, field)


def metadata_prompt(
    lifespan: str = "Adult",
    field: float | str = UNKNOWN,
    vendor: str = UNKNOWN,
    scanner: str = UNKNOWN,
    modality: Modality | str = UNKNOWN,
    view: str = UNKNOWN,
) -> str:
    """The metadata prompt (reference 5), e.g.
    ``"Adult cardiac MRI reconstruction.Vendor: 3.0T, Siemens, Vida. Modality: cine, short-axis."``

    Parameters
    ----------
    lifespan
        ``Adult``, ``Pediatric`` or ``Fetal``.
    field
        Field strength in tesla (``3.0``) or its string (``"3.0T"``, folder token ``"30T"``).
    vendor, scanner
        E.g. ``"Siemens"``, ``"Vida"``.
    modality
        The prompt's modality string (``"cine"``, ``"T1 mapping"``...) or a :class:`~cardiomm.types.Modality`.
    view
        ``"short-axis"``, ``"long-axis"``... (see :data:`MODALITY_KEYWORDS`).
    """
    modality_text = MODALITY_PROMPT[modality] if isinstance(modality, Modality) else str(modality)
    text = (
        f"{lifespan} cardiac MRI reconstruction."
        f"Vendor: {format_field(field)}, {vendor}, {scanner}. "
        f"Modality: {modality_text}, {view}. "
    )
    return normalise_prompt(text)


def _mask_family(mask_type: str) -> str:
    value = str(mask_type)  # StrEnum members (TrainMaskType, MaskPattern) give their value
    if value in ("uniform", "random", "radial"):
        return value
    try:
        return str(mask_type_of(value))  # the one token -> family table (sampling.registry)
    except UnknownChoiceError:
        raise UnknownChoiceError(
            f"unknown mask type {mask_type!r}; expected uniform, random, radial or a mask pattern name"
        ) from None


def undersampling_prompt(acceleration: int | float | str, mask_type: str) -> str:
    """The undersampling prompt, e.g. ``"Undersampling: 16x random."``.

    ``mask_type`` is a family (``uniform``/``random``/``radial``) or a pattern name
    (``ktGaussian`` -> ``random``, ``ktUniform`` -> ``uniform``, ``ktRadial`` -> ``radial``...).
    ``acceleration`` is the nominal factor (integers print without decimals).
    """
    if isinstance(acceleration, float) and acceleration.is_integer():
        acceleration = int(acceleration)
    if isinstance(acceleration, bool) or (isinstance(acceleration, (int, float)) and acceleration <= 0):
        raise UnknownChoiceError(f"invalid acceleration {acceleration!r}")
    return normalise_prompt(f"Undersampling: {acceleration}x {_mask_family(mask_type)}.")


def modality_view_from_name(path_or_name: str | os.PathLike[str]) -> tuple[str, str]:
    """``(modality, view)`` prompt strings from a path or file name (published ``datamapping_from_filename``).

    Examples: ``.../Cine/.../cine_sax.mat -> ("cine", "short-axis")``,
    ``aorta_tra.mat -> ("cine", "transversal aorta")``, ``T1map.mat -> ("T1 mapping", "short-axis")``.

    Raises
    ------
    UnknownChoiceError
        No modality keyword occurs in the name.
    """
    text = os.fspath(path_or_name)
    for keyword, (modality, views) in MODALITY_KEYWORDS.items():
        if keyword in text:
            view = next((value for token, value in views.items() if token in text), None)
            if view is None:
                if keyword in _SHORT_AXIS_DEFAULT:
                    view = "short-axis"
                elif keyword in _THROUGH_PLANE_DEFAULT:
                    view = "through-plane"
                else:
                    view = UNKNOWN
            return modality, view
    raise UnknownChoiceError(f"no modality keyword ({', '.join(MODALITY_KEYWORDS)}) in {text!r}")


def lifespan_from_name(path_or_name: str | os.PathLike[str]) -> str:
    """``Adult`` / ``Pediatric`` / ``Fetal``: the first found in the path, default ``Adult``."""
    text = os.fspath(path_or_name)
    return next((value for value in LIFESPANS if value in text), "Adult")


def scanner_from_dirname(dirname: str) -> tuple[str, str, str]:
    """``"Siemens_30T_Vida" -> ("Siemens", "3.0T", "Vida")`` (vendor, field string, scanner)."""
    parts = os.path.basename(os.fspath(dirname).rstrip("/\\")).split("_")
    if len(parts) != 3:
        raise UnknownChoiceError(f"scanner folder {dirname!r} is not Vendor_Field_Model")
    vendor, field, scanner = parts
    return vendor, format_field(field), scanner
