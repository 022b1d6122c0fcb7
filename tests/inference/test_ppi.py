"""PPI / PPI++ intervals: equality with ppi-python where the methods coincide, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import ppi_py
import pytest
import statsmodels.api as sm
from scipy import stats

from shiftguard.errors import InputError, ParameterError
from shiftguard.inference import ppi_logistic_ci, ppi_mean_ci, ppi_ols_ci, ppi_quantile_ci
from shiftguard.inference._sandwich import expit

# Our logistic solver converges to machine precision; ppi-python's L-BFGS only does so
# with tight tolerances, which these options give it.
TIGHT_LBFGS = {"ftol": 1e-15, "gtol": 1e-13, "maxiter": 100_000}
LAMS = [None, 1.0, 0.0, 0.37]
# statsmodels' names for the one-sided intervals, keyed by ours (scipy's).
PEER_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


def _regression_data(seed: int, n: int = 300, N: int = 3000, d: int = 4):
    rng = np.random.default_rng(seed)

    def draw(m: int):
        X = np.column_stack([np.ones(m), rng.normal(size=(m, d - 1))])
        y = X @ np.linspace(0.5, -0.5, d) + rng.normal(size=m)
        yhat = 0.8 * y + rng.normal(scale=0.6, size=m) + 0.3
        return X, y, yhat

    X, y, yhat = draw(n)
    Xu, _, yhat_u = draw(N)
    return X, y, yhat, Xu, yhat_u


def _binary_data(seed: int, n: int = 400, N: int = 4000):
    rng = np.random.default_rng(seed)

    def draw(m: int):
        X = np.column_stack([np.ones(m), rng.normal(size=(m, 2))])
        y = (rng.random(m) < expit(X @ np.array([-0.3, 1.0, -0.7]))).astype(float)
        yhat = np.where(rng.random(m) < 0.8, y, 1.0 - y)
        return X, y, yhat

    X, y, yhat = draw(n)
    Xu, _, yhat_u = draw(N)
    return X, y, yhat, Xu, yhat_u


def _peer_lam(res, lam, alternative):
    """ppi-python drops ``alternative`` when it tunes ``lam`` itself (it recurses without
    it), so for one-sided tuned intervals it is given the ``lam`` we tuned: the two
    implementations then compute the same interval."""
    return res.lam if lam is None and alternative != "two-sided" else lam


def _assert_one_or_two_sided_equal(res, lo, hi, alternative) -> None:
    if alternative != "less":
        np.testing.assert_allclose(np.ravel(res.ci_low), np.ravel(lo), rtol=1e-8, atol=1e-8)
    else:
        assert np.all(np.isneginf(res.ci_low))
    if alternative != "greater":
        np.testing.assert_allclose(np.ravel(res.ci_high), np.ravel(hi), rtol=1e-8, atol=1e-8)
    else:
        assert np.all(np.isposinf(res.ci_high))


@pytest.mark.parametrize("lam", LAMS)
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mean_equals_ppi_python(lam, alternative):
    _, y, yhat, _, yhat_u = _regression_data(1)
    res = ppi_mean_ci(
        y, yhat, yhat_u, alpha=0.1, lam=lam, alternative=alternative, small_sample=False
    )
    lo, hi = ppi_py.ppi_mean_ci(
        y,
        yhat,
        yhat_u,
        alpha=0.1,
        lam=_peer_lam(res, lam, alternative),
        alternative=PEER_ALTERNATIVE[alternative],
    )
    _assert_one_or_two_sided_equal(res, lo, hi, alternative)


@pytest.mark.parametrize("lam", LAMS)
def test_mean_point_estimate_equals_ppi_python(lam):
    _, y, yhat, _, yhat_u = _regression_data(2)
    res = ppi_mean_ci(y, yhat, yhat_u, lam=lam)
    np.testing.assert_allclose(
        res.estimate, ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=lam), rtol=1e-10
    )


@pytest.mark.parametrize("exact_grid", [False, True])
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_quantile_equals_ppi_python(q, exact_grid):
    _, y, yhat, _, yhat_u = _regression_data(3)
    res = ppi_quantile_ci(y, yhat, yhat_u, q, alpha=0.1, exact_grid=exact_grid)
    lo, hi = ppi_py.ppi_quantile_ci(y, yhat, yhat_u, q, alpha=0.1, exact_grid=exact_grid)
    assert (res.ci_low, res.ci_high) == (lo, hi)
    assert res.estimate == ppi_py.ppi_quantile_pointestimate(
        y, yhat, yhat_u, q, exact_grid=exact_grid
    )


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_classical_ols_interval_equals_ppi_python(alternative):
    X, y, yhat, Xu, yhat_u = _regression_data(4)
    res = ppi_ols_ci(
        X, y, yhat, Xu, yhat_u, alpha=0.1, lam=0.0, alternative=alternative, small_sample=False
    )
    lo, hi = ppi_py.ppi_ols_ci(
        X, y, yhat, Xu, yhat_u, alpha=0.1, lam=0.0, alternative=PEER_ALTERNATIVE[alternative]
    )
    _assert_one_or_two_sided_equal(res, lo, hi, alternative)


@pytest.mark.parametrize("lam", LAMS)
def test_ols_point_estimate_equals_ppi_python(lam):
    X, y, yhat, Xu, yhat_u = _regression_data(14)
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=lam)
    peer = ppi_py.ppi_ols_pointestimate(X, y, yhat, Xu, yhat_u, lam=res.lam)
    np.testing.assert_allclose(res.estimate, peer, rtol=1e-8)


@pytest.mark.parametrize("lam", [1.0, 0.37])
def test_ols_standard_error_is_that_of_the_two_fits(lam):
    """Influence function of ``lam * b_f + b_r``: residual scores of the prediction fit on
    the unlabelled rows, and gold-minus-prediction residual scores on the labelled rows."""
    X, y, yhat, Xu, yhat_u = _regression_data(15)
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=lam, small_sample=False)
    n, N = len(y), len(yhat_u)
    b_f = np.linalg.lstsq(Xu, yhat_u, rcond=None)[0]
    h_inv = np.linalg.inv((X.T @ X + Xu.T @ Xu) / (n + N))
    unl = Xu * (Xu @ b_f - yhat_u)[:, None]
    lab = X * (X @ res.estimate - y)[:, None] - lam * X * (X @ b_f - yhat)[:, None]
    meat = lam**2 * n / N * np.cov(unl.T) + np.cov(lab.T)
    np.testing.assert_allclose(
        res.stderr, np.sqrt(np.diag(h_inv @ meat @ h_inv) / n), rtol=1e-9
    )


def test_ppi_python_ols_interval_is_wider_with_biased_predictions():
    """ppi-python's OLS standard error (prediction scores at the final estimate) belongs to
    another estimator; with biased predictions it is larger than this one's."""
    X, y, yhat, Xu, yhat_u = _regression_data(16)
    yhat = yhat + 0.8 * X[:, 1]
    yhat_u = yhat_u + 0.8 * Xu[:, 1]
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, alpha=0.1, lam=1.0, small_sample=False)
    lo, hi = ppi_py.ppi_ols_ci(X, y, yhat, Xu, yhat_u, alpha=0.1, lam=1.0)
    np.testing.assert_allclose((res.ci_low + res.ci_high) / 2, (lo + hi) / 2, rtol=1e-8)
    assert np.all(res.ci_high - res.ci_low < hi - lo)


