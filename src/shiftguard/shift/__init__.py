"""Distribution shift: density ratios and reweighting, label shift, performance without
labels, attribution and explanation of a change, calibration, deferral and subgroups."""

from shiftguard.shift.attribution import PerformanceAttribution, attribute_performance_change
from shiftguard.shift.calibration import (
    CalibrationError,
    ReliabilityCurve,
    calibration_error,
    reliability_curve,
)
from shiftguard.shift.calibration_tests import (
    CalibrationDriftResult,
    CalibrationTestResult,
    calibration_drift_test,
    calibration_test,
)
from shiftguard.shift.deferral import NoThresholdError, SelectiveThreshold, selective_threshold
from shiftguard.shift.density_ratio import (
    ClassifierDensityRatio,
    ShiftWarning,
    WeightDiagnostics,
    weight_diagnostics,
)
from shiftguard.shift.explain import (
    ClusterShiftExplanation,
    MeanShiftExplanation,
    cluster_shift_explanation,
    mean_shift_explanation,
)
from shiftguard.shift.kernel_ratio import KLIEPDensityRatio, ULSIFDensityRatio
from shiftguard.shift.label_shift import (
    LabelShiftEstimate,
    LabelShiftWeights,
    bbse_weights,
    em_label_shift,
    rlls_weights,
)
from shiftguard.shift.performance import (
    PerformanceEstimate,
    PerformanceEstimator,
    estimate_performance,
)
from shiftguard.shift.recalibrate import (
    IsotonicCalibration,
    PlattScaling,
    TemperatureScaling,
    VennAbers,
)
from shiftguard.shift.subgroups import SubgroupPerformance, subgroup_performance
from shiftguard.shift.target_shift import ReTaSAWeights
from shiftguard.shift.timeline import (
    ChunkPerformance,
    PerformanceTimeline,
    performance_over_time,
)
from shiftguard.shift.weighted import WeightedEstimate, weighted_metric

__all__ = [
    "ClassifierDensityRatio",
    "KLIEPDensityRatio",
    "LabelShiftEstimate",
    "LabelShiftWeights",
    "PerformanceEstimate",
    "PerformanceEstimator",
    "ReTaSAWeights",
    "ShiftWarning",
    "ULSIFDensityRatio",
    "WeightDiagnostics",
    "WeightedEstimate",
    "bbse_weights",
    "em_label_shift",
    "estimate_performance",
    "rlls_weights",
    "weight_diagnostics",
    "weighted_metric",
    "CalibrationDriftResult",
    "CalibrationError",
    "CalibrationTestResult",
    "IsotonicCalibration",
    "NoThresholdError",
    "PlattScaling",
    "ReliabilityCurve",
    "SelectiveThreshold",
    "SubgroupPerformance",
    "TemperatureScaling",
    "VennAbers",
    "calibration_drift_test",
    "calibration_error",
    "calibration_test",
    "reliability_curve",
    "selective_threshold",
    "subgroup_performance",
    "ClusterShiftExplanation",
    "MeanShiftExplanation",
    "PerformanceAttribution",
    "attribute_performance_change",
    "cluster_shift_explanation",
    "mean_shift_explanation",
    "ChunkPerformance",
    "PerformanceTimeline",
    "performance_over_time",
]
