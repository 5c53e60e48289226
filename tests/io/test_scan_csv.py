"""Tests of cardiomm.io.scan_csv: parsing, unit conversion, defaults, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardiomm.errors import DataValueError, InputFileError, MissingKeyError
from cardiomm.io.scan_csv import ScanParameters, find_scan_csv, read_scan_csv, write_scan_csv

CSV = """Parameter,Value
FOVx(mm),400
FOVy (mm),340
ReconMatrix_X,200
ReconMatrix_Y,170
SliceThickness(mm),8
TR(ms),40.8
TE(ms),1.4
FlipAngle(deg),12
Sequence,bSSFP
"""


def test_read_scan_csv_units_and_spacing(tmp_path: Path) -> None:
    (tmp_path / "cine_sax_info.csv").write_text(CSV)
    p = read_scan_csv(tmp_path / "cine_sax_info.csv")
    assert (p.fov_x_mm, p.fov_y_mm, p.recon_matrix_x, p.recon_matrix_y) == (400.0, 340.0, 200, 170)
    assert p.voxel_size_mm == (2.0, 2.0, 8.0)
    assert p.tr_s == pytest.approx(0.0408) and p.te_s == pytest.approx(0.0014)
    assert p.extras == {"FlipAngle": 12.0, "Sequence": "bSSFP"}
    assert p.defaulted == frozenset()
    assert find_scan_csv(tmp_path / "cine_sax.mat") == tmp_path / "cine_sax_info.csv"
    assert find_scan_csv(tmp_path / "other.mat") is None
    assert p.slice_spacing_mm == 8.0  # no SliceSpacing: the thickness (CMRxRecon CSVs)
    (tmp_path / "gap_info.csv").write_text(CSV + "SliceSpacing(mm),10\n")
    assert read_scan_csv(tmp_path / "gap_info.csv").slice_spacing_mm == 10.0  # 8 mm slices, 2 mm gap


def test_read_scan_csv_value_columns_lists_and_seconds(tmp_path: Path) -> None:
    """Lists over ``Value_N`` columns, or in one cell (MATLAB-style brackets, spaces, semicolons, quoted
    commas), parse alike; a padded single number is a number; a cell mixing numbers and text stays text."""
    columns = (
        "Parameter,Value_1,Value_2,Value_3\n"
        "TI(ms),100,180,260\nT2prep(ms),0,35,55\nTR(s),0.003,,\nFOVx,300,,\n"
    )
    one_cell = (
        'Parameter,Value\nTI(ms),[100 180 260]\nT2prep(ms),"0, 35; 55"\nTR(ms), 3.5 \nTE(ms),1e0\n'
        "Note,12 slices\n"
    )
    parsed = []
    for name, text in (("T1map.csv", columns), ("cells.csv", one_cell)):
        (tmp_path / name).write_text(text)
        p = read_scan_csv(tmp_path / name)
        assert p.ti_list_s == pytest.approx((0.1, 0.18, 0.26))
        assert p.prep_times_s == pytest.approx((0.0, 0.035, 0.055))
        parsed.append(p)
    p, cells = parsed
    assert p.tr_s == pytest.approx(0.003)
    assert p.defaulted == {"slice_thickness_mm", "pixel_spacing_x_mm", "pixel_spacing_y_mm"}
    assert p.slice_thickness_mm == 8.0 and p.pixel_spacing_x_mm == 2.0
    assert cells.tr_s == pytest.approx(0.0035) and cells.te_s == pytest.approx(0.001)
    assert cells.extras == {"Note": "12 slices"}


def test_scan_csv_roundtrip(tmp_path: Path) -> None:
    params = ScanParameters(
        fov_x_mm=360.0, fov_y_mm=300.0, recon_matrix_x=240, recon_matrix_y=200, slice_thickness_mm=6.0,
        pixel_spacing_x_mm=1.5, pixel_spacing_y_mm=1.5, tr_s=0.0035, te_s=0.0012, ti_list_s=(0.1, 0.9),
        extras={"FlipAngle": 35.0, "Note": "a, b"},
    )  # fmt: skip
    path = write_scan_csv(tmp_path / "x_info.csv", params)
    back = read_scan_csv(path)
    assert back.fov_x_mm == 360.0 and back.recon_matrix_y == 200 and back.slice_thickness_mm == 6.0
    assert back.pixel_spacing_x_mm == pytest.approx(1.5) and back.tr_s == pytest.approx(0.0035)
    assert back.ti_list_s == pytest.approx((0.1, 0.9)) and back.extras == {"FlipAngle": 35.0, "Note": "a, b"}
    only_default = ScanParameters(defaulted=frozenset({"slice_thickness_mm"}))
    default = read_scan_csv(write_scan_csv(tmp_path / "d.csv", only_default))
    assert "slice_thickness_mm" in default.defaulted


def test_read_scan_csv_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_scan_csv(tmp_path / "none.csv")
    (tmp_path / "a.csv").write_text("Name,Value\nTR,3\n")
    with pytest.raises(MissingKeyError, match="Parameter"):
        read_scan_csv(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("Parameter,Other\nTR,3\n")
    with pytest.raises(MissingKeyError, match="Value"):
        read_scan_csv(tmp_path / "b.csv")
    (tmp_path / "c.csv").write_text("Parameter,Value\nTR(ms),fast\n")
    with pytest.raises(DataValueError, match="TR"):
        read_scan_csv(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("Parameter,Value\nTR(fortnights),3\n")
    with pytest.raises(DataValueError, match="unit"):
        read_scan_csv(tmp_path / "d.csv")