@pytest.mark.parametrize("lam", LAMS)
def test_logistic_equals_ppi_python(lam):
    X, y, yhat, Xu, yhat_u = _binary_data(5)
    res = ppi_logistic_ci(X, y, yhat, Xu, yhat_u, alpha=0.1, lam=lam, small_sample=False)
    lo, hi = ppi_py.ppi_logistic_ci(
        X, y, yhat, Xu, yhat_u, alpha=0.1, lam=lam, optimizer_options=dict(TIGHT_LBFGS)
    )
    _assert_one_or_two_sided_equal(res, lo, hi, "two-sided")


def test_classical_ols_is_the_hc0_sandwich_on_labelled_rows():
    X, y, yhat, Xu, yhat_u = _regression_data(6)
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=0.0, small_sample=False)
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ coef
    bread = np.linalg.inv(X.T @ X)
    # ppi-python's classical interval uses the ddof-1 covariance of the scores.
    scores = X * resid[:, None]
    centred = scores - scores.mean(axis=0)
    cov = bread @ (centred.T @ centred) * len(y) / (len(y) - 1) @ bread
    np.testing.assert_allclose(res.estimate, coef, rtol=1e-10)
    np.testing.assert_allclose(res.stderr, np.sqrt(np.diag(cov)), rtol=1e-8)
    assert res.method == "classical_ols"


