"""`cardiomm reconstruct --format dicom`: readable MR series with the simulator's true geometry."""

from __future__ import annotations

import csv
import logging
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from cardiomm.cli.main import main


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cardiomm.simulate import generate_mini

    root = tmp_path_factory.mktemp("tree")
    generate_mini(root, size="tiny", seed=3, modalities=["Cine"])
    return root


def _zero_filled(kspace: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """RSS of the centred inverse FFT of ``kspace (t, z, c, ky, kx) * mask (t, ky, kx)``, with numpy."""
    k = kspace * mask[:, None, None]
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(2))


def test_reconstruct_format_dicom_tree_true_geometry(tree: Path, tmp_path: Path) -> None:
    from cardiomm.io import read_cmrxrecon, read_image_series, read_mask
    from cardiomm.simulate.truth import read_ground_truth

    test_set = tree / "Cine" / "TestSet"
    out = tmp_path / "rec"
    args = ["reconstruct", str(test_set), "--out", str(out), "--method", "zf", "--format", "dicom"]
    assert main([*args, "--include", "*_mask_ktGaussian8.mat"]) == 0
    masks = sorted((test_set / "Mask_TaskAll").rglob("*_mask_ktGaussian8.mat"))
    series = sorted((out / "zf").rglob("*_dicom"))
    assert len(masks) > 0 and len(series) == len(masks)
    assert not list(out.rglob("*.mat"))  # --format dicom alone: no .mat
    study_uids = set()
    checked = 0
    for mask_file in masks:
        rel = mask_file.relative_to(test_set / "Mask_TaskAll")
        if not rel.name.startswith("cine_sax"):
            continue
        full = test_set / "FullSample" / rel.parent / "cine_sax.mat"
        folder = out / "zf" / "TaskAll" / rel.parent / "cine_sax_mask_ktGaussian8_dicom"
        truth = read_ground_truth(full.with_name("cine_sax_gt.h5"))["metadata"]
        files = sorted(folder.iterdir())
        datasets = [pydicom.dcmread(f) for f in files]
        first = datasets[0]
        assert first.SeriesDescription == "cardiomm ZF ktGaussian8"
        assert first.Modality == "MR" and first.SOPClassUID == pydicom.uid.MRImageStorage
        study_uids.add(first.StudyInstanceUID)
        assert len({d.SOPInstanceUID for d in datasets}) == len(datasets)

        # geometry: the simulator's ground truth (voxel size, oversampling, slice depths, frame time)
        n_x = int(truth["kspace_shape_tzcyx"][-1]) // int(truth["readout_oversampling"])
        spacing, depths = truth["voxel_spacing_mm"], np.asarray(truth["slice_depths_mm"], float)
        assert first.Columns == n_x
        np.testing.assert_allclose(
            np.asarray(first.PixelSpacing, float), [spacing["y"], spacing["x"]], rtol=1e-6
        )
        img = read_image_series(folder)
        assert img.slice_spacing == pytest.approx(float(np.diff(depths).mean()), rel=1e-6)
        assert img.frame_dt == pytest.approx(truth["frame_dt_s"], rel=1e-6)  # UIH TR x10 fix included
        assert img.spacing[1:] == pytest.approx((spacing["y"], spacing["x"]), rel=1e-6)

        # pixels: a numpy zero-filled reconstruction, central n_x readout columns
        zf = _zero_filled(read_cmrxrecon(full).kspace.numpy(), read_mask(mask_file).numpy())
        start = zf.shape[-1] // 2 - n_x // 2
        expected = zf[..., start : start + n_x]
        slope = float(first.RescaleSlope)
        assert img.magnitude.shape == expected.shape
        assert slope == pytest.approx(expected.max() / 65535, rel=1e-4)
        assert np.abs(img.magnitude - expected).max() <= slope / 2 + 1e-4 * expected.max()
        checked += 1
    assert checked >= 2 and len(study_uids) == checked


