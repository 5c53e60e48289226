"""Evaluate a tree of reconstructions against the fully sampled references (one row per file).

Prediction files are ``.mat`` volumes (key ``reconimage``, MATLAB ``[nx, ny, nz, nt]``) named
``<name>_mask_<Pattern><R>.mat`` in the layout written by ``cardiomm reconstruct`` on a TestSet tree::

    PRED/[<Method>/]<Modality>/TestSet/TaskAll/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>_mask_<P><R>.mat
    REF/<Modality>/TestSet/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>.mat

The reference image is the coil RSS of the fully sampled k-space (full FOV, reference section 11), or a
``GTSOS`` volume (key ``gtsosimage``) when one exists. Metrics follow :func:`evaluate_volume`.
A center is *internal* when it has a ``TrainingSet`` folder anywhere under REF, else *external*
(zero-shot), unless roles are given explicitly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cardiomm.database.paths import parse_path
from cardiomm.errors import InputFileError
from cardiomm.evaluation.metrics import evaluate_volume
from cardiomm.layout import FULL_DIR, GT_DIR, RESULT_DIR, TRAIN_SET, scan_stem
from cardiomm.types import Modality
from cardiomm.utils.atomic import TMP_PREFIX

__all__ = ["COLUMNS", "PredFile", "find_predictions", "reference_volume", "center_roles", "evaluate_tree"]

#: Columns of the per-file metrics table (the published CSV's, plus Role and File).
COLUMNS = (
    "Method",
    "Modality",
    "Center",
    "Vendor",
    "Field",
    "Role",
    "Mask",
    "AF",
    "PSNR",
    "SSIM",
    "NMSE",
    "File",
)

#: Modality folders of the MMCMR layout (first folder below a method folder).
_MODALITY_FOLDERS = frozenset(m.folder for m in Modality)


@dataclass(frozen=True)
class PredFile:
    """One prediction: its method, path, path relative to the method folder, and reference path parts."""

    method: str
    path: Path
    rel: Path
    ref_rel: Path


def _ref_rel(rel: Path) -> Path:
    parts = [FULL_DIR if p == RESULT_DIR else p for p in rel.parts[:-1]]
    return Path(*parts, scan_stem(rel.name) + ".mat")


def find_predictions(pred_root: Path, method: str | None = None) -> list[PredFile]:
    """All ``*_mask_*.mat`` predictions under ``pred_root`` (sorted); the method is the first folder
    below ``pred_root`` unless that is a modality folder (then ``method`` or the root's name)."""
    pred_root = Path(pred_root)
    if not pred_root.is_dir():
        raise InputFileError("prediction folder not found", path=pred_root)
    out = []
    for p in sorted(pred_root.rglob("*_mask_*.mat")):
        if p.name.startswith((TMP_PREFIX, ".")):
            continue
        rel = p.relative_to(pred_root)
        if rel.parts[0] in _MODALITY_FOLDERS or len(rel.parts) < 2:
            name = method or pred_root.name
        else:
            name, rel = method or rel.parts[0], Path(*rel.parts[1:])
        out.append(PredFile(name, p, rel, _ref_rel(rel)))
    if not out:
        raise InputFileError("no <name>_mask_<Pattern><R>.mat predictions found", path=pred_root)
    return out


def reference_volume(ref_root: Path, ref_rel: Path) -> np.ndarray:
    """Reference magnitude ``(t, z, y, x)`` float32 for ``ref_rel`` (a FullSample path) under ``ref_root``."""
    from cardiomm.io import read_cmrxrecon, read_image_mat, rss_from_kspace  # noqa: PLC0415 - lazy: importing this module loads no h5py

    path = Path(ref_root) / ref_rel
    gtsos = Path(ref_root) / Path(*[GT_DIR if p == FULL_DIR else p for p in ref_rel.parts])
    if gtsos != path and gtsos.exists():
        return read_image_mat(gtsos, "gtsosimage").numpy()
    if not path.exists():
        raise InputFileError("reference (fully sampled) file not found", path=path)
    vol = read_cmrxrecon(path)
    img = rss_from_kspace(vol.frames())
    return img.view(vol.n_frames, vol.n_slices, vol.ny, vol.nx).numpy()


def center_roles(ref_root: Path) -> dict[str, str]:
    """``{center: "internal" | "external"}``.

    From ``ref_root/manifest.json`` when it lists centers with a ``split`` (as ``cardiomm simulate``
    writes it); otherwise internal centers are those with ``TrainingSet`` data under ``ref_root``.
    """
    ref_root = Path(ref_root)
    roles: dict[str, str] = {}
    manifest = ref_root / "manifest.json"
    if manifest.is_file():
        try:
            centers = json.loads(manifest.read_text()).get("centers", [])
            roles = {
                str(c["code"]): str(c["split"])
                for c in centers
                if "code" in c and c.get("split") in ("internal", "external")
            }
        except (ValueError, TypeError, AttributeError, KeyError):
            roles = {}
        if roles:
            return roles
    for set_dir in ref_root.glob("*/*/FullSample"):
        for center in set_dir.iterdir():
            if not center.is_dir():
                continue
            internal = set_dir.parent.name == TRAIN_SET
            if internal or center.name not in roles:
                roles[center.name] = "internal" if internal else "external"
    return roles


def evaluate_tree(
    pred_root: Path,
    ref_root: Path,
    *,
    method: str | None = None,
    scheme: str = "percentile",
    roles: Mapping[str, str] | None = None,
    on_file: Callable[[PredFile], None] | None = None,
) -> list[dict[str, object]]:
    """Evaluate every prediction; one row (see :data:`COLUMNS`) per file, in file order."""
    from cardiomm.io import read_image_mat  # noqa: PLC0415 - lazy: importing this module loads no h5py

    preds = find_predictions(pred_root, method)
    roles = dict(roles) if roles is not None else center_roles(ref_root)
    cache: dict[Path, np.ndarray] = {}
    rows: list[dict[str, object]] = []
    for pf in preds:
        if pf.ref_rel not in cache:
            cache.clear()  # files are sorted: one reference at a time is enough
            cache[pf.ref_rel] = reference_volume(ref_root, pf.ref_rel)
        gt = cache[pf.ref_rel]
        pred = read_image_mat(pf.path, "reconimage").numpy()
        m = evaluate_volume(gt, pred, scheme=scheme).rounded()
        info = parse_path(pf.rel.as_posix())
        rows.append(
            {
                "Method": pf.method,
                "Modality": info.modality,
                "Center": info.center,
                "Vendor": info.vendor,
                "Field": info.field_t,
                "Role": roles.get(info.center, "unknown"),
                "Mask": info.sampling_pattern,
                "AF": info.acceleration,
                "PSNR": m["PSNR"],
                "SSIM": m["SSIM"],
                "NMSE": m["NMSE"],
                "File": pf.rel.as_posix(),
            }
        )
        if on_file is not None:
            on_file(pf)
    return rows
