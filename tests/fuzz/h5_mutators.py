"""Structured HDF5 mutators: dataset storage and shape tampering, attributes, ISMRMRD headers.

Each returns whether the reader must reject the result (see :mod:`tests.fuzz.mutators`). Storage
tampering (unwritten or partly written chunks, a grown shape, external raw storage, a virtual dataset,
an external link) is always detectable by a reader that reads the dataset; so are NaN values in data
the reader validates, and ISMRMRD counters outside the header's limits.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

Rng = np.random.Generator
Mutator = Callable[[str, Path, Path, Rng, str], "bool | None"]

#: Datasets each HDF5 seed's readers read.
H5_DATASETS = {
    "mat73": ["kspace"],
    "mask73": ["mask"],
    "image73": ["reconimage"],
    "training": ["kspace", "reconstruction_rss"],
    "fastmri": ["kspace", "reconstruction_rss", "mask", "ismrmrd_header"],
    "ismrmrd": ["dataset/data", "dataset/xml"],
}
_H5_SEEDS = frozenset(H5_DATASETS)
_FIXED = _H5_SEEDS - {"ismrmrd"}  # seeds with a dataset of fixed-size type (external, virtual, reshape)
_FLOAT = _FIXED - {"mask73"}  # seeds with a float/complex dataset
#: Readers that check values (NaN/Inf) of what they read; ``load_mat_variables`` returns raw variables.
_VALIDATING = {"read_cmrxrecon", "read_image_mat", "read_training_h5", "read_fastmri_h5", "read_kspace"}
_ATTR_VALUES: list[Any] = [
    0, -1, 1, 2**31, 10**12, float("nan"), 3.5, "x", b"\xff\xfe", np.arange(3), np.zeros((2, 2)), "",
]  # fmt: skip


def _reads(seed: str, reader: str, name: str) -> bool:
    """Whether ``reader`` reads dataset ``name`` of ``seed``."""
    if seed == "fastmri" and reader == "read_ismrmrd_geometry":
        return name == "ismrmrd_header"
    return True


def _pick(
    seed: str, rng: Rng, f: h5py.File | None = None, ok: Callable[[h5py.Dataset], bool] | None = None
) -> str:
    """A random dataset of ``seed`` (among those for which ``ok(dataset)`` holds, if given)."""
    names = H5_DATASETS[seed]
    if f is not None and ok is not None:
        names = [n for n in names if ok(f[n])]
    return names[int(rng.integers(0, len(names)))]


def _has_vlen(dtype: np.dtype[Any]) -> bool:
    if dtype.names is not None:
        return any(_has_vlen(dtype.fields[n][0]) for n in dtype.names)  # type: ignore[index]
    return dtype.kind == "O" or h5py.check_vlen_dtype(dtype) is not None


def _replace(f: h5py.File, name: str, make: Callable[[h5py.File, str, np.ndarray], Any]) -> None:
    """Replace dataset ``name`` by ``make(file, name, old data)``, keeping its attributes."""
    ds = f[name]
    data, attrs = ds[()], dict(ds.attrs)
    del f[name]
    new = make(f, name, np.asarray(data) if not isinstance(data, bytes) else np.asarray([data]))
    if isinstance(new, h5py.Dataset):
        for k, v in attrs.items():
            new.attrs[k] = v


def _storage(kind: str) -> Mutator:
    """Unwritten / partly written / grown / external / virtual / external-link replacement of a dataset."""

    def apply(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
        shutil.copyfile(src, dst)

        def ok(ds: h5py.Dataset) -> bool:
            shape = ds.shape or ()
            if not shape or (kind in ("external", "virtual") and _has_vlen(ds.dtype)):
                return False
            return kind != "partial" or max(shape) >= 2

        with h5py.File(dst, "r+") as f:
            name = _pick(seed, rng, f, ok)
            ds = f[name]
            shape, dtype = ds.shape, ds.dtype
            side = dst.with_name(dst.name + ".side.h5")

            def make(f: h5py.File, n: str, data: np.ndarray) -> Any:
                if kind == "unwritten":
                    return f.create_dataset(n, shape=shape, dtype=dtype, chunks=True)
                if kind == "partial":
                    axis = int(np.argmax(shape))
                    chunks = tuple(1 if i == axis else s for i, s in enumerate(shape))
                    new = f.create_dataset(n, shape=shape, dtype=dtype, chunks=chunks)
                    new[tuple(slice(0, 1) if i == axis else slice(None) for i in range(len(shape)))] = data[
                        tuple(slice(0, 1) if i == axis else slice(None) for i in range(len(shape)))
                    ]
                    return new
                if kind == "grow":
                    factor = int(rng.choice([2, 10, 1000, 10**6, 10**9, 10**12]))
                    big = (shape[0] * factor, *shape[1:])
                    new = f.create_dataset(n, shape=big, dtype=dtype, chunks=(1, *shape[1:]), maxshape=big)
                    new[: shape[0]] = data
                    return new
                if kind == "external":
                    raw = dst.with_name(dst.name + ".raw")
                    new = f.create_dataset(n, shape=shape, dtype=dtype, external=[(str(raw), 0, 2**32)])
                    new[...] = data
                    return new
                with h5py.File(side, "w") as g:
                    g.create_dataset("x", data=data, dtype=dtype)
                if kind == "extlink":
                    f[n] = h5py.ExternalLink(str(side), "/x")
                    return None
                layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
                layout[...] = h5py.VirtualSource(str(side), "x", shape=shape)
                return f.create_virtual_dataset(n, layout)

            _replace(f, name, make)
        return _reads(seed, reader, name)

    return apply


def _reshape(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    """Same values, another shape (permuted axes, flattened, an added or dropped axis) or dtype."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        name = _pick(seed, rng, f, lambda ds: not _has_vlen(ds.dtype))
        choice = int(rng.integers(0, 5))

        def make(f: h5py.File, n: str, data: np.ndarray) -> Any:
            if data.dtype.names and "real" in data.dtype.names:  # MATLAB complex compound
                data = data["real"] + 1j * data["imag"]
            if choice == 0:
                out = data.transpose(rng.permutation(data.ndim))
            elif choice == 1:
                out = data.reshape(-1)
            elif choice == 2:
                out = data[None]
            elif choice == 3:
                out = data.reshape(data.shape[1:]) if data.ndim and data.shape[0] == 1 else data[..., :1]
            else:
                kinds = [np.float64, np.int16, np.complex128, np.bool_, "S4"]
                dt = kinds[int(rng.integers(0, len(kinds)))]
                out = (data.real if data.dtype.kind == "c" and dt != np.complex128 else data).astype(dt)
            return f.create_dataset(n, data=np.ascontiguousarray(out))

        _replace(f, name, make)
    return False


