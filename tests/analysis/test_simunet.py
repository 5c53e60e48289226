"""Tests of the simulate-trained ``simunet`` segmenter: weights, shapes, Dice on simulated and real cine,
the training loop, the training-frame generator and the choice of the default segmenter."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cardiomm.analysis.segmentation import DEFAULT_SEGMENTER, Segmenter, dice, get_segmenter
from cardiomm.errors import CheckpointError, ConfigError, DataValueError, ModelNotFoundError, ShapeError

HAS_MYOPARI = importlib.util.find_spec("myopari") is not None
needs_myopari = pytest.mark.skipif(
    not HAS_MYOPARI, reason="myopari not installed (pip install --no-deps myopari)"
)

#: Floors measured on the shipped weights (see docs/segmentation.md), with a margin.
SIM_FLOOR = {"LV": 0.93, "MYO": 0.88, "RV": 0.90}  # measured 0.984, 0.955, 0.969
SUNNYBROOK_FLOOR = {"LV ED": 0.80, "LV ES": 0.80, "MYO ED": 0.55}  # measured 0.850, 0.845, 0.616


@pytest.fixture(scope="module")
def simunet() -> Iterator[Segmenter]:
    """The shipped simunet segmenter, shared by the tests of this module."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield get_segmenter("simunet")
    torch.set_num_threads(previous)


def test_simunet_shipped_weights_load(simunet: Segmenter) -> None:
    from cardiomm.analysis.segmentation.unet import DEFAULT_WEIGHTS_DIR, count_parameters

    weights = DEFAULT_WEIGHTS_DIR / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 4e6
    assert (DEFAULT_WEIGHTS_DIR / "config.json").is_file()
    assert (DEFAULT_WEIGHTS_DIR / "model_card.md").is_file()
    assert simunet.name == "simunet"
    assert 3e5 < count_parameters(simunet.model) < 2e6  # type: ignore[attr-defined]


@pytest.mark.parametrize("shape", [(70, 90), (3, 70, 90), (2, 3, 70, 90)])
def test_simunet_output_shape_dtype_and_labels(simunet: Segmenter, shape: tuple[int, ...]) -> None:
    img = np.random.default_rng(0).random(shape).astype(np.float32)
    out = simunet.segment(img, (8.0, 1.5, 2.7))  # anisotropic in-plane spacing
    assert out.shape == shape and out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1, 2, 3}


def test_simunet_accepts_complex_and_rejects_bad_shapes(simunet: Segmenter) -> None:
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    phase = np.exp(1j * np.linspace(0, 3, img.size)).reshape(img.shape)
    spacing = (8.0, 2.0, 2.0)
    np.testing.assert_array_equal(simunet.segment(img * phase, spacing), simunet.segment(img, spacing))
    with pytest.raises(ShapeError):
        simunet.segment(np.zeros(5), (8.0, 2.0, 2.0))
    with pytest.raises(DataValueError, match="spacing"):
        simunet.segment(img, (8.0, 0.0, 2.0))


