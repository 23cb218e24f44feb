"""Monthly periods: one parser for every way a month is written in our sources.

Everything downstream keys monthly data by ``pandas.Period(freq="M")`` (or its
``"YYYY-MM"`` string in CSV files); row order never stands in for time.
This module imports only the standard library so the CLI can validate
``--start``/``--end`` without importing pandas.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from typing import NamedTuple

from reexport.errors import BadInputError

_PATTERNS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})$"),  # 2017-01, 2017-1
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})$"),  # 201701 (Comtrade "period")
    re.compile(r"^(?P<y>\d{4})[mM](?P<m>\d{1,2})$"),  # 2017m1 (Stata)
    re.compile(r"^(?P<y>\d{4})/(?P<m>\d{1,2})$"),  # 2017/01
    re.compile(
        r"^(?P<y>\d{4})-(?P<m>\d{2})-01(?:[ T]00:00(?::00)?)?$"
    ),  # 2017-01-01 (first of month)
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})01$"),  # 20170101 (Comtrade refPeriodId)
)


class Month(NamedTuple):
    """A calendar month; orders and subtracts like an integer count of months."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def ordinal(self) -> int:
        """Months since year 0, so differences are month counts."""
        return self.year * 12 + (self.month - 1)

    @classmethod
    def from_ordinal(cls, n: int) -> Month:
        return cls(n // 12, n % 12 + 1)

    def shift(self, n: int) -> Month:
        return Month.from_ordinal(self.ordinal + n)

    @property
    def compact(self) -> str:
        """``YYYYMM`` as the Comtrade API writes it."""
        return f"{self.year:04d}{self.month:02d}"


def parse_month(value: object, *, what: str = "period") -> Month:
    """Parse one monthly period.

    Accepts ``YYYY-MM``, ``YYYYMM``, ``YYYYmM``, ``YYYY/MM``, ``YYYY-MM-01``,
    ``YYYYMM01``, :class:`datetime.date`/``datetime`` on the first of a month
    and pandas ``Period``/``Timestamp`` objects (anything with ``year`` and
    ``month`` attributes and, for dates, ``day == 1``).

    Raises
    ------
    BadInputError
        With a one-line message naming ``what`` and the offending value.
    """
    if isinstance(value, Month):
        return value
    if hasattr(value, "year") and hasattr(value, "month") and not isinstance(value, str):
        day = getattr(value, "day", 1)
        if getattr(value, "freqstr", None) is None and day != 1:
            raise BadInputError(f"{what} {value!r} is a day, not the first of a month")
        return _checked(int(value.year), int(value.month), what, value)
    text = str(value).strip()
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return _checked(int(match["y"]), int(match["m"]), what, value)
    raise BadInputError(f"{what} {value!r} is not a month (expected YYYY-MM)")


def _checked(year: int, month: int, what: str, raw: object) -> Month:
    if not 1 <= month <= 12:
        raise BadInputError(f"{what} {raw!r} has month {month}, outside 1..12")
    if not 1800 <= year <= 2200:
        raise BadInputError(f"{what} {raw!r} has implausible year {year}")
    return Month(year, month)


def month_range(start: Month, end: Month) -> Iterator[Month]:
    """Every month from ``start`` to ``end`` inclusive."""
    if end < start:
        raise BadInputError(f"period range {start}..{end} ends before it starts")
    for n in range(start.ordinal, end.ordinal + 1):
        yield Month.from_ordinal(n)


def chunks(start: Month, end: Month, size: int) -> list[list[Month]]:
    """Split ``start..end`` into consecutive runs of at most ``size`` months."""
    if size < 1:
        raise ValueError("size must be positive")
    months = list(month_range(start, end))
    return [months[i : i + size] for i in range(0, len(months), size)]


def today_month() -> Month:
    d = _dt.date.today()
    return Month(d.year, d.month)
