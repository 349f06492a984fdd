"""Exceptions the user can act on.

Every message is meant to be shown as is: it names the file or spec at fault and the problem,
and where possible what to do about it. The CLI prints them without a traceback.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base class of errors caused by input, files or settings rather than by a bug."""


class DataError(ExplorerError, ValueError):
    """Input data is malformed: wrong shapes, NaN/inf, zero vectors, mismatched lengths, ..."""


class SpecError(ExplorerError, ValueError):
    """A dataset, model or source spec that cannot be understood."""


class StoreError(ExplorerError):
    """An embedding-store entry is missing, corrupt or truncated."""


class MissingResourceError(ExplorerError, FileNotFoundError):
    """A file the user must provide (weights, dataset) is not there."""
