"""Out-of-distribution scores from a classifier's logits: maximum softmax probability,
maximum logit and energy.

Each function takes the (n, n_classes) matrix of logits a trained classifier gives the rows
to be checked and returns one float64 per row, **higher meaning more anomalous** (the
papers define confidences, higher for in-distribution inputs; here they are negated).
The scores carry no error rate by themselves: turn them into p-values against the scores
of held-out in-distribution rows (conformal calibration) to get a decision with one.

All three go through ``logsumexp`` with the row maximum taken out first, so logits of any
magnitude (1e300 included) give finite scores.

References
----------
Hendrycks, D. and Gimpel, K. (2017). A baseline for detecting misclassified and
out-of-distribution examples in neural networks. ICLR.
Hendrycks, D., Basart, S., Mazeika, M., Zou, A., Kwon, J., Mostajabi, M., Steinhardt, J.
and Song, D. (2022). Scaling out-of-distribution detection for real-world settings. ICML.
Liu, W., Wang, X., Owens, J. and Li, Y. (2020). Energy-based out-of-distribution
detection. NeurIPS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shiftguard._validation import as_float_array, check_positive_number
from shiftguard.errors import InputError

__all__ = ["energy_score", "max_logit_score", "max_softmax_score"]


def _check_logits(logits: Any) -> np.ndarray:
    """``logits`` as a finite (n, n_classes) float64 array with at least two classes."""
    arr = as_float_array(logits, "logits", ndim=2)
    if arr.shape[1] < 2:
        raise InputError(
            f"needs at least 2 classes (columns), got {arr.shape[1]}; pass one row per "
            "input, shape (n, n_classes)",
            "logits",
        )
    return arr


def _logsumexp_rows(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row maxima and row-wise ``log(sum(exp(z)))``, computed without overflow."""
    top = z.max(axis=1)
    # exp(z - top) lies in (0, 1] with at least one 1, so the sum is in [1, n_classes].
    return top, top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def max_softmax_score(logits: Any) -> np.ndarray:
    """Negated maximum softmax probability (MSP) of each row.

    ``-max_k softmax(logits)_k``, in ``[-1, -1/n_classes]``; an input the classifier is
    unsure about (flat softmax) scores high.

    Parameters
    ----------
    logits
        Array of shape (n, n_classes), n_classes >= 2, finite.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64, higher = more anomalous.

    Raises
    ------
    InputError
        NaN/inf logits, or fewer than two classes.

    References
    ----------
    Hendrycks and Gimpel (2017), ICLR.

    Examples
    --------
    >>> max_softmax_score([[5.0, 0.0, 0.0], [1.0, 1.0, 1.0]]).round(4)
    array([-0.9867, -0.3333])
    """
    z = _check_logits(logits)
    top, lse = _logsumexp_rows(z)
    return -np.exp(top - lse)


def max_logit_score(logits: Any) -> np.ndarray:
    """Negated maximum logit (MaxLogit) of each row.

    ``-max_k logits_k``. Unlike MSP it keeps the scale of the logits, which is what makes
    it better on many-class problems (Hendrycks et al., 2022).

    Parameters
    ----------
    logits
        Array of shape (n, n_classes), n_classes >= 2, finite.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64, higher = more anomalous.

    References
    ----------
    Hendrycks et al. (2022), ICML.

    Examples
    --------
    >>> max_logit_score([[5.0, 0.0], [1.0, 2.0]])
    array([-5., -2.])
    """
    return -_check_logits(logits).max(axis=1)


def energy_score(logits: Any, temperature: float = 1.0) -> np.ndarray:
    """Free energy of each row, ``-T * logsumexp(logits / T)``.

    Liu et al. (2020) flag inputs of high energy (low ``logsumexp``) as
    out-of-distribution: the energy is, up to a constant shared by all inputs, the negative
    log of the density a softmax classifier implies for the input, so unlike MSP it is not
    squashed by the normalisation of the softmax.

    Parameters
    ----------
    logits
        Array of shape (n, n_classes), n_classes >= 2, finite.
    temperature
        ``T > 0``; the paper uses 1.

    Returns
    -------
    numpy.ndarray
        Shape (n,), float64, higher = more anomalous.

    Raises
    ------
    InputError
        NaN/inf logits, or fewer than two classes.
    ParameterError
        ``temperature`` not a finite positive number.

    References
    ----------
    Liu, Wang, Owens and Li (2020), NeurIPS.

    Examples
    --------
    >>> energy_score([[0.0, 0.0], [10.0, -10.0]]).round(4)
    array([ -0.6931, -10.    ])
    """
    t = check_positive_number(temperature, "temperature")
    z = _check_logits(logits)
    _, lse = _logsumexp_rows(z / t)
    return -t * lse