def _nan(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    """A NaN or Inf in a float/complex dataset the reader validates."""
    shutil.copyfile(src, dst)

    def numeric(ds: h5py.Dataset) -> bool:
        return ds.dtype.kind in "fc" or bool(ds.dtype.names and "real" in ds.dtype.names)

    with h5py.File(dst, "r+") as f:
        name = _pick(seed, rng, f, numeric)
        ds = f[name]
        data = ds[()]
        flat = data.reshape(-1)
        i = int(rng.integers(0, flat.size))
        bad = float(rng.choice([np.nan, np.inf, -np.inf]))
        if data.dtype.names:
            flat[i]["real"] = bad
        else:
            flat[i] = bad
        ds[...] = data
    return reader in _VALIDATING and _reads(seed, reader, name)


def _attr(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    """Change, add or delete an attribute of the root or of a dataset the reader reads."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        on_root = seed in ("training", "fastmri") and rng.random() < 0.6
        obj = f if on_root else f[_pick(seed, rng)]
        names = [*obj.attrs, "MATLAB_empty", "n_frames", "extra"]
        key = names[int(rng.integers(0, len(names)))]
        old = obj.attrs.get(key)
        if rng.random() < 0.15:
            if key in obj.attrs:
                del obj.attrs[key]
            return False
        value = _ATTR_VALUES[int(rng.integers(0, len(_ATTR_VALUES)))]
        obj.attrs[key] = value
    changed = old is None or not np.array_equal(np.asarray(old), np.asarray(value))
    layout = key in ("n_frames", "n_slices", "shape", "axis_order")
    if seed == "training" and on_root and layout and changed:
        # read_kspace routes a file without the training axis_order to the fastMRI reader
        return reader == "read_training_h5" or (reader == "read_kspace" and key != "axis_order")
    if seed.endswith("73") and key == "MATLAB_empty" and type(value) is int and value == 1:
        return True  # a non-empty variable marked empty: every MAT reader checks the dimensions
    return False


# ------------------------------------------------------------------------------------------- ISMRMRD
_COUNTER_RANGES = {
    "phase": (2, 65536),
    "slice": (1, 65536),
    "repetition": (1, 65536),
    "contrast": (1, 65536),
    "set": (1, 65536),
    "kspace_encode_step_1": (8, 65536),
}
_ISMRMRD_READERS = ("read_ismrmrd", "read_kspace")


def _ismrmrd_head(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    """Change one field of one acquisition header (or its data) in place."""
    shutil.copyfile(src, dst)
    reads_kspace = reader in _ISMRMRD_READERS
    with h5py.File(dst, "r+") as f:
        ds = f["dataset/data"]
        j = int(rng.integers(1, ds.shape[0]))  # acquisition 0 is the noise scan
        rec = ds[j]
        head = rec["head"]
        choice = int(rng.integers(0, 9))
        must: bool = False
        if choice == 0:
            name = list(_COUNTER_RANGES)[int(rng.integers(0, len(_COUNTER_RANGES)))]
            head["idx"][name] = int(rng.integers(*_COUNTER_RANGES[name]))
            must = reads_kspace
        elif choice == 1:
            head["idx"]["phase"] = 65535  # the reproducer
            must = reads_kspace
        elif choice == 2:
            field = ["number_of_samples", "active_channels"][int(rng.integers(0, 2))]
            old = int(head[field])
            head[field] = int(rng.choice([0, 1, old + 1, 1000, 65535]))
            must = reads_kspace and int(head[field]) != old
        elif choice == 3:
            head["discard_pre" if rng.random() < 0.5 else "discard_post"] = int(rng.integers(16, 65536))
            must = reads_kspace
        elif choice == 4:
            head["center_sample"] = int(rng.integers(0, 65536))
        elif choice == 5:
            head["flags"] = np.uint64(rng.integers(0, 2**63))
        elif choice == 6:
            field = ["encoding_space_ref", "trajectory_dimensions", "scan_counter", "measurement_uid"]
            head[field[int(rng.integers(0, len(field)))]] = int(rng.integers(0, 256))
        elif choice == 7:
            vec = ["position", "read_dir", "phase_dir", "slice_dir"][int(rng.integers(0, 4))]
            head[vec][int(rng.integers(0, 3))] = float(rng.choice([np.nan, np.inf]))
            must = reader == "read_ismrmrd_geometry" and j == 1  # the first acquisition gives the geometry
        else:
            rec["data"][int(rng.integers(0, rec["data"].size))] = float(rng.choice([np.nan, np.inf]))
            must = reads_kspace
        rec["head"] = head
        ds[j] = rec
    return must


def _ismrmrd_xml(seed: str, src: Path, dst: Path, rng: Rng, reader: str) -> bool | None:
    """Rebuild the file with its XML header changed (limits dropped with a wild counter, huge matrix,
    NaN field of view, damaged text)."""
    from .seeds import write_ismrmrd

    choice = int(rng.integers(0, 4))
    if choice == 0:
        write_ismrmrd(
            dst, {"limits": False, "acq": int(rng.integers(1, 17)), "field": "phase", "value": 65535}
        )
        return reader in _ISMRMRD_READERS
    if choice == 1:
        write_ismrmrd(dst, {"matrix_x": int(rng.choice([65535, 1000, 0, 8]))})
        return _matrix_must(dst, reader)
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        xml = f["dataset/xml"][0]
        text = xml.decode() if isinstance(xml, bytes) else str(xml)
        if choice == 2:
            text = text.replace("<x>300.0</x>", "<x>NaN</x>")
            must = reader == "read_ismrmrd_geometry"
        else:
            raw = bytearray(text.encode())
            for _ in range(int(rng.integers(1, 4))):
                raw[int(rng.integers(0, len(raw)))] = int(rng.integers(32, 127))
            text, must = raw.decode(errors="replace"), False
        f["dataset/xml"][0] = text
    return must


def _matrix_must(path: Path, reader: str) -> bool:
    """Whether the rebuilt file's matrix size is implausible (over 4x the 16-sample readout)."""
    import ismrmrd.xsd

    with h5py.File(path, "r") as f:
        header = ismrmrd.xsd.CreateFromDocument(f["dataset/xml"][0])
    return reader in _ISMRMRD_READERS and int(header.encoding[0].encodedSpace.matrixSize.x) > 64


H5_MUTATORS: dict[str, tuple[Mutator, frozenset[str] | None, float]] = {
    "h5_unwritten": (_storage("unwritten"), _H5_SEEDS, 1.0),
    "h5_partial": (_storage("partial"), _H5_SEEDS, 1.0),
    "h5_grow": (_storage("grow"), _H5_SEEDS, 1.0),
    "h5_external": (_storage("external"), _FIXED, 0.5),
    "h5_virtual": (_storage("virtual"), _FIXED, 0.5),
    "h5_extlink": (_storage("extlink"), _H5_SEEDS, 0.5),
    "h5_reshape": (_reshape, _FIXED, 1.0),
    "h5_nan": (_nan, _FLOAT, 1.0),
    "h5_attr": (_attr, _H5_SEEDS, 1.5),
    "ismrmrd_head": (_ismrmrd_head, frozenset({"ismrmrd"}), 4.0),
    "ismrmrd_xml": (_ismrmrd_xml, frozenset({"ismrmrd"}), 1.5),
}
