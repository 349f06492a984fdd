"""The heatmaps' colour limits of an explorer: 'data', 'visible', 'full' and 'locked' ranges.

A mixin of :class:`explorer.state.explorer_state.ExplorerState` (see :mod:`explorer.engine.colour`
for the ranges). Choosing ``look.color_range = 'locked'`` stores the limits in effect just
before (under the range it replaces, of the Explore page's model) for both heatmap kinds in
``look.locked_limits``; every heatmap then keeps them across α, filters, models and zooms until
another range is chosen. They are appearance only: no data is recomputed.
"""

from __future__ import annotations

from typing import Any

from ..engine.colour import FULL_LIMITS, color_limits, locked_limits, union
from ..errors import ExplorerError

KINDS = ("similarity", "difference")


class ColourScales:
    """Colour limits and the locked range of an ExplorerState (see module docstring)."""

    def watch_colour_lock(self) -> None:
        """Lock the limits in effect whenever ``look.color_range`` becomes 'locked' (called once
        by ExplorerState.__init__)."""
        def on_choose(event: Any) -> None:
            if event.new == "locked" and event.old != "locked":
                self.lock_colours(event.old)

        self.look.param.watch(on_choose, "color_range")

    def data_color_limits(self, model: str | None = None, kind: str = "similarity", shared: bool = False,
                          pixels: int = 400) -> tuple[float, float]:
        """Robust limits of the whole-matrix tile's pixels; with `shared` (Compare) the union over
        the compared models, so one colour means one value in every compared heatmap."""
        models = self.shown_compare_models() if shared else [self.resolve_model(model)]
        return union([color_limits(self.tile(m, kind, width=pixels, height=pixels, shared=shared).values, "data", kind)
                      for m in models])

    def color_limits(self, model: str | None = None, kind: str = "similarity", shared: bool = False, pixels: int = 400) -> tuple[float, float]:
        """Colour limits under `look.color_range`: 'full', the locked range, or the data limits
        (:meth:`data_color_limits`; 'visible' starts from them too)."""
        if self.look.color_range == "full":
            return FULL_LIMITS[kind]
        if self.look.color_range == "locked":
            lim = locked_limits(self.look.locked_limits, kind)
            if lim is not None:
                return lim
        return self.data_color_limits(model, kind, shared, pixels)

    def lock_colours(self, previous: str = "data", model: str | None = None, pixels: int = 400) -> dict[str, list[float]]:
        """Store the limits in effect under the range `previous` ('visible' locks the data limits)
        of `model` (None: the Explore page's) as the locked range of both kinds; returns them.
        A kind whose limits cannot be computed (no source open, a filter matching nothing) is
        left out: it shows its data limits until locked again."""
        out: dict[str, list[float]] = {}
        for kind in KINDS:
            try:
                lim = FULL_LIMITS[kind] if previous == "full" else self.data_color_limits(model, kind, False, pixels)
            except ExplorerError:
                continue
            out[kind] = [float(lim[0]), float(lim[1])]
        self.look.locked_limits = out
        return out
