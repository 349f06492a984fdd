"""The page frame, configured so that nothing in it fetches from the internet.

Panel's Fast and Material designs pull web fonts from fonts.googleapis.com; the Bootstrap
template's CSS and JS are bundled with Panel and served by the app itself (checked by the browser
tests, which record every request the page makes). Bokeh's JS comes from the server's own
``/static`` route (Panel's default for ``panel serve``), never a CDN.
"""

from __future__ import annotations

from typing import Any, Sequence

import panel as pn

#: small CSS for the explorer's own HTML fragments (cards, tables, status line)
CSS = """
.bx-numbers-table, .bx-compare-table {border-collapse: collapse; font-size: 12px}
.bx-numbers-table td, .bx-numbers-table th, .bx-compare-table td, .bx-compare-table th {border: 1px solid #ddd; padding: 2px 6px}
.bx-numbers-table td:nth-child(n+2) {text-align: right; font-variant-numeric: tabular-nums}
.bx-status {font-size: 12px; color: #555; min-height: 1.2em; overflow-wrap: anywhere}
.bx-status.error {color: #b00020}
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
