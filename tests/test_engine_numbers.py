"""The engine's R@k against the materialised reference (explorer.analysis.retrieval)."""

import numpy as np
import pytest

from explorer.analysis.retrieval import recall_at_k, true_partner_ranks
from explorer.engine import numbers as engine_numbers


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_ranks_equal_the_float64_reference_with_ties_and_near_ties(dtype):
    rng = np.random.default_rng(3)
    x = _unit(rng.normal(size=(700, 48))).astype(dtype)
    y = _unit(x + 0.8 * rng.normal(size=x.shape)).astype(dtype)
    y[10] = y[11]  # a duplicated caption: exact ties both ways
    x[20] = x[21]
    y[30] = _unit(y[30:31] + 1e-7 * rng.normal(size=(1, 48)))[0].astype(dtype)  # near ties within float32's error
    y[31] = y[30] + np.asarray(1e-9, dtype)
    i2t, t2i = engine_numbers.exact_ranks(x, y)
    ref_i2t, ref_t2i = true_partner_ranks(x, y)
    np.testing.assert_array_equal(i2t, ref_i2t)
    np.testing.assert_array_equal(t2i, ref_t2i)
    assert ref_i2t.max() > 0 and (ref_i2t == 0).any()  # the data rank some partners first and some not


def test_exact_ranks_block_boundaries(monkeypatch):
    """Several row blocks (the text→image counts are summed over them)."""
    monkeypatch.setattr(engine_numbers, "BLOCK_CELLS", 2 * 300 * 37)
    rng = np.random.default_rng(4)
    x = _unit(rng.normal(size=(300, 16)))
    y = _unit(x + rng.normal(size=x.shape))
    got = engine_numbers.exact_ranks(x, y)
    for a, b in zip(got, true_partner_ranks(x, y), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_engine_recall_equals_the_reference_on_the_closed_vectors(alpha):
    from explorer.state import ExplorerState

    st = ExplorerState(source="synthetic:400:32")
    sp = st.space(st.resolve_model())
    r = engine_numbers.recall(sp, alpha, True)
    x = sp.vectors("image", np.arange(sp.m), alpha, True)
    y = sp.vectors("text", np.arange(sp.m), alpha, True)
    assert r.exact and r.values == pytest.approx(recall_at_k(x, y), abs=0)


def test_sampled_recall_equals_the_reference_ranks_of_its_queries(monkeypatch):
    """Above the exact size: the seeded queries ranked against every candidate, the candidates in
    blocks spread over the cores and reported in order (several groups of blocks here)."""
    from explorer.state import ExplorerState

    monkeypatch.setattr(engine_numbers, "BLOCK_CELLS", 60 * 37)
    st = ExplorerState(source="synthetic:400:32")
    sp = st.space(st.resolve_model())
    seen = []
    r = engine_numbers._recall(sp, 0.6, True, (1, 5, 10), False, 60, 3, lambda done, total: seen.append((done, total)))
    q = engine_numbers.sample_positions(sp.m, 60, 3)
    x = sp.vectors("image", np.arange(sp.m), 0.6, True)
    y = sp.vectors("text", np.arange(sp.m), 0.6, True)
    i2t, t2i = true_partner_ranks(x, y)
    want = {}
    for k in (1, 5, 10):
        want[f"image_to_text@{k}"] = float(np.mean(i2t[q] < k))
        want[f"text_to_image@{k}"] = float(np.mean(t2i[q] < k))
    assert not r.exact and r.queries == 60 and r.values == want
    assert len(seen) > 3 and seen[0] == (0, sp.m) and seen[-1] == (sp.m, sp.m)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("views_computing", [False, True])
def test_sampled_recall_leaves_one_core_to_the_views_while_they_compute(monkeypatch, views_computing):
    """Long work: one block per core between progress reports, one core fewer while a view
    computes elsewhere (explorer.engine.priority); the same numbers either way."""
    from explorer.state import ExplorerState

    monkeypatch.setattr(engine_numbers, "BLOCK_CELLS", 60 * 37)
    monkeypatch.setattr(engine_numbers, "cores", lambda: 3)
    monkeypatch.setattr(engine_numbers.priority, "quick_work_elsewhere", lambda: views_computing)
    groups = []
    spread = engine_numbers.spread
    monkeypatch.setattr(engine_numbers, "spread", lambda fn, items: groups.append(len(items)) or spread(fn, items))
    st = ExplorerState(source="synthetic:400:32")
    sp = st.space(st.resolve_model())
    r = engine_numbers._recall(sp, 0.0, True, (1, 5), False, 60, 3, None)
    want = 2 if views_computing else 3
    assert len(groups) > 3 and set(groups[:-1]) == {want} and groups[-1] <= want
    x = sp.vectors("image", np.arange(sp.m))
    i2t, _ = true_partner_ranks(x, sp.vectors("text", np.arange(sp.m)))
    q = engine_numbers.sample_positions(sp.m, 60, 3)
    assert r.values["image_to_text@5"] == float(np.mean(i2t[q] < 5))


@pytest.mark.parametrize("alpha,renorm", [(0.0, True), (0.6, True), (0.6, False), (1.0, True)])
def test_projected_rows_equal_the_displayed_vectors_times_the_basis(alpha, renorm):
    """PairSpace.projected forms w_i (z_i·B ∓ h·B) without the displayed vectors: the same numbers."""
    from explorer.engine.space import PairSpace

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 16)) + 1.0
    y = rng.normal(size=(40, 16)) - 1.0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    space = PairSpace(x, y, np.arange(3, 37), key=("projected-test", alpha, renorm))
    basis = rng.normal(size=(16, 3))
    pos = np.array([0, 5, 6, 33])
    for modality in ("image", "text"):
        want = space.vectors(modality, pos, alpha, renorm) @ basis
        np.testing.assert_allclose(space.projected(modality, pos, basis, alpha, renorm), want, rtol=1e-12, atol=1e-12)
