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
        "compare-no-methods",
        lambda t, f, o: ["compare", str(f), "--pattern", "Uniform", "--accel", "8", "--methods", ","],
    ),
    ("reconstruct-no-method", lambda t, f, o: ["reconstruct", str(f), "--out", str(o), "--method", ","]),
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


#: Option -> values that are always invalid for it (wrong type, out of range, unknown choice).
_BAD_VALUES = {
    "--accel": ["0", "-8", "x", "nan", "", "2.5"],
    "--acs": ["-1", "x", "nan"],
    "--batch-size": ["0", "-2", "x"],
    "--timeout": ["-1", "x"],
    "--spacing": ["0,1,1", "-1,1,1", "nan,1,1", "1,1", "x", "1,1,1,1"],
    "--device": ["tpu", "cuda:x", "gpu0"],
    "--precision": ["fp8", "FP64", ""],
    "--format": ["tiff", "mat,jpeg"],
    "--pattern": ["Spiral", "kt"],
    "--method": ["magic", ""],
    "--shard": ["2/2", "-1/2", "x", "1/0", ""],
}


def test_seeded_mutations_of_a_valid_reconstruct_line(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid ``reconstruct`` line with one option replaced by an invalid value (40 seeded draws): every
    mutant exits non-zero with an error line, no traceback, nothing written."""
    import numpy as np

    full = _full(tree)
    rng = np.random.default_rng(16)
    options = sorted(_BAD_VALUES)
    for i in range(40):
        opt = options[int(rng.integers(len(options)))]
        value = _BAD_VALUES[opt][int(rng.integers(len(_BAD_VALUES[opt])))]
        out = tmp_path / f"m{i}.mat"
        good = {"--method": "zf", "--pattern": "Uniform", "--accel": "8"}
        argv = ["reconstruct", str(full), "--out", str(out)]
        for key, val in {**good, opt: value}.items():
            argv += [key, val]
        code = main(argv)
        text = "".join(capsys.readouterr())
        assert code != 0 and "Traceback" not in text and "error" in text.lower(), (argv, code, text)
        assert not out.exists(), argv
