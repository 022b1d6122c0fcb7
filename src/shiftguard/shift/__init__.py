"""Distribution-shift tools: density ratios (covariate shift) and label-shift weights."""

from shiftguard.shift.density_ratio import ClassifierDensityRatio
from shiftguard.shift.label_shift import LabelShiftWeights, bbse_weights

__all__ = ["ClassifierDensityRatio", "LabelShiftWeights", "bbse_weights"]
