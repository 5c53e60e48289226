"""Zero-shot vs self-supervised adaptation (``cardiomm adapt``) on one undersampled scan.

The fully sampled file is read once, to write the site's undersampled file ``<name>_kus_<P><R>.mat``
(``kus = k * mask``) into a temporary folder (removed at the end) and the evaluation reference. The
adaptation itself reads the ``kus`` file alone. Every ``--val-every`` steps the current weights
reconstruct the whole scan, which gives the curve of quality against steps next to the validation loss
that stops the run.

Run::

    M=data/mini_small/Cine/TestSet/Mask_TaskAll/Center012/UIH_50T_Jupiter/P001
    nice -n 10 .venv/bin/python benchmarks/bench_adapt.py $M/cine_sax_mask_ktGaussian8.mat \\
        --steps 60 --threads 2 --json result.json
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _psnr_ssim(gt: torch.Tensor, pred: torch.Tensor) -> tuple[float, float]:
    from cardiomm.evaluation import frame_metrics

    g = gt.reshape(-1, *gt.shape[-2:]).numpy()
    p = pred.reshape(-1, *pred.shape[-2:]).numpy()
    ms = [frame_metrics(a, b) for a, b in zip(g, p, strict=True)]
    return float(np.mean([m.psnr for m in ms])), float(np.mean([m.ssim for m in ms]))


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark for one TestSet mask file; print and return the numbers."""
    from cardiomm.io import read_kspace, read_mask, save_mat
    from cardiomm.layout import scan_stem
    from cardiomm.models.release import load_release
    from cardiomm.physics.coil_combine import rss
    from cardiomm.physics.fft import ifft2c
    from cardiomm.recon.learned import LearnedRecon, shipped_checkpoint
    from cardiomm.recon.pipeline import mask_file_to_fullsample, reconstruct_volume
    from cardiomm.text import get_encoder
    from cardiomm.training.adapt import AdaptOptions, adapt_model, make_predict
    from cardiomm.training.adapt_data import load_scans
    from cardiomm.training.freeze import apply_train_only
    from cardiomm.training.ssdu import SplitSpec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mask_file", type=Path)
    ap.add_argument("--method", default="cardiomm")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--val-every", type=int, default=10)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--splits", type=int, default=2)
    ap.add_argument("--batch-frames", type=int, default=1)
    ap.add_argument("--unit", default="auto")
    ap.add_argument("--std-scale", type=float, default=4.0)
    ap.add_argument("--train-only", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--acs", type=int, default=20, help="calibration lines of the mask (16: CMRxRecon 2024)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    full = mask_file_to_fullsample(args.mask_file)
    vol = read_kspace(full)
    mask = read_mask(args.mask_file).bool()
    gt = rss(ifft2c(vol.kspace), dim=2)  # (t, z, y, x) reference, evaluation only
    tmp = Path(tempfile.mkdtemp(prefix="bench_adapt_"))
    # the site's data: a kus file in a mirrored tree (path metadata kept for the prompt), nothing else
    rel = args.mask_file.parts[args.mask_file.parts.index("Mask_TaskAll") + 1 :]
    token = args.mask_file.stem.split("_mask_")[-1]
    kus_name = f"{scan_stem(args.mask_file.name)}_kus_{token}.mat"
    kus_path = tmp.joinpath("UnderSample_TaskAll", *rel[:-1], kus_name)
    kus_path.parent.mkdir(parents=True)
    kus = (vol.kspace * mask[:, None, None]).numpy()
    save_mat(kus_path, {"kus": kus})
    del vol, kus

    source = args.model or shipped_checkpoint(args.method)
    release = load_release(source)
    model = release.model
    encoder = get_encoder(release.config.text_encoder) if release.kind == "cardiomm" else None
    options = AdaptOptions(
        steps=args.steps, lr=args.lr, val_every=args.val_every, patience=args.patience,
        n_splits=args.splits, batch_frames=args.batch_frames, seed=args.seed, train_only=args.train_only,
        split=SplitSpec(unit=args.unit, std_scale=args.std_scale),
    )  # fmt: skip
    counts = apply_train_only(model, options.train_only)
    scans = load_scans(tmp / "UnderSample_TaskAll", n_acs=args.acs, spec=options.split, seed=options.seed)
    scan = scans[0]
    kvol = read_kspace(kus_path)  # the undersampled file, as `cardiomm reconstruct` reads it
    recon = LearnedRecon(release.kind, model, encoder)

    def quality() -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            pred, _ = reconstruct_volume(
                kvol, scan.masks.view(scan.shape[0], scan.shape[1], *scan.shape[-2:])[:, 0],
                recon, mask_type=scan.mask_type, acceleration=scan.acceleration, n_acs=scan.n_acs,
                metadata_prompt=scan.metadata_prompt, undersampling_prompt=scan.undersampling_prompt,
            )  # fmt: skip
        return _psnr_ssim(gt, pred)

    from cardiomm.training.ssdu import ssdu_loss

    predict = make_predict(release.kind, encoder, "cpu")
    dc_frames = list(range(0, scan.n_frames, max(1, scan.n_frames // 8)))

    def dc_error() -> float:
        """k-space loss of the final estimate at the acquired locations (input: all of them)."""
        model.eval()
        with torch.no_grad():
            k = scan.kspace(dc_frames)
            m = scan.masks[dc_frames][:, None]
            return float(ssdu_loss(predict(model, scan, k * m, m), k, m))

    zs = quality()
    curve: list[dict[str, object]] = []
    eval_time = [0.0]

    def on_eval(point: object) -> None:
        t0 = time.perf_counter()
        psnr, ssim = quality()
        eval_time[0] += time.perf_counter() - t0
        row = {**point.__dict__, "psnr": round(psnr, 3), "ssim": round(ssim, 4)}
        row["dc_err"] = round(dc_error(), 5)
        curve.append(row)
        print(json.dumps(row), flush=True)

    t0 = time.perf_counter()
    result = adapt_model(model, scans, predict, options, on_eval=on_eval)
    wall = time.perf_counter() - t0 - eval_time[0]
    adapted = quality()
    out = {
        "file": "/".join(rel),
        "method": release.kind,
        "shape_tzcyx": list(scan.shape),
        "pattern": f"{scan.mask_type} R{scan.acceleration}",
        "zero_shot": {"psnr": round(zs[0], 3), "ssim": round(zs[1], 4)},
        "adapted": {"psnr": round(adapted[0], 3), "ssim": round(adapted[1], 4)},
        "gain_db": round(adapted[0] - zs[0], 3),
        "steps_run": result.steps_run,
        "released_step": result.best_step,
        "stop_reason": result.stop_reason,
        "adapt_wall_s": round(wall, 1),
        "s_per_step": round(wall / max(result.steps_run, 1), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "trainable": counts["trainable"],
        "threads": args.threads,
        "options": {k: v for k, v in vars(args).items() if k not in ("mask_file", "json", "model")},
        "curve": curve,
    }
    print(json.dumps({k: v for k, v in out.items() if k != "curve"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
