"""ACDC-trained segmentation network shipped by the PyPI package ``myopari`` (MIT), run with onnxruntime.

The package (``pip install --no-deps myopari``; its declared dependencies napari and onnxruntime-gpu are
not needed) ships ``myopari/Resources/tiramisu_acdc_fp32.onnx``: a Tiramisu (FC-DenseNet) trained on
ACDC, input ``(batch, 1, 256, 256)`` float32, output ``(batch, 4, 256, 256)`` class scores with the
ACDC labels (0 background, 1 RV, 2 MYO, 3 LV). We never import ``myopari`` itself (its ``__init__``
imports napari); we only locate its resource file.

Pre-processing replicates ``myopari.processors.functions_utils`` (``preprocess_data_array`` /
``predict_data_model``, version 0.1.6), applied to each frame (a ``(z, y, x)`` volume):

1. intensities clipped to the 0.05th / 99.05th percentiles of the non-zero voxels of the frame and
   min-max scaled to [0, 1];
2. each slice transposed to ``(x, y)`` (the package receives napari ``(z, y, x)`` arrays transposed to
   ``(x, y, z)``, the nibabel order of the ACDC NIfTI files);
3. centre square crop of the non-zero bounding box, bilinear resize (anti-aliased) to 256 x 256;
4. argmax; foreground components under 800 voxels of the resized ``(z, 256, 256)`` stack removed;
5. nearest-neighbour resize back, paste into the crop, ACDC -> cardiomm labels.

The package does not resample to a fixed pixel spacing (the whole cropped field of view is resized).
``target_spacing_mm`` optionally crops / pads a fixed physical field of view (256 x target spacing)
around the image centre instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage

from cardiomm.analysis.labels import acdc_to_cardiomm
from cardiomm.analysis.segmentation.base import Segmenter, as_tzyx
from cardiomm.errors import ModelNotFoundError

__all__ = ["MyopariSegmenter", "myopari_model_path"]

_RESOURCE = ("Resources", "tiramisu_acdc_fp32.onnx")
_INSTALL = "pip install 'cardiomm[onnx]' && pip install --no-deps myopari"


def myopari_model_path() -> Path:
    """Path of the ACDC ONNX model inside the installed ``myopari`` package.

    Raises
    ------
    ModelNotFoundError
        ``myopari`` is not installed or lacks the model file.
    """
    spec = importlib.util.find_spec("myopari")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the ACDC segmentation model needs the package 'myopari': {_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*_RESOURCE)
    if not path.is_file():
        msg = f"myopari is installed but lacks its model file; reinstall: {_INSTALL}"
        raise ModelNotFoundError(msg, path=path)
    return path


def _normalise(vol: NDArray[np.float32], low: float, high: float) -> NDArray[np.float32]:
    nz = vol[vol > 0]
    if nz.size == 0:
        return np.zeros_like(vol)
    lo, hi = np.percentile(nz, [low, high])
    if hi <= lo:
        return np.zeros_like(vol)
    return ((np.clip(vol, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def _extract(vol: NDArray[np.float32], y0: int, x0: int, side: int) -> NDArray[np.float32]:
    """``vol[:, y0:y0+side, x0:x0+side]`` with zero padding outside the image."""
    out = np.zeros((vol.shape[0], side, side), dtype=vol.dtype)
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + side, vol.shape[1]), min(x0 + side, vol.shape[2])
    if ye > ys and xe > xs:
        out[:, ys - y0 : ye - y0, xs - x0 : xe - x0] = vol[:, ys:ye, xs:xe]
    return out


def _paste(dst: NDArray[np.uint8], patch: NDArray[np.uint8], y0: int, x0: int) -> None:
    side = patch.shape[1]
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + side, dst.shape[1]), min(x0 + side, dst.shape[2])
    if ye > ys and xe > xs:
        dst[:, ys:ye, xs:xe] = patch[:, ys - y0 : ye - y0, xs - x0 : xe - x0]


class MyopariSegmenter(Segmenter):
    """Segment short-axis cine with the ``myopari`` ACDC ONNX model (CPU onnxruntime).

    Parameters
    ----------
    model_path
        ONNX file; default: the one in the installed ``myopari`` package.
    target_spacing_mm
        None (default, as the package): resize the cropped field of view to the network size. A value
        crops / pads a ``size x target_spacing_mm`` field of view around the image centre instead.
    min_component_px
        Foreground components smaller than this (voxels of the resized stack) are removed (package: 800).
    percentiles
        Intensity clipping percentiles of the non-zero voxels (package: 0.05, 99.05).
    batch_size
        Slices per onnxruntime call.
    n_threads
        onnxruntime intra-op threads (None: its default).
    """

    name = "myopari"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        target_spacing_mm: float | None = None,
        min_component_px: int = 800,
        percentiles: tuple[float, float] = (0.05, 99.05),
        batch_size: int = 8,
        n_threads: int | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else myopari_model_path()
        if not self.model_path.is_file():
            raise ModelNotFoundError("ONNX model file not found", path=self.model_path)
        self.target_spacing_mm = target_spacing_mm
        self.min_component_px = min_component_px
        self.percentiles = percentiles
        self.batch_size = batch_size
        self.n_threads = n_threads
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The onnxruntime ``InferenceSession`` (created on first use, CPUExecutionProvider)."""
        if self._session is None:
            try:
                import onnxruntime as ort  # noqa: PLC0415 - optional extra; imported on first use only
            except ImportError:
                raise ModelNotFoundError(
                    "the ACDC segmentation model needs onnxruntime: pip install 'cardiomm[onnx]'",
                    path=self.model_path,
                ) from None

            opts = ort.SessionOptions()
            if self.n_threads:
                opts.intra_op_num_threads = self.n_threads
            providers = ["CPUExecutionProvider"]
            self._session = ort.InferenceSession(str(self.model_path), opts, providers=providers)
        return self._session

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input ``(height, width)`` read from the ONNX input spec (256 x 256 for myopari 0.1.6)."""
        shape = self.session.get_inputs()[0].shape
        return int(shape[-2]), int(shape[-1])

    def _crop_box(self, vol: NDArray[np.float32], dx_mm: float) -> tuple[int, int, int]:
        ny, nx = vol.shape[1:]
        if self.target_spacing_mm is not None:
            side = max(8, int(round(self.input_size[0] * self.target_spacing_mm / dx_mm)))
            return ny // 2 - side // 2, nx // 2 - side // 2, side
        nzy, nzx = np.nonzero(vol.max(axis=0) > 0)
        if nzy.size == 0:
            nzy, nzx = np.array([0, ny - 1]), np.array([0, nx - 1])
        y0, y1, x0, x1 = nzy.min(), nzy.max() + 1, nzx.min(), nzx.max() + 1
        side = min(y1 - y0, x1 - x0)
        return int(y0 + (y1 - y0 - side) // 2), int(x0 + (x1 - x0 - side) // 2), int(side)

    def _segment_frame(self, vol: NDArray[np.float32], dx_mm: float) -> NDArray[np.uint8]:
        from skimage.transform import resize  # noqa: PLC0415 - lazy: importing this module loads no skimage

        size = self.input_size
        # (z, y, x) -> (z, x, y): the network sees slices in nibabel (x, y) order, like the package
        vol_t = np.ascontiguousarray(vol.transpose(0, 2, 1))
        norm = _normalise(vol_t, *self.percentiles)
        y0, x0, side = self._crop_box(vol_t, dx_mm)
        crop = _extract(norm, y0, x0, side)
        net_in = resize(crop, (crop.shape[0], *size), order=1, anti_aliasing=True).astype(np.float32)[:, None]
        name = self.session.get_inputs()[0].name
        bs = self.batch_size
        scores = np.concatenate(
            [self.session.run(None, {name: net_in[i : i + bs]})[0] for i in range(0, len(net_in), bs)]
        )
        seg = np.argmax(scores, axis=1).astype(np.uint8)
        if self.min_component_px > 0:
            comp, _ = ndimage.label(seg > 0)  # face connectivity in (z, y, x), as skimage's default
            sizes = np.bincount(comp.ravel())
            keep = sizes >= self.min_component_px
            keep[0] = False
            seg = seg * keep[comp].astype(np.uint8)
        back = resize(seg, (seg.shape[0], side, side), order=0, preserve_range=True, anti_aliasing=False)
        out_t = np.zeros(vol_t.shape, dtype=np.uint8)
        _paste(out_t, back.astype(np.uint8), y0, x0)
        return acdc_to_cardiomm(out_t.transpose(0, 2, 1))

    def segment(self, images: ArrayLike, spacing_mm: tuple[float, float, float]) -> NDArray[np.uint8]:
        """Segment ``(t, z, y, x)`` magnitude images; returns uint8 labels (LV = 1, MYO = 2, RV = 3)."""
        vol, shape = as_tzyx(images)
        dx = float(spacing_mm[-1])
        out = np.stack([self._segment_frame(vol[t], dx) for t in range(vol.shape[0])])
        return np.ascontiguousarray(out.reshape(shape))
