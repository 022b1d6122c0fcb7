"""ECOD and COPOD: outlier scores from per-feature empirical tail probabilities, fitted once.

Both detectors estimate, for every feature, the left- and right-tail empirical CDFs of the
training data and score a row by how far into the tails its values fall (the negative log
of the tail probabilities, summed over features). Fitting sorts each training column once;
a new row costs two binary searches per feature, ``O(d log n)``, and the training set is
never re-scored -- PyOD's ``ECOD``/``COPOD`` rebuild the ECDFs over training plus query
rows at every ``decision_function`` call (6.7 s for one row against 1,000,000 x 10).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

import numpy as np

from shiftguard._validation import check_choice
from shiftguard.ood._base import check_features, check_fitted

RULES = ("pyod", "paper")
# Rows scored per block: bounds the (rows, features) temporaries of a large batch.
_BLOCK_ROWS = 1 << 16


class _EmpiricalTailDetector:
    """Shared state and scoring of :class:`ECOD` and :class:`COPOD`.

    Subclasses define :meth:`_feature_terms`, the per-feature outlier score of PyOD's rule.
    """

    def __init__(self, rule: str = "pyod") -> None:
        self.rule = rule

    def fit(self, X: Any, y: Any = None) -> Self:
        """Sort each training column and record the sign of its skewness.

        Parameters
        ----------
        X
            Training rows, shape (n, d), finite.
        y
            Ignored (unsupervised).

        Returns
        -------
        self
            With ``sorted_columns_`` (d, n), ``skew_sign_`` (d,) and ``skew_moments_``
            (3, d: mean and second and third central moments), ``n_features_in_`` and
            ``train_scores_`` (n,): the in-sample scores of the training rows, each row's
            ECDF including itself (PyOD's ``decision_scores_``). They are not exchangeable
            with scores of new rows: calibrate on rows held out of ``fit``.
        """
        check_choice(self.rule, "rule", RULES)
        X = check_features(X, "X")
        n, d = X.shape
        # Set before the training rows are scored, which use it.
        self.skew_moments_ = _central_moments(X)
        self.skew_sign_ = _skewness_sign(*self.skew_moments_)
        sorted_columns = np.empty((d, n))
        train = _Accumulator(self, n)
        for j in range(d):
            order = np.argsort(X[:, j])
            col = X[order, j]
            sorted_columns[j] = col
            sorted_at_most, sorted_at_least = _self_tail_counts(col)
            at_most = np.empty(n)
            at_least = np.empty(n)
            at_most[order] = sorted_at_most
            at_least[order] = sorted_at_least
            train.add(j, -np.log(at_most / n), -np.log(at_least / n))
        self.sorted_columns_ = sorted_columns
        self.n_features_in_ = d
        self.train_scores_ = train.scores()
        return self

    def score(self, X: Any) -> np.ndarray:
        """Outlier score of each row of ``X``: the sum over features of the negative log
        tail probabilities (see the class notes); higher means more anomalous.

        Parameters
        ----------
        X
            Rows to score, shape (m, d) with the ``d`` features seen in ``fit``.

        Returns
        -------
        numpy.ndarray
            Shape (m,), float64, >= 0.
        """
        X = self._checked(X)
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], _BLOCK_ROWS):
            block = X[start:start + _BLOCK_ROWS]
            acc = _Accumulator(self, block.shape[0])
            for j, left, right in self._new_row_tails(block):
                acc.add(j, left, right, block[:, j])
            out[start:start + block.shape[0]] = acc.scores()
        return out

    def contributions(self, X: Any) -> np.ndarray:
        """Per-feature outlier scores of each row (ECOD's "dimensional outlier scores").

        Entry ``(i, j)`` is ``-log p_ij`` for the tail probability ``p_ij`` of feature ``j``
        that enters row ``i``'s score, so ``np.exp(-contributions(X))`` are the tail
        probabilities and ``contributions(X).sum(axis=1)`` equals ``score(X)``. Large
        entries name the features that make a row unusual.

        Parameters
        ----------
        X
            Rows to explain, shape (m, d).

        Returns
        -------
        numpy.ndarray
            Shape (m, d), float64, >= 0.
        """
        X = self._checked(X)
        m, d = X.shape
        left = np.empty((m, d))
        right = np.empty((m, d))
        for j, u_left, u_right in self._new_row_tails(X):
            left[:, j] = u_left
            right[:, j] = u_right
        if self.rule == "pyod":
            sign = np.column_stack([
                _row_skewness_sign(X[:, j], self.skew_moments_[:, j], self.sorted_columns_[j])
                for j in range(d)])
            w_left, w_right = _tail_weights(sign)
            return self._feature_terms(left, right, w_left, w_right)
        auto = np.where(self.skew_sign_ < 0, left, right)
        sums = np.stack([left.sum(axis=1), right.sum(axis=1), auto.sum(axis=1)])
        winner = np.argmax(sums, axis=0)[:, None]
        return np.where(winner == 0, left, np.where(winner == 1, right, auto))

    def _checked(self, X: Any) -> np.ndarray:
        check_fitted(self, "sorted_columns_")
        return check_features(X, "X", n_features=self.n_features_in_)

    def _new_row_tails(self, X: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """``(j, -log F_left, -log F_right)`` of feature ``j`` for rows not in training.

        Each row is counted in its own ECDFs, as if it joined the training sample alone:
        ``F_left(x) = (#{train <= x} + 1) / (n + 1)``, so a probability is never 0.
        """
        n = self.sorted_columns_.shape[1]
        for j in range(X.shape[1]):
            at_most, at_least = _tail_counts(self.sorted_columns_[j], X[:, j])
            yield j, -np.log((at_most + 1.0) / (n + 1)), -np.log((at_least + 1.0) / (n + 1))

    @staticmethod
    def _feature_terms(left: np.ndarray, right: np.ndarray, w_left: np.ndarray,
                       w_right: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _tail_counts(col: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of values of the sorted ``col`` that are ``<= x`` and ``>= x``, per ``x``.

    The queries are sorted first when there are many: binary searches of increasing keys
    reuse the previous bracket (about 5x faster for 100,000 keys into 1,000,000 values).
    """
    n = col.size
    if x.size < 64:
        return (np.searchsorted(col, x, side="right").astype(np.float64),
                n - np.searchsorted(col, x, side="left").astype(np.float64))
    order = np.argsort(x)
    xs = x[order]
    at_most = np.empty(x.size)
    at_least = np.empty(x.size)
    at_most[order] = np.searchsorted(col, xs, side="right")
    at_least[order] = n - np.searchsorted(col, xs, side="left")
    return at_most, at_least


def _self_tail_counts(col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value of the sorted ``col``, the numbers of values ``<=`` and ``>=`` it
    (itself and its ties included), from the runs of equal values in one pass."""
    n = col.size
    new_run = np.empty(n, dtype=bool)
    new_run[0] = True
    np.not_equal(col[1:], col[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    ends = starts + lengths
    return (np.repeat(ends.astype(np.float64), lengths),
            np.repeat((n - starts).astype(np.float64), lengths))


class _Accumulator:
    """Row scores built one feature at a time, so no (rows, features) array is needed."""

    def __init__(self, detector: _EmpiricalTailDetector, m: int) -> None:
        self.detector = detector
        self.paper = detector.rule == "paper"
        self.left_tail = detector.skew_sign_ < 0
        self.sums = np.zeros((3, m)) if self.paper else np.zeros((1, m))

    def add(self, j: int, left: np.ndarray, right: np.ndarray,
            new_values: np.ndarray | None = None) -> None:
        """Add feature ``j``'s tail terms; ``new_values`` are the rows' values of the
        feature when they are new rows (PyOD's rule then takes the skewness sign with each
        row added), ``None`` for the training rows (the training skewness)."""
        if self.paper:
            self.sums[0] += left
            self.sums[1] += right
            self.sums[2] += left if self.left_tail[j] else right
            return
        if new_values is None:
            sign = self.detector.skew_sign_[j]
        else:
            sign = _row_skewness_sign(new_values, self.detector.skew_moments_[:, j],
                                      self.detector.sorted_columns_[j])
        w_left, w_right = _tail_weights(sign)
        self.sums[0] += self.detector._feature_terms(left, right, w_left, w_right)

    def scores(self) -> np.ndarray:
        return self.sums.max(axis=0)


class ECOD(_EmpiricalTailDetector):
    """Empirical-CDF outlier detection (ECOD), fitted once.

    For feature ``j`` and value ``x``, let ``F_left(x)`` be the share of training values
    ``<= x`` and ``F_right(x)`` the share ``>= x``, and ``U = -log F``. With
    ``rule="pyod"`` (default, PyOD's ``ECOD``, which produced the published benchmark
    numbers) the score of a row is ``sum_j max(U_left, U_right, U_skew)``, where ``U_skew``
    is the tail chosen by the sign of the feature's training skewness (so in effect
    ``sum_j max(U_left, U_right)``, and ``U_left + U_right`` for a feature whose skewness is
    exactly 0). With ``rule="paper"`` it is Algorithm 1 of the paper: the largest of the
    three sums ``sum_j U_left``, ``sum_j U_right`` and ``sum_j U_auto`` (``U_auto`` =
    left tail where the skewness is negative, else right) -- the maximum is taken after
    summing, not per feature (PyOD issue #453); under this rule ECOD and COPOD coincide.

    A high score means the row's values lie far in the tails of the training marginals,
    many features at a time. The score does not model dependence between features. Neither
    rule dominates: in-sample AUROC 0.935 / 0.881 (pyod / paper) on ADBench cardio, 0.705 /
    0.781 on glass, 0.728 / 0.703 on Ionosphere, 0.995 / 0.995 on Lymphography.

    Parameters
    ----------
    rule
        ``"pyod"`` or ``"paper"``, as above.

    Notes
    -----
    *Fitted once.* ``fit`` sorts each column (``O(n log n)`` per feature, 1.0 s of CPU for
    1,000,000 x 10); a new row needs two binary searches per feature, ``O(d log n)``:
    0.09 ms for one row against 1,000,000 x 10, where PyOD takes 6.7 s.

    *New rows.* A new row is counted in its own ECDFs, as if it joined the training sample
    alone: ``F_left(x) = (#{train <= x} + 1) / (n + 1)``, never 0. This is exactly what
    PyOD's ``decision_function`` computes for a batch of that one row (it concatenates the
    query rows with the training rows), the skewness sign included: it is the sign over
    the training values plus that row, updated from the training moments in ``O(1)``
    (under ``rule="pyod"`` ECOD's score depends on it only where it is exactly 0). Measured
    on the ADBench tables cardio, glass, Ionosphere and Lymphography (fitted on a random
    half, the other half scored one row at a time): largest difference 4e-14. For a batch
    of ``m`` rows PyOD's ECDFs also count the batch's other rows, so a row's PyOD score
    depends on the rest of the batch (ours does not): with ``k`` training values in the
    tail, a per-feature ``-log F`` differs by at most the larger of ``log((n + m) /
    (n + 1))`` and ``log((k + m) / (k + 1))``. Scoring the other half as one batch, the
    scores differed by 0.28-0.85 on average (largest 4.1, Spearman correlation 0.955-0.999
    with PyOD's; test AUROC from 0.08 lower, on the 107 test rows of glass, to 0.005
    higher: PyOD's batch ECDFs see twice the data there).

    *Training rows.* ``train_scores_`` are PyOD's ``decision_scores_``: the ECDFs are over
    the training rows, each row included (relative difference below 1e-15 on those four
    tables). They are in-sample; for calibrated decisions score rows held out of ``fit``.

    References
    ----------
    Z. Li, Y. Zhao, X. Hu, N. Botta, C. Ionescu, G. H. Chen (2022). ECOD: Unsupervised
    outlier detection using empirical cumulative distribution functions. IEEE TKDE.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.ecod import ECOD
    >>> rng = np.random.default_rng(0)
    >>> det = ECOD().fit(rng.normal(size=(1000, 3)))
    >>> s = det.score([[0.0, 0.0, 0.0], [4.0, 0.0, -4.0]])
    >>> bool(s[1] > s[0])
    True
    >>> det.contributions([[4.0, 0.0, -4.0]]).round(1)  # features 0 and 2 are extreme
    array([[6.9, 0.7, 6.9]])
    """

    @staticmethod
    def _feature_terms(left: np.ndarray, right: np.ndarray, w_left: np.ndarray,
                       w_right: np.ndarray) -> np.ndarray:
        return np.maximum(np.maximum(left, right), w_left * left + w_right * right)


class COPOD(_EmpiricalTailDetector):
    """Copula-based outlier detection (COPOD), fitted once.

    The empirical copula of the training data gives, per feature, left- and right-tail
    probabilities ``F_left``, ``F_right`` (shares of training values ``<= x`` and
    ``>= x``; ``U = -log F``). With ``rule="pyod"`` (default, PyOD's ``COPOD``) the
    score of a row is ``sum_j max(U_skew, (U_left + U_right) / 2)``, where ``U_skew`` is
    the tail chosen by the sign of the feature's training skewness (both tails added
    when it is exactly 0). With ``rule="paper"`` it is the paper's Algorithm 1: the largest
    of the negative log left-tail, right-tail and skewness-corrected empirical copula
    probabilities, i.e. of ``sum_j U_left``, ``sum_j U_right``, ``sum_j U_auto`` -- the same
    score as ``ECOD(rule="paper")``.

    A high score means the row lies in the tails of the training marginals; dependence
    between features is not modelled (the empirical copula's tail probability of a row is
    taken as the product of its marginal ones).

    Parameters
    ----------
    rule
        ``"pyod"`` or ``"paper"``, as above.

    Notes
    -----
    Fitted once, with the same conventions and measurements as :class:`ECOD` (see its
    notes): a new row is scored exactly as PyOD scores a batch of that one row, including
    where adding the row flips the sign of a feature's skewness (the sign over training
    plus that row is updated from the training moments; a fixed training sign gave scores
    up to 2.0 apart on three ADBench tables); ``train_scores_`` equals PyOD's
    ``decision_scores_``. With ``rule="paper"`` the sign is the training one.

    References
    ----------
    Z. Li, Y. Zhao, N. Botta, C. Ionescu, X. Hu (2020). COPOD: Copula-based outlier
    detection. IEEE ICDM.

    Examples
    --------
    >>> import numpy as np
    >>> from shiftguard.ood.ecod import COPOD
    >>> rng = np.random.default_rng(0)
    >>> det = COPOD().fit(rng.exponential(size=(1000, 2)))
    >>> s = det.score([[0.7, 0.7], [9.0, 0.7]])
    >>> bool(s[1] > s[0])
    True
    """

    @staticmethod
    def _feature_terms(left: np.ndarray, right: np.ndarray, w_left: np.ndarray,
                       w_right: np.ndarray) -> np.ndarray:
        return np.maximum(w_left * left + w_right * right, (left + right) / 2.0)


def _central_moments(X: np.ndarray) -> np.ndarray:
    """Mean and second and third central moments of each column, shape (3, d), with the
    same floating-point operations as ``scipy.stats.skew(X, axis=0)`` (PyOD's call), so the
    training skewness sign agrees bit for bit even where the skewness is near 0, without
    SciPy's argument-handling copies and second pass (1.7 of 2.6 s of ``fit`` on
    10^6 x 20)."""
    mean = X.mean(axis=0, keepdims=True)
    centred = X - mean
    m2 = (centred**2).mean(axis=0)
    cubed = centred**2
    cubed *= centred
    m3 = cubed.mean(axis=0)
    return np.stack([mean[0], m2, m3])


def _row_skewness_sign(x: np.ndarray, moments: np.ndarray, sorted_col: np.ndarray) -> np.ndarray:
    """Sign of a feature's skewness over its ``n`` training values plus one new value, for
    each new value ``x`` (1-D): what PyOD computes when it scores that row alone.

    An ``O(1)`` update of the training ``moments`` (mean, m2, m3) per value: with
    ``c = x - mean`` and ``s = c / (n + 1)`` the shift of the mean, the sums of squared and
    cubed deviations from the new mean over the ``n + 1`` values are
    ``S2 = n m2 + c^2 - (n + 1) s^2`` and
    ``S3 = n m3 + c^3 - 3 s (n m2 + c^2) + 3 s^2 c - (n + 1) s^3``. Where ``S3`` is zero up
    to the update's rounding (an exactly symmetric sample, where SciPy returns a skewness
    of exactly 0), the skewness is recomputed from the values with SciPy's two passes.
    ``S3`` is a cubic in ``x``, so at most three values per feature can be exactly
    symmetric: the recomputation runs once per distinct such value.
    """
    n = sorted_col.size
    mean, m2, m3 = moments
    c = x - mean
    s = c / (n + 1)
    sum2 = n * m2 + c * c
    terms = (n * m3, c * c * c, 3.0 * s * sum2, 3.0 * s * s * c, (n + 1) * s * s * s)
    sum3 = terms[0] + terms[1] - terms[2] + terms[3] - terms[4]
    sum2 -= (n + 1) * s * s
    sign = _skewness_sign(mean + s, sum2 / (n + 1), sum3 / (n + 1))
    rounding = 64 * np.finfo(np.float64).eps * sum(np.abs(t) for t in terms)
    unclear = np.flatnonzero(np.abs(sum3) <= rounding)
    if unclear.size:
        values, where = np.unique(x[unclear], return_inverse=True)
        exact = np.array([_skewness_sign(*_central_moments(np.append(sorted_col, v)[:, None])
                                         [:, 0]) for v in values])
        sign = np.array(sign, dtype=np.float64)
        sign[unclear] = exact[where]
    return sign


def _skewness_sign(mean: np.ndarray, m2: np.ndarray, m3: np.ndarray) -> np.ndarray:
    """Sign of the skewness ``m3 / m2**1.5``, 0 for a (numerically) constant column -- the
    test ``scipy.stats.skew`` applies."""
    with np.errstate(all="ignore"):
        constant = m2 <= (np.finfo(np.float64).eps * mean) ** 2
        return np.where(constant, 0.0, np.sign(m3 / m2**1.5))


def _tail_weights(sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights of the left and right tails in PyOD's skewness-chosen term ``U_skew``:
    (1, 0) for negative skewness, (0, 1) for positive, and (1, 1) -- both tails added --
    when it is exactly 0 (a constant or exactly symmetric column)."""
    return -np.sign(sign - 1.0), np.sign(sign + 1.0)
