"""Real-anatomy k-space corpus: coil arrays, correlated noise, bSSFP phase, synthesis, tree builder."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cardiomm.cli.main import main
from cardiomm.errors import ConfigError, DataValueError, InputFileError, ShapeError
from cardiomm.io.kspace import read_cmrxrecon
from cardiomm.io.scan_csv import read_scan_csv
from cardiomm.physics.fft import ifft2c_np
from cardiomm.simulate.coil_arrays import CoilArray, add_correlated_noise, array_csm, noise_covariance
from cardiomm.simulate.offresonance import GAMMA_HZ_PER_T, bssfp_phase, off_resonance_map
from cardiomm.simulate.real_anatomy import (
    ANATOMY_CENTERS,
    AnatomyCenter,
    assign_centers,
    build_corpus,
    find_subjects,
    load_split,
    synthesise_scan,
)


def _heart(n_t: int = 2, n_z: int = 3, ny: int = 48, nx: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:ny, :nx]
    body = ((yy - ny / 2) / (0.45 * ny)) ** 2 + ((xx - nx / 2) / (0.45 * nx)) ** 2 < 1
    out = np.zeros((n_t, n_z, ny, nx), np.float32)
    for t in range(n_t):
        for z in range(n_z):
            pool = (yy - ny / 2) ** 2 + (xx - nx / 2) ** 2 < (6 - 2 * t + z) ** 2
            out[t, z] = 200 * body + 600 * pool + 20 * z
    return out


def _centre_rss(kspace: np.ndarray, nx: int) -> np.ndarray:
    img = ifft2c_np(kspace)
    rss = np.sqrt((np.abs(img) ** 2).sum(axis=2))
    return rss[..., nx // 2 : nx // 2 + nx]


_NOISELESS = AnatomyCenter(
    "Center901",
    "test",
    "GE",
    "Test",
    1.5,
    CoilArray("8", "anterior_posterior", 2, 2, 0.2),
    None,
    40,
    3.0,
    snr_15t=1e12,
)


# ------------------------------------------------------------------------------ coil arrays and noise
@pytest.mark.parametrize(
    ("layout", "rows", "cols", "n"), [("anterior_posterior", 3, 5, 30), ("ring", 8, 2, 16)]
)
def test_array_csm_normalised_and_sized(layout: str, rows: int, cols: int, n: int) -> None:
    array = CoilArray("a", layout, rows, cols)
    assert array.n_elements == n
    csm, centres = array_csm(
        array, (40, 64), (2.0, 2.0), body_semi_axes=(160.0, 110.0), seed=3, tilt_deg=(20, -10, 5)
    )
    assert csm.shape == (n, 40, 64) and csm.dtype == np.complex64 and centres.shape == (n, 3)
    np.testing.assert_allclose((np.abs(csm) ** 2).sum(0), 1.0, atol=1e-5)
    again, _ = array_csm(
        array, (40, 64), (2.0, 2.0), body_semi_axes=(160.0, 110.0), seed=3, tilt_deg=(20, -10, 5)
    )
    np.testing.assert_array_equal(csm, again)


def test_anterior_posterior_array_falls_off_towards_the_centre() -> None:
    """The chest (anterior) panel sees the front of the body, the spine panel the back."""
    array = CoilArray("ap", "anterior_posterior", 2, 2)
    csm, centres = array_csm(array, (64, 64), (4.0, 4.0), body_semi_axes=(150.0, 110.0), seed=0)
    anterior = centres[:, 1] < 0
    front, back = np.abs(csm[:, 5, 32]) ** 2, np.abs(csm[:, 58, 32]) ** 2  # rows near y = -108 mm / +104 mm
    assert front[anterior].sum() > 0.8 and back[~anterior].sum() > 0.8


def test_bad_array_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        CoilArray("x", "helmet", 2, 2)
    with pytest.raises(ConfigError):
        CoilArray("x", "ring", 4, 1, noise_correlation=1.0)


def test_correlated_noise_has_the_requested_covariance() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 100, (6, 3))
    cov = noise_covariance(centres, 0.3, rng)
    assert np.isclose(np.trace(cov).real, 6) and np.all(np.linalg.eigvalsh(cov) > 0)
    k = np.zeros((4, 6, 64, 64), np.complex64)
    add_correlated_noise(k, 2.0, cov, rng)
    samples = k.transpose(1, 0, 2, 3).reshape(6, -1)
    empirical = samples @ samples.conj().T / samples.shape[1]
    np.testing.assert_allclose(empirical, 4.0 * cov, atol=0.1)


# ------------------------------------------------------------------------------ off-resonance, bSSFP phase
def test_bssfp_phase_closed_form() -> None:
    tr = 3e-3
    df = np.array(
        [0.0, 50.0, 1 / (2 * tr) - 1.0, 1 / (2 * tr) + 1.0, 1 / tr]
    )  # 0, linear, both sides of a band
    phase = bssfp_phase(df, tr)
    np.testing.assert_allclose(phase[:2], np.pi * df[:2] * tr, rtol=1e-6)
    assert phase[2] == pytest.approx(np.pi / 2, abs=0.01) and phase[3] == pytest.approx(-np.pi / 2, abs=0.01)
    assert phase[4] == pytest.approx(0.0, abs=1e-6)


def test_off_resonance_scales_with_field() -> None:
    m15 = off_resonance_map((32, 32), (3.0, 3.0), 1.5, np.random.default_rng(1))
    m30 = off_resonance_map((32, 32), (3.0, 3.0), 3.0, np.random.default_rng(1))
    np.testing.assert_allclose(m30, 2 * m15, rtol=1e-5)
    assert np.abs(m15).max() < 3.0 * 1e-6 * 1.5 * GAMMA_HZ_PER_T


# ------------------------------------------------------------------------------ one scan
def test_noise_free_rss_equals_the_resampled_magnitude() -> None:
    mag = _heart()
    scan = synthesise_scan(mag, (8.0, 1.5, 1.5), _NOISELESS, seed=1)
    t, z, c, ky, kx = scan.kspace.shape
    assert (t, z, c, kx) == (2, 3, 8, 80) and scan.matrix == (40, ky)
    assert ky == 48 and scan.spacing == (8.0, 1.5, 1.5)
    img = ifft2c_np(scan.kspace)
    rss = np.sqrt((np.abs(img) ** 2).sum(axis=2))
    np.testing.assert_allclose(rss[..., 20:60], mag, rtol=1e-3, atol=0.05)  # the object fills the central FOV
    assert rss[..., :20].max() < 0.05 and rss[..., 60:].max() < 0.05  # 2x readout oversampling


def test_synthesis_is_seeded_and_the_phase_is_not_flat() -> None:
    mag = _heart()
    center = ANATOMY_CENTERS[2]
    a = synthesise_scan(mag, (8.0, 1.5, 1.5), center, seed=4)
    b = synthesise_scan(mag, (8.0, 1.5, 1.5), center, seed=4)
    c = synthesise_scan(mag, (8.0, 1.5, 1.5), center, seed=5)
    np.testing.assert_array_equal(a.kspace, b.kspace)
    assert not np.array_equal(a.kspace, c.kspace)
    img = ifft2c_np(a.kspace)[0, 1]
    combined = (img * np.conj(img[0:1])).sum(0)  # coil-combined phase relative to coil 0 removes coil phase
    inside = np.abs(combined) > 0.2 * np.abs(combined).max()
    assert np.std(np.angle(combined[inside])) > 0.05


def test_virtual_coils_and_noise_level() -> None:
    mag = _heart(n_t=1, n_z=2, ny=64, nx=64)
    center = AnatomyCenter(
        "Center902",
        "t",
        "Siemens",
        "T",
        3.0,
        CoilArray("18", "anterior_posterior", 3, 3, 0.2),
        10,
        64,
        3.0,
        snr_15t=20.0,
    )
    scan = synthesise_scan(mag, (8.0, 2.0, 2.0), center, seed=0)
    assert scan.kspace.shape[2] == 10
    obj = mag[mag > 0.1 * np.percentile(mag[mag > 0], 99)]
    assert scan.noise_std == pytest.approx(obj.mean() / (20.0 * 2.0**0.65), rel=1e-4)
    corner = scan.kspace[0, 0, :, :8, :8]  # k-space corners: noise only (SVD compression keeps its power)
    assert np.sqrt(np.mean(np.abs(corner) ** 2)) < 1.5 * scan.noise_std
    cleaner = synthesise_scan(mag, (8.0, 2.0, 2.0), center, seed=0, snr_factor=4.0)
    assert cleaner.noise_std == pytest.approx(scan.noise_std / 4.0, rel=1e-6)
    with pytest.raises(DataValueError):
        synthesise_scan(mag, (8.0, 2.0, 2.0), center, seed=0, snr_factor=0.0)


def test_snr_spread_draws_a_factor_per_scan_in_range(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("a", "b", "c"):
        _write_nifti(src, name, _heart(n_t=1, n_z=2))
    centers = tuple(ANATOMY_CENTERS[:1])
    plain = build_corpus([src], tmp_path / "p", default_role="train", centers=centers)
    spread = build_corpus([src], tmp_path / "s", default_role="train", centers=centers, snr_spread=3.0)
    assert all("snr_factor" not in e for e in plain["files"])  # off: manifests as before
    factors = [e["snr_factor"] for e in spread["files"]]
    assert all(1 / 3.0 <= f <= 3.0 for f in factors) and len(set(factors)) == 3
    for a, b in zip(plain["files"], spread["files"], strict=True):
        assert b["noise_std"] == pytest.approx(a["noise_std"] / b["snr_factor"], rel=1e-4)
    with pytest.raises(ConfigError, match="snr_spread"):
        build_corpus([src], tmp_path / "x", default_role="train", centers=centers, snr_spread=0.5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 2, 32, 32)),
        -np.ones((1, 1, 32, 32)),
        np.ones((1, 32, 32)),
        np.full((1, 1, 32, 32), np.nan),
    ],
)
def test_bad_magnitude_is_a_typed_error(bad: np.ndarray) -> None:
    with pytest.raises((ShapeError, DataValueError)):
        synthesise_scan(bad, (8.0, 1.5, 1.5), _NOISELESS, seed=0)


# ------------------------------------------------------------------------------ corpus
def _write_nifti(folder: Path, name: str, mag: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.nii.gz"
    img = nib.Nifti1Image(mag.transpose(3, 2, 1, 0), np.diag([1.5, 1.5, 8.0, 1.0]))
    nib.save(img, path)
    return path


def test_build_corpus_layout_split_and_privacy(tmp_path: Path) -> None:
    src = tmp_path / "src"
    names = ["SMITH_JOHN", "doe_jane", "p3", "p4"]
    for i, name in enumerate(names):
        _write_nifti(src, name, _heart(n_z=2) * (1 + 0.1 * i))
    split = {"train": ["SMITH_JOHN", "doe_jane"], "val": ["p3"], "test": ["p4"]}
    (tmp_path / "split.json").write_text(json.dumps({"subjects": split}))
    centers = (
        _NOISELESS,
        AnatomyCenter(
            "Center903", "ext", "Canon", "X", 1.5, CoilArray("r", "ring", 6, 1), None, 40, 3.0, internal=False
        ),
    )
    out = tmp_path / "tree"
    manifest = build_corpus([src], out, split=tmp_path / "split.json", centers=centers, seed=0)
    sets = sorted(e["split"] for e in manifest["files"])
    assert sets == ["TestSet", "TrainingSet", "TrainingSet", "ValidationSet"]
    paths = [e["path"] for e in manifest["files"]]
    for rel in paths:
        assert rel.startswith("Cine/") and rel.endswith("/cine_sax.mat") and "/FullSample/" in rel
        assert (out / rel).is_file() and (out / rel).with_name("cine_sax_info.csv").is_file()
    text = (out / "manifest.json").read_text() + "".join(p.as_posix() for p in out.rglob("*"))
    assert "SMITH" not in text and "doe_jane" not in text
    test_entry = next(e for e in manifest["files"] if e["split"] == "TestSet")
    assert len(test_entry["masks"]) == 9 and all((out / m).is_file() for m in test_entry["masks"])
    train_centers = {e["center"] for e in manifest["files"] if e["split"] != "TestSet"}
    assert train_centers == {"Center901"}  # external centers take test subjects only
    vol = read_cmrxrecon(out / test_entry["path"]).frames()
    assert tuple(vol.shape[1:]) == tuple(test_entry["shape_tzcyx"][2:])
    params = read_scan_csv((out / test_entry["path"]).with_name("cine_sax_info.csv"))
    assert params.recon_matrix_x == 40 and params.fov_x_mm == pytest.approx(60.0)
    again = build_corpus([src], tmp_path / "again", split=split, centers=centers, seed=0)
    assert [e["path"] for e in again["files"]] == paths
    a = read_cmrxrecon(out / paths[0]).frames().numpy()
    b = read_cmrxrecon(tmp_path / "again" / paths[0]).frames().numpy()
    np.testing.assert_array_equal(a, b)


def test_build_corpus_roles_and_subsets(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("a", "b"):
        _write_nifti(src, name, _heart(n_t=4, n_z=5))
    manifest = build_corpus(
        [src], tmp_path / "t", default_role="test", centers=(_NOISELESS,), max_frames=2, max_slices=3
    )
    assert all(e["shape_tzcyx"][:2] == [2, 3] for e in manifest["files"])
    with pytest.raises(ConfigError):
        build_corpus([src], tmp_path / "u", split={"zzz": "train"}, centers=(_NOISELESS,))
    with pytest.raises(ConfigError):
        build_corpus([src], tmp_path / "u", default_role="holdout", centers=(_NOISELESS,))
    assert not (tmp_path / "u").exists()


def test_find_subjects_and_split_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        find_subjects([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError):
        find_subjects([tmp_path / "empty"])
    bad = tmp_path / "split.json"
    bad.write_text(json.dumps({"train": ["a"], "test": ["a"]}))
    with pytest.raises(ConfigError):
        load_split(bad)
    bad.write_text("{not json")
    with pytest.raises(InputFileError):
        load_split(bad)


def test_assign_centers_is_balanced_and_order_free() -> None:
    roles = {f"s{i}": "train" for i in range(10)} | {f"t{i}": "test" for i in range(6)}
    a = assign_centers(roles, ANATOMY_CENTERS, seed=0)
    b = assign_centers(dict(reversed(list(roles.items()))), ANATOMY_CENTERS, seed=0)
    assert {k: v.code for k, v in a.items()} == {k: v.code for k, v in b.items()}
    train_codes = [a[f"s{i}"].code for i in range(10)]
    assert set(train_codes) == {c.code for c in ANATOMY_CENTERS if c.internal}
    assert {a[f"t{i}"].code for i in range(6)} == {c.code for c in ANATOMY_CENTERS}


def test_repo_split_file_is_patient_level(shared_data: Path) -> None:
    """The committed split: 3 test + 2 val ACDC patients per pathology group, Sunnybrook all test,
    no overlap."""
    path = Path(__file__).resolve().parents[2] / "configs" / "splits" / "real_anatomy.json"
    roles = load_split(path)
    acdc = sorted(p.stem for p in (shared_data / "acdc").glob("patient*.h5"))
    assert set(acdc) <= set(roles)
    for lo in range(1, 101, 20):
        group = [n for n in acdc if lo <= int(n[7:]) < lo + 20]
        assert sum(roles[n] == "test" for n in group) == 3 and sum(roles[n] == "val" for n in group) == 2
    assert all(roles[n] == "test" for n in ("SCD0000101", "SCD0000201", "SCD0000301"))


def test_cli_real_anatomy(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _write_nifti(src, "one", _heart(n_z=1))
    out = tmp_path / "tree"
    assert (
        main(
            [
                "simulate",
                "real-anatomy",
                str(src),
                "--out",
                str(out),
                "--default-role",
                "test",
                "--no-progress",
                "--max-frames",
                "1",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["files"]) == 1 and manifest["files"][0]["shape_tzcyx"][0] == 1
    assert main(["simulate", "real-anatomy", str(tmp_path / "nope"), "--out", str(out), "--no-progress"]) == 2


def test_reconstruct_methods_in_two_processes_and_reuse(tmp_path: Path) -> None:
    """Two worker processes give the same files as one process; a finished method is reused."""
    from cardiomm.io import read_image_mat
    from cardiomm.scoring import reconstruct_methods

    _write_nifti(tmp_path / "src", "one", _heart(n_t=1, n_z=1))
    tree = tmp_path / "tree"
    build_corpus([tmp_path / "src"], tree, default_role="test", centers=(_NOISELESS,))
    two = reconstruct_methods(tree, tmp_path / "two", ["zf", "sense"], workers=2)
    assert set(two) == {"zf", "sense"} and all(v > 0 for v in two.values())
    one = reconstruct_methods(tree, tmp_path / "one", ["zf", "sense"], workers=1)
    files = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.mat"))
    assert len(files) == 18 and files == sorted(
        p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.mat")
    )
    for rel in files:
        a = read_image_mat(tmp_path / "two" / rel, "reconimage").numpy()
        b = read_image_mat(tmp_path / "one" / rel, "reconimage").numpy()
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
    again = reconstruct_methods(tree, tmp_path / "one", ["zf", "sense"], workers=1)
    assert all(np.isnan(v) for v in again.values()) and set(one) == set(again)


def test_reconstruct_trees_runs_several_trees_in_one_pool(tmp_path: Path) -> None:
    """Two trees in one pool of two processes: each gets exactly its methods and (filtered) masks, with
    the files and completion markers that reconstructing it alone writes."""
    from cardiomm.io import read_image_mat
    from cardiomm.scoring import ReconTree, reconstruct_methods, reconstruct_trees

    _write_nifti(tmp_path / "src", "one", _heart(n_t=1, n_z=1))
    tree = tmp_path / "tree"
    build_corpus([tmp_path / "src"], tree, default_role="test", centers=(_NOISELESS,))
    trees = [
        ReconTree(tree, tmp_path / "a", ("zf", "sense")),
        ReconTree(tree, tmp_path / "b", ("zf",), ("*_mask_ktGaussian*",)),
    ]
    got = reconstruct_trees(trees, workers=2)
    assert [set(g) for g in got] == [{"zf", "sense"}, {"zf"}]
    a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.mat"))
    b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.mat"))
    assert len(a) == 18 and len(b) == 3 and all("ktGaussian" in p.name and p.parts[1] == "zf" for p in b)
    assert json.loads((tmp_path / "b" / "recon" / "zf" / ".complete").read_text())["tasks"] == 3
    assert not (tmp_path / "b" / "recon" / "sense").exists()
    alone = reconstruct_methods(tree, tmp_path / "c", ["zf", "sense"], workers=1)
    assert set(alone) == {"zf", "sense"}
    for rel in a:
        x = read_image_mat(tmp_path / "a" / rel, "reconimage").numpy()
        y = read_image_mat(tmp_path / "c" / rel, "reconimage").numpy()
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4 * float(np.abs(y).max()))
    for name in ("zf", "sense"):
        assert (tmp_path / "a" / "recon" / name / ".complete").read_text() == (
            tmp_path / "c" / "recon" / name / ".complete"
        ).read_text()


def test_plan_jobs_covers_every_task_once_longest_first(tmp_path: Path) -> None:
    """One job per (method, source file) holding exactly that file's tasks, SENSE and CS of a file in
    one job (they share coil maps); ordered by estimated cost (size x masks x method weight), so the
    SENSE + CS job of the biggest file comes first and zero filling last."""
    from cardiomm.recon.pipeline import ReconTask
    from cardiomm.scoring import _plan_jobs

    small, big = tmp_path / "small.mat", tmp_path / "big.mat"
    small.write_bytes(b"x" * 100)
    big.write_bytes(b"x" * 1000)
    names = [(path, f"{path.stem}{r}") for path in (small, big) for r in (4, 8)]
    tasks = [ReconTask(path, tmp_path / f"{n}.mat", tmp_path / f"out_{n}.mat", n) for path, n in names]
    methods = ["zf", "sense", "cardiomm", "cs"]
    jobs = _plan_jobs(tasks, methods)
    assert len(jobs) == 6
    pairs = sorted((m, t.rel_path) for j in jobs for m in j.methods for t in j.tasks)
    assert pairs == sorted((m, t.rel_path) for m in methods for t in tasks)
    assert all(len({t.kspace_path for t in j.tasks}) == 1 for j in jobs)
    assert [j.cost for j in jobs] == sorted((j.cost for j in jobs), reverse=True)
    assert (jobs[0].methods, jobs[0].tasks[0].kspace_path) == (("sense", "cs"), big)
    assert jobs[0].cost == 1000 * 2 * (1.5 + 2.0)
    assert (jobs[-1].methods, jobs[-1].tasks[0].kspace_path) == (("zf",), small)
    assert jobs[1].methods == ("cardiomm",) and jobs[1].cost == 1000 * 2  # weight 1 x bytes x masks


def test_sense_and_cs_job_computes_each_frames_maps_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SENSE + CS job of a file (one process) computes the ESPIRiT maps of each frame once for both
    methods and all masks, and charges seconds to each method."""
    import cardiomm.recon.classical as classical
    from cardiomm.scoring import _plan_jobs, _run_job, tree_tasks

    calls: list[int] = []
    real_espirit = classical.espirit

    def counting(k: object, **kw: object) -> object:
        calls.append(k.shape[0])  # type: ignore[attr-defined]
        return real_espirit(k, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(classical, "espirit", counting)
    monkeypatch.setattr(classical, "_MAPS_CACHE", type(classical._MAPS_CACHE)())
    _write_nifti(tmp_path / "src", "one", _heart(n_t=2, n_z=1))
    tree = tmp_path / "tree"
    build_corpus([tmp_path / "src"], tree, default_role="test", centers=(_NOISELESS,))
    root = tmp_path / "out" / "recon"
    tasks = tree_tasks(tree, root)
    (job,) = _plan_jobs(tasks, ["sense", "cs"], root)
    took = _run_job(job, {}, 1)
    assert job.methods == ("sense", "cs") and len(job.tasks) == 9
    assert sum(calls) == 2  # two frames, once each
    assert set(took) == {"sense", "cs"} and all(v is not None and v > 0 for v in took.values())
    assert len(list((root / "sense").rglob("*.mat"))) == len(list((root / "cs").rglob("*.mat"))) == 9


def test_reconstruct_methods_skips_a_method_without_model_and_stops_on_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A learned method whose shipped model is absent is skipped (no folder, no entry), as
    :func:`build_methods` skips it; a corrupt source file raises its typed error and no method is
    marked complete."""
    import cardiomm.recon.registry as registry
    from cardiomm.errors import CardiommError, ModelNotFoundError
    from cardiomm.scoring import reconstruct_methods

    _write_nifti(tmp_path / "src", "one", _heart(n_t=1, n_z=1))
    tree = tmp_path / "tree"
    build_corpus([tmp_path / "src"], tree, default_role="test", centers=(_NOISELESS,))
    real_get = registry.get_reconstructor

    def no_cardiomm(name: str, *args: object, **kwargs: object) -> object:
        if name == "cardiomm":
            raise ModelNotFoundError("cardiomm: no shipped checkpoint")
        return real_get(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(registry, "get_reconstructor", no_cardiomm)
    got = reconstruct_methods(tree, tmp_path / "out", ["zf", "cardiomm"], workers=1)
    assert set(got) == {"zf"} and (tmp_path / "out" / "recon" / "zf" / ".complete").is_file()
    assert not (tmp_path / "out" / "recon" / "cardiomm").exists()

    source = next(p for p in tree.rglob("*.mat") if "FullSample" in p.parts)
    source.write_bytes(b"not a mat file")
    with pytest.raises(CardiommError):
        reconstruct_methods(tree, tmp_path / "bad", ["zf", "sense"], workers=2)
    assert not list((tmp_path / "bad").rglob(".complete"))
