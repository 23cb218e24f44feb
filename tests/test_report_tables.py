"""Regression tables: golden files in every format, stars, escaping and bad input."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from pathlib import Path

import pytest
from scipy import stats

from reexport import markup
from reexport.errors import BadInputError
from reexport.models.results import CovInfo, ModelResult
from reexport.models.spec import COV_TYPES
from reexport.report import tables
from reexport.report.tables import IndicatorRow

GOLDEN = Path(__file__).parent / "golden"
FIXTURE = GOLDEN / "results_world.json"
#: Set REEXPORT_UPDATE_GOLDEN=1 to rewrite the golden files after a deliberate change.
UPDATE = os.environ.get("REEXPORT_UPDATE_GOLDEN") == "1"


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"golden file {name} missing; run with REEXPORT_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def _main_table(statistic: tables.Statistic = "se", synthetic: bool = False) -> tables.Table:
    res = tables.load_results(FIXTURE)
    return tables.build_table(
        [res.model(n) for n in ("headline", "levels", "country_USA", "country_AUS")],
        labels=res.labels,
        title="China's REPM exports & geopolitical risk: main models",
        hide=[r"^C\(month\)"],
        indicators=[IndicatorRow("Month-of-year dummies", r"^C\(month\)")],
        column_titles=["Global, lin-log", "Global, levels", "United States", "Australia"],
        statistic=statistic,
        synthetic=synthetic,
    )


def _focus_table() -> tables.Table:
    res = tables.load_results(FIXTURE)
    return tables.build_focus_table(
        list(res.models),
        labels=res.labels,
        title="Robustness: the risk-index coefficient",
        focus="(?i)gpr",
        group_labels={"lag_profile": "lag 0..12", "excl_2022": "excluding 2022"},
    )


@pytest.mark.parametrize("fmt", ["md", "tex", "html", "csv"])
def test_main_table_matches_golden(fmt: str) -> None:
    _check_golden(f"table_main.{fmt}", tables.render(_main_table(), fmt))


@pytest.mark.parametrize("fmt", ["md", "tex", "html", "csv"])
def test_focus_table_matches_golden(fmt: str) -> None:
    _check_golden(f"table_focus.{fmt}", tables.render(_focus_table(), fmt))


def test_t_statistics_table_matches_golden() -> None:
    _check_golden("table_main_t.md", tables.render(_main_table("t", synthetic=True), "md"))


def test_stars_come_from_the_standard_error_shown() -> None:
    res = tables.load_results(FIXTURE)
    model = res.model("levels")
    coef, se = model.coef("L(GPR, 4)"), model.se("L(GPR, 4)")
    df = model.cov.df
    expected = 2 * stats.t.sf(abs(coef / se), df)
    assert model.p_value("L(GPR, 4)") == pytest.approx(expected)
    # 3.125 / 1.875 = 1.667 on t(78): p = 0.0996 -> one star, not two.
    assert 0.05 < expected < 0.10
    table = _main_table()
    levels_row = next(r for r in table.rows if r.cells[0].text.startswith("GPR (t-4)"))
    assert levels_row.cells[2] == tables.Cell("3.125", "*")


def test_stars_ignore_stored_pvalues(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["models"][0]["pvalues"]["np.log(L(GPR, 4))"] = 0.9  # inconsistent stored value
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    model = tables.load_results(path).model("headline")
    assert tables.stars_for(model.p_value("np.log(L(GPR, 4))")) == "***"


@pytest.mark.parametrize(
    ("p", "stars"),
    [
        (0.0099, "***"),
        (0.01, "**"),
        (0.049, "**"),
        (0.05, "*"),
        (0.0999, "*"),
        (0.1, ""),
        (float("nan"), ""),
    ],
)
def test_star_thresholds(p: float, stars: str) -> None:
    assert tables.stars_for(p) == stars


def test_two_sided_p_uses_normal_without_df_and_nan_for_bad_se() -> None:
    assert tables.two_sided_p(1.96, 1.0, None) == pytest.approx(0.05, abs=1e-3)
    assert tables.two_sided_p(2.0, 1.0, 5) == pytest.approx(2 * stats.t.sf(2.0, 5))
    assert math.isnan(tables.two_sided_p(1.0, 0.0, 10))
    assert math.isnan(tables.two_sided_p(1.0, float("nan"), 10))


def test_t_statistic_mode_shows_brackets() -> None:
    md = tables.render(_main_table("t"), "md")
    assert "\\[2.74\\]" in md  # 412.375 / 150.25
    assert "(150.250)" not in md
    assert "t-statistics in brackets" in md


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.000"),
        (-0.0001, "-0.0001"),
        (-0.0004999, "-0.0005"),
        (1234.5678, "1234.568"),
        (-1e-12, "-1e-12"),
        (None, ""),
        (float("inf"), ""),
    ],
)
def test_format_number(value: float | None, text: str) -> None:
    assert tables.format_number(value) == text


def test_negative_zero_prints_as_zero() -> None:
    assert tables.format_number(-0.0) == "0.000"
    assert tables.format_number(-0.004, digits=2) == "-0.004"  # kept, not rounded to -0.00


def test_latex_escape_every_special_character() -> None:
    raw = r"a\b & 50% $x$ #1 under_score {b} ~t^2 <5> a|b R² 3×2 ±1 ≤ ≥ –—…"
    escaped = tables.latex_escape(raw)
    assert escaped == (
        r"a\textbackslash{}b \& 50\% \$x\$ \#1 under\_score \{b\} \textasciitilde{}t"
        r"\textasciicircum{}2 \textless{}5\textgreater{} a\textbar{}b R\textsuperscript{2} "
        r"3\ensuremath{\times}2 \ensuremath{\pm}1 \ensuremath{\leq} \ensuremath{\geq} "
        r"-----\ldots{}"
    )
    # No bare special character survives outside the commands we inserted.
    stripped = escaped
    for command in markup._LATEX_MAP.values():
        stripped = stripped.replace(command, "")
    for char in "&%$#_^~<>|":
        assert char not in stripped


def test_latex_table_escapes_labels_titles_and_notes() -> None:
    tex = tables.render(_main_table(), "tex")
    assert r"REPM exports \& geopolitical risk" in tex
    assert r"log GPRC\_USA (t-4), \% of articles" in tex
    assert r"p\textless{}0.10" in tex
    assert r"\usepackage{booktabs}" in tex.splitlines()[1]
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 1


def test_markdown_escapes_pipes_and_emphasis() -> None:
    assert tables.markdown_escape("a|b *c* _d_") == r"a\|b \*c\* \_d\_"


def test_markdown_escapes_dollar_signs() -> None:
    # "$" opens inline math in many Markdown renderers; escaped it prints as a dollar.
    assert tables.markdown_escape("US$ 5 and $x$") == r"US\$ 5 and \$x\$"


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("run `reexport build` first", "run `reexport build` first"),
        ("keep `a_b*c` but not a_b*c", r"keep `a_b*c` but not a\_b\*c"),
        ("a lone ` backtick", r"a lone \` backtick"),
        ("``has ` inside`` then `x`", "``has ` inside`` then `x`"),
        ("`spans\nlines` and $", r"`spans lines` and \$"),
    ],
)
def test_markdown_text_keeps_code_spans(text: str, markdown: str) -> None:
    assert tables.markdown_text(text) == markdown


def test_markdown_text_in_a_table_escapes_pipes_inside_code() -> None:
    assert tables.markdown_text("`a | b` | c", in_table=True) == r"`a \| b` \| c"
    assert tables.markdown_text("`a | b`") == "`a | b`"


@pytest.mark.parametrize(
    ("text", "markdown"),
    [("reexport build", "`reexport build`"), ("a`b", "``a`b``"), ("`x", "`` `x ``")],
)
def test_markdown_code_holds_any_text_verbatim(text: str, markdown: str) -> None:
    assert tables.markdown_code(text) == markdown


def _multiline_table() -> tables.Table:
    res = tables.load_results(FIXTURE)
    return tables.build_table(
        [res.model("headline"), res.model("levels")],
        labels={"np.log(L(GPR, 4))": "log GPR\n(t-4), US$", "L(GPR, 4)": "GPR \r\n\n level"},
        title="Exports in US$\nand tonnes",
        hide=[r"^C\(month\)"],
        column_titles=["Lin-log\nmodel", "Levels"],
        notes=["A note\non two lines."],
    )


def test_line_breaks_in_labels_never_break_a_markdown_row() -> None:
    table = _multiline_table()
    md = tables.render(table, "md")
    lines = md.splitlines()
    title, blank, *rest = lines
    assert title == r"**Exports in US\$ and tonnes**" and blank == ""
    grid = rest[: rest.index("")]
    assert len(grid) == 2 + len(table.rows)  # header and rule, then one line per row
    assert all(line.startswith("| ") and line.endswith(" |") for line in grid)
    assert all(line.count(" | ") == 2 for line in grid)  # three cells each
    assert r"| log GPR (t-4), US\$ |" in md and "| GPR level |" in md
    assert "(1) Lin-log model" in md and "A note on two lines." in md


def test_line_breaks_become_spaces_in_latex_and_csv() -> None:
    table = _multiline_table()
    tex = tables.render(table, "tex")
    assert tex.splitlines()[0] == r"% Exports in US\$ and tonnes"
    assert "" not in tex.splitlines()  # a blank line would end the paragraph in a cell
    assert r"log GPR (t-4), US\$ &" in tex
    text = tables.render(table, "csv")
    records = list(csv.reader(io.StringIO(text)))
    assert len(records) == len(text.splitlines())  # one record per physical line
    assert not any("\n" in cell or "\r" in cell for record in records for cell in record)
    assert records[0] == ["Title", "Exports in US$ and tonnes", ""]
    assert records[3][0] == "log GPR (t-4), US$"


def test_labels_come_from_the_spec_not_raw_names() -> None:
    md = tables.render(_main_table(), "md")
    assert "log GPR (t-4)" in md
    assert "np.log(L(GPR, 4))" not in md
    assert "C(month)" not in md and "Month-of-year dummies | Yes" in md


def test_the_constant_is_one_row_labelled_constant_last_for_every_column() -> None:
    res = tables.load_results(FIXTURE)
    models = [res.model("headline"), res.model("levels")]
    assert all(m.has(tables.INTERCEPT) for m in models)
    unlabelled = {k: v for k, v in res.labels.items() if k != tables.INTERCEPT}
    table = tables.build_table(models, labels=unlabelled, title="t", hide=[r"^C\(month\)"])
    labels = [row.cells[0].text for row in table.rows if row.cells[0].text]
    # Without a spec label the raw formula name is not shown: one "Constant" row holds
    # both models' constants, after every other coefficient (Stata esttab's order).
    assert labels.count("Constant") == 1 and tables.INTERCEPT not in labels
    constant = next(row for row in table.rows if row.cells[0].text == "Constant")
    assert [c.text for c in constant.cells[1:]] == [
        tables.format_number(m.coef(tables.INTERCEPT), 3) for m in models
    ]
    coefficient_rows = labels[: labels.index("Fixed effects")]
    assert coefficient_rows[-1] == "Constant"
    # A spec label still wins.
    assert tables.term_label(tables.INTERCEPT, {tables.INTERCEPT: "Const."}) == "Const."
    assert tables.term_label("trend", {}) == "trend"


def test_no_shipped_spec_gives_the_shared_constant_a_model_specific_label() -> None:
    """One row holds every model's constant, so a label explaining one model is wrong."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    for spec in sorted(root.glob("analyses/*/specs/*.toml")):
        raw = tomllib.loads(spec.read_text(encoding="utf-8"))
        label = raw.get("labels", {}).get(tables.INTERCEPT)
        if label is not None and len(raw.get("model", [])) > 1:
            assert label == tables.INTERCEPT_LABEL, (spec, label)


