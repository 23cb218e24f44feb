"""Processed tables and study frames: pure builders on hand-made tidy frames, and `reexport build`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from publisher_bodies import as_published

from reexport import panel
from reexport.cli import main
from reexport.errors import BadInputError
from reexport.sources import comtrade, demo
from reexport.store import RawStore

MONTHS = panel.full_months("2019-01", "2020-12")


#: The frames of analyses/porcher2025/study.toml, as the pure frame builders take them.
WORLD_VALUES = {"exports_t": "net_weight_t", "exports_usd": "value_usd"}


def world_frame(
    trade: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    months: list[str],
    export_series: str,
    export_rows: pd.Series,
    report: panel.QualityReport | None = None,
) -> pd.DataFrame:
    """The Porcher study's world frame: by period, its indices, a series column."""
    return panel.period_frame(
        trade,
        indices,
        months=months,
        rows=export_rows,
        values=WORLD_VALUES,
        indices_required=["GPR"],
        indices_optional=["GPRT", "GPRA", "GPRC_*", "EXCHUS", "INDPRO"],
        series_column="export_series",
        series_label=export_series,
        name="world",
        report=report,
    )


def destination_frame(
    trade: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    months: list[str],
    destination_rows: pd.Series,
    report: panel.QualityReport | None = None,
) -> pd.DataFrame:
    """The Porcher study's destination frame: by period and partner, GPRC_<partner>."""
    return panel.partner_frame(
        trade,
        indices,
        months=months,
        rows=destination_rows,
        values=WORLD_VALUES,
        partner_index=("gpr_country", "GPRC_{partner}"),
        indices_required=["GPR"],
        implied_zeros=True,
        name="destination",
        report=report,
    )


def trade_row(period: str, partner: str = "WLD", **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "period": period,
        "reporter": "CHN",
        "partner": partner,
        "flow": "X",
        "hs": "850511",
        "hs_edition": "H5",
        "value_usd": 1000.0,
        "net_weight_t": 10.0,
        "qty": 10_000.0,
        "qty_unit": "kg",
        "is_estimated": False,
        "source": "comtrade",
        "vintage": "v1",
    }
    row.update(overrides)
    return row


def index_rows(series: str, months: list[str], values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": months,
            "series": series,
            "value": values,
            "unit": "index 1985-2019=100",
            "source": "gpr",
            "vintage": "g1",
        }
    )


def world_rows(trade: pd.DataFrame) -> pd.Series:
    return (trade["source"] == "comtrade") & (trade["partner"] == "WLD")


