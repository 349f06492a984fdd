"""The page frame, configured so that nothing in it fetches from the internet.

Panel's Fast and Material designs pull web fonts from fonts.googleapis.com; the Bootstrap
template's CSS and JS are bundled with Panel and served by the app itself (checked by the browser
tests, which record every request the page makes). Bokeh's JS comes from the server's own
``/static`` route (Panel's default for ``panel serve``), never a CDN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn

#: small CSS for the explorer's own HTML fragments (cards, tables, status line)
CSS = """
.bx-numbers-table, .bx-compare-table {border-collapse: collapse; font-size: 12px}
.bx-numbers-table td, .bx-numbers-table th, .bx-compare-table td, .bx-compare-table th {border: 1px solid #ddd; padding: 2px 6px}
.bx-numbers-table td:nth-child(n+2) {text-align: right; font-variant-numeric: tabular-nums}
.bx-status {font-size: 12px; color: #555; min-height: 1.2em; overflow-wrap: anywhere}
.bx-status.error {color: #b00020}
.bx-faithfulness-table td:nth-child(2) {text-align: right; font-variant-numeric: tabular-nums}
.bx-faithfulness-all table {border-collapse: collapse; font-size: 12px}
.bx-faithfulness-all td, .bx-faithfulness-all th {border: 1px solid #ddd; padding: 2px 6px}
"""

#: Bokeh's checkbox label is a <div> beside the <input>, so clicking the label does nothing. This
#: stretches the (invisible) input over the whole widget and draws the box in front of the label,
#: so the label toggles it too; keyboard focus and Space still work on the real input.
CHECKBOX_CSS = """
:host { position: relative; }
input[type="checkbox"] { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0; cursor: pointer; z-index: 1; }
.bk-label { position: relative; padding-left: 1.5em; cursor: pointer; user-select: none; }
.bk-label::before { content: ""; position: absolute; left: 0; top: 50%; width: 1em; height: 1em; transform: translateY(-50%);
  box-sizing: border-box; border: 1px solid #888; border-radius: 0.25em; background: #fff; }
input[type="checkbox"]:checked + .bk-label::before { background: #0d6efd; border-color: #0d6efd; }
input[type="checkbox"]:checked + .bk-label::after { content: ""; position: absolute; left: 0.36em; top: 50%; width: 0.28em; height: 0.55em;
  transform: translateY(-65%) rotate(45deg); border: solid #fff; border-width: 0 0.13em 0.13em 0; }
input[type="checkbox"]:focus-visible + .bk-label::before { outline: 2px solid #86b7fe; outline-offset: 1px; }
input[type="checkbox"]:disabled + .bk-label { opacity: 0.5; cursor: default; }
"""

_configured = False


def configure_panel() -> None:
    """Load the Panel/HoloViews extensions once (Bokeh backend, no CDN, threaded callbacks on servers)."""
    global _configured
    if _configured:
        return
    import holoviews as hv

    hv.extension("bokeh", logo=False)
    pn.extension(raw_css=[CSS], notifications=False, design="bootstrap")
    _configured = True


def clickable_checkbox(widget: Any) -> Any:
    """Give a pn.widgets.Checkbox a clickable label (CHECKBOX_CSS); returns the widget."""
    widget.stylesheets = [*widget.stylesheets, CHECKBOX_CSS]
    return widget


def offline_template(title: str, sidebar: Sequence[Any], main: Sequence[Any], header: Sequence[Any] = ()) -> pn.template.BootstrapTemplate:
    """A BootstrapTemplate with the given sidebar and main area (all resources served locally)."""
    return pn.template.BootstrapTemplate(
        title=title,
        sidebar=list(sidebar),
        main=list(main),
        header=list(header),
        sidebar_width=330,
        header_background="#2f4f6f",
    )
