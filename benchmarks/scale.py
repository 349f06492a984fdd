"""Scale benchmark: the explorer's views from 5,000 to 1,000,000 pairs, as ratios to one pass.

For each N (default 5,000, 100,000 and 1,000,000 pairs of ``synthetic:N:D``, two models), in a
fresh process each (so the peak RSS is that size's own): open the source, the first full
heatmap, zooms to 1,000² and 100² cells, the gap slider to α = 0.5, a caption filter to ~1 % of
the pairs, clustering on, a model switch, the first scatter (PCA, one edge per pair), UMAP of
the sample, and the numbers with R@k. Each step is the server time through the app's own view
stack (views, Feeds, the engine; computed at once as in a notebook, which upper-bounds the
served app's latency) and the bytes a browser would receive, printed with its ratio to one pass
over the shown pairs' 2N×D embeddings (the physical floor of an exact mean view). The first
open of a size generates its entry in the store (minutes at a million pairs; reported, not
counted). At 5,000 pairs the steps are also shown against the figures the scale-engine issue
measured before the engine (quoted, not re-run: that code is gone).

    .venv/bin/python benchmarks/scale.py [--pairs 5000,100000,1000000] [--dim 512] [--size 400]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import Session, one_pass, peak_rss_gb  # noqa: E402

#: benchmarks/serve.py --pairs 5000 --no-http and render.py, before the engine (issue "Scale engine")
BEFORE_5000 = {"first full heatmap": 7.7, "gap slider α=0.5": 10.7, "caption filter to ~1 %": 5.2, "clustering on": 6.5,
               "zoom to 1000² cells": 0.142, "zoom to 100² cells": 0.061}


def run_one(n: int, dim: int, size: int) -> dict:
    import holoviews as hv

    hv.extension("bokeh")
    from explorer.state import ExplorerState
    from explorer.views.heatmap import similarity_heatmap
    from explorer.views.numbers import numbers_pane
    from explorer.views.scatter import projection_scatter

    rows: list[tuple[str, float, int]] = []
    spec = f"synthetic:{n}:{dim}"
    t = time.perf_counter()
    from explorer.sources import open_source

    open_source(spec)  # generates the store entries the first time
    generated = time.perf_counter() - t
    # untimed warm-up on a small source: imports, numba compilation of datashader's kernels
    warm = ExplorerState(source=f"synthetic:3000:{dim}", datashade_above=100)
    Session(similarity_heatmap(warm, size=size), size)
    Session(projection_scatter(warm, size=size), size)
    warm.order.cluster = True
    warm.ordering()
    warm.cluster_labels()

    state = ExplorerState(source=spec, datashade_above=2000)
    t = time.perf_counter()
    state.source_data()
    state.active_indices()
    rows.append(("open the source", time.perf_counter() - t, 0))
    m = state.resolve_model()
    floor = one_pass(state.space(m))

    t = time.perf_counter()
    heat = similarity_heatmap(state, size=size)
    hm = Session(heat, size)
    rows.append(("first full heatmap", time.perf_counter() - t, hm.first_bytes))
    for cells in (1000, 100):  # what a RangeXY event of a zoom does
        a = n // 2
        dt, b = hm.patch(lambda a=a, cells=cells: heat.feed.request(x_range=(a - 0.5, a + cells - 0.5),
                                                                      y_range=(n + a - 0.5, n + a + cells - 0.5)))
        rows.append((f"zoom to {cells}² cells", dt, b))
    heat.feed.request(x_range=None, y_range=None)
    t = time.perf_counter()
    state.numbers(recall=False)  # the numbers pane's first answer
    rows.append(("gap / loss numbers (the pane's first answer, no R@k)", time.perf_counter() - t, 0))
    t = time.perf_counter()
    recall_method = state.numbers()["recall_method"]  # its second answer
    rows.append((f"R@1/5/10 before and after ({recall_method[:40]})", time.perf_counter() - t, 0))
    numbers = numbers_pane(state)  # follows the settings below (in 'all views')
    t = time.perf_counter()
    sc = Session(projection_scatter(state, size=size), size)
    rows.append((f"first scatter (PCA, {n:,} edges)", time.perf_counter() - t, sc.first_bytes))
    seen: list[float] = []
    heat.feed.param.watch(lambda e: seen.append(time.perf_counter()), "version")

    def settings(name: str, action) -> None:
        """A settings change: the heatmap's own latency (its new data published) and, in the same
        row's label, the time until every view of this process had computed (one thread here; the
        served app computes the views in parallel threads)."""
        seen.clear()
        t0 = time.perf_counter()
        dt, b = hm.patch(action)
        first = (seen[0] - t0) if seen else dt
        rows.append((f"{name} — heatmap (all views {dt * 1000:,.0f} ms)", first, b))

    settings("gap slider α=0.5", lambda: setattr(state.gap, "alpha", 0.5))
    state.gap.alpha = 0.0
    settings("caption filter to ~1 %", lambda: setattr(state.data, "caption_filter", "golden"))  # one adjective of 100
    rows[-1] = (rows[-1][0].replace("~1 %", f"~1 % ({int(state.active_indices().size):,} pairs)"), *rows[-1][1:])
    state.data.caption_filter = ""
    settings("clustering on (k=10), computed at the click", lambda: setattr(state.order, "cluster", True))
    settings("model switch (clustered), computed at the click", lambda: setattr(state.model, "active_model", state.model_names()[1]))
    state.model.active_model = state.model_names()[0]
    state.order.cluster = False
    # what the served app does after a page's first views (explorer.app.explorer.compute_ahead): the
    # orderings of every model under the current settings, in the background; k=12 so that none is
    # in the memo from the steps above
    state.order.k = 12
    t = time.perf_counter()
    from explorer.app.explorer import compute_ahead

    ahead = compute_ahead(state)
    rows.append((f"orderings computed ahead ({len(ahead)} models; background work after the first views)",
                 time.perf_counter() - t, 0))
    if ahead:
        settings("clustering on (k=12), computed ahead", lambda: setattr(state.order, "cluster", True))
        settings("model switch (clustered), computed ahead", lambda: setattr(state.model, "active_model", state.model_names()[1]))
        state.model.active_model = state.model_names()[0]
    state.order.cluster = False
    state.order.k = 10
    t = time.perf_counter()
    state.projection.projection = "UMAP"  # cached on disk after the first run of a size
    rows.append((f"UMAP of the sample ({state.projection_result().describe()[:60]}…)", time.perf_counter() - t, 0))
    del numbers
    return {"n": n, "dim": dim, "generated": generated, "floor": floor, "rows": rows, "peak_rss_gb": peak_rss_gb()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", default="5000,100000,1000000", help="comma-separated sizes")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--size", type=int, default=400, help="plot frame size in pixels (the app's)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(run_one(args.one, args.dim, args.size)))
        return 0
    for n in [int(x.replace("_", "")) for x in args.pairs.split(",") if x.strip()]:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--size", str(args.size)],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            return 1
        r = json.loads(lines[-1][7:])
        floor = r["floor"]
        print(f"\n== {n:,} pairs × {r['dim']} dims (synthetic, 2 models); one pass over the 2N×D embeddings = {floor * 1000:.0f} ms; "
              f"store entry generated in {r['generated']:.1f} s (first open only); peak RSS {r['peak_rss_gb']:.2f} GB")
        before = n == 5000
        print(f"{'step':70s} {'server ms':>10s} {'× pass':>8s} {'bytes sent':>12s}" + (f" {'before ms':>10s} {'÷ before':>9s}" if before else ""))
        for name, dt, b in r["rows"]:
            line = f"{name:70s} {dt * 1000:10.1f} {dt / floor:8.1f} {b:12,d}"
            if before:
                key = next((k for k in BEFORE_5000 if name.startswith(k[:12])), None)
                if key:
                    line += f" {BEFORE_5000[key] * 1000:10.0f} {dt / BEFORE_5000[key]:9.3f}"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
