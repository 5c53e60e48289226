"""Format readers and writers: .mat, training HDF5, fastMRI/ISMRMRD/twix, DICOM, NIfTI, CSV, PNG/GIF.

Every array is in cardiomm's axis order (``docs/conventions.md``): volume k-space ``(t, z, c, ky, kx)``,
frames ``(b, c, ky, kx)`` t-major, masks ``(t, ky, kx)``, magnitude volumes ``(t, z, y, x)``.
Importing this package loads nothing: each name is imported from its submodule on first use (PEP 562),
so a torch-free reader such as :func:`list_mat_variables` (the header path of ``db index``) does not
pull torch into the process. The submodules load numpy, h5py and torch as they need them; scipy,
nibabel, Pillow, pydicom, ismrmrd and twixtools are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cardiomm.io.any_kspace import KSPACE_FORMATS, kspace_format, read_kspace
    from cardiomm.io.dicom_out import write_dicom_series
    from cardiomm.io.geometry import ImageGeometry, crop_readout, image_geometry
    from cardiomm.io.h5 import (
        FastMRIRecord,
        TrainingH5Record,
        read_fastmri_h5,
        read_training_h5,
        rss_from_kspace,
        write_training_h5,
    )
    from cardiomm.io.image_mat import IMAGE_KEYS, as_volume, read_image_mat, write_recon_mat
    from cardiomm.io.image_series import (
        ImageSeries,
        list_dicom_series,
        read_dicom_series,
        read_image_series,
        read_nifti_series,
    )
    from cardiomm.io.images import to_uint8, write_cine_gif, write_png
    from cardiomm.io.ismrmrd_h5 import IsmrmrdGeometry, read_ismrmrd, read_ismrmrd_geometry
    from cardiomm.io.kspace import (
        KSPACE_KEYS,
        KSpaceVolume,
        check_mask_fits,
        kspace_to_volume,
        read_cmrxrecon,
        read_mask,
    )
    from cardiomm.io.mat import list_mat_variables, load_mat_variables, mat_version, save_mat
    from cardiomm.io.nifti import NiftiVolume, read_nifti, write_nifti
    from cardiomm.io.scan_csv import ScanParameters, find_scan_csv, read_scan_csv, write_scan_csv
    from cardiomm.io.twix import read_twix_kspace

__all__ = [
    # any raw k-space file
    "read_kspace",
    "kspace_format",
    "KSPACE_FORMATS",
    # mat
    "save_mat",
    "load_mat_variables",
    "list_mat_variables",
    "mat_version",
    # k-space and masks
    "KSpaceVolume",
    "KSPACE_KEYS",
    "read_cmrxrecon",
    "read_mask",
    "check_mask_fits",
    "kspace_to_volume",
    # magnitude volumes
    "IMAGE_KEYS",
    "read_image_mat",
    "write_recon_mat",
    "as_volume",
    "ImageSeries",
    "read_dicom_series",
    "list_dicom_series",
    "read_nifti_series",
    "read_image_series",
    # HDF5
    "TrainingH5Record",
    "FastMRIRecord",
    "write_training_h5",
    "read_training_h5",
    "read_fastmri_h5",
    "rss_from_kspace",
    "read_ismrmrd",
    "IsmrmrdGeometry",
    "read_ismrmrd_geometry",
    "read_twix_kspace",
    # scan parameters
    "ScanParameters",
    "read_scan_csv",
    "write_scan_csv",
    "find_scan_csv",
    # export
    "NiftiVolume",
    "write_nifti",
    "read_nifti",
    "to_uint8",
    "write_png",
    "write_cine_gif",
    "ImageGeometry",
    "image_geometry",
    "crop_readout",
    "write_dicom_series",
]

#: The submodule that defines each public name.
_SOURCES: dict[str, str] = {
    "KSPACE_FORMATS": "cardiomm.io.any_kspace",
    "kspace_format": "cardiomm.io.any_kspace",
    "read_kspace": "cardiomm.io.any_kspace",
    "write_dicom_series": "cardiomm.io.dicom_out",
    "ImageGeometry": "cardiomm.io.geometry",
    "crop_readout": "cardiomm.io.geometry",
    "image_geometry": "cardiomm.io.geometry",
    "FastMRIRecord": "cardiomm.io.h5",
    "TrainingH5Record": "cardiomm.io.h5",
    "read_fastmri_h5": "cardiomm.io.h5",
    "read_training_h5": "cardiomm.io.h5",
    "rss_from_kspace": "cardiomm.io.h5",
    "write_training_h5": "cardiomm.io.h5",
    "IMAGE_KEYS": "cardiomm.io.image_mat",
    "as_volume": "cardiomm.io.image_mat",
    "read_image_mat": "cardiomm.io.image_mat",
    "write_recon_mat": "cardiomm.io.image_mat",
    "ImageSeries": "cardiomm.io.image_series",
    "read_dicom_series": "cardiomm.io.image_series",
    "list_dicom_series": "cardiomm.io.image_series",
    "read_image_series": "cardiomm.io.image_series",
    "read_nifti_series": "cardiomm.io.image_series",
    "to_uint8": "cardiomm.io.images",
    "write_cine_gif": "cardiomm.io.images",
    "write_png": "cardiomm.io.images",
    "IsmrmrdGeometry": "cardiomm.io.ismrmrd_h5",
    "read_ismrmrd": "cardiomm.io.ismrmrd_h5",
    "read_ismrmrd_geometry": "cardiomm.io.ismrmrd_h5",
    "KSPACE_KEYS": "cardiomm.io.kspace",
    "KSpaceVolume": "cardiomm.io.kspace",
    "check_mask_fits": "cardiomm.io.kspace",
    "kspace_to_volume": "cardiomm.io.kspace",
    "read_cmrxrecon": "cardiomm.io.kspace",
    "read_mask": "cardiomm.io.kspace",
    "list_mat_variables": "cardiomm.io.mat",
    "load_mat_variables": "cardiomm.io.mat",
    "mat_version": "cardiomm.io.mat",
    "save_mat": "cardiomm.io.mat",
    "NiftiVolume": "cardiomm.io.nifti",
    "read_nifti": "cardiomm.io.nifti",
    "write_nifti": "cardiomm.io.nifti",
    "ScanParameters": "cardiomm.io.scan_csv",
    "find_scan_csv": "cardiomm.io.scan_csv",
    "read_scan_csv": "cardiomm.io.scan_csv",
    "write_scan_csv": "cardiomm.io.scan_csv",
    "read_twix_kspace": "cardiomm.io.twix",
}


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first access (and keep it in this module); a submodule
    name (``cardiomm.io.mat``) imports that submodule, as an eager package import used to."""
    module = _SOURCES.get(name)
    if module is None:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise  # the submodule exists but imports something missing
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
