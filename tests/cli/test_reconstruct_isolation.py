"""`cardiomm reconstruct` on a tree: each file in a long-lived worker process; a file that fails is
recorded in OUT/failures.json, the others are reconstructed as by a serial in-process run, exit code 1.

Crashes (a segfault) and hangs of a worker are simulated in ``tests/utils/test_isolation.py`` (the
isolation helper used here): no real input is known that still crashes or hangs the hardened readers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cardiomm.cli.main import main

INCLUDE = "cine_*_mask_Uniform8.mat"


@pytest.fixture(scope="module")
def testset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=3, modalities=["Cine"])
    return root / "Cine" / "TestSet"


def _serial_reference(testset: Path, out: Path) -> dict[str, np.ndarray]:
    """Every selected task reconstructed in this process, by the same loop: ``{mask relpath: image}``."""
    import fnmatch

    from cardiomm.io import read_image_mat
    from cardiomm.recon.batch import ANY_METHOD, build_reconstructors, method_output, reconstruct_tasks
    from cardiomm.recon.pipeline import discover_tasks

    tasks = [
        t for t in discover_tasks(testset, out, ANY_METHOD) if fnmatch.fnmatch(Path(t.rel_path).name, INCLUDE)
    ]
    reconstruct_tasks(tasks, build_reconstructors(["zf"]), root=out)
    return {t.rel_path: read_image_mat(method_output(t, "zf", out).out_path).numpy() for t in tasks}


def test_reconstruct_tree_records_bad_files_and_reconstructs_the_rest(testset: Path, tmp_path: Path) -> None:
    from cardiomm.io import read_image_mat
    from cardiomm.layout import RESULT_DIR

    reference = _serial_reference(testset, tmp_path / "serial")
    assert len(reference) >= 4
    tree = tmp_path / "TestSet"
    shutil.copytree(testset, tree)
    full = sorted((tree / "FullSample").rglob("cine_*.mat"))
    corrupt, truncated = full[0], full[-1]
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file, not really" * 10)
    truncated.write_bytes(truncated.read_bytes()[:2000])
    out = tmp_path / "rec"
    argv = [
        "reconstruct",
        str(tree),
        "--out",
        str(out),
        "--method",
        "zf",
        "--include",
        INCLUDE,
        "--timeout",
        "120",
    ]
    assert main(argv) == 1

    failures = json.loads((out / "failures.json").read_text())
    bad = {corrupt.relative_to(tree).as_posix(), truncated.relative_to(tree).as_posix()}
    assert {f["kspace"] for f in failures} == bad and {f["kind"] for f in failures} == {"error"}
    assert all(f["error"].split(":")[0].endswith("Error") for f in failures)
    failed = {f["path"] for f in failures}
    assert len(failed) == 2 and failed < set(reference)
    for rel, image in reference.items():
        result = out / "zf" / Path(*[RESULT_DIR if p == "Mask_TaskAll" else p for p in Path(rel).parts])
        assert result.exists() != (rel in failed)
        if rel not in failed:
            np.testing.assert_array_equal(read_image_mat(result).numpy(), image)

    # a clean run: exit 0 and an empty failures file (it describes the latest run)
    clean = tmp_path / "clean"
    assert (
        main(["reconstruct", str(testset), "--out", str(clean), "--method", "zf", "--include", INCLUDE]) == 0
    )
    assert json.loads((clean / "failures.json").read_text()) == []


def test_reconstruct_tree_method_errors_are_typed(testset: Path, tmp_path: Path) -> None:
    """Method and checkpoint errors are found before any work (exit 2), also when raised in the worker."""
    from cardiomm.errors import UnknownChoiceError
    from cardiomm.recon.batch import ANY_METHOD, reconstruct_tasks_isolated
    from cardiomm.recon.pipeline import discover_tasks

    out = tmp_path / "rec"
    assert main(["reconstruct", str(testset), "--out", str(out), "--method", "zf,magic"]) == 2
    missing = tmp_path / "no-such-checkpoint"
    assert (
        main(["reconstruct", str(testset), "--out", str(out), "--method", "varnet", "--model", str(missing)])
        == 2
    )
    assert not out.exists()
    tasks = discover_tasks(testset, out, ANY_METHOD)[:1]
    with pytest.raises(UnknownChoiceError, match="magic"):
        reconstruct_tasks_isolated(tasks, ["magic"], root=out)


def test_the_fork_server_of_a_folder_run_preloads_torch_and_the_readers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A folder run names the modules its fork server imports (`cardiomm.io` alone imports nothing since
    `db index` went torch-free); imported alone in a fresh interpreter they load torch and h5py, so a
    worker replaced after a crash starts without importing them again."""
    import subprocess
    import sys

    from cardiomm.recon import batch

    seen: dict[str, object] = {}

    def record(*args: object, **kwargs: object) -> list[object]:
        seen["preload"] = kwargs["preload"]
        return []

    monkeypatch.setattr(batch, "run_isolated", record)
    batch.reconstruct_tasks_isolated([], ["zf"])
    assert seen["preload"] == batch.RECON_PRELOAD
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {list(batch.RECON_PRELOAD)!r}]; "
        "assert {'torch', 'h5py'} <= set(sys.modules), 'not preloaded'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
