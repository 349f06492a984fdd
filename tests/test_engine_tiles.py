"""engine.tiles.pair_diagonal against the matched pairs binned by hand."""

import numpy as np
import pytest

from explorer.engine.space import PairSpace, Shown
from explorer.engine.tiles import pair_diagonal, tile


@pytest.mark.parametrize("window", [None, ((37.5, 291.5), (203.5, 377.5))])
def test_pair_diagonal_is_the_mean_pair_similarity_of_each_pixels_pairs(window):
    rng = np.random.default_rng(4)
    m, d = 200, 12
    x = rng.standard_normal((m, d)).astype(np.float32)
    y = (x + 0.7 * rng.standard_normal((m, d))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    order = rng.permutation(m)
    shown = Shown(PairSpace(x, y), 0.4, True, order, "perm")
    xr, yr = window or (None, None)
    t = tile(shown, x_range=xr, y_range=yr, width=23, height=17)
    cols, rows, vals = pair_diagonal(shown, t)
    sims = shown.pair_similarities()
    expected: dict[tuple[int, int], list[float]] = {}
    xa, xb, ya, yb = t.window
    for q in range(m):
        for r, c in ((q, q + m), (q + m, q)):
            if ya <= r < yb and xa <= c < xb:
                key = (int(np.searchsorted(t.x_edges, c, side="right") - 1), int(np.searchsorted(t.y_edges, r, side="right") - 1))
                expected.setdefault(key, []).append(float(sims[q]))
    got = {(int(c), int(r)): float(v) for c, r, v in zip(cols, rows, vals, strict=True)}
    assert got.keys() == expected.keys() and len(got) == len(vals)
    for key, values in expected.items():
        assert got[key] == pytest.approx(np.mean(values), abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_stats_and_bin_sums_over_several_chunks_equal_the_displayed_vectors(alpha):
    """Chunks on every core (explorer.engine.backend.spread): the stats and the bins' weighted
    sums over three chunks, in a scattered display order, equal the displayed vectors summed."""
    from explorer.engine.backend import CHUNK_ROWS
    from explorer.engine.space import PairSpace

    rng = np.random.default_rng(11)
    m, d = 2 * CHUNK_ROWS + 123, 8
    x = rng.normal(size=(m, d)) + 1.0
    y = rng.normal(size=(m, d)) - 1.0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    sp = PairSpace(x.astype(np.float32), y.astype(np.float32), key=("chunks-test", alpha))
    st = sp.stats()
    np.testing.assert_allclose(st.sum_x, x.astype(np.float32).astype(np.float64).sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(st.dot_xy, np.einsum("ij,ij->i", x, y), atol=1e-6)
    order = rng.permutation(m)
    bins = np.sort(rng.integers(0, 7, m))  # display positions in 7 bins, some spanning chunks
    for modality in ("image", "text"):
        sums, counts = sp.binned_means(modality, order, bins, 7, alpha, True)
        shown = sp.vectors(modality, order, alpha, True).astype(np.float64)
        want = np.zeros((7, d))
        np.add.at(want, bins, shown)
        np.testing.assert_allclose(sums, want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(counts, np.bincount(bins, minlength=7))
