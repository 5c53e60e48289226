"""The torch device of a ``--device`` option: ``auto`` (a GPU when there is one), ``cpu``, ``cuda``,
``cuda:N``; a GPU that is not there is a typed error, never a silent fallback."""

from __future__ import annotations

import re

from cardiomm.errors import ConfigError

__all__ = ["DEVICE_HELP", "resolve_device"]

#: Help text of the ``--device`` options.
DEVICE_HELP = "auto (a CUDA GPU when present, else the CPU), cpu, cuda or cuda:N."

_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")


def resolve_device(spec: str = "auto") -> str:
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` -> a device string torch accepts (``cpu``, ``cuda:0``).

    Raises
    ------
    ConfigError
        An unknown spec, or a CUDA device this machine does not have.
    """
    import torch  # noqa: PLC0415 - here, not at the top: the CLI imports DEVICE_HELP and must list commands fast

    key = spec.strip().lower()
    if key == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if key == "cpu":
        return "cpu"
    match = _CUDA_RE.match(key)
    if match is None:
        raise ConfigError(f"unknown device {spec!r}; {DEVICE_HELP}")
    index = int(match.group(1) or 0)
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        have = f"{count} CUDA device(s)" if count else "no CUDA GPU (or a CPU-only torch)"
        raise ConfigError(f"device {spec!r} requested but this machine has {have}; use --device cpu")
    return f"cuda:{index}"
