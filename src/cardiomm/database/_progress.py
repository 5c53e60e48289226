"""Rich progress bar on stderr shared by the database commands (a no-op when disabled).

Columns: description, bar, done/total, files/s, input MB/s (when the caller reports bytes), elapsed
time and ETA (rich's estimate from the recent rate of completed files).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@contextmanager
def progress_bar(enabled: bool, total: int, description: str) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n_bytes=0)``, driving a rich progress bar of ``total`` files on stderr.

    Parameters
    ----------
    enabled
        ``False`` (or ``total <= 0``): ``advance`` does nothing.
    total
        Number of files.
    description
        Text before the bar.
    """
    if not enabled or total <= 0:

        def nothing(n_bytes: int = 0) -> None:
            return None

        yield nothing
        return

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *_rate_columns(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(description, total=total, bytes=0)
        done = [0]

        def advance(n_bytes: int = 0) -> None:
            done[0] += int(n_bytes)
            progress.update(task, advance=1, bytes=done[0])

        yield advance
