"""``cardiomm mask``: write one CMRxRecon-style test mask file (``<name>_mask_<Pattern><R>.mat``).

The file holds one variable ``mask`` (MATLAB v7.3 / HDF5), MATLAB shape ``[nx, ny, nt]`` (``[nx, ny]``
when ``nt = 1``), i.e. ``(nt, ny, nx)`` as read by h5py.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cardiomm.cli.app import app, console
from cardiomm.errors import UnknownChoiceError

__all__ = ["mask_command"]


@app.command("mask")
def mask_command(
    pattern: str = typer.Option(..., "--pattern", help="Uniform, ktGaussian, ktRadial or ktUniform."),
    accel: int = typer.Option(..., "--accel", help="Nominal acceleration R (the ACS is not counted)."),
    nx: int = typer.Option(..., "--nx", help="Readout size (kx), MATLAB dim 1."),
    ny: int = typer.Option(..., "--ny", help="Phase-encode size (ky), MATLAB dim 2."),
    out: Path = typer.Option(..., "--out", help="Output .mat file (v7.3)."),
    nt: int = typer.Option(1, "--nt", help="Number of frames, MATLAB dim 3 (1 writes a 2-D mask)."),
    acs: int = typer.Option(20, "--acs", help="ACS lines / square side: 20 (CardioMM), 16 or 24."),
    seed: int | None = typer.Option(
        None, "--seed", help="Per-file seed (required for ktGaussian; MATLAB rng(seed) compatible)."
    ),
    dtype: str = typer.Option("logical", "--dtype", help="Stored type: logical (bool) or double."),
) -> None:
    """Generate a test-protocol undersampling mask and write it as a MATLAB v7.3 file."""
    import numpy as np  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    from cardiomm.io.mat import save_mat  # noqa: PLC0415 - lazy: importing this module loads no h5py, numpy, torch
    from cardiomm.sampling import effective_acceleration, make_test_mask, parse_pattern  # noqa: PLC0415 - lazy: the CLI imports this module and loads no numpy up front

    if dtype not in ("logical", "double"):
        raise UnknownChoiceError(f"unknown --dtype {dtype!r}; choose logical or double")
    resolved = parse_pattern(pattern)
    mask = make_test_mask(resolved, accel, nx, ny, nt, acs=acs, seed=seed, squeeze=True)
    report = effective_acceleration(mask)
    stored = mask if dtype == "logical" else mask.astype(np.float64)
    written = save_mat(out, {"mask": stored})

    matlab_shape = list(mask.shape[::-1])
    per_frame = report.per_frame
    console.print(f"[bold]{resolved.value}{accel}[/] mask -> {written}", highlight=False)
    console.print(
        f"  R={accel} (ACS not counted), ACS={acs}, MATLAB shape {matlab_shape}, "
        f"seed={'n/a' if seed is None else seed}",
        highlight=False,
    )
    console.print(
        f"  sampled fraction {report.sampled_fraction:.4f}, effective acceleration "
        f"{report.overall:.3f} (per frame {per_frame.min():.3f}-{per_frame.max():.3f})",
        highlight=False,
    )
