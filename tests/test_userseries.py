"""User series: validation with one-line errors, byte-for-byte storage, unit handling, properties.

Every CSV here is written by the test; the numbers are invented.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.periods import Month
from reexport.sources import userseries
from reexport.store import RawStore

CUSTOMS = "period,value\n2017-01,412.5\n2017-02,380\n2017-03,455.25\n"


def write(tmp_path: Path, text: str | bytes, name: str = "customs_85051110.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def spec(**options: object) -> userseries.SeriesSpec:
    return userseries.make_spec("x.csv", **options)  # type: ignore[arg-type]


def test_import_stores_bytes_and_parses_tonnes(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CUSTOMS)
    assert main(["import-series", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("userseries: vintage ") and "(stored)" in out
    assert "3 rows, 2017-01..2017-03, 1 partner" in out and "customs_85051110 (t" in out
    vintage = RawStore().latest("userseries")
    assert vintage is not None
    assert vintage.names == ["customs_85051110.csv"]
    assert vintage.read_bytes("customs_85051110.csv") == path.read_bytes()
    assert vintage.request["unit"] == "t" and vintage.request["hs"] == "85051110"
    assert vintage.request["columns"] == {"period": "period", "value": "value", "partner": None}
    frame = userseries.parse(vintage)
    assert list(frame.columns) == userseries.TRADE_COLUMNS
    assert frame["net_weight_t"].tolist() == [412.5, 380.0, 455.25]
    assert frame["value_usd"].isna().all()
    assert set(frame["partner"]) == {"WLD"} and set(frame["reporter"]) == {"CHN"}
    assert set(frame["hs"]) == {"85051110"} and set(frame["flow"]) == {"X"}
    assert set(frame["source"]) == {"userseries"} and set(frame["vintage"]) == {vintage.id}

    # Same file again: warm hit, no second vintage.  An edited file: a new vintage.
    assert main(["import-series", str(path)]) == 0
    assert "warm: this file is already stored" in capsys.readouterr().out
    assert len(RawStore().vintages("userseries")) == 1
    write(tmp_path, CUSTOMS + "2017-04,1\n")
    assert main(["import-series", str(path)]) == 0
    assert len(RawStore().vintages("userseries")) == 2


def test_kg_usd_partner_column_and_semicolons(data_root: Path, tmp_path: Path) -> None:
    kg = write(tmp_path, "month;partner;kg\n201701;usa;2500\n2017m2;JPN;1000\n", "kg.csv")
    options = ["--unit", "kg", "--period-column", "month", "--value-column", "kg"]
    assert main(["import-series", str(kg), *options, "--partner-column", "partner"]) == 0
    frame = userseries.parse(RawStore().latest("userseries"))  # type: ignore[arg-type]
    assert frame[["period", "partner", "net_weight_t"]].values.tolist() == [
        ["2017-02", "JPN", 1.0],
        ["2017-01", "USA", 2.5],
    ]
    usd = write(tmp_path, "period,value\n2020-01-01,1e6\n", "usd.csv")
    assert main(["import-series", str(usd), "--unit", "usd", "--name", "customs_usd"]) == 0
    vintage = RawStore().latest("userseries")
    assert vintage is not None and vintage.request["name"] == "customs_usd"
    frame = userseries.parse(vintage)
    assert frame["value_usd"].tolist() == [1e6] and frame["net_weight_t"].isna().all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("period,value\n2017-13,1\n", r"line 2: period '2017-13' has month 13"),
        ("period,value\n2017-01,1\nJan 2017,2\n", r"line 3: period 'Jan 2017' is not a month"),
        ("period,value\n2017-01,-4\n", r"line 2: value '-4' is negative"),
        ("period,value\n2017-01,abc\n", r"line 2: value 'abc' is not a plain number"),
        ("period,value\n2017-01,\n", r"line 2: empty value"),
        ("period,value\n2017-01,1e999\n", r"line 2: value '1e999' is not finite"),
        (
            "period,value\n2017-01,1\n201701,2\n",
            r"line 3: period 2017-01 partner WLD repeats line 2",
        ),
        ("date,value\n2017-01,1\n", r"no column 'period' in the header \(it has date, value\)"),
        ("period,value,value\n2017-01,1,2\n", r"column 'value' appears twice"),
        ("period,value\n", r"no data rows"),
        ("", r"empty file"),
        (b"period,value\n2017-01,\xff\n", r"not UTF-8"),
    ],
)
def test_bad_files_exit_2_with_one_line_naming_file_line_and_value(
    data_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str | bytes,
    message: str,
) -> None:
    path = write(tmp_path, text, "bad.csv")
    assert main(["import-series", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert str(path) in err or "bad.csv" in err
    assert re.search(message, err), err
    assert list((data_root / "raw").rglob("*")) == []  # nothing half-written


def test_bad_partner_and_bad_options(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "period,value,partner\n2017-01,1,US\n")
    assert main(["import-series", str(path), "--partner-column", "partner"]) == 2
    assert "line 2: partner 'US' is not an ISO3 code" in capsys.readouterr().err
    for options, message in (
        (["--unit", "tonnes"], "--unit 'tonnes' is not one of t, kg, USD"),
        (["--hs", "8505.11"], "--hs '8505.11'"),
        (["--reporter", "China"], "--reporter 'China'"),
        (["--flow", "E"], "--flow 'E'"),
        (["--name", "a b"], "--name 'a b'"),
        (["--value-column", "period"], "same column twice"),
    ):
        assert main(["import-series", str(path), *options]) == 2
        assert message in capsys.readouterr().err
    assert main(["import-series", str(tmp_path / "missing.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert list((data_root / "raw").rglob("*")) == []


def test_duplicates_are_per_partner(tmp_path: Path) -> None:
    rows = userseries.read_rows(
        b"period,value,partner\n2017-01,1,USA\n2017-01,2,JPN\n",
        spec(partner_column="partner"),
        origin="f.csv",
    )
    assert rows["partner"].tolist() == ["JPN", "USA"]
    with pytest.raises(BadInputError, match="f.csv line 3: period 2017-01 partner USA repeats"):
        userseries.read_rows(
            b"period,value,partner\n2017-01,1,USA\n2017-01,2,usa\n",
            spec(partner_column="partner"),
            origin="f.csv",
        )


def test_awkward_file_names_are_stored_under_a_safe_name(data_root: Path, tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOMS, "China customs (2017).csv")
    vintage, warm, _ = userseries.import_series(path, userseries.make_spec(path, name="cc"))
    assert not warm and vintage.names == ["China_customs__2017_.csv"]
    assert vintage.read_bytes(vintage.names[0]) == path.read_bytes()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=30,
    ),
    # Up to 30 months from a start no later than 2024-01: never after the current month.
    start=st.integers(1990 * 12, 2024 * 12).map(Month.from_ordinal),
    unit=st.sampled_from(userseries.UNITS),
    style=st.sampled_from(["{y:04d}-{m:02d}", "{y:04d}{m:02d}", "{y:04d}m{m}", "{y:04d}/{m:02d}"]),
)
def test_property_valid_series_round_trip(
    values: list[float], start: Month, unit: str, style: str
) -> None:
    months = [start.shift(i) for i in range(len(values))]
    lines = ["period,value"] + [
        f"{style.format(y=m.year, m=m.month)},{v!r}" for m, v in zip(months, values, strict=True)
    ]
    the_spec = spec(unit=unit)
    rows = userseries.read_rows("\n".join(lines).encode(), the_spec, origin="p.csv")
    frame = userseries.to_trade_frame(rows, the_spec)
    assert frame["period"].tolist() == [str(m) for m in months]
    measure = frame["value_usd"] if unit == "USD" else frame["net_weight_t"]
    other = frame["net_weight_t"] if unit == "USD" else frame["value_usd"]
    scale = 1000.0 if unit == "kg" else 1.0
    for got, want in zip(measure, values, strict=True):
        assert got == want / scale  # kg are divided by 1000, nothing else is touched
    assert other.isna().all()


@settings(max_examples=40, deadline=None)
@given(
    good=st.integers(0, 10),
    bad=st.one_of(
        st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False).map(repr),
        st.text(alphabet="abcxyz,;%$ ", min_size=1, max_size=6).filter(lambda s: s.strip()),
    ),
)
def test_property_one_bad_value_is_named_with_its_line(good: int, bad: str) -> None:
    lines = ["period,value"] + [f"{Month(2000, 1).shift(i)},1" for i in range(good)]
    lines.append(f'{Month(2000, 1).shift(good)},"{bad}"')
    with pytest.raises(BadInputError) as caught:
        userseries.read_rows("\n".join(lines).encode(), spec(), origin="p.csv")
    message = str(caught.value)
    assert f"p.csv line {good + 2}:" in message and "\n" not in message
