"""`cardiomm.io` imports its names on first use: importing the package loads no torch, every public name
resolves to the object of its submodule, submodules stay reachable as attributes."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


def test_every_public_name_resolves_to_its_submodule_object() -> None:
    import cardiomm.io as io

    assert set(io.__all__) == set(io._SOURCES)
    for name in io.__all__:
        assert getattr(io, name) is getattr(importlib.import_module(io._SOURCES[name]), name), name
    assert io.mat is importlib.import_module("cardiomm.io.mat")  # a submodule by attribute
    with pytest.raises(AttributeError, match="no attribute 'not_a_reader'"):
        _ = io.not_a_reader
    with pytest.raises(ImportError):
        from cardiomm.io import not_a_reader  # noqa: F401


def test_importing_the_package_loads_no_torch() -> None:
    code = "import sys, cardiomm.io; from cardiomm.io import save_mat; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
