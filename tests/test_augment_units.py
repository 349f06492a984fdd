"""The Augment page in the series' own unit, and only meaningful numbers for a one-caption series
(issue 14, item 6)."""

import numpy as np
import pytest
from PIL import Image

from explorer.data.augment import UNITS, load_augmentation_series, series_axis, series_kind, step_parameter
from explorer.images import FileImages
from explorer.pairs import PairSet, all_same
from explorer.views.numbers import ONE_CAPTION_NOTE, numbers_html


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "cat.png"
    Image.new("RGB", (64, 32), (200, 10, 10)).save(p)
    return p


@pytest.mark.parametrize(("kind", "last"), [("rotation", 9 * 36.0), ("noise", 0.9), ("blur", 9 * 8.0 / 10), ("hshift", 64.0), ("vshift", 32.0)])
def test_a_series_made_here_has_its_own_unit(photo, kind, last):
    pairs = load_augmentation_series(f"{kind}:{photo}:a cat", steps=10)
    label, values = series_axis(pairs)
    assert label == UNITS[kind] and values.shape == (10,)
    assert values[-1] == pytest.approx(last) and values[0] == pytest.approx(0.0 if "shift" not in kind else -values[-1])


def test_an_article_export_is_read_by_its_name(tmp_path):
    (tmp_path / "img").mkdir()
    for i in range(4):
        Image.new("RGB", (512, 512)).save(tmp_path / "img" / f"{i}.jpg")
    images = FileImages(tmp_path / "img", [f"{i}.jpg" for i in range(4)])
    assert (series_kind("Blurred-0_size-100"), series_kind("Noisy-0_size-100"), series_kind("MSCOCO-Val_size-100")) == ("blur", "noise", None)
    blurred = PairSet.build(["p"] * 4, images, name="Blurred-0_size-4", recipe="x")
    label, values = series_axis(blurred)
    assert label == "Gaussian blur radius (px, image 512×512)"
    np.testing.assert_allclose(values, [step_parameter("blur", i, 4, 512, 512) for i in range(4)])
    np.testing.assert_allclose(values, [0.0, 16.0, 32.0, 48.0])  # radius i·(W/8)/N
    noisy = PairSet.build(["p"] * 4, images, name="Noisy-0_size-4", recipe="x")
    assert series_axis(noisy)[0] == UNITS["noise"] and series_axis(noisy)[1][-1] == pytest.approx(0.75)
    other = PairSet.build(["a", "b"], None, name="MSCOCO", recipe="x")
    assert series_axis(other)[0] == "step"


def test_one_caption_series_shows_no_loss_or_recall():
    import pyarrow as pa

    assert all_same(pa.array(["x", "x", "x"]), np.arange(3)) and not all_same(pa.array(["x", "y", "x"]), np.arange(3))
    assert all_same(pa.array(["x", "y", "x"]), np.array([0, 2])) and not all_same(pa.array(["x"]), np.arange(1))
    d = {"gap_distance_before": 0.8, "gap_distance_after": 0.1, "loss_before": 2.0, "loss_after": 1.5, "loss_variant": "symmetric",
         "batch_size": 50, "alpha": 0.5, "in_modal_difference": 0.1, "cross_modal_asymmetry": 0.0, "logit_scale": 100.0,
         "Ri2t@1_before": 0.01, "Ri2t@1_after": 0.01, "Rt2i@1_before": 0.01, "Rt2i@1_after": 0.01, "recall_method": "exact"}
    one = numbers_html(d, "p", one_caption=True)
    assert "loss (" not in one and "R@1" not in one and "gap distance" in one and ONE_CAPTION_NOTE.split(":")[0] in one
    assert "loss (" in numbers_html(d, "p") and "R@1" in numbers_html(d, "p")


def test_the_state_knows_a_one_caption_series(photo):
    from explorer.state import ExplorerState
    from tests.synthetic_source import make_source

    assert not ExplorerState(make_source(n=20, d=8)).one_caption()
    src = make_source(n=20, d=8)
    same = PairSet.build(["the same"] * 20, None, name="s", recipe="s")
    src.pairs = same
    assert ExplorerState(src).one_caption()


def test_the_blurred_export_is_drawn_in_blur_radius(amumo_dir):
    from explorer.app.augment import series_axis_of
    from explorer.state import ExplorerState
    from explorer.views.augment import series_curves
    from tests.render_helpers import render

    st = ExplorerState(source=f"amumo:{amumo_dir('Blurred-0_size-100')}")
    label, steps = series_axis_of(st)
    assert label.startswith("Gaussian blur radius (px") and steps[1] == pytest.approx(512 / 8 / 100)
    assert st.one_caption()
    plot = render(series_curves(st, xlabel=label, steps=steps))
    first = plot.subplots[(0, 0)].subplots["main"] if hasattr(plot, "subplots") else plot
    assert first.state.xaxis[0].axis_label == label
    xs = [np.asarray(r.data_source.data[r.glyph.x]) for r in first.state.renderers if hasattr(r.glyph, "x")]
    assert xs and all(float(v.max()) == pytest.approx(63.36) for v in xs)  # step 99 of 100: radius 99·64/100
