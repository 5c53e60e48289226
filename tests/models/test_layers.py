"""Layer-level tests: complex channels, CAB, prompter, metadata adapter, DC, U-Net padding."""

from __future__ import annotations

import pytest
import torch

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.models.layers import (
    CAB,
    DataConsistency,
    MetadataAdapter,
    NormPromptUnet,
    PromptUnet,
    UndersamplingPrompter,
    channels_to_complex,
    complex_to_channels,
    data_consistency,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _crandn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.complex64, generator=_gen(seed))


def test_complex_channels_round_trip() -> None:
    x = _crandn(2, 3, 5, 7)
    y = complex_to_channels(x)
    assert y.shape == (2, 6, 5, 7) and y.dtype == torch.float32
    assert torch.equal(channels_to_complex(y), x)


def test_complex_channels_order_all_real_then_all_imag() -> None:
    x = _crandn(1, 3, 4, 4)
    y = complex_to_channels(x)
    assert torch.equal(y[:, :3], x.real) and torch.equal(y[:, 3:], x.imag)
    # same as the published complex-last permute: [b, c, h, w, 2] -> [b, 2, c, h, w] -> [b, 2c, h, w]
    published = torch.view_as_real(x).permute(0, 4, 1, 2, 3).reshape(1, 6, 4, 4)
    assert torch.equal(y, published)


def test_complex_channels_reject_wrong_input() -> None:
    with pytest.raises(DataValueError):
        complex_to_channels(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ShapeError):
        channels_to_complex(torch.zeros(1, 3, 2, 2))


def test_cab_shape_and_residual() -> None:
    cab = CAB(8, 3, 4)
    x = torch.randn(2, 8, 6, 6, generator=_gen())
    assert cab(x).shape == x.shape
    with torch.no_grad():
        for p in cab.body.parameters():
            p.zero_()
    assert torch.allclose(cab(x), x)  # zero body -> identity


def test_metadata_adapter_identity_at_init() -> None:
    torch.manual_seed(0)
    block = MetadataAdapter(feature_dim=6, embed_dim=5)
    x = torch.randn(3, 6, 8, 8, generator=_gen(1))
    emb = torch.randn(3, 5, generator=_gen(2))
    assert torch.equal(block(x, emb), x)
    with torch.no_grad():
        block.gamma.fill_(0.5)
    assert not torch.equal(block(x, emb), x)


def test_metadata_adapter_rejects_unpaired_embedding() -> None:
    block = MetadataAdapter(feature_dim=4, embed_dim=3)
    with pytest.raises(ShapeError):
        block(torch.zeros(4, 4, 8, 8), torch.zeros(2, 3))


def test_prompter_bank_is_buffer_not_parameter() -> None:
    prompter = UndersamplingPrompter(prompt_dim=3, prompt_len=2, prompt_size=4, feature_dim=5, embed_dim=6)
    names = {n for n, _ in prompter.named_parameters()}
    assert "prompt_param" not in names
    assert "prompt_param" in prompter.state_dict()
    assert prompter.prompt_param.shape == (1, 2, 3, 4, 4)
    assert not prompter.prompt_param.requires_grad
    bank = prompter.prompt_param.clone()
    opt = torch.optim.SGD(prompter.parameters(), lr=1.0)
    out = prompter(torch.randn(2, 5, 8, 6), torch.randn(2, 6))
    assert out.shape == (2, 3, 8, 6)
    out.square().sum().backward()
    opt.step()
    assert torch.equal(prompter.prompt_param, bank)


def test_prompter_weights_sum_to_one_and_follow_text() -> None:
    prompter = UndersamplingPrompter(prompt_dim=2, prompt_len=3, prompt_size=4, feature_dim=5, embed_dim=6)
    x = torch.randn(2, 5, 4, 4)
    emb = torch.randn(2, 6, generator=_gen(3))
    w = prompter.weights(x, emb)
    assert torch.allclose(w.sum(dim=1), torch.ones(2))
    assert torch.equal(prompter.weights(x * 10, emb), w)  # text-driven: independent of features


def test_prompter_without_text_pools_features() -> None:
    prompter = UndersamplingPrompter(2, 3, 4, feature_dim=5, embed_dim=6, text_conditioning=False)
    assert hasattr(prompter, "linear_layer") and not hasattr(prompter, "linear_layer2")
    x = torch.randn(2, 5, 4, 4, generator=_gen(4))
    assert prompter(x).shape == (2, 2, 4, 4)
    assert not torch.equal(prompter.weights(x, None), prompter.weights(x + 1, None))


