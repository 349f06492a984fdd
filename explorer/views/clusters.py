"""The clusters of a clustered heatmap: a legend that selects, and a gallery of examples.

The heatmap numbers every cluster with a tag beside its box (explorer.views.cluster_layout);
:func:`cluster_legend` gives each number its n-gram label and size, as buttons: clicking one
selects the cluster's pairs (``interaction.selected_pairs``, the only part views write; the
heatmap outlines their rows and the selection panel lists them). :func:`cluster_gallery` shows a
few example images per cluster (those nearest the cluster's mean image) with their captions.
Both compute off the event loop (explorer.views.feed); labels and captions are escaped.
"""

from __future__ import annotations

from typing import Any

from .cards import esc, truncate
from .feed import Feed, params_of

#: what the legend and the gallery depend on
DEPENDS = ("data", "order")
#: longest label on a legend button (the gallery shows it whole)
LEGEND_CHARS = 40


def depends(model: str | None) -> tuple[str, ...]:
    return DEPENDS + (("model.active_model",) if model is None else ())


def legend_entries(state: Any, model: str | None = None) -> list[dict[str, Any]]:
    """[{"cluster": c, "number": c + 1, "label", "size"}] of `model`'s clusters in display order
    ([] while clustering is off)."""
    m = state.resolve_model(model)
    o = state.ordering(m)
    if o is None:
        return []
    labels = state.cluster_labels(m)
    return [{"cluster": c, "number": c + 1, "label": labels[c] if c < len(labels) else "", "size": int(size)}
            for c, size in enumerate(o.sizes)]


def legend_button_label(entry: dict[str, Any]) -> str:
    """'3 · dog hotdog (12)' (a button's label is text, never HTML)."""
    return f"{entry['number']} · {truncate(entry['label'], LEGEND_CHARS)} ({entry['size']})"


def cluster_legend(state: Any, model: str | None = None):
    """Panel FlexBox of one button per cluster (number, label, size); a click selects its pairs."""
    import panel as pn

    feed = Feed(lambda: {"entries": legend_entries(state, model)}, params_of(state, depends(model)), empty=lambda: {"entries": []})
    box = pn.FlexBox(sizing_mode="stretch_width", css_classes=["bx-cluster-legend"], margin=(0, 5))
    note = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 5))

    def select(c: int) -> None:
        try:
            state.select_cluster(model, c)
        except Exception as exc:  # clustering switched off meanwhile: said where the items would be
            state.interaction.inspected = {"kind": "error", "message": f"could not select cluster {c + 1}: {exc}"}

    def render(*_: Any) -> None:
        entries = feed.value["entries"]
        buttons = []
        for e in entries:
            b = pn.widgets.Button(label=legend_button_label(e), color="light", margin=(2, 3), css_classes=["bx-cluster-button"],
                                  description=f"select the {e['size']} pairs of cluster {e['number']}: {truncate(e['label'], 200)}")
            b.on_click(lambda _e, c=e["cluster"]: select(c))
            buttons.append(b)
        box[:] = buttons
        if feed.error:
            note.object = f'<div style="font-size:12px;color:#b00020">{esc(feed.error)}</div>'
        elif entries:
            note.object = '<div style="font-size:12px;color:#555">Clusters (numbers as on the heatmap; click one to select its pairs):</div>'
        else:
            note.object = ""

    feed.param.watch(render, "version")
    render()
    column = pn.Column(note, box, sizing_mode="stretch_width", css_classes=["bx-cluster-legend-box"])
    column.feed = feed
    return column


def cluster_gallery(state: Any, model: str | None = None, per_cluster: int = 4, thumb: int = 96):
    """Panel pane: each cluster's number, n-gram label and size, and `per_cluster` example images
    with their captions (escaped HTML), computed off the event loop."""
    import panel as pn

    from .cards import cluster_gallery_html

    def compute() -> dict:
        m = state.resolve_model(model)
        o = state.ordering(m)
        if o is None:
            return {"html": cluster_gallery_html([], [], [])}
        examples = [[state.item("image", pid) for pid in ids] for ids in state.cluster_examples(m, per_cluster)]
        return {"html": cluster_gallery_html(state.cluster_labels(m), o.sizes, examples, thumb)}

    feed = Feed(compute, params_of(state, depends(model)), empty=lambda: {"html": '<div class="bx-clusters">…</div>'})

    def render(*_: Any) -> str:
        return feed.value["html"] if not feed.error else f'<div class="bx-clusters">{esc(feed.error)}</div>'

    pane = pn.pane.HTML(pn.bind(render, feed.param.version), sizing_mode="stretch_width")
    pane.feed = feed
    return pane
