"""Task discovery and --include filtering (one rule for `reconstruct` and `adapt`)."""

from __future__ import annotations

from pathlib import Path

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
