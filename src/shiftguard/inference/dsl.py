"""Design-based supervised learning (DSL): valid regression on imperfect surrogate labels.

Every document (row) has surrogate labels -- from an LLM, a classifier, crowd workers --
and covariates; a random subset, drawn with *known* probabilities ``sample_prob``, also
has a gold-standard label ``y``. DSL

1. cross-fits a supervised model ``g`` that predicts the gold label from the surrogates
   and covariates (trained on the labelled rows of the other folds);
2. forms the doubly-robust pseudo-outcome
   ``y~_i = g_i + labeled_i / sample_prob_i * (y_i - g_i)``, whose expectation given the
   covariates equals that of ``y`` because the labelling probabilities are known,
   whatever the quality of ``g`` or of the surrogates;
3. runs the downstream estimator (mean, linear regression with optional fixed effects,
   logistic regression) as an M-estimator on the pseudo-outcomes, with a sandwich
   (optionally cluster-robust) covariance.

Two interfaces: :func:`dsl` takes arrays; :func:`dsl_formula` takes a table (pandas,
polars, or a dict of columns) and a small formula ``"y ~ x1 + x2 + C(group)"`` parsed
here without extra dependencies.

Reference
---------
Egami, Hinck, Stewart & Wei (2023). Using imperfect surrogates for downstream inference:
design-based supervised learning for social science applications of large language
models. *NeurIPS 2023*. R package ``dsl`` (naoki-egami/dsl).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from shiftguard._validation import (
    as_float_array,
    as_indicator_array,
    as_label_array,
    as_rng,
    as_sampling_probabilities,
    check_alpha,
    check_choice,
    check_positive_int,
)
from shiftguard.errors import EstimatorError, InputError, ParameterError
from shiftguard.inference._sandwich import (
    InferenceResult,
    design_products,
    expit,
    invert_symmetric,
    least_squares,
    logistic_solve,
    sandwich_covariance,
    single_threaded_blas,
    wald_interval,
)

MODELS = ("mean", "ols", "logistic")
# Multi-way fixed effects: demeaning rounds stop once no value moves by more than this
# fraction of the largest value, and give up after this many rounds.
_FE_TOL = 1e-12
_FE_MAX_ROUNDS = 10_000


def cross_fit_predictions(
    features: np.ndarray,
    y: np.ndarray,
    labeled: np.ndarray,
    *,
    learner: Any = None,
    n_folds: int = 5,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Out-of-fold predictions of ``y`` for every row, each from a model fitted on the
    labelled rows of the other folds.

    Parameters
    ----------
    features
        ``(n, k)`` predictors of the gold label (surrogates, covariates, anything observed
        on every row).
    y
        Gold labels; only the entries where ``labeled`` is true are read.
    labeled
        Boolean mask of the rows with a gold label.
    learner
        ``None`` for least squares with an intercept (fast, closed form), or a
        scikit-learn style estimator; it is cloned per fold, and ``predict_proba(...)[:, 1]``
        is used when it has that method (a classifier of a 0/1 label).
    n_folds
        Number of folds (rows are assigned at random with ``seed``).

    Raises
    ------
    InputError
        When some fold's training part has too few labelled rows to fit ``features``.
    """
    n = len(y)
    n_folds = check_positive_int(n_folds, "n_folds", minimum=2)
    folds = as_rng(seed).permutation(n) % n_folds
    min_train = features.shape[1] + 2
    train_counts = labeled.sum() - np.bincount(folds[labeled], minlength=n_folds)
    if train_counts.min() < min_train:
        raise InputError(
            f"too few labelled rows for {n_folds}-fold cross-fitting: a training split has "
            f"{int(train_counts.min())} labelled rows, needs at least {min_train} for "
            f"{features.shape[1]} predictor column(s); label more rows or use fewer folds",
            "labeled",
        )
    predictions = np.empty(n)
    if learner is None:
        design = np.column_stack([np.ones(n), features])
        for k in range(n_folds):
            train = labeled & (folds != k)
            coef = least_squares(design[train], y[train])
            predictions[folds == k] = design[folds == k] @ coef
        return predictions
    for method in ("fit", "predict"):
        if not hasattr(learner, method):
            raise EstimatorError(f"learner {type(learner).__name__} has no {method}() method")
    from sklearn.base import clone

    for k in range(n_folds):
        train = labeled & (folds != k)
        model = clone(learner).fit(features[train], y[train])
        if hasattr(model, "predict_proba"):
            predictions[folds == k] = model.predict_proba(features[folds == k])[:, 1]
        else:
            predictions[folds == k] = model.predict(features[folds == k])
    return predictions


