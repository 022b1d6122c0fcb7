"""Reports a person reads: one self-contained HTML file per drift comparison, outlier
check or performance timeline."""

from shiftguard.report.html import render_html, write_html
from shiftguard.report.outliers import render_outlier_html, write_outlier_html
from shiftguard.report.performance import render_performance_html, write_performance_html

__all__ = ["render_html", "render_outlier_html", "render_performance_html", "write_html",
           "write_outlier_html", "write_performance_html"]
