"""``cardiomm export``: a TorchScript program equals the eager reconstruction (CPU), guards its protocol."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from cardiomm.errors import ConfigError, UnknownChoiceError
from cardiomm.recon.export import ExportSpec, export_release
from cardiomm.recon.learned import LearnedRecon
from cardiomm.recon.pipeline import ReconInput
from cardiomm.text import metadata_prompt, undersampling_prompt


def _data(spec: ExportSpec, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    k = 1e-4 * torch.randn(spec.batch, spec.coils, spec.ky, spec.kx, dtype=torch.complex64, generator=gen)
    if spec.mask_type == "radial":
        mask = torch.rand(spec.batch, 1, spec.ky, spec.kx, generator=gen) < 0.3
    else:
        mask = (
            (torch.rand(spec.batch, 1, spec.ky, 1, generator=gen) < 0.3).expand(-1, -1, -1, spec.kx).clone()
        )
    mask[:, :, spec.ky // 2 - 4 : spec.ky // 2 + 4, spec.kx // 2 - 4 : spec.kx // 2 + 4] = True
    if spec.mask_type != "radial":
        mask[:, :, spec.ky // 2 - 4 : spec.ky // 2 + 4, :] = True
    return k * mask, mask.contiguous()


@pytest.mark.parametrize(
    ("method", "mask_type", "batch"),
    [("cardiomm", "uniform", 2), ("varnet", "radial", 1), ("promptmr", "random", 1)],
)
def test_exported_program_equals_eager_reconstruction(
    tmp_path: Path, method: str, mask_type: str, batch: int
) -> None:
    """The shipped release exported for a protocol gives LearnedRecon's image (soft output, k-space
    scaling, the prompts of the export) on inputs other than the trace's, to 1e-5 relative."""
    spec = ExportSpec(coils=4, ky=40, kx=32, mask_type=mask_type, acceleration=4, n_acs=8, batch=batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on python values it records as constants
        out = export_release(None, tmp_path / "p.pt", spec, method=method)
    program = torch.jit.load(str(out))
    eager = LearnedRecon.from_checkpoint(method, None)
    for seed in (1, 2):
        k, mask = _data(spec, seed)
        prompts = {"metadata_prompt": metadata_prompt(modality="cine")}
        prompts["undersampling_prompt"] = undersampling_prompt(4, mask_type)
        inp = ReconInput(k, mask, mask_type, 4, n_acs=8, **prompts)
        with torch.no_grad():
            want = eager.reconstruct(inp)
        got = program(k, mask)
        assert got.shape == (batch, 40, 32) and got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
    k, mask = _data(spec, 3)
    with pytest.raises(torch.jit.Error, match="exported for complex64 k-space"):
        program(k[..., :-2], mask[..., :-2])
    with pytest.raises(torch.jit.Error, match="complex64"):
        program(k.to(torch.complex128), mask)
    if mask_type != "radial":  # a line program refuses a mask that is not whole readouts
        points = mask.clone()
        points[..., 0, 0] = ~points[..., 0, 0]
        points[..., 0, 1] = ~points[..., 0, 0]
        with pytest.raises(torch.jit.Error, match="line mask"):
            program(k, points)


def test_export_refuses_onnx_unknown_formats_bad_specs_and_existing_files(tmp_path: Path) -> None:
    spec = ExportSpec(coils=2, ky=16, kx=16)
    with pytest.raises(ConfigError, match="complex"):
        export_release(None, tmp_path / "m.onnx", spec, fmt="onnx")
    with pytest.raises(UnknownChoiceError, match="torchscript"):
        export_release(None, tmp_path / "m.x", spec, fmt="tflite")
    (tmp_path / "exists.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="exists"):
        export_release(None, tmp_path / "exists.pt", spec)
    with pytest.raises(ConfigError, match="coils"):
        ExportSpec(coils=0, ky=16, kx=16)
    with pytest.raises(UnknownChoiceError, match="mask type"):
        ExportSpec(coils=2, ky=16, kx=16, mask_type="spiral")
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.x").exists()


def test_export_cli_writes_a_program_and_exits_2_on_onnx(tmp_path: Path) -> None:
    from cardiomm.cli.main import main

    out = tmp_path / "vn.pt"
    args = ["export", "--method", "varnet", "--out", str(out), "--coils", "2", "--ky", "24", "--kx", "16"]
    assert main([*args, "--pattern", "ktGaussian", "--accel", "4", "--acs", "6"]) == 0
    program = torch.jit.load(str(out))
    k, mask = _data(ExportSpec(coils=2, ky=24, kx=16, mask_type="random"), 0)
    assert program(k, mask).shape == (1, 24, 16)
    assert main([*args, "--overwrite", "--format", "onnx"]) == 2
    assert main(args) == 2  # exists


def test_export_keeps_the_noise_scaled_weight_and_its_floor(tmp_path: Path) -> None:
    """A release whose output layer is noise-scaled with a floor that binds (every frame's weight raised
    to it) exports to a program equal to the eager reconstruction; the floor changes the image."""
    from cardiomm.models.release import load_release, save_release
    from cardiomm.recon.learned import shipped_checkpoint

    shipped = load_release(shipped_checkpoint("cardiomm"))
    images = {}
    for floor in (0.0, 5.0):
        cfg = shipped.model.config.replace(output_dc="sense-noise", output_dc_floor=floor)
        model = type(shipped.model)(cfg)
        model.load_state_dict(shipped.model.state_dict())
        save_release(tmp_path / f"r{floor}", model)
        card = load_release(tmp_path / f"r{floor}").card["output"]
        assert ("at least 5" in card) == (floor > 0) and "noise" in card  # the model card says so
        spec = ExportSpec(coils=4, ky=40, kx=32, mask_type="uniform", acceleration=4, n_acs=8, batch=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = export_release(tmp_path / f"r{floor}", tmp_path / f"p{floor}.pt", spec, method="cardiomm")
        program = torch.jit.load(str(out))
        eager = LearnedRecon.from_checkpoint("cardiomm", tmp_path / f"r{floor}")
        k, mask = _data(spec, 4)
        prompts = {"metadata_prompt": metadata_prompt(modality="cine")}
        prompts["undersampling_prompt"] = undersampling_prompt(4, "uniform")
        with torch.no_grad():
            want = eager.reconstruct(ReconInput(k, mask, "uniform", 4, n_acs=8, **prompts))
            got = program(k, mask)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * float(want.abs().max()))
        images[floor] = got
    assert float((images[5.0] - images[0.0]).abs().max()) > 1e-3 * float(images[0.0].abs().max())
