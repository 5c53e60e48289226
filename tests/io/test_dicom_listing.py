"""`cardiomm analyse series`: the series of a study folder, counted from the headers, and which of them
the analyse commands read without ``--dicom-series`` (or why they refuse the folder)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.io import list_dicom_series

from .dicom_tags import retag

POSITIONS = [0.0, 8.0, 16.0]


def _label(folder: Path, number: int, description: str, iop: list[float] | None = None) -> None:
    def other_view(ds: Any, _: int) -> None:  # another view: its slices step along its own normal (x)
        ds.ImageOrientationPatient = iop
        ds.ImagePositionPatient = [ds.ImagePositionPatient[2], 0.0, 0.0]

    retag(folder, None if iop is None else other_view, SeriesNumber=number, SeriesDescription=description)


def _study(write: Callable[..., None], root: Path, second_cine: bool) -> None:
    """A 3-slice, 4-frame cine (series 7), an LGE stack at its slices (series 20) and a sagittal
    series: 4 frames at one position, or a second 3-slice cine."""
    imgs = np.arange(4 * 3 * 6 * 5, dtype=np.uint16).reshape(4, 3, 6, 5)
    write(root / "cine", imgs, positions=POSITIONS, uid="1.2.1")
    _label(root / "cine", 7, "cine_sax")
    write(root / "lge", imgs[:1], positions=POSITIONS, uid="1.2.2")
    _label(root / "lge", 20, "lge")
    sag = imgs if second_cine else imgs[:, :1]
    write(root / "sag", sag, positions=POSITIONS[: sag.shape[1]], uid="1.2.3")
    _label(root / "sag", 9, "sag", iop=[0.0, 1.0, 0.0, 0.0, 0.0, -1.0])


def test_the_listing_counts_each_series_and_marks_the_one_read(
    write_dicom_series: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _study(write_dicom_series, tmp_path / "a", second_cine=False)
    rows, refusal = list_dicom_series(tmp_path / "a")
    assert refusal is None
    got = [(r.number, r.description, r.images, r.slices, r.frames, r.matrix, r.picked) for r in rows]
    assert got == [
        (7, "cine_sax", 12, 3, 4, (6, 5), True),
        (9, "sag", 4, 1, 4, (6, 5), False),
        (20, "lge", 3, 3, 1, (6, 5), False),
    ]
    assert rows[0].pixel_spacing_mm == (1.5, 1.25)
    np.testing.assert_allclose(np.abs(rows[0].normal or ()), [0, 0, 1])
    assert main(["analyse", "series", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "images" in out and "slices" in out and "read without --dicom-series" in out


def test_the_listing_says_why_a_folder_is_refused(
    write_dicom_series: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _study(write_dicom_series, tmp_path / "b", second_cine=True)  # two cine stacks: no choice made
    rows, refusal = list_dicom_series(tmp_path / "b")
    assert not any(r.picked for r in rows) and len(rows) == 3
    assert refusal is not None and "2 multi-slice cine stacks" in refusal
    assert main(["analyse", "series", str(tmp_path / "b")]) == 0
    assert "without --dicom-series the folder is refused" in capsys.readouterr().out
    assert main(["analyse", "series", str(tmp_path / "missing")]) == 2
