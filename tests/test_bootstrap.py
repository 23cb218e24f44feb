"""Wild cluster bootstrap (``inference = { type = "wild-cluster", ... }``).

References and what each check can and cannot show:

* ``wildboottest`` 0.3.2 (PyPI, the implementation pyfixest uses; a cross-check of
  Roodman et al. 2019's ``boottest`` algorithm, not published output): with 9999
  random draws on both sides the two p-values are independent Monte Carlo
  estimates of the same number, so their difference has standard deviation
  ``sqrt(2 p (1 - p) / B)``; the tests allow three of those plus ``1/B``.
* Full enumeration (Rademacher, ``2^G <= reps``) is deterministic: the p-value is
  compared *exactly* with a brute-force reference written here, which re-runs
  the full dummy-variable regression (fixed effects as explicit dummies,
  re-estimated every replication) for each of the ``2^G`` sign vectors.  That
  checks the fast algebra, including the re-projection of the bootstrap
  residuals for fixed effects that are not nested in the clusters.
* ``wildboottest`` counts the two tied draws of an enumeration (all +1 and all
  -1 give ``|t*| = |t|`` under WCR) as exceedances by floating-point chance; we
  follow boottest's strict ``|t*| > |t|``, so enumerated p-values may differ
  from it by at most ``2 / 2^G``.
"""

from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reexport.cli import main
from reexport.models import bootstrap as bs
from reexport.models.api import fit_model as fit
from reexport.models.spec import ModelSpec, parse_spec


