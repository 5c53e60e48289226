"""Calibration of the output layer's mask-dependent weight (``cardiomm.training.calibrate``)."""

from __future__ import annotations

import math

import pytest
import torch

from cardiomm.errors import ConfigError
from cardiomm.models import CardioMM
from cardiomm.models.baselines.varnet import VARNET_PRESETS, VarNet, VarNetConfig
from cardiomm.models.layers.output_dc import LAM_GAIN, mask_features, sense_proximal
from cardiomm.training.calibrate import SweepRow, choose_weights, fit_mask_weights, with_mask_weights


def _rows() -> list[SweepRow]:
    """Two line masks that want the trained weight and a radial one that wants a small one."""
    feats = {"Uniform8": (0.4, 0.5), "Uniform24": (-0.1, 0.5), "ktRadial8": (-0.1, -0.45)}
    table = {  # mask: {lam: (psnr, ssim)}
        "Uniform8": {"model": (35.0, 0.950), 0.01: (35.6, 0.930), 0.1: (35.1, 0.947), 0.2: (35.0, 0.950)},
        "Uniform24": {"model": (31.0, 0.900), 0.01: (31.4, 0.880), 0.1: (31.05, 0.896), 0.2: (31.0, 0.900)},
        "ktRadial8": {"model": (36.5, 0.940), 0.01: (37.8, 0.951), 0.1: (37.0, 0.935), 0.2: (36.5, 0.940)},
    }
    return [SweepRow(m, lam, p, s, feats[m]) for m, d in table.items() for lam, (p, s) in d.items()]


def test_choose_weights_takes_the_best_psnr_within_the_ssim_tolerance() -> None:
    chosen = choose_weights(_rows(), ssim_tolerance=0.005)
    # Uniform8: 0.01 loses 0.020 SSIM (refused), 0.1 loses 0.003 and gains PSNR -> 0.1
    assert chosen == {"Uniform8": 0.1, "Uniform24": 0.1, "ktRadial8": 0.01}
    assert choose_weights(_rows(), ssim_tolerance=0.0) == {
        "Uniform8": 0.2,
        "Uniform24": 0.2,
        "ktRadial8": 0.01,
    }


def test_fit_mask_weights_solves_the_log_linear_model_exactly_when_it_can() -> None:
    """Three masks, three unknowns: the fit reproduces the chosen weights (numpy-free closed form)."""
    rows = _rows()
    chosen = {"Uniform8": 0.2, "Uniform24": 0.1, "ktRadial8": 0.01}
    lam0, (w0, w1) = fit_mask_weights(rows, chosen)
    feats = {r.mask: r.features for r in rows}
    for mask, lam in chosen.items():
        got = lam0 * math.exp(LAM_GAIN * (w0 * feats[mask][0] + w1 * feats[mask][1]))
        assert got == pytest.approx(lam, rel=1e-6)
    with pytest.raises(ConfigError, match="at least 3"):
        fit_mask_weights(rows, {"Uniform8": 0.2, "ktRadial8": 0.01})


