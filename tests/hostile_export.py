"""A small Amumo-format export written to disk, with hostile captions and a hostile model name.

Used by the app, report, security and browser tests: it needs no model, no weights and no
../shared, opens through the real ``amumo:`` importer, has images (so thumbnails are served) and
a modality gap with four topic clusters. Captions 0..len(HOSTILE)-1 are attacks: script tags,
event-handler attributes, quote breakouts, ``javascript:`` and Markdown links, HTML entities, template
syntax (``${}``, ``{{ }}``, Bokeh's ``@field{safe}``), SVG and iframe scripts, requests to another host
and very long text (one word of 10,000 characters). Every payload that could run sets
``window.__pwned``, or asks for a URL on evil.invalid; the browser tests check both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TOPICS = ("red circle", "blue square", "green triangle", "yellow star")
COLOURS = ((220, 40, 40), (40, 80, 220), (40, 170, 60), (230, 200, 40))

HOSTILE = (
    "<script>window.__pwned='script'</script> a red circle",
    '<img src=x onerror="window.__pwned=\'img\'"> a blue square',
    '"><svg onload="window.__pwned=\'svg\'"> a green triangle',
    "' onmouseover='window.__pwned=1' a yellow star",
    "@caption{safe} $x$ {{7*7}} </script><script>window.__pwned='close'</script> red",
    "a blue square " + "very long caption " * 300,
    "<b>bold</b> &amp; <i>italic</i> & ampersand green",
    # links: a javascript: URL as an anchor and as a Markdown link
    "<a href=\"javascript:window.__pwned='href'\">click</a> [a link](javascript:window.__pwned='md') yellow",
    # HTML entities that would become markup if decoded twice
    "&lt;b&gt;entity&lt;/b&gt; &#60;img src=x onerror=window.__pwned='entity'&#62; red",
    # template syntax: JS template literals, Jinja, Bokeh tooltip fields and specials
    "${window.__pwned='tpl'} {{ window.__pwned }} {% raw %} @{caption}{safe} $x{safe} $index blue",
    # SVG with a script inside, an iframe with a script in srcdoc
    "<svg><script>window.__pwned='svgscript'</script></svg><iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe> green",
    # requests to another host: an image, a stylesheet, a CSS import, a Markdown image
    "<img src=\"http://evil.invalid/pixel.png\"><link rel=stylesheet href=\"//evil.invalid/x.css\">"
    "<style>@import url(http://evil.invalid/s.css)</style> ![img](http://evil.invalid/md.png) yellow",
    # an element whose event fires without a user, Markdown emphasis
    "<details open ontoggle=\"window.__pwned='toggle'\">**bold** red</details>",
    # one 10,000-character word (no space to break at) ending in a payload
    "blue " + "W" * 10_000 + "<img src=x onerror=window.__pwned='tail'>",
)

#: a model name that is itself an attack (it becomes the file name similarities/<name>.csv)
HOSTILE_MODEL = "toy<img src=x onerror=window.__pwned='model'>"
MODELS = ("toyA", HOSTILE_MODEL)


def _vectors(n: int, d: int, gap: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(TOPICS), d)) * 1.5
    topic = np.arange(n) % len(TOPICS)
    g = np.zeros(d)
    g[0] = gap
    x = centres[topic] + 0.4 * rng.normal(size=(n, d)) + g
    y = centres[topic] + 0.4 * rng.normal(size=(n, d)) - g
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    return x, y


def captions(n: int) -> list[str]:
    caps = [f"a {TOPICS[i % len(TOPICS)]} picture number {i}" for i in range(n)]
    for j, h in enumerate(HOSTILE[:n]):
        caps[j] = h
    return caps


def write_export(folder: Path, n: int = 48, d: int = 16, models=MODELS, gap: float = 1.2, seed: int = 0) -> Path:
    """Write images/<i>.jpg, prompts.txt and similarities/<model>.csv under `folder`; returns it."""
    from PIL import Image, ImageDraw

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "similarities").mkdir(exist_ok=True)
    for i in range(n):
        im = Image.new("RGB", (64, 64), (245, 245, 240))
        draw = ImageDraw.Draw(im)
        c = COLOURS[i % len(COLOURS)]
        r = 10 + (i * 7) % 14
        draw.ellipse((32 - r, 32 - r, 32 + r, 32 + r), fill=c)
        im.save(folder / "images" / f"{i}.jpg", quality=90)
    (folder / "prompts.txt").write_text("\n".join(captions(n)) + "\n", encoding="utf-8")
    for k, m in enumerate(models):
        x, y = _vectors(n, d, gap, seed + k)
        z = np.concatenate([x, y])
        np.savetxt(folder / "similarities" / f"{m}.csv", z @ z.T, delimiter=",", fmt="%.17g")
    return folder
