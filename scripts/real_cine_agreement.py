"""Real-cine agreement: phenotypes of a real Sunnybrook cine, fully sampled vs accelerated reconstructions.

Issue #15, item 6. The real cine SCD0000101 (GE Signa HDx 1.5 T, 12 slices x 20 phases, manual LV
contours of SC-HF-I-1) goes through synthesised multi-coil k-space, is undersampled with the protocol
masks, reconstructed, segmented and measured; its phenotypes are compared with those of the fully sampled
images and with the manual contours.

1. **Images.** :func:`cardiomm.analysis.sunnybrook.load_sunnybrook_case`: magnitude ``(t, z, y, x)``, the
   true spacing ``(dz, dy, dx)`` and frame interval (NominalInterval / 20), manual contour volumes.
2. **k-space.** :func:`cardiomm.simulate.real_anatomy.synthesise_scan` at the *external* real-anatomy
   center (Center106: Canon 1.5 T, 16-element two-ring array, 160 readout samples, 2x readout
   oversampling, smooth + bSSFP off-resonance phase, correlated noise): the center of ``cardiomm demo``'s
   real-anatomy step. SCD0000101 is in the real-anatomy *test* split and no shipped model saw this
   center, so the reconstruction is zero-shot. The images are resampled (anti-aliased) to the center's
   160 x 160 matrix, keeping the 350 mm field of view (2.19 mm pixels; the scanner acquired 224 x 224);
   ``--native-matrix`` keeps the DICOM 256 x 256 grid instead.
3. **Undersampling.** The protocol masks (:func:`cardiomm.sampling.make_test_mask`, ACS 20), seeded as
   ``cardiomm simulate real-anatomy`` seeds them (``seed_from_string`` of the file's MMCMR path).
4. **Reconstruction.** :func:`cardiomm.recon.pipeline.reconstruct_volume` with
   :func:`cardiomm.recon.get_reconstructor` (default CardioMM checkpoint; SENSE as the classical
   baseline), prompts from the MMCMR path of the synthetic file.
5. **Phenotypes.** The fully sampled reference (RSS of the synthesised k-space) and every reconstruction,
   readout oversampling cropped, are segmented by one segmenter and measured by
   :func:`cardiomm.analysis.phenotypes.compute_phenotypes` with the true slice spacing and frame time.
   The original DICOM images are segmented too (the effect of the k-space synthesis itself), and the
   manual contours give the LV reference (Simpson, whole stack).

The full study (all 240 frames, the nine protocol masks, CardioMM and SENSE)::

    nice -n 19 python scripts/real_cine_agreement.py --methods cardiomm sense --threads 2

A quick check: ``--slices 5 6 --frames 7 18 --masks ktGaussian8 --methods cardiomm``. Intermediate
volumes are cached in ``--out`` (reused while the settings match), so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from real_cine_report import (  # scripts/real_cine_report.py (the script's folder is on sys.path)
    CACHE_FORMAT,
    CONTOURS,
    DICOM,
    FULL,
    MANUAL,
    REPO,
    SUBJECT,
    Panel,
    Row,
    _display,
    acceptance,
    write_csv,
    write_figure,
    write_report,
)

if TYPE_CHECKING:
    from cardiomm.analysis.phenotypes import CardiacPhenotypes
    from cardiomm.analysis.segmentation import Segmenter
    from cardiomm.analysis.sunnybrook import SunnybrookCase

log = logging.getLogger("real_cine_agreement")


# ------------------------------------------------------------------------------------------------ options
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see ``--help``)."""
    from cardiomm.sampling import PROTOCOL_ACCELERATIONS, PROTOCOL_PATTERNS

    shared = REPO.parent / "shared" / "data" / "segmentation" / "sunnybrook_scd_subset"
    masks = [f"{p.value}{r}" for p in PROTOCOL_PATTERNS for r in PROTOCOL_ACCELERATIONS]
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dicom-dir", type=Path, default=shared / "dicoms" / SUBJECT, help="DICOM folder")
    p.add_argument("--contour-dir", type=Path, default=shared / "contourfiles" / CONTOURS, help="contours")
    p.add_argument("--methods", nargs="+", default=["cardiomm", "sense"], help="reconstruction methods")
    p.add_argument("--model", action="append", default=[], metavar="METHOD=PATH",
                   help="checkpoint of a learned method (default: the shipped one); repeatable")  # fmt: skip
    p.add_argument("--masks", nargs="+", default=masks, help="<Pattern><R> tokens (default: the 9 protocol)")
    p.add_argument("--segmenter", default=None, help="segmenter name (default: the package default)")
    p.add_argument("--slices", nargs="+", type=int, default=None, help="slice indices (default: all)")
    p.add_argument("--frames", nargs="+", type=int, default=None, help="frame indices (default: all)")
    p.add_argument("--native-matrix", action="store_true", help="keep the DICOM matrix (no resampling)")
    p.add_argument("--seed", type=int, default=0, help="synthesis seed")
    p.add_argument("--out", type=Path, default=REPO / "data" / "real_cine_agreement", help="cache folder")
    p.add_argument("--report", type=Path, default=REPO / "docs" / "real_cine_agreement.md")
    p.add_argument("--csv", type=Path, default=None, help="CSV (default: the report's name with .csv)")
    p.add_argument("--figure", default=str(REPO / "docs" / "figures" / "real_cine_agreement.png"),
                   help="figure PNG ('' for none)")  # fmt: skip
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="cpu", help="torch device of learned methods")
    p.add_argument("--precision", default="fp32", help="fp32 / tf32 / bf16 for learned methods")
    p.add_argument("--batch-size", type=int, default=4, help="frames per reconstruction batch")
    p.add_argument("--no-reuse", action="store_true", help="recompute cached volumes")
    p.add_argument("--no-progress", action="store_true", help="log lines instead of progress bars")
    args = p.parse_args(argv)
    if args.csv is None:
        args.csv = args.report.with_suffix(".csv")
    return args


