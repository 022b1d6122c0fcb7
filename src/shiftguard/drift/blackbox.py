"""Black-box shift detection: test a fixed model's outputs instead of its inputs.

A model ``f`` trained before deployment maps each row to class probabilities (or a
predicted label). If the inputs' distribution is unchanged, so is the distribution of
``f(x)``; comparing the outputs on reference and current rows is therefore a valid test of
"no shift", in a space of dimension K (the number of classes) whatever the input's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, check_choice
from shiftguard.errors import InputError

_ALTERNATIVES = ("two-sided", "less", "greater")


@dataclasses.dataclass(frozen=True)
class BBSDResult(ResultMixin):
    """Outcome of :func:`bbsd_test`.

    Attributes
    ----------
    method
        ``"bbsd_ks"``.
    statistic
        The largest per-class KS statistic.
    pvalue
        Bonferroni-merged p-value, ``min(1, K * min_k p_k)``.
    class_statistics, class_pvalues
        KS statistic and p-value of each class column (unadjusted).
    classes
        Class names (column positions unless given).
    """

    method: str
    statistic: float
    pvalue: float
    class_statistics: tuple[float, ...]
    class_pvalues: tuple[float, ...]
    classes: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class PredictedLabelResult(ResultMixin):
    """Outcome of :func:`predicted_label_test`.

    Attributes
    ----------
    method
        ``"predicted_label_chi2"``.
    statistic, pvalue
        Pearson's chi-squared statistic and p-value of the 2 x K table of predicted labels.
    effect_size
        Cramer's V of the table.
    classes
        Labels seen in either sample, sorted.
    reference_share, current_share
        Share of each label among the reference and the current predictions.
    """

    method: str
    statistic: float
    pvalue: float
    effect_size: float
    classes: tuple[Any, ...]
    reference_share: tuple[float, ...]
    current_share: tuple[float, ...]


def bbsd_test(
    probs_ref: Any,
    probs_cur: Any,
    classes: Any = None,
    alternative: str = "two-sided",
) -> BBSDResult:
    """Black-box shift detection (BBSD): per-class KS tests on predicted probabilities.

    Column k of ``probs_ref`` (n, K) is compared with column k of ``probs_cur`` (m, K) by a
    two-sample Kolmogorov-Smirnov test (:func:`shiftguard.stats.ks.ks_test`, equal
    to ``scipy.stats.ks_2samp``); the K p-values are merged by Bonferroni.

    Parameters
    ----------
    probs_ref, probs_cur
        Outputs of one fixed model on reference and current rows: class probabilities, or
        any per-class scores (logits, say). A 1-D array is one score per row.
    classes
        Optional names of the K columns, for the result.
    alternative
        Passed to each KS test; ``"two-sided"`` unless a direction is known.

    Returns
    -------
    BBSDResult

    Notes
    -----
    Guarantee: if the model is fixed (trained on data independent of both samples) and
    the reference and current rows are independent i.i.d. samples from one input
    distribution, each class's KS p-value is exact for continuous outputs (conservative with
    ties), so ``P(pvalue <= alpha) <= alpha`` at every sample size; Bonferroni needs no
    assumption about the dependence between the columns.

    What it detects: any shift that moves the distribution of some *marginal* of the
    model's output. It is blind to input shifts the model ignores (changes in features it
    does not use, or that leave each class score's distribution unchanged), and to
    changes in the joint law of the scores that keep every marginal. Under label shift
    (p(x | y) fixed, p(y) changing) an output shift is detected whenever the model's
    confusion matrix is invertible (Lipton et al. 2018). A significant result does not
    say the model's accuracy dropped.

    References
    ----------
    Lipton, Wang & Smola (2018). Detecting and correcting for label shift with black box
    predictors. ICML.
    Rabanser, Guennemann & Lipton (2019). Failing loudly: an empirical study of methods
    for detecting dataset shift. NeurIPS.
    """
    from shiftguard.stats.ks import ks_test

    check_choice(alternative, "alternative", _ALTERNATIVES)
    ref = as_float_array(probs_ref, "probs_ref", ndim=2)
    cur = as_float_array(probs_cur, "probs_cur", ndim=2)
    if ref.shape[1] != cur.shape[1]:
        raise InputError(
            f"has {cur.shape[1]} class columns but probs_ref has {ref.shape[1]}", "probs_cur"
        )
    n_classes = ref.shape[1]
    names = tuple(range(n_classes)) if classes is None else tuple(classes)
    if len(names) != n_classes:
        raise InputError(f"has {len(names)} names for {n_classes} columns", "classes")
    # One ks_test per column: K is small, and ks_test_many's fixed cost (a parallel numba
    # launch) dominates at the sample sizes a monitoring window holds.
    results = [ks_test(ref[:, k], cur[:, k], alternative=alternative) for k in range(n_classes)]
    statistics = np.array([r.statistic for r in results])
    pvalues = np.array([r.pvalue for r in results])
    return BBSDResult(
        method="bbsd_ks",
        statistic=float(statistics.max()),
        pvalue=float(min(1.0, n_classes * pvalues.min())),
        class_statistics=tuple(float(s) for s in statistics),
        class_pvalues=tuple(float(p) for p in pvalues),
        classes=names,
    )


def predicted_label_test(
    labels_ref: Any, labels_cur: Any, *, method: str = "auto", n_permutations: int = 9999,
    seed: int | np.random.Generator | None = None,
) -> PredictedLabelResult:
    """Chi-squared test that a fixed model's predicted labels have the same distribution.

    Pearson's chi-squared test of homogeneity of the 2 x K table of predicted-label counts
    (:func:`shiftguard.stats.categorical.chi2_test_counts`: equal to
    ``scipy.stats.chi2_contingency(table, correction=False)`` when every expected count is
    at least 5, a permutation p-value otherwise).

    Parameters
    ----------
    labels_ref, labels_cur
        Predicted labels (``argmax`` of the probabilities, say) on reference and current
        rows, 1-D.
    method, n_permutations, seed
        As in :func:`~shiftguard.stats.categorical.chi2_test_counts`.

    Returns
    -------
    PredictedLabelResult

    Notes
    -----
    Guarantee: if the model is fixed and both samples are i.i.d. from one input
    distribution, the predicted labels are i.i.d. multinomial with the same probabilities,
    hence exchangeable between the samples: the permutation p-value (used by default
    whenever an expected count is below 5) is valid at every size, the chi-squared limit
    (used otherwise) as the counts grow. This is the "BBSD with hard predictions"
    test of Rabanser et al. (2019); it sees only shifts that change the predicted-class
    shares, and under label shift with an invertible confusion matrix every change of
    p(y) changes them (Lipton et al. 2018).

    References
    ----------
    Lipton, Wang & Smola (2018). Detecting and correcting for label shift with black box
    predictors. ICML.
    Rabanser, Guennemann & Lipton (2019). Failing loudly. NeurIPS.
    """
    from shiftguard.stats.categorical import chi2_test_counts, label_counts

    classes, ref_counts, cur_counts, _ = label_counts(labels_ref, labels_cur)
    res = chi2_test_counts(ref_counts, cur_counts, categories=classes, method=method,
                           n_permutations=n_permutations, seed=seed)
    return PredictedLabelResult(
        method="predicted_label_chi2",
        statistic=float(res.statistic),
        pvalue=float(res.pvalue),
        effect_size=float(res.effect_size),
        classes=tuple(classes.tolist()),
        reference_share=tuple((ref_counts / ref_counts.sum()).tolist()),
        current_share=tuple((cur_counts / cur_counts.sum()).tolist()),
    )
