"""The Python API (``rx.fit``, ``rx.table``) and effects by name, against the spec path and pyfixest.

pyfixest is a cross-check here, not a published reference: the three-way
gravity PPML must give its ``fepois`` coefficients to 1e-8 (relative), both
through ``reexport estimate`` (a TOML spec) and through ``rx.fit``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import reexport as rx
from reexport.cli import main
from reexport.errors import BadInputError
from reexport.models.api import fit_model
from reexport.models.results import ModelResult, ResultsFile, normalise_dropped
from reexport.models.spec import load_spec
from reexport.report import tables

COUNTRIES, YEARS = 36, 10
GRAVITY = "trade ~ rta + ltariff | exporter^year + importer^year + exporter^importer"


@pytest.fixture(scope="module")
def gravity() -> pd.DataFrame:
    """The gravity panel of :func:`gravity_panel`, built once per module."""
    return gravity_panel()


def gravity_panel() -> pd.DataFrame:
    """A deterministic 36-country x 10-year gravity panel (no self-pairs) with zeros.

    Trade follows a Poisson law on exporter-year, importer-year and pair effects, an
    RTA dummy that switches on for some pairs, and a tariff; many flows are zero and
    two pairs never trade (PPML drops them as separated by the pair effect).
    """
    rng = np.random.default_rng(2016)
    pairs = [(i, j) for i in range(COUNTRIES) for j in range(COUNTRIES) if i != j]
    exporter = np.repeat([p[0] for p in pairs], YEARS)
    importer = np.repeat([p[1] for p in pairs], YEARS)
    year = np.tile(np.arange(2000, 2000 + YEARS), len(pairs))
    names = np.array([f"C{k:02d}" for k in range(COUNTRIES)])
    exp_year = rng.normal(size=(COUNTRIES, YEARS))
    imp_year = rng.normal(size=(COUNTRIES, YEARS))
    pair_effect = rng.normal(scale=1.5, size=(COUNTRIES, COUNTRIES)) - 1.0
    start = rng.integers(2000, 2000 + 2 * YEARS, size=(COUNTRIES, COUNTRIES))
    rta = (year >= start[exporter, importer]).astype(float)
    ltariff = rng.normal(scale=0.3, size=len(year)) + 0.1 * (exporter % 5)
    eta = (
        0.4 * rta
        - 0.8 * ltariff
        + exp_year[exporter, year - 2000]
        + imp_year[importer, year - 2000]
        + pair_effect[exporter, importer]
    )
    trade = rng.poisson(np.exp(eta)).astype(float)
    never = ((exporter == 0) & (importer == 1)) | ((exporter == 2) & (importer == 3))
    trade[never] = 0.0
    return pd.DataFrame(
        {
            "exporter": names[exporter],
            "importer": names[importer],
            "year": year,
            "rta": rta,
            "ltariff": ltariff,
            "trade": trade,
            "pair": np.char.add(np.char.add(names[exporter], "-"), names[importer]),
            "exp_year": np.char.add(names[exporter], year.astype(str)),
            "imp_year": np.char.add(names[importer], year.astype(str)),
            "w": 0.5 + (exporter % 4) + 0.25 * (year % 3),
        }
    )


def _fepois(frame: pd.DataFrame) -> Any:
    pf = pytest.importorskip("pyfixest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.fepois(
            "trade ~ rta + ltariff | exp_year + imp_year + pair",
            data=frame,
            vcov={"CRV1": "pair"},
            iwls_tol=1e-12,
            iwls_maxiter=100,
            fixef_tol=1e-13,
        )


def _assert_close(ours: pd.Series, theirs: pd.Series, rtol: float = 1e-8) -> None:
    theirs = theirs.reindex(ours.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=rtol, atol=0)


def _spec_file(tmp_path: Path, frame: pd.DataFrame, body: str, data: str = "") -> Path:
    frame.to_csv(tmp_path / "gravity.csv", index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text('[data]\npath = "gravity.csv"\n' + data + body, encoding="utf-8")
    return spec


GRAVITY_SPEC = """
[[model]]
name = "gravity"
formula = "trade ~ rta + ltariff"
estimator = "ppml"
effects = ["exporter^year", "importer^year", "exporter^importer"]
cov = { type = "cluster", by = "exporter^importer" }
"""


# --- three-way gravity PPML against pyfixest, through the API and the CLI ------------------


def test_gravity_ppml_from_python_matches_pyfixest(gravity: pd.DataFrame) -> None:
    res = rx.fit(
        GRAVITY, gravity, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"}
    )
    reference = _fepois(gravity)
    _assert_close(res.params, reference.coef())
    # Standard errors differ from pyfixest's by its small-sample count of the nested pair
    # effect (a covariance convention, checked in test_pyfixest_parity); the sample does not.
    assert res.nobs == reference._N
    assert res.effects == ("exporter^year", "importer^year", "exporter^importer")
    separated = res.dropped_rows.get("separated_fe", res.dropped_rows.get("separated", 0))
    assert separated >= 2 * YEARS  # the two pairs that never trade, and all-zero groups
    assert res.cov.convention.startswith("Stata: ppmlhdfe")
    assert "exporter#year" in res.cov.convention  # Stata's name of the interaction
    kept_pairs = gravity.loc[res._rows, "pair"].nunique()
    assert res.cov.clusters == {"exporter^importer": kept_pairs}
    assert res.cov.df is None  # PPML inference is normal, as ppmlhdfe


def test_gravity_ppml_from_the_cli_matches_pyfixest_and_the_api(
    gravity: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec_file(tmp_path, gravity, GRAVITY_SPEC)
    output = tmp_path / "results.json"
    assert main(["estimate", str(spec), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "exporter^year + importer^year + exporter^importer" in printed
    (model,) = ResultsFile.load(output).models
    _assert_close(model.params, _fepois(gravity).coef())
    api = rx.fit(
        GRAVITY, gravity, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"}
    )
    # The CLI wrote what the API returns: the same record, numbers equal to rounding (the
    # CLI fits with one BLAS thread, as every battery worker does, the API with the
    # default: summation order may differ in the last digit).
    # (An old "separated" count is read back as "separated_fe", the ppmlhdfe method name.)
    expected = {**api.to_dict(), "name": "gravity"}
    expected["dropped_rows"] = normalise_dropped(expected["dropped_rows"])
    _assert_same_record(model.to_dict(), json.loads(json.dumps(expected)))


def _assert_same_record(got: Any, want: Any, where: str = "record") -> None:
    """Equal records: the same keys and texts, numbers equal to 1e-12 relative."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), where
        for key in want:
            _assert_same_record(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            _assert_same_record(a, b, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-300), where
    else:
        assert got == want, where


# --- one code path -------------------------------------------------------------------------


def _both_paths(
    tmp_path: Path, frame: pd.DataFrame, body: str, data: str, formula: str, **kwargs: Any
) -> tuple[ModelResult, ModelResult]:
    """The spec's one model fitted by the spec path, and ``rx.fit(formula, **kwargs)``."""
    spec = load_spec(_spec_file(tmp_path, frame, body, data))
    return fit_model(spec.models[0], frame), rx.fit(formula, frame, **kwargs)


def test_rx_fit_and_the_spec_path_give_identical_results(
    gravity: pd.DataFrame, tmp_path: Path
) -> None:
    body = """
[[model]]
name = "fe"
formula = "np.log1p(trade) ~ rta + ltariff | exporter^year + importer"
effects = ["exporter^importer"]
estimator = "panel"
cov = { type = "cluster", by = ["exporter^importer", "year"] }
"""
    from_spec, from_python = _both_paths(
        tmp_path,
        gravity,
        body,
        'time = "year"\n',
        "np.log1p(trade) ~ rta + ltariff | exporter^year + importer + exporter^importer",
        cov={"type": "cluster", "by": ["exporter^importer", "year"]},
        time="year",
        name="fe",
    )
    assert from_python.estimator == "panel"  # the default once effects are given
    assert from_spec.to_dict() == from_python.to_dict()
    assert np.array_equal(from_spec._params, from_python._params)
    assert np.array_equal(from_spec._se, from_python._se)


def test_lags_sample_and_entity_time_effects_match_the_spec(
    gravity: pd.DataFrame, tmp_path: Path
) -> None:
    body = """
[[model]]
name = "lagged"
formula = "np.log1p(trade) ~ L(ltariff, 1) + rta | entity + time"
estimator = "panel"
cov = { type = "driscoll-kraay", lags = 1 }
sample = { start = 2002, end = 2008 }
"""
    from_spec, from_python = _both_paths(
        tmp_path,
        gravity,
        body,
        'entity = "pair"\ntime = "year"\n',
        "np.log1p(trade) ~ L(ltariff, 1) + rta | entity + time",
        estimator="panel",
        cov={"type": "driscoll-kraay", "lags": 1},
        sample={"start": 2002, "end": 2008},
        time="year",
        entity="pair",
        name="lagged",
    )
    assert from_spec.effects == ("entity", "time")
    assert from_spec.to_dict() == from_python.to_dict()
    assert from_python.nobs == len(gravity) * 7 // YEARS
    assert from_python.cov.clusters == {"periods": 7}


def test_interaction_effects_equal_precomputed_columns(gravity: pd.DataFrame) -> None:
    named = rx.fit("trade ~ rta + ltariff | exporter^year + importer^year", gravity, cov="robust")
    manual = rx.fit("trade ~ rta + ltariff | exp_year + imp_year", gravity, cov="robust")
    np.testing.assert_allclose(named._params, manual._params, rtol=1e-10)
    np.testing.assert_allclose(named._se, manual._se, rtol=1e-10)
    assert named.df_resid == manual.df_resid
    # Three columns interacted: pair x two-year period, two rows per cell.
    frame = gravity.assign(period2=gravity["year"] // 2)
    frame["cell"] = frame["pair"] + "/" + frame["period2"].astype(str)
    three = rx.fit("trade ~ ltariff | exporter^importer^period2", frame)
    cells = rx.fit("trade ~ ltariff | cell", frame)
    np.testing.assert_allclose(three._params, cells._params, rtol=1e-10)
    assert three.df_resid == cells.df_resid == len(frame) // 2 - 1


def test_interaction_clusters_equal_precomputed_columns(gravity: pd.DataFrame) -> None:
    by_pair = rx.fit(
        "trade ~ rta + ltariff | exporter + importer",
        gravity,
        cov={"type": "cluster", "by": "pair"},
    )
    by_name = rx.fit(
        "trade ~ rta + ltariff | exporter + importer",
        gravity,
        cov={"type": "cluster", "by": "exporter^importer"},
    )
    np.testing.assert_allclose(by_name._se, by_pair._se, rtol=1e-12)
    assert by_name.cov.df == by_pair.cov.df == COUNTRIES * (COUNTRIES - 1) - 1
    # A cluster asked for after the fit is built the same way on the kept rows.
    again = by_pair.with_cov({"type": "cluster", "by": "exporter^importer"})
    np.testing.assert_allclose(again._se, by_name._se, rtol=1e-12)


def test_drop_singletons_is_passed_through() -> None:
    frame = pd.DataFrame(
        {
            "g": ["a", "a", "b", "b", "c", "d", "d", "e", "e", "e"],
            "x": [1.0, 2.0, 0.5, 1.5, 3.0, 2.0, 1.0, 0.3, 0.9, 1.7],
            "y": [1.1, 2.3, 0.4, 1.9, 2.0, 2.2, 0.8, 0.5, 1.1, 1.4],
        }
    )
    dropped = rx.fit("y ~ x | g", frame)
    kept = rx.fit("y ~ x | g", frame, drop_singletons=False)
    assert dropped.nobs == 9 and dropped.dropped_rows["singletons"] == 1
    assert kept.nobs == 10 and "singletons" not in kept.dropped_rows
    # The singleton is fitted exactly by its effect: the slope is the same, not the dof.
    assert kept.coef("x") == pytest.approx(dropped.coef("x"), rel=1e-10)
    assert kept.df_resid == dropped.df_resid


def test_repeated_index_labels_do_not_duplicate_rows(gravity: pd.DataFrame) -> None:
    doubled = pd.concat([gravity.head(600), gravity.iloc[600:1200]])
    doubled.index = np.tile(np.arange(600), 2)
    fitted = rx.fit("trade ~ rta + ltariff | exporter + importer", doubled, cov="robust")
    fresh = rx.fit(
        "trade ~ rta + ltariff | exporter + importer",
        doubled.reset_index(drop=True),
        cov="robust",
    )
    assert fitted.to_dict() == fresh.to_dict()


def test_estimator_defaults_and_plain_ols(gravity: pd.DataFrame) -> None:
    ols = rx.fit("trade ~ rta + ltariff", gravity, cov="robust")
    assert ols.estimator == "ols" and "Intercept" in ols.terms
    assert ols.cov.convention == "Stata: regress, vce(robust)"


# --- rendering --------------------------------------------------------------------------------


def test_summary_text_html_and_latex(gravity: pd.DataFrame) -> None:
    res = rx.fit(
        GRAVITY, gravity, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"}
    )
    text = res.summary()
    for needle in ("rta", "ltariff", "exporter^year + importer^year", res.cov.convention):
        assert needle in text
    assert "Observations:" in text and f"{res.nobs:,}" in text
    assert "separated" in text and "normal" in text
    assert str(res) == text
    page = res._repr_html_()
    assert page.startswith("<table") and "<th>rta</th>" in page and "ppmlhdfe" in page
    assert res.summary("html") == page
    latex = res.summary("latex")
    assert latex.startswith("\\begin{tabular}") and "exporter\\textasciicircum{}year" in latex
    with pytest.raises(BadInputError, match="summary format 'docx'"):
        res.summary("docx")


def test_rx_table_renders_the_report_tables_in_four_formats(gravity: pd.DataFrame) -> None:
    ppml = rx.fit(
        GRAVITY, gravity, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"}
    )
    ols = rx.fit("trade ~ rta + ltariff", gravity, cov="robust", name="pooled")
    grid = tables.build_table([ppml, ols], labels={"rta": "RTA"}, title="Gravity")
    for fmt, name in (("latex", "tex"), ("md", "md"), ("html", "html"), ("csv", "csv")):
        text = rx.table([ppml, ols], format=fmt, title="Gravity", labels={"rta": "RTA"})
        assert text == tables.render(grid, name)
    markdown = rx.table([ppml, ols], format="md", title="Gravity")
    assert "PPML" in markdown and "OLS" in markdown
    assert "exporter^year" in markdown.replace("\\^", "^")
    notes = " ".join(grid.notes)
    assert "ppmlhdfe" in notes and "separated" in notes and "by fixed effects" in notes
    assert "Fixed effects: reghdfe" in notes or "Fixed effects: exact" in notes
    assert rx.table(ols, format="csv").startswith("Title,Estimates")
    saved = rx.ResultsFile(models=(ppml, ols), labels={"rta": "RTA"})
    assert rx.table(saved, "tex", title="Gravity") == tables.render(grid, "tex")
    with pytest.raises(BadInputError, match="unknown format 'docx'"):
        rx.table([ols], format="docx")


def test_results_are_immutable_and_loadable(gravity: pd.DataFrame, tmp_path: Path) -> None:
    res = rx.fit("trade ~ rta + ltariff | exporter + importer", gravity, name="twfe")
    assert isinstance(res, rx.ModelResult) and isinstance(res, ModelResult)
    with pytest.raises(AttributeError):
        res.nobs = 3  # type: ignore[misc]
    path = rx.ResultsFile(models=(res,)).save(tmp_path / "r.json")
    loaded = rx.load_results(path).model("twfe")
    pd.testing.assert_series_equal(loaded.params, res.params)
    assert list(res.conf_int.columns) == ["lower", "upper"]
    assert loaded.dof_rule == res.dof_rule and res.dof_rule


def test_importing_the_package_stays_light() -> None:
    code = "import sys, reexport; print('pandas' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert "fit" in dir(rx) and callable(rx.fit)
    with pytest.raises(AttributeError):
        rx.nothing_here  # noqa: B018


def test_py_typed_is_shipped() -> None:
    package = Path(rx.__file__).parent
    assert (package / "py.typed").is_file()
    setup = (package.parent / "setup.cfg").read_text(encoding="utf-8")
    assert "reexport = py.typed" in setup


# --- weights (the numeric side comes from the weights branch) ------------------------------


def test_weights_from_python_and_spec_agree(gravity: pd.DataFrame, tmp_path: Path) -> None:
    body = """
[[model]]
name = "wfe"
formula = "np.log1p(trade) ~ rta + ltariff"
estimator = "panel"
effects = ["exporter^year", "importer"]
weights = "w"
cov = "robust"
"""
    from_spec, from_python = _both_paths(
        tmp_path,
        gravity,
        body,
        "",
        "np.log1p(trade) ~ rta + ltariff | exporter^year + importer",
        weights="w",
        cov="robust",
        name="wfe",
    )
    assert from_spec.to_dict() == from_python.to_dict()
    assert from_python.weights is not None and "aweight" in str(from_python.weights)
    unweighted = rx.fit("np.log1p(trade) ~ rta + ltariff | exporter^year + importer", gravity)
    assert not np.allclose(unweighted._params, from_python._params)
    note = " ".join(tables.build_table([from_python], labels={}, title="t").notes)
    assert "Weights: " in note and "aweight" in note
    # Through the CLI the results file records the convention too.
    output = tmp_path / "w.json"
    assert main(["estimate", str(tmp_path / "spec.toml"), "--output", str(output)]) == 0
    (written,) = ResultsFile.load(output).models
    assert written.weights == from_python.weights
    np.testing.assert_array_equal(written._params, from_python._params)


# --- bad input: exit 2, one line naming file, model and key ---------------------------------

BAD_CASES = {
    "unknown effect column": (
        'effects = ["exporter^year", "importr"]',
        ["[model m]", "effects", "'importr'"],
    ),
    "interaction of a missing column": (
        'effects = ["exporter^yaer"]',
        ["[model m]", "effects", "'yaer'", "'exporter^yaer'"],
    ),
    "cluster interaction of a missing column": (
        'effects = ["exporter"]\ncov = { type = "cluster", by = "exporter^imp" }',
        ["[model m]", "cov.by", "'imp'"],
    ),
    "malformed interaction": ('effects = ["exporter^"]', ["[model m]", "effects", "empty"]),
    "entity effect without an entity": ('effects = ["entity"]', ["[model m]", "entity effects"]),
    "weights column missing": ('weights = "wt"', ["[model m]", "weights", "'wt'"]),
    "weights negative": ('weights = "negative"', ["[model m]", "'weights'", "negative"]),
    "weights zero-sum": ('weights = "zeros"', ["[model m]", "'weights'", "sums to zero"]),
    "weights missing values": ('weights = "holes"', ["[model m]", "'weights'", "missing"]),
    "weights not numeric": ('weights = "exporter"', ["[model m]", "'weights'", "not numeric"]),
    "fweights not integer": (
        'weights = "w"\nweights_type = "fweight"',
        ["[model m]", "'weights'", "non-integer"],
    ),
    "bad weights type": ('weights = "w"\nweights_type = "iweight"', ["[model m]", "'iweight'"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_through_the_cli_exits_2_with_one_line(
    case: str, gravity: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra, needles = BAD_CASES[case]
    frame = gravity.head(400).copy()
    frame["negative"] = frame["w"] - 1.0
    frame["zeros"] = 0.0
    frame["holes"] = frame["w"].where(frame.index % 7 != 3)
    body = f'[[model]]\nname = "m"\nformula = "trade ~ rta"\nestimator = "ppml"\n{extra}\n'
    spec = _spec_file(tmp_path, frame, body)
    output = tmp_path / "out.json"
    code = main(["estimate", str(spec), "--output", str(output)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(spec) in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not output.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimator": "tobit"}, "unknown estimator 'tobit'"),
        ({"cov": {"type": "cluster", "by": "exporter^nope"}}, "cluster column 'nope'"),
        ({"weights": "nope"}, "'weights' column 'nope' is not in the data"),
        ({"weights_type": "fweight"}, "without 'weights'"),
        ({"drop_singletons": "yes"}, "'drop_singletons' must be true or false"),
        ({"time": ""}, "'time' must be a column name"),
        ({"sample": ["2017"]}, "must be a table"),
        ({"time": "year", "sample": {"start": 2003, "stop": 2005}}, "unknown key 'stop'"),
    ],
)
def test_bad_keyword_arguments_are_one_line_errors(
    gravity: pd.DataFrame, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadInputError) as info:
        rx.fit("trade ~ rta | exporter", gravity.head(200), **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("rx.fit [model model]")


def test_bad_formula_and_data_arguments() -> None:
    with pytest.raises(BadInputError, match="must be a pandas DataFrame"):
        rx.fit("y ~ x", {"y": [1.0]})  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="must be a string like"):
        rx.fit("y x", pd.DataFrame({"y": [1.0]}))
    with pytest.raises(BadInputError, match="after '\\|'"):
        rx.fit("y ~ x |", pd.DataFrame({"y": [1.0], "x": [2.0]}))
