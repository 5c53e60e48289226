"""Convert the ACDC HDF5 layout of ``../shared/data/acdc`` into NIfTI volumes for
``cardiomm simulate real-anatomy``.

Input: ``patientNNN.h5`` with ``frame01/image`` (end-diastole) and ``frame02/image`` (end-systole), each
``(z, y, x)`` uint16 (the source's min-max intensities x 65535), and ``frame0N/label`` (0 background,
1 RV, 2 myocardium, 3 LV).

Output: ``OUT/patientNNN.nii.gz``, a 4-D magnitude volume NIfTI ``(x, y, z, t)`` with ``t`` = (ED, ES),
and with ``--labels`` also ``OUT/labels/patientNNN.nii.gz`` (uint8, same layout). The HDF5 files store
no geometry: the NIfTI gets a **nominal** 1.5625 x 1.5625 mm pixel and 10 mm slices (ACDC: 1.37-1.68 mm,
5-10 mm) and a diagonal affine. Do not compute mL or g from these volumes.

    python scripts/acdc_to_nifti.py ../shared/data/acdc data/acdc_nifti [--labels]

ACDC licence: CC BY-NC-SA 4.0 (research, non-commercial); cite Bernard O. et al., IEEE TMI 2018.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

NOMINAL_PIXEL_MM = 1.5625
NOMINAL_SLICE_MM = 10.0


def convert(src: Path, out: Path, labels: bool) -> int:
    """Convert every ``patient*.h5`` under ``src``; return the number written."""
    out.mkdir(parents=True, exist_ok=True)
    affine = np.diag([NOMINAL_PIXEL_MM, NOMINAL_PIXEL_MM, NOMINAL_SLICE_MM, 1.0])
    n = 0
    for path in sorted(src.glob("patient*.h5")):
        with h5py.File(path, "r") as f:
            images = np.stack([f[k]["image"][()] for k in ("frame01", "frame02")])  # (t, z, y, x)
            segs = np.stack([f[k]["label"][()] for k in ("frame01", "frame02")]) if labels else None
        vol = nib.Nifti1Image(images.transpose(3, 2, 1, 0).astype(np.float32), affine)
        vol.header.set_xyzt_units("mm", "sec")
        nib.save(vol, out / f"{path.stem}.nii.gz")
        if segs is not None:
            (out / "labels").mkdir(exist_ok=True)
            nib.save(
                nib.Nifti1Image(segs.transpose(3, 2, 1, 0).astype(np.uint8), affine),
                out / "labels" / f"{path.stem}.nii.gz",
            )
        n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="folder of ACDC patientNNN.h5 files")
    parser.add_argument("out", type=Path, help="output folder of NIfTI volumes")
    parser.add_argument("--labels", action="store_true", help="also write the label volumes under OUT/labels")
    args = parser.parse_args()
    n = convert(args.src, args.out, args.labels)
    print(f"{n} ACDC patients -> {args.out}")


if __name__ == "__main__":
    main()
