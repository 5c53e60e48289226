#!/usr/bin/env python
"""Reconstructions of the real-anatomy *training* stacks, for training a segmenter on what it will see.

Each ACDC stack of a ``cardiomm simulate real-anatomy`` training tree is undersampled with one protocol
mask (the patterns taken in turn, a seed per stack), reconstructed by a model, the readout oversampling
cropped, and the magnitude resampled back onto the ACDC slice grid, so that the expert labels of
``../shared/data/acdc`` fit it unchanged (``scripts/train_segmenter.py --recon-pairs DIR``). Only
``TrainingSet`` stacks are read: validation and test subjects stay unseen.

    python scripts/segmenter_recon_pairs.py data/real_train4 --acdc ../shared/data/acdc \\
        --out data/seg_recon_pairs --masks Uniform8 ktGaussian8 ktRadial8

Writes ``OUT/<patient>_<mask>.npz`` (``image``: ``(t, z, y, x)`` float32 on the ACDC grid, ``t`` = ED, ES)
and ``OUT/pairs.json`` (model, masks, the agreement of each stack with its source image). A stack whose
fully sampled image does not match its ACDC source (correlation < 0.95) stops the run: a wrong label
alignment would teach the segmenter wrong answers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

import h5py
import numpy as np
import torch
from skimage.transform import resize

from cardiomm.io import rss_from_kspace
from cardiomm.io.geometry import crop_readout
from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv
from cardiomm.recon.pipeline import MaskSpec, ReconTask, infer_pattern, load_task, reconstruct_volume
from cardiomm.recon.prompts import task_prompts
from cardiomm.recon.registry import get_reconstructor
from cardiomm.sampling import seed_from_string

MIN_CORRELATION = 0.95


def _to_source_grid(vol: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    t, z = vol.shape[:2]
    out = resize(vol.reshape(t * z, *vol.shape[-2:]).transpose(1, 2, 0), shape, order=1, anti_aliasing=False)
    return np.ascontiguousarray(out.transpose(2, 0, 1).reshape(t, z, *shape), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tree", type=Path, help="real-anatomy tree with manifest.json (its TrainingSet)")
    parser.add_argument("--acdc", type=Path, required=True, help="ACDC HDF5 folder (patientNNN.h5)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--method", default="cardiomm", help="reconstruction method (default cardiomm)")
    parser.add_argument("--model", type=Path, default=None, help="release folder (default: shipped)")
    parser.add_argument("--masks", nargs="+", default=["Uniform8", "ktGaussian8", "ktRadial8"])
    parser.add_argument("--per-stack", type=int, default=1, help="masks per stack, taken in turn")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    specs = []
    for token in args.masks:
        m = re.fullmatch(r"([A-Za-z]+)(\d+)", token)
        if m is None:
            parser.error(f"mask {token!r} is not PATTERN+ACCEL, e.g. ktGaussian8")
        specs.append((m.group(1), int(m.group(2))))
    try:
        manifest = json.loads((args.tree / "manifest.json").read_text())
        entries = [(f["split"], f["subject_sha256"], f["path"]) for f in manifest["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        parser.error(f"{args.tree / 'manifest.json'}: not a real-anatomy manifest ({exc!r})")
    patients = {hashlib.sha256(p.stem.encode()).hexdigest()[:16]: p for p in args.acdc.glob("patient*.h5")}
    files = [
        {"subject_sha256": h, "path": rel}
        for split, h, rel in entries
        if split == "TrainingSet" and h in patients
    ]
    if not files:
        parser.error(f"no TrainingSet stack of {args.tree} comes from an ACDC patient of {args.acdc}")
    args.out.mkdir(parents=True, exist_ok=True)
    recon = get_reconstructor(args.method, args.model)
    record: dict = {"method": args.method, "model": str(args.model or "shipped"), "stacks": []}
    turn = 0
    for n, entry in enumerate(files):
        src = patients[entry["subject_sha256"]]
        with h5py.File(src, "r") as f:
            source = np.stack([f[k]["image"][()] for k in ("frame01", "frame02")]).astype(np.float32)
        path = args.tree / entry["path"]
        csv = find_scan_csv(path)
        if csv is None:
            raise SystemExit(f"{path}: no _info.csv next to it (not a real-anatomy tree)")
        nxr = read_scan_csv(csv).recon_matrix_x
        grid = (int(source.shape[-2]), int(source.shape[-1]))
        volume, _ = load_task(
            ReconTask(path, None, Path("unused.mat"), entry["path"], mask_spec=MaskSpec(*specs[0]))
        )
        rss = rss_from_kspace(volume.frames()).view(volume.n_frames, volume.n_slices, volume.ny, volume.nx)
        ref = _to_source_grid(crop_readout(rss.numpy(), nxr), grid)
        corr = float(np.corrcoef(ref.ravel(), source.ravel())[0, 1]) if ref.shape == source.shape else 0.0
        if not corr >= MIN_CORRELATION:  # also NaN (a constant image)
            raise SystemExit(f"{path}: fully sampled image does not match {src} (correlation {corr:.3f})")
        for _ in range(args.per_stack):
            pattern, accel = specs[turn % len(specs)]
            turn += 1
            token = f"{pattern}{accel}"
            target = args.out / f"{src.stem}_{token}.npz"
            spec = MaskSpec(pattern, accel, seed=seed_from_string(f"{src.stem}/{token}"))
            task = ReconTask(path, None, Path("unused.mat"), entry["path"], mask_spec=spec)
            if not target.exists():
                _, mask = load_task(task, volume)
                mask_type, acc = infer_pattern(mask, None, spec)
                meta, us = task_prompts(task, mask_type, acc)
                rec, _ = reconstruct_volume(
                    volume, mask, recon, mask_type=mask_type, acceleration=acc,
                    metadata_prompt=meta, undersampling_prompt=us,
                )  # fmt: skip
                image = _to_source_grid(crop_readout(rec.numpy(), nxr), grid)
                tmp = target.with_suffix(".tmp.npz")
                np.savez(tmp, image=image)
                tmp.replace(target)
            record["stacks"].append({"patient": src.stem, "mask": token, "reference_correlation": corr})
            print(f"[{n + 1}/{len(files)}] {src.stem} {token} (reference correlation {corr:.4f})", flush=True)
    (args.out / "pairs.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
