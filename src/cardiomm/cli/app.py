"""The Typer application object that every sub-command module registers on.

A sub-command module ``cardiomm/cli/<name>.py`` imports :data:`app` and decorates its command(s)
(``@app.command()``), or adds a group with ``app.add_typer(group, name=...)``. It keeps heavy imports
(torch, models, matplotlib) inside the command function so that ``cardiomm --help`` stays fast.
"""

from __future__ import annotations

import typer

from cardiomm.errors import ConfigError

__all__ = ["app", "console", "err_console", "parse_floats", "DC_HELP"]

from rich.console import Console

app = typer.Typer(
    name="cardiomm",
    help="CardioMM: generalist reconstruction for accelerated multi-coil cardiac MRI, "
    "its k-space database tool chain and downstream analysis.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)

#: Help of ``--dc`` (``reconstruct``, ``compare``): :class:`cardiomm.recon.learned.LearnedRecon`.
DC_HELP = (
    "Data consistency of learned methods: soft (the network's own output, as published), hard (keep "
    "the acquired samples in every coil) or sense (the image nearest the network's that fits the "
    "acquired samples through its coil maps). hard and sense raise PSNR and can lower SSIM: the "
    "measured noise comes back (docs/models.md)."
)


def parse_floats(text: str, what: str) -> list[float]:
    """Comma- (or semicolon-) separated numbers of option ``what``, e.g. ``--spacing 8,1.5,1.5``.

    Raises
    ------
    ConfigError
        A value is not a number.
    """
    try:
        return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
