"""GPR source: parsing the publisher's real files, units and scales, daily aggregation, fetching.

Facts checked against the real files in ``../shared/data/gpr`` come from its
PROVENANCE.md ("Checks run"): GPR 2022-03 = 319.0, the 1985-2019 means of GPR,
GPRT and GPRA are 100, 2017-01..2024-12 has 96 months with GPR mean 108.7,
GPRC_USA 2.56 % and GPRC_AUS 0.15 %, 44 countries, the 2025-12 and 2026-04
vintages agree on 2017-2024, the daily GPRD averages 100 over 1985-2019 and
peaks at 540.8 on 2022-03-01 (the highest day since 2004; 2001-09 days are higher).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlwt
from replay_server import Reply, cut_file, html_error_page, too_many_requests, unavailable

from reexport.cli import main
from reexport.errors import BadInputError, SourceError
from reexport.http import HttpClient
from reexport.sources import gpr
from reexport.store import RawStore

#: The 44 countries listed in ../shared/data/gpr/PROVENANCE.md.
GPR_COUNTRIES = [
    "ARG", "AUS", "BEL", "BRA", "CAN", "CHE", "CHL", "CHN", "COL", "DEU", "DNK", "EGY", "ESP",
    "FIN", "FRA", "GBR", "HKG", "HUN", "IDN", "IND", "ISR", "ITA", "JPN", "KOR", "MEX", "MYS",
    "NLD", "NOR", "PER", "PHL", "POL", "PRT", "RUS", "SAU", "SWE", "THA", "TUN", "TUR", "TWN",
    "UKR", "USA", "VEN", "VNM", "ZAF",
]  # fmt: skip
MONTHLY_PATH = "/gpr_files/data_gpr_export.xls"
DAILY_PATH = "/gpr_files/data_gpr_daily_recent.xls"
XLS = "application/vnd.ms-excel"


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def monthly_bytes() -> bytes:
    path = Path(__file__).resolve().parents[2] / "shared/data/gpr/data_gpr_export.xls"
    if not path.is_file():
        pytest.skip("../shared/data/gpr is not present")
    return path.read_bytes()


@pytest.fixture(scope="module")
def monthly(monthly_bytes: bytes) -> pd.DataFrame:
    return gpr.parse_monthly_bytes(monthly_bytes, vintage="test")


@pytest.fixture(scope="module")
def daily_frame() -> pd.DataFrame:
    path = Path(__file__).resolve().parents[2] / "shared/data/gpr/data_gpr_daily_recent.xls"
    if not path.is_file():
        pytest.skip("../shared/data/gpr is not present")
    return gpr.read_daily(path.read_bytes())


def series(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame.loc[frame["series"] == name].set_index("period")["value"]


def small_workbook(
    months: list[str],
    columns: dict[str, list[float | None]],
    labels: dict[str, str] | None = None,
    *,
    day: int = 1,
) -> bytes:
    """A tiny .xls laid out like the publisher's: a real date ``month`` column, data, dictionary.

    Built here with xlwt for the edge cases the real file does not exhibit.
    """
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    names = ["month", *columns]
    header = [*names, "var_name", "var_label"]
    for col, name in enumerate(header):
        sheet.write(0, col, name)
    for row, month in enumerate(months, start=1):
        year, mon = (int(x) for x in month.split("-"))
        sheet.write(row, 0, pd.Timestamp(year, mon, day).to_pydatetime(), date_style)
        for col, name in enumerate(columns, start=1):
            value = columns[name][row - 1]
            if value is not None:
                sheet.write(row, col, value)
    for row, (name, label) in enumerate((labels or {}).items(), start=1):
        sheet.write(row, len(names), name)
        sheet.write(row, len(names) + 1, label)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- the real monthly file


@pytest.mark.shared
def test_tidy_frame_layout_and_units(monthly: pd.DataFrame) -> None:
    assert list(monthly.columns) == ["period", "series", "value", "unit", "source", "vintage"]
    assert monthly["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert set(monthly["source"]) == {"gpr"} and set(monthly["vintage"]) == {"test"}
    units = monthly.groupby("series")["unit"].agg(set)
    assert units["GPR"] == units["GPRT"] == units["GPRA"] == {"index 1985-2019=100"}
    assert units["GPRH"] == {"index 1900-2019=100"}
    assert units["GPRC_USA"] == units["GPRHC_USA"] == {"percent of articles"}
    assert not monthly.duplicated(["period", "series"]).any()
    # The data-dictionary columns are gone and no other column sneaks in.
    assert not monthly["series"].isin(["var_name", "var_label", "N10", "SHARE_GPR"]).any()


@pytest.mark.shared
def test_exactly_the_44_countries_of_the_provenance(monthly: pd.DataFrame) -> None:
    names = set(monthly["series"])
    assert sorted(n[5:] for n in names if n.startswith("GPRC_")) == sorted(GPR_COUNTRIES)
    assert sorted(n[6:] for n in names if n.startswith("GPRHC_")) == sorted(GPR_COUNTRIES)
    assert "GPRC_AUT" not in names  # Austria is not in the file; AUS is Australia


@pytest.mark.shared
def test_published_checks(monthly: pd.DataFrame) -> None:
    gpr_index = series(monthly, "GPR")
    assert gpr_index["2022-03"] == pytest.approx(318.95, abs=0.01)
    assert gpr_index.index[0] == "1985-01"  # empty before 1985: not padded with NaN rows
    for name in ("GPR", "GPRT", "GPRA"):
        assert series(monthly, name).loc["1985-01":"2019-12"].mean() == pytest.approx(100, abs=1e-3)
    assert series(monthly, "GPRH").loc["1900-01":"2019-12"].mean() == pytest.approx(100, abs=1e-3)
    window = gpr_index.loc["2017-01":"2024-12"]
    assert len(window) == 96 and window.notna().all()
    assert window.mean() == pytest.approx(108.7, abs=0.05)
    assert window.min() == pytest.approx(58.4, abs=0.05)
    assert series(monthly, "GPRC_USA").loc["2017-01":"2024-12"].mean() == pytest.approx(
        2.56, abs=0.005
    )
    assert series(monthly, "GPRC_AUS").loc["2017-01":"2024-12"].mean() == pytest.approx(
        0.15, abs=0.005
    )
    russia = series(monthly, "GPRC_RUS").loc["2022-01":"2022-03"].round(2).tolist()
    assert russia == [2.78, 5.40, 8.80]


@pytest.mark.shared
def test_country_index_scale(monthly_bytes: bytes, monthly: pd.DataFrame) -> None:
    indexed = gpr.parse_monthly_bytes(monthly_bytes, country_scale="index")
    usa = series(indexed, "GPRC_USA")
    assert usa.loc["1985-01":"2019-12"].mean() == pytest.approx(100, abs=1e-9)
    assert set(indexed.loc[indexed["series"] == "GPRC_USA", "unit"]) == {"index 1985-2019=100"}
    hist = series(indexed, "GPRHC_USA")
    assert hist.loc["1900-01":"2019-12"].mean() == pytest.approx(100, abs=1e-9)
    # A rescale, not a new series: the ratio to the shares is one constant.
    ratio = usa / series(monthly, "GPRC_USA")
    assert ratio.std() == pytest.approx(0, abs=1e-9)
    # The aggregate indices are untouched.
    pd.testing.assert_series_equal(series(indexed, "GPR"), series(monthly, "GPR"))
    with pytest.raises(BadInputError, match="country_scale 'percent'"):
        gpr.parse_monthly_bytes(monthly_bytes, country_scale="percent")  # type: ignore[arg-type]


@pytest.mark.shared
def test_historical_series_can_be_left_out(monthly_bytes: bytes) -> None:
    recent = gpr.parse_monthly_bytes(monthly_bytes, historical=False)
    assert not recent["series"].str.startswith("GPRH").any()
    assert recent["series"].nunique() == 3 + 44


@pytest.mark.shared
def test_two_vintages_agree_on_2017_2024(monthly: pd.DataFrame, shared_data: Path) -> None:
    older_bytes = (shared_data / "gpr/vintage_2025-12/data_gpr_export.xls").read_bytes()
    older = gpr.parse_monthly_bytes(older_bytes)

    def window(frame: pd.DataFrame) -> pd.DataFrame:
        inside = frame.loc[frame["period"].between("2017-01", "2024-12")]
        return inside.pivot(index="period", columns="series", values="value")

    new, old = window(monthly), window(older)
    assert new.shape == (96, 94)
    pd.testing.assert_frame_equal(new, old[new.columns])
    # ...while the most recent months are revised between releases (PROVENANCE: 127.32 vs 130.96).
    assert series(older, "GPR")["2025-12"] == pytest.approx(127.32, abs=0.01)
    assert series(monthly, "GPR")["2025-12"] == pytest.approx(130.96, abs=0.01)


# --------------------------------------------------------------------------- the real daily file


@pytest.mark.shared
def test_daily_file(daily_frame: pd.DataFrame) -> None:
    assert daily_frame["DAY"].dtype == np.int64
    assert (daily_frame["date"].dt.strftime("%Y%m%d").astype(int) == daily_frame["DAY"]).all()
    assert len(daily_frame) == 15121
    in_base = daily_frame["date"].dt.year.between(1985, 2019)
    assert daily_frame.loc[in_base, "GPRD"].mean() == pytest.approx(100, abs=1e-3)
    recent = daily_frame.loc[daily_frame["date"] >= "2004-01-01"]
    peak = recent.loc[recent["GPRD"].idxmax()]
    assert peak["date"] == pd.Timestamp("2022-03-01")
    assert peak["GPRD"] == pytest.approx(540.8, abs=0.05)
    assert daily_frame.attrs["units"]["GPRD"] == "index 1985-2019=100"


@pytest.mark.shared
def test_monthly_from_daily(daily_frame: pd.DataFrame) -> None:
    monthly = gpr.monthly_from_daily(daily_frame, vintage="v1")
    gprd = series(monthly, "GPRD")
    march = daily_frame.loc[daily_frame["date"].dt.strftime("%Y-%m") == "2022-03", "GPRD"]
    assert len(march) == 31 and gprd["2022-03"] == pytest.approx(march.mean(), rel=1e-12)
    # The file ends on 2026-05-26: that partial month is dropped by default, kept on request.
    assert gprd.index[-1] == "2026-04"
    partial = gpr.monthly_from_daily(daily_frame, complete_only=False)
    assert series(partial, "GPRD").index[-1] == "2026-05"
    assert set(monthly["series"]) == {"GPRD", "GPRD_ACT", "GPRD_THREAT"}
    assert set(monthly["source"]) == {"gpr_daily"} and set(monthly["vintage"]) == {"v1"}


def test_monthly_from_daily_on_a_hand_made_frame() -> None:
    dates = pd.date_range("2020-02-01", "2020-03-03", freq="D")  # Feb 2020 complete (29 days)
    frame = pd.DataFrame(
        {"date": dates, "GPRD": np.arange(len(dates), dtype=float), "GPRD_ACT": 1.0}
    )
    out = gpr.monthly_from_daily(frame, series=("GPRD", "GPRD_ACT"))
    assert series(out, "GPRD").to_dict() == {"2020-02": pytest.approx(14.0)}
    with pytest.raises(BadInputError, match="GPRD_THREAT"):
        gpr.monthly_from_daily(frame)


# --------------------------------------------------------------------------- edge cases (made here)


def test_units_come_from_the_files_dictionary() -> None:
    content = small_workbook(
        ["2018-01", "2018-02", "2018-03"],
        {"GPR": [90.0, 110.0, None], "GPRT": [1, 2, 3], "GPRA": [1, 2, 3], "GPRC_USA": [2, 4, 3]},
        {
            "GPR": "Recent GPR (Index: 1985:2019=100)",
            "GPRT": "Recent GPR Threats (Index: 1990:2010=100)",
            "GPRC_USA": "Country GPR: Percent of articles (United States)",
        },
    )
    tidy = gpr.parse_monthly_bytes(content)
    units = tidy.groupby("series")["unit"].first()
    assert units["GPRT"] == "index 1990-2010=100"  # read from the label, not assumed
    assert units["GPRA"] == "index 1985-2019=100"  # no label: documented default
    assert units["GPRC_USA"] == "percent of articles"
    # A trailing gap at the end of a series is not padded; GPR stops at 2018-02.
    assert series(tidy, "GPR").index.tolist() == ["2018-01", "2018-02"]


def test_gaps_inside_a_series_stay_visible() -> None:
    content = small_workbook(
        ["2018-01", "2018-02", "2018-03"],
        {"GPR": [90.0, None, 95.0], "GPRT": [1, 2, 3], "GPRA": [1, 2, 3]},
    )
    values = series(gpr.parse_monthly_bytes(content), "GPR")
    assert values.index.tolist() == ["2018-01", "2018-02", "2018-03"]
    assert np.isnan(values["2018-02"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "not a readable .xls"),
        (b"month,GPR\n2020-01-01,100\n", "not a readable .xls"),
    ],
)
def test_bytes_that_are_not_the_workbook(content: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        gpr.read_monthly(content)


def test_workbook_without_gpr_or_with_bad_months() -> None:
    no_gpr = small_workbook(["2018-01"], {"GPRT": [1.0], "GPRA": [1.0]})
    with pytest.raises(SourceError, match="missing column"):
        gpr.read_monthly(no_gpr)
    mid_month = small_workbook(["2018-01"], {"GPR": [1.0], "GPRT": [1], "GPRA": [1]}, day=15)
    with pytest.raises(SourceError, match="not the first of a month"):
        gpr.read_monthly(mid_month)
    twice = small_workbook(["2018-01", "2018-01"], {"GPR": [1, 2], "GPRT": [1, 2], "GPRA": [1, 2]})
    with pytest.raises(SourceError, match="2018-01 appears twice"):
        gpr.read_monthly(twice)


def test_index_scale_leaves_blank_columns_alone() -> None:
    """The demo workbook leaves GPRHC_* blank; rescaling must not refuse the whole file."""
    from reexport.sources import demo

    content = demo.gpr_xls_bytes(demo.generate(demo.DEFAULT_SEED))
    tidy_index = gpr.parse_monthly_bytes(content, country_scale="index")
    usa = tidy_index[tidy_index["series"] == "GPRC_USA"]
    base = usa[(usa["period"] >= "1985-01") & (usa["period"] <= "2019-12")]
    assert base["value"].mean() == pytest.approx(100.0)
    assert not tidy_index["series"].str.startswith("GPRHC_").any()


def test_rescale_refuses_a_series_without_base_observations() -> None:
    wide = pd.DataFrame({"period": ["2020-01", "2020-02"], "GPRC_USA": [1.0, 2.0]})
    with pytest.raises(SourceError, match="GPRC_USA"):
        gpr.rescale_to_index(wide, ["GPRC_USA"], base=("1985-01", "2019-12"))


# --------------------------------------------------------------------------- fetching


@pytest.fixture
def gpr_server(replay_server, monkeypatch, shared_data):  # type: ignore[no-untyped-def]
    monthly = replay_server.route(
        MONTHLY_PATH, file=shared_data / "gpr/data_gpr_export.xls", content_type=XLS
    )
    daily = replay_server.route(
        DAILY_PATH, file=shared_data / "gpr/data_gpr_daily_recent.xls", content_type=XLS
    )
    monkeypatch.setenv("REEXPORT_GPR_URL", replay_server.url(MONTHLY_PATH))
    monkeypatch.setenv("REEXPORT_GPR_DAILY_URL", replay_server.url(DAILY_PATH))
    return monthly, daily


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.shared
def test_fetch_stores_bytes_as_received_and_warm_rerun_is_free(
    data_root: Path, gpr_server, shared_data: Path, replay_server
) -> None:
    monthly_route, _ = gpr_server
    monthly_route.queue(too_many_requests(retry_after=0), unavailable())
    store = RawStore()
    with HttpClient() as client:
        vintage = gpr.fetch(store=store, client=client)
        assert client.calls == 3  # 429, 503, then the file
    original = (shared_data / "gpr/data_gpr_export.xls").read_bytes()
    stored = vintage.read_bytes("data_gpr_export.xls")
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(original).hexdigest()
    assert vintage.source == "gpr" and vintage.files[0]["status"] == 200
    assert vintage.files[0]["url"] == replay_server.url(MONTHLY_PATH)

    with HttpClient() as client:
        again = gpr.fetch(store=store, client=client)
        assert client.calls == 0
    assert again == vintage
    with HttpClient() as client:
        refreshed = gpr.fetch(store=store, client=client, refresh=True)
        assert client.calls == 1
    assert refreshed != vintage and len(store.vintages("gpr")) == 2

    tidy = gpr.parse(vintage)
    assert set(tidy["vintage"]) == {vintage.id}
    assert series(tidy, "GPR")["2022-03"] == pytest.approx(318.95, abs=0.01)


@pytest.mark.shared
def test_html_page_with_status_200_is_refused_and_nothing_is_stored(
    data_root: Path, gpr_server
) -> None:
    monthly_route, _ = gpr_server
    monthly_route.queue(*[html_error_page() for _ in range(3)])
    with pytest.raises(SourceError, match=r"not a readable \.xls.*after 3 attempts"):
        gpr.fetch()
    assert _tree(data_root / "raw") in ([], ["gpr"])


@pytest.mark.shared
def test_html_page_once_then_the_file(data_root: Path, gpr_server) -> None:
    monthly_route, _ = gpr_server
    monthly_route.queue(html_error_page())
    vintage = gpr.fetch()
    assert vintage.names == ["data_gpr_export.xls"]


def test_server_down_exits_3_and_leaves_nothing(
    data_root: Path, replay_server, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    replay_server.route(MONTHLY_PATH, default=Reply(503, "down", content_type="text/plain"))
    monkeypatch.setenv("REEXPORT_GPR_URL", replay_server.url(MONTHLY_PATH))
    monkeypatch.setenv("REEXPORT_HTTP_RETRIES", "2")
    assert main(["fetch", "gpr"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HTTP 503" in err[0] and "Traceback" not in err[0]
    assert _tree(data_root / "raw") in ([], ["gpr"])


def test_offline_with_nothing_stored(data_root: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["fetch", "gpr", "--offline"]) == 3
    err = capsys.readouterr().err
    assert "offline" in err and "no stored gpr vintage" in err


@pytest.mark.shared
def test_cli_summary_cold_then_warm_then_offline(data_root: Path, gpr_server, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["fetch", "gpr"]) == 0
    cold = capsys.readouterr().out
    assert cold.startswith("gpr: vintage ") and "downloaded" in cold and "1985-01.." in cold
    assert "94 series" in cold
    assert main(["fetch", "gpr"]) == 0
    assert "warm: already stored" in capsys.readouterr().out
    assert main(["fetch", "gpr", "--offline"]) == 0
    assert "warm" in capsys.readouterr().out


@pytest.mark.shared
def test_cli_daily(data_root: Path, gpr_server, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["fetch", "gpr", "--daily"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gpr_daily: vintage ") and "3 series" in out and "..2026-04" in out
    vintage = RawStore().latest("gpr_daily")
    assert vintage is not None and vintage.names == ["data_gpr_daily_recent.xls"]
    assert gpr.parse_daily(vintage)["DAY"].iloc[0] == 19850101
    tidy = gpr.parse(vintage)
    assert set(tidy["source"]) == {"gpr_daily"}
    assert main(["fetch", "gpr"]) == 0
    monthly_vintage = RawStore().latest("gpr")
    assert monthly_vintage is not None
    with pytest.raises(BadInputError, match="not gpr_daily"):
        gpr.parse_daily(monthly_vintage)


@pytest.mark.shared
def test_a_truncated_xls_is_fetched_again_then_refused_saying_truncated(
    data_root: Path, gpr_server, shared_data: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A complete transfer of an incomplete file (half the real workbook, matching Content-Length).

    xlrd used to print "WARNING *** File is truncated" three times on stdout and the error
    never said "truncated"; now its log is captured and the one error line says it.
    """
    monthly, _ = gpr_server
    whole = (shared_data / "gpr/data_gpr_export.xls").read_bytes()
    monthly.default = cut_file(whole, len(whole) // 2)
    assert main(["fetch", "gpr"]) == 3
    out, err = capfd.readouterr()
    assert out == "" and "WARNING" not in err
    (line,) = err.strip().splitlines()
    assert "truncated" in line and "nothing stored" in line and "after 3 attempts" in line
    assert RawStore().vintages("gpr") == [] and RawStore().verify() == []
    # A later complete answer is stored as usual.
    monthly.default = Reply(200, whole, content_type=XLS)
    assert main(["fetch", "gpr"]) == 0
    assert RawStore().latest("gpr") is not None
