"""``cardiomm analyse``: downstream analysis (parametric maps, cine phenotypes, agreement statistics).

Sub-commands:

- ``mapping``: fit a T1 (MOLLI) / T2 / T1rho / T2* map from a series ``(t, z, y, x)`` (``t`` = contrasts)
  in ``.mat`` (``reconimage``...), ``.npy`` or NIfTI; times from ``--times``, a simulate ``_gt.h5``
  sidecar (``--gt``) or the series' ``_info.csv``. Writes ``<stem>_<kind>.csv`` (myocardial statistics
  per slice, in ms), ``<stem>_<kind>.png`` and ``<stem>_<kind>.npy`` (map in seconds).
- ``phenotypes``: the 11 cine phenotypes from labels (``.npy``, NIfTI, simulate ``_gt.h5``) or from images
  segmented with ``--segmenter``; spacing / frame time from options, NIfTI header, ``_gt.h5`` or
  ``_info.csv``. Writes one CSV row.
- ``series``: the series of a DICOM folder or ZIP (a study export) and which the other commands read.
- ``agreement``: per method / pattern / acceleration / phenotype agreement statistics of a long-format
  CSV (``case, method, pattern, accel, phenotype, value_recon, value_ref``) plus Bland-Altman figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer

from cardiomm.cli.app import app, console, parse_floats
from cardiomm.errors import ConfigError, DataValueError, UnknownChoiceError
from cardiomm.types import MapKind
from cardiomm.utils.atomic import atomic_path
from cardiomm.utils.device import DEVICE_HELP, resolve_device

__all__ = ["analyse_app", "mapping", "ecv_command", "phenotypes", "series_command", "agreement"]

# The work happens in cardiomm.analysis (volumes, mapping.series / tables / outputs, cine_geometry...); the
# commands import it inside their bodies so that `cardiomm --help` does not load numpy, torch or pandas.

analyse_app = typer.Typer(
    help="Downstream analysis: parametric maps, cine phenotypes, agreement.", no_args_is_help=True
)
app.add_typer(analyse_app, name="analyse")

_KINDS = tuple(kind.value for kind in MapKind)
_DICOM_SERIES_HELP = (
    "DICOM folder or .zip holding several series (a study export): read the one with this series number, UID "
    "or description part."
)


#: Segmenters built from a U-Net weights folder (``--weights``) that run on a torch device (``--device``).
_UNET_SEGMENTERS = ("acdcunet", "simunet")


def segmenter_kwargs(
    name: str, model_folder: Path | None, weights: Path | None, device: str = "cpu"
) -> dict[str, Any]:
    """Keyword arguments of :func:`~cardiomm.analysis.segmentation.get_segmenter` from the CLI options
    (``--model-folder`` belongs to ``nnunet``, ``--weights`` to ``acdcunet`` / ``simunet``, ``--device``
    (``auto``, ``cpu``, ``cuda[:N]``) moves those two to a GPU)."""
    kwargs: dict[str, Any] = {}
    if name in _UNET_SEGMENTERS:
        kwargs["device"] = resolve_device(device)
    if model_folder is not None:
        if name != "nnunet":
            raise ConfigError(f"--model-folder is for --segmenter nnunet, not {name!r}")
        kwargs["model_folder"] = model_folder
    if weights is not None:
        if name not in _UNET_SEGMENTERS:
            raise ConfigError(f"--weights is for --segmenter acdcunet or simunet, not {name!r}")
        kwargs["weights"] = weights
    return kwargs


def _aha_levels(level: str | None, n_slices: int) -> list[int] | None:
    """``--level`` for all ``n_slices`` slices (``None``: from the segmentation)."""
    from cardiomm.analysis.aha import LEVEL_NAMES  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front

    return [LEVEL_NAMES[level]] * n_slices if level is not None else None


def _check_level(level: str | None) -> None:
    from cardiomm.analysis.aha import LEVEL_NAMES  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front

    if level is not None and level not in LEVEL_NAMES:
        raise UnknownChoiceError(f"unknown --level {level!r}; choose base, mid or apex")


# ------------------------------------------------------------------------------------------- mapping
@analyse_app.command("mapping")
def mapping(
    series: Path = typer.Argument(
        ...,
        help="Series (t, z, y, x), t = contrasts: .mat, .npy, .nii(.gz), DICOM folder or .zip (TI/TE read).",
    ),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Output folder."),
    kind: str | None = typer.Option(None, "--kind", help=f"{', '.join(_KINDS)} (default: from --gt, t1)."),
    times: str | None = typer.Option(None, "--times", help="TI / TE / spin-lock times, comma-separated."),
    time_unit: str = typer.Option("ms", "--time-unit", help="Unit of --times: ms or s."),
    gt: Path | None = typer.Option(None, "--gt", help="simulate <stem>_gt.h5: times, labels and true map."),
    labels: Path | None = typer.Option(None, "--labels", help="Segmentation (z, y, x) for myocardial stats."),
    key: str | None = typer.Option(None, "--key", help="Variable name in a .mat series."),
    dicom_series: str | None = typer.Option(None, "--dicom-series", help=_DICOM_SERIES_HELP),
    level: str | None = typer.Option(None, "--level", help="AHA level of all slices: base, mid or apex."),
    magnitude: bool = typer.Option(True, "--magnitude/--signed", help="T1: magnitude data or signed data."),
    ti_scale: float = typer.Option(
        1.0, "--ti-scale", help="T1: factor on the TIs (T1 scales by it) to match a vendor map; 1 = textbook."
    ),
) -> None:
    """Fit a parametric map and summarise it over the myocardium (CSV in ms, PNG, .npy in s)."""
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    from cardiomm.analysis.mapping.outputs import write_map_files  # noqa: PLC0415 - lazy: importing this module loads no numpy, pandas, scipy
    from cardiomm.analysis.mapping.series import (  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch
        fit_series_map,
        kind_for_modality,
        series_times,
        true_map,
    )
    from cardiomm.analysis.mapping.tables import mapping_table  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.volumes import load_volume, read_gt_sidecar, read_label_frame  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch

    vol = load_volume(series, key, series=True, dicom_series=dicom_series)
    truth = read_gt_sidecar(gt) if gt is not None else None
    md = truth["metadata"] if truth else {}
    kind = kind or kind_for_modality(md.get("modality", ""))[0]
    if kind not in _KINDS:
        raise UnknownChoiceError(f"unknown --kind {kind!r}; choose one of {', '.join(_KINDS)}")
    if ti_scale != 1.0 and kind != "t1":
        raise ConfigError(f"--ti-scale is for --kind t1, not {kind!r}")
    if times is not None:
        if time_unit not in ("s", "ms"):
            raise UnknownChoiceError(f"unknown --time-unit {time_unit!r}; choose ms or s")
        t_s = np.asarray(parse_floats(times, "--times")) * (1e-3 if time_unit == "ms" else 1.0)
    else:
        t_s = series_times(series, vol, kind, md if truth is not None else None)
    tmap, r2 = fit_series_map(vol.data, t_s, kind, magnitude=magnitude, ti_scale=ti_scale)
    seg = None
    if labels is not None:
        seg = read_label_frame(labels)
    elif truth is not None:
        seg = np.asarray(truth["labels"][0], dtype=np.uint8)
    if seg is not None and seg.shape != tmap.shape:
        raise DataValueError(f"labels {seg.shape} do not match the map {tmap.shape}", path=labels or gt)
    _check_level(level)
    rows = mapping_table(
        tmap,
        r2,
        seg,
        levels=_aha_levels(level, tmap.shape[0]),
        true_map=true_map(truth, kind) if truth is not None else None,
    )
    base = out_dir / f"{series.name.split('.')[0]}_{kind}"
    write_map_files(base, rows, tmap, png_values=tmap * 1e3, title=kind.upper())
    glob = rows[-1]
    console.print(f"{kind}: myocardial mean {glob['mean_ms']:.1f} ms (n = {glob['n_pixels']})")
    console.print(f"wrote {base}.csv, .png, .npy")


@analyse_app.command("ecv")
def ecv_command(
    pre: Path = typer.Argument(..., help="Native T1 map (z,y,x): .npy (analyse mapping), .nii, .mat, DICOM"),
    post: Path = typer.Argument(..., help="Post-contrast T1 map of the same slices (same geometry)."),
    labels: Path = typer.Option(..., "--labels", help="Segmentation of the native map (LV 1, MYO 2, RV 3)."),
    hct: float = typer.Option(..., "--hct", help="Haematocrit as a fraction, e.g. 0.42."),
    labels_post: Path | None = typer.Option(None, "--labels-post", help="Segmentation of the post map."),
    unit: str = typer.Option("auto", "--unit", help="Map unit: s, ms or auto (ms if myocardial T1 > 20)."),
    level: str | None = typer.Option(None, "--level", help="AHA level of all slices: base, mid or apex."),
    key: str | None = typer.Option(None, "--key", help="Variable name in .mat maps."),
    blood_erosion: int = typer.Option(1, "--blood-erosion", help="Blood-pool erosion [px] before median."),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Output folder."),
) -> None:
    """Extracellular volume from native and post-contrast T1 maps: ROI ECV, pixel map, AHA segments."""
    from cardiomm.analysis.mapping import ecv_from_maps  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.mapping.ecv_inputs import T1_UNITS, read_t1_map, t1_seconds_scale  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, scipy, torch
    from cardiomm.analysis.mapping.outputs import write_map_files  # noqa: PLC0415 - lazy: importing this module loads no numpy, pandas, scipy
    from cardiomm.analysis.mapping.tables import ecv_table  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front

    if not 0.0 < hct < 1.0:
        raise ConfigError(f"--hct must be a fraction in (0, 1), e.g. 0.42, got {hct}")
    if unit not in T1_UNITS:
        raise UnknownChoiceError(f"unknown --unit {unit!r}; choose auto, s or ms")
    _check_level(level)
    t1_pre, lab_pre = read_t1_map(pre, labels, key)
    t1_post, lab_post = read_t1_map(post, labels_post or labels, key)
    scale = t1_seconds_scale(t1_pre, lab_pre, unit)
    res = ecv_from_maps(
        t1_pre * scale,
        t1_post * scale,
        lab_pre,
        hct,
        labels_post=lab_post,
        levels=_aha_levels(level, t1_pre.shape[0]),
        blood_erosion=blood_erosion,
    )
    base = out_dir / f"{pre.name.split('.')[0]}_ecv"
    write_map_files(
        base, ecv_table(res, lab_pre, hct), res.ecv_map, png_values=res.ecv_map * 100.0, title="ECV", unit="%"
    )
    glob = res.stats
    console.print(
        f"ECV {100 * res.roi_ecv:.1f} % (ROI; pixel-wise mean {100 * glob.mean:.1f} %, "
        f"n = {glob.n_pixels}); "
        f"blood T1 {1e3 * res.blood_pre:.0f} -> {1e3 * res.blood_post:.0f} ms, "
        f"myocardium {1e3 * res.myo_pre:.0f} -> {1e3 * res.myo_post:.0f} ms"
    )
    console.print(f"wrote {base}.csv, .png, .npy")


# ------------------------------------------------------------------------------------------- phenotypes
@analyse_app.command("phenotypes")
def phenotypes(
    source: Path = typer.Argument(
        ..., help="Labels (.npy, .nii(.gz), _gt.h5), or images (also a DICOM cine folder or .zip) to segment."
    ),
    out: Path = typer.Option(Path("phenotypes.csv"), "--out", help="Output CSV (one row)."),
    segmenter: str | None = typer.Option(
        None, "--segmenter", help="Segment images first (default acdcunet; simunet, myopari, nnunet)."
    ),
    model_folder: Path | None = typer.Option(None, "--model-folder", help="For --segmenter nnunet."),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="For --segmenter acdcunet/simunet: your trained weights (folder or .safetensors).",
    ),
    device: str = typer.Option("auto", "--device", help=f"Device of the U-Net segmenters: {DEVICE_HELP}"),
    spacing: str | None = typer.Option(
        None,
        "--spacing",
        help="Voxel spacing dz,dy,dx in mm (overrides the file's geometry and its missing-slice check).",
    ),
    frame_dt: float | None = typer.Option(None, "--frame-dt", help="Time between frames [s]."),
    info: Path | None = typer.Option(None, "--info", help="<name>_info.csv (default: next to the input)."),
    key: str | None = typer.Option(None, "--key", help="Variable name in a .mat image file."),
    dicom_series: str | None = typer.Option(None, "--dicom-series", help=_DICOM_SERIES_HELP),
    save_labels: Path | None = typer.Option(None, "--save-labels", help="Write the segmentation as .npy."),
    acdc_labels: bool = typer.Option(False, "--acdc-labels", help="Labels use ACDC numbers (RV 1, LV 3)."),
    qc_png: bool = typer.Option(True, "--qc-png/--no-qc-png", help="Write <out>_qc.png (contours, curves)."),
    lifespan: str | None = typer.Option(
        None,
        "--lifespan",
        help="Adult, Pediatric or Fetal: plausible QC ranges (default: from the path, else Adult).",
    ),
) -> None:
    """Compute the 11 cine phenotypes (LV/RV volumes, EF, SV, LVCO, LVM, wall thickness) with QC flags."""
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front
    import pandas as pd  # noqa: PLC0415 - lazy: importing this module loads no pandas

    from cardiomm.analysis import segmentation  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.cine_geometry import cine_geometry, scan_csv_geometry  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.analysis.labels import acdc_to_cardiomm  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front
    from cardiomm.analysis.phenotypes import compute_phenotypes  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.plausibility import plausible_ranges  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.qc_figure import phenotype_qc_figure  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front
    from cardiomm.analysis.volumes import as_label_volume, load_volume  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.text.prompts import lifespan_from_name  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    lifespan = lifespan or lifespan_from_name(source.resolve())
    plausible_ranges(lifespan)  # an unknown --lifespan fails before any work
    vol = load_volume(source, key, dicom_series=dicom_series)
    if segmenter is None and vol.holds_images():
        segmenter = segmentation.DEFAULT_SEGMENTER
        console.print(
            f"images, not labels: segmenting with the default segmenter {segmenter!r} (--segmenter)"
        )
    csv_geometry = scan_csv_geometry(source, info)
    spacing_mm = None
    if spacing is not None:
        sp = parse_floats(spacing, "--spacing")
        if len(sp) != 3:
            raise ConfigError(f"--spacing needs three values dz,dy,dx [mm], got {spacing!r}")
        spacing_mm = (sp[0], sp[1], sp[2])
    geometry = cine_geometry(vol, csv_geometry, spacing_mm=spacing_mm, frame_dt_s=frame_dt)
    if segmenter is not None:
        kwargs = segmenter_kwargs(segmenter, model_folder, weights, device)
        with console.status(f"segmenting {vol.data.shape[0]} frames with {segmenter}"):
            lab = segmentation.get_segmenter(segmenter, **kwargs).segment(vol.data, geometry.spacing_mm)
    else:
        lab = as_label_volume(vol.data, source)
        if acdc_labels:
            lab = acdc_to_cardiomm(lab)
    if save_labels is not None:
        with atomic_path(save_labels) as tmp, open(tmp, "wb") as fh:
            np.save(fh, lab)
    res = compute_phenotypes(lab, geometry.spacing_mm, geometry.frame_dt_s, lifespan=lifespan)
    with atomic_path(out) as tmp:
        pd.DataFrame([{"case": source.name, **res.as_dict(with_segments=True)}]).to_csv(tmp, index=False)
    if qc_png:
        phenotype_qc_figure(
            out.with_name(out.stem + "_qc.png"),
            lab,
            res,
            geometry.spacing_mm,
            images=vol.data if segmenter is not None else None,  # (t, z, y, x) like the labels
            frame_dt_s=geometry.frame_dt_s,
            title=source.name,
        )
    console.print(", ".join(f"{k} {v:.1f}" for k, v in res.values().items()))
    if res.passed_qc:
        console.print(f"QC: passed ({lifespan} ranges)")
    else:
        console.print(f"QC: {len(res.qc_flags)} check(s) failed ({lifespan} ranges):", style="red")
        for line in res.qc_lines():
            console.print(f"  {line}", style="red", markup=False, highlight=False)
    if res.basal_summary():
        console.print(res.basal_summary(), markup=False, highlight=False)
    console.print(f"wrote {out}" + (f" and {out.stem}_qc.png" if qc_png else ""))


# ---------------------------------------------------------------------------------------------- series
@analyse_app.command("series")
def series_command(
    folder: Path = typer.Argument(..., help="DICOM folder or .zip (a study export)."),
) -> None:
    """List the series of a DICOM folder (number, description, images, slices, frames, matrix, spacing,
    plane) and which of them the analyse commands read without --dicom-series."""
    from rich.table import Table  # noqa: PLC0415 - lazy: `cardiomm --help` loads no rich tables

    from cardiomm.io.image_series import list_dicom_series  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    rows, refusal = list_dicom_series(folder)
    table = Table(title=str(folder))
    for name in ("read", "no.", "description", "images", "slices", "frames", "matrix", "mm", "normal"):
        table.add_column(name)
    for r in rows:
        spacing = "-" if r.pixel_spacing_mm is None else "{:.3g}x{:.3g}".format(*r.pixel_spacing_mm)
        normal = "-" if r.normal is None else "{:+.1f} {:+.1f} {:+.1f}".format(*r.normal)
        number = "-" if r.number is None else str(r.number)
        sizes = (str(r.images), str(r.slices), str(r.frames), "{}x{}".format(*r.matrix))
        read = ("*~" if r.regridded else "*") if r.picked else ""
        table.add_row(read, number, r.description or r.uid, *sizes, spacing, normal)
    console.print(table)
    if refusal is None:
        console.print("* read without --dicom-series (the study's cine stack)", highlight=False)
        if any(r.regridded for r in rows):
            console.print(
                "~ read on the stack's grid (resampled: re-planned or re-centred; or turned)", highlight=False
            )
    else:
        console.print(
            f"without --dicom-series the folder is refused: {refusal}", markup=False, highlight=False
        )


# ------------------------------------------------------------------------------------------- agreement
@analyse_app.command("agreement")
def agreement(
    table: Path = typer.Argument(..., help="CSV: case, method, pattern, accel, phenotype, value_recon/_ref."),
    out_dir: Path = typer.Option(Path("agreement"), "--out-dir", help="Output folder."),
    icc_kind: str = typer.Option("2,1", "--icc", help="2,1 (absolute agreement), 3,1 (consistency) or 1,1."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write Bland-Altman + scatter PNGs."),
) -> None:
    """Agreement of reconstruction vs fully sampled values per method, pattern, acceleration and phenotype."""
    from cardiomm.analysis.agreement import IccKind, agreement_table, read_agreement_csv  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front
    from cardiomm.analysis.agreement_plots import plot_agreement  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front
    from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy, scipy up front

    df = read_agreement_csv(table)
    if icc_kind not in ("1,1", "2,1", "3,1"):
        raise UnknownChoiceError(f"unknown --icc {icc_kind!r}; choose 2,1, 3,1 or 1,1")
    stats = agreement_table(df, icc_kind=cast(IccKind, icc_kind))  # checked just above
    with atomic_path(out_dir / "agreement.csv") as tmp:
        stats.to_csv(tmp, index=False)
    n_fig = len(plot_agreement(df, out_dir / "figures", units=PHENOTYPE_UNITS)) if plots else 0
    figs = f" and {n_fig} figures to {out_dir / 'figures'}" if plots else ""
    console.print(f"wrote {len(stats)} groups to {out_dir / 'agreement.csv'}{figs}")
