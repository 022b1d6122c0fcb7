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

from shiftguard._lazy import lazy_exports

# Names are imported on first use (PEP 562), so that importing one submodule -- the CLI
# builds its parser from shiftguard.ood.tables -- does not load every detector and SciPy.
_WHERE = {
    "aupr": "shiftguard.ood.metrics",
    "auroc": "shiftguard.ood.metrics",
    "average_path_length": "shiftguard.ood.forest",
    "benjamini_hochberg": "shiftguard.ood.calibrate",
    "conditional_bounds": "shiftguard.ood.calibrate",
    "conformal_pvalues": "shiftguard.ood.calibrate",
    "ConjNorm": "shiftguard.ood.conjnorm",
    "COPOD": "shiftguard.ood.ecod",
    "DensityRatioDetector": "shiftguard.ood.likelihood",
    "DETECTORS": "shiftguard.ood.tables",
    "ECOD": "shiftguard.ood.ecod",
    "embed_texts": "shiftguard.ood.text",
    "EMBEDDING_DIM": "shiftguard.ood.text",
    "energy_score": "shiftguard.ood.logits",
    "ExtendedIsolationForest": "shiftguard.ood.forest",
    "FeatureContribution": "shiftguard.ood.tables",
    "FlaggedRow": "shiftguard.ood.tables",
    "fpr_at_tpr": "shiftguard.ood.metrics",
    "isolation_forest": "shiftguard.ood.forest",
    "KNNDistance": "shiftguard.ood.knn",
    "likelihood_ratio_score": "shiftguard.ood.likelihood",
    "local_outlier_factor": "shiftguard.ood.forest",
    "Mahalanobis": "shiftguard.ood.mahalanobis",
    "make_detector": "shiftguard.ood.tables",
    "max_logit_score": "shiftguard.ood.logits",
    "max_softmax_score": "shiftguard.ood.logits",
    "MetricResult": "shiftguard.ood.metrics",
    "needed_calibration_size": "shiftguard.ood.calibrate",
    "OutlierDetector": "shiftguard.ood.calibrate",
    "OutlierReport": "shiftguard.ood.tables",
    "OutlierResult": "shiftguard.ood.calibrate",
    "outliers": "shiftguard.ood.tables",
    "PyODDetector": "shiftguard.ood.forest",
    "SklearnDetector": "shiftguard.ood.forest",
    "storey_bh": "shiftguard.ood.calibrate",
    "WDiscOOD": "shiftguard.ood.wdiscood",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)


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
