"""CardioMM end-to-end: shapes for every preset, DC, gradients, B > 1 pairing, layout, parameter count."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import ConfigError, DataValueError, MaskError, ShapeError, UnknownChoiceError
from cardiomm.models import PRESETS, CardioMM, ModelConfig, convert_published_state_dict, count_parameters
from cardiomm.models.heads import LMHead
from cardiomm.physics.fft import ifft2c

#: Reference analytic counts (cardiomm_reference.md Appendix A).
REFERENCE_TRAINABLE = 63.4e6
#: Exact fixed prompt-bank size: 10 x 3 (24*64^2 + 48*32^2 + 72*16^2) + 3 (12*64^2 + 24*32^2 + 36*16^2).
REFERENCE_BANKS = 10 * 497_664 + 248_832
#: Exact counts of this implementation (untied PReLU / published tying).
PAPER_TRAINABLE = 63_439_426
PAPER_TRAINABLE_TIED = 63_439_174
#: Documented sizes of the other presets (config.py, docs/models.md).
PRESET_TRAINABLE = {"small": 717_921, "tiny": 21_196}


def _inputs(model: CardioMM, b: int, c: int, ny: int, nx: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    kspace = torch.randn(b, c, ny, nx, dtype=torch.complex64, generator=g)
    mask = torch.zeros(b, 1, ny, nx, dtype=torch.bool)
    mask[:, :, ::3] = True
    mask[:, :, ny // 2 - 2 : ny // 2 + 2] = True
    d = model.config.text_dim
    meta = torch.randn(b, d, generator=g)
    us = torch.randn(b, d, generator=g)
    return kspace * mask, mask, meta, us


def _perturb_adapters(model: CardioMM, seed: int = 0) -> None:
    """Give the metadata adapters non-zero gamma/beta so the metadata embedding matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith((".gamma", ".beta")):
                p.copy_(torch.randn(p.shape, generator=g))


@pytest.fixture(scope="module")
def tiny() -> CardioMM:
    return CardioMM("tiny").eval()


def test_presets_are_json_serialisable_and_round_trip() -> None:
    for name, cfg in PRESETS.items():
        assert cfg.preset == name
        assert ModelConfig.from_dict(__import__("json").loads(cfg.to_json())) == cfg
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"n_cascadez": 3})
    with pytest.raises(ConfigError):
        ModelConfig(feature_dim=(1, 2))
    with pytest.raises(UnknownChoiceError):
        CardioMM("huge")


def test_cardiomm_tiny_forward_shape_batch2(tiny: CardioMM) -> None:
    k, m, meta, us = _inputs(tiny, b=2, c=3, ny=20, nx=30)
    with torch.no_grad():
        out = tiny(k, m, meta, us, "uniform", n_acs=4)
    assert out.shape == (2, 20, 30) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out >= 0).all()


def test_cardiomm_small_forward_shape() -> None:
    model = CardioMM("small").eval()
    k, m, meta, us = _inputs(model, b=1, c=2, ny=24, nx=40)
    with torch.no_grad():
        out = model(k, m, meta, us, "random", n_acs=6)
    assert out.shape == (1, 24, 40) and torch.isfinite(out).all()


