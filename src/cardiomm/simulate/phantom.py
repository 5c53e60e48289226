"""Analytic 2-D + time cardiac phantom: tissue and label maps of one frame for each view.

Every view is a painter's-algorithm stack of ellipses, circles and half-ellipses (later shapes
override earlier ones) evaluated on a pixel grid (``Grid``), optionally supersampled (``ss`` x ``ss``
samples per pixel) so that the contrast code can anti-alias by block-averaging signals.

Image axes: rows ``y`` (phase encode) grow toward posterior/inferior, columns ``x`` (readout) toward
the subject's left; coordinates are in millimetres from the grid centre (pixel ``n // 2``).

Labels (``uint8``) follow the UK Biobank nnU-Net convention used by CardioMM for the short axis
(reference section 13): 0 background, 1 LV blood pool, 2 LV myocardium, 3 RV blood pool; long-axis and
aorta views add 4 LA, 5 RA and 6 aortic lumen (a simulate extension; the RV free wall, atrial walls
and other vessels are tissue but background in the labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from cardiomm.simulate.anatomy import HeartParams, contraction
from cardiomm.simulate.tissues import Tissue
from cardiomm.types import CardiacLabel

__all__ = ["View", "Grid", "FrameMaps", "LABELS", "render_frame", "aortic_flow_waveform"]

#: Label name -> value (:class:`cardiomm.types.CardiacLabel`): background 0, LV 1, MYO 2, RV 3, LA 4, RA 5,
#: AORTA 6.
LABELS: dict[str, int] = {lab.short_name: int(lab) for lab in CardiacLabel}


class View(StrEnum):
    """Imaging views; values are the file-name view tokens."""

    SAX = "sax"
    LAX_2CH = "2ch"
    LAX_3CH = "3ch"
    LAX_4CH = "4ch"
    AORTA_SAG = "sag"
    AORTA_TRA = "tra"


@dataclass(frozen=True)
class Grid:
    """A pixel grid ``(ny, nx)`` with pixel size ``(dy, dx)`` [mm], sampled ``ss`` x ``ss`` per pixel."""

    ny: int
    nx: int
    dy: float
    dx: float
    ss: int = 1

    def coords(self) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Return ``(Y, X)`` sample coordinates [mm], each ``(ny * ss, nx * ss)`` float32."""
        return _coords(self)