# --------------------------------------------------------------------------- pure builders


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    present=st.sets(st.sampled_from(MONTHS), max_size=len(MONTHS)),
    repeats=st.sets(st.sampled_from(MONTHS), max_size=5),
    seed=st.integers(0, 2**16),
)
def test_no_row_lost_or_duplicated_and_missing_months_reported(
    present: set[str], repeats: set[str], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    values = {m: float(rng.integers(1, 10_000)) for m in present}
    rows = [trade_row(m, net_weight_t=values[m]) for m in present]
    # Exact repeats of some months: identical duplicates are reported, and their value is kept.
    rows += [trade_row(m, net_weight_t=values[m]) for m in repeats if m in present]
    order = rng.permutation(len(rows))  # row order must not matter
    frame = (
        pd.DataFrame([rows[i] for i in order])
        if rows
        else pd.DataFrame(columns=panel.TRADE_COLUMNS)
    )
    trade = panel.combine_trade([frame])
    assert len(trade) == len(rows)
    assert sorted(trade["period"]) == sorted(r["period"] for r in rows)

    report = panel.trade_quality(trade)
    gpr = index_rows("GPR", MONTHS, list(np.linspace(50, 150, len(MONTHS))))
    world = world_frame(
        trade,
        panel.combine_indices([gpr]),
        months=MONTHS,
        export_series="comtrade_850511",
        export_rows=world_rows(trade),
        report=report,
    )
    assert list(world["period"]) == MONTHS
    assert report.missing_months["world"] == [m for m in MONTHS if m not in present]
    for period, exported in zip(world["period"], world["exports_t"], strict=True):
        if period in present:
            assert exported == values[period]
        else:
            assert math.isnan(exported)
    duplicated = {d["key"]["period"] for d in report.duplicates}
    assert duplicated == {m for m in repeats if m in present}
    assert not any(d["conflicting"] for d in report.duplicates)
    assert list(world["month"]) == [int(m[5:]) for m in MONTHS]
    assert list(world["year"]) == [int(m[:4]) for m in MONTHS]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.sets(
        st.tuples(st.sampled_from(MONTHS[:12]), st.sampled_from(["USA", "DEU", "SGP"])),
        max_size=36,
    ),
    reported=st.sets(st.sampled_from(MONTHS[:12]), max_size=12),
)
def test_destination_cells_are_value_zero_or_missing_by_rule(
    cells: set[tuple[str, str]], reported: set[str]
) -> None:
    months = MONTHS[:12]
    rows = [trade_row(m, p, net_weight_t=float(i + 1)) for i, (m, p) in enumerate(sorted(cells))]
    rows += [trade_row(m, "WLD", net_weight_t=1000.0) for m in sorted(reported)]
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=panel.TRADE_COLUMNS)
    trade = panel.combine_trade([frame])
    indices = panel.combine_indices(
        [index_rows(f"GPRC_{p}", months, [1.0] * 12) for p in ("USA", "DEU")]
        + [index_rows("GPR", months, [100.0] * 12)]
    )
    report = panel.QualityReport()
    dest = destination_frame(
        trade, indices, months=months, destination_rows=trade["source"] == "comtrade", report=report
    )
    kept = sorted({p for _m, p in cells} & {"USA", "DEU"})
    assert len(dest) == 12 * len(kept)
    assert list(zip(dest["partner"], dest["period"], strict=True)) == [
        (p, m) for p in kept for m in months
    ]
    # Without any World row, the months with any partner row count as reported.
    marked = reported if reported else {m for m, _p in cells}
    values = {(m, p): float(i + 1) for i, (m, p) in enumerate(sorted(cells))}
    zeros = 0
    for partner, period, exported in zip(
        dest["partner"], dest["period"], dest["exports_t"], strict=True
    ):
        if (period, partner) in values:
            assert exported == values[(period, partner)]
        elif period in marked:
            assert exported == 0.0
            zeros += 1
        else:
            assert math.isnan(exported)
    assert report.implied_zero_flows == zeros
    assert report.missing_months["destination"] == [m for m in months if m not in marked]
    assert report.dropped_partners == (["SGP"] if any(p == "SGP" for _m, p in cells) else [])


def test_conflicting_duplicates_become_missing_and_are_reported() -> None:
    trade = panel.combine_trade(
        [
            pd.DataFrame(
                [
                    trade_row("2019-01", net_weight_t=5.0),
                    trade_row("2019-02", net_weight_t=6.0),
                    trade_row("2019-02", net_weight_t=7.0),
                ]
            )
        ]
    )
    report = panel.trade_quality(trade)
    world = world_frame(
        trade,
        panel.combine_indices([index_rows("GPR", MONTHS[:2], [1.0, 2.0])]),
        months=MONTHS[:2],
        export_series="comtrade_850511",
        export_rows=world_rows(trade),
        report=report,
    )
    assert world["exports_t"].iloc[0] == 5.0 and math.isnan(world["exports_t"].iloc[1])
    assert report.duplicates == [
        {
            "key": {
                "period": "2019-02",
                "reporter": "CHN",
                "partner": "WLD",
                "flow": "X",
                "hs": "850511",
                "source": "comtrade",
                "vintage": "v1",
            },
            "rows": 2,
            "conflicting": True,
            "resolution": panel.RESOLUTION_CONFLICTING,
        }
    ]
    assert report.missing_months["world"] == ["2019-02"]


def test_negative_quantities_unit_and_edition_changes_are_reported_not_fixed() -> None:
    trade = panel.combine_trade(
        [
            pd.DataFrame(
                [
                    trade_row("2019-01"),
                    trade_row("2019-02", net_weight_t=-3.0),
                    trade_row("2019-03", qty_unit="t", hs_edition="H6"),
                    trade_row("2019-03", partner="USA", hs_edition="H5"),
                ]
            )
        ]
    )
    report = panel.trade_quality(trade)
    assert [(n["column"], n["value"]) for n in report.negative_quantities] == [
        ("net_weight_t", -3.0)
    ]
    assert [(c["period"], c["from"], c["to"]) for c in report.unit_changes] == [
        ("2019-03", "kg", "t")
    ]
    editions = [(c["period"], c["from"], c["mixed"]) for c in report.hs_edition_changes]
    assert ("2019-03", "H5+H6", True) in editions
    world = world_frame(
        trade,
        panel.combine_indices([index_rows("GPR", MONTHS[:3], [1.0, 2.0, 3.0])]),
        months=MONTHS[:3],
        export_series="comtrade_850511",
        export_rows=world_rows(trade),
        report=report,
    )
    assert world["exports_t"].tolist() == [10.0, -3.0, 10.0]
    assert any("negative net_weight_t" in line for line in report.problems())


