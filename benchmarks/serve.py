"""Serve benchmark: what one browser session of the explorer costs, page-wide.

benchmarks/render.py measures single views (the heatmap, the scatter). This measures the whole
served Explore page, in one run, as ratios to the bare similarity computation of the same
embeddings (``similarity_matrix``, the least any view of the 2N×2N matrix costs):

1. one session's page: the Explorer built from an open source (every view of the Explore page:
   heatmap, scatter with N edges, difference heatmap, numbers, landscape, histograms), server time
   and the document Bokeh's server sends to the browser (a PULL-DOC-REPLY message), then the
   PATCH-DOC messages and server time of typical interactions: the gap slider, a caption filter,
   clustering, switching the model;
2. the HTTP side of a real ``python -m explorer serve``: the page HTML and every script and
   stylesheet it loads (all from the app's own server; fetched once per browser, then cached);
3. the thumbnail endpoint: a cold (decode + resize + PNG) and a warm (cached) request.

No browser: client-side drawing time is not included. Numba compilation of datashader's kernels
and the imports are done in an untimed warm-up.

    .venv/bin/python benchmarks/serve.py [--pairs 5000] [--dim 512] [--no-http]
"""

from __future__ import annotations

import argparse
import gc
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render import bare_similarity, message_bytes, synthetic_source  # noqa: E402  (same synthetic data as the render benchmark)


class PageSession:
    """A whole Panel page in a Bokeh document, recording the change events a server would send."""

    def __init__(self, viewable, size: int):
        from bokeh.document import Document
        from bokeh.protocol import Protocol

        self.protocol = Protocol()
        self.doc = Document()
        self.root = viewable.get_root(self.doc)
        self.doc.add_root(self.root)
        self.viewable, self.size, self._sized = viewable, size, set()
        self.report_sizes()
        self.first_bytes = message_bytes(self.protocol.create("PULL-DOC-REPLY", "1", self.doc))
        self.events: list = []
        self.doc.on_change(self.events.append)

    def report_sizes(self) -> None:
        """What the browser does once a new plot is laid out: it reports its size (PlotSize streams)."""
        import panel as pn

        for pane in self.viewable.select(pn.pane.HoloViews):
            for plot, _ in getattr(pane, "_plots", {}).values():
                for s in getattr(plot, "streams", []):
                    if type(s).__name__ == "PlotSize" and id(s) not in self._sized:
                        self._sized.add(id(s))
                        s.event(width=self.size, height=self.size, scale=1.0)

    def patch(self, action) -> tuple[float, int]:
        self.events.clear()
        t = time.perf_counter()
        action()
        self.report_sizes()  # plots rebuilt by the action render at their real size, as in a browser
        dt = time.perf_counter() - t
        nbytes = message_bytes(self.protocol.create("PATCH-DOC", list(self.events))) if self.events else 0
        return dt, nbytes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_npz(path: Path, src) -> None:
    e = next(iter(src.embeddings.values()))
    np.savez(path, image=np.asarray(e.image), text=np.asarray(e.text), captions=np.asarray(src.pairs.captions))