def _bell_mccaffrey_df(X: np.ndarray) -> np.ndarray:
    """Bell-McCaffrey degrees of freedom of each coefficient's HC3 variance, from the n-by-n
    matrices of their definition (Imbens & Kolesar 2016, section 3, there for HC2)."""
    n = len(X)
    bread = np.linalg.inv(X.T @ X)
    hat = X @ bread @ X.T
    residual_maker = np.eye(n) - hat
    dfs = []
    for row in bread @ X.T:
        weights = np.diag(row**2 / (1.0 - np.diag(hat)) ** 2)
        product = residual_maker @ weights @ residual_maker
        dfs.append(np.trace(product) ** 2 / np.trace(product @ product))
    return np.array(dfs)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_classical_small_sample_ols_is_hc3_with_bell_mccaffrey_t(alternative):
    X, y, yhat, Xu, yhat_u = _regression_data(17, n=40, N=400)
    X[:, 1] = np.round(np.abs(X[:, 1]) * 3)  # integers with ties, a few high-leverage rows
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, alpha=0.1, lam=0.0, alternative=alternative)
    ref = sm.OLS(y, X).fit(cov_type="HC3")
    np.testing.assert_allclose(res.estimate, ref.params, rtol=1e-10)
    np.testing.assert_allclose(res.stderr, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(res.df, _bell_mccaffrey_df(X), rtol=1e-8)
    tail = 0.05 if alternative == "two-sided" else 0.1
    half = stats.t.isf(tail, res.df) * ref.bse
    _assert_one_or_two_sided_equal(res, ref.params - half, ref.params + half, alternative)


@pytest.mark.parametrize("lam", [None, 1.0, 0.37])
def test_small_sample_ols_adds_the_two_fits_with_their_own_grams(lam):
    """HC3 variance of the rectifier fit (labelled Gram) plus ``lam^2`` times the HC0
    variance of the prediction fit (unlabelled Gram); Welch-Satterthwaite degrees of
    freedom from the labelled Bell-McCaffrey ones and ``N - d``."""
    X, y, yhat, Xu, yhat_u = _regression_data(18, n=60, N=600)
    res = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=lam)
    lam_hat = res.lam
    rectifier = sm.OLS(y - lam_hat * yhat, X).fit(cov_type="HC3")
    prediction = sm.OLS(yhat_u, Xu).fit(cov_type="HC0")
    np.testing.assert_allclose(
        res.estimate, lam_hat * prediction.params + rectifier.params, rtol=1e-9
    )
    var_lab, var_unl = rectifier.bse**2, lam_hat**2 * prediction.bse**2
    np.testing.assert_allclose(res.stderr, np.sqrt(var_lab + var_unl), rtol=1e-8)
    welch = (var_lab + var_unl) ** 2 / (
        var_lab**2 / _bell_mccaffrey_df(X) + var_unl**2 / (len(Xu) - X.shape[1])
    )
    np.testing.assert_allclose(res.df, welch, rtol=1e-8)
    assert np.all(res.df >= _bell_mccaffrey_df(X) - 1e-9)


@pytest.mark.parametrize("lam", [None, 1.0, 0.0])
def test_small_sample_mean_is_welch_interval(lam):
    _, y, yhat, _, yhat_u = _regression_data(19, n=25, N=300)
    res = ppi_mean_ci(y, yhat, yhat_u, alpha=0.1, lam=lam)
    rectified, imputed = y - res.lam * yhat, res.lam * yhat_u
    var_lab, var_unl = rectified.var(ddof=1) / 25, imputed.var(ddof=1) / 300
    df = (var_lab + var_unl) ** 2 / (var_lab**2 / 24 + var_unl**2 / 299)
    assert res.df == pytest.approx(df, rel=1e-10)
    half = stats.t.isf(0.05, df) * np.sqrt(var_lab + var_unl)
    assert (res.ci_low, res.ci_high) == pytest.approx(
        (res.estimate - half, res.estimate + half), rel=1e-10
    )
    if lam == 0.0:
        # The classical interval is the one-sample t interval.
        ci = stats.ttest_1samp(y, 0.0).confidence_interval(0.9)
        assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_small_sample_ols_rejects_a_row_with_leverage_one():
    X, y, yhat, Xu, yhat_u = _regression_data(20, n=30, N=300)
    X[:, 1] = 0.0
    X[0, 1] = 1.0  # a dummy column that only the first row has
    with pytest.raises(InputError, match="leverage 1"):
        ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=0.0)
    asymptotic = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=0.0, small_sample=False)
    assert asymptotic.df is None and np.isfinite(asymptotic.stderr).all()


