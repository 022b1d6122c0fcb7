"""Conformal prediction: intervals and sets with stated finite-sample (or asymptotic) guarantees.

Every estimator wraps a scikit-learn-style model (fitted here with ``fit``, or passed with
``prefit=True``), is calibrated on held-out data with ``calibrate(X, y)``, and predicts
with ``predict_interval(X)`` (unpacks as ``lower, upper``) or ``predict_set(X)`` (a
boolean ``(n, K)`` array). Each docstring states its guarantee and its reference.
"""

from shiftguard.conformal._quantile import min_calibration_size
from shiftguard.conformal._scores import PredictionIntervals
from shiftguard.conformal.binned import BinnedConformalRegressor, OrdinalSoftmaxClassifier
from shiftguard.conformal.classification import SplitConformalClassifier
from shiftguard.conformal.regression import (
    ConformalizedQuantileRegressor,
    JackknifePlusRegressor,
    SplitConformalRegressor,
)
from shiftguard.conformal.selection import (
    RiskControlResult,
    SelectionResult,
    conformal_risk_control,
    conformal_selection,
    optimized_conformal_selection,
)
from shiftguard.conformal.shift import (
    LabelShiftConformalClassifier,
    PACLabelShiftClassifier,
    WeightedConformalClassifier,
    WeightedConformalRegressor,
)
from shiftguard.conformal.timeseries import (
    AdaptiveConformalPredictor,
    AdaptiveIntervals,
    adaptive_conformal_intervals,
    spci_intervals,
)

__all__ = [
    "AdaptiveConformalPredictor",
    "AdaptiveIntervals",
    "BinnedConformalRegressor",
    "ConformalizedQuantileRegressor",
    "JackknifePlusRegressor",
    "LabelShiftConformalClassifier",
    "OrdinalSoftmaxClassifier",
    "PACLabelShiftClassifier",
    "PredictionIntervals",
    "RiskControlResult",
    "SelectionResult",
    "SplitConformalClassifier",
    "SplitConformalRegressor",
    "WeightedConformalClassifier",
    "WeightedConformalRegressor",
    "adaptive_conformal_intervals",
    "conformal_risk_control",
    "conformal_selection",
    "min_calibration_size",
    "optimized_conformal_selection",
    "spci_intervals",
]
