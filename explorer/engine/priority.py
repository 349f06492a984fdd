"""Views' quick computations before long labelled ones, on a machine with few cores.

Every view computes its data in a thread of its own (explorer.views.feed), and a few of those
computations are long: R@k of a million pairs, clustering, UMAP (the memo's labelled work, shown
with progress). On two cores a long one running beside the first heatmap, a zoom or a slider move
takes half the machine from them, for tens of seconds. So:

- a view's computation runs inside :func:`quick`;
- a labelled computation of the memo runs inside :func:`long`, and each time it reports progress
  it first waits (at most `MAX_WAIT` seconds per report) while another thread is doing quick work
  (a thread inside ``quick()`` but not inside a long computation or waiting for one).

Nothing is ever blocked for good: a long computation loses at most `MAX_WAIT` per progress
report, and only while quick work is actually running. Pure Python: no UI imports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: longest wait of a long computation per progress report
MAX_WAIT = 1.0

_cv = threading.Condition()
_quick: dict[int, int] = {}  # thread id -> depth of quick() sections
_long: dict[int, int] = {}  # thread id -> depth of long() sections (and waits for another's value)


def _enter(table: dict[int, int]) -> None:
    tid = threading.get_ident()
    with _cv:
        table[tid] = table.get(tid, 0) + 1


def _leave(table: dict[int, int]) -> None:
    tid = threading.get_ident()
    with _cv:
        n = table.get(tid, 0) - 1
        if n > 0:
            table[tid] = n
        else:
            table.pop(tid, None)
        _cv.notify_all()


@contextmanager
def quick() -> Iterator[None]:
    """A view's computation (see module docstring)."""
    _enter(_quick)
    try:
        yield
    finally:
        _leave(_quick)


@contextmanager
def long() -> Iterator[None]:
    """A long computation, or a wait for one computed by another thread: this thread is not doing
    quick work meanwhile."""
    _enter(_long)
    try:
        yield
    finally:
        _leave(_long)


def quick_work_elsewhere() -> bool:
    """True while a thread other than this one runs quick work."""
    me = threading.get_ident()
    with _cv:
        return _busy(me)


def _busy(me: int) -> bool:
    return any(tid != me and tid not in _long for tid in _quick)


def yield_to_quick_work(max_wait: float = MAX_WAIT) -> float:
    """Wait (at most `max_wait` s) while another thread runs quick work; returns the seconds waited."""
    me = threading.get_ident()
    t0 = time.monotonic()
    with _cv:
        while _busy(me):
            left = max_wait - (time.monotonic() - t0)
            if left <= 0:
                break
            _cv.wait(left)
    return time.monotonic() - t0


def yielding(progress: Callable[..., None]) -> Callable[..., None]:
    """`progress` that first yields to quick work (what a long computation reports through)."""

    def report(*args, **kwargs) -> None:
        yield_to_quick_work()
        progress(*args, **kwargs)

    return report
