"""What the benchmark scripts share: Bokeh documents that record what a server would send, the
physical floor of an exact view (one pass over the embeddings), peak memory.

Not a test module and not part of the package: the scripts in this folder import it.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def message_bytes(msg) -> int:
    """Bytes of a Bokeh protocol message exactly as the server sends it over the websocket."""
    return len(msg.header_json) + len(msg.metadata_json) + len(msg.content_json) + sum(len(b.to_bytes()) for b in msg.buffers)


class Session:
    """A Panel or HoloViews object in a Bokeh document, recording the change events a server would
    send (PATCH-DOC), as a browser session of `panel serve` would get them."""

    def __init__(self, obj, size: int):
        import holoviews as hv
        import panel as pn
        from bokeh.document import Document
        from bokeh.protocol import Protocol

        self.protocol = Protocol()
        self.doc = Document()
        if isinstance(obj, pn.viewable.Viewable):
            self.viewable = obj
            self.doc.add_root(obj.get_root(self.doc))
            self.plots = [p for pane in obj.select(pn.pane.HoloViews) for p, _ in getattr(pane, "_plots", {}).values()]
        else:
            self.viewable = None
            plot = hv.renderer("bokeh").get_plot(obj)
            self.doc.add_root(plot.state)
            self.plots = [plot]
        self.size = size
        self.report_sizes()
        self.first_bytes = message_bytes(self.protocol.create("PULL-DOC-REPLY", "1", self.doc))
        self.events: list = []
        self.doc.on_change(self.events.append)

    def report_sizes(self) -> None:
        """What the browser does once a plot is laid out: it reports its size (PlotSize streams)."""
        for plot in self.plots:
            for s in getattr(plot, "streams", []):
                if type(s).__name__ == "PlotSize" and not getattr(s, "_bench_sized", False):
                    s._bench_sized = True
                    s.event(width=self.size, height=self.size, scale=1.0)

    def patch(self, action) -> tuple[float, int]:
        """(seconds, bytes of the PATCH-DOC message) of one action (a settings change, a zoom)."""
        self.events.clear()
        t = time.perf_counter()
        action()
        self.report_sizes()
        dt = time.perf_counter() - t
        nbytes = message_bytes(self.protocol.create("PATCH-DOC", list(self.events))) if self.events else 0
        return dt, nbytes


def one_pass(space, repeat: int = 2) -> float:
    """Seconds of one read of the shown pairs' image and text rows (float32 sums): the least any
    exact view of all pairs costs, best of `repeat` (the page cache warm)."""
    from explorer.engine.space import gather

    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        total = 0.0
        for _s, _e, rows in space.chunks():
            total += float(gather(space.image, rows).sum()) + float(gather(space.text, rows).sum())
        best = min(best, time.perf_counter() - t)
    return best


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def rss_gb(pid: int | str = "self") -> float:
    """Current resident memory of a process (GB), from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-dev-shm-usage"]


def start_server(spec: str, store: str | Path, *args: str, log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A real ``python -m explorer serve --source spec [args]`` on a free port with its own store
    (its output to `log`, else discarded); returns (process, base URL) once it answers."""
    port = free_port()
    env = dict(os.environ, BIMODAL_EXPLORER_CACHE=str(store), PYTHONPATH=str(ROOT), BOKEH_LOG_LEVEL="warn")
    out = log.open("w") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "explorer", "serve", "--port", str(port), "--source", spec, *args],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://localhost:{port}"
    deadline = time.monotonic() + 300
    while True:
        # a connection, not a GET of "/": that would open a session (its explorer, its page) which
        # would then compete with the measured one and end mid-run
        try:
            socket.create_connection(("localhost", port), timeout=60).close()
            return proc, base
        except OSError as exc:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.terminate()
                raise RuntimeError("the server did not start" + (f"; its log: {log}" if log else "")) from exc
            time.sleep(0.5)
