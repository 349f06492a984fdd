"""The thumbnail route of a real served app (panel serve, as `python -m explorer serve`) against hostile requests: ids out of
range, negative, non-integer, huge; traversal in path segments; a bounded loop of repeated requests
that must not grow the server's memory. Every refusal is a 404 (never a 500 or a file from disk),
the server logs no traceback and stays up."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

N = 48  # pairs of the hostile export (tests/hostile_export.py)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_get(port: int, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written (no client-side normalisation of '..' or %-escapes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"localhost:{port}")
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(hostile_server, browser):
    """The hostile export served by `panel serve` (tests/browser/conftest.py), after one page load:
    its pairs are registered for thumbnails when the scatter is first drawn in a browser."""
    from conftest import wait_for_app

    from explorer import thumbnails
    from explorer.sources import load_pairs

    ctx = browser.new_context(viewport={"width": 1600, "height": 1100})
    page = ctx.new_page()
    page.goto(hostile_server.url)
    wait_for_app(page)
    token = thumbnails.token_for(load_pairs(f"amumo:{hostile_server.extra['export']}"))
    port = int(hostile_server.base.rsplit(":", 1)[1])
    yield hostile_server.process, port, token, hostile_server.log
    ctx.close()


def hostile_paths(token: str) -> list[str]:
    t = token
    return [
        f"/thumb/{t}/{N}.png",  # one past the end
        f"/thumb/{t}/{N + 1000}.png",
        f"/thumb/{t}/999999999.png",  # the largest the route's pattern takes
        f"/thumb/{t}/{10**30}.png",  # huge
        f"/thumb/{t}/-1.png",
        f"/thumb/{t}/1.5.png",
        f"/thumb/{t}/abc.png",
        f"/thumb/{t}/1e3.png",
        f"/thumb/{t}/0x10.png",
        f"/thumb/{t}/%31.png",  # "1", %-encoded
        f"/thumb/{t}/ 1.png".replace(" ", "%20"),
        f"/thumb/{t}/1.png%00.jpg",
        f"/thumb/{t}/../../../../etc/passwd",
        f"/thumb/{t}/..%2f..%2f..%2fetc%2fpasswd",
        f"/thumb/{t}/%2e%2e/%2e%2e/prompts.txt",
        "/thumb/../../etc/passwd",
        "/thumb/%2e%2e/%2e%2e/etc/passwd",
        "/thumb/ffffffffffffffff/0.png",  # unknown token
        f"/thumb/{t.upper()}/0.png",
        f"/thumb/{t}/0.png/../../../prompts.txt",
        "/static/../../../../etc/passwd",
        "/images/0.jpg",
        "/prompts.txt",
    ]


def test_hostile_thumbnail_requests_are_404_and_nothing_leaks(server):
    proc, port, token, log = server
    status, body = raw_get(port, f"/thumb/{token}/0.png")
    assert status == 200 and body.startswith(b"\x89PNG"), "a valid id is served (the route works)"
    answers = {p: raw_get(port, p) for p in hostile_paths(token)}
    wrong = {p: s for p, (s, _) in answers.items() if s not in (400, 403, 404)}
    assert not wrong, f"every hostile request must be refused with a 4xx: {wrong}"
    for p, (_, body) in answers.items():
        assert b"root:" not in body and b"caption" not in body.lower(), f"{p} returned file content"
    assert proc.poll() is None, "the server is still up"
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def test_repeated_requests_do_not_grow_memory(server):
    proc, port, token, _ = server
    paths = [f"/thumb/{token}/{i % N}.png" for i in range(N)] + hostile_paths(token)

    def sweep(times: int) -> None:
        for _ in range(times):
            for p in paths:
                raw_get(port, p)

    sweep(2)  # every thumbnail rendered and cached once, allocator warm
    before = rss_kib(proc.pid)
    sweep(5)  # 355 more requests
    after = rss_kib(proc.pid)
    assert proc.poll() is None
    assert after - before < 16 * 1024, f"server memory grew {after - before} KiB over 5 sweeps of {len(paths)} requests"
