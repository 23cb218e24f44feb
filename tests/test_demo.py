"""The synthetic demo vintage: determinism, calibration, marking, and the real parsers reading it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlrd

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.sources import comtrade, demo, fred, gpr
from reexport.store import RawStore

SEEDS = (demo.DEFAULT_SEED, 1, 7)


@pytest.fixture(scope="module")
def default_draw() -> demo.DemoData:
    return demo.generate(demo.DEFAULT_SEED)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        # Manifests (and so their seals) record the time of writing.
        if p.is_file() and p.name not in ("manifest.json", "manifest.seal")
    }


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = demo.write_demo(11, RawStore(tmp_path / "a" / "raw"))
    second = demo.write_demo(11, RawStore(tmp_path / "b" / "raw"))
    files_a = _files(tmp_path / "a" / "raw")
    files_b = _files(tmp_path / "b" / "raw")
    assert files_a == files_b
    assert len(files_a) == 1 + 8 + 8 + 2 + 1
    for role, vintage in first.items():
        other = second[role]
        assert vintage.id == other.id
        # Manifests differ only in "created" (the time of writing).
        strip = {k: v for k, v in vintage.manifest.items() if k != "created"}
        assert strip == {k: v for k, v in other.manifest.items() if k != "created"}


def test_different_seeds_differ() -> None:
    a, b = demo.generate(1), demo.generate(2)
    assert not np.allclose(a.gpr["GPR"], b.gpr["GPR"])
    assert not np.allclose(a.customs_t, b.customs_t)
    assert demo.gpr_xls_bytes(a) != demo.gpr_xls_bytes(b)


def test_rerun_returns_the_stored_vintages_without_writing_new_ones(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    first = demo.write_demo(3, store)
    again = demo.write_demo(3, store)
    assert {k: v.path for k, v in first.items()} == {k: v.path for k, v in again.items()}
    assert [v.id for v in store.vintages("comtrade")] == ["demo-3", "demo-3-partners"]


@pytest.mark.parametrize("seed", [-1, True, 1.5, "7"])
def test_bad_seed_is_bad_input(seed: object) -> None:
    with pytest.raises(BadInputError, match="seed"):
        demo.generate(seed)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the DGP


@pytest.mark.parametrize("seed", SEEDS)
def test_customs_totals_match_published_figures(seed: int) -> None:
    """2017 29,907 t; 2020 35,981.9 t; 2024 58,152 t (../shared/data/repm_published_figures.csv)."""
    customs = demo.generate(seed).customs_t
    totals = customs.groupby(customs.index.year).sum()
    published = {2017: 29_907.0, 2020: 35_981.9, 2024: 58_152.0}
    for year, figure in published.items():
        # Exact calibration up to the rounding of each month to whole kilograms.
        assert totals[year] == pytest.approx(figure, abs=0.01)
    assert list(customs.index.astype(str)) == [
        str(p) for p in pd.period_range("2017-01", "2024-12", freq="M")
    ]
    assert (customs > 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_gpr_base_and_country_means(seed: int) -> None:
    frame = demo.generate(seed).gpr
    base = frame.loc["1985-01":"2019-12"]
    for name in ("GPR", "GPRT", "GPRA"):
        assert base[name].mean() == pytest.approx(100.0)
    window = frame.loc["2017-01":"2024-12"]
    assert window["GPRC_USA"].mean() == pytest.approx(2.56)
    assert window["GPRC_AUS"].mean() == pytest.approx(0.15)
    gprc = [c for c in frame.columns if c.startswith("GPRC_")]
    assert len(gprc) == 44 and (frame[gprc] > 0).all().all()
    assert str(frame.index[0]) == "1985-01" and str(frame.index[-1]) == "2024-12"


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_spike_dominates_2017_2024(seed: int) -> None:
    gpr_index = demo.generate(seed).gpr["GPR"].loc["2017-01":"2024-12"]
    assert gpr_index.idxmax() == pd.Period("2022-03", "M")
    assert gpr_index["2022-03"] > 250 and gpr_index["2022-02"] > 150


@pytest.mark.parametrize("seed", SEEDS)
def test_hs6_exceeds_cn8_by_the_other_magnets_share(seed: int) -> None:
    draw = demo.generate(seed)
    hs6_t = draw.world["net_weight_kg"] / 1000
    ratio = (
        hs6_t.groupby(hs6_t.index.year).sum()
        / draw.customs_t.groupby(draw.customs_t.index.year).sum()
    )
    assert ((ratio > 1.08) & (ratio < 1.25)).all()
    assert (hs6_t > draw.customs_t).all()
    unit_value = draw.world["value_usd"] / draw.world["net_weight_kg"]
    assert 35 < unit_value.loc["2017-01":"2017-12"].mean() < 55


def test_planted_world_effect_is_recovered(default_draw: demo.DemoData) -> None:
    """OLS with year and month dummies recovers beta_log = 380 within 2.5 standard errors."""
    y = default_draw.customs_t
    months = y.index
    columns = [
        np.log(default_draw.gpr[name].reindex(months - demo.EFFECT_LAG).to_numpy())
        for name in ("GPR", "GPRC_USA", "GPRC_AUS")
    ]
    dummies = pd.get_dummies(
        pd.DataFrame({"m": months.month.astype(str), "y": months.year.astype(str)}),
        drop_first=True,
    ).to_numpy(dtype=float)
    x = np.column_stack([np.ones(len(y)), *columns, dummies])
    beta, *_ = np.linalg.lstsq(x, y.to_numpy(), rcond=None)
    resid = y.to_numpy() - x @ beta
    sigma2 = resid @ resid / (len(y) - x.shape[1])
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    assert abs(beta[1] - demo.BETA_LOG_GPR) < 2.5 * se[1]
    assert beta[1] > 0 and beta[2] > 0 and beta[3] > 0


def test_destinations_sum_to_world_and_include_zero_flows(default_draw: demo.DemoData) -> None:
    dest = default_draw.destinations
    by_month = dest.groupby("period")["net_weight_kg"].sum()
    assert (by_month.to_numpy() == default_draw.world["net_weight_kg"].to_numpy()).all()
    values = dest.groupby("period")["value_usd"].sum().to_numpy()
    assert np.allclose(values, default_draw.world["value_usd"].to_numpy(), rtol=0, atol=0.01)
    counts = dest.groupby("partner").size()
    small = [p[0] for p in demo.PARTNERS if p[3] < demo.SMALL_PARTNER_SHARE]
    assert (counts[small] < 96).all(), "small partners should have months without exports"
    assert (counts.drop(small) == 96).all()
    assert (dest["net_weight_kg"] > 0).all()
    without_gprc = {p[0] for p in demo.PARTNERS} - set(demo.GPR_COUNTRIES)
    assert without_gprc == {"ARE", "AUT", "CZE", "ROU", "SGP"}


def test_partner_codes_agree_with_the_comtrade_module() -> None:
    for iso, code, _desc, _share in demo.PARTNERS:
        assert comtrade.COMTRADE_AREAS[iso] == code


# --------------------------------------------------------------------------- raw formats


def test_gpr_workbook_has_the_real_layout(default_draw: demo.DemoData) -> None:
    book = xlrd.open_workbook(file_contents=demo.gpr_xls_bytes(default_draw))
    assert book.sheet_names() == ["Sheet1"]
    sheet = book.sheet_by_index(0)
    header = sheet.row_values(0)
    assert len(header) == 115
    assert header[:4] == ["month", "GPR", "GPRT", "GPRA"]
    assert header[-2:] == ["var_name", "var_label"]
    assert [h for h in header if h.startswith("GPRC_")] == [f"GPRC_{c}" for c in demo.GPR_COUNTRIES]
    assert sheet.cell_type(1, 0) == xlrd.XL_CELL_DATE
    assert xlrd.xldate_as_tuple(sheet.cell_value(1, 0), book.datemode)[:3] == (1985, 1, 1)
    labels = sheet.col_values(114)
    assert "SYNTHETIC DEMO" in labels[1]
    assert any("Country GPR: Percent of articles (Australia)" in str(v) for v in labels)


def test_gpr_shared_layout_matches_the_real_file(shared_data: Path) -> None:
    real = xlrd.open_workbook(str(shared_data / "gpr" / "data_gpr_export.xls"))
    assert real.sheet_by_index(0).row_values(0) == demo._gpr_columns()


def test_real_parsers_read_the_demo_vintages(tmp_path: Path, default_draw: demo.DemoData) -> None:
    vintages = demo.write_demo(demo.DEFAULT_SEED, RawStore(tmp_path / "raw"))

    indices = gpr.parse(vintages["gpr"])
    wide = indices.pivot(index="period", columns="series", values="value")
    assert set(wide.columns) == {"GPR", "GPRT", "GPRA", *(f"GPRC_{c}" for c in demo.GPR_COUNTRIES)}
    assert np.allclose(wide["GPR"].to_numpy(), default_draw.gpr["GPR"].to_numpy())
    assert set(indices.loc[indices["series"] == "GPR", "unit"]) == {"index 1985-2019=100"}
    assert set(indices.loc[indices["series"] == "GPRC_USA", "unit"]) == {"percent of articles"}

    world = comtrade.parse(vintages["comtrade_world"])
    assert len(world) == 96 and set(world["partner"]) == {"WLD"}
    assert np.allclose(world["net_weight_t"].to_numpy() * 1000, default_draw.world["net_weight_kg"])
    assert set(world["hs_edition"]) == {"H5", "H6"}

    partners = comtrade.parse(vintages["comtrade_all"])
    assert set(partners["partner"]) == {"WLD", *(p[0] for p in demo.PARTNERS)}
    sums = partners[partners["partner"] != "WLD"].groupby("period")["net_weight_t"].sum()
    assert np.allclose(sums.to_numpy(), world["net_weight_t"].to_numpy())

    controls = fred.parse(vintages["fred"])
    assert sorted(controls["series"].unique()) == ["EXCHUS", "INDPRO"]
    assert len(controls) == 2 * 96

    from reexport.sources import userseries

    customs = userseries.parse(vintages["userseries"])
    assert len(customs) == 96
    assert set(customs["hs"]) == {demo.CUSTOMS_HS} and set(customs["partner"]) == {"WLD"}
    assert np.allclose(customs["net_weight_t"].to_numpy(), default_draw.customs_t.to_numpy())


def test_comtrade_records_have_the_documented_47_keys(default_draw: demo.DemoData) -> None:
    name, body, params = demo.comtrade_bodies(default_draw, "all")[0]
    envelope = json.loads(body)
    assert list(envelope) == ["elapsedTime", "count", "data", "error"]
    assert envelope["count"] == len(envelope["data"])
    assert all(tuple(r) == comtrade.RECORD_KEYS for r in envelope["data"])
    assert name == "demo_2017-01_2017-12.json"
    assert "partnerCode" not in params and params["period"].startswith("201701,")


def test_every_demo_vintage_is_marked_synthetic(tmp_path: Path) -> None:
    vintages = demo.write_demo(5, RawStore(tmp_path / "raw"))
    for role, vintage in vintages.items():
        assert vintage.synthetic, role
        assert vintage.id.startswith("demo-5")
        manifest = json.loads((vintage.path / "manifest.json").read_text())
        assert manifest["synthetic"] is True
        assert manifest["request"]["demo"]["seed"] == 5
        for record in manifest["files"]:
            assert record["retrieved"] == demo.DEMO_RETRIEVED
            assert record["url"].startswith("synthetic:")
            if vintage.source != "fred":  # the FRED parser reads the series id from the name
                assert record["name"].startswith("demo_")
    # A real fetch's warm re-run must never pick up a demo vintage.
    assert RawStore(tmp_path / "raw").find("gpr", vintages["gpr"].request) is None


def test_demo_cli_writes_and_announces(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC DEMO DATA -- NOT REAL" in out
    assert (data_root / "raw" / "gpr" / "demo-9" / "demo_data_gpr_export.xls").is_file()
    assert main(["demo", "--seed", "-4"]) == 2
    assert "seed" in capsys.readouterr().err


def test_banner_is_a_closed_box() -> None:
    box = demo.banner(["SYNTHETIC DEMO DATA -- NOT REAL", "x" * 100]).splitlines()
    assert len({len(line) for line in box}) == 1
    assert box[0] == box[-1] == "#" * len(box[0])
    assert all(line.startswith("## ") and line.endswith(" ##") for line in box[1:-1])


# --------------------------------------------------------------------------- Japan vintages

#: sha256 of the default seed's Comtrade bodies, customs CSV and FRED CSVs, as written
#: before the Japan vintages existed: drawing them must leave these bytes alone.
PORCHER_BYTES_SHA256 = "2d3ac8bc9b3f28233bd2efadee4236826ef4049d9c8989405fbfab930d5c7dd0"


def test_the_japan_extension_leaves_the_porcher_vintages_byte_identical(
    default_draw: demo.DemoData,
) -> None:
    import hashlib

    digest = hashlib.sha256()
    for partner in ("world", "all"):
        for _name, body, _params in demo.comtrade_bodies(default_draw, partner):
            digest.update(body)
    digest.update(demo.customs_csv_bytes(default_draw))
    for series in ("EXCHUS", "INDPRO"):
        digest.update(demo.fred_csv_bytes(default_draw, series))
    assert digest.hexdigest() == PORCHER_BYTES_SHA256


def test_japan_vintages_are_deterministic_and_loudly_synthetic(tmp_path: Path) -> None:
    first = demo.write_japan_demo(11, RawStore(tmp_path / "a" / "raw"))
    second = demo.write_japan_demo(11, RawStore(tmp_path / "b" / "raw"))
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert {k: v.id for k, v in first.items()} == {
        "comtrade_japan": "demo-11-japan",
        "comtrade_japan_mirror": "demo-11-japan-mirror",
    }
    for role, vintage in first.items():
        manifest = json.loads((vintage.path / "manifest.json").read_text())
        assert manifest["synthetic"] is True and vintage.synthetic, role
        assert manifest["request"]["demo"]["seed"] == 11
        assert len(manifest["files"]) == 15  # 2010..2024, twelve months per body
        for record in manifest["files"]:
            assert record["url"] == f"synthetic:{vintage.id}"
            assert record["name"].startswith("demo_")
            body = json.loads(vintage.read_bytes(record["name"]))
            assert body["elapsedTime"] == "SYNTHETIC DEMO"
            assert all(tuple(r) == comtrade.RECORD_KEYS for r in body["data"])
    assert RawStore(tmp_path / "a" / "raw").verify() == []
    assert second["comtrade_japan"].request == first["comtrade_japan"].request
    # A re-run returns the stored vintages.
    again = demo.write_japan_demo(11, RawStore(tmp_path / "a" / "raw"))
    assert {k: v.path for k, v in again.items()} == {k: v.path for k, v in first.items()}


def test_japan_imports_parse_with_world_rows_and_the_planted_embargo(tmp_path: Path) -> None:
    vintages = demo.write_japan_demo(demo.DEFAULT_SEED, RawStore(tmp_path / "raw"))
    trade = comtrade.parse(vintages["comtrade_japan"])
    assert set(trade["reporter"]) == {"JPN"} and set(trade["flow"]) == {"M"}
    assert sorted(trade["hs"].unique()) == sorted(demo.JAPAN_HS)
    assert set(trade["partner"]) == {"WLD", *(p[0] for p in demo.JAPAN_PARTNERS)}
    assert trade["period"].min() == "2010-01" and trade["period"].max() == "2024-12"
    world = trade[trade["partner"] == "WLD"].set_index(["period", "hs"])["value_usd"]
    partners = trade[trade["partner"] != "WLD"].groupby(["period", "hs"])["value_usd"].sum()
    assert len(world) == 180 * 3
    assert np.allclose(partners.reindex(world.index), world, rtol=0, atol=0.01)
    assert {e for e in trade["hs_edition"]} == {"H3", "H4", "H5", "H6"}
    # Some small rest-of-world suppliers ship nothing in some months (no row: a zero flow).
    counts = trade[trade["partner"] != "WLD"].groupby(["period", "hs"]).size()
    assert counts.min() < counts.max()
    china = trade[trade["partner"] == "CHN"].set_index(["period", "hs"])["value_usd"]
    share = (china / world).unstack("hs")
    embargo = share.loc["2010-09":"2010-11"]
    before = share.loc["2010-06":"2010-08"]
    assert (embargo.mean() < before.mean() - 0.05).all()
    assert (share.loc["2010-01":"2010-12"].mean() > 0.5).all()  # over half in 2010, embargo in


def test_japan_mirror_is_china_reporting_fob_exports(tmp_path: Path) -> None:
    vintages = demo.write_japan_demo(demo.DEFAULT_SEED, RawStore(tmp_path / "raw"))
    imports = comtrade.parse(vintages["comtrade_japan"])
    mirror = comtrade.parse(vintages["comtrade_japan_mirror"])
    assert set(mirror["reporter"]) == {"CHN"} and set(mirror["partner"]) == {"JPN"}
    assert set(mirror["flow"]) == {"X"} and len(mirror) == 180 * 3
    from_china = imports[imports["partner"] == "CHN"].set_index(["period", "hs"])["value_usd"]
    ratio = from_china / mirror.set_index(["period", "hs"])["value_usd"]
    # CIF/FOB: Japan's CIF imports over China's FOB exports, 1.06 times noise (SD 0.05).
    assert ratio.median() == pytest.approx(1.0 + demo.JAPAN_CIF_FOB_MARGIN, abs=0.01)
    body = json.loads(vintages["comtrade_japan_mirror"].read_bytes("demo_2010-01_2010-12.json"))
    record = body["data"][0]
    assert record["fobvalue"] == record["primaryValue"] and record["cifvalue"] is None


def test_porcher_build_inputs_ignore_the_japan_vintages(tmp_path: Path) -> None:
    from reexport import panel

    store = RawStore(tmp_path / "raw")
    porcher = demo.write_demo(3, store)
    demo.write_japan_demo(3, store)
    from reexport.sources import comtrade
    from reexport.study import load_study

    root = Path(__file__).resolve().parents[1]
    candidates = panel._Candidates(store, True, load_study(root / "analyses" / "porcher2025"))
    assert candidates.missing_demo_roles() == []
    world = comtrade.make_request(reporter="CHN", partner="world", hs="850511", flow="X",
                                  start="2017-01", end="2024-12")  # fmt: skip
    every = comtrade.make_request(reporter="CHN", partner="all", hs="850511", flow="X",
                                  start="2017-01", end="2024-12")  # fmt: skip
    assert candidates.comtrade(world) == porcher["comtrade_world"]
    assert candidates.comtrade(every) == porcher["comtrade_all"]


@pytest.mark.parametrize("seed", [-1, True, 1.5])
def test_bad_seed_is_bad_input_for_the_japan_draw(seed: object) -> None:
    with pytest.raises(BadInputError, match="seed"):
        demo.generate_japan(seed, gpr=demo.generate(1).gpr)  # type: ignore[arg-type]
