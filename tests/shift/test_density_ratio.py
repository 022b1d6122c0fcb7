import warnings

import numpy as np
import pytest

from shiftguard.errors import InputError, NotFittedError, ParameterError
from shiftguard.shift import (
    ClassifierDensityRatio,
    KLIEPDensityRatio,
    ShiftWarning,
    ULSIFDensityRatio,
    WeightDiagnostics,
    weight_diagnostics,
)


def test_recovers_a_gaussian_mean_shift_ratio():
    rng = np.random.default_rng(0)
    source = rng.normal(0.0, 1.0, size=(20_000, 1))
    target = rng.normal(0.5, 1.0, size=(10_000, 1))
    ratio = ClassifierDensityRatio(clip=100).fit(source, target)
    grid = np.linspace(-1.5, 1.5, 7)[:, None]
    truth = np.exp(0.5 * grid[:, 0] - 0.125)  # N(0.5, 1) / N(0, 1)
    np.testing.assert_allclose(ratio.weights(grid), truth, rtol=0.1)


def test_clipping_and_errors():
    rng = np.random.default_rng(1)
    source, target = rng.normal(size=(200, 1)), rng.normal(5, 1, size=(200, 1))
    w = ClassifierDensityRatio(clip=4).fit(source, target)(np.array([[-5.0], [10.0]]))
    np.testing.assert_allclose(w, [0.25, 4.0])
    with pytest.raises(ParameterError, match="clip"):
        ClassifierDensityRatio(clip=1).fit(source, target)
    with pytest.raises(ParameterError, match="columns"):
        ClassifierDensityRatio().fit(source, np.ones((5, 2)))
    with pytest.raises(NotFittedError):
        ClassifierDensityRatio().weights(source)


# -- calibrated classifier, KLIEP, uLSIF and diagnostics --------------------------------


def _gaussian_pair(seed, n_source=2000, n_target=1000, shift=0.5):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (n_source, 1)), rng.normal(shift, 1.0, (n_target, 1))


@pytest.mark.parametrize(
    "estimator",
    [ClassifierDensityRatio(clip=100, calibration="sigmoid"), KLIEPDensityRatio(),
     ULSIFDensityRatio()],
    ids=["calibrated-classifier", "kliep", "ulsif"],
)
def test_every_estimator_recovers_a_gaussian_mean_shift_ratio(estimator):
    source, target = _gaussian_pair(0)
    estimator.fit(source, target)
    grid = np.linspace(-1.0, 1.0, 5)[:, None]
    truth = np.exp(0.5 * grid[:, 0] - 0.125)
    np.testing.assert_allclose(estimator.weights(grid), truth, rtol=0.25)
    w = estimator.weights(source)
    assert np.all(w >= 0)
    # the reweighted source mean moves to the target mean 0.5
    assert abs(w @ source[:, 0] / w.sum() - 0.5) < 0.12
    assert isinstance(estimator.diagnostics_, WeightDiagnostics)
    assert estimator.diagnostics_.n == source.shape[0]
    assert not estimator.diagnostics_.low_overlap


def test_kernel_estimators_choose_by_cross_validation_and_are_reproducible():
    source, target = _gaussian_pair(1, 600, 300)
    kliep = KLIEPDensityRatio(bandwidths=[0.05, 0.5, 5.0], n_centers=50).fit(source, target)
    assert kliep.cv_scores_.shape == (3,)
    assert kliep.bandwidth_ == [0.05, 0.5, 5.0][int(np.argmax(kliep.cv_scores_))]
    # KLIEP's constraint: the source mean of the ratio is one
    assert abs(kliep.weights(source).mean() - 1.0) < 1e-6
    ulsif = ULSIFDensityRatio(penalties=[1e-3, 1.0], n_centers=50).fit(source, target)
    assert ulsif.cv_scores_.shape == (5, 2)
    again = ULSIFDensityRatio(penalties=[1e-3, 1.0], n_centers=50).fit(source, target)
    np.testing.assert_array_equal(ulsif.weights(source), again.weights(source))


def test_kernel_estimator_errors():
    source, target = _gaussian_pair(2, 50, 50)
    with pytest.raises(NotFittedError):
        ULSIFDensityRatio().weights(source)
    with pytest.raises(ParameterError, match="bandwidths"):
        KLIEPDensityRatio(bandwidths=[0.0]).fit(source, target)
    with pytest.raises(ParameterError, match="penalties"):
        ULSIFDensityRatio(penalties=[-1.0]).fit(source, target)
    with pytest.raises(ParameterError, match="calibration"):
        ClassifierDensityRatio(calibration="platt").fit(source, target)
    fitted = KLIEPDensityRatio(n_centers=10).fit(source, target)
    with pytest.raises(InputError, match="columns"):
        fitted.weights(np.ones((3, 2)))
    with pytest.raises(InputError, match="n_folds"):
        ULSIFDensityRatio(n_folds=5).fit(source[:3], target)


def test_diagnostics_effective_sample_size_and_clipping():
    d = weight_diagnostics(np.ones(10))
    assert d.effective_sample_size == pytest.approx(10) and d.max_weight == 1.0
    w = np.array([1.0, 1.0, 2.0, 4.0])
    d = weight_diagnostics(w, np.array([1.0, 1.0, 2.0, 8.0]))
    assert d.effective_sample_size == pytest.approx(64 / 22)
    assert d.clipped_mass == pytest.approx(4 / 12) and d.n_clipped == 1
    assert d.max_weight == pytest.approx(2.0)
    assert weight_diagnostics(w, np.array([1.0, 1.0, 2.0, np.inf])).clipped_mass == 1.0
    assert set(d.to_dict()) >= {"effective_sample_size", "ess_fraction", "clipped_mass"}


def test_low_overlap_warns():
    with pytest.warns(ShiftWarning, match="barely overlap"):
        d = weight_diagnostics(np.r_[np.full(99, 1e-3), 50.0])
    assert d.low_overlap
    source, target = _gaussian_pair(3, 500, 500, shift=6.0)
    with pytest.warns(ShiftWarning):
        ClassifierDensityRatio(clip=1e6).fit(source, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        weight_diagnostics(np.r_[np.full(99, 1e-3), 50.0], warn=False)


@pytest.mark.parametrize(
    ("weights", "message"),
    [([1.0, np.inf], "infinite"), ([0.0, 0.0], "all weights are zero"),
     ([1.0, -1.0], "must be >= 0")],
)
def test_bad_weights_raise_naming_the_problem(weights, message):
    with pytest.raises(InputError, match=message):
        weight_diagnostics(weights)
