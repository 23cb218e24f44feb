"""ModelResult immutability, with_cov, rendering, JSON schema and the results file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reexport.errors import BadInputError
from reexport.models.estimate import fit_ols
from reexport.models.results import ModelResult, ResultsFile

SCHEMA_KEYS = {
    "name", "group", "variant", "estimator", "formula", "effects", "nobs", "df_resid",
    "params", "std_errors", "tstats", "pvalues", "conf_int", "r2", "r2_within", "cov",
    "dropped_rows", "diagnostics",
}  # fmt: skip
COV_KEYS = {"type", "lags", "clusters", "small_sample", "convention"}


@pytest.fixture
def result() -> ModelResult:
    rng = np.random.default_rng(11)
    n = 80
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "month": np.arange(n),
            "group": np.repeat(np.arange(8), 10),
        }
    )
    frame["y"] = 1.0 + 0.5 * frame["x"] + rng.normal(size=n)
    X = frame[["x"]].assign(Intercept=1.0)
    return fit_ols(
        frame["y"],
        X,
        cov={"type": "hac", "lags": 3},
        time=frame["month"],
        clusters={"group": frame["group"]},
        name="m1",
        formula="y ~ x",
    )


def test_result_is_immutable(result: ModelResult) -> None:
    before = result.params.copy()
    params = result.params
    params.iloc[0] = 99.0  # editing the returned Series...
    pd.testing.assert_series_equal(result.params, before)  # ...does not touch the result
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.nobs = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        result._params[0] = 1.0  # the stored arrays are read-only


def test_with_cov_returns_a_new_result(result: ModelResult) -> None:
    clustered = result.with_cov({"type": "cluster", "by": ["group"]})
    assert clustered is not result
    assert result.cov.type == "hac" and clustered.cov.type == "cluster"
    assert clustered.cov.clusters == {"group": 8} and clustered.cov.df == 7
    pd.testing.assert_series_equal(clustered.params, result.params)
    assert not np.allclose(clustered.std_errors, result.std_errors)
    # And back: identical to the original.
    again = clustered.with_cov({"type": "hac", "lags": 3})
    np.testing.assert_allclose(again.std_errors, result.std_errors, rtol=1e-14)
    with pytest.raises(BadInputError, match="cluster variable 'nope' is not available"):
        result.with_cov({"type": "cluster", "by": ["nope"]})


def test_tables_are_named_by_term(result: ModelResult) -> None:
    assert list(result.params.index) == ["x", "Intercept"]
    assert list(result.conf_int.columns) == ["lower", "upper"]
    assert (result.conf_int["lower"] < result.params).all()
    assert result.cov_params.shape == (2, 2)
    assert result.resid is not None and len(result.resid) == result.nobs


def test_to_dict_follows_the_schema(result: ModelResult) -> None:
    record = result.to_dict()
    assert set(record) >= SCHEMA_KEYS
    assert set(record["cov"]) >= COV_KEYS
    assert record["cov"]["convention"] == "Stata: newey, lag(3)"
    assert record["cov"]["lags"] == 3 and record["cov"]["clusters"] is None
    assert set(record["params"]) == {"x", "Intercept"}
    assert len(record["conf_int"]["x"]) == 2
    json.dumps(record, allow_nan=False)


def test_results_file_round_trip(tmp_path: Path, result: ModelResult) -> None:
    target = tmp_path / "results.json"
    file = ResultsFile(
        models=(result,),
        spec="spec.toml",
        data={"path": "d.csv", "sha256": "0" * 64, "synthetic": True},
        labels={"x": "the x"},
    )
    file.save(target)
    loaded = ResultsFile.load(target)
    assert loaded.spec == "spec.toml" and loaded.labels == {"x": "the x"}
    model = loaded.models[0]
    pd.testing.assert_series_equal(model.params, result.params)
    pd.testing.assert_series_equal(model.pvalues, result.pvalues)
    pd.testing.assert_frame_equal(model.conf_int, result.conf_int)
    assert model.cov == result.cov
    assert model.to_dict() == result.to_dict()
    with pytest.raises(BadInputError, match="cannot recompute"):
        model.with_cov("robust")
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp files left


def test_load_rejects_other_schema_versions(tmp_path: Path, result: ModelResult) -> None:
    target = tmp_path / "old.json"
    document = ResultsFile(models=(result,)).to_dict()
    document["schema"] = 2
    target.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        ResultsFile.load(target)
    assert str(info.value) == (
        f"results file {target} has schema 2 (written by reexport 0.1.0); this reexport reads "
        "schema 1: re-run `reexport estimate`"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not readable JSON"), ("[]", "not a JSON object")],
)
def test_load_rejects_malformed_files(tmp_path: Path, content: str, message: str) -> None:
    target = tmp_path / "bad.json"
    target.write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError, match=message):
        ResultsFile.load(target)
    with pytest.raises(BadInputError, match="does not exist"):
        ResultsFile.load(tmp_path / "missing.json")


def test_failed_save_leaves_nothing(tmp_path: Path, result: ModelResult) -> None:
    target = tmp_path / "results.json"
    target.write_text("previous", encoding="utf-8")
    bad = dataclasses.replace(result, variant={"lag": object()})  # not JSON-serialisable
    with pytest.raises(TypeError):
        ResultsFile(models=(bad,)).save(target)
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_summary_mentions_terms_and_convention(result: ModelResult) -> None:
    text = result.summary()
    assert "Intercept" in text and "x" in text
    assert "Stata: newey, lag(3)" in text and "t(78)" in text
    assert str(result) == text


def test_old_separated_key_is_read_as_separated_fe(tmp_path: Path, result: ModelResult) -> None:
    record = result.to_dict()
    record["dropped_rows"] = {"lags": 0, "separated": 7}
    loaded = ModelResult.from_dict(record, where="old.json")
    assert dict(loaded.dropped_rows) == {"lags": 0, "separated_fe": 7}
    assert loaded.separation == {"separated_fe": 7}
    assert loaded.source == "old.json"


def test_term_accessors_and_table_p_value(result: ModelResult) -> None:
    assert result.has("x") and not result.has("z")
    assert result.coef("x") == result.params["x"]
    assert result.se("x") == result.std_errors["x"]
    assert result.ci("x") == tuple(result.conf_int.loc["x"])
    assert result.p_value("x") == pytest.approx(result.pvalues["x"], rel=1e-10)
    with pytest.raises(BadInputError, match="has no term 'z'"):
        result.coef("z")


def test_weights_and_dof_rule_round_trip(tmp_path: Path, result: ModelResult) -> None:
    weighted = dataclasses.replace(
        result,
        weights={"column": "w", "type": "aweight", "convention": "Stata: [aweight=w]"},
        dof_rule="absorbed degrees of freedom: the levels of the effect (exact)",
    )
    path = ResultsFile(models=(weighted,)).save(tmp_path / "w.json")
    loaded = ResultsFile.load(path).models[0]
    assert loaded.weights == weighted.weights and loaded.dof_rule == weighted.dof_rule
    assert "Weights:" in loaded.summary() and "Fixed-effect dof:" in loaded.summary()
    assert "dof_rule" not in result.to_dict() and "weights" not in result.to_dict()


def test_conf_int_is_a_table_and_callable_for_other_levels(result: ModelResult) -> None:
    table = result.conf_int
    pd.testing.assert_frame_equal(pd.DataFrame(table), result.conf_int(), check_frame_type=False)
    narrow, wide = result.conf_int(0.90), result.conf_int(0.99)
    assert (narrow["lower"] > table["lower"]).all() and (wide["lower"] < table["lower"]).all()
    half = (narrow["upper"] - narrow["lower"]) / 2
    expected = stats.t.ppf(0.95, result.cov.df) * result.std_errors
    np.testing.assert_allclose(half.to_numpy(), expected.to_numpy(), rtol=1e-12)
    with pytest.raises(BadInputError, match="between 0 and 1"):
        result.conf_int(95)
