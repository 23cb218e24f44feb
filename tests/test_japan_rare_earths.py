"""The Japan rare-earth study on the demo vintage: frames by measures.supplier_shares, the
study's own spec files fitted with the model API, the planted effects recovered.

The frames are built here directly from the stored demo vintages (not through
``reexport build``, whose study-format rewrite is under way), the way the study's
declaration describes them: Japan's imports by partner, per product (or pooled over
HS 280530 + 2846), shares of the suppliers and of India + Southeast Asia, joined with
GPRC_JPN and GPRC_CHN by month.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reexport import measures, panel
from reexport.models.api import fit_model
from reexport.models.results import ModelResult
from reexport.models.run import load_data
from reexport.models.spec import load_spec
from reexport.report import scorecard
from reexport.sources import comtrade, demo, gpr
from reexport.store import RawStore
from reexport.study import load_study

STUDY = Path(__file__).resolve().parent.parent / "analyses" / "japan_rare_earths"
SEED = demo.DEFAULT_SEED
SUPPLIERS = ("CHN", "IND", "VNM", "THA", "MYS", "AUS", "USA")
#: The study's frames: name -> HS codes summed by partner and month.
FRAMES = {
    "metals": ("280530",),
    "compounds": ("2846",),
    "magnets": ("850511",),
    "rare_earths": ("280530", "2846"),
}


def build_frames(store: RawStore, seed: int) -> dict[str, pd.DataFrame]:
    """Japan's shares frames from the stored demo vintages of ``seed``."""
    vintages = {v.id: v for v in store.vintages("comtrade", synthetic=True)}
    trade = comtrade.parse(vintages[f"demo-{seed}-japan"])
    (gpr_vintage,) = [v for v in store.vintages("gpr", synthetic=True) if v.id == f"demo-{seed}"]
    indices = gpr.parse(gpr_vintage).pivot(index="period", columns="series", values="value")
    frames = {}
    for name, codes in FRAMES.items():
        rows = trade[trade["hs"].isin(codes)]
        pooled = rows.groupby(["period", "partner"], as_index=False)["value_usd"].sum(min_count=1)
        shares = measures.supplier_shares(
            pooled, by=("period",), partners=SUPPLIERS, groups={"IND_SEA": demo.JAPAN_IND_SEA}
        )
        frames[name] = shares.join(indices[["GPRC_JPN", "GPRC_CHN"]], on="period")
    return frames


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelResult]:
    """Every model of the study's specs, fitted on frames built from the demo vintage."""
    root = tmp_path_factory.mktemp("japan") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REEXPORT_DATA_DIR", str(root))
        store = RawStore()
        demo.write_demo(SEED, store)
        demo.write_japan_demo(SEED, store)
        # The study's own declaration builds the frames (reexport build STUDY --vintage demo).
        panel.build("demo", study=load_study(STUDY), store=store)
        fitted = {}
        for path in sorted((STUDY / "specs").glob("*.toml")):
            spec = load_spec(path)
            data = load_data(spec)
            for model in spec.models:
                fitted[model.name] = fit_model(model, data.frame)
    return fitted


def _within(model: ModelResult, term: str, planted: float, ses: float = 3.0) -> None:
    coef, se = model.coef(term), model.se(term)
    assert abs(coef - planted) < ses * se, (model.name, term, coef, se, planted)


def test_frames_have_one_row_per_month_and_the_planted_shares() -> None:
    draw = demo.generate_japan(SEED)
    trade = draw.imports.assign(period=draw.imports["period"].astype(str))
    shares = measures.supplier_shares(
        trade, partners=("CHN",), groups={"IND_SEA": demo.JAPAN_IND_SEA}
    )
    assert len(shares) == 180 * 3 and shares["has_world"].all()
    planted = draw.planted.assign(period=draw.planted["period"].astype(str))
    merged = shares.merge(planted, on=["period", "hs"])
    outside = ~merged["period"].between(*demo.JAPAN_EMBARGO)
    # Outside the embargo the measured shares are the planted ones (to value rounding).
    assert np.allclose(merged.loc[outside, "share_CHN"], merged.loc[outside, "china_share"])
    assert np.allclose(merged.loc[outside, "share_IND_SEA"], merged.loc[outside, "ind_sea_share"])
    # In the embargo months China's shipments are cut by half, so its share falls.
    inside = merged.loc[~outside]
    assert (inside["share_CHN"] < inside["china_share"] - 0.1).all()
    assert shares["hhi"].between(0, 10_000).all() and (shares["n_suppliers"] >= 8).all()


