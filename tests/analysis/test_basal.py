"""The SCMR basal-slice rule on label volumes with known geometry."""

from __future__ import annotations

import numpy as np

from cardiomm.analysis.basal import (
    MAX_BASAL_SLICES,
    apply_basal_rule,
    basal_end_first,
    lv_border_on_myo,
)
from cardiomm.analysis.labels import LV, MYO, RV
from cardiomm.analysis.phenotypes import compute_phenotypes


def _ring(radius: float, wall: float = 4.0, open_deg: float = 0.0, n: int = 64) -> np.ndarray:
    """A (y, x) slice: LV disc of ``radius`` in a MYO ring ``wall`` thick, the ring cut open over
    ``open_deg`` degrees (outflow tract / atrium: no myocardium there), RV to the left."""
    yy, xx = np.mgrid[:n, :n] - n / 2
    r, ang = np.hypot(yy, xx), np.degrees(np.arctan2(yy, xx)) % 360
    sl = np.zeros((n, n), np.uint8)
    sl[(r >= radius) & (r < radius + wall) & ~(ang < open_deg)] = MYO
    sl[r < radius] = LV
    sl[(np.abs(yy) < 6) & (xx < -radius - wall - 2) & (xx > -radius - wall - 14)] = RV
    return sl


def _stack(open_base: bool) -> np.ndarray:
    """(z, y, x): slice 0 basal (open when ``open_base``), slices 1-5 closed, tapering to the apex."""
    radii = [14, 14, 13, 11, 8, 5]
    sl = [_ring(r) for r in radii]
    if open_base:
        sl[0] = _ring(12, open_deg=270)  # mostly open: LV border on MYO well below 50 %
    return np.stack(sl)


def test_border_on_myo_of_closed_and_open_rings() -> None:
    assert lv_border_on_myo(_ring(10)) == 1.0
    assert lv_border_on_myo(_ring(10, open_deg=270)) < 0.3
    assert lv_border_on_myo(np.zeros((8, 8), np.uint8)) == 1.0


def test_open_basal_slice_is_removed_and_volumes_follow() -> None:
    closed, opened = _stack(False), _stack(True)
    lab = np.stack([opened, opened])  # (t, z, y, x)
    out, removed = apply_basal_rule(lab)
    assert removed == ((0, 0), (1, 0))
    assert (
        not ((out[:, 0] == LV) | (out[:, 0] == MYO)).any()
        and (out[:, 0] == RV).sum() == (lab[:, 0] == RV).sum()
    )
    assert np.array_equal(out[:, 1:], lab[:, 1:])
    assert apply_basal_rule(np.stack([closed]))[1] == ()  # a closed base stays
    spacing = (8.0, 1.5, 1.5)
    with_rule = compute_phenotypes(lab, spacing, with_wall_thickness=False)
    plain = compute_phenotypes(lab, spacing, with_wall_thickness=False, basal_rule=False)
    ml = float(np.prod(spacing)) * 1e-3
    assert with_rule.lvedv_ml == np.float64((lab[0, 1:] == LV).sum() * ml)
    assert plain.lvedv_ml == np.float64((lab[0] == LV).sum() * ml)
    assert with_rule.basal_removed == removed
    assert with_rule.basal_summary() == "SCMR basal rule: not LV at ED: slice 0; at ES: slice 0"
    assert plain.basal_summary() == ""
    late = compute_phenotypes(np.stack([closed, opened]), spacing, with_wall_thickness=False)
    assert (late.ed_frame, late.es_frame) == (0, 1)
    assert late.basal_summary() == "SCMR basal rule: not LV at ED: none; at ES: slice 0"


def test_basal_side_is_the_open_end_whatever_the_slice_order() -> None:
    opened = _stack(True)
    assert basal_end_first(opened) and not basal_end_first(opened[::-1])
    out, removed = apply_basal_rule(opened[::-1][None])
    assert removed == ((0, opened.shape[0] - 1),)


def test_rule_removes_at_most_three_slices_and_never_the_largest() -> None:
    opened = [_ring(r, open_deg=300) for r in (8, 9, 10, 11, 14)]
    _, removed = apply_basal_rule(np.stack([*opened, _ring(6)])[None], base_first=True)
    assert removed == ((0, 0), (0, 1), (0, 2)) and MAX_BASAL_SLICES == 3
    blood_pool_only = np.where(np.stack(opened) == MYO, 0, np.stack(opened))[None]
    assert apply_basal_rule(blood_pool_only, base_first=True)[1] == ()
    largest_first = np.stack([_ring(14, open_deg=300), _ring(12), _ring(6)])[None]
    assert apply_basal_rule(largest_first, base_first=True)[1] == ()


def test_cine_removals_follow_the_majority_of_three_frames() -> None:
    """A basal slice that fails the rule at one frame of a cine only keeps its labels there; one that
    fails at most frames is removed at the frame where it alone passed; ED / ES pairs keep the per-frame
    rule."""
    closed, opened = _stack(False), _stack(True)
    closed[0] = _ring(12)  # the basal slice as in `opened`, ring closed: not the largest LV slice
    flip = np.stack([closed] * 3 + [opened] + [closed] * 4)  # (8, z, y, x): frame 3 alone fails
    out, removed = apply_basal_rule(flip)
    assert removed == () and np.array_equal(out, flip)
    assert apply_basal_rule(flip, temporal=False)[1] == ((3, 0),)
    mostly = np.stack([opened] * 3 + [closed] + [opened] * 4)  # frame 3 alone passes
    _, removed = apply_basal_rule(mostly)
    assert removed == tuple((t, 0) for t in range(8))
    assert apply_basal_rule(np.stack([closed, opened]))[1] == ((1, 0),)  # two frames: no vote
    spacing = (8.0, 1.5, 1.5)
    ph = compute_phenotypes(flip, spacing, with_wall_thickness=False)
    ml = float(np.prod(spacing)) * 1e-3
    # the flipped frame keeps its basal slice: no outlier at the minimum of the curve
    assert min(ph.lv_volume_curve_ml) == np.float64(min((f == LV).sum() for f in flip) * ml)
