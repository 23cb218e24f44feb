"""``reexport estimate`` / ``reexport diagnose`` end to end, and every bad-input path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.datasets import grunfeld

from reexport.cli import main
from reexport.models.results import ResultsFile

DATA = Path(__file__).parent / "data"


@pytest.fixture
def grunfeld_csv(tmp_path: Path) -> Path:
    """Grunfeld (1958) investment data written from statsmodels' copy."""
    frame = grunfeld.load_pandas().data
    frame["year"] = frame["year"].astype(int)
    path = tmp_path / "grunfeld.csv"
    frame.to_csv(path, index=False)
    return path


def _spec(tmp_path: Path, body: str, data: str | None = None) -> Path:
    header = data or '[data]\npath = "grunfeld.csv"\nentity = "firm"\ntime = "year"\n'
    path = tmp_path / "spec.toml"
    path.write_text(header + body, encoding="utf-8")
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


GRUNFELD_MODELS = """
[labels]
"value" = "Market value"

[[model]]
name = "pooled"
formula = "invest ~ value + capital"
cov = { type = "cluster", by = "firm" }

[[model]]
name = "twfe_dk"
formula = "invest ~ value + capital"
estimator = "panel"
effects = ["entity", "time"]
cov = { type = "driscoll-kraay", lags = 2 }

[[model]]
name = "lag{lag}"
formula = "invest ~ L(value, {lag}) + capital"
estimator = "panel"
effects = ["entity"]
cov = { type = "cluster", by = "firm" }
[model.vary]
lag = [0, 1, 2]
"""


def test_estimate_grunfeld_end_to_end(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, GRUNFELD_MODELS)
    output = tmp_path / "results.json"
    code, out, err = _run(["estimate", str(spec), "--output", str(output)], capsys)
    assert code == 0, err
    assert "== pooled: ols invest ~ value + capital" in out
    assert "== lag2: panel invest ~ L(value, 2) + capital" in out
    assert f"wrote {output} (5 models)" in out

    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["schema"] == 1
    assert document["spec"] == str(spec)
    assert document["data"]["path"] == str(grunfeld_csv)
    assert document["data"]["sha256"] == hashlib.sha256(grunfeld_csv.read_bytes()).hexdigest()
    assert document["data"]["synthetic"] is None
    assert document["labels"] == {"value": "Market value"}
    models = {m["name"]: m for m in document["models"]}
    assert list(models) == ["pooled", "twfe_dk", "lag0", "lag1", "lag2"]

    # Coefficients are the OLS ones.
    frame = pd.read_csv(grunfeld_csv)
    reference = sm.OLS(frame["invest"], sm.add_constant(frame[["value", "capital"]])).fit()
    pooled = models["pooled"]
    assert pooled["params"]["value"] == pytest.approx(reference.params["value"], rel=1e-9)
    assert pooled["params"]["Intercept"] == pytest.approx(reference.params["const"], rel=1e-9)
    assert pooled["nobs"] == 220 and pooled["group"] is None and pooled["variant"] == {}

    # Variants carry their group and values; lags drop one year per firm and lag.
    for k in range(3):
        entry = models[f"lag{k}"]
        assert entry["group"] == "lag{lag}" and entry["variant"] == {"lag": k}
        assert entry["dropped_rows"] == {"lags": 11 * k, "missing": 0}
        assert entry["nobs"] == 220 - 11 * k
        assert f"L(value, {k})" in entry["params"]
    assert any("only 20 periods" in w for w in models["twfe_dk"]["warnings"])

    # The file round-trips through the results reader.
    loaded = ResultsFile.load(output)
    assert [m.name for m in loaded.models] == list(models)


def _short_gm_csv(tmp_path: Path, grunfeld_csv: Path) -> Path:
    """General Motors alone, 1935-1952: a single time series of 18 years."""
    frame = pd.read_csv(grunfeld_csv)
    short = frame[(frame["firm"] == "General Motors") & (frame["year"] <= 1952)]
    path = tmp_path / "gm.csv"
    short.to_csv(path, index=False)
    return path


