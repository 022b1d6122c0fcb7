"""Drift detection: has a batch of data changed from the reference, and where?

- :mod:`~shiftguard.drift.detector`: :func:`compare` and :class:`DriftDetector`, one test per
  column, missing-rate tests, a joint test and multiplicity control over the whole report.
- :mod:`~shiftguard.drift.localize`: which features' conditional distributions shifted.
- :mod:`~shiftguard.drift.text`: two-sample tests on text columns.
- :mod:`~shiftguard.drift.blackbox`: shift detection on a model's outputs (BBSD).
"""

from shiftguard.drift.detector import DriftDetector, compare
from shiftguard.drift.results import (
    ColumnDrift,
    ColumnProfile,
    ColumnSummary,
    DriftReport,
    ExcludedColumn,
    MultivariateDrift,
)

__all__ = [
    "ColumnDrift",
    "ColumnProfile",
    "ColumnSummary",
    "ExcludedColumn",
    "DriftDetector",
    "DriftReport",
    "MultivariateDrift",
    "compare",
]