@lru_cache(maxsize=16)
def _coords(grid: Grid) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    sub = (np.arange(grid.ss) - (grid.ss - 1) / 2.0) / grid.ss
    y = ((np.arange(grid.ny) - grid.ny // 2)[:, None] + sub[None, :]).ravel() * grid.dy
    x = ((np.arange(grid.nx) - grid.nx // 2)[:, None] + sub[None, :]).ravel() * grid.dx
    yy, xx = np.meshgrid(y.astype(np.float32), x.astype(np.float32), indexing="ij")
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


@dataclass
class FrameMaps:
    """Maps of one rendered frame on a (possibly supersampled) grid.

    Attributes
    ----------
    tissue
        ``(H, W)`` uint8 :class:`~cardiomm.simulate.tissues.Tissue` values.
    label
        ``(H, W)`` uint8 labels (see :data:`LABELS`).
    x0, y0
        Material (end-diastolic) coordinates [mm] for tagging, or None; blood keeps its current
        position (tags in blood fade instead).
    velocity
        Through-plane velocity [cm/s] for phase contrast, or None.
    """

    tissue: NDArray[np.uint8]
    label: NDArray[np.uint8]
    x0: NDArray[np.float32] | None = None
    y0: NDArray[np.float32] | None = None
    velocity: NDArray[np.float32] | None = None


class _Canvas:
    """Painter's-algorithm canvas: ``paint(mask, tissue, label)`` overwrites where ``mask``."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.tissue = np.zeros(shape, np.uint8)
        self.label = np.zeros(shape, np.uint8)

    def paint(self, mask: NDArray[np.bool_], tissue: Tissue, label: int = 0) -> None:
        self.tissue[mask] = int(tissue)
        self.label[mask] = label


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, a: float, b: float) -> NDArray[np.bool_]:
    if a <= 0 or b <= 0:
        return np.zeros(x.shape, bool)
    return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0


def _rotate(x: np.ndarray, y: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return c * x + s * y, -s * x + c * y


def _resp_shift(p: HeartParams, time_s: float) -> float:
    if p.resp_amplitude == 0.0:
        return 0.0
    return p.resp_amplitude * 0.5 * (1.0 - math.cos(2.0 * math.pi * time_s / p.resp_period))


def _thorax(cv: _Canvas, x: np.ndarray, y: np.ndarray, s: float, shift: float, *, spine: bool = True) -> None:
    """Body wall (fat, muscle), mediastinal soft tissue, lungs, liver, spine and descending aorta."""
    a, b, cy = 150.0 * s, 110.0 * s, 5.0 * s
    cv.paint(_ellipse(x, y, 0.0, cy, a, b), Tissue.FAT)
    cv.paint(_ellipse(x, y, 0.0, cy, a - 12 * s, b - 12 * s), Tissue.MUSCLE)
    inner = _ellipse(x, y, 0.0, cy, a - 22 * s, b - 22 * s)
    cv.paint(inner, Tissue.SOFT)
    for side in (-1.0, 1.0):
        cv.paint(inner & _ellipse(x, y, side * 78 * s, -2 * s, 52 * s, 78 * s), Tissue.LUNG)
    cv.paint(inner & _ellipse(x, y, -62 * s, 70 * s + shift, 62 * s, 40 * s), Tissue.LIVER)
    if spine:
        cv.paint(_ellipse(x, y, 0.0, 88 * s, 17 * s, 15 * s), Tissue.BONE)
        cv.paint(_ellipse(x, y, 30 * s, 66 * s, 11 * s, 11 * s), Tissue.BLOOD)


def _sax(
    p: HeartParams, x: np.ndarray, y: np.ndarray, c: float, z: float, shift: float, maps: FrameMaps
) -> None:
    cv = _Canvas(x.shape)
    s = p.body_scale
    _thorax(cv, x, y, s, shift)
    hx, hy = p.heart_offset[0] * s, p.heart_offset[1] * s + shift
    u, v = _rotate(x - hx, y - hy, p.heart_angle)
    endo, epi = p.lv_radii(z, c)
    endo_ed, epi_ed = p.lv_radii(z, 0.0)
    rv_w, rv_h = p.rv_axes(z, c)
    if epi_ed > 0:
        fat = _ellipse(u, v, -0.5 * rv_w, -0.1 * rv_h, epi_ed + rv_w + 8 * s, max(epi_ed, rv_h) + 8 * s)
        cv.paint(fat, Tissue.FAT)
    if rv_w > 0:
        # crescent: an ellipse whose septal side hides behind the LV, so that it wraps around it
        a = 0.65 * epi + 0.5 * rv_w
        xc, yc = -epi - rv_w + a, -0.12 * rv_h
        cv.paint(_ellipse(u, v, xc, yc, a + 3.0 * s, rv_h + 3.0 * s), Tissue.MYOCARDIUM)
        cv.paint(_ellipse(u, v, xc, yc, a, rv_h), Tissue.BLOOD, CardiacLabel.RV)
    r2 = u * u + v * v
    if epi > 0:
        cv.paint(r2 <= epi * epi, Tissue.MYOCARDIUM, CardiacLabel.MYO)
        inf = p.infarct
        if inf is not None and inf.z_from * p.lv_length_ed <= z <= inf.z_to * p.lv_length_ed:
            ang = np.mod(np.degrees(np.arctan2(v, u)) - inf.start_deg, 360.0)
            outer = endo + inf.transmurality * (epi - endo)
            scar = (r2 <= outer * outer) & (ang <= inf.extent_deg) & (r2 <= epi * epi)
            cv.paint(scar, Tissue.INFARCT, CardiacLabel.MYO)
    if endo > 0:
        cv.paint(r2 <= endo * endo, Tissue.BLOOD, CardiacLabel.LV)
    maps.tissue, maps.label = cv.tissue, cv.label
    if maps.x0 is not None:
        assert maps.y0 is not None  # x0 and y0 are set together (render_frame)
        # incompressible radial motion of the LV wall: r0^2 = r^2 + (endo_ed^2 - endo^2)
        myo = cv.label == CardiacLabel.MYO
        r0 = np.sqrt(r2[myo] + (endo_ed**2 - endo**2))
        scale = r0 / np.maximum(np.sqrt(r2[myo]), 1e-6)
        u0, v0 = u[myo] * scale, v[myo] * scale
        xr, yr = _rotate(u0, v0, -p.heart_angle)
        maps.x0[myo] = xr + hx
        maps.y0[myo] = yr + hy - shift


def _lax(p: HeartParams, view: View, x: np.ndarray, y: np.ndarray, c: float, shift: float) -> _Canvas:
    cv = _Canvas(x.shape)
    s = p.body_scale
    _thorax(cv, x, y, s, shift, spine=False)
    radius = p.lv_radius_ed + (p.lv_radius_es - p.lv_radius_ed) * c
    length = p.lv_length_ed + (p.lv_length_es - p.lv_length_ed) * c
    epi_r = math.sqrt(radius**2 + p.epi_radius_ed**2 - p.lv_radius_ed**2)
    epi_l = length + 0.8 * p.wall_ed * (1.0 + 0.3 * c)
    # local frame: u along the long axis (base u = 0 -> apex), v across; the apex points down-right
    hx, hy = p.heart_offset[0] * s, p.heart_offset[1] * s + shift
    u, v = _rotate(x - hx, y - hy, -55.0 + p.heart_angle)
    u = u + 0.5 * p.lv_length_ed
    la_a, la_b = 22.0 * s * (1 + 0.2 * c), 0.85 * p.lv_radius_ed * (1 + 0.15 * c)
    cv.paint(_ellipse(u, v, -epi_l * 0.35, 0.0, epi_l + 14 * s, epi_r + 12 * s) & (u > -la_a), Tissue.FAT)
    base = u >= 0
    if view is View.LAX_4CH:
        rv_w, _ = p.rv_axes(0.0, c)
        vc = -(epi_r + rv_w + 1.0)
        rv_len = 0.8 * length
        cv.paint(base & _ellipse(u, v, 0.0, vc, rv_len + 3 * s, rv_w + 3 * s), Tissue.MYOCARDIUM)
        cv.paint(base & _ellipse(u, v, 0.0, vc, rv_len, rv_w), Tissue.BLOOD, CardiacLabel.RV)
        cv.paint(
            _ellipse(u, v, -la_a - 2 * s, vc, la_a, rv_w * 1.1) & (u < -1.0), Tissue.BLOOD, CardiacLabel.RA
        )
    if view is View.LAX_3CH:
        cv.paint(
            _ellipse(u, v, -14 * s, -epi_r - 6 * s, 26 * s, 12 * s * (1 + 0.08 * c)),
            Tissue.BLOOD,
            CardiacLabel.AORTA,
        )
    cv.paint(_ellipse(u, v, -la_a - 2 * s, 0.0, la_a, la_b) & (u < -1.0), Tissue.BLOOD, CardiacLabel.LA)
    cv.paint(base & _ellipse(u, v, 0.0, 0.0, epi_l, epi_r), Tissue.MYOCARDIUM, CardiacLabel.MYO)
    cv.paint(base & _ellipse(u, v, 0.0, 0.0, length, radius), Tissue.BLOOD, CardiacLabel.LV)
    return cv


def aortic_flow_waveform(phase: float | np.ndarray, es_fraction: float = 0.35) -> np.ndarray:
    """Normalised aortic flow over the cycle: systolic sin^2 pulse (peak 1) and a small backflow."""
    p = np.mod(np.asarray(phase, dtype=np.float64), 1.0)
    t_sys = 0.9 * es_fraction
    systole = np.sin(np.pi * np.clip(p / t_sys, 0.0, 1.0)) ** 2
    back = -0.08 * np.sin(np.pi * np.clip((p - t_sys) / 0.15, 0.0, 1.0)) ** 2
    return np.where(p < t_sys, systole, back)


# vessel -> (x, y, radius [mm, at scale 1], peak centreline velocity [cm/s], parabolic profile; pulsatile)
_TRA_VESSELS: dict[str, tuple[float, float, float, float, bool]] = {
    "ascending": (10.0, -20.0, 15.0, 110.0, True),
    "descending": (28.0, 55.0, 11.0, -85.0, True),
    "pulmonary": (-24.0, -42.0, 13.0, 80.0, True),
    "svc": (-24.0, -4.0, 8.0, -25.0, False),
}


def _aorta(
    p: HeartParams, view: View, x: np.ndarray, y: np.ndarray, phase: float, shift: float, maps: FrameMaps
) -> None:
    cv = _Canvas(x.shape)
    s = p.body_scale
    pulse = float(aortic_flow_waveform(phase, p.es_fraction))
    dil = 1.0 + 0.08 * max(pulse, 0.0)
    if view is View.AORTA_TRA:
        _thorax(cv, x, y, s, shift)
        vel = np.zeros(x.shape, np.float32) if maps.velocity is not None else None
        for name, (vx, vy, r, vmax, puls) in _TRA_VESSELS.items():
            rr = r * s * (dil if puls else 1.0)
            wall = _ellipse(x, y, vx * s, vy * s, rr + 2.0 * s, rr + 2.0 * s)
            cv.paint(wall, Tissue.VESSEL_WALL)
            lumen = _ellipse(x, y, vx * s, vy * s, rr, rr)
            label = CardiacLabel.AORTA if name in ("ascending", "descending") else 0
            cv.paint(lumen, Tissue.BLOOD, label)
            if vel is not None:
                prof = 1.0 - ((x[lumen] - vx * s) ** 2 + (y[lumen] - vy * s) ** 2) / rr**2
                vel[lumen] = vmax * (pulse if puls else 1.0) * np.clip(prof, 0.0, 1.0)
        if vel is not None:
            maps.velocity = np.where(cv.tissue == int(Tissue.BLOOD), vel, 0.0).astype(np.float32)
    else:
        # oblique sagittal "candy cane": ascending aorta, arch, descending aorta; anterior is image left
        cv.paint(_ellipse(x, y, 0.0, 0.0, 115 * s, 150 * s), Tissue.FAT)
        cv.paint(_ellipse(x, y, 0.0, 0.0, 103 * s, 138 * s), Tissue.MUSCLE)
        cv.paint(_ellipse(x, y, 0.0, 0.0, 93 * s, 128 * s), Tissue.SOFT)
        cv.paint(_ellipse(x, y, 5 * s, -10 * s, 70 * s, 95 * s), Tissue.LUNG)
        cv.paint(_ellipse(x, y, -25 * s, 95 * s + shift, 55 * s, 40 * s), Tissue.MYOCARDIUM)
        cv.paint(_ellipse(x, y, -25 * s, 95 * s + shift, 40 * s, 28 * s), Tissue.BLOOD)
        cv.paint(_ellipse(x, y, 78 * s, 0.0, 14 * s, 120 * s), Tissue.BONE)
        cx, cy, rc = 10 * s, -40 * s, 35 * s
        layers = (
            (14 * s * dil + 2 * s, Tissue.VESSEL_WALL, 0),
            (14 * s * dil, Tissue.BLOOD, CardiacLabel.AORTA),
        )
        for rl, tissue, label in layers:
            dist = np.hypot(x - cx, y - cy)
            arch = (np.abs(dist - rc) <= rl) & (y <= cy)
            asc = (np.abs(x - (cx - rc)) <= rl) & (y > cy) & (y <= cy + 85 * s)
            desc = (np.abs(x - (cx + rc)) <= rl * 0.8) & (y > cy) & (y <= 120 * s)
            cv.paint(arch | asc | desc, tissue, label)
    maps.tissue, maps.label = cv.tissue, cv.label


def render_frame(
    params: HeartParams,
    view: View | str,
    grid: Grid,
    *,
    phase: float,
    z: float = 0.0,
    time_s: float = 0.0,
    material: bool = False,
    velocity: bool = False,
) -> FrameMaps:
    """Render tissue and label maps of one frame.

    Parameters
    ----------
    params
        Subject anatomy and motion.
    view
        Imaging view.
    grid
        Pixel grid; maps have shape ``(ny * ss, nx * ss)``.
    phase
        Cardiac phase (fraction of RR; 0 = end-diastole).
    z
        Short-axis slice depth from the LV base toward the apex [mm] (ignored by other views).
    time_s
        Acquisition time [s], drives respiratory motion.
    material
        Also return material coordinates ``x0, y0`` (tagging).
    velocity
        Also return the through-plane velocity map (``tra`` view only; zeros elsewhere).

    Returns
    -------
    FrameMaps
        The maps of this frame.
    """
    view = View(view)
    yy, xx = grid.coords()
    c = float(contraction(phase, params.es_fraction))
    shift = _resp_shift(params, time_s)
    maps = FrameMaps(tissue=np.zeros(xx.shape, np.uint8), label=np.zeros(xx.shape, np.uint8))
    if material:
        maps.x0, maps.y0 = xx.copy(), yy.copy()
    if velocity:
        maps.velocity = np.zeros(xx.shape, np.float32)
    painters: dict[View, Callable[[], None]] = {
        View.SAX: lambda: _sax(params, xx, yy, c, z, shift, maps),
        View.AORTA_SAG: lambda: _aorta(params, view, xx, yy, phase, shift, maps),
        View.AORTA_TRA: lambda: _aorta(params, view, xx, yy, phase, shift, maps),
    }
    if view in painters:
        painters[view]()
    else:
        cv = _lax(params, view, xx, yy, c, shift)
        maps.tissue, maps.label = cv.tissue, cv.label
    if maps.velocity is not None and view is not View.AORTA_TRA:
        maps.velocity = np.zeros(xx.shape, np.float32)
    return maps
