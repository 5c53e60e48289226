"""Real-anatomy benchmark on the test split written with a tissue phase (1.5 rad).

The same methods, masks and metrics as ``bench_real_anatomy.py`` on the same subjects and centers, the
k-space synthesised with ``cardiomm simulate real-anatomy --tissue-phase 1.5``: a phase that steps at
tissue boundaries, as in real images, where the original split has a smooth phase only. Writes
``docs/real_anatomy_benchmark_phase.md`` and its own BENCHMARKS.md section.

    python benchmarks/run.py real_anatomy_phase

The environment variables of ``bench_real_anatomy.py`` apply (``CARDIOMM_REAL_SLICES``,
``CARDIOMM_REAL_MODELS``, ``CARDIOMM_REAL_METHODS``, ``CARDIOMM_REAL_WORKERS``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_real_anatomy  # noqa: E402

TISSUE_PHASE_RAD = 1.5


def run() -> str:
    return bench_real_anatomy.run(tissue_phase_rad=TISSUE_PHASE_RAD)


if __name__ == "__main__":
    print(run())
