"""Thumbnails: size limit, caching, the index-based URL scheme, refusals."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from synthetic_source import make_images

from explorer import thumbnails as T
from explorer.errors import DataError, MissingResourceError
from explorer.pairs import PairSet


@pytest.fixture
def pairs(tmp_path):
    images = make_images(tmp_path / "imgs", 5)
    return PairSet.build([f"caption {i}" for i in range(5)], images, name="t", recipe=f"test:{tmp_path}")


def decode(png: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG"
    return im


def test_thumbnail_is_png_within_the_size_and_keeps_aspect(pairs):
    png = T.thumbnail_png(pairs, 1, size=20)
    im = decode(png)
    assert max(im.size) == 20
    w, h = pairs.images.open(1).size
    assert im.size == (20, round(20 * h / w))
    # never enlarged, capped at MAX_SIZE
    assert decode(T.thumbnail_png(pairs, 2, size=10_000)).size == pairs.images.open(2).size


def test_thumbnails_are_cached(pairs, monkeypatch):
    calls = []
    real_open = pairs.images.open
    monkeypatch.setattr(pairs.images, "open", lambda i: calls.append(i) or real_open(i))
    a = T.thumbnail_png(pairs, 3, size=17)
    b = T.thumbnail_png(pairs, 3, size=17)
    assert a == b and calls == [3]
    T.thumbnail_png(pairs, 3, size=18)
    assert calls == [3, 3]


def test_url_scheme_round_trip(pairs):
    token = T.register(pairs)
    assert token == T.token_for(pairs) and len(token) == 16
    url = T.thumb_url(token, 4)
    assert url == f"/thumb/{token}/4.png"
    assert T.parse_thumb_path(url) == (token, 4)
    assert T.parse_thumb_path(f"/app/thumb/{token}/4.png?x=1") == (token, 4)
    assert T.thumbnail_for_path(url) == T.thumbnail_png(pairs, 4)


@pytest.mark.parametrize(
    "path",
    [
        "/thumb/../etc/passwd",
        "/thumb/0123456789abcdef/../../x.png",
        "/thumb/0123456789abcdef/-1.png",
        "/thumb/0123456789abcdef/1.jpg",
        "/thumb/0123456789ABCDEF/1.png",
        "/thumb/0123456789abcdef/%2e%2e.png",
        "/thumb/0123456789abcdef/1.png/../2.png",
        "/thumb/xyz/1.png",
        "/thumb/0123456789abcdef/1e3.png",
    ],
)
def test_only_token_and_integer_paths_are_accepted(path):
    with pytest.raises(DataError):
        T.parse_thumb_path(path)


def test_refusals(pairs):
    with pytest.raises(DataError):
        T.thumbnail_png(pairs, 5)
    with pytest.raises(DataError):
        T.thumbnail_png(pairs, -1)
    with pytest.raises(MissingResourceError):
        T.thumbnail_for_path("/thumb/ffffffffffffffff/0.png")
    no_images = PairSet.build(["a", "b"], None, name="n", recipe="none")
    with pytest.raises(MissingResourceError):
        T.thumbnail_png(no_images, 0)
    with pytest.raises(ValueError):
        T.thumb_url("../x", 1)
    with pytest.raises(ValueError):
        T.thumb_url("0123456789abcdef", -2)


def test_corrupt_image_is_a_data_error(pairs):
    (pairs.images.root / pairs.images.ref(0)).write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError):
        T.thumbnail_png(pairs, 0, size=33)


def test_data_url_inlines_a_small_png(pairs):
    import base64

    url = T.data_url(pairs, 0, size=16)
    assert url.startswith("data:image/png;base64,")
    assert max(decode(base64.b64decode(url.split(",", 1)[1])).size) == 16
