"""Replication scorecard: verdict logic, functional forms, synthetic data and totals."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reexport.errors import BadInputError
from reexport.models.results import ModelResult
from reexport.report import scorecard, tables
from reexport.report.scorecard import Fact
from reexport.study import load_study

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "golden" / "results_world.json"
STUDY_FACTS = ROOT / "analyses" / "porcher2025" / "published_facts.json"


def _model(
    coef: float,
    se: float,
    *,
    name: str = "m",
    term: str = "np.log(L(GPR, 4))",
    depvar: str = "exports_t",
    estimator: str = "ols",
    df: int | None = 80,
) -> ModelResult:
    record = {
        "name": name,
        "estimator": estimator,
        "formula": f"{depvar} ~ {term} + trend",
        "depvar": depvar,
        "nobs": 92,
        "df_resid": 80,
        "params": {term: coef, "trend": 1.0},
        "std_errors": {term: se, "trend": 0.1},
        "conf_int": {term: [coef - 1.99 * se, coef + 1.99 * se], "trend": [0.8, 1.2]},
        "r2": 0.5,
        "cov": {"type": "hac", "lags": 4, "df": df, "convention": "Stata: newey, lag(4)"},
    }
    return ModelResult.from_dict(record, where="test.json")


def _fact(kind: str = "value", **extra: Any) -> Fact:
    base: dict[str, Any] = {
        "id": "f",
        "statement": "s",
        "kind": kind,
        "model": "m",
        "term": "np.log(L(GPR, 4))",
        "reading": "lin-log",
        "sign": 1,
        "value": 380.0 if kind == "value" else None,
    }
    base.update(extra)
    return Fact(**base)


@pytest.mark.parametrize(
    ("coef", "se", "verdict"),
    [
        (400.0, 100.0, scorecard.REPRODUCED),  # 380 inside [201, 599]
        (100.0, 20.0, scorecard.SAME_SIGN),  # same sign, 380 far outside
        (-300.0, 100.0, scorecard.CONTRADICTED),  # opposite, p < 0.01
        (-50.0, 100.0, scorecard.INCONCLUSIVE),  # opposite, not significant
        (380.0, 1000.0, scorecard.REPRODUCED),  # inside a wide interval even if insignificant
        (100.0, 80.0, scorecard.INCONCLUSIVE),  # right sign, p = 0.21, 380 outside [-59, 259]
        (-100.0, 80.0, scorecard.INCONCLUSIVE),  # the mirror image: opposite sign, p = 0.21
        (-50.0, 300.0, scorecard.INCONCLUSIVE),  # opposite sign, 380 inside the wide CI
    ],
)
def test_value_fact_verdicts(coef: float, se: float, verdict: str) -> None:
    result = scorecard.evaluate_fact(_fact(), {"m": _model(coef, se)}, synthetic=False)
    assert result.verdict == verdict
    assert result.estimate is not None and result.estimate.coef == coef
    # An insignificant estimate whose wide interval covers the value says so.
    if verdict == scorecard.REPRODUCED:
        assert ("not significant" in result.detail) == (se > 500)


def test_same_sign_different_size_needs_a_significant_estimate() -> None:
    insignificant = scorecard.evaluate_fact(_fact(), {"m": _model(100.0, 80.0)}, synthetic=False)
    assert insignificant.verdict == scorecard.INCONCLUSIVE
    assert "not significant at 5%" in insignificant.detail
    assert "lies outside the 95% CI [-59.200, 259.200]" in insignificant.detail
    significant = scorecard.evaluate_fact(_fact(), {"m": _model(100.0, 20.0)}, synthetic=False)
    assert significant.verdict == scorecard.SAME_SIGN
    assert "significant at 5%" in significant.detail and "outside" in significant.detail


@pytest.mark.parametrize(
    ("coef", "se", "verdict"),
    [
        (300.0, 100.0, scorecard.REPRODUCED),
        (50.0, 100.0, scorecard.INCONCLUSIVE),
        (-300.0, 100.0, scorecard.CONTRADICTED),
        (-50.0, 100.0, scorecard.INCONCLUSIVE),
    ],
)
def test_sign_fact_verdicts(coef: float, se: float, verdict: str) -> None:
    result = scorecard.evaluate_fact(_fact("sign"), {"m": _model(coef, se)}, synthetic=False)
    assert result.verdict == verdict


@pytest.mark.parametrize(
    ("coef", "ref", "verdict"),
    [
        (500.0, 380.0, scorecard.REPRODUCED),
        (300.0, 380.0, scorecard.SAME_SIGN),
        (-500.0, 380.0, scorecard.CONTRADICTED),
    ],
)
def test_comparison_fact_verdicts(coef: float, ref: float, verdict: str) -> None:
    term = "np.log(L(GPRC_USA, 4))"
    fact = _fact(
        "comparison", model="usa", term=term, than_model="m", than_term="np.log(L(GPR, 4))"
    )
    models = {"usa": _model(coef, 100.0, name="usa", term=term), "m": _model(ref, 100.0)}
    result = scorecard.evaluate_fact(fact, models, synthetic=False)
    assert result.verdict == verdict
    assert result.reference is not None and result.reference.coef == ref


def test_missing_model_is_not_comparable_but_missing_term_is_bad_input() -> None:
    result = scorecard.evaluate_fact(_fact(), {}, synthetic=False)
    assert result.verdict == scorecard.NOT_COMPARABLE
    assert "not in the results" in result.detail
    with pytest.raises(BadInputError, match="model 'm' in test.json has no term 'L\\(GPR, 4\\)'"):
        scorecard.evaluate_fact(_fact(term="L(GPR, 4)"), {"m": _model(1.0, 1.0)}, synthetic=False)


def test_functional_form_mismatch_is_not_comparable() -> None:
    levels = _model(3.8, 1.0, term="L(GPR, 4)")
    result = scorecard.evaluate_fact(_fact(term="L(GPR, 4)"), {"m": levels}, synthetic=False)
    assert result.verdict == scorecard.NOT_COMPARABLE
    assert "is levels; this fact is read as lin-log" in result.detail


@pytest.mark.parametrize(
    ("depvar", "term", "estimator", "form"),
    [
        ("exports_t", "np.log(L(GPR, 4))", "ols", "lin-log"),
        ("exports_t", "log(L(GPR, 4))", "ols", "lin-log"),
        ("exports_t", "L(GPR, 4)", "ols", "levels"),
        ("np.log(exports_t)", "np.log(L(GPR, 4))", "ols", "log-log"),
        ("np.log(exports_t)", "L(GPR, 4)", "ols", "log-lin"),
        ("exports_t", "np.log(L(gpr_country, 4))", "ppml", "log-log"),
    ],
)
def test_functional_form(depvar: str, term: str, estimator: str, form: str) -> None:
    model = _model(1.0, 1.0, depvar=depvar, term=term, estimator=estimator)
    assert scorecard.functional_form(model, term) == form


def test_synthetic_never_reproduced_and_reports_recovery() -> None:
    models = {"m": _model(400.0, 100.0)}
    result = scorecard.evaluate_fact(
        _fact(), models, synthetic=True, planted={("m", "np.log(L(GPR, 4))"): 380.0}
    )
    assert result.verdict == scorecard.NOT_COMPARABLE
    assert result.detail == scorecard.SYNTHETIC_STATEMENT
    assert result.recovery is not None and result.recovery["recovered"] is True
    missed = scorecard.evaluate_fact(
        _fact(), models, synthetic=True, planted={("m", "np.log(L(GPR, 4))"): 900.0}
    )
    assert missed.recovery is not None and missed.recovery["recovered"] is False


def test_study_scorecard_on_fixture_and_synthetic_flip(tmp_path: Path) -> None:
    facts = scorecard.load_facts(STUDY_FACTS)
    res = tables.load_results(FIXTURE)
    card = scorecard.build_scorecard(facts, [res])
    verdicts = {f["id"]: f["verdict"] for f in card["facts"]}
    # The fixture: headline 412 (CI 113..712) holds 380; levels 3.125 (CI -0.6..6.9) holds 3.8
    # too; USA 530 is significant and larger than 412; AUS -121 is significant and negative.
    assert verdicts == {
        "global_gpr_linlog": scorecard.REPRODUCED,
        "global_gpr_levels": scorecard.REPRODUCED,
        "usa_positive": scorecard.REPRODUCED,
        "aus_positive": scorecard.CONTRADICTED,
        "usa_stronger_than_global": scorecard.REPRODUCED,
        "aus_stronger_than_global": scorecard.CONTRADICTED,
    }
    assert card["model_forms"]["headline"]["form"] == "lin-log"
    assert card["model_forms"]["levels"]["form"] == "levels"
    assert not card["synthetic"]

    doc = json.loads(FIXTURE.read_text())
    doc["data"]["synthetic"] = True
    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(doc))
    card = scorecard.build_scorecard(facts, [tables.load_results(path)])
    assert card["synthetic"] and card["status"] == scorecard.SYNTHETIC_STATEMENT
    assert {f["verdict"] for f in card["facts"]} == {scorecard.NOT_COMPARABLE}
    text = scorecard.scorecard_markdown(card)
    assert "SYNTHETIC DEMO DATA: parameter recovery check, not a replication" in text
    assert "| reproduced" not in text


def test_duplicate_model_names_across_results_are_bad_input() -> None:
    facts = scorecard.load_facts(STUDY_FACTS)
    res = tables.load_results(FIXTURE)
    with pytest.raises(BadInputError, match="appears in both"):
        scorecard.build_scorecard(facts, [res, res])


def test_cross_check_totals_ratio_and_incomplete_years() -> None:
    periods = [f"2017-{m:02d}" for m in range(1, 13)] + ["2020-01"]
    frame = pd.DataFrame(
        {"period": periods, "exports_t": [3000.0] * 12 + [100.0], "export_series": "x"}
    )
    totals = [
        {"year": 2017, "tonnes": 30000, "source_url": "u"},
        {"year": 2020, "tonnes": 36000, "source_url": "u"},
        {"year": 2024, "tonnes": 58152, "source_url": "u"},
    ]
    rows = scorecard.cross_check_totals(frame, totals)
    assert rows[0]["series_t"] == 36000.0 and rows[0]["ratio"] == pytest.approx(1.2)
    assert rows[1]["months"] == 1 and rows[1]["ratio"] is None  # one month is not a year
    assert rows[2]["series_t"] is None and rows[2]["months"] == 0


def _frames(study: str) -> dict[str, Any]:
    return {f.name: f for f in load_study(ROOT / "analyses" / study).frames}


def test_series_statement_names_hs6_breadth_and_import_series() -> None:
    world = _frames("porcher2025")["world"]
    comtrade = scorecard.describe_series(["comtrade_850511"], frame=world, annual_totals=True)
    # From the declaration: reporter and flow, the preferred code, the HS description.
    assert "China's monthly exports" in comtrade
    assert "broader than the preferred code 85051110" in comtrade
    assert "permanent magnets" in comtrade and "published totals below" in comtrade
    assert "reexport import-series FILE.csv --name NAME --hs 85051110 --unit t" in comtrade
    user = scorecard.describe_series(["userseries:customs_85051110"], frame=world)
    assert "customs_85051110" in user and "code 85051110" in user
    # Without a declaration nothing study-specific is claimed.
    bare = scorecard.describe_series(["comtrade_850511"])
    assert "China" not in bare and "85051110" not in bare


def test_the_japan_data_statement_describes_its_import_frames() -> None:
    frames = _frames("japan_rare_earths")
    used = [frames[n] for n in ("rare_earths", "magnets")]
    text = scorecard.describe_data(used, synthetic=False)
    paragraphs = scorecard.statement_paragraphs(text)
    assert len(paragraphs) == 2
    assert paragraphs[0].startswith("`rare_earths`: UN Comtrade, Japan's monthly imports of ")
    assert "HS 280530 (Earth-metals, rare" in paragraphs[0] and "HS 2846 (Compounds" in text
    assert "from every partner" in text and "share of the import value (USD)" in text
    assert (
        "IND_SEA (IND, VNM, THA, MYS, PHL)" in text
        and "joined by month with GPRC_JPN, GPRC_CHN." in text
    )
    # No wording of the Porcher study's China export series.
    for porcher in ("export", "CN 85051110", "China-customs", "the paper", "not recorded"):
        assert porcher not in text, porcher
    synthetic = scorecard.describe_data(used, synthetic=True)
    assert scorecard.statement_paragraphs(synthetic)[0].startswith("SYNTHETIC")
    mirror = scorecard.describe_frame(frames["china_exports_to_japan"])
    assert "China's monthly exports of" in mirror and " to Japan, one row per HS code" in mirror


def test_the_porcher_destination_frame_says_absent_partners_are_zero() -> None:
    text = scorecard.describe_frame(_frames("porcher2025")["destination"])
    assert "to every partner, one row per partner and month" in text
    assert "a partner absent in a month China reported counts as 0" in text
    assert "`GPRC_{partner}` as `gpr_country`" in text


def test_published_facts_encode_the_paper() -> None:
    facts = scorecard.load_facts(STUDY_FACTS)
    by_id = {f.id: f for f in facts.facts}
    assert by_id["global_gpr_linlog"].value == 380.0
    assert by_id["global_gpr_levels"].value == 3.8
    assert "108496" in facts.citation
    assert [t["tonnes"] for t in facts.annual_totals] == [29907, 35981.9, 58152]


def test_published_totals_match_the_shared_reference(shared_data: Path) -> None:
    reference = pd.read_csv(shared_data / "repm_published_figures.csv", dtype=str)
    annual = reference[
        (reference["measure"] == "export_quantity") & (reference["hs_code"] == "85051110")
    ]
    published = {
        int(p): float(v)
        for p, v in zip(annual["period"], annual["value"], strict=True)
        if len(p) == 4
    }
    for total in scorecard.load_facts(STUDY_FACTS).annual_totals:
        assert published[int(total["year"])] == pytest.approx(float(total["tonnes"]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("facts"), "lists no published facts"),
        (lambda d: d.update(schema=2), "schema 2"),
        (lambda d: d["facts"][0].update(kind="vibe"), "kind 'vibe'"),
        (lambda d: d["facts"][0].pop("value"), "missing 'value'"),
        (lambda d: d["facts"][0].update(value=-380.0), "disagrees with sign"),
        (lambda d: d["facts"][4].pop("than_model"), "missing 'than_model'"),
        (lambda d: d["facts"][0].update(reading="quadratic"), "reading 'quadratic'"),
    ],
)
def test_bad_published_facts(tmp_path: Path, mutate: Any, message: str) -> None:
    doc = json.loads(STUDY_FACTS.read_text())
    mutate(doc)
    path = tmp_path / "published_facts.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match=message):
        scorecard.load_facts(path)


def test_missing_published_facts_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="has no published facts"):
        scorecard.load_facts(tmp_path / "published_facts.json")


def test_scorecard_json_is_stable() -> None:
    facts = scorecard.load_facts(STUDY_FACTS)
    res = tables.load_results(FIXTURE)
    first = scorecard.scorecard_json(scorecard.build_scorecard(facts, [res]))
    second = scorecard.scorecard_json(scorecard.build_scorecard(facts, [res]))
    assert first == second
    assert json.loads(first)["verdict_counts"]["reproduced"] == 4


def test_parameter_recovery_lists_every_planted_effect() -> None:
    models = {"m": _model(400.0, 100.0)}
    rows = scorecard.parameter_recovery(
        models,
        {("m", "np.log(L(GPR, 4))"): 380.0, ("absent", "x"): 1.0, ("m", "trend"): 5.0},
    )
    by_model = {(r["model"], r["term"]): r for r in rows}
    assert by_model[("m", "np.log(L(GPR, 4))")]["recovered"] is True
    assert by_model[("m", "trend")]["recovered"] is False  # CI of trend is [0.8, 1.2]
    assert by_model[("absent", "x")]["recovered"] is None
    with pytest.raises(BadInputError, match="has no term 'nope'"):
        scorecard.parameter_recovery(models, {("m", "nope"): 1.0})


def test_recovery_section_only_on_synthetic_data(tmp_path: Path) -> None:
    facts = scorecard.load_facts(STUDY_FACTS)
    planted = {("headline", "np.log(L(GPR, 4))"): 380.0}
    real = scorecard.build_scorecard(facts, [tables.load_results(FIXTURE)], planted=planted)
    assert real["parameter_recovery"] == []
    doc = json.loads(FIXTURE.read_text())
    doc["data"]["synthetic"] = True
    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(doc))
    card = scorecard.build_scorecard(facts, [tables.load_results(path)], planted=planted)
    assert [r["recovered"] for r in card["parameter_recovery"]] == [True]
    assert "Parameter recovery on the synthetic demo data" in scorecard.scorecard_markdown(card)
    assert card["data"]["series_statement"] == (
        "The series used is not recorded in the study frame, and no study declaration "
        "was given to describe it."
    )


def test_code_spans_in_scorecard_prose_render_as_code(tmp_path: Path) -> None:
    doc = json.loads(STUDY_FACTS.read_text())
    doc["tolerances"] = {"value": "swap the series with `reexport import-series FILE.csv`"}
    doc["facts"][0]["statement"] = "estimated with `reexport estimate | tee log` on *demo*"
    path = tmp_path / "published_facts.json"
    path.write_text(json.dumps(doc))
    res = tables.load_results(FIXTURE)
    frame = pd.DataFrame({"period": ["2017-01"], "exports_t": [1.0], "export_series": ["demo"]})
    text = scorecard.scorecard_markdown(
        scorecard.build_scorecard(
            scorecard.load_facts(path), [res], frame=frame, frames=[_frames("porcher2025")["world"]]
        )
    )
    assert "\\`" not in text  # no escaped backtick anywhere
    assert "- value: swap the series with `reexport import-series FILE.csv`" in text
    assert "`reexport import-series FILE.csv --name NAME --hs 85051110 --unit t`" in text
    # In a table cell the pipe inside the code span is escaped (GitHub tables need it).
    assert r"estimated with `reexport estimate \| tee log` on \*demo\*" in text


def test_scorecard_matches_golden() -> None:
    """The rendered scorecard (fixture results, a fixed frame) is stable, byte for byte."""
    periods = pd.period_range("2017-01", "2024-12", freq="M").astype(str)
    frame = pd.DataFrame(
        {"period": periods, "exports_t": 3000.0, "export_series": "comtrade_850511"}
    )
    card = scorecard.build_scorecard(
        scorecard.load_facts(STUDY_FACTS),
        [tables.load_results(FIXTURE)],
        frame=frame,
        data_meta={"vintages": {"gpr": "20261128T151200Z", "comtrade": "20261128T151300Z"}},
        frames=[_frames("porcher2025")["world"]],
    )
    for name, text in (
        ("scorecard.md", scorecard.scorecard_markdown(card)),
        ("scorecard.json", scorecard.scorecard_json(card)),
    ):
        golden = FIXTURE.parent / name
        if os.environ.get("REEXPORT_UPDATE_GOLDEN") == "1":
            golden.write_text(text, encoding="utf-8")
        assert text == golden.read_text(encoding="utf-8"), f"{name} differs from the golden file"
