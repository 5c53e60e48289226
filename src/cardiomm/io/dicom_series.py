"""Which images of a DICOM folder form the stack to read: series listing, selection, and the choice
among several series (the reading rules are in :mod:`cardiomm.io.image_series`).

A folder may hold a whole study. Images of a parallel plane written with other in-plane axes (rows and
columns swapped or reversed) are first seen turned to the most common axes (:func:`_common_axes`).
Series that share orientation (within :data:`STACK_TILT_DEG`; slices
are placed by their centres, :func:`~cardiomm.io.dicom_geometry.slice_centre`), matrix and pixel
spacing are parallel: one stack
when a short-axis cine was exported one series per slice.
Among parallel series (:func:`stack_images`), the cine frames are those of the series with the number
(two or more) of images per slice that covers most slices; left out, each with a logged note, are
single-image series (LGE, T2-weighted), series with another number of images that sit only at slices of
the stack (a mapping series), derived images (``ImageType`` ``DERIVED``: a scanner's analysis result or
reformat) where original ones exist, and the earlier acquisition of a slice acquired twice (by
``SeriesNumber``, then ``SeriesTime``). Inversion-recovery series at one slice twice (pre and post
contrast, or beside the motion-corrected copy) are not chosen between. Anything else is left for the
reader, which refuses it. Of several groups of parallel series, the one that forms a cine stack (at
least :data:`MIN_STACK_SLICES` slice positions, the same number of images, two or more, at every
position, one series per position) is read with the choice logged; with none or several the folder is
refused with the series listed, and the user names one
(:func:`~cardiomm.io.dicom_headers.select_series`). Slices the chosen stack
lacks may come from parallel series of another matrix, pixel spacing or field of view (re-planned
between breath-holds), resampled onto the stack's grid (:func:`_fill_slices`); slices whose field of
view was re-centred in plane are resampled onto the stack's axis (:func:`_on_one_axis`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

from cardiomm.errors import InputFileError
from cardiomm.io.checks import reading
from cardiomm.io.dicom_geometry import (
    all_centres,
    image_grid,
    orientations,
    planes_deg,
    position_runs,
    regridded,
    slice_normal,
    tilt_deg,
    turned,
    vector,
)
from cardiomm.io.dicom_headers import (
    Image,
    by_series,
    header_float,
    inversion_time_ms,
    series_listing,
    series_number,
    series_uid,
)

__all__ = [
    "PARALLEL_DEG",
    "STACK_TILT_DEG",
    "MIN_STACK_SLICES",
    "stack_images",
    "SeriesSummary",
    "summarise_series",
]

log = logging.getLogger(__name__)

#: Series whose slice normals differ by less than this angle [degrees] count as parallel.
PARALLEL_DEG = 1.0
#: Series whose slice normals differ by less than this angle [degrees] may still be slices of one stack
#: (slices re-planned between breath-holds; short- and long-axis views are tens of degrees apart); the
#: positions are measured at the image centres and a tilt above :data:`PARALLEL_DEG` is logged.
STACK_TILT_DEG = 10.0
#: A series group is picked from a study folder only if it has at least this many slice positions.
MIN_STACK_SLICES = 3


_Key: TypeAlias = "tuple[NDArray[np.float64] | None, tuple[int, int], NDArray[np.float64] | None]"


def _series_key(f: Path, ds: Image) -> _Key:
    """Slice normal, matrix and pixel spacing of an image: what series of one stack share."""
    with reading(f, "DICOM file"):
        return slice_normal(ds, f), (int(ds.Rows), int(ds.Columns)), vector(ds, "PixelSpacing", 2, f)


def _parallel(a: _Key, b: _Key) -> bool:
    """Slice planes within :data:`STACK_TILT_DEG` of each other."""
    return planes_deg(a[0], b[0]) < STACK_TILT_DEG


def _compatible(a: _Key, b: _Key) -> bool:
    (_, size, sp), (_, size0, sp0) = a, b
    return (
        _parallel(a, b)
        and size == size0
        and sp is not None
        and sp0 is not None
        and bool(np.allclose(sp, sp0, rtol=1e-3))
    )


def _placed(items: list[tuple[Path, Image]]) -> list[tuple[float, str, Path, Image]] | None:
    """(centre's position along the first image's normal [mm], series UID, path, image) of each image;
    ``None`` when an image has no ``ImagePositionPatient`` or orientation (the reader's rules apply)."""
    normal = slice_normal(items[0][1], items[0][0])
    centres = all_centres(items)
    if normal is None or centres is None:
        return None
    return [
        (float(np.dot(c, normal)), series_uid(ds), f, ds) for c, (f, ds) in zip(centres, items, strict=True)
    ]


def _later_last(series: list[list[tuple[Path, Image]]]) -> list[int] | None:
    """Indices of ``series`` (acquisitions of one slice) from earliest to latest: by ``SeriesNumber``
    when every one has a different number, else by ``SeriesTime`` when every one has a different time;
    ``None`` when they cannot be ordered."""
    heads = [items[0][1] for items in series]
    numbers = [series_number(ds) for ds in heads]
    times = [str(getattr(ds, "SeriesTime", "") or "").strip() for ds in heads]
    for keys in (numbers, times):
        if all(k not in (None, "") for k in keys) and len(set(keys)) == len(keys):
            return sorted(range(len(series)), key=lambda i: keys[i])  # type: ignore[arg-type,return-value]
    return None


def _one_stack(items: list[tuple[Path, Image]]) -> tuple[list[tuple[Path, Image]], list[str]]:
    """The images of one group of parallel series that form the stack, and notes on what was left out
    (module notes); anything the rules do not cover is returned unchanged for the reader to judge."""
    groups = by_series(items)
    placed = _placed(items) if len(groups) > 1 else None
    if placed is None:
        return items, []
    slices = position_runs(placed, lambda r: r[0])
    where: dict[str, dict[int, int]] = {}  # series -> {slice index: images there}
    for k, sl in enumerate(slices):
        for r in sl:
            where.setdefault(r[1], {}).setdefault(k, 0)
            where[r[1]][k] += 1
    if any(len(set(c.values())) > 1 for c in where.values()):
        return items, []
    size = {uid: next(iter(c.values())) for uid, c in where.items()}
    reach: dict[int, set[int]] = {}  # images per slice (>= 2) -> slices that series of that size cover
    for uid, c in where.items():
        if size[uid] > 1:
            reach.setdefault(size[uid], set()).update(c)
    widest = max((len(v) for v in reach.values()), default=0)
    main = [n for n, v in reach.items() if len(v) == widest]
    if len(main) != 1:
        return items, []
    n, notes = main[0], []
    others = [uid for uid in groups if size[uid] != n]
    if any(not set(where[uid]) <= reach[n] and (size[uid] > 1 or len(where[uid]) == 1) for uid in others):
        return items, []  # a slice of the stack with another number of frames: the reader refuses
    if others:
        left = [im for uid in others for im in groups[uid]]
        notes.append(f"left out, not frames of the cine stack's slices: {series_listing(left)}")
    dropped = {(uid, k) for uid in others for k in where[uid]}
    derived: set[str] = set()
    for k, sl in enumerate(slices):
        here = [uid for uid in groups if k in where[uid] and size[uid] == n]
        if len(here) > 1 and any(inversion_time_ms(r[3]) is not None for r in sl if r[1] in here):
            return items, []  # an inversion-recovery slice twice (pre / post contrast, MOCO?): not guessed
        original = [uid for uid in here if not _is_derived(groups[uid][0][1])]
        if original and len(original) < len(here):  # a reformat or an analysis result of the acquisition
            derived |= set(here) - set(original)
            dropped |= {(uid, k) for uid in set(here) - set(original)}
            here = original
        if len(here) < 2:
            continue
        order = _later_last([groups[uid] for uid in here])
        if order is None:
            return items, []  # which acquisition to read is not clear: the reader refuses
        here = [here[i] for i in order]
        notes.append(
            f"the slice at {np.mean([r[0] for r in sl]):.2f} mm was acquired {len(here)} times: reading the "
            f"later one, {series_listing(groups[here[-1]])}"
        )
        dropped |= {(uid, k) for uid in here[:-1]}
    if derived:
        left = [im for uid in derived for im in groups[uid]]
        notes.append(
            f"left out, derived images (ImageType DERIVED) at the stack's slices: {series_listing(left)}"
        )
    return [(r[2], r[3]) for k, sl in enumerate(slices) for r in sl if (r[1], k) not in dropped], notes


def _is_derived(ds: Image) -> bool:
    """Whether an image says it is derived from others (``ImageType`` starting with ``DERIVED``)."""
    value = getattr(ds, "ImageType", None)
    if value is None:
        return False
    first = str(value).split("\\")[0] if isinstance(value, str) else str(next(iter(value), ""))
    return first.strip().upper() == "DERIVED"


def _frames_per_slice(items: list[tuple[Path, Image]]) -> int:
    """The largest number of images at one slice position (0 without positions)."""
    placed = _placed(items)
    return 0 if placed is None else max(len(sl) for sl in position_runs(placed, lambda r: r[0]))


def _is_cine_stack(items: list[tuple[Path, Image]], min_slices: int = MIN_STACK_SLICES) -> bool:
    """At least ``min_slices`` slice positions, each holding the same number (>= 2) of images of one
    series (positions along the first image's normal, within :data:`POSITION_TOLERANCE_MM`)."""
    placed = _placed(items)
    if placed is None:
        return False
    slices = position_runs(placed, lambda r: r[0])
    counts = {len(sl) for sl in slices}
    return (
        len(slices) >= min_slices
        and len(counts) == 1
        and min(counts) >= 2
        and all(len({r[1] for r in sl}) == 1 for sl in slices)
    )


def _common_axes(root: Path, datasets: list[tuple[Path, Image]]) -> list[tuple[Path, Image]]:
    """The images with the in-plane axes of their plane family's most common orientation: an image of
    a parallel plane (within :data:`STACK_TILT_DEG`) written transposed or flipped (a slice of a
    per-slice export saved another way) is seen turned (:func:`~cardiomm.io.dicom_geometry.turned`), with
    a logged note."""
    families: list[list[int]] = []  # indices of images in (nearly) one plane
    seen = orientations(datasets)
    normals = [None if o is None else o[1] for o in seen]
    keys = [None if o is None else tuple(np.sign(np.round(o[0], 1)).astype(int)) for o in seen]
    family_of: dict[str, list[int]] = {}  # the family of each distinct orientation, found once
    for k, o in enumerate(seen):
        if o is None:
            continue
        exact = o[0].tobytes().hex()
        if exact not in family_of:
            home = next((fam for fam in families if planes_deg(o[1], normals[fam[0]]) < STACK_TILT_DEG), None)
            if home is None:
                home = []
                families.append(home)
            family_of[exact] = home
        family_of[exact].append(k)
    out = list(datasets)
    for fam in families:
        signatures = [keys[k] for k in fam]
        common = max(set(signatures), key=signatures.count)
        target = datasets[next(k for k in fam if keys[k] == common)][1]
        moved = []
        for k in fam:
            if keys[k] != common and (view := turned(*datasets[k], target)) is not None:
                out[k] = (datasets[k][0], view)
                moved.append(datasets[k])
        if moved:
            log.warning(
                "%s: images written with other in-plane axes (rows and columns swapped or flipped) turned to "
                "the stack's: %s",
                root,
                series_listing(moved),
            )
    return out


#: A series fills a slice the stack lacks (:func:`_fill_slices`) only when acquired with the stack's
#: sequence: repetition and echo times within this fraction of the stack's (a re-planned matrix or
#: field of view changes them by a few per cent; a spoiled-gradient-echo tagged cine is another sequence).
SEQUENCE_TOLERANCE = 0.2
#: ... and a flip angle within this many degrees of the stack's (bSSFP cine 40-80, tagged / spoiled 10-25).
FLIP_TOLERANCE_DEG = 10.0
#: ... and covering at least this fraction of the stack's field of view (0 is written outside).
MIN_COVERAGE = 0.5


def _slice_runs(items: list[tuple[Path, Image]]) -> list[list[tuple[float, str, Path, Image]]]:
    """The images of a stack by slice (:func:`position_runs` of :func:`_placed`; none without geometry)."""
    placed = _placed(items)
    return [] if placed is None else position_runs(placed, lambda r: r[0])


def _pixel_area(image: tuple[Path, Image]) -> float:
    """Pixel area [mm^2] of an image (infinite without ``PixelSpacing``)."""
    spacing = vector(image[1], "PixelSpacing", 2, image[0])
    return float("inf") if spacing is None else float(np.prod(spacing))


def _same_sequence(a: Image, b: Image) -> bool:
    """Whether two images' timing and flip angle allow one sequence (module constants); a value missing
    on either image is not compared."""
    for tag, tol in (("RepetitionTime", SEQUENCE_TOLERANCE), ("EchoTime", SEQUENCE_TOLERANCE)):
        x, y = header_float(a, tag), header_float(b, tag)
        if x is not None and y is not None and abs(x - y) > tol * max(abs(x), abs(y)):
            return False
    fa, fb = header_float(a, "FlipAngle"), header_float(b, "FlipAngle")
    return fa is None or fb is None or abs(fa - fb) <= FLIP_TOLERANCE_DEG


def _fill_slices(
    stack: list[tuple[Path, Image]], others: list[tuple[Path, Image]]
) -> tuple[list[tuple[Path, Image]], list[str], set[str]]:
    """``stack`` (a cine stack) with the slices it lacks taken from series of ``others`` written with
    another matrix, pixel spacing or field of view (a slice re-planned between breath-holds), each image
    resampled onto the stack's grid (:func:`~cardiomm.io.dicom_geometry.regridded`); notes on them, and
    the series used. A series is used only when its plane is within :data:`STACK_TILT_DEG` of the
    stack's, it has the stack's number of images at each of its slices, those slices lie on the stack's
    slice grid (within a quarter step) at positions the stack lacks, each next to another (no new gap),
    it was acquired with the stack's sequence (:func:`_same_sequence`), is original when the
    stack's images are, and covers at least :data:`MIN_COVERAGE` of the stack's field of view."""
    runs = _slice_runs(stack)
    target_path, target = stack[0]
    normal = slice_normal(target, target_path)
    if len(runs) < 2 or normal is None:
        return stack, [], set()
    n = len(runs[0])
    taken = [float(np.mean([r[0] for r in run])) for run in runs]
    step = float(np.min(np.diff(taken)))  # the stack's slice step (a gap is a missing slice)
    key = _series_key(target_path, target)
    out, notes, used = list(stack), [], set()
    candidates, in_stack = [], {series_uid(ds) for _, ds in stack}
    for uid, items in by_series(others).items():
        own = _series_key(*items[0])
        if uid in in_stack or not _parallel(own, key) or _compatible(own, key):
            continue  # another orientation, or a matrix the stack shares (another rule's business)
        centres = all_centres(items)
        if centres is None:
            continue
        at = [float(np.dot(c, normal)) for c in centres]
        slices = position_runs(range(len(items)), at.__getitem__)
        if any(len(sl) != n for sl in slices):
            continue
        where = [float(np.mean([at[i] for i in sl])) for sl in slices]
        candidates.append((min(abs(w - t) for w in where for t in taken), uid, items, where))
    for _, uid, items, where in sorted(candidates, key=lambda c: c[0]):
        grid = [(w - taken[0]) / step for w in where]
        if (
            any(abs(g - round(g)) > 0.25 for g in grid)
            or any(min(abs(w - t) for t in taken) < step / 2 for w in where)
            or any(min(abs(w - v) for v in taken + where if v != w) > 1.25 * abs(step) for w in where)
            or not _same_sequence(items[0][1], target)
            or (_is_derived(items[0][1]) and not _is_derived(target))
        ):
            continue
        views = [(f, regridded(f, ds, target)) for f, ds in items]
        if any(v is None or v[1] < MIN_COVERAGE for _, v in views):
            continue
        out += [(f, v[0]) for f, v in views if v is not None]
        taken += where
        used.add(uid)
        covered = min(v[1] for _, v in views if v is not None)
        first = items[0][1]
        notes.append(
            f"resampled onto the stack's {int(target.Rows)} x {int(target.Columns)} grid "
            f"({_spacing_text(target)} mm pixels) to fill the slice{'s' if len(where) > 1 else ''} at "
            f"{', '.join(f'{w:.2f}' for w in where)} mm that the stack lacks: {series_listing(items)}, "
            f"{int(first.Rows)} x {int(first.Columns)} of {_spacing_text(first)} mm, covering "
            f"{covered:.0%} of the stack's field of view"
        )
    return out, notes, used


def _spacing_text(ds: Image) -> str:
    spacing = getattr(ds, "PixelSpacing", None)
    return "?" if spacing is None else " x ".join(f"{float(v):.3g}" for v in spacing)


def stack_images(
    root: Path, datasets: list[tuple[Path, Image]], *, selected: bool = False
) -> list[tuple[Path, Image]]:
    """The images of ``root`` that form the one stack to read (module notes), with every choice logged.
    Series of several studies (``StudyInstanceUID``) are refused unless the user ``selected`` them (an
    anonymiser may give every series its own study UID).

    Raises
    ------
    InputFileError
        Images of several studies, or series that are not one stack and hold no single cine-like stack,
        listed.
    """
    datasets = _common_axes(root, datasets)
    groups = by_series(datasets)
    if len(groups) == 1:
        return _on_one_axis(root, datasets)
    studies: dict[str, list[tuple[Path, Image]]] = {}  # a series' study: that of its first image
    for items in groups.values():
        if study := str(getattr(items[0][1], "StudyInstanceUID", "") or "").strip():
            studies.setdefault(study, []).extend(items)
    if len(studies) > 1 and not selected:  # never a stack of slices from two examinations or patients
        listing = " | ".join(f"study {k + 1}: {series_listing(v)}" for k, v in enumerate(studies.values()))
        raise InputFileError(
            f"series of {len(studies)} studies (StudyInstanceUID) in one folder: {listing}; give one "
            "study's folder, or select the series to read",
            path=root,
        )
    keys = {uid: _series_key(*items[0]) for uid, items in groups.items()}
    parallel: list[list[str]] = []
    for uid in groups:
        home = next((st for st in parallel if _compatible(keys[uid], keys[st[0]])), None)
        if home is None:
            parallel.append([uid])
        else:
            home.append(uid)
    stacks = [_one_stack([im for uid in st for im in groups[uid]]) for st in parallel]
    if len(stacks) > 1:
        found = [st for st in stacks if _is_cine_stack(st[0])]
        # slices of the stack re-planned with another matrix or field of view, filled in on its grid;
        # with most slices re-planned, the largest part (two slices or more) is the grid
        parts = found or [st for st in stacks if _is_cine_stack(st[0], min_slices=2)]
        if parts:
            main = max(parts, key=lambda st: (len(_slice_runs(st[0])), -_pixel_area(st[0][0])))
            rest = [im for st in stacks if st is not main for im in st[0]]
            images, filled, used = _fill_slices(_on_one_axis(root, main[0]), rest)
            stacks = [(images, main[1] + filled)] + [
                st for st in stacks if st is not main and not {series_uid(ds) for _, ds in st[0]} <= used
            ]
            whole = [stacks[0]] if _is_cine_stack(stacks[0][0]) else []
            found = whole + [st for st in found if any(st is kept for kept in stacks[1:])]
        if len(found) != 1:
            raise InputFileError(
                f"mixed series: {len(groups)} series that are not one stack (different orientation, "
                f"matrix or pixel spacing; {len(found)} multi-slice cine stacks among them): "
                f"{series_listing(datasets)}; give one series, or select it by its number or description",
                path=root,
            )
        log.warning(
            "%s: %d series in the folder; reading the only multi-slice, multi-frame stack among them: %s",
            root,
            len(groups),
            series_listing(found[0][0]),
        )
        chosen = _series_key(*found[0][0][0])
        aside = by_series([im for st in stacks if st is not found[0] for im in st[0]])
        parallel_cines = [
            im
            for items in aside.values()
            if _parallel(_series_key(*items[0]), chosen) and _frames_per_slice(items) > 1
            for im in items
        ]
        if parallel_cines:  # e.g. one slice of a per-slice export saved with its matrix transposed
            log.warning(
                "%s: left out though parallel to the stack (another matrix or pixel spacing): %s; if a slice "
                "of the stack is among them, the stack read is incomplete: select the series to read",
                root,
                series_listing(parallel_cines),
            )
        stacks = found
    images, notes = stacks[0]
    for note in notes:
        log.warning("%s: %s", root, note)
    return _on_one_axis(root, images)


def _on_one_axis(root: Path, images: list[tuple[Path, Image]]) -> list[tuple[Path, Image]]:
    """The images with the slices whose centres lie off the stack's axis (a field of view re-centred in
    plane between breath-holds: the same matrix shows the anatomy shifted) resampled onto the grid of
    the most common centre (:func:`~cardiomm.io.dicom_geometry.regridded`), with a logged note; a slice
    is off the axis when its centre, projected on the reference slice's plane, is more than half a pixel
    from the reference's, and only images of the reference's matrix and pixel spacing are moved (images
    of another size in a series are the reader's to refuse). Stacks without orientation or positions,
    or with planes more than :data:`PARALLEL_DEG` apart, are returned as they are."""
    grid = image_grid(*images[0])
    if grid is None or min(grid[2]) <= 0 or len(images) < 2 or tilt_deg(images) > PARALLEL_DEG:
        return images  # tilted slices are stacked as acquired, placed by their centres
    (iop, _, spacing), centres = grid, all_centres(images)
    if centres is None:
        return images
    offsets = [(float(np.dot(c, iop[:3])), float(np.dot(c, iop[3:]))) for c in centres]
    keys = [(round(u / (spacing[1] / 2)), round(v / (spacing[0] / 2))) for u, v in offsets]
    ref = keys.index(max(keys, key=keys.count))  # the most common centre; on a tie, the first image's
    off = [(u - offsets[ref][0], v - offsets[ref][1]) for u, v in offsets]
    ref_key = _series_key(*images[ref])
    moved = [
        k
        for k, (du, dv) in enumerate(off)
        if (abs(du) > spacing[1] / 2 or abs(dv) > spacing[0] / 2)
        and _compatible(_series_key(*images[k]), ref_key)  # other matrices: not a re-centring
    ]
    if not moved:
        return images
    out = list(images)
    for k in moved:
        view = regridded(*images[k], images[ref][1])
        if view is None:
            return images
        out[k] = (images[k][0], view[0])
    shift = max(float(np.hypot(*off[k])) for k in moved)
    log.warning(
        "%s: images with the field of view re-centred in plane (up to %.1f mm from the stack's axis) "
        "resampled onto the stack's grid: %s",
        root,
        shift,
        series_listing([images[k] for k in moved]),
    )
    return out


@dataclass(frozen=True)
class SeriesSummary:
    """One series of a DICOM folder, as ``cardiomm analyse series`` lists it."""

    number: int | None
    description: str
    uid: str
    images: int
    slices: int  #: slice positions (0 without ``ImagePositionPatient``)
    frames: int  #: most images at one slice position
    matrix: tuple[int, int]  #: rows, columns
    pixel_spacing_mm: tuple[float, float] | None
    normal: tuple[float, float, float] | None  #: slice normal, patient coordinates
    picked: bool  #: among the images :func:`stack_images` reads when no series is selected
    #: read on the stack's grid: resampled (re-planned or re-centred) or turned (other in-plane axes)
    regridded: bool = False


def summarise_series(
    datasets: list[tuple[Path, Image]], picked: set[str], regridded: set[str] | None = None
) -> list[SeriesSummary]:
    """A :class:`SeriesSummary` per series, by series number; ``picked``: the UIDs of the series read,
    ``regridded``: those of them read on the stack's grid."""
    rows = []
    for uid, items in by_series(datasets).items():
        f, ds = items[0]
        placed = _placed(items)
        slices = [] if placed is None else position_runs(placed, lambda r: r[0])
        with reading(f, "DICOM file"):
            normal, spacing = slice_normal(ds, f), vector(ds, "PixelSpacing", 2, f)
            matrix = (int(getattr(ds, "Rows", 0) or 0), int(getattr(ds, "Columns", 0) or 0))
        rows.append(
            SeriesSummary(
                number=series_number(ds),
                description=str(getattr(ds, "SeriesDescription", "") or ""),
                uid=uid,
                images=len(items),
                slices=len(slices),
                frames=max((len(sl) for sl in slices), default=len(items)),
                matrix=matrix,
                pixel_spacing_mm=None if spacing is None else (float(spacing[0]), float(spacing[1])),
                normal=None if normal is None else (float(normal[0]), float(normal[1]), float(normal[2])),
                picked=uid in picked,
                regridded=uid in (regridded or set()),
            )
        )
    return sorted(rows, key=lambda r: (r.number is None, r.number or 0, r.description))
