"""benchmarks/bench_real_anatomy_phase.py: the tissue-phase variant of the real-anatomy benchmark builds its
own test tree with the tissue phase passed to the synthesis, and has its own section and skip text."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import cardiomm.simulate.real_anatomy as real_anatomy

from .conftest import load_bench


@pytest.fixture()
def phase() -> ModuleType:
    return load_bench("bench_real_anatomy_phase")


def test_without_shared_data_the_phase_section_says_skipped(
    phase: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(phase.bench_real_anatomy, "shared_data_dir", lambda: None)
    text = phase.run()
    assert text.startswith("## Real anatomy, tissue phase 1.5 rad\n") and "Skipped:" in text
    plain = phase.bench_real_anatomy.run()
    assert plain.startswith("## Real anatomy\n") and "tissue" not in plain


@pytest.mark.parametrize(
    ("amplitude", "name"), [(1.5, "real_anatomy_test_s3_tp1.5"), (0.0, "real_anatomy_test_s3")]
)
def test_test_tree_is_written_with_the_tissue_phase(
    phase: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, amplitude: float, name: str
) -> None:
    ra = phase.bench_real_anatomy
    (tmp_path / "acdc_nifti").mkdir()
    (tmp_path / "acdc_nifti" / "patient001.nii.gz").write_bytes(b"")  # no conversion needed
    calls: list[dict[str, Any]] = []

    def fake_build(sources: Any, out: Path, **kwargs: Any) -> None:
        calls.append({"out": Path(out), **kwargs})
        Path(out).mkdir(parents=True)
        (Path(out) / "manifest.json").write_text(json.dumps({"files": []}))

    monkeypatch.setattr(ra, "WORK", tmp_path)
    monkeypatch.setattr(real_anatomy, "build_corpus", fake_build)
    tree = ra.build_test_tree(tmp_path / "shared", 3, amplitude)
    assert tree == tmp_path / name
    assert len(calls) == 1 and calls[0]["tissue_phase_rad"] == amplitude and calls[0]["roles"] == ["test"]
    assert ra.build_test_tree(tmp_path / "shared", 3, amplitude) == tree and len(calls) == 1  # reused
