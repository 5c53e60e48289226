"""Phenotype and biomarker agreement of reconstruction methods at 8x / 16x / 24x on simulated data.

Simulates several ``small`` Cine + Mapping trees (seeds not used for training the shipped models), drops
the centers the paper excluded from its phenotype analysis, reconstructs every short-axis cine, T1map and
T2map test mask of the chosen patterns (Uniform, ktGaussian, ktRadial at 8x / 16x / 24x) with the chosen
methods (default: CardioMM, its no-text PromptMR-style twin, and zero filling as the floor), segments cine
references and reconstructions with one segmenter, fits T1 / T2 in the true myocardium (mid-wall ROI),
and writes the agreement report (``report.md``, CSV tables, radar, scatter and Bland-Altman figures).

    python scripts/agreement_report.py --out data/agreement --seeds 1 2 3 4 \\
        --methods cardiomm promptmr zf --segmenter simunet

Seeds are independent subjects; case names are prefixed with ``s<seed>/``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import pandas as pd

from cardiomm.analysis.agreement_report import write_agreement_report
from cardiomm.analysis.cine_tree import PAPER_EXCLUSIONS, cine_phenotype_tables, is_excluded
from cardiomm.analysis.mapping_tree import mapping_biomarker_tables
from cardiomm.analysis.segmentation import get_segmenter
from cardiomm.cli.main import main as cli


def _drop_excluded(tree: Path) -> None:
    for folder in sorted(tree.glob("*/TestSet/*/*/*")):
        if folder.is_dir() and is_excluded(folder.relative_to(tree)):
            shutil.rmtree(folder)


def _simulate(tree: Path, seed: int, modality: str, drop_excluded: bool) -> None:
    if (tree / "manifest.json").is_file():
        return
    argv = [
        "simulate",
        "mini",
        str(tree),
        "--size",
        "small",
        "--seed",
        str(seed),
        "--modality",
        modality,
        "--no-progress",
    ]
    if cli(argv):
        raise SystemExit(f"simulate {modality} failed for seed {seed}")
    if drop_excluded:
        _drop_excluded(tree)


def _reconstruct(tree: Path, recon: Path, methods: list[str], include: list[str]) -> None:
    args = [a for g in include for a in ("--include", g)]
    for method in methods:
        done = recon / method / ".complete"
        if not done.is_file():
            if cli(["reconstruct", str(tree), "--out", str(recon), "--method", method, "--overwrite", *args]):
                raise SystemExit(f"reconstruct ({method}) failed for {tree}")
            done.touch()


def run(
    out: Path,
    seeds: list[int],
    methods: list[str],
    segmenter: str,
    patterns: list[str],
    prepare_only: bool = False,
) -> Path | None:
    seg = None if prepare_only else get_segmenter(segmenter)
    all_pairs, all_truth = [], []
    timings = {"simulate": 0.0, "reconstruct": 0.0, "analyse": 0.0}
    for s in seeds:
        # cine: the paper's phenotyping exclusions; mapping: every center (the mapping test scans of the
        # small preset sit at the centers the cine protocol excludes)
        cine, cine_recon = out / f"sim_s{s}", out / f"recon_s{s}"
        maps, maps_recon = out / f"map_s{s}", out / f"recon_map_s{s}"
        t0 = time.perf_counter()
        _simulate(cine, s, "Cine", drop_excluded=True)
        _simulate(maps, s, "Mapping", drop_excluded=False)
        t1 = time.perf_counter()
        _reconstruct(cine, cine_recon, methods, [f"cine_sax_mask_{p}[0-9]*.mat" for p in patterns])
        _reconstruct(maps, maps_recon, methods, [f"T?map_mask_{p}[0-9]*.mat" for p in patterns])
        t2 = time.perf_counter()
        if seg is None:
            print(f"seed {s}: simulate {t1 - t0:.0f} s, reconstruct {t2 - t1:.0f} s", flush=True)
            continue
        for pairs, truth in (
            cine_phenotype_tables(cine_recon, cine, seg, exclusions=PAPER_EXCLUSIONS),
            mapping_biomarker_tables(maps_recon, maps),
        ):
            pairs["case"] = f"s{s}/" + pairs["case"]
            truth["case"] = f"s{s}/" + truth["case"]
            all_pairs.append(pairs)
            all_truth.append(truth)
        t3 = time.perf_counter()
        for k, dt in zip(timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            timings[k] += dt
        print(
            f"seed {s}: simulate {t1 - t0:.0f} s, reconstruct {t2 - t1:.0f} s, "
            f"segment + phenotypes + maps {t3 - t2:.0f} s",
            flush=True,
        )
    if seg is None:
        return None
    notes = (
        f"Methods {', '.join(f'`{m}`' for m in methods)}, segmenter `{segmenter}`, simulated `small` Cine "
        f"and Mapping trees with seeds {seeds} (cine: paper exclusions {', '.join(PAPER_EXCLUSIONS)}; "
        f"mapping: all centers). Produced by "
        f"`python scripts/agreement_report.py`; wall time "
        + ", ".join(f"{k} {v / 60:.1f} min" for k, v in timings.items())
        + " on this machine."
    )
    return write_agreement_report(
        pd.concat(all_pairs, ignore_index=True),
        pd.concat(all_truth, ignore_index=True),
        out / "report",
        notes=notes,
    )


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/agreement"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--methods", nargs="+", default=["cardiomm", "promptmr", "zf"])
    ap.add_argument("--segmenter", default="simunet")
    ap.add_argument("--patterns", nargs="+", default=["Uniform", "ktGaussian", "ktRadial"])
    ap.add_argument("--prepare-only", action="store_true", help="Only simulate and reconstruct.")
    return ap.parse_args()


if __name__ == "__main__":
    a = _parse()
    print(run(a.out, a.seeds, a.methods, a.segmenter, a.patterns, a.prepare_only))
