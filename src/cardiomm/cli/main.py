"""Entry point of the ``cardiomm`` command: registers sub-commands and turns errors into exit codes."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

import cardiomm
import cardiomm.cli as pkg
from cardiomm.cli.app import app, err_console
from cardiomm.errors import CardiommError

__all__ = ["main", "app"]

_NOT_COMMANDS = {"app", "main", "progress", "common"}


def _register_commands() -> None:
    """Import every sibling module of this package: each registers its commands on ``app``."""
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name not in _NOT_COMMANDS and not info.name.startswith("_"):
            importlib.import_module(f"cardiomm.cli.{info.name}")


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cardiomm {cardiomm.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """CardioMM command line."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code.

    Typed cardiomm errors become a one-line ``error: <file>: <problem>`` on stderr and exit code 2;
    usage errors are reported by Typer/Click (exit 2); no traceback either way. Exit code 1: the run
    completed but some files failed (``db index``, ``db prepare`` and ``reconstruct`` of a folder list
    them in a ``failures.json``; ``db verify`` found mismatches).
    """
    _register_commands()
    try:
        app(args=argv, standalone_mode=True)
    except CardiommError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
