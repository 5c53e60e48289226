"""Tests of contour-based volumes (Simpson) and the Sunnybrook reader against the published values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.contours import (
    polygon_area_mm2,
    rasterise_polygon,
    read_contour_file,
    slice_spacing_from_positions,
    volumes_from_contours,
)
from cardiomm.errors import FileFormatError, InputFileError, ShapeError

#: README reference values (Simpson on the manual contours): EDV, ESV [mL], EF [%], LVM [g].
SUNNYBROOK_REFERENCE = {
    "SCD0000101": ("SC-HF-I-1", 191.3, 141.3, 26.1, 116.8),
    "SCD0000201": ("SC-HF-I-2", 241.9, 180.3, 25.5, 141.9),
    "SCD0000301": ("SC-HF-I-4", 229.7, 179.6, 21.8, 132.1),
}


def test_polygon_area_and_rasterisation() -> None:
    square = np.array([[10, 10], [30, 10], [30, 20], [10, 20]], float)  # (x, y): 20 wide, 10 high
    assert polygon_area_mm2(square) == pytest.approx(200.0)
    assert polygon_area_mm2(square[::-1], (2.0, 0.5)) == pytest.approx(200.0)
    mask = rasterise_polygon(square, (40, 40))
    assert mask[15, 20] and not mask[25, 20] and not mask[15, 35]
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([50 + 20 * np.cos(t), 50 + 20 * np.sin(t)], 1)
    assert polygon_area_mm2(circle) == pytest.approx(np.pi * 400, rel=1e-3)
    with pytest.raises(ShapeError):
        polygon_area_mm2(np.zeros((2, 2)))


def test_volumes_from_contours_simpson() -> None:
    sq = lambda s: np.array([[0, 0], [s, 0], [s, s], [0, s]], float)  # noqa: E731
    v = volumes_from_contours([sq(10)] * 3, [sq(5)] * 3, [sq(12)] * 3, (1.0, 1.0), 10.0)
    assert v.edv_ml == pytest.approx(3.0) and v.esv_ml == pytest.approx(0.75)
    assert v.ef_pct == pytest.approx(75.0)
    assert v.lvm_g == pytest.approx((3 * 144 - 300) * 10 * 1e-3 * 1.05)


def test_slice_spacing_from_positions_oblique() -> None:
    ori = [-0.104592, 0.346381, -0.932245, -0.733192, -0.660188, -0.163037]
    normal = np.cross(ori[:3], ori[3:])
    pos = np.array([10.0, -3.0, 7.0]) + np.outer([0, 8, 16, 24], normal)
    assert slice_spacing_from_positions(pos[::-1], ori) == pytest.approx(8.0)


def test_read_contour_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_contour_file(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n4 5 6\n7 8 9\n")
    with pytest.raises(FileFormatError):
        read_contour_file(bad)


@pytest.mark.parametrize("patient", sorted(SUNNYBROOK_REFERENCE))
def test_sunnybrook_contour_volumes_match_reference(shared_data: Path, patient: str) -> None:
    from cardiomm.analysis.sunnybrook import load_sunnybrook_case

    root = shared_data / "segmentation" / "sunnybrook_scd_subset"
    original, edv, esv, ef, lvm = SUNNYBROOK_REFERENCE[patient]
    if not (root / "dicoms" / patient).is_dir():
        pytest.skip(f"{root / 'dicoms' / patient} not found")
    case = load_sunnybrook_case(root / "dicoms" / patient, root / "contourfiles" / original)
    v = case.volumes()
    print(
        f"{patient}: EDV {v.edv_ml:.1f} mL, ESV {v.esv_ml:.1f} mL, EF {v.ef_pct:.1f} %, "
        f"LVM {v.lvm_g:.1f} g "
        f"(slice spacing {case.spacing_mm[0]:.2f} mm from ImagePositionPatient)"
    )
    assert v.edv_ml == pytest.approx(edv, rel=0.01)
    assert v.esv_ml == pytest.approx(esv, rel=0.01)
    assert v.ef_pct == pytest.approx(ef, rel=0.01)
    assert v.lvm_g == pytest.approx(lvm, rel=0.01)
