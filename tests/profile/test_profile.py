"""Profiles: what they hold, and merges that are associative and commutative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shiftguard as sg
from shiftguard.profile import Profile, ProfileSettings, merge_all, merge_profiles, profile_table
from shiftguard.profile.profile import NumericProfile, quantile_edges


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({
        "x": x,
        "k": rng.integers(0, 6, n).astype(float),
        "c": rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05]),
        "s": pd.Series(rng.choice(["u", "v", None], n), dtype=object),
    })


def _exact_state(profile: Profile) -> list:
    """Everything of a profile that merges exactly (sketches compared by count)."""
    out = []
    for col in profile.columns:
        state = [col.name, col.kind, col.n_rows, col.n_missing]
        if isinstance(col, NumericProfile):
            state += [col.count, col.minimum, col.maximum, round(col.mean, 9),
                      round(col.m2, 6), col.n_non_numeric]
            state.append(col.values.tolist() if col.exact else int(col.sketch.n))
            if col.bins is not None:
                state += [col.edges.tolist(), col.bins.counts.tolist(),
                          np.nan_to_num(col.bins.low, nan=-9).tolist(),
                          np.nan_to_num(col.bins.high, nan=-9).tolist()]
        else:
            state += [col.count, sorted(col.counts.items()) if col.exact
                      else int(col.frequent.total_weight)]
        out.append(state)
    return out


def test_profile_holds_the_columns_summaries(rng):
    data = _frame(rng, 500)
    profile = profile_table(data)
    x = profile["x"]
    observed = data["x"].dropna().to_numpy()
    assert (x.count, x.n_missing, x.n_rows) == (observed.size, 500 - observed.size, 500)
    assert np.array_equal(x.values, np.sort(observed))
    assert x.mean == pytest.approx(observed.mean())
    assert x.std == pytest.approx(observed.std())
    assert (x.minimum, x.maximum) == (observed.min(), observed.max())
    counts = data["c"].value_counts().to_dict()
    assert profile["c"].counts == counts
    assert list(profile["c"].counts) == list(dict.fromkeys(data["c"]))  # first appearance
    assert profile["s"].n_missing == int(data["s"].isna().sum())
    assert profile.exact and profile.names == ("x", "k", "c", "s")


def test_profile_reads_values_as_read_table_does():
    # the usual missing tokens are missing, "unknown" a non-numeric token
    data = {"v": [f"{i}.5" for i in range(60)] + ["NA"] * 5 + ["unknown"] * 3}
    col = profile_table(data)["v"]
    assert (col.kind, col.count, col.n_missing, col.n_non_numeric) == ("numeric", 60, 5, 3)
    with pytest.raises(sg.InputError, match="infinite"):
        profile_table({"v": [1.0, np.inf, 2.0]})


@pytest.mark.parametrize("threshold", [10_000, 150])
def test_merge_is_associative_and_commutative_over_random_splits(rng, threshold):
    settings = ProfileSettings(exact_threshold=threshold, max_categories=3)
    data = _frame(rng, 900)
    reference = profile_table(data.iloc[:300], settings=settings)
    for _ in range(5):
        cuts = np.sort(rng.choice(np.arange(1, 900), size=2, replace=False))
        bounds = [0, *cuts.tolist(), 900]
        parts = [profile_table(data.iloc[lo:hi], settings=settings, edges_from=reference)
                 for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        a, b, c = parts
        left = merge_profiles(merge_profiles(a, b), c)
        right = merge_profiles(a, merge_profiles(b, c))
        swapped = merge_profiles(c, merge_profiles(b, a))
        whole = profile_table(data, settings=settings, edges_from=reference)
        assert _exact_state(left) == _exact_state(right) == _exact_state(swapped)
        assert _exact_state(left) == _exact_state(whole)
        assert merge_all(parts).n_rows == 900


def test_merge_above_the_threshold_turns_exact_values_into_a_sketch(rng):
    settings = ProfileSettings(exact_threshold=100, kll_k=64)
    a = profile_table({"x": rng.normal(size=80)}, settings=settings)
    b = profile_table({"x": rng.normal(size=80)}, settings=settings)
    merged = merge_profiles(a, b)
    assert a["x"].exact and not merged["x"].exact
    assert merged["x"].sketch.n == 160
    assert all(t.n > 0 for t in merged["x"].tails) and a["x"].tails is None
    assert merged["x"].count == 160


def test_tail_sketches_keep_the_outer_bins_as_small_as_the_others(rng):
    # KLL's rank error is additive: at a small k its outermost quantile edges leave
    # several percent of the values in the outermost bins; the REQ tail sketches, merged
    # over the parts like everything else, bring every tail bin to about 1 / n_bins
    from shiftguard.io import read_table
    from shiftguard.profile._bins import bin_sorted
    from shiftguard.profile.profile import profile_batch

    settings = ProfileSettings(exact_threshold=1000, kll_k=32, n_bins=2000)
    x = rng.standard_t(3, 400_000)
    merged = merge_all([profile_batch(read_table({"x": part}), settings)  # as batches are
                        for part in np.split(x, 8)])["x"]
    assert min(t.n for t in merged.tails) > 0.2 * x.size
    shares = bin_sorted(np.sort(x), quantile_edges(merged, settings.n_bins)).counts / x.size
    # the outer 2% of bins on each side: KLL's edges alone put 3.5-38 / n_bins in one of
    # them (18 runs at k = 8, 16, 32), the tail sketches 1.2-1.6 / n_bins
    assert np.concatenate([shares[:40], shares[-40:]]).max() <= 2 / settings.n_bins


def test_tails_beyond_float32_fall_back_to_the_kll_edges(rng):
    # REQ sketches hold float32: values past its range, or a spread below its resolution
    # at a large offset, leave the edges to KLL; datetimes (seconds since 1970) keep them
    import dataclasses

    from shiftguard.io import read_table
    from shiftguard.profile._bins import bin_sorted
    from shiftguard.profile.profile import profile_batch

    settings = ProfileSettings(exact_threshold=1000, kll_k=64)
    n = 50_000
    for x, own in ((rng.standard_cauchy(n) * 1e100, False),
                   (1e6 + rng.normal(0.0, 1e-3, n), False),
                   (1.7e9 + rng.normal(0.0, 30 * 86_400.0, n), True)):
        col = profile_batch(read_table({"x": x}), settings)["x"]
        edges = quantile_edges(col, 1000)
        kll = quantile_edges(dataclasses.replace(col, tails=None), 1000)
        assert np.array_equal(edges, kll) != own
        if own:
            outer = bin_sorted(np.sort(x), edges).counts[[0, -1]]
            assert outer.max() <= 2 * n / 1000


def test_categorical_above_the_cap_uses_frequent_items_and_hll(rng):
    labels = np.array([f"c{i}" for i in range(200)])
    data = {"c": rng.choice(labels, 5000)}
    col = profile_table(data, settings=ProfileSettings(max_categories=50))["c"]
    assert not col.exact and col.count == 5000
    assert col.hll.get_estimate() == pytest.approx(200, rel=0.05)
    assert col.frequent.total_weight == 5000


def test_a_sketched_reference_column_is_binned_against_its_own_edges(rng):
    settings = ProfileSettings(exact_threshold=500, n_bins=64)
    x = rng.normal(size=3000)
    col = profile_table({"x": x}, settings=settings)["x"]
    assert not col.exact and col.bins is not None
    assert col.bins.counts.sum() == 3000
    assert np.array_equal(col.bins.counts,
                          np.bincount(np.searchsorted(col.edges, x), minlength=col.edges.size + 1))
    assert quantile_edges(col, 64) is col.edges


def test_merge_refuses_different_settings_schemas_and_edges(rng):
    x = {"x": rng.normal(size=50)}
    with pytest.raises(sg.ParameterError, match="settings"):
        merge_profiles(profile_table(x), profile_table(x, settings=ProfileSettings(kll_k=64)))
    with pytest.raises(sg.SchemaError, match="schemas"):
        merge_profiles(profile_table(x), profile_table({"y": rng.normal(size=50)}))
    with pytest.raises(sg.SchemaError, match="schemas"):
        merge_profiles(profile_table(x), profile_table({"x": ["a", "b"] * 25}))
    settings = ProfileSettings(exact_threshold=20)
    a = profile_table({"x": rng.normal(size=100)}, settings=settings)
    b = profile_table({"x": rng.normal(size=100)}, settings=settings)
    with pytest.raises(sg.SchemaError, match="different edges"):
        merge_profiles(a, b)
    with pytest.raises(sg.ParameterError, match="Profile"):
        merge_profiles(a, {"x": [1.0]})
    with pytest.raises(sg.ParameterError, match="kll_k"):
        ProfileSettings(kll_k=100_000)


def test_profiles_pickle_through_the_file_format(rng):
    import pickle

    settings = ProfileSettings(exact_threshold=50, max_categories=2)
    profile = profile_table(_frame(rng, 300), settings=settings)
    again = pickle.loads(pickle.dumps(profile))
    assert _exact_state(again) == _exact_state(profile)


def test_docstring_examples_run():
    import doctest

    import shiftguard.profile

    result = doctest.testmod(shiftguard.profile)
    assert result.attempted >= 2 and result.failed == 0