@pytest.mark.parametrize("product", ["metals", "compounds", "magnets"])
def test_china_share_recovers_the_planted_risk_effects_and_trend(
    study: dict[str, ModelResult], product: str
) -> None:
    hs = FRAMES[product][0]
    model = study[f"{product}_china_share_lag{demo.JAPAN_EFFECT_LAG}"]
    lag = demo.JAPAN_EFFECT_LAG
    _within(model, f"np.log(L(GPRC_JPN, {lag}))", demo.JAPAN_BETA_LOG_GPRC_JPN)
    _within(model, f"np.log(L(GPRC_CHN, {lag}))", demo.JAPAN_BETA_LOG_GPRC_CHN)
    _within(model, "trend", demo.japan_constant("CHINA_TREND", hs))
    assert model.p_value(f"np.log(L(GPRC_JPN, {lag}))") < 0.05
    assert model.cov.type == "hac" and model.nobs == 168  # 2011-01..2024-12


@pytest.mark.parametrize("product", ["metals", "compounds", "magnets"])
def test_diversification_trend_recovers_the_planted_one(
    study: dict[str, ModelResult], product: str
) -> None:
    hs = FRAMES[product][0]
    model = study[f"{product}_diversification"]
    _within(model, "trend", demo.japan_constant("IND_SEA_TREND", hs))
    assert model.coef("trend") > 0 and model.p_value("trend") < 0.05


def test_the_stated_facts_hold_on_the_demo_draw(study: dict[str, ModelResult]) -> None:
    # China's 2010 share of rare-earth imports exceeds one half (embargo months included).
    share_2010 = study["rare_earths_share_2010"]
    assert share_2010.nobs == 12
    assert share_2010.coef("Intercept") > 0 and share_2010.p_value("Intercept") < 0.05
    for name in ("rare_earths_ind_sea_log_imports", "rare_earths_diversification"):
        assert study[name].coef("trend") > 0 and study[name].p_value("trend") < 0.05, name
    dependence = study["magnets_dependence"]
    assert dependence.nobs == 36 and dependence.p_value("Intercept") < 0.05
    assert dependence.coef("Intercept") > 0.1  # China's magnet share ~ 0.65 in 2022-2024


def test_stated_facts_load_and_name_models_of_the_specs(study: dict[str, ModelResult]) -> None:
    facts = scorecard.load_facts(STUDY / "stated_facts.json")
    raw = json.loads((STUDY / "stated_facts.json").read_text())
    assert len(facts.facts) == len(raw["facts"]) >= 4
    for fact, entry in zip(facts.facts, raw["facts"], strict=True):
        assert fact.model in study, fact.id
        model = study[fact.model]
        assert fact.term in model.terms, fact.id
        assert scorecard.functional_form(model, fact.term) == fact.reading, fact.id
        assert entry["source"]["title"] and entry["source"]["quote"], fact.id


def test_lag_grid_is_the_documented_one(study: dict[str, ModelResult]) -> None:
    lags = sorted(
        int(m.variant["lag"]) for m in study.values() if m.group == "compounds_china_share_lag{lag}"
    )
    assert lags == [0, 1, 2, 3, 6, 12]


def test_report_planted_effects_name_demo_constants_and_study_models(
    study: dict[str, ModelResult],
) -> None:
    import tomllib

    recipe = tomllib.loads((STUDY / "report.toml").read_text())
    planted = recipe["demo"]["planted"]
    assert len(planted) == 12
    for item in planted:
        value = getattr(demo, item["constant"])
        assert isinstance(value, float), item
        assert item["term"] in study[item["model"]].terms, item
        _within(study[item["model"]], item["term"], value)
    for ref in recipe["results"].values():
        assert (STUDY / ref["spec"]).is_file()


