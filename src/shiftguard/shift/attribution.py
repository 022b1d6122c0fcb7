"""Shapley attribution of a change in model performance to shifts in ``P(X)`` and ``P(Y|X)``.

A model's mean loss moves from ``metric_ref`` on reference data to ``metric_cur`` on
current data. Following Zhang, Singh, Ghassemi and Joshi (2023, *"Why did the model
fail?": attributing model performance changes to distribution shifts*, ICML), the joint
distribution is factorised into mechanisms, each a player of a cooperative game:

    P(X, Y) = P(X_G1) P(X_G2 | X_G1) ... P(X_GK | X_G1..GK-1) P(Y | X)

for feature groups ``G1 .. GK`` (one group, ``P(X)``, by default). The value of a coalition
``S`` is the mean loss under the distribution whose mechanisms in ``S`` come from the
current data and the others from the reference; each player's attribution is its Shapley
value, and the attributions add up to ``metric_cur - metric_ref`` (efficiency).

Coalition values are importance-weighted means. With ``w_k`` the density ratio
``p_cur / p_ref`` of the features in groups ``1..k`` (a domain classifier per prefix) and
``r_k = w_k / w_{k-1}`` the ratio of the ``k``-th conditional,

- a coalition without ``P(Y|X)`` reweights the reference rows by ``prod_{k in S} r_k``;
- a coalition with ``P(Y|X)`` reweights the current rows by ``prod_{k not in S} 1 / r_k``,

so no model of ``P(Y|X)`` or of the joint ratio is needed. Weighted means are
self-normalised, which makes the empty and the full coalition exactly the reference and
current metrics.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shiftguard._result import ResultMixin
from shiftguard._validation import as_float_array, as_rng, check_alpha, check_positive_int
from shiftguard.errors import InputError, ParameterError, SchemaError
from shiftguard.shift.density_ratio import (
    ClassifierDensityRatio,
    ShiftWarning,
    WeightDiagnostics,
    weight_diagnostics,
)

#: Fewest rows in each sample for a bootstrap interval: below it resamples often repeat
#: most rows and the domain classifier of a replicate sees only a handful of distinct points.
MIN_BOOTSTRAP_ROWS = 20

_MAX_EXACT_LIMIT = 16  # 2**16 coalitions: the largest exact game evaluated in reasonable memory
_CHUNK_CELLS = 4_000_000  # rows x coalitions per block of weighted means


@dataclasses.dataclass(frozen=True)
class PerformanceAttribution(ResultMixin):
    """Shapley attribution of ``metric_cur - metric_ref`` to the shifted mechanisms.

    Attributes
    ----------
    players
        Names of the mechanisms, e.g. ``("P(X)", "P(Y | X)")`` or
        ``("P(a, b)", "P(c | a, b)", "P(Y | X)")``.
    attributions
        Shapley value of each player; they sum to ``change``.
    lower, upper
        Percentile bootstrap interval of each attribution (NaN when ``n_bootstrap == 0``;
        Guarantee section of :func:`attribute_performance_change`).
    metric_ref, metric_cur
        Mean per-row loss (or score) on the reference and on the current rows.
    change
        ``metric_cur - metric_ref``.
    change_lower, change_upper
        Percentile bootstrap interval of ``change``.
    groups
        Feature names (or column indices as strings) of each ``P(X)`` player, in the order
        of the factorisation.
    method
        ``"exact"`` (every coalition) or ``"permutation"`` (sampled orderings).
    n_bootstrap
        Number of bootstrap replicates behind the intervals.
    alpha
        The intervals have nominal coverage ``1 - alpha``.
    overlap_ref, overlap_cur
        :class:`~shiftguard.shift.density_ratio.WeightDiagnostics` of the full ratio
        ``p_cur(x) / p_ref(x)`` on the reference rows and of its inverse on the current
        rows (a :class:`~shiftguard.shift.density_ratio.ShiftWarning` is issued when
        either effective sample size is small: the supports barely overlap).
    """

    players: tuple[str, ...]
    attributions: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    metric_ref: float
    metric_cur: float
    change: float
    change_lower: float
    change_upper: float
    groups: tuple[tuple[str, ...], ...]
    method: str
    n_bootstrap: int
    alpha: float
    overlap_ref: WeightDiagnostics
    overlap_cur: WeightDiagnostics


def attribute_performance_change(
    loss: Callable[[Any, Any], Any] | tuple[Any, Any],
    X_ref: Any,
    y_ref: Any,
    X_cur: Any,
    y_cur: Any,
    *,
    groups: Sequence[Sequence[str | int]] | None = None,
    density_ratio: Any = None,
    n_bootstrap: int = 100,
    alpha: float = 0.1,
    max_exact_players: int = 8,
    n_permutations: int = 200,
    seed: int | np.random.Generator | None = 0,
) -> PerformanceAttribution:
    """Attribute a change in mean loss to shifts in ``P(X)`` (per feature group) and ``P(Y|X)``.

    The method of Zhang et al. (2023): players are the mechanisms of the chain-rule
    factorisation ``P(X_G1) P(X_G2 | X_G1) ... P(Y | X)``, a coalition's value is the mean
    loss when its mechanisms come from the current data and the rest from the reference,
    estimated by importance weighting with density ratios from a domain classifier
    (module docstring), and each player gets its Shapley value. With ``P <=
    max_exact_players`` players every coalition is evaluated (exact Shapley values);
    otherwise ``n_permutations`` random orderings are averaged (an unbiased estimate).
    Both satisfy efficiency exactly: the attributions sum to ``metric_cur - metric_ref``.

    Guarantee
    ---------
    *Point estimate*: consistent for the Shapley values of the population game when
    (i) the supports overlap — ``p_cur(x) > 0`` implies ``p_ref(x) > 0`` and conversely,
    so every weight is finite — and (ii) the density ratios are correct (for the default
    logistic domain classifier: the log ratio of each prefix of groups is linear in its
    features, as for Gaussian mean shifts). Clipping (``clip`` of the ratio estimator)
    biases the values where the ratio exceeds it. The split of the ``P(X)`` share among
    groups depends on their order, as the factorisation follows it (Zhang et al. take the
    order from a causal graph); independent groups are unaffected by the order.

    *Interval*: percentile bootstrap — both samples are resampled with replacement, every
    density ratio is refitted and the game recomputed; the model (``loss``) stays fixed.
    The ends are the ``(B + 1) alpha / 2``-th and ``(B + 1) (1 - alpha / 2)``-th smallest of
    the ``B = n_bootstrap`` replicates (interpolated), so that, the bootstrap being nearly
    pivotal, coverage does not drop with few replicates (Hall, 1986); the usual
    ``alpha / 2`` sample quantiles cover ``2 (1 - alpha) / (B + 1)`` less, 3.5 points at
    ``B = 50``. It covers the attribution of the population game at level about
    ``1 - alpha`` for large samples under (i)–(ii); it carries no finite-sample guarantee
    and does not cover misspecification or clipping bias. In a simulation with a known
    pure covariate shift (two Gaussian features, logistic ratio, 0/1 loss; the design of
    ``tests/validity/test_shift_attribution.py``) the point estimates were nearly unbiased
    (bias <= 0.1 SD) and the bootstrap SD within 5 % of the true SD; 90 % intervals from
    50 replicates covered the true ``P(X)`` and ``P(Y|X)`` attributions in 91 % and 90.5 %
    of 800 runs at 500 rows a sample, 91 % and 92 % at 800 rows, and 89 % and 88 % of 600
    runs at 2000 rows (with the sample quantiles, ``P(X)``: 87 %, 88 % and 86 %). With 20
    replicates at 800 rows: 88.5 % and 89.5 % of 2000 runs, 90 % for ``change`` (sample
    quantiles: 80 %, 81 %, 81 %); the validity test checks this case.
    On messy features with the ratio still logistic (Poisson counts, mean 2 -> 2.8, so
    heavy ties; a binary, 5 % -> 10 %; an exponential, rate 1 -> 0.8; a cut on the count as
    the model; plus a concept shift) the bias was <= 0.05 SD and the bootstrap SD within 2 %
    of the true SD (0.11 SD and 6 % with 100 current rows); 90 % intervals from 100
    replicates covered the true ``P(X)``, ``P(Y|X)`` and ``change`` in 90.5 %, 90.7 % and
    90.3 % of 1000 runs with 300 current rows against 3000 reference rows (20 replicates:
    91.5 %, 91.6 %, 90.2 %; sample quantiles 83 %, 83 %, 82 %), in 89 %, 91 %, 90.5 % at
    800 rows each and in 93 %, 90 %, 91.5 % of 600 runs with only 100 current rows; the
    validity test checks the 300-row case. With one group per feature (300 against 3000
    rows, 1200 runs) the skewed share of the rare binary covered 88 % (misses 9.5 % above,
    2.6 % below) and the other players and ``change`` 88.5-90 %.
    Run time: one density-ratio fit per group and replicate, about 0.3 s of CPU at 2000
    rows a sample and 0.8 s at 10,000 with the defaults (one group, 100 replicates).

    Parameters
    ----------
    loss
        Either a callable ``loss(X, y)`` returning one value per row (called on the
        reference and on the current data, as given — DataFrames stay DataFrames), or a
        pair ``(loss_ref, loss_cur)`` of per-row values, in which case ``y_ref`` and
        ``y_cur`` are ignored (pass ``None``). The metric is the mean of these values:
        0/1 errors give the error rate, correctness indicators the accuracy, log losses
        the log loss.
    X_ref, X_cur
        Reference and current features: numeric arrays or DataFrames with the same
        columns (a DataFrame ``X_cur`` is reordered to ``X_ref``'s columns).
    y_ref, y_cur
        Labels passed to ``loss``.
    groups
        Feature groups as lists of column names or indices; they must partition the
        columns. ``None``: one group, ``P(X)``.
    density_ratio
        Unfitted estimator with ``fit(X_source, X_target)`` and ``weights(X)`` (a copy is
        fitted for every prefix of groups and every bootstrap replicate); default
        :class:`~shiftguard.shift.density_ratio.ClassifierDensityRatio` with a logistic
        regression, whose probabilities are calibrated when its model is right; pass
        ``ClassifierDensityRatio(classifier, calibration="isotonic")`` for a flexible one.
        Its weights must be finite and positive.
    n_bootstrap
        Bootstrap replicates; 0 skips the intervals. Otherwise at least ``2 / alpha``.
    alpha
        One minus the nominal coverage of the intervals.
    max_exact_players
        Largest number of players (groups + 1) for exact Shapley values (at most 16).
    n_permutations
        Orderings sampled when there are more players.
    seed
        Seed of the bootstrap and of the sampled orderings.

    Raises
    ------
    SchemaError
        ``X_ref`` and ``X_cur`` disagree on their columns.
    ParameterError
        ``groups`` do not partition the columns (the missing, repeated or unknown feature
        is named), or a numeric parameter is out of range.
    InputError
        Non-numeric or non-finite features or losses, fewer than
        :data:`MIN_BOOTSTRAP_ROWS` rows in a sample with ``n_bootstrap > 0``, or a density
        ratio that is infinite, zero or NaN (the supports do not overlap).

    References
    ----------
    Hall, P. (1986). On the number of bootstrap simulations required to construct a
    confidence interval. *Annals of Statistics* 14(4), 1453–1462.
    Zhang, H., Singh, H., Ghassemi, M. and Joshi, S. (2023). "Why did the model fail?":
    Attributing model performance changes to distribution shifts. ICML.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x_ref, x_cur = rng.normal(size=(500, 2)), rng.normal(1.0, 1.0, size=(500, 2))
    >>> err = lambda X, y: (X[:, 0] > 1.0).astype(float)  # errs only for large x0
    >>> res = attribute_performance_change(err, x_ref, None, x_cur, None, n_bootstrap=0)
    >>> bool(abs(res.attributions.sum() - res.change) < 1e-12)
    True
    >>> res.players
    ('P(X)', 'P(Y | X)')
    """
    alpha = check_alpha(alpha)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
    if 0 < n_bootstrap < 2.0 / alpha:
        raise ParameterError(
            f"n_bootstrap must be 0 or at least 2 / alpha = {math.ceil(2.0 / alpha)} so that "
            f"the {100 * (1 - alpha):g} % percentile interval has replicates beyond each end; "
            f"got {n_bootstrap}"
        )
    max_exact = check_positive_int(max_exact_players, "max_exact_players", minimum=2)
    if max_exact > _MAX_EXACT_LIMIT:
        raise ParameterError(f"max_exact_players must be at most {_MAX_EXACT_LIMIT}, "
                             f"got {max_exact}")
    n_perm = check_positive_int(n_permutations, "n_permutations")
    xr, xc, names = _feature_tables(X_ref, X_cur)
    loss_ref, loss_cur = _per_row_losses(loss, X_ref, y_ref, X_cur, y_cur, xr.shape[0],
                                         xc.shape[0])
    if n_bootstrap and min(xr.shape[0], xc.shape[0]) < MIN_BOOTSTRAP_ROWS:
        raise InputError(
            f"a bootstrap interval needs at least {MIN_BOOTSTRAP_ROWS} rows in each sample; "
            f"got {xr.shape[0]} reference and {xc.shape[0]} current rows (or set "
            "n_bootstrap=0)",
            "X_ref" if xr.shape[0] < MIN_BOOTSTRAP_ROWS else "X_cur",
        )
    column_groups = _resolve_groups(groups, names)
    template = ClassifierDensityRatio() if density_ratio is None else density_ratio
    n_players = len(column_groups) + 1
    rng = as_rng(seed)
    if n_players <= max_exact:
        method, masks = "exact", _all_coalitions(n_players)
        permutations = None
    else:
        method = "permutation"
        permutations = np.argsort(rng.random((n_perm, n_players)), axis=1)
        masks = _prefix_coalitions(permutations)

    log_r_ref, log_r_cur = _log_conditional_ratios(template, column_groups, xr, xc)
    attributions = _shapley(masks, permutations, log_r_ref, log_r_cur, loss_ref, loss_cur)
    overlap_ref = weight_diagnostics(np.exp(log_r_ref.sum(axis=1)))
    overlap_cur = weight_diagnostics(np.exp(-log_r_cur.sum(axis=1)))

    replicates = np.empty((n_bootstrap, n_players + 1))
    for b in range(n_bootstrap):
        ir = rng.integers(0, xr.shape[0], xr.shape[0])
        ic = rng.integers(0, xc.shape[0], xc.shape[0])
        lr, lc = _log_conditional_ratios(template, column_groups, xr[ir], xc[ic])
        replicates[b, :-1] = _shapley(masks, permutations, lr, lc, loss_ref[ir], loss_cur[ic])
        replicates[b, -1] = loss_cur[ic].mean() - loss_ref[ir].mean()
    if n_bootstrap:
        # ends at the (B + 1) alpha / 2-th order statistics: a further draw from the bootstrap
        # law falls outside them with probability alpha for any B, whereas numpy's default
        # (the 1 + (B - 1) alpha / 2-th) undercovers by 2 (1 - alpha) / (B + 1): 3.5 points
        # at B = 50 (for a bootstrap law that is pivotal and symmetric, as here)
        lower, upper = np.quantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0,
                                   method="weibull")
    else:
        lower = upper = np.full(n_players + 1, np.nan)

    metric_ref, metric_cur = float(loss_ref.mean()), float(loss_cur.mean())
    group_names = tuple(tuple(names[j] for j in cols) for cols in column_groups)
    return PerformanceAttribution(
        players=_player_names(group_names),
        attributions=attributions,
        lower=lower[:-1],
        upper=upper[:-1],
        metric_ref=metric_ref,
        metric_cur=metric_cur,
        change=metric_cur - metric_ref,
        change_lower=float(lower[-1]),
        change_upper=float(upper[-1]),
        groups=group_names,
        method=method,
        n_bootstrap=n_bootstrap,
        alpha=alpha,
        overlap_ref=overlap_ref,
        overlap_cur=overlap_cur,
    )


def _column_names(X: Any) -> tuple[str, ...] | None:
    columns = getattr(X, "columns", None)
    return None if columns is None else tuple(str(c) for c in columns)


def _numeric_table(X: Any, name: str, names: tuple[str, ...] | None) -> np.ndarray:
    if names is not None:
        for column, label in zip(X.columns, names, strict=True):
            try:
                np.asarray(X[column], dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(f"{name} holds non-numeric values; encode it as numbers "
                                 "first", label) from None
    return as_float_array(X if names is None else X.to_numpy(dtype=np.float64), name, ndim=2,
                          min_size=2)


def _feature_tables(X_ref: Any, X_cur: Any) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Both feature tables as float arrays in the reference's column order, and the names."""
    names_ref, names_cur = _column_names(X_ref), _column_names(X_cur)
    if names_ref is not None and names_cur is not None:
        missing = [c for c in names_ref if c not in names_cur]
        extra = [c for c in names_cur if c not in names_ref]
        if missing or extra:
            raise SchemaError(
                "X_ref and X_cur have different columns: "
                + "; ".join(part for part in (
                    f"missing from X_cur: {missing}" if missing else "",
                    f"not in X_ref: {extra}" if extra else "") if part)
            )
        X_cur = X_cur[list(X_ref.columns)]
        names_cur = names_ref
    xr = _numeric_table(X_ref, "X_ref", names_ref)
    xc = _numeric_table(X_cur, "X_cur", names_cur)
    if xr.shape[1] != xc.shape[1]:
        raise SchemaError(f"X_ref has {xr.shape[1]} columns but X_cur has {xc.shape[1]}")
    names = names_ref or names_cur or tuple(str(j) for j in range(xr.shape[1]))
    return xr, xc, names


def _per_row_losses(loss: Any, X_ref: Any, y_ref: Any, X_cur: Any, y_cur: Any, n_ref: int,
                    n_cur: int) -> tuple[np.ndarray, np.ndarray]:
    if callable(loss):
        values = (loss(X_ref, y_ref), loss(X_cur, y_cur))
    elif isinstance(loss, (tuple, list)) and len(loss) == 2:
        values = tuple(loss)
    else:
        raise ParameterError("loss must be a callable loss(X, y) -> per-row values or a pair "
                             f"(loss_ref, loss_cur) of arrays; got {type(loss).__name__}")
    out = []
    for value, name, n in ((values[0], "loss_ref", n_ref), (values[1], "loss_cur", n_cur)):
        arr = as_float_array(value, name)
        if arr.shape[0] != n:
            raise InputError(f"expected one loss per row ({n}), got {arr.shape[0]}", name)
        out.append(arr)
    return out[0], out[1]


def _resolve_groups(groups: Any, names: tuple[str, ...]) -> list[np.ndarray]:
    """Column indices of each group; the groups must partition the columns."""
    d = len(names)
    if groups is None:
        return [np.arange(d)]
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise ParameterError("groups must be a non-empty list of lists of column names or "
                             f"indices; got {groups!r}")
    position = {n: j for j, n in enumerate(names)}
    seen: dict[int, int] = {}
    resolved = []
    for g, group in enumerate(groups):
        if isinstance(group, (str, bytes, int, np.integer)) or not len(group):
            raise ParameterError(f"group {g} must be a non-empty list of columns; got {group!r}")
        cols = []
        for item in group:
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not 0 <= item < d:
                    raise ParameterError(f"group {g}: column index {item} is outside 0..{d - 1}")
                j = int(item)
            elif str(item) in position:
                j = position[str(item)]
            else:
                raise ParameterError(f"group {g}: unknown feature {item!r}")
            if j in seen:
                raise ParameterError(f"groups must partition the features: {names[j]!r} is in "
                                     f"group {seen[j]} and again in group {g}")
            seen[j] = g
            cols.append(j)
        resolved.append(np.array(cols))
    missing = [names[j] for j in range(d) if j not in seen]
    if missing:
        raise ParameterError(f"groups must partition the features: {missing} in no group")
    return resolved


def _player_names(groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    if len(groups) == 1:
        return ("P(X)", "P(Y | X)")
    names = []
    for k, group in enumerate(groups):
        given = [c for earlier in groups[:k] for c in earlier]
        names.append(f"P({', '.join(group)}" + (f" | {', '.join(given)})" if given else ")"))
    return (*names, "P(Y | X)")


def _log_conditional_ratios(
    template: Any, groups: list[np.ndarray], xr: np.ndarray, xc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``log r_k`` on reference and current rows: one column per group."""
    log_w_ref = np.zeros((xr.shape[0], len(groups) + 1))
    log_w_cur = np.zeros((xc.shape[0], len(groups) + 1))
    for k in range(len(groups)):
        cols = np.concatenate(groups[: k + 1])
        estimator = copy.deepcopy(template)
        with warnings.catch_warnings():
            # the caller reports the overlap of the full ratio, once
            warnings.simplefilter("ignore", ShiftWarning)
            estimator.fit(xr[:, cols], xc[:, cols])
        for x, out in ((xr, log_w_ref), (xc, log_w_cur)):
            w = np.asarray(estimator.weights(x[:, cols]), dtype=np.float64)
            bad = ~(np.isfinite(w) & (w > 0))
            if bad.any():
                raise InputError(
                    f"the density ratio of features {cols.tolist()} is infinite, zero or NaN "
                    f"at {int(bad.sum())} rows: the reference and current supports do not "
                    "overlap there; use a ratio estimator with a finite clip",
                    "density_ratio",
                )
            out[:, k + 1] = np.log(w)
    return np.diff(log_w_ref, axis=1), np.diff(log_w_cur, axis=1)


def _all_coalitions(n_players: int) -> np.ndarray:
    """Boolean (2**P, P) matrix; row ``m`` holds player ``i`` when bit ``i`` of ``m`` is set."""
    return ((np.arange(2**n_players)[:, None] >> np.arange(n_players)) & 1).astype(bool)


def _prefix_coalitions(permutations: np.ndarray) -> np.ndarray:
    """(m, P + 1, P): coalition of the first ``j`` players of each ordering."""
    position = np.argsort(permutations, axis=1)
    n_players = permutations.shape[1]
    return position[:, None, :] < np.arange(n_players + 1)[None, :, None]


def _coalition_values(masks: np.ndarray, log_r_ref: np.ndarray, log_r_cur: np.ndarray,
                      loss_ref: np.ndarray, loss_cur: np.ndarray) -> np.ndarray:
    """Self-normalised importance-weighted mean loss of each coalition (rows of ``masks``).

    The last player is ``P(Y | X)``; the others are the groups' conditionals.
    """
    values = np.empty(masks.shape[0])
    with_y = masks[:, -1]
    x_masks = masks[:, :-1].astype(np.float64)
    for select, log_r, loss, coef in (
        (np.flatnonzero(~with_y), log_r_ref, loss_ref, x_masks),
        (np.flatnonzero(with_y), -log_r_cur, loss_cur, 1.0 - x_masks),
    ):
        step = max(1, _CHUNK_CELLS // log_r.shape[0])
        for start in range(0, select.size, step):
            block = select[start : start + step]
            log_w = log_r @ coef[block].T
            w = np.exp(log_w - log_w.max(axis=0))
            values[block] = (loss @ w) / w.sum(axis=0)
    return values


def _shapley(masks: np.ndarray, permutations: np.ndarray | None, log_r_ref: np.ndarray,
             log_r_cur: np.ndarray, loss_ref: np.ndarray, loss_cur: np.ndarray) -> np.ndarray:
    """Shapley values: exact over all coalitions, or averaged over sampled orderings."""
    if permutations is None:
        values = _coalition_values(masks, log_r_ref, log_r_cur, loss_ref, loss_cur)
        n_players = masks.shape[1]
        index = np.arange(values.size)
        size = masks.sum(axis=1)
        fact = np.array([math.factorial(s) for s in range(n_players + 1)], dtype=np.float64)
        coef = fact[:-1] * fact[n_players - 1 :: -1] / fact[n_players]
        phi = np.empty(n_players)
        for i in range(n_players):
            without = index[~masks[:, i]]
            phi[i] = coef[size[without]] @ (values[without | (1 << i)] - values[without])
        return phi
    n_perm, n_players = permutations.shape
    flat = masks.reshape(-1, n_players)
    unique, inverse = np.unique(flat, axis=0, return_inverse=True)
    values = _coalition_values(unique, log_r_ref, log_r_cur, loss_ref, loss_cur)
    path = values[inverse.ravel()].reshape(n_perm, n_players + 1)
    phi = np.zeros(n_players)
    np.add.at(phi, permutations.ravel(), np.diff(path, axis=1).ravel())
    return phi / n_perm
