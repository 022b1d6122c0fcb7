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

from shiftguard._threads import single_threaded_blas
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
    DesignProducts,
    InferenceResult,
    design_products,
    expit,
    invert_symmetric,
    least_squares,
    logistic_solve,
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
    return _cross_fit(features, y, labeled, learner, n_folds, seed)[0]


def _cross_fit(
    features: np.ndarray,
    y: np.ndarray,
    labeled: np.ndarray,
    learner: Any,
    n_folds: int,
    seed: int | np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]] | None]:
    """:func:`cross_fit_predictions`, with the fold of every row and, for the least-squares
    learner, each fold's coefficients and inverse Gram matrix (``None`` otherwise)."""
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
        fits = []
        for k in range(n_folds):
            train = labeled & (folds != k)
            gram_inv = invert_symmetric(design[train].T @ design[train], "features")
            coef = gram_inv @ (design[train].T @ y[train])
            predictions[folds == k] = design[folds == k] @ coef
            fits.append((coef, gram_inv))
        return predictions, folds, fits
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
    return predictions, folds, None


def _learner_slopes(
    design: np.ndarray,
    features: np.ndarray,
    labeled: np.ndarray,
    pi: np.ndarray,
    folds: np.ndarray,
    fits: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """How each gold label moves the estimating equations through the cross-fitted
    least-squares learner: an ``(n, d)`` array, zero on unlabelled rows.

    The downstream estimate solves ``sum_j x_j (pseudo_j - mu_j) = 0`` with
    ``pseudo_j = g_j + labeled_j / pi_j * (y_j - g_j)``, so ``g_j`` enters with the weight
    ``1 - labeled_j / pi_j``: zero on average, but about ``-1 / pi_j`` on every labelled
    row. A labelled row ``i`` is a training row of every fold ``k`` but its own, where a
    unit change of ``y_i`` moves the learner's coefficients by ``(Z'Z)_k^-1 z_i`` and the
    fold's share of the equations by ``B_k (Z'Z)_k^-1 z_i``, with
    ``B_k = sum_{j in k} (1 - labeled_j / pi_j) x_j z_j'``. Added to the direct slope
    ``x_i / pi_i``, this is the exact derivative of the equations in ``y_i``; the
    sandwich, which treats ``g`` as known, leaves it out. It vanishes as the folds grow
    (``B_k / n`` tends to 0), but with about 100 gold labels it changes each label's
    influence on the estimate by tens of percent.
    """
    regressors = np.column_stack([np.ones(len(labeled)), features])
    weight = 1.0 - labeled / pi
    slopes = np.zeros(design.shape)
    for k, (_, gram_inv) in enumerate(fits):
        held = folds == k
        moment_slope = (design[held] * weight[held, None]).T @ regressors[held]
        train = labeled & ~held
        slopes[train] += regressors[train] @ (moment_slope @ gram_inv).T
    return slopes


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


def _stderr_and_df(
    influence: np.ndarray, cluster_codes: np.ndarray | None, n: int, small_sample: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sandwich standard errors from the per-row influence ``H^-1 score_i`` (an ``(n, d)``
    array), summed within clusters if there are any, and the effective degrees of
    freedom of each variance (``None`` unless ``small_sample``).

    The variance of coefficient ``l`` is ``sum_u c_ul / n^2`` over independent units
    ``u`` (rows or clusters) with ``c_ul`` the square of the unit's influence. Taking
    each term as a scaled chi-square with one degree of freedom and combining them by
    Welch-Satterthwaite, with the observed terms in place of their expectations, gives
    ``(sum_u c_ul)^2 / sum_u c_ul^2``: the number of units when they contribute equally,
    and as few as 1 when one gold label with a large weight ``1 / sample_prob`` carries
    the variance. The observed terms vary more than their expectations, so this errs
    low (wide intervals) when the units contribute alike.
    """
    if cluster_codes is not None:
        influence = np.column_stack(
            [np.bincount(cluster_codes, weights=column) for column in influence.T]
        )
    shares = influence * influence
    total = shares.sum(axis=0)
    stderr = np.sqrt(total) / n
    if not small_sample:
        return stderr, None
    concentration = (shares * shares).sum(axis=0)
    # All influences 0 (a perfect fit): the interval is a point whatever the quantile.
    df = np.divide(
        total * total, concentration, out=np.full_like(total, np.inf), where=concentration > 0
    )
    return stderr, df


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
    small_sample: bool = True,
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
    small_sample
        ``True`` (default): two corrections for few gold labels. (1) With the built-in
        least-squares learner, each gold label's influence also includes its effect
        through the cross-fitted learner on the pseudo-outcomes of the other folds (the
        exact derivative of the estimating equations, which the sandwich, treating the
        learner's predictions as known, leaves out; it vanishes asymptotically). (2) The
        quantile is Student's t with the effective degrees of freedom of each variance,
        ``(sum_u c_u)^2 / sum_u c_u^2`` over rows (or clusters) ``u`` with squared
        influences ``c_u``: the number of rows when all contribute alike, close to 1
        when one gold label with a large weight ``1 / sample_prob`` carries the
        variance. ``False``: the asymptotic sandwich interval with the normal quantile.

    Returns
    -------
    InferenceResult
        ``estimate`` (float for the mean, coefficient array otherwise), ``stderr``, the
        intervals, ``names``, ``n_labeled``, ``n_unlabeled`` and the t degrees of freedom
        ``df`` (``None`` with ``small_sample=False``). A ``df`` below about 5 says that a
        handful of heavily weighted gold labels carry the interval.

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

    How far from 0, in simulations (logistic regression with 3 coefficients, binary
    surrogates 87% accurate with errors depending on a covariate, 1,000-4,000
    repetitions, nominal 0.95): with 400 gold labels at ``sample_prob = 0.2`` both
    intervals cover 0.95-0.97. With 106-134 gold labels and probabilities down to 0.03
    the asymptotic interval covered 0.87-0.91 for the worst coefficient in four of six
    designs (probabilities stratified on the surrogate, or continuous in a covariate).
    The default covered at least 0.94 in four of them, among them about 115 gold
    labels among 2,000 rows drawn at 0.10 or 0.03 (``tests/validity/test_inference_dsl.py``;
    0.952 for the worst coefficient, asymptotic 0.911), and 0.93 in the two where only
    12-27 gold labels fell in the stratum drawn at 0.03 that carries the coefficient
    (``df`` about 4): nominal coverage held once about 35 gold labels were drawn at the
    smallest probability. Where the weights are spread evenly (equal probabilities
    0.055, 110 labels) the default over-covers, 0.98-0.99: t quantiles with few
    effective degrees of freedom err on the side of width. With a scikit-learn
    ``learner`` only the t quantile applies, and the learner's own estimation error is
    not in the variance.

    Raises
    ------
    InputError
        Probabilities outside ``(0, 1]``; a labelled row without gold label; lengths
        that differ; too few labelled rows to cross-fit; non-numeric or non-finite data.

    References
    ----------
    Egami, Hinck, Stewart & Wei (2023). Using imperfect surrogates for downstream
    inference. *NeurIPS 2023*. Satterthwaite (1946). An approximate distribution of
    estimates of variance components. *Biometrics Bulletin* 2, 110-114 (degrees of
    freedom).

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
    predictors = np.column_stack(features)
    g, folds, fits = _cross_fit(predictors, y_filled, labeled_mask, learner, n_folds, seed)
    pseudo = g + labeled_mask / pi * (y_filled - g)

    def learner_scores(design: np.ndarray) -> np.ndarray | float:
        """Each gold label's effect through the learner times its out-of-fold residual."""
        if not small_sample or fits is None:
            return 0.0
        slopes = _learner_slopes(design, predictors, labeled_mask, pi, folds, fits)
        return slopes * (y_filled - g)[:, None]

    n_labeled = int(labeled_mask.sum())
    common = {"alpha": alpha, "n_labeled": n_labeled, "n_unlabeled": n - n_labeled}
    if model == "mean":
        estimate = float(pseudo.mean())
        scores = (pseudo - estimate)[:, None] + learner_scores(np.ones((n, 1)))
        stderr, df = _stderr_and_df(scores, cluster_codes, n, small_sample)
        df = None if df is None else float(df[0])
        lo, hi = wald_interval(estimate, float(stderr[0]), alpha, df=df)
        return InferenceResult("dsl_mean", estimate, float(stderr[0]), lo, hi, df=df, **common)

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
        coef, products = _logistic_fit(design, pseudo)
        fitted = expit(design @ coef)
        scores = design * (pseudo - fitted)[:, None]
        hessian = products.gram(fitted * (1.0 - fitted)) / n
    influence = (scores + learner_scores(design)) @ invert_symmetric(hessian, "X")
    stderr, df = _stderr_and_df(influence, cluster_codes, n, small_sample)
    lo, hi = wald_interval(coef, stderr, alpha, df=df)
    return InferenceResult(
        f"dsl_{model}" if fe_codes is None else "dsl_ols_fixed_effects",
        coef, stderr, lo, hi, names=tuple(col_names), df=df, **common,
    )


def _logistic_fit(design: np.ndarray, pseudo: np.ndarray) -> tuple[np.ndarray, DesignProducts]:
    """Solve the logistic DSL moment equations ``X' (pseudo - expit(X b)) = 0``.

    Pseudo-outcomes of gold-labelled rows are weighted by ``1 / sample_prob`` and can lie
    far outside ``[0, 1]``; when ``X' pseudo`` is not a value ``X' p`` with every ``p_i``
    in ``(0, 1)`` the equations have no finite solution and the Newton iterates run off
    (with overflow on the way, hence the silenced warnings).
    """
    products = design_products(design)
    try:
        with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore"):
            coef = logistic_solve(products, 1.0, design.T @ pseudo)
    except InputError:
        coef = None
    if coef is None or not np.isfinite(coef).all():
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise InputError(
                "the design is singular (collinear or constant columns); drop redundant "
                "columns",
                "X",
            ) from None
        raise InputError(
            "the logistic DSL equations have no finite solution: the gold labels weighted "
            "by 1 / sample_prob push the pseudo-outcomes outside what a logistic model can "
            "fit (too few gold labels where sample_prob is small); label more rows there "
            "or use model='ols'",
            "y",
        ) from None
    return coef, products


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
