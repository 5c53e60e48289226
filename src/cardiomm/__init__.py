"""cardiomm: generalist text-conditioned reconstruction for accelerated multi-coil cardiac MRI.

Importing the package is cheap: sub-packages (``cardiomm.physics``, ``cardiomm.io``, ...) are imported
explicitly by the user.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cardiomm")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
