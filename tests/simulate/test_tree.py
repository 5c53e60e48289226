"""The tiny MMCMR-style tree: layout, io round trip, masks, sidecars, determinism."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import h5py
import numpy as np
import pytest

from cardiomm.io.kspace import read_cmrxrecon, read_mask
from cardiomm.io.scan_csv import read_scan_csv
from cardiomm.sampling import make_test_mask
from cardiomm.simulate import generate_mini, plan_mini, read_ground_truth
from cardiomm.simulate.truth import MYOCARDIAL_DENSITY, phenotypes_from_labels
from cardiomm.types import Modality

Tree = tuple[Path, dict[str, Any]]
_FOLDERS = {
    "Cine",
    "Mapping",
    "Aorta",
    "Tagging",
    "Flow2d",
    "BlackBlood",
    "LGE",
    "Perfusion",
    "T1rho",
    "T1w",
    "T2w",
}


def test_tiny_tree_layout(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    files = manifest["files"]
    assert {f["modality"] for f in files} == {m.value for m in Modality}
    assert {PurePosixPath(f["path"]).parts[0] for f in files} == _FOLDERS
    for f in files:
        parts = PurePosixPath(f["path"]).parts
        assert parts[1] in ("TrainingSet", "TestSet") and parts[2] == "FullSample"
        assert parts[3].startswith("Center") and parts[5].startswith("P")
        vendor, field, model = parts[4].split("_", 2)
        assert vendor in ("Siemens", "GE", "Philips", "UIH") and model
        assert field in ("055T", "15T", "30T", "50T")
        for key in ("path", "info_csv", "gt"):
            assert (root / f[key]).is_file()
    centers = {c["code"]: c for c in manifest["centers"]}
    assert any(not c["internal"] for c in centers.values()) and any(c["internal"] for c in centers.values())
    assert len({c["vendor"] for c in centers.values()}) >= 2
    for code, c in centers.items():  # internal centers in both splits
        if c["internal"]:
            assert {f["split"] for f in files if f["center"] == code} == {"TrainingSet", "TestSet"}
    for f in files:  # external centers appear only in TestSet
        if not centers[f["center"]]["internal"]:
            assert f["split"] == "TestSet"
    # patient ids are unique per center: one split per (center, patient)
    splits: dict[tuple[str, str], set[str]] = {}
    for f in files:
        splits.setdefault((f["center"], f["patient"]), set()).add(f["split"])
    assert all(len(s) == 1 for s in splits.values())
    assert json.loads((root / "manifest.json").read_text())["files"] == files
    assert not [p for p in root.rglob(".cardiomm-tmp-*")]
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 50e6


def test_tiny_tree_read_back_every_modality(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    seen = set()
    for f in manifest["files"]:
        vol = read_cmrxrecon(root / f["path"])
        assert vol.key == "kspace_full" and list(vol.kspace.shape) == f["shape_tzcyx"]
        assert bool(torch_isfinite(vol.kspace))
        params = read_scan_csv(root / f["info_csv"])
        assert params.fov_x_mm and params.recon_matrix_x and params.tr_s
        if f["modality"] == "T1map":
            assert params.ti_list_s == pytest.approx(f["ti_s"]) and len(params.ti_list_s) == 8
        if f["modality"] in ("T2map", "T1rho"):
            assert params.prep_times_s == pytest.approx(f["prep_times_s"])
        seen.add(f["modality"])
    assert seen == {m.value for m in Modality}


def torch_isfinite(t: Any) -> bool:
    import torch

    return bool(torch.isfinite(torch.view_as_real(t)).all())


def test_tiny_tree_masks_match_sampling(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    test_files = [f for f in manifest["files"] if f["split"] == "TestSet"]
    assert test_files and all(len(f["masks"]) == 9 for f in test_files)
    assert all(not f["masks"] for f in manifest["files"] if f["split"] == "TrainingSet")
    for f in test_files:  # every mask file exists, is readable and fits its k-space
        nt, _, _, ny, nx = f["shape_tzcyx"]
        for rel in f["masks"]:
            assert "/Mask_TaskAll/" in rel and read_mask(root / rel).shape == (nt, ny, nx)
    # regenerate the masks of a multi-frame, a single-frame (2-D mask) and a LAX file with the recorded seed
    chosen = [next(f for f in test_files if f["stem"] == s) for s in ("cine_sax", "lge", "T1map")]
    for f in chosen:
        nt, _, _, ny, nx = f["shape_tzcyx"]
        gt_seed = read_ground_truth(root / f["gt"])["metadata"]["seeds"]["mask"]
        assert gt_seed == f["mask_seed"]
        for rel in f["masks"]:
            name = PurePosixPath(rel).stem.rsplit("_mask_", 1)[1]
            pattern, accel = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")) :])
            expected = make_test_mask(pattern, accel, nx, ny, nt, acs=20, seed=f["mask_seed"])
            np.testing.assert_array_equal(read_mask(root / rel).numpy(), expected)
        vol = read_cmrxrecon(root / f["path"], mask=root / f["masks"][0])
        assert vol.mask is not None


def test_tiny_tree_phenotypes_equal_labels(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    sax = [f for f in manifest["files"] if f["stem"] == "cine_sax"]
    assert len(sax) >= 2
    for f in sax:
        gt = read_ground_truth(root / f["gt"])
        meta, ph, labels = gt["metadata"], gt["phenotypes"], gt["labels"]
        sp = meta["voxel_spacing_mm"]
        vox = sp["z"] * sp["y"] * sp["x"] * 1e-3
        lv = (labels == 1).sum(axis=(1, 2, 3)) * vox
        ed, es = int(np.argmax(lv)), int(np.argmin(lv))
        assert ph["LVEDV (mL)"] == pytest.approx(lv[ed]) and ph["LVESV (mL)"] == pytest.approx(lv[es])
        assert ph["LVM (g)"] == pytest.approx((labels[ed] == 2).sum() * vox * MYOCARDIAL_DENSITY)
        hr = 60.0 / (labels.shape[0] * meta["frame_dt_s"])
        assert ph["HR (bpm)"] == pytest.approx(hr) and hr == pytest.approx(meta["heart_rate_bpm"])
        assert ph["LVCO (L/min)"] == pytest.approx((lv[ed] - lv[es]) * hr * 1e-3)
        again = phenotypes_from_labels(labels, (sp["z"], sp["y"], sp["x"]), meta["frame_dt_s"])
        assert ph == pytest.approx(again, nan_ok=True)
        assert 30 < ph["LVEF (%)"] < 90 or meta["disease"] in ("DCM", "MI")
        with h5py.File(root / f["gt"]) as h:
            assert h["labels"].shape == tuple(f["shape_tzcyx"][:2] + f["shape_tzcyx"][3:])


def test_tiny_tree_sidecar_metadata(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    for f in manifest["files"]:
        meta = read_ground_truth(root / f["gt"])["metadata"]
        for key in (
            "center",
            "vendor",
            "field_t",
            "scanner",
            "modality",
            "view",
            "disease",
            "population",
            "patient_id",
            "seeds",
            "voxel_spacing_mm",
            "frame_dt_s",
        ):
            assert key in meta, key
        assert meta["patient_id"] == f["patient"] and meta["center"] == f["center"]
        if f["modality"] == "T1map":
            assert len(meta["ti_s"]) == 8


def test_tiny_tree_uih_tr_quirk(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    f = next(f for f in manifest["files"] if f["center"] == "Center002" and f["stem"] == "cine_sax")
    meta = read_ground_truth(root / f["gt"])["metadata"]
    params = read_scan_csv(root / f["info_csv"])
    assert "tr_div10" in meta["quirks"]
    assert params.tr_s * 10 == pytest.approx(meta["frame_dt_s"])  # the pipeline's UIH x10 fix restores it


def test_tiny_tree_uih_like_quirks_recorded(tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    ext = [f for f in manifest["files"] if f["center"] == "Center007"]
    assert ext
    f = ext[0]
    meta = read_ground_truth(root / f["gt"])["metadata"]
    params = read_scan_csv(root / f["info_csv"])
    nx = f["shape_tzcyx"][-1]
    assert "fov_over_n" in meta["quirks"] and params.recon_matrix_x == 2 * nx
    assert params.fov_x_mm / nx == pytest.approx(meta["voxel_spacing_mm"]["x"])


def test_generate_mini_seed_determinism(tmp_path: Path, tiny_tree: Tree) -> None:
    root, manifest = tiny_tree
    a = generate_mini(tmp_path / "a", size="tiny", seed=0, modalities=["T2map"])
    b = generate_mini(tmp_path / "b", size="tiny", seed=1, modalities=["T2map"])
    rel = a["files"][-1]["path"]
    same = read_cmrxrecon(tmp_path / "a" / rel).kspace.numpy().tobytes()
    assert same == read_cmrxrecon(root / rel).kspace.numpy().tobytes()
    assert same != read_cmrxrecon(tmp_path / "b" / rel).kspace.numpy().tobytes()
    assert [f["path"] for f in a["files"]] == [f["path"] for f in b["files"]]


def test_plan_small_covers_all_centers_and_modalities() -> None:
    jobs = plan_mini("small", seed=0)
    assert len({j.center.code for j in jobs}) == 9
    assert {j.spec.modality for j in jobs} == set(Modality)
    assert {j.center.vendor for j in jobs} == {"Siemens", "GE", "Philips", "UIH"}
    assert {j.center.field_t for j in jobs} == {0.55, 1.5, 3.0, 5.0}
    assert all(j.split == "TestSet" for j in jobs if not j.center.internal)
