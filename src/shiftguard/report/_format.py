"""Text and table-cell formatting shared by the report's page, panels and charts.

Every string that comes from the data goes through :func:`esc`. Datetime columns hold
seconds since the epoch (UTC); :func:`fmt_date` and :func:`fmt_duration` show them as
dates and spans of time.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0
_YEAR = 365.2425 * _DAY
# Spans of time and the unit they are shown in: below 2 minutes in seconds, and so on.
_DURATION_UNITS = ((2 * _MINUTE, 1.0, "s"), (2 * _HOUR, _MINUTE, "min"),
                   (2 * _DAY, _HOUR, "h"), (2 * _YEAR, _DAY, "days"))


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def truncate(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    return "\u2026" + text[-(limit - 1):] if keep_end else text[: limit - 1] + "\u2026"


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, spec: str) -> str:
    return format(value, spec) if finite(value) else "&ndash;"


def fmt_p(p: float | None) -> str:
    if not finite(p):
        return "&ndash;"
    if p == 0:
        return "&lt; 1e-300"
    return f"{p:.2g}" if p < 1e-4 else f"{p:.3g}"


def fmt_share(share: float | None) -> str:
    """A share of rows as a percentage: 0%, 0.04%, 1.9%, 35%."""
    if not finite(share):
        return "&ndash;"
    if share == 0:
        return "0%"
    return f"{100 * share:.2g}%" if share < 0.1 else f"{100 * share:.0f}%"


def fmt_date(seconds: float | None) -> str:
    """A time stamp (seconds since the epoch, UTC) as ``2013-07-01`` or ``2013-07-01 14:05``."""
    if not finite(seconds):
        return "&ndash;"
    stamp = np.datetime_as_string(np.datetime64(round(seconds), "s"), unit="m")
    date, time = stamp.split("T")
    return date if time == "00:00" else f"{date} {time}"


def fmt_duration(seconds: float | None) -> str:
    """A span of time in a unit that keeps the number short: 45 s, 12 min, 3.5 days."""
    if not finite(seconds):
        return "&ndash;"
    scale, unit = next(((s, u) for limit, s, u in _DURATION_UNITS if abs(seconds) < limit),
                       (_YEAR, "years"))
    return f"{seconds / scale:.3g} {unit}"


def fmt_value(value: float | None, *, dates: bool, spread: bool = False) -> str:
    """A summary value: a date (or, for a spread, a duration) on datetime columns."""
    if dates:
        return fmt_duration(value) if spread else fmt_date(value)
    return fmt(value, ".4g")


def num_cell(value: Any, spec: str, note: str = "") -> str:
    """A number sorted by its exact value, with ``note`` (its unit, say) in small type below."""
    below = f"<br><small>{esc(note)}</small>" if note else ""
    if not finite(value):
        return f'<td class="n" data-v="">&ndash;{below}</td>'
    return f'<td class="n" data-v="{value!r}">{format(value, spec)}{below}</td>'


def p_cell(p: float | None) -> str:
    if not finite(p):
        return '<td class="n" data-v="">&ndash;</td>'
    return f'<td class="n" data-v="{p!r}">{fmt_p(p)}</td>'


def share_cell(share: float | None, title: str = "") -> str:
    """A percentage cell sorted by the exact share; ``title`` (a count, say) on hover."""
    if not finite(share):
        return '<td class="n" data-v="">&ndash;</td>'
    tip = f' title="{esc(title)}"' if title else ""
    return f'<td class="n" data-v="{share!r}"{tip}>{fmt_share(share)}</td>'


def value_cell(value: float | None, *, dates: bool, spread: bool = False) -> str:
    """A summary value sorted by the number, shown as :func:`fmt_value` shows it."""
    if not finite(value):
        return '<td class="n" data-v="">&ndash;</td>'
    return f'<td class="n" data-v="{value!r}">{fmt_value(value, dates=dates, spread=spread)}</td>'


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 column``, ``3 columns`` (``words`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"
