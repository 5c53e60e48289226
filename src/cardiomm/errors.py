"""Typed errors of cardiomm.

Every error a user can cause by bad input derives from :class:`CardiommError`. Its one-line message
names the file (when there is one) and the problem; the CLI prints it without a traceback and exits
non-zero.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "CardiommError",
    "InputFileError",
    "FileFormatError",
    "MissingKeyError",
    "ShapeError",
    "SizeLimitError",
    "DataValueError",
    "MaskError",
    "ConfigError",
    "CheckpointError",
    "ModelNotFoundError",
    "UnknownChoiceError",
    "PHIError",
    "WorkerStartError",
]


class CardiommError(Exception):
    """Base class of every cardiomm error.

    Parameters
    ----------
    message
        What is wrong, one line.
    path
        The file or folder concerned, if any; it is put in front of the message.
    """

    exit_code: int = 2

    def __init__(self, message: str, path: str | PathLike[str] | None = None) -> None:
        self.message = " ".join(str(message).split())
        self.path = None if path is None else str(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputFileError(CardiommError):
    """A missing or unreadable input file or folder."""


class FileFormatError(InputFileError):
    """A file that is truncated, corrupt or not of the expected format."""


class MissingKeyError(InputFileError):
    """A file that lacks a required variable or dataset (e.g. no ``kspace_full``/``kspace``)."""


class ShapeError(CardiommError):
    """An array of unexpected dimensionality or shape."""


class SizeLimitError(ShapeError):
    """A declared size over the allocation limit (``CARDIOMM_MAX_ELEMENTS``, see ``cardiomm.io.checks``)."""


class DataValueError(CardiommError):
    """Data of the wrong kind: NaN/Inf values, real instead of complex, wrong dtype."""


class MaskError(CardiommError):
    """A sampling mask that does not fit the data or lacks its ACS region."""


class ConfigError(CardiommError):
    """An invalid configuration file or option."""


class CheckpointError(CardiommError):
    """A corrupt checkpoint, or one made for another preset or architecture."""


class ModelNotFoundError(CardiommError):
    """A model (text encoder, segmentation network) that is not available locally."""


class UnknownChoiceError(CardiommError):
    """An option value outside its set of choices (unknown method, pattern, modality...)."""


class PHIError(CardiommError):
    """Protected health information detected where it must not be."""


class WorkerStartError(CardiommError):
    """A worker process that could not start (its initializer crashed or did not finish in time)."""
