"""Two-sample tests, one module per family (``ks``, ``cvm``, ``anderson``, ``ranks``,
``epps_singleton``, ``categorical``, ``distances``, ``multivariate``), and
multiple-testing control (``multiple``)."""

from shiftguard.stats.anderson import AndersonResult, anderson_test
from shiftguard.stats.categorical import (
    CategoricalTestResult,
    chi2_test,
    chi2_test_counts,
    fisher_test,
    fisher_test_counts,
    g_test,
    g_test_counts,
)
from shiftguard.stats.cvm import cvm_test, cvm_test_many
from shiftguard.stats.distances import (
    hellinger_test,
    hellinger_test_counts,
    js_test,
    js_test_counts,
    psi_test,
    psi_test_counts,
    wasserstein_test,
)
from shiftguard.stats.epps_singleton import epps_singleton_test
from shiftguard.stats.ks import SortedColumns, ks_test, ks_test_many, presort
from shiftguard.stats.multiple import adjust_pvalues, reject
from shiftguard.stats.multivariate import (
    ClassifierTestResult,
    KernelTestResult,
    classifier_test,
    energy_test,
    linear_mmd_test,
    mmd_test,
)
from shiftguard.stats.ranks import mannwhitney_test, mannwhitney_test_many
from shiftguard.stats.relevance import (
    RelevanceResult,
    ks_relevance_test,
    tv_relevance_test_counts,
)

__all__ = [
    "RelevanceResult",
    "ks_relevance_test",
    "tv_relevance_test_counts",
    "ClassifierTestResult",
    "KernelTestResult",
    "classifier_test",
    "energy_test",
    "linear_mmd_test",
    "mmd_test",
    "AndersonResult",
    "CategoricalTestResult",
    "SortedColumns",
    "adjust_pvalues",
    "anderson_test",
    "chi2_test",
    "chi2_test_counts",
    "cvm_test",
    "cvm_test_many",
    "epps_singleton_test",
    "fisher_test",
    "fisher_test_counts",
    "g_test",
    "g_test_counts",
    "hellinger_test",
    "hellinger_test_counts",
    "js_test",
    "js_test_counts",
    "ks_test",
    "ks_test_many",
    "mannwhitney_test",
    "mannwhitney_test_many",
    "presort",
    "psi_test",
    "psi_test_counts",
    "reject",
    "wasserstein_test",
]
