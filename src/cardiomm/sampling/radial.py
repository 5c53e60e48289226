"""Pseudo-radial 2-D masks: test ``ktRadial`` (frame-varying) and the training ``radial`` variant.

Axis order: masks are ``bool`` ``(t, ky, kx)`` (``(ky, kx)`` for a 2-D shape). The published code
builds each spoke image in MATLAB orientation (rows = ``x`` = readout, columns = ``y`` = phase encode,
angles counter-clockwise as displayed with rows downwards); this module does the same and transposes
to ``(ky, kx)`` at the end, so spoke angles mean what they mean in the published masks.

Construction (cardiomm_reference.md sections 8.2, 10 and 16)
------------------------------------------------------------
``beams = floor(180 / (0.6 R))`` (37/18/12 spokes for R = 8/16/24; ``180 / (0.6 R)`` is evaluated as
MATLAB does, ``floor((1 / (R * 0.6)) * 180)``), angle step ``180 / beams``. One line across an
auxiliary ``a x a`` square, ``a = max(nx, ny)``, is rotated about the square's centre
``((a - 1) / 2, (a - 1) / 2)`` (0-based) with nearest-neighbour interpolation, no resize, zero outside,
centre-cropped to ``nx x ny``; the union over angles plus a central ``acs x acs`` square is the mask.

The two variants differ in:

- line row (0-based): test ``round_half_up(a/2) - 1``; training ``a // 2``;
- angles: test ``137.5 f + k step`` for frame ``f``, ``k = 0..beams`` (end included); training
  ``137.5 (i - 1) + k step``, ``k = 0..beams-1`` (end excluded), ``i ~ U{1..30}`` per draw;
- crop start: test ``floor(a/2) - floor(n/2)``; training ``(a - n) // 2``; ACS square start: test
  ``floor(N/2) - floor(acs/2)``; training ``(N - acs + 1) // 2``;
- published rotation: test MATLAB ``imrotate(..., 'nearest', 'crop')`` (official Python port:
  ``skimage.transform.rotate(order=0)``); training ``scipy.ndimage.rotate(order=0, reshape=False)``.

Rotation (``rotation="exact"``, the default)
--------------------------------------------
cardiomm maps every output pixel back to the auxiliary square analytically (inverse rotation, exact
trigonometry at multiples of 90 degrees, angles reduced modulo 360) and keeps it when the rounded
row is the line row and the column falls inside the square. Rounding is MATLAB's half-up
(``floor(x + 0.5)``) with ties detected within 1e-10 pixel, so exact half-pixel ties (they occur at
odd multiples of 45 degrees for even ``a``, e.g. 315 degrees in frame 2 at R = 16 or 45 degrees in
frame 0 at R = 24) always go to the larger index. Away from ties this equals, pixel for pixel:

- test variant: ``skimage.transform.rotate(order=0, resize=False)`` (the official Python port), which
  rounds the source column first and then tests it against ``[0, a-1]``;
- training variant: ``scipy.ndimage.rotate(order=0, reshape=False)``, which drops source columns
  outside ``[0, a-1]`` before rounding (the one-pixel rim difference between the two libraries).

At ties both libraries decide by floating-point noise (1-20 pixels per tied spoke differ between them
and from any fixed rule), and MATLAB's ``imrotate`` is reported to differ from skimage there as well;
``rotation="library"`` calls the published library (skimage / scipy) instead, about 10-100x slower.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Literal, TypeAlias, cast

import numpy as np

from cardiomm.errors import ConfigError, MaskError
from cardiomm.sampling.base import (
    Centring,
    SeedLike,
    SquareAcsMaskFunc,
    as_generator,
    centre_slice,
    round_half_up,
)
from cardiomm.types import MaskPattern, TrainMaskType

__all__ = [
    "KtRadialMask",
    "TrainRadialMask",
    "radial_beams",
    "rotated_line",
    "Rotation",
    "GOLDEN_STEP_DEG",
]

#: How spokes are rotated: analytic nearest neighbour (default) or the published library call.
Rotation: TypeAlias = Literal["exact", "library"]
#: Per-frame (test) / per-draw (training) start-angle increment, degrees.
GOLDEN_STEP_DEG = 137.5
_TIE_TOL = 1e-10
_EXACT_TRIG = {0.0: (0.0, 1.0), 90.0: (1.0, 0.0), 180.0: (0.0, -1.0), 270.0: (-1.0, 0.0)}


def radial_beams(accel: int) -> int:
    """Number of spokes ``floor((1 / (R * 0.6)) * 180)`` (MATLAB operation order).

    37, 18 and 12 for R = 8, 16 and 24.
    """
    return int(math.floor((1 / (accel * 0.6)) * 180))


def _sin_cos(angle_deg: float) -> tuple[float, float]:
    reduced = math.fmod(float(angle_deg), 360.0)
    if reduced < 0:
        reduced += 360.0
    if reduced in _EXACT_TRIG:
        return _EXACT_TRIG[reduced]
    rad = math.radians(reduced)
    return math.sin(rad), math.cos(rad)


def rotated_line(
    a: int,
    line_row: int,
    angle_deg: float,
    rows: slice,
    cols: slice,
    *,
    edge: Literal["round", "strict"] = "round",
) -> np.ndarray:
    """Crop of a rotated one-pixel line, by analytic nearest-neighbour inverse mapping.

    Parameters
    ----------
    a
        Side of the auxiliary square.
    line_row
        0-based row of the horizontal line in the unrotated square.
    angle_deg
        Rotation angle, degrees, counter-clockwise as displayed (rows downwards), about
        ``((a - 1) / 2, (a - 1) / 2)``.
    rows, cols
        Crop window of the rotated square (MATLAB orientation: rows = x, cols = y).
    edge
        ``"round"``: the rounded source column must lie in ``[0, a-1]`` (skimage);
        ``"strict"``: the unrounded source column must (scipy.ndimage, mode ``constant``).

    Returns
    -------
    numpy.ndarray
        ``bool`` ``(n_rows, n_cols)`` in MATLAB orientation.
    """
    s, c = _sin_cos(angle_deg)
    centre = (a - 1) / 2
    di = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None] - centre
    dj = np.arange(cols.start, cols.stop, dtype=np.float64)[None, :] - centre
    src_row = centre + dj * s + di * c
    hit = np.floor(src_row + 0.5 + _TIE_TOL) == line_row
    src_col = centre + dj * c - di * s
    if edge == "round":
        col = np.floor(src_col + 0.5 + _TIE_TOL)
        inside = (col >= 0) & (col <= a - 1)
    else:
        inside = (src_col >= -_TIE_TOL) & (src_col <= a - 1 + _TIE_TOL)
    return hit & inside


class _RadialMask(SquareAcsMaskFunc):
    """Shared machinery of the radial masks; subclasses fix the variant's constants."""

    mask_type = TrainMaskType.RADIAL
    #: Variant switches (see the module table).
    include_end: bool = True
    crop_centring: Centring = "test"
    edge: Literal["round", "strict"] = "round"

    def __init__(self, accel: int, *, acs: int = 20, rotation: Rotation = "exact") -> None:
        super().__init__(accel, acs=acs)
        if rotation not in ("exact", "library"):
            raise ConfigError(f"unknown rotation {rotation!r}; choose 'exact' or 'library'")
        self.rotation: Rotation = rotation
        self.n_spokes = radial_beams(self.accel)
        if self.n_spokes < 1:
            raise MaskError(f"acceleration R={self.accel} is too large for a radial mask (no spokes)")
        self.angle_step = 180 / self.n_spokes

    # -- geometry ---------------------------------------------------------------------------------
    @staticmethod
    def square_side(nx: int, ny: int) -> int:
        """Side ``a = max(nx, ny)`` of the auxiliary square (``cropcorner = true``)."""
        return max(nx, ny)

    @abstractmethod
    def line_row(self, a: int) -> int:
        """0-based row of the unrotated line in the auxiliary square."""

    def angles(self, start_deg: float) -> np.ndarray:
        """Spoke angles ``start + k * step`` in degrees (``k = 0..beams``, or ``..beams-1`` without end)."""
        n = self.n_spokes + 1 if self.include_end else self.n_spokes
        return start_deg + np.arange(n) * self.angle_step

    def _crop(self, a: int, nx: int, ny: int) -> tuple[slice, slice]:
        if self.crop_centring == "test":
            return centre_slice(a, nx, "test"), centre_slice(a, ny, "test")
        rs, cs = (a - nx) // 2, (a - ny) // 2
        return slice(rs, rs + nx), slice(cs, cs + ny)

    def spokes(self, ny: int, nx: int, angles: np.ndarray) -> np.ndarray:
        """Each spoke drawn on its own, ``bool`` ``(n_angles, ky, kx)`` (ACS not included)."""
        a = self.square_side(nx, ny)
        row = self.line_row(a)
        rows, cols = self._crop(a, nx, ny)
        out = np.empty((len(angles), ny, nx), dtype=bool)
        if self.rotation == "library":
            aux = np.zeros((a, a))
            aux[row, :] = 1
        for n, angle in enumerate(angles):
            if self.rotation == "exact":
                img = rotated_line(a, row, float(angle), rows, cols, edge=self.edge)
            else:
                img = self._library_rotate(aux, float(angle))[rows, cols] > 0.5
            out[n] = img.T
        return out

    @abstractmethod
    def _library_rotate(self, aux: np.ndarray, angle: float) -> np.ndarray:
        """Nearest-neighbour rotation of ``aux`` by ``angle`` degrees with the variant's library."""

    def union_of_spokes(self, ny: int, nx: int, angles: np.ndarray) -> np.ndarray:
        """Union of the spokes at ``angles``, ``bool`` ``(ky, kx)``."""
        # numpy's stubs type an axis reduction as "scalar | array"; of a 3-D array it is an array
        return cast(np.ndarray, self.spokes(ny, nx, angles).any(axis=0))


