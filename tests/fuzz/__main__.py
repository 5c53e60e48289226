"""``python -m tests.fuzz -n 2000 --workers 2 --out DIR``: run a fuzz campaign and print its summary.

Exit code 1 when any input failed; with ``--out`` the failing inputs are rebuilt under ``DIR``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .oracle import TARGETS
from .runner import run_campaign, save_failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="number of inputs read (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per input before a hang")
    parser.add_argument("--only", default="", help="keep targets 'seed:reader' containing this text")
    parser.add_argument("--out", type=Path, help="folder for the rebuilt failing inputs")
    args = parser.parse_args(argv)
    targets = [t for t in TARGETS if args.only in f"{t[0]}:{t[1]}"]
    if not targets:
        parser.error(f"no target matches {args.only!r}")
    report = run_campaign(args.n, seed=args.seed, workers=args.workers, timeout=args.timeout, targets=targets)
    print(report.summary())
    if args.out is not None:
        for path in save_failures(report, args.out):
            print(f"rebuilt: {path}")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
