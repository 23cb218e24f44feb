"""FRED source: CSV parsing (both header styles, '.' = missing), fetching from a local server.

The CSV bodies below are written here from FRED's documented download format
(``observation_date,<ID>`` -- ``DATE,<ID>`` in older downloads -- one row per
month, ``.`` for a missing value).  They are NOT recorded FRED responses and
their numbers are made up.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from replay_server import cut_at_line, html_error_page, too_many_requests

from reexport.cli import main
from reexport.errors import BadInputError, SourceError
from reexport.http import HttpClient
from reexport.periods import Month
from reexport.sources import fred
from reexport.store import RawStore

PATH = "/graph/fredgraph.csv"

# Built from the documented format; values are invented.
EXCHUS_CSV = (
    "observation_date,EXCHUS\n"
    "2016-12-01,6.9\n"
    "2017-01-01,6.8876\n"
    "2017-02-01,.\n"
    "2017-03-01,6.8894\n"
    "2025-01-01,7.3\n"
)
INDPRO_OLD_CSV = "DATE,INDPRO\r\n2017-01-01,101.5\r\n2017-02-01,101.2\r\n2017-03-01,102.0\r\n"


@pytest.fixture
def fred_server(replay_server, monkeypatch):  # type: ignore[no-untyped-def]
    exchus = replay_server.route(PATH, EXCHUS_CSV, query={"id": "EXCHUS"}, content_type="text/csv")
    indpro = replay_server.route(
        PATH, INDPRO_OLD_CSV, query={"id": "INDPRO"}, content_type="text/csv"
    )
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url(PATH))
    return exchus, indpro


def test_read_both_header_styles_and_missing_values() -> None:
    pairs = fred.read_csv(EXCHUS_CSV.encode(), "EXCHUS")
    assert [p for p, _ in pairs] == ["2016-12", "2017-01", "2017-02", "2017-03", "2025-01"]
    assert pairs[1][1] == pytest.approx(6.8876) and math.isnan(pairs[2][1])
    old = fred.read_csv(INDPRO_OLD_CSV.encode(), "INDPRO")
    assert old == [("2017-01", 101.5), ("2017-02", 101.2), ("2017-03", 102.0)]


def test_tidy_restricts_to_the_request_and_labels_units() -> None:
    pairs = fred.read_csv(EXCHUS_CSV.encode(), "EXCHUS")
    frame = fred.tidy(pairs, "EXCHUS", vintage="v", start=Month(2017, 1), end=Month(2024, 12))
    assert list(frame.columns) == ["period", "series", "value", "unit", "source", "vintage"]
    assert frame["period"].tolist() == ["2017-01", "2017-02", "2017-03"]
    assert set(frame["unit"]) == {"CNY per USD"} and set(frame["source"]) == {"fred"}
    assert fred.tidy([("2017-01", 1.0)], "INDPRO")["unit"].iloc[0] == "index 2017=100"
    assert fred.tidy([("2017-01", 1.0)], "FOO")["unit"].iloc[0] == fred.UNKNOWN_UNIT


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<!DOCTYPE html><html>Error</html>", "HTML page"),
        ("", "empty body"),
        ("observation_date,INDPRO\n2017-01-01,1\n", "header"),
        ("observation_date,EXCHUS,EXTRA\n2017-01-01,1,2\n", "header"),
        ("observation_date,EXCHUS\n2017-01-15,1\n", "only monthly"),
        ("observation_date,EXCHUS\n2017-01-01,abc\n", "'abc' is not a number"),
        ("observation_date,EXCHUS\n2017-01-01,1\n2017-01-01,2\n", "2017-01 appears twice"),
        ("observation_date,EXCHUS\n2017-01-01\n", "1 fields"),
    ],
)
def test_bodies_that_are_not_a_monthly_fred_csv(body: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        fred.read_csv(body.encode(), "EXCHUS")


def test_series_list_validation() -> None:
    assert fred.parse_series_list("exchus, INDPRO,EXCHUS") == ["EXCHUS", "INDPRO"]
    with pytest.raises(BadInputError, match="'EX CH' is not a FRED series id"):
        fred.parse_series_list("EX CH")
    with pytest.raises(BadInputError, match="at least one"):
        fred.parse_series_list(" , ")
    with pytest.raises(BadInputError, match="after --end"):
        fred.make_request("EXCHUS", "2020-01", "2019-12")


@given(
    st.lists(
        st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32), st.none()),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(fred.DATE_COLUMNS),
)
def test_round_trip_of_written_csv(values: list[float | None], date_column: str) -> None:
    months = [Month(2000, 1).shift(i) for i in range(len(values))]
    lines = [f"{date_column},INDPRO"] + [
        f"{m}-01,{'.' if v is None else repr(v)}" for m, v in zip(months, values, strict=True)
    ]
    pairs = fred.read_csv("\n".join(lines).encode(), "INDPRO")
    assert [p for p, _ in pairs] == [str(m) for m in months]
    for (_, got), want in zip(pairs, values, strict=True):
        assert math.isnan(got) if want is None else got == want


def test_fetch_one_file_per_series_in_one_vintage(
    data_root: Path, fred_server, replay_server
) -> None:
    exchus, _ = fred_server
    exchus.queue(too_many_requests(retry_after=0), html_error_page())
    store = RawStore()
    with HttpClient() as client:
        vintage = fred.fetch("EXCHUS,INDPRO", store=store, client=client)
        # 429 then an HTML page for EXCHUS, then both CSVs; INDPRO's ends at 2017-03, before
        # the requested 2024-12, so FRED is asked (cosd) whether it lists anything later.
        assert client.calls == 5
    assert vintage.names == ["EXCHUS.csv", "INDPRO.csv"]
    assert vintage.read_bytes("EXCHUS.csv") == EXCHUS_CSV.encode()
    assert vintage.request == {"series": ["EXCHUS", "INDPRO"], "start": "2017-01", "end": "2024-12"}
    frame = fred.parse(vintage)
    assert frame.groupby("series")["period"].agg(list).to_dict() == {
        "EXCHUS": ["2017-01", "2017-02", "2017-03"],
        "INDPRO": ["2017-01", "2017-02", "2017-03"],
    }
    assert len(fred.parse(vintage, full_history=True)) == 8
    sent = [(r.query["id"], r.query.get("cosd")) for r in replay_server.requests_for(PATH)]
    assert sent == [("EXCHUS", None)] * 3 + [("INDPRO", None), ("INDPRO", "2017-04-01")]

    with HttpClient() as client:
        assert fred.fetch("INDPRO, exchus", store=store, client=client) != vintage  # other order
        calls_for_new_order = client.calls
    assert calls_for_new_order == 3
    with HttpClient() as client:
        assert fred.fetch("EXCHUS,INDPRO", store=store, client=client) == vintage
        assert client.calls == 0


def test_failure_of_the_second_series_stores_nothing(
    data_root: Path, replay_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    replay_server.route(PATH, EXCHUS_CSV, query={"id": "EXCHUS"}, content_type="text/csv")
    replay_server.route(
        PATH, "<html>gateway</html>", query={"id": "INDPRO"}, content_type="text/html"
    )
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url(PATH))
    assert main(["fetch", "fred"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "INDPRO" in err and "HTML page" in err
    assert not any((data_root / "raw").rglob("*.csv"))
    assert RawStore().vintages("fred") == []


def test_cli_summary_and_offline(data_root: Path, fred_server, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["fetch", "fred", "--offline"]) == 3
    assert "offline: no stored fred vintage for EXCHUS,INDPRO" in capsys.readouterr().err
    assert main(["fetch", "fred", "--series", "EXCHUS,INDPRO"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fred: vintage ") and "downloaded, 3 HTTP calls" in out
    # What was stored, counted against the request: months absent and '.' both missing.
    assert "EXCHUS 2/96 months, INDPRO 3/96 months with a value in 2017-01..2024-12" in out
    assert main(["fetch", "fred", "--offline"]) == 0
    assert "warm: already stored, 0 calls" in capsys.readouterr().out
    assert main(["fetch", "fred", "--series", "EX CH"]) == 2


def _monthly_csv(series: str, first: Month, last: Month) -> str:
    months = [first.shift(i) for i in range(last.ordinal - first.ordinal + 1)]
    return (
        "observation_date,"
        + series
        + "\n"
        + "".join(f"{m}-01,{i}.5\n" for i, m in enumerate(months))
    )


FULL_2017_2024 = _monthly_csv("EXCHUS", Month(2017, 1), Month(2024, 12))


def test_a_body_cut_at_a_line_boundary_is_fetched_again(
    data_root: Path, replay_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: 48 of 96 months, no Content-Length; stored as complete before."""
    route = replay_server.route(
        PATH, FULL_2017_2024, query={"id": "EXCHUS"}, content_type="text/csv"
    )
    route.queue(cut_at_line(FULL_2017_2024, 1 + 48))
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url(PATH))
    assert main(["fetch", "fred", "--series", "EXCHUS"]) == 0
    out = capsys.readouterr().out
    assert "EXCHUS 96/96 months" in out
    (vintage,) = RawStore().vintages("fred")
    assert vintage.read_bytes("EXCHUS.csv") == FULL_2017_2024.encode()
    # cut body, then FRED asked from 2021-01 (it lists more: the body was short), then the full one
    sent = [r.query.get("cosd") for r in replay_server.requests_for(PATH)]
    assert sent == [None, "2021-01-01", None]


