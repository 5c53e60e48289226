"""Tests of the segmenter registry, the optional backends' error paths and the myopari model on real data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.segmentation import (
    DEFAULT_SEGMENTER,
    Segmenter,
    available_segmenters,
    dice,
    get_segmenter,
    register_segmenter,
)
from cardiomm.errors import ConfigError, ModelNotFoundError, ShapeError, UnknownChoiceError

HAS_MYOPARI = importlib.util.find_spec("myopari") is not None


class _Threshold(Segmenter):
    name = "threshold"

    def segment(self, images, spacing_mm):  # type: ignore[no-untyped-def]
        return (np.asarray(images) > 0.5).astype(np.uint8)


def test_registry_builds_registered_and_rejects_unknown() -> None:
    assert DEFAULT_SEGMENTER == "acdcunet"
    assert {"acdcunet", "simunet", "myopari", "nnunet"} <= set(available_segmenters())
    register_segmenter("test-threshold", _Threshold, overwrite=True)
    seg = get_segmenter("test-threshold")
    out = seg.segment(np.array([[[[0.2, 0.9]]]]), (8.0, 1.0, 1.0))
    assert out.dtype == np.uint8 and out.tolist() == [[[[0, 1]]]]
    with pytest.raises(ValueError):
        register_segmenter("test-threshold", _Threshold)
    with pytest.raises(UnknownChoiceError, match="unknown segmenter"):
        get_segmenter("no-such-model")


def test_nnunet_segmenter_error_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model_folder"):
        get_segmenter("nnunet")
    if importlib.util.find_spec("nnunetv2") is None:
        with pytest.raises(ModelNotFoundError, match="pip install nnunetv2"):
            get_segmenter("nnunet", model_folder=tmp_path)
    else:  # pragma: no cover - only where nnunetv2 is installed
        with pytest.raises(ModelNotFoundError, match="plans.json"):
            get_segmenter("nnunet", model_folder=tmp_path)


def test_myopari_missing_package_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from cardiomm.analysis.segmentation import myopari as mod

    real = importlib.util.find_spec
    fake = lambda name, *a: None if name == "myopari" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(mod.importlib.util, "find_spec", fake)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps myopari"):
        get_segmenter("myopari")


def test_dice_values() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert dice(a, b) == pytest.approx(0.5)
    assert np.isnan(dice(np.zeros(3, bool), np.zeros(3, bool)))
    with pytest.raises(ShapeError):
        dice(a, b[:2])


needs_myopari = pytest.mark.skipif(
    not HAS_MYOPARI, reason="myopari not installed (pip install --no-deps myopari)"
)


@pytest.fixture(scope="module")
def myopari() -> Segmenter:
    """One myopari segmenter (one onnxruntime session) shared by the tests of this module."""
    return get_segmenter("myopari")


@needs_myopari
def test_myopari_input_spec_and_shapes(myopari: Segmenter) -> None:
    assert myopari.input_size == (256, 256)  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    img = rng.random((1, 1, 90, 70)).astype(np.float32)
    out = myopari.segment(img, (8.0, 1.5, 1.5))
    assert out.shape == img.shape and out.dtype == np.uint8 and out.max() <= 3
    assert myopari.segment(img[0, 0], (8.0, 1.5, 1.5)).shape == (90, 70)


def _sunnybrook_dice(
    shared_data: Path, myopari: Segmenter, *, with_es: bool, contoured_only: bool
) -> dict[str, float]:
    from cardiomm.analysis.sunnybrook import load_sunnybrook_case

    root = shared_data / "segmentation" / "sunnybrook_scd_subset"
    if not (root / "dicoms" / "SCD0000101").is_dir():
        pytest.skip("Sunnybrook SCD0000101 not found")
    case = load_sunnybrook_case(root / "dicoms" / "SCD0000101", root / "contourfiles" / "SC-HF-I-1")
    scores = {}
    for name, phase in (("ED", case.ed_phase), ("ES", case.es_phase))[: 2 if with_es else 1]:
        ref, has = case.contour_labels(phase)
        slices = np.flatnonzero(has) if contoured_only else np.arange(ref.shape[0])
        labels = myopari.segment(case.image[phase][slices], case.spacing_mm)
        ref, has = ref[slices], has[slices]
        scores[f"LV {name}"] = dice(labels[has] == 1, ref[has] == 1)
        if phase == case.ed_phase:
            epi = np.array([(phase, z) in case.epi for z in slices])
            scores["MYO ED"] = dice(labels[epi] == 2, ref[epi] == 2)
    which = "contoured" if contoured_only else "all"
    print(
        f"myopari Dice vs Sunnybrook SCD0000101 manual contours ({which} slices "
        "segmented, scored on contoured slices): " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    )
    return scores


@needs_myopari
def test_myopari_dice_on_sunnybrook_ed(shared_data: Path, myopari: Segmenter) -> None:
    scores = _sunnybrook_dice(shared_data, myopari, with_es=False, contoured_only=True)
    assert scores["LV ED"] > 0.85 and scores["MYO ED"] > 0.65


@pytest.mark.slow
@needs_myopari
def test_myopari_dice_on_sunnybrook_ed_es_full_stacks(shared_data: Path, myopari: Segmenter) -> None:
    scores = _sunnybrook_dice(shared_data, myopari, with_es=True, contoured_only=False)
    assert scores["LV ED"] > 0.85 and scores["LV ES"] > 0.8 and scores["MYO ED"] > 0.65


@needs_myopari
def test_cli_phenotypes_from_sunnybrook_dicom_with_myopari(
    shared_data: Path, myopari: Segmenter, tmp_path: Path
) -> None:
    """Real DICOM cine in, phenotypes out (``cardiomm analyse phenotypes FOLDER``, default segmenter): the
    ED and ES frames of SCD0000101 against the volumes of its manual contours (data README)."""
    import pandas as pd

    from cardiomm.analysis.sunnybrook import load_sunnybrook_case
    from cardiomm.cli.main import main

    root = shared_data / "segmentation" / "sunnybrook_scd_subset"
    if not (root / "dicoms" / "SCD0000101").is_dir():
        pytest.skip("Sunnybrook SCD0000101 not found")
    case = load_sunnybrook_case(root / "dicoms" / "SCD0000101", root / "contourfiles" / "SC-HF-I-1")
    ref = case.volumes()
    folder = tmp_path / "SCD0000101_ed_es"
    folder.mkdir()
    for z in range(case.image.shape[1]):  # <N>.dcm with N - 1 = slice * 20 + phase
        for phase in (case.ed_phase, case.es_phase):
            n = z * 20 + phase + 1
            (folder / f"{n}.dcm").symlink_to(root / "dicoms" / "SCD0000101" / f"{n}.dcm")
    out = tmp_path / "ph.csv"
    assert main(["analyse", "phenotypes", str(folder), "--out", str(out), "--segmenter", "myopari"]) == 0
    row = pd.read_csv(out).iloc[0]
    ours = {"EDV": row["LVEDV (mL)"], "ESV": row["LVESV (mL)"], "EF": row["LVEF (%)"], "LVM": row["LVM (g)"]}
    theirs = {"EDV": ref.edv_ml, "ESV": ref.esv_ml, "EF": ref.ef_pct, "LVM": ref.lvm_g}
    diff = {k: f"{100 * (ours[k] / theirs[k] - 1):+.1f} %" for k in ours}
    diff["EF"] = f"{ours['EF'] - theirs['EF']:+.1f} points"
    print(
        f"SCD0000101 from DICOM with {DEFAULT_SEGMENTER}: "
        + ", ".join(f"{k} {ours[k]:.1f} (contours {theirs[k]:.1f}, {diff[k]})" for k in ours)
    )
    assert abs(ours["EDV"] / theirs["EDV"] - 1) < 0.03  # measured +0.5 %
    assert abs(ours["ESV"] / theirs["ESV"] - 1) < 0.10  # -5.8 %
    assert abs(ours["EF"] - theirs["EF"]) < 7.0  # +4.6 points
    assert abs(ours["LVM"] / theirs["LVM"] - 1) < 0.20  # +12.6 %
