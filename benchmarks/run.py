"""Run every benchmark and write BENCHMARKS.md.

Usage: ``.venv/bin/python benchmarks/run.py [topic ...]``. Each ``benchmarks/bench_<topic>.py`` defines
``run() -> str`` returning a Markdown section (heading level 2). Sections of topics not run this time
are kept from the existing BENCHMARKS.md, and so is a section whose benchmark cannot run on this machine
(its module's ``SKIPPED_MARK`` appears in what it returns, e.g. the GPU benchmark without CUDA). The
hand-written notes of a section (its ``### `` subsections, dated measurements of single changes, after
the generated text) are kept when the section is re-run; generated text has no ``### `` headings.
Ratios are always against a baseline measured in the same run.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "BENCHMARKS.md"
MARK = "<!-- bench:{} -->"


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}"
    )


def _existing_sections() -> dict[str, str]:
    if not OUT.exists():
        return {}
    text = OUT.read_text()
    parts = re.split(r"<!-- bench:(\w+) -->\n", text)
    return {parts[i]: parts[i + 1].rstrip() + "\n" for i in range(1, len(parts) - 1, 2)}


def notes_of(section: str) -> str:
    """The hand-written ``### `` subsections at the end of a section ("" when it has none)."""
    at = section.find("\n### ")
    return section[at + 1 :].rstrip() + "\n" if at >= 0 else ""


def main(topics: list[str]) -> None:
    available = sorted(p.stem[len("bench_") :] for p in HERE.glob("bench_*.py"))
    chosen = topics or available
    sections = _existing_sections()
    for topic in chosen:
        path = HERE / f"bench_{topic}.py"
        spec = importlib.util.spec_from_file_location(f"bench_{topic}", path)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        assert spec and spec.loader
        spec.loader.exec_module(mod)
        print(f"running {topic} ...", flush=True)
        body = mod.run().rstrip() + "\n"
        if getattr(mod, "SKIPPED_MARK", None) and mod.SKIPPED_MARK in body and topic in sections:
            print(f"{topic}: skipped on this machine; the existing section is kept")
            continue
        stamp = f"\n_Measured {dt.date.today().isoformat()} on {_machine()}._\n"
        notes = notes_of(sections.get(topic, ""))
        sections[topic] = body + stamp + (f"\n{notes}" if notes else "")
        print(body)
    lines = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/run.py` "
        "(one command; `python benchmarks/run.py TOPIC` re-runs one section).",
        "Ratios are against a baseline measured in the same run. Each section states its machine and date.",
        "",
    ]
    for topic in sorted(sections):
        lines += [MARK.format(topic), sections[topic].rstrip(), ""]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
