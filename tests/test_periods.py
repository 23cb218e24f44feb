"""Property tests for :mod:`reexport.periods` (the one month parser every source uses)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reexport.errors import BadInputError
from reexport.periods import Month, chunks, month_range, parse_month

months = st.builds(Month, st.integers(1800, 2200), st.integers(1, 12))


@given(months)
def test_every_written_form_parses_back_to_the_same_month(m: Month) -> None:
    forms = [
        str(m),
        f"{m.year}-{m.month}",
        m.compact,
        f"{m.year}m{m.month}",
        f"{m.year}M{m.month}",
        f"{m.year}/{m.month:02d}",
        f"{m}-01",
        f"{m}-01 00:00:00",
        f"{m}-01T00:00",
        f"{m.compact}01",
        f"  {m}  ",
        dt.date(m.year, m.month, 1),
        dt.datetime(m.year, m.month, 1),
        m,
    ]
    for form in forms:
        assert parse_month(form) == m, form


@settings(deadline=None)  # the first example pays for importing pandas
@given(months)
def test_pandas_period_and_timestamp_parse(m: Month) -> None:
    pd = pytest.importorskip("pandas")
    assert parse_month(pd.Period(str(m), freq="M")) == m
    assert parse_month(pd.Timestamp(m.year, m.month, 1)) == m


@given(months, st.integers(-5000, 5000))
def test_ordinal_round_trip_and_shift(m: Month, n: int) -> None:
    assert Month.from_ordinal(m.ordinal) == m
    shifted = m.shift(n)
    assert shifted.ordinal - m.ordinal == n
    assert shifted.shift(-n) == m
    assert 1 <= shifted.month <= 12


@given(months, months)
def test_ordering_matches_ordinals_and_strings(a: Month, b: Month) -> None:
    assert (a < b) == (a.ordinal < b.ordinal)
    # ``YYYY-MM`` strings sort like months: CSV files keyed by them stay in time order.
    assert (a < b) == (str(a) < str(b))


@given(months, st.integers(0, 400))
def test_month_range_covers_exactly(start: Month, length: int) -> None:
    end = start.shift(length)
    got = list(month_range(start, end))
    assert len(got) == length + 1
    assert got[0] == start and got[-1] == end
    assert all(b.ordinal - a.ordinal == 1 for a, b in zip(got, got[1:], strict=False))


@given(months, st.integers(1, 400))
def test_month_range_backwards_is_bad_input(end: Month, gap: int) -> None:
    with pytest.raises(BadInputError, match="ends before it starts"):
        list(month_range(end.shift(gap), end))


@given(months, st.integers(0, 300), st.integers(1, 40))
def test_chunks_partition_the_range(start: Month, length: int, size: int) -> None:
    end = start.shift(length)
    parts = chunks(start, end, size)
    assert all(1 <= len(p) <= size for p in parts)
    assert all(len(p) == size for p in parts[:-1])
    flat = [m for p in parts for m in p]
    assert flat == list(month_range(start, end))


def test_chunks_rejects_non_positive_size() -> None:
    with pytest.raises(ValueError):
        chunks(Month(2017, 1), Month(2017, 12), 0)


@given(st.integers(1800, 2200), st.integers(13, 99))
def test_month_out_of_range_is_bad_input(year: int, month: int) -> None:
    with pytest.raises(BadInputError, match="outside 1..12"):
        parse_month(f"{year}-{month:02d}")


@given(st.integers(1800, 2200))
def test_month_zero_is_bad_input(year: int) -> None:
    with pytest.raises(BadInputError):
        parse_month(f"{year}-00")


@given(st.integers(1000, 1799) | st.integers(2201, 9999), st.integers(1, 12))
def test_implausible_year_is_bad_input(year: int, month: int) -> None:
    with pytest.raises(BadInputError, match="implausible year"):
        parse_month(f"{year}-{month:02d}")


@given(st.text(max_size=12).filter(lambda s: not any(c.isdigit() for c in s)))
def test_text_without_digits_is_bad_input_naming_what(text: str) -> None:
    with pytest.raises(BadInputError, match="--start"):
        parse_month(text, what="--start")


@given(months, st.integers(2, 28))
def test_a_day_that_is_not_the_first_is_bad_input(m: Month, day: int) -> None:
    with pytest.raises(BadInputError, match="is a day"):
        parse_month(dt.date(m.year, m.month, day))
    with pytest.raises(BadInputError):
        parse_month(f"{m}-{day:02d}")
