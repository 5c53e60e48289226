"""Test-protocol mask registry and mask-file-name parsing.

- :func:`make_test_mask` builds the CardioMM / CMRxRecon test masks by pattern name
  (cardiomm_reference.md section 10), ``bool`` ``(t, ky, kx)``.
- :func:`parse_mask_filename` reads ``<name>_mask_<Pattern><R>.mat`` (or ``_kus_``) and
  :func:`mask_type_of` maps the pattern to the prompt's mask family (section 4.2).
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath

import numpy as np

from cardiomm.errors import UnknownChoiceError
from cardiomm.sampling.base import DEFAULT_ACS, MaskFunc, SeedLike
from cardiomm.sampling.cartesian import UniformMask
from cardiomm.sampling.kt import KtGaussianMask, KtUniformMask
from cardiomm.sampling.radial import KtRadialMask
from cardiomm.types import MaskPattern, TrainMaskType

__all__ = [
    "PROTOCOL_PATTERNS",
    "PROTOCOL_ACCELERATIONS",
    "MASK_FUNCS",
    "parse_pattern",
    "make_mask_func",
    "make_test_mask",
    "parse_mask_filename",
    "mask_type_of",
]

#: The three patterns of the CardioMM test protocol (nine masks per file with the R below).
PROTOCOL_PATTERNS: tuple[MaskPattern, ...] = (
    MaskPattern.UNIFORM,
    MaskPattern.KT_GAUSSIAN,
    MaskPattern.KT_RADIAL,
)
#: Accelerations of the CardioMM test protocol.
PROTOCOL_ACCELERATIONS: tuple[int, ...] = (8, 16, 24)

#: Pattern -> generator class.
MASK_FUNCS: dict[MaskPattern, type[MaskFunc]] = {
    MaskPattern.UNIFORM: UniformMask,
    MaskPattern.KT_GAUSSIAN: KtGaussianMask,
    MaskPattern.KT_RADIAL: KtRadialMask,
    MaskPattern.KT_UNIFORM: KtUniformMask,
}

#: File-name token -> prompt mask family (datamapping.py; section 4.2). Tokens are case-sensitive.
_TOKEN_MASK_TYPE: dict[str, TrainMaskType] = {
    "Uniform": TrainMaskType.UNIFORM,
    "ktUniform": TrainMaskType.UNIFORM,
    "Random": TrainMaskType.RANDOM,
    "Gaussian": TrainMaskType.RANDOM,
    "ktGaussian": TrainMaskType.RANDOM,
    "Radial": TrainMaskType.RADIAL,
    "ktRadial": TrainMaskType.RADIAL,
}
_FILENAME_RE = re.compile(r"(?:^|_)(ktUniform|ktGaussian|ktRadial|Uniform|Random|Gaussian|Radial)(\d+)$")


def parse_pattern(pattern: str | MaskPattern) -> MaskPattern:
    """Resolve a pattern name (exact, or case-insensitive) to :class:`~cardiomm.types.MaskPattern`.

    Raises
    ------
    UnknownChoiceError
        Not one of ``Uniform``, ``ktGaussian``, ``ktRadial``, ``ktUniform``.
    """
    if isinstance(pattern, MaskPattern):
        return pattern
    text = str(pattern)
    for member in MaskPattern:
        if text == member.value:
            return member
    for member in MaskPattern:
        if text.lower() == member.value.lower():
            return member
    choices = ", ".join(m.value for m in MaskPattern)
    raise UnknownChoiceError(f"unknown mask pattern {text!r}; choose one of {choices}")


def make_mask_func(pattern: str | MaskPattern, accel: int, *, acs: int = DEFAULT_ACS) -> MaskFunc:
    """The generator object for a test pattern (see :data:`MASK_FUNCS`)."""
    return MASK_FUNCS[parse_pattern(pattern)](accel, acs=acs)


def make_test_mask(
    pattern: str | MaskPattern,
    accel: int,
    nx: int,
    ny: int,
    nt: int,
    *,
    acs: int = DEFAULT_ACS,
    seed: SeedLike | None = None,
    squeeze: bool = False,
) -> np.ndarray:
    """Build one test-protocol mask (``ktMaskGenerator(nx, ny, nt, acs, R, pattern)``).

    Parameters
    ----------
    pattern
        ``Uniform``, ``ktGaussian``, ``ktRadial`` (the protocol) or ``ktUniform``.
    accel
        Nominal acceleration ``R`` (ACS not counted); the protocol uses 8, 16 and 24.
    nx, ny, nt
        Readout (kx), phase-encode (ky) and frame counts.
    acs
        ACS lines (square side for ktRadial): 20 in CardioMM, 16 in CMRxRecon2024, 24 in 2023.
    seed
        Required for ``ktGaussian`` (an int is MATLAB's per-file seed, see :mod:`cardiomm.sampling.kt`);
        ignored by the deterministic patterns.
    squeeze
        Return ``(ky, kx)`` when ``nt == 1`` (as the protocol stores ``[nx, ny]`` for 4-D data).

    Returns
    -------
    numpy.ndarray
        ``bool`` ``(t, ky, kx)`` = ``(nt, ny, nx)`` (h5py order of MATLAB ``[nx, ny, nt]``).

    Raises
    ------
    UnknownChoiceError
        Unknown pattern.
    MaskError, ShapeError, ConfigError
        Invalid ``R``/ACS, shape, or a missing/invalid seed.
    """
    mask = make_mask_func(pattern, accel, acs=acs)((nt, ny, nx), seed)
    return mask[0] if squeeze and nt == 1 else mask


def parse_mask_filename(path: str | os.PathLike[str]) -> tuple[MaskPattern | str, int]:
    """Pattern and acceleration from a mask (or ``kus``) file name, e.g. ``cine_sax_mask_ktGaussian16.mat``.

    Parameters
    ----------
    path
        File name or path; only the name is parsed (case-sensitive, as the published code).

    Returns
    -------
    tuple
        ``(pattern, R)``: a :class:`~cardiomm.types.MaskPattern` for ``Uniform``/``ktGaussian``/
        ``ktRadial``/``ktUniform``, else the raw token (``Random``, ``Gaussian``, ``Radial``); ``R`` int.

    Raises
    ------
    UnknownChoiceError
        No ``<Pattern><digits>`` token at the end of the file stem.
    """
    name = PurePath(os.fspath(path)).name
    stem = name[:-4] if name.lower().endswith(".mat") else name
    match = _FILENAME_RE.search(stem)
    if match is None:
        raise UnknownChoiceError(
            "file name has no mask token <Pattern><R> (Uniform, ktGaussian, ktRadial, ktUniform, "
            "Random, Gaussian, Radial followed by the acceleration)",
            path=path,
        )
    token, digits = match.group(1), match.group(2)
    pattern: MaskPattern | str = token
    for member in MaskPattern:
        if token == member.value:
            pattern = member
    return pattern, int(digits)


def mask_type_of(pattern: str | MaskPattern) -> TrainMaskType:
    """Prompt mask family of a pattern token: Uniform/ktUniform -> uniform, Random/Gaussian/ktGaussian ->
    random, Radial/ktRadial -> radial (published ``datamapping.py``).

    Raises
    ------
    UnknownChoiceError
        Unknown token (matching is case-sensitive).
    """
    token = pattern.value if isinstance(pattern, MaskPattern) else str(pattern)
    try:
        return _TOKEN_MASK_TYPE[token]
    except KeyError:
        choices = ", ".join(_TOKEN_MASK_TYPE)
        raise UnknownChoiceError(f"unknown mask pattern token {token!r}; choose one of {choices}") from None
