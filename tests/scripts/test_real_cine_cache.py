"""The volume cache of ``scripts/real_cine_agreement.py``: settings invalidate everything, a changed
checkpoint only its method's volumes, and running a subset of methods keeps the others."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def cache_cls(monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    monkeypatch.syspath_prepend(str(SCRIPTS))
    module = importlib.import_module("real_cine_agreement")
    yield module.Cache
    sys.modules.pop("real_cine_agreement", None)
    sys.modules.pop("real_cine_report", None)


def _fill(cache: object, names: list[str]) -> None:
    for n in names:
        cache.save(n, np.zeros((1, 1, 2, 2), np.float32))  # type: ignore[attr-defined]


def test_cache_keeps_volumes_of_methods_whose_checkpoint_did_not_change(
    cache_cls: type, tmp_path: Path
) -> None:
    settings = {"seed": 0}
    cache = cache_cls(tmp_path, settings, {"cardiomm": "a", "sense": None}, True)
    _fill(cache, ["reference", "cardiomm_Uniform8", "sense_Uniform8"])
    cache = cache_cls(tmp_path, settings, {"cardiomm": "a", "zf": None}, True)  # another method set
    assert all(cache.has(n) for n in ("reference", "cardiomm_Uniform8", "sense_Uniform8"))
    assert json.loads((tmp_path / "run.json").read_text())["checkpoints"] == {
        "cardiomm": "a", "sense": None, "zf": None
    }  # fmt: skip
    cache = cache_cls(tmp_path, settings, {"cardiomm": "b"}, True)  # retrained CardioMM
    assert not cache.has("cardiomm_Uniform8") and cache.has("sense_Uniform8") and cache.has("reference")
    cache = cache_cls(tmp_path, {"seed": 1}, {"cardiomm": "b"}, True)  # other data: nothing kept
    assert not cache.has("sense_Uniform8") and not cache.has("reference")
    _fill(cache, ["reference"])
    cache = cache_cls(tmp_path, {"seed": 1}, {"cardiomm": "b"}, False)  # --no-reuse
    assert not cache.has("reference")
