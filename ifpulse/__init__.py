"""ifpulse's composition root: the `ifpulse` command that starts each service."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ifpulse")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
