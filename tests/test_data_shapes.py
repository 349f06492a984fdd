"""The procedural shapes world: determinism, spec parsing, captions that match the scene, and
the planted phenomena (blurred images, vague captions, the homonym "heart")."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.data import shapes as sh
from explorer.errors import SpecError
from explorer.pairs import caption_words, filter_captions
from explorer.sources import load_pairs


@pytest.fixture(scope="module")
def world():
    return sh.load_shapes("600")


def pixels(pairs, i):
    return np.asarray(pairs.images.open(i), dtype=np.float64)


def test_same_seed_same_world_other_seed_other_world():
    a, b = sh.load_shapes("40"), sh.load_shapes("40")
    assert a.captions == b.captions
    assert a.fingerprint() == b.fingerprint()
    assert a.metadata.equals(b.metadata)
    for i in (0, 7, 39):
        assert np.array_equal(pixels(a, i), pixels(b, i))
    c = sh.load_shapes("40", seed=5)
    assert c.captions != a.captions
    assert c.fingerprint() != a.fingerprint()
    assert not np.array_equal(pixels(a, 0), pixels(c, 0))


def test_scene_depends_only_on_seed_and_index():
    small, large = sh.load_shapes("20"), sh.load_shapes("60")
    assert large.captions[:20] == small.captions
    assert small.images.fingerprint() != large.images.fingerprint()
    assert np.array_equal(pixels(small, 13), pixels(large, 13))


def test_spec_forms_and_defaults():
    assert len(sh.load_shapes("")) == sh.DEFAULT_N
    p = sh.load_shapes("30:2:32")
    assert len(p) == 30 and p.images.open(0).size == (32, 32)
    assert p.recipe == "shapes:30:2:32"
    assert p.captions == sh.load_shapes("30", seed=2, size=32).captions
    assert sh.load_shapes("30").images.open(0).size == (64, 64)
    via_sources = load_pairs("shapes:25")
    assert via_sources.captions == sh.load_shapes("25").captions
    for bad in ("abc", "10:x", "1:2:3:4", "0", "10:-1", "10:0:8"):
        with pytest.raises(SpecError):
            sh.load_shapes(bad)


def test_lazy_images_subset_and_fingerprint():
    p = sh.load_shapes("50")
    sub = p.subset([40, 3])
    assert sub.captions == (p.captions[40], p.captions[3])
    assert np.array_equal(pixels(sub, 0), pixels(p, 40))
    assert sub.images.ref(0) == p.images.ref(40) != p.images.ref(3)
    assert sub.images.fingerprint() != p.images.fingerprint()
    assert sh.ShapesImages(0, range(5), 64).fingerprint() != sh.ShapesImages(0, range(5), 96).fingerprint()
    assert sh.ShapesImages(0, range(5)).fingerprint() != sh.ShapesImages(1, range(5)).fingerprint()
    assert sub.metadata["scene"].tolist() == [40, 3]


def test_metadata_columns(world):
    m = world.metadata
    for col in ("scene", "planted", "n_objects", "shapes", "colours", "sizes", "fills", "background",
                "relation", "blur_radius", "homonym_sense", "template"):
        assert col in m.columns
    assert set(m["planted"]) <= set(sh.PLANTED_KINDS)
    assert m["n_objects"].between(1, 3).all()
    assert (m["shapes"].str.count(r"\|") + 1 == m["n_objects"]).all()
    table = world.table()
    assert list(table["pair_id"]) == list(range(len(world)))


def test_captions_name_the_drawn_shapes_and_colours(world):
    """Every non-vague caption mentions a synonym of each object's shape and colour."""
    m = world.metadata
    checked = 0
    for i, cap in enumerate(world.captions):
        if m.planted[i] == "vague_caption":
            continue
        words = set(caption_words(cap))
        for shape, colour in zip(m.shapes[i].split("|"), m.colours[i].split("|"), strict=True):
            singular, plural = sh.SHAPES[shape]
            assert words & set(w for s in singular + plural for w in s.split()), (i, cap, shape)
            assert words & set(sh.COLOURS[colour][1]), (i, cap, colour)
        checked += 1
    assert checked > 500


