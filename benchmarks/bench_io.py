"""Raw-data readers on the real files of ``../shared/data``, each against the plain library read.

- Siemens twix (``fallback_noncardiac/twixtools_gre_brain_2ch.dat``): :func:`cardiomm.io.read_twix_kspace`
  (header + guarded block walk + placement + oversampling removal) vs ``twixtools.map_twix(path)`` and
  reading its ``image`` array with twixtools' own oversampling removal;
- DICOM cine (Sunnybrook SCD0000101, 240 files): :func:`cardiomm.io.read_dicom_series` (grouping, ordering,
  geometry, per-image TI/TE) vs ``pydicom.dcmread`` + ``pixel_array`` of every file in a loop.

Best of 3 runs each, after one warm-up read (imports, page cache).
"""

from __future__ import annotations

import contextlib
import io
import timeit
import warnings


def _best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Best of ``repeat`` timed calls after one warm-up call [s]."""
    fn()
    return min(timeit.repeat(fn, repeat=repeat, number=1))


def run() -> str:
    from cardiomm.utils.shared_data import shared_data_dir

    root = shared_data_dir()
    if root is None:
        return "## io\n\nSkipped: `../shared/data` not found.\n"
    lines = [
        "## io",
        "",
        "Readers on real files vs the plain library read of the same file (best of 3).",
        "",
        "| file | cardiomm | time (ms) | baseline | time (ms) | ratio |",
        "|---|---|---:|---|---:|---:|",
    ]

    twix = root / "kspace" / "fallback_noncardiac" / "twixtools_gre_brain_2ch.dat"
    if twix.is_file():
        import twixtools

        from cardiomm.io import read_twix_kspace

        def plain_twix() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                image = twixtools.map_twix(str(twix), verbose=False)[-1]["image"]
                image.flags["remove_os"] = True
                image[:]

        ours, base = _best(lambda: read_twix_kspace(twix)), _best(plain_twix)
        shape = tuple(read_twix_kspace(twix).kspace.shape)
        lines.append(
            f"| twix GRE, 2 coils, (t, z, c, ky, kx) = {shape} | `read_twix_kspace` | {1e3 * ours:.1f} "
            f"| `twixtools.map_twix` + `image[:]` | {1e3 * base:.1f} | {ours / base:.2f} |"
        )

    dicom = root / "segmentation" / "sunnybrook_scd_subset" / "dicoms" / "SCD0000101"
    if dicom.is_dir():
        import pydicom

        from cardiomm.io import read_dicom_series

        files = sorted(dicom.glob("*.dcm"))

        def plain_dicom() -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for f in files:
                    _ = pydicom.dcmread(f).pixel_array

        ours, base = _best(lambda: read_dicom_series(dicom)), _best(plain_dicom)
        shape = tuple(read_dicom_series(dicom).magnitude.shape)
        lines.append(
            f"| DICOM cine, {len(files)} files -> (t, z, y, x) = {shape} | `read_dicom_series` | "
            f"{1e3 * ours:.1f} | `pydicom.dcmread(f).pixel_array` loop | {1e3 * base:.1f} | "
            f"{ours / base:.2f} |"
        )
    lines.append("")
    lines.append("Ratio = cardiomm / baseline; above 1 is the cost of validation, ordering and geometry.")
    return "\n".join(lines) + "\n"
