"""What produced a plot, shown beside it rather than in its title.

Plot titles stay short ("Similarity · own:clip"); the full provenance (model id, source recipe
with filter / sample / seed, gap setting, ordering, projection method and parameters, heatmap
aggregation and colour limits) is

- a small text line next to the plot (:func:`provenance_pane`, escaped: model names, specs and
  file names are untrusted text), and
- the Bokeh figure's ``tags`` (:func:`provenance_hook`): ``[{"provenance": {...}}]``, which
  travels with the plot into saved HTML files and notebooks' exported documents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import param

from .cards import esc
from .dynamic import ACTIVE, COMPARE, GAP, MODEL, ORDER, PROJ

#: what each kind of plot depends on, besides the pairs and the model
KIND_DEPS = {
    "similarity": GAP + ORDER + ("aggregation", "color_range"),
    "difference": GAP + ORDER + ("color_range",),
    "projection": GAP + PROJ,
    "numbers": GAP + ("loss_variant", "batch_size"),
    "landscape": ("loss_variant", "batch_size"),
    "histograms": GAP,
}
#: the pixels of a heatmap's overview the colour limits are computed for (see explorer.views.colour)
DEFAULT_PIXELS = 400


def provenance_dict(state: Any, model: str | None = None, kind: str = "similarity", shared: bool = False,
                    pixels: int = DEFAULT_PIXELS) -> dict[str, Any]:
    """state.provenance(model) plus what this kind of plot adds (projection, aggregation, colour limits)."""
    m = state.resolve_model(model)
    d = dict(state.provenance(m, projection=kind == "projection"))
    if kind in ("similarity", "difference"):
        lo, hi = state.color_limits(m, kind, shared, pixels=pixels)
        from .colour import shown_range

        used = shown_range(state.color_range, shared)
        d.update(aggregation=state.pixel_aggregation(kind), color_range=used, clim=[float(lo), float(hi)])
        if shared and used == "data":
            d["clim_shared_by"] = list(state.shown_compare_models())
    if kind == "histograms":
        d["means"] = {g: float(v) for g, v in state.distributions(m).means.items()}
    if kind in ("numbers", "landscape"):
        d.update(loss_variant=state.loss_variant, batch_size=state.effective_batch_size(m),
                 logit_scale=float(state.original_embeddings(m).logit_scale))
    return d


def provenance_text(state: Any, model: str | None = None, kind: str = "similarity", shared: bool = False,
                    pixels: int = DEFAULT_PIXELS) -> str:
    """One line of plain text (not escaped): model [id] on source (n) · gap · ordering · extras."""
    from .colour import describe

    d = provenance_dict(state, model, kind, shared, pixels)
    name = d["model"] if d["model_id"] == d["model"] else f"{d['model']} [{d['model_id']}]"
    parts = [f"{name} on {d['source']} (n={d['n']})"]
    if kind != "landscape":  # the landscape is of the original embeddings
        parts.append(f"gap α={d['alpha']:g}{' re-normalised' if d['renormalize'] else ''}")
    if "ordering" in d and kind in ("similarity", "difference"):
        parts.append(f"clusters {d['ordering']}")
    if "projection" in d:
        parts.append(d["projection"])
    if "clim" in d:
        shared_note = " (shared by the compared models)" if "clim_shared_by" in d else ""
        parts.append(f"{d['aggregation']} per pixel · colours {describe(d['color_range'], tuple(d['clim']))}{shared_note}")
    if "means" in d:
        # a group with no values (one pair: no off-diagonal image–image similarity) has no mean
        parts.append("means: " + ", ".join(f"{g} {v:.3f}" if np.isfinite(v) else f"{g} – (no values)" for g, v in d["means"].items()))
    if "loss_variant" in d:
        parts.append(f"{d['loss_variant']} loss, batch {d['batch_size']}, logit scale s={d['logit_scale']:.4g}")
    return " · ".join(parts)


def provenance_html(state: Any, model: str | None = None, kind: str = "similarity", shared: bool = False,
                    pixels: int = DEFAULT_PIXELS) -> str:
    try:
        text = provenance_text(state, model, kind, shared, pixels)
    except Exception as exc:  # the plot shows the error itself; the line must never break the page
        text = str(exc)
    return f'<div class="bx-provenance" style="font-size:11px;color:#555;overflow-wrap:anywhere;line-height:1.3">{esc(text, 1000)}</div>'


def provenance_pane(state: Any, model: str | None = None, kind: str = "similarity", *, shared: bool = False,
                    pixels: int = DEFAULT_PIXELS, **pane_options: Any):
    """Panel HTML pane: the escaped provenance line of a plot, updated with the state."""
    import panel as pn

    deps = ACTIVE + KIND_DEPS[kind] + (MODEL if model is None else ()) + (COMPARE if shared else ())

    def render(*_: Any) -> str:
        return provenance_html(state, model, kind, shared, pixels)

    pane_options.setdefault("sizing_mode", "stretch_width")
    pane_options.setdefault("margin", (0, 10))
    return pn.pane.HTML(param.bind(render, *[state.param[p] for p in dict.fromkeys(deps)]), **pane_options)


def provenance_hook(state: Any, model: str | None = None, kind: str = "similarity", shared: bool = False,
                    pixels: int = DEFAULT_PIXELS):
    """A HoloViews plot hook recording the provenance in the Bokeh figure's ``tags``."""

    def hook(plot: Any, element: Any) -> None:
        try:
            d = provenance_dict(state, model, kind, shared, pixels)
        except Exception:
            return
        tags = [t for t in (plot.state.tags or []) if not (isinstance(t, dict) and "provenance" in t)]
        plot.state.tags = [*tags, {"provenance": d}]

    return hook


def feed_provenance_hook(feed: Any):
    """A plot hook recording the provenance of what a feed-driven view shows (``value['provenance']``)
    in the Bokeh figure's ``tags``."""

    def hook(plot: Any, element: Any) -> None:
        d = feed.value.get("provenance")
        if not d:
            return
        tags = [t for t in (plot.state.tags or []) if not (isinstance(t, dict) and "provenance" in t)]
        plot.state.tags = [*tags, {"provenance": d}]

    return hook
