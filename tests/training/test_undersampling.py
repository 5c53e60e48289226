"""Training masks (deterministic per (seed, epoch, index), never global RNG), tree discovery and splits."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from cardiomm.errors import ShapeError
from cardiomm.io.h5 import rss_from_kspace
from cardiomm.io.kspace import read_cmrxrecon
from cardiomm.training.records import collate_samples
from cardiomm.training.tree import TreeFrameDataset, discover_scans, split_scans
from cardiomm.training.undersampling import UndersampledFrames, eval_mask_generator, train_mask_generator


@pytest.fixture(scope="module")
def frames(tiny_tree: Path) -> TreeFrameDataset:
    return TreeFrameDataset(discover_scans(tiny_tree, "TrainingSet"), preload=True)


def test_train_mask_generator_is_a_pure_function() -> None:
    a = train_mask_generator(42, 3, 17).integers(1 << 30, size=4)
    b = train_mask_generator(42, 3, 17).integers(1 << 30, size=4)
    c = train_mask_generator(42, 3, 18).integers(1 << 30, size=4)
    d = train_mask_generator(42, 4, 17).integers(1 << 30, size=4)
    assert (a == b).all() and not (a == c).all() and not (a == d).all()
    e = eval_mask_generator("Cine/x.mat", 0).integers(1 << 30, size=4)
    assert (e == eval_mask_generator("Cine/x.mat", 0).integers(1 << 30, size=4)).all()


def test_training_mask_deterministic_per_seed_epoch_index(frames: TreeFrameDataset) -> None:
    ds = UndersampledFrames(frames, train=True, seed=7)
    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    first = ds[(3, 0)]
    again = ds[(3, 0)]
    assert torch.equal(first.mask, again.mask)
    assert (first.mask_type, first.acceleration) == (again.mask_type, again.acceleration)
    # the global RNGs are untouched
    assert random.getstate() == py_state and torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), np_state, strict=True))
    # masks vary across indices and epochs (compare several draws: two may coincide by chance)
    shape = (24, 32)
    draws = {ds.draw_mask(shape, index=i, epoch=0, fname="f", frame=0).mask.tobytes() for i in range(12)}
    assert len(draws) > 3
    epochs = {ds.draw_mask(shape, index=3, epoch=e, fname="f", frame=0).mask.tobytes() for e in range(12)}
    assert len(epochs) > 3
    assert {ds[(i, 0)].acceleration for i in range(len(ds))} <= {4, 8, 16, 24}
    # another base seed gives other masks
    other = UndersampledFrames(frames, train=True, seed=8)
    assert {
        other.draw_mask(shape, index=i, epoch=0, fname="f", frame=0).mask.tobytes() for i in range(12)
    } != draws


def test_eval_mask_fixed_per_frame_and_independent_of_epoch(frames: TreeFrameDataset) -> None:
    ds = UndersampledFrames(frames, train=False, seed=1)
    ds2 = UndersampledFrames(frames, train=False, seed=2)
    for key in (0, (0, 5)):
        s = ds[key]
        assert torch.equal(s.mask, ds2[0].mask)
    assert s.undersampling_prompt == f"Undersampling: {s.acceleration}x {s.mask_type}."


def test_sample_is_masked_kspace_with_rss_target(frames: TreeFrameDataset, tiny_tree: Path) -> None:
    ds = UndersampledFrames(frames, train=True, seed=0)
    s = ds[(5, 1)]
    scan_index, b = frames.scan_of(5)
    vol = read_cmrxrecon(frames.scans[scan_index].path).frames()
    assert s.masked_kspace.dtype == torch.complex64 and s.mask.dtype == torch.bool
    assert s.mask.shape == (1, *vol.shape[-2:])
    assert torch.equal(s.masked_kspace, vol[b] * s.mask)
    assert (s.masked_kspace[:, ~s.mask[0]] == 0).all()
    target = rss_from_kspace(vol)
    torch.testing.assert_close(s.target, target[b])
    assert s.max_value == pytest.approx(float(target.max()))
    assert s.n_acs == 20 and s.mask[0].sum(dim=0).min() > 0  # every readout column has samples (ACS)
    assert s.metadata_prompt.startswith("Adult cardiac MRI reconstruction.Vendor: ")
    assert "Modality: cine, short-axis" in s.metadata_prompt
    assert s.fname == frames.scans[scan_index].relpath and s.frame == b and s.index == 5


def test_discovery_and_patient_split(tiny_tree: Path) -> None:
    scans = discover_scans(tiny_tree, "TrainingSet")
    assert len(scans) == 4 and all(s.header.modality == "Cine" for s in scans)
    assert [s.shape for s in scans][0] == (2, 2, 3, 24, 32)
    train, val = split_scans(scans, val_fraction=0.5, seed=0)
    assert train and val and {s.relpath for s in train}.isdisjoint({s.relpath for s in val})
    patients = lambda part: {s.header.patient_id for s in part}  # noqa: E731
    assert patients(train).isdisjoint(patients(val))
    reordered = split_scans(list(reversed(scans)), val_fraction=0.5, seed=0)[1]
    assert {s.relpath for s in reordered} == {s.relpath for s in val}  # independent of file order
    assert len(discover_scans(tiny_tree, "TestSet")) == 1


def test_frame_count_shapes_and_collate(frames: TreeFrameDataset) -> None:
    assert len(frames) == 2 * 2 * 2 + 2 * 2  # t * z per scan
    shapes = frames.frame_shapes()
    assert set(shapes) == {(3, 24, 32), (3, 24, 40)}
    ds = UndersampledFrames(frames, train=True)
    same = [i for i, s in enumerate(shapes) if s == (3, 24, 32)][:3]
    batch = collate_samples([ds[(i, 0)] for i in same])
    assert batch.masked_kspace.shape == (3, 3, 24, 32) and batch.target.shape == (3, 24, 32)
    assert batch.max_value.shape == (3,) and len(batch.metadata_prompt) == 3
    other = shapes.index((3, 24, 40))
    with pytest.raises(ShapeError):
        collate_samples([ds[(same[0], 0)], ds[(other, 0)]])


def test_single_coil_fraction_compresses_to_one_virtual_coil(frames: TreeFrameDataset) -> None:
    """A share of training samples becomes single-coil: one virtual coil (the dominant SVD component, which
    keeps the most energy of any one combination), target = |its image|; evaluation samples never change."""

    ds = UndersampledFrames(frames, train=True, seed=1, single_coil_fraction=0.5, with_prompts=False)
    single = [i for i in range(len(ds)) if ds[(i, 0)].masked_kspace.shape[0] == 1]
    assert 0 < len(single) < len(ds)
    assert [i for i in range(len(ds)) if ds[(i, 0)].masked_kspace.shape[0] == 1] == single  # seeded
    i = single[0]
    sample, full = ds[(i, 0)], frames[i].kspace
    assert sample.max_value == pytest.approx(float(sample.target.max()))
    # the one virtual coil holds at least the energy of the best physical coil, at most all of it
    energy = (full.abs() ** 2).sum(dim=(-2, -1))
    target_energy = float((sample.target**2).sum())
    assert float(energy.max()) <= target_energy * (1 + 1e-4) <= float(energy.sum()) * (1 + 1e-4)
    never = UndersampledFrames(frames, train=False, seed=1, single_coil_fraction=1.0, with_prompts=False)
    assert never[0].masked_kspace.shape[0] == full.shape[0]
    with pytest.raises(Exception, match="single_coil_fraction"):
        UndersampledFrames(frames, train=True, single_coil_fraction=1.5)
