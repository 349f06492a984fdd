"""Browser tests: serve the explorer in a subprocess and drive Debian's Chromium with Playwright.

Never `playwright install`: the browser is /usr/bin/chromium (`make test` installs it with
apt-get). Without it every test here is skipped, saying so.

Servers (one per test module that asks, started on a free port, stopped at the end):
- `hostile_server`: ``panel serve apps/explorer_app.py --args --source amumo:<tmp export>`` on a small
  synthetic Amumo export with hostile captions and model names (tests/hostile_export.py);
  needs no model and no ../shared, and covers the ``panel serve`` entry point;
- `amumo_server`: ``python -m explorer serve --source amumo:../shared/.../MSCOCO-Val_size-100``
  (the four real models; skipped without ../shared);
- `default_server`: ``python -m explorer serve`` with no source: the embedded default.

Each server gets its own embedding store (BIMODAL_EXPLORER_CACHE) and one callback thread pool.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-dev-shm-usage"]
#: generous: CI has two cores shared with the rest of the suite
START_TIMEOUT = 120.0
LOAD_TIMEOUT_MS = 180_000

sys.path.insert(0, str(ROOT / "tests"))


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(reason="needs Debian's chromium at /usr/bin/chromium (make test installs it)"))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Expose each phase's report as item.rep_<phase> (fixtures keep logs of failed tests)."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str  # the page, e.g. http://localhost:PORT/explorer
    base: str  # http://localhost:PORT
    process: subprocess.Popen
    log: Path
    store: Path
    extra: dict = field(default_factory=dict)

    def log_text(self, limit: int | None = 4000) -> str:
        """The server's log so far (its last `limit` characters; None: all of it)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return text if limit is None else text[-limit:]


