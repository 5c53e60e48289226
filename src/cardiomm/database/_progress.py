"""Rich progress bar on stderr shared by the database commands (a no-op when disabled).

Columns: description, bar, done/total, files/s, input MB/s (when the caller reports bytes), elapsed
time and ETA (rich's estimate from the recent rate of completed files).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

__all__ = ["progress_bar"]


def _rate_columns() -> tuple[Any, Any]:
    """Columns showing files/s and MB/s from the task's ``bytes`` field."""

    class FilesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            elapsed = task.elapsed or 0.0
            rate = task.completed / elapsed if elapsed > 0 else 0.0
            return Text(f"{rate:.1f} files/s")

    class MegabytesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            elapsed = task.elapsed or 0.0
            done = float(task.fields.get("bytes", 0))
            return Text(f"{done / 1e6 / elapsed:.0f} MB/s" if elapsed > 0 and done else "")

    return FilesPerSecond(), MegabytesPerSecond()


class Advance:
    """What :func:`progress_bar` yields: call it once per finished file (``advance(n_bytes=0)``);
    :meth:`set_total` fixes a total that was not known when the bar started."""

    def __init__(self, progress: Progress | None = None, task: Any = None) -> None:
        self._progress, self._task, self._bytes = progress, task, 0

    def __call__(self, n_bytes: int = 0) -> None:
        if self._progress is None:
            return
        self._bytes += int(n_bytes)
        self._progress.update(self._task, advance=1, bytes=self._bytes)

    def set_total(self, total: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


@contextmanager
def progress_bar(enabled: bool, total: int | None, description: str) -> Iterator[Advance]:
    """Yield an :class:`Advance`, driving a rich progress bar of ``total`` files on stderr.

    Parameters
    ----------
    enabled
        ``False`` (or ``total <= 0``): the bar is not shown.
    total
        Number of files; ``None`` while unknown (the bar pulses until :meth:`Advance.set_total`).
    description
        Text before the bar.
    """
    if not enabled or (total is not None and total <= 0):
        yield Advance()
        return

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *_rate_columns(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True)) as progress:
        yield Advance(progress, progress.add_task(description, total=total, bytes=0))
