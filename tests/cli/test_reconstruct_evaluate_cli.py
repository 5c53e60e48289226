"""End to end: `cardiomm reconstruct` on a generated TestSet tree, `cardiomm evaluate`, bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cardiomm.cli.main import main


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=3, modalities=["Cine"])
    return root


def test_reconstruct_tree_writes_one_output_per_mask_and_evaluate_matches(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "rec"
    assert main(["reconstruct", str(tree / "Cine" / "TestSet"), "--out", str(out), "--method", "zf"]) == 0
    masks = sorted((tree / "Cine" / "TestSet" / "Mask_TaskAll").rglob("*_mask_*.mat"))
    preds = sorted((out / "zf").rglob("*_mask_*.mat"))
    assert len(masks) > 0 and len(preds) == len(masks)
    assert {p.name for p in preds} == {m.name for m in masks}

    # a whole tree as input: the outputs mirror <Modality>/TestSet/TaskAll/... under out2/<method>
    csv_path = tmp_path / "metrics.csv"
    out2 = tmp_path / "rec2"
    assert main(["reconstruct", str(tree), "--out", str(out2), "--method", "zf"]) == 0
    assert main(["evaluate", "--pred", str(out2), "--ref", str(tree), "--out", str(csv_path)]) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == len(masks)
    assert {r["Method"] for r in rows} == {"zf"}
    assert {r["Role"] for r in rows} == {"internal", "external"}

    # independent check of one row: RSS reference and zero-filled prediction recomputed with numpy + skimage
    from skimage.metrics import peak_signal_noise_ratio

    from cardiomm.io import read_cmrxrecon, read_image_mat, read_mask

    row = rows[0]
    rel = Path(row["File"])
    full = (
        tree
        / Path(*["FullSample" if p == "TaskAll" else p for p in rel.parts[:-1]])
        / (rel.name.split("_mask_")[0] + ".mat")
    )
    mask_file = tree / Path(*["Mask_TaskAll" if p == "TaskAll" else p for p in rel.parts])
    vol = read_cmrxrecon(full)
    k = vol.kspace.numpy()  # (t, z, c, ky, kx)
    m = read_mask(mask_file).numpy()[:, None, None]

    def rss(x: np.ndarray) -> np.ndarray:
        img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
        return np.sqrt((np.abs(img) ** 2).sum(2))

    gt, zf = rss(k), rss(k * m)
    pred = read_image_mat(out2 / "zf" / rel, "reconimage").numpy()
    np.testing.assert_allclose(pred, zf, rtol=1e-4, atol=1e-5 * zf.max())
    psnrs = []
    for g, p in zip(gt.reshape(-1, *gt.shape[-2:]), zf.reshape(-1, *zf.shape[-2:]), strict=True):
        g_n, p_n = g / np.percentile(g, 99.5), p / np.percentile(p, 99.5)
        psnrs.append(peak_signal_noise_ratio(g_n, p_n, data_range=g_n.max()))
    assert float(row["PSNR"]) == pytest.approx(np.mean(psnrs), abs=2e-3)


def test_reconstruct_bad_inputs_exit_2_and_write_nothing(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cardiomm.io import save_mat

    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    bad_mask = tmp_path / "bad_mask.mat"
    save_mat(bad_mask, {"mask": np.ones((3, 5, 7), dtype=bool)})
    out = tmp_path / "out.mat"
    assert main(["reconstruct", str(full), "--mask", str(bad_mask), "--out", str(out), "--method", "zf"]) == 2
    assert "mask" in capsys.readouterr().err.lower()
    assert not out.exists()

    no_acs = tmp_path / "no_acs.mat"
    from cardiomm.io import read_cmrxrecon

    vol_mask = np.zeros((1, *read_cmrxrecon(full).kspace.shape[-2:]), dtype=bool)
    vol_mask[:, ::8, :] = True
    save_mat(no_acs, {"mask": vol_mask})
    assert (
        main(["reconstruct", str(full), "--mask", str(no_acs), "--out", str(out), "--method", "sense"]) == 2
    )
    assert "ACS" in capsys.readouterr().err
    assert not out.exists()

    assert main(["reconstruct", str(full), "--out", str(out), "--method", "magic"]) == 2
    assert "unknown method" in capsys.readouterr().err

    corrupt = tmp_path / "ckpt"
    corrupt.mkdir()
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    (corrupt / "config.json").write_text('{"preset": "small", "text_conditioning": true}')
    assert (
        main(
            [
                "reconstruct",
                str(full),
                "--mask",
                str(no_acs),
                "--out",
                str(out),
                "--method",
                "cardiomm",
                "--model",
                str(corrupt),
            ]
        )
        == 2
    )
    assert "ckpt" in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".cardiomm-tmp-*"))


def test_reconstruct_fastmri_h5_full_plus_mask_and_undersampled(tmp_path: Path) -> None:
    """A plain fastMRI file ((slices, coils, kx, ky) on disk): retrospective mask, and an undersampled
    file whose mask dataset is used; the zero-filled output equals the numpy RSS of k * mask."""
    import h5py

    from cardiomm.io import read_image_mat, save_mat

    rng = np.random.default_rng(0)
    n_sl, n_c, n_ky, n_kx = 2, 3, 40, 48
    k = (
        rng.standard_normal((n_sl, n_c, n_ky, n_kx)) + 1j * rng.standard_normal((n_sl, n_c, n_ky, n_kx))
    ).astype(np.complex64)
    line = np.zeros(n_ky, bool)
    line[::4] = True
    line[n_ky // 2 - 10 : n_ky // 2 + 10] = True
    full = tmp_path / "full.h5"
    with h5py.File(full, "w") as f:
        f.create_dataset("kspace", data=np.swapaxes(k, -1, -2))
    mask_file = tmp_path / "m_mask_Uniform4.mat"
    save_mat(mask_file, {"mask": np.repeat(line[:, None], n_kx, axis=1)[None]})
    under = tmp_path / "under.h5"
    with h5py.File(under, "w") as f:
        f.create_dataset("kspace", data=np.swapaxes(k * line[None, None, :, None], -1, -2))
        f.create_dataset("mask", data=line)

    def rss(x: np.ndarray) -> np.ndarray:
        img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
        return np.sqrt((np.abs(img) ** 2).sum(-3))

    expected = rss(k * line[None, None, :, None])[None]  # (t=1, z=slices, y, x)
    for args in (["--mask", str(mask_file)], []):
        src = full if args else under
        out = tmp_path / f"{src.stem}.mat"
        assert main(["reconstruct", str(src), *args, "--out", str(out), "--method", "zf"]) == 0
        np.testing.assert_allclose(read_image_mat(out, "reconimage").numpy(), expected, rtol=1e-4, atol=1e-5)

    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 10)
    assert main(["reconstruct", str(broken), "--out", str(tmp_path / "b.mat"), "--method", "zf"]) == 2
    assert not (tmp_path / "b.mat").exists()


def test_reconstruct_fully_sampled_without_mask_is_an_error(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    assert main(["reconstruct", str(full), "--out", str(tmp_path / "o.mat"), "--method", "zf"]) == 2
    assert "fully sampled" in capsys.readouterr().err


def test_reconstruct_generated_mask_equals_the_mask_file(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--pattern Uniform --accel 8`` builds the same mask as the protocol's mask file, so the two
    reconstructions are identical; a random pattern without --seed is the same on every run."""
    from cardiomm.io import read_image_mat

    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    rel = full.parent.relative_to(tree / "Cine" / "TestSet" / "FullSample")
    mask = tree / "Cine" / "TestSet" / "Mask_TaskAll" / rel / "cine_sax_mask_Uniform8.mat"
    base = ["reconstruct", str(full), "--method", "zf", "--out"]
    assert main([*base, str(tmp_path / "file.mat"), "--mask", str(mask)]) == 0
    assert main([*base, str(tmp_path / "gen"), "--pattern", "uniform", "--accel", "8"]) == 0
    generated = tmp_path / "gen" / "cine_sax_Uniform8.mat"  # named after the pattern token
    np.testing.assert_array_equal(
        read_image_mat(generated).numpy(), read_image_mat(tmp_path / "file.mat").numpy()
    )
    # the scan's geometry travels with a single-file reconstruction, for `cardiomm analyse`
    info = full.with_name("cine_sax_info.csv")
    assert (tmp_path / "gen" / "cine_sax_Uniform8_info.csv").read_text() == info.read_text()
    for run in ("r1", "r2"):
        assert main([*base, str(tmp_path / run), "--pattern", "ktGaussian", "--accel", "16"]) == 0
    a, b = (read_image_mat(tmp_path / r / "cine_sax_ktGaussian16.mat").numpy() for r in ("r1", "r2"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, read_image_mat(generated).numpy())
    assert main(["compare", str(full), "--pattern", "ktRadial", "--accel", "8", "--methods", "zf"]) == 0
    assert "ktRadial8" in capsys.readouterr().out
    # option errors: exit 2 before anything is read or written
    bad = [
        ["--pattern", "Uniform"],
        ["--accel", "8"],
        ["--pattern", "Spiral", "--accel", "8"],
        ["--pattern", "Uniform", "--accel", "8", "--mask", str(mask)],
    ]
    for args in bad:
        assert main([*base, str(tmp_path / "bad"), *args]) == 2
    folder = ["reconstruct", str(tree / "Cine" / "TestSet"), "--out", str(tmp_path / "bad"), "--method", "zf"]
    assert main([*folder, "--pattern", "Uniform", "--accel", "8"]) == 2
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--batch-size", "-1"], "--batch-size"),
        (["--batch-size", "0"], "--batch-size"),
        (["--pattern", "Uniform", "--accel", "1000"], "--accel"),
        (["--pattern", "Uniform", "--accel", "0"], "--accel"),
        (["--pattern", "Uniform", "--accel", "8", "--acs", "-4"], "--acs"),
    ],
)
def test_reconstruct_rejects_nonsense_numbers(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    """Sizes and ranges are checked before any work: exit 2, a message naming the option, nothing written
    (``--batch-size -1`` used to exit 0 with an image of uninitialised memory)."""
    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    out = tmp_path / "out.mat"
    args = ["reconstruct", str(full), "--out", str(out), "--method", "zf", *extra]
    if "--pattern" not in extra:
        args += ["--pattern", "Uniform", "--accel", "8"]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_reconstruct_volume_rejects_batch_size_below_one() -> None:
    from cardiomm.errors import ConfigError
    from cardiomm.recon.pipeline import reconstruct_volume

    with pytest.raises(ConfigError, match="batch_size"):
        reconstruct_volume(None, None, None, mask_type="uniform", acceleration=8, batch_size=0)  # type: ignore[arg-type]


def test_reconstruct_repeated_method_flags_all_run(tree: Path, tmp_path: Path) -> None:
    """`--method zf --method sense` runs both (a plain str option silently kept the last one)."""
    task = tree / "Cine" / "TestSet"
    out = tmp_path / "rec"
    assert main(["reconstruct", str(task), "--out", str(out), "--method", "zf", "--method", "sense,zf"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["sense", "zf"]
    assert len(list((out / "zf").rglob("*.mat"))) == len(list((out / "sense").rglob("*.mat"))) > 0


def test_reconstruct_never_destroys_data(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output onto / inside the input, existing outputs without --overwrite, an output path under a
    file: exit 2 before any work, every file unchanged."""
    import shutil

    from cardiomm.io import read_image_mat

    src = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    mask = next((tree / "Cine" / "TestSet" / "Mask_TaskAll").rglob("cine_sax_mask_Uniform8.mat"))
    full = tmp_path / "in" / "cine_sax.mat"
    full.parent.mkdir()
    shutil.copyfile(src, full)
    before = full.read_bytes()
    base = ["reconstruct", str(full), "--mask", str(mask), "--method", "zf"]
    assert main([*base, "--out", str(full)]) == 2
    assert "input" in capsys.readouterr().err and full.read_bytes() == before
    task = tree / "Cine" / "TestSet"
    assert main(["reconstruct", str(task), "--out", str(task / "rec"), "--method", "zf"]) == 2
    assert "inside" in capsys.readouterr().err and not (task / "rec").exists()

    out = tmp_path / "rec.mat"
    assert main([*base, "--out", str(out)]) == 0
    first = read_image_mat(out).numpy()
    out.write_bytes(b"user edits")  # an existing result is kept unless --overwrite is given
    assert main([*base, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"user edits"
    assert main([*base, "--out", str(out), "--overwrite"]) == 0
    np.testing.assert_array_equal(read_image_mat(out).numpy(), first)  # (the .mat header holds a date)

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main([*base, "--out", str(blocker / "sub" / "rec.mat")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_dc_option_reaches_the_learned_method(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--dc hard` / `--dc sense` reach the learned method (its image differs from the default soft
    one; the physics is checked in tests/recon/test_learned.py); `zf` is the same either way; an
    unknown mode is a usage error."""
    from cardiomm.io import read_image_mat

    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("*.mat"))
    images = {}
    args = ["reconstruct", str(full), "--pattern", "Uniform", "--accel", "4"]
    for dc in ("soft", "hard", "sense"):
        out = tmp_path / dc
        assert main([*args, "--out", str(out), "--method", "varnet,zf", "--dc", dc]) == 0
        images[dc] = {m: read_image_mat(next((out / m).rglob("*.mat")), "reconimage").numpy()
                      for m in ("varnet", "zf")}  # fmt: skip
    soft = images["soft"]
    for dc in ("hard", "sense"):
        np.testing.assert_array_equal(images[dc]["zf"], soft["zf"])
        assert np.abs(images[dc]["varnet"] - soft["varnet"]).max() > 1e-3 * soft["varnet"].max()
    assert main([*args, "--out", str(tmp_path / "x"), "--method", "varnet", "--dc", "firm"]) == 2
    assert "firm" in capsys.readouterr().err