def _panel(n_entities: int, n_periods: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    entity = np.repeat(np.arange(n_entities), n_periods)
    period = np.tile(np.arange(n_periods), n_entities)
    common = rng.normal(size=n_entities)[entity]
    x = rng.normal(size=entity.size) + common
    z = rng.normal(size=entity.size) + 0.5 * rng.normal(size=n_periods)[period]
    noise = rng.normal(size=n_entities)[entity] * 0.8 + rng.normal(size=entity.size)
    y = 1.0 + 0.03 * x + 0.3 * z + rng.normal(size=n_periods)[period] + noise
    return pd.DataFrame({"y": y, "x": x, "z": z, "firm": entity, "year": 2000 + period})


def _model(effects: list[str], inference: dict[str, Any], formula: str = "y ~ x + z") -> ModelSpec:
    estimator = "panel" if effects else "ols"
    document = {
        "data": {"path": "panel.csv", "entity": "firm", "time": "year"},
        "model": [
            {
                "name": "m",
                "formula": formula,
                "estimator": estimator,
                "effects": effects,
                "inference": {"type": "wild-cluster", **inference},
            }
        ],
    }
    return parse_spec(document, Path("spec.toml")).models[0]


def _bootstrap(model: ModelSpec, frame: pd.DataFrame) -> dict[str, Any]:
    return bs.wild_cluster_bootstrap(model, frame, fit(model, frame))


# --------------------------------------------------------------------------------------
# brute-force reference: the dummy-variable regression re-run for every sign vector


def _dummies(frame: pd.DataFrame, effects: list[str]) -> np.ndarray:
    blocks = []
    if "entity" in effects:
        blocks.append(pd.get_dummies(frame["firm"]).to_numpy(dtype=float))
    if "time" in effects:
        time = pd.get_dummies(frame["year"]).to_numpy(dtype=float)
        blocks.append(time[:, 1:] if blocks else time)
    if not blocks:
        blocks.append(np.ones((len(frame), 1)))
    return np.column_stack(blocks)


def _crv_t(design: np.ndarray, y: np.ndarray, j: int, null: float, codes: np.ndarray) -> float:
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    resid = y - design @ beta
    bread = np.linalg.pinv(design.T @ design)
    influence = design @ bread[j]  # row j of (X'X)^-1 X'
    per_cluster = np.bincount(codes, weights=influence * resid)
    return float((beta[j] - null) / np.sqrt(per_cluster @ per_cluster))


def _enumerated_reference(
    frame: pd.DataFrame, effects: list[str], term: str, restricted: bool, beta0: float = 0.0
) -> float:
    codes = pd.factorize(frame["firm"], sort=True)[0]
    G = int(codes.max()) + 1
    slopes = frame[["x", "z"]].to_numpy(dtype=float)
    design = np.column_stack([slopes, _dummies(frame, effects)])
    j = ["x", "z"].index(term)
    y = frame["y"].to_numpy(dtype=float)
    observed = _crv_t(design, y, j, beta0, codes)
    if restricted:
        # The null beta_j = beta0 imposed: regress y - beta0 x_j on the other columns.
        others = np.delete(design, j, axis=1)
        shifted = y - beta0 * design[:, j]
        fitted = others @ np.linalg.lstsq(others, shifted, rcond=None)[0] + beta0 * design[:, j]
        null = beta0
    else:
        fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
        null = float(np.linalg.lstsq(design, y, rcond=None)[0][j])
    resid = y - fitted
    exceed = 0
    signs = list(itertools.product([1.0, -1.0], repeat=G))
    for sign in signs:
        boot = fitted + resid * np.asarray(sign)[codes]
        t_boot = _crv_t(design, boot, j, null, codes)
        exceed += abs(t_boot) > abs(observed) * (1 + bs.TIE_RTOL)
    return exceed / len(signs)


@pytest.mark.parametrize("restricted", [True, False])
@pytest.mark.parametrize(
    "effects", [[], ["entity"], ["entity", "time"]], ids=["ols", "entity-fe", "twoway-fe"]
)
def test_enumeration_matches_the_brute_force_dummy_variable_bootstrap_exactly(
    effects: list[str], restricted: bool
) -> None:
    # 9 clusters: 2^9 = 512 <= reps, so every sign vector is used once (deterministic).
    frame = _panel(9, 8, seed=11)
    model = _model(effects, {"by": "firm", "reps": 999, "restricted": restricted})
    record = _bootstrap(model, frame)
    assert record["enumerated"] is True and record["reps"] == 512
    for term in ("x", "z"):
        expected = _enumerated_reference(frame, effects, term, restricted)
        assert record["pvalues"][term] == pytest.approx(expected, abs=1e-12), term


@pytest.mark.parametrize("restricted", [True, False])
def test_pvalue_under_other_nulls_matches_brute_force(restricted: bool) -> None:
    # The intervals invert P(beta0); check P away from 0 too (the beta0-linear pieces).
    frame = _panel(9, 8, seed=12)
    model = _model(["entity", "time"], {"by": "firm", "reps": 999, "restricted": restricted})
    problem = bs.prepare(model, frame, fit(model, frame))
    stats = [bs.run_chunk(problem, c) for c in range(problem.n_chunks)]
    for j, term in enumerate(problem.terms):
        estimate, se = float(problem.params[j]), float(problem.se[j])
        curve = bs._Distribution(stats, j, estimate, se)
        for beta0 in (estimate - 2.5 * se, estimate + 1.2 * se):
            expected = _enumerated_reference(frame, ["entity", "time"], term, restricted, beta0)
            assert curve.pvalue(beta0) == pytest.approx(expected, abs=1e-12), (term, beta0)


# --------------------------------------------------------------------------------------
# wildboottest cross-checks (Monte Carlo agreement)


def _wildboottest(
    y: np.ndarray, X: pd.DataFrame, cluster: np.ndarray, weights: str, seed: int
) -> pd.Series:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = wildboottest(
            sm.OLS(y, X), B=9999, cluster=cluster, weights_type=weights, seed=seed, show=False
        )
    return table["p-value"].astype(float)


def _within_mc_error(ours: float, reference: float, reps: int) -> bool:
    p = (ours + reference) / 2
    return abs(ours - reference) <= 3 * np.sqrt(2 * p * (1 - p) / reps) + 1 / reps


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_ols_pvalues_agree_with_wildboottest_within_monte_carlo_error(weights: str) -> None:
    frame = _panel(22, 12, seed=5)  # 22 clusters: 2^22 > 9999, random draws
    model = _model([], {"by": "firm", "reps": 9999, "weights": weights, "seed": 7})
    record = _bootstrap(model, frame)
    assert record["enumerated"] is False and record["reps"] == 9999
    X = frame[["x", "z"]].assign(Intercept=1.0)[["Intercept", "x", "z"]]
    reference = _wildboottest(frame["y"].to_numpy(), X, frame["firm"].to_numpy(), weights, 3)
    for term in ("Intercept", "x", "z"):
        assert _within_mc_error(record["pvalues"][term], reference[term], 9999), (
            term,
            record["pvalues"][term],
            reference[term],
        )
    # Informative, not only insignificant: x is borderline, z clearly significant.
    assert 0.01 < record["pvalues"]["x"] < 0.9 and record["pvalues"]["z"] < 0.01


def test_nested_fixed_effects_agree_with_wildboottest_on_demeaned_data() -> None:
    # Entity effects nested in entity clusters: bootstrapping the demeaned data is
    # exact, which is what wildboottest (and pyfixest) do.
    frame = _panel(22, 10, seed=8)
    model = _model(["entity"], {"by": "firm", "reps": 9999, "seed": 2})
    record = _bootstrap(model, frame)
    demeaned = frame[["y", "x", "z"]] - frame.groupby("firm")[["y", "x", "z"]].transform("mean")
    reference = _wildboottest(
        demeaned["y"].to_numpy(), demeaned[["x", "z"]], frame["firm"].to_numpy(), "rademacher", 4
    )
    for term in ("x", "z"):
        assert _within_mc_error(record["pvalues"][term], reference[term], 9999), term


def test_enumerated_ols_pvalues_match_wildboottest_up_to_the_two_tied_draws() -> None:
    frame = _panel(10, 15, seed=9)
    model = _model([], {"by": "firm", "reps": 9999})
    record = _bootstrap(model, frame)
    assert record["reps"] == 1024
    X = frame[["x", "z"]].assign(Intercept=1.0)[["Intercept", "x", "z"]]
    reference = _wildboottest(frame["y"].to_numpy(), X, frame["firm"].to_numpy(), "rademacher", 1)
    for term in ("Intercept", "x", "z"):
        gap = reference[term] - record["pvalues"][term]
        assert -1e-12 <= gap <= 2 / 1024 + 1e-12, (term, gap)


# --------------------------------------------------------------------------------------
# deterministic properties


def test_same_seed_same_result_other_seed_other_draws() -> None:
    frame = _panel(16, 6, seed=3)
    first = _bootstrap(_model(["entity"], {"by": "firm", "reps": 4999, "seed": 1}), frame)
    again = _bootstrap(_model(["entity"], {"by": "firm", "reps": 4999, "seed": 1}), frame)
    other = _bootstrap(_model(["entity"], {"by": "firm", "reps": 4999, "seed": 2}), frame)
    assert json.dumps(first) == json.dumps(again)
    assert first["pvalues"] != other["pvalues"]
    for term in ("x", "z"):
        assert _within_mc_error(first["pvalues"][term], other["pvalues"][term], 4999)


def test_draws_are_chunked_by_seed_and_chunk_index_only() -> None:
    frame = _panel(16, 6, seed=3)
    model = _model([], {"by": "firm", "reps": 5000, "seed": 9})
    problem = bs.prepare(model, frame, fit(model, frame))
    assert problem.n_chunks == 3
    lengths = [bs.draw_weights(problem, c).shape for c in range(problem.n_chunks)]
    assert lengths == [(16, 2000), (16, 2000), (16, 1000)]
    assert not np.array_equal(bs.draw_weights(problem, 0), bs.draw_weights(problem, 1))
    np.testing.assert_array_equal(bs.draw_weights(problem, 1), bs.draw_weights(problem, 1))
    webb = bs.draw_weights(bs.prepare(_model([], {"by": "firm", "weights": "webb"}), frame,
                                      fit(model, frame)), 0)  # fmt: skip
    assert set(np.round(np.abs(webb).ravel(), 6)) == {0.707107, 1.0, 1.224745}


@pytest.mark.parametrize("restricted", [True, False])
def test_interval_ends_are_where_the_pvalue_crosses_five_percent(restricted: bool) -> None:
    frame = _panel(14, 8, seed=21)
    model = _model(["entity", "time"], {"by": "firm", "reps": 1999, "restricted": restricted})
    result = fit(model, frame)
    problem = bs.prepare(model, frame, result)
    stats = [bs.run_chunk(problem, c) for c in range(problem.n_chunks)]
    record = bs.combine(problem, stats)
    for j, term in enumerate(problem.terms):
        lower, upper = record["conf_int"][term]
        assert lower < result.params[term] < upper
        curve = bs._Distribution(stats, j, float(problem.params[j]), float(problem.se[j]))
        step = 1e-6 * problem.se[j]
        assert curve.pvalue(lower - step) <= 0.05 < curve.pvalue(lower + step)
        assert curve.pvalue(upper + step) <= 0.05 < curve.pvalue(upper - step)
        if not restricted:
            # WCU: the t* distribution does not depend on beta0, the interval is symmetric.
            estimate = float(problem.params[j])
            assert upper - estimate == pytest.approx(estimate - lower, rel=1e-6)
    assert "WCR" in record["convention"] if restricted else "WCU" in record["convention"]


@pytest.mark.parametrize("effects", [[], ["entity", "time"]], ids=["ols", "twoway-fe"])
def test_reported_t_is_the_cluster_t_of_the_model(effects: list[str]) -> None:
    frame = _panel(12, 10, seed=4)
    model = _model(effects, {"by": "firm", "reps": 999})
    document = {
        "data": {"path": "panel.csv", "entity": "firm", "time": "year"},
        "model": [
            {
                "name": "c",
                "formula": "y ~ x + z",
                "estimator": "panel" if effects else "ols",
                "effects": effects,
                "cov": {"type": "cluster", "by": "firm"},
            }
        ],
    }
    clustered = fit(parse_spec(document, Path("spec.toml")).models[0], frame)
    record = _bootstrap(model, frame)
    assert set(record["tstats"]) == set(clustered.terms)
    for term in clustered.terms:
        assert record["tstats"][term] == pytest.approx(clustered.tstats[term], rel=1e-12)


# --------------------------------------------------------------------------------------
# the spec key and the results file


def _write(tmp_path: Path, inference: str, estimator: str = "panel") -> Path:
    _panel(12, 6, seed=1).to_csv(tmp_path / "panel.csv", index=False)
    effects = 'effects = ["entity"]\n' if estimator != "ols" else ""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[data]\npath = "panel.csv"\nentity = "firm"\ntime = "year"\n\n'
        f'[[model]]\nname = "m"\nformula = "y ~ x + z"\nestimator = "{estimator}"\n{effects}'
        f'cov = {{ type = "cluster", by = "firm" }}\ninference = {inference}\n',
        encoding="utf-8",
    )
    return spec