def test_cardiomm_paper_forward_shape_and_parameter_count() -> None:
    model = CardioMM("paper").eval()
    counts = count_parameters(model)
    assert counts["trainable"] == PAPER_TRAINABLE
    assert abs(counts["trainable"] - REFERENCE_TRAINABLE) / REFERENCE_TRAINABLE < 0.03
    assert counts["buffers"] == REFERENCE_BANKS  # the non-trainable prompt banks, ~5.2 M
    assert counts["frozen"] == 0
    k, m, meta, us = _inputs(model, b=1, c=2, ny=64, nx=64)
    with torch.no_grad():
        out = model(k, m, meta, us, "radial")
    assert out.shape == (1, 64, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize("preset", sorted(PRESET_TRAINABLE))
def test_preset_parameter_counts_as_documented(preset: str) -> None:
    with torch.device("meta"):
        model = CardioMM(preset)
    assert count_parameters(model)["trainable"] == PRESET_TRAINABLE[preset]


def test_cardiomm_paper_tied_prelu_parameter_count() -> None:
    with torch.device("meta"):
        model = CardioMM("paper", shared_prelu=True)
    assert count_parameters(model)["trainable"] == PAPER_TRAINABLE_TIED
    # one PReLU instance shared by the cascades and the sensitivity net
    first = model.cascades[0].model.unet.bottleneck[0].body[1]
    assert first is model.cascades[3].model.unet.enc_level2.encoder[0].body[1]
    assert first is model.sens_net.norm_unet.unet.dec_level1.ca.body[1]


def test_cardiomm_full_mask_zero_weight_returns_measured_image(tiny: CardioMM) -> None:
    model = CardioMM("tiny").eval()
    k, _, meta, us = _inputs(model, b=2, c=3, ny=16, nx=24)
    full = torch.ones(2, 1, 16, 24, dtype=torch.bool)
    with torch.no_grad():
        for cascade in model.cascades:
            cascade.dc_weight.zero_()
        out = model(k, full, meta, us, "uniform", n_acs=4)
    expected = ifft2c(k).abs().square().sum(dim=1).sqrt()
    assert torch.allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_cardiomm_gradients_finite(tiny: CardioMM) -> None:
    model = CardioMM("tiny").train()
    _perturb_adapters(model)
    k, m, meta, us = _inputs(model, b=2, c=2, ny=16, nx=16)
    model(k, m, meta, us, ["uniform", "radial"], n_acs=4).mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    # channel attention of the 4-channel tiny preset has one hidden ReLU unit, which may be dead
    checked = {n: g for n, g in grads.items() if ".CA.conv_du." not in n}
    nonzero = sum(int(g.abs().sum() > 0) for g in checked.values())
    assert nonzero > 0.95 * len(checked)
    assert model.cascades[0].dc_weight.grad.abs() > 0


def test_cardiomm_grad_checkpoint_matches_plain() -> None:
    plain = CardioMM("tiny").train()
    ckpt = CardioMM("tiny", grad_checkpoint=True).train()
    ckpt.load_state_dict(plain.state_dict())
    k, m, meta, us = _inputs(plain, b=1, c=2, ny=16, nx=16)
    out_a = plain(k, m, meta, us, "random", n_acs=4)
    out_b = ckpt(k, m, meta, us, "random", n_acs=4)
    assert torch.allclose(out_a, out_b)
    out_a.sum().backward()
    out_b.sum().backward()
    for (name, pa), pb in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, rtol=1e-4, atol=1e-6), name


def test_cardiomm_batch_pairing_matches_single_samples() -> None:
    """Sample i of a batch must equal sample i alone (catches the published .repeat tiling bug)."""
    model = CardioMM("tiny").eval()
    _perturb_adapters(model)
    b = 3
    k, m, meta, us = _inputs(model, b=b, c=3, ny=16, nx=24, seed=5)
    m[1, :, 1::3] = True  # a different mask per sample
    k = k * m
    types = ["uniform", "radial", "random"]
    with torch.no_grad():
        batch_out = model(k, m, meta, us, types, n_acs=4)
        for i in range(b):
            single = model(k[i : i + 1], m[i : i + 1], meta[i : i + 1], us[i : i + 1], types[i], n_acs=4)
            assert torch.allclose(batch_out[i], single[0], rtol=1e-4, atol=1e-6), i
        # not vacuous: the embeddings change the output
        meta2 = meta.clone()
        meta2[0] = -meta2[0]
        us2 = us.clone()
        us2[0] = us2[0] * 3
        assert not torch.allclose(model(k, m, meta2, us, types, n_acs=4)[0], batch_out[0])
        assert not torch.allclose(model(k, m, meta, us2, types, n_acs=4)[0], batch_out[0])


def test_cardiomm_network_sees_kx_ky(tiny: CardioMM) -> None:
    seen = {}
    handle = tiny.sens_net.register_forward_pre_hook(lambda mod, args: seen.update(shape=args[0].shape))
    try:
        k, m, meta, us = _inputs(tiny, b=1, c=2, ny=16, nx=24)
        with torch.no_grad():
            out = tiny(k, m, meta, us, "uniform", n_acs=4)
    finally:
        handle.remove()
    assert seen["shape"] == (1, 2, 24, 16)  # (b, c, kx, ky) inside
    assert out.shape == (1, 16, 24)  # (b, y, x) outside


