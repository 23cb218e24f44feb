"""Trade-data quality checks and mirror flows (reexport.quality).

The constructed frames below are written here with known answers; the one real
case is the third-party aggregation of China's Comtrade HS 850511 exports in
``../shared/data/comtrade_derived/`` (see its PROVENANCE.md), read in place.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reexport import quality
from reexport.errors import BadInputError


def trade_rows(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A tidy trade frame: each row gives period/partner/value/weight, the rest defaults."""
    defaults: dict[str, object] = {
        "reporter": "CHN",
        "partner": "JPN",
        "flow": "X",
        "hs": "850511",
        "hs_edition": "",
        "qty": float("nan"),
        "qty_unit": "",
        "is_estimated": False,
        "source": "comtrade",
        "vintage": "v1",
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def months(year: int, n: int = 12) -> list[str]:
    return [f"{year}-{m:02d}" for m in range(1, n + 1)]


# --------------------------------------------------------------------------- imputed quantities


def test_constant_unit_value_run_is_found_with_its_span_and_value() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for period in months(2017):  # value / 42.5 USD per kg exactly, to float noise
        value = float(rng.integers(1_000_000, 9_000_000))
        rows.append({"period": period, "value_usd": value, "net_weight_t": value / 42.5 / 1000})
    for period in months(2018):  # measured weights: unit values between 20 and 40
        value = float(rng.integers(1_000_000, 9_000_000))
        uv = float(rng.uniform(20, 40))
        rows.append({"period": period, "value_usd": value, "net_weight_t": value / uv / 1000})
    checks = quality.trade_checks(trade_rows(rows))
    (finding,) = checks["imputed_quantities"]["across_months"]
    assert finding["first"] == "2017-01" and finding["last"] == "2017-12"
    assert finding["periods"] == months(2017)
    assert finding["unit_value_usd_per_kg"] == pytest.approx(42.5, rel=1e-12)
    assert finding["series"]["partner"] == "JPN"


def test_two_equal_months_are_not_a_run_but_three_are() -> None:
    values = [100.0, 200.0, 300.0, 400.0]
    uvs = [10.0, 10.0, 12.0, 13.0]
    rows = [
        {"period": p, "value_usd": v, "net_weight_t": v / u / 1000}
        for p, v, u in zip(months(2020, 4), values, uvs, strict=True)
    ]
    assert quality.constant_across_months(trade_rows(rows)) == []
    repeated = trade_rows([*rows, rows[0]])  # an exact repeat is still two months
    assert quality.constant_across_months(repeated) == []
    uvs[2] = 10.0 * (1 + 5e-7)  # within the 1e-6 tolerance
    rows = [
        {"period": p, "value_usd": v, "net_weight_t": v / u / 1000}
        for p, v, u in zip(months(2020, 4), values, uvs, strict=True)
    ]
    (finding,) = quality.constant_across_months(trade_rows(rows))
    assert finding["periods"] == ["2020-01", "2020-02", "2020-03"]
    uvs[2] = 10.0 * (1 + 5e-6)  # outside it
    rows = [
        {"period": p, "value_usd": v, "net_weight_t": v / u / 1000}
        for p, v, u in zip(months(2020, 4), values, uvs, strict=True)
    ]
    assert quality.constant_across_months(trade_rows(rows)) == []


def test_constant_across_partners_ignores_areas_and_needs_two_partners() -> None:
    rows = []
    for period in months(2019, 3):
        for partner, value in (("JPN", 500.0), ("KOR", 700.0), ("WLD", 1200.0)):
            rows.append(
                {
                    "period": period,
                    "partner": partner,
                    "value_usd": value,
                    "net_weight_t": value / 30 / 1000,
                }
            )
    # April: KOR has its own price, so the partners differ.
    rows += [
        {
            "period": "2019-04",
            "partner": "JPN",
            "value_usd": 500.0,
            "net_weight_t": 500 / 30 / 1000,
        },
        {
            "period": "2019-04",
            "partner": "KOR",
            "value_usd": 700.0,
            "net_weight_t": 700 / 25 / 1000,
        },
        {"period": "2019-05", "partner": "JPN", "value_usd": 500.0, "net_weight_t": 0.01},
        {"period": "2019-05", "partner": "WLD", "value_usd": 500.0, "net_weight_t": 0.01},
    ]
    (finding,) = quality.constant_across_partners(trade_rows(rows))
    # 2019-05 has one country and World only: World matches it trivially, not flagged.
    assert finding["periods"] == ["2019-01", "2019-02", "2019-03"]
    assert finding["partners"] == ["JPN", "KOR"]
    assert finding["unit_value_usd_per_kg"]["2019-02"] == pytest.approx(30.0)
    assert "partner" not in finding["series"]


def derived_850511(shared_data: Path) -> pd.DataFrame:
    """China's HS 850511 exports per partner bloc as a tidy trade frame (kg -> t)."""
    raw = pd.read_csv(
        shared_data / "comtrade_derived" / "strategic_premium_hs6.csv", dtype={"hs6": str}
    )
    raw = raw.loc[raw["hs6"] == "850511"]
    return trade_rows(
        [
            {
                "period": str(r.period_dt)[:7],
                "partner": str(r.bloc),
                "value_usd": float(r.val),
                "net_weight_t": float(r.qty) / 1000,
                "source": "comtrade_derived",
            }
            for r in raw.itertuples()
        ]
    )


def test_real_china_850511_finds_2017_imputed_and_nothing_else(shared_data: Path) -> None:
    trade = derived_850511(shared_data)
    assert sorted(trade["partner"].unique()) == ["Adversary", "Intermediary"]
    # The blocs are disjoint groups of partner countries, so they are compared as partners.
    checks = quality.trade_checks(trade, is_group=lambda code: code == "WLD")
    across_months = checks["imputed_quantities"]["across_months"]
    assert [(f["series"]["partner"], f["periods"]) for f in across_months] == [
        ("Adversary", months(2017)),
        ("Intermediary", months(2017)),
    ]
    for finding in across_months:
        assert round(finding["unit_value_usd_per_kg"], 4) == 42.5234
    (partners,) = checks["imputed_quantities"]["across_partners"]
    assert partners["periods"] == months(2017)
    assert {round(v, 4) for v in partners["unit_value_usd_per_kg"].values()} == {42.5234}
    # 2018-2024 vary: no run, no partner match, and a wide range of unit values.
    later = trade.loc[trade["period"] >= "2018-01"]
    uv = quality.unit_values(later)
    assert 10 < uv.min() < 20 and 50 < uv.max() < 60
    assert quality.constant_across_months(later) == []
    assert quality.constant_across_partners(later, is_group=lambda code: code == "WLD") == []
    # Complete 2017-01..2024-12 in both blocs.
    assert checks["missing_and_zero"] == []
    assert checks["settings"]["window"] == ["2017-01", "2024-12"]


def test_default_classifier_treats_non_iso_codes_as_areas(shared_data: Path) -> None:
    checks = quality.trade_checks(derived_850511(shared_data))
    assert [f["partner"] for f in checks["area_partners"]] == ["Adversary", "Intermediary"]
    assert checks["settings"]["area_classifier"] == "comtrade reference table"
    assert checks["imputed_quantities"]["across_partners"] == []  # areas are not compared


# --------------------------------------------------------------------------- outliers


def test_unit_value_outlier_by_modified_z_score() -> None:
    uvs = [10.0, 10.5, 9.5, 10.2, 9.8, 10.1, 9.9, 10.3, 9.7, 10.0, 10.4, 30.0]
    rows = [
        {"period": p, "value_usd": 1000.0, "net_weight_t": 1000.0 / u / 1000}
        for p, u in zip(months(2021), uvs, strict=True)
    ]
    (finding,) = quality.unit_value_outliers(trade_rows(rows))
    assert finding["period"] == "2021-12"
    assert finding["unit_value_usd_per_kg"] == pytest.approx(30.0)
    logs = np.log(uvs)
    median = np.median(logs)
    mad = np.median(np.abs(logs - median))
    assert finding["modified_z"] == pytest.approx(0.6745 * (math.log(30) - median) / mad, rel=1e-4)
    assert finding["median_usd_per_kg"] == pytest.approx(math.exp(median))
    # Fewer than 12 unit values: not judged.
    assert quality.unit_value_outliers(trade_rows(rows[1:])) == []


# --------------------------------------------------------------------------- coverage, areas, HS


def test_missing_zero_and_no_weight_months_within_the_window() -> None:
    rows = [
        {"period": "2020-01", "value_usd": 10.0, "net_weight_t": 1.0},
        {"period": "2020-02", "value_usd": 0.0, "net_weight_t": 0.0},
        {"period": "2020-04", "value_usd": 10.0, "net_weight_t": float("nan")},
        {"period": "2020-05", "value_usd": float("nan"), "net_weight_t": 1.0},
        {"period": "2021-01", "value_usd": 10.0, "net_weight_t": 1.0},  # outside the window
    ]
    checks = quality.trade_checks(trade_rows(rows), window=("2019-12", "2020-06"))
    (gap,) = checks["missing_and_zero"]
    assert gap["expected"] == 7
    assert gap["missing"] == ["2019-12", "2020-03", "2020-05", "2020-06"]
    assert gap["zero_value"] == ["2020-02"]
    assert gap["no_weight"] == ["2020-04"]
    assert checks["settings"]["rows"] == 4


def test_annual_periods_expect_years() -> None:
    rows = [{"period": y, "value_usd": 5.0, "net_weight_t": 1.0} for y in ("2018", "2021")]
    (gap,) = quality.missing_and_zero(trade_rows(rows), ("2018", "2021"))
    assert gap["missing"] == ["2019", "2020"]


def test_annual_and_monthly_rows_are_checked_apart() -> None:
    rows = [{"period": p, "value_usd": 5.0, "net_weight_t": 1.0} for p in ("2020-01", "2020-03")]
    rows += [{"period": y, "value_usd": 60.0, "net_weight_t": 12.0} for y in ("2018", "2020")]
    checks = quality.trade_checks(trade_rows(rows), window=("2019", "2020"))
    assert [g["missing"] for g in checks["missing_and_zero"]] == [
        ["2019-01", "2019-02", "2019-03", "2019-04", "2019-05", "2019-06", "2019-07", "2019-08", "2019-09", "2019-10", "2019-11", "2019-12", "2020-02", "2020-04", "2020-05", "2020-06", "2020-07", "2020-08", "2020-09", "2020-10", "2020-11", "2020-12"],
        ["2019"],
    ]  # fmt: skip
    assert checks["settings"]["window"] == ["2019-01", "2020-12"]
    assert checks["settings"]["annual_window"] == ["2019", "2020"]
    assert checks["settings"]["rows"] == 3


def test_area_partners_use_the_callers_classifier() -> None:
    rows = [
        {"period": "2020-01", "partner": p, "value_usd": 4.0, "net_weight_t": 1.0}
        for p in ("WLD", "EUR", "JPN", "899")
    ]
    trade = trade_rows(rows)
    # Default: Comtrade's reference table (899 is "Areas, nes"; EUR is no Comtrade code).
    by_default = quality.trade_checks(trade)["area_partners"]
    assert [f["partner"] for f in by_default] == ["899", "WLD"]
    by_caller = quality.trade_checks(trade, is_group=lambda c: c in {"WLD", "EUR", "899"})
    assert [f["partner"] for f in by_caller["area_partners"]] == ["899", "EUR", "WLD"]
    assert by_caller["settings"]["area_classifier"] == "caller"


def test_hs_edition_switches_and_spans() -> None:
    editions = ["H4"] * 3 + ["H5"] * 4 + ["H6"] * 2
    periods = [f"2021-{m:02d}" for m in range(1, 10)]
    rows = [
        {"period": p, "hs_edition": e, "value_usd": 10.0 + i, "net_weight_t": 1.0}
        for i, (p, e) in enumerate(zip(periods, editions, strict=True))
    ]
    (finding,) = quality.trade_checks(trade_rows(rows))["hs_editions"]
    assert [e["edition"] for e in finding["editions"]] == ["H4", "H5", "H6"]
    assert finding["editions"][1] == {
        "edition": "H5",
        "first": "2021-04",
        "last": "2021-07",
        "periods": 4,
    }
    assert finding["switches"] == [
        {"period": "2021-04", "from": "H4", "to": "H5"},
        {"period": "2021-08", "from": "H5", "to": "H6"},
    ]
    assert finding["mixed_periods"] == []


def test_checks_are_json_and_deterministic_and_have_lines(shared_data: Path) -> None:
    trade = derived_850511(shared_data)
    first = quality.trade_checks(trade)
    shuffled = quality.trade_checks(trade.sample(frac=1.0, random_state=7))
    assert json.dumps(first, allow_nan=False) == json.dumps(shuffled, allow_nan=False)
    lines = quality.finding_lines(first)
    assert lines[0].startswith("quantities look imputed: unit value 42.52335")
    assert len(lines) == sum(first["counts"].values())


def test_bad_input() -> None:
    with pytest.raises(BadInputError, match="no column"):
        quality.trade_checks(pd.DataFrame({"period": ["2020-01"]}))
    trade = trade_rows([{"period": "2020-01", "value_usd": 1.0, "net_weight_t": 1.0}])
    with pytest.raises(BadInputError, match="precedes"):
        quality.trade_checks(trade, window=("2020-05", "2020-01"))
    with pytest.raises(BadInputError, match="mixes"):
        quality.trade_checks(trade, window=("2020", "2020-05"))


# --------------------------------------------------------------------------- mirror flows


def mirror_trade() -> pd.DataFrame:
    """China's exports to Japan (X) against Japan's imports from China (M), known ratios."""
    fob = {"2020-01": 100.0, "2020-02": 200.0, "2020-03": 300.0, "2020-04": 400.0}
    cif = {"2020-01": 105.0, "2020-02": 230.0, "2020-03": 330.0, "2020-05": 50.0}
    sides = (("CHN", "JPN", "X", fob, 10.0), ("JPN", "CHN", "M", cif, 11.0))
    rows = [
        {"period": p, "reporter": r, "partner": q, "flow": f, "value_usd": v, "net_weight_t": v / per_t}
        for r, q, f, values, per_t in sides
        for p, v in values.items()
    ]  # fmt: skip
    # Noise the mirror must ignore: other partners, flows and HS codes.
    rows += [
        {"period": "2020-01", "reporter": "CHN", "partner": "KOR", "flow": "X", "value_usd": 9.0, "net_weight_t": 1.0},
        {"period": "2020-01", "reporter": "JPN", "partner": "CHN", "flow": "X", "value_usd": 9.0, "net_weight_t": 1.0},
        {"period": "2020-01", "reporter": "CHN", "partner": "JPN", "flow": "X", "hs": "2846", "value_usd": 9.0, "net_weight_t": 1.0},
    ]  # fmt: skip
    return trade_rows(rows)


def test_mirror_flows_pairs_both_sides() -> None:
    frame = quality.mirror_flows(mirror_trade(), exporter="CHN", importer="JPN", hs=["850511"])
    assert list(frame.columns) == quality.MIRROR_COLUMNS
    assert frame["period"].tolist() == ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05"]
    assert frame["sides"].tolist() == ["both", "both", "both", "exporter", "importer"]
    np.testing.assert_allclose(frame["ratio_cif_fob"].to_numpy()[:3], [1.05, 1.15, 1.1])
    assert frame["ratio_cif_fob"].iloc[3:].isna().all()
    assert frame["weight_exporter_t"].iloc[0] == 10.0
    assert frame["weight_importer_t"].iloc[1] == pytest.approx(230 / 11)
    every_hs = quality.mirror_flows(mirror_trade(), exporter="CHN", importer="JPN")
    assert sorted(every_hs["hs"].unique()) == ["2846", "850511"]


def test_mirror_summary_known_answers() -> None:
    frame = quality.mirror_flows(mirror_trade(), exporter="CHN", importer="JPN", hs=["850511"])
    summary = quality.mirror_summary(frame)
    assert summary["exporter"] == "CHN" and summary["importer"] == "JPN"
    assert summary["median_ratio"] == pytest.approx(1.1)
    assert summary["with_ratio"] == 3 and summary["share_in_band"] == 1.0
    assert summary["median_weight_ratio"] == pytest.approx((330 / 11) / (300 / 10))  # 1.0
    assert summary["band"] == [1.0, 1.2] and "1.06" in summary["band_source"]
    assert summary["by_hs"]["850511"]["exporter_only"] == ["2020-04"]
    assert summary["by_hs"]["850511"]["importer_only"] == ["2020-05"]
    narrow = quality.mirror_summary(frame, band=(1.0, 1.1))
    assert narrow["share_in_band"] == pytest.approx(2 / 3)
    assert narrow["above_band"] == 1 and narrow["below_band"] == 0
    json.dumps(summary, allow_nan=False)


def test_mirror_refuses_conflicting_duplicates_and_self() -> None:
    trade = mirror_trade()
    clash = trade.iloc[[0]].assign(value_usd=999.0, vintage="v2")
    with pytest.raises(BadInputError, match="more than once"):
        quality.mirror_flows(pd.concat([trade, clash]), exporter="CHN", importer="JPN")
    same = trade.iloc[[0]].assign(vintage="v2")  # an identical repeat collapses
    assert (
        len(
            quality.mirror_flows(
                pd.concat([trade, same]), exporter="CHN", importer="JPN", hs=["850511"]
            )
        )
        == 5
    )
    with pytest.raises(BadInputError, match="both CHN"):
        quality.mirror_flows(trade, exporter="CHN", importer="CHN")
    with pytest.raises(BadInputError, match="band"):
        quality.mirror_summary(
            quality.mirror_flows(trade, exporter="CHN", importer="JPN"), band=(1.2, 1.0)
        )


def test_a_month_in_two_editions_is_named() -> None:
    rows = [
        {"period": p, "hs_edition": e, "value_usd": 10.0, "net_weight_t": 1.0}
        for p, e in (("2022-01", "H5"), ("2022-02", "H5"), ("2022-02", "H6"), ("2022-03", "H6"))
    ]
    rows[2]["partner"] = "KOR"  # two partners of one month, reported in different editions
    (finding,) = quality.hs_editions(trade_rows(rows))
    assert finding["mixed_periods"] == ["2022-02"]
    assert [e["edition"] for e in finding["editions"]] == ["H5", "H6"]
    assert finding["switches"] == [
        {"period": "2022-02", "from": "H5", "to": "H5+H6"},
        {"period": "2022-03", "from": "H5+H6", "to": "H6"},
    ]