def test_a_body_always_cut_exits_3_and_stores_nothing(
    data_root: Path, replay_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    # FRED itself (asked from 2021-01) lists the later months.  Registered first: among
    # routes with a query condition the first registered wins.
    replay_server.route(
        PATH,
        _monthly_csv("EXCHUS", Month(2021, 1), Month(2024, 12)),
        query={"id": "EXCHUS", "cosd": "2021-01-01"},
        content_type="text/csv",
    )
    replay_server.route(PATH, default=cut_at_line(FULL_2017_2024, 1 + 48), query={"id": "EXCHUS"})
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url(PATH))
    assert main(["fetch", "fred", "--series", "EXCHUS"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "ends at 2020-12, before the requested end 2024-12" in err and "body is short" in err
    assert "nothing stored" in err
    assert RawStore().vintages("fred") == [] and RawStore().verify() == []


def test_a_series_that_really_ends_early_is_accepted_when_fred_says_so(
    data_root: Path, replay_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    ended = _monthly_csv("EXCHUS", Month(2017, 1), Month(2020, 6))
    replay_server.route(
        PATH, "observation_date,EXCHUS\n", query={"id": "EXCHUS", "cosd": "2020-07-01"}
    )
    replay_server.route(PATH, ended, query={"id": "EXCHUS"}, content_type="text/csv")
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url(PATH))
    assert main(["fetch", "fred", "--series", "EXCHUS"]) == 0
    # The summary counts what was stored, not what was asked for.
    assert "EXCHUS 42/96 months" in capsys.readouterr().out
