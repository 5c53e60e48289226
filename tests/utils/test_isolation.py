"""Per-item process isolation: crashes, hangs and errors cost one item; workers are long-lived and die
with their parent.

The worker functions are picklable standard-library callables (``operator.call`` on ``functools.partial``
items), so that worker processes can import them whatever the test import mode: ``ctypes.string_at(0)``
reads address 0 (a real ``SIGSEGV``), ``time.sleep`` hangs past the timeout.
"""

from __future__ import annotations

import ctypes
import functools
import json
import operator
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cardiomm.errors import UnknownChoiceError
from cardiomm.sampling import parse_pattern
from cardiomm.utils.isolation import Failure, Outcome, WorkerStartError, run_isolated, write_failures

SEGFAULT = functools.partial(ctypes.string_at, 0)
HANG = functools.partial(time.sleep, 120)


def _run(items: list[Callable[[], Any]], **kwargs: Any) -> dict[int, Outcome[Any]]:
    return {o.index: o for o in run_isolated(operator.call, items, **kwargs)}


def test_run_isolated_records_crash_timeout_and_error_and_keeps_the_rest(tmp_path: Path) -> None:
    good = [functools.partial(pow, 2, n) for n in range(6)]
    items: list[Callable[[], Any]] = [
        *good[:2],
        SEGFAULT,
        *good[2:4],
        HANG,
        functools.partial(int, "x"),
        *good[4:],
    ]
    start = time.monotonic()
    got = _run(items, workers=2, timeout=3)
    assert time.monotonic() - start < 60  # the hang cost its timeout, not 120 s
    assert sorted(got) == list(range(len(items)))
    failures = {i: o.failure for i, o in got.items() if o.failure is not None}
    assert failures == {
        2: Failure("crash", "the worker process was killed by SIGSEGV while working on this item", "SIGSEGV"),
        5: Failure("timeout", "no result within 3 s; the worker process was killed"),
        6: Failure("error", "ValueError: invalid literal for int() with base 10: 'x'"),
    }
    serial = [f() for f in good]  # every other item: the value a serial run gives
    assert [got[i].value for i in sorted(got) if i not in failures] == serial
    path = write_failures(
        tmp_path / "failures.json", [{"item": i, **f.record()} for i, f in sorted(failures.items())]
    )
    doc = json.loads(path.read_text())
    assert [d["kind"] for d in doc] == ["crash", "timeout", "error"] and doc[0]["signal"] == "SIGSEGV"
    assert "signal" not in doc[1]


def test_run_isolated_workers_are_long_lived_and_replaced_after_a_crash(tmp_path: Path) -> None:
    """One worker serves every item (its initializer runs once) until a crash; the replacement runs the
    initializer again and serves the rest."""
    init = functools.partial(tempfile.mkstemp, dir=tmp_path)  # one file per initializer run
    items = [os.getpid] * 3 + [SEGFAULT] + [os.getpid] * 3
    got = _run(items, workers=1, timeout=30, initializer=init)
    before, after = {got[i].value for i in range(3)}, {got[i].value for i in range(4, 7)}
    assert len(before) == 1 and len(after) == 1 and before != after and os.getpid() not in before | after
    assert got[3].failure is not None and got[3].failure.kind == "crash"
    assert len(list(tmp_path.iterdir())) == 2


def test_run_isolated_without_timeout_and_with_no_items() -> None:
    got = _run([functools.partial(time.sleep, 1.5), functools.partial(abs, -3)], workers=1, timeout=0)
    assert got[0].failure is None and got[1].value == 3
    assert list(run_isolated(operator.call, [])) == []


def test_run_isolated_draws_a_lazy_iterable_while_the_workers_work() -> None:
    """A generator is drawn lazily: outcome indices are positions in the iteration (crash included),
    and items are drawn while the workers are busy (the producer is not left until a worker is free)."""
    drawn_at: list[float] = []

    def produce() -> Any:
        for n in range(8):
            drawn_at.append(time.monotonic())
            yield (
                SEGFAULT
                if n == 3
                else functools.partial(time.sleep, 0.3)
                if n == 0
                else functools.partial(pow, 3, n)
            )

    got, arrived = {}, {}
    for o in run_isolated(operator.call, produce(), workers=1, timeout=30):
        got[o.index], arrived[o.index] = o, time.monotonic()
    assert sorted(got) == list(range(8))
    assert got[3].failure is not None and got[3].failure.kind == "crash"
    assert [got[n].value for n in (1, 2, 4, 5, 6, 7)] == [3**n for n in (1, 2, 4, 5, 6, 7)]
    assert drawn_at[1] < arrived[0] - 0.1  # the second item was drawn while the first one slept (0.3 s)
    assert list(run_isolated(operator.call, iter([]))) == []


def test_run_isolated_initializer_failures_are_raised() -> None:
    """A typed error in the initializer keeps its type; a crash while starting is a WorkerStartError."""
    with pytest.raises(UnknownChoiceError, match="unknown mask pattern"):
        _run([os.getpid], initializer=functools.partial(parse_pattern, "Spiral"))
    with pytest.raises(WorkerStartError, match="SIGSEGV"):
        _run([os.getpid], initializer=SEGFAULT)


_PARENT = textwrap.dedent(
    """
    import functools, operator, sys, time
    from cardiomm.utils.isolation import run_isolated

    if __name__ == "__main__":
        items = [functools.partial(time.sleep, 300)] * 4
        for outcome in run_isolated(operator.call, items, workers=2, timeout=None):
            print(outcome, flush=True)
    """
)


def _descendants(pid: int) -> set[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    """Kill -9 the main process while its workers are busy: no worker lives on (the issue saw `db prepare`
    workers keep writing for minutes)."""
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        family: set[int] = set()
        while time.monotonic() < deadline and len(family) < 3:  # fork server + 2 workers
            time.sleep(0.2)
            family = _descendants(parent.pid)
        assert len(family) >= 3, "the workers did not start"
        time.sleep(0.5)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.1)
        assert not [p for p in family if _alive(p)]
    finally:
        for pid in _descendants(parent.pid) | {parent.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
