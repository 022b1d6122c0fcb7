"""Reports a person reads: one self-contained HTML file per drift comparison."""

from shiftguard.report.html import render_html, write_html

__all__ = ["render_html", "write_html"]
