#!/usr/bin/env python
"""How the basal-slice rule decides which end is basal and which frames are ED / ES, checked against the
ACDC expert labels of patients outside the real-anatomy test split.

Two choices of :mod:`cardiomm.analysis.basal` and :func:`cardiomm.analysis.phenotypes.compute_phenotypes`
are compared with what they replaced (issue 15):

1. **Basal end**: one frame decides (the one with the largest LV volume, :func:`basal_end_first`; the former
   rule) or every frame votes (:func:`basal_end_of_frames`; today). Measured on the end-diastolic and
   end-systolic stacks of every non-test ACDC patient, segmented by the default segmenter: LV EDV, ESV and
   mass against the expert labels (nominal spacing; the ratios do not depend on it), and the slices each
   variant would take from the expert labels themselves.
2. **ED / ES frames**: the extreme LV volumes after the rule (former) or before it (today). ACDC gives two
   frames, so each is repeated ``--copies`` times with independent perturbations (Gaussian noise of
   ``--noise`` x the 99th percentile, a random shift of up to half a pixel): the copies segment slightly
   differently, as neighbouring cine frames do, and the smallest volume over them picks whichever copy
   lost a borderline basal slice. The first ``--pseudo`` patients (validation, then training) are used.

    python scripts/basal_rule_validation.py --acdc ../shared/data/acdc

prints the two tables (mean |error| in % against the expert volumes, and the mean signed ESV error). The
test patients of ``configs/splits/real_anatomy.json`` are never read.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import shift as nd_shift

from cardiomm.analysis.basal import apply_basal_rule, basal_end_first, basal_end_of_frames
from cardiomm.analysis.labels import LV, MYO
from cardiomm.analysis.segmentation import get_segmenter
from cardiomm.analysis.segmentation.evaluate import ACDC_NOMINAL_SPACING_MM
from cardiomm.analysis.segmentation.realdata import ACDC_TO_CARDIOMM

REPO = Path(__file__).resolve().parents[1]
SPLIT = REPO / "configs" / "splits" / "real_anatomy.json"
VOXEL_ML = float(np.prod(ACDC_NOMINAL_SPACING_MM)) / 1000.0
MYO_DENSITY = 1.05

Labels = NDArray[np.uint8]


def one_frame_end(lab: Labels) -> bool:
    """The former choice: the basal end of the frame with the largest LV volume."""
    return basal_end_first(lab[int(np.argmax((lab == LV).sum(axis=(1, 2, 3))))])


def measure(lab: Labels, end: Callable[[Labels], bool], phases_before_rule: bool) -> NDArray[np.float64]:
    """``[LVEDV, LVESV, LVM]`` (mL, mL, g) of a ``(t, z, y, x)`` segmentation under one variant."""
    out, _ = apply_basal_rule(lab, base_first=end(lab))
    lv = (out == LV).sum(axis=(1, 2, 3)) * VOXEL_ML
    pick = (lab == LV).sum(axis=(1, 2, 3)) if phases_before_rule else lv
    ed, es = int(np.argmax(pick)), int(np.argmin(pick))
    return np.array([lv[ed], lv[es], (out[ed] == MYO).sum() * VOXEL_ML * MYO_DENSITY])


def load(root: Path, pid: str) -> tuple[list[NDArray[np.float32]], Labels]:
    """ED and ES images and the expert labels ``(2, z, y, x)`` in cardiomm codes."""
    with h5py.File(root / f"{pid}.h5", "r") as f:
        images = [np.asarray(f[k]["image"][()], np.float32) for k in ("frame01", "frame02")]
        labels = np.stack([ACDC_TO_CARDIOMM[np.asarray(f[k]["label"][()])] for k in ("frame01", "frame02")])
    return images, labels


def expert(labels: Labels) -> NDArray[np.float64]:
    """``[EDV, ESV, LVM]`` of the expert labels (frame 0 = ED, frame 1 = ES, no rule)."""
    lv = (labels == LV).sum(axis=(1, 2, 3)) * VOXEL_ML
    return np.array([lv[0], lv[1], (labels[0] == MYO).sum() * VOXEL_ML * MYO_DENSITY])


def perturbed(image: NDArray[np.float32], rng: np.random.Generator, noise: float) -> NDArray[np.float32]:
    """One copy of a ``(z, y, x)`` stack: shifted by up to half a pixel, with Gaussian noise."""
    s = rng.uniform(-0.5, 0.5, 2)
    moved = np.stack([nd_shift(sl, s, order=1, mode="nearest") for sl in image])
    scale = noise * float(np.percentile(image, 99))
    return np.clip(moved + rng.normal(0.0, scale, moved.shape), 0, None).astype(np.float32)


def table(title: str, errors: dict[str, list[NDArray[np.float64]]], removed: dict[str, int]) -> None:
    print(f"\n{title}\n")
    print("| variant | EDV | ESV | LVM | ESV signed | slices taken from the expert labels |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rows in errors.items():
        e = np.array(rows)
        a = np.abs(e).mean(axis=0)
        print(f"| {name} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} | {e[:, 1].mean():+.2f} | {removed[name]} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--acdc", type=Path, default=REPO.parent / "shared" / "data" / "acdc")
    parser.add_argument("--pseudo", type=int, default=30, help="patients for the pseudo-cines")
    parser.add_argument("--copies", type=int, default=3, help="copies of each frame in a pseudo-cine")
    parser.add_argument("--noise", type=float, default=0.04, help="noise sigma / 99th percentile")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    subjects = json.loads(SPLIT.read_text())["subjects"]
    val = [p for p in subjects["val"] if p.startswith("patient")]
    train = sorted(p for p in subjects["train"] if p.startswith("patient"))
    seg = get_segmenter()

    ends = {"one frame decides": one_frame_end, "every frame votes": basal_end_of_frames}
    errors: dict[str, list[NDArray[np.float64]]] = {k: [] for k in ends}
    removed = dict.fromkeys(ends, 0)
    for pid in val + train:
        images, labels = load(args.acdc, pid)
        lab = np.stack([seg.segment(im, ACDC_NOMINAL_SPACING_MM) for im in images]).astype(np.uint8)
        ref = expert(labels)
        for name, end in ends.items():
            errors[name].append(100 * (measure(lab, end, False) / ref - 1))
            removed[name] += len(apply_basal_rule(labels, base_first=end(labels))[1])
    table(
        f"Basal end: {len(val + train)} non-test ACDC patients, ED + ES, error in % of the expert volumes",
        errors,
        removed,
    )

    rng = np.random.default_rng(args.seed)
    phases = {"ED / ES after the rule": False, "ED / ES before the rule": True}
    errors = {k: [] for k in phases}
    removed = dict.fromkeys(phases, 0)
    for pid in (val + train)[: args.pseudo]:
        images, labels = load(args.acdc, pid)
        copies = [perturbed(im, rng, args.noise) for im in images for _ in range(args.copies)]
        lab = np.stack([seg.segment(c, ACDC_NOMINAL_SPACING_MM) for c in copies]).astype(np.uint8)
        ref = expert(labels)
        for name, before in phases.items():
            errors[name].append(100 * (measure(lab, basal_end_of_frames, before) / ref - 1))
            removed[name] += len(apply_basal_rule(labels, base_first=basal_end_of_frames(labels))[1])
    table(
        f"ED / ES frames: {args.pseudo} pseudo-cines of {2 * args.copies} frames (every frame votes)",
        errors,
        removed,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