def start_server(cmd: list[str], page: str, tmp: Path, name: str) -> Server:
    """Run `cmd` (with {port} filled in) until `page` answers 200; returns the Server."""
    port = free_port()
    store = tmp / f"{name}-store"
    store.mkdir(parents=True, exist_ok=True)
    log = tmp / f"{name}.log"
    env = dict(os.environ, BIMODAL_EXPLORER_CACHE=str(store), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", BOKEH_LOG_LEVEL="warn")
    env.pop("BIMODAL_EXPLORER_SOURCES", None)
    fh = open(log, "wb")
    proc = subprocess.Popen([c.format(port=port) for c in cmd], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://localhost:{port}"
    server = Server(base + page, base, proc, log, store)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fh.close()
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log_text()}")
        try:
            with urllib.request.urlopen(server.url, timeout=10) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"server did not answer within {START_TIMEOUT:.0f}s:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Not per session: Playwright's sync API keeps an asyncio loop
    running in the main thread while it is open, which breaks later tests that run their own
    loop (tornado's AsyncHTTPTestCase in test_app.py and test_security.py)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Recorder:
    """What a page did: every request URL, console errors and uncaught exceptions, dialogs."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign_requests(self, base: str) -> list[str]:
        local = (base, base.replace("localhost", "127.0.0.1"), "data:", "blob:", "about:")
        return [u for u in self.requests if not u.startswith(local)]


@pytest.fixture
def open_page(browser):
    """open_page(url) -> (page, recorder): a fresh context per test, 1600×1100, events recorded."""
    contexts = []

    def _open(url: str, width: int = 1600, height: int = 1100):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.new_page()
        rec = Recorder()
        page.on("request", lambda r: rec.requests.append(r.url))
        page.on("console", lambda m: rec.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: rec.page_errors.append(str(e)))

        def on_dialog(d):
            rec.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)
        page.set_default_timeout(LOAD_TIMEOUT_MS)
        page.goto(url)
        return page, rec

    yield _open
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    from hostile_export import write_export

    tmp = tmp_path_factory.mktemp("hostile-app")
    export = write_export(tmp / "export")
    panel = str(Path(sys.executable).with_name("panel"))
    cmd = [panel, "serve", "apps/explorer_app.py", "--port", "{port}", "--num-threads", "2",
           "--allow-websocket-origin", "localhost:{port}", "--args", "--source", f"amumo:{export}", "--series", f"amumo:{export}"]
    if not Path(panel).exists():
        cmd = [sys.executable, "-m", "panel", *cmd[1:]]
    server = start_server(cmd, "/explorer_app", tmp, "hostile")
    server.extra["export"] = export
    yield server
    stop_server(server)


def serve_module(tmp_path_factory, name: str, *args: str):
    """``python -m explorer serve ARGS`` for a test module: yields the Server, stops it after."""
    tmp = tmp_path_factory.mktemp(f"{name}-app")
    server = start_server([sys.executable, "-m", "explorer", "serve", "--port", "{port}", "--num-threads", "2", *args], "/", tmp, name)
    yield server
    stop_server(server)


SHARED = Path(os.environ.get("BIMODAL_EXPLORER_SHARED", ROOT.parent / "shared")).resolve()


@pytest.fixture(scope="module")
def amumo_server(tmp_path_factory):
    folder = SHARED / "data" / "amumo" / "MSCOCO-Val_size-100"
    if not folder.is_dir():
        pytest.skip(f"needs {folder} (the project's ../shared data, present in CI, absent in a fresh clone)")
    tmp = tmp_path_factory.mktemp("amumo-app")
    server = start_server([sys.executable, "-m", "explorer", "serve", "--port", "{port}", "--num-threads", "2",
                           "--source", f"amumo:{folder}"], "/", tmp, "amumo")
    server.extra["export"] = folder
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    from explorer.errors import ExplorerError
    from explorer.models import load_model

    try:
        load_model("own:clip", device="cpu")
    except ExplorerError as exc:
        pytest.skip(f"the embedded default needs the project's own model weights: {exc}")
    tmp = tmp_path_factory.mktemp("default-app")
    server = start_server([sys.executable, "-m", "explorer", "serve", "--port", "{port}", "--num-threads", "2"], "/", tmp, "default")
    yield server
    stop_server(server)


def wait_for_app(page, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Until the Explore page's heatmap and scatter have drawn (canvases inside their panes)."""
    page.wait_for_selector(".bx-heatmap canvas", state="attached", timeout=timeout_ms)
    page.wait_for_selector(".bx-scatter canvas", state="attached", timeout=timeout_ms)
    page.wait_for_selector(".bx-numbers .bx-numbers-table", state="attached", timeout=timeout_ms)  # not the faithfulness table


FIGURE_RANGES_JS = """() => { const out = {};
  for (const d of Bokeh.documents) for (const m of d.all_models)
    if (m.x_range && m.y_range && m.title && m.title.text)
      out[m.title.text] = [m.x_range.start, m.x_range.end, m.y_range.start, m.y_range.end];
  return out; }"""


def figure_ranges(page) -> dict[str, list[float]]:
    """{figure title: [x start, x end, y start, y end]} of every titled Bokeh figure on the page."""
    return page.evaluate(FIGURE_RANGES_JS)


def heatmap_span(page, title_prefix: str = "Similarity") -> tuple[float, float] | None:
    """(x span, y span) of the visible range of the first figure whose title starts with the prefix."""
    for title, (x0, x1, y0, y1) in figure_ranges(page).items():
        if title.startswith(title_prefix) and None not in (x0, x1, y0, y1):
            return abs(x1 - x0), abs(y1 - y0)
    return None


def on_failure_keep(request, page, server: Server, artifacts: Path) -> None:
    """After a test (a fixture's teardown): when it failed, a screenshot of `page` and the server's log."""
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        page.screenshot(path=str(artifacts / f"{request.node.name}-failed.png"))
        keep_log_on_failure(server, artifacts, request.node.name)


def keep_log_on_failure(server: Server, artifacts: Path, name: str) -> None:
    try:
        shutil.copyfile(server.log, artifacts / f"{name}-server.log")
    except OSError:
        pass
