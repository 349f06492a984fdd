"""Exceptions the user can act on.

Every message is meant to be shown as is: it names the file or spec at fault and the problem,
and where possible what to do about it. The CLI prints them without a traceback.
"""

from __future__ import annotations


def said(exc: BaseException, limit: int = 300) -> str:
    """An exception's text on one line, for a message that quotes it (pyarrow's and others' texts
    hold newlines), cut to `limit` characters; its type's name when it has no text."""
    text = " ".join(str(exc).split())
    return (text[: limit - 1] + "…" if len(text) > limit else text) or type(exc).__name__


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
