"""Calibrate a release's output-layer weight per sampling mask on the real-anatomy VALIDATION split.

    python scripts/calibrate_output_layer.py --method cardiomm --release R --out R_calibrated \
        [--val data/real_train4/Cine/ValidationSet] [--report calib.json]

The middle slice of each validation stack (ED and ES frames), all nine protocol masks. Steps and the rule
(`cardiomm.training.calibrate`): sweep the weight over a grid with the network's outputs fixed; per mask
the best PSNR whose SSIM is within 0.005 of the trained layer's; least-squares fit of the mask-dependent
weight; score the fitted model; keep it (write --out) only if the mean PSNR rises, no mask loses more
than 0.05 dB PSNR and none more than 0.005 SSIM. Exit code 0 when written, 3 when the rule refuses.
Never give it a test split.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from cardiomm.io.any_kspace import read_kspace
from cardiomm.io.mat import save_mat
from cardiomm.models.release import load_release, save_release
from cardiomm.recon.learned import LearnedRecon
from cardiomm.recon.pipeline import MaskSpec
from cardiomm.training.calibrate import (
    choose_weights,
    fit_mask_weights,
    sweep_output_weight,
    with_mask_weights,
)

GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3)
MASKS = [MaskSpec(p, a) for p in ("Uniform", "ktGaussian", "ktRadial") for a in (8, 16, 24)]


def middle_slices(val: Path, dst: Path) -> list[Path]:
    """Write the middle slice of every ``cine_sax.mat`` under ``val`` (with its ``_info.csv``) to ``dst``."""
    out = []
    for f in sorted(val.rglob("cine_sax.mat")):
        v = read_kspace(f)
        z = v.kspace.shape[1] // 2
        target = dst / f.relative_to(val)
        save_mat(target, {v.key: v.kspace[:, z : z + 1].contiguous()})
        for info in f.parent.glob("*info.csv"):
            shutil.copy(info, target.parent / info.name)
        out.append(target)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", required=True, choices=("cardiomm", "promptmr", "varnet"))
    ap.add_argument("--release", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--val", type=Path, default=Path("data/real_train4/Cine/ValidationSet"))
    ap.add_argument("--report", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, help="use only the first N stacks (a smoke test)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if "test" in str(args.val).lower():
        print("refusing a path that names a test split", file=sys.stderr)
        return 2
    loaded = load_release(args.release)
    recon = LearnedRecon.from_checkpoint(args.method, args.release)

    def show(row: object) -> None:
        print(f"  {row.mask:<13} lam={row.lam!s:<6} PSNR {row.psnr:.3f} SSIM {row.ssim:.4f}", flush=True)  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        files = middle_slices(args.val, Path(tmp))[: args.limit]
        print(f"{len(files)} validation stacks (middle slice); sweep:", flush=True)
        rows = sweep_output_weight(recon, files, MASKS, GRID, progress=show)
        chosen = choose_weights(rows)
        lam0, w = fit_mask_weights(rows, chosen)
        calibrated = with_mask_weights(loaded.model, lam0, w)
        fitted = {m: lam0 * float(np.exp(10 * (w[0] * r.features[0] + w[1] * r.features[1])))
                  for m, r in {r.mask: r for r in rows}.items()}  # fmt: skip
        print(
            f"chosen {chosen}\nfit lam0 {lam0:.4f} w {w} -> {fitted}\nscoring the fitted layer:", flush=True
        )
        check = LearnedRecon(args.method, calibrated, recon.encoder)
        after = sweep_output_weight(check, files, MASKS, (), progress=show)
    before = {r.mask: r for r in rows if r.lam == "model"}
    d_psnr = {r.mask: r.psnr - before[r.mask].psnr for r in after}
    d_ssim = {r.mask: r.ssim - before[r.mask].ssim for r in after}
    keep = (
        float(np.mean(list(d_psnr.values()))) > 0
        and min(d_psnr.values()) >= -0.05
        and min(d_ssim.values()) >= -0.005
    )
    report = {
        "release": str(args.release), "method": args.method, "grid": GRID,
        "sweep": [r.__dict__ for r in rows], "chosen": chosen, "lam0": lam0, "weights": w,
        "fitted_lam": fitted, "delta_psnr": d_psnr, "delta_ssim": d_ssim, "kept": keep,
    }  # fmt: skip
    if args.report:
        args.report.write_text(json.dumps(report, indent=1))
    for m in d_psnr:
        print(f"  {m:<13} PSNR {d_psnr[m]:+.3f} dB, SSIM {d_ssim[m]:+.4f}")
    if not keep:
        print("rule refuses the calibration: nothing written")
        return 3
    card = {k: v for k, v in loaded.card.items() if k not in ("output", "parameters", "created_utc")}
    card["output_calibration"] = {
        "lam0": round(lam0, 5), "weights": [round(x, 5) for x in w], "validation_masks": list(d_psnr),
        "delta_psnr_db": {k: round(v, 3) for k, v in d_psnr.items()},
        "delta_ssim": {k: round(v, 4) for k, v in d_ssim.items()},
        "script": "scripts/calibrate_output_layer.py",
    }  # fmt: skip
    save_release(args.out, calibrated, card)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