class KtRadialMask(_RadialMask):
    """Test-protocol ``ktRadial`` mask: per-frame pseudo-radial spokes plus a central ACS square.

    Frame ``f`` (0-based) holds spokes at ``137.5 f + k * 180 / beams`` degrees, ``k = 0..beams``
    (the end angle is included, as MATLAB's ``start:step:180+start``; for even ``a`` its spoke is the
    start spoke shifted by one pixel, for odd ``a`` the same pixels), on a line at 0-based row
    ``round_half_up(a/2) - 1``; crop and ACS start at ``floor(N/2) - floor(n/2)``. Deterministic
    (``seed`` is ignored): frames differ through the golden-angle start.

    Parameters
    ----------
    accel
        Nominal acceleration ``R``; ``beams = floor(180 / (0.6 R))``.
    acs
        Side of the central ACS square.
    rotation
        ``"exact"`` (analytic, default) or ``"library"`` (``skimage.transform.rotate``, the official
        Python port); see the module docstring for tie behaviour.
    """

    pattern = MaskPattern.KT_RADIAL.value
    centring = "test"
    include_end = True
    crop_centring = "test"
    edge = "round"

    def line_row(self, a: int) -> int:
        """``round_half_up(a / 2) - 1`` (MATLAB ``aux(round(a/2), :) = 1``)."""
        return int(round_half_up(a / 2)) - 1

    def frame_angles(self, frame: int) -> np.ndarray:
        """Angles (degrees) of 0-based frame ``frame``: ``137.5 * frame + k * step``, k = 0..beams."""
        return self.angles(GOLDEN_STEP_DEG * frame)

    def _library_rotate(self, aux: np.ndarray, angle: float) -> np.ndarray:
        from skimage.transform import rotate  # noqa: PLC0415 - lazy: importing this module loads no skimage

        return rotate(aux, angle, resize=False, order=0, mode="constant", cval=0, preserve_range=True)

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """Spokes of every frame, ``bool`` ``(t, ky, kx)``."""
        nt, ny, nx = shape
        out = np.empty(shape, dtype=bool)
        for f in range(nt):
            out[f] = self.union_of_spokes(ny, nx, self.frame_angles(f))
        return out


