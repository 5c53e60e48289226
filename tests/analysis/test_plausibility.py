"""Plausibility QC: phenotype ranges, ED/ES order and label geometry on phantoms of known geometry."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from cardiomm.analysis.phenotypes import compute_phenotypes
from cardiomm.analysis.plausibility import (
    LIFESPAN_SIZE_SCALE,
    PLAUSIBLE_RANGES,
    QcFailure,
    check_label_geometry,
    check_phenotypes,
    plausible_ranges,
)
from cardiomm.errors import UnknownChoiceError

from .conftest import Phantom


def _values(
    lvedv: float = 150.0,
    lvesv: float = 60.0,
    rvedv: float = 160.0,
    rvesv: float = 70.0,
    **extra: float,
) -> dict[str, float]:
    """Consistent phenotypes of a normal adult heart (SV and EF derived from the volumes)."""
    out = {
        "LVEDV": lvedv,
        "LVESV": lvesv,
        "LVSV": lvedv - lvesv,
        "LVEF": 100.0 * (lvedv - lvesv) / lvedv if lvedv else math.nan,
        "RVEDV": rvedv,
        "RVESV": rvesv,
        "RVSV": rvedv - rvesv,
        "RVEF": 100.0 * (rvedv - rvesv) / rvedv if rvedv else math.nan,
        "LVM": 120.0,
        "WT_Max": 11.0,
        "HR": 65.0,
    }
    out.update(extra)
    return out


def _flags(failures: list[QcFailure]) -> list[str]:
    return [f.flag for f in failures]


# ------------------------------------------------------------------------------------- phenotype ranges
@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"LVM": 600.0}, ["implausible_LVM"]),
        ({"LVM": 20.0}, ["implausible_LVM"]),
        ({"WT_Max": 76.0}, ["implausible_WT_Max"]),
        ({"WT_Max": 2.0}, ["implausible_WT_Max"]),
        ({"HR": 400.0}, ["implausible_HR"]),
        # the failure: RV barely moves -> RVEF 0.8 % and an LV stroke volume 50 x the RV's
        ({"rvesv": 158.72}, ["implausible_RVEF", "implausible_SV_ratio"]),
        ({"lvedv": 600.0, "lvesv": 300.0, "rvedv": 600.0, "rvesv": 300.0}, ["implausible_LVEDV"]),
        ({"lvedv": 30.0, "lvesv": 12.0, "rvedv": 30.0, "rvesv": 12.0}, ["implausible_LVEDV"]),
        ({"lvesv": 145.0}, ["implausible_LVEF", "implausible_SV_ratio"]),  # LVEF 3.3 %, SV ratio 0.056
        ({"lvesv": 5.0}, ["implausible_LVEF"]),  # LVEF 96.7 %; SV ratio 145 / 90 = 1.6 passes
        ({"rvedv": 700.0, "rvesv": 610.0}, ["implausible_RV_LV_ratio"]),  # 4.67; RVSV 90 = LVSV
        ({"rvedv": 30.0, "rvesv": 12.0}, ["implausible_RV_LV_ratio"]),  # 0.2; SV ratio 5.0 is on the limit
        ({"rvedv": 30.0, "rvesv": 13.0}, ["implausible_RV_LV_ratio", "implausible_SV_ratio"]),  # 0.2, 5.3
        ({"rvesv": 170.0}, ["implausible_RVEF", "esv_ge_edv_RV"]),  # ES RV larger than ED: RVEF < 0
        ({"lvesv": 150.0}, ["implausible_LVEF", "esv_ge_edv_LV"]),  # equal volumes: no cycle
    ],
)
def test_check_phenotypes_exact_flags(changes: dict[str, float], expected: list[str]) -> None:
    named = {k: v for k, v in changes.items() if k.islower()}
    extra = {k: v for k, v in changes.items() if not k.islower()}
    assert _flags(check_phenotypes(_values(**named, **extra))) == expected


def test_check_phenotypes_limits_are_closed_and_described() -> None:
    """Values on a limit pass, values just outside fail, and the failure names value and range."""
    assert check_phenotypes(_values(LVM=500.0, WT_Max=3.0, LVEF=5.0, RVEF=90.0)) == []
    (fail,) = check_phenotypes(_values(LVM=500.5))
    assert (fail.flag, fail.value, fail.low, fail.high, fail.unit) == (
        "implausible_LVM",
        500.5,
        30.0,
        500.0,
        "g",
    )
    assert (
        check_phenotypes(_values(LVM=512.0))[0].describe() == "implausible_LVM: LVM 512 g, expected 30-500 g"
    )
    fail = check_phenotypes(_values(rvesv=158.72))[0]
    assert fail.describe() == "implausible_RVEF: RVEF 0.8 %, expected 5-90 %"
    (order,) = check_phenotypes(_values(rvesv=170.0))[1:]
    assert order.describe() == "esv_ge_edv_RV: RVESV/RVEDV 1.06, expected < 1"
    island = QcFailure("label_island", "distance to heart", 39.94, "mm", high=30.0, where="slice 0, ES")
    assert island.describe() == "label_island: distance to heart 39.9 mm (slice 0, ES), expected <= 30 mm"


def test_check_phenotypes_skips_what_is_undefined() -> None:
    """NaN (no frame time, no wall thickness), zero volumes (an absent label, flagged as ``missing_*``)
    and, for a single frame, everything that needs a cardiac cycle are not judged."""
    nan = float("nan")
    assert check_phenotypes(_values(WT_Max=nan, HR=nan, LVEF=nan)) == []
    assert check_phenotypes(_values(rvedv=0.0, rvesv=0.0, RVEF=nan)) == []
    assert check_phenotypes(_values(LVM=0.0)) == []
    one = _values(lvesv=150.0, rvesv=160.0)  # ED = ES
    assert _flags(check_phenotypes(one)) == [
        "implausible_LVEF",
        "implausible_RVEF",
        "esv_ge_edv_LV",
        "esv_ge_edv_RV",
    ]
    assert check_phenotypes(one, single_frame=True) == []
    assert check_phenotypes({}) == []


def test_plausible_ranges_scale_the_lower_size_limits_with_lifespan() -> None:
    adult, child, fetus = (plausible_ranges(k) for k in ("Adult", "pediatric", "FETAL"))
    assert adult == PLAUSIBLE_RANGES and plausible_ranges("unknown") == PLAUSIBLE_RANGES
    assert child["LVEDV"].low == pytest.approx(4.0) and child["LVM"].low == pytest.approx(3.0)
    assert fetus["LVEDV"].low == pytest.approx(0.4)
    assert child["WT_Max"].low == pytest.approx(3.0 * 0.1 ** (1 / 3))
    for name in ("LVEDV", "LVM", "WT_Max"):
        assert child[name].high == adult[name].high  # an adolescent can have an adult heart
    for name in ("LVEF", "RVEF", "RVEDV/LVEDV", "LVSV/RVSV", "HR"):
        assert child[name] == adult[name]
    assert set(LIFESPAN_SIZE_SCALE) == {"Adult", "Pediatric", "Fetal"}
    small = _values(lvedv=20.0, lvesv=8.0, rvedv=22.0, rvesv=10.0, LVM=15.0, WT_Max=2.5)
    assert _flags(check_phenotypes(small)) == ["implausible_LVEDV", "implausible_LVM", "implausible_WT_Max"]
    assert check_phenotypes(small, lifespan="Pediatric") == []
    with pytest.raises(UnknownChoiceError):
        plausible_ranges("teenager")


# -------------------------------------------------------------------------------------- label geometry
def _geometry_flags(labels: np.ndarray, ph: Phantom, es: int = 5) -> list[str]:
    return _flags(check_label_geometry(labels, {"ED": 0, "ES": es}, ph.spacing_mm))


def _polar(ph: Phantom) -> tuple[np.ndarray, np.ndarray]:
    """Radius [px] and angle [deg, 0 = +x, counter-clockwise with y up] about the phantom's centre."""
    n = ph.labels.shape[-1]
    yy, xx = np.mgrid[:n, :n].astype(float)
    dy, dx = yy - ph.centre[0], xx - ph.centre[1]
    return np.hypot(dy, dx), np.degrees(np.arctan2(-dy, dx)) % 360.0


