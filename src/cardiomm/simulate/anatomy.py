"""Patient-level heart anatomy and motion parameters, disease presets and the contraction curve.

The left ventricle is a truncated prolate half-ellipsoid (base at ``z = 0``, apex at ``z = L``): the
endocardial radius of a short-axis slice at depth ``z`` is ``R * sqrt(1 - (z / L)^2)``. Systole shrinks
``R`` and ``L`` (longitudinal shortening is modelled as the apex moving toward a fixed base); the
myocardial cross-section of every slice is conserved (incompressible wall), so the wall thickens in
systole and the LV mass is constant over the cycle. The RV is an elliptical crescent wrapped around the
septum that shortens by ``rv_shortening`` in systole.

All lengths in millimetres, times in seconds, heart rate in beats per minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

__all__ = [
    "Disease",
    "Population",
    "Infarct",
    "HeartParams",
    "contraction",
    "sample_heart",
]


class Disease(StrEnum):
    """Disease categories of the phantom (abbreviations as in MMCMR-427K, NC = normal control)."""

    NC = "NC"
    DCM = "DCM"
    HCM = "HCM"
    MI = "MI"
    PAH = "PAH"
    HHD = "HHD"


class Population(StrEnum):
    """Population (the ``lifespan`` metadata field)."""

    ADULT = "Adult"
    PEDIATRIC = "Pediatric"


@dataclass(frozen=True)
class Infarct:
    """A myocardial infarct: an angular sector of the LV wall, from the endocardium outward.

    Attributes
    ----------
    start_deg, extent_deg
        Sector start and width [degrees] in the short-axis plane, measured from the lateral wall
        (image +x) toward inferior (image +y, clockwise on screen); the septum is at 180 deg.
    transmurality
        Fraction of the wall thickness involved, from the endocardium (0-1].
    z_from, z_to
        Extent along the long axis as fractions of the end-diastolic LV length (0 = base, 1 = apex).
    """

    start_deg: float = 30.0
    extent_deg: float = 80.0
    transmurality: float = 0.7
    z_from: float = 0.3
    z_to: float = 0.9


@dataclass(frozen=True)
class HeartParams:
    """Anatomy and motion of one simulated subject.

    Attributes
    ----------
    lv_radius_ed, lv_radius_es
        Basal LV endocardial radius at end-diastole / end-systole [mm].
    lv_length_ed, lv_length_es
        LV cavity length base-to-apex at ED / ES [mm].
    wall_ed
        LV wall thickness at ED [mm] (septal and lateral alike; the apex is 0.8 x thinner).
    rv_width_ed, rv_height_ed
        RV crescent semi-axes at ED [mm]: across the septum and along it.
    rv_shortening
        Fractional reduction of the RV width at ES (the height shrinks half as much).
    heart_rate
        Heart rate [beats/min].
    es_fraction
        Time of end-systole as a fraction of the RR interval.
    infarct
        Optional infarct sector.
    body_scale
        Scale of the thorax (1 adult, about 0.6 pediatric); the heart radii are already scaled.
    heart_offset
        Position of the LV centre in the short-axis image (x, y) [mm] before scaling.
    heart_angle
        In-plane rotation of the heart [degrees].
    resp_amplitude
        Peak respiratory displacement of heart and liver [mm] (0 = breath-hold).
    resp_period
        Respiratory period [s].
    """

    lv_radius_ed: float = 27.0
    lv_radius_es: float = 18.0
    lv_length_ed: float = 90.0
    lv_length_es: float = 80.0
    wall_ed: float = 9.0
    rv_width_ed: float = 23.0
    rv_height_ed: float = 45.0
    rv_shortening: float = 0.50
    heart_rate: float = 65.0
    es_fraction: float = 0.35
    infarct: Infarct | None = None
    body_scale: float = 1.0
    heart_offset: tuple[float, float] = (15.0, -10.0)
    heart_angle: float = 0.0
    resp_amplitude: float = 0.0
    resp_period: float = 4.0

    @property
    def rr(self) -> float:
        """RR interval [s]."""
        return 60.0 / self.heart_rate

    @property
    def epi_radius_ed(self) -> float:
        """Basal LV epicardial radius at ED [mm]."""
        return self.lv_radius_ed + self.wall_ed

    @property
    def epi_length_ed(self) -> float:
        """Epicardial base-to-apex length at ED [mm]."""
        return self.lv_length_ed + 0.8 * self.wall_ed

    def lv_radii(self, z: float, c: float) -> tuple[float, float]:
        """Return (endocardial, epicardial) radius [mm] of the SAX slice at depth ``z`` [mm].

        ``c`` is the contraction state (0 = ED, 1 = ES). Radii are 0 where the slice misses the LV.
        """
        radius = self.lv_radius_ed + (self.lv_radius_es - self.lv_radius_ed) * c
        length = self.lv_length_ed + (self.lv_length_es - self.lv_length_ed) * c
        endo = radius * math.sqrt(max(0.0, 1.0 - (z / length) ** 2)) if z < length else 0.0
        endo_ed = self.lv_radius_ed * math.sqrt(max(0.0, 1.0 - (z / self.lv_length_ed) ** 2))
        epi_ed = self.epi_radius_ed * math.sqrt(max(0.0, 1.0 - (z / self.epi_length_ed) ** 2))
        area = max(0.0, epi_ed**2 - endo_ed**2)  # myocardial area / pi, conserved over the cycle
        epi = math.sqrt(endo**2 + area) if area > 0 else 0.0
        return endo, epi

    def rv_axes(self, z: float, c: float) -> tuple[float, float]:
        """Return the RV crescent semi-axes (width, height) [mm] at depth ``z`` and contraction ``c``."""
        f = math.sqrt(max(0.0, 1.0 - (z / (0.85 * self.epi_length_ed)) ** 2))
        k = self.rv_shortening * c
        return self.rv_width_ed * f * (1.0 - k), self.rv_height_ed * f * (1.0 - 0.5 * k)


def contraction(phase: float | np.ndarray, es_fraction: float = 0.35) -> np.ndarray:
    """Contraction state over the cardiac cycle: 0 at end-diastole, 1 at end-systole.

    Parameters
    ----------
    phase
        Cardiac phase, fraction of the RR interval (wrapped into [0, 1)); phase 0 is the R wave (ED).
    es_fraction
        Phase of end-systole.

    Returns
    -------
    numpy.ndarray
        Raised-cosine systole from 0 to ``es_fraction``, then a raised-cosine relaxation back to 0 at
        phase 1 (smooth, periodic).
    """
    p = np.mod(np.asarray(phase, dtype=np.float64), 1.0)
    sys_part = 0.5 * (1.0 - np.cos(np.pi * p / es_fraction))
    dia_part = 0.5 * (1.0 + np.cos(np.pi * (p - es_fraction) / (1.0 - es_fraction)))
    return np.where(p < es_fraction, sys_part, dia_part)


# disease -> multiplicative changes of (R_ed, R_es, L_ed, L_es, wall, rv_width, rv_shortening factor)
_DISEASE_SHAPE: dict[Disease, tuple[float, float, float, float, float, float, float]] = {
    Disease.NC: (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    Disease.DCM: (1.30, 1.70, 1.15, 1.25, 0.80, 1.0, 0.7),
    Disease.HCM: (0.82, 0.62, 0.95, 0.92, 1.80, 0.9, 1.0),
    Disease.MI: (1.10, 1.35, 1.05, 1.10, 0.95, 1.0, 0.9),
    Disease.PAH: (0.92, 0.95, 1.0, 1.0, 1.0, 1.5, 0.35),
    Disease.HHD: (0.97, 0.95, 1.0, 1.0, 1.35, 1.0, 1.0),
}


def sample_heart(
    disease: Disease | str,
    population: Population | str,
    rng: np.random.Generator,
    *,
    resp_amplitude: float = 0.0,
) -> HeartParams:
    """Draw one subject's heart parameters for a disease and population.

    Parameters
    ----------
    disease, population
        Category and population; pediatric subjects are scaled by about 0.6 (heart and thorax) and
        have a faster heart rate.
    rng
        Random generator (the only source of randomness).
    resp_amplitude
        Respiratory displacement [mm] (0: breath-hold).

    Returns
    -------
    HeartParams
        Parameters with about 5 % inter-subject variation of every size and 10 % of the heart rate.
    """
    disease = Disease(disease)
    population = Population(population)
    base = HeartParams()
    fr_ed, fr_es, fl_ed, fl_es, fw, frv, fsh = _DISEASE_SHAPE[disease]

    def jitter(sd: float = 0.05) -> float:
        return float(np.exp(rng.normal(0.0, sd)))

    scale = (0.62 if population is Population.PEDIATRIC else 1.0) * jitter(0.04)
    hr = (95.0 if population is Population.PEDIATRIC else 66.0) * jitter(0.10)
    r_ed = base.lv_radius_ed * fr_ed * scale * jitter()
    r_es = min(base.lv_radius_es * fr_es * scale * jitter(), 0.92 * r_ed)
    l_ed = base.lv_length_ed * fl_ed * scale * jitter(0.04)
    l_es = min(base.lv_length_es * fl_es * scale * jitter(0.04), 0.97 * l_ed)
    infarct = None
    if disease is Disease.MI:
        infarct = Infarct(
            start_deg=float(rng.uniform(0.0, 300.0)),
            extent_deg=float(rng.uniform(60.0, 110.0)),
            transmurality=float(rng.uniform(0.5, 1.0)),
            z_from=float(rng.uniform(0.1, 0.4)),
            z_to=float(rng.uniform(0.7, 0.95)),
        )
    return replace(
        base,
        lv_radius_ed=r_ed,
        lv_radius_es=r_es,
        lv_length_ed=l_ed,
        lv_length_es=l_es,
        wall_ed=base.wall_ed * fw * scale * jitter(),
        rv_width_ed=base.rv_width_ed * frv * scale * jitter(),
        rv_height_ed=base.rv_height_ed * min(frv, 1.2) * scale * jitter(),
        rv_shortening=base.rv_shortening * fsh,
        heart_rate=hr,
        es_fraction=0.35 if disease is not Disease.HCM else 0.32,
        infarct=infarct,
        body_scale=scale,
        heart_angle=float(rng.normal(0.0, 6.0)),
        resp_amplitude=resp_amplitude,
        resp_period=float(4.0 * jitter(0.1)),
    )
