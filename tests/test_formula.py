"""Formula materialization: time-aware lags, leads, differences, trend, month dummies, samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from formulaic import model_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

from reexport.errors import BadInputError
from reexport.models.formula import (
    data_columns,
    materialize,
    period_ordinals,
    required_variables,
)
from reexport.models.spec import SampleSpec


def _month(ordinal: int) -> str:
    return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"


def _monthly(
    values: list[float], start: str = "2017-01", drop: tuple[int, ...] = ()
) -> pd.DataFrame:
    year, month = (int(p) for p in start.split("-"))
    base = year * 12 + month - 1
    rows = [
        {"period": _month(base + i), "y": float(i), "x": v}
        for i, v in enumerate(values)
        if i not in drop
    ]
    return pd.DataFrame(rows)


# --- lags follow the time index -------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    present=st.lists(st.booleans(), min_size=3, max_size=40),
    k=st.integers(min_value=-4, max_value=6),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_lag_equals_value_k_periods_earlier_regardless_of_row_order(
    present: list[bool], k: int, seed: int
) -> None:
    ordinals = [2017 * 12 + i for i, keep in enumerate(present) if keep]
    if not ordinals:
        return
    values = {o: float(o % 97) + 0.5 for o in ordinals}
    frame = pd.DataFrame(
        {"period": [_month(o) for o in ordinals], "x": [values[o] for o in ordinals]}
    )
    frame["y"] = 1.0
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**32)).reset_index(drop=True)
    try:
        design = materialize(f"y ~ L(x, {k})", shuffled, time="period", entity=None)
    except BadInputError as exc:
        # Every row lost its lag: that is reported, not silently returned.
        assert "no rows left" in str(exc)
        assert all((o - k) not in values for o in ordinals)
        return
    column = design.X[f"L(x, {k})"]
    absent = 0
    for label, period in shuffled["period"].items():
        ordinal = int(period[:4]) * 12 + int(period[5:]) - 1
        if (ordinal - k) in values:
            assert column[label] == values[ordinal - k]
        else:
            assert label not in column.index
            absent += 1
    assert design.dropped == {"lags": absent, "missing": 0}


@settings(max_examples=30, deadline=None)
@given(
    data=st.data(),
    k=st.integers(min_value=1, max_value=3),
)
def test_panel_lags_stay_within_entity(data: st.DataObject, k: int) -> None:
    rows = []
    for entity in ("A", "B", "C"):
        years = data.draw(
            st.lists(st.integers(1990, 2005), min_size=1, max_size=10, unique=True), label=entity
        )
        rows.extend(
            {"firm": entity, "year": year, "x": year * 10.0 + ord(entity)} for year in years
        )
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=k).reset_index(drop=True)
    frame["y"] = 0.0
    lookup = {(r.firm, r.year): r.x for r in frame.itertuples()}
    try:
        design = materialize(f"y ~ L(x, {k})", frame, time="year", entity="firm")
    except BadInputError:
        assert all((f, y - k) not in lookup for f, y in lookup)
        return
    for label, value in design.X[f"L(x, {k})"].items():
        firm, year = frame.loc[label, "firm"], frame.loc[label, "year"]
        assert value == lookup[(firm, year - k)]
    expected_absent = sum((f, y - k) not in lookup for f, y in lookup)
    assert design.dropped["lags"] == expected_absent


def test_gap_gives_missing_value_and_counts_lags_separately_from_missing() -> None:
    # 2017-01..2017-06 without 2017-05; x is missing in 2017-03.
    frame = _monthly([1.0, 2.0, np.nan, 4.0, 5.0, 6.0], drop=(4,))
    design = materialize("y ~ L(x, 1)", frame, time="period", entity=None)
    # 2017-01 has no 2016-12 and 2017-06 has no 2017-05: lag drops.  2017-04's
    # lag is the missing x of 2017-03: a missing-value drop.
    kept = dict(zip(frame.loc[design.rows, "period"], design.X["L(x, 1)"], strict=True))
    assert kept == {"2017-02": 1.0, "2017-03": 2.0}
    assert design.dropped == {"lags": 2, "missing": 1}
    # With x itself in the model, 2017-03 is dropped too (missing).
    design = materialize("y ~ L(x, 1) + x", frame, time="period", entity=None)
    assert design.dropped == {"lags": 2, "missing": 2}


def test_leads_and_differences() -> None:
    frame = _monthly([1.0, 4.0, 9.0, 16.0, 25.0])
    design = materialize("y ~ L(x, -1) + D(x) + D(x, 2)", frame, time="period", entity=None)
    assert list(design.X.columns) == ["Intercept", "L(x, -1)", "D(x)", "D(x, 2)"]
    # Only 2017-03 and 2017-04 have both a lead and a 2-period difference.
    assert list(frame.loc[design.rows, "period"]) == ["2017-03", "2017-04"]
    np.testing.assert_array_equal(design.X["L(x, -1)"], [16.0, 25.0])
    np.testing.assert_array_equal(design.X["D(x)"], [5.0, 7.0])
    np.testing.assert_array_equal(design.X["D(x, 2)"], [8.0, 12.0])
    assert design.dropped == {"lags": 3, "missing": 0}


def test_term_names_are_the_formula_terms() -> None:
    frame = _monthly([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    frame["GPR"] = np.arange(1.0, 7.0) * 100
    design = materialize(
        "np.log(y + 1) ~ np.log(L(GPR, 4)) + log(x)", frame, time="period", entity=None
    )
    assert list(design.X.columns) == ["Intercept", "np.log(L(GPR, 4))", "log(x)"]
    assert design.y_name == "np.log(y + 1)"
    np.testing.assert_allclose(design.X["np.log(L(GPR, 4))"], np.log([100.0, 200.0]))
    np.testing.assert_allclose(design.y, np.log([5.0, 6.0]))


def test_lag_zero_is_the_series_itself() -> None:
    frame = _monthly([3.0, 1.0, 2.0])
    design = materialize("y ~ L(x, 0)", frame, time="period", entity=None)
    np.testing.assert_array_equal(design.X["L(x, 0)"], [3.0, 1.0, 2.0])


# --- trend, month, interactions -------------------------------------------------------


def test_trend_counts_periods_from_the_first_with_gaps() -> None:
    frame = _monthly([1.0] * 6, start="2016-11", drop=(2,)).iloc[::-1]
    design = materialize("y ~ trend", frame, time="period", entity=None)
    assert dict(zip(frame.loc[design.rows, "period"], design.X["trend"], strict=True)) == {
        "2016-11": 1.0,
        "2016-12": 2.0,
        "2017-02": 4.0,
        "2017-03": 5.0,
        "2017-04": 6.0,
    }


def test_month_dummies_from_a_monthly_period_column() -> None:
    frame = _monthly(list(np.linspace(1, 2, 30)), start="2017-01")
    design = materialize("y ~ x + C(month) + year", frame, time="period", entity=None)
    dummies = [c for c in design.X.columns if c.startswith("C(month)")]
    assert dummies == [f"C(month)[T.{m}]" for m in range(2, 13)]
    months = frame["period"].str[5:].astype(int)
    for m in range(2, 13):
        np.testing.assert_array_equal(design.X[f"C(month)[T.{m}]"], (months == m).astype(float))
    np.testing.assert_array_equal(design.X["year"], frame["period"].str[:4].astype(float))


def test_a_data_column_named_month_wins_over_the_derived_one() -> None:
    frame = _monthly([1.0, 2.0, 3.0])
    frame["month"] = [7.0, 8.0, 9.0]
    design = materialize("y ~ month", frame, time="period", entity=None)
    np.testing.assert_array_equal(design.X["month"], [7.0, 8.0, 9.0])


def test_month_needs_a_monthly_time_column() -> None:
    frame = pd.DataFrame({"year": [2000, 2001, 2002], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(BadInputError, match="monthly"):
        materialize("y ~ C(month)", frame, time="year", entity=None)


def test_vanished_reference_category_is_removed_not_left_singular() -> None:
    # 2018-01 is absent and lag 1 drops 2017-01: no January is left, so the
    # remaining month dummies would add up to the intercept.
    frame = _monthly([float(i**2) for i in range(24)], drop=(12,))
    design = materialize("y ~ L(x, 1) + C(month)", frame, time="period", entity=None)
    assert design.empty_levels == ("C(month)[T.2]",)
    assert "C(month)[T.2]" not in design.X.columns
    assert np.linalg.matrix_rank(design.X.to_numpy()) == design.X.shape[1]


def test_interactions() -> None:
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4], "a": [1.0, 2, 3, 5], "b": [2.0, 1, 0, 1]})
    design = materialize("y ~ a * b", frame, time=None, entity=None)
    assert list(design.X.columns) == ["Intercept", "a", "b", "a:b"]
    np.testing.assert_array_equal(design.X["a:b"], frame["a"] * frame["b"])


# --- the fast path --------------------------------------------------------------------


@pytest.mark.parametrize(
    "formula", ["y ~ x2 + x1", "y ~ x1 + x2 - 1", "y ~ 0 + x2", "y ~ x1 + 1", "y ~ x1 + x1"]
)
def test_plain_formulas_match_formulaic(formula: str) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(50, 3)), columns=["y", "x1", "x2"])
    frame.loc[[4, 9], "x1"] = np.nan
    frame.loc[11, "y"] = np.nan
    design = materialize(formula, frame, time=None, entity=None)
    reference = model_matrix(formula, frame, na_action="drop")
    assert list(design.X.columns) == list(reference.rhs.columns)
    np.testing.assert_array_equal(design.X.to_numpy(), reference.rhs.to_numpy())
    np.testing.assert_array_equal(design.rows, reference.rhs.index)
    assert design.dropped == {"lags": 0, "missing": len(frame) - len(reference.rhs)}


def test_non_numeric_plain_column_is_encoded_as_categorical() -> None:
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": ["a", "b", "a", "c"]})
    design = materialize("y ~ g", frame, time=None, entity=None)
    assert list(design.X.columns) == ["Intercept", "g[T.b]", "g[T.c]"]


def test_infinite_values_are_dropped_as_missing() -> None:
    frame = pd.DataFrame({"y": [1.0, 0.0, 3.0, 4.0], "x": [1.0, 2.0, 3.0, 4.0]})
    design = materialize("np.log(y) ~ x", frame, time=None, entity=None)
    assert design.dropped == {"lags": 0, "missing": 1}
    assert list(design.rows) == [0, 2, 3]


# --- samples --------------------------------------------------------------------------


def test_sample_window_keeps_lag_history_from_before_the_window() -> None:
    frame = _monthly([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    sample = SampleSpec(start="2017-03", end="2017-05")
    design = materialize("y ~ L(x, 2)", frame, time="period", entity=None, sample=sample)
    assert list(frame.loc[design.rows, "period"]) == ["2017-03", "2017-04", "2017-05"]
    np.testing.assert_array_equal(design.X["L(x, 2)"], [10.0, 20.0, 30.0])
    assert design.dropped == {"lags": 0, "missing": 0}
    assert design.outside_sample == 3


def test_sample_excluding_years_and_yearly_bounds() -> None:
    frame = _monthly([1.0] * 36, start="2017-01")
    design = materialize(
        "y ~ x", frame, time="period", entity=None, sample=SampleSpec(exclude_years=(2018,))
    )
    assert set(frame.loc[design.rows, "period"].str[:4]) == {"2017", "2019"}
    design = materialize(
        "y ~ x", frame, time="period", entity=None, sample=SampleSpec(start=2018, end=2018)
    )
    assert list(frame.loc[design.rows, "period"].str[:4].unique()) == ["2018"]
    assert len(design.rows) == 12


# --- time columns ---------------------------------------------------------------------


def test_time_column_forms() -> None:
    stata = pd.DataFrame({"t": ["2017m1", "2017m2", "2017m12"]})
    assert list(period_ordinals(stata, "t")[0] - 2017 * 12) == [0, 1, 11]
    periods = pd.DataFrame({"t": pd.period_range("2017-01", periods=3, freq="M")})
    assert period_ordinals(periods, "t")[1] == "M"
    years = pd.DataFrame({"t": [1990.0, 1991.0]})
    ordinal, freq = period_ordinals(years, "t")
    assert freq == "int" and list(ordinal) == [1990, 1991]
    with pytest.raises(BadInputError, match="t value 'soon'"):
        period_ordinals(pd.DataFrame({"t": ["2017-01", "soon"]}), "t")
    with pytest.raises(BadInputError, match="missing values"):
        period_ordinals(pd.DataFrame({"t": [1.0, np.nan]}), "t")


# --- bad input ------------------------------------------------------------------------


def test_duplicate_entity_time_rows_are_refused_when_lagging() -> None:
    frame = pd.DataFrame(
        {"firm": ["A", "A", "B"], "year": [2000, 2000, 2000], "x": [1.0, 2, 3], "y": 1.0}
    )
    with pytest.raises(BadInputError, match=r"duplicate rows for \(firm, year\) = \(A, 2000\)"):
        materialize("y ~ L(x)", frame, time="year", entity="firm", where="s.toml [model m]")


def test_lags_need_a_time_column() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]})
    with pytest.raises(BadInputError, match="no \\[data\\] time column"):
        materialize("y ~ L(x, 1)", frame, time=None, entity=None)


@pytest.mark.parametrize("formula", ["y ~ x +", "y ~ (x", "y ~ L(x, 1.5)"])
def test_formula_that_does_not_parse(formula: str) -> None:
    frame = _monthly([1.0, 2.0, 3.0])
    with pytest.raises(BadInputError) as info:
        materialize(formula, frame, time="period", entity=None, where="s.toml [model m]")
    assert "s.toml [model m]" in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_column_is_named() -> None:
    frame = _monthly([1.0, 2.0, 3.0])
    with pytest.raises(BadInputError, match="column 'GPRT'"):
        materialize("y ~ np.log(GPRT)", frame, time="period", entity=None)
    with pytest.raises(BadInputError, match="column 'zz'"):
        materialize("y ~ zz", frame, time="period", entity=None)


def test_required_variables_and_data_columns() -> None:
    formula = "np.log(exports_t) ~ np.log(L(GPR, 4)) + C(month) + trend + x:z"
    assert required_variables(formula) == {"exports_t", "GPR", "month", "trend", "x", "z"}
    needed = data_columns(formula, ["exports_t", "GPR", "x", "z", "other"], time="period")
    assert needed == {"exports_t", "GPR", "x", "z"}
    with pytest.raises(BadInputError, match="column 'z'"):
        data_columns(formula, ["exports_t", "GPR", "x"], time="period")
    with pytest.raises(BadInputError, match="'month' .* needs a \\[data\\] time"):
        data_columns(formula, ["exports_t", "GPR", "x", "z"], time=None)


def test_plain_formulas_do_not_go_through_formulaic(monkeypatch: pytest.MonkeyPatch) -> None:
    # The million-row benchmark depends on this path: numeric columns are used as they are.
    import formulaic

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("formulaic was called for a plain formula")

    monkeypatch.setattr(formulaic, "model_matrix", refuse)
    frame = pd.DataFrame(
        {"firm": [1, 1, 2, 2], "t": [1, 2, 1, 2], "y": [1.0, 2, 3, 5], "x1": [0.0, 1, 0, 2]}
    )
    design = materialize("y ~ x1", frame, time="t", entity="firm")
    assert list(design.X.columns) == ["Intercept", "x1"]
    with pytest.raises(AssertionError, match="formulaic was called"):
        materialize("y ~ L(x1)", frame, time="t", entity="firm")
