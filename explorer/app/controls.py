"""The sidebar: widgets generated from the parameters of the state's parts, in labelled groups.

Widgets come from the parameters (``pn.Param``), so a notebook user who sets ``state.gap.alpha``
sees the slider move and vice versa. Sliders are throttled (the views recompute when the mouse
is released, not on every pixel). The model menu is filled from the opened source.
"""

from __future__ import annotations

from typing import Any

import panel as pn

from .template import clickable_checkbox

#: colour maps offered for the similarity heatmap (colorcet / Bokeh names)
SEQUENTIAL_CMAPS = ["fire", "kbc", "bmy", "kgy", "gray", "blues", "viridis", "inferno", "magma", "cividis"]
DIVERGING_CMAPS = ["coolwarm", "bwy", "bkr", "gwv", "cwr"]
EDGE_CMAPS = ["viridis", "fire", "bmy", "kbc", "coolwarm", "inferno", "cividis"]

#: (group title, part, parameters, widget overrides)
GROUPS: list[tuple[str, str, list[str], dict[str, Any]]] = [
    ("Pairs", "data", ["caption_filter", "filter_kind", "filter_mode", "seed"], {
        "caption_filter": {"type": pn.widgets.TextInput, "placeholder": "words, e.g. dog frisbee (Enter)", "name": "caption filter"},
        "filter_kind": {"type": pn.widgets.RadioButtonGroup, "name": "match"},
        "filter_mode": {"type": pn.widgets.RadioButtonGroup, "name": "terms"},
        "seed": {"type": pn.widgets.IntInput},
    }),
    ("Modality gap", "gap", ["alpha", "renormalize", "loss_variant", "batch_size"], {
        "alpha": {"type": pn.widgets.FloatSlider, "step": 0.01, "throttled": True, "name": "close the gap (α)"},
        "renormalize": {"type": pn.widgets.Checkbox, "name": "re-normalise after closing"},
        "loss_variant": {"type": pn.widgets.RadioButtonGroup, "name": "loss"},
        "batch_size": {"type": pn.widgets.IntInput, "name": "loss batch size"},
    }),
    ("Clusters", "order", ["cluster", "cluster_block", "k", "optimal_order"], {
        "cluster": {"type": pn.widgets.Checkbox, "name": "cluster matrix by similarity"},
        "cluster_block": {"type": pn.widgets.Select, "name": "cluster the block"},
        "k": {"type": pn.widgets.IntSlider, "throttled": True, "name": "clusters (k)"},
        "optimal_order": {"type": pn.widgets.Checkbox, "name": "optimal leaf order"},
    }),
    ("Projection", "projection", ["projection", "projection_mode", "x_component", "y_component", "point_color", "faithfulness_k"], {
        "projection": {"type": pn.widgets.RadioButtonGroup},
        "projection_mode": {"type": pn.widgets.Select, "name": "mode"},
        "x_component": {"type": pn.widgets.IntInput, "name": "x component"},
        "y_component": {"type": pn.widgets.IntInput, "name": "y component"},
        "point_color": {"type": pn.widgets.Select, "name": "colour points by"},
        "faithfulness_k": {"type": pn.widgets.IntInput, "name": "neighbours (faithfulness)"},
    }),
    ("Appearance", "look", ["aggregation", "pair_diagonal", "color_range", "cmap", "diverging_cmap", "edge_cmap", "datashade_above"], {
        "aggregation": {"type": pn.widgets.RadioButtonGroup, "name": "heatmap pixels show"},
        "pair_diagonal": {"type": pn.widgets.Checkbox, "name": "draw the matched-pair diagonal when zoomed out"},
        "color_range": {"type": pn.widgets.RadioButtonGroup, "name": "heatmap colour range (data = p1–p99 zoomed out, visible = of the cells on screen)"},
        "cmap": {"type": pn.widgets.Select, "options": SEQUENTIAL_CMAPS, "name": "similarity colours"},
        "diverging_cmap": {"type": pn.widgets.Select, "options": DIVERGING_CMAPS, "name": "difference colours"},
        "edge_cmap": {"type": pn.widgets.Select, "options": EDGE_CMAPS, "name": "pair edge colours"},
        "datashade_above": {"type": pn.widgets.IntInput, "name": "rasterize scatter above (pairs)"},
    }),
]


def _with_current(options: list[str], value: str) -> list[str]:
    return options if value in options else [value, *options]


def param_group(part: Any, parameters: list[str], widgets: dict[str, Any]) -> pn.Param:
    """Widgets for `parameters` of one part of the state (only those it has)."""
    present = [p for p in parameters if p in part.param]
    specs = {}
    for p in present:
        spec = dict(widgets.get(p, {}))
        if "options" in spec:  # keep a value set elsewhere (notebook, CLI) selectable
            spec["options"] = _with_current(list(spec["options"]), str(getattr(part, p)))
        if spec:
            specs[p] = spec
    for p in present:  # every widget as wide as the card, never wider
        specs.setdefault(p, {}).update(sizing_mode="stretch_width", margin=(5, 5))
    group = pn.Param(part, parameters=present, widgets=specs, show_name=False, sizing_mode="stretch_width", margin=0)
    for w in group.select(pn.widgets.Checkbox):
        clickable_checkbox(w)
    return group


def sample_widget(data: Any) -> pn.widgets.IntInput:
    """Sample size (0 = all pairs), linked both ways to ``data.sample_size`` (None = all)."""
    w = pn.widgets.IntInput(label="sample size (0 = all pairs)", value=int(data.sample_size or 0), start=0, step=100,
                            sizing_mode="stretch_width")

    def to_state(event: Any) -> None:
        v = int(event.new or 0)
        data.sample_size = v if v > 0 else None

    def to_widget(event: Any) -> None:
        w.value = int(event.new or 0)

    w.param.watch(to_state, "value")
    data.param.watch(to_widget, "sample_size")
    return w


def safe_multichoice(name: str, options: list[str], value: list[str], **kwargs: Any) -> pn.widgets.MultiChoice:
    """A MultiChoice whose labels are HTML-escaped: Bokeh's MultiChoice (Choices.js with
    allowHTML) renders option labels as HTML, and model names and specs are untrusted text."""
    import html

    labels = {html.escape(str(o), quote=True): o for o in options}
    return pn.widgets.MultiChoice(label=name, options=labels, value=[v for v in value if v in options], **kwargs)


def model_widget(state: Any, names: list[str]) -> pn.widgets.Select:
    """The model shown on the Explore page, linked to ``model.active_model``."""
    choice = state.model
    value = choice.active_model if choice.active_model in names else (names[0] if names else None)
    w = pn.widgets.Select(label="model", options=list(names), value=value, sizing_mode="stretch_width")
    if value is not None and choice.active_model != value:
        choice.active_model = value
    w.link(choice, value="active_model", bidirectional=True)
    return w


def sidebar_groups(state: Any) -> list[Any]:
    """Sample widget + one card per parameter group."""
    out: list[Any] = []
    for title, part, params, widgets in GROUPS:
        group = param_group(getattr(state, part), params, widgets)
        body = [group]
        if title == "Pairs":
            from .filter_feedback import filter_count

            counter = filter_count(state, group)  # the matches of the text typed so far
            body = [sample_widget(state.data), group, *([counter.pane] if counter is not None else [])]
        out.append(pn.Card(*body, title=title, collapsed=title in ("Appearance",), sizing_mode="stretch_width"))
    return out