def test_data_consistency_zero_weight_full_mask_returns_measured() -> None:
    k0, k_pred = _crandn(2, 3, 6, 5, seed=1), _crandn(2, 3, 6, 5, seed=2)
    mask = torch.ones(2, 1, 6, 5, dtype=torch.bool)
    assert torch.equal(data_consistency(k_pred, k0, mask, torch.zeros(1)), k0)


def test_data_consistency_unsampled_returns_prediction() -> None:
    k0, k_pred = _crandn(1, 2, 8, 4, seed=1), _crandn(1, 2, 8, 4, seed=2)
    mask = torch.zeros(1, 1, 8, 4, dtype=torch.bool)
    mask[..., ::3, :] = True
    out = data_consistency(k_pred, k0, mask, torch.tensor([0.7]))
    unsampled = ~mask.expand_as(out)
    assert torch.equal(out[unsampled], k_pred[unsampled])


def test_data_consistency_weight_limits_and_average() -> None:
    k0, k_pred = _crandn(1, 2, 4, 4, seed=1), _crandn(1, 2, 4, 4, seed=2)
    mask = torch.ones(1, 1, 4, 4, dtype=torch.bool)
    dc = DataConsistency()
    assert dc.dc_weight.item() == 1.0
    assert torch.allclose(dc(k_pred, k0, mask), (k0 + k_pred) / 2)  # w = 1: plain average
    # |w| is used: a negative weight acts like its magnitude
    assert torch.allclose(data_consistency(k_pred, k0, mask, torch.tensor([-3.0])), (k0 + 3 * k_pred) / 4)
    # |w| -> 0: the measurement; |w| -> inf: the prediction
    assert torch.allclose(data_consistency(k_pred, k0, mask, torch.tensor([1e-7])), k0, atol=1e-5)
    assert torch.allclose(data_consistency(k_pred, k0, mask, torch.tensor([1e7])), k_pred, atol=1e-5)


def test_prompt_unet_shapes_and_norm_unet_padding() -> None:
    kwargs = dict(
        n_feat0=4,
        feature_dim=(4, 8, 8),
        prompt_dim=(2, 2, 2),
        len_prompt=(2, 2, 2),
        prompt_size=(4, 4, 2),
        n_enc_cab=(1, 1, 1),
        n_dec_cab=(1, 1, 1),
        n_skip_cab=(1, 0, 1),
        n_bottleneck_cab=1,
        embed_dim=3,
    )
    unet = PromptUnet(in_chans=2, out_chans=2, **kwargs)
    emb = torch.randn(2, 3)
    assert unet(torch.randn(2, 2, 16, 24), emb, emb).shape == (2, 2, 16, 24)
    norm_unet = NormPromptUnet(in_chans=2, out_chans=2, **kwargs)
    x = _crandn(2, 1, 13, 21)  # odd sizes: padded to 16 x 24 and cropped back
    out = norm_unet(x, emb, emb)
    assert out.shape == x.shape and out.dtype == torch.complex64
    padded, pads = NormPromptUnet.pad(torch.randn(1, 2, 13, 21))
    assert padded.shape[-2:] == (16, 24) and pads == (1, 2, 1, 2)


def test_up_block_conv_before_upsample_equals_published_order() -> None:
    from cardiomm.models.layers import UpBlock

    block = UpBlock(
        in_dim=6, out_dim=4, prompt_dim=2, n_cab=1, kernel_size=3, reduction=4, make_act=torch.nn.PReLU
    )
    x, prompt = torch.randn(2, 6, 5, 7, generator=_gen(1)), torch.randn(2, 2, 5, 7, generator=_gen(2))
    skip = torch.randn(2, 4, 10, 14, generator=_gen(3))
    reduced = block.reduce(block.fuse(torch.cat([x, prompt], dim=1)))
    published = block.ca(block.up(reduced) + skip)  # Sequential order: upsample, then 1x1 conv
    assert torch.allclose(block(x, prompt, skip), published, atol=1e-5)


def test_prompt_unet_shared_activation_ties_prelus() -> None:
    act = torch.nn.PReLU()
    kwargs = dict(n_feat0=4, feature_dim=(4, 4, 4), prompt_dim=(1, 1, 1), prompt_size=(2, 2, 2), embed_dim=3)
    tied = PromptUnet(act=act, **kwargs)
    untied = PromptUnet(**kwargs)
    n_prelu_tied = len({id(m) for m in tied.modules() if isinstance(m, torch.nn.PReLU)})
    n_prelu_untied = len({id(m) for m in untied.modules() if isinstance(m, torch.nn.PReLU)})
    # tied: the shared one + first encoder CAB + 3 adapter CABs
    assert n_prelu_tied == 5
    assert n_prelu_untied > 20
