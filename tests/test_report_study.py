"""``reexport report STUDY``: a whole study folder end to end, determinism and bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.models.spec import load_spec
from reexport.report import scorecard as scorecard_mod
from reexport.report import study as study_mod
from reexport.report import tables as tables_mod

ROOT = Path(__file__).resolve().parents[1]
PORCHER = ROOT / "analyses" / "porcher2025"
FIXTURE = Path(__file__).parent / "golden" / "results_world.json"

REPORT_TOML = """
[study]
title = "Test study"
citation = "Depraiter, Goutte & Porcher (2025), Energy Economics 146, 108496"

[results.world]
spec = "study.toml"
file = "results/world.json"
columns = ["period", "exports_t", "GPR"]

[recipe]
commands = ["reexport data", "reexport build"]
period = ["2017-01", "2024-12"]
sources = ["test source"]

[style]
hide = ["^C\\\\(month\\\\)"]
focus = "(?i)gpr"

[[style.indicator]]
label = "Month-of-year dummies"
pattern = "^C\\\\(month\\\\)"

[style.group_labels]
lag_profile = "lag 0..12"

[[demo.planted]]
model = "headline"
term = "np.log(L(GPR, 4))"
constant = "BETA_LOG_GPR"

[[table]]
id = "table1_main"
title = "Main models"
results = "world"
models = ["headline", "levels", "country_USA", "country_AUS"]

[[table]]
id = "table2_robustness"
kind = "focus"
title = "Robustness"
results = "world"
models = ["headline", "levels"]
groups = ["lag_profile", "excl_2022"]

[[figure]]
id = "figure1_exports_gpr"
kind = "timeseries"
title = "Exports and GPR"
results = "world"
annotations = [{ start = "2022-01", end = "2022-12", text = "2022" }]

[[figure]]
id = "figure2_coefficients"
kind = "coefficients"
title = "Coefficients"
results = "world"
models = ["headline", "country_USA", "country_AUS"]
references = [{ value = 380.0, text = "published" }]

[[figure]]
id = "figure3_lag_profile"
kind = "lag_profile"
title = "Lag profile"
results = "world"
group = "lag_profile"
highlight = 4

[[figure]]
id = "figure4_spec_curve"
kind = "spec_curve"
title = "Specification curve"
results = "world"
models = ["headline", "levels"]
groups = ["lag_profile", "excl_2022"]
forms = ["lin-log"]
"""


def study_frame() -> pd.DataFrame:
    """A small deterministic monthly study frame (2017-01..2024-12)."""
    periods = pd.period_range("2017-01", "2024-12", freq="M")
    t = np.arange(len(periods), dtype=float)
    gpr = 100.0 + 20.0 * np.sin(t / 5.0)
    gpr[61] = 300.0  # a 2022-02 spike
    return pd.DataFrame(
        {
            "period": periods.astype(str),
            "exports_t": 2500.0 + 25.0 * t + 200.0 * np.cos(t / 3.0),
            "export_series": "comtrade_850511",
            "GPR": gpr,
            "month": periods.month,
            "year": periods.year,
        }
    )


def make_study(tmp_path: Path, *, synthetic: bool = False) -> Path:
    """A study folder in ``tmp_path`` whose results point at a generated study frame."""
    folder = tmp_path / "study"
    (folder / "results").mkdir(parents=True)
    data_path = tmp_path / "processed" / "study_world.csv"
    data_path.parent.mkdir()
    study_frame().to_csv(data_path, index=False)
    meta = {
        "synthetic": synthetic,
        "vintages": {"gpr": "demo-1" if synthetic else "20261128T000000Z"},
    }
    (data_path.parent / "study_world.meta.json").write_text(json.dumps(meta))
    doc = json.loads(FIXTURE.read_text())
    doc["data"] = {
        "path": str(data_path),
        "sha256": hashlib.sha256(data_path.read_bytes()).hexdigest(),
        "synthetic": synthetic,
    }
    (folder / "results" / "world.json").write_text(json.dumps(doc))
    (folder / "report.toml").write_text(REPORT_TOML)
    shutil.copy(PORCHER / "published_facts.json", folder / "published_facts.json")
    return folder


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (non-synthetic) study with its report written once for the module."""
    root = tmp_path_factory.mktemp("baseline")
    folder = make_study(root)
    study_mod.run_report(folder)
    return root