def _logistic_small_sample_reference(X, y, yhat, Xu, yhat_u, estimate, lam, leverage=None):
    """Standard errors and degrees of freedom of the small-sample logistic interval from
    dense n-by-d arrays: HC3-type labelled variance with the leverages ``leverage`` (by
    default ``(1 - lam)`` times the hat values from the pooled Hessian, plus ``lam / n``),
    the asymptotic unlabelled variance, Satterthwaite degrees of freedom with the pooled
    kurtosis, combined by Welch-Satterthwaite."""
    n, N, d = len(X), len(Xu), X.shape[1]
    p, p_u = expit(X @ estimate), expit(Xu @ estimate)
    rows = (X, Xu) if lam > 0 else (X,)
    weights = (p * (1 - p), p_u * (1 - p_u)) if lam > 0 else (p * (1 - p),)
    hessian = sum((A * w[:, None]).T @ A for A, w in zip(rows, weights, strict=True))
    inv_h = np.linalg.inv(hessian / sum(map(len, rows)))
    if leverage is None:
        leverage = (1 - lam) * p * (1 - p) * np.einsum("ij,jk,ik->i", X, inv_h, X) / n + lam / n
    resid = ((1 - lam) * p - y + lam * yhat) / (1 - leverage)
    influence = X @ inv_h
    scores = influence * resid[:, None]
    var_lab = ((scores - scores.mean(axis=0)) ** 2).sum(axis=0) / n**2
    kurtosis = np.mean(resid**4) / np.mean(resid**2) ** 2
    c = influence**2
    df_lab = np.maximum(2 / (kurtosis - 1) * c.sum(axis=0) ** 2 / (c**2).sum(axis=0), 1.0)
    unl_scores = Xu * (p_u - yhat_u)[:, None] @ inv_h
    var_unl = lam**2 * np.var(unl_scores, axis=0, ddof=1) / N
    if lam == 0:
        return np.sqrt(var_lab), df_lab
    df = (var_lab + var_unl) ** 2 / (var_lab**2 / df_lab + var_unl**2 / (N - d))
    return np.sqrt(var_lab + var_unl), df


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_classical_small_sample_logistic_uses_glm_hat_values(alternative):
    """At ``lam = 0`` the leverages are statsmodels' hat values of the logistic fit."""
    X, y, yhat, Xu, yhat_u = _binary_data(21, n=80, N=800)
    X[:, 1] = np.round(np.abs(X[:, 1]) * 3)  # integers with ties, a few high-leverage rows
    res = ppi_logistic_ci(X, y, yhat, Xu, yhat_u, alpha=0.1, lam=0.0, alternative=alternative)
    glm = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    np.testing.assert_allclose(res.estimate, glm.params, rtol=1e-7)
    hat = glm.get_influence().hat_matrix_diag
    stderr, df = _logistic_small_sample_reference(
        X, y, yhat, Xu, yhat_u, res.estimate, 0.0, leverage=hat
    )
    np.testing.assert_allclose(res.stderr, stderr, rtol=1e-7)
    np.testing.assert_allclose(res.df, df, rtol=1e-7)
    tail = 0.05 if alternative == "two-sided" else 0.1
    half = stats.t.isf(tail, df) * stderr
    _assert_one_or_two_sided_equal(res, res.estimate - half, res.estimate + half, alternative)


@pytest.mark.parametrize("lam", [None, 1.0, 0.37])
def test_small_sample_logistic_corrects_only_the_variance_and_quantile(lam):
    """The estimate and ``lam`` are those of the asymptotic interval; the standard errors
    and degrees of freedom are the dense reference's, and the interval is wider."""
    X, y, yhat, Xu, yhat_u = _binary_data(22, n=120, N=1200)
    res = ppi_logistic_ci(X, y, yhat, Xu, yhat_u, lam=lam)
    asymptotic = ppi_logistic_ci(X, y, yhat, Xu, yhat_u, lam=lam, small_sample=False)
    np.testing.assert_allclose(res.estimate, asymptotic.estimate, rtol=1e-12)
    assert res.lam == asymptotic.lam and asymptotic.df is None
    stderr, df = _logistic_small_sample_reference(
        X, y, yhat, Xu, yhat_u, res.estimate, res.lam
    )
    np.testing.assert_allclose(res.stderr, stderr, rtol=1e-8)
    np.testing.assert_allclose(res.df, df, rtol=1e-8)
    assert np.all(res.ci_high - res.ci_low > asymptotic.ci_high - asymptotic.ci_low)


def test_small_sample_logistic_rejects_a_row_with_leverage_one():
    X, y, yhat, Xu, yhat_u = _binary_data(23, n=40, N=400)
    X = np.column_stack([X, np.zeros(40)])
    Xu = np.column_stack([Xu, np.zeros(400)])
    X[0, 3], y[0] = 1.0, 0.5  # a dummy only the first row has, with a fractional label
    with pytest.raises(InputError, match="leverage 1"):
        ppi_logistic_ci(X, y, yhat, Xu, yhat_u, lam=0.0)
    asymptotic = ppi_logistic_ci(X, y, yhat, Xu, yhat_u, lam=0.0, small_sample=False)
    assert asymptotic.df is None and np.isfinite(asymptotic.stderr).all()