def test_index_units_changes_and_gaps_are_reported() -> None:
    gpr = index_rows("GPR", MONTHS[:4], [1.0, 2.0, 3.0, 4.0])
    gpr.loc[3, "unit"] = "percent of articles"
    gaps = index_rows("GPRC_USA", [MONTHS[0], MONTHS[2]], [2.0, 3.0])
    indices = panel.combine_indices([gaps, gpr])
    report = panel.index_quality(indices)
    assert [(c["series"]["series"], c["period"]) for c in report.unit_changes] == [
        ("GPR", MONTHS[3])
    ]
    trade = panel.combine_trade([pd.DataFrame([trade_row(m) for m in MONTHS[:4]])])
    world = world_frame(
        trade,
        indices,
        months=MONTHS[:4],
        export_series="x",
        export_rows=world_rows(trade),
        report=report,
    )
    assert report.missing_months["GPRC_USA"] == [MONTHS[1], MONTHS[3]]
    assert world["GPRC_USA"].isna().tolist() == [False, True, False, True]


def test_conflicting_index_duplicates_become_missing() -> None:
    gpr = index_rows(
        "GPR", [MONTHS[0], MONTHS[1], MONTHS[1], MONTHS[2], MONTHS[2]], [1, 2, 9, 3, 3]
    )
    indices = panel.combine_indices([gpr])
    assert len(indices) == 5
    report = panel.index_quality(indices)
    assert [(d["key"]["period"], d["conflicting"]) for d in report.duplicates] == [
        (MONTHS[1], True),
        (MONTHS[2], False),
    ]
    trade = panel.combine_trade([pd.DataFrame([trade_row(m) for m in MONTHS[:3]])])
    world = world_frame(
        trade, indices, months=MONTHS[:3], export_series="x", export_rows=world_rows(trade)
    )
    assert world["GPR"].iloc[0] == 1.0 and math.isnan(world["GPR"].iloc[1])
    assert world["GPR"].iloc[2] == 3.0


def test_study_months_must_be_consecutive() -> None:
    trade = panel.combine_trade([pd.DataFrame([trade_row("2019-01")])])
    with pytest.raises(BadInputError, match="consecutive"):
        world_frame(
            trade,
            panel.combine_indices([index_rows("GPR", ["2019-01"], [1.0])]),
            months=["2019-01", "2019-03"],
            export_series="x",
            export_rows=world_rows(trade),
        )


def test_bad_period_in_a_tidy_frame_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="2019-13"):
        panel.combine_trade([pd.DataFrame([trade_row("2019-13")])])


def test_destination_zero_flows_missing_months_and_dropped_partners() -> None:
    months = MONTHS[:3]
    rows = [
        trade_row("2019-01", "WLD", net_weight_t=30.0),
        trade_row("2019-01", "USA", net_weight_t=20.0),
        trade_row("2019-01", "SGP", net_weight_t=10.0),
        # 2019-02: reported (World row present) but nothing to the USA: an implied zero.
        trade_row("2019-02", "WLD", net_weight_t=5.0),
        trade_row("2019-02", "SGP", net_weight_t=5.0),
        # 2019-03: not reported at all: missing for every partner.
        trade_row("2019-01", "X1", net_weight_t=1.0),
    ]
    trade = panel.combine_trade([pd.DataFrame(rows)])
    indices = panel.combine_indices(
        [
            index_rows("GPR", months, [100.0, 110.0, 120.0]),
            index_rows("GPRC_USA", months, [2.0, 2.5, 3.0]),
        ]
    )
    report = panel.QualityReport()
    dest = destination_frame(
        trade,
        indices,
        months=months,
        destination_rows=trade["source"] == "comtrade",
        report=report,
    )
    assert list(dest.columns) == [
        "period",
        "partner",
        "exports_t",
        "exports_usd",
        "gpr_country",
        "GPR",
        "month",
        "year",
    ]
    assert dest["partner"].unique().tolist() == ["USA"]
    assert dest["exports_t"].iloc[:2].tolist() == [20.0, 0.0] and math.isnan(
        dest["exports_t"].iloc[2]
    )
    assert dest["gpr_country"].tolist() == [2.0, 2.5, 3.0]
    assert report.dropped_partners == ["SGP"]
    assert report.non_country_partners == ["X1"]
    assert report.implied_zero_flows == 1
    assert report.missing_months["destination"] == ["2019-03"]


