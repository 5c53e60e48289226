"""The phenotype QC figure: slices chosen, contours drawn in their colours, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.phenotypes import compute_phenotypes
from cardiomm.analysis.qc_figure import phenotype_qc_figure, qc_slices
from cardiomm.errors import ShapeError


def _colour_pixels(png: Path, rgb: tuple[int, int, int], tol: int = 40) -> int:
    from matplotlib.image import imread

    img = (imread(png)[..., :3] * 255).astype(int)
    return int((np.abs(img - np.array(rgb)).max(axis=-1) < tol).sum())


def test_qc_slices_basal_mid_apical(phantom: Callable[..., object]) -> None:
    lab = phantom(n_frames=2, n_slices=9, size=48, r_ed=8, r_epi=12).labels.copy()
    lab[:, :2][lab[:, :2] == 1] = 2  # no LV cavity in the two most basal slices
    assert qc_slices(lab, 0) == [2, 5, 8]
    assert qc_slices(np.zeros_like(lab), 0) == [4]


@pytest.mark.parametrize("with_images", [True, False])
def test_phenotype_qc_figure_draws_the_contours(
    tmp_path: Path, phantom: Callable[..., object], with_images: bool
) -> None:
    ph = phantom(n_frames=6, n_slices=5, size=64, r_ed=12, r_es=8, r_epi=18)
    res = compute_phenotypes(ph.labels, (8.0, 1.5, 1.5), 0.05)
    images = ph.labels.astype(float) * 60 + 20 if with_images else None
    out = phenotype_qc_figure(
        tmp_path / "qc.png", ph.labels, res, (8.0, 1.5, 1.5), images=images, frame_dt_s=0.05, title="phantom"
    )
    assert out.read_bytes()[:4] == b"\x89PNG"
    red, green, blue = (_colour_pixels(out, c) for c in ((228, 26, 28), (77, 175, 74), (55, 126, 184)))
    assert red > 200 and green > 200 and blue > 200, (red, green, blue)  # endo-, epicardium, RV; curves
    # without labels there is nothing to outline: only the curves keep their colours
    empty = compute_phenotypes(np.zeros_like(ph.labels), (8.0, 1.5, 1.5), 0.05)
    bare = phenotype_qc_figure(tmp_path / "bare.png", np.zeros_like(ph.labels), empty, (8.0, 1.5, 1.5))
    assert _colour_pixels(bare, (77, 175, 74)) < green // 4


def test_phenotype_qc_figure_bad_shapes(tmp_path: Path, phantom: Callable[..., object]) -> None:
    ph = phantom(n_frames=2, n_slices=3, size=32, r_ed=6, r_epi=9)
    res = compute_phenotypes(ph.labels, (8.0, 1.5, 1.5))
    with pytest.raises(ShapeError):
        phenotype_qc_figure(tmp_path / "a.png", ph.labels[0], res, (8.0, 1.5, 1.5))
    with pytest.raises(ShapeError):
        phenotype_qc_figure(tmp_path / "b.png", ph.labels, res, (8.0, 1.5, 1.5), images=np.ones((2, 3, 8, 8)))
    assert not list(tmp_path.iterdir())


def test_phenotype_qc_figure_lists_failed_checks_in_red(
    tmp_path: Path, phantom: Callable[..., object]
) -> None:
    """The figure says "QC: passed" in green only when every check passes, otherwise it lists each failed
    check with its value and range in red (colours no contour or curve uses)."""
    ph = phantom(n_frames=4, n_slices=6, size=64, r_ed=12, r_es=8, r_epi=18)
    good = compute_phenotypes(ph.labels, (8.0, 1.5, 1.5), 0.2)
    assert good.passed_qc, good.qc_lines()
    ok = phenotype_qc_figure(tmp_path / "ok.png", ph.labels, good, (8.0, 1.5, 1.5))
    bad = compute_phenotypes(ph.labels, (8.0, 1.5, 1.5), 0.01)  # 4 frames in 40 ms: 1500 bpm
    assert bad.qc_flags == ("implausible_HR",)
    ko = phenotype_qc_figure(tmp_path / "ko.png", ph.labels, bad, (8.0, 1.5, 1.5))
    red, green = (176, 0, 0), (26, 127, 55)
    assert _colour_pixels(ok, green, tol=20) > 10 and _colour_pixels(ok, red, tol=20) == 0
    assert _colour_pixels(ko, red, tol=20) > 30 and _colour_pixels(ko, green, tol=20) == 0
