"""Drift tests for text columns: embed without a downloaded model, then test the embeddings.

Texts are embedded by a featuriser that needs no download: character n-gram counts hashed
into a fixed space (:class:`sklearn.feature_extraction.text.HashingVectorizer`), TF-IDF
weighting and a truncated SVD (latent semantic analysis) to ``n_components`` dimensions,
rows scaled to unit length. The IDF weights and the SVD are fitted on the *pooled* texts
(see :func:`text_drift_test` for why), then a permutation test compares the two clouds.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard._result import TestResult
from shiftguard._validation import as_rng, check_choice, check_positive_int
from shiftguard.errors import InputError

TEXT_METHODS = ("mmd", "depth")

# Hashed feature space: 2^18 columns keep collisions between the character 2- to 4-grams
# of a few thousand texts rare, at no memory cost (the matrix is sparse).
_N_HASH_FEATURES = 2**18
_NGRAMS = (2, 4)


@dataclasses.dataclass(frozen=True)
class TextDriftResult(TestResult):
    """Outcome of :func:`text_drift_test`.

    Attributes
    ----------
    n_components
        Dimension of the embedding actually used (at most the requested one, the number of
        texts minus one, and the number of distinct hashed n-grams minus one).
    """

    n_components: int = 0


def text_drift_test(
    ref_texts: Sequence[str],
    cur_texts: Sequence[str],
    method: str = "mmd",
    n_components: int = 32,
    n_permutations: int = 500,
    seed: int | np.random.Generator | None = None,
) -> TextDriftResult:
    """Two-sample test for a text column, on label-blind character n-gram embeddings.

    Parameters
    ----------
    ref_texts, cur_texts
        Reference and current texts (at least 2 each; every item a ``str``).
    method
        ``"mmd"`` (default): :func:`shiftguard.stats.multivariate.mmd_test` on the
        embeddings (RBF kernel, median-heuristic bandwidth on the pooled texts, from the
        non-zero distances when over half of the pairs embed identically, as with many
        repeated texts).
        ``"depth"``: the TTE-depth rank-sum test of Seegmiller & Preum (2023) with a
        permutation p-value (below).
    n_components
        Embedding dimension (truncated SVD components).
    n_permutations
        Number B of permutations of the pooled texts.
    seed
        Seed or Generator for the SVD's randomised solver and the permutations.

    Returns
    -------
    TextDriftResult
        For ``"mmd"`` the statistic is the unbiased MMD^2 of the embeddings. For
        ``"depth"`` it is ``P(depth of a reference text > depth of a current text)``
        (ties 1/2), 0.5 under the null and larger when current texts are less central.

    Notes
    -----
    Why fit on the pooled texts: the permutation test is exact when the statistic is
    computed from a map that treats every text alike. IDF weights and an SVD fitted on the
    pooled texts are symmetric functions of the pooled sample (they ignore the labels), so
    exchangeability survives and the test is exact. Fitting them on the reference alone
    would embed reference texts in-sample and current texts out-of-sample: in-sample
    texts are better reconstructed by their own SVD (larger norms before scaling,
    different directions), so the two clouds would differ even with no drift and the
    test would reject too often. The price of pooling is that the embedding adapts to
    the current texts too, which only helps power.

    TTE depth: the depth of a text x with respect to a sample F is
    ``D(x; F) = 2 - mean_{y in F} (1 - cos(x, y))`` (Seegmiller & Preum 2023, with our
    embeddings in place of a transformer's), high for central texts. Every text's depth
    is taken with respect to the reference texts (a reference text leaves itself out),
    and the Mann-Whitney statistic compares the depths of the two samples. The paper
    refers it to the Wilcoxon normal law, which ignores that all depths share the same
    reference sample; here each permutation re-splits the pooled texts and recomputes
    every depth (one matrix product per batch of permutations), so the p-value is exact.
    The depth test is one-sided: it detects current texts that are *atypical* of the
    reference (less central), the shift it was designed for; MMD detects any difference.

    Guarantee: under the null that the reference and current texts are exchangeable
    (i.i.d. from one distribution), ``P(pvalue <= alpha) <= alpha`` for both methods at
    every sample size. The featuriser sees characters, not meaning: drift in topic,
    vocabulary, language, length or formatting is visible; a change in meaning expressed
    with the same character n-grams is not.

    References
    ----------
    Seegmiller & Preum (2023). Statistical depth for ranking and characterizing
    transformer-based text embeddings. EMNLP.
    Deerwester et al. (1990). Indexing by latent semantic analysis. JASIS 41.
    Gretton et al. (2012). A kernel two-sample test. JMLR 13.
    """
    from shiftguard.stats.multivariate import mmd_test, permutation_pvalue

    check_choice(method, "method", TEXT_METHODS)
    n_components = check_positive_int(n_components, "n_components")
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    ref = _as_texts(ref_texts, "ref_texts")
    cur = _as_texts(cur_texts, "cur_texts")
    rng = as_rng(seed)
    embedding = _embed(ref + cur, n_components, rng)
    n = len(ref)
    if method == "mmd":
        res = mmd_test(embedding[:n], embedding[n:], n_permutations=n_permutations, seed=rng)
        return TextDriftResult(
            method="text_mmd", statistic=res.statistic, pvalue=res.pvalue,
            n_permutations=n_permutations, n_components=embedding.shape[1],
        )
    observed, permuted = _depth_rank_statistics(embedding, n, n_permutations, rng)
    return TextDriftResult(
        method="text_depth", statistic=observed,
        pvalue=permutation_pvalue(observed, permuted), effect_size=observed - 0.5,
        n_permutations=n_permutations, n_components=embedding.shape[1],
    )


def _as_texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got one string", name)
    try:
        items = list(texts)
    except TypeError:
        raise InputError(f"expected a sequence of texts, got {type(texts).__name__}",
                         name) from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InputError(
                f"item {i} is {type(item).__name__} ({item!r}), not str; drop or fill "
                "missing texts first", name
            )
    if len(items) < 2:
        raise InputError(f"needs at least 2 texts, got {len(items)}", name)
    return items


def _embed(texts: list[str], n_components: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-length LSA embeddings of hashed character n-grams, fitted on ``texts``."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from threadpoolctl import threadpool_limits

    counts = HashingVectorizer(
        analyzer="char_wb", ngram_range=_NGRAMS, n_features=_N_HASH_FEATURES,
        alternate_sign=False, norm=None, lowercase=True,
    ).transform(texts)
    if counts.nnz == 0:
        raise InputError("every text is empty (or too short to hold a character pair)",
                         "ref_texts, cur_texts")
    # Only the hashed n-grams that occur matter; dropping the empty columns shrinks the
    # randomised SVD's dense work from 2^18 rows to the observed vocabulary.
    counts = counts[:, np.unique(counts.indices)]
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    k = min(n_components, len(texts) - 1, counts.shape[1] - 1)
    if k < 1:
        raise InputError("the texts hold fewer than two distinct character n-grams; there "
                         "is nothing to embed", "ref_texts, cur_texts")
    svd = TruncatedSVD(n_components=k, n_iter=7, random_state=int(rng.integers(2**31 - 1)))
    # The solver's dense blocks are (vocabulary x ~40): too thin for BLAS threads to pay
    # off; single-threaded it runs several times faster on a loaded machine.
    with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        # With fewer distinct texts than components the unused explained-variance ratio
        # divides 0 by 0; the embedding itself is fine.
        warnings.simplefilter("ignore", RuntimeWarning)
        embedding = svd.fit_transform(tfidf)
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    # A text sharing no n-gram with the SVD's subspace embeds at the origin; it stays there
    # (cosine distance 1 to everything) instead of being divided by zero.
    return embedding / np.where(norms > 0, norms, 1.0)


def _depth_rank_statistics(
    embedding: np.ndarray, n: int, n_permutations: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """P(depth_ref > depth_cur) for the observed split and for B random re-splits."""
    from scipy.stats import rankdata

    size = embedding.shape[0]
    m = size - n
    cos_dist = 1.0 - embedding @ embedding.T
    np.fill_diagonal(cos_dist, 0.0)
    membership = np.zeros(size)
    membership[:n] = 1.0

    def auc(ref_member: np.ndarray) -> np.ndarray:
        # Mean distance to the reference members, leaving a member itself out.
        depth = 2.0 - (ref_member @ cos_dist) / (n - ref_member)
        ranks = rankdata(depth, axis=-1)
        u = (ranks * ref_member).sum(axis=-1) - n * (n + 1) / 2.0
        return u / (n * m)

    observed = float(auc(membership[None])[0])
    permuted = np.concatenate([
        auc(rng.permuted(np.broadcast_to(membership, (min(256, n_permutations - s), size)),
                         axis=1))
        for s in range(0, n_permutations, 256)
    ])
    return observed, permuted
