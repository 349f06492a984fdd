"""Cluster tags on the heatmap (every cluster numbered, none overlapping, inside the matrix), the
legend that selects a cluster's pairs, and the gallery's captions (issue 14, item 5)."""

import itertools

import numpy as np
import pytest

from explorer.state import ExplorerState
from explorer.views.cluster_layout import cluster_tags, overlaps, spread
from tests.synthetic_source import make_source


def test_spread_keeps_order_distance_and_bounds():
    ys = spread([0.0, 0.1, 0.2, 5.0, 9.9], 1.0, 0.0, 10.0)
    assert all(b - a >= 1.0 - 1e-12 for a, b in itertools.pairwise(ys))
    assert ys[0] >= 0.5 and ys[-1] <= 9.5 and ys[3] == 5.0
    with pytest.raises(ValueError):
        spread([1.0] * 11, 1.0, 0.0, 10.0)


@pytest.mark.parametrize("block", ["text-image", "image-text", "image-image", "text-text"])
@pytest.mark.parametrize(("m", "k", "size"), [(100, 10, 400), (100, 50, 400), (1000, 50, 330), (7, 5, 400)])
def test_every_cluster_gets_a_tag_inside_its_quadrant_none_overlapping(block, m, k, size):
    rng = np.random.default_rng(k + m)
    cuts = np.sort(rng.choice(np.arange(1, m), k - 1, replace=False)) if k <= m else np.arange(1, m)
    bounds = [0, *cuts.tolist(), m]
    tags = cluster_tags(bounds, m, block, size)
    assert [t["text"] for t in tags] == [str(c + 1) for c in range(len(bounds) - 1)]
    qr = 0 if block.startswith("image") else 1
    for t in tags:  # inside the clustered quadrant's rows and inside the matrix
        assert qr * m - 0.5 - 1e-9 <= t["y"] - t["height"] / 2 and t["y"] + t["height"] / 2 <= qr * m + m - 0.5 + 1e-9
        assert -0.5 <= t["x"] - t["width"] / 2 and t["x"] + t["width"] / 2 <= 2 * m - 0.5
    assert not any(overlaps(a, b) for a, b in itertools.combinations(tags, 2))
    # the tags at the size drawn: 16 px high at least (no overlap on screen either)
    assert tags[0]["height"] * size / (2 * m) == pytest.approx(16.0)


def test_the_issues_case_k10_on_100_pairs_labels_every_cluster():
    st = ExplorerState(make_source(n=100, d=8), cluster=True, k=10)
    o = st.ordering("A")
    tags = cluster_tags(list(o.boundaries), 100, "text-image", 400)
    assert len(tags) == len(o.members) == 10


def test_legend_selects_a_clusters_pairs_and_gallery_shows_captions():
    from explorer.views.clusters import cluster_gallery, cluster_legend, legend_button_label, legend_entries

    st = ExplorerState(make_source(n=40, d=8, image_dir=None), cluster=True, k=4)
    entries = legend_entries(st, "A")
    o = st.ordering("A")
    assert [e["size"] for e in entries] == [int(s) for s in o.sizes] and sum(e["size"] for e in entries) == 40
    legend = cluster_legend(st, "A")
    buttons = legend[1].objects
    assert [b.label for b in buttons] == [legend_button_label(e) for e in entries]
    buttons[2].clicks += 1  # a click on cluster 3
    chosen = st.interaction.selected_pairs
    pairs = st.display_pairs("A")
    assert sorted(chosen) == sorted(int(p) for p in pairs[o.boundaries[2]:o.boundaries[3]])
    html = cluster_gallery(st, "A", per_cluster=2).feed.value["html"]
    assert html.count("<figcaption") == sum(min(2, int(s)) for s in o.sizes)
    first = st.cluster_examples("A", 2)[0][0]
    assert st.pairs.captions[first] in html
    st.order.cluster = False
    with pytest.raises(Exception, match="clustering is off"):
        st.select_cluster("A", 0)
