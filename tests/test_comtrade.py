"""Comtrade source: the real recorded envelopes, monthly parsing, call planning, fetch faults, secrecy.

Two kinds of bodies are used:

* REAL recorded API bodies from ``../shared/data/comtrade`` (annual China
  totals, and a real empty answer) -- read in place, never copied;
* SYNTHETIC monthly bodies built from the documented schema in
  ``tests/fixtures/comtrade`` (see its README: invented numbers).
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_server import (
    Reply,
    html_error_page,
    json_reply,
    server_error,
    slow,
    too_many_requests,
    truncated,
    unavailable,
)

from reexport.cli import main
from reexport.errors import BadInputError, SourceError
from reexport.http import HttpClient
from reexport.periods import Month, month_range
from reexport.sources import comtrade
from reexport.store import RawStore

FIXTURES = Path(__file__).parent / "fixtures" / "comtrade"
KEYED = "/data/v1/get/C/M/HS"
PREVIEW = "/public/v1/preview/C/M/HS"
FAKE_KEY = "FAKEKEY-reexport-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
RECORDED = "comtradr_recorded_body_data_v1_get_C_A_HS_reporter156_2010_TOTAL.json"
RECORDED_PRETTY = "comtradr_fixture_data_v1_get_C_A_HS_reporter156_2010_TOTAL.json"
RECORDED_EMPTY = "comtradr_recorded_body_data_v1_get_S_A_EB_reporter156_2010_empty.json"


# --------------------------------------------------------------------------- body builders


def template() -> dict[str, Any]:
    record: dict[str, Any] = json.loads((FIXTURES / "monthly_record_template.json").read_text())
    return record


def monthly_record(
    month: Month, *, partner: tuple[int, str] = (0, "W00"), kg: float | None = None
) -> dict[str, Any]:
    """A copy of the synthetic template for another month/partner (invented values)."""
    record = copy.deepcopy(template())
    record.update(
        refPeriodId=int(f"{month.compact}01"),
        refYear=month.year,
        refMonth=month.month,
        period=month.compact,
        partnerCode=partner[0],
        partnerISO=partner[1],
        netWgt=1_000.0 * month.ordinal if kg is None else kg,
        primaryValue=50_000.0 * month.ordinal,
        fobvalue=50_000.0 * month.ordinal,
    )
    return record


def envelope(records: list[dict[str, Any]], **overrides: Any) -> bytes:
    body = {"elapsedTime": "0.1 secs", "count": len(records), "data": records, "error": ""}
    body.update(overrides)
    return json.dumps(body, separators=(",", ":")).encode()


def period_param(months: list[Month]) -> str:
    return ",".join(m.compact for m in months)


def serve_world(server: Any, path: str, start: Month, end: Month, size: int = 12) -> list[Any]:
    """Register one route per call of a World request (months in runs of ``size``)."""
    routes = []
    months = list(month_range(start, end))
    for i in range(0, len(months), size):
        run = months[i : i + size]
        body = envelope([monthly_record(m) for m in run])
        routes.append(
            server.route(
                path, body, query={"period": period_param(run)}, content_type="application/json"
            )
        )
    return routes


@pytest.fixture
def comtrade_url(replay_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("REEXPORT_COMTRADE_URL", replay_server.base_url)
    return replay_server


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


WORLD_2017_2024 = comtrade.make_request()


# --------------------------------------------------------------------------- real recorded bodies


def test_api_error_text_is_reported_on_one_line() -> None:
    body = {"elapsedTime": "0.1 secs", "count": 0, "data": [], "error": "quota\r\n  exceeded"}
    with pytest.raises(SourceError) as caught:
        comtrade.read_envelope(json.dumps(body).encode(), origin="comtrade call x.json")
    assert str(caught.value) == "comtrade call x.json: the API reports an error: quota exceeded"


@pytest.mark.shared
def test_real_recorded_envelope_and_record_schema(shared_data: Path) -> None:
    content = (shared_data / "comtrade" / RECORDED).read_bytes()
    body = comtrade.read_envelope(content)
    assert list(body) == list(comtrade.ENVELOPE_KEYS)
    assert body["count"] == len(body["data"]) == 4
    for record in body["data"]:
        assert tuple(record) == comtrade.RECORD_KEYS  # all 47 keys, in order
    table = comtrade.records_table(body["data"])
    assert table["partner"].tolist() == ["ARG", "ARG", "DEU", "DEU"]
    assert set(table["hs_edition"]) == {"H3"} and table["is_total"].all()
    exports = table.loc[table["flow"] == "X"].set_index("partner")
    assert exports.loc["ARG", "value_usd"] == 6115764185.0  # fobvalue == primaryValue
    assert exports["net_weight_kg"].isna().all()  # netWgt null for TOTAL


@pytest.mark.shared
def test_real_annual_records_are_rejected_or_dropped(shared_data: Path) -> None:
    content = (shared_data / "comtrade" / RECORDED).read_bytes()
    with pytest.raises(SourceError, match=r"annual \(freqCode 'A', refMonth 52\)"):
        comtrade.parse_bytes(content)
    assert comtrade.parse_bytes(content, annual="drop").empty


@pytest.mark.shared
def test_real_pretty_fixture_holds_the_same_records(shared_data: Path) -> None:
    raw = comtrade.records_table(
        comtrade.read_envelope((shared_data / "comtrade" / RECORDED).read_bytes())["data"]
    )
    pretty = comtrade.records_table(
        comtrade.read_envelope((shared_data / "comtrade" / RECORDED_PRETTY).read_bytes())["data"]
    )
    key = ["flow", "partner"]
    assert (
        raw.sort_values(key)
        .reset_index(drop=True)
        .equals(pretty.sort_values(key).reset_index(drop=True))
    )


@pytest.mark.shared
def test_real_empty_answer_is_a_valid_empty_result(shared_data: Path) -> None:
    frame = comtrade.parse_bytes((shared_data / "comtrade" / RECORDED_EMPTY).read_bytes())
    assert frame.empty and list(frame.columns) == comtrade.TRADE_COLUMNS


@pytest.mark.shared
def test_real_bodies_served_locally(data_root: Path, comtrade_url: Any, shared_data: Path) -> None:
    server = comtrade_url
    request = comtrade.make_request(partner="ARG,DEU", start="2010-01", end="2010-12")
    # The real empty answer: a valid, empty vintage.
    server.route(PREVIEW, file=shared_data / "comtrade" / RECORDED_EMPTY)
    vintage = comtrade.fetch(request)
    assert comtrade.parse(vintage).empty and vintage.names == ["2010-01_2010-12.json"]
    # The real annual body for a monthly request: refused, nothing stored beside the first.
    server.reset()
    server.route(PREVIEW, file=shared_data / "comtrade" / RECORDED)
    with pytest.raises(SourceError, match="annual"):
        comtrade.fetch(request, refresh=True)
    assert len(RawStore().vintages("comtrade")) == 1


# --------------------------------------------------------------------------- synthetic monthly bodies


def test_monthly_world_fixture() -> None:
    frame = comtrade.parse_bytes((FIXTURES / "monthly_world_2017.json").read_bytes(), vintage="v")
    assert list(frame.columns) == comtrade.TRADE_COLUMNS
    assert frame["period"].tolist() == [f"2017-{m:02d}" for m in range(1, 13)]
    assert set(frame["partner"]) == {"WLD"} and set(frame["reporter"]) == {"CHN"}
    assert set(frame["hs"]) == {"850511"} and set(frame["hs_edition"]) == {"H5"}
    march = frame.set_index("period").loc["2017-03"]
    # The two breakdown rows of 2017-03 (sea; customs C01) are not added to the total.
    assert march["net_weight_t"] == pytest.approx((3_900_000.0 + 30_000.0) / 1000)
    assert march["value_usd"] == pytest.approx(203_000_001.5)
    assert march["qty_unit"] == "kg" and march["qty"] == pytest.approx(3_930_000.0)
    assert not frame["is_estimated"].any()
    assert set(frame["source"]) == {"comtrade"} and set(frame["vintage"]) == {"v"}


def test_monthly_partner_fixture() -> None:
    frame = comtrade.parse_bytes((FIXTURES / "monthly_partners_2023-01_2023-02.json").read_bytes())
    assert sorted(frame["partner"].unique()) == ["DEU", "JPN", "TWN", "USA"]  # S19 -> TWN
    rows = frame.set_index(["period", "partner"])
    assert bool(rows.loc[("2023-01", "USA"), "is_estimated"])
    assert not bool(rows.loc[("2023-02", "USA"), "is_estimated"])
    assert pd_isnan(rows.loc[("2023-02", "DEU"), "net_weight_t"])
    assert rows.loc[("2023-01", "JPN"), "net_weight_t"] == pytest.approx(400.001)
    assert set(frame["hs_edition"]) == {"H6"}


def pd_isnan(value: Any) -> bool:
    return bool(value != value)


def test_template_has_the_47_documented_keys() -> None:
    assert tuple(template()) == comtrade.RECORD_KEYS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"freqCode": "A", "refMonth": 52, "period": "2017"}, "annual"),
        ({"refMonth": 13}, "refMonth 13"),
        ({"period": "201702"}, "does not match refYear 2017 refMonth 1"),
        ({"period": "2017-01"}, "does not match"),
    ],
)
def test_inconsistent_monthly_records(change: dict[str, Any], message: str) -> None:
    record = template() | change
    with pytest.raises(SourceError, match=message):
        comtrade.parse_bytes(envelope([record]))


def test_conflicting_duplicates_are_refused_and_exact_repeats_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Exact repeats stay in the tidy frame so that `reexport build` reports them.
    record = template()
    assert len(comtrade.parse_bytes(envelope([record, record]))) == 2
    assert "1 exact duplicate record(s)" in caplog.text
    other = record | {"primaryValue": 1.0}
    with pytest.raises(SourceError, match="two different rows for period 2017-01"):
        comtrade.parse_bytes(envelope([record, other]))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>Gateway</body></html>", "HTML/XML page"),
        (b'{"elapsedTime":"0.1 secs","count":1,"data":[', "not valid JSON"),
        (b"[1, 2]", "JSON list"),
        (b'{"count":0,"data":[]}', "lacks envelope key"),
        (b'{"statusCode": 401, "message": "Access denied"}', "Access denied"),
        (envelope([], error="Invalid period"), "reports an error: Invalid period"),
        (envelope([], count=-1), "count -1"),
        (envelope([], count="3"), "count '3'"),
        (envelope([], data={"a": 1}), "data is dict"),
        (envelope([{"freqCode": "M"}]), "record 0 lacks field"),
        (envelope(["x"]), "record 0 is str"),
    ],
)
def test_bodies_that_are_not_the_envelope(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        comtrade.parse_bytes(body)


def test_cap_check() -> None:
    comtrade.check_cap({"count": 499, "data": [0] * 499}, cap=500, origin="x")
    for count, rows in ((500, 500), (3, 500), (900, 900)):
        with pytest.raises(SourceError, match="500-row cap"):
            comtrade.check_cap({"count": count, "data": [0] * rows}, cap=500, origin="x")
    with pytest.raises(SourceError, match="counts 12 rows but holds 11, so it is truncated"):
        comtrade.check_cap({"count": 12, "data": [0] * 11}, cap=500, origin="x")
    # count must equal the rows: more rows than counted is not a complete answer either.
    with pytest.raises(SourceError, match="counts 11 rows but holds 12, so it is not"):
        comtrade.check_cap({"count": 11, "data": [0] * 12}, cap=500, origin="x")


# --------------------------------------------------------------------------- options and planning


def test_request_validation() -> None:
    request = comtrade.make_request(reporter="chn", partner="usa, jpn,USA", start="2017-1")
    assert request.reporters == (156,) and request.partner == ("JPN", "USA")
    assert request.start == Month(2017, 1)
    assert comtrade.make_request(partner="World").partner == "world"
    assert comtrade.make_request(partner="ALL").partner == "all"
    for kwargs, message in (
        ({"partner": "USA,XYZ"}, "--partner 'XYZ': not an ISO3 or M49 code"),
        ({"reporter": "Q1"}, "--reporter"),
        ({"hs": "85051"}, "--hs '85051'"),
        ({"flow": "exports"}, "--flow 'exports'"),
        ({"start": "2020-01", "end": "2019-12"}, "after --end"),
        ({"start": "2017-13"}, "--start"),
    ):
        with pytest.raises(BadInputError, match=message):
            comtrade.make_request(**kwargs)


def test_gpr_countries_all_have_area_codes() -> None:
    gpr_countries = (
        "ARG AUS BEL BRA CAN CHE CHL CHN COL DEU DNK EGY ESP FIN FRA GBR HKG HUN IDN IND ISR ITA "
        "JPN KOR MEX MYS NLD NOR PER PHL POL PRT RUS SAU SWE THA TUN TUR TWN UKR USA VEN VNM ZAF"
    )
    for iso in gpr_countries.split():
        assert comtrade.area_code(iso) > 0
    # Comtrade's own codes where they differ from ISO numeric (M49).
    assert [comtrade.area_code(c) for c in ("USA", "FRA", "IND", "NOR", "CHE", "TWN")] == [
        842,
        251,
        699,
        579,
        757,
        490,
    ]
    assert len(set(comtrade.COMTRADE_AREAS.values())) == len(comtrade.COMTRADE_AREAS)


def test_keyed_world_2017_2024_is_eight_calls_of_twelve_months() -> None:
    calls = comtrade.plan_calls(WORLD_2017_2024, keyed=True)
    assert len(calls) == 8 and all(len(c.months) == 12 for c in calls)
    assert calls[0].name == "2017-01_2017-12.json" and calls[-1].name == "2024-01_2024-12.json"
    params = comtrade.call_params(WORLD_2017_2024, calls[0], keyed=True)
    assert params == {
        "reporterCode": "156",
        "cmdCode": "850511",
        "flowCode": "X",
        "period": ",".join(f"2017{m:02d}" for m in range(1, 13)),
        "motCode": "0",
        "customsCode": "C00",
        "partner2Code": "0",
        "includeDesc": "true",
        "partnerCode": "0",
        "maxRecords": "250000",
    }
    keyless = comtrade.call_params(WORLD_2017_2024, calls[0], keyed=False)
    assert "maxRecords" not in keyless and FAKE_KEY not in json.dumps(keyless)


def test_all_partners_omits_partner_code() -> None:
    request = comtrade.make_request(partner="all", start="2020-01", end="2020-03")
    keyless = comtrade.plan_calls(request, keyed=False)
    assert len(keyless) == 3 and all(c.partner_codes is None for c in keyless)
    assert "partnerCode" not in comtrade.call_params(request, keyless[0], keyed=False)
    assert len(comtrade.plan_calls(request, keyed=True)) == 1


@settings(max_examples=60, deadline=None)
@given(
    partners=st.one_of(
        st.sampled_from(["world", "all"]),
        st.lists(st.sampled_from(sorted(comtrade.COMTRADE_AREAS)), min_size=1, unique=True).map(
            ",".join
        ),
    ),
    start=st.integers(2000 * 12, 2030 * 12).map(Month.from_ordinal),
    length=st.integers(1, 130),
    keyed=st.booleans(),
)
def test_plan_covers_the_request_exactly_and_keyless_stays_under_the_cap(
    partners: str, start: Month, length: int, keyed: bool
) -> None:
    end = start.shift(length - 1)
    request = comtrade.make_request(partner=partners, start=str(start), end=str(end))
    calls = comtrade.plan_calls(request, keyed=keyed)
    cells: list[tuple[Month, int | None]] = []
    for call in calls:
        assert 1 <= len(call.months) <= 12
        assert call.row_bound < (comtrade.KEYED_MAX_RECORDS if keyed else comtrade.PREVIEW_CAP)
        codes: tuple[int | None, ...] = call.partner_codes or (None,)
        cells += [(m, c) for m in call.months for c in codes]
    assert len(cells) == len(set(cells))  # nothing asked twice
    wanted_codes: list[int | None]
    if request.partner == "world":
        wanted_codes = [0]
    elif request.partner == "all":
        wanted_codes = [None]
    else:
        wanted_codes = [comtrade.COMTRADE_AREAS[c] for c in request.partner]
    assert set(cells) == {(m, c) for m in month_range(start, end) for c in wanted_codes}
    assert len({c.name for c in calls}) == len(calls)


# --------------------------------------------------------------------------- fetching


def test_keyed_fetch_sends_the_header_makes_8_calls_and_never_writes_the_key(
    data_root: Path,
    comtrade_url: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = comtrade_url
    serve_world(server, KEYED, Month(2017, 1), Month(2024, 12))
    monkeypatch.setenv("COMTRADE_API_KEY", FAKE_KEY)
    caplog.set_level(logging.DEBUG)
    assert main(["-vv", "fetch", "comtrade"]) == 0
    out, err = capsys.readouterr()
    requests = server.requests_for(KEYED)
    assert len(requests) == 8 and not server.requests_for(PREVIEW)
    assert all(r.header("Ocp-Apim-Subscription-Key") == FAKE_KEY for r in requests)
    assert all(FAKE_KEY not in r.query_string for r in requests)
    assert all(
        r.query["maxRecords"] == "250000" and r.query["partnerCode"] == "0" for r in requests
    )
    assert "8 HTTP calls" in out and "8 files" in out and "96 rows" in out and "96/96 months" in out

    vintage = RawStore().latest("comtrade")
    assert vintage is not None and len(vintage.files) == 8
    frame = comtrade.parse(vintage)
    assert frame["period"].tolist() == [
        str(m) for m in month_range(Month(2017, 1), Month(2024, 12))
    ]
    assert frame["net_weight_t"].iloc[0] == pytest.approx(Month(2017, 1).ordinal)  # kg / 1000
    everything = b"".join(snapshot(data_root).values()).decode("utf-8", "replace")
    for text in (everything, out, err, caplog.text):
        assert FAKE_KEY not in text

    # Warm re-run: zero calls, same vintage.
    server.clear_requests()
    assert main(["fetch", "comtrade"]) == 0
    assert "warm: already stored, 0 calls" in capsys.readouterr().out
    assert server.requests == []


def test_keyless_world_uses_the_preview_without_a_key(data_root: Path, comtrade_url: Any) -> None:
    server = comtrade_url
    serve_world(server, PREVIEW, Month(2017, 1), Month(2024, 12))
    with HttpClient() as client:
        vintage = comtrade.fetch(WORLD_2017_2024, client=client)
        assert client.calls == 8
    requests = server.requests_for(PREVIEW)
    assert all(r.header("Ocp-Apim-Subscription-Key") is None for r in requests)
    assert all("maxRecords" not in r.query for r in requests)
    assert len(comtrade.parse(vintage)) == 96
    assert all("preview" in f["url"] for f in vintage.files)


def test_keyless_partner_list_is_split_under_the_cap(data_root: Path, comtrade_url: Any) -> None:
    server = comtrade_url
    isos = sorted(comtrade.COMTRADE_AREAS)[:60]  # 60 partners -> 8 months per call
    codes = {comtrade.COMTRADE_AREAS[i]: i for i in isos}

    request = comtrade.make_request(partner=",".join(isos), start="2023-01", end="2023-12")
    calls = comtrade.plan_calls(request, keyed=False)
    assert [len(c.months) for c in calls] == [8, 4]
    for call in calls:
        records = [
            monthly_record(m, partner=(code, codes[code])) for m in call.months for code in codes
        ]
        assert len(records) < 500
        server.route(
            PREVIEW,
            envelope(records),
            query={"period": period_param(list(call.months))},
            content_type="application/json",
        )
    vintage = comtrade.fetch(request)
    frame = comtrade.parse(vintage)
    assert len(frame) == 60 * 12 and frame["partner"].nunique() == 60
    assert all(len(r.query["partnerCode"].split(",")) == 60 for r in server.requests)


def test_keyless_answer_at_the_cap_fails_loudly(
    data_root: Path, comtrade_url: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server = comtrade_url
    capped = envelope([monthly_record(Month(2017, 1)).copy() for _ in range(500)])
    server.route(PREVIEW, capped, content_type="application/json")
    assert main(["fetch", "comtrade", "--start", "2017-01", "--end", "2017-12"]) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "500-row cap" in err and "COMTRADE_API_KEY" in err
    assert tree(data_root / "raw") in ([], ["comtrade"])


@pytest.mark.parametrize(
    "faults",
    [
        [too_many_requests(retry_after=0)],
        [too_many_requests(retry_after="0"), server_error(500), unavailable()],
        [truncated(envelope([monthly_record(Month(2017, 1))]))],
        [html_error_page()],
        [json_reply({"count": 1, "data": []})],
        [html_error_page(), json_reply({"elapsedTime": "1 secs"})],
        # An envelope that counts more rows than it holds (a body cut inside "data"
        # and re-closed by a gateway): a failed attempt, fetched again.
        [
            json_reply(
                {
                    "elapsedTime": "0.1 secs",
                    "count": 12,
                    "data": [monthly_record(Month(2018, 1))],
                    "error": "",
                }
            )
        ],
    ],
    ids=[
        "429",
        "429-500-503",
        "truncated",
        "html-200-once",
        "missing-fields-once",
        "two-bad",
        "short-count-once",
    ],
)
def test_transient_faults_end_in_success(
    data_root: Path, comtrade_url: Any, faults: list[Reply]
) -> None:
    server = comtrade_url
    routes = serve_world(server, PREVIEW, Month(2017, 1), Month(2018, 12))
    routes[1].queue(*faults)
    request = comtrade.make_request(start="2017-01", end="2018-12")
    vintage = comtrade.fetch(request)
    assert len(comtrade.parse(vintage)) == 24 and routes[1].pending() == 0


def test_timeout_then_success(
    data_root: Path, comtrade_url: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEXPORT_HTTP_TIMEOUT", "0.3")
    server = comtrade_url
    (route,) = serve_world(server, PREVIEW, Month(2017, 1), Month(2017, 12))
    route.queue(slow(1.0))
    vintage = comtrade.fetch(comtrade.make_request(start="2017-01", end="2017-12"))
    assert len(server.requests) == 2 and len(comtrade.parse(vintage)) == 12


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (html_error_page(), "HTML/XML page"),
        (json_reply({"count": 1, "data": []}), "lacks envelope key"),
        (json_reply({"elapsedTime": "0 s", "count": 0, "data": [], "error": "busy"}), "busy"),
        (server_error(503), "HTTP 503"),
        (truncated(b'{"elapsedTime":"0.1 secs","count":0,"data":[],"error":""}'), "truncated"),
        (
            json_reply({"elapsedTime": "0.1 secs", "count": 12, "data": [], "error": ""}),
            "counts 12 rows but holds 0, so it is truncated",
        ),
    ],
    ids=["html-200", "missing-fields", "error-field", "503", "truncated", "short-count"],
)
def test_persistent_faults_exit_3_and_leave_the_store_untouched(
    data_root: Path,
    comtrade_url: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fault: Reply,
    message: str,
) -> None:
    monkeypatch.setenv("REEXPORT_HTTP_RETRIES", "2")
    server = comtrade_url
    routes = serve_world(server, PREVIEW, Month(2017, 1), Month(2018, 12))
    assert main(["fetch", "comtrade", "--start", "2017-01", "--end", "2018-12"]) == 0
    before = snapshot(data_root)
    capsys.readouterr()

    routes[1].default = fault  # the second call now fails every time
    args = ["fetch", "comtrade", "--start", "2017-01", "--end", "2018-12", "--refresh"]
    assert main(args) == 3
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err
    assert "2018-01_2018-12" in err  # names the call that failed
    assert snapshot(data_root) == before  # no partial vintage, old one not overwritten
    assert not [p for p in (data_root / "raw").rglob(".tmp-*")]


def test_offline_and_bad_partner(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "comtrade", "--offline"]) == 3
    err = capsys.readouterr().err
    assert "offline: no stored comtrade vintage" in err and "2017-01..2024-12" in err
    assert main(["fetch", "comtrade", "--partner", "USA,ABC"]) == 2
    assert "--partner 'ABC': not an ISO3 or M49 code" in capsys.readouterr().err
    assert tree(data_root / "raw") == []


def test_offline_after_a_fetch_reuses_the_vintage(
    data_root: Path, comtrade_url: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_world(comtrade_url, PREVIEW, Month(2017, 1), Month(2017, 12))
    args = ["fetch", "comtrade", "--start", "2017-01", "--end", "2017-12"]
    assert main(args) == 0
    capsys.readouterr()
    comtrade_url.clear_requests()
    assert main([*args, "--offline"]) == 0
    assert "warm" in capsys.readouterr().out and comtrade_url.requests == []


def test_parse_refuses_other_sources(data_root: Path) -> None:
    store = RawStore()
    with store.writer("fred", {"series": ["X"]}) as writer:
        writer.add("X.csv", b"observation_date,X\n")
    assert writer.vintage is not None
    with pytest.raises(BadInputError, match="not comtrade"):
        comtrade.parse(writer.vintage)


# 401: the HTTP error.  200: a gateway answering with a non-envelope body that quotes
# the key; that text goes into the error and the retry log lines, scrubbed.
@pytest.mark.parametrize(("status", "shown"), [(401, "HTTP 401"), (200, "Invalid key")])
def test_rejected_key_exits_3_without_revealing_it(
    data_root: Path,
    comtrade_url: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    status: int,
    shown: str,
) -> None:
    comtrade_url.route(
        KEYED,
        json.dumps({"statusCode": 401, "message": f"Invalid key {FAKE_KEY}"}),
        status=status,
        content_type="application/json",
    )
    monkeypatch.setenv("COMTRADE_API_KEY", FAKE_KEY)
    caplog.set_level(logging.DEBUG)
    assert main(["-vv", "fetch", "comtrade", "--start", "2017-01", "--end", "2017-12"]) == 3
    out, err = capsys.readouterr()
    assert shown in err and "\n" not in err.strip()
    for text in (out, err, caplog.text):
        assert FAKE_KEY not in text
    assert tree(data_root / "raw") in ([], ["comtrade"])


# Issue 8 item 8: urllib3's own debug line ("GET /?subscription-key=... HTTP/1.1") used to print
# a key that a user wrote into a misconfigured URL.  Run the real CLI, as a user would, with -vv.
@pytest.mark.parametrize("key_in_env", [True, False])
def test_a_key_in_a_misconfigured_url_never_reaches_any_log_line(
    tmp_path: Path, replay_server: Any, key_in_env: bool
) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COMTRADE_API_KEY"}
    env["REEXPORT_DATA_DIR"] = str(tmp_path / "data")
    env["REEXPORT_COMTRADE_URL"] = f"{replay_server.base_url}/?subscription-key={FAKE_KEY}"
    if key_in_env:
        env["COMTRADE_API_KEY"] = FAKE_KEY
    done = subprocess.run(
        [sys.executable, "-m", "reexport.cli", "-vv", "fetch", "comtrade", "--end", "2017-12"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    # urllib3 did log the request line (so the test would see a leak), scrubbed.
    assert "DEBUG urllib3.connectionpool" in done.stderr
    assert "subscription-key=REDACTED" in done.stderr
    assert FAKE_KEY not in done.stderr + done.stdout
    # The server did receive the URL as configured: the scrubbing is in the logs only.
    assert any(FAKE_KEY in r.query_string for r in replay_server.requests)


# --------------------------------------------------------------------------- general pulls (#9)

KEYED_ANNUAL = "/data/v1/get/C/A/HS"
PREVIEW_ANNUAL = "/public/v1/preview/C/A/HS"
JAPAN_HS = "280530,2846,850511"


def trade_record(
    period: str,
    *,
    reporter: tuple[int, str],
    partner: tuple[int, str],
    hs: str,
    flow: str,
    value: float,
) -> dict[str, Any]:
    """A copy of the synthetic template for any reporter, partner, code, flow, month or year."""
    record = copy.deepcopy(template())
    annual = len(period) == 4
    year = int(period[:4])
    record.update(
        freqCode="A" if annual else "M",
        refPeriodId=int(f"{period}0101" if annual else f"{period}01"),
        refYear=year,
        refMonth=52 if annual else int(period[4:]),
        period=period,
        reporterCode=reporter[0],
        reporterISO=reporter[1],
        partnerCode=partner[0],
        partnerISO=partner[1],
        cmdCode=hs,
        flowCode=flow,
        netWgt=value / 40.0,
        qty=value / 40.0,
        primaryValue=value,
        fobvalue=value if flow == "X" else None,
        cifvalue=value if flow == "M" else None,
    )
    return record


def test_a_single_code_request_keeps_the_logical_request_stores_were_keyed_on() -> None:
    # The manifest request of every vintage written before lists were accepted (and of
    # the demo's): scalar reporter, hs and flow, no frequency.  It must not change, or
    # every stored vintage would go cold.
    old = {
        "api": "comtrade v1 C/M/HS",
        "reporter": 156,
        "partner": "world",
        "hs": "850511",
        "flow": "X",
        "start": "2017-01",
        "end": "2024-12",
        "motCode": 0,
        "customsCode": "C00",
        "partner2Code": 0,
    }
    assert comtrade.make_request().logical() == old
    same = comtrade.make_request(reporter=["CHN"], hs=["850511"], flow=["x"], frequency="m")
    assert same.logical() == old
    listed = comtrade.make_request(partner="usa,JPN").logical()
    assert listed["partner"] == ["JPN", "USA"] and listed["reporter"] == 156


def test_old_single_code_vintage_stays_warm(data_root: Path, comtrade_url: Any) -> None:
    old_request = {
        "api": "comtrade v1 C/M/HS",
        "reporter": 156,
        "partner": "all",
        "hs": "850511",
        "flow": "X",
        "start": "2023-01",
        "end": "2023-12",
        "motCode": 0,
        "customsCode": "C00",
        "partner2Code": 0,
    }
    months = list(month_range(Month(2023, 1), Month(2023, 12)))
    body = envelope([monthly_record(m) for m in months])
    with RawStore().writer("comtrade", old_request) as writer:
        writer.add(
            "2023-01_2023-12.json",
            body,
            url="http://127.0.0.1/data/v1/get/C/M/HS",
            params={},
            status=200,
            content_type="application/json",
        )
    stored = writer.vintage
    assert stored is not None
    request = comtrade.make_request(partner="all", hs=["850511"], start="2023-01", end="2023-12")
    with HttpClient() as client:
        assert comtrade.fetch(request, client=client).id == stored.id
        assert client.calls == 0
    assert comtrade_url.requests == []


def test_iso3_and_m49_name_the_same_request() -> None:
    by_iso = comtrade.make_request(reporter="JPN,CHN", partner="CHN,IND,USA", flow="M,X")
    by_code = comtrade.make_request(reporter=["392", 156], partner="156,699,842", flow="both")
    assert by_iso == by_code and by_iso.logical() == by_code.logical()
    assert by_iso.reporters == (156, 392) and by_iso.flows == ("M", "X")
    # An M49 code whose ISO3 names another current area is kept as the code.
    assert comtrade.make_request(partner="276,280").partner == ("280", "DEU")
    assert comtrade.make_request(partner="276,280").partner_codes() == (276, 280)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--reporter", "JPX"], "--reporter 'JPX': not an ISO3 or M49 code"),
        (["--partner", "CHN,ZZZ"], "--partner 'ZZZ': not an ISO3 or M49 code"),
        (["--partner", "all,CHN"], "'all' cannot be combined"),
        (["--hs", "280530,85051X"], "--hs '85051X': expected 2, 4 or 6 HS digits"),
        (["--flow", "X,Q"], "--flow 'Q'"),
        (["--frequency", "Q"], "--frequency 'Q': expected M (monthly) or A (annual)"),
        (["--frequency", "A", "--start", "2024", "--end", "2020"], "--start 2024 is after --end"),
    ],
)
def test_bad_pull_options_exit_2_on_one_line(
    data_root: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["fetch", "comtrade", *options]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line
    assert tree(data_root / "raw") == []


def test_keyed_multi_reporter_multi_hs_both_flows_all_partners_is_one_call_a_year(
    data_root: Path,
    comtrade_url: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = comtrade_url
    monkeypatch.setenv("COMTRADE_API_KEY", FAKE_KEY)
    reporters = {392: "JPN", 156: "CHN"}
    partners = [(0, "W00"), (156, "CHN"), (699, "IND"), (392, "JPN")]
    months = [f"2023{m:02d}" for m in range(1, 13)]
    records = [
        trade_record(
            period,
            reporter=(code, iso),
            partner=partner,
            hs=hs,
            flow=flow,
            value=1000.0 * (number + 1),
        )
        for number, period in enumerate(months)
        for code, iso in reporters.items()
        for partner in partners
        if partner[0] != code
        for hs in JAPAN_HS.split(",")
        for flow in ("M", "X")
    ]
    server.route(
        KEYED,
        envelope(records),
        query={
            "reporterCode": "156,392",
            "cmdCode": "280530,2846,850511",
            "flowCode": "M,X",
            "period": ",".join(months),
        },
        content_type="application/json",
    )
    args = ["fetch", "comtrade", "--reporter", "JPN,CHN", "--partner", "all", "--hs", JAPAN_HS]
    args += ["--flow", "both", "--start", "2023-01", "--end", "2023-12"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 HTTP calls" in out and "12/12 months" in out
    (sent,) = server.requests_for(KEYED)
    assert "partnerCode" not in sent.query  # all partners: the World rows come too

    vintage = RawStore().latest("comtrade")
    assert vintage is not None
    assert vintage.request["reporter"] == [156, 392]
    assert vintage.request["hs"] == ["280530", "2846", "850511"]
    assert vintage.request["flow"] == ["M", "X"]
    frame = comtrade.parse(vintage)
    assert len(frame) == len(records) == 12 * 2 * 3 * 3 * 2
    assert set(frame["freq"]) == {"M"}
    # An all-partner pull carries the World totals (WLD) for both reporters, codes, flows.
    world = frame.loc[frame["partner"] == "WLD"]
    assert len(world) == 12 * 2 * 3 * 2
    assert set(world["reporter"]) == {"CHN", "JPN"} and set(world["hs"]) == set(JAPAN_HS.split(","))
    assert set(frame.loc[frame["reporter"] == "JPN", "partner"]) == {"WLD", "CHN", "IND"}

    server.clear_requests()
    assert main(args) == 0
    assert "warm: already stored, 0 calls" in capsys.readouterr().out
    assert server.requests == []


def test_keyless_multi_code_all_partner_pull_is_split_under_the_cap() -> None:
    request = comtrade.make_request(
        reporter="JPN,CHN", partner="all", hs=JAPAN_HS, flow="both", start="2023-01", end="2023-03"
    )
    keyed = comtrade.plan_calls(request, keyed=True)
    assert len(keyed) == 1 and keyed[0].row_bound == 3 * 2 * 3 * 2 * comtrade.ALL_PARTNERS_BOUND
    keyless = comtrade.plan_calls(request, keyed=False)
    # 300 possible partners per reporter, code, flow and month: each keyless call is one of each.
    assert len(keyless) == 3 * 2 * 3 * 2
    assert all(c.row_bound == comtrade.ALL_PARTNERS_BOUND for c in keyless)
    assert keyless[0].name == "2023-01_2023-01_r1_h1_f1.json"
    params = comtrade.call_params(request, keyless[0], keyed=False)
    assert (params["reporterCode"], params["cmdCode"], params["flowCode"]) == ("156", "280530", "M")

    # A partner list small enough keeps codes and flows together and only shortens the months.
    listed = comtrade.make_request(
        reporter="JPN", partner="CHN,IND,VNM,THA,MYS,AUS,USA,WLD", hs=JAPAN_HS, flow="M"
    )
    calls = comtrade.plan_calls(listed, keyed=False)
    assert {len(c.hs_codes) for c in calls} == {3} and {
        len(c.partner_codes or ()) for c in calls
    } == {8}
    assert {len(c.months) for c in calls} == {12} and len(calls) == 8  # 12 x 8 x 3 = 288 < 500


@settings(max_examples=60, deadline=None)
@given(
    reporters=st.lists(
        st.sampled_from(["CHN", "JPN", "USA", "DEU", "KOR"]), min_size=1, unique=True
    ),
    partners=st.one_of(
        st.sampled_from(["world", "all"]),
        st.lists(
            st.sampled_from(sorted(comtrade.COMTRADE_AREAS)), min_size=1, max_size=200, unique=True
        ),
    ),
    hs=st.lists(
        st.sampled_from(["280530", "2846", "850511", "85", "TOTAL"]), min_size=1, unique=True
    ),
    flows=st.lists(st.sampled_from(["X", "M", "RX", "RM"]), min_size=1, unique=True),
    annual=st.booleans(),
    start=st.integers(2000 * 12, 2030 * 12).map(Month.from_ordinal),
    length=st.integers(1, 40),
    keyed=st.booleans(),
)
def test_plans_of_lists_ask_every_cell_once_and_stay_under_the_cap(
    reporters: list[str],
    partners: str | list[str],
    hs: list[str],
    flows: list[str],
    annual: bool,
    start: Month,
    length: int,
    keyed: bool,
) -> None:
    end = start.shift(length - 1)
    span = (str(start.year), str(end.year)) if annual else (str(start), str(end))
    request = comtrade.make_request(
        reporter=reporters,
        partner=partners,
        hs=hs,
        flow=flows,
        start=span[0],
        end=span[1],
        frequency="A" if annual else "M",
    )
    calls = comtrade.plan_calls(request, keyed=keyed)
    cap = comtrade.KEYED_MAX_RECORDS if keyed else comtrade.PREVIEW_CAP
    cells = []
    for call in calls:
        assert 1 <= len(call.periods) <= 12 and call.row_bound < cap
        assert call.months == (
            () if annual else tuple(Month(int(p[:4]), int(p[4:])) for p in call.periods)
        )
        codes: tuple[int | None, ...] = call.partner_codes or (None,)
        cells += [
            (p, r, c, h, f)
            for p in call.periods
            for r in call.reporters
            for c in codes
            for h in call.hs_codes
            for f in call.flows
        ]
    wanted_partners = request.partner_codes() or (None,)
    wanted = {
        (p, r, c, h, f)
        for p in request.periods()
        for r in request.reporters
        for c in wanted_partners
        for h in request.hs_codes
        for f in request.flows
    }
    assert len(cells) == len(set(cells)) and set(cells) == wanted
    assert len({c.name for c in calls}) == len(calls)
    if len(request.reporters) * len(request.hs_codes) * len(request.flows) * len(
        wanted_partners
    ) < (cap // 12 if request.partner != "all" else cap // (12 * comtrade.ALL_PARTNERS_BOUND)):
        # Everything fits in one call per 12 periods: no list is split.
        assert len(calls) == -(-len(request.periods()) // 12)


def test_annual_pull_uses_the_annual_endpoint_and_keeps_years(
    data_root: Path, comtrade_url: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    server = comtrade_url
    years = [str(y) for y in range(2015, 2025)]
    records = [
        trade_record(y, reporter=(392, "JPN"), partner=p, hs="2846", flow="M", value=5e6 + i)
        for i, y in enumerate(years)
        for p in ((156, "CHN"), (699, "IND"))
    ]
    server.route(
        PREVIEW_ANNUAL,
        envelope(records),
        query={"period": ",".join(years), "reporterCode": "392", "partnerCode": "156,699"},
        content_type="application/json",
    )
    args = ["fetch", "comtrade", "--reporter", "392", "--partner", "CHN,IND", "--hs", "2846"]
    args += ["--flow", "M", "--frequency", "A", "--start", "2015", "--end", "2024"]
    assert main(args) == 0
    assert "10/10 years with data" in capsys.readouterr().out
    assert len(server.requests_for(PREVIEW_ANNUAL)) == 1 and not server.requests_for(PREVIEW)
    vintage = RawStore().latest("comtrade")
    assert vintage is not None
    assert vintage.request["frequency"] == "A" and vintage.request["api"] == "comtrade v1 C/A/HS"
    assert (vintage.request["start"], vintage.request["end"]) == ("2015", "2024")
    assert vintage.names == ["2015_2024.json"]
    frame = comtrade.parse(vintage)
    assert sorted(set(frame["period"])) == years and set(frame["freq"]) == {"A"}
    assert set(frame["partner"]) == {"CHN", "IND"} and len(frame) == 20
    # Annual rows are still refused where a monthly frame is asked for.
    with pytest.raises(SourceError, match="is annual"):
        comtrade.parse(vintage, annual="reject")
    server.clear_requests()
    assert main(args) == 0 and server.requests == []


@pytest.mark.shared
def test_real_annual_body_answers_an_annual_request(
    data_root: Path, comtrade_url: Any, shared_data: Path
) -> None:
    # The recorded request: China (156), partners 32, 280, 276, TOTAL, 2010, both flows.
    server = comtrade_url
    server.route(PREVIEW_ANNUAL, file=shared_data / "comtrade" / RECORDED)
    request = comtrade.make_request(
        reporter="CHN", partner="32,280,276", hs="TOTAL", flow="both", frequency="A",
        start="2010", end="2010",
    )  # fmt: skip
    vintage = comtrade.fetch(request)
    (sent,) = server.requests_for(PREVIEW_ANNUAL)
    assert sent.query["partnerCode"] == "32,276,280" and sent.query["period"] == "2010"
    frame = comtrade.parse(vintage)
    assert frame[["period", "partner", "flow", "freq"]].values.tolist() == [
        ["2010", "ARG", "M", "A"],
        ["2010", "ARG", "X", "A"],
        ["2010", "DEU", "M", "A"],
        ["2010", "DEU", "X", "A"],
    ]
    exports = frame.loc[frame["flow"] == "X"].set_index("partner")["value_usd"]
    assert exports["ARG"] == 6115764185.0 and exports["DEU"] == 68047133397.0


def test_monthly_frames_say_freq_m() -> None:
    frame = comtrade.parse_bytes((FIXTURES / "monthly_world_2017.json").read_bytes())
    assert set(frame["freq"]) == {"M"} and comtrade.TRADE_COLUMNS[-1] == "freq"


def test_covers_finds_world_totals_in_an_all_partner_pull() -> None:
    everything = comtrade.make_request(
        reporter="JPN,CHN", partner="all", hs=JAPAN_HS, flow="both"
    ).logical()
    for reporter, partner in (("CHN", "WLD"), ("156", "0"), ("JPN", "CHN"), ("392", "IND")):
        assert comtrade.covers(everything, reporter=reporter, partner=partner, hs="2846", flow="M")
    assert not comtrade.covers(everything, reporter="USA", partner="WLD", hs="2846", flow="M")
    assert not comtrade.covers(everything, reporter="JPN", partner="WLD", hs="850511", flow="RX")
    assert not comtrade.covers(
        everything, reporter="JPN", partner="WLD", hs="2846", flow="M", frequency="A"
    )
    old_world = comtrade.make_request().logical()
    assert comtrade.covers(old_world, reporter="CHN", partner="WLD", hs="850511", flow="X")
    assert not comtrade.covers(old_world, reporter="CHN", partner="JPN", hs="850511", flow="X")
    listed = comtrade.make_request(partner="JPN,USA", frequency="A", start="2015", end="2016")
    assert comtrade.covers(
        listed.logical(), reporter="CHN", partner="842", hs="850511", flow="X", frequency="A"
    )
    assert not comtrade.covers({"api": "fred"}, reporter="CHN", partner="WLD", hs="1", flow="X")
