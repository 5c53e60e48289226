"""The MMCMR-427K / CMRxRecon folder layout: folder names and the path mappings between them.

A tree holds, per modality and set::

    <Modality>/<Set>/FullSample/CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>.mat      k-space
    <Modality>/<Set>/Mask_TaskAll/.../PXXX/<name>_mask_<Pattern><R>.mat                 protocol masks
    <Modality>/<Set>/GTSOS/.../PXXX/<name>.mat                                         RSS references
    <Method>/<Modality>/<Set>/TaskAll/.../PXXX/<name>_mask_<Pattern><R>.mat             reconstructions

Every module that builds or reads these paths uses the names and functions here. Parsing the pattern
and R out of a mask name is :func:`cardiomm.sampling.parse_mask_filename`; the metadata read from a path
(center, vendor, modality...) is :func:`cardiomm.database.paths.parse_path`.
"""

from __future__ import annotations

from pathlib import PurePath

__all__ = [
    "FULL_DIR",
    "MASK_DIR",
    "RESULT_DIR",
    "GT_DIR",
    "TRAIN_SET",
    "VAL_SET",
    "TEST_SET",
    "SET_FOLDERS",
    "MASK_TOKEN",
    "KSPACE_KEYS",
    "mask_file_name",
    "scan_stem",
    "swap_folder",
]

#: Fully sampled k-space.
FULL_DIR = "FullSample"
#: Protocol masks of a TestSet (``<name>_mask_<Pattern><R>.mat``).
MASK_DIR = "Mask_TaskAll"
#: Reconstructions written by ``cardiomm reconstruct`` (mirrors :data:`MASK_DIR`).
RESULT_DIR = "TaskAll"
#: Root-sum-of-squares references (``gtsosimage``).
GT_DIR = "GTSOS"
TRAIN_SET, VAL_SET, TEST_SET = "TrainingSet", "ValidationSet", "TestSet"
#: Set folders of MMCMR-427K / CMRxRecon releases.
SET_FOLDERS: tuple[str, ...] = (TRAIN_SET, VAL_SET, TEST_SET, "AnalysisSet", "TestAnalSet")
#: Separator between the scan name and the mask token in mask / result file names.
MASK_TOKEN = "_mask_"

#: Names of the k-space variable inside a CMRxRecon / MMCMR-427K ``.mat`` file, in the order a reader
#: looks for them (besides the CMRxRecon2023 ``kspace_subXX`` variables).
KSPACE_KEYS: tuple[str, ...] = ("kspace_full", "kspace", "kus", "kspace_single_full")


def mask_file_name(stem: str, pattern: str, accel: int) -> str:
    """``cine_sax``, ``ktGaussian``, 16 -> ``cine_sax_mask_ktGaussian16.mat``."""
    return f"{stem}{MASK_TOKEN}{pattern}{accel}.mat"


def scan_stem(name: str) -> str:
    """Scan name of a mask / result file name: ``cine_sax_mask_ktGaussian16.mat`` -> ``cine_sax``."""
    return PurePath(name).name.rsplit(MASK_TOKEN, 1)[0].removesuffix(".mat")


def swap_folder(parts: tuple[str, ...] | list[str], old: str, new: str) -> list[str]:
    """Path parts with the **last** folder named ``old`` renamed to ``new`` (e.g. FullSample -> GTSOS).

    Raises ``ValueError`` when no folder is named ``old``.
    """
    out = list(parts)
    i = len(out) - 1 - out[::-1].index(old)
    out[i] = new
    return out
