"""Task discovery and --include filtering (one rule for `reconstruct` and `adapt`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cardiomm.recon.pipeline import ReconTask, filter_tasks


def _task(rel: str) -> ReconTask:
    return ReconTask(Path("k.mat"), None, Path("out.mat"), rel)


def test_filter_tasks_matches_name_or_relative_path() -> None:
    rels = [
        "Mask_TaskAll/Center106/Canon_15T_Orian/P001/cine_sax_mask_ktGaussian16.mat",
        "Mask_TaskAll/Center106/Canon_15T_Orian/P001/cine_sax_mask_Uniform8.mat",
        "Mask_TaskAll/Center101/Siemens_15T_Avanto/P001/cine_sax_mask_ktGaussian16.mat",
    ]
    tasks = [_task(r) for r in rels]
    assert filter_tasks(tasks, []) == tasks
    by_name = filter_tasks(tasks, ["cine_sax_mask_ktGaussian*"])
    assert [t.rel_path for t in by_name] == [rels[0], rels[2]]
    by_path = filter_tasks(tasks, ["*Center106*ktGaussian16*"])
    assert [t.rel_path for t in by_path] == [rels[0]]
    either = filter_tasks(tasks, ["*Uniform8.mat", "*/Center101/*"])
    assert [t.rel_path for t in either] == [rels[1], rels[2]]
    assert filter_tasks(tasks, ["*Center107*"]) == []


def test_loaded_tasks_reads_ahead_once_per_file_and_fails_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``loaded_tasks`` yields what ``load_task`` gives, in order; consecutive masks of one file read it
    once; a corrupt file raises its typed error at its own turn (after the tasks before it), and the
    file after it is never read."""
    import cardiomm.recon.pipeline as pipeline
    from cardiomm.errors import CardiommError
    from cardiomm.io import save_mat
    from cardiomm.recon.batch import loaded_tasks
    from cardiomm.recon.pipeline import MaskSpec, load_task

    rng = np.random.default_rng(0)
    paths = []
    for name in ("a", "b", "bad", "d"):
        path = tmp_path / f"{name}.mat"
        if name == "bad":
            path.write_bytes(b"not a mat file")
        else:
            k = rng.standard_normal((2, 1, 4, 32, 24)) + 1j * rng.standard_normal((2, 1, 4, 32, 24))
            save_mat(path, {"kspace_full": k.astype(np.complex64)})
        paths.append(path)
    specs = [MaskSpec("Uniform", 4), MaskSpec("ktGaussian", 8)]
    tasks = [
        ReconTask(paths[0], None, tmp_path / f"o{i}.mat", f"a{i}", mask_spec=s) for i, s in enumerate(specs)
    ]
    tasks += [ReconTask(p, None, tmp_path / f"o_{p.stem}.mat", p.stem, mask_spec=specs[0]) for p in paths[1:]]
    reads: list[str] = []
    real_read = pipeline.read_kspace

    def counted(path: Path) -> object:
        reads.append(Path(path).stem)
        return real_read(path)

    monkeypatch.setattr(pipeline, "read_kspace", counted)
    got = []
    with pytest.raises(CardiommError) as err:
        for item in loaded_tasks(tasks):
            got.append(item)
    assert len(got) == 3 and Path(str(err.value.path)) == paths[2]
    assert reads == ["a", "b", "bad"]  # "a" once for its two masks; "d" never
    for task, (volume, mask) in zip(tasks, got, strict=False):
        want_volume, want_mask = load_task(task)
        assert torch.equal(volume.kspace, want_volume.kspace) and torch.equal(mask, want_mask)
    assert not torch.equal(got[0][1], got[1][1])  # two masks of one file
    assert list(loaded_tasks([])) == []
