#!/usr/bin/env python
"""Re-create the shipped ``simunet`` segmentation weights on a CPU (one torch thread).

    python scripts/train_segmenter.py                       # the shipped recipe (fixed step count)
    python scripts/train_segmenter.py --minutes 35 --out runs/simunet   # a time-budgeted run

The shipped weights are 5,942 steps (a ``--minutes 34`` run, whose budget fixed the step count after the
warm-up; see ``src/cardiomm/assets/segmenters/simunet/model_card.md``); ``--steps 5942``, the default,
repeats that run: the step count, seeds and data are fixed, and with one thread the same torch build
repeats the losses exactly (checked on a tiny run by tests/analysis/test_simunet.py). ``--minutes``
instead derives the step count from the speed of the first steps, so its result depends on the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from cardiomm.analysis.segmentation.train_unet import TrainConfig, train_unet
from cardiomm.analysis.segmentation.unet import DEFAULT_WEIGHTS_DIR

#: Step count of the shipped weights.
SHIPPED_STEPS = TrainConfig().steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights folder (default: the shipped one)"
    )
    parser.add_argument("--seed", type=int, default=TrainConfig().seed, help="seed of weights and frames")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=SHIPPED_STEPS, help="optimiser steps (default: shipped)")
    budget.add_argument("--minutes", type=float, default=None, help="wall-clock budget instead of --steps")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1: repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = dataclasses.replace(TrainConfig(), seed=args.seed, steps=args.steps, minutes=args.minutes)
    budget_arg = f"--minutes {args.minutes:g}" if args.minutes else f"--steps {args.steps}"
    command = f"python scripts/train_segmenter.py {budget_arg} --seed {args.seed} --threads {args.threads}"
    result = train_unet(args.out, config, progress=not args.no_progress, extra_card={"command": command})
    dice = ", ".join(f"{k} {v:.3f}" for k, v in result.val_dice.items())
    minutes = result.wall_time_s / 60
    print(f"{result.steps} steps in {minutes:.1f} min; validation Dice {dice}; wrote {result.weights}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
