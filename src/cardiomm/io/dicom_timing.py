"""Slices of one cine stack with different numbers of frames, put on one time grid.

A short-axis cine is acquired one breath-hold per slice, and the frames of a slice are placed in that
breath-hold's cardiac cycle in one of two ways:

- **prospective ECG triggering** (and arrhythmia rejection): frames at fixed times after the R wave, the
  same frame step in every slice; a breath-hold at a faster heart rate leaves room for fewer frames.
  Frames are matched by ``TriggerTime`` (ms after the R wave): end-diastole is at the R wave in every
  slice, and systole changes little with heart rate (it is diastole that shortens), so end-systole sits
  at about the same trigger time in every breath-hold;
- **retrospective gating**: each slice's frames divide its own R-R interval (frame step = R-R / frames;
  the Sunnybrook cines: 20 frames, steps 36.6-40 ms between slices, ``NominalInterval`` 731-800 ms).
  Frames are matched by their fraction of the slice's R-R interval (``NominalInterval``, else frames
  times step), as every cine analysis matches the phases of such slices.

Slices whose frame steps agree within :data:`SAME_STEP` are taken as the first kind, others as the
second. :func:`common_frames` takes the slice whose frame count is the most common (the one with more
frames on a tie) as the reference, keeps its frames in the part of the cycle every slice covers (from
the latest first frame to the earliest last frame: nothing is extrapolated), and gives each slice, at
each of those times, its own image acquired then (within :data:`SAME_TIME_MS`) or the linear blend of
its two images around it (:class:`FrameBlend`). Frames that only some slices have (late diastole) are
dropped; all of it is logged. Refused (a typed error) when a slice has one image, two frames of a slice
share a trigger time (none in the headers), or fewer than half of the reference slice's frames lie in
the part every slice covers. Slices with one number of frames are read frame by frame, as before.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from cardiomm.errors import ShapeError
from cardiomm.io.dicom_headers import median_rr_ms, rescaled_pixels

__all__ = ["SAME_STEP", "SAME_TIME_MS", "FrameBlend", "common_frames"]

log = logging.getLogger(__name__)

#: Two frames whose trigger times differ by at most this much [ms] are one time of the grid.
SAME_TIME_MS = 1.0
#: Slices whose frame steps agree within this fraction share one trigger-time clock (prospective
#: triggering); otherwise each slice's frames divide its own R-R interval (retrospective gating).
SAME_STEP = 0.05


def _rr_ms(rows: list[tuple[float, int, Path, Any]], times: list[float]) -> float:
    """A slice's R-R interval [ms]: the median ``NominalInterval`` of its images, else its number of
    frames times its frame step (retrospective frames divide the whole interval)."""
    rr = median_rr_ms([(path, ds) for _, _, path, ds in rows])
    return rr if rr is not None else len(times) * float(np.median(np.diff(times)))


class FrameBlend:
    """The image of a slice at a trigger time between two of its frames: ``(1 - w) a + w b`` of their
    rescaled pixel values (so ``RescaleSlope`` 1, ``RescaleIntercept`` 0), ``TriggerTime`` the grid's;
    every other attribute is ``a``'s."""

    def __init__(self, a: Any, b: Any, weight: float, trigger_ms: float) -> None:
        self._a, self._b, self._w, self._t = a, b, weight, trigger_ms

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "pixel_array":
            return (1.0 - self._w) * rescaled_pixels(self._a) + self._w * rescaled_pixels(self._b)
        if name == "TriggerTime":
            return self._t
        if name == "RescaleSlope":
            return 1.0
        if name == "RescaleIntercept":
            return 0.0
        return getattr(self._a, name)


def common_frames(
    root: Path, slices: dict[float, list[tuple[float, int, Path, Any]]]
) -> dict[float, list[tuple[float, int, Path, Any]]]:
    """``slices`` (slice position -> its images as (trigger time [ms], instance number, path, image),
    in time order) with the same trigger times in every slice (module notes); returned as they are
    when every slice has the same number of images.

    Raises
    ------
    ShapeError
        Slices with different numbers of frames that cannot be put on one grid (module notes).
    """
    counts = sorted({len(v) for v in slices.values()})
    if len(counts) == 1:
        return slices
    refuse = f"slices have different numbers of frames {counts}"
    if counts[0] < 2:
        raise ShapeError(f"{refuse}, one of them a single image: not one cine", path=root)
    slices = {pos: sorted(rows, key=lambda r: (r[0], r[1])) for pos, rows in slices.items()}
    times = {pos: [float(r[0]) for r in rows] for pos, rows in slices.items()}
    if any(np.any(np.diff(t) <= 0) for t in times.values()):
        raise ShapeError(
            f"{refuse}, and frames of a slice share a trigger time (none in the headers?)", path=root
        )
    tally = [len(v) for v in slices.values()]
    reference = max(slices, key=lambda pos: (tally.count(len(slices[pos])), len(slices[pos])))
    steps = [float(np.median(np.diff(t))) for t in times.values()]
    if max(steps) <= (1 + SAME_STEP) * min(steps):  # prospective triggering: one clock after the R wave
        coords, basis, tol = {p: np.asarray(t) for p, t in times.items()}, "trigger time", SAME_TIME_MS
    else:  # retrospective gating: each breath-hold's frames divide its own R-R interval
        rr = {p: _rr_ms(rows, times[p]) for p, rows in slices.items()}
        coords = {p: np.asarray(t) / rr[p] for p, t in times.items()}
        basis, tol = "fraction of each slice's R-R interval", SAME_TIME_MS / rr[reference]
    start = max(float(c[0]) for c in coords.values()) - tol
    end = min(float(c[-1]) for c in coords.values()) + tol
    keep = [k for k, c in enumerate(coords[reference]) if start <= c <= end]
    grid = [float(coords[reference][k]) for k in keep]
    at_ms = [times[reference][k] for k in keep]
    if len(grid) < max(2, len(times[reference]) / 2):
        raise ShapeError(
            f"{refuse}: the part of the cycle every slice covers (by {basis}) holds {len(grid)} of the "
            f"{len(times[reference])} frames of a slice; not matched",
            path=root,
        )
    out: dict[float, list[tuple[float, int, Path, Any]]] = {}
    blended = 0
    for pos, rows in slices.items():
        c = coords[pos]
        kept = []
        for g, g_ms in zip(grid, at_ms, strict=True):
            k = int(np.argmin(np.abs(c - g)))
            if abs(c[k] - g) <= tol:
                kept.append((g_ms, rows[k][1], rows[k][2], rows[k][3]))
                continue
            hi = int(np.searchsorted(c, g))  # c[hi - 1] < g < c[hi]: the grid is inside the slice's span
            lo, w = hi - 1, float((g - c[hi - 1]) / (c[hi] - c[hi - 1]))
            kept.append((g_ms, rows[lo][1], rows[lo][2], FrameBlend(rows[lo][3], rows[hi][3], w, g_ms)))
            blended += 1
        out[pos] = kept
    log.warning(
        "%s: slices have different numbers of frames %s (breath-holds at different heart rates?); frames "
        "matched by %s on the grid of a %d-frame slice, %d frames kept (%.0f-%.0f ms after the R wave in "
        "that slice), %d images interpolated between two frames",
        root,
        counts,
        basis,
        len(times[reference]),
        len(grid),
        at_ms[0],
        at_ms[-1],
        blended,
    )
    return out
