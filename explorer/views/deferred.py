"""An HTML pane whose content is computed off the page's event loop, only when wanted.

Some numbers are too slow to recompute on every slider move (projection faithfulness runs k-means
and neighbour searches: about a second at 1,000 pairs). :class:`DeferredHTML` keeps them out of
the interaction path:

- it computes only while `active` (e.g. while its section of the page is expanded) and, with
  ``auto=False``, only when :meth:`refresh` is called (a button);
- the computation goes through a `runner` ``runner(work, done, failed)``: on a Panel server the
  app passes :func:`explorer.app.background.run_in_background` (a thread, result handed back to
  the session), in a notebook or a test it runs at once;
- one computation at a time, and the latest settings win: changes arriving while it runs mark it
  stale, and when it finishes the latest settings are computed instead of showing stale numbers.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

from .cards import esc

Runner = Callable[[Callable[[], Any], Callable[[Any], None], Callable[[BaseException], None]], Any]


def run_now(work: Callable[[], Any], done: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None:
    """The synchronous runner (notebooks, tests)."""
    try:
        result = work()
    except Exception as exc:
        failed(exc)
        return
    done(result)


class DeferredHTML:
    """A ``pn.pane.HTML`` (:attr:`pane`) showing ``render()``, recomputed in the background."""

    def __init__(
        self,
        render: Callable[[], str],
        watch: Sequence[tuple[Any, Sequence[str]]] = (),
        *,
        runner: Runner | None = None,
        active: bool = True,
        auto: bool = True,
        idle_html: str = "",
        busy_note: str = "computing…",
        stale_note: str = "the settings changed: compute again",
        css_class: str = "bx-deferred",
        **pane_options: Any,
    ):
        import panel as pn

        self.render = render
        self.runner = runner or run_now
        self.auto = auto
        self.busy_note, self.stale_note, self.css_class = busy_note, stale_note, css_class
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every change of the inputs
        self._shown: int | None = None  # the generation the pane shows
        self._running = False
        self._active = bool(active)
        self.computations = 0  # how many times render() ran (tests, profiling)
        self._body = idle_html
        pane_options.setdefault("sizing_mode", "stretch_width")
        self.pane = pn.pane.HTML(self._wrap(idle_html), **pane_options)
        for obj, names in watch:
            obj.param.watch(self._changed, list(dict.fromkeys(names)))
        if self._active and self.auto:
            self.refresh()

    # -- public -----------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        """Start (or stop) computing; becoming active computes at once if the pane is out of date."""
        self._active = bool(active)
        if self._active and self.auto and self._shown != self._generation:
            self.refresh()

    def refresh(self) -> None:
        """Compute for the current settings (queued behind a running computation)."""
        with self._lock:
            if self._running:
                return  # _finished() starts the latest settings once the current run ends
            self._running = True
            generation = self._generation
        self._show(self._body, note=self.busy_note)
        self._start(generation)

    # -- internals --------------------------------------------------------------------------
    def _changed(self, *_: Any) -> None:
        with self._lock:
            self._generation += 1
            running = self._running
        if not self._active or running:
            return
        if self.auto:
            self.refresh()
        elif self._shown is not None:
            self._show(self._body, note=self.stale_note)

    def _start(self, generation: int) -> None:
        def work() -> str:
            self.computations += 1
            return self.render()

        self.runner(work, lambda html: self._finished(generation, html),
                    lambda exc: self._finished(generation, f'<div class="{self.css_class}-error">{esc(exc, 500)}</div>'))

    def _finished(self, generation: int, html: str) -> None:
        with self._lock:
            latest = self._generation
            again = generation != latest and self._active and self.auto
            if not again:
                self._running = False
        self._body, self._shown = html, generation
        if again:  # the settings changed while computing: the latest settings now
            self._show(html, note=self.busy_note)
            self._start(latest)
        else:
            self._show(html, note=None if generation == latest else self.stale_note)

    def _show(self, body: str, note: str | None) -> None:
        self.pane.object = self._wrap(body, note)

    def _wrap(self, body: str, note: str | None = None) -> str:
        head = f'<div class="{self.css_class}-note" style="font-size:11px;color:#a15c00">{esc(note, 200)}</div>' if note else ""
        faded = ' style="opacity:0.55"' if note else ""
        return f'<div class="{self.css_class}">{head}<div{faded}>{body}</div></div>'
