"""augment:KIND:IMAGE[:CAPTION] — the article's rotation, noise, blur and shift series, lazily generated."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from explorer.data.augment import AugmentedImages, load_augmentation_series, parse_augment_arg
from explorer.errors import MissingResourceError, SpecError
from explorer.sources import load_pairs


@pytest.fixture
def square(tmp_path):
    """An 8x8 image whose every pixel is different, so any move of a pixel shows."""
    a = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    path = tmp_path / "pic.png"
    Image.fromarray(a).save(path)
    return path, a


def pixels(pairs, i):
    return np.asarray(pairs.images.open(i))


def test_rotation_default_is_100_steps_of_3_6_degrees_with_one_caption(square):
    path, a = square
    pairs = load_pairs(f"augment:rotation:{path}:a test picture")
    assert len(pairs) == 100
    assert set(pairs.captions) == {"a test picture"}
    assert np.allclose(pairs.metadata["angle"], [3.6 * i for i in range(100)])
    assert np.array_equal(pixels(pairs, 0), a)
    # 25 x 3.6 = 90 degrees counter-clockwise, 50 x 3.6 = 180: exact pixel permutations
    assert np.array_equal(pixels(pairs, 25), np.rot90(a, k=1))
    assert np.array_equal(pixels(pairs, 50), np.rot90(a, k=2))
    assert np.array_equal(pixels(pairs, 75), np.rot90(a, k=3))
    assert pairs.name == "Rotated-pic_size-100"


def test_rotation_of_a_few_steps(square):
    path, a = square
    pairs = load_augmentation_series(f"rotation:{path}:c", steps=4)
    assert [pairs.metadata.loc[i, "angle"] for i in range(4)] == [0.0, 90.0, 180.0, 270.0]
    for i in range(4):
        assert np.array_equal(pixels(pairs, i), np.rot90(a, k=i))


def test_shifts_slide_the_image_across_the_frame(square):
    path, a = square
    h = load_augmentation_series(f"hshift:{path}:c", steps=5)  # shifts -8, -4, 0, 4, 8
    assert list(h.metadata["shift_x"]) == [-8.0, -4.0, 0.0, 4.0, 8.0]
    assert np.array_equal(pixels(h, 2), a)
    assert not pixels(h, 0).any() and not pixels(h, 4).any()  # moved entirely out of the frame
    s1 = pixels(h, 1)  # output(x) = input(x - 4): the image moved right by 4
    assert np.array_equal(s1[:, 4:], a[:, :4]) and not s1[:, :4].any()
    s3 = pixels(h, 3)
    assert np.array_equal(s3[:, :4], a[:, 4:]) and not s3[:, 4:].any()
    v = load_augmentation_series(f"vshift:{path}:c", steps=5)
    v1 = pixels(v, 1)
    assert np.array_equal(v1[4:], a[:4]) and not v1[:4].any()


def test_noise_blend_is_seeded_and_follows_the_formula(tmp_path):
    a = np.full((64, 64, 3), 200, np.uint8)
    path = tmp_path / "flat.png"
    Image.fromarray(a).save(path)
    pairs = load_augmentation_series(f"noise:{path}:c", steps=4, noise_seed=7)
    assert np.array_equal(pixels(pairs, 0), a)
    again = load_augmentation_series(f"noise:{path}:c", steps=4, noise_seed=7)
    other = load_augmentation_series(f"noise:{path}:c", steps=4, noise_seed=8)
    assert np.array_equal(pixels(pairs, 2), pixels(again, 2))
    assert not np.array_equal(pixels(pairs, 2), pixels(other, 2))
    assert pairs.fingerprint() != other.fingerprint()
    s2 = pixels(pairs, 2).astype(float)  # 0.5 * 200 + 0.5 * U{0..255}: values in [100, 227.5]
    assert s2.min() >= 100 and s2.max() <= 228
    assert abs(s2.mean() - (0.5 * 200 + 0.5 * 127.5)) < 1.5
    assert list(pairs.metadata["noise_fraction"]) == [0.0, 0.25, 0.5, 0.75]


def test_blur_radius_grows_to_an_eighth_of_the_width(square):
    path, _ = square
    pairs = load_augmentation_series(f"blur:{path}:c", steps=4)
    assert list(pairs.metadata["blur_radius"]) == [0.0, 0.25, 0.5, 0.75]  # i * (8 / 8) / 4


def test_caption_parsing(tmp_path, square):
    path, _ = square
    assert parse_augment_arg(f"rotation:{path}:a: caption: with colons") == ("rotation", path, "a: caption: with colons")
    assert parse_augment_arg(f"rotate:{path}") == ("rotation", path, None)
    odd = tmp_path / "a:b.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(odd, format="PNG")
    assert parse_augment_arg(f"blur:{odd}:cap") == ("blur", odd, "cap")
    with pytest.raises(SpecError, match="unknown kind 'spin'"):
        parse_augment_arg(f"spin:{path}")
    with pytest.raises(SpecError, match="no image"):
        parse_augment_arg("blur")
    with pytest.raises(MissingResourceError, match="image file not found"):
        parse_augment_arg(f"blur:{tmp_path / 'none.png'}:cap")


def test_default_caption_from_sidecar_or_file_name(tmp_path, square):
    path, _ = square
    pairs = load_augmentation_series(f"rotation:{path}", steps=2)
    assert pairs.captions == ("pic", "pic")
    assert "using the file name 'pic'" in pairs.notes[0]
    path.with_suffix(".txt").write_text("a sidecar\ncaption")
    pairs = load_augmentation_series(f"rotation:{path}", steps=2)
    assert pairs.captions == ("a sidecar caption",) * 2 and not pairs.notes


def test_images_are_lazy_picklable_and_subsettable(square, tmp_path):
    path, a = square
    src = AugmentedImages(path, "rotation", 4)
    sub = src.take([3, 1])
    assert np.array_equal(np.asarray(sub.open(0)), np.rot90(a, 3))
    clone = pickle.loads(pickle.dumps(sub))
    assert clone._base is None and np.array_equal(np.asarray(clone.open(1)), np.rot90(a, 1))
    f = src.fingerprint()
    Image.fromarray(a[::-1].copy()).save(path)
    assert AugmentedImages(path, "rotation", 4).fingerprint() != f
    assert AugmentedImages(path, "blur", 4).fingerprint() != AugmentedImages(path, "rotation", 4).fingerprint()
    pairs = load_pairs(f"augment:rotation:{path}:x", limit=10, seed=2)
    assert len(pairs) == 10 and len(set(pairs.images.indices)) == 10


def test_the_series_embeds_with_one_text_vector(square):
    from tiny_model import TinyModel

    from explorer.embed import embed_pairs

    path, _ = square
    emb = embed_pairs(load_pairs(f"augment:rotation:{path}:one caption"), TinyModel(), progress=False, num_workers=0)
    assert emb.n == 100
    assert np.allclose(emb.text, emb.text[0], atol=1e-7)
    assert not np.allclose(emb.image[0], emb.image[10], atol=1e-3)  # the images do differ


# -- against the article's own series (../shared) ----------------------------------------------
def _jpg(folder, i):
    return np.asarray(Image.open(folder / "images" / f"{i}.jpg").convert("RGB"), dtype=float)


def test_blur_matches_the_articles_blurred_series(amumo_dir):
    folder = amumo_dir("Blurred-0_size-100")
    pairs = load_augmentation_series(f"blur:{folder / 'images' / '0.jpg'}:x")
    for i in (8, 20, 40):
        mine = np.asarray(pairs.images.open(i), dtype=float)
        err = {j: np.abs(mine - _jpg(folder, j)).mean() for j in (i - 4, i, i + 4)}
        assert min(err, key=err.get) == i, err  # step i is closest to the article's image i


def test_noise_matches_the_articles_noisy_series_on_average(amumo_dir):
    folder = amumo_dir("Noisy-0_size-100")
    base = _jpg(folder, 0)
    pairs = load_augmentation_series(f"noise:{folder / 'images' / '0.jpg'}:x")
    for i in (10, 50, 90):
        mine = np.asarray(pairs.images.open(i), dtype=float)
        # the blend moves each pixel towards the noise mean by i/N: the mean shift must agree
        assert abs((mine - base).mean() - (_jpg(folder, i) - base).mean()) < 1.0
