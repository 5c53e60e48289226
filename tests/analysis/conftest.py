"""Synthetic fixtures of the analysis tests: analytic cine label phantoms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass(frozen=True)
class Phantom:
    """Cine label phantom: LV disc, MYO annulus, RV annular sector on the image left (180 deg)."""

    labels: np.ndarray  # (t, z, y, x) uint8
    spacing_mm: tuple[float, float, float]
    frame_dt_s: float
    r_lv: np.ndarray  # (t,) px
    r_epi: float
    rv_inner: float
    rv_outer: np.ndarray  # (t,) px
    rv_half_angle_deg: float
    centre: tuple[float, float]


def _polar(shape: tuple[int, int], centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    dy, dx = yy - centre[0], xx - centre[1]
    return np.hypot(dy, dx), np.degrees(np.arctan2(-dy, dx)) % 360.0


def make_phantom(
    n_frames: int = 10,
    n_slices: int = 10,
    size: int = 128,
    spacing_mm: tuple[float, float, float] = (8.0, 1.5, 1.5),
    frame_dt_s: float = 0.08,
    r_ed: float = 20.0,
    r_es: float = 14.0,
    r_epi: float = 28.0,
    rv_half_angle_deg: float = 60.0,
) -> Phantom:
    """Build the phantom: LV radius r_ed at frame 0 (ED) shrinking to r_es at mid-cycle (ES)."""
    centre = (size / 2.0, size / 2.0 + 6.0)
    rad, ang = _polar((size, size), centre)
    phase = np.sin(np.pi * np.arange(n_frames) / n_frames) ** 2
    r_lv = r_ed - (r_ed - r_es) * phase
    rv_inner = r_epi + 0.5
    rv_outer = 40.0 - 4.0 * phase
    lab = np.zeros((n_frames, n_slices, size, size), dtype=np.uint8)
    in_sector = np.abs(((ang - 180.0 + 180.0) % 360.0) - 180.0) <= rv_half_angle_deg
    for t in range(n_frames):
        sl = np.zeros((size, size), dtype=np.uint8)
        sl[rad <= r_epi] = 2
        sl[rad <= r_lv[t]] = 1
        sl[(rad > rv_inner) & (rad <= rv_outer[t]) & in_sector] = 3
        lab[t, :] = sl
    return Phantom(lab, spacing_mm, frame_dt_s, r_lv, r_epi, rv_inner, rv_outer, rv_half_angle_deg, centre)


@pytest.fixture()
def phantom() -> Callable[..., Phantom]:
    """Factory of cine label phantoms (see :func:`make_phantom`)."""
    return make_phantom


def simulate_and_reconstruct(root: Path, modality: str, seed: int, includes: list[str]) -> tuple[Path, Path]:
    """A tiny simulated ``modality`` tree under ``root/data`` and zero-filled reconstructions of the mask
    files matching ``includes`` under ``root/recon`` (both through the CLI, as a user would)."""
    from cardiomm.cli.main import main

    data, recon = root / "data", root / "recon"
    argv = [
        "simulate",
        "mini",
        str(data),
        "--size",
        "tiny",
        "--seed",
        str(seed),
        "--modality",
        modality,
        "--no-progress",
    ]
    assert main(argv) == 0
    assert (
        main(
            [
                "reconstruct",
                str(data),
                "--out",
                str(recon),
                "--method",
                "zf",
                *[a for g in includes for a in ("--include", g)],
            ]
        )
        == 0
    )
    return data, recon
