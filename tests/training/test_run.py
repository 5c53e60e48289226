"""``cardiomm train`` end to end on a tiny tree: config checks, release + card, resume continues the
step count."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import ConfigError
from cardiomm.models.release import load_release, save_release
from cardiomm.training.config import load_config
from cardiomm.training.run import train

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"


def _sets(tree: Path, out: Path, **extra: object) -> list[str]:
    values = {
        "data.data": tree, "data.val_from": "split", "data.val_fraction": 0.5, "data.max_train_frames": 6,
        "data.max_val_frames": 2, "data.max_test_frames": 2, "run.output_dir": out, "run.threads": 1,
        "trainer.log_every_n_steps": 1, **extra,
    }  # fmt: skip
    args: list[str] = []
    for key, value in values.items():
        args += ["--set", f"{key}={value}"]
    return args


def test_config_rejects_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model option"):
        load_config(CONFIG, ["model.learning_rate=1"])
    with pytest.raises(ConfigError, match="unknown trainer option"):
        load_config(CONFIG, ["trainer.epochs=1"])
    with pytest.raises(ConfigError, match="must start with"):
        load_config(CONFIG, ["max_steps=1"])
    cfg = load_config(CONFIG, ["trainer.max_steps=7", "data.accelerations=[4, 8]", "run.output_dir=x"])
    assert cfg.trainer["max_steps"] == 7 and cfg.data["accelerations"] == [4, 8]
    assert Path(cfg.run.output_dir).is_absolute()
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2


def test_train_writes_release_and_resume_continues(tiny_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    rc = main(["train", "--config", str(CONFIG), *_sets(tiny_tree, out, **{"trainer.max_steps": 3})])
    assert rc == 0
    card = json.loads((out / "metrics.json").read_text())
    assert card["optimizer_steps"] == 3
    for key in ("loss", "psnr", "ssim", "zf_psnr", "zf_ssim"):
        assert key in card["val_start"] and key in card["val_final"] and key in card["test_final"]
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert list((out / "tb").glob("events.out.tfevents.*")) or (out / "tb" / "metrics.csv").is_file()
    release = load_release(out / "release")
    assert release.kind == "cardiomm" and release.card["optimizer_steps"] == 3
    assert "val_final" in (out / "release" / "model_card.md").read_text()

    rc = main(
        ["train", "--config", str(CONFIG), "--resume", *_sets(tiny_tree, out, **{"trainer.max_steps": 5})]
    )
    assert rc == 0
    assert json.loads((out / "metrics.json").read_text())["optimizer_steps"] == 5
    assert main(["train", "--config", str(CONFIG), "--resume", *_sets(tiny_tree, tmp_path / "none")]) == 2


class _Crash(L.Callback):
    """Simulate a crash before the 4th optimiser step."""

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == 3:
            raise RuntimeError("simulated crash")


def test_mid_epoch_resume_replays_nothing(tiny_tree: Path, tmp_path: Path) -> None:
    def config(out: Path):
        sets = [f"{k}={v}" for k, v in {
            "data.data": tiny_tree, "data.val_from": "split", "data.val_fraction": 0.5,
            "data.max_train_frames": 6, "data.max_val_frames": 1, "data.max_test_frames": 0,
            "run.threads": 1, "run.log_samples": True,
            "run.validate_before_fit": False, "run.every_n_train_steps": 1, "run.release": False,
            "trainer.max_epochs": 3, "trainer.max_steps": 8, "run.output_dir": out,
        }.items()]  # fmt: skip
        return load_config(CONFIG, sets)

    crashed = config(tmp_path / "crashed")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(crashed, callbacks=[_Crash()])
    train(crashed, resume=True)
    reference = config(tmp_path / "reference")
    train(reference)
    lines = (tmp_path / "crashed" / "samples" / "rank0.txt").read_text().split()
    pairs = list(zip(lines[::2], lines[1::2], strict=True))
    del pairs[3]  # the batch the crash interrupted (logged, never trained)
    ref = (tmp_path / "reference" / "samples" / "rank0.txt").read_text().split()
    assert pairs == list(zip(ref[::2], ref[1::2], strict=True))  # same frames, same order, no replay


def test_init_from_copies_release_weights(tiny_tree: Path, tmp_path: Path) -> None:
    """``run.init_from`` starts from a release's weights (validation before fit equals the release's
    final validation); another model kind is a typed error naming the release."""
    import torch

    from cardiomm.errors import CheckpointError
    from cardiomm.training.module import ReconModule
    from cardiomm.training.run import init_weights

    first = tmp_path / "first"
    assert main(["train", "--config", str(CONFIG), *_sets(tiny_tree, first, **{"trainer.max_steps": 2})]) == 0
    second = tmp_path / "second"
    rc = main(
        [
            "train",
            "--config",
            str(CONFIG),
            "--init-from",
            str(first / "release"),
            *_sets(tiny_tree, second, **{"trainer.max_steps": 1}),
        ]
    )
    assert rc == 0
    card1 = json.loads((first / "metrics.json").read_text())
    card2 = json.loads((second / "metrics.json").read_text())
    assert card2["val_start"]["loss"] == pytest.approx(card1["val_final"]["loss"], rel=1e-5)
    assert card2["initialised_from"] == str(first / "release")
    module = ReconModule(model="cardiomm", preset="tiny", text_encoder="hash")
    init_weights(module, first / "release")
    released = load_release(first / "release").model.state_dict()
    for key, value in module.model.state_dict().items():
        torch.testing.assert_close(value, released[key])
    with pytest.raises(CheckpointError, match="varnet"):
        init_weights(ReconModule(model="varnet", preset="small"), first / "release")
    with pytest.raises(CheckpointError, match="preset"):
        init_weights(ReconModule(model="cardiomm", preset="small"), first / "release")
    # a run may add the trained SENSE output layer: every other weight comes from the release
    with_dc = ReconModule(
        model="cardiomm", preset="tiny", text_encoder="hash", model_overrides={"output_dc": "sense"}
    )
    init_weights(with_dc, first / "release")
    for key, value in with_dc.model.state_dict().items():
        if key == "output_dc.lam":
            assert float(value) == pytest.approx(0.05)
        else:
            torch.testing.assert_close(value, released[key])
    # ... and make a release's fixed weight mask-dependent: lam kept, the mask weights start at zero
    dc_release = tmp_path / "with_dc"
    masked = ReconModule(
        model="cardiomm", preset="tiny", text_encoder="hash", model_overrides={"output_dc": "sense-mask"}
    )
    with torch.no_grad():
        with_dc.model.output_dc.lam.fill_(0.2)
    save_release(dc_release, with_dc.model)
    init_weights(masked, dc_release)
    for key, value in masked.model.state_dict().items():
        if key == "output_dc.lam_weights":
            assert float(value.abs().max()) == 0.0
        elif key == "output_dc.lam":
            assert float(value) == pytest.approx(0.2)
        else:
            torch.testing.assert_close(value, released[key])
    # ... or noise-scaled: lam kept as lam_0 (no new parameter)
    noisy = ReconModule(
        model="cardiomm", preset="tiny", text_encoder="hash", model_overrides={"output_dc": "sense-noise"}
    )
    init_weights(noisy, dc_release)
    assert noisy.model.output_dc.noise_scaled
    assert float(noisy.model.output_dc.lam) == pytest.approx(0.2)
    for key, value in noisy.model.state_dict().items():
        if key != "output_dc.lam":
            torch.testing.assert_close(value, released[key])
    floored = ReconModule(  # ... with a floor on the weight (it holds no weights)
        model="cardiomm", preset="tiny", text_encoder="hash",
        model_overrides={"output_dc": "sense-noise", "output_dc_floor": 0.02},
    )  # fmt: skip
    init_weights(floored, dc_release)
    assert floored.model.output_dc.floor == 0.02 and float(floored.model.output_dc.lam) == pytest.approx(0.2)
    save_release(tmp_path / "floored", floored.model)  # and back: a run may drop or change the floor
    init_weights(noisy, tmp_path / "floored")
    assert noisy.model.output_dc.floor == 0.0
    with pytest.raises(CheckpointError, match="preset"):  # but never the other way round
        init_weights(ReconModule(model="cardiomm", preset="tiny", text_encoder="hash"), dc_release)
    save_release(tmp_path / "noisy", noisy.model)
    with pytest.raises(CheckpointError, match="preset"):  # nor from one adaptive weight to another
        init_weights(masked, tmp_path / "noisy")
    with pytest.raises(CheckpointError, match="preset"):  # the layer does not excuse other changes
        init_weights(
            ReconModule(model="cardiomm", preset="tiny", text_encoder="hash",
                        model_overrides={"output_dc": "sense", "n_cascades": 3}),
            first / "release",
        )  # fmt: skip


def test_resume_refuses_a_checkpoint_that_runs_code(tiny_tree: Path, tmp_path: Path) -> None:
    """A crafted ``last.ckpt`` whose unpickling would run code is refused with a typed error; nothing runs."""
    import torch

    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # noqa: ANN204 - pickle protocol
            import os

            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "x": Payload()}, out / "checkpoints" / "last.ckpt")
    rc = main(
        ["train", "--config", str(CONFIG), "--resume", *_sets(tiny_tree, out, **{"trainer.max_steps": 2})]
    )
    assert rc == 2 and not marker.exists()


def test_train_only_trains_the_named_parts(tiny_tree: Path, tmp_path: Path) -> None:
    """``--train-only heads`` (``run.train_only``): fine-tuning changes the projection heads and nothing
    else; the card records the parts; an unknown part is a config error."""
    import torch
    from safetensors.torch import load_file

    with pytest.raises(ConfigError, match="run.train_only"):
        load_config(CONFIG, ["run.train_only=decoder"])
    assert load_config(CONFIG, ["run.train_only=heads,last:1"]).run.train_only == "heads,last:1"
    first = tmp_path / "first"
    assert main(["train", "--config", str(CONFIG), *_sets(tiny_tree, first, **{"trainer.max_steps": 1})]) == 0
    second = tmp_path / "second"
    args = ["train", "--config", str(CONFIG), "--init-from", str(first / "release"), "--train-only", "heads"]
    assert main([*args, *_sets(tiny_tree, second, **{"trainer.max_steps": 2, "model.lr": 0.05})]) == 0
    before = load_file(str(first / "release" / "model.safetensors"))
    after = load_file(str(second / "release" / "model.safetensors"))
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("lm_head_meta.", "lm_head_us.")) for k in changed)
    card = json.loads((second / "metrics.json").read_text())
    heads = sum(v.numel() for k, v in before.items() if k.startswith("lm_head"))
    assert card["trained_parts"]["spec"] == "heads" and card["trained_parts"]["trainable"] == heads


def test_run_logger_falls_back_to_csv_without_tensorboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from lightning.pytorch.loggers import CSVLogger

    from cardiomm.training.run import run_logger

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n.startswith("tensorboard") else real(n, *a)
    )
    logger = run_logger(tmp_path)
    assert isinstance(logger, CSVLogger)
    logger.log_metrics({"val/psnr": 31.5}, step=7)
    logger.save()
    text = (tmp_path / "tb" / "metrics.csv").read_text().splitlines()
    assert text[0].split(",") == ["step", "val/psnr"] and text[1].split(",") == ["7", "31.5"]