def _group_codes(groups: Any, name: str, n: int) -> np.ndarray:
    labels = as_label_array(groups, name)
    if len(labels) != n:
        raise InputError(f"has {len(labels)} rows but y has {n}", name)
    return np.unique(labels, return_inverse=True)[1]


def _fixed_effect_codes(fixed_effects: Any, n: int) -> list[np.ndarray]:
    """Group codes of each fixed-effect grouping: one label array ``(n,)``, or several as
    the columns of an ``(n, k)`` table or a list of label arrays."""
    if isinstance(fixed_effects, (list, tuple)) and fixed_effects and np.ndim(fixed_effects[0]):
        groupings = list(fixed_effects)
    elif np.ndim(fixed_effects) == 2:
        table = np.asarray(fixed_effects)
        groupings = [table[:, j] for j in range(table.shape[1])]
    else:
        groupings = [fixed_effects]
    return [_group_codes(g, "fixed_effects", n) for g in groupings]


def _demean_within(values: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
    """Residuals of ``values`` (column by column) on the dummies of every grouping.

    One grouping: its group means are subtracted (the within transformation). Several:
    the group means of each grouping in turn, until a round changes no value by more
    than ``_FE_TOL`` times the largest value (alternating projections, which converge to
    the residuals of the regression on all dummies; Gaure, 2013).
    """
    flat = values.reshape(len(values), -1).astype(np.float64)
    counts = [np.bincount(c) for c in codes]
    scale = float(np.abs(flat).max()) if flat.size else 0.0
    for _ in range(_FE_MAX_ROUNDS):
        change = 0.0
        for group, count in zip(codes, counts, strict=True):
            means = np.column_stack(
                [np.bincount(group, weights=flat[:, j]) / count for j in range(flat.shape[1])]
            )
            flat -= means[group]
            change = max(change, float(np.abs(means).max()))
        if len(codes) == 1 or change <= _FE_TOL * scale:
            return flat.reshape(values.shape)
    raise InputError(
        f"the fixed effects did not converge in {_FE_MAX_ROUNDS} rounds of demeaning; "
        "the groupings are too weakly connected", "fixed_effects",
    )


def _meat(scores: np.ndarray, cluster_codes: np.ndarray | None) -> np.ndarray:
    """Sum of outer products of the per-row scores, or of their within-cluster sums."""
    if cluster_codes is not None:
        scores = np.column_stack(
            [np.bincount(cluster_codes, weights=scores[:, j]) for j in range(scores.shape[1])]
        )
    return scores.T @ scores


def dsl(
    y: Any,
    X: Any,
    surrogates: Any,
    sample_prob: Any,
    labeled: Any = None,
    *,
    model: str = "ols",
    fixed_effects: Any = None,
    cluster: Any = None,
    extra_predictors: Any = None,
    learner: Any = None,
    n_folds: int = 5,
    add_intercept: bool = True,
    names: Sequence[str] | None = None,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> InferenceResult:
    """DSL estimate, standard errors and confidence intervals of a downstream estimand.

    Parameters
    ----------
    y
        Gold-standard labels, ``(n,)``; entries of unlabelled rows are ignored (use NaN).
    X
        Covariates of the downstream regression, ``(n, p)``, observed on every row
        (ignored for ``model="mean"``; pass ``None``).
    surrogates
        Surrogate labels or scores, ``(n,)`` or ``(n, k)``, observed on every row.
    sample_prob
        Known probability ``pi_i`` in ``(0, 1]`` with which row ``i`` was sampled for
        gold labelling (by design, not estimated).
    labeled
        Boolean mask of rows with a gold label; ``None`` takes the rows where ``y`` is not
        NaN.
    model
        ``"mean"`` (mean of ``y``), ``"ols"`` (linear regression of ``y`` on ``X``) or
        ``"logistic"`` (logistic regression; ``y`` in ``[0, 1]``).
    fixed_effects
        Group labels ``(n,)`` for one-way fixed effects, or several groupings (an
        ``(n, k)`` table or a list of label arrays, e.g. unit and year) for multi-way
        fixed effects (``model="ols"`` only). The group intercepts are absorbed by the
        within transformation (alternating projections for several groupings) and not
        reported.
    cluster
        Cluster labels ``(n,)`` for cluster-robust standard errors.
    extra_predictors
        Further columns ``(n, m)`` the supervised model may use to predict ``y``.
    learner
        Supervised model for ``g``: ``None`` (least squares on surrogates, ``X`` and
        ``extra_predictors``) or a scikit-learn estimator; see
        :func:`cross_fit_predictions`.
    n_folds
        Cross-fitting folds.
    add_intercept
        Prepend a column of ones to ``X`` (not with ``fixed_effects``).
    names
        Names of the columns of ``X`` (``"x0", "x1", ...`` by default).
    alpha
        Error level; each interval targets coverage ``1 - alpha``.
    seed
        Seed of the random fold assignment.

    Returns
    -------
    InferenceResult
        ``estimate`` (float for the mean, coefficient array otherwise), sandwich
        ``stderr``, the intervals, ``names``, ``n_labeled`` and ``n_unlabeled``.

    Notes
    -----
    Guarantee: each interval covers the population estimand (the mean of ``y``, or the
    coefficients of the best linear / logistic approximation of ``y`` given ``X``) with
    probability tending to ``1 - alpha`` as ``n`` grows, provided rows are i.i.d., the
    gold-labelled rows were drawn independently with the stated ``sample_prob`` (which may
    depend on observed surrogates and covariates) bounded away from 0, and the gold
    labels are correct. Nothing is assumed about the accuracy of the surrogates or of the
    learner -- a poor learner only widens the interval. With ``fixed_effects`` the
    guarantee needs many rows per group (the usual within-estimator asymptotics).

    Raises
    ------
    InputError
        Probabilities outside ``(0, 1]``; a labelled row without gold label; lengths
        that differ; too few labelled rows to cross-fit; non-numeric or non-finite data.

    References
    ----------
    Egami, Hinck, Stewart & Wei (2023). Using imperfect surrogates for downstream
    inference. *NeurIPS 2023*.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> n = 2000
    >>> x = rng.normal(size=n)
    >>> y = (x + rng.normal(size=n) > 0).astype(float)
    >>> surrogate = np.where(rng.random(n) < 0.85, y, 1 - y)
    >>> pi = np.full(n, 0.25)
    >>> labeled = rng.random(n) < pi
    >>> res = dsl(np.where(labeled, y, np.nan), x, surrogate, pi, labeled, seed=0)
    >>> res.names
    ('intercept', 'x0')
    """
    check_choice(model, "model", MODELS)
    alpha = check_alpha(alpha)
    y_arr = as_float_array(y, "y", allow_nan=True, min_size=2)
    n = len(y_arr)
    pi = as_sampling_probabilities(sample_prob, "sample_prob")
    labeled_mask = ~np.isnan(y_arr) if labeled is None else as_indicator_array(labeled, "labeled")
    surr = as_float_array(surrogates, "surrogates", ndim=2)
    blocks: dict[str, np.ndarray] = {"sample_prob": pi, "labeled": labeled_mask, "surrogates": surr}
    X_arr = None
    if model != "mean":
        if X is None:
            raise InputError(f"model={model!r} needs covariates", "X")
        X_arr = as_float_array(X, "X", ndim=2)
        blocks["X"] = X_arr
    extra = None
    if extra_predictors is not None:
        extra = as_float_array(extra_predictors, "extra_predictors", ndim=2)
        blocks["extra_predictors"] = extra
    for name, block in blocks.items():
        if len(block) != n:
            raise InputError(f"has {len(block)} rows but y has {n}", name)
    missing = labeled_mask & np.isnan(y_arr)
    if missing.any():
        raise InputError(
            f"{int(missing.sum())} row(s) marked as labelled have no gold label (NaN); "
            f"first at position {int(np.flatnonzero(missing)[0])}",
            "y",
        )
    if model == "logistic" and (
        (y_arr[labeled_mask] < 0.0).any() or (y_arr[labeled_mask] > 1.0).any()
    ):
        raise InputError("logistic regression needs gold labels in [0, 1]", "y")
    fe_codes = None
    if fixed_effects is not None:
        if model != "ols":
            raise ParameterError("fixed_effects is supported for model='ols' only")
        fe_codes = _fixed_effect_codes(fixed_effects, n)
    cluster_codes = None if cluster is None else _group_codes(cluster, "cluster", n)

    features = [surr]
    if X_arr is not None:
        features.append(X_arr)
    if extra is not None:
        features.append(extra)
    y_filled = np.where(labeled_mask, y_arr, 0.0)
    g = cross_fit_predictions(
        np.column_stack(features), y_filled, labeled_mask, learner=learner,
        n_folds=n_folds, seed=seed,
    )
    pseudo = g + labeled_mask / pi * (y_filled - g)

    n_labeled = int(labeled_mask.sum())
    common = {"alpha": alpha, "n_labeled": n_labeled, "n_unlabeled": n - n_labeled}
    if model == "mean":
        estimate = float(pseudo.mean())
        scores = (pseudo - estimate)[:, None]
        stderr = float(np.sqrt(_meat(scores, cluster_codes)[0, 0]) / n)
        lo, hi = wald_interval(estimate, stderr, alpha)
        return InferenceResult("dsl_mean", estimate, stderr, lo, hi, **common)

    col_names = list(names) if names is not None else [f"x{j}" for j in range(X_arr.shape[1])]
    if len(col_names) != X_arr.shape[1]:
        raise InputError(f"has {len(col_names)} names for {X_arr.shape[1]} columns", "names")
    design = X_arr
    if fe_codes is not None:
        design = _demean_within(X_arr, fe_codes)
        pseudo = _demean_within(pseudo, fe_codes)
        if (np.abs(design).max(axis=0) < 1e-9 * (1.0 + np.abs(X_arr).max(axis=0))).any():
            raise InputError(
                "a column is constant within every fixed-effect group (absorbed by the "
                "fixed effects)", "X",
            )
    elif add_intercept:
        design = np.column_stack([np.ones(n), X_arr])
        col_names = ["intercept", *col_names]

    if model == "ols":
        coef = least_squares(design, pseudo)
        scores = design * (pseudo - design @ coef)[:, None]
        hessian = design.T @ design / n
    else:
        products = design_products(design)
        with single_threaded_blas():
            coef = logistic_solve(products, 1.0, design.T @ pseudo)
        fitted = expit(design @ coef)
        scores = design * (pseudo - fitted)[:, None]
        hessian = products.gram(fitted * (1.0 - fitted)) / n
    cov = sandwich_covariance(
        invert_symmetric(hessian, "X"), _meat(scores, cluster_codes) / n, n
    )
    stderr = np.sqrt(np.diag(cov))
    lo, hi = wald_interval(coef, stderr, alpha)
    return InferenceResult(
        f"dsl_{model}" if fe_codes is None else "dsl_ols_fixed_effects",
        coef, stderr, lo, hi, names=tuple(col_names), **common,
    )


_FORMULA = re.compile(r"^\s*(?P<lhs>[^~]+?)\s*~\s*(?P<rhs>.+?)\s*$")
_CATEGORICAL = re.compile(r"^C\(\s*(?P<col>[^()]+?)\s*\)$")


def _column(data: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(data[name])
    except (KeyError, IndexError, TypeError, ValueError):
        raise InputError("no such column in data", name) from None


def parse_formula(formula: str, data: Any) -> tuple[np.ndarray, np.ndarray, list[str], bool]:
    """Turn ``"y ~ x1 + x2 + C(g)"`` into ``(y, X, names, intercept)`` from the table ``data``.

    Terms are column names joined by ``+``; ``C(col)`` expands a categorical column into
    0/1 indicators of every level but the first (sorted); ``- 1`` or ``+ 0`` drops the
    intercept. Nothing else (interactions, transformations) is understood: compute such
    columns first.
    """
    match = _FORMULA.match(formula)
    if match is None:
        raise ParameterError(f"formula must look like 'y ~ x1 + x2 + C(g)', got {formula!r}")
    y = _column(data, match["lhs"])
    terms = [t.strip() for t in re.split(r"(?=[+-])", match["rhs"].replace(" ", ""))]
    intercept = True
    columns: list[np.ndarray] = []
    names: list[str] = []
    for raw in filter(None, terms):
        sign, term = ("-", raw[1:]) if raw.startswith("-") else ("+", raw.lstrip("+"))
        if term in ("0", "1"):
            intercept = not (term == "0" or sign == "-")
            continue
        if sign == "-":
            raise ParameterError(f"formula terms cannot be removed, got '-{term}'")
        cat = _CATEGORICAL.match(term)
        if cat is not None:
            values = as_label_array(_column(data, cat["col"]), cat["col"])
            levels = np.unique(values)
            for level in levels[1:]:
                columns.append((values == level).astype(np.float64))
                names.append(f"{cat['col']}[{level}]")
            continue
        columns.append(as_float_array(_column(data, term), term))
        names.append(term)
    if not columns:
        raise ParameterError(f"formula {formula!r} has no covariate terms")
    return y, np.column_stack(columns), names, intercept


def dsl_formula(
    formula: str,
    data: Any,
    *,
    surrogates: Sequence[str],
    sample_prob: str,
    labeled: str | None = None,
    model: str = "ols",
    fixed_effects: str | Sequence[str] | None = None,
    cluster: str | None = None,
    extra_predictors: Sequence[str] = (),
    learner: Any = None,
    n_folds: int = 5,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> InferenceResult:
    """:func:`dsl` on a table: ``dsl_formula("y ~ x1 + C(g)", df, surrogates=["llm"], ...)``.

    ``data`` is anything indexable by column name (pandas or polars DataFrame, dict of
    arrays). The formula grammar is that of :func:`parse_formula`; the other arguments
    name columns and are passed to :func:`dsl`, whose guarantee applies unchanged. For
    ``model="mean"`` write ``"y ~ 1"``.
    """
    if model == "mean":
        match = _FORMULA.match(formula)
        if match is None or match["rhs"].strip() != "1":
            raise ParameterError(f"model='mean' takes the formula 'y ~ 1', got {formula!r}")
        y, X, names, intercept = _column(data, match["lhs"]), None, None, True
    else:
        y, X, names, intercept = parse_formula(formula, data)
    if not surrogates:
        raise ParameterError("surrogates must name at least one column")

    def table(cols: Sequence[str]) -> np.ndarray:
        return np.column_stack([as_float_array(_column(data, c), c) for c in cols])

    return dsl(
        y,
        X,
        table(surrogates),
        _column(data, sample_prob),
        None if labeled is None else _column(data, labeled),
        model=model,
        fixed_effects=None if fixed_effects is None else (
            _column(data, fixed_effects) if isinstance(fixed_effects, str)
            else [_column(data, name) for name in fixed_effects]
        ),
        cluster=None if cluster is None else _column(data, cluster),
        extra_predictors=table(extra_predictors) if extra_predictors else None,
        learner=learner,
        n_folds=n_folds,
        add_intercept=intercept and fixed_effects is None,
        names=names,
        alpha=alpha,
        seed=seed,
    )
