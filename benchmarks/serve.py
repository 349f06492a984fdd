"""Serve benchmark: what the served explorer costs, page-wide and across sessions.

benchmarks/scale.py measures single views from 5,000 to 1,000,000 pairs. This measures

1. one session's whole Explore page (every view: heatmap, scatter with N edges, difference
   heatmap, numbers, landscape, histograms, clusters) built from a ``synthetic:N`` source: server
   time and the document Bokeh sends to the browser, then typical interactions (gap slider,
   caption filter, clustering, model switch): server time and PATCH-DOC bytes, as ratios to one
   pass over the embeddings; and a second session's page (the data shared through the memo);
2. with ``--sessions`` (and Debian's chromium): a real ``python -m explorer serve`` with real
   browser sessions opened and closed one after another: the server's RSS after 1, 10 and 30
   sessions and once they are released, and the second session's open time as a ratio to the
   first's;
3. the HTTP side (page HTML and every script it loads, all local) and the thumbnail endpoint.

No browser for part 1: client-side drawing time is not included.

    .venv/bin/python benchmarks/serve.py [--pairs 5000] [--dim 512] [--sessions 30] [--no-http]
"""

from __future__ import annotations

import argparse
import re
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

from common import CHROMIUM, CHROMIUM_ARGS, Session, one_pass, rss_gb, start_server  # noqa: E402


def start(spec: str, store: str, lifetime: float = 1.0) -> tuple[subprocess.Popen, str]:
    return start_server(spec, store, "--session-lifetime", str(lifetime))


def wait_for_app(page, timeout_ms: int = 300_000) -> None:
    for sel in (".bx-heatmap canvas", ".bx-scatter canvas", ".bx-numbers .bx-numbers-table"):
        page.wait_for_selector(sel, state="attached", timeout=timeout_ms)


def settle(pid: int, seconds: float = 6.0) -> float:
    """The server's RSS once closed sessions are released (it polls a few seconds)."""
    time.sleep(seconds)
    return rss_gb(pid)


def sessions_side(spec: str, n_sessions: int) -> list[str]:
    """RSS of a real server as browser sessions come and go, and open times (see docstring)."""
    from playwright.sync_api import sync_playwright

    out = []
    with tempfile.TemporaryDirectory() as store:
        proc, base = start(spec, store)
        try:
            rss0 = rss_gb(proc.pid)
            opens, rss = [], {}
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                for i in range(1, n_sessions + 1):
                    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
                    page = ctx.new_page()
                    t = time.perf_counter()
                    page.goto(base + "/")
                    wait_for_app(page)
                    opens.append(time.perf_counter() - t)
                    ctx.close()
                    if i in (1, 10, n_sessions):
                        rss[i] = settle(proc.pid)
                browser.close()
            out.append(f"server RSS: started {rss0:.2f} GB; " + "; ".join(f"after {i} session(s) (closed, released) {v:.2f} GB"
                                                                        for i, v in rss.items()))
            per = (rss[n_sessions] - rss[1]) / max(n_sessions - 1, 1)
            out.append(f"RSS after {n_sessions} sessions / after the first = {rss[n_sessions] / rss[1]:.3f} "
                       f"({per * 1000:+.1f} MB per further session)")
            out.append(f"page open (browser, until heatmap, scatter and numbers are drawn): first {opens[0]:.2f} s, "
                       f"second {opens[1]:.2f} s (ratio {opens[1] / opens[0]:.2f}), median of the rest {np.median(opens[2:]):.2f} s")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def http_side(spec: str) -> list[tuple[str, float, int]]:
    """Page HTML and its static resources from a real server (bytes and time per request)."""
    with tempfile.TemporaryDirectory() as store:
        proc, base = start(spec, store)
        try:
            t = time.perf_counter()
            with urllib.request.urlopen(base + "/", timeout=60) as r:
                html = r.read()
            rows = [("page HTML (session created)", time.perf_counter() - t, len(html))]
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
    ap.add_argument("--sessions", type=int, default=0, help="real browser sessions to open and close one after another (0: none)")
    ap.add_argument("--no-http", action="store_true", help="skip starting a real server")
    args = ap.parse_args(argv)

    import holoviews as hv

    hv.extension("bokeh")
    from explorer.app.explorer import Explorer
    from explorer.state import ExplorerState

    n = args.pairs
    spec = f"synthetic:{n}:{args.dim}"
    print(f"{spec}: {n} pairs × {args.dim} dims, 2 models; plot frames {args.size} px")
    # untimed warm-up: imports, numba compilation, Panel/HoloViews first-use costs
    warm = Session(Explorer(source=f"synthetic:1500:{args.dim}", datashade_above=100).main(), args.size)
    del warm

    rows: list[tuple[str, float, int]] = []
    state = ExplorerState(source=spec)
    floor = one_pass(state.space())
    t = time.perf_counter()
    ex = Explorer(state=state)  # opens, warms up and builds the pages (at once here)
    sess = Session(ex.main(), args.size)
    rows.append(("Explore page: data + views (first session)", time.perf_counter() - t, sess.first_bytes))
    t = time.perf_counter()
    again = Session(Explorer(source=spec).main(), args.size)  # a second session: its own state, the data shared
    rows.append(("Explore page of a second session (data shared)", time.perf_counter() - t, again.first_bytes))
    del again
    for name, action in [
        ("gap slider α=0.5 (every view updates)", lambda: setattr(state.gap, "alpha", 0.5)),
        ("gap slider back to α=0", lambda: setattr(state.gap, "alpha", 0.0)),
        ("caption filter 'golden' (plots rebuilt)", lambda: setattr(state.data, "caption_filter", "golden")),
        ("caption filter cleared (plots rebuilt)", lambda: setattr(state.data, "caption_filter", "")),
        ("cluster ordering on (k=10)", lambda: setattr(state.order, "cluster", True)),
        ("model switch", lambda: setattr(state.model, "active_model", state.model_names()[1])),
    ]:
        dt, b = sess.patch(action)
        rows.append((name, dt, b))

    with tempfile.TemporaryDirectory() as tmp:
        rows += thumbnail_side(Path(tmp))
    if not args.no_http:
        rows += http_side(f"synthetic:300:{min(args.dim, 32)}")
    print(f"one pass over the 2N×D embeddings: {floor * 1000:.1f} ms")
    print(f"{'step':50s} {'server ms':>10s} {'× pass':>8s} {'bytes sent':>13s}")
    for name, dt, b in rows:
        print(f"{name:50s} {dt * 1000:10.1f} {dt / floor:8.1f} {b:13,d}")
    if args.sessions:
        if not CHROMIUM.exists():
            print("sessions: skipped (needs Debian's chromium at /usr/bin/chromium)")
        else:
            for line in sessions_side(spec, max(args.sessions, 3)):
                print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
