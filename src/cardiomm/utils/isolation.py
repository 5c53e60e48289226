"""Run a function on many items in child processes, so that a crash or a hang costs one item, not the run.

:func:`run_isolated` keeps a small pool of long-lived worker processes. Each worker runs an optional
``initializer`` once (e.g. loading models), then serves items one at a time. A worker that dies while
serving an item (a segfault in a C library, ``os._exit``, the kernel's OOM killer) or that has not
answered within the per-item ``timeout`` is killed and replaced, and that item is reported as a
:class:`Failure` (``kind`` ``crash`` with the signal, or ``timeout``); an exception raised by the
function is reported as ``kind`` ``error`` with its message. Every other item is unaffected.

Workers die with the main process: a watchdog thread in each worker kills it as soon as the main
process's end of a "lifeline" pipe is closed (by the kernel, when the main process dies, even by
``SIGKILL``), and on Linux the kernel also kills it when its parent exits (``prctl(PR_SET_PDEATHSIG)``).
A killed run leaves no worker behind that keeps writing. Workers come from the
``forkserver`` start method (safe with threads and torch; ``preload`` modules are imported once by the
fork server), so a replacement starts in a fraction of a second.

The per-file timeout defaults of the command line live here: :data:`INDEX_TIMEOUT_S`,
:data:`PREPARE_TIMEOUT_S` and :data:`RECON_TIMEOUT_S`.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, Generic, TypeVar

from cardiomm.errors import WorkerStartError
from cardiomm.utils.atomic import atomic_path

__all__ = [
    "Failure",
    "Outcome",
    "WorkerStartError",
    "run_isolated",
    "write_failures",
    "INDEX_TIMEOUT_S",
    "PREPARE_TIMEOUT_S",
    "RECON_TIMEOUT_S",
]

#: Default per-source timeout of ``cardiomm db index`` [s] (hashing and reading the header of one file).
INDEX_TIMEOUT_S = 600.0
#: Default per-scan timeout of ``cardiomm db prepare`` [s] (reading, converting, writing one shard).
PREPARE_TIMEOUT_S = 1800.0
#: Default timeout of ``cardiomm reconstruct`` on a tree [s], per file and method.
RECON_TIMEOUT_S = 1800.0

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Failure:
    """Why one item gave no result.

    Attributes
    ----------
    kind
        ``crash`` (the worker process died), ``timeout`` (no result within the timeout; the worker was
        killed) or ``error`` (the function raised an exception).
    message
        One line for people.
    signal
        Name of the signal that killed a crashed worker (``SIGSEGV``), else ``None``.
    """

    kind: str
    message: str
    signal: str | None = None

    def record(self) -> dict[str, str]:
        """The JSON fields of this failure: ``kind``, ``error`` and, for a signal, ``signal``."""
        rec = {"kind": self.kind, "error": self.message}
        if self.signal is not None:
            rec["signal"] = self.signal
        return rec


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result for ``items[index]``: a ``value``, or a ``failure``."""

    index: int
    value: R | None = None
    failure: Failure | None = None


def write_failures(path: str | os.PathLike[str], records: Sequence[dict[str, Any]]) -> Path:
    """Write ``records`` as a JSON array (one object per failed item) atomically to ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(list(records), indent=1) + "\n")
    return path


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 500 characters)."""
    text = (str(exc).splitlines() or [""])[0][:500]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _exit_failure(exitcode: int | None, what: str) -> Failure:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return Failure("crash", f"the worker process was killed by {name} while {what}", name)
    return Failure("crash", f"the worker process exited (code {exitcode}) while {what}")


# ------------------------------------------------------------------------------------- worker side


