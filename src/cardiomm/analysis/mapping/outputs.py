"""Files of a fitted map: ``<base>.csv`` (table), ``<base>.npy`` (map) and ``<base>.png`` (figure).

Every file is written atomically. matplotlib is imported inside :func:`save_map_png` (a heavy import that
``import cardiomm`` must not pay) and used through ``Figure`` + ``FigureCanvasAgg`` (no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from cardiomm.utils.atomic import atomic_path

__all__ = ["save_map_png", "write_map_files"]


def save_map_png(path: Path, maps: NDArray[Any], title: str, unit: str = "ms") -> None:
    """One panel per slice of ``maps`` ``(z, y, x)`` (magma, 0 to the 99th percentile) with a colour bar
    labelled ``"<title> [<unit>]"``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - heavy: only when a figure is drawn
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: importing this module loads no matplotlib

    n = maps.shape[0]
    fig = Figure(figsize=(3.2 * n + 0.8, 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n, squeeze=False)[0]
    finite = maps[np.isfinite(maps)]
    vmax = float(np.percentile(finite, 99)) if finite.size else 1.0
    im = None
    for z, ax in enumerate(axes):
        im = ax.imshow(maps[z], cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(f"slice {z}")
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=list(axes), label=f"{title} [{unit}]")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def write_map_files(
    base: Path,
    rows: Sequence[dict[str, Any]],
    param_map: NDArray[Any],
    *,
    png_values: NDArray[Any],
    title: str,
    unit: str = "ms",
) -> None:
    """Write ``<base>.csv`` (``rows``), ``<base>.npy`` (``param_map`` as float32) and ``<base>.png``.

    Parameters
    ----------
    base
        Output path without suffix, e.g. ``out/molli_t1``.
    rows
        Table rows (e.g. from :func:`~cardiomm.analysis.mapping.tables.mapping_table`).
    param_map
        ``(z, y, x)`` map in package units (seconds, or a fraction for ECV).
    png_values, title, unit
        The map in display units for the figure, its title and unit (see :func:`save_map_png`).
    """
    with atomic_path(base.with_suffix(".csv")) as tmp:
        pd.DataFrame(list(rows)).to_csv(tmp, index=False)
    with atomic_path(base.with_suffix(".npy")) as tmp, open(tmp, "wb") as fh:
        np.save(fh, param_map.astype(np.float32))
    save_map_png(base.with_suffix(".png"), png_values, title, unit=unit)
