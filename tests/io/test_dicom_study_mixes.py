"""Random study folders around one short-axis cine (per-slice or one series) with LGE stacks, MOLLI
series, repeated breath-holds (ordered or not), stray single images, series with another frame count
and a sagittal view: the reader either refuses with a typed error or returns the cine with every slice
being the cine's own or its repeat's images, never another series' (property check over seeded mixes)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cardiomm.errors import CardiommError
from cardiomm.io import read_dicom_series

from .dicom_tags import retag

POSITIONS = [0.0, 8.0, 16.0, 24.0, 32.0]
REPEAT_OFFSET = 3  # a repeat's pixels: the cine's + 3; every other series' differ from both
N_CASES = 30


def _study(write: Callable[..., None], d: Path, rnd: random.Random) -> tuple[np.ndarray, bool]:
    """Write a random study under ``d``; the cine images and whether any repeat was added."""

    n_t = rnd.choice([2, 3, 5])
    cine = (np.arange(n_t * 5 * 4 * 4).reshape(n_t, 5, 4, 4) * 7 + 100).astype(np.uint16)
    if rnd.random() < 0.5:
        write(d / "cine", cine, positions=POSITIONS, uid="1.9.1")
        retag(d / "cine", SeriesNumber=7 if rnd.random() < 0.8 else None, SeriesDescription="cine")
    else:
        for z, pos in enumerate(POSITIONS):
            write(d / f"c{z}", cine[:, z : z + 1], positions=[pos], uid=f"1.9.2.{z}")
            retag(d / f"c{z}", SeriesNumber=10 + z, SeriesDescription="sax")
    repeated = False
    for k in range(1, rnd.randint(0, 3) + 1):
        kind = rnd.choice(["lge", "molli", "repeat", "single", "other_nt", "sag"])
        zs = sorted(rnd.sample(range(5), rnd.randint(1, 5)))
        at, f = [POSITIONS[z] for z in zs], d / f"x{k}"
        other = 30000 + 1000 * k  # pixel values no cine or repeat image has
        if kind == "lge":
            write(f, np.full((1, len(zs), 4, 4), other, np.uint16), positions=at, uid=f"1.8.{k}")
        elif kind == "molli":
            tis = [100, 200, 300, 400]
            write(
                f,
                np.full((4, len(zs), 4, 4), other, np.uint16),
                positions=at,
                uid=f"1.8.{k}",
                inversion_times_ms=tis,
            )
        elif kind == "repeat":
            write(f, cine[:, zs] + REPEAT_OFFSET, positions=at, uid=f"1.8.{k}")
            repeated = True
        elif kind == "single":
            write(
                f,
                np.full((1, 1, 4, 4), other, np.uint16),
                positions=[at[0] + rnd.choice([0, 4])],
                uid=f"1.8.{k}",
            )
        elif kind == "other_nt":
            write(f, np.full((n_t + 1, len(zs), 4, 4), other, np.uint16), positions=at, uid=f"1.8.{k}")
        else:
            write(f, np.full((n_t, 3, 4, 4), other, np.uint16), positions=POSITIONS[:3], uid=f"1.8.{k}")
            retag(f, ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
        number, time = rnd.choice([None, 20 + k, 7]), rnd.choice([None, "101010", "090909"])
        retag(f, SeriesNumber=number, SeriesDescription=kind, SeriesTime=time)
    return cine, repeated


def test_random_studies_read_the_cine_or_are_refused(
    write_dicom_series: Callable[..., None], tmp_path: Path
) -> None:
    read = 0
    for case in range(N_CASES):
        cine, repeated = _study(write_dicom_series, tmp_path / str(case), random.Random(case))
        try:
            got = read_dicom_series(tmp_path / str(case)).magnitude
        except CardiommError:
            continue  # refused with a typed error: allowed
        read += 1
        assert got.shape == cine.shape, f"case {case}"
        want = cine.astype(np.float32)
        for z in range(cine.shape[1]):
            own = np.array_equal(got[:, z], want[:, z])
            again = repeated and np.array_equal(got[:, z], want[:, z] + REPEAT_OFFSET)
            assert own or again, f"case {case}: slice {z} holds another series' images"
    assert read >= N_CASES // 2, f"only {read} of {N_CASES} studies read"  # the rules leave most readable
