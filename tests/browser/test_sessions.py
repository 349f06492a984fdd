"""Many browser sessions of one real server (``python -m explorer serve --source synthetic:5000``):

- sessions opened and closed one after another do not keep memory: what they share (the opened
  source, tiles, numbers, projections) lives once in the process-wide memo, and what only a session
  held is released when it ends (the server's RSS after 30 sessions stays within 15 % of its RSS
  after the first);
- ten sessions open at once, each with its own caption filter (and half of them another model),
  each see only their own settings.

Open times are measured by benchmarks/serve.py --sessions, not asserted here (the machines are noisy).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from conftest import start_server, stop_server, wait_for_app

N_PAIRS = 5000
SESSIONS = 30
#: ten of the synthetic source's hundred caption adjectives: each keeps about 1 % of the pairs
WORDS = ("red", "blue", "green", "golden", "silver", "wooden", "black", "white", "small", "large")


def rss_gb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def synthetic_server(tmp_path_factory):
    import shutil

    ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

    tmp = tmp_path_factory.mktemp("sessions-app")
    server = start_server([sys.executable, "-m", "explorer", "serve", "--port", "{port}", "--num-threads", "4",
                           "--session-lifetime", "1", "--source", f"synthetic:{N_PAIRS}"], "/", tmp, "sessions")
    yield server
    stop_server(server)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(server.log, ARTIFACTS / "sessions-server.log")


def visit(browser, url: str) -> None:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
    try:
        page = ctx.new_page()
        page.goto(url)
        wait_for_app(page)
    finally:
        ctx.close()


def settled_rss(pid: int, at_most: float | None = None, timeout: float = 30.0) -> float:
    """The server's RSS once closed sessions are released (polled until it is at most `at_most`)."""
    time.sleep(3.0)  # lifetime 1 s, checked every second
    deadline = time.monotonic() + timeout
    rss = rss_gb(pid)
    while at_most is not None and rss > at_most and time.monotonic() < deadline:
        time.sleep(1.0)
        rss = rss_gb(pid)
    return rss


def test_sessions_that_come_and_go_give_their_memory_back(browser, synthetic_server, artifacts_dir):
    pid = synthetic_server.process.pid
    visit(browser, synthetic_server.url)
    after_first = settled_rss(pid)
    for _ in range(SESSIONS - 1):
        visit(browser, synthetic_server.url)
    after_all = settled_rss(pid, at_most=1.15 * after_first)
    (artifacts_dir / "sessions-rss.txt").write_text(
        f"server RSS after the first session {after_first:.3f} GB, after {SESSIONS} sessions {after_all:.3f} GB "
        f"({after_all / after_first:.3f})\n")
    assert after_all <= 1.15 * after_first, (after_first, after_all)


def apply_filter(page, word: str) -> None:
    box = page.get_by_placeholder("words, e.g. dog frisbee (Enter)")
    box.fill(word)
    box.press("Enter")


def heatmap_line(page) -> str:
    return page.locator(".bx-provenance").first.inner_text()


def test_concurrent_sessions_see_only_their_own_settings(browser, synthetic_server, artifacts_dir):
    pages = []
    console: list[str] = []
    try:
        for word in WORDS:
            ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
            page = ctx.new_page()
            page.on("console", lambda msg, w=word: console.append(f"{w}: {msg.type}: {msg.text}"))
            page.goto(synthetic_server.url)
            pages.append((ctx, page, word))
        for i, (_, page, word) in enumerate(pages):
            wait_for_app(page)
            apply_filter(page, word)
            if i % 2:  # half of them look at the other model
                page.locator("select").nth(1).select_option(label="narrow gap")
        for i, (_, page, word) in enumerate(pages):
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                line = heatmap_line(page)
                if f"--filter '{word}'" in line and ("narrow gap" in line) == bool(i % 2):
                    break
                time.sleep(0.5)
            line = heatmap_line(page)
            if f"--filter '{word}'" not in line:
                page.screenshot(path=str(artifacts_dir / f"sessions-failed-{word}.png"))
                (artifacts_dir / "sessions-console.txt").write_text("\n".join(console))
            assert f"--filter '{word}'" in line, (word, line, page.locator(".bx-status").all_inner_texts(),
                                                  [c for c in console if c.startswith(word)][-10:],
                                                  synthetic_server.log_text(2000))
            assert ("narrow gap" in line) == bool(i % 2), (word, line)
            others = [w for w in WORDS if w != word and f"--filter '{w}'" in line]
            assert others == [], (word, others)
        pages[-1][1].screenshot(path=str(artifacts_dir / "sessions-last.png"))
        # once more, after every page has settled: still each its own
        for i, (_, page, word) in enumerate(pages):
            line = heatmap_line(page)
            assert f"--filter '{word}'" in line and ("narrow gap" in line) == bool(i % 2), (word, line)
    finally:
        for ctx, _, _ in pages:
            ctx.close()