def test_a_late_failure_prints_no_tables(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The first model is fine; the second is singular, which only fitting reveals.
    body = (
        '[[model]]\nname = "ok"\nformula = "invest ~ value"\n'
        '[[model]]\nname = "bad"\nformula = "invest ~ value + capital + I(value + capital)"\n'
    )
    spec = _spec(tmp_path, body)
    output = tmp_path / "results.json"
    code, out, err = _run(["estimate", str(spec), "--output", str(output)], capsys)
    assert code == 2
    assert "[model bad]" in err and "collinear" in err
    assert out == ""  # no half-printed results
    assert not output.exists()


def test_short_hac_sample_carries_one_warning(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One firm, 18 years: a short HAC sample.  The estimator and the diagnose command
    # apply one rule (T < 30 or L > T/4) and word it the same way; the results record
    # must not repeat it in other words.
    _short_gm_csv(tmp_path, grunfeld_csv)
    body = '[[model]]\nname = "nw"\nformula = "invest ~ value"\ncov = { type = "hac", lags = 4 }\n'
    spec = _spec(tmp_path, body, data='[data]\npath = "gm.csv"\ntime = "year"\n')
    output = tmp_path / "results.json"
    code, _, err = _run(["estimate", str(spec), "--output", str(output)], capsys)
    assert code == 0, err
    warnings = json.loads(output.read_text())["models"][0]["warnings"]
    assert len(warnings) == 1 and "only 18 periods" in warnings[0]
    diagnosed = tmp_path / "diagnostics.json"
    code, _, err = _run(["diagnose", str(spec), "--output", str(diagnosed)], capsys)
    assert code == 0, err
    assert json.loads(diagnosed.read_text())["models"][0]["diagnostics"]["warnings"] == warnings


def test_results_file_has_one_writer(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `estimate --output` writes through ResultsFile.save: loading the file and saving
    # it again gives the same bytes (a model's label and sample survive the round trip).
    body = (
        GRUNFELD_MODELS
        + '[[model]]\nname = "late"\nlabel = "After 1940"\nformula = "invest ~ value"\n'
        + "sample = { start = 1941, exclude_years = [1945] }\n"
    )
    spec = _spec(tmp_path, body)
    output = tmp_path / "results.json"
    code, _, err = _run(["estimate", str(spec), "--output", str(output)], capsys)
    assert code == 0, err
    late = json.loads(output.read_text())["models"][-1]
    assert late["label"] == "After 1940"
    assert late["sample"] == {"start": 1941, "exclude_years": [1945]}
    again = ResultsFile.load(output).save(tmp_path / "again.json")
    assert again.read_bytes() == output.read_bytes()
    # An ordinary readable file, not mkstemp's private 0600.
    assert output.stat().st_mode & 0o777 == 0o644


def test_cluster_by_the_entity_alias(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = '[[model]]\nname = "{name}"\nformula = "invest ~ value"\ncov = {{type="cluster", by="{by}"}}\n'
    spec = _spec(
        tmp_path, body.format(name="alias", by="entity") + body.format(name="col", by="firm")
    )
    output = tmp_path / "out.json"
    code, _, err = _run(["estimate", str(spec), "-o", str(output)], capsys)
    assert code == 0, err
    alias, column = json.loads(output.read_text(encoding="utf-8"))["models"]
    assert alias["std_errors"] == column["std_errors"]


def test_estimate_without_output_writes_nothing(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, '[[model]]\nname = "m"\nformula = "invest ~ value"\n')
    before = sorted(tmp_path.iterdir())
    code, out, _ = _run(["estimate", str(spec)], capsys)
    assert code == 0 and "value" in out
    assert sorted(tmp_path.iterdir()) == before


def test_estimate_with_diagnostics(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _short_gm_csv(tmp_path, grunfeld_csv)
    spec = _spec(
        tmp_path,
        '[[model]]\nname = "gm"\nformula = "invest ~ value + capital"\n'
        'cov = { type = "hac", lags = 2 }\n',
        '[data]\npath = "gm.csv"\ntime = "year"\n',
    )
    output = tmp_path / "out.json"
    code, out, err = _run(["estimate", str(spec), "-o", str(output), "--diagnostics"], capsys)
    assert code == 0, err
    assert "Breusch-Godfrey" in out
    (model,) = json.loads(output.read_text(encoding="utf-8"))["models"]
    tests = {t["test"] for t in model["diagnostics"]["tests"]}
    assert {"ADF", "KPSS", "Breusch-Godfrey", "Durbin-Watson", "Jarque-Bera"} <= tests
    assert model["diagnostics"]["chow"] is None


def test_diagnose_cli_chow_on_the_textbook_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "savings.csv").write_bytes((DATA / "gujarati_savings.csv").read_bytes())
    spec = _spec(
        tmp_path,
        '[[model]]\nname = "savings"\nformula = "savings ~ income"\n',
        '[data]\npath = "savings.csv"\ntime = "year"\n',
    )
    output = tmp_path / "diag.json"
    code, out, err = _run(
        ["diagnose", str(spec), "--break-date", "1982", "--output", str(output)], capsys
    )
    assert code == 0, err
    assert "Chow" in out
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["break_date"] == "1982"
    chow = document["models"][0]["diagnostics"]["chow"]
    assert chow["statistic"] == pytest.approx(10.69, abs=0.005)
    assert (chow["df_num"], chow["df_denom"]) == (2, 22)


def test_monthly_study_frame_from_a_processed_dataset(
    tmp_path: Path, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(5)
    periods = pd.period_range("2017-01", periods=60, freq="M")
    gpr = 100 + 10 * rng.normal(size=60)
    exports = np.exp(5 + 0.01 * np.r_[np.full(4, gpr[0]), gpr[:-4]] + rng.normal(size=60) * 0.05)
    frame = pd.DataFrame({"period": periods.astype(str), "exports_t": exports, "GPR": gpr})
    frame.to_csv(data_root / "processed" / "study_world.csv", index=False)
    (data_root / "processed" / "study_world.meta.json").write_text(
        json.dumps({"synthetic": True}), encoding="utf-8"
    )
    spec = _spec(
        tmp_path,
        '[[model]]\nname = "lag4"\nformula = "np.log(exports_t) ~ L(GPR, 4) + C(month) + trend"\n'
        'cov = { type = "hac", lags = 4 }\nsample = { start = "2017-05" }\n',
        '[data]\npath = "processed:study_world"\ntime = "period"\n',
    )
    output = tmp_path / "out.json"
    code, _out, err = _run(["estimate", str(spec), "-o", str(output)], capsys)
    assert code == 0, err
    assert "SYNTHETIC" in err
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["data"]["synthetic"] is True
    (model,) = document["models"]
    # The window starts in 2017-05, so L(GPR, 4) reaches back to 2017-01: no lag drops.
    assert model["nobs"] == 56 and model["dropped_rows"] == {"lags": 0, "missing": 0}
    assert model["sample"] == {"start": "2017-05"}
    assert model["params"]["L(GPR, 4)"] == pytest.approx(0.01, abs=0.003)
    assert len([t for t in model["params"] if t.startswith("C(month)")]) == 11


# --- bad input: exit 2, one line naming the problem, nothing written ------------------------

BAD_CASES: dict[str, tuple[str, str | None, list[str]]] = {
    "missing data file": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\n',
        '[data]\npath = "nope.csv"\n',
        ["nope.csv", "does not exist", "[data] path"],
    ),
    "missing column": (
        '[[model]]\nname = "m"\nformula = "invest ~ valeu"\n',
        None,
        ["[model m]", "'valeu'"],
    ),
    "missing cluster column": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\ncov = {type="cluster", by="frim"}\n',
        None,
        ["[model m]", "'frim'"],
    ),
    "missing entity column": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\n',
        '[data]\npath = "grunfeld.csv"\nentity = "company"\n',
        ["entity column 'company'"],
    ),
    "unknown estimator": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\nestimator = "tobit"\n',
        None,
        ["[model m]", "'tobit'"],
    ),
    "unknown covariance type": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\ncov = { type = "hc7" }\n',
        None,
        ["[model m]", "'hc7'"],
    ),
    "missing lags": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\ncov = { type = "hac" }\n',
        None,
        ["[model m]", "'lags'"],
    ),
    "negative lags": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\ncov = { type = "hac", lags = -2 }\n',
        None,
        ["[model m]", "-2"],
    ),
    "covariance lags longer than the sample": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\n'
        'cov = { type = "driscoll-kraay", lags = 25 }\n',
        None,
        ["[model m]", "lags = 25", "20 periods"],
    ),
    "formula lags longer than the sample": (
        '[[model]]\nname = "m"\nformula = "invest ~ L(value, 30)"\n',
        None,
        ["[model m]", "no rows left", "220 dropped for lags"],
    ),
    "formula that does not parse": (
        '[[model]]\nname = "m"\nformula = "invest ~ value +"\n',
        None,
        ["[model m]", "does not parse"],
    ),
    "singular design": (
        '[[model]]\nname = "m"\nformula = "invest ~ value + capital + I(value + capital)"\n',
        None,
        ["[model m]", "collinear", "I(value + capital)"],
    ),
    "panel without entity": (
        '[[model]]\nname = "fe"\nformula = "invest ~ value"\nestimator = "panel"\n',
        '[data]\npath = "grunfeld.csv"\ntime = "year"\n',
        ["[model fe]", "entity"],
    ),
    "duplicate entity-time rows": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\n',
        '[data]\npath = "dup.csv"\nentity = "firm"\ntime = "year"\n',
        ["dup.csv", "duplicate rows for (firm, year)"],
    ),
    "unknown key": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\nestimtor = "ols"\n',
        None,
        ["[model m]", "unknown key 'estimtor'"],
    ),
    "bad TOML": (
        '[[model]]\nname = "m\nformula = "invest ~ value"\n',
        None,
        ["spec.toml", "bad TOML"],
    ),
    "text placeholders in a numeric column": (
        '[[model]]\nname = "m"\nformula = "invest ~ value"\n',
        '[data]\npath = "mixed.csv"\n',
        ["mixed.csv", "column 'value'", "'..'", "line 3"],
    ),
    "bad time values": (
        '[[model]]\nname = "m"\nformula = "invest ~ L(value)"\n',
        '[data]\npath = "badtime.csv"\ntime = "period"\n',
        ["badtime.csv", "'2017-13'"],
    ),
}


