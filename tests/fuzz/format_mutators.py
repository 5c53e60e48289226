"""Structured mutators of MAT v5 tags, NIfTI header fields, DICOM elements, CSV values and twix counters.

Each returns whether the reader must reject the result (see :mod:`tests.fuzz.mutators`).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from .h5_mutators import Mutator, Rng

# ------------------------------------------------------------------------------------------ MAT v5


def _u32(buf: bytes, i: int) -> int:
    return int.from_bytes(buf[i : i + 4], "little")


def _matrix_tags(buf: bytes, pos: int) -> tuple[list[int], tuple[int, int] | None]:
    """Tag offsets of the ``miMATRIX`` element at ``pos`` and its sub-elements, and ``(offset, n)`` of
    its dimensions (one nesting level: enough for the seeds)."""
    tags, dims = [pos], None
    end = pos + 8 + _u32(buf, pos + 4)
    p, k = pos + 8, 0
    while p + 8 <= end:
        tags.append(p)
        word = _u32(buf, p)
        if word >> 16:
            size = 8
        else:
            nb = _u32(buf, p + 4)
            if k == 1:
                dims = (p + 8, nb // 4)
            size = 8 + nb + (-nb) % 8
        p, k = p + size, k + 1
    return tags, dims


def _v5_edit(data: bytes, rng: Rng, edit: str, reader: str) -> tuple[bytes, bool]:
    """Apply ``edit`` (``"tag"``: zero a tag; ``"dims"``: change a dimension) to a random top-level
    variable, inside its zlib stream for compressed variables. Returns the new bytes and must-fail."""
    elements, pos = [], 128
    while pos + 8 <= len(data):
        elements.append(pos)
        pos += 8 + _u32(data, pos + 4)
    pos = elements[int(rng.integers(0, len(elements)))]
    compressed = _u32(data, pos) == 15
    end = pos + 8 + _u32(data, pos + 4)
    buf = bytearray(zlib.decompress(data[pos + 8 : end]) if compressed else data)
    tags, dims = _matrix_tags(bytes(buf), 0 if compressed else pos)
    must = True
    if edit == "tag":
        k = int(rng.integers(0, len(tags)))
        buf[tags[k] : tags[k] + 8] = bytes(8)
        # listing checks a variable up to its first data element (tags 0-4); readers check what they read
        must = k <= 4 or reader != "list_mat_variables"
    else:
        if dims is None:
            return data, False
        off, n = dims
        values = list(struct.unpack(f"<{n}i", bytes(buf[off : off + 4 * n])))
        i = int(rng.integers(0, n))
        new = values.copy()
        new[i] = int(rng.choice([0, -1, 1, values[i] + 1, 10**6, 2**31 - 1, values[i]]))
        buf[off : off + 4 * n] = struct.pack(f"<{n}i", *new)
        must = int(np.prod(new, dtype=object)) != int(np.prod(values, dtype=object)) or min(new) < 0
    if not compressed:
        return bytes(buf), must
    payload = zlib.compress(bytes(buf))
    return data[:pos] + struct.pack("<II", 15, len(payload)) + payload + data[end:], must


def _mat5(edit: str) -> Mutator:
    def apply(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
        out, must = _v5_edit(src.read_bytes(), rng, edit, reader)
        dst.write_bytes(out)
        return must

    return apply


# ------------------------------------------------------------------------------------------- NIfTI
_DIM, _DATATYPE, _PIXDIM, _VOX_OFFSET, _SCL, _QUATERN, _SROW = 40, 70, 76, 108, 112, 256, 280
_BAD_FLOATS = [float("nan"), float("inf"), 0.0, -1.5]


def _nifti(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    gz = src.name.endswith(".gz")
    buf = bytearray(gzip.decompress(src.read_bytes()) if gz else src.read_bytes())
    choice = int(rng.integers(0, 9))
    must = False
    if choice == 0:  # spatial voxel size
        i = int(rng.integers(1, 4))
        struct.pack_into("<f", buf, _PIXDIM + 4 * i, float(rng.choice(_BAD_FLOATS)))
        must = True
    elif choice == 1:  # time step
        struct.pack_into("<f", buf, _PIXDIM + 16, float(rng.choice([np.nan, np.inf, -0.04])))
        must = True
    elif choice == 2:
        i = int(rng.integers(0, 8))
        struct.pack_into("<h", buf, _DIM + 2 * i, int(rng.choice([0, -1, 1, 2, 7, 1000, 32767])))
    elif choice == 3:
        codes = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1792, 2048, 9999]
        struct.pack_into("<h", buf, _DATATYPE, int(rng.choice(codes)))
    elif choice == 4:
        struct.pack_into("<f", buf, _VOX_OFFSET, float(rng.choice([0.0, 1.0, 356.0, 1e9, np.nan, -352.0])))
    elif choice == 5:
        struct.pack_into("<f", buf, _SCL + 4 * int(rng.integers(0, 2)), float(rng.choice(_BAD_FLOATS)))
    elif choice == 6:  # a NaN / Inf voxel (float32 data after the 352-byte header)
        n = (len(buf) - 352) // 4
        struct.pack_into("<f", buf, 352 + 4 * int(rng.integers(0, n)), float(rng.choice([np.nan, np.inf])))
        must = True
    elif choice == 7:  # the sform (used for the affine: sform_code 1)
        struct.pack_into("<f", buf, _SROW + 4 * int(rng.integers(0, 12)), float(rng.choice([np.nan, np.inf])))
        must = True
    else:
        struct.pack_into("<f", buf, _QUATERN + 4 * int(rng.integers(0, 6)), float(rng.choice(_BAD_FLOATS)))
    dst.write_bytes(gzip.compress(bytes(buf)) if gz else bytes(buf))
    return must


# ------------------------------------------------------------------------------------------- DICOM


def _dicom(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    import pydicom

    shutil.copytree(src, dst)
    files = sorted(dst.iterdir())
    choice = int(rng.integers(0, 17))
    if choice == 14:  # one image re-written without preamble and file meta: read as the series
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(files[0])
        del ds.file_meta
        ds.preamble = None
        files[0].unlink()
        pydicom.dcmwrite(dst / "IM0001", ds, implicit_vr=True, little_endian=True)
        return False
    if choice in (15, 16):  # junk that starts like a data set without preamble
        junk = b"\x08\x00" + rng.bytes(int(rng.integers(0, 400)))
        (dst / ("junk.dcm" if choice == 15 else "junk")).write_bytes(junk)
        return choice == 15  # claims DICOM by its suffix: refused; without it: ignored
    if choice == 10:
        (dst / "notes.txt").write_bytes(rng.bytes(int(rng.integers(0, 400))))
        return False
    if choice == 11:
        (dst / "extra.dcm").write_bytes(rng.bytes(int(rng.integers(0, 400))))
        return True
    if choice == 13:  # the same image twice (same SOPInstanceUID): skipped, read as the series
        shutil.copyfile(files[1], dst / "img009.dcm")
        return False
    first = choice in (0, 1, 9)  # only the first file's spacing, thickness and orientation are used
    f = files[0] if first else files[int(rng.integers(0, len(files)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(f)
        bad = str(rng.choice(["nan", "inf", "-inf"]))
        if choice == 0:
            ds.PixelSpacing = [str(rng.choice(["nan", "0", "-1.5", "inf"])), "1.25"]
        elif choice == 1:
            ds.SliceThickness = str(rng.choice(["nan", "-6", "inf"]))
        elif choice == 2:
            ds.ImagePositionPatient = ["0", bad, "8"]
        elif choice == 3:
            ds.RescaleSlope = bad
        elif choice == 4:
            ds.TriggerTime = bad
        elif choice == 5:
            ds.SeriesInstanceUID = "1.2.3.5"
        elif choice == 6:
            ds.Rows = int(ds.Rows) + int(rng.choice([1, 100, 60000]))
        elif choice == 7:
            del ds.PixelData
        elif choice == 8:
            ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
        elif choice == 9:
            ds.ImageOrientationPatient = [0, 0, 0, 0, 0, 0]
        else:
            ds.InstanceNumber = int(rng.integers(-5, 1000))
            ds.save_as(f)
            return False
        ds.save_as(f)
    return True


# --------------------------------------------------------------------------------------------- CSV
_POSITIVE = ("fovx", "fovy", "reconmatrix_x", "reconmatrix_y", "slicethickness", "tr")
_BAD_VALUES = ["nan", "NaN", "inf", "-inf", "-1", "0", "1e400", "abc", "", "1e30"]


def _csv(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    rows = list(csv.reader(io.StringIO(src.read_text())))
    choice = int(rng.integers(0, 5))
    must = True
    if choice == 0:
        rows = rows[1:]  # no header row
    elif choice == 1:
        i = int(rng.integers(1, len(rows)))
        rows[i][0] = rows[i][0].split("(")[0] + "(furlongs)" if "(" in rows[i][0] else rows[i][0]
        must = "(" in rows[i][0] and rows[i][0].split("(")[0].lower() != "vendor"
    else:
        i = int(rng.integers(1, len(rows)))
        value = str(rng.choice(_BAD_VALUES))
        rows[i][1] = value
        name = rows[i][0].split("(")[0].strip().lower()
        listed = len([c for c in rows[i][1:] if c.strip()]) > 0
        if name in _POSITIVE:
            must = True
        elif name in ("te", "ti"):
            must = value != "0" and not (value == "" and listed)
        else:
            must = False
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    dst.write_text(out.getvalue())
    return must


# -------------------------------------------------------------------------------------------- twix


def _twix(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    import twixtools

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        scans = twixtools.read_twix(str(src), verbose=False)
    mdbs = [m for m in scans[-1]["mdb"] if not m.is_flag_set("SYNCDATA")]
    j = int(rng.integers(0, len(mdbs)))
    m = mdbs[j].convert_to_local()
    choice = int(rng.integers(0, 5))
    must = True
    if choice == 0:
        name = ["Phs", "Eco", "Set", "Rep", "Sli"][int(rng.integers(0, 5))]
        setattr(m.mdh.Counter, name, int(rng.integers(len(mdbs) + 1, 65536)))
    elif choice == 1:
        m.mdh.Counter.Lin = int(rng.integers(241, 65536))  # more than 2x the protocol's 160 lines
    elif choice == 2:
        data = np.asarray(m.data).copy()
        data[0, int(rng.integers(0, data.shape[1]))] = complex(float(rng.choice([np.nan, np.inf])), 0.0)
        m.data = data
    elif choice == 3:
        setattr(m.mdh, ["CenterCol", "CenterLin"][int(rng.integers(0, 2))], int(rng.integers(0, 65536)))
        must = False
    else:
        m.add_flag(str(rng.choice(["REFLECT", "NOISEADJSCAN", "PATREFSCAN", "PHASCOR"])))
        must = False
    mdbs[j] = m
    scans[-1]["mdb"] = mdbs
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        twixtools.write_twix(scans, str(dst))
    return must


_MAT5 = frozenset({"mat5", "mat5z", "mask5", "image5"})
FORMAT_MUTATORS: dict[str, tuple[Mutator, frozenset[str] | None, float]] = {
    "mat5_zero_tag": (_mat5("tag"), _MAT5, 3.0),
    "mat5_dims": (_mat5("dims"), _MAT5, 2.0),
    "nifti_field": (_nifti, frozenset({"nifti", "niftigz"}), 3.0),
    "dicom_field": (_dicom, frozenset({"dicom"}), 4.0),
    "csv_field": (_csv, frozenset({"csv"}), 3.0),
    "twix_field": (_twix, frozenset({"twix"}), 2.0),
}
