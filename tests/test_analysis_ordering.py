import numpy as np
import pytest

from explorer.analysis.labels import cluster_label, ranked_ngrams
from explorer.analysis.ordering import cluster_order


def two_blocks(n1=3, n2=4, seed=0):
    rng = np.random.default_rng(seed)
    a = np.array([1.0, 0.0, 0.0]) + 0.05 * rng.normal(size=(n1, 3))
    b = np.array([0.0, 1.0, 0.0]) + 0.05 * rng.normal(size=(n2, 3))
    z = np.vstack([a, b])
    perm = rng.permutation(n1 + n2)
    z = z[perm]
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    truth = (perm >= n1).astype(int)
    return z @ z.T, truth


@pytest.mark.parametrize("optimal", [False, True])
def test_two_obvious_clusters_are_found_and_contiguous(optimal):
    s, truth = two_blocks()
    o = cluster_order(s, k=2, optimal=optimal)
    assert sorted(o.sizes) == [3, 4]
    for members in o.members:
        assert len(set(truth[members])) == 1
    assert sorted(o.order.tolist()) == list(range(7))
    # contiguous: the display order lists each cluster as one run
    runs = [o.assignment[i] for i in o.order]
    assert runs == sorted(runs)
    assert o.boundaries == [0, o.sizes[0], 7]
    np.testing.assert_array_equal(o.full_permutation(), np.concatenate([o.order, o.order + 7]))


def test_non_optimal_order_is_the_stable_argsort_of_cluster_ids():
    from scipy.cluster import hierarchy as sch

    s, _ = two_blocks(5, 6, seed=2)
    o = cluster_order(s, k=3)
    ids = sch.fcluster(sch.linkage(1 - s, method="complete"), 3, criterion="maxclust")
    np.testing.assert_array_equal(o.order, np.argsort(ids, kind="stable"))


def test_k_larger_than_n_and_bad_input():
    s, _ = two_blocks(2, 2)
    o = cluster_order(s, k=10)
    assert sum(o.sizes) == 4 and len(o.sizes) <= 4
    with pytest.raises(ValueError):
        cluster_order(np.ones((2, 3)))
    with pytest.raises(ValueError):
        cluster_order(s, k=0)


def test_labels_by_hand_follow_the_articles_rule():
    caps = ["a red car", "the red car parked", "red car", "blue sky"]
    ranked = dict(ranked_ngrams(caps))
    # 'red' (3) and 'car' (3) are contained in 'red car' (3) and dropped; 'red car' stays
    assert "red" not in ranked and "car" not in ranked
    assert ranked["red car"] == 3
    assert cluster_label(caps).split(" | ")[0] == "red car"


def test_label_substring_rule_drops_man_inside_woman():
    caps = ["a woman", "a woman", "a man"]
    # 'man' appears once, 'woman' twice; 'man' is a substring of 'woman' with a count 1 <= 2,
    # so the article's rule drops it
    assert cluster_label(caps, top=2) == "woman"


def test_labels_of_stop_words_only():
    assert cluster_label(["the", "a of"]) == ""


def test_blas_distances_agree_with_pdist(monkeypatch):
    from scipy.spatial.distance import pdist

    import explorer.analysis.ordering as ordering

    rng = np.random.default_rng(7)
    obs = rng.normal(size=(60, 30))
    monkeypatch.setattr(ordering, "BLAS_DISTANCES_ABOVE", 10)
    np.testing.assert_allclose(ordering.row_distances(obs), pdist(obs), rtol=1e-10, atol=1e-10)
    s, _ = two_blocks(20, 25, seed=4)
    blas = cluster_order(s, k=4)
    monkeypatch.setattr(ordering, "BLAS_DISTANCES_ABOVE", 10_000)
    exact = cluster_order(s, k=4)
    np.testing.assert_array_equal(blas.order, exact.order)


def brute_force_label(captions, top):
    """The article's rule written out directly: compare every n-gram with every later one."""
    from explorer.analysis.labels import ngram_counts

    grams = sorted(ngram_counts(captions), key=lambda g: (len(g[1]), g[0]))
    kept = [
        (text, count)
        for i, (count, text) in enumerate(grams)
        if not any(text in other and count <= c2 for c2, other in grams[i + 1 :])
    ]
    kept.sort(key=lambda g: -g[1])
    return " | ".join(text for text, _ in kept[:top])


def test_fast_labels_equal_the_brute_force_rule():
    import random

    words = "man woman red car cars tired dog hot dogs playing play player tennis court ball sky blue big a the".split()
    rng = random.Random(0)
    for _ in range(150):
        caps = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(1, 7))]
        for top in (1, 2, 4):
            assert cluster_label(caps, top) == brute_force_label(caps, top), (caps, top)


def test_ngram_counts_equal_scikit_learns_count_vectorizer():
    """The labels' own n-gram counter gives CountVectorizer's vocabulary, counts and order."""
    import random

    from sklearn.feature_extraction.text import CountVectorizer

    from explorer.analysis.labels import ngram_counts

    words = ("A man's red-car, on THE road; Ünïcode café naïve 東京 タワー x y 42 4 the of and _under_score "
             "don't e-mail 🙂 \u200bzero width\u200b").split()
    rng = random.Random(1)
    for _ in range(60):
        caps = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 14))) for _ in range(rng.randint(1, 9))]
        for max_n in (1, 3, 77):
            vec = CountVectorizer(ngram_range=(1, max_n), stop_words="english")
            try:
                totals = np.asarray(vec.fit_transform(caps).sum(axis=0)).ravel()
                expected = [(int(totals[i]), term) for term, i in vec.vocabulary_.items()]
            except ValueError:  # only stop words
                expected = []
            assert ngram_counts(caps, max_n) == expected, (caps, max_n)


def test_ngram_counts_stay_exact_when_the_vocabulary_starts_over(monkeypatch):
    from explorer.analysis import labels

    monkeypatch.setattr(labels, "ANALYSED_CACHE", 5)
    first = ["red car on a road", "red car", "blue sky"]
    expected = labels.ngram_counts(first)
    for _ in range(3):  # each call past the cap clears the ids and the analysed captions
        assert labels.ngram_counts(["a dog runs", "a cat sleeps", "dog and cat"]) == [(2, "dog"), (1, "runs"), (1, "dog runs"),
                                                                                       (2, "cat"), (1, "sleeps"), (1, "cat sleeps"),
                                                                                       (1, "dog cat")]
        assert labels.ngram_counts(first) == expected
    assert len(labels.VOCABULARY.captions) <= 5
