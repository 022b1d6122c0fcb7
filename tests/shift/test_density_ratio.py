import numpy as np
import pytest

from shiftguard.errors import NotFittedError, ParameterError
from shiftguard.shift import ClassifierDensityRatio


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
