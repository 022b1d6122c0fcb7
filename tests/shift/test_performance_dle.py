"""DLE's default loss model: the additive model fitted by penalised least squares, whose
fold models are closed-form downdates of one Gram matrix."""

import numpy as np
import pytest

from shiftguard.shift import PerformanceEstimator, estimate_performance
from shiftguard.shift._additive_loss import PENALTY_GRID, additive_basis, fit_additive


def _table(rng, n, shift=0.0):
    """A continuous column, a 0/1 column, a constant, a column of five levels."""
    return np.column_stack([rng.normal(size=n) + shift, rng.integers(0, 2, n),
                            np.full(n, 3.0), rng.integers(0, 5, n)])


def test_basis_rows_mean_and_prediction_agree_with_the_design_matrix():
    rng = np.random.default_rng(40)
    basis = additive_basis(_table(rng, 500))
    assert [k.tolist() for k in basis.knots[1:]] == [[0.0, 1.0], [3.0], [0, 1, 2, 3, 4]]
    # current rows outside the reference range: the basis is constant beyond the ends
    X = _table(rng, 300, shift=3.0)
    X[:, 2] += rng.integers(0, 2, 300)
    X[:, 3] += rng.integers(-1, 2, 300)
    positions = basis.positions(X)
    design = basis.design(positions)
    assert design.shape == (300, basis.size)
    # one slope for the 0/1 column, none for the constant, hat functions for the others
    start = basis.spline_offsets
    n_first = basis.knots[0].size
    assert basis.size == 1 + 1 + n_first + 5 and start.tolist() == [2, 2 + n_first]
    np.testing.assert_allclose(design[:, 1], np.clip(X[:, 1], 0, 1))
    np.testing.assert_allclose(design[:, start[0]:start[1]].sum(1), 1.0)
    coef = rng.normal(size=basis.size)
    np.testing.assert_allclose(basis.mean(positions), design.mean(0), atol=1e-12)
    np.testing.assert_allclose(basis.predict(positions, coef), design @ coef, atol=1e-12)
    beyond = X[:, 0] > basis.knots[0][-1]
    assert beyond.any() and (design[beyond, start[1] - 1] == 1).all()


def test_fold_models_are_exact_refits_without_their_fold():
    """The downdated fold coefficients equal penalised least squares on the other folds
    at the chosen penalty, computed from scratch."""
    rng = np.random.default_rng(41)
    X = _table(rng, 600)
    loss = np.abs(X[:, 0]) + 0.3 * X[:, 1] + rng.normal(0, 0.3, 600)
    basis = additive_basis(X)
    positions = basis.positions(X)
    folds = rng.permutation(600) % 10
    fit = fit_additive(basis, positions, loss, folds, 10)
    design, penalty = basis.design(positions), basis.penalty()
    scale = np.trace(design.T @ design) / basis.size
    assert np.isclose(fit.penalty / scale, PENALTY_GRID).any()
    for f in (0, 7):
        keep = folds != f
        refit = np.linalg.solve(design[keep].T @ design[keep] + fit.penalty * penalty,
                                design[keep].T @ loss[keep])
        np.testing.assert_allclose(fit.fold_coef[f], refit, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit.out_of_fold[~keep], design[~keep] @ refit, atol=1e-8)
    full = np.linalg.solve(design.T @ design + fit.penalty * penalty, design.T @ loss)
    np.testing.assert_allclose(fit.coef, full, rtol=1e-8, atol=1e-10)


def test_default_dle_learns_a_nonlinear_loss_and_is_the_chunks_mean_prediction():
    """The loss grows with |x_1| (a V the additive model represents); the shifted chunk's
    estimate is its mean predicted loss, tracks the realised MAE, and the additive model
    says so in ``details``; a boosting loss model is still an option."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.default_rng(42)

    def sample(n, shift):
        X = rng.normal(size=(n, 3))
        X[:, 1] += shift
        return X, X[:, 0] + (0.2 + 0.5 * np.abs(X[:, 1])) * rng.normal(size=n)

    X_ref, y_ref = sample(3000, 0.0)
    X_cur, y_cur = sample(2000, 1.2)
    fitted = PerformanceEstimator("dle", ("mae", "mse")).fit(X_ref[:, 0], y_ref, X_ref)
    mae, mse = fitted.estimate(X_cur[:, 0], X_cur)
    realised = np.mean(np.abs(y_cur - X_cur[:, 0]))
    expected = np.sqrt(2 / np.pi) * np.mean(0.2 + 0.5 * np.abs(X_cur[:, 1]))  # E|error|
    assert mae.reference_value < realised - 0.1  # the shift makes the errors larger
    assert abs(mae.estimate - expected) < 3 * mae.standard_error
    assert abs(mae.estimate - realised) < 4 * mae.standard_error
    assert mae.details["loss_model"] == "additive" and mae.details["penalty"] > 0
    assert mse.estimate > mae.estimate**2  # Jensen
    state = fitted._state_
    model = state["models"]["mae"]
    xc = np.column_stack([X_cur, X_cur[:, 0]])
    rows = state["basis"].predict(state["basis"].positions(xc), model["coef"])
    assert mae.estimate == pytest.approx(rows.mean())
    boosted = estimate_performance(X_ref[:, 0], y_ref, X_cur[:, 0], "mae", "dle", X_ref=X_ref,
                                   X_cur=X_cur, loss_model=HistGradientBoostingRegressor(
                                       max_iter=30, random_state=0))
    assert boosted.details["loss_model"] == "HistGradientBoostingRegressor"
    assert abs(boosted.estimate - mae.estimate) < 0.05


@pytest.mark.parametrize("kind", ["normal", "integer", "heavy tail", "close knots"])
def test_lookup_of_left_knots_equals_binary_search(kind):
    """The table lookup of each value's left knot agrees with a binary search everywhere:
    at and between the knots, beyond both ends, on ties; and falls back to the search
    when the knots are too close for a table."""
    from shiftguard.shift._additive_loss import _left_knots, _lookup

    rng = np.random.default_rng(43)
    column = {"normal": rng.normal(size=5000),
              "integer": rng.integers(-20, 300, 5000).astype(float),
              "heavy tail": np.round(rng.standard_t(2, 5000) * 30),
              "close knots": np.r_[rng.normal(size=2500), 1e-9 * np.arange(2500)]}[kind]
    knots = additive_basis(column[:, None]).knots[0]
    table = _lookup(knots)
    assert (table is None) == (kind == "close knots")
    values = np.r_[column, knots, knots - 1e-12, knots + 1e-12, knots[0] - 5, knots[-1] + 5,
                   rng.uniform(knots[0] - 1, knots[-1] + 1, 5000)]
    expected = np.clip(np.searchsorted(knots, values, side="right") - 1, 0, knots.size - 2)
    np.testing.assert_array_equal(_left_knots(knots, table, values), expected)
