import numpy as np
import pytest

from explorer.embeddings import Embeddings
from explorer.errors import DataError
from explorer.images import FileImages, resolve_under
from explorer.pairs import PairSet, filter_captions


def test_from_arrays_normalises_and_casts():
    e = Embeddings.from_arrays([[3.0, 4.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, -5.0]], model="m", logit_scale=100)
    assert e.image.dtype == np.float32
    np.testing.assert_allclose(e.image, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(e.text, axis=1), 1, rtol=1e-7)
    assert e.n == 2 and e.dim == 2
    assert e.stacked().shape == (2, 2, 2)
    e64 = Embeddings.from_arrays([[3.0, 4.0]], [[1.0, 0.0]], model="m", logit_scale=1, dtype=np.float64)
    assert e64.image.dtype == np.float64


@pytest.mark.parametrize(
    "image,text,message",
    [
        (np.ones((3, 2)), np.ones((4, 2)), "3 image embeddings but 4 text"),
        (np.ones((3, 2)), np.ones((3, 5)), "2 dimensions but text embeddings 5"),
        (np.ones(3), np.ones(3), "2-D"),
        (np.array([[1.0, np.nan]]), np.ones((1, 2)), "NaN or inf"),
        (np.ones((2, 2)), np.array([[1.0, 1.0], [0.0, 0.0]]), "all-zero row"),
        (np.ones((0, 2)), np.ones((0, 2)), "no embeddings"),
        (np.array([["a", "b"]]), np.ones((1, 2)), "dtype"),
    ],
)
def test_bad_arrays_are_reported_with_source(image, text, message):
    with pytest.raises(DataError, match=message) as info:
        Embeddings.from_arrays(image, text, model="m", logit_scale=1, source="myfile.npz")
    assert "myfile.npz" in str(info.value)


def test_bad_logit_scale():
    with pytest.raises(DataError, match="logit scale"):
        Embeddings.from_arrays(np.ones((1, 2)), np.ones((1, 2)), model="m", logit_scale=float("nan"))


def test_subset_and_logit_override_record_provenance():
    e = Embeddings.from_arrays(np.eye(3), np.eye(3), model="m", logit_scale=10)
    s = e.subset([2, 0])
    np.testing.assert_array_equal(s.image, e.image[[2, 0]])
    assert s.provenance["subset_of_n"] == 3
    assert e.with_logit_scale(5).logit_scale == 5


def test_pairset_fingerprint_subset_and_table(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"x" * (i + 1))
    images = FileImages(tmp_path, [f"{i}.jpg" for i in range(3)])
    p = PairSet.build(["a dog", "a cat", "hot dog"], images, name="t", recipe="test")
    q = PairSet.build(["a dog", "a cat", "hot dog!"], images, name="t", recipe="test")
    assert p.fingerprint() != q.fingerprint()
    assert p.fingerprint() == PairSet.build(["a dog", "a cat", "hot dog"], images, name="other", recipe="x").fingerprint()
    assert p.fingerprint() is p.fingerprint()  # computed once
    assert p.subset([0, 1, 2]).fingerprint() == p.fingerprint()  # a copy recomputes, same content
    assert p.subset([1, 0]).fingerprint() != p.fingerprint()
    s = p.subset([2, 0], " --pick")
    assert s.captions == ("hot dog", "a dog") and s.ids == ("2", "0") and s.images.ref(0) == "2.jpg"
    t = p.table()
    assert list(t.columns[:4]) == ["pair_id", "id", "caption", "image"]
    with pytest.raises(DataError, match="duplicate"):
        PairSet.build(["a", "b"], None, ids=["x", "x"], name="t", recipe="r")
    with pytest.raises(DataError, match="2 images but 3 captions"):
        PairSet.build(["a", "b", "c"], images.take([0, 1]), name="t", recipe="r")


def test_image_fingerprint_changes_with_file_content(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"1")
    a = FileImages(tmp_path, ["a.png"]).fingerprint()
    f.write_bytes(b"22")
    assert FileImages(tmp_path, ["a.png"]).fingerprint() != a


@pytest.mark.parametrize("rel", ["../secret.txt", "/etc/passwd", "a/../../x", ""])
def test_path_traversal_is_refused(tmp_path, rel):
    (tmp_path / "a").mkdir()
    with pytest.raises(DataError):
        resolve_under(tmp_path / "a", rel)


def test_symlink_out_of_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(b"x")
    (root / "link.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(DataError, match="outside"):
        resolve_under(root, "link.png")


def test_caption_filter_any_all_and_phrases():
    caps = ["A Hot Dog on a plate", "a dog in the park", "a cat", "HOT sun"]
    np.testing.assert_array_equal(filter_captions(caps, "dog"), [0, 1])
    np.testing.assert_array_equal(filter_captions(caps, "hot dog", mode="all"), [0])
    np.testing.assert_array_equal(filter_captions(caps, "hot, cat", mode="any"), [0, 2, 3])
    np.testing.assert_array_equal(filter_captions(caps, "hot dog, sun"), [0, 3])  # phrase "hot dog" or "sun"
    np.testing.assert_array_equal(filter_captions(caps, "  "), [0, 1, 2, 3])
    np.testing.assert_array_equal(filter_captions(caps, "do", kind="word"), np.array([], dtype=np.int64))  # whole words
    np.testing.assert_array_equal(filter_captions(caps, "do"), filter_captions(caps, "dog"))  # substrings (Amumo)


def test_caption_filter_kinds_substring_word_and_regex():
    from explorer.errors import SpecError

    caps = ["two dogs", "a hotdog stand", "a dog", "Cat"]
    np.testing.assert_array_equal(filter_captions(caps, "dog"), [0, 1, 2])  # Amumo: substrings
    np.testing.assert_array_equal(filter_captions(caps, "dog", kind="word"), [2])
    np.testing.assert_array_equal(filter_captions(caps, r"^a (hot)?dog", kind="regex"), [1, 2])
    np.testing.assert_array_equal(filter_captions(caps, "CAT", kind="regex"), [3])  # case-insensitive
    with pytest.raises(SpecError, match="regular expression"):
        filter_captions(caps, "(a", kind="regex")
    with pytest.raises(SpecError, match="at most"):
        filter_captions(caps, "a" * 501, kind="regex")
    with pytest.raises(ValueError, match="kind"):
        filter_captions(caps, "a", kind="glob")
