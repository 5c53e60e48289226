"""Fuzz worker: ``python -m tests.fuzz.worker SEEDS_JSON WORK_DIR`` (started by :mod:`tests.fuzz.runner`).

Prints ``ready`` once its imports are done, then for every JSON job line on stdin (``id``, ``seed``,
``reader``, ``mutator``, ``rng``; or ``reader`` and ``path`` for a file read as it is) builds the
mutated input under ``WORK_DIR``, classifies the reader's
outcome (:func:`tests.fuzz.oracle.classify`) and prints one JSON result line. A segfault or a hang
inside a C library stops the answers; the runner sees it, records it and starts a new worker.

The address space is limited (``FUZZ_WORKER_MEMORY_GIB``, default 4) so a huge allocation fails
with ``MemoryError`` (a finding) instead of exhausting the machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    seeds = {k: Path(v) for k, v in json.loads(Path(argv[0]).read_text()).items()}
    work = Path(argv[1])
    work.mkdir(parents=True, exist_ok=True)
    limit = int(float(os.environ.get("FUZZ_WORKER_MEMORY_GIB", "4")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")

    import torch

    torch.set_num_threads(1)
    from .oracle import readers

    fns = readers()
    out = sys.stdout
    print("ready", file=out, flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        case = work / str(job["id"])
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # a chatty library must not break the protocol
            outcome, detail, must = _run(job, seeds, case, fns)
        result = {
            "id": job["id"],
            "outcome": outcome,
            "detail": detail,
            "must_fail": must,
            "seconds": round(time.perf_counter() - t0, 4),
        }
        print(json.dumps(result), file=out, flush=True)
        shutil.rmtree(case, ignore_errors=True)
    return 0


def _run(
    job: dict[str, Any], seeds: dict[str, Path], case: Path, fns: dict[str, Any]
) -> tuple[str, str, bool]:
    """Build the input of ``job`` in ``case`` (or take its ``path``) and classify the reader's outcome."""
    from .mutators import mutate
    from .oracle import classify

    if job.get("path"):
        outcome, detail = classify(job["reader"], Path(job["path"]), fns[job["reader"]])
        return outcome, detail, False
    src = seeds[job["seed"]]
    dst = case / src.name
    try:
        must = mutate(job["seed"], src, dst, job["mutator"], job["rng"], job["reader"])
    except Exception as err:  # noqa: BLE001 - a mutator bug is reported apart, not as a reader failure
        return "mutator-error", f"{type(err).__name__}: {err}", False
    if must is None:
        return "n/a", "", False
    outcome, detail = classify(job["reader"], dst, fns[job["reader"]])
    return outcome, detail, must


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
