"""benchmarks/bench_database.py: the scheduler simulation behind its scaling projection, against closed
forms."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

from .conftest import load_bench


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("bench_database")


@pytest.mark.parametrize("n_workers", [1, 2, 3, 8])
def test_equal_tasks_without_main_cost_take_whole_rounds(bench: ModuleType, n_workers: int) -> None:
    d = np.full(20, 1.5)
    assert bench.simulate_makespan(d, 0.0, n_workers) == pytest.approx(math.ceil(20 / n_workers) * 1.5)


def test_the_main_process_is_the_serial_part(bench: ModuleType) -> None:
    """Main cost c per task, task time d: with many workers the run takes n * c + d (Amdahl); one
    worker alone takes n * (c + d)."""
    n, c, d = 50, 0.01, 0.2
    tasks = np.full(n, d)
    assert bench.simulate_makespan(tasks, c, 1000) == pytest.approx(n * c + d)
    assert bench.simulate_makespan(tasks, c, 1) == pytest.approx(n * (c + d))


def test_one_long_task_last_bounds_the_run(bench: ModuleType) -> None:
    tasks = np.array([1.0] * 8 + [10.0])
    assert bench.simulate_makespan(tasks, 0.0, 4) == pytest.approx(2.0 + 10.0)
