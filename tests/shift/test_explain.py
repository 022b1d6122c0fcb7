import itertools
import json

import numpy as np
import pytest

from shiftguard.errors import InputError, ParameterError, SchemaError
from shiftguard.shift import (
    ClusterShiftExplanation,
    MeanShiftExplanation,
    cluster_shift_explanation,
    mean_shift_explanation,
)
from shiftguard.shift.explain import _w2_sq_sorted


def test_one_dimensional_w2_is_exact_for_unequal_sizes():
    rng = np.random.default_rng(0)
    a, b = np.sort(rng.normal(size=6)), np.sort(rng.normal(1.0, 2.0, size=4))
    # repeat every point so both samples have 12 equally weighted atoms: W2^2 is then the
    # mean squared difference of the sorted values
    brute = np.mean((np.repeat(a, 2) - np.repeat(b, 3)) ** 2)
    assert _w2_sq_sorted(a[:, None], b[:, None])[0] == pytest.approx(brute, rel=1e-12)


def test_exact_cost_is_the_optimal_assignment():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + [1.0, 0.0]
    res = mean_shift_explanation(ref, cur, distance="exact", standardize=False)
    brute = min(np.mean(np.sum((ref - cur[list(p)]) ** 2, axis=1))
                for p in itertools.permutations(range(6)))
    assert res.cost_unmapped == pytest.approx(brute, rel=1e-12)


def test_translation_in_one_dimension_is_fully_explained():
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(300, 1))
    res = mean_shift_explanation(ref, ref + 1.7, standardize=False)
    assert res.cost_unmapped == pytest.approx(1.7**2)
    assert res.percent_explained == pytest.approx(100.0, abs=1e-9)
    np.testing.assert_allclose(res.shift, [1.7])


def test_sparse_map_moves_the_largest_standardised_shifts_only():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(800, 5)) * [1.0, 10.0, 1.0, 1.0, 1.0]
    cur = rng.normal(size=(800, 5)) * [1.0, 10.0, 1.0, 1.0, 1.0] + [0.0, 5.0, 1.5, 0.0, 0.0]
    dense = mean_shift_explanation(ref, cur)
    np.testing.assert_allclose(dense.shift, cur.mean(0) - ref.mean(0), rtol=1e-12)
    sparse = mean_shift_explanation(ref, cur, k=1)
    # feature 2 moves by 1.5 sd; feature 1 by 5 units but only 0.5 sd
    assert sparse.selected == ("2",)
    assert np.count_nonzero(sparse.shift) == 1
    np.testing.assert_allclose(sparse.apply(ref), ref + sparse.shift)
    assert dense.percent_explained > sparse.percent_explained > 50.0
    assert isinstance(sparse, MeanShiftExplanation)
    json.dumps(sparse.to_dict())


def test_variance_change_is_not_a_mean_shift():
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=(1000, 3)), rng.normal(size=(1000, 3)) * [1.0, 3.0, 1.0]
    assert mean_shift_explanation(ref, cur).percent_explained < 10.0


def test_one_cluster_is_the_mean_shift_and_clusters_move_separately():
    rng = np.random.default_rng(5)
    ref, cur = rng.normal(size=(400, 2)), rng.normal(size=(400, 2)) + [0.5, -1.0]
    one = cluster_shift_explanation(ref, cur, n_clusters=1)
    np.testing.assert_allclose(one.shifts[0], cur.mean(0) - ref.mean(0), rtol=1e-9)
    blobs = np.repeat([[0.0, 0.0], [10.0, 0.0]], 300, axis=0)
    ref = blobs + rng.normal(size=(600, 2))
    cur = blobs + rng.normal(size=(600, 2)) + np.repeat([[0.0, 2.0], [0.0, -2.0]], 300, axis=0)
    # raw units: the blobs are 10 apart, far more than any point moves, so the optimal
    # coupling keeps them apart (standardised, the gap shrinks to 2 sd and outlying points
    # would cross)
    res = cluster_shift_explanation(ref, cur, n_clusters=2, distance="exact", seed=1,
                                    standardize=False)
    assert isinstance(res, ClusterShiftExplanation)
    np.testing.assert_allclose(res.shifts[res.assign([[0.0, 0.0], [10.0, 0.0]])],
                               [[0.0, 2.0], [0.0, -2.0]], atol=0.25)
    np.testing.assert_array_equal(np.sort(res.n_ref), [300, 300])
    mean_only = mean_shift_explanation(ref, cur, distance="exact", standardize=False)
    assert res.percent_explained > mean_only.percent_explained + 30.0
    mapped = res.apply(ref)
    assert np.abs(mapped.mean(0) - cur.mean(0)).max() < 0.2
    json.dumps(res.to_dict())


def test_seeded_results_repeat():
    rng = np.random.default_rng(6)
    ref, cur = rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4)) + 0.3
    a = cluster_shift_explanation(ref, cur, 3, seed=4)
    b = cluster_shift_explanation(ref, cur, 3, seed=4)
    np.testing.assert_array_equal(a.shifts, b.shifts)
    assert a.percent_explained == b.percent_explained


def test_real_data_benign_to_malignant():
    """Breast cancer: benign -> malignant. More moved features explain more of the shift."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame, y = data.data, data.target
    benign, malignant = frame[y == 1], frame[y == 0]
    explained = [mean_shift_explanation(benign, malignant, k=k).percent_explained
                 for k in (1, 5, 30)]
    assert 0.0 < explained[0] < explained[1] < explained[2] <= 100.0
    top = mean_shift_explanation(benign, malignant, k=3)
    assert all(name in frame.columns for name in top.selected)


def test_bad_input():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    ref, cur = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 1
    with pytest.raises(ParameterError, match="k must be at most"):
        mean_shift_explanation(ref, cur, k=4)
    with pytest.raises(ParameterError, match="distance"):
        mean_shift_explanation(ref, cur, distance="w1")
    with pytest.raises(SchemaError, match="not in X_ref: \\['d'\\]"):
        mean_shift_explanation(pd.DataFrame(ref, columns=list("abc")),
                               pd.DataFrame(cur, columns=list("abd")))
    with pytest.raises(InputError, match="coincide"):
        mean_shift_explanation(ref, ref)
    with pytest.raises(ParameterError, match="n_clusters"):
        cluster_shift_explanation(ref, cur, n_clusters=500)
    with pytest.raises(InputError, match="expected 3 columns"):
        mean_shift_explanation(ref, cur).apply(ref[:, :2])
    with pytest.raises(InputError, match="NaN"):
        mean_shift_explanation(np.where(ref > 2, np.nan, ref), cur)