def test_synthetic_tables_say_so_in_title_and_notes() -> None:
    table = _main_table(synthetic=True)
    for fmt in tables.FORMATS:
        text = tables.render(table, fmt)
        assert "SYNTHETIC DEMO DATA" in text, fmt


def test_requested_term_in_no_model_is_bad_input() -> None:
    res = tables.load_results(FIXTURE)
    with pytest.raises(BadInputError, match="term 'np.log\\(L\\(GPRT, 4\\)\\)' is in none"):
        tables.build_table(
            [res.model("headline")], labels={}, title="t", terms=["np.log(L(GPRT, 4))"]
        )


def test_focus_term_missing_or_ambiguous_is_bad_input() -> None:
    res = tables.load_results(FIXTURE)
    with pytest.raises(BadInputError, match="has no term matching 'GPRT'"):
        tables.focus_term(res.model("headline"), "GPRT")
    with pytest.raises(BadInputError, match="terms match"):
        tables.focus_term(res.model("headline"), "month")


def test_model_coef_of_missing_term_names_model_and_file() -> None:
    res = tables.load_results(FIXTURE)
    with pytest.raises(BadInputError, match="model 'levels' in .*results_world.json has no term"):
        res.model("levels").coef("np.log(L(GPR, 4))")


def test_empty_battery_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="robustness battery is empty"):
        tables.build_focus_table([], labels={}, title="Robustness", focus="GPR")