def test_reconstruct_format_options(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from cardiomm.io import read_cmrxrecon

    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    out = tmp_path / "one.mat"
    base = ["reconstruct", str(full), "--out", str(out), "--method", "zf", "--pattern", "ktGaussian"]
    assert main([*base, "--accel", "8", "--format", "mat,dicom", "--nifti"]) == 0
    assert out.is_file() and (tmp_path / "one.nii.gz").is_file() and (tmp_path / "one_info.csv").is_file()
    files = sorted((tmp_path / "one_dicom").iterdir())
    ds = pydicom.dcmread(files[0])
    assert ds.SeriesDescription == "cardiomm ZF ktGaussian8" and ds.SeriesNumber == 1

    assert main([*base, "--accel", "8", "--out", str(tmp_path / "x.mat"), "--format", "jpeg"]) == 2
    assert "unknown --format jpeg" in capsys.readouterr().err
    assert not (tmp_path / "x.mat").exists() and not (tmp_path / "x_dicom").exists()

    # no _info.csv: the defaults are warned about and named in the DICOM files
    bare = tmp_path / "bare" / "cine_sax.mat"
    bare.parent.mkdir()
    shutil.copyfile(full, bare)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cardiomm"):
        argv = ["reconstruct", str(bare), "--out", str(tmp_path / "b.mat"), "--method", "zf"]
        assert main([*argv, "--pattern", "Uniform", "--accel", "8", "--format", "dicom,nifti"]) == 0
    text = caplog.text
    assert "NIfTI defaults: pixel spacing 2 x 2 mm; slice thickness 8 mm; orientation axial" in text
    assert "DICOM defaults: pixel spacing 2 x 2 mm; slice thickness 8 mm" in text
    ds = pydicom.dcmread(sorted((tmp_path / "b_dicom").iterdir())[0])
    assert "pixel spacing 2 x 2 mm" in ds.ImageComments and ds.SeriesDescription == "cardiomm ZF Uniform8"
    assert ds.Columns == read_cmrxrecon(full).nx  # width unknown without the CSV: nothing cropped

    # --spacing supplies the voxel size the source lacks: used, and no longer warned about
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cardiomm"):
        argv = ["reconstruct", str(bare), "--out", str(tmp_path / "s.mat"), "--method", "zf"]
        assert (
            main([*argv, "--pattern", "Uniform", "--accel", "8", "--nifti", "--spacing", "6,1.5,1.25"]) == 0
        )
    assert "pixel spacing" not in caplog.text and "orientation axial" in caplog.text
    zooms = nib.load(tmp_path / "s.nii.gz").header.get_zooms()
    assert zooms[:3] == pytest.approx((1.25, 1.5, 6.0))
    assert main([*argv, "Uniform", "--accel", "8", "--spacing", "6,1.5", "--overwrite"]) == 2


def test_reconstruct_format_dicom_ismrmrd_header_geometry(tmp_path: Path) -> None:
    import ismrmrd
    import ismrmrd.xsd as x

    nx, ny, nz, n_phase = 32, 24, 2, 6
    limit = x.limitType
    enc = x.encodingType(
        trajectory=x.trajectoryType("cartesian"),
        encodedSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=nx, y=ny, z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=320.0, y=240.0, z=7.0),
        ),
        reconSpace=x.encodingSpaceType(
            matrixSize=x.matrixSizeType(x=nx // 2, y=ny, z=1),
            fieldOfView_mm=x.fieldOfViewMm(x=160.0, y=240.0, z=7.0),
        ),
        encodingLimits=x.encodingLimitsType(
            kspace_encoding_step_1=limit(minimum=0, maximum=ny - 1, center=ny // 2),
            slice=limit(minimum=0, maximum=nz - 1, center=0),
            phase=limit(minimum=0, maximum=n_phase - 1, center=0),
        ),
    )
    header = x.ismrmrdHeader(
        encoding=[enc],
        experimentalConditions=x.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        measurementInformation=x.measurementInformationType(patientPosition=x.patientPositionType.HFS),
    )
    raw = tmp_path / "raw.h5"
    dset = ismrmrd.Dataset(str(raw), "dataset", create_if_needed=True)
    dset.write_xml_header(x.ToXML(header))
    img = np.zeros((ny, nx))
    img[6:18, 12:20] = 1.0
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img), norm="ortho"))
    read, phase, normal = (0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, -1.0)  # a sagittal-like plane
    centres = [(1.0, 2.0, 3.0 - 10.0 * z) for z in range(nz)]
    for z in range(nz):
        for p in range(n_phase):
            for ky in range(ny):
                acq = ismrmrd.Acquisition.from_array(np.stack([k[ky], 0.5 * k[ky]]).astype(np.complex64))
                acq.idx.kspace_encode_step_1, acq.idx.slice, acq.idx.phase = ky, z, p
                acq.center_sample = nx // 2
                acq.position, acq.read_dir, acq.phase_dir, acq.slice_dir = centres[z], read, phase, normal
                dset.append_acquisition(acq)
    dset.close()

    out = tmp_path / "rec"
    args = ["reconstruct", str(raw), "--out", str(out), "--method", "zf", "--pattern", "ktGaussian"]
    assert main([*args, "--accel", "4", "--acs", "4", "--format", "dicom"]) == 0
    folder = next(out.glob("*_dicom"))
    datasets = sorted((pydicom.dcmread(f) for f in folder.iterdir()), key=lambda d: int(d.InstanceNumber))
    dx, dy = 320.0 / nx, 240.0 / ny
    for d in datasets:
        z = (int(d.InstanceNumber) - 1) // n_phase
        assert (d.Rows, d.Columns) == (ny, nx // 2)  # recon FOV 160 mm of the 320 mm readout
        np.testing.assert_allclose(np.asarray(d.PixelSpacing, float), [dy, dx])
        np.testing.assert_allclose(np.asarray(d.ImageOrientationPatient, float), [*read, *phase])
        centre = np.asarray(d.ImagePositionPatient, float) + (nx // 4) * dx * np.asarray(read)
        centre += (ny // 2) * dy * np.asarray(phase)
        np.testing.assert_allclose(centre, centres[z], atol=1e-6)  # FOV centre = slice position
        assert float(d.SliceThickness) == 7.0 and float(d.SpacingBetweenSlices) == pytest.approx(10.0)
        assert d.PatientPosition == "HFS" and "defaults used" not in d.ImageComments


def test_reconstruct_dicom_round_trips_through_analyse_phenotypes(tree: Path, tmp_path: Path) -> None:
    """The phenotypes `analyse` computes from the DICOM series equal those of its own labels with the
    simulator's true geometry (a UIH file: FOV / n voxel size and the TR x10 fix)."""
    from cardiomm.simulate.truth import read_ground_truth

    test_set = tree / "Cine" / "TestSet"
    full = next(p for p in (test_set / "FullSample").rglob("cine_sax.mat") if "UIH" in p.parent.parent.name)
    rel = full.parent.relative_to(test_set / "FullSample")
    mask = test_set / "Mask_TaskAll" / rel / "cine_sax_mask_ktGaussian8.mat"
    argv = ["reconstruct", str(full), "--mask", str(mask), "--out", str(tmp_path / "r.mat"), "--method", "zf"]
    assert main([*argv, "--format", "dicom"]) == 0
    p1, labels, p2 = tmp_path / "p1.csv", tmp_path / "labels.npy", tmp_path / "p2.csv"
    analyse = ["analyse", "phenotypes", str(tmp_path / "r_dicom"), "--segmenter", "simunet", "--no-qc-png"]
    assert main([*analyse, "--out", str(p1), "--save-labels", str(labels)]) == 0
    truth = read_ground_truth(full.with_name("cine_sax_gt.h5"))["metadata"]
    spacing = truth["voxel_spacing_mm"]
    geometry = ["--spacing", f"{spacing['z']!r},{spacing['y']!r},{spacing['x']!r}"]
    geometry += ["--frame-dt", repr(truth["frame_dt_s"])]
    assert main(["analyse", "phenotypes", str(labels), *geometry, "--out", str(p2), "--no-qc-png"]) == 0
    with p1.open() as f1, p2.open() as f2:
        row1, row2 = next(csv.DictReader(f1)), next(csv.DictReader(f2))
    for name in ("LVEDV (mL)", "LVESV (mL)", "LVM (g)", "RVEDV (mL)", "LVCO (L/min)", "WT_Global (mm)"):
        assert float(row1[name]) == pytest.approx(float(row2[name]), rel=1e-6), name
    assert float(row1["LVEDV (mL)"]) > 0


def test_png_and_gif_crop_the_readout_oversampling(tree: Path, tmp_path: Path) -> None:
    """Pictures show what a viewer shows: the central n_x / oversampling columns (simulator truth)."""
    from PIL import Image

    from cardiomm.simulate.truth import read_ground_truth

    test_set = tree / "Cine" / "TestSet"
    mask_file = next((test_set / "Mask_TaskAll").rglob("cine_sax_mask_Uniform8.mat"))
    full = test_set / "FullSample" / mask_file.relative_to(test_set / "Mask_TaskAll").parent / "cine_sax.mat"
    truth = read_ground_truth(full.with_name("cine_sax_gt.h5"))["metadata"]
    n_y, n_x = (int(n) for n in truth["kspace_shape_tzcyx"][-2:])
    over = int(truth["readout_oversampling"])
    assert over == 2
    out = tmp_path / "r.mat"
    args = ["reconstruct", str(full), "--mask", str(mask_file), "--out", str(out), "--method", "zf"]
    assert main([*args, "--format", "mat,png,gif"]) == 0
    assert Image.open(out.with_suffix(".png")).size == (n_x // over, n_y)
    gif = Image.open(out.with_suffix(".gif"))
    assert gif.size == (n_x // over, n_y) and gif.n_frames == int(truth["kspace_shape_tzcyx"][0])


def test_compare_out_writes_images_error_maps_metrics_and_a_figure(tree: Path, tmp_path: Path) -> None:
    """`compare --out DIR`: metrics.csv equal to an independent skimage score of the written .mat, images,
    error maps, one figure; an existing folder needs --overwrite."""
    from skimage.metrics import peak_signal_noise_ratio

    from cardiomm.io import read_cmrxrecon, read_image_mat

    full = next((tree / "Cine" / "TestSet" / "FullSample").rglob("cine_sax.mat"))
    out = tmp_path / "cmp"
    args = [
        "compare",
        str(full),
        "--pattern",
        "Uniform",
        "--accel",
        "8",
        "--methods",
        "zf,sense",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"metrics.csv", "comparison.png", "reference.mat", "zf.mat", "sense.mat"} <= names
    assert {
        "images/zf.png",
        "images/sense.png",
        "images/reference.png",
        "errors/zf.png",
        "errors/sense.png",
    } <= names
    rows = {r["method"]: r for r in csv.DictReader((out / "metrics.csv").open())}
    assert set(rows) == {"zf", "sense"} and float(rows["sense"]["psnr_db"]) > float(rows["zf"]["psnr_db"])
    k = read_cmrxrecon(full).kspace.numpy()
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    ref = np.sqrt((np.abs(img) ** 2).sum(2))
    zf = read_image_mat(out / "zf.mat").numpy()
    np.testing.assert_allclose(read_image_mat(out / "reference.mat").numpy(), ref, rtol=1e-4, atol=1e-6)
    scores = []
    for t in range(ref.shape[0]):
        for z in range(ref.shape[1]):
            p = np.percentile(ref[t, z], 99.5)
            g, r = ref[t, z] / p, zf[t, z] / np.percentile(zf[t, z], 99.5)
            scores.append(peak_signal_noise_ratio(g, r, data_range=g.max()))
    assert float(rows["zf"]["psnr_db"]) == pytest.approx(float(np.mean(scores)), abs=0.02)
    assert main(args) == 2  # the folder exists
    assert main([*args, "--overwrite"]) == 0
