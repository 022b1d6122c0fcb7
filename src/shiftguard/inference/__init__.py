"""Valid inference from imperfect labels and from reused holdouts.

- :func:`dsl` / :func:`dsl_formula` -- design-based supervised learning: regressions on
  surrogate (LLM) labels corrected with a random gold-standard subsample.
- :func:`ppi_mean_ci`, :func:`ppi_quantile_ci`, :func:`ppi_ols_ci`,
  :func:`ppi_logistic_ci` -- prediction-powered inference (PPI and power-tuned PPI++).
- :class:`Thresholdout`, :class:`Ladder` -- a holdout set that can be queried adaptively.

Importing this package loads NumPy only (no scipy, scikit-learn or pandas).
"""

from shiftguard.inference._sandwich import InferenceResult
from shiftguard.inference.dsl import cross_fit_predictions, dsl, dsl_formula, parse_formula
from shiftguard.inference.holdout import Ladder, Thresholdout
from shiftguard.inference.ppi import ppi_logistic_ci, ppi_mean_ci, ppi_ols_ci, ppi_quantile_ci

__all__ = [
    "InferenceResult",
    "Ladder",
    "Thresholdout",
    "cross_fit_predictions",
    "dsl",
    "dsl_formula",
    "parse_formula",
    "ppi_logistic_ci",
    "ppi_mean_ci",
    "ppi_ols_ci",
    "ppi_quantile_ci",
]
