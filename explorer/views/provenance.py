"""What produced a plot, shown beside it rather than in its title.

Plot titles stay short ("Similarity · own:clip"); the full provenance (model id, source recipe
with filter / sample / seed, gap setting, ordering, projection method and parameters, what a
heatmap pixel shows and the colour limits, how estimated numbers were estimated) is

- a small text line next to the plot (:func:`feed_provenance_pane`, escaped: model names, specs
  and file names are untrusted text), and
- the Bokeh figure's ``tags`` (:func:`feed_provenance_hook`): ``[{"provenance": {...}}]``, which
  travels with the plot into saved HTML files and notebooks' exported documents.

Each view computes its provenance with its data (in its Feed), so the line always describes
what is drawn, not the settings of a moment later.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import param

from .cards import esc


def provenance_dict(state: Any, model: str | None = None, kind: str = "similarity", **extra: Any) -> dict[str, Any]:
    """state.provenance(model) plus what this kind of plot adds (`extra`: aggregation, colour
    limits, sample descriptions, ...)."""
    m = state.resolve_model(model)
    d = dict(state.provenance(m, projection=kind == "projection"))
    if kind in ("numbers", "landscape"):
        d.update(loss_variant=state.gap.loss_variant, batch_size=state.effective_batch_size(m), logit_scale=state.logit_scale(m))
    d.update({k: v for k, v in extra.items() if v is not None and v != ""})
    return d


def provenance_text(d: dict[str, Any], kind: str = "similarity") -> str:
    """One line of plain text (not escaped): model [id] on source (n) · gap · ordering · extras."""
    from ..engine.colour import describe

    name = d["model"] if d["model_id"] == d["model"] else f"{d['model']} [{d['model_id']}]"
    parts = [f"{name} on {d['source']} (n={d['n']})"]
    if kind != "landscape":  # the landscape is of the original embeddings
        parts.append(f"gap α={d['alpha']:g}{' re-normalised' if d['renormalize'] else ''}")
    if "ordering" in d and kind in ("similarity", "difference"):
        parts.append(f"clusters {d['ordering']}")
    if "projection" in d:
        parts.append(d["projection"])
    if "clim" in d:
        shared_note = " (shared by the compared models)" if d.get("clim_shared_by") else ""
        parts.append(f"{d['aggregation']} per pixel · colours {describe(d['color_range'], tuple(d['clim']))}{shared_note}")
    if d.get("tile_note"):
        parts.append(d["tile_note"])
    if d.get("quadrant_note"):
        parts.append(d["quadrant_note"])
    if "means" in d:
        # a group with no values (one pair: no off-diagonal image–image similarity) has no mean
        parts.append("means: " + ", ".join(f"{g} {v:.3f}" if np.isfinite(v) else f"{g} – (no values)" for g, v in d["means"].items()))
    if "loss_variant" in d:
        parts.append(f"{d['loss_variant']} loss, batch {d['batch_size']}, logit scale s={d['logit_scale']:.4g}")
    for key in ("estimate", "recall_method", "consistency_method", "landscape_note"):
        if d.get(key) and d[key] != "exact":
            parts.append(str(d[key]))
    return " · ".join(parts)


PROVENANCE_STYLE = "font-size:11px;color:#555;overflow-wrap:anywhere;line-height:1.3"


def feed_provenance_pane(feed: Any, **pane_options: Any):
    """The escaped provenance line (``value['provenance_text']``) of what a feed-driven view
    shows, and whether newer settings are being computed."""
    import panel as pn

    def render(*_: Any) -> str:
        text = feed.value.get("provenance_text") or feed.error
        note = ""
        if feed.pending:
            note = '<span style="color:#a15c00">updating to the current settings… (the progress bar says how far)</span> shown: '
        return f'<div class="bx-provenance" style="{PROVENANCE_STYLE}">{note}{esc(text, 1000)}</div>'

    pane_options.setdefault("sizing_mode", "stretch_width")
    pane_options.setdefault("margin", (0, 10))
    pane = pn.pane.HTML(param.bind(render, feed.param.version, feed.param.pending, feed.param.error), **pane_options)
    pane.feed = feed
    return pane


def weak_hook(target: Any, fn: Any):
    """A plot hook calling ``fn(target, plot, element)`` while `target` lives. HoloViews keeps the
    options of every element it has drawn in a global store until the element is collected, and an
    element whose hooks hold its own view alive is never collected: a hook must hold a session's
    objects weakly, or every closed session stays in memory."""
    import weakref

    ref = weakref.ref(target)

    def hook(plot: Any, element: Any) -> None:
        t = ref()
        if t is not None:
            fn(t, plot, element)

    return hook


def write_provenance(feed: Any, plot: Any, element: Any = None) -> None:
    """Record the provenance of what a feed-driven view shows in the Bokeh figure's ``tags``."""
    d = feed.value.get("provenance")
    if not d:
        return
    tags = [t for t in (plot.state.tags or []) if not (isinstance(t, dict) and "provenance" in t)]
    plot.state.tags = [*tags, {"provenance": d}]


def feed_provenance_hook(feed: Any):
    """A plot hook recording the provenance of what a feed-driven view shows (``value['provenance']``)
    in the Bokeh figure's ``tags`` (holding the feed weakly)."""
    return weak_hook(feed, write_provenance)
