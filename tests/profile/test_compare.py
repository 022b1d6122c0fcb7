"""Drift reports from profiles: the in-memory test when exact, a valid bound otherwise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import shiftguard as sg
from shiftguard.profile import ProfileSettings, profile_table
from shiftguard.profile.compare import compare_profiles, ks_pvalue

FIELDS = ("kind", "test", "statistic", "pvalue", "pvalue_adjusted", "effect_size_name",
          "drifted", "n_reference", "n_current", "missing_reference", "missing_current",
          "missing_pvalue", "missing_pvalue_adjusted", "unseen_categories",
          "non_numeric_reference", "non_numeric_current", "non_numeric_pvalue",
          "non_numeric_pvalue_adjusted")


def _messy(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    """Ties, missing values, a token, rare and unseen categories, unequal sizes."""
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.2 + shift] = np.nan
    counts = rng.poisson(2.0 + shift, n).astype(object)
    counts[rng.random(n) < 0.02] = "unknown"
    rare = ["r1", "r2", "r3"] + (["new"] if shift else [])
    cats = np.where(rng.random(n) < 0.97, rng.choice(["a", "b", "c"], n),
                    rng.choice(rare, n))
    return pd.DataFrame({"x": x, "count": counts.astype(str), "cat": cats,
                         "flag": rng.random(n) < 0.3 + shift})


@pytest.mark.parametrize("sizes", [(200, 3000), (2500, 400)])
def test_exact_profiles_give_the_in_memory_report(rng, sizes):
    ref, cur = _messy(rng, sizes[0], 0.0), _messy(rng, sizes[1], 0.15)
    expected = sg.compare(ref, cur, multivariate="none")
    got = sg.compare(profile_table(ref), profile_table(cur))
    assert got.drifted == expected.drifted and got.drifted_columns
    for a, b in zip(got.columns, expected.columns, strict=True):
        assert a.name == b.name
        for field in FIELDS:
            assert getattr(a, field) == getattr(b, field), (a.name, field)
        # the same quantiles; only the order of summing their 1,000 differences may differ
        assert a.effect_size == pytest.approx(b.effect_size, rel=1e-12)
        assert a.notes[0].startswith("exact")
        assert a.profile.reference_quantiles == b.profile.reference_quantiles
        assert a.profile.categories == b.profile.categories


def test_bounded_ks_contains_the_statistic_and_is_conservative(rng):
    settings = ProfileSettings(exact_threshold=300, n_bins=40)
    for shift in (0.0, 0.05, 0.3):
        x, y = rng.normal(size=3000), rng.normal(shift, 1.0, 2000)
        ref = profile_table({"x": x}, settings=settings)
        report = compare_profiles(ref, profile_table({"x": y}, edges_from=ref))
        col = report.column("x")
        exact = sg.ks_test(x, y)
        assert not ref["x"].exact and col.notes[0].startswith(("bounded", "exact"))
        low, high = (float(v) for v in col.notes[0].split("[")[1].split("]")[0].split(", "))
        assert low - 1e-12 <= exact.statistic <= high + 1e-9
        assert col.statistic == pytest.approx(low, abs=1e-6)
        assert col.pvalue >= exact.pvalue - 1e-12
        assert col.pvalue == ks_pvalue(col.statistic, 3000, 2000)


def test_a_second_pass_over_the_data_makes_an_undecided_statistic_exact(rng):
    settings = ProfileSettings(exact_threshold=200, n_bins=16)
    refined = 0
    for _ in range(6):
        x, y = rng.normal(size=4000), rng.normal(0.04, 1.0, 3000)
        report = compare_profiles({"x": x}, {"x": y}, settings=settings)
        col = report.column("x")
        exact = sg.ks_test(x, y)
        assert col.drifted == (exact.pvalue <= 0.05)
        if col.notes[0].startswith("refined"):
            refined += 1
            assert col.statistic == pytest.approx(exact.statistic, abs=1e-12)
            assert col.pvalue == pytest.approx(exact.pvalue, rel=1e-9)
    assert refined >= 1


def test_a_current_profile_without_the_references_bins_is_not_tested(rng):
    settings = ProfileSettings(exact_threshold=100)
    ref = profile_table({"x": rng.normal(size=500)}, settings=settings)
    cur = profile_table({"x": rng.normal(size=500)}, settings=settings)
    col = compare_profiles(ref, cur).column("x")
    assert col.test == "ks" and math.isnan(col.pvalue) and not col.drifted
    assert "edges_from" in col.notes[-1]
    # given as data instead, the current sample is binned against the reference's edges
    assert not math.isnan(compare_profiles(ref, {"x": rng.normal(size=500)}).column("x").pvalue)


def test_sketched_categories_give_a_conservative_chi_squared(rng):
    from datasketches import frequent_items_error_type

    from shiftguard.stats.categorical import chi2_test_counts

    labels = np.array([f"c{i}" for i in range(300)])
    p = 1.0 / np.arange(1, 301)
    p /= p.sum()
    settings = ProfileSettings(max_categories=10, frequent_lg_map=6)
    for tilt in (0.0, 1.0):
        q = p * np.exp(tilt * (np.arange(300) < 5))
        x, y = rng.choice(labels, 20000, p=p), rng.choice(labels, 15000, p=q / q.sum())
        ref = profile_table({"c": x}, settings=settings)
        cur = profile_table({"c": y}, edges_from=ref)
        col = compare_profiles(ref, cur).column("c")
        assert col.notes[0].startswith("bounded: frequent-items")
        tracked = {i[0] for prof in (ref, cur) for i in prof["c"].frequent.get_frequent_items(
            frequent_items_error_type.NO_FALSE_NEGATIVES)}
        cells = sorted(tracked)

        def cell_counts(v, tracked=tracked, cells=cells):
            keyed = np.array([lab if lab in tracked else "(other)" for lab in v])
            return np.array([np.sum(keyed == c) for c in [*cells, "(other)"]], dtype=float)

        exact = chi2_test_counts(cell_counts(x), cell_counts(y), method="asymptotic")
        assert col.statistic <= exact.statistic + 1e-9
        assert col.pvalue >= exact.pvalue - 1e-12
        assert col.drifted == (tilt > 0)


def test_text_identifier_and_empty_columns_are_reported(rng):
    n = 300
    texts = [f"review number {i} says something long about the product" for i in range(n)]
    data = {"id": [f"u{i:05d}" for i in range(n)], "text": texts,
            "x": rng.normal(size=n), "empty": np.full(n, np.nan)}
    report = sg.compare(profile_table(data), data)
    assert [e.name for e in report.excluded] == ["id"]
    assert "no texts" in report.column("text").notes[0]
    assert "no observed value" in report.column("empty").notes[0]


def test_options_that_need_rows_are_refused_and_schemas_checked(rng):
    data = {"x": rng.normal(size=100)}
    ref = profile_table(data)
    with pytest.raises(sg.ParameterError, match="min_effect"):
        sg.compare(ref, data, min_effect=0.1)
    with pytest.raises(sg.ParameterError, match="multivariate"):
        sg.compare(ref, data, multivariate="mmd")
    with pytest.raises(sg.ParameterError, match="unknown option"):
        compare_profiles(ref, data, colour="red")
    with pytest.raises(sg.SchemaError, match="lacks"):
        sg.compare(ref, profile_table({"y": data["x"]}))
    with pytest.raises(sg.SchemaError, match="not in the reference"):
        sg.compare(ref, {"x": data["x"], "y": data["x"]})
    with pytest.raises(sg.SchemaError, match="categorical in the current"):
        sg.compare(ref, profile_table({"x": ["a", "b"] * 50}))


def test_profile_files_on_either_side_and_the_html_report(rng, tmp_path):
    ref, cur = {"x": rng.normal(size=400)}, {"x": rng.normal(1.0, 1.0, 300)}
    sg.save_profile(profile_table(ref), tmp_path / "ref.sgprofile")
    report = sg.compare(str(tmp_path / "ref.sgprofile"), cur)
    assert report.drifted_columns == ("x",)
    assert "no joint" in report.notes[0]
    settings = ProfileSettings(exact_threshold=100)
    sketched = compare_profiles(ref, cur, settings=settings)
    html = sg.render_html(sketched)
    assert "<html" in html.lower() and "x" in html


def test_exact_columns_give_ks_tests_statistic_and_pvalue_bit_for_bit(rng):
    # the statistic comes from the bins of the reference's edges plus the values of the
    # bins that can hold a larger gap: ties, sizes from 1 to 3,000, both profiling routes
    for _ in range(40):
        n, m = rng.integers(1, 3000, size=2)
        digits = int(rng.integers(0, 3))
        x = np.round(rng.normal(size=n), digits)
        y = np.round(rng.normal(rng.choice([0.0, 0.1]), size=m), digits)
        ref = profile_table({"v": x})
        expected = sg.ks_test(x, y)
        for cur in (profile_table({"v": y}), profile_table({"v": y}, edges_from=ref)):
            col = compare_profiles(ref, cur).column("v")
            assert (col.statistic, col.pvalue) == (expected.statistic, expected.pvalue)


@pytest.mark.parametrize("correction", ["holm", "by"])
@pytest.mark.parametrize(("n", "m", "threshold", "shifts"), [
    (6000, 5000, 500, (0.0, 0.0, 0.02, 0.06, 0.3, 1.0)),
    (12_000, 11_000, 2000, (0.0, 0.0, 0.03, 0.1, 0.3)),  # above SciPy's exact sizes
])
def test_bounded_decisions_are_the_exact_tests_when_decided(rng, correction, n, m, threshold,
                                                            shifts):
    # very significant columns leave the p-value of their interval's upper end uncomputed
    # ("at most") and, above SciPy's exact sizes, report Massart's bound of their lower
    # end's p-value (never below it) instead of the Smirnov sum; the decisions must still
    # be the exact tests' wherever the report says the interval decides
    settings = ProfileSettings(exact_threshold=threshold)
    ref_data = {f"x{j}": rng.normal(size=n) for j in range(len(shifts))}
    cur_data = {f"x{j}": rng.normal(s, 1.0, m) for j, s in enumerate(shifts)}
    ref = profile_table(ref_data, settings=settings)
    report = compare_profiles(ref, profile_table(cur_data, edges_from=ref),
                              correction=correction)
    exact = sg.compare(pd.DataFrame(ref_data), pd.DataFrame(cur_data), multivariate="none",
                       correction=correction)
    notes = [c.notes[0] for c in report.columns]
    assert any("p-value at most" in note for note in notes)
    massart = [c for c in report.columns if "Massart" in c.notes[0]]
    assert {c.name for c in massart} == ({"x3", "x4"} if n > 10_000 else set())
    for col in massart:
        low = float(col.notes[0].split("[")[1].split(",")[0])
        assert col.pvalue >= ks_pvalue(low, n, m) and col.pvalue >= exact.column(col.name).pvalue
    for got, want, note in zip(report.columns, exact.columns, notes, strict=True):
        assert note.startswith("bounded")
        if "undecided" not in note:
            assert got.drifted == want.drifted, (got.name, note)
