"""Real-anatomy benchmark: every method on the project's real-anatomy test split, by the protocol.

The test split (``configs/splits/real_anatomy.json``: 15 ACDC patients, 3 per pathology group, and the 3
Sunnybrook subjects; never used for training or model selection) is turned into k-space by
``cardiomm simulate real-anatomy`` over all six synthetic centers (five internal, one external: a Canon
1.5 T two-ring array seen nowhere in training), both frames (ED / ES; two frames spread over the cycle for
the 20-phase Sunnybrook cine), every slice. Each method reconstructs every file under the nine protocol
masks (Uniform / ktGaussian / ktRadial at 8x / 16x / 24x, ACS 20); PSNR / SSIM / NMSE per the CMRxRecon2025
/ CardioMM protocol. The real CMRxRecon single-coil slice with its official Uniform8 mask is scored too.

Writes ``docs/real_anatomy_benchmark.md`` (tables, margins, per-method example images with error maps under
``docs/figures/real_anatomy/``) and returns the BENCHMARKS.md section.

    python benchmarks/run.py real_anatomy

Environment: ``CARDIOMM_REAL_SLICES=N`` keeps N slices per stack (a quicker subset; default all);
``CARDIOMM_REAL_MODELS="cardiomm=runs/x/release,varnet=..."`` scores other checkpoints than the shipped
ones; ``CARDIOMM_REAL_METHODS=zf,sense,...`` scores a subset of the methods (default all). Needs
``../shared/data`` (or ``CARDIOMM_SHARED_DATA``); without it the section says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from cardiomm.demo import DEMO_METHODS  # noqa: E402
from cardiomm.evaluation.aggregate import group_table, markdown_table  # noqa: E402
from cardiomm.utils.shared_data import shared_data_dir  # noqa: E402

SPLIT = ROOT / "configs" / "splits" / "real_anatomy.json"
DOC = ROOT / "docs" / "real_anatomy_benchmark.md"
FIGURES = ROOT / "docs" / "figures" / "real_anatomy"
WORK = ROOT / "data"
PHASE_NOTE = (
    "Real images carry a phase that changes from tissue to tissue (fat's chemical shift in bSSFP, flow, "
    "susceptibility), with steps at tissue boundaries; the original split has only a smooth phase and "
    'bSSFP bands, and so rewards models that learned a smooth phase (`docs/real_anatomy.md`, "Tissue '
    'phase"). This split is the same k-space with a tissue phase of up to the stated amplitude added, '
    "each subject with its own draw."
)


def _models() -> dict[str, str]:
    spec = os.environ.get("CARDIOMM_REAL_MODELS", "")
    return dict(item.split("=", 1) for item in spec.split(",") if "=" in item)


def build_test_tree(shared: Path, max_slices: int | None, tissue_phase_rad: float = 0.0) -> Path:
    """The test split as an MMCMR k-space tree (built once, reused); ``tissue_phase_rad`` as in
    ``cardiomm simulate real-anatomy --tissue-phase`` (0: the smooth phase of the original split)."""
    from acdc_to_nifti import convert

    from cardiomm.simulate.real_anatomy import build_corpus

    nifti = WORK / "acdc_nifti"
    if not any(nifti.glob("patient*.nii.gz")):
        convert(shared / "acdc", nifti, labels=False)
    suffix = f"_s{max_slices}" if max_slices else ""
    suffix += f"_tp{tissue_phase_rad:g}" if tissue_phase_rad else ""
    tree = WORK / ("real_anatomy_test" + suffix)
    if not (tree / "manifest.json").is_file():
        sources = [nifti, shared / "segmentation" / "sunnybrook_scd_subset" / "dicoms"]
        build_corpus(
            sources,
            tree,
            split=SPLIT,
            roles=["test"],
            max_frames=2,
            max_slices=max_slices,
            tissue_phase_rad=tissue_phase_rad,
        )
    return tree


def _sources(tree: Path) -> dict[str, str]:
    """File -> data source (ACDC / Sunnybrook), from the hashed subject names of the manifest."""
    names = json.loads(SPLIT.read_text())["subjects"]["test"]
    by_hash = {
        hashlib.sha256(n.encode()).hexdigest()[:16]: ("Sunnybrook" if n.startswith("SCD") else "ACDC")
        for n in names
    }
    manifest = json.loads((tree / "manifest.json").read_text())
    return {
        Path(e["path"]).parent.as_posix(): by_hash.get(e["subject_sha256"], "?") for e in manifest["files"]
    }


def run(tissue_phase_rad: float = 0.0) -> str:
    """Score every method; ``tissue_phase_rad > 0`` scores the same split written with a tissue phase
    (``bench_real_anatomy_phase.py``) into its own document, figures and BENCHMARKS.md section."""
    phased = tissue_phase_rad > 0
    topic = "real_anatomy_phase" if phased else "real_anatomy"
    label = f", tissue phase {tissue_phase_rad:g} rad" if phased else ""
    heading = "## Real anatomy" + label
    doc = DOC.with_name(f"{DOC.stem}_phase.md") if phased else DOC
    figures = FIGURES.with_name(f"{FIGURES.name}_phase") if phased else FIGURES
    shared = shared_data_dir()
    if shared is None:
        return f"{heading}\n\nSkipped: `../shared/data` not found (set CARDIOMM_SHARED_DATA).\n"
    from cardiomm.recon.compare import compare_methods
    from cardiomm.scoring import evaluate_and_report, reconstruct_methods

    max_slices = int(os.environ["CARDIOMM_REAL_SLICES"]) if os.environ.get("CARDIOMM_REAL_SLICES") else None
    tree = build_test_tree(shared, max_slices, tissue_phase_rad)
    manifest = json.loads((tree / "manifest.json").read_text())
    roles = {c["code"]: "internal" if c["internal"] else "external" for c in manifest["centers"]}
    models = _models()
    out = WORK / f"real_anatomy_bench_{tree.name}"
    workers = max(1, int(os.environ.get("CARDIOMM_REAL_WORKERS", "2")))
    chosen = os.environ.get("CARDIOMM_REAL_METHODS", "")  # e.g. "zf,sense,varnet,promptmr,cardiomm"
    wanted = [m for m in DEMO_METHODS if not chosen or m in chosen.split(",")]
    seconds = reconstruct_methods(tree, out, wanted, models, workers=workers)
    scores = evaluate_and_report(tree, out, title="cardiomm: real-anatomy test split", roles=roles)
    df = scores.metrics
    src = _sources(tree)
    df["Source"] = [
        src.get(Path(f).parent.as_posix().replace("/TaskAll/", "/FullSample/"), "?") for f in df["File"]
    ]
    methods = [m for m in DEMO_METHODS if m in seconds]
    n_frames = sum(e["shape_tzcyx"][0] * e["shape_tzcyx"][1] for e in manifest["files"])

    psnr = group_table(df, ["Mask", "AF"], "PSNR", methods)
    ssim = group_table(df, ["Mask", "AF"], "SSIM", methods)
    margin = psnr[[]].copy()
    for other in ("sense", "varnet", "promptmr"):
        if "cardiomm" in psnr and other in psnr:
            margin[f"PSNR vs {other}"] = psnr["cardiomm"] - psnr[other]
    if "cardiomm" in ssim and "sense" in ssim:
        margin["SSIM vs sense"] = ssim["cardiomm"] - ssim["sense"]

    if phased:  # the real slice has its own phase: the same numbers as the smooth-phase run
        cmrx_rows = [f"Not repeated here (it has no synthesised phase): `docs/{DOC.name}`."]
    else:
        cmrx_k = shared / "kspace" / "cmrxrecon2024_demo_cine_sax_1coil_1slice_1frame.mat"
        cmrx_m = shared / "kspace" / "cmrxrecon2024_demo_cine_sax_mask_Uniform8.mat"
        methods_1c = [m for m in methods if m != "cs"]
        cmrx, _, _ = compare_methods(cmrx_k, cmrx_m, methods_1c, n_acs=16, models=models)
        cmrx_rows = ["| method | PSNR | SSIM |", "|---|---:|---:|"] + [
            f"| {s.method} | {s.psnr:.2f} | {s.ssim:.4f} |" for s in cmrx
        ]

    figures.mkdir(parents=True, exist_ok=True)
    for old in figures.glob("*.png"):
        old.unlink()
    figs = []
    for png in sorted(scores.report.parent.glob("*.png")):
        shutil.copy(png, figures / png.name)
        figs.append(png.name)
    per_frame = {
        m: seconds[m] / max(1, n_frames * 9) for m in methods if seconds[m] == seconds[m]
    }  # measured now
    model_note = ", ".join(f"{k}: `{v}`" for k, v in models.items()) or "the shipped checkpoints"
    subset = f"{max_slices} slices per stack" if max_slices else "every slice"
    text = [
        "# Real-anatomy benchmark" + label,
        "",
        f"Written by `python benchmarks/run.py {topic}` (see `benchmarks/bench_real_anatomy.py`). "
        "The test split "
        "of `configs/splits/real_anatomy.json` (15 ACDC patients, 3 per pathology group, plus 3 Sunnybrook "
        "subjects; never used for training or model selection) through `cardiomm simulate real-anatomy"
        + (f" --tissue-phase {tissue_phase_rad:g}" if phased else "")
        + "` over the "
        f"six synthetic centers; {len(manifest['files'])} stacks, {subset}, two frames each "
        f"({n_frames} frames), "
        f"nine protocol masks, {len(df)} reconstructions. Models: {model_note}.",
        *(["", PHASE_NOTE] if phased else []),
        "",
        "## PSNR (dB) by mask and acceleration",
        "",
        markdown_table(psnr, 2),
        "",
        "## SSIM by mask and acceleration",
        "",
        markdown_table(ssim, 4),
        "",
        "## CardioMM margins (positive: CardioMM better)",
        "",
        markdown_table(margin, 2, bold_max=False),
        "",
        "## PSNR by center role (internal centers are in training with other patients; the external Canon "
        "two-ring center is not)",
        "",
        markdown_table(group_table(df, ["Role", "AF"], "PSNR", methods), 2),
        "",
        "## PSNR by data source",
        "",
        markdown_table(group_table(df, ["Source", "AF"], "PSNR", methods), 2),
        "",
        "## Real CMRxRecon single-coil slice, official Uniform8 mask (16 ACS lines)",
        "",
        *cmrx_rows,
        "",
        "## Reconstruction time (one process per method group, one torch thread each; "
        "s per frame incl. file I/O)",
        "",
        *(
            [
                "| " + " | ".join(per_frame) + " |",
                "|" + "---:|" * len(per_frame),
                "| " + " | ".join(f"{v:.3f}" for v in per_frame.values()) + " |",
            ]
            if per_frame
            else [
                "Not measured in this run: every reconstruction was reused from an earlier run "
                "(`.complete` markers)."
            ]
        ),
        "",
        "## Figures",
        "",
        *[f"![{f}](figures/{figures.name}/{f})" for f in figs],
        "",
    ]
    doc.write_text("\n".join(text))
    summary = group_table(df, ["Mask", "AF"], "PSNR", methods)
    return "\n".join(
        [
            heading,
            "",
            f"`python benchmarks/run.py {topic}`: {len(df)} reconstructions "
            "of the real-anatomy test split "
            f"({subset}, {n_frames} frames, 9 masks; models: {model_note}); "
            f"full tables in `docs/{doc.name}`.",
            "",
            markdown_table(summary, 2),
            "",
            "Reconstruction time per frame (s): "
            + (
                ", ".join(f"{m} {v:.3f}" for m, v in per_frame.items())
                or "not measured (reused reconstructions)"
            )
            + ".",
        ]
    )


if __name__ == "__main__":
    print(run())