class TrainRadialMask(_RadialMask):
    """Training ``radial`` mask (``FixedLowRadialMaskFunc``): one pseudo-radial 2-D pattern per draw.

    Spokes at ``137.5 (i - 1) + k * 180 / beams`` degrees, ``k = 0..beams-1`` (end excluded), with
    ``i ~ U{1..30}`` drawn from the explicit generator (the published code uses Python's global
    ``random``); line at 0-based row ``a // 2``; crop start ``(a - n) // 2``; ACS square start
    ``(N - acs + 1) // 2``. The pattern is shared by all frames of one call.

    Parameters
    ----------
    accel
        Nominal acceleration ``R`` (any positive integer with ``beams >= 1``).
    acs
        Side of the central ACS square (20 in CardioMM).
    rotation
        ``"exact"`` (default) or ``"library"`` (``scipy.ndimage.rotate``, as the published trainer).
    """

    pattern = TrainMaskType.RADIAL.value
    centring = "train"
    needs_seed = True
    include_end = False
    crop_centring = "train"
    edge = "strict"
    #: Start indices ``i`` are drawn from ``1..N_START_INDICES``.
    N_START_INDICES = 30

    def line_row(self, a: int) -> int:
        """``a // 2``."""
        return a // 2

    def draw_start_angle(self, seed: SeedLike) -> float:
        """``137.5 * (i - 1)`` degrees with ``i`` uniform in ``1..30`` from ``seed``."""
        i = int(as_generator(seed).integers(1, self.N_START_INDICES + 1))
        return GOLDEN_STEP_DEG * (i - 1)

    def _library_rotate(self, aux: np.ndarray, angle: float) -> np.ndarray:
        from scipy.ndimage import rotate  # noqa: PLC0415 - lazy: cardiomm.text imports this module and loads no scipy up front

        return rotate(aux, angle, reshape=False, order=0)

    def acceleration_mask(self, shape: tuple[int, int, int], seed: SeedLike | None) -> np.ndarray:
        """One spoke pattern, repeated over frames, ``bool`` ``(t, ky, kx)``."""
        assert seed is not None
        nt, ny, nx = shape
        frame = self.union_of_spokes(ny, nx, self.angles(self.draw_start_angle(seed)))
        return np.broadcast_to(frame, shape).copy()
