"""Dask DataFrames on a 2-worker LocalCluster: the in-memory verdicts, and typed errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shiftguard as sg

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
sgd = pytest.importorskip("shiftguard.dask")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _frame(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"x": x, "k": rng.poisson(3.0 + shift, n).astype(float),
                         "c": rng.choice(["a", "b", "c", "d"], n)})


def test_dask_compare_gives_the_in_memory_verdicts(client, rng):
    ref, cur = _frame(rng, 3000, 0.0), _frame(rng, 2000, 0.15)
    got = sgd.compare(dd.from_pandas(ref, npartitions=5), dd.from_pandas(cur, npartitions=3))
    expected = sg.compare(ref, cur, multivariate="none")
    assert got.drifted_columns == expected.drifted_columns and got.drifted_columns
    for a, b in zip(got.columns, expected.columns, strict=True):
        assert (a.statistic, a.pvalue, a.pvalue_adjusted) == (b.statistic, b.pvalue,
                                                               b.pvalue_adjusted)


def test_dask_profile_equals_the_merged_partitions_and_refines_above_the_threshold(client,
                                                                                   rng):
    from shiftguard.profile import ProfileSettings, profile_table
    from shiftguard.profile.compare import compare_profiles

    ref, cur = _frame(rng, 4000, 0.0), _frame(rng, 3000, 0.06)
    profile = sgd.profile(dd.from_pandas(ref, npartitions=4))
    assert np.array_equal(profile["x"].values, profile_table(ref)["x"].values)
    assert profile["c"].counts == profile_table(ref)["c"].counts
    settings = ProfileSettings(exact_threshold=500, n_bins=16)
    report = compare_profiles(dd.from_pandas(ref, npartitions=4),
                              dd.from_pandas(cur, npartitions=3), settings=settings)
    exact = sg.compare(ref, cur, multivariate="none")
    for a, b in zip(report.columns, exact.columns, strict=True):
        assert a.drifted == b.drifted
        if a.notes[0].startswith("refined"):
            assert a.pvalue == pytest.approx(b.pvalue, rel=1e-9)


def test_unknown_divisions_and_mixed_object_columns_are_refused(client, rng):
    import dask

    frame = dd.from_pandas(_frame(rng, 200, 0.0), npartitions=2)
    with pytest.raises(sg.InputError, match="unknown divisions"):
        sgd.profile(frame.clear_divisions())
    assert sgd.profile(frame.clear_divisions(), check_divisions=False).n_rows == 200
    mixed = pd.DataFrame({"m": pd.Series([1, "x", 2.5] * 20, dtype=object)})
    with dask.config.set({"dataframe.convert-string": False}):
        with pytest.raises(sg.InputError, match="mixed Python types"):
            sgd.profile(dd.from_pandas(mixed, npartitions=2))
    with pytest.raises(sg.InputError, match="dask.dataframe.DataFrame"):
        from shiftguard.profile.dask import DaskSource

        DaskSource(pd.DataFrame({"x": [1.0]}))


def test_compare_refuses_unknown_divisions_unless_told_the_partitions_are_disjoint(client,
                                                                                   rng):
    ref, cur = _frame(rng, 1500, 0.0), _frame(rng, 1000, 0.3)
    known = dd.from_pandas(ref, npartitions=3)
    unknown_ref = known.clear_divisions()
    unknown_cur = dd.from_pandas(cur, npartitions=2).clear_divisions()
    assert not unknown_ref.known_divisions and not unknown_cur.known_divisions
    with pytest.raises(sg.InputError, match="reference is a Dask DataFrame with unknown "
                                            "divisions"):
        sgd.compare(unknown_ref, cur)
    with pytest.raises(sg.InputError, match="current is a Dask DataFrame with unknown "
                                            "divisions"):
        sg.compare(known, unknown_cur)
    got = sgd.compare(unknown_ref, unknown_cur, check_divisions=False)
    expected = sg.compare(ref, cur, multivariate="none")
    assert got.drifted_columns == expected.drifted_columns and "x" in got.drifted_columns
    for a, b in zip(got.columns, expected.columns, strict=True):
        assert (a.statistic, a.pvalue) == (b.statistic, b.pvalue)


def test_docstring_example_runs(client):
    import doctest

    result = doctest.testmod(sgd)
    assert result.attempted >= 4 and result.failed == 0
