"""One process-wide cache of derived values, keyed by their inputs, bounded in bytes.

Every value the explorer derives from the data and the settings (opened sources, gap statistics,
heatmap tiles, orderings, projections, R@k, histograms) is a pure function of explicit
arguments, so it can be shared: all sessions of a server process (and all views of one session)
ask :data:`MEMO` for ``(key, compute)`` and get the same object, computed once.

- **Single flight**: while a value is being computed, other callers of the same key wait for it
  instead of computing it again (two sessions opening the same UMAP share one run).
- **Bounded**: values are kept in least-recently-used order until their estimated size
  (:func:`nbytes`: numpy buffers, pandas frames, containers; memory-mapped arrays count 0, their
  pages belong to the file) exceeds ``max_bytes`` (``$BIMODAL_EXPLORER_MEMO_MB``, default a
  quarter of the machine's memory); the oldest are then dropped. A dropped value still held by
  a view lives on until that view lets go of it.
- **Progress**: a computation started with a `label` is listed in :meth:`Memo.in_flight` with
  its progress (``done``/``total``), which the compute function reports through the `progress`
  callback it is given. Who asked for it is recorded (:data:`REQUESTER`, a context variable a
  session sets), so a page shows the work it waits for, not that of other sessions.
- **Priority**: labelled computations are long; they yield to the views' quick work at each
  progress report (:mod:`explorer.engine.priority`).

Pure Python and numpy: no UI imports.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from . import priority

#: who is asking (a session id set by the app around its computations; '' = nobody in particular)
REQUESTER: contextvars.ContextVar[str] = contextvars.ContextVar("bimodal_explorer_requester", default="")


def nbytes(value: Any, _depth: int = 0) -> int:
    """Estimated bytes held by `value` (memory-mapped arrays and their views count 0)."""
    if _depth > 6 or value is None:
        return 0
    if isinstance(value, np.ndarray):
        base = value
        while isinstance(base, np.ndarray) and base.base is not None and not isinstance(base, np.memmap):
            base = base.base
        if isinstance(base, np.memmap) or isinstance(value, np.memmap) or not isinstance(base, np.ndarray):
            return 0
        return int(value.nbytes)
    own = getattr(value, "__memo_bytes__", None)
    if callable(own):
        return int(own())
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (int, float, bool, complex)):
        return 0
    if isinstance(value, dict):
        return sum(nbytes(k, _depth + 1) + nbytes(v, _depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if len(items) > 1000:  # a long list of like items (captions): estimate from a sample
            step = len(items) // 200
            return int(sum(nbytes(v, _depth + 1) for v in items[::step]) * len(items) / len(items[::step]))
        return sum(nbytes(v, _depth + 1) for v in items)
    usage = getattr(value, "memory_usage", None)  # pandas
    if callable(usage) and hasattr(value, "columns"):
        try:
            return int(usage(index=True, deep=False).sum())
        except Exception:
            return 0
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name), _depth + 1) for f in dataclasses.fields(value))
    d = getattr(value, "__dict__", None)
    if isinstance(d, dict):
        return nbytes(d, _depth + 1)
    return 0


@dataclasses.dataclass
class Work:
    """A computation in flight (see Memo.in_flight)."""

    key: Hashable
    label: str
    started: float
    done: float | None = None
    total: float | None = None
    unit: str = ""
    requesters: set = dataclasses.field(default_factory=set)

    def progress(self, done: float | None = None, total: float | None = None, label: str | None = None) -> None:
        if done is not None:
            self.done = float(done)
        if total is not None:
            self.total = float(total)
        if label:
            self.label = label


class _Slot:
    __slots__ = ("event", "value", "error", "work")

    def __init__(self, work: Work | None):
        self.event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.work = work


def default_max_bytes() -> int:
    env = os.environ.get("BIMODAL_EXPLORER_MEMO_MB")
    if env:
        return int(float(env) * 2**20)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total // 4)


class Memo:
    """Thread-safe, size-bounded, single-flight cache (see module docstring)."""

    def __init__(self, max_bytes: int | None = None):
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        self._values: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._flight: dict[Hashable, _Slot] = {}
        self._lock = threading.Lock()
        self.bytes = 0
        self.computed: dict[str, int] = {}  # computations per key kind (key[0]), for tests and profiling

    def get(
        self,
        key: Hashable,
        compute: Callable[..., Any],
        *,
        label: str | None = None,
        unit: str = "",
        keep: bool = True,
        foreground: bool = False,
    ) -> Any:
        """The value of `key`, computing it with ``compute()`` (or ``compute(progress)`` when a
        `label` is given) if nobody has. `keep=False`: share it with concurrent callers but do not
        keep it afterwards (values that are cheap to recompute and large). `foreground`: labelled
        (shown with progress) but part of a view's quick work, which long computations yield to
        (the PCA a scatter shows first), instead of long itself."""
        requester = REQUESTER.get()
        with self._lock:
            hit = self._values.get(key)
            if hit is not None:
                self._values.move_to_end(key)
                return hit[0]
            slot = self._flight.get(key)
            owner = slot is None
            if owner:
                work = Work(key, label, time.time(), unit=unit) if label else None
                slot = self._flight[key] = _Slot(work)
            if slot.work is not None and requester:
                slot.work.requesters.add(requester)
        if not owner:
            with priority.long():  # waiting is not quick work: the long computation need not yield to it
                slot.event.wait()
            if slot.error is not None:
                raise slot.error
            return slot.value
        try:
            if slot.work is not None and foreground:
                value = compute(slot.work.progress)
            elif slot.work is not None:  # long: it yields to the views' quick work at each progress report
                with priority.long():
                    value = compute(priority.yielding(slot.work.progress))
            else:
                value = compute()
        except BaseException as exc:
            slot.error = exc
            with self._lock:
                self._flight.pop(key, None)
            slot.event.set()
            raise
        slot.value = value
        with self._lock:
            self._flight.pop(key, None)
            kind = str(key[0]) if isinstance(key, tuple) and key else str(type(key).__name__)
            self.computed[kind] = self.computed.get(kind, 0) + 1
            if keep:
                size = nbytes(value)
                if size <= self.max_bytes:
                    old = self._values.pop(key, None)
                    if old is not None:
                        self.bytes -= old[1]
                    self._values[key] = (value, size)
                    self.bytes += size
                    self._evict()
        slot.event.set()
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store a value computed elsewhere (e.g. a source a notebook opened itself)."""
        with self._lock:
            size = nbytes(value)
            old = self._values.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._values[key] = (value, size)
            self.bytes += size
            self._evict()

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The value if it is cached (never computes)."""
        with self._lock:
            hit = self._values.get(key)
            return default if hit is None else hit[0]

    def _evict(self) -> None:
        while self.bytes > self.max_bytes and self._values:
            _, (_, size) = self._values.popitem(last=False)
            self.bytes -= size

    def in_flight(self, requester: str | None = None) -> list[Work]:
        """Labelled computations under way (those `requester` waits for, when given), oldest first."""
        with self._lock:
            works = [s.work for s in self._flight.values() if s.work is not None]
        if requester is not None:
            works = [w for w in works if requester in w.requesters]
        return sorted(works, key=lambda w: w.started)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._values)


#: the process-wide memo every session shares
MEMO = Memo()
