"""Optional extras ([onnx], [dask], [clip]): a missing one gives a typed error naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cardiomm.errors import ConfigError, ModelNotFoundError


def test_myopari_without_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cardiomm.analysis.segmentation.myopari import MyopariSegmenter

    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    seg = MyopariSegmenter(model_path=model)
    with pytest.raises(ModelNotFoundError, match=r"cardiomm\[onnx\]") as info:
        _ = seg.session
    assert "model.onnx" in str(info.value)


def test_dask_scheduler_without_distributed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from cardiomm.database.shards import _run_dask

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match=r"cardiomm\[dask\]"):
        next(_run_dask([], "tcp://127.0.0.1:1", lambda: None, None))
