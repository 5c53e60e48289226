"""Random per-slice cine exports with slices re-planned (another matrix, pixel spacing and field of
view), re-centred in plane, at an off-grid position, of another sequence (flip angle), with another
number of frames, or missing: the reader either refuses with a typed error or returns a stack in which
every pixel is the signal at its place on one grid (property check over seeded studies).

The signal is linear in patient position and trigger time, which bilinear sampling and linear
blending reproduce exactly, so a slice resampled from another grid or a frame interpolated in time has
a known value: a slice stacked in the wrong place or with its anatomy shifted does not."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cardiomm.errors import CardiommError
from cardiomm.io import read_dicom_series

from .dicom_tags import retag

N_CASES = 24
SHAPE, SPACING, DZ, DT = (24, 20), (1.5, 1.25), 8.0, 40.0


def _signal(t_ms: float, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
    return 300.0 + 0.5 * t_ms + 3.0 * x + 2.0 * y + 2.0 * z


def _study(write: Callable[..., None], root: Path, rnd: random.Random) -> list[dict[str, object]]:
    """Write a random per-slice study under ``root``; the slices' settings."""
    n_t, specs = rnd.randint(4, 7), []
    for z in range(rnd.randint(4, 7)):
        s: dict[str, object] = {"shape": SHAPE, "spacing": SPACING, "origin": (0.0, 0.0), "n_t": n_t}
        s.update(flip=50, pos=z * DZ)
        kind = rnd.random()
        if kind < 0.15:  # re-planned
            s["shape"] = (rnd.randint(10, 40), rnd.randint(10, 40))
            s["spacing"] = (rnd.uniform(0.8, 2.5), rnd.uniform(0.8, 2.5))
            s["origin"] = (rnd.uniform(-15, 10), rnd.uniform(-15, 10))
        elif kind < 0.22:  # another heart rate
            s["n_t"] = rnd.randint(2, n_t + 2)
        elif kind < 0.26:  # another sequence
            s.update(flip=rnd.randint(10, 30), shape=(30, 30), spacing=(1.2, 1.2))
        elif kind < 0.30:  # off the slice grid
            s.update(pos=z * DZ + rnd.uniform(-4, 4), shape=(30, 30), spacing=(1.2, 1.2))
        elif kind < 0.33:
            continue  # missing
        elif kind < 0.40:  # re-centred in plane
            s["origin"] = (rnd.uniform(-8, 8), rnd.uniform(-8, 8))
        specs.append(s)
    for k, s in enumerate(specs):
        (n_rows, n_cols), (dy, dx), (x0, y0) = s["shape"], s["spacing"], s["origin"]  # type: ignore[misc]
        y, x = y0 + dy * np.arange(n_rows)[:, None], x0 + dx * np.arange(n_cols)[None, :]
        frames = [np.round(_signal(t * DT, x, y, s["pos"]))[None] for t in range(s["n_t"])]  # type: ignore[call-overload]
        write(
            root / f"s{k}",
            np.stack(frames).astype(np.uint16),
            positions=[s["pos"]],
            uid=f"1.2.9.{k}",
            trigger_dt=DT,
        )
        retag(
            root / f"s{k}",
            SeriesNumber=10 + k,
            SeriesDescription="sax",
            FlipAngle=s["flip"],
            PixelSpacing=[dy, dx],
            ImagePositionPatient=[x0, y0, s["pos"]],
        )
    return specs


def test_random_replanned_exports_are_read_on_one_grid_or_refused(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    complete = 0
    for case in range(N_CASES):
        root = tmp_path / f"case{case}"
        specs = _study(write_dicom_series, root, random.Random(case))
        try:
            got = read_dicom_series(root)
        except CardiommError:
            continue
        m, (_, dy, dx) = got.magnitude, got.spacing
        y, x = dy * np.arange(m.shape[2])[:, None], dx * np.arange(m.shape[3])[None, :]
        constants = []
        for z, pos in enumerate(np.asarray(got.slice_positions)):
            for t in range(m.shape[0]):
                seen = m[t, z] != 0  # 0: outside a resampled slice's field of view
                assert seen.mean() >= 0.4, f"case {case}: slice {z} nearly empty"
                rest = (m[t, z] - (_signal(t * DT, x, y, pos) - 300.0))[seen]
                constants.append(float(np.median(rest)))
                assert np.abs(rest - constants[-1]).max() <= 1.5, f"case {case}: slice {z}, frame {t} off"
        # one in-plane origin for every slice (half a pixel either way: 3 x 0.625 + 2 x 0.75 mm)
        assert max(constants) - min(constants) <= 3.5, f"case {case}: slices on different grids"
        wanted = {round(float(s["pos"]), 3) for s in specs if s["flip"] == 50 and float(s["pos"]) % DZ == 0}  # type: ignore[arg-type]
        complete += wanted <= {round(float(p), 3) for p in np.asarray(got.slice_positions)}
    assert complete >= N_CASES // 3, f"only {complete} of {N_CASES} studies read complete"