# -- through the CLI: the study folder alone drives data, build and estimate offline -----------
def test_the_japan_study_runs_offline_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from reexport import cli

    monkeypatch.setenv("REEXPORT_DATA_DIR", str(tmp_path / "data"))
    study = Path(__file__).resolve().parents[1] / "analyses" / "japan_rare_earths"
    # Offline with an empty store, `reexport data STUDY` writes the demo sets it needs.
    assert cli.main(["data", str(study), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "demo-20250601-japan" in out
    assert cli.main(["build", str(study)]) == 0
    processed = tmp_path / "data" / "processed" / "japan_rare_earths"
    metals = pd.read_csv(processed / "metals.csv", dtype={"period": str})
    assert len(metals) == 180 and metals["synthetic"].all()
    assert metals["share_CHN"].between(0, 1).all() and metals["hhi"].between(0, 10_000).all()
    # The mirror check: China's FOB exports against Japan's CIF imports (6% planted).
    report = json.loads((processed / "build_report.json").read_text())
    (mirror,) = report["quality"]["trade_checks"]["mirror"]
    assert (mirror["exporter"], mirror["importer"]) == ("CHN", "JPN")
    assert mirror["summary"]["median_ratio"] == pytest.approx(1.06, abs=0.01)
    results = tmp_path / "results"
    assert cli.main(["estimate", str(study), "--output", str(results)]) == 0
    assert sorted(p.name for p in results.glob("*.json")) == [
        "compounds.json",
        "magnets.json",
        "metals.json",
        "rare_earths.json",
    ]
    compounds = json.loads((results / "compounds.json").read_text())
    assert compounds["data"]["synthetic"] is True
    # The report: tables, the three frame figures and the scorecard, loudly synthetic.
    output = tmp_path / "report"
    assert cli.main(["report", str(study), "--output", str(output), "--results", str(results)]) == 0
    for name in ("figure1_partner_shares", "figure2_hhi", "figure3_china_share_gpr"):
        assert (output / "figures" / f"{name}.png").stat().st_size > 10_000
        assert (output / "figures" / f"{name}.pdf").is_file()
    report_md = (output / "report.md").read_text()
    assert "SYNTHETIC DEMO DATA" in report_md and "reexport build" in report_md
    card = json.loads((output / "scorecard.json").read_text())
    assert card["synthetic"] is True
    assert len(card["facts"]) == 4
    assert all(row["verdict"] != "reproduced" for row in card["facts"])
    # The data sections describe Japan's import frames, as study.toml declares them, with
    # none of the Porcher study's China-export wording.
    scorecard_md = (output / "scorecard.md").read_text()
    for text in (scorecard_md, report_md):
        assert "`rare_earths`: UN Comtrade, Japan's monthly imports of HS 280530" in text
        assert "`magnets`: UN Comtrade, Japan's monthly imports of HS 850511" in text
        for porcher in ("export series", "China-customs", "CN 85051110", "the paper"):
            assert porcher not in text, porcher
    assert "make reproduce STUDY=" in report_md
    for table in (output / "tables").glob("*.md"):
        notes = table.read_text()
        assert "China's exports" not in notes and "published paper" not in notes, table.name
    # One row holds every column's constant, so its label names no single model.
    diversification = (output / "tables" / "table3_diversification.md").read_text()
    assert "| Constant |" in diversification and "2010 share model" not in diversification


def test_plain_demo_writes_only_the_base_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from reexport import cli

    monkeypatch.setenv("REEXPORT_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["demo"]) == 0  # the default study (Porcher) needs no Japan vintages
    assert "japan" not in capsys.readouterr().out


def test_the_declared_build_equals_a_direct_computation(tmp_path: Path) -> None:
    """`reexport build` of the declaration gives the shares computed here by hand."""
    store = RawStore(tmp_path / "raw")
    demo.write_demo(SEED, store)
    demo.write_japan_demo(SEED, store)
    built = panel.build("demo", study=load_study(STUDY), store=store, out_dir=tmp_path / "out")
    for name, direct in build_frames(store, SEED).items():
        frame = built.frames[name].astype({"period": str}).set_index("period")
        expected = direct.astype({"period": str}).set_index("period")
        for column in ("share_CHN", "share_IND_SEA", "hhi", "n_suppliers", "GPRC_JPN"):
            pd.testing.assert_series_equal(
                frame[column].astype(float),
                expected[column].astype(float),
                check_names=False,
                check_index_type=False,
                rtol=1e-12,
            )
