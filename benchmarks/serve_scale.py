"""Served-app scale benchmark: a real ``python -m explorer serve --source synthetic:N`` in Chromium.

benchmarks/scale.py times each view's server work in one process; this measures what a user of
the served app sees at N pairs (default 1,000,000 × 512 dims): seconds from opening the page
until each view shows its data for all N pairs (the heatmap, the PCA scatter with N pair edges,
the numbers' first answer and R@k), then the same for a zoom, the gap slider to α = 1, a caption
filter to ~1 % and back, and clustering on (with what the progress bar said meanwhile); and the
server's peak RSS. A view counts as showing a setting when its Bokeh figure's provenance tags
(written when the data are drawn) name it; the numbers when their table does. Screenshots of
each step go to --shots.

The store entry of the source is generated first in a separate process (minutes at a million
pairs, reported, not counted; kept in --store for the next run), so the server opens it the way
a user's second visit would. Debian's chromium and the playwright package are needed (make
install-test system-deps).

    .venv/bin/python benchmarks/serve_scale.py [--pairs 1000000] [--dim 512] [--store DIR] [--shots DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

from explorer.app.server import WARMED_UP  # noqa: E402

#: every titled Bokeh figure: title, x range, provenance tags (Bokeh sends dicts as Maps) and
#: the window of its first image glyph (a heatmap tile)
FIGURES_JS = """() => { const plain = (v) => v instanceof Map ? Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]))
                              : Array.isArray(v) ? v.map(plain) : v;
  const out = [];
  for (const d of Bokeh.documents) for (const m of d.all_models) {
    if (!(m.title && m.title.text && m.x_range && m.renderers)) continue;
    const tag = (m.tags || []).map(plain).find(t => t && t.provenance);
    let tile = null;
    for (const r of m.renderers) { const data = r.data_source && r.data_source.data;
      const dw = data && (data instanceof Map ? data.get("dw") : data.dw);
      const x = data && (data instanceof Map ? data.get("x") : data.x);
      if (dw && dw.length) { tile = [x[0], dw[0]]; break; } }
    out.push({title: m.title.text, x: [m.x_range.start, m.x_range.end], prov: tag ? tag.provenance : null, tile: tile}); }
  return out; }"""


class Timeout(Exception):
    pass


def figure(page, prefix: str) -> dict | None:
    for f in page.evaluate(FIGURES_JS):
        if f["title"].startswith(prefix):
            return f
    return None


def shows(page, prefix: str, **want) -> bool:
    """The figure titled `prefix…` draws data whose provenance has every key=value of `want`
    (a callable value: a predicate)."""
    f = figure(page, prefix)
    if f is None or not f["prov"]:
        return False
    for k, v in want.items():
        got = f["prov"].get(k)
        if not (v(got) if callable(v) else got == v):
            return False
    return True


def numbers_text(page) -> str:
    loc = page.locator(".bx-numbers")  # inside the pane's shadow root: innerText of a host would not see it
    return loc.first.inner_text() if loc.count() else ""


def wait(fn, timeout: float, what: str, interval: float = 0.1) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if fn():
                return time.perf_counter() - t0
        except Exception:  # the page is being redrawn
            pass
        time.sleep(interval)
    raise Timeout(f"{what}: not within {timeout:.0f} s")


def progress_text(page) -> str:
    loc = page.locator(".bx-progress-line")
    return " ".join(t.strip() for t in loc.all_inner_texts() if t.strip())[:160] if loc.count() else ""


def vm(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def generate(spec: str, env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"from explorer.sources import open_source; open_source({spec!r})"],
                   cwd=ROOT, env=env, check=True)
    return time.perf_counter() - t


def drag_alpha_to_the_end(page) -> None:
    title = page.get_by_text(re.compile(r"close the gap \(α\)")).first
    group = title.locator("xpath=ancestor::*[contains(@class,'bk-input-group')][1]")
    handle = (group if group.count() else page).locator(".noUi-handle").first
    track = (group if group.count() else page).locator(".noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(tb["x"] + tb["width"] + 20, hb["y"] + hb["height"] / 2, steps=8)
    page.mouse.up()


def run(n: int, dim: int, store: Path, shots: Path, limit: float, warm: bool = True) -> list[tuple[str, float | str]]:
    from playwright.sync_api import sync_playwright

    spec = f"synthetic:{n}:{dim}"
    env = dict(os.environ, BIMODAL_EXPLORER_CACHE=str(store), PYTHONPATH=str(ROOT))
    rows: list[tuple[str, float | str]] = [("store entry generated or found (not counted)", generate(spec, env))]
    shots.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    proc, base = start_server(spec, store, *(() if warm else ("--no-warm",)), log=shots / "server.log")
    try:  # a server is started before its visitors come: its one-time warm-up is not counted
        wait(lambda: WARMED_UP in (shots / "server.log").read_text(errors="replace"), 120, "the server's warm-up")
    except Timeout:
        pass
    said = re.search(re.escape(WARMED_UP) + r" \((.*)\)", (shots / "server.log").read_text(errors="replace"))
    rows.append(("server started and warmed up (not counted)", time.perf_counter() - t))
    rows.append(("  its warm-up", said.group(1) if said else "?"))
    rows.append(("server RSS once started (GB)", vm(proc.pid, "VmRSS")))
    full = 2 * n

    def step(name: str, fn, timeout: float = limit, shot: str = "") -> None:
        try:
            rows.append((name, wait(fn, timeout, name)))
        except Timeout as exc:
            rows.append((name, f"timed out ({exc})"))
        if shot:
            page.screenshot(path=str(shots / f"{shot}.png"), full_page=True)

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            t0 = time.perf_counter()
            page.goto(base + "/", timeout=int(limit * 1000))
            rows.append(("page HTML received", time.perf_counter() - t0))
            since = time.perf_counter() - t0
            marks = {}
            checks = {
                "heatmap of all pairs": lambda: shows(page, "Similarity", n=n) and figure(page, "Similarity")["tile"] is not None,
                "PCA scatter with every pair edge": lambda: shows(page, "Projection", n=n),
                "gap / loss numbers": lambda: "gap distance" in numbers_text(page),
            }
            deadline = time.perf_counter() + limit
            while len(marks) < len(checks) and time.perf_counter() < deadline:
                for name, fn in checks.items():
                    if name not in marks:
                        try:
                            if fn():
                                marks[name] = time.perf_counter() - t0
                        except Exception:
                            pass
                time.sleep(0.1)
            for name in checks:
                rows.append((f"open: {name} shown (s after the page was asked for)", marks.get(name, f"not within {limit:.0f} s")))
            page.screenshot(path=str(shots / "01-open.png"), full_page=True)
            step("open: R@k shown", lambda: "R@1 image→text" in numbers_text(page), shot="02-recall")
            rows.append(("  (page HTML already took, included above)", since))

            # zoom: the wheel changes the range at once; the new tile follows from the server
            before = figure(page, "Similarity")["tile"]
            box = page.locator(".bx-heatmap canvas").first.bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
            page.mouse.wheel(0, -400)
            step("zoom: a new tile for the zoomed window", lambda: (lambda f: f["tile"] != before and abs(f["x"][1] - f["x"][0]) < full * 0.9)(
                figure(page, "Similarity")), shot="03-zoom")
            page.mouse.dblclick(box["x"] + 5, box["y"] + box["height"] + 40)  # nothing: keeps the page focused

            drag_alpha_to_the_end(page)
            step("α = 1: heatmap", lambda: shows(page, "Similarity", alpha=1.0))
            step("α = 1: scatter", lambda: shows(page, "Projection", alpha=1.0))
            step("α = 1: numbers (first answer)", lambda: re.search(r"after \(α=1\)", numbers_text(page)) is not None, shot="04-alpha")

            box_filter = page.get_by_placeholder(re.compile("dog frisbee"))
            box_filter.fill("golden")
            box_filter.press("Enter")
            few = lambda v: v is not None and 0 < v < n  # noqa: E731
            step("caption filter: heatmap", lambda: shows(page, "Similarity", n=few))
            step("caption filter: scatter", lambda: shows(page, "Projection", n=few))
            f = figure(page, "Similarity")
            rows.append(("  pairs kept by the filter", f"{f['prov'].get('n') if f and f['prov'] else '?'}"))
            page.screenshot(path=str(shots / "05-filter.png"), full_page=True)
            box_filter.fill("")
            box_filter.press("Enter")
            step("filter cleared: heatmap of all pairs again", lambda: shows(page, "Similarity", n=n))

            label = page.get_by_text("cluster matrix by similarity", exact=True).first  # the label does not toggle it
            label.evaluate_handle("e => e.getRootNode().querySelector('input[type=checkbox]')").as_element().click()
            seen = []

            def clustered() -> bool:
                p = progress_text(page)
                if p and (not seen or seen[-1] != p):
                    seen.append(p)
                return shows(page, "Similarity", ordering=lambda v: bool(v))

            step("clustering on: heatmap in cluster order", clustered, timeout=max(limit, 120), shot="06-clustered")
            rows.append(("  progress shown meanwhile", " | ".join(seen[:4]) or "(none seen)"))
            browser.close()
        rows.append(("server peak RSS (GB)", vm(proc.pid, "VmHWM")))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--store", default=os.environ.get("BIMODAL_EXPLORER_CACHE", str(Path.home() / ".cache" / "bimodal-explorer")))
    ap.add_argument("--shots", default=str(ROOT / "test-artifacts" / "serve-scale"))
    ap.add_argument("--limit", type=float, default=90.0, help="seconds each step may take before it is reported as timed out")
    ap.add_argument("--no-warm", dest="warm", action="store_false",
                    help="serve with --no-warm: the first page opens the source and computes its views itself")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print("needs Debian's chromium at /usr/bin/chromium (make system-deps)")
        return 1
    rows = run(args.pairs, args.dim, Path(args.store), Path(args.shots), args.limit, args.warm)
    print(f"\n== python -m explorer serve --source synthetic:{args.pairs}:{args.dim}{'' if args.warm else ' --no-warm'}, "
          "one Chromium session (2 cores)")
    for name, v in rows:
        print(f"{name:75s} {v:10.2f}" if isinstance(v, float) else f"{name:75s} {v}")
    print(f"screenshots and the server's log: {args.shots}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