# --------------------------------------------------------------------------------------------- progress
@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Yield ``start(description, total) -> advance(n)`` on one rich display (or log lines)."""
    if not enabled:

        def start_log(description: str, total: int) -> Callable[[int], None]:
            log.info("%s (%d)", description, total)
            return lambda n: None

        yield start_log
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<36}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:

        def start(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)

        yield start


# --------------------------------------------------------------------------------------------------- cache
class Cache:
    """Volumes (``.npy``) and small JSON values under ``root``, kept while the common ``settings`` in
    ``root/run.json`` are unchanged; a method's own files (``<method>_*``) are also dropped when its
    checkpoint ``stamps`` entry changes, so running other methods keeps every other cached volume."""

    def __init__(self, root: Path, settings: dict[str, Any], stamps: dict[str, Any], reuse: bool) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        marker = root / "run.json"
        try:
            old = json.loads(marker.read_text())
        except (OSError, ValueError):
            old = None
        old_stamps = old.pop("checkpoints", {}) if isinstance(old, dict) else {}
        if old != settings or not reuse:
            self._drop("*")
            old_stamps = {}
        for method, stamp in stamps.items():
            if method in old_stamps and old_stamps[method] != stamp:
                self._drop(f"{method}_*")
        merged = {**old_stamps, **stamps}
        marker.write_text(json.dumps({**settings, "checkpoints": merged}, indent=1, sort_keys=True))

    def _drop(self, pattern: str) -> None:
        for f in [*self.root.glob(f"{pattern}.npy"), *self.root.glob(f"{pattern}.value.json")]:
            f.unlink()

    def load(self, name: str) -> NDArray[np.float32] | None:
        p = self.root / f"{name}.npy"
        return np.load(p) if p.is_file() else None

    def has(self, name: str) -> bool:
        return (self.root / f"{name}.npy").is_file()

    def save(self, name: str, vol: NDArray[np.float32]) -> None:
        tmp = self.root / f".{name}.tmp.npy"
        np.save(tmp, vol)
        tmp.replace(self.root / f"{name}.npy")

    def get_value(self, name: str) -> Any:
        try:
            return json.loads((self.root / f"{name}.value.json").read_text())
        except (OSError, ValueError):
            return None

    def set_value(self, name: str, value: Any) -> None:
        (self.root / f"{name}.value.json").write_text(json.dumps(value))


# ------------------------------------------------------------------------------------------- measurement
def measure(
    seg: Segmenter, images: NDArray[np.float32], spacing: tuple[float, float, float], frame_dt: float | None
) -> tuple[CardiacPhenotypes, NDArray[np.uint8]]:
    """Segment ``images`` ``(t, z, y, x)`` and compute the 11 phenotypes."""
    from cardiomm.analysis.phenotypes import compute_phenotypes

    labels = seg.segment(images, spacing)
    return compute_phenotypes(labels, spacing, frame_dt), labels


def phenotype_row(
    method: str,
    mask: str,
    af: int | None,
    ph: CardiacPhenotypes,
    *,
    psnr: float = math.nan,
    ssim: float = math.nan,
    seconds_per_frame: float = math.nan,
) -> Row:
    """Row of a phenotype result."""
    qc = ";".join(ph.qc_flags)
    return Row(method, mask, af, ph.values(), ph.ed_frame, ph.es_frame, qc, psnr, ssim, seconds_per_frame)


def mid_slice(labels: NDArray[np.uint8], frame: int) -> int:
    """Middle of the slices holding LV at ``frame`` (else the middle slice)."""
    from cardiomm.analysis.labels import LV

    zs = np.nonzero((labels[frame] == LV).any(axis=(-2, -1)))[0]
    return int(zs[len(zs) // 2]) if zs.size else labels.shape[1] // 2


def figure_position(
    case: SunnybrookCase, frames: list[int], slices: list[int], labels: NDArray[np.uint8], ed: int
) -> tuple[int, int]:
    """``(frame, slice)`` indices of the figure: the manual ED phase and the middle of its contoured
    slices when selected, else the segmented ED frame and the middle of its LV slices."""
    if case.ed_phase in frames:
        t = frames.index(case.ed_phase)
        zs = sorted(z for (ph, z) in case.endo if ph == case.ed_phase and z in slices)
        return t, slices.index(zs[len(zs) // 2]) if zs else mid_slice(labels, t)
    return ed, mid_slice(labels, ed)


def run(args: argparse.Namespace) -> int:
    """Synthesise, undersample, reconstruct, segment, measure; write the CSV, report and figure."""
    import torch

    from cardiomm.analysis.segmentation import DEFAULT_SEGMENTER, get_segmenter
    from cardiomm.analysis.sunnybrook import load_sunnybrook_case
    from cardiomm.evaluation.metrics import evaluate_volume
    from cardiomm.io import KSpaceVolume, rss_from_kspace
    from cardiomm.io.geometry import crop_readout
    from cardiomm.layout import FULL_DIR, MASK_DIR, TEST_SET, mask_file_name
    from cardiomm.recon import get_reconstructor
    from cardiomm.recon.pipeline import reconstruct_volume
    from cardiomm.recon.prompts import metadata_prompt_for
    from cardiomm.sampling import (
        DEFAULT_ACS,
        make_test_mask,
        mask_type_of,
        parse_mask_filename,
        seed_from_string,
    )
    from cardiomm.simulate.real_anatomy import ANATOMY_CENTERS, synthesise_scan
    from cardiomm.text.prompts import undersampling_prompt

    torch.set_num_threads(max(1, args.threads))
    t_start = time.perf_counter()
    seg_name = args.segmenter or DEFAULT_SEGMENTER
    models = dict(m.split("=", 1) for m in args.model)
    masks = []
    for tok in args.masks:
        pattern, accel = parse_mask_filename(tok)
        masks.append((tok, str(getattr(pattern, "value", pattern)), int(accel)))

    log.info("reading %s", args.dicom_dir)
    case = load_sunnybrook_case(args.dicom_dir, args.contour_dir)
    n_t, n_z = case.image.shape[:2]
    frames = list(range(n_t)) if args.frames is None else list(args.frames)
    slices = list(range(n_z)) if args.slices is None else list(args.slices)
    if not case.present[np.ix_(frames, slices)].all():
        raise SystemExit("some selected (frame, slice) images are missing from the DICOM folder")
    images = np.ascontiguousarray(case.image[np.ix_(frames, slices)])
    center = next(c for c in ANATOMY_CENTERS if not c.internal)
    if args.native_matrix:
        center = replace(center, matrix_x=images.shape[-1])
    nx = center.matrix_x
    folders = [center.code, center.scanner_folder, "P001"]
    rel_full = "/".join(["Cine", TEST_SET, FULL_DIR, *folders, "cine_sax.mat"])
    frame_dt = case.frame_dt_s
    settings = {
        "format": CACHE_FORMAT,
        "dicom": str(Path(args.dicom_dir).resolve()),
        "frames": frames,
        "slices": slices,
        "seed": args.seed,
        "center": center.code,
        "matrix_x": nx,
        "models": models,
    }
    stamps = {m: _checkpoint_stamp(m, models) for m in args.methods}
    cache = Cache(Path(args.out), settings, stamps, reuse=not args.no_reuse)
    seg = get_segmenter(seg_name)
    rows: list[Row] = []
    panels: dict[str, Panel] = {}

    vols = case.volumes()
    manual = {"LVEDV": vols.edv_ml, "LVESV": vols.esv_ml, "LVEF": vols.ef_pct, "LVM": vols.lvm_g}
    rows.append(Row(MANUAL, "-", None, manual, case.ed_phase, case.es_phase))
    with progress(not args.no_progress) as start:
        advance = start(f"segment DICOM images ({seg_name})", 1)
        ph, dicom_labels = measure(seg, images, case.spacing_mm, frame_dt)
        advance(1)
        rows.append(phenotype_row(DICOM, "-", None, ph))

        # synthesised k-space (only when something is not cached) -> fully sampled reference
        names = [f"{m}_{tok}" for m in args.methods for tok, _, _ in masks]
        volume: KSpaceVolume | None = None
        spacing = cache.get_value("spacing")
        ref = cache.load("reference")
        if ref is None or spacing is None or not all(cache.has(n) for n in names):
            advance = start(f"synthesise k-space ({center.code})", 1)
            t0 = time.perf_counter()
            scan = synthesise_scan(
                images,
                case.spacing_mm,
                center,
                seed=seed_from_string(f"{args.seed}/{SUBJECT}"),
                slice_spacing=case.spacing_mm[0],
            )
            advance(1)
            log.info("k-space %s synthesised in %.1f s", scan.kspace.shape, time.perf_counter() - t0)
            spacing = [float(v) for v in scan.spacing]
            kspace = torch.from_numpy(scan.kspace)
            volume = KSpaceVolume(kspace, Path(rel_full), "kspace_full", tuple(reversed(kspace.shape)))
            del scan
            full = rss_from_kspace(volume.frames()).view(
                volume.n_frames, volume.n_slices, volume.ny, volume.nx
            )
            ref = crop_readout(full.numpy(), nx)
            cache.save("reference", ref)
            cache.set_value("spacing", spacing)
        scan_spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
        advance = start("segment fully sampled", 1)
        ph, ref_labels = measure(seg, ref, scan_spacing, frame_dt)
        advance(1)
        ref_row = phenotype_row(FULL, "-", None, ph)
        rows.append(ref_row)
        ed, z_mid = figure_position(case, frames, slices, ref_labels, ph.ed_frame)
        panels[FULL] = Panel(ref[ed, z_mid], ref_labels[ed, z_mid])
        panels[DICOM] = Panel(
            images[ed, z_mid], dicom_labels[ed, z_mid], _manual_polygons(case, frames[ed], slices[z_mid])
        )

        for method in args.methods:
            recon = None
            for tok, pattern, accel in masks:
                name = f"{method}_{tok}"
                vol = cache.load(name)
                seconds = cache.get_value(f"{name}_seconds")
                if vol is None:
                    assert volume is not None
                    if recon is None:
                        recon = get_reconstructor(
                            method, models.get(method), device=args.device, precision=args.precision
                        )
                    n_frames, _, _, ky, kx = volume.kspace.shape
                    mask = make_test_mask(
                        pattern, accel, kx, ky, n_frames, acs=DEFAULT_ACS, seed=seed_from_string(rel_full)
                    )
                    mask_type = str(mask_type_of(pattern))
                    rel_mask = "/".join(
                        ["Cine", TEST_SET, MASK_DIR, *folders, mask_file_name("cine_sax", pattern, accel)]
                    )
                    out, seconds = reconstruct_volume(
                        volume,
                        torch.from_numpy(np.ascontiguousarray(mask)),
                        recon,
                        mask_type=mask_type,
                        acceleration=accel,
                        n_acs=DEFAULT_ACS,
                        metadata_prompt=metadata_prompt_for(rel_mask),
                        undersampling_prompt=undersampling_prompt(accel, mask_type),
                        batch_size=args.batch_size,
                        on_batch=start(f"{method} {tok}", volume.n_batch),
                    )
                    vol = crop_readout(out.numpy(), nx)
                    cache.save(name, vol)
                    cache.set_value(f"{name}_seconds", seconds)
                advance = start(f"segment {method} {tok}", 1)
                ph, labels = measure(seg, vol, scan_spacing, frame_dt)
                advance(1)
                m = evaluate_volume(ref, vol)
                secs = float(seconds) if seconds is not None else math.nan
                rows.append(
                    phenotype_row(method, tok, accel, ph, psnr=m.psnr, ssim=m.ssim, seconds_per_frame=secs)
                )
                panels[f"{method} {tok}"] = Panel(vol[ed, z_mid], labels[ed, z_mid])

    for row in rows:
        if row.method != MANUAL:  # ED / ES as indices of the DICOM cine
            row.ed_frame = None if row.ed_frame is None else frames[row.ed_frame]
            row.es_frame = None if row.es_frame is None else frames[row.es_frame]
        if row.method not in (FULL, MANUAL):
            row.diffs = {k: v - ref_row.values[k] for k, v in row.values.items() if k in ref_row.values}
    context = {
        "command": " ".join(shlex.quote(a) for a in ["python", _display(Path(sys.argv[0])), *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "segmenter": seg_name,
        "center": center,
        "spacing": scan_spacing,
        "dicom_spacing": case.spacing_mm,
        "frame_dt": frame_dt,
        "subset": args.frames is not None or args.slices is not None,
        "frames": frames,
        "slices": slices,
        "elapsed_s": time.perf_counter() - t_start,
        "manual": (case.ed_phase, case.es_phase, vols.n_slices_ed),
        "figure_frame": frames[ed],
        "figure_slice": slices[z_mid],
    }
    figure = Path(args.figure) if args.figure else None
    write_csv(args.csv, rows)
    if figure is not None:
        write_figure(figure, panels, args.methods, [t for t, _, _ in masks], context)
    write_report(args.report, rows, context, args.csv, figure)
    met, _ = acceptance(rows)
    log.info("wrote %s and %s in %.0f s; acceptance at 8x: %s", args.report, args.csv, context["elapsed_s"],
             {True: "met", False: "not met", None: "not measured"}[met])  # fmt: skip
    return 0


def _checkpoint_stamp(method: str, models: dict[str, str]) -> str | None:
    """Size and mtime of a learned method's checkpoint, so that a new checkpoint invalidates the cache."""
    from importlib import resources

    shipped = Path(str(resources.files("cardiomm") / "assets" / "checkpoints" / method))
    path = Path(models.get(method, shipped))
    files = sorted(path.rglob("*.safetensors")) if path.is_dir() else [path] if path.is_file() else []
    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files) or None


def _manual_polygons(case: SunnybrookCase, frame: int, z: int) -> list[NDArray[np.float64]]:
    return [d[(frame, z)] for d in (case.endo, case.epi) if (frame, z) in d]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    return run(parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