def test_ring_phantom_passes_every_check(phantom: Callable[..., Phantom]) -> None:
    """LV disc inside a closed myocardial annulus, RV beside it: the phenotypes are those of
    ``test_phenotypes_match_analytic_volumes`` (LVEDV 226 mL, LVM 226 g, WT 12 mm) and nothing is flagged."""
    ph = phantom()
    assert _geometry_flags(ph.labels, ph) == []
    res = compute_phenotypes(ph.labels, ph.spacing_mm, ph.frame_dt_s)
    assert res.qc_flags == () and res.qc_failures == () and res.qc_lines() == []


def test_broken_ring_in_mid_slices_is_flagged(phantom: Callable[..., Phantom]) -> None:
    """A 6 px gap cut through the wall of the mid slices at ED opens the ring (6 px of a 2 pi 20 px edge:
    the LV still borders myocardium along 95 % of its edge, so only the ring check fires); a 1 px gap
    is bridged."""
    ph = phantom()
    rad, ang = _polar(ph)
    lab = ph.labels.copy()
    ed = lab[0]  # view
    wedge = (rad > ph.r_lv[0]) & (rad <= ph.r_epi) & (np.abs(rad * np.radians(ang - 90.0)) < 3.0)
    for z in (3, 4, 5, 6):  # slices 0-9 hold LV: the middle third is 3-6
        ed[z][wedge] = 0
    failures = check_label_geometry(lab, {"ED": 0, "ES": 5}, ph.spacing_mm)
    assert _flags(failures) == ["myo_ring_open"]
    assert failures[0].value == 0.0 and failures[0].where == "slice 3, ED"
    res = compute_phenotypes(lab, ph.spacing_mm, ph.frame_dt_s)
    assert res.qc_flags == ("myo_ring_open",)
    assert res.qc_lines() == ["myo_ring_open: LV inside MYO ring 0 % (slice 3, ED), expected >= 50 %"]
    # outside the middle third the ring is not required
    lab = ph.labels.copy()
    lab[0, 1][wedge] = 0
    assert _geometry_flags(lab, ph) == []
    # a one-pixel gap is partial volume, not a missing wall
    lab = ph.labels.copy()
    thin = (rad > ph.r_lv[0]) & (rad <= ph.r_epi) & (np.abs(rad * np.radians(ang - 90.0)) < 0.5)
    lab[0, 4][thin] = 0
    assert thin.any() and _geometry_flags(lab, ph) == []


