"""Render benchmark: the full 2N×2N similarity heatmap of N pairs (default 5,000: 10,000×10,000).

Measured in one run, as ratios to the bare similarity computation (``similarity_matrix`` of the
same embeddings, the least any view of the matrix must cost):

- first render: ExplorerState + ``similarity_heatmap`` → Bokeh plot, the plot size the browser
  reports, and the document Bokeh's server sends (a PULL-DOC-REPLY message);
- re-render on zoom (``RangeXY`` events at several zoom levels), on switching mean/max
  aggregation and on moving the gap slider (α): server time and the PATCH-DOC message sent;
- the scatter of N pairs with N similarity-coloured edges (PCA, rasterized) for comparison.

Numba compilation of datashader's kernels (once per server process) is done in an untimed
warm-up on a smaller matrix. Bytes are the Bokeh protocol messages exactly as the server would send them over the websocket
(header + metadata + content + binary buffers), compared with sending the raw float32 matrix.
No browser is involved: client-side drawing time is not included.

    .venv/bin/python benchmarks/render.py [--pairs 5000] [--dim 512] [--size 560]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def synthetic_source(n: int, dim: int, seed: int = 0):
    from explorer.embeddings import Embeddings
    from explorer.pairs import PairSet
    from explorer.sources import Source

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim)).astype(np.float32)
    which = rng.integers(0, 50, n)
    gap = np.zeros(dim, np.float32)
    gap[0] = 1.5
    x = centres[which] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32) + gap
    y = centres[which] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32) - gap
    pairs = PairSet.build([f"caption {i} of cluster {c}" for i, c in enumerate(which)], None, name="bench", recipe=f"synthetic:{n}x{dim}")
    emb = Embeddings.from_arrays(x, y, model="synthetic", logit_scale=100.0)
    return Source(pairs.recipe, "bench", pairs, {"synthetic": emb})


def bare_similarity(e, repeat: int) -> tuple[float, int]:
    """(best seconds of `repeat` bare 2N×2N similarity computations, bytes of that float32 matrix):
    the reference every ratio of the render and serve benchmarks divides by."""
    from explorer.analysis.similarity import similarity_matrix

    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        s = similarity_matrix(e.image, e.text, dtype=np.float32)
        times.append(time.perf_counter() - t)
        del s
        gc.collect()
    return min(times), 4 * (2 * e.n) ** 2


def message_bytes(msg) -> int:
    return len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json) + sum(len(b.to_bytes()) for b in msg.buffers)


def streams_of(plot, kind: str):
    return [s for s in plot.streams if type(s).__name__ == kind]


class Session:
    """A rendered plot in a Bokeh document, recording the change events a server would send."""

    def __init__(self, obj, size: int):
        import holoviews as hv
        from bokeh.document import Document
        from bokeh.protocol import Protocol

        self.protocol = Protocol()
        self.plot = hv.renderer("bokeh").get_plot(obj)
        for s in streams_of(self.plot, "PlotSize"):  # what the browser reports once laid out
            s.event(width=size, height=size, scale=1.0)
        self.doc = Document()
        self.doc.add_root(self.plot.state)
        self.first_bytes = message_bytes(self.protocol.create("PULL-DOC-REPLY", "1", self.doc))
        self.events: list = []
        self.doc.on_change(self.events.append)

    def patch(self, action) -> tuple[float, int]:
        """(seconds, bytes of the PATCH-DOC message) for one state change."""
        self.events.clear()
        t = time.perf_counter()
        action()
        dt = time.perf_counter() - t
        nbytes = message_bytes(self.protocol.create("PATCH-DOC", list(self.events))) if self.events else 0
        return dt, nbytes


def zoom(plot, x_range, y_range) -> None:
    """What one pan/zoom in the browser does: every RangeXY stream of the plot updated, one refresh."""
    import holoviews as hv

    ranges = streams_of(plot, "RangeXY")
    for r in ranges:
        r.update(x_range=x_range, y_range=y_range)
    hv.streams.Stream.trigger(ranges)


def image_shape(plot) -> tuple[int, ...]:
    for r in plot.state.renderers:
        if type(getattr(r, "glyph", None)).__name__ == "Image":
            return tuple(np.asarray(r.data_source.data["image"][0]).shape)
    return ()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--size", type=int, default=560, help="plot frame size in pixels")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the bare similarity computation (best taken)")
    ap.add_argument("--no-scatter", action="store_true")
    args = ap.parse_args(argv)

    import holoviews as hv

    hv.extension("bokeh")
    from explorer.state import ExplorerState
    from explorer.views.heatmap import similarity_heatmap
    from explorer.views.scatter import projection_scatter

    n, size = args.pairs, args.size
    src = synthetic_source(n, args.dim)
    e = src.embeddings["synthetic"]
    print(f"{n} pairs × {args.dim} dims → {2 * n}×{2 * n} matrix; plot frame {size}×{size} px")

    # warm-up, not timed: imports and numba compilation of datashader's kernels (once per server
    # process), on a smaller matrix through the same steps
    wn = min(n, 2000)
    small = ExplorerState(synthetic_source(wn, 16), datashade_above=100, aggregation="max")
    warm = Session(similarity_heatmap(small, size=size), size)
    for lo, hi in [(0, wn), (wn - wn // 10, wn + wn // 10), (wn - 50, wn + 50), (0, 2 * wn)]:
        warm.patch(lambda lo=lo, hi=hi: zoom(warm.plot, (lo - 0.5, hi - 0.5), (lo - 0.5, hi - 0.5)))
    warm.patch(lambda: setattr(small, "aggregation", "mean"))
    warm.patch(lambda: zoom(warm.plot, (-0.5, wn - 0.5), (-0.5, wn - 0.5)))
    warm.patch(lambda: setattr(small, "alpha", 0.5))
    if not args.no_scatter:
        small.alpha = 0.0
        warm = Session(projection_scatter(small, size=size), size)
        warm.patch(lambda: zoom(warm.plot, (-0.1, 0.1), (-0.1, 0.1)))

    t_sim, raw_bytes = bare_similarity(e, args.repeat)

    rows: list[tuple[str, float, int]] = []
    state = ExplorerState(src, aggregation="max")
    t = time.perf_counter()
    sess = Session(similarity_heatmap(state, size=size), size)
    rows.append(("first render (incl. similarity)", time.perf_counter() - t, sess.first_bytes))
    shape = image_shape(sess.plot)

    t = time.perf_counter()
    Session(similarity_heatmap(state, size=size), size)  # matrix cached in the state
    rows.append(("first render (matrix cached)", time.perf_counter() - t, sess.first_bytes))

    zooms = [(0, n), (n - 500, n + 500), (n - 50, n + 50), (0, 2 * n)]
    for lo, hi in zooms:
        dt, b = sess.patch(lambda lo=lo, hi=hi: zoom(sess.plot, (lo - 0.5, hi - 0.5), (lo - 0.5, hi - 0.5)))
        rows.append((f"zoom to {hi - lo}×{hi - lo} cells", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "aggregation", "mean"))
    rows.append(("switch max → mean (full view)", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "alpha", 0.5))
    rows.append(("gap slider α=0.5 (new matrix)", dt, b))

    if not args.no_scatter:
        state.alpha = 0.0
        t = time.perf_counter()
        sc = Session(projection_scatter(state, size=size), size)
        kind = "rasterized" if sc.plot.state.select({"type": __import__("bokeh.models", fromlist=["Segment"]).Segment}) == [] else "glyphs"
        rows.append((f"scatter, {n} edges (PCA, {kind})", time.perf_counter() - t, sc.first_bytes))
        sranges = streams_of(sc.plot, "RangeXY")
        df = state.projection_coords()
        cx, cy = float(df.x.median()), float(df.y.median())
        w = float(df.x.std())
        dt, b = sc.patch(lambda: zoom(sc.plot, (cx - w, cx + w), (cy - w, cy + w)))
        rows.append(("scatter zoom" + ("" if sranges else " (client-side only)"), dt, b))

    print(f"bare similarity computation: {t_sim * 1000:.0f} ms (best of {args.repeat}); raw float32 matrix {raw_bytes / 1e6:.0f} MB")
    print(f"rendered image grid: {shape}")
    print(f"{'step':42s} {'server ms':>10s} {'× sim':>7s} {'bytes sent':>12s} {'÷ raw matrix':>13s}")
    for name, dt, b in rows:
        print(f"{name:42s} {dt * 1000:10.0f} {dt / t_sim:7.2f} {b:12,d} {b / raw_bytes:13.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
