"""Outlier and out-of-distribution detection with calibrated decisions.

Detectors score rows (higher = more anomalous) after ``fit`` on in-distribution data:
feature-space (:class:`Mahalanobis`, :class:`KNNDistance`, :class:`WDiscOOD`,
:class:`ConjNorm`), tabular (:class:`ECOD`, :class:`COPOD`,
:class:`ExtendedIsolationForest`, scikit-learn and PyOD adapters), from a classifier's
logits (:func:`max_softmax_score`, :func:`max_logit_score`, :func:`energy_score`) and from
two density models (:class:`DensityRatioDetector`); texts through :func:`embed_texts`
(extra ``shiftguard[text]``) and then any detector. :class:`OutlierDetector` turns any of
them into decisions with a stated error rate: conformal p-values from a held-out
calibration set, then a per-row level (false-positive rate <= alpha) or Benjamini-Hochberg
/ Storey across a batch (FDR <= q). :mod:`~shiftguard.ood.metrics` gives AUROC, AUPR and
FPR at 95% TPR with bootstrap intervals. :func:`outliers` does it all for two tables (the
``shiftguard outliers`` command).
"""

from shiftguard.ood.calibrate import (
    OutlierDetector,
    OutlierResult,
    benjamini_hochberg,
    conditional_bounds,
    conformal_pvalues,
    needed_calibration_size,
    storey_bh,
)
from shiftguard.ood.conjnorm import ConjNorm
from shiftguard.ood.ecod import COPOD, ECOD
from shiftguard.ood.forest import (
    ExtendedIsolationForest,
    PyODDetector,
    SklearnDetector,
    average_path_length,
    isolation_forest,
    local_outlier_factor,
)
from shiftguard.ood.knn import KNNDistance
from shiftguard.ood.likelihood import DensityRatioDetector, likelihood_ratio_score
from shiftguard.ood.logits import energy_score, max_logit_score, max_softmax_score
from shiftguard.ood.mahalanobis import Mahalanobis
from shiftguard.ood.metrics import MetricResult, aupr, auroc, fpr_at_tpr
from shiftguard.ood.tables import (
    DETECTORS,
    FeatureContribution,
    FlaggedRow,
    OutlierReport,
    make_detector,
    outliers,
)
from shiftguard.ood.text import EMBEDDING_DIM, embed_texts
from shiftguard.ood.wdiscood import WDiscOOD

__all__ = [
    "COPOD",
    "DETECTORS",
    "EMBEDDING_DIM",
    "FeatureContribution",
    "FlaggedRow",
    "OutlierReport",
    "make_detector",
    "outliers",
    "ConjNorm",
    "DensityRatioDetector",
    "ECOD",
    "ExtendedIsolationForest",
    "KNNDistance",
    "Mahalanobis",
    "MetricResult",
    "OutlierDetector",
    "OutlierResult",
    "PyODDetector",
    "SklearnDetector",
    "WDiscOOD",
    "aupr",
    "auroc",
    "average_path_length",
    "benjamini_hochberg",
    "conditional_bounds",
    "conformal_pvalues",
    "embed_texts",
    "energy_score",
    "fpr_at_tpr",
    "isolation_forest",
    "likelihood_ratio_score",
    "local_outlier_factor",
    "max_logit_score",
    "max_softmax_score",
    "needed_calibration_size",
    "storey_bh",
]