@pytest.mark.parametrize("kind", ["cardiomm", "varnet"])
def test_with_mask_weights_makes_the_layer_mask_dependent_and_keeps_the_rest(kind: str) -> None:
    gen = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, 32, 24, dtype=torch.complex64, generator=gen)
    mask = torch.zeros(2, 1, 32, 24, dtype=torch.bool)
    mask[0, :, ::3, :] = True  # lines
    mask[1] = torch.rand(1, 32, 24, generator=gen) < 0.3  # points
    mask[:, :, 12:20, 8:16] = True
    k = k * mask
    if kind == "cardiomm":
        model: torch.nn.Module = CardioMM("tiny", output_dc="sense").eval()
        emb = torch.zeros(2, model.config.text_dim)
        args: tuple[object, ...] = (k, mask, emb, emb, "uniform", 8)
    else:
        model = VarNet(VarNetConfig(**{**VARNET_PRESETS["tiny"].__dict__, "output_dc": "sense"})).eval()
        args = (k, mask, "uniform", 8)
    new = with_mask_weights(model, 0.07, (0.01, -0.2))
    assert new.config.output_dc == "sense-mask" and model.config.output_dc == "sense"
    for key, value in model.state_dict().items():
        if key != "output_dc.lam":
            torch.testing.assert_close(new.state_dict()[key], value)
    with torch.no_grad():
        k_net, csm = new.forward_kspace_maps(*args)
        lam = 0.07 * torch.exp(LAM_GAIN * (mask_features(mask) @ torch.tensor([0.01, -0.2])))
        for i in range(2):
            one = slice(i, i + 1)
            want = sense_proximal(
                k[one], mask[one], k_net[one], csm[one], float(lam[i]), new.output_dc.n_iter
            )
            torch.testing.assert_close(new(*args)[one], want.abs(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ConfigError, match="output layer"):
        with_mask_weights(CardioMM("tiny"), 0.1, (0.0, 0.0))


@pytest.fixture
def phantom_kspace() -> torch.Tensor:
    """Fully sampled k-space ``(t=2, z=1, c=4, ky=64, kx=80)`` of a Shepp-Logan phantom through smooth
    coil maps, with a little noise (two frames: the phantom and its mirror image)."""
    import numpy as np
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    from cardiomm.physics import fft2c

    img = resize(shepp_logan_phantom(), (64, 80), anti_aliasing=True).astype(np.float32)
    yy, xx = np.mgrid[0:64, 0:80]
    maps = np.stack(
        [np.exp(-((yy - 32 - 40 * np.sin(a)) ** 2 + (xx - 40 - 50 * np.cos(a)) ** 2) / 1800) * np.exp(1j * a)
         for a in np.linspace(0, 2 * np.pi, 4, endpoint=False)]
    )  # fmt: skip
    frames = np.stack([img, img[:, ::-1]])[:, None, None] * maps[None, None]
    k = fft2c(torch.from_numpy(frames.astype(np.complex64)))
    gen = torch.Generator().manual_seed(0)
    return k + 0.01 * torch.randn(k.shape, dtype=torch.complex64, generator=gen)


def test_sweep_scores_the_model_layer_as_the_reconstruction_path_does(tmp_path, phantom_kspace) -> None:  # type: ignore[no-untyped-def]
    """The ``lam="model"`` row is the protocol score of the normal reconstruction path (the same
    network, ``reconstruct_volume`` + ``evaluate_volume``); a grid weight equal to the layer's own gives
    the same score, another weight another one; features are the mask's."""
    from cardiomm.evaluation.metrics import evaluate_volume
    from cardiomm.io import rss_from_kspace, save_mat
    from cardiomm.recon.learned import LearnedRecon
    from cardiomm.recon.pipeline import MaskSpec, ReconTask, infer_pattern, load_task, reconstruct_volume
    from cardiomm.recon.prompts import task_prompts
    from cardiomm.text import get_encoder
    from cardiomm.training.calibrate import sweep_output_weight

    path = tmp_path / "P001" / "cine_sax.mat"
    save_mat(path, {"kspace_full": phantom_kspace})
    model = CardioMM("tiny", output_dc="sense").eval()
    with torch.no_grad():
        model.output_dc.lam.fill_(0.1)
    recon = LearnedRecon("cardiomm", model, get_encoder(model.config.text_encoder))
    spec = MaskSpec("Uniform", 4)
    rows = sweep_output_weight(recon, [path], [spec], (0.1, 0.01))
    by_lam = {r.lam: r for r in rows}
    assert set(by_lam) == {"model", 0.1, 0.01} and {r.mask for r in rows} == {"Uniform4"}
    task = ReconTask(path, None, tmp_path / "unused.mat", path.as_posix(), mask_spec=spec)
    volume, mask = load_task(task)
    mask_type, accel = infer_pattern(mask, None, spec)
    meta, us = task_prompts(task, mask_type, accel)
    out, _ = reconstruct_volume(
        volume,
        mask,
        recon,
        mask_type=mask_type,
        acceleration=accel,
        metadata_prompt=meta,
        undersampling_prompt=us,
    )
    ref = rss_from_kspace(volume.frames()).view_as(out)
    want = evaluate_volume(ref, out)
    assert by_lam["model"].psnr == pytest.approx(want.psnr, abs=1e-4)
    assert by_lam["model"].ssim == pytest.approx(want.ssim, abs=1e-5)
    assert by_lam[0.1].psnr == pytest.approx(want.psnr, abs=1e-3)
    assert abs(by_lam[0.01].psnr - want.psnr) > 1e-2
    m = mask.bool().reshape(-1, 1, *mask.shape[-2:])
    torch.testing.assert_close(torch.tensor(by_lam["model"].features), mask_features(m).mean(0))