def test_lv_not_enclosed_by_myocardium(phantom: Callable[..., Phantom]) -> None:
    """Slice 1 without myocardium: the LV borders background only (0 %). An end slice may be half
    open (valve plane); without any myocardium it is flagged too."""
    ph = phantom()
    lab = ph.labels.copy()
    lab[5, 1][lab[5, 1] == 2] = 0  # ES frame, slice 1 (outside the middle third)
    failures = check_label_geometry(lab, {"ED": 0, "ES": 5}, ph.spacing_mm)
    assert _flags(failures) == ["lv_not_enclosed"]
    assert (failures[0].value, failures[0].low, failures[0].where) == (0.0, 50.0, "slice 1, ES")
    _, ang = _polar(ph)
    half = ph.labels.copy()
    half[0, 0][(half[0, 0] == 2) & (ang < 216.0)] = 0  # most basal slice, 60 % of the ring gone
    assert _geometry_flags(half, ph) == []
    half[0, 1][(half[0, 1] == 2) & (ang < 216.0)] = 0  # the same in an inner slice
    assert _geometry_flags(half, ph) == ["lv_not_enclosed"]
    none = ph.labels.copy()
    none[0, 0][none[0, 0] == 2] = 0
    failures = check_label_geometry(none, {"ED": 0, "ES": 5}, ph.spacing_mm)
    assert _flags(failures) == ["lv_not_enclosed"] and failures[0].low == 25.0