# --------------------------------------------------------------------------- reexport build


@pytest.fixture
def demo_store(data_root: Path) -> RawStore:
    store = RawStore()
    demo.write_demo(demo.DEFAULT_SEED, store)
    return store


def test_build_from_demo(demo_store: RawStore, data_root: Path) -> None:
    result = panel.build("demo")
    out = data_root / "processed" / "porcher2025"
    world = pd.read_csv(out / "world.csv", dtype={"period": str})
    assert len(world) == 96
    assert world["period"].tolist() == panel.full_months("2017-01", "2024-12")
    assert set(world["export_series"]) == {"userseries:demo_china_customs_85051110"}
    draw = demo.generate(demo.DEFAULT_SEED)
    assert np.allclose(world["exports_t"], draw.customs_t.to_numpy())
    # No lag is computed here: each row carries the same month's GPR.
    assert np.allclose(world["GPR"], draw.gpr["GPR"].loc["2017-01":"2024-12"].to_numpy())
    assert world.loc[world["period"] == "2022-03", "GPR"].item() == pytest.approx(
        draw.gpr.loc["2022-03", "GPR"], rel=1e-11
    )
    for column in ("GPRT", "GPRA", "GPRC_USA", "GPRC_AUS", "GPRC_CHN", "EXCHUS", "INDPRO"):
        assert world[column].notna().all(), column
    assert world["month"].tolist()[:13] == [*range(1, 13), 1]

    dest = pd.read_csv(out / "destination.csv", dtype={"period": str})
    with_gprc = sorted(p[0] for p in demo.PARTNERS if p[0] in demo.GPR_COUNTRIES)
    assert sorted(dest["partner"].unique()) == with_gprc
    assert len(dest) == 96 * len(with_gprc)
    assert (dest["exports_t"] == 0).sum() == result.quality.implied_zero_flows > 0
    assert dest["exports_t"].notna().all()

    report = json.loads((out / "build_report.json").read_text())
    assert report["synthetic"] is True and report["kind"] == "demo"
    assert report["months"] == {"start": "2017-01", "end": "2024-12", "count": 96}
    assert report["quality"]["dropped_partners"] == ["ARE", "AUT", "CZE", "ROU", "SGP"]
    assert report["quality"]["missing_months"]["world"] == []
    assert {c["to"] for c in report["quality"]["hs_edition_changes"]} == {"H6"}
    assert all(v["synthetic"] for v in report["vintages"].values())
    for name in ("trade_flows", "indices", "world", "destination"):
        meta = json.loads((out / f"{name}.meta.json").read_text())
        assert meta["synthetic"] is True
        assert meta["raw_sha256"] == report["raw_sha256"]
        assert "SYNTHETIC" in meta["note"]
    # The content itself says it is synthetic, not only the sidecars.
    for name in ("trade_flows", "indices", "world", "destination"):
        table = pd.read_csv(out / f"{name}.csv", dtype={"period": str})
        assert table.columns[-1] == "synthetic", name
        assert table["synthetic"].dtype == bool and table["synthetic"].all(), name
    trade = pd.read_csv(out / "trade_flows.csv", dtype=str)
    assert len(trade) == 96 + 96 + len(comtrade.parse(demo_store.vintages("comtrade")[1]))


def test_two_builds_are_byte_identical(demo_store: RawStore, data_root: Path) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo")
    first = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    panel.build("auto")
    second = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert first == second
    assert len(first) == 9


