"""The two prompts of a reconstruction task, built from path and header metadata (reference 4.1, 5).

Path rules come first (MMCMR layout ``CenterXXX/<Vendor>_<Field>_<Model>/PXXX/<name>``); for files
outside that layout (an OCMR ``.h5``, a twix-converted file...) vendor, field and scanner come from the
file header through the database extractors. Only allow-listed, PHI-free fields are used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from cardiomm.database.extract import extract_file
from cardiomm.database.paths import parse_path
from cardiomm.errors import UnknownChoiceError
from cardiomm.recon.pipeline import ReconTask
from cardiomm.text.prompts import (
    metadata_prompt,
    modality_view_from_name,
    normalise_prompt,
    undersampling_prompt,
)
from cardiomm.types import UNKNOWN

__all__ = ["task_prompts", "metadata_prompt_for"]

log = logging.getLogger(__name__)


def metadata_prompt_for(path: str | Path, header_path: Path | None = None) -> str:
    """Metadata prompt for a file at ``path`` (its MMCMR path, or any path + the file's own header)."""
    text = Path(path).as_posix()
    info = parse_path(text)
    vendor, field, scanner = info.vendor, info.field_t, info.scanner
    if vendor == UNKNOWN and header_path is not None and header_path.suffix in (".h5", ".mat", ".dat"):
        fields = _header_fields(header_path)
        vendor = fields.get("vendor", vendor) or vendor
        field = fields.get("field_t", field) or field
        scanner = fields.get("scanner", scanner) or scanner
    try:
        modality, view = modality_view_from_name(text)
    except UnknownChoiceError:
        modality, view = UNKNOWN, UNKNOWN
    return metadata_prompt(
        info.lifespan, field if field is not None else UNKNOWN, vendor, scanner, modality, view
    )


def _header_fields(path: Path) -> dict[str, Any]:
    try:
        fmt = {".h5": "h5", ".mat": "mat", ".dat": "dat"}[path.suffix]
        scans = extract_file(path, fmt)
        return dict(scans[0].fields) if scans else {}
    except Exception as exc:  # noqa: BLE001 - metadata is best effort; the prompt says unknown
        log.debug("no header metadata from %s: %s", path, exc)
        return {}


def task_prompts(
    task: ReconTask, mask_type: str, acceleration: int, *, override: str | None = None
) -> tuple[str, str]:
    """``(metadata prompt, undersampling prompt)`` for ``task``; ``override`` replaces the metadata prompt."""
    meta = normalise_prompt(override) if override else metadata_prompt_for(task.rel_path, task.kspace_path)
    return meta, undersampling_prompt(acceleration, mask_type)
