"""Diagnostics: the Chow test against a textbook and the interaction F test; the battery."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.diagnostic import acorr_breusch_godfrey, het_breuschpagan, linear_reset
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.stattools import durbin_watson
from statsmodels.tsa.stattools import adfuller

from reexport.errors import BadInputError
from reexport.models.diagnostics import chow_test, cov_warnings, diagnose, ramsey_reset, vif
from reexport.models.spec import CovSpec, ModelSpec

DATA = Path(__file__).parent / "data"


def _model(formula: str, **kwargs: object) -> ModelSpec:
    base: dict[str, object] = {
        "name": "m",
        "formula": formula,
        "estimator": "ols",
        "effects": (),
        "cov": CovSpec(type="nonrobust"),
        "entity": None,
        "time": "period",
        "where": "spec.toml [model m]",
    }
    base.update(kwargs)
    return ModelSpec(**base)  # type: ignore[arg-type]


# --- Chow -----------------------------------------------------------------------------


def test_chow_matches_the_published_textbook_example() -> None:
    # Gujarati & Porter, Basic Econometrics (5th ed.), section 8.7, Table 8.9: savings on
    # income, US 1970-1995, break in 1982: RSS 23248.30 / 1785.032 / 10005.22, F = 10.69.
    frame = pd.read_csv(DATA / "gujarati_savings.csv")
    x = sm.add_constant(frame["income"].to_numpy())
    result = chow_test(frame["savings"].to_numpy(), x, frame["year"].to_numpy() >= 1982)
    assert result["ssr_pooled"] == pytest.approx(23248.30, abs=0.005)
    assert result["ssr_before"] == pytest.approx(1785.032, abs=0.0005)
    assert result["ssr_after"] == pytest.approx(10005.22, abs=0.005)
    assert result["statistic"] == pytest.approx(10.69, abs=0.005)
    assert (result["df_num"], result["df_denom"]) == (2, 22)
    assert (result["n_before"], result["n_after"]) == (12, 14)
    assert result["pvalue"] < 0.001


def test_chow_equals_the_f_test_of_full_interactions() -> None:
    rng = np.random.default_rng(7)
    n = 80
    x = sm.add_constant(rng.normal(size=(n, 3)))
    after = np.arange(n) >= 45
    y = x @ [1.0, 0.5, -0.2, 0.3] + 0.4 * after * x[:, 1] + rng.normal(size=n)
    ours = chow_test(y, x, after)
    full = sm.OLS(y, np.hstack([x, x * after[:, None]])).fit()
    k = x.shape[1]
    restriction = np.hstack([np.zeros((k, k)), np.eye(k)])
    reference = full.f_test(restriction)
    assert ours["statistic"] == pytest.approx(float(reference.fvalue), rel=1e-10)
    assert ours["pvalue"] == pytest.approx(float(reference.pvalue), rel=1e-8)
    assert (ours["df_num"], ours["df_denom"]) == (int(reference.df_num), int(reference.df_denom))
    assert ours["df_denom"] == n - 2 * k
    # ... and the hand computation from three regressions.
    ssr = [sm.OLS(y[m], x[m]).fit().ssr for m in (np.ones(n, bool), ~after, after)]
    hand = ((ssr[0] - ssr[1] - ssr[2]) / k) / ((ssr[1] + ssr[2]) / (n - 2 * k))
    assert ours["statistic"] == pytest.approx(hand, rel=1e-10)


def test_chow_refuses_a_regime_with_too_few_observations() -> None:
    x = sm.add_constant(np.arange(10.0))
    with pytest.raises(BadInputError, match="more than 2 observations"):
        chow_test(np.arange(10.0), x, np.arange(10) >= 8)


def test_chow_refuses_a_regime_where_a_regressor_is_constant() -> None:
    rng = np.random.default_rng(4)
    dummy = (np.arange(30) < 10).astype(float)  # only set before the break
    x = np.column_stack([np.ones(30), rng.normal(size=30), dummy])
    with pytest.raises(BadInputError, match="regime after the break"):
        chow_test(rng.normal(size=30), x, np.arange(30) >= 20)


# --- VIF and warnings -----------------------------------------------------------------


def test_vif_matches_statsmodels() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=200)
    frame = pd.DataFrame(
        {"Intercept": 1.0, "a": a, "b": a + rng.normal(size=200) * 0.5, "c": rng.normal(size=200)}
    )
    ours = vif(frame)
    assert set(ours) == {"a", "b", "c"}
    for i, column in enumerate(frame.columns):
        if column != "Intercept":
            reference = variance_inflation_factor(frame.to_numpy(), i)
            assert ours[column] == pytest.approx(reference, rel=1e-9)
    frame["d"] = 2 * frame["a"]
    assert vif(frame)["d"] is None


def test_cov_warnings_for_few_periods_and_wide_bandwidth() -> None:
    dk = _model("y ~ x", cov=CovSpec(type="driscoll-kraay", lags=8))
    assert any("only 20 periods" in w for w in cov_warnings(dk, 20))
    assert any("quarter" in w for w in cov_warnings(dk, 20))
    assert cov_warnings(dk, 120) == []
    assert cov_warnings(_model("y ~ x", cov=CovSpec(type="robust")), 5) == []


# --- the battery ----------------------------------------------------------------------


def _ar_series(n: int = 96, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    periods = pd.period_range("2017-01", periods=n, freq="M").astype(str)
    x = np.cumsum(rng.normal(size=n))
    noise = np.zeros(n)
    for t in range(1, n):
        noise[t] = 0.6 * noise[t - 1] + rng.normal()
    return pd.DataFrame({"period": periods, "x": x, "z": rng.normal(size=n), "y": 1 + x + noise})


def test_battery_on_a_time_series_matches_statsmodels_and_ignores_row_order() -> None:
    frame = _ar_series()
    model = _model("y ~ x + z")
    report = diagnose(model, frame.sample(frac=1.0, random_state=3))
    assert report == diagnose(model, frame)
    json.dumps(report, allow_nan=False)  # JSON-able as written

    fit = sm.OLS(frame["y"], sm.add_constant(frame[["x", "z"]])).fit()
    by_name = {(t["test"], t.get("series")): t for t in report["tests"]}
    assert {name for name, _ in by_name} == {
        "ADF",
        "KPSS",
        "Breusch-Pagan",
        "Breusch-Godfrey",
        "Durbin-Watson",
        "Ramsey RESET",
        "Jarque-Bera",
    }
    assert {series for name, series in by_name if name == "ADF"} == {"y", "x", "z"}
    adf = adfuller(frame["y"].to_numpy(), regression="c", autolag="AIC", result_object=False)
    assert by_name[("ADF", "y")]["statistic"] == pytest.approx(adf[0])
    assert by_name[("ADF", "y")]["lags"] == adf[2]
    assert by_name[("Durbin-Watson", None)]["statistic"] == pytest.approx(durbin_watson(fit.resid))
    bg = acorr_breusch_godfrey(fit, nlags=12, result_object=False)
    assert by_name[("Breusch-Godfrey", None)]["statistic"] == pytest.approx(bg[0])
    assert by_name[("Breusch-Godfrey", None)]["lags"] == 12
    bp = het_breuschpagan(fit.resid, fit.model.exog)
    assert by_name[("Breusch-Pagan", None)]["statistic"] == pytest.approx(bp[0])
    assert set(report["vif"]) == {"x", "z"}
    assert report["chow"] is None
    # AR(1) errors with rho = 0.6 are detected.
    assert by_name[("Breusch-Godfrey", None)]["pvalue"] < 0.01
    assert by_name[("Durbin-Watson", None)]["statistic"] < 1.5


def test_battery_says_when_the_series_has_gaps() -> None:
    # The time-ordered tests cannot see a missing month; the report must say it is there.
    frame = _ar_series()
    model = _model("y ~ x + z")
    assert not any("skips" in note for note in diagnose(model, frame)["notes"])
    gapped = frame[~frame["period"].isin(["2018-04", "2018-05", "2020-01"])]
    notes = [note for note in diagnose(model, gapped)["notes"] if "skips" in note]
    assert notes == [
        "the sample skips 3 period(s) in 2 gap(s) (first 2018-04): ADF/KPSS, "
        "Breusch-Godfrey and Durbin-Watson treat the rows on either side of a gap as "
        "consecutive"
    ]


def test_battery_with_a_break_date_uses_the_time_column() -> None:
    frame = _ar_series()
    frame.loc[frame["period"] >= "2020-03", "y"] += 3 * frame["x"]
    report = diagnose(_model("y ~ x"), frame.iloc[::-1], break_date="2020-03")
    chow = report["chow"]
    x = sm.add_constant(frame["x"].to_numpy())
    expected = chow_test(frame["y"].to_numpy(), x, (frame["period"] >= "2020-03").to_numpy())
    assert chow["statistic"] == pytest.approx(expected["statistic"])
    assert chow["n_before"] == 38 and chow["break"] == "2020-03"
    assert chow["pvalue"] < 1e-6


def test_break_date_on_yearly_integers_and_bad_break_dates() -> None:
    frame = pd.read_csv(DATA / "gujarati_savings.csv")
    model = _model("savings ~ income", time="year")
    report = diagnose(model, frame, break_date="1982")
    assert report["chow"]["statistic"] == pytest.approx(10.69, abs=0.005)
    with pytest.raises(BadInputError, match="holds integers"):
        diagnose(model, frame, break_date="1982-01")
    with pytest.raises(BadInputError, match=r"\[model m\].*observations on each side"):
        diagnose(model, frame, break_date="1994")


def test_panel_models_skip_single_series_tests_with_a_note() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "firm": np.repeat(["a", "b", "c"], 30),
            "year": np.tile(np.arange(1990, 2020), 3),
            "x": rng.normal(size=90),
        }
    )
    frame["y"] = frame["x"] + rng.normal(size=90)
    model = _model("y ~ x", entity="firm", time="year", estimator="panel", effects=("entity",))
    report = diagnose(model, frame)
    names = {t["test"] for t in report["tests"]}
    assert names == {"Breusch-Pagan", "Ramsey RESET", "Jarque-Bera"}
    assert any("skipped" in note for note in report["notes"])
    assert any("fixed effects" in note for note in report["notes"])


# --- Ramsey RESET ------------------------------------------------------------------------


def _reset_of(report: dict[str, object]) -> dict[str, object]:
    tests = report["tests"]
    assert isinstance(tests, list)
    return next(t for t in tests if t["test"] == "Ramsey RESET")


def test_reset_on_standardised_fitted_values_equals_the_raw_power_version() -> None:
    # Well conditioned (fitted values of order 1): the powers of the standardised and of
    # the raw fitted values span the same space with the constant, so F is the same.
    frame = _ar_series()
    fit = sm.OLS(frame["y"], sm.add_constant(frame[["x", "z"]])).fit()
    raw = linear_reset(fit, power=3, test_type="fitted", use_f=True)
    ours = _reset_of(diagnose(_model("y ~ x + z"), frame))
    assert ours["statistic"] == pytest.approx(float(np.squeeze(raw.fvalue)), rel=1e-8)
    assert ours["pvalue"] == pytest.approx(float(np.squeeze(raw.pvalue)), rel=1e-6)
    assert (ours["df_num"], ours["df_denom"]) == (2, int(raw.df_denom))


def _large_mean_frame() -> pd.DataFrame:
    # Exports of about 1200 t that a lead of x moves a little: the fitted values vary
    # by a few tonnes around 1200, so their raw squares and cubes are nearly collinear
    # with the constant.
    rng = np.random.default_rng(5)
    n = 96
    x = rng.normal(size=n)
    y = 1200 + 0.5 * np.roll(x, -1) + 20 * rng.normal(size=n)
    periods = pd.period_range("2017-01", periods=n, freq="M").astype(str)
    return pd.DataFrame({"period": periods, "x": x, "y": y})


def test_reset_is_not_spurious_when_fitted_values_vary_little_around_a_large_mean(
    capfd: pytest.CaptureFixture[str],
) -> None:
    frame = _large_mean_frame()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = diagnose(_model("y ~ L(x, -1)"), frame)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err == ""
    ours = _reset_of(report)
    # Reference: the same regression with y shifted by its mean level.  Shifting y by a
    # constant shifts the fitted values and leaves RESET unchanged in exact arithmetic,
    # and the shifted problem is well conditioned for statsmodels' raw powers.
    kept = frame.iloc[:-1]  # the lead drops the last month
    x = sm.add_constant(frame["x"].shift(-1).iloc[:-1].to_numpy())
    shifted = sm.OLS(kept["y"].to_numpy() - 1200.0, x).fit()
    reference = linear_reset(shifted, power=3, test_type="fitted", use_f=True)
    assert ours["statistic"] == pytest.approx(float(np.squeeze(reference.fvalue)), rel=1e-6)
    assert (ours["df_num"], ours["df_denom"]) == (2, int(reference.df_denom))
    # The raw-power version on the unshifted data is what went wrong.
    with warnings.catch_warnings(record=True) as raw_caught:
        warnings.simplefilter("always")
        raw = linear_reset(
            sm.OLS(kept["y"].to_numpy(), x).fit(), power=3, test_type="fitted", use_f=True
        )
    assert raw_caught or int(raw.df_num) != 2


def test_reset_refuses_fitted_values_that_cannot_carry_powers() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    with pytest.raises(ValueError, match="constant"):
        ramsey_reset(y, np.ones((40, 1)))
    dummy = np.repeat([0.0, 1.0], 20)  # two fitted values: z**2 is the constant
    with pytest.raises(ValueError, match="collinear"):
        ramsey_reset(y, np.column_stack([np.ones(40), dummy]))