def test_estimate_writes_the_bootstrap_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(tmp_path, '{ type = "wild-cluster", by = "entity", reps = 999, seed = 4 }')
    output = tmp_path / "out.json"
    assert main(["estimate", str(spec), "-o", str(output)]) == 0
    out = capsys.readouterr().out
    assert "bootstrap: wild cluster bootstrap-t, WCR, Rademacher, 999 reps, seed 4" in out
    record = json.loads(output.read_text())["models"][0]["bootstrap"]
    assert set(record) == {
        "type", "by", "clusters", "reps", "reps_requested", "weights", "restricted", "seed",
        "enumerated", "level", "convention", "tstats", "pvalues", "conf_int",
    }  # fmt: skip
    assert record["by"] == "entity" and record["clusters"] == 12 and record["level"] == 0.95
    assert set(record["pvalues"]) == {"x", "z"} and len(record["conf_int"]["x"]) == 2
    from reexport.models.results import ResultsFile

    loaded = ResultsFile.load(output)
    assert loaded.models[0].bootstrap == record
    assert loaded.models[0].to_dict()["bootstrap"] == record


@pytest.mark.parametrize(
    ("inference", "estimator", "needles"),
    [
        ('{ type = "pairs", by = "firm" }', "panel", ["inference", "'pairs'"]),
        ('{ type = "wild-cluster" }', "panel", ["inference", "'by'"]),
        ('{ type = "wild-cluster", by = "firm", reps = 10 }', "panel", ["'reps'", "99"]),
        ('{ type = "wild-cluster", by = "firm", weights = "mammen" }', "panel", ["'mammen'"]),
        ('{ type = "wild-cluster", by = "firm", seed = -1 }', "panel", ["'seed'"]),
        ('{ type = "wild-cluster", by = "firm", restricted = 1 }', "panel", ["'restricted'"]),
        ('{ type = "wild-cluster", by = "firm", rep = 99 }', "panel", ["unknown key 'rep'"]),
        ('{ type = "wild-cluster", by = "frim" }', "panel", ["inference", "'frim'"]),
        ('{ type = "wild-cluster", by = "firm" }', "ppml", ["inference", "'ppml'"]),
    ],
)
def test_bad_inference_exits_2_with_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    inference: str,
    estimator: str,
    needles: list[str],
) -> None:
    spec = _write(tmp_path, inference, estimator)
    output = tmp_path / "out.json"
    assert main(["estimate", str(spec), "-o", str(output)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "[model m]" in err and all(n in err for n in needles), err
    assert not output.exists()


def test_too_many_clusters_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bs, "MAX_CLUSTERS", 5)
    spec = _write(tmp_path, '{ type = "wild-cluster", by = "firm", reps = 999 }')
    assert main(["estimate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "[model m] inference: 12 clusters of 'firm'" in err and "limited to 5" in err


def test_tables_show_bootstrap_pvalues_and_their_convention(tmp_path: Path) -> None:
    from reexport.models.results import ResultsFile
    from reexport.report import tables

    spec = _write(tmp_path, '{ type = "wild-cluster", by = "entity", reps = 999, seed = 4 }')
    output = tmp_path / "out.json"
    assert main(["estimate", str(spec), "-o", str(output)]) == 0
    (model,) = ResultsFile.load(output).models
    markdown = tables.models_table([model], format="md")
    p_x = model.bootstrap["pvalues"]["x"]
    assert f"{{p = {tables.format_number(p_x, 3)}}}" in markdown
    assert "Wild cluster bootstrap p-values in braces" in markdown
    assert model.bootstrap["convention"] in markdown
    # A model without a bootstrap gets no such row or note.
    plain = tables.models_table([replace(model, bootstrap=None)], format="md")
    assert "{p =" not in plain and "Wild cluster bootstrap" not in plain


def test_bootstrap_reads_interaction_effects_and_clusters_like_the_fit() -> None:
    frame = _panel(10, 12, seed=7)
    frame["half"] = frame["year"] % 2
    by_name = _model(["firm^half"], {"by": "firm", "reps": 999, "seed": 3})
    frame["firm_half"] = frame["firm"].astype(str) + "-" + frame["half"].astype(str)
    by_column = _model(["firm_half"], {"by": "firm", "reps": 999, "seed": 3})
    assert _bootstrap(by_name, frame)["pvalues"] == _bootstrap(by_column, frame)["pvalues"]