def test_unknown_model_and_format_are_bad_input() -> None:
    res = tables.load_results(FIXTURE)
    with pytest.raises(BadInputError, match="has no model 'nope'"):
        res.model("nope")
    with pytest.raises(BadInputError, match="unknown table format 'docx'"):
        tables.render(_main_table(), "docx")


def test_older_results_schema_is_bad_input(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["schema"] = 0
    doc["reexport_version"] = "0.0.9"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(BadInputError, match="schema 0 \\(written by reexport 0.0.9\\)"):
        tables.load_results(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not readable JSON"),
        ('{"schema": 1, "models": []}', "holds no models"),
        ('{"schema": 1, "models": [{"name": "m"}]}', "model 'm': missing estimator"),
    ],
)
def test_bad_results_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BadInputError, match=message):
        tables.load_results(path)


def test_null_estimates_load_as_nan_and_show_blank(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    model = doc["models"][1]
    model["std_errors"]["L(GPR, 4)"] = None
    model["conf_int"]["L(GPR, 4)"] = [None, None]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    record = tables.load_results(path).model("levels")
    assert math.isnan(record.se("L(GPR, 4)"))
    table = tables.build_table([record], labels={}, title="t", terms=["L(GPR, 4)"])
    assert table.rows[0].cells[1] == tables.Cell("3.125", "")
    assert table.rows[1].cells[1].text == ""


#: One covariance record per type and convention, as ``reexport estimate`` writes them,
#: with the label the table's covariance row shows.
COV_CASES = [
    ({"type": "nonrobust", "small_sample": True, "convention": "Stata: regress"}, "Classical"),
    (
        {"type": "nonrobust", "small_sample": False, "convention": "Stata: ivreg2 (no small)"},
        "Classical (no small-sample factor)",
    ),
    (
        {"type": "robust", "small_sample": True, "convention": "Stata: regress, vce(robust)"},
        "Robust (HC1)",
    ),
    (
        {"type": "robust", "small_sample": False, "convention": "Stata: ivreg2, robust"},
        "Robust (HC0)",
    ),
    ({"type": "hac", "lags": 4, "convention": "Stata: newey, lag(4)"}, "HAC, 4 lags"),
    ({"type": "hac", "lags": 1, "convention": "Stata: newey, lag(1)"}, "HAC, 1 lag"),
    (
        {
            "type": "hac",
            "lags": 4,
            "kernel": "parzen",
            "convention": "Stata: ivreg2, robust bw(5) kernel(parzen) small",
        },
        "HAC (Parzen kernel), 4 lags",
    ),
    (
        {
            "type": "cluster",
            "by": ["partner"],
            "clusters": {"partner": 22},
            "df": 21,
            "convention": "Stata: reghdfe, absorb(partner period) vce(cluster partner)",
        },
        "Clustered by partner (22)",
    ),
    (
        {
            "type": "cluster",
            "by": ["partner", "period"],
            "clusters": {"partner": 22, "period": 92},
            "df": 21,
            "convention": "Stata: ivreg2, cluster(partner period) small",
        },
        "Clustered by partner (22) and period (92)",
    ),
    ({"type": "cluster", "clusters": 22}, "Clustered (22 clusters)"),  # an older layout
    (
        {
            "type": "driscoll-kraay",
            "lags": 4,
            "clusters": {"periods": 92},
            "df": 21,
            "convention": "Stata: xtscc, lag(4)",
        },
        "Driscoll-Kraay, 4 lags (92 periods)",
    ),
]


def _with_cov(cov: dict[str, object]) -> ModelResult:
    model = tables.load_results(FIXTURE).model("headline")
    return dataclasses.replace(model, cov=CovInfo.from_dict(cov, df_resid=model.df_resid))


@pytest.mark.parametrize(("cov", "label"), COV_CASES)
def test_every_covariance_type_has_a_readable_label(cov: dict[str, object], label: str) -> None:
    model = _with_cov(cov)
    assert tables.describe_cov(model) == label
    table = tables.build_table([model], labels={}, title="t", hide=[r"^C\(month\)"])
    row = next(r for r in table.rows if r.cells[0].text == "Covariance")
    assert row.cells[1].text == label
    convention = cov.get("convention", "convention not recorded")
    assert f"Covariance: {label} ({convention})." in table.notes


def test_covariance_labels_cover_every_type_the_spec_accepts() -> None:
    assert {str(cov["type"]) for cov, _ in COV_CASES} == set(COV_TYPES)
    for cov, label in COV_CASES:
        assert label[0].isupper() and not label.startswith(str(cov["type"])), label


def test_clustered_covariance_uses_the_cluster_count_for_inference() -> None:
    clustered = _with_cov({"type": "cluster", "clusters": {"partner": 22}, "df": 21})
    assert tables.describe_cov(clustered) == "Clustered by partner (22)"
    assert clustered.inference_df == 21
    assert _with_cov({"type": "cluster", "clusters": 22}).inference_df == 21


def test_column_headers_default_to_the_spec_label_then_the_name(tmp_path: Path) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["models"][1]["label"] = "Global GPR, levels"  # the spec's `label` of model "levels"
    path = tmp_path / "labelled.json"
    path.write_text(json.dumps(doc))
    res = tables.load_results(path)
    headline, levels = res.model("headline"), res.model("levels")
    assert levels.label == "Global GPR, levels" and headline.label is None
    table = tables.build_table([headline, levels], labels={}, title="t")
    assert table.subheader == ("", "headline", "Global GPR, levels")
    assert "| (1) headline | (2) Global GPR, levels |" in tables.render(table, "md")
    titled = tables.build_table([headline, levels], labels={}, title="t", column_titles=["A", "B"])
    assert titled.subheader == ("", "A", "B")


def test_indicator_rows_absent_from_every_model_are_left_out() -> None:
    res = tables.load_results(FIXTURE)
    table = tables.build_table(
        [res.model("headline")],
        labels={},
        title="t",
        indicators=[
            IndicatorRow("Month-of-year dummies", r"^C\(month\)"),
            IndicatorRow("Year dummies", r"^C\(year\)"),
        ],
    )
    labels = [row.cells[0].text for row in table.rows]
    assert "Month-of-year dummies" in labels and "Year dummies" not in labels


def test_estimator_row_names_each_estimator_readably() -> None:
    from reexport.report.tables import estimator_label

    assert [estimator_label(e) for e in ("ols", "panel", "ppml")] == [
        "OLS",
        "Panel OLS (within)",
        "PPML",
    ]
    assert estimator_label("something-new") == "something-new"


def test_notes_show_weights_dof_rule_and_ppml_separation() -> None:
    model = tables.load_results(FIXTURE).model("headline")
    ppml = dataclasses.replace(
        model,
        name="gravity",
        estimator="ppml",
        effects=("exporter^year", "importer^year"),
        dof_rule="absorbed degrees of freedom: by the rule of the test",
        weights={"column": "w", "type": "fweight", "convention": "Stata: [fweight=w]"},
        dropped_rows={"separated_fe": 12, "separated_simplex": 3, "separated_relu": 1},
    )
    table = tables.build_table([model, ppml], labels={}, title="t")
    notes = list(table.notes)
    assert "Weights: Stata: [fweight=w]." in notes
    assert "Fixed effects: absorbed degrees of freedom: by the rule of the test." in notes
    assert (
        "PPML observations dropped as separated (ppmlhdfe's methods): gravity: 12 by fixed "
        "effects, 3 by simplex, 1 by iterative rectifier (ReLU)." in notes
    )
    focus = tables.build_focus_table([ppml], labels={}, title="f", focus="(?i)gpr")
    assert any(n.startswith("PPML observations dropped") for n in focus.notes)
    # A model with none of these adds no note (the golden tables above stay as they were).
    plain = tables.build_table([model], labels={}, title="t")
    assert not any(n.startswith(("Weights", "Fixed effects", "PPML")) for n in plain.notes)
