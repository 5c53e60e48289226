"""PNG and animated-GIF export of magnitude images (Pillow, imported lazily).

Images are scaled to 8 bit by a percentile (default 99.5, the metric protocol's normalisation):
``uint8(clip(img / p, 0, 1) * 255)``. Rows are ``y`` (phase encode), columns ``x`` (readout), as in
cardiomm's ``(y, x)`` order. A cine GIF uses one scale for all its frames, so brightness does not flicker.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from cardiomm.errors import DataValueError, ShapeError
from cardiomm.utils.atomic import atomic_path

__all__ = ["to_uint8", "write_png", "write_cine_gif"]

PathLike = str | os.PathLike[str]


def _magnitude(img: np.ndarray | torch.Tensor, path: Path, ndim: tuple[int, ...], what: str) -> np.ndarray:
    arr = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if arr.dtype.kind == "c":
        arr = np.abs(arr)
    if arr.ndim not in ndim:
        dims = " or ".join(map(str, ndim))
        raise ShapeError(f"{what} must have {dims} dimensions, got shape {arr.shape}", path=path)
    if arr.size == 0:
        raise ShapeError(f"{what} is empty (shape {arr.shape})", path=path)
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise DataValueError(f"{what} has NaN/Inf values", path=path)
    return arr


def to_uint8(img: np.ndarray, *, percentile: float = 99.5, vmax: float | None = None) -> np.ndarray:
    """Scale a magnitude image (any shape) to uint8: ``clip(img / vmax, 0, 1) * 255``, rounded.

    ``vmax`` defaults to the ``percentile``-th percentile of ``img`` (then its max, then 1 when zero).
    """
    arr = np.asarray(img, dtype=np.float64)
    scale = float(np.percentile(arr, percentile)) if vmax is None else float(vmax)
    if scale <= 0:
        scale = float(arr.max()) if arr.max() > 0 else 1.0
    return np.round(np.clip(arr / scale, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_png(
    path: PathLike, image: np.ndarray | torch.Tensor, *, percentile: float = 99.5, vmax: float | None = None
) -> Path:
    """Write one frame ``(y, x)`` as an 8-bit greyscale PNG, atomically.

    Parameters
    ----------
    path
        Destination ``.png``.
    image
        ``(y, x)`` magnitude (complex input is converted to magnitude).
    percentile, vmax
        Scaling, see :func:`to_uint8`.
    """
    from PIL import Image  # noqa: PLC0415 - lazy: importing this module loads no PIL

    p = Path(path)
    arr = to_uint8(_magnitude(image, p, (2,), "image"), percentile=percentile, vmax=vmax)
    with atomic_path(p) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
    return p


def write_cine_gif(
    path: PathLike,
    frames: np.ndarray | torch.Tensor,
    *,
    fps: float = 10.0,
    percentile: float = 99.5,
    vmax: float | None = None,
    loop: int = 0,
) -> Path:
    """Write a cine ``(t, y, x)`` as an animated greyscale GIF, atomically.

    Parameters
    ----------
    path
        Destination ``.gif``.
    frames
        ``(t, y, x)`` magnitude.
    fps
        Frames per second (GIF delays are stored in units of 10 ms).
    percentile, vmax
        One scale for all frames, see :func:`to_uint8`.
    loop
        Number of loops, 0 = forever.

    Notes
    -----
    GIF encoders merge consecutive identical frames; distinct frames are kept one-to-one.
    """
    from PIL import Image  # noqa: PLC0415 - lazy: importing this module loads no PIL

    p = Path(path)
    arr = to_uint8(_magnitude(frames, p, (3,), "frames"), percentile=percentile, vmax=vmax)
    if fps <= 0:
        raise DataValueError(f"fps must be positive, got {fps}", path=p)
    images = [Image.fromarray(f) for f in arr]
    duration = max(int(round(1000.0 / fps)), 10)
    with atomic_path(p) as tmp:
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=duration,
            loop=loop,
            optimize=False,
        )
    return p
