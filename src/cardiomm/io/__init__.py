"""Format readers and writers: .mat, training HDF5, fastMRI/ISMRMRD/twix, DICOM, NIfTI, CSV, PNG/GIF.

Every array is in cardiomm's axis order (``docs/conventions.md``): volume k-space ``(t, z, c, ky, kx)``,
frames ``(b, c, ky, kx)`` t-major, masks ``(t, ky, kx)``, magnitude volumes ``(t, z, y, x)``.
Importing this package loads only numpy, torch and h5py; scipy, nibabel, Pillow, pydicom, ismrmrd
and twixtools are imported inside the functions that need them.
"""

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
from cardiomm.io.image_series import ImageSeries, read_dicom_series, read_image_series, read_nifti_series
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
