"""Run fuzz campaigns in worker processes with a watchdog.

Each worker (:mod:`tests.fuzz.worker`) is a separate Python process that answers one job at a time.
The runner waits for each answer at most ``timeout`` seconds: no answer is a ``hang``, a worker that
dies (segfault, abort, out-of-memory kill) is a ``crash``; either way the worker is killed with its
process group and a fresh one takes the next job, so nothing inside a C library can stop pytest.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .mutators import applicable, mutate
from .oracle import FAILURES, TARGETS

REPO = Path(__file__).resolve().parents[2]
_STARTUP_TIMEOUT = 180.0


@dataclass(frozen=True)
class Job:
    """One input: a mutation of seed ``seed`` read by ``reader`` (or the file ``path`` as it is)."""

    id: int
    seed: str
    reader: str
    mutator: str = ""
    rng: int = 0
    path: str = ""


@dataclass(frozen=True)
class Result:
    job: Job
    outcome: str
    detail: str
    must_fail: bool
    seconds: float

    @property
    def final(self) -> str:
        """The outcome, with ``ok`` on a must-fail input counted as ``silent``."""
        return "silent" if self.outcome == "ok" and self.must_fail else self.outcome


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def inputs(self) -> list[Result]:
        """Results of the inputs actually read (mutations that did not apply are left out)."""
        return [r for r in self.results if r.outcome != "n/a"]

    def counts(self) -> Counter[str]:
        return Counter(r.final for r in self.inputs)

    def failures(self) -> list[Result]:
        return [r for r in self.inputs if r.final in FAILURES or r.final == "mutator-error"]

    def summary(self) -> str:
        c = self.counts()
        fails = ", ".join(f"{k} {c[k]}" for k in (*FAILURES, "mutator-error") if c[k]) or "none"
        must = [r for r in self.inputs if r.must_fail]
        n_na = len(self.results) - len(self.inputs)
        lines = [
            f"{len(self.inputs)} inputs in {self.wall_s:.0f} s: ok {c['ok']}, typed {c['typed']}, "
            f"failures: {fails}",
            f"  {len(must)} inputs detectably corrupt by construction, "
            f"{sum(r.final == 'typed' for r in must)} of them rejected with a typed error; "
            f"{n_na} mutations did not apply",
        ]
        by_target: dict[str, Counter[str]] = {}
        for r in self.inputs:
            by_target.setdefault(f"{r.job.seed}:{r.job.reader}", Counter())[r.final] += 1
        for key in sorted(by_target):
            lines.append(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in sorted(by_target[key].items())))
        for r in self.failures()[:20]:
            lines.append(f"  FAIL {r.final}: {r.job} -> {r.detail[:300]}")
        return "\n".join(lines)


def job_stream(seed: int, targets: Sequence[tuple[str, str]]) -> Iterator[Job]:
    """Endless deterministic stream of jobs: a target, then a mutator by weight, then an rng seed."""
    rng = np.random.default_rng(seed)
    i = 0
    while True:
        seed_name, reader = targets[int(rng.integers(0, len(targets)))]
        names, weights = zip(*applicable(seed_name), strict=True)
        p = np.asarray(weights, float) / sum(weights)
        mutator = str(names[int(rng.choice(len(names), p=p))])
        yield Job(i, seed_name, reader, mutator, int(rng.integers(0, 2**62)))
        i += 1


class Worker:
    """One worker process; :meth:`run` returns the job's result or a crash / hang."""

    def __init__(self, seeds_json: Path, work: Path, log: Path) -> None:
        self.seeds_json, self.work, self.log = seeds_json, work, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.buf = b""
        self.restarts = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.fuzz.worker", str(self.seeds_json), str(self.work)],
                cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                start_new_session=True,
            )  # fmt: skip
        self.buf = b""
        if self._readline(_STARTUP_TIMEOUT) != "ready":
            self.kill()
            raise RuntimeError(f"fuzz worker did not start; see {self.log}")

    def _readline(self, timeout: float) -> str | None:
        """The next line; ``None`` on timeout, ``""`` when the worker has exited."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return ""
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def kill(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        rc = self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.proc = None
        return rc

    def run(self, job: Job, timeout: float) -> Result:
        if self.proc is None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        t0 = time.perf_counter()
        try:
            self.proc.stdin.write((json.dumps(job.__dict__) + "\n").encode())
            self.proc.stdin.flush()
            line = self._readline(timeout)
        except BrokenPipeError:
            line = ""
        if line:
            answer: dict[str, Any] = json.loads(line)
            return Result(job, answer["outcome"], answer["detail"], answer["must_fail"], answer["seconds"])
        hang = line is None
        rc = self.kill()
        self.restarts += 1
        seconds = time.perf_counter() - t0
        if hang:
            return Result(job, "hang", f"no answer within {timeout:.0f} s", False, seconds)
        how = f"signal {-rc}" if rc is not None and rc < 0 else f"exit code {rc}"
        return Result(job, "crash", f"worker died ({how})", False, seconds)

    def close(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def _pool(
    jobs: Iterator[Job], n: int, workdir: Path, seeds: dict[str, Path], workers: int, timeout: float
) -> Report:
    """Run jobs from ``jobs`` on ``workers`` workers until ``n`` inputs were read."""
    workdir.mkdir(parents=True, exist_ok=True)
    seeds_json = workdir / "seeds.json"
    seeds_json.write_text(json.dumps({k: str(v) for k, v in seeds.items()}))
    report, lock = Report(), threading.Lock()
    state = {"done": 0, "in_flight": 0}
    t0 = time.perf_counter()

    def loop(k: int) -> None:
        worker = Worker(seeds_json, workdir / f"w{k}", workdir / f"worker{k}.log")
        try:
            while True:
                with lock:
                    if state["done"] + state["in_flight"] >= n:
                        return
                    job = next(jobs, None)
                    if job is None:
                        return
                    state["in_flight"] += 1
                result = worker.run(job, timeout)
                with lock:
                    state["in_flight"] -= 1
                    state["done"] += result.outcome != "n/a"
                    report.results.append(result)
        finally:
            worker.close()

    threads = [threading.Thread(target=loop, args=(k,), daemon=True) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.results.sort(key=lambda r: r.job.id)
    report.wall_s = time.perf_counter() - t0
    return report


def make_seed_dir(workdir: Path) -> dict[str, Path]:
    """Seeds under ``workdir/seeds`` (with the twix seed when the real-data folder is available)."""
    from cardiomm.utils.shared_data import shared_data_dir

    from .seeds import make_seeds

    return make_seeds(workdir / "seeds", shared_data_dir())


def run_campaign(
    n: int,
    *,
    seed: int = 0,
    workers: int = 2,
    timeout: float = 30.0,
    workdir: Path | None = None,
    targets: Sequence[tuple[str, str]] | None = None,
) -> Report:
    """Read ``n`` mutated inputs (deterministic for a given ``seed``) and classify every outcome."""
    with tempfile.TemporaryDirectory(prefix="cardiomm-fuzz-") as tmp:
        root = Path(workdir or tmp)
        seeds = make_seed_dir(root)
        chosen = [t for t in (targets or TARGETS) if t[0] in seeds]
        return _pool(job_stream(seed, chosen), n, root, seeds, workers, timeout)


def run_files(cases: Sequence[tuple[str, Path]], *, timeout: float = 60.0, workdir: Path) -> list[Result]:
    """Read each ``(reader, path)`` as it is, in one worker with the watchdog (reproducer tests)."""
    jobs = iter([Job(i, "", reader, path=str(path)) for i, (reader, path) in enumerate(cases)])
    return _pool(jobs, len(cases), workdir, {}, 1, timeout).results


def save_failures(report: Report, out: Path) -> list[Path]:
    """Rebuild the input of every failure under ``out`` (mutators are deterministic); return the paths."""
    from .seeds import make_seeds

    failures = report.failures()
    if not failures:
        return []
    from cardiomm.utils.shared_data import shared_data_dir

    seeds = make_seeds(out / "seeds", shared_data_dir())
    paths = []
    for r in failures:
        j = r.job
        case = out / f"{j.id:06d}_{r.final}_{j.seed}_{j.reader}_{j.mutator}"
        case.mkdir(parents=True, exist_ok=True)
        if j.seed in seeds:
            mutate(j.seed, seeds[j.seed], case / seeds[j.seed].name, j.mutator, j.rng, j.reader)
        (case / "job.json").write_text(json.dumps({**j.__dict__, "outcome": r.final, "detail": r.detail}))
        paths.append(case)
    return paths