def test_good_predictions_make_the_interval_narrower_than_classical():
    X, y, yhat, Xu, yhat_u = _regression_data(7, n=200, N=20_000)
    tuned = ppi_ols_ci(X, y, yhat, Xu, yhat_u)
    classical = ppi_ols_ci(X, y, yhat, Xu, yhat_u, lam=0.0)
    assert np.all(tuned.ci_high - tuned.ci_low < classical.ci_high - classical.ci_low)
    assert 0.0 < tuned.lam <= 1.0


def test_result_serialises_to_json():
    X, y, yhat, Xu, yhat_u = _regression_data(8)
    payload = json.loads(json.dumps(ppi_ols_ci(X, y, yhat, Xu, yhat_u).to_dict()))
    assert payload["method"] == "ppi++_ols"
    assert len(payload["ci_low"]) == X.shape[1]


def test_one_sided_interval_is_open_on_one_side():
    _, y, yhat, _, yhat_u = _regression_data(9)
    res = ppi_mean_ci(y, yhat, yhat_u, alternative="greater")
    assert np.isfinite(res.ci_low) and res.ci_high == np.inf


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"yhat": np.zeros(5)}, InputError, "yhat"),
        ({"X_unlabeled": np.zeros((10, 3))}, InputError, "X_unlabeled"),
        ({"yhat_unlabeled": np.zeros(7)}, InputError, "yhat_unlabeled"),
        ({"lam": 1.5}, ParameterError, "lam"),
        ({"alpha": 1.0}, ParameterError, "alpha"),
        ({"alternative": "larger"}, ParameterError, "alternative"),
    ],
)
def test_bad_input_raises_typed_error(kwargs, error, match):
    X, y, yhat, Xu, yhat_u = _regression_data(10, n=50, N=100)
    args = {"X": X, "y": y, "yhat": yhat, "X_unlabeled": Xu, "yhat_unlabeled": yhat_u}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ppi_ols_ci(**args)


def test_nan_label_is_rejected():
    X, y, yhat, Xu, yhat_u = _regression_data(11, n=50, N=100)
    y[3] = np.nan
    with pytest.raises(InputError, match="'y'.*NaN"):
        ppi_ols_ci(X, y, yhat, Xu, yhat_u)


def test_logistic_rejects_labels_outside_unit_interval():
    X, y, yhat, Xu, yhat_u = _binary_data(12, n=50, N=100)
    y[0] = 2.0
    with pytest.raises(InputError, match="'y'"):
        ppi_logistic_ci(X, y, yhat, Xu, yhat_u)


def test_collinear_design_raises_typed_error():
    X, y, yhat, Xu, yhat_u = _regression_data(13, n=50, N=100)
    X[:, 2] = X[:, 1]
    Xu[:, 2] = Xu[:, 1]
    with pytest.raises(InputError, match="singular"):
        ppi_ols_ci(X, y, yhat, Xu, yhat_u)


def test_import_and_ppi_calls_load_no_heavy_dependency():
    """The cold-start promise: importing shiftguard.inference and calling the PPI
    functions loads neither scipy, scikit-learn, pandas, statsmodels nor numba."""
    code = (
        "import sys, numpy as np\n"
        "import shiftguard.inference as inf\n"
        "rng = np.random.default_rng(0)\n"
        "X = np.column_stack([np.ones(300), rng.normal(size=(300, 2))])\n"
        "y = (rng.random(300) < 0.5).astype(float)\n"
        "inf.ppi_mean_ci(y, y, y)\n"
        "inf.ppi_ols_ci(X, y, y, X, y)\n"
        "inf.ppi_logistic_ci(X, y, y, X, y)\n"
        "inf.ppi_quantile_ci(y + rng.normal(size=300), y, y, 0.5)\n"
        "heavy = ('scipy', 'sklearn', 'pandas', 'statsmodels', 'numba')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_separated_labels_raise_instead_of_a_meaningless_estimate():
    # Newton's relative step test used to pass on the way to infinity (estimate ~1,200 with
    # an interval of +/- 10^6 at lam = 0); the loss has no finite minimum there.
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    X = np.column_stack([np.ones(200), x])
    y = (x > 0).astype(float)
    Xu = np.column_stack([np.ones(1000), rng.normal(size=1000)])
    for lam in (0.0, None):
        with pytest.raises(InputError, match="no finite minimum"):
            ppi_logistic_ci(X, y, y, Xu, (Xu[:, 1] > 0).astype(float), lam=lam)
