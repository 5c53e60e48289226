"""Self-supervised adaptation (SSDU + ZS-SSL): splits, loss, input handling without fully sampled data,
early stopping, determinism, bad input, atomic release."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cardiomm.errors import CheckpointError, ConfigError, InputFileError, MaskError
from cardiomm.training.adapt import AdaptOptions, CurvePoint, adapt
from cardiomm.training.adapt_data import load_scans, sha256_file
from cardiomm.training.freeze import apply_train_only, parse_train_only
from cardiomm.training.ssdu import (
    SplitSpec,
    acs_band,
    gaussian_select,
    holdout,
    split_frame,
    ssdu_line_errors,
    ssdu_loss,
)

pytestmark = pytest.mark.usefixtures("torch_single_thread")

FAST = dict(steps=4, val_every=2, patience=0, max_val_frames=4)


def write_kus(tree: Path, dst: Path, globs: tuple[str, ...]) -> list[Path]:
    """Undersampled copies ``<name>_kus_<P><R>.mat`` (key ``kus``) of the TestSet scans whose mask name
    matches ``globs``, under ``dst/UnderSample_TaskAll/...``, with their masks under ``dst/Mask_TaskAll``;
    ``dst`` holds no fully sampled file."""
    import fnmatch
    import shutil

    from cardiomm.io import read_kspace, read_mask, save_mat

    out = []
    test_set = tree / "Cine" / "TestSet"
    for m in sorted((test_set / "Mask_TaskAll").rglob("*_mask_*.mat")):
        if not any(fnmatch.fnmatch(m.name, g) for g in globs):
            continue
        rel = m.relative_to(test_set / "Mask_TaskAll")
        full = test_set / "FullSample" / rel.parent / (m.name.split("_mask_")[0] + ".mat")
        kus = read_kspace(full).kspace * read_mask(m)[:, None, None]
        name = m.name.replace("_mask_", "_kus_")
        path = dst / "UnderSample_TaskAll" / rel.parent / name
        path.parent.mkdir(parents=True, exist_ok=True)
        save_mat(path, {"kus": kus.numpy()})
        (dst / "Mask_TaskAll" / rel.parent).mkdir(parents=True, exist_ok=True)
        shutil.copy(m, dst / "Mask_TaskAll" / rel)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=3, modalities=["Cine"])
    return root


@pytest.fixture(scope="module")
def kus_root(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site's data: kus files of three cine SAX scans (two centers) and their masks, no FullSample."""
    root = tmp_path_factory.mktemp("site")
    files = write_kus(tree, root, ("cine_sax_mask_Uniform8.mat",))
    assert len(files) == 3 and not list(root.rglob("FullSample"))
    return root


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.models.release import build_model, save_release

    path = tmp_path_factory.mktemp("rel") / "tiny"
    save_release(path, build_model("cardiomm", "tiny"))
    return path