def copy_baseline(baseline: Path, tmp_path: Path) -> Path:
    """A private copy of the baseline study (outputs included) whose results point at its own data."""
    root = tmp_path / "copy"
    shutil.copytree(baseline, root)
    results = root / "study" / "results" / "world.json"
    doc = json.loads(results.read_text())
    doc["data"]["path"] = str(root / "processed" / "study_world.csv")
    results.write_text(json.dumps(doc))
    return root / "study"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_report_writes_every_output(baseline: Path) -> None:
    out = baseline / "study" / "output"
    for stem in ("table1_main", "table2_robustness"):
        for fmt in ("md", "tex", "html", "csv"):
            assert (out / "tables" / f"{stem}.{fmt}").is_file()
    for stem in (
        "figure1_exports_gpr",
        "figure2_coefficients",
        "figure3_lag_profile",
        "figure4_spec_curve",
    ):
        assert (out / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / "figures" / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"
    card = json.loads((out / "scorecard.json").read_text())
    assert card["verdict_counts"]["reproduced"] == 4
    index = (out / "report.md").read_text()
    assert "figure3_lag_profile" in index and "reexport estimate" in index
    assert "table2_robustness" in index and "study.toml" in index
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "SYNTHETIC" not in index + page
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_two_runs_are_byte_identical(baseline: Path, tmp_path: Path) -> None:
    folder = copy_baseline(baseline, tmp_path)
    study_mod.run_report(folder, output=tmp_path / "out")
    first = _snapshot(tmp_path / "out")
    study_mod.run_report(folder, output=tmp_path / "out")
    second = _snapshot(tmp_path / "out")
    assert first.keys() == second.keys() and len(first) == 20
    different = [name for name in first if first[name] != second[name]]
    assert different == []


def test_synthetic_inputs_are_marked_everywhere(tmp_path: Path) -> None:
    folder = make_study(tmp_path, synthetic=True)
    summary = study_mod.run_report(folder)
    out = folder / "output"
    assert summary.synthetic
    for path in (out / "tables").iterdir():
        assert "SYNTHETIC DEMO DATA" in path.read_text(), path.name
    card = json.loads((out / "scorecard.json").read_text())
    assert card["synthetic"]
    assert all(f["verdict"] == "not comparable" for f in card["facts"])
    recovery = next(f["recovery"] for f in card["facts"] if f["id"] == "global_gpr_linlog")
    assert recovery["planted"] == 380.0 and recovery["recovered"] is True
    assert "parameter recovery check, not a replication" in (out / "scorecard.md").read_text()
    assert "SYNTHETIC DEMO DATA" in (out / "report.md").read_text()
    assert "SYNTHETIC DEMO DATA" in (out / "report.html").read_text()


def test_synthetic_sidecar_marks_unflagged_results(baseline: Path, tmp_path: Path) -> None:
    folder = copy_baseline(baseline, tmp_path)
    meta = folder.parent / "processed" / "study_world.meta.json"
    meta.write_text(json.dumps({"synthetic": True}))
    summary = study_mod.run_report(folder, output=tmp_path / "out")
    assert summary.synthetic
    assert "SYNTHETIC DEMO DATA" in (tmp_path / "out" / "tables" / "table1_main.md").read_text()


def test_synthetic_column_marks_unflagged_results(tmp_path: Path) -> None:
    # A demo build's CSV says synthetic in its own content; results and sidecar say nothing.
    folder = make_study(tmp_path)
    data_path = tmp_path / "processed" / "study_world.csv"
    frame = pd.read_csv(data_path, dtype={"period": str})
    frame["synthetic"] = True
    frame.to_csv(data_path, index=False)
    (tmp_path / "processed" / "study_world.meta.json").write_text(json.dumps({}))
    results = folder / "results" / "world.json"
    doc = json.loads(results.read_text())
    doc["data"].pop("synthetic")
    doc["data"]["sha256"] = hashlib.sha256(data_path.read_bytes()).hexdigest()
    results.write_text(json.dumps(doc))
    summary = study_mod.run_report(folder)
    assert summary.synthetic
    assert "SYNTHETIC DEMO DATA" in (folder / "output" / "tables" / "table1_main.md").read_text()


def test_report_index_names_recipe_and_coverage(baseline: Path) -> None:
    index = (baseline / "study" / "output" / "report.md").read_text()
    assert "Recipe: `reexport data` && `reexport build`" in index
    assert "world data cover 2017-01..2024-12 (96 months)" in index


def test_report_index_keeps_code_spans_and_escapes_the_rest(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    text = (folder / "report.toml").read_text()
    text = text.replace(
        'sources = ["test source"]',
        'sources = ["a_b file, made by `reexport import-series a_b.csv`"]',
    )
    (folder / "report.toml").write_text(text)
    study_mod.run_report(folder)
    index = (folder / "output" / "report.md").read_text()
    assert "- source: a\\_b file, made by `reexport import-series a_b.csv`" in index
    assert "\\`" not in index
    # The series statement's code span (a report-only folder: no declaration to describe).
    assert "(`comtrade_850511`: the reporter's monthly trade, net weight in tonnes)" in index


def test_table_columns_default_to_the_model_labels(baseline: Path, tmp_path: Path) -> None:
    # report.toml gives no `columns` for table1_main: the spec's labels head the columns.
    folder = copy_baseline(baseline, tmp_path)
    path = folder / "results" / "world.json"
    doc = json.loads(path.read_text())
    for model in doc["models"]:
        if model["name"] == "headline":
            model["label"] = "Global GPR, lin-log"
    path.write_text(json.dumps(doc))
    study_mod.run_report(folder, output=tmp_path / "out")
    md = (tmp_path / "out" / "tables" / "table1_main.md").read_text()
    assert "| (1) Global GPR, lin-log | (2) levels |" in md


def test_cli_report_prints_summary(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_baseline(baseline, tmp_path)
    (folder / "report.toml").write_text(REPORT_TOML.split("[[figure]]")[0])  # tables only
    assert main(["report", str(folder), "--output", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "table table1_main" in printed and "scorecard:" in printed
    assert (tmp_path / "out" / "report.md").is_file()


def _break_results(folder: Path, change: str) -> None:
    path = folder / "results" / "world.json"
    doc = json.loads(path.read_text())
    if change == "old_schema":
        doc["schema"] = 0
    elif change == "missing_term":
        # The headline model loses its GPR coefficient: the focus pattern finds nothing.
        model = doc["models"][0]
        for key in ("params", "std_errors", "tstats", "pvalues", "conf_int"):
            model[key].pop("np.log(L(GPR, 4))")
    elif change == "empty_group":
        for model in doc["models"]:
            if model["group"] == "lag_profile":
                model["group"] = "other"
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("old_schema", "schema 0"),
        ("missing_term", "has no term"),
        ("empty_group", "no models in group 'lag_profile'"),
        ("no_facts", "has no published facts"),
        ("empty_battery", "robustness battery is empty"),
        ("data_changed", "changed since"),
        ("missing_column", "lacks the column(s) the study needs: GPRC_XYZ"),
    ],
)
def test_bad_input_exits_2_and_leaves_outputs_untouched(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str, message: str
) -> None:
    folder = copy_baseline(baseline, tmp_path)
    before = _snapshot(folder / "output")
    if change == "no_facts":
        (folder / "published_facts.json").unlink()
    elif change == "empty_battery":
        text = (folder / "report.toml").read_text()
        text = text.replace(
            'models = ["headline", "levels"]\ngroups = ["lag_profile", "excl_2022"]\n\n[[figure]]',
            "models = []\n\n[[figure]]",
            1,
        )
        (folder / "report.toml").write_text(text)
    elif change == "missing_column":
        text = (folder / "report.toml").read_text()
        (folder / "report.toml").write_text(text.replace('"GPR"]', '"GPR", "GPRC_XYZ"]', 1))
    elif change == "data_changed":
        csv = folder.parent / "processed" / "study_world.csv"
        csv.write_text(csv.read_text() + "\n")  # same numbers, different bytes
    else:
        _break_results(folder, change)
    capsys.readouterr()
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert _snapshot(folder / "output") == before


def _second_results(folder: Path, *, synthetic: bool) -> Path:
    """Add a results key ``panel`` to the study whose file copies world.json under new names."""
    doc = json.loads((folder / "results" / "world.json").read_text())
    doc["data"]["synthetic"] = synthetic
    for model in doc["models"]:
        model["name"] = "panel_" + model["name"]
    path = folder.parent / f"panel_{'demo' if synthetic else 'real'}.json"
    path.write_text(json.dumps(doc))
    text = (folder / "report.toml").read_text()
    text = text.replace(
        "[recipe]", '[results.panel]\nspec = "study.toml"\nfile = "results/panel.json"\n\n[recipe]'
    )
    (folder / "report.toml").write_text(text)
    return path


def test_demo_and_real_results_are_never_mixed(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_baseline(baseline, tmp_path)
    demo = _second_results(folder, synthetic=True)
    real = folder / "results" / "world.json"
    before = _snapshot(folder / "output")
    capsys.readouterr()
    code = main(["report", str(folder), "--results", f"world={real},panel={demo}"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "mix synthetic demo and real data" in err
    assert f"panel={demo} is synthetic demo data (data.synthetic = true)" in err
    assert f"world={real} is real data (data.synthetic = false)" in err
    assert _snapshot(folder / "output") == before


def test_a_synthetic_sidecar_counts_when_refusing_a_mix(baseline: Path, tmp_path: Path) -> None:
    # Both results files say real, but the world frame's sidecar says synthetic: still a mix.
    folder = copy_baseline(baseline, tmp_path)
    real = _second_results(folder, synthetic=False)
    real_doc = json.loads(real.read_text())
    other_csv = tmp_path / "other" / "study_world.csv"
    other_csv.parent.mkdir()
    shutil.copy(folder.parent / "processed" / "study_world.csv", other_csv)
    real_doc["data"]["path"] = str(other_csv)
    real.write_text(json.dumps(real_doc))
    meta = folder.parent / "processed" / "study_world.meta.json"
    meta.write_text(json.dumps({"synthetic": True}))
    with pytest.raises(BadInputError, match="metadata sidecar of .*study_world.csv.*is real data"):
        study_mod.run_report(folder, results=f"panel={real}", output=tmp_path / "out")
    assert not (tmp_path / "out" / "report.md").exists()


def test_scorecard_refuses_mixed_results(tmp_path: Path) -> None:
    facts = scorecard_mod.load_facts(PORCHER / "published_facts.json")
    real = tables_mod.load_results(FIXTURE)
    doc = json.loads(FIXTURE.read_text())
    doc["data"]["synthetic"] = True
    for model in doc["models"]:
        model["name"] = "demo_" + model["name"]
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match="mix synthetic demo data .*demo.json.* and real data"):
        scorecard_mod.build_scorecard(facts, [real, tables_mod.load_results(path)])


def test_results_option_forms(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    config = study_mod.load_study(folder)
    assert study_mod.parse_results_option(None, config) == {"world": folder / "results/world.json"}
    assert study_mod.parse_results_option("world=x.json", config) == {"world": Path("x.json")}
    assert study_mod.parse_results_option(str(tmp_path), config) == {
        "world": tmp_path / "world.json"
    }
    assert study_mod.parse_results_option("y.json", config) == {"world": Path("y.json")}
    with pytest.raises(BadInputError, match="'nope' is not a results key"):
        study_mod.parse_results_option("nope=x.json", config)


def test_missing_study_folder_and_config(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        study_mod.load_study(tmp_path / "nowhere")
    with pytest.raises(BadInputError, match="has no report.toml"):
        study_mod.load_study(tmp_path)


# --------------------------------------------------------------------------- the real study


def test_porcher_study_definition_is_consistent() -> None:
    """Every model and group the report and the facts name exists in the specs."""
    config = study_mod.load_study(PORCHER)
    names: dict[str, set[str]] = {}
    groups: dict[str, set[str]] = {}
    for key, ref in config.results.items():
        spec = load_spec(ref.spec)
        names[key] = {m.name for m in spec.models}
        groups[key] = {m.group for m in spec.models if m.group}
    for item in (*config.tables, *config.figures):
        key = item["results"]
        assert set(item.get("models", [])) <= names[key], item["id"]
        wanted = set(item.get("groups", [])) | ({item["group"]} if "group" in item else set())
        assert wanted <= groups[key], item["id"]
    for fact in config.facts.facts:
        assert fact.model in names["world"], fact.id
        assert fact.than_model is None or fact.than_model in names["world"]
    every_model = set().union(*names.values())
    for planted in config.planted:
        assert planted.model in every_model
    assert {p.value for p in config.planted} >= {380.0, 520.0, 450.0, 0.30}


def test_porcher_specs_cover_the_issue() -> None:
    """The headline, country and levels models and the whole robustness battery are specified."""
    world = {m.name: m for m in load_spec(PORCHER / "specs" / "world.toml").models}
    headline = world["headline"]
    assert "np.log(L(GPR, 4))" in headline.formula and "trend" in headline.formula
    assert "C(month)" in headline.formula
    assert "L(GPR, 4)" in world["levels"].formula and "log" not in world["levels"].formula
    for iso in ("USA", "AUS", "CHN", "JPN"):
        assert f"GPRC_{iso}" in world[f"country_{iso}"].formula
    lags = sorted(int(m.variant["lag"]) for m in world.values() if m.group == "lag_profile")
    assert lags == list(range(13))
    assert world["excl_2022"].sample is not None
    assert world["excl_2022"].sample.exclude_years == (2022,)
    left_out = sorted(m.sample.exclude_years for m in world.values() if m.group == "leave_out")
    assert left_out == [(y,) for y in range(2017, 2025)]
    assert {"component_GPRT", "component_GPRA", "log_log"} <= world.keys()
    assert sorted(m.cov.lags for m in world.values() if m.group == "hac") == [0, 2, 6, 8, 12]
    panel = {m.name: m for m in load_spec(PORCHER / "specs" / "destination.toml").models}
    assert panel["dest_cluster"].cov.type == "cluster"
    assert panel["dest_dk"].cov.type == "driscoll-kraay"
    assert panel["dest_ppml"].estimator == "ppml"
    assert all(m.effects == ("entity", "time") for m in panel.values())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[study]", "[studdy]", "unknown key 'studdy'"),
        ('id = "table1_main"', 'id = "table1_main"\nmodel = ["x"]', "unknown key 'model'"),
        ('id = "table1_main"', 'id = "../escape"', "must be a plain file name"),
        ("highlight = 4", 'highlight = "4"', "'highlight' must be an integer"),
        ('groups = ["lag_profile", "excl_2022"]\n', 'groups = "lag_profile"\n', "list of strings"),
        ('results = "world"', 'results = "panel"', "results 'panel' is not a [results] key"),
        ('kind = "focus"', 'kind = "pie"', "kind 'pie'"),
        ('text = "published" }', 'texts = "published" }', "reference needs"),
        ('focus = "(?i)gpr"', 'focus = "(?i)gpr"\ndigits = -1', "'digits' must be"),
        ('focus = "(?i)gpr"', 'focus = "(gpr"', "bad regular expression '(gpr'"),
        ('label = "Month-of-year dummies"', 'name = "Month-of-year dummies"', "needs label"),
        ("[[demo.planted]]", "[[demo.plants]]", "unknown key 'plants'"),
        ('file = "results/world.json"', 'file = "results/world.json"\nspecs = "x"', "'specs'"),
        ('focus = "(?i)gpr"', 'focus = "(?i)gpr"\nstatistics = "t"', "'statistics'"),
    ],
)
def test_bad_report_config(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = make_study(tmp_path)
    text = (folder / "report.toml").read_text()
    assert old in text
    (folder / "report.toml").write_text(text.replace(old, new, 1))
    with pytest.raises(BadInputError, match=message.replace("[", "\\[").replace("(", "\\(")):
        study_mod.load_study(folder)


def test_report_html_says_what_report_md_says(baseline: Path) -> None:
    """Issue 8 item 10: report.html had no produced-by, spec or data lines, and its
    scorecard dropped the Published and CI columns."""
    import html as html_lib
    import re

    out = baseline / "study" / "output"
    index = (out / "report.md").read_text()
    page = html_lib.unescape((out / "report.html").read_text())
    commands = re.findall(r"^- produced by: `(.+)`$", index, flags=re.MULTILINE)
    specs = re.findall(r"^- spec: `(.+)` \(results `(.+)`\)$", index, flags=re.MULTILINE)
    assert commands and len(specs) == len(commands)
    for command in commands:
        assert f"produced by: <code>{command}</code>" in page
    for spec, results in specs:
        assert f"spec: <code>{spec}</code> (results <code>{results}</code>)" in page
    coverage = re.findall(r"^- (\S+ data cover .+)$", index, flags=re.MULTILINE)
    assert coverage
    for line in coverage:
        assert line.replace("\\", "") in page
    card = json.loads((out / "scorecard.json").read_text())
    for column in ("<th>Published</th>", "<th>Reproduced (95% CI)</th>", "<th>Model / term</th>"):
        assert column in page
    for fact in card["facts"]:
        published, reproduced, verdict = scorecard_mod.fact_cells(fact)
        assert f"<td>{published}</td><td>{fact['published']['model']} /" in page
        assert f"<td>{reproduced}</td><td>{verdict}</td>" in page
    assert "vintages: <code>" in page or not card["data"].get("vintages")


@pytest.mark.shared
@pytest.mark.slow
def test_the_porcher_chain_runs_on_real_vintages_offline(
    data_root: Path,
    tmp_path: Path,
    shared_data: Path,
    published_monthly_85051110: pd.DataFrame,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """data -> build -> estimate -> report on real vintages only, with no network.

    The real inputs beside the checkout: the publisher's GPR workbook and the monthly
    China-customs CN 85051110 figures published in the news (26 months, 2016-12..2025-11;
    ../shared/data/repm_published_figures.csv).  No real monthly Comtrade body is stored
    (../shared/data/comtrade/PROVENANCE.md), so the by-destination frame, optional in
    study.toml, is not built: its estimate and table are left out and the report says so.
    """
    monthly = published_monthly_85051110
    series = tmp_path / "published_85051110.csv"
    monthly.to_csv(series, index=False)
    gpr = shared_data / "gpr" / "data_gpr_export.xls"
    assert main(["fetch", "gpr", "--from-file", str(gpr)]) == 0
    assert main(["import-series", str(series), "--name", "published_85051110", "--unit", "t"]) == 0
    # `reexport data --offline` with real vintages stored uses them (no demo is written).
    assert main(["data", str(PORCHER), "--offline"]) == 0
    assert not [v for v in (data_root / "raw").rglob("demo-*")]
    assert main(["build", str(PORCHER)]) == 0
    build_out = capsys.readouterr().out
    assert "build porcher2025 (real)" in build_out and "SYNTHETIC" not in build_out
    results = tmp_path / "results"
    assert main(["estimate", str(PORCHER), "--output", str(results)]) == 0
    assert "estimate destination: skipped: the optional frame 'destination' was not built" in (
        capsys.readouterr().out
    )
    assert sorted(p.name for p in results.glob("*.json")) == ["world.json"]
    out = tmp_path / "report"
    assert main(["report", str(PORCHER), "--output", str(out), "--results", str(results)]) == 0
    card = json.loads((out / "scorecard.json").read_text())
    assert card["synthetic"] is False and card["parameter_recovery"] == []
    world = json.loads((results / "world.json").read_text())
    headline = next(m for m in world["models"] if m["name"] == "headline")
    # The frame widens to the series' span (2016-12..2025-11), and its first month has no
    # GPR four months earlier inside the frame: 26 published months, 25 observations.
    assert headline["nobs"] == len(monthly) - 1 == 25
    assert headline["dropped_rows"]["lags"] == 4
    for fact in card["facts"]:
        # Real data: every fact gets a verdict on its estimate, none is "not comparable".
        assert fact["verdict"] != "not comparable", fact["id"]
        assert fact["reproduced"] is not None and all(
            np.isfinite(x) for x in fact["reproduced"]["ci95"]
        )
    statement = card["data"]["series_statement"]
    assert "user-supplied series `published_85051110`" in statement and "SYNTHETIC" not in statement
    index = (out / "report.md").read_text()
    assert "SYNTHETIC" not in index
    assert (
        "- not produced: results destination (the optional frame 'destination' was not built)"
        in index
    )
    assert "not produced: table table3\\_destination (needs results destination)" in index
    assert not (out / "tables" / "table3_destination.md").exists()
    assert (out / "tables" / "table1_main.md").is_file()
    verdicts = {f["id"]: f["verdict"] for f in card["facts"]}
    print(f"real-vintage scorecard: {verdicts}")


def test_only_an_optional_frame_not_built_is_left_out(data_root: Path) -> None:
    from reexport.study import load_study as load_declaration

    declared = load_declaration(PORCHER)
    specs = {e.name: e.spec for e in declared.estimates}
    # Nothing built: the optional by-destination frame is a stated gap; the required world
    # frame is not (reading it fails with its own message).
    assert study_mod.unbuilt_optional_frame(declared.frames, specs["destination"]) == "destination"
    assert study_mod.unbuilt_optional_frame(declared.frames, specs["world"]) is None
    reduced, omitted = study_mod.without_unbuilt_frames(study_mod.load_study(PORCHER))
    assert list(reduced.results) == ["world"]
    assert "table3_destination" not in [t["id"] for t in reduced.tables]
    assert omitted["results destination"] == "the optional frame 'destination' was not built"
    # Once built, nothing is left out.
    processed = data_root / "processed" / "porcher2025"
    processed.mkdir(parents=True)
    (processed / "destination.csv").write_text("period\n")
    assert study_mod.unbuilt_optional_frame(declared.frames, specs["destination"]) is None
    assert study_mod.without_unbuilt_frames(study_mod.load_study(PORCHER))[1] == {}


@pytest.mark.shared
def test_a_real_user_series_named_on_the_command_line_is_built_from(
    data_root: Path, tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--export-series userseries:NAME` with a real series the study does not prefer.

    The third party's real monthly HS 850511 world totals (../shared/data/comtrade_derived)
    are not the CN 85051110 series the Porcher study prefers, so only naming them selects
    them; the real/demo decision must see that real series (it used to ask only about the
    preferred one and refuse the build as a real/demo mix).
    """
    table = pd.read_csv(shared_data / "comtrade_derived" / "strategic_premium_hs6.csv")
    magnets = table[table["hs6"] == 850511]
    # China's monthly HS 850511 exports summed over the two partner blocs, kg -> t.
    months = (
        magnets.assign(period=magnets["period_dt"].str[:7])
        .groupby("period", as_index=False)["qty"]
        .sum()
        .assign(value=lambda f: f["qty"] / 1000.0)[["period", "value"]]
    )
    assert len(months) == 96
    series = tmp_path / "hs850511_world.csv"
    months.to_csv(series, index=False)
    gpr = shared_data / "gpr" / "data_gpr_export.xls"
    assert main(["fetch", "gpr", "--from-file", str(gpr)]) == 0
    assert main(["import-series", str(series), "--name", "hs850511_world", "--hs", "850511"]) == 0
    capsys.readouterr()
    assert main(["build", str(PORCHER), "--export-series", "userseries:hs850511_world"]) == 0
    out = capsys.readouterr().out
    assert "(real)" in out and "userseries:hs850511_world" in out
    # Without naming it, the build has no real world series and refuses the mix.
    assert main(["build", str(PORCHER)]) == 2
    assert "no real vintage for frame 'world'" in capsys.readouterr().err
