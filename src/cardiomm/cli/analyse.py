"""``cardiomm analyse``: downstream analysis (parametric maps, cine phenotypes, agreement statistics).

Sub-commands:

- ``mapping``: fit a T1 (MOLLI) / T2 / T1rho / T2* map from a series ``(t, z, y, x)`` (``t`` = contrasts)
  in ``.mat`` (``reconimage``...), ``.npy`` or NIfTI; times from ``--times``, a simulate ``_gt.h5``
  sidecar (``--gt``) or the series' ``_info.csv``. Writes ``<stem>_<kind>.csv`` (myocardial statistics
  per slice, in ms), ``<stem>_<kind>.png`` and ``<stem>_<kind>.npy`` (map in seconds).
- ``phenotypes``: the 11 cine phenotypes from labels (``.npy``, NIfTI, simulate ``_gt.h5``) or from images
  segmented with ``--segmenter``; spacing / frame time from options, NIfTI header, ``_gt.h5`` or
  ``_info.csv``. Writes one CSV row.
- ``agreement``: per method / pattern / acceleration / phenotype agreement statistics of a long-format
  CSV (``case, method, pattern, accel, phenotype, value_recon, value_ref``) plus Bland-Altman figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer

from cardiomm.cli.app import app, console
from cardiomm.errors import (
    ConfigError,
    DataValueError,
    InputFileError,
    MissingKeyError,
    ShapeError,
    UnknownChoiceError,
)

__all__ = ["analyse_app", "mapping", "ecv_command", "phenotypes", "agreement"]

analyse_app = typer.Typer(
    help="Downstream analysis: parametric maps, cine phenotypes, agreement.", no_args_is_help=True
)
app.add_typer(analyse_app, name="analyse")

_KINDS = ("t1", "t2", "t2-offset", "t1rho", "t2star")
_MODALITY_KIND = {
    "T1map": ("t1", "ti_s"),
    "T2map": ("t2", "prep_times_s"),
    "T1rho": ("t1rho", "prep_times_s"),
}
_LEVELS = {"base": 1, "mid": 2, "apex": 3}


# ------------------------------------------------------------------------------------------- loading
def _is_nifti(p: Path) -> bool:
    return p.name.endswith((".nii", ".nii.gz"))


def _load_volume(path: Path, key: str | None = None, *, series: bool = False) -> tuple[Any, dict[str, Any]]:
    """Read a (t, z, y, x) volume and what its header says (spacing_mm (dz, dy, dx), frame_dt_s).

    A 3-D ``.npy`` is ``(t, y, x)`` (one slice) for a mapping ``series``, else ``(z, y, x)`` (one frame).
    """
    import numpy as np

    if not path.exists():
        raise InputFileError("file not found", path=path)
    meta: dict[str, Any] = {}
    if path.is_dir():  # a DICOM series: images with geometry and per-image TI / TE
        from cardiomm.io.image_series import read_dicom_series

        dicom = read_dicom_series(path)
        dz = dicom.slice_spacing or dicom.spacing[0]  # volumes need the centre-to-centre distance
        meta.update(spacing_mm=(dz, dicom.spacing[1], dicom.spacing[2]), images=True)
        if dicom.frame_dt:  # frames span the R-R interval: prefer it when recorded (prospective gating
            # leaves a gap after the last frame, so trigger-time steps would overstate the heart rate)
            n_t = dicom.magnitude.shape[0]
            meta["frame_dt_s"] = dicom.rr_interval / n_t if dicom.rr_interval else dicom.frame_dt
        for name, times in (("ti_s", dicom.inversion_times), ("te_s", dicom.echo_times)):
            if times is not None and np.ptp(times[:, 0]) > 0:  # varies over the series: a mapping axis
                meta[name] = times
        return dicom.magnitude, meta
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim == 3:
            arr = arr[:, None] if series else arr[None]
        elif arr.ndim == 2:
            arr = arr[None, None]
        if arr.ndim != 4:
            raise DataValueError(f"expected a 2-D to 4-D (t, z, y, x) array, not {arr.shape}", path=path)
        return arr, meta
    if path.suffix == ".mat":
        from cardiomm.io.recon import read_image_mat

        return read_image_mat(path, key).numpy(), meta
    if _is_nifti(path):
        from cardiomm.io.nifti import read_nifti

        vol = read_nifti(path)
        dx, dy, dz = vol.voxel_size_mm
        meta["spacing_mm"] = (dz, dy, dx)
        if vol.frame_time_s > 0:
            meta["frame_dt_s"] = vol.frame_time_s
        return vol.volume.numpy(), meta
    if path.name.endswith("_gt.h5"):
        return _read_gt(path)["labels"], _gt_meta(path)
    msg = "unsupported file type (use .mat, .npy, .nii/.nii.gz, a DICOM series folder or a simulate _gt.h5)"
    raise UnknownChoiceError(msg, path=path)


def _read_gt(path: Path) -> dict[str, Any]:
    from cardiomm.simulate.truth import read_ground_truth

    if not path.is_file():
        raise InputFileError("ground-truth sidecar not found", path=path)
    try:
        return read_ground_truth(path)
    except (OSError, KeyError, ValueError) as err:
        raise MissingKeyError(f"not a cardiomm simulate _gt.h5 sidecar ({err})", path=path) from None


def _gt_meta(path: Path) -> dict[str, Any]:
    md = _read_gt(path)["metadata"]
    sp = md.get("voxel_spacing_mm", {})
    out: dict[str, Any] = {}
    if sp:
        out["spacing_mm"] = (float(sp["z"]), float(sp["y"]), float(sp["x"]))
    if md.get("frame_dt_s"):
        out["frame_dt_s"] = float(md["frame_dt_s"])
    return out


def _as_labels(arr: Any, path: Path) -> Any:
    import numpy as np

    a = np.asarray(arr)
    if a.dtype.kind == "f":
        if not np.allclose(a, np.round(a)):
            msg = "label volume holds non-integer values (pass --segmenter to segment images)"
            raise DataValueError(msg, path=path)
        a = np.round(a)
    if a.min() < 0 or a.max() > 255:
        raise DataValueError(f"label values out of range [{a.min()}, {a.max()}]", path=path)
    return a.astype(np.uint8)


def segmenter_kwargs(name: str, model_folder: Path | None, weights: Path | None) -> dict[str, Any]:
    """Keyword arguments of :func:`~cardiomm.analysis.segmentation.get_segmenter` from the CLI options
    (``--model-folder`` belongs to ``nnunet``, ``--weights`` to ``simunet``)."""
    kwargs: dict[str, Any] = {}
    if model_folder is not None:
        if name != "nnunet":
            raise ConfigError(f"--model-folder is for --segmenter nnunet, not {name!r}")
        kwargs["model_folder"] = model_folder
    if weights is not None:
        if name != "simunet":
            raise ConfigError(f"--weights is for --segmenter simunet, not {name!r}")
        kwargs["weights"] = weights
    return kwargs


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None


# ------------------------------------------------------------------------------------------- mapping
def _map_png(path: Path, maps: Any, title: str, unit: str = "ms") -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cardiomm.utils.atomic import atomic_path

    n = maps.shape[0]
    fig = Figure(figsize=(3.2 * n + 0.8, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, n))
    finite = maps[np.isfinite(maps)]
    vmax = float(np.percentile(finite, 99)) if finite.size else 1.0
    im = None
    for z, ax in enumerate(axes):
        im = ax.imshow(maps[z], cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(f"slice {z}")
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=list(axes), label=f"{title} [{unit}]")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _per_slice_times(times: Any) -> Any:
    """``(t, z)`` per-image times -> ``(t,)`` when all slices share them (within 0.5 ms), else ``(t, z)``
    (multi-slice series whose slices were prepared at different times: fitted slice by slice)."""
    import numpy as np

    return times[:, 0] if np.ptp(times, axis=1).max() <= 5e-4 else times


@analyse_app.command("mapping")
def mapping(
    series: Path = typer.Argument(
        ...,
        help="Series (t, z, y, x), t = contrasts: .mat, .npy, .nii(.gz) or a DICOM folder (TI/TE read).",
    ),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="Output folder."),
    kind: str | None = typer.Option(None, "--kind", help=f"{', '.join(_KINDS)} (default: from --gt, t1)."),
    times: str | None = typer.Option(None, "--times", help="TI / TE / spin-lock times, comma-separated."),
    time_unit: str = typer.Option("ms", "--time-unit", help="Unit of --times: ms or s."),
    gt: Path | None = typer.Option(None, "--gt", help="simulate <stem>_gt.h5: times, labels and true map."),
    labels: Path | None = typer.Option(None, "--labels", help="Segmentation (z, y, x) for myocardial stats."),
    key: str | None = typer.Option(None, "--key", help="Variable name in a .mat series."),
    level: str | None = typer.Option(None, "--level", help="AHA level of all slices: base, mid or apex."),
    magnitude: bool = typer.Option(True, "--magnitude/--signed", help="T1: magnitude data or signed data."),
    ti_scale: float = typer.Option(
        1.0, "--ti-scale", help="T1: factor on the TIs (T1 scales by it) to match a vendor map; 1 = textbook."
    ),
) -> None:
    """Fit a parametric map and summarise it over the myocardium (CSV in ms, PNG, .npy in s)."""
    import numpy as np
    import pandas as pd

    from cardiomm.analysis.aha import aha_segments
    from cardiomm.analysis.labels import MYO
    from cardiomm.analysis.mapping import fit_exponential_decay, fit_molli_t1, fit_t2star, myocardial_stats
    from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv
    from cardiomm.utils.atomic import atomic_path

    vol, vol_meta = _load_volume(series, key, series=True)
    truth = _read_gt(gt) if gt is not None else None
    md = truth["metadata"] if truth else {}
    mod_kind, time_key = _MODALITY_KIND.get(md.get("modality", ""), ("t1", "ti_s"))
    kind = kind or mod_kind
    if kind not in _KINDS:
        raise UnknownChoiceError(f"unknown --kind {kind!r}; choose one of {', '.join(_KINDS)}")
    if ti_scale != 1.0 and kind != "t1":
        raise ConfigError(f"--ti-scale is for --kind t1, not {kind!r}")
    if times is not None:
        if time_unit not in ("s", "ms"):
            raise UnknownChoiceError(f"unknown --time-unit {time_unit!r}; choose ms or s")
        t_s = np.asarray(_floats(times, "--times")) * (1e-3 if time_unit == "ms" else 1.0)
    elif truth is not None:
        t_s = np.asarray(md.get(time_key) or md.get("ti_s") or md.get("prep_times_s") or [], dtype=float)
    elif vol_meta.get("images"):  # DICOM: TI for T1, TE for T2* / multi-echo T2 (T2-prep times: not in tags)
        found = vol_meta.get("ti_s" if kind == "t1" else "te_s")
        if found is None:
            what = "inversion times" if kind == "t1" else "echo times that vary over the series"
            raise ConfigError(f"the DICOM series has no {what}: give --times (and --kind)", path=series)
        t_s = _per_slice_times(found)
    else:
        csv = find_scan_csv(series)
        params = read_scan_csv(csv) if csv else None
        found = (params.ti_list_s if kind == "t1" else params.prep_times_s) if params else ()
        t_s = np.asarray(found, dtype=float)
    if t_s.shape[0] != vol.shape[0]:
        msg = f"{t_s.shape[0]} times for a series of {vol.shape[0]} contrasts (give --times or --gt)"
        raise ConfigError(msg)

    def fit_series(v: Any, t: Any) -> tuple[Any, Any]:
        if kind == "t1":
            fit = fit_molli_t1(v, t, magnitude=magnitude, ti_scale=ti_scale)
            return fit.t1, fit.r2
        fitter = fit_t2star if kind == "t2star" else fit_exponential_decay
        dfit = fitter(v, t, offset=kind == "t2-offset")
        return dfit.t2, dfit.r2

    if t_s.ndim == 1:
        tmap, r2 = fit_series(vol, t_s)
    else:  # each slice with its own times
        fits = [fit_series(vol[:, z : z + 1], t_s[:, z]) for z in range(vol.shape[1])]
        tmap, r2 = (np.concatenate(parts) for parts in zip(*fits, strict=True))
    seg = None
    if labels is not None:
        lab_arr, _ = _load_volume(labels)
        seg = _as_labels(lab_arr[0], labels)
    elif truth is not None:
        seg = np.asarray(truth["labels"][0], dtype=np.uint8)
    if seg is not None and seg.shape != tmap.shape:
        raise DataValueError(f"labels {seg.shape} do not match the map {tmap.shape}", path=labels or gt)
    if level is not None and level not in _LEVELS:
        raise UnknownChoiceError(f"unknown --level {level!r}; choose base, mid or apex")
    segs = None
    if seg is not None:
        levels = [_LEVELS[level]] * tmap.shape[0] if level is not None else None
        segs = aha_segments(seg, levels=levels)
    true_map = None
    if truth is not None:
        true_map = truth["maps"].get({"t2-offset": "t2", "t2star": "t2s"}.get(kind, kind))
    rows = []
    for z in [*range(tmap.shape[0]), None]:
        sl = slice(None) if z is None else slice(z, z + 1)
        myo = seg[sl] == MYO if seg is not None else np.isfinite(tmap[sl])
        region = myo if seg is None else seg[sl]
        st = myocardial_stats(tmap[sl], region, segments=None if segs is None else segs[sl])
        row: dict[str, Any] = {
            "slice": "all" if z is None else z,
            "n_pixels": st.n_pixels,
            "mean_ms": st.mean * 1e3,
            "sd_ms": st.sd * 1e3,
            "median_ms": st.median * 1e3,
            "r2_median": float(np.nanmedian(r2[sl][myo])) if myo.any() else float("nan"),
        }
        if true_map is not None and seg is not None:
            row["true_mean_ms"] = float(true_map[0][sl][myo].mean()) * 1e3 if myo.any() else float("nan")
        if seg is not None:
            row.update({k: v for k, v in st.as_dict(scale=1e3, prefix="Mapping").items() if "AHA" in k})
        rows.append(row)
    stem = series.name.split(".")[0]
    base = out_dir / f"{stem}_{kind}"
    with atomic_path(base.with_suffix(".csv")) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(base.with_suffix(".npy")) as tmp, open(tmp, "wb") as fh:
        np.save(fh, tmap.astype(np.float32))
    _map_png(base.with_suffix(".png"), tmap * 1e3, kind.upper())
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
    import numpy as np
    import pandas as pd

    from cardiomm.analysis.mapping import ecv_from_maps, myocardial_stats
    from cardiomm.utils.atomic import atomic_path

    if not 0.0 < hct < 1.0:
        raise ConfigError(f"--hct must be a fraction in (0, 1), e.g. 0.42, got {hct}")
    if unit not in ("auto", "s", "ms"):
        raise UnknownChoiceError(f"unknown --unit {unit!r}; choose auto, s or ms")
    if level is not None and level not in _LEVELS:
        raise UnknownChoiceError(f"unknown --level {level!r}; choose base, mid or apex")
    maps, segs = [], []
    for path, lab_path in ((pre, labels), (post, labels_post or labels)):
        arr, _ = _load_volume(path, key)
        if arr.shape[0] != 1:
            raise ShapeError(f"expected one T1 map (z, y, x), got {arr.shape[0]} images", path=path)
        lab_arr, _ = _load_volume(lab_path)
        lab = _as_labels(lab_arr[0], lab_path)
        if lab.shape != arr.shape[1:]:
            raise ShapeError(f"labels {lab.shape} do not match the map {arr.shape[1:]}", path=lab_path)
        maps.append(np.asarray(arr[0], dtype=np.float64))
        segs.append(lab)
    myo_values = maps[0][(segs[0] == 2) & np.isfinite(maps[0])]
    in_ms = unit == "ms" or (unit == "auto" and myo_values.size > 0 and float(np.median(myo_values)) > 20.0)
    scale = 1e-3 if in_ms else 1.0
    levels = [_LEVELS[level]] * maps[0].shape[0] if level is not None else None
    res = ecv_from_maps(
        maps[0] * scale,
        maps[1] * scale,
        segs[0],
        hct,
        labels_post=segs[1],
        levels=levels,
        blood_erosion=blood_erosion,
    )
    rows: list[dict[str, Any]] = []
    for z in range(res.ecv_map.shape[0]):
        st = myocardial_stats(res.ecv_map[z], segs[0][z] == 2)
        rows.append(
            {
                "slice": z,
                "n_pixels": st.n_pixels,
                "ecv_pct": 100 * st.mean,
                "sd_pct": 100 * st.sd,
                "median_pct": 100 * st.median,
            }
        )
    glob = res.stats
    rows.append(
        {
            "slice": "all",
            "n_pixels": glob.n_pixels,
            "ecv_pct": 100 * glob.mean,
            "sd_pct": 100 * glob.sd,
            "median_pct": 100 * glob.median,
            "roi_ecv_pct": 100 * res.roi_ecv,
            "hct": hct,
            "myo_t1_pre_ms": 1e3 * res.myo_pre,
            "myo_t1_post_ms": 1e3 * res.myo_post,
            "blood_t1_pre_ms": 1e3 * res.blood_pre,
            "blood_t1_post_ms": 1e3 * res.blood_post,
            **{k: v for k, v in glob.as_dict(scale=100.0, prefix="ECV").items() if "AHA" in k},
        }
    )
    base = out_dir / f"{pre.name.split('.')[0]}_ecv"
    with atomic_path(base.with_suffix(".csv")) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    with atomic_path(base.with_suffix(".npy")) as tmp, open(tmp, "wb") as fh:
        np.save(fh, res.ecv_map.astype(np.float32))
    _map_png(base.with_suffix(".png"), res.ecv_map * 100.0, "ECV", unit="%")
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
        ..., help="Labels (.npy, .nii(.gz), _gt.h5), or images (also a DICOM cine folder) to segment."
    ),
    out: Path = typer.Option(Path("phenotypes.csv"), "--out", help="Output CSV (one row)."),
    segmenter: str | None = typer.Option(None, "--segmenter", help="Segment images first (e.g. myopari)."),
    model_folder: Path | None = typer.Option(None, "--model-folder", help="For --segmenter nnunet."),
    weights: Path | None = typer.Option(
        None, "--weights", help="For --segmenter simunet: your trained weights (folder or .safetensors)."
    ),
    spacing: str | None = typer.Option(None, "--spacing", help="Voxel spacing dz,dy,dx in mm."),
    frame_dt: float | None = typer.Option(None, "--frame-dt", help="Time between frames [s]."),
    info: Path | None = typer.Option(None, "--info", help="<name>_info.csv (default: next to the input)."),
    key: str | None = typer.Option(None, "--key", help="Variable name in a .mat image file."),
    save_labels: Path | None = typer.Option(None, "--save-labels", help="Write the segmentation as .npy."),
    acdc_labels: bool = typer.Option(False, "--acdc-labels", help="Labels use ACDC numbers (RV 1, LV 3)."),
    qc_png: bool = typer.Option(True, "--qc-png/--no-qc-png", help="Write <out>_qc.png (contours, curves)."),
) -> None:
    """Compute the 11 cine phenotypes (LV/RV volumes, EF, SV, LVCO, LVM, wall thickness) with QC flags."""
    import numpy as np
    import pandas as pd

    from cardiomm.analysis.labels import acdc_to_cardiomm
    from cardiomm.analysis.phenotypes import compute_phenotypes
    from cardiomm.io.scan_csv import find_scan_csv, read_scan_csv
    from cardiomm.utils.atomic import atomic_path

    arr, meta = _load_volume(source, key)
    values = np.asarray(arr)
    integral = values.dtype.kind != "c" and np.array_equal(values, np.round(values))
    if segmenter is None and (meta.get("images") or not integral or values.max(initial=0) > 255):
        from cardiomm.analysis.segmentation import DEFAULT_SEGMENTER  # images, not labels: segment them

        segmenter = DEFAULT_SEGMENTER
        console.print(
            f"images, not labels: segmenting with the default segmenter {segmenter!r} (--segmenter)"
        )
    csv = info or find_scan_csv(source)
    if info is not None and not info.is_file():
        raise InputFileError("scan-parameter CSV not found", path=info)
    if csv is not None:
        params = read_scan_csv(csv)
        sp_csv = (params.slice_spacing_mm, params.pixel_spacing_y_mm, params.pixel_spacing_x_mm)
        meta.setdefault("spacing_mm", sp_csv)
        if params.tr_s:
            meta.setdefault("frame_dt_s", params.tr_s)
    if spacing is not None:
        sp = _floats(spacing, "--spacing")
        if len(sp) != 3:
            raise ConfigError(f"--spacing needs three values dz,dy,dx [mm], got {spacing!r}")
        meta["spacing_mm"] = tuple(sp)
    if frame_dt is not None:
        meta["frame_dt_s"] = frame_dt
    if "spacing_mm" not in meta:
        raise ConfigError("voxel spacing unknown: give --spacing dz,dy,dx or an _info.csv")
    if segmenter is not None:
        from cardiomm.analysis.segmentation import get_segmenter

        kwargs = segmenter_kwargs(segmenter, model_folder, weights)
        with console.status(f"segmenting {arr.shape[0]} frames with {segmenter}"):
            lab = get_segmenter(segmenter, **kwargs).segment(arr, meta["spacing_mm"])
    else:
        lab = _as_labels(arr, source)
        if acdc_labels:
            lab = acdc_to_cardiomm(lab)
    if save_labels is not None:
        with atomic_path(save_labels) as tmp, open(tmp, "wb") as fh:
            np.save(fh, lab)
    res = compute_phenotypes(lab, meta["spacing_mm"], meta.get("frame_dt_s"))
    row = {"case": source.name, **res.as_dict(with_segments=True)}
    with atomic_path(out) as tmp:
        pd.DataFrame([row]).to_csv(tmp, index=False)
    if qc_png:
        from cardiomm.analysis.qc_figure import phenotype_qc_figure

        figure = out.with_name(out.stem + "_qc.png")
        images = arr if segmenter is not None else None  # (t, z, y, x) like the labels
        phenotype_qc_figure(
            figure,
            lab,
            res,
            meta["spacing_mm"],
            images=images,
            frame_dt_s=meta.get("frame_dt_s"),
            title=source.name,
        )
    vals = res.values()
    qc = f"  QC: {', '.join(res.qc_flags)}" if res.qc_flags else ""
    console.print(", ".join(f"{k} {v:.1f}" for k, v in vals.items()) + qc)
    console.print(f"wrote {out}" + (f" and {out.stem}_qc.png" if qc_png else ""))


# ------------------------------------------------------------------------------------------- agreement
@analyse_app.command("agreement")
def agreement(
    table: Path = typer.Argument(..., help="CSV: case, method, pattern, accel, phenotype, value_recon/_ref."),
    out_dir: Path = typer.Option(Path("agreement"), "--out-dir", help="Output folder."),
    icc_kind: str = typer.Option("2,1", "--icc", help="2,1 (absolute agreement), 3,1 (consistency) or 1,1."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Write Bland-Altman + scatter PNGs."),
) -> None:
    """Agreement of reconstruction vs fully sampled values per method, pattern, acceleration and phenotype."""
    import pandas as pd

    from cardiomm.analysis.agreement import REQUIRED_COLUMNS, IccKind, agreement_table
    from cardiomm.analysis.agreement_plots import plot_agreement
    from cardiomm.analysis.phenotypes import PHENOTYPE_UNITS
    from cardiomm.utils.atomic import atomic_path

    if not table.is_file():
        raise InputFileError("file not found", path=table)
    try:
        df = pd.read_csv(table)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise DataValueError(f"cannot read CSV ({err})", path=table) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(map(str, df.columns))
        raise MissingKeyError(f"missing column(s) {', '.join(missing)}; found {found}", path=table)
    if icc_kind not in ("1,1", "2,1", "3,1"):
        raise UnknownChoiceError(f"unknown --icc {icc_kind!r}; choose 2,1, 3,1 or 1,1")
    stats = agreement_table(df, icc_kind=cast(IccKind, icc_kind))  # checked just above
    with atomic_path(out_dir / "agreement.csv") as tmp:
        stats.to_csv(tmp, index=False)
    n_fig = len(plot_agreement(df, out_dir / "figures", units=PHENOTYPE_UNITS)) if plots else 0
    figs = f" and {n_fig} figures to {out_dir / 'figures'}" if plots else ""
    console.print(f"wrote {len(stats)} groups to {out_dir / 'agreement.csv'}{figs}")