def _simulated_stack(seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """A fresh noisy short-axis cine stack (RSS of simulated k-space) and its labels (LA/RA/aorta -> 0)."""
    from cardiomm.physics.fft import ifft2c_np
    from cardiomm.simulate.anatomy import sample_heart
    from cardiomm.simulate.centers import get_center
    from cardiomm.simulate.protocols import get_spec
    from cardiomm.simulate.scan import simulate_scan

    heart = sample_heart("MI", "Adult", np.random.default_rng(seed))
    spec, center = get_spec("cine_sax"), get_center("Center003")
    scan = simulate_scan(spec, center, heart, size="small", seed=seed, n_coils=4)
    img = np.sqrt((np.abs(ifft2c_np(scan.kspace)) ** 2).sum(axis=2))
    labels = np.where(scan.labels > 3, 0, scan.labels)
    return img.astype(np.float32), labels, scan.spacing


def test_simunet_dice_on_fresh_simulated_stack(simunet: Segmenter) -> None:
    img, ref, spacing = _simulated_stack(seed=20261122)  # training frames never use simulate_scan seeds
    out = simunet.segment(img, spacing)
    scores = {name: dice(out == c, ref == c) for c, name in ((1, "LV"), (2, "MYO"), (3, "RV"))}
    print(
        "simunet Dice on a fresh simulated cine stack: "
        + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    )
    assert all(scores[k] > SIM_FLOOR[k] for k in SIM_FLOOR), scores


def _sunnybrook_scores(shared_data: Path, seg: Segmenter) -> dict[str, float]:
    """LV ED / ES and MYO ED Dice on the contoured slices of SCD0000101 (protocol of test_segmentation.py)."""
    from cardiomm.analysis.sunnybrook import load_sunnybrook_case

    root = shared_data / "segmentation" / "sunnybrook_scd_subset"
    if not (root / "dicoms" / "SCD0000101").is_dir():
        pytest.skip("Sunnybrook SCD0000101 not found")
    case = load_sunnybrook_case(root / "dicoms" / "SCD0000101", root / "contourfiles" / "SC-HF-I-1")
    scores = {}
    for name, phase in (("ED", case.ed_phase), ("ES", case.es_phase)):
        ref, has = case.contour_labels(phase)
        slices = np.flatnonzero(has)
        labels = seg.segment(case.image[phase][slices], case.spacing_mm)
        ref = ref[slices]
        scores[f"LV {name}"] = dice(labels == 1, ref == 1)
        if phase == case.ed_phase:
            epi = np.array([(phase, z) in case.epi for z in slices])
            scores["MYO ED"] = dice(labels[epi] == 2, ref[epi] == 2)
    print(
        f"{seg.name} Dice vs Sunnybrook SCD0000101 manual contours (contoured slices): "
        + ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    )
    return scores


def test_simunet_dice_on_sunnybrook(shared_data: Path, simunet: Segmenter) -> None:
    scores = _sunnybrook_scores(shared_data, simunet)
    assert all(scores[k] > SUNNYBROOK_FLOOR[k] for k in SUNNYBROOK_FLOOR), scores


def test_default_segmenter_has_the_higher_mean_sunnybrook_dice(shared_data: Path, simunet: Segmenter) -> None:
    """The default beats simunet (and myopari where installed) on the Sunnybrook SCD0000101 contours."""
    candidates = [("simunet", simunet), ("acdcunet", get_segmenter("acdcunet"))]
    if HAS_MYOPARI and importlib.util.find_spec("onnxruntime") is not None:
        candidates.append(("myopari", get_segmenter("myopari")))
    means = {}
    for name, seg in candidates:
        means[name] = float(np.mean(list(_sunnybrook_scores(shared_data, seg).values())))
    print(f"mean Sunnybrook Dice (LV ED, LV ES, MYO ED): {means}")
    assert DEFAULT_SEGMENTER == max(means, key=means.__getitem__)


def test_simunet_missing_or_corrupt_weights_raise(tmp_path: Path) -> None:
    from cardiomm.analysis.segmentation.unet import SimUNetSegmenter

    with pytest.raises(ModelNotFoundError, match="segmenter weights not found"):
        get_segmenter("simunet", weights=tmp_path / "nowhere")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError):
        SimUNetSegmenter(weights=bad)
    with pytest.raises(ConfigError, match="multiple"):
        SimUNetSegmenter(size=100)


def test_simdata_frames_are_seeded_and_labelled() -> None:
    from cardiomm.analysis.segmentation.simdata import SimDataConfig, render_batch

    cfg = SimDataConfig(size=64)
    a_img, a_lab = render_batch(np.random.default_rng(3), 4, cfg)
    b_img, b_lab = render_batch(np.random.default_rng(3), 4, cfg)
    assert a_img.shape == (4, 1, 64, 64) and a_lab.shape == (4, 64, 64)
    assert (a_img == b_img).all() and (a_lab == b_lab).all()
    assert 0.0 <= float(a_img.min()) and float(a_img.max()) <= 1.0
    assert set(np.unique(a_lab.numpy())) <= {0, 1, 2, 3}


def test_train_unet_tiny_run_lowers_loss_and_writes_loadable_weights(
    tmp_path: Path, torch_single_thread: None
) -> None:
    from cardiomm.analysis.segmentation.simdata import SimDataConfig
    from cardiomm.analysis.segmentation.train_unet import TrainConfig, train_unet
    from cardiomm.analysis.segmentation.unet import SimUNetSegmenter, UNetConfig

    model = UNetConfig(channels=(8, 16), groups=4, spacing_mm=4.0, size=48)
    data = SimDataConfig(size=32, spacing_mm=4.0)
    cfg = TrainConfig(
        steps=30, batch_size=4, lr=1e-2, warmup_steps=3, val_frames=4, val_every=30, model=model, data=data
    )
    result = train_unet(tmp_path / "w", cfg, progress=False)
    assert result.steps == 30 and result.weights is not None and result.weights.is_file()
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    again = train_unet(None, cfg, progress=False)  # same recipe, same run: how the shipped weights reproduce
    assert again.losses == result.losses
    seg = SimUNetSegmenter(weights=tmp_path / "w")
    assert seg.config == model
    out = seg.segment(np.random.default_rng(0).random((2, 40, 50)), (8.0, 3.0, 3.0))
    assert out.shape == (2, 40, 50) and out.dtype == np.uint8
    assert "validation Dice" in (tmp_path / "w" / "model_card.md").read_text()
    with pytest.raises(ConfigError):
        TrainConfig(model=model, data=SimDataConfig(size=31, spacing_mm=4.0))
    # a continuation starts from the given weights: its first loss is the trained model's, not a fresh one's
    cont = train_unet(None, dataclasses.replace(cfg, steps=3), progress=False, init_from=tmp_path / "w")
    assert cont.losses[0] < result.losses[0] and abs(cont.losses[0] - np.mean(result.losses[-5:])) < 0.5
    other = UNetConfig(channels=(8, 16), groups=4, spacing_mm=4.0, size=32)
    with pytest.raises(ConfigError, match="init_from"):
        train_unet(None, dataclasses.replace(cfg, model=other), progress=False, init_from=tmp_path / "w")