def _watch_lifeline(lifeline: Connection) -> None:
    """Block until the main process's end of ``lifeline`` is closed (nothing is ever sent on it: the
    kernel closes it when the main process dies, however it dies), then kill this process."""
    try:
        lifeline.poll(None)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent(lifeline: Connection) -> None:
    """``SIGKILL`` this worker when the main process is gone.

    A watchdog thread waits for the end of ``lifeline``. On Linux the kernel also sends ``SIGKILL`` when
    the parent exits (``prctl(PR_SET_PDEATHSIG)``); with the fork server that parent is the fork server,
    which itself lives as long as any of its children, hence the lifeline.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc; the lifeline remains
            pass
    threading.Thread(target=_watch_lifeline, args=(lifeline,), daemon=True, name="lifeline").start()


def _send(conn: Connection, message: tuple[Any, ...]) -> None:
    """Send ``message``; if its payload cannot be pickled, send that as an error instead."""
    try:
        conn.send(message)
    except OSError:
        raise
    except Exception as exc:  # an unpicklable payload
        if message[0] == "init-error":
            conn.send(("init-error", RuntimeError(_describe(message[1]))))
        elif len(message) == 3:
            conn.send(("error", message[1], f"result not transferable ({_describe(exc)})"))
        else:
            raise


def _worker_main(
    conn: Connection,
    fn: Callable[[Any], Any],
    initializer: Callable[..., None] | None,
    initargs: tuple[Any, ...],
    lifeline: Connection,
) -> None:
    """Worker loop: initialise once, then answer ``(index, item)`` messages until ``None`` arrives."""
    _die_with_parent(lifeline)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the main process
    try:
        if initializer is not None:
            initializer(*initargs)
    except Exception as exc:  # reported to the main process, which raises it
        _send(conn, ("init-error", exc))
        return
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        index, item = message
        try:
            value = fn(item)
        except Exception as exc:  # one item's error, not the worker's
            conn.send(("error", index, _describe(exc)))
            continue
        _send(conn, ("ok", index, value))


# --------------------------------------------------------------------------------------- main side


@dataclass
class _Worker:
    process: Any  # multiprocessing Process of the fork-server context
    conn: Connection
    lifeline: Connection  # never written; the worker dies when it closes
    started: float
    ready: bool = False
    index: int | None = None  # item being served
    deadline: float | None = None


def _context(preload: Sequence[str]) -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))  # only effective when the fork server starts
        return ctx
    return multiprocessing.get_context("spawn")  # pragma: no cover - non-POSIX


def _kill(worker: _Worker) -> None:
    """Kill (if still alive) and reap a worker; idempotent."""
    if worker.process.exitcode is None:
        worker.process.kill()
        worker.process.join()
    worker.conn.close()
    worker.lifeline.close()


def run_isolated(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 1,
    timeout: float | None = None,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
    preload: Sequence[str] = (),
) -> Iterator[Outcome[R]]:
    """Apply ``fn`` to every item in worker processes; yield one :class:`Outcome` per item as it completes.

    Parameters
    ----------
    fn
        A picklable (module-level) function of one item. Its exceptions become ``error`` failures.
    items
        Picklable items: a sequence, or any iterable, which is then consumed lazily, one item each time
        a worker is free (so that items still being produced, e.g. by a tree walk, keep the workers
        busy meanwhile).
    workers
        Worker processes (at least 1; for a sequence, at most one per item). Each serves many items in
        turn.
    timeout
        Seconds one item may take (``None`` or ``0``: no limit). Also the limit for ``initializer``.
    initializer, initargs
        Run once in each worker before its first item (again in a replacement worker).
    preload
        Modules the fork server imports once (only when this process starts its fork server).

    Yields
    ------
    Outcome
        ``index`` into ``items`` (its position in the iteration) with a ``value`` or a ``failure``; in
        completion order.

    Raises
    ------
    WorkerStartError
        A worker died or timed out in ``initializer``.
    Exception
        An exception raised by ``initializer`` (re-raised here; typed errors keep their type).
    """
    limit = timeout if timeout else None
    pending = _Pending(items)
    if not pending:
        return
    if isinstance(items, Sequence):
        workers = min(workers, len(items))
    workers = max(1, workers)
    ctx = _context(preload)
    pool: list[_Worker] = []

    def start() -> _Worker:
        parent_conn, child_conn = ctx.Pipe()
        watched, lifeline = ctx.Pipe(duplex=False)
        args = (child_conn, fn, initializer, initargs, watched)
        process = ctx.Process(target=_worker_main, args=args, daemon=True, name="cardiomm-worker")  # type: ignore[attr-defined]
        process.start()
        child_conn.close()
        watched.close()
        worker = _Worker(process, parent_conn, lifeline, time.monotonic())
        pool.append(worker)
        return worker

    def replace(worker: _Worker) -> None:
        _kill(worker)
        pool.remove(worker)
        if pending and len(pool) < workers:
            start()

    finished = False
    try:
        for _ in range(workers):
            start()
        while pending or any(w.index is not None for w in pool):
            for worker in pool:  # hand out items to idle, ready workers
                if worker.ready and worker.index is None and pending:
                    index, item = pending.popleft()
                    try:
                        worker.conn.send((index, item))
                    except OSError:  # it died while idle: replaced below, the item waits
                        pending.appendleft((index, item))
                        continue
                    worker.index = index
                    worker.deadline = None if limit is None else time.monotonic() + limit
            now = time.monotonic()
            deadlines = [w.deadline for w in pool if w.deadline is not None]
            deadlines += [w.started + limit for w in pool if not w.ready and limit is not None]
            wait_s = max(0.0, min(deadlines) - now) if deadlines else None
            handles: list[Any] = [w.conn for w in pool] + [w.process.sentinel for w in pool]
            ready_handles = set(wait(handles, timeout=0))
            while not ready_handles and pending.prefetch(workers):  # draw items while the workers work
                ready_handles = set(wait(handles, timeout=0))
            if not ready_handles:
                ready_handles = set(wait(handles, timeout=wait_s))
            for worker in list(pool):
                yield from _serve(worker, ready_handles, limit, replace)
        finished = True
    finally:
        for worker in pool:
            if finished and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
                worker.process.join(timeout=5)
            _kill(worker)


class _Pending(Generic[T]):
    """The items not yet handed out, ``(index, item)``: returned ones first, then the rest of the
    iterable, drawn only when asked for."""

    def __init__(self, items: Iterable[T]) -> None:
        self._source = iter(items)
        self._back: deque[tuple[int, T]] = deque()
        self._next = 0
        self._done = False

    def _draw(self) -> bool:
        """Take the next item of the iterable into the queue; False when it is exhausted."""
        if self._done:
            return False
        try:
            item = next(self._source)
        except StopIteration:
            self._done = True
            return False
        self._back.append((self._next, item))
        self._next += 1
        return True

    def __bool__(self) -> bool:
        return bool(self._back) or self._draw()

    def prefetch(self, limit: int) -> bool:
        """Draw one more item from the iterable if fewer than ``limit`` are waiting; whether it did."""
        return len(self._back) < limit and self._draw()

    def popleft(self) -> tuple[int, T]:
        if not self:
            raise IndexError("no item left")
        return self._back.popleft()

    def appendleft(self, entry: tuple[int, T]) -> None:
        self._back.appendleft(entry)


def _serve(
    worker: _Worker,
    ready_handles: set[Any],
    limit: float | None,
    replace: Callable[[_Worker], None],
) -> Iterator[Outcome[Any]]:
    """Handle what one worker has to say: a message, its death, or its passed deadline."""
    dead = worker.process.sentinel in ready_handles
    if worker.conn in ready_handles:
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):  # the worker is exiting
            worker.process.join(timeout=5)
            dead = True
        else:
            if message[0] == "ready":
                worker.ready = True
            elif message[0] == "init-error":
                _kill(worker)
                exc = message[1]
                raise exc if isinstance(exc, Exception) else WorkerStartError(str(exc))
            else:
                kind, index, payload = message
                if index != worker.index:  # pragma: no cover - protocol invariant
                    raise RuntimeError(f"worker answered item {index}, expected {worker.index}")
                worker.index = worker.deadline = None
                if kind == "ok":
                    yield Outcome(index, value=payload)
                else:
                    yield Outcome(index, failure=Failure("error", payload))
            return
    if dead or not worker.process.is_alive():
        _kill(worker)
        if not worker.ready:
            raise WorkerStartError(_exit_failure(worker.process.exitcode, "starting").message)
        if worker.index is not None:
            failure = _exit_failure(worker.process.exitcode, "working on this item")
            yield Outcome(worker.index, failure=failure)
        replace(worker)
        return
    now = time.monotonic()
    if worker.deadline is not None and now >= worker.deadline:
        assert worker.index is not None and limit is not None
        message = f"no result within {limit:g} s; the worker process was killed"
        yield Outcome(worker.index, failure=Failure("timeout", message))
        replace(worker)
    elif not worker.ready and limit is not None and now >= worker.started + limit:
        raise WorkerStartError(f"a worker process did not start within {limit:g} s")
