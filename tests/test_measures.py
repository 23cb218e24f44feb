"""Supplier shares, HHI and supplier counts: exact numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reexport import measures
from reexport.errors import BadInputError


def _rows(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["period", "hs", "partner", "value_usd"])
    frame["reporter"] = "JPN"
    frame["flow"] = "M"
    return frame


@pytest.fixture
def trade() -> pd.DataFrame:
    # 2010-01, hs 2846: World 100 = CHN 60 + IND 25 + VNM 10, and 5 left unallocated ("_X").
    # 2010-02, hs 2846: no World row; CHN 30 + IND 10 (VNM absent: a zero flow).
    # 2010-03, hs 2846: nothing reported (a missing month).
    # 2010-04, hs 2846: World 50 = CHN 50.
    # 2010-01, hs 850511: World 20 = CHN 20; 2010-04 hs 850511: World 0 (reported, all zero).
    return _rows(
        ("2010-01", "2846", "WLD", 100.0),
        ("2010-01", "2846", "CHN", 60.0),
        ("2010-01", "2846", "IND", 25.0),
        ("2010-01", "2846", "VNM", 10.0),
        ("2010-01", "2846", "_X", 5.0),
        ("2010-02", "2846", "CHN", 30.0),
        ("2010-02", "2846", "IND", 10.0),
        ("2010-04", "2846", "WLD", 50.0),
        ("2010-04", "2846", "CHN", 50.0),
        ("2010-01", "850511", "WLD", 20.0),
        ("2010-01", "850511", "CHN", 20.0),
        ("2010-04", "850511", "WLD", 0.0),
    )


def _cell(out: pd.DataFrame, period: str, hs: str) -> pd.Series:
    row = out[(out["period"] == period) & (out["hs"] == hs)]
    assert len(row) == 1
    return row.iloc[0]


def test_shares_hhi_and_counts_by_hand(trade: pd.DataFrame) -> None:
    out = measures.supplier_shares(
        trade, partners=("CHN", "IND", "VNM"), groups={"IND_SEA": ("IND", "VNM", "THA")}
    )
    jan = _cell(out, "2010-01", "2846")
    # World row is the denominator: 60/100, 25/100, 10/100; the 5 of "_X" is no supplier.
    assert jan["total"] == 100.0 and jan["partners_total"] == 95.0 and jan["has_world"]
    assert (jan["share_CHN"], jan["share_IND"], jan["share_VNM"]) == (0.6, 0.25, 0.1)
    # IND 25 + VNM 10 + THA 0 (absent from the frame: a zero flow where reported).
    assert jan["value_IND_SEA"] == 35.0 and jan["share_IND_SEA"] == pytest.approx(0.35)
    # HHI = 60^2 + 25^2 + 10^2 = 3600 + 625 + 100 = 4325.
    assert jan["hhi"] == pytest.approx(4325.0) and jan["n_suppliers"] == 3.0

    feb = _cell(out, "2010-02", "2846")
    # No World row: the denominator is the partner sum 40; VNM absent = 0, not NaN.
    assert feb["total"] == 40.0 and not feb["has_world"]
    assert (feb["share_CHN"], feb["share_IND"], feb["share_VNM"]) == (0.75, 0.25, 0.0)
    # HHI = 75^2 + 25^2 = 5625 + 625 = 6250.
    assert feb["hhi"] == pytest.approx(6250.0) and feb["n_suppliers"] == 2.0

    mar = _cell(out, "2010-03", "2846")  # nothing reported: NaN everywhere, never 0
    for column in ("total", "share_CHN", "share_VNM", "value_IND_SEA", "hhi", "n_suppliers"):
        assert np.isnan(mar[column]), column

    apr = _cell(out, "2010-04", "2846")
    assert apr["share_CHN"] == 1.0 and apr["hhi"] == pytest.approx(10_000.0)
    assert apr["n_suppliers"] == 1.0

    magnets = _cell(out, "2010-01", "850511")
    assert magnets["share_CHN"] == 1.0 and magnets["share_IND"] == 0.0
    # 2010-02 and -03 of 850511 are missing months; 2010-04 is a reported zero World.
    assert np.isnan(_cell(out, "2010-02", "850511")["total"])
    zero = _cell(out, "2010-04", "850511")
    assert zero["total"] == 0.0 and zero["n_suppliers"] == 0.0
    assert np.isnan(zero["share_CHN"]) and np.isnan(zero["hhi"])


def test_every_month_between_the_ends_is_a_row(trade: pd.DataFrame) -> None:
    out = measures.supplier_shares(trade)
    assert out[["period", "hs"]].values.tolist() == [
        [p, hs] for p in ("2010-01", "2010-02", "2010-03", "2010-04") for hs in ("2846", "850511")
    ]
    assert list(out.columns) == ["period", "hs", "total", "partners_total", "has_world", "hhi",
                                 "n_suppliers"]  # fmt: skip


def test_a_partner_row_with_a_missing_value_is_not_a_zero() -> None:
    trade = _rows(("2011-01", "2846", "CHN", 30.0), ("2011-01", "2846", "IND", float("nan")))
    row = measures.supplier_shares(trade, partners=("CHN", "IND")).iloc[0]
    assert np.isnan(row["share_IND"]) and np.isnan(row["hhi"]) and np.isnan(row["n_suppliers"])
    # Without a World row the total is unknown too: NaN, not the sum of the known values.
    assert np.isnan(row["total"]) and np.isnan(row["share_CHN"])
    world = pd.concat([trade, _rows(("2011-01", "2846", "WLD", 40.0))])
    row = measures.supplier_shares(world, partners=("CHN", "IND")).iloc[0]
    assert row["total"] == 40.0 and row["share_CHN"] == 0.75 and np.isnan(row["share_IND"])
    assert np.isnan(row["partners_total"]) and np.isnan(row["hhi"])


def test_an_area_table_rule_can_be_passed() -> None:
    trade = _rows(
        ("2012", "2846", "CHN", 3.0), ("2012", "2846", "EUR", 1.0), ("2013", "2846", "CHN", 1.0)
    )
    # By default EUR is a three-letter code, so a supplier; a caller's rule says it is an area.
    default = measures.supplier_shares(trade, partners=("CHN",))
    assert default["share_CHN"].tolist() == [0.75, 1.0]
    ruled = measures.supplier_shares(trade, partners=("CHN",), is_group=lambda c: c == "EUR")
    assert ruled["share_CHN"].tolist() == [1.0, 1.0] and ruled["period"].tolist() == [
        "2012",
        "2013",
    ]


def test_by_period_only_aggregates_products() -> None:
    trade = _rows(("2010-01", "2846", "CHN", 3.0), ("2010-01", "280530", "CHN", 1.0))
    with pytest.raises(BadInputError, match="more than one row for period=2010-01, partner=CHN"):
        measures.supplier_shares(trade, by=("period",))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="partner"), "no column"),
        (lambda f: f.assign(reporter=["JPN", "CHN"] * 6), "mixes 2 values of 'reporter'"),
        (lambda f: f.assign(value_usd=-f["value_usd"]), "negative value_usd"),
        (lambda f: pd.concat([f, f.iloc[:1]]), "more than one row"),
        (lambda f: f.assign(period="Jan 2010"), "not YYYY-MM"),
    ],
)
def test_bad_input_is_one_clear_error(trade: pd.DataFrame, change, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BadInputError, match=message):
        measures.supplier_shares(change(trade))


def test_bad_groups_are_refused(trade: pd.DataFrame) -> None:
    with pytest.raises(BadInputError, match="empty or repeats"):
        measures.supplier_shares(trade, groups={"SEA": ("VNM", "VNM")})
    with pytest.raises(BadInputError, match="partner's name"):
        measures.supplier_shares(trade, partners=("CHN",), groups={"CHN": ("IND",)})