@pytest.fixture
def no_fullsample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to read a FullSample file fails the test."""
    import cardiomm.recon.pipeline as pipeline

    real = pipeline.read_kspace

    def guarded(path: object, *args: object, **kwargs: object) -> object:
        assert "FullSample" not in Path(str(path)).parts, f"adaptation read fully sampled data: {path}"
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "read_kspace", guarded)


# ----------------------------------------------------------------------------------------------- splits
def _random_mask(rng: np.random.Generator, ny: int, nx: int, kind: str) -> np.ndarray:
    if kind == "line":
        rows = rng.random(ny) < rng.uniform(0.15, 0.5)
        return np.repeat(rows[:, None], nx, axis=1)
    return rng.random((ny, nx)) < rng.uniform(0.15, 0.5)


@pytest.mark.parametrize("kind", ["line", "point"])
def test_split_sets_are_disjoint_and_inside_acquired(kind: str) -> None:
    rng = np.random.default_rng(11)
    spec = SplitSpec(loss_fraction=0.4, val_fraction=0.2)
    checked = 0
    for _ in range(150):
        ny, nx = int(rng.integers(24, 64)), int(rng.integers(16, 48))
        n_acs = int(rng.integers(4, 12))
        acs = acs_band((ny, nx), "radial" if kind == "point" else "uniform", n_acs)
        acquired = _random_mask(rng, ny, nx, kind) | acs
        outer = acquired & ~acs
        units = int(outer.any(1).sum()) if kind == "line" else int(outer.sum())
        if units < 3:
            continue
        gamma = holdout(acquired, acs, spec, rng)
        avail = acquired & ~gamma
        theta, lam = split_frame(avail, acs, spec, rng)
        assert not (theta & lam).any() and not (gamma & (theta | lam)).any()
        assert np.array_equal(theta | lam, avail)
        assert not ((gamma | lam) & ~acquired).any() and not ((gamma | lam) & acs).any()
        assert (theta & acs).sum() == acs.sum()  # the ACS stays in the DC set
        n_gamma = int(gamma.any(1).sum()) if kind == "line" else int(gamma.sum())
        n_lam = int(lam.any(1).sum()) if kind == "line" else int(lam.sum())
        assert n_gamma == min(max(1, round(0.2 * units)), units - 2)
        assert n_lam == min(max(1, round(0.4 * (units - n_gamma))), units - n_gamma - 1)
        if kind == "line":  # whole lines move
            assert np.array_equal(lam, np.repeat(lam.any(1, keepdims=True), nx, 1))
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("accel", [8, 16, 24])
def test_spoke_splits_move_whole_spokes_of_a_radial_mask(accel: int) -> None:
    from cardiomm.sampling import make_test_mask, radial_beams
    from cardiomm.sampling.spokes import spoke_labels

    ny, nx = 213, 320
    acs = acs_band((ny, nx), "radial", 20)
    spec = SplitSpec(unit="spoke")
    rng = np.random.default_rng(2)
    for acquired in make_test_mask("ktRadial", accel, nx, ny, 2):
        spokes = spoke_labels(acquired, acquired & ~acs)
        assert spokes is not None
        n = radial_beams(accel)
        gamma = holdout(acquired, acs, spec, rng)
        theta, lam = split_frame(acquired & ~gamma, acs, spec, rng)
        assert np.array_equal(theta | lam, acquired & ~gamma) and not (theta & lam).any()
        assert np.array_equal(theta & acs, acquired & acs)  # the acquired ACS stays in the DC set
        for held, expected in ((gamma, round(0.2 * n)), (lam, round(0.4 * (n - round(0.2 * n))))):
            moved = np.unique(spokes[held])
            assert moved.size == expected and (moved >= 0).all()
            # whole spokes: every location of a moved spoke moved (of Lambda: those left after Gamma)
            assert all(np.array_equal(held[spokes == k], np.ones((spokes == k).sum(), bool)) for k in moved)
    # the point unit of the same frame moves single locations, spread over every spoke
    acquired = make_test_mask("ktRadial", accel, nx, ny, 1)[0]
    lam = split_frame(acquired, acs, SplitSpec(unit="point"), rng)[1]
    assert np.unique(spoke_labels(acquired, acquired & ~acs)[lam]).size > radial_beams(accel) // 2


def test_spoke_unit_falls_back_to_lines_and_points() -> None:
    rng = np.random.default_rng(4)
    acs = acs_band((64, 48), "uniform", 8)
    lines = np.repeat((rng.random(64) < 0.3)[:, None], 48, axis=1) | acs
    lam = split_frame(lines, acs, SplitSpec(unit="spoke"), rng)[1]
    assert np.array_equal(lam, np.repeat(lam.any(1, keepdims=True), 48, 1))  # whole lines
    square = acs_band((64, 48), "radial", 8)
    points = (rng.random((64, 48)) < 0.3) | square
    lam = split_frame(points, square, SplitSpec(unit="spoke"), rng)[1]
    assert lam.sum() == round(0.4 * (points & ~square).sum())  # single points


def test_gaussian_select_prefers_the_centre_and_is_seeded() -> None:
    cand = np.ones((64, 8), dtype=bool)
    counts = np.zeros(64)
    rng = np.random.default_rng(0)
    for _ in range(400):
        counts += gaussian_select(cand, 8, rng, unit="line").any(1)
    assert counts[28:36].sum() > 3 * counts[:8].sum()  # std = 63/4 lines: the centre dominates
    a = gaussian_select(cand, 8, np.random.default_rng(5), unit="line")
    b = gaussian_select(cand, 8, np.random.default_rng(5), unit="line")
    assert np.array_equal(a, b)
    with pytest.raises(MaskError):
        gaussian_select(cand, 65, rng, unit="line")


def test_ssdu_loss_known_values() -> None:
    g = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, 8, 6, dtype=torch.complex64, generator=g)
    lam = torch.zeros(2, 1, 8, 6, dtype=torch.bool)
    lam[:, :, 2:4] = True
    assert float(ssdu_loss(k, k, lam)) == pytest.approx(0.0, abs=1e-7)
    assert float(ssdu_loss(torch.zeros_like(k), k, lam)) == pytest.approx(2.0, abs=1e-6)  # L1 1 + L2 1
    assert float(ssdu_loss(2 * k, k, lam)) == pytest.approx(2.0, abs=1e-5)
    far = k.clone()
    far[:, :, 5:] += 100  # outside the loss set: ignored
    assert float(ssdu_loss(far, k, lam)) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ConfigError):
        SplitSpec(loss_fraction=1.0)


def test_ssdu_line_errors_against_numpy() -> None:
    g = torch.Generator().manual_seed(1)
    k = torch.randn(2, 3, 8, 6, dtype=torch.complex64, generator=g)
    pred = torch.randn(2, 3, 8, 6, dtype=torch.complex64, generator=g)
    lam = torch.zeros(2, 1, 8, 6, dtype=torch.bool)
    lam[0, 0, [1, 4]] = True  # two lines of frame 0
    lam[1, 0, 6, ::2] = True  # half of one line of frame 1 (a radial-like 2-D set)
    got = ssdu_line_errors(pred, k, lam).numpy()
    kn, pn, m = k.numpy(), pred.numpy(), lam.numpy()
    want = []
    for b, rows in ((0, (1, 4)), (1, (6,))):
        scale = (np.abs(kn[b]) ** 2 * m[b]).sum()
        want += [(np.abs(pn[b, :, r] - kn[b, :, r]) ** 2 * m[b, :, r]).sum() / scale for r in rows]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got.dtype == np.float64


# ----------------------------------------------------------------------------------------------- inputs
def test_scans_hold_only_the_acquired_samples(tree: Path) -> None:
    """Tree input: k-space read through the mask; only masked values are kept, equal to k * mask."""
    from cardiomm.io import read_kspace, read_mask

    test_set = tree / "Cine" / "TestSet"
    scans = load_scans(test_set, include=["cine_sax_mask_Uniform8.mat"])
    assert len(scans) == 3
    scan = next(s for s in scans if "Center007" in s.label)
    mask_file = Path(scan.label)
    full = read_kspace(
        test_set / "FullSample" / mask_file.parent.relative_to(test_set / "Mask_TaskAll") / "cine_sax.mat"
    )
    mask = read_mask(mask_file)
    t, z = full.n_frames, full.n_slices
    expected = (full.kspace * mask[:, None, None]).reshape(t * z, *full.kspace.shape[2:])
    assert torch.equal(scan.kspace(range(t * z)), expected)
    assert sum(v.numel() for v in scan.values) == int(mask.sum()) * z * full.n_coils
    assert scan.mask_sha256 == sha256_file(mask_file) and scan.mask_type == "uniform"
    assert scan.acceleration == 8
    assert bool((scan.val_masks & ~scan.masks).any()) is False and bool(scan.val_masks.any())


def test_adapt_runs_on_kus_files_without_fullsample(
    kus_root: Path, tiny_release: Path, tmp_path: Path, no_fullsample: None
) -> None:
    from cardiomm.recon.learned import LearnedRecon
    from cardiomm.recon.pipeline import ReconTask, load_task, reconstruct_volume

    out = tmp_path / "R"
    result = adapt(kus_root, out, model_path=tiny_release, options=AdaptOptions(**FAST, lr=1e-3))
    assert result.steps_run == 4 and [p.step for p in result.curve] == [0, 2, 4]
    assert result.best_step == min(result.curve, key=lambda p: p.val_loss).step
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "model_card.md"]
    card_text = (out / "model_card.md").read_text()
    kus = sorted(kus_root.rglob("*_kus_*.mat"))
    for f in kus:  # sources by hash, never by name (PHI)
        assert sha256_file(f) in card_text
    assert "cine_sax" not in card_text and "Center0" not in card_text
    assert "| step | train loss | validation loss |" in card_text
    # the release reconstructs like any other
    recon = LearnedRecon.from_checkpoint("cardiomm", out)
    volume, mask = load_task(ReconTask(kus[0], None, tmp_path / "x.mat", kus[0].as_posix()))
    img, _ = reconstruct_volume(volume, mask, recon, mask_type="uniform", acceleration=8,
                                metadata_prompt="m", undersampling_prompt="u")  # fmt: skip
    assert img.shape == (volume.n_frames, volume.n_slices, volume.ny, volume.nx)
    assert bool(torch.isfinite(img).all()) and float(img.abs().max()) > 0
    state = json.loads((out / "config.json").read_text())
    assert state["preset"] == "tiny"


def test_adapt_is_deterministic_with_a_seed(kus_root: Path, tiny_release: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        opts = AdaptOptions(**FAST, lr=1e-3, seed=seed)
        res = adapt(
            kus_root, tmp_path / name, model_path=tiny_release, include=["*Center00[27]*"], options=opts
        )
        runs[name] = (res.curve, load_file(str(tmp_path / name / "model.safetensors")))
    assert runs["a"][0] == runs["b"][0]
    assert all(torch.equal(runs["a"][1][k], runs["b"][1][k]) for k in runs["a"][1])
    assert runs["a"][0] != runs["c"][0]


# ----------------------------------------------------------------------------------------------- bad input
def test_bad_inputs_are_typed_errors_naming_the_file(
    tree: Path, kus_root: Path, tiny_release: Path, tmp_path: Path
) -> None:
    from cardiomm.io import save_mat
    from cardiomm.models.release import build_model, save_release

    test_set = tree / "Cine" / "TestSet"
    full = next(test_set.joinpath("FullSample").rglob("cine_sax.mat"))
    with pytest.raises(MaskError, match="nothing to adapt on") as exc:
        adapt(full, tmp_path / "o", model_path=tiny_release)
    assert str(full) in str(exc.value)
    # one acquired line outside the ACS in every frame: too few to split
    few = write_kus(tree, tmp_path / "few", ("cine_sax_mask_Uniform24.mat",))[0]
    with pytest.raises(MaskError, match="too few acquired lines") as exc:
        adapt(few, tmp_path / "o", model_path=tiny_release)
    assert few.name in str(exc.value)
    # no calibration region: every other line, nothing dense at the centre
    k = np.zeros((2, 1, 2, 40, 16), np.complex64)
    k[:, :, :, ::2] = 1 + 1j
    no_acs = tmp_path / "noacs_kus_Uniform2.mat"
    save_mat(no_acs, {"kus": k})
    with pytest.raises(MaskError, match="no calibration") as exc:
        adapt(no_acs, tmp_path / "o", model_path=tiny_release, n_acs=8)
    assert no_acs.name in str(exc.value)
    # a release of another kind
    varnet = tmp_path / "varnet"
    save_release(varnet, build_model("varnet", "tiny"))
    with pytest.raises(CheckpointError, match="'varnet' model, not 'cardiomm'"):
        adapt(kus_root, tmp_path / "o", model_path=varnet, method="cardiomm")
    with pytest.raises(InputFileError):
        adapt(tmp_path / "missing", tmp_path / "o", model_path=tiny_release)
    (tmp_path / "exists").mkdir()
    with pytest.raises(ConfigError, match="--overwrite"):
        adapt(kus_root, tmp_path / "exists", model_path=tiny_release)
    with pytest.raises(ConfigError, match="inside, the input"):
        adapt(kus_root, kus_root / "R", model_path=tiny_release)
    assert not (tmp_path / "o").exists()


def test_interrupted_adaptation_leaves_no_release(kus_root: Path, tiny_release: Path, tmp_path: Path) -> None:
    def interrupt(step: int, loss: float) -> None:
        if step == 2:
            raise KeyboardInterrupt

    out = tmp_path / "R"
    with pytest.raises(KeyboardInterrupt):
        adapt(kus_root, out, model_path=tiny_release, options=AdaptOptions(**FAST), on_step=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_release(
    kus_root: Path, tiny_release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cardiomm.models.release as release
    import cardiomm.training.adapt as adapt_module

    real = release.save_release

    def half(path: Path, *args: object, **kwargs: object) -> Path:
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        raise OSError("disk full")

    monkeypatch.setattr(adapt_module, "save_release", half)
    with pytest.raises(OSError, match="disk full"):
        adapt(kus_root, tmp_path / "R", model_path=tiny_release, options=AdaptOptions(**FAST))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------- parts
def test_train_only_freezes_the_rest() -> None:
    from cardiomm.models.release import build_model

    model = build_model("cardiomm", "tiny")
    heads = sum(p.numel() for n, p in model.named_parameters() if n.startswith("lm_head"))
    assert apply_train_only(model, "heads") == {
        "trainable": heads,
        "frozen": sum(p.numel() for p in model.parameters()) - heads,
    }
    last = apply_train_only(model, "last:1")["trainable"]
    assert last == sum(p.numel() for n, p in model.named_parameters() if n.startswith("cascades.1."))
    both = apply_train_only(model, "heads, last:1")["trainable"]
    assert both == heads + last
    assert apply_train_only(model, "all")["frozen"] == 0
    prompts = {n for n, p in model.named_parameters() if p.requires_grad is False}
    assert prompts == set()
    apply_train_only(model, "prompts")
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all(".prompt_level" in n or ".metacond_level" in n for n in names)
    assert parse_train_only(None) == () and parse_train_only("all,heads") == ()
    for bad in ("head", "last:0", "last:x"):
        with pytest.raises(ConfigError):
            parse_train_only(bad)
    with pytest.raises(ConfigError, match="only 2 cascades"):
        apply_train_only(model, "last:3")
    with pytest.raises(ConfigError, match="no text projection heads"):
        apply_train_only(build_model("varnet", "tiny"), "heads")
    with pytest.raises(ConfigError, match="no trained output layer"):
        apply_train_only(model, "output")
    with_layer = build_model("cardiomm", "tiny", {"output_dc": "sense"})
    counts = apply_train_only(with_layer, "output")
    names = [n for n, p in with_layer.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("output_dc.") for n in names)
    assert counts["trainable"] == sum(p.numel() for n, p in with_layer.named_parameters() if n in names) < 10


def test_adapt_train_only_heads_changes_only_the_heads(
    kus_root: Path, tiny_release: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    opts = AdaptOptions(steps=3, val_every=3, patience=0, lr=1e-2, train_only="heads",
                        split=SplitSpec(val_fraction=0.0))  # fmt: skip
    res = adapt(kus_root, tmp_path / "R", model_path=tiny_release, include=["*Center007*"], options=opts)
    assert res.curve == [] and res.best_step == 3 and res.stop_reason == "steps"
    before = load_file(str(tiny_release / "model.safetensors"))
    after = load_file(str(tmp_path / "R" / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("lm_head") for k in changed)


def test_adapt_varnet(kus_root: Path, tmp_path: Path) -> None:
    from cardiomm.models.release import build_model, load_release, save_release
    from cardiomm.physics.coil_combine import rss
    from cardiomm.physics.fft import ifft2c

    model = build_model("varnet", "tiny")
    k = torch.randn(2, 3, 16, 12, dtype=torch.complex64, generator=torch.Generator().manual_seed(0))
    m = torch.zeros(2, 1, 16, 12, dtype=torch.bool)
    m[:, :, 4:12] = True
    with torch.no_grad():
        torch.testing.assert_close(rss(ifft2c(model.forward_kspace(k * m, m, "uniform", 8)), dim=1),
                                   model(k * m, m, "uniform", 8))  # fmt: skip
    save_release(tmp_path / "v", model)
    res = adapt(kus_root, tmp_path / "R", model_path=tmp_path / "v", method="varnet",
                include=["*Center007*"], options=AdaptOptions(**FAST, lr=1e-3))  # fmt: skip
    assert res.steps_run == 4 and load_release(tmp_path / "R").kind == "varnet"


def test_curve_point_is_plain_data() -> None:
    assert CurvePoint(0, None, 1.0) == CurvePoint(0, None, 1.0)
