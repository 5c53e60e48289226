#!/usr/bin/env python
"""Re-create the shipped segmentation weights on a CPU: ``acdcunet`` (default) or ``simunet``.

    python scripts/train_segmenter.py acdcunet --acdc ../shared/data/acdc --minutes 70   # real ACDC labels
    python scripts/train_segmenter.py simunet                   # the shipped simunet recipe (--steps 5942)
    python scripts/train_segmenter.py simunet --minutes 35 --out runs/simunet

``acdcunet`` trains on the real ACDC slices of the *train* patients of ``configs/splits/real_anatomy.json``
(validation Dice on its *val* patients; the test patients and Sunnybrook are never read) plus 15 %
phantom frames. ACDC is CC BY-NC-SA 4.0: the weights inherit the non-commercial licence.

``simunet``: the shipped weights are 5,942 steps (a ``--minutes 34`` run, whose budget fixed the step
count after the warm-up); ``--steps 5942``, the default, repeats that run (one thread: the same torch
build repeats the losses exactly; checked on a tiny run by tests/analysis/test_simunet.py).
``--minutes`` derives the step count from the speed of the first steps, so its result depends on the
machine; the model card records the step count, which ``--steps`` then repeats.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from cardiomm.analysis.segmentation.train_unet import TrainConfig, train_unet
from cardiomm.errors import CardiommError

ROOT = Path(__file__).resolve().parents[1]
SPLIT = ROOT / "configs" / "splits" / "real_anatomy.json"


#: acdcunet data options: flag -> (type, default, help); each one set is repeated in the model card's command.
AUGMENTATION_OPTIONS: dict[str, tuple[type, object, str]] = {
    "--p-undersample": (
        float,
        0.0,
        "probability of the undersampling-residual augmentation (realdata.RealDataConfig)",
    ),
    "--p-lowpass": (
        float,
        None,
        "probability of the k-space low-pass augmentation (default: the recipe's 0.5)",
    ),
    "--acq-max-mm": (float, None, "coarsest simulated acquisition pixel [mm] of the low-pass (default: 3.0)"),
    "--recon-pairs": (
        Path,
        None,
        "folder of reconstructions of the train patients (segmenter_recon_pairs.py)",
    ),
    "--p-recon": (
        float,
        None,
        "share of the real frames drawn from --recon-pairs (default: the recipe's 0.5)",
    ),
}


def acdcunet_config() -> TrainConfig:
    """The ``acdcunet`` recipe (architecture, working grid, optimiser)."""
    from cardiomm.analysis.segmentation.realdata import RealDataConfig
    from cardiomm.analysis.segmentation.unet import UNetConfig

    data = RealDataConfig()
    model = UNetConfig(channels=(16, 32, 64, 128, 256), spacing_mm=data.spacing_mm, size=data.size)
    return TrainConfig(
        steps=12000, batch_size=8, lr=2e-3, warmup_steps=50, val_every=500, model=model, data=data.sim
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=("acdcunet", "simunet"), help="which segmenter to train")
    parser.add_argument(
        "--acdc",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "acdc",
        help="ACDC HDF5 folder (acdcunet)",
    )
    parser.add_argument("--out", type=Path, default=None, help="weights folder (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and frames")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="optimiser steps (default: shipped)")
    budget.add_argument("--minutes", type=float, default=None, help="wall-clock budget instead of --steps")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: repeatable)")
    parser.add_argument("--init-from", type=Path, default=None, help="continue from these weights")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    for flag, (kind, default, text) in AUGMENTATION_OPTIONS.items():
        parser.add_argument(flag, type=kind, default=default, help=f"acdcunet: {text}")
    args = parser.parse_args(argv)
    for name in ("p_undersample", "p_lowpass", "p_recon"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:  # also refuses NaN
            parser.error(f"--{name.replace('_', '-')} must be a probability in [0, 1], got {value}")
    if args.acq_max_mm is not None and not 1.4 < args.acq_max_mm <= 10.0:
        parser.error(f"--acq-max-mm must be in (1.4, 10] mm, got {args.acq_max_mm}")
    torch.set_num_threads(args.threads)
    assets = ROOT / "src" / "cardiomm" / "assets" / "segmenters"
    out = args.out if args.out is not None else assets / args.which
    base = acdcunet_config() if args.which == "acdcunet" else TrainConfig()
    config = dataclasses.replace(
        base, seed=args.seed, steps=args.steps or base.steps, minutes=args.minutes, lr=args.lr or base.lr
    )
    budget_arg = f"--minutes {args.minutes:g}" if args.minutes else f"--steps {config.steps}"
    tail = f"{budget_arg} --seed {args.seed} --threads {args.threads}"
    if args.lr:
        tail += f" --lr {args.lr:g}"
    if args.init_from:
        tail += f" --init-from {args.init_from}"
    for flag, (_, default, _) in AUGMENTATION_OPTIONS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and value != default:
            tail += f" {flag} {value:g}" if isinstance(value, float) else f" {flag} {value}"
    command = f"python scripts/train_segmenter.py {args.which} {tail}"
    kwargs: dict = {}
    if args.which == "acdcunet":
        from cardiomm.analysis.segmentation.realdata import (
            RealBatches,
            RealDataConfig,
            load_acdc_slices,
            load_recon_slices,
            plain_slices,
        )

        split = json.loads(SPLIT.read_text())["subjects"]
        cfg = RealDataConfig(p_undersample=args.p_undersample)
        if args.p_lowpass is not None:
            cfg = dataclasses.replace(cfg, p_lowpass=args.p_lowpass)
        if args.acq_max_mm is not None:
            cfg = dataclasses.replace(cfg, acq_spacing_mm=(cfg.acq_spacing_mm[0], args.acq_max_mm))
        if args.p_recon is not None:
            cfg = dataclasses.replace(cfg, p_recon=args.p_recon)
        train = load_acdc_slices(args.acdc, split["train"])
        val = load_acdc_slices(args.acdc, split["val"])
        recon = []
        if args.recon_pairs is not None:
            if not args.recon_pairs.is_dir():
                parser.error(f"--recon-pairs {args.recon_pairs} is not a folder")
            try:
                recon = load_recon_slices(args.recon_pairs, args.acdc, split["train"])
            except CardiommError as exc:
                parser.error(f"--recon-pairs: {exc}")
            if not recon:
                parser.error(f"--recon-pairs {args.recon_pairs} holds no reconstructions of train patients")
        print(
            f"acdcunet: {len(train)} training slices ({len(split['train'])} patients), "
            f"{len(recon)} reconstruction slices, {len(val)} validation slices"
        )
        recon_note = (
            f", and {len(recon)} reconstruction slices of the same patients ({cfg.p_recon:.0%} of the real "
            f"frames; synthesised k-space, undersampled and reconstructed, scripts/segmenter_recon_pairs.py) "
            f"with the expert labels"
            if recon
            else ""
        )
        kwargs = {
            "batches": RealBatches(train, cfg, recon),
            "validation": plain_slices(val, cfg),
            "name": "acdcunet",
            "title": "acdcunet: short-axis segmentation U-Net trained on real ACDC labels",
        }
        extra = {
            "training data": (
                f"{len(train)} real ACDC slices (ED + ES) of the {len(split['train'])} train patients of "
                f"configs/splits/real_anatomy.json, augmented (cardiomm.analysis.segmentation.realdata), "
                f"plus {cfg.p_simulated:.0%} phantom frames{recon_note}"
            ),
            "validation data": f"{len(val)} un-augmented ACDC slices of the {len(split['val'])} val patients",
            "licence": (
                "CC BY-NC-SA 4.0 (inherited from ACDC: research, non-commercial; "
                "Bernard O. et al., IEEE TMI 2018)"
            ),
            "reproduce": command.replace(f"--minutes {args.minutes:g}", "--steps <steps above>")
            if args.minutes
            else command,
        }
    else:
        extra = {}
    np.seterr(all="ignore")
    result = train_unet(
        out,
        config,
        progress=not args.no_progress,
        extra_card={"command": command, **extra},
        init_from=args.init_from,
        **kwargs,
    )
    dice = ", ".join(f"{k} {v:.3f}" for k, v in result.val_dice.items())
    minutes = result.wall_time_s / 60
    print(f"{result.steps} steps in {minutes:.1f} min; validation Dice {dice}; wrote {result.weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
