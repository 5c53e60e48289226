"""`cardiomm adapt` end to end: kus files only -> release -> `cardiomm reconstruct --model`; bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from cardiomm.cli.main import main

pytestmark = pytest.mark.usefixtures("torch_single_thread")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Undersampled files only (``<name>_kus_<P><R>.mat``) of the tiny tree's Center007 cine scans."""
    import shutil

    from cardiomm.io import read_kspace, read_mask, save_mat
    from cardiomm.simulate import generate_mini

    tree = tmp_path_factory.mktemp("tree")
    generate_mini(tree, size="tiny", seed=3, modalities=["Cine"])
    root = tmp_path_factory.mktemp("site")
    test_set = tree / "Cine" / "TestSet"
    for m in sorted((test_set / "Mask_TaskAll" / "Center007").rglob("*_mask_*8.mat")):
        rel = m.relative_to(test_set / "Mask_TaskAll")
        full = test_set / "FullSample" / rel.parent / (m.name.split("_mask_")[0] + ".mat")
        if "Radial" in m.name:
            continue
        dst = root / "UnderSample_TaskAll" / rel.parent / m.name.replace("_mask_", "_kus_")
        dst.parent.mkdir(parents=True, exist_ok=True)
        save_mat(dst, {"kus": (read_kspace(full).kspace * read_mask(m)[:, None, None]).numpy()})
    shutil.copytree(test_set / "FullSample", root / "full_reference")  # for the bad-input test only
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.models.release import build_model, save_release

    path = tmp_path_factory.mktemp("rel") / "tiny"
    save_release(path, build_model("cardiomm", "tiny"))
    return path


def test_adapt_then_reconstruct_with_the_release(
    site: Path, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    kus_dir = site / "UnderSample_TaskAll"
    out = tmp_path / "R"
    args = ["adapt", str(kus_dir), "--out", str(out), "--model", str(release), "--steps", "4"]
    args += ["--val-every", "2", "--device", "cpu", "--threads", "1", "--lr", "1e-3", "--seed", "1"]
    assert main(args) == 0
    text = " ".join(capsys.readouterr().out.split())
    vals = [float(v) for v in re.findall(r"step +\d+ .*?val (\d+\.\d+)", text)]
    released = re.search(r"released step (\d+), validation loss (\d+\.\d+)", text)
    assert released is not None and len(vals) == 3  # steps 0, 2, 4
    if int(released.group(1)) == 0:
        assert "the input weights are released unchanged" in text
    else:  # the printed change is the released loss against step 0's
        change = re.search(r"held-out loss ([+-]\d+\.\d) % against step 0 \((\d+\.\d+)\)", text)
        assert change is not None and float(change.group(2)) == pytest.approx(vals[0], abs=1e-4)
        expect = 100 * (float(released.group(2)) / vals[0] - 1)
        assert float(change.group(1)) == pytest.approx(expect, abs=0.06)
    assert (out / "model.safetensors").is_file()
    assert "Released weights: step" in (out / "model_card.md").read_text()
    # two protocols (uniform and random R8): each one's change at the step of the lowest mean loss
    from cardiomm.models.release import load_release

    by_step = load_release(out).card["adaptation_val_by_protocol"]
    assert set(by_step) == {"0", "2", "4"} and set(by_step["0"]) == {"uniform R8", "random R8"}
    best = min(("2", "4"), key=lambda s: vals[int(s) // 2])
    line = re.search(rf"held-out loss per protocol at step {best} against step 0: (.*?) release", text)
    assert line is not None
    for name, start in by_step["0"].items():
        printed = re.search(rf"{name} ([+-]\d+\.\d) %", line.group(1))
        assert printed is not None
        assert float(printed.group(1)) == pytest.approx(100 * (by_step[best][name] / start - 1), abs=0.06)
    kus = sorted(kus_dir.rglob("*_kus_*.mat"))
    assert len(kus) == 4
    rec = tmp_path / "rec.mat"
    assert main(["reconstruct", str(kus[0]), "--out", str(rec), "--model", str(out)]) == 0
    assert rec.is_file()
    assert main(args) == 2  # the release exists: refused without --overwrite
    assert main([*args, "--overwrite"]) == 0


def test_adapt_bad_input_exit_2_naming_the_file(
    site: Path, release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "R"
    full = next((site / "full_reference").rglob("cine_sax.mat"))
    assert main(["adapt", str(full), "--out", str(out), "--model", str(release)]) == 2
    err = capsys.readouterr().err
    assert "nothing to adapt on" in err and full.name in err
    kus = next(site.rglob("*_kus_Uniform8.mat"))
    assert main(["adapt", str(kus), "--out", str(out), "--model", str(release), "--method", "varnet"]) == 2
    assert "holds a 'cardiomm' model, not 'varnet'" in capsys.readouterr().err
    assert main(["adapt", str(kus), "--out", str(out), "--model", str(release), "--acs", "30"]) == 2
    err = capsys.readouterr().err
    assert "no calibration (ACS) region" in err and kus.name in err
    assert main(["adapt", str(kus), "--out", str(out), "--model", str(release), "--train-only", "bogus"]) == 2
    assert "unknown train-only part" in capsys.readouterr().err
    assert main(["adapt", str(kus), "--out", str(out), "--model", str(release), "--val-fraction", "1"]) == 2
    assert main(["adapt", str(kus), "--out", str(out), "--model", str(release), "--loss-weighting", "w"]) == 2
    assert "loss weighting must be one of none, k" in capsys.readouterr().err
    assert not out.exists()


def test_adapt_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "adapt" in capsys.readouterr().out


def test_cli_defaults_match_the_options() -> None:
    """The CLI repeats the defaults of AdaptOptions / SplitSpec for --help (torch is not imported there):
    they must not drift apart."""
    import inspect

    from cardiomm.cli.adapt import adapt_command
    from cardiomm.training.adapt import AdaptOptions
    from cardiomm.training.ssdu import SplitSpec

    cli = {n: p.default.default for n, p in inspect.signature(adapt_command).parameters.items()}
    o, s = AdaptOptions(), SplitSpec()
    names = ("steps", "lr", "batch_frames", "val_every", "patience", "significance", "seed")
    assert [cli[n] for n in names] == [getattr(o, n) for n in names] and cli["splits"] == o.n_splits
    split = (cli["loss_fraction"], cli["val_fraction"], cli["unit"])
    assert split == (s.loss_fraction, s.val_fraction, s.unit)
