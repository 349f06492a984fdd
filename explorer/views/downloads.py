"""Download buttons: the selected pairs, or one cluster, as parquet or CSV.

The file is :func:`explorer.exports.export_selection`'s table (pair id, id, caption, image
reference, shown, cluster and label, pair similarity as shown, projection x/y), built when the
button is clicked, in a worker thread, and named ``<source>_<model>_<selected-N|cluster-K>``.
A button is disabled, and says why, while there is nothing to download (no selection; clustering
off). A failed export downloads a short text file saying why and the button shows the sentence.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from ..exports import export_filename, selection_bytes

#: what the buttons depend on (their labels and whether they are enabled)
DEPENDS = ("interaction.selected_pairs", "order.cluster", "order.k", "model.active_model")
FORMATS = (("parquet", "parquet"), ("csv", "CSV"))


def download_callback(state: Any, fmt: str, what: Callable[[], dict], widget_ref: list, model: str | None = None):
    """An async FileDownload callback: the bytes of :func:`selection_bytes` for ``what()``
    (``{"pair_ids": [...]}`` or ``{"cluster": k}``), the widget's filename set to name them."""

    async def callback() -> io.BytesIO:
        kwargs = what()
        widget = widget_ref[0] if widget_ref else None
        try:
            count = len(kwargs["pair_ids"]) if "pair_ids" in kwargs else None
            name = export_filename(state, fmt, model=model, cluster=kwargs.get("cluster"), count=count)
            data = await asyncio.to_thread(selection_bytes, state, fmt, kwargs.get("pair_ids"), model=model, cluster=kwargs.get("cluster"))
        except Exception as exc:
            message = f"Could not export: {exc}"
            if widget is not None:
                widget.param.update(filename="export-error.txt", label=message[:120])
            return io.BytesIO((message + "\n").encode("utf-8"))
        if widget is not None:
            widget.filename = name
        return io.BytesIO(data)

    return callback


def _button(state: Any, fmt: str, what: Callable[[], dict], model: str | None):
    import panel as pn

    ref: list = []
    widget = pn.widgets.FileDownload(callback=download_callback(state, fmt, what, ref, model), filename=f"selection.{fmt}",
                                     label="Download", color="light", embed=False, auto=True, width=230, margin=(2, 5))
    ref.append(widget)
    return widget


def selection_downloads(state: Any, model: str | None = None):
    """Two buttons (parquet, CSV) downloading the selected pairs; disabled when none is selected."""
    import panel as pn

    buttons = [(_button(state, fmt, lambda: {"pair_ids": list(state.interaction.selected_pairs)}, model), label)
               for fmt, label in FORMATS]

    def refresh(*_: Any) -> None:
        n = len(state.interaction.selected_pairs)
        for widget, label in buttons:
            text = f"Download {n} selected pair{'s' if n != 1 else ''} ({label})" if n else f"{label}: select pairs to download them"
            widget.param.update(disabled=not n, label=text)

    state.interaction.param.watch(refresh, "selected_pairs")
    refresh()
    row = pn.Row(*(w for w, _ in buttons), css_classes=["bx-selection-downloads"], sizing_mode="stretch_width")
    row.buttons = [w for w, _ in buttons]
    return row


def cluster_downloads(state: Any, model: str | None = None):
    """A cluster number and two buttons (parquet, CSV) downloading that cluster's pairs; disabled
    while clustering is off. A number past the last cluster downloads the sentence saying so."""
    import panel as pn

    number = pn.widgets.IntInput(value=0, start=0, end=max(int(state.order.k) - 1, 0), width=80, margin=(2, 5),
                                 css_classes=["bx-cluster-number"])
    buttons = [(_button(state, fmt, lambda: {"cluster": int(number.value)}, model), label) for fmt, label in FORMATS]

    def refresh(*_: Any) -> None:
        on = bool(state.order.cluster)
        for widget, label in buttons:
            text = f"Download cluster {number.value} ({label})" if on else f"{label}: turn on clustering to download a cluster"
            widget.param.update(disabled=not on, label=text)
        number.disabled = not on

    def bound(event: Any) -> None:  # clusters are numbered 0..k-1
        last = max(int(event.new) - 1, 0)
        number.param.update(end=last, value=min(int(number.value), last))

    state.order.param.watch(refresh, "cluster")
    state.order.param.watch(bound, "k")
    number.param.watch(refresh, "value")
    refresh()
    row = pn.Row(pn.pane.HTML("cluster", margin=(8, 0, 0, 5)), number, *(w for w, _ in buttons), css_classes=["bx-cluster-downloads"],
                 sizing_mode="stretch_width")
    row.buttons = [w for w, _ in buttons]
    row.number = number
    return row
