"""Estimators: OLS/FE/PPML mechanics, fixed-effect algebra, singular designs, spec-level fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reexport.errors import BadInputError
from reexport.models import fe
from reexport.models.api import fit_model as fit
from reexport.models.estimate import fit_fe, fit_ols, fit_ppml, time_ordinals
from reexport.models.spec import CovSpec, ModelSpec


def _panel(seed: int = 0, entities: int = 12, periods: int = 30, frac: float = 0.8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "firm": np.repeat([f"f{i:02d}" for i in range(entities)], periods),
            "period": np.tile(
                pd.period_range("2018-01", periods=periods, freq="M").astype(str), entities
            ),
        }
    )
    frame = frame.sample(frac=frac, random_state=seed).sort_index().reset_index(drop=True)
    a = frame["firm"].map({f"f{i:02d}": rng.normal() for i in range(entities)})
    frame["x1"] = rng.normal(size=len(frame)) + a
    frame["x2"] = rng.normal(size=len(frame))
    frame["y"] = 2.0 + 0.7 * frame["x1"] - 0.2 * frame["x2"] + a + rng.normal(size=len(frame))
    frame["flow"] = rng.poisson(np.exp(0.5 + 0.3 * frame["x1"]))
    return frame


def _model(**overrides: object) -> ModelSpec:
    base: dict[str, object] = {
        "name": "m1",
        "formula": "y ~ x1 + x2",
        "estimator": "ols",
        "effects": (),
        "cov": CovSpec(type="robust"),
        "entity": "firm",
        "time": "period",
        "where": "spec.toml [model m1]",
    }
    base.update(overrides)
    return ModelSpec(**base)  # type: ignore[arg-type]


# -- fixed-effect algebra --------------------------------------------------------------------
def test_two_way_within_equals_dummy_variable_regression() -> None:
    frame = _panel(seed=1)
    result = fit_fe(
        frame["y"],
        frame[["x1", "x2"]],
        effects={"firm": frame["firm"], "period": frame["period"]},
        cov="nonrobust",
    )
    dummies = pd.get_dummies(frame[["firm", "period"]], drop_first=True, dtype=float)
    lsdv = np.column_stack([frame[["x1", "x2"]], dummies, np.ones(len(frame))])
    beta, rss, *_ = np.linalg.lstsq(lsdv, frame["y"].to_numpy(), rcond=None)
    np.testing.assert_allclose(result.params.to_numpy(), beta[:2], rtol=1e-10)
    # Residual df: N - slopes - (G1 + G2 - 1), as the LSDV regression's.
    assert result.df_resid == len(frame) - lsdv.shape[1]
    sigma2 = float(rss[0]) / result.df_resid
    xtx_inv = np.linalg.inv(lsdv.T @ lsdv)
    np.testing.assert_allclose(
        result.std_errors.to_numpy(), np.sqrt(sigma2 * np.diag(xtx_inv)[:2]), rtol=1e-8
    )
    assert result.r2 == pytest.approx(
        1 - float(rss[0]) / float(((frame["y"] - frame["y"].mean()) ** 2).sum()), rel=1e-10
    )


def test_absorbed_df_counts_connected_components() -> None:
    # Two disconnected blocks: entities {0,1} only in periods {0,1}; {2,3} only in {2,3}.
    entity = fe.factorize("entity", [0, 0, 1, 1, 2, 2, 3, 3])
    period = fe.factorize("period", [0, 1, 0, 1, 2, 3, 2, 3])
    assert fe.absorbed_df([entity, period]) == 4 + 4 - 2
    assert fe.absorbed_df([entity]) == 4
    assert fe.absorbed_df([]) == 0


def test_singletons_are_dropped_iteratively() -> None:
    # Row 5 is alone in entity 'c'; once it is dropped, row 4 is alone in period 9.
    entity = fe.factorize("e", ["a", "a", "b", "b", "b", "c"])
    period = fe.factorize("t", [1, 2, 1, 2, 9, 9])
    keep = fe.singleton_mask([entity, period])
    assert keep.tolist() == [True, True, True, True, False, False]
    for effect in (entity.subset(keep), period.subset(keep)):
        assert np.bincount(effect.codes).min() >= 2


def test_is_nested() -> None:
    firm = fe.factorize("firm", [0, 0, 1, 1, 2, 2])
    assert fe.is_nested(firm, np.array([0, 0, 0, 0, 1, 1]))
    assert not fe.is_nested(firm, np.array([0, 1, 0, 0, 1, 1]))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(5, 60),
    g1=st.integers(1, 6),
    g2=st.integers(1, 6),
)
def test_demeaned_columns_have_zero_group_means(seed: int, n: int, g1: int, g2: int) -> None:
    rng = np.random.default_rng(seed)
    effects = [fe.factorize("a", rng.integers(0, g1, n)), fe.factorize("b", rng.integers(0, g2, n))]
    weights = rng.uniform(0.5, 2.0, n)
    matrix = rng.normal(size=(n, 2))
    for w, method in ((None, "exact"), (weights, "exact"), (None, "map"), (weights, "map")):
        out, _ = fe.demean(matrix, effects, weights=w, method=method)
        for effect in effects:
            wt = np.ones(n) if w is None else w
            for j in range(2):
                sums = np.bincount(effect.codes, weights=out[:, j] * wt)
                assert np.abs(sums).max() < 1e-8 * max(1.0, np.abs(matrix).max() * n)
        # Projection: demeaning twice changes nothing.
        again, _ = fe.demean(out, effects, weights=w, method=method)
        np.testing.assert_allclose(again, out, atol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_exact_two_way_demeaning_equals_alternating_projections(weighted: bool) -> None:
    """Unbalanced, two connected components, singleton-free: both methods agree."""
    rng = np.random.default_rng(8)
    pair = np.repeat(np.arange(400), 30)
    month = np.tile(np.arange(30), 400)
    start = rng.integers(0, 24, 400)[pair]
    keep = (month >= start) & (month < start + 6) & (rng.random(len(pair)) < 0.8)
    month = np.where(pair < 50, month + 100, month)  # pairs 0..49 live in other months
    effects = [fe.factorize("pair", pair[keep]), fe.factorize("month", month[keep])]
    matrix = rng.normal(size=(int(keep.sum()), 3)) * [1, 10, 1000]
    weights = rng.uniform(0.1, 5.0, len(matrix)) if weighted else None
    exact, sweeps = fe.demean(matrix, effects, weights=weights, method="exact")
    iterated, iterations = fe.demean(matrix, effects, weights=weights, method="map")
    assert sweeps == 1 and iterations > 10
    np.testing.assert_allclose(exact, iterated, atol=1e-8 * np.abs(matrix).max())
    assert fe.absorbed_df(effects) == effects[0].n_levels + effects[1].n_levels - 2


# -- singular designs --------------------------------------------------------------------------
def test_singular_design_names_the_collinear_terms() -> None:
    frame = _panel().assign(x3=lambda f: 2 * f["x1"] + 1)
    with pytest.raises(BadInputError) as info:
        fit(_model(formula="y ~ x1 + x3"), frame)
    message = str(info.value)
    assert message.startswith("spec.toml [model m1]: singular design: ")
    assert "is collinear with" in message
    named = {"'x1'", "'x3'", "'Intercept'"}
    assert sum(term in message for term in named) == 3


def test_regressor_absorbed_by_fixed_effects_is_reported() -> None:
    frame = _panel()
    frame["size"] = frame["firm"].str[1:].astype(int) * 1.5  # constant within firm
    with pytest.raises(BadInputError, match=r"'size' is collinear with the fixed effects"):
        fit(_model(formula="y ~ x1 + size", estimator="panel", effects=("entity",)), frame)


def test_constant_column_without_variation_in_ols() -> None:
    frame = _panel().assign(zero=0.0)
    with pytest.raises(BadInputError, match="'zero' is identically zero"):
        fit_ols(frame["y"], frame[["x1", "zero"]].assign(Intercept=1.0))


# -- spec-level fit ------------------------------------------------------------------------------
def test_fit_panel_two_way_cluster_by_entity() -> None:
    frame = _panel(seed=3)
    model = _model(
        estimator="panel",
        effects=("entity", "time"),
        cov=CovSpec(type="cluster", by=("firm",)),
        group="fe",
        variant={"effects": "two-way"},
    )
    result = fit(model, frame)
    assert result.terms == ("x1", "x2")
    assert result.effects == ("entity", "time")
    assert result.group == "fe" and dict(result.variant) == {"effects": "two-way"}
    assert result.cov.df == 11 and result.cov.clusters == {"firm": 12}
    assert result.cov.convention == "Stata: reghdfe, absorb(firm period) vce(cluster firm)"
    assert result.r2_within is not None and 0 < result.r2_within < result.r2  # type: ignore[operator]
    direct = fit_fe(
        frame["y"],
        frame[["x1", "x2"]],
        effects={"firm": frame["firm"], "period": frame["period"]},
        cov={"type": "cluster", "by": ["firm"]},
        clusters={"firm": frame["firm"]},
    )
    np.testing.assert_allclose(result.std_errors.to_numpy(), direct.std_errors.to_numpy())


def test_fit_lags_and_hac_within_entity() -> None:
    frame = _panel(seed=4, frac=1.0)
    model = _model(formula="y ~ L(x1, 1) + x2", cov=CovSpec(type="hac", lags=2))
    result = fit(model, frame)
    assert result.dropped_rows["lags"] == 12  # the first period of each firm
    assert result.nobs == len(frame) - 12
    assert result.cov.convention == "Stata: newey, lag(2)"


@pytest.mark.parametrize("kind", ["period", "timestamp"])
def test_fit_accepts_period_and_datetime_time_columns(kind: str) -> None:
    frame = _panel(seed=6)
    as_strings = fit(_model(cov=CovSpec(type="driscoll-kraay", lags=3)), frame)
    converted = pd.PeriodIndex(frame["period"], freq="M")
    frame["period"] = converted if kind == "period" else converted.to_timestamp()
    typed = fit(_model(cov=CovSpec(type="driscoll-kraay", lags=3)), frame)
    np.testing.assert_allclose(typed.std_errors.to_numpy(), as_strings.std_errors.to_numpy())
    assert typed.cov.clusters == {"periods": 30}


def test_fit_ppml_with_entity_effects() -> None:
    frame = _panel(seed=5)
    frame.loc[frame["firm"] == "f03", "flow"] = 0  # never exports: separated
    model = _model(
        formula="flow ~ x1",
        estimator="ppml",
        effects=("entity",),
        cov=CovSpec(type="cluster", by=("firm",)),
    )
    result = fit(model, frame)
    assert result.dropped_rows["separated_fe"] == int((frame["firm"] == "f03").sum())
    assert result.params["x1"] == pytest.approx(0.3, abs=0.1)
    assert result.cov.df is None
    assert result.cov.convention == "Stata: ppmlhdfe, absorb(firm) vce(cluster firm)"


def test_fit_rejects_unknown_estimator_and_missing_columns() -> None:
    frame = _panel()
    with pytest.raises(BadInputError, match="unknown estimator 'tobit'"):
        fit(_model(estimator="tobit"), frame)
    with pytest.raises(BadInputError, match="cluster column 'region' is not in the data"):
        fit(_model(cov=CovSpec(type="cluster", by=("region",))), frame)
    with pytest.raises(BadInputError, match="no entity is named"):
        fit(_model(estimator="panel", effects=("entity",), entity=None), frame)


def test_ppml_rejects_negative_or_all_zero_outcomes() -> None:
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "Intercept": 1.0})
    with pytest.raises(BadInputError, match="non-negative"):
        fit_ppml(pd.Series([1.0, -1.0, 2.0, 3.0]), X)
    with pytest.raises(BadInputError, match="zero everywhere"):
        fit_ppml(pd.Series([0.0, 0.0, 0.0, 0.0]), X)


def test_missing_values_in_design_are_rejected_by_low_level_api() -> None:
    X = pd.DataFrame({"x": [1.0, np.nan, 3.0], "Intercept": 1.0})
    with pytest.raises(BadInputError, match="term 'x' has missing"):
        fit_ols(pd.Series([1.0, 2.0, 3.0]), X, where="here")


@pytest.mark.parametrize(
    "values",
    [
        ["2017-01", "2017-02", "2018-01"],
        pd.PeriodIndex(["2017-01", "2017-02", "2018-01"], freq="M"),
        pd.to_datetime(["2017-01-01", "2017-02-01", "2018-01-01"]),
        ["2017m1", "2017m2", "2018m1"],
    ],
)
def test_time_ordinals_count_months(values: object) -> None:
    ordinals = time_ordinals(pd.Series(values))  # type: ignore[arg-type]
    assert (ordinals - ordinals[0]).tolist() == [0, 1, 12]


def test_time_ordinals_integers_and_bad_values() -> None:
    assert time_ordinals([2001, 2003]).tolist() == [2001, 2003]
    with pytest.raises(BadInputError):
        time_ordinals(["2017-01", "not a month"])