def test_build_cli_prints_a_loud_synthetic_line(
    demo_store: RawStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SYNTHETIC DEMO DATA")
    assert "96 months" in out


def test_build_country_scale_index_rescales_gprc_and_says_so(
    demo_store: RawStore, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reexport.sources import gpr

    out = data_root / "processed" / "porcher2025"
    assert main(["build", "--country-scale", "index"]) == 0
    assert "GPRC_* country series: index, 1985-2019 mean = 100" in capsys.readouterr().out
    report = json.loads((out / "build_report.json").read_text())
    assert report["country_scale"] == "index"
    for name in ("trade_flows", "indices", "world", "destination"):
        assert json.loads((out / f"{name}.meta.json").read_text())["country_scale"] == "index"
    indices = pd.read_csv(out / "indices.csv", dtype={"period": str})
    usa = indices[indices["series"] == "GPRC_USA"].set_index("period")
    assert usa.loc["1985-01":"2019-12", "value"].mean() == pytest.approx(100.0, rel=1e-9)
    assert set(usa["unit"]) == {gpr.RECENT_INDEX_UNIT}
    # The study frame carries the rescaled series, the same as gpr.parse(country_scale="index").
    vintage = demo_store.latest("gpr", synthetic=True)
    assert vintage is not None
    expected = gpr.parse(vintage, country_scale="index", historical=False)
    expected = expected[expected["series"] == "GPRC_CHN"].set_index("period")["value"]
    world = pd.read_csv(out / "world.csv", dtype={"period": str}).set_index("period")
    assert np.allclose(world["GPRC_CHN"], expected.loc[world.index], rtol=1e-11)
    # The default is the published share, and says so too; the aggregate GPR is unchanged.
    shares = panel.build("demo")
    assert np.allclose(shares.frames["world"]["GPR"], world["GPR"].to_numpy(), rtol=1e-11)
    assert shares.report["country_scale"] == "share"
    assert not np.allclose(shares.frames["world"]["GPRC_CHN"], world["GPRC_CHN"].to_numpy())
    assert main(["build", "--country-scale", "percent"]) == 2
    assert "percent" in capsys.readouterr().err


def test_export_series_choice_is_printed_recorded_and_changeable(
    demo_store: RawStore, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draw = demo.generate(demo.DEFAULT_SEED)
    customs = "userseries:demo_china_customs_85051110"
    # auto: the CN 85051110 user series (unchanged rule), covering the whole window.
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert f"export series {customs} (userseries/demo-" in out
    assert "--export-series auto): values in 96 months, 2017-01..2024-12" in out
    assert "WARNING" not in out
    report = json.loads((data_root / "processed" / "porcher2025" / "build_report.json").read_text())
    assert report["export"]["series"] == customs and report["export"]["choice"] == "auto"
    assert report["export"]["missing_in_window"] == []
    assert report["export"]["window"] == {"start": "2017-01", "end": "2024-12", "months": 96}
    # comtrade: HS 850511 world exports instead.
    assert main(["build", "--export-series", "comtrade"]) == 0
    assert "export series comtrade_850511 (comtrade/demo-" in capsys.readouterr().out
    world = pd.read_csv(
        data_root / "processed" / "porcher2025" / "world.csv", dtype={"period": str}
    )
    assert set(world["export_series"]) == {"comtrade_850511"}
    assert np.allclose(world["exports_t"], draw.world["net_weight_kg"].to_numpy() / 1000)
    # userseries and userseries:NAME name the customs series.
    for choice in ("userseries", customs):
        result = panel.build("demo", export_series=choice)
        assert result.inputs.export_series == customs
        assert result.report["export"]["choice"] == choice
    for choice, message in (
        ("userseries:nope", "no demo user series named 'nope'"),
        ("bogus", "--export-series 'bogus': expected auto, comtrade"),
        ("comtrade:x", "expected auto"),
    ):
        assert main(["build", "--export-series", choice]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_a_short_export_series_reports_the_missing_window_months(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case: a 16-month user series shrank the study frames without a word."""
    from reexport.sources import userseries

    store = RawStore()
    _real_gpr_vintage(store)
    covered = panel.full_months("2019-01", "2020-04")
    series_file = tmp_path / "short_customs.csv"
    series_file.write_text(
        "period,value\n" + "".join(f"{m},{100 + i}\n" for i, m in enumerate(covered))
    )
    userseries.import_series(series_file, userseries.make_spec(series_file), store=store)
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "export series userseries:short_customs (userseries/" in out
    assert "values in 16 months, 2019-01..2020-04" in out
    assert "lacks 80 of the 96 months of 2017-01..2024-12: 2017-01, 2017-02" in out
    assert "the study frames span 2019-01..2020-04" in out
    report = json.loads((data_root / "processed" / "porcher2025" / "build_report.json").read_text())
    window = panel.full_months("2017-01", "2024-12")
    assert report["export"]["missing_in_window"] == [m for m in window if m not in covered]
    assert report["export"]["months_with_value"] == 16
    for name in ("trade_flows", "indices", "world"):
        table = pd.read_csv(
            data_root / "processed" / "porcher2025" / f"{name}.csv", dtype={"period": str}
        )
        assert table["synthetic"].dtype == bool and not table["synthetic"].any(), name
    # A user series by destination cannot be the world export series.
    by_partner = tmp_path / "by_partner.csv"
    by_partner.write_text("period,partner,value\n2019-01,USA,1\n2019-01,JPN,2\n")
    spec = userseries.make_spec(by_partner, partner_column="partner")
    userseries.import_series(by_partner, spec, store=store)
    assert main(["build", "--export-series", "userseries:by_partner"]) == 2
    assert "has a partner column" in capsys.readouterr().err


def _real_gpr_vintage(store: RawStore) -> None:
    """A non-synthetic GPR vintage (demo bytes; only its real/demo flag matters here)."""
    body = as_published(demo.gpr_xls_bytes(demo.generate(2)))
    with store.writer("gpr", {"dataset": "gpr", "test": "mix"}) as writer:
        writer.add("data_gpr_export.xls", body)


def test_mixing_real_and_demo_is_refused(
    demo_store: RawStore, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _real_gpr_vintage(demo_store)
    with pytest.raises(BadInputError, match="never mix"):
        panel.build("auto")
    assert main(["build"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never mix" in err
    assert main(["build", "--vintage", "real"]) == 2
    assert "no real Comtrade CHN HS 850511" in capsys.readouterr().err
    assert not (data_root / "processed" / "porcher2025").exists()
    # Asking for the demo explicitly still works: it uses demo vintages only.
    assert panel.build("demo").inputs.gpr.synthetic


def test_build_with_nothing_stored_is_bad_input(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build"]) == 2
    assert "reexport demo" in capsys.readouterr().err
    assert main(["build", "--vintage", "bogus"]) == 2


def test_a_gap_in_months_is_reported_not_filled(data_root: Path) -> None:
    """A Comtrade world series lacking 2019-05: the row stays, empty, and the report says so."""
    store = RawStore()
    vintages = demo.write_demo(4, store)
    draw = demo.generate(4)
    request = dict(vintages["comtrade_world"].request, test="gap")
    with store.writer("comtrade", request, synthetic=True, vintage_id="demo-gap") as writer:
        for name, body, params in demo.comtrade_bodies(draw, "world"):
            envelope = json.loads(body)
            envelope["data"] = [r for r in envelope["data"] if r["period"] != "201905"]
            envelope["count"] = len(envelope["data"])
            writer.add(name, json.dumps(envelope).encode(), params=params)
    result = panel.build("demo", export_series="comtrade")
    world = result.frames["world"]
    assert result.inputs.export_series == "comtrade_850511"
    assert len(world) == 96
    gap = world.loc[world["period"] == "2019-05"]
    assert gap["exports_t"].isna().item() and gap["GPR"].notna().item()
    assert result.report["quality"]["missing_months"]["world"] == ["2019-05"]


def test_exact_duplicate_comtrade_records_reach_the_build_report(data_root: Path) -> None:
    """A Comtrade body repeating 2019-05's record: one value in the study frame, and the
    build report lists the duplicate and what the build did with it."""
    store = RawStore()
    vintages = demo.write_demo(4, store)
    draw = demo.generate(4)
    request = dict(vintages["comtrade_world"].request, test="duplicate")
    with store.writer("comtrade", request, synthetic=True, vintage_id="demo-dup") as writer:
        for name, body, params in demo.comtrade_bodies(draw, "world"):
            envelope = json.loads(body)
            envelope["data"] += [r for r in envelope["data"] if r["period"] == "201905"]
            envelope["count"] = len(envelope["data"])
            writer.add(name, json.dumps(envelope).encode(), params=params)
    result = panel.build("demo", export_series="comtrade")
    assert result.inputs.export.id == "demo-dup"
    world = result.frames["world"].set_index("period")
    expected = draw.world.loc[pd.Period("2019-05", "M"), "net_weight_kg"] / 1000
    assert world.loc["2019-05", "exports_t"] == pytest.approx(expected, rel=1e-12)
    report = json.loads((data_root / "processed" / "porcher2025" / "build_report.json").read_text())
    assert report["quality"]["duplicates"] == [
        {
            "key": {
                "period": "2019-05",
                "reporter": "CHN",
                "partner": "WLD",
                "flow": "X",
                "hs": "850511",
                "source": "comtrade",
                "vintage": "demo-dup",
            },
            "rows": 2,
            "conflicting": False,
            "resolution": panel.RESOLUTION_IDENTICAL,
        }
    ]
    assert report["quality"]["missing_months"]["world"] == []
    assert any("duplicate rows (2, identical)" in line for line in panel.summary_lines(result))


def test_a_failed_build_writes_nothing(demo_store: RawStore, data_root: Path) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # Corrupt one raw file: parsing fails on its sha256 check, before any write.
    gpr_vintage = demo_store.latest("gpr", synthetic=True)
    assert gpr_vintage is not None
    target = gpr_vintage.path / gpr_vintage.names[0]
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-10])
    assert main(["build"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.shared
def test_real_build_from_published_figures_keeps_gaps(
    shared_data: Path,
    published_monthly_85051110: pd.DataFrame,
    data_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Real inputs: the publisher's GPR file and the published monthly CN 85051110 figures.

    Only 26 months of China-customs exports were published in the news quoted in
    ../shared/data/repm_published_figures.csv; the other months must stay empty rows
    and be listed as missing, never interpolated.
    """
    from reexport.sources import userseries

    store = RawStore()
    gpr_file = shared_data / "gpr" / "data_gpr_export.xls"
    with store.writer("gpr", {"dataset": "gpr", "file": gpr_file.name}) as writer:
        writer.add(gpr_file.name, gpr_file.read_bytes())
    monthly = published_monthly_85051110
    assert not monthly["period"].duplicated().any()
    series_file = tmp_path / "published_monthly.csv"
    monthly.to_csv(series_file, index=False)
    userseries.import_series(series_file, userseries.make_spec(series_file), store=store)

    processed = data_root / "processed" / "porcher2025"
    processed.mkdir(parents=True)
    # A destination frame left by an earlier build must not sit beside the new tables.
    (processed / "destination.csv").write_text("stale\n")
    (processed / "destination.meta.json").write_text("{}\n")
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" not in out and "build porcher2025 (real)" in out
    world = pd.read_csv(processed / "world.csv", dtype={"period": str})
    months = panel.full_months(monthly["period"].min(), monthly["period"].max())
    assert world["period"].tolist() == months
    assert world["exports_t"].notna().sum() == len(monthly)
    assert world.set_index("period").loc["2017-12", "exports_t"] == 2910
    report = json.loads((processed / "build_report.json").read_text())
    assert report["synthetic"] is False
    assert report["export_series"] == "userseries:published_monthly"
    assert len(report["quality"]["missing_months"]["world"]) == len(months) - len(monthly)
    # Checked values of the publisher's file (../shared/data/gpr/PROVENANCE.md).
    assert world.set_index("period").loc["2022-03", "GPR"] == pytest.approx(319.0, abs=0.05)
    window = world[(world["period"] >= "2017-01") & (world["period"] <= "2024-12")]
    assert window["GPRC_USA"].mean() == pytest.approx(2.56, abs=0.005)
    assert window["GPR"].mean() == pytest.approx(108.7, abs=0.05)
    assert not (processed / "destination.csv").exists()
    assert not (processed / "destination.meta.json").exists()
    assert json.loads((processed / "world.meta.json").read_text())["synthetic"] is False


def test_a_demo_build_never_combines_seeds(data_root: Path) -> None:
    """Seed 5's set lacks its user series (as an interrupted `reexport demo` leaves it): the
    build uses seed 3's complete set whole -- never seed 5's GPR with seed 3's series, and
    never seed 5's partial set -- and says why."""
    store = RawStore()
    demo.write_demo(3, store)
    demo.write_demo(5, store)
    for vintage in store.vintages("userseries"):
        if vintage.id == "demo-5":
            for entry in vintage.path.iterdir():
                entry.chmod(0o644)
                entry.unlink()
            vintage.path.rmdir()
    result = panel.build("demo")
    seeds = {v.request["demo"]["seed"] for v in result.inputs.roles().values()}
    assert seeds == {3}
    assert result.inputs.export_series == "userseries:demo_china_customs_85051110"
    assert result.inputs.notes == (
        "the demo set of seed 5 is incomplete (no user series preferred by frame world: an interrupted "
        "`reexport demo`), so the complete set of seed 3 is used; `reexport demo --seed 5` "
        "completes it",
    )
    assert any("seed 5 is incomplete" in line for line in panel.summary_lines(result))
    # The next `reexport demo --seed 5` completes the set, and the build uses it.
    demo.write_demo(5, store)
    result = panel.build("demo")
    assert {v.request["demo"]["seed"] for v in result.inputs.roles().values()} == {5}
    assert result.inputs.notes == ()


def test_a_by_destination_user_series_is_never_silently_ignored(
    demo_store: RawStore, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 8 item 10: a user series with a partner column beside the demo vintages."""
    from reexport.sources import userseries

    by_partner = tmp_path / "by_partner.csv"
    by_partner.write_text("period,partner,value\n2019-01,USA,1\n2019-01,JPN,2\n")
    assert main(["import-series", str(by_partner), "--partner-column", "partner"]) == 0
    vintage = RawStore().latest("userseries", synthetic=False)
    assert vintage is not None and userseries.SeriesSpec.from_request(vintage.request)
    capsys.readouterr()
    # A plain build says it left the series out, and why.
    assert main(["build"]) == 0
    out = capsys.readouterr().out
    assert (
        f"  note: real user series by_partner (userseries/{vintage.id}) was not used: it is by "
        "destination (it has a partner column)"
    ) in out
    report = json.loads((data_root / "processed" / "porcher2025" / "build_report.json").read_text())
    assert any("by_partner" in note for note in report["notes"])
    # Asking for it by name gives the existing "is by destination" message, not
    # "run `reexport demo` first" (the build is the demo, the series is real).
    assert main(["build", "--export-series", "userseries:by_partner"]) == 2
    err = capsys.readouterr().err
    assert "is by destination (it has a partner column)" in err and "reexport demo" not in err


def test_frames_sum_hs_codes_and_split_them_by_product() -> None:
    """Two HS codes: a by-period frame sums them (NaN stays NaN), a by-HS frame keeps each."""
    months = ["2019-01", "2019-02", "2019-03"]
    rows = [
        trade_row("2019-01", net_weight_t=1.0),
        trade_row("2019-02", net_weight_t=2.0),
        trade_row("2019-03", net_weight_t=3.0),
        trade_row("2019-01", hs="2846", net_weight_t=10.0),
        trade_row("2019-02", hs="2846", net_weight_t=np.nan),
        # 2019-03: no 2846 row at all
    ]
    trade = panel.combine_trade([pd.DataFrame(rows)])
    indices = panel.combine_indices([index_rows("GPR", months, [1.0, 2.0, 3.0])])
    everything = pd.Series(True, index=trade.index)
    report = panel.QualityReport()
    total = panel.period_frame(
        trade,
        indices,
        months=months,
        rows=everything,
        values={"tonnes": "net_weight_t"},
        indices_required=["GPR"],
        name="total",
        report=report,
    )
    assert total["tonnes"].tolist()[0] == 11.0
    assert np.isnan(total["tonnes"].tolist()[1])  # a missing weight is not a zero
    assert total["tonnes"].tolist()[2] == 3.0  # only 850511 reported that month
    assert report.missing_months["total"] == ["2019-02"]
    by_hs = panel.product_frame(
        trade,
        indices,
        months=months,
        rows=everything,
        values={"tonnes": "net_weight_t"},
        indices_required=["GPR"],
        name="products",
        report=report,
    )
    assert list(by_hs.columns) == ["period", "hs", "tonnes", "GPR", "month", "year"]
    wide = by_hs.pivot(index="period", columns="hs", values="tonnes")
    assert wide["850511"].tolist() == [1.0, 2.0, 3.0]
    assert wide["2846"].tolist()[0] == 10.0 and wide["2846"].isna().tolist()[1:] == [True, True]
    assert report.missing_months["products:2846"] == ["2019-02", "2019-03"]
    with pytest.raises(BadInputError, match="needs the index series 'GPRT'"):
        panel.period_frame(
            trade,
            indices,
            months=months,
            rows=everything,
            values={"tonnes": "net_weight_t"},
            indices_required=["GPRT"],
        )