@pytest.mark.parametrize("command", ["estimate", "diagnose"])
@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    case: str,
    command: str,
    tmp_path: Path,
    grunfeld_csv: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body, data, needles = BAD_CASES[case]
    frame = pd.read_csv(grunfeld_csv)
    pd.concat([frame, frame.iloc[[5]]]).to_csv(tmp_path / "dup.csv", index=False)
    pd.DataFrame({"period": ["2017-11", "2017-12", "2017-13"], "invest": 1.0, "value": 2.0}).to_csv(
        tmp_path / "badtime.csv", index=False
    )
    pd.DataFrame({"invest": [1.0, 2.0, 3.0], "value": ["1.5", "..", "2"]}).to_csv(
        tmp_path / "mixed.csv", index=False
    )
    spec = _spec(tmp_path, body, data)
    output = tmp_path / "out.json"
    code, out, err = _run([command, str(spec), "--output", str(output)], capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.json")]


def test_missing_spec_file_and_missing_output_folder(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["estimate", str(tmp_path / "absent.toml")], capsys)
    assert code == 2 and "absent.toml" in err and len(err.strip().splitlines()) == 1
    spec = _spec(tmp_path, '[[model]]\nname = "m"\nformula = "invest ~ value"\n')
    target = tmp_path / "no" / "such" / "out.json"
    code, _, err = _run(["estimate", str(spec), "-o", str(target)], capsys)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not target.parent.exists()


def test_bad_break_date(
    tmp_path: Path, grunfeld_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _short_gm_csv(tmp_path, grunfeld_csv)
    spec = _spec(
        tmp_path,
        '[[model]]\nname = "gm"\nformula = "invest ~ value"\n',
        '[data]\npath = "gm.csv"\ntime = "year"\n',
    )
    output = tmp_path / "d.json"
    code, _, err = _run(["diagnose", str(spec), "--break-date", "1936", "-o", str(output)], capsys)
    assert code == 2 and "[model gm]" in err and "each side of the break" in err
    assert not output.exists()
