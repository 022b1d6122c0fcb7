"""The HTML outlier report: verdict, rule, score histogram, flagged rows, escaping."""

import re

import numpy as np
import pandas as pd
import pytest

from helpers import load_adbench
from shiftguard.errors import ParameterError
from shiftguard.ood.tables import outliers
from shiftguard.report import render_outlier_html, write_outlier_html

NASTY = "<b>x&y</b>"


@pytest.fixture(scope="module")
def glass_report():
    """Real ADBench glass: half the inliers as reference, the rest plus the anomalies."""
    X, y = load_adbench("14_glass")
    inliers = np.random.default_rng(1).permutation(np.flatnonzero(y == 0))
    half = inliers.size // 2
    cols = [f"c{i}" for i in range(X.shape[1] - 1)] + [NASTY]
    ref = pd.DataFrame(X[inliers[:half]], columns=cols)
    new = pd.DataFrame(np.vstack([X[inliers[half:]], X[y == 1]]), columns=cols)
    return outliers(ref, new, detector="mahalanobis", alpha=0.05), inliers.size - half


def test_page_holds_rule_histogram_and_every_flagged_row(glass_report):
    report, _ = glass_report
    page = render_outlier_html(report, reference_name="ref.parquet", new_name="new.csv")
    assert report.n_flagged > 0
    assert page.count('<tr class="drift">') == report.n_flagged
    rows = [int(v) for v in re.findall(r'<tr class="drift"><td class="n" data-v="(\d+)"', page)]
    assert rows == [r.row for r in report.flagged]
    assert "probability at most 0.05" in page
    assert page.count("<svg") == 1 and 'class="cut"' in page
    assert f"{report.n_flagged:,} of {report.n_new:,} new rows flagged" in page
    assert "ref.parquet</text>" in page and "new.csv</text>" in page


def test_histogram_shares_and_rows_beyond_the_axis(rng):
    ref = rng.normal(size=(400, 2))
    new = np.vstack([rng.normal(size=(9, 2)), [[1e6, -1e6]]])
    report = outliers(ref, new, detector="mahalanobis", alpha=0.05)
    page = render_outlier_html(report)
    paths = re.findall(r'<path class="(ref|curo)" d="(M[^"]*)"', page)
    assert [cls for cls, _ in paths] == ["ref", "curo"]
    # the extreme row does not stretch the axis: it is counted in the last bin
    assert "1 new row scores above the axis (up to 1.834e+12) and is counted" in page
    # bar tops of the new rows: 9 rows of 10 in the first bins, 1 in the last (10% each)
    tops = [float(v) for v in re.findall(r"V([\d.]+)H", paths[1][1])]
    assert len(tops) == 40 and tops[-1] < 230 - 34


def test_data_strings_are_escaped_and_nothing_is_loaded(glass_report):
    report, _ = glass_report
    page = render_outlier_html(report, title=NASTY, new_name=NASTY)
    assert NASTY not in page and "&lt;b&gt;x&amp;y&lt;/b&gt;" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_no_outliers_page_and_write(tmp_path, rng):
    ref = rng.normal(size=(300, 2))
    report = outliers(ref, rng.normal(size=(10, 2)))
    assert report.n_flagged == 0
    path = write_outlier_html(report, tmp_path / "r.html")
    page = path.read_text(encoding="utf-8")
    assert "No row was flagged" in page and "Benjamini-Hochberg cut" in page
    with pytest.raises(ParameterError, match="directory"):
        write_outlier_html(report, tmp_path)
    with pytest.raises(ParameterError, match="OutlierReport"):
        render_outlier_html(object())