def test_relations_match_positions():
    seen = set()
    for i in range(400):
        s = sh.make_scene(0, i)
        if not s.relation:
            continue
        a, b = s.objects
        seen.add(s.relation)
        if s.relation == "above":
            assert a.y < b.y and abs(b.y - a.y) >= abs(b.x - a.x)
        elif s.relation == "below":
            assert a.y > b.y
        elif s.relation == "left of":
            assert a.x < b.x and abs(b.x - a.x) > abs(b.y - a.y)
        else:
            assert a.x > b.x
    assert seen == set(sh.RELATIONS)


def test_every_planted_kind_is_present_at_a_few_percent(world):
    counts = world.metadata["planted"].value_counts()
    for kind, rate in sh.PLANTED_RATES.items():
        assert 0.4 * rate * len(world) <= counts.get(kind, 0) <= 2.0 * rate * len(world), (kind, counts.to_dict())


def high_frequency_energy(image: np.ndarray) -> float:
    """Mean squared difference between neighbouring pixels (a discrete gradient)."""
    g = image.mean(axis=2)
    return float(np.mean(np.diff(g, axis=0) ** 2) + np.mean(np.diff(g, axis=1) ** 2))


def test_blurred_images_have_little_high_frequency_energy(world):
    m = world.metadata
    blurred = np.flatnonzero(m["planted"] == "blurred")[:15]
    sharp = np.flatnonzero(m["planted"] == "none")[:60]
    assert (m.loc[blurred, "blur_radius"] == 64 / 8).all()
    assert (m.loc[sharp, "blur_radius"] == 0).all()
    e_blur = np.array([high_frequency_energy(pixels(world, i)) for i in blurred])
    e_sharp = np.array([high_frequency_energy(pixels(world, i)) for i in sharp])
    assert np.median(e_blur) < 0.1 * np.median(e_sharp)
    # the blur is the only difference: re-render a blurred scene without blur
    s = world.images.scene(int(blurred[0]))
    from dataclasses import replace

    unblurred = np.asarray(sh.render_scene(replace(s, blur=False)), dtype=np.float64)
    assert high_frequency_energy(unblurred) > 5 * high_frequency_energy(pixels(world, int(blurred[0])))


def test_vague_captions_come_from_the_vague_list_and_only_there(world):
    m = world.metadata
    vague = m["planted"] == "vague_caption"
    caps = np.array(world.captions, dtype=object)
    assert set(caps[vague]) <= set(sh.VAGUE_CAPTIONS)
    assert not set(caps[~vague]) & set(sh.VAGUE_CAPTIONS)
    assert {"shapes", "an abstract picture", "colours"} <= set(sh.VAGUE_CAPTIONS)


def test_the_homonym_heart_appears_in_both_senses(world):
    m = world.metadata
    hits = filter_captions(world.captions, "heart")
    senses = set(m.loc[hits, "homonym_sense"])
    assert senses == {"shape", "centre"}
    centre = np.flatnonzero(m["homonym_sense"] == "centre")
    assert (m.loc[centre, "planted"] == "homonym").all()
    assert len(centre) == (m["planted"] == "homonym").sum() > 0
    for i in centre:
        assert sh.HOMONYM_PHRASE in world.captions[i]
        assert m.shapes[i] != "heart" and m.n_objects[i] == 1  # no heart is drawn
        obj = world.images.scene(int(i)).objects[0]
        assert abs(obj.x - 0.5) < 0.05 and abs(obj.y - 0.5) < 0.05  # "in the heart" = in the centre
    shape_sense = np.flatnonzero(m["homonym_sense"] == "shape")
    assert len(shape_sense) > 20
    assert all("heart" in m.shapes[i].split("|") for i in shape_sense)

