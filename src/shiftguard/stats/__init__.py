"""Two-sample tests, one module per family (``ks``, ``cvm``, ``anderson``, ``ranks``,
``epps_singleton``, ``categorical``, ``distances``, ``multivariate``), and
multiple-testing control (``multiple``).

Each name is imported from its module on first use, so that importing one family (say
``shiftguard.stats.ks`` from the drift detector) does not load the others: the kernel
tests in ``multivariate`` pull in numba, which a small comparison may never need.
"""

from __future__ import annotations

from shiftguard._lazy import lazy_exports

_EXPORTS: dict[str, tuple[str, ...]] = {
    "anderson": ("AndersonResult", "anderson_test"),
    "categorical": ("CategoricalTestResult", "chi2_test", "chi2_test_counts", "fisher_test",
                    "fisher_test_counts", "g_test", "g_test_counts"),
    "cvm": ("cvm_test", "cvm_test_many"),
    "distances": ("hellinger_test", "hellinger_test_counts", "js_test", "js_test_counts",
                  "psi_test", "psi_test_counts", "wasserstein_test"),
    "epps_singleton": ("epps_singleton_test",),
    "ks": ("SortedColumns", "ks_test", "ks_test_many", "presort"),
    "multiple": ("adjust_pvalues", "reject"),
    "multivariate": ("ClassifierTestResult", "KernelTestResult", "classifier_test",
                     "energy_test", "linear_mmd_test", "mmd_test"),
    "ranks": ("mannwhitney_test", "mannwhitney_test_many"),
    "relevance": ("RelevanceResult", "ks_relevance_test", "tv_relevance_test_counts"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"shiftguard.stats.{module}" for name, module in _WHERE.items()})


__all__ = [*sorted(_WHERE)]