def http_side(npz: Path) -> list[tuple[str, float, int]]:
    """Page HTML and its static resources from a real server (bytes and time per request)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as store:
        env = dict(__import__("os").environ, BIMODAL_EXPLORER_CACHE=store, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port", str(port), "--source", f"npz:{npz}"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://localhost:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    t = time.perf_counter()
                    with urllib.request.urlopen(base + "/", timeout=60) as r:
                        html = r.read()
                    t_html = time.perf_counter() - t
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("server did not start")
                    time.sleep(0.5)
            rows = [("page HTML (session created)", t_html, len(html))]
            urls = re.findall(rb'(?:src|href)="([^"]+\.(?:js|css)[^"]*)"', html)
            total, t_all, n = 0, 0.0, 0
            for u in dict.fromkeys(urls):
                url = u.decode()
                if not url.startswith("http"):
                    url = base + "/" + url.lstrip("./").lstrip("/")
                t = time.perf_counter()
                with urllib.request.urlopen(url, timeout=60) as r:
                    total += len(r.read())
                t_all += time.perf_counter() - t
                n += 1
            external = [u for u in urls if re.match(rb"^(https?:)?//", u) and b"localhost" not in u]
            rows.append((f"{n} scripts/stylesheets ({len(external)} external)", t_all, total))
            return rows
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def thumbnail_side(tmp: Path) -> list[tuple[str, float, int]]:
    from PIL import Image

    from explorer import thumbnails
    from explorer.images import FileImages
    from explorer.pairs import PairSet

    rng = np.random.default_rng(0)
    names = []
    for i in range(20):
        Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(tmp / f"{i}.jpg", quality=85)
        names.append(f"{i}.jpg")
    pairs = PairSet.build([f"c{i}" for i in range(20)], FileImages(tmp, names), name="t", recipe="t")
    token = thumbnails.register(pairs)
    cold, warm, size = [], [], 0
    for i in range(20):
        t = time.perf_counter()
        png = thumbnails.thumbnail_for_path(f"/thumb/{token}/{i}.png")
        cold.append(time.perf_counter() - t)
        size = max(size, len(png))
        t = time.perf_counter()
        thumbnails.thumbnail_for_path(f"/thumb/{token}/{i}.png")
        warm.append(time.perf_counter() - t)
    return [("thumbnail, cold (640×480 JPEG → PNG)", float(np.median(cold)), size),
            ("thumbnail, warm (cached)", float(np.median(warm)), size)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--size", type=int, default=400, help="plot frame size the browser reports (the app uses 400)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-http", action="store_true", help="skip starting a real server")
    args = ap.parse_args(argv)

    from explorer.app.explorer import Explorer
    from explorer.state import ExplorerState

    n = args.pairs
    src = synthetic_source(n, args.dim)
    e = src.embeddings["synthetic"]
    print(f"{n} pairs × {args.dim} dims → {2 * n}×{2 * n} matrix; plot frames {args.size} px")

    # untimed warm-up: imports, numba compilation, Panel/HoloViews first-use costs
    wn = min(n, 1500)
    warm_src = synthetic_source(wn, 16)
    warm = PageSession(Explorer(state=ExplorerState(warm_src, datashade_above=100)).main(), args.size)
    del warm
    gc.collect()

    t_sim, raw_bytes = bare_similarity(e, args.repeat)

    rows: list[tuple[str, float, int]] = []
    state = ExplorerState(src)
    t = time.perf_counter()
    ex = Explorer(state=state)  # opens, warms up and builds the pages (synchronously here)
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    sess = PageSession(ex.main(), args.size)
    rows.append(("Explore page: data + views (first session)", t_build + time.perf_counter() - t, sess.first_bytes))
    t = time.perf_counter()
    again = PageSession(Explorer(state=state).main(), args.size)  # a second session: everything cached in the state
    rows.append(("Explore page, data cached (next session)", time.perf_counter() - t, again.first_bytes))
    del again
    dt, b = sess.patch(lambda: setattr(state, "alpha", 0.5))
    rows.append(("gap slider α=0.5 (every view updates)", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "alpha", 0.0))
    rows.append(("gap slider back to α=0", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "caption_filter", "7"))  # captions "caption 7 …" and "… cluster 7"
    rows.append((f"caption filter → {state.active_indices().size} pairs", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "caption_filter", ""))
    rows.append(("caption filter cleared (plots rebuilt)", dt, b))
    dt, b = sess.patch(lambda: setattr(state, "cluster", True))
    rows.append(("cluster ordering on (k=10)", dt, b))

    with tempfile.TemporaryDirectory() as tmp:
        rows += thumbnail_side(Path(tmp))
        if not args.no_http:
            npz = Path(tmp) / "bench.npz"
            write_npz(npz, synthetic_source(min(n, 300), 32))
            rows += http_side(npz)

    print(f"bare similarity computation: {t_sim * 1000:.0f} ms (best of {args.repeat}); raw float32 matrix {raw_bytes / 1e6:.0f} MB")
    print(f"{'step':46s} {'server ms':>10s} {'× sim':>8s} {'bytes sent':>13s} {'÷ raw matrix':>13s}")
    for name, dt, b in rows:
        print(f"{name:46s} {dt * 1000:10.1f} {dt / t_sim:8.2f} {b:13,d} {b / raw_bytes:13.5f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
