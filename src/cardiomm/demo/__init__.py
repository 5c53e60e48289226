"""``cardiomm demo``: the whole story on a laptop CPU in a few minutes.

:mod:`cardiomm.demo.run` (simulated multi-center test set, every method, the protocol report),
:mod:`cardiomm.demo.real` (a real CC0 heart, zero-shot) and :mod:`cardiomm.demo.phenotypes` (do cardiac
phenotypes survive acceleration?).
"""

from __future__ import annotations

from cardiomm.demo.run import DEMO_METHODS, DemoResult, run_demo

__all__ = ["DEMO_METHODS", "DemoResult", "run_demo"]
