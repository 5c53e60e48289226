"""Bad command lines across the CLI (issue 16): each must exit non-zero with a one-line ``error:`` message,
no traceback, and write nothing.

The sweep runs in-process (``cardiomm.cli.main.main``) on one tiny simulated tree; every case names the
output it must not create.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cardiomm.cli.main import main


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=4, modalities=["Cine"])
    return root


def _full(tree: Path) -> Path:
    return next((tree / "Cine" / "TrainingSet" / "FullSample").rglob("cine_sax.mat"))


#: (id, argv builder(tree, full, out) -> argv); ``out`` must not exist afterwards.
_CASES = [
    ("reconstruct-missing-input", lambda t, f, o: ["reconstruct", str(t / "nope.mat"), "--out", str(o)]),
    ("reconstruct-batch-0", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--batch-size", "0"]),
    ("reconstruct-batch-neg", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--batch-size", "-1"]),
    ("reconstruct-accel-1000", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--accel", "1000"]),
    (
        "reconstruct-unknown-method",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--method", "magic"],
    ),
    (
        "reconstruct-unknown-pattern",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--pattern", "Spiral"],
    ),
    ("reconstruct-bad-device", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--device", "tpu"]),
    (
        "reconstruct-bad-precision",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--precision", "fp8"],
    ),
    (
        "reconstruct-bad-spacing",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--spacing", "a,b,c"],
    ),
    (
        "reconstruct-zero-spacing",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--spacing", "0,1,1"],
    ),
    ("reconstruct-bad-format", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--format", "tiff"]),
    (
        "reconstruct-missing-mask",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--mask", str(t / "m.mat")],
    ),
    (
        "reconstruct-missing-model",
        lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--model", str(t / "x")],
    ),
    ("reconstruct-out-is-input", lambda t, f, o: ["reconstruct", str(f), "--out", str(f)]),
    (
        "compare-missing-file",
        lambda t, f, o: ["compare", str(t / "none.mat"), "--accel", "8", "--out", str(o)],
    ),
    (
        "compare-bad-methods",
        lambda t, f, o: ["compare", str(f), "--accel", "8", "--methods", "zz", "--out", str(o)],
    ),
    ("analyse-missing", lambda t, f, o: ["analyse", "phenotypes", str(t / "no.nii.gz"), "--out", str(o)]),
    (
        "analyse-bad-segmenter",
        lambda t, f, o: ["analyse", "phenotypes", str(f), "--segmenter", "x", "--out", str(o)],
    ),
    (
        "analyse-bad-spacing",
        lambda t, f, o: ["analyse", "phenotypes", str(f), "--spacing", "1,2", "--out", str(o)],
    ),
    ("db-index-missing-root", lambda t, f, o: ["db", "index", str(t / "nowhere"), "--catalog", str(o)]),
    ("simulate-bad-size", lambda t, f, o: ["simulate", "mini", str(o), "--size", "huge"]),
    ("mask-bad-accel", lambda t, f, o: ["mask", "--pattern", "Uniform", "--accel", "0", "--out", str(o)]),
]


@pytest.mark.parametrize(("name", "argv"), _CASES, ids=[c[0] for c in _CASES])
def test_bad_command_line_is_a_one_line_error(
    name: str, argv: object, tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = _full(tree)
    before = full.stat().st_mtime_ns
    out = tmp_path / "out.mat"
    args = argv(tree, full, out)  # type: ignore[operator]
    code = main(args)
    captured = capsys.readouterr()
    text = captured.err + captured.out
    assert code != 0, f"{name}: exit 0 for {args}"
    assert "Traceback" not in text, f"{name}: traceback\n{text}"
    assert "error" in text.lower(), f"{name}: no error message\n{text}"
    assert not out.exists(), f"{name}: wrote {out}"
    assert full.stat().st_mtime_ns == before, f"{name}: touched the input"