def test_cardiomm_no_text_variant() -> None:
    model = CardioMM("tiny", text_conditioning=False).eval()
    assert model.lm_head_meta is None and model.lm_head_us is None
    assert not any("metacond" in n for n, _ in model.named_parameters())
    assert model.config.preset == "custom"
    k, m, _, _ = _inputs(model, b=2, c=2, ny=16, nx=16)
    with torch.no_grad():
        out = model(k, m, None, None, "uniform", n_acs=4)
    assert out.shape == (2, 16, 16) and torch.isfinite(out).all()


def test_cardiomm_input_validation(tiny: CardioMM) -> None:
    k, m, meta, us = _inputs(tiny, b=2, c=2, ny=16, nx=16)
    with pytest.raises(DataValueError):
        tiny(k.real, m, meta, us)
    with pytest.raises(MaskError):
        tiny(k, m[:, :, :8], meta, us)
    with pytest.raises(ShapeError):
        tiny(k, m, meta[:, :5], us)
    with pytest.raises(ShapeError):
        tiny(k, m, None, us)
    with pytest.raises(UnknownChoiceError):
        tiny(k, m, meta, us, "spiral", n_acs=4)
    with pytest.raises(MaskError):
        tiny(k, m, meta, us, ["uniform"], n_acs=4)
    with pytest.raises(MaskError):
        tiny(k, m, meta, us, "uniform", n_acs=40)


def test_lm_head_norms() -> None:
    x = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    l2 = LMHead(10, 6)(x)
    assert torch.allclose(l2.norm(dim=1), torch.ones(4))
    published = LMHead(10, 6, norm="published")
    published.load_state_dict(LMHead(10, 6).state_dict())
    y = published(x)
    assert set(y.abs().unique().tolist()) <= {1.0}
    # what the released code computes: F.normalize over the singleton axis of a (b, 1, 256) tensor
    ref = torch.nn.functional.normalize(published.fc1(x)[:, None, :], p=2, dim=1)[:, 0]
    assert torch.equal(y, ref)


def test_convert_published_state_dict_loads_key_for_key() -> None:
    model = CardioMM("tiny", shared_prelu=True, head_norm="published")
    ours = model.state_dict()
    published = {f"metausunetlight.{k}": v for k, v in ours.items() if not k.startswith("lm_head")}
    for head in ("lm_head_meta", "lm_head_us"):
        published[f"{head}.fc1.weight"] = ours[f"{head}.fc1.weight"]
        published[f"{head}.fc1.bias"] = ours[f"{head}.fc1.bias"]
        published[f"{head}.fc2.weight"] = torch.zeros(3, 8)
        published[f"{head}.fc2.bias"] = torch.zeros(3)
    published["loss.w"] = torch.ones(1, 1, 7, 7)
    fresh = CardioMM("tiny", shared_prelu=True, head_norm="published", init_seed=1)
    fresh.load_state_dict(convert_published_state_dict(published), strict=True)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, ours[key]), key


def test_init_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = CardioMM("tiny"), CardioMM("tiny")
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(ta, tb), name
    c = CardioMM("tiny", init_seed=7)
    bank = "sens_net.norm_unet.unet.prompt_level1.prompt_param"
    assert not torch.equal(c.state_dict()[bank], a.state_dict()[bank])


def test_cardiomm_forward_kspace_is_what_forward_combines(tiny: CardioMM) -> None:
    """The adaptation hook: (b, c, ky, kx) complex64, and its RSS is exactly the forward output."""
    from cardiomm.physics.coil_combine import rss

    k, m, meta, us = _inputs(tiny, 2, 3, 20, 24, seed=4)
    with torch.no_grad():
        img = tiny(k, m, meta, us, "uniform", 4)
        kspace = tiny.forward_kspace(k, m, meta, us, "uniform", 4)
    assert kspace.shape == (2, 3, 20, 24) and kspace.dtype == torch.complex64
    torch.testing.assert_close(rss(ifft2c(kspace), dim=1), img, rtol=1e-5, atol=1e-6)
    # off the mask the estimate is the network's prediction, not the (zero) input
    assert float(kspace[~m.expand_as(kspace)].abs().mean()) > 1e-3