def test_lv_split_in_two_is_flagged(phantom: Callable[..., Phantom]) -> None:
    """A 2-px myocardial bar across the cavity of one slice splits the LV into two halves."""
    ph = phantom()
    lab = ph.labels.copy()
    cy = int(round(ph.centre[0]))
    bar = lab[0, 2, cy - 1 : cy + 1]
    bar[bar == 1] = 2
    failures = check_label_geometry(lab, {"ED": 0, "ES": 5}, ph.spacing_mm)
    assert _flags(failures) == ["lv_fragmented"] and failures[0].value == 2
    # a speck below min_pixels is not a second piece
    lab = ph.labels.copy()
    cx = int(round(ph.centre[1]))
    lab[0, 2, cy - 1 : cy + 1, cx + 23 : cx + 26] = 1  # 6 px of "LV" inside the myocardium (20-28 px)
    assert _geometry_flags(lab, ph) == []


def test_label_island_far_from_the_heart(phantom: Callable[..., Phantom]) -> None:
    """A 5 x 5 px RV blob in the image corner is > 60 mm from the heart; smaller or nearer blobs pass."""
    ph = phantom()
    lab = ph.labels.copy()
    lab[5, 0, 2:7, 2:7] = 3
    failures = check_label_geometry(lab, {"ED": 0, "ES": 5}, ph.spacing_mm)
    assert _flags(failures) == ["label_island"]
    assert failures[0].value > 60.0 and failures[0].where == "25 voxels from slice 0, ES"
    assert compute_phenotypes(lab, ph.spacing_mm, ph.frame_dt_s).qc_flags == ("label_island",)
    small = ph.labels.copy()
    small[5, 0, 2:5, 2:5] = 3  # 9 voxels < min_pixels
    assert _geometry_flags(small, ph) == []
    near = ph.labels.copy()
    cy, cx = (int(round(c)) for c in ph.centre)
    r = int(ph.r_epi) + 8  # 8 px = 12 mm outside the myocardium
    near[5, 0, cy - 2 : cy + 3, cx + r : cx + r + 5] = 3
    assert _geometry_flags(near, ph) == []


def test_compute_phenotypes_flags_implausible_mass_and_swapped_rv(phantom: Callable[..., Phantom]) -> None:
    """Closed form: a 16 px (32 mm) wall around an 18 px cavity, 10 slices of 10 x 2 x 2 mm weighs
    pi (34^2 - 18^2) 10 x 0.04 mL x 1.05 g/mL = 1098 g; an RV that peaks at the LV's ES has RVESV > RVEDV."""
    ph = phantom(r_ed=18, r_es=12, r_epi=34, spacing_mm=(10.0, 2.0, 2.0))
    res = compute_phenotypes(ph.labels, ph.spacing_mm, ph.frame_dt_s)
    assert res.lvm_g == pytest.approx(math.pi * (34**2 - 18**2) * 10 * 0.04 * 1.05, rel=0.015)
    assert res.qc_flags == ("implausible_LVM",)
    assert res.qc_lines() == [f"implausible_LVM: LVM {res.lvm_g:.0f} g, expected 30-500 g"]
    ph = phantom()
    lab = ph.labels.copy()
    rv = ph.labels == 3
    lab[rv] = 0  # clear the RV ...
    lab[np.roll(rv, ph.labels.shape[0] // 2, axis=0)] = 3  # ... and draw it half a cycle late
    res = compute_phenotypes(lab, ph.spacing_mm, ph.frame_dt_s)
    assert res.rvesv_ml > res.rvedv_ml
    assert res.qc_flags == ("implausible_RVEF", "esv_ge_edv_RV")
    assert not res.passed_qc


def test_compute_phenotypes_lifespan_widens_size_limits(phantom: Callable[..., Phantom]) -> None:
    """A child-sized LV (10 px radius at 1 mm, 8 slices of 6 mm: 15 mL, 15 g) is implausible for an
    adult only."""
    ph = phantom(n_slices=8, size=64, r_ed=10, r_es=7, r_epi=14, spacing_mm=(6.0, 1.0, 1.0))
    adult = compute_phenotypes(ph.labels, ph.spacing_mm, ph.frame_dt_s)
    child = compute_phenotypes(ph.labels, ph.spacing_mm, ph.frame_dt_s, lifespan="Pediatric")
    assert adult.lvedv_ml == pytest.approx(math.pi * 100 * 8 * 6e-3, rel=0.03)
    assert set(adult.qc_flags) - set(child.qc_flags) == {"implausible_LVEDV", "implausible_LVM"}
    assert set(child.qc_flags) <= set(adult.qc_flags)
