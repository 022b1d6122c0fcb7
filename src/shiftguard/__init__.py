"""shiftguard: know when your data changed, when a prediction can't be trusted, and what you
can still validly conclude -- with stated statistical guarantees.

The public API is flat (``shiftguard.compare``, ``shiftguard.ks_test``,
``shiftguard.SplitConformalRegressor``, ...) over modules that each own one idea. Names are
imported on first use, so ``import shiftguard`` stays fast for command-line use.
"""

from __future__ import annotations

import importlib
from typing import Any

from shiftguard.errors import (
    BudgetExhaustedError,
    EstimatorError,
    InputError,
    NotFittedError,
    ParameterError,
    ReadError,
    SchemaError,
    ShiftguardError,
    StateError,
)

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "shiftguard.io": ("read_table", "Table", "Column"),
    "shiftguard.drift": ("compare", "DriftDetector", "DriftReport", "ColumnDrift",
                         "MultivariateDrift"),
    "shiftguard.stats": (
        "ks_test", "cvm_test", "anderson_test", "mannwhitney_test", "epps_singleton_test",
        "chi2_test", "g_test", "fisher_test", "wasserstein_test", "psi_test", "js_test",
        "hellinger_test", "presort", "ks_test_many", "adjust_pvalues", "reject", "mmd_test",
        "linear_mmd_test", "energy_test", "classifier_test",
    ),
    "shiftguard.drift.blackbox": ("bbsd_test", "predicted_label_test"),
    "shiftguard.drift.text": ("text_drift_test", "text_profile", "TextProfile"),
    "shiftguard.drift.localize": ("localize_shift", "LocalizationResult"),
    "shiftguard.report": ("render_html", "write_html", "write_performance_html"),
    "shiftguard.stream": (
        "ADWIN", "CUSUM", "DDM", "EDDM", "HDDMA", "HDDMW", "KSWIN", "PageHinkley",
        "GaussianSPRT", "BernoulliSPRT", "MixtureSPRT", "BettingConfidenceSequence",
        "SequentialTwoSampleTest", "Monitor", "detector_from_dict",
    ),
    "shiftguard.conformal": (
        "SplitConformalRegressor", "ConformalizedQuantileRegressor", "JackknifePlusRegressor",
        "BinnedConformalRegressor", "SplitConformalClassifier", "WeightedConformalRegressor",
        "WeightedConformalClassifier", "LabelShiftConformalClassifier",
        "PACLabelShiftClassifier", "adaptive_conformal_intervals",
        "AdaptiveConformalPredictor", "spci_intervals", "conformal_selection",
        "optimized_conformal_selection", "conformal_risk_control",
    ),
    "shiftguard.inference": (
        "dsl", "dsl_formula", "ppi_mean_ci", "ppi_quantile_ci", "ppi_ols_ci",
        "ppi_logistic_ci", "Thresholdout", "Ladder",
    ),
    "shiftguard.shift": (
        "ClassifierDensityRatio", "bbse_weights", "KLIEPDensityRatio", "ULSIFDensityRatio",
        "weight_diagnostics", "weighted_metric", "em_label_shift", "rlls_weights",
        "estimate_performance", "PerformanceEstimator", "ReTaSAWeights",
        "performance_over_time",
        "calibration_error", "reliability_curve", "calibration_test", "calibration_drift_test",
        "TemperatureScaling", "PlattScaling", "IsotonicCalibration", "VennAbers",
        "selective_threshold", "subgroup_performance",
        "attribute_performance_change", "mean_shift_explanation", "cluster_shift_explanation",
    ),
    "shiftguard.profile": ("profile_table", "Profile", "ProfileSettings", "merge_profiles",
                           "load_profile", "save_profile"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
_SUBMODULES = ("io", "drift", "stats", "report", "stream", "conformal", "inference", "shift",
               "cli", "profile")


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"shiftguard.{name}")
    else:
        raise AttributeError(f"module 'shiftguard' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE, *_SUBMODULES])


__all__ = [
    "BudgetExhaustedError",
    "EstimatorError",
    "InputError",
    "NotFittedError",
    "ParameterError",
    "ReadError",
    "SchemaError",
    "ShiftguardError",
    "StateError",
    "__version__",
    *_WHERE,
]
