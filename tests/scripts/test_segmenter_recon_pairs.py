"""``scripts/segmenter_recon_pairs.py``: reconstructions of the *training* stacks only, back on the ACDC
grid so that the expert labels fit them, and a stop when a stack does not match its source image."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import h5py
import numpy as np
import pytest

from cardiomm.simulate.real_anatomy import build_corpus

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, ModuleType]]:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    yield importlib.import_module("segmenter_recon_pairs"), importlib.import_module("acdc_to_nifti")
    for name in ("segmenter_recon_pairs", "acdc_to_nifti"):
        sys.modules.pop(name, None)


def _blob_patient(path: Path, seed: int, z: int = 2, n: int = 72) -> np.ndarray:
    """An ACDC-layout file of smooth disks (a body, a bright cavity); returns the images ``(2, z, n, n)``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n]
    images = np.zeros((2, z, n, n), np.float32)
    for t in range(2):
        for k in range(z):
            cy, cx = rng.uniform(0.35 * n, 0.65 * n, 2)
            body = np.hypot((yy - n / 2) / 0.45, (xx - n / 2) / 0.4) < n / 2
            cavity = np.hypot(yy - cy, xx - cx) < rng.uniform(6, 12)
            images[t, k] = 2000.0 * body + 6000.0 * cavity
    with h5py.File(path, "w") as f:
        for t, frame in enumerate(("frame01", "frame02")):
            f[f"{frame}/image"] = images[t].astype(np.uint16)
            f[f"{frame}/label"] = (images[t] > 7000).astype(np.uint8) * 3
    return images


def test_pairs_are_training_stacks_on_the_source_grid(
    scripts: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    pairs_mod, acdc_to_nifti = scripts
    acdc = tmp_path / "acdc"
    acdc.mkdir()
    source = _blob_patient(acdc / "patient001.h5", 1)
    _blob_patient(acdc / "patient002.h5", 2)
    acdc_to_nifti.convert(acdc, tmp_path / "nifti", labels=False)
    tree = tmp_path / "tree"
    build_corpus([tmp_path / "nifti"], tree, split={"patient001": "train", "patient002": "val"})
    out = tmp_path / "pairs"
    argv = [str(tree), "--acdc", str(acdc), "--out", str(out), "--method", "zf", "--threads", "1"]
    assert pairs_mod.main([*argv, "--masks", "ktRadial8"]) == 0
    assert sorted(p.name for p in out.glob("*.npz")) == ["patient001_ktRadial8.npz"]  # the val stack: none
    image = np.load(out / "patient001_ktRadial8.npz")["image"]
    assert image.shape == source.shape and image.dtype == np.float32
    record = json.loads((out / "pairs.json").read_text())
    assert record["method"] == "zf" and record["stacks"][0]["reference_correlation"] > 0.95
    # a zero-filled ktRadial 8x image is the source with streaks: aligned, but not equal
    corr = np.corrcoef(image.ravel(), source.ravel())[0, 1]
    assert 0.6 < corr < 0.999
    # the source flipped (a wrong orientation would put the labels off the anatomy): refused
    with h5py.File(acdc / "patient001.h5", "r+") as f:
        for frame in ("frame01", "frame02"):
            img = f[f"{frame}/image"][()]
            del f[f"{frame}/image"]
            f[f"{frame}/image"] = img[:, ::-1]
    with pytest.raises(SystemExit, match="does not match"):
        pairs_mod.main([*argv, "--masks", "Uniform8"])
