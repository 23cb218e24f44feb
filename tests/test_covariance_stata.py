"""Stata parity of every covariance convention, on the public data Stata was run on.

Reference numbers: ``tests/results/results_stata_*.py`` (copied from statsmodels'
Stata reference files, with the Stata command next to each).  Tolerance: 1e-6
relative on standard errors, covariance matrices, t statistics, p-values and
confidence limits; 1e-7 on coefficients (see PARAMS_RTOL); degrees of freedom exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from results import results_stata_grunfeld as grunfeld_ref
from results import results_stata_macro as macro_ref
from results.stata import StataReference

from reexport.errors import BadInputError
from reexport.models.api import fit_model as fit
from reexport.models.estimate import fit_ols
from reexport.models.results import ModelResult
from reexport.models.spec import CovSpec, ModelSpec

RTOL = 1e-6
#: Stata stored the Grunfeld data in single precision; the statsmodels copy is the
#: double original, so coefficients agree to ~1e-8 relative, not to machine precision.
PARAMS_RTOL = 1e-7
#: Tail p-values (down to 1e-19) magnify that 1e-8 data difference by about t^2,
#: so Grunfeld p-values are compared to 1e-5 relative (exact-data macro cases: 1e-6).
GRUNFELD_P_RTOL = 1e-5


@pytest.fixture(scope="module")
def grunfeld() -> pd.DataFrame:
    from statsmodels.datasets import grunfeld as dataset

    data = dataset.load_pandas().data.iloc[:200]  # Stata's copy has the first 10 firms
    return pd.DataFrame(
        {
            "invest": data["invest"].to_numpy(float),
            "mvalue": data["value"].to_numpy(float),
            "kstock": data["capital"].to_numpy(float),
            "company": data["firm"].astype(str).to_numpy(),
            "time": data["year"].astype(int).to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def macro() -> pd.DataFrame:
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    return pd.DataFrame(
        {
            "qu": np.arange(len(data)),
            "g_realinv": 400 * np.log(data["realinv"]).diff().to_numpy(),
            "g_realgdp": 400 * np.log(data["realgdp"]).diff().to_numpy(),
            "realint": data["realint"].to_numpy(),
        }
    )


def _grunfeld_fit(frame: pd.DataFrame, cov: Any) -> ModelResult:
    X = pd.DataFrame(
        {"mvalue": frame["mvalue"], "kstock": frame["kstock"], "Intercept": 1.0}, index=frame.index
    )
    return fit_ols(
        frame["invest"],
        X,
        cov=cov,
        clusters={"company": frame["company"], "time": frame["time"]},
        time=frame["time"],
        entity=frame["company"],
    )


def _macro_fit(frame: pd.DataFrame, cov: Any) -> ModelResult:
    frame = frame.assign(L_realint=frame["realint"].shift(1)).dropna()
    X = pd.DataFrame(
        {"g_realgdp": frame["g_realgdp"], "L.realint": frame["L_realint"], "Intercept": 1.0}
    )
    return fit_ols(frame["g_realinv"], X, cov=cov, time=frame["qu"])


def assert_matches(result: ModelResult, ref: StataReference, *, p_rtol: float = RTOL) -> None:
    """Every reported number of ``result`` equals Stata's to RTOL (p-values to ``p_rtol``)."""
    np.testing.assert_allclose(result.params.to_numpy(), ref.params, rtol=PARAMS_RTOL)
    np.testing.assert_allclose(result.std_errors.to_numpy(), ref.std_errors, rtol=RTOL)
    np.testing.assert_allclose(result.cov_params.to_numpy(), ref.cov_matrix, rtol=RTOL)
    np.testing.assert_allclose(result.tstats.to_numpy(), ref.tstats, rtol=RTOL)
    np.testing.assert_allclose(result.pvalues.to_numpy(), ref.pvalues, rtol=p_rtol)
    np.testing.assert_allclose(result.conf_int["lower"].to_numpy(), ref.ci_lower, rtol=RTOL)
    np.testing.assert_allclose(result.conf_int["upper"].to_numpy(), ref.ci_upper, rtol=RTOL)
    assert result.cov.df == ref.df


GRUNFELD_CASES = [
    (grunfeld_ref.REGRESS_CLUSTER, {"type": "cluster", "by": ["company"]}, "regress, vce(cluster company)"),
    (grunfeld_ref.IVREG2_CLUSTER, {"type": "cluster", "by": ["company"], "small_sample": False}, "ivreg2, cluster(company)"),
    (grunfeld_ref.XTSCC_LAG4, {"type": "driscoll-kraay", "lags": 4}, "xtscc, lag(4)"),
    (grunfeld_ref.IVREG2_DKRAAY5, {"type": "driscoll-kraay", "lags": 4, "small_sample": False}, "ivreg2, dkraay(5)"),
    (grunfeld_ref.NEWEY_PANEL_LAG4, {"type": "hac", "lags": 4}, "newey, lag(4)"),
    (grunfeld_ref.IVREG2_CLUSTER2_SMALL, {"type": "cluster", "by": ["company", "time"]}, "ivreg2, cluster(company time) small"),
    (grunfeld_ref.IVREG2_CLUSTER2, {"type": "cluster", "by": ["company", "time"], "small_sample": False}, "ivreg2, cluster(company time)"),
]  # fmt: skip

MACRO_CASES = [
    (macro_ref.REGRESS_ROBUST, {"type": "robust"}, "regress, vce(robust)"),
    (macro_ref.IVREG2_ROBUST_SMALL, {"type": "robust"}, "regress, vce(robust)"),
    (macro_ref.IVREG2_ROBUST, {"type": "robust", "small_sample": False}, "ivreg2, robust"),
    (macro_ref.NEWEY_LAG4, {"type": "hac", "lags": 4}, "newey, lag(4)"),
    # newey lag(L) == ivreg2 bw(L+1) small: same numbers, the bandwidth is one more than the lag.
    (macro_ref.IVREG2_BW5_SMALL, {"type": "hac", "lags": 4}, "newey, lag(4)"),
    (
        macro_ref.IVREG2_BW5,
        {"type": "hac", "lags": 4, "small_sample": False},
        "ivreg2, robust bw(5)",
    ),
]


@pytest.mark.parametrize(("ref", "cov", "convention"), GRUNFELD_CASES, ids=lambda v: str(v)[:40])
def test_grunfeld_conventions(
    grunfeld: pd.DataFrame, ref: StataReference, cov: dict[str, Any], convention: str
) -> None:
    result = _grunfeld_fit(grunfeld, cov)
    assert_matches(result, ref, p_rtol=GRUNFELD_P_RTOL)
    assert result.cov.convention == f"Stata: {convention}"


@pytest.mark.parametrize(("ref", "cov", "convention"), MACRO_CASES, ids=lambda v: str(v)[:40])
def test_macro_conventions(
    macro: pd.DataFrame, ref: StataReference, cov: dict[str, Any], convention: str
) -> None:
    result = _macro_fit(macro, cov)
    assert result.nobs == 202
    assert_matches(result, ref)
    assert result.cov.convention == f"Stata: {convention}"


def test_nonrobust_matches_stata_rmse_and_r2(grunfeld: pd.DataFrame) -> None:
    # regress reports rmse = sqrt(RSS/(N-K)); ivreg2 without small sqrt(RSS/N).
    small = _grunfeld_fit(grunfeld, "nonrobust")
    large = _grunfeld_fit(grunfeld, {"type": "nonrobust", "small_sample": False})
    X = np.column_stack([grunfeld["mvalue"], grunfeld["kstock"], np.ones(200)])
    xtx_inv_diag = np.diag(np.linalg.inv(X.T @ X))
    np.testing.assert_allclose(
        small.std_errors.to_numpy(), 94.40840193979599 * np.sqrt(xtx_inv_diag), rtol=PARAMS_RTOL
    )
    np.testing.assert_allclose(
        large.std_errors.to_numpy(), 93.69766358599176 * np.sqrt(xtx_inv_diag), rtol=PARAMS_RTOL
    )
    assert small.r2 == pytest.approx(0.8124080178314147, rel=PARAMS_RTOL)
    assert small.cov.df == 197 and large.cov.df is None
    assert small.cov.convention == "Stata: regress"


def test_lag_vs_bandwidth_convention_strings() -> None:
    from reexport.models.covariance import COV_ESTIMATORS, bartlett_weights, coerce_cov

    hac = COV_ESTIMATORS["hac"](coerce_cov({"type": "hac", "lags": 4, "small_sample": False}))
    assert hac.convention() == "Stata: ivreg2, robust bw(5)"
    dk = COV_ESTIMATORS["driscoll-kraay"](coerce_cov({"type": "driscoll-kraay", "lags": 3}))
    assert dk.convention() == "Stata: xtscc, lag(3)"
    np.testing.assert_allclose(bartlett_weights(4), [1, 0.8, 0.6, 0.4, 0.2])


def test_fit_spec_end_to_end_macro(macro: pd.DataFrame) -> None:
    """Through spec dataclasses and the formula engine (time-aware lag L(realint, 1))."""
    model = ModelSpec(
        name="newey4",
        formula="g_realinv ~ g_realgdp + L(realint, 1)",
        estimator="ols",
        effects=(),
        cov=CovSpec(type="hac", lags=4),
        entity=None,
        time="qu",
        where="test.toml [model newey4]",
    )
    result = fit(model, macro)
    ref = macro_ref.NEWEY_LAG4
    order = ["g_realgdp", "L(realint, 1)", "Intercept"]
    assert set(result.terms) == set(order)
    np.testing.assert_allclose(result.params[order].to_numpy(), ref.params, rtol=PARAMS_RTOL)
    np.testing.assert_allclose(result.std_errors[order].to_numpy(), ref.std_errors, rtol=RTOL)
    np.testing.assert_allclose(result.pvalues[order].to_numpy(), ref.pvalues, rtol=RTOL)
    assert result.dropped_rows["lags"] + result.dropped_rows["missing"] == 1
    assert result.cov.convention == "Stata: newey, lag(4)"


def test_fit_spec_end_to_end_grunfeld_cluster_and_with_cov(grunfeld: pd.DataFrame) -> None:
    model = ModelSpec(
        name="cl",
        formula="invest ~ mvalue + kstock",
        estimator="ols",
        effects=(),
        cov=CovSpec(type="cluster", by=("company",)),
        entity="company",
        time="time",
    )
    result = fit(model, grunfeld)
    order = ["mvalue", "kstock", "Intercept"]
    np.testing.assert_allclose(
        result.std_errors[order].to_numpy(), grunfeld_ref.REGRESS_CLUSTER.std_errors, rtol=RTOL
    )
    # Same estimates, other conventions, new objects; the original is untouched.
    two_way = result.with_cov(CovSpec(type="cluster", by=("company", "time")))
    dk = result.with_cov(CovSpec(type="driscoll-kraay", lags=4))
    np.testing.assert_allclose(
        two_way.std_errors[order].to_numpy(),
        grunfeld_ref.IVREG2_CLUSTER2_SMALL.std_errors,
        rtol=RTOL,
    )
    np.testing.assert_allclose(
        dk.std_errors[order].to_numpy(), grunfeld_ref.XTSCC_LAG4.std_errors, rtol=RTOL
    )
    np.testing.assert_allclose(
        result.std_errors[order].to_numpy(), grunfeld_ref.REGRESS_CLUSTER.std_errors, rtol=RTOL
    )
    assert result.cov.type == "cluster" and dk.cov.type == "driscoll-kraay"


@pytest.mark.parametrize(
    ("cov", "message"),
    [
        ({"type": "hac"}, "needs 'lags'"),
        ({"type": "hac", "lags": -1}, "non-negative integer"),
        ({"type": "robust", "lags": 4}, "'lags' is not used by type 'robust'"),
        ({"type": "hac", "lags": 2, "by": ["company"]}, "'by' is not used by type 'hac'"),
        ({"type": "cluster"}, "needs 'by' with one or two columns"),
        ({"type": "cluster", "by": ["a", "b", "c"]}, "one or two columns"),
        ({"type": "sandwich"}, "unknown covariance type 'sandwich'"),
        ({"type": "hac", "lags": 4, "bandwidth": 5}, "unknown covariance option 'bandwidth'"),
        ({"type": "hac", "lags": 4, "kernel": "tukey"}, "unknown kernel 'tukey'"),
        ({"type": "robust", "small_sample": "yes"}, "must be true or false"),
    ],
)
def test_bad_cov_options_are_rejected(grunfeld: pd.DataFrame, cov: Any, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        _grunfeld_fit(grunfeld, cov)


def test_driscoll_kraay_needs_a_panel(macro: pd.DataFrame) -> None:
    with pytest.raises(BadInputError, match="at least 2 entities"):
        _macro_fit(macro, {"type": "driscoll-kraay", "lags": 4})


def test_hac_warns_on_few_periods(macro: pd.DataFrame) -> None:
    short = macro.iloc[:19]
    result = _macro_fit(short, {"type": "hac", "lags": 4})
    assert any("only 18 periods" in w for w in result.warnings)
    assert not _macro_fit(macro, {"type": "hac", "lags": 4}).warnings


def test_hac_respects_time_gaps(macro: pd.DataFrame) -> None:
    """Lags follow the time variable: shuffling rows changes nothing; a gap breaks pairs."""
    base = _macro_fit(macro, {"type": "hac", "lags": 4})
    shuffled = macro.sample(frac=1.0, random_state=3)
    frame = macro.assign(L_realint=macro["realint"].shift(1)).dropna()
    X = pd.DataFrame(
        {"g_realgdp": frame["g_realgdp"], "L.realint": frame["L_realint"], "Intercept": 1.0}
    )
    order = shuffled.index.intersection(frame.index, sort=False)
    again = fit_ols(
        frame.loc[order, "g_realinv"], X.loc[order], cov={"type": "hac", "lags": 4},
        time=frame.loc[order, "qu"],
    )  # fmt: skip
    np.testing.assert_allclose(again.std_errors.to_numpy(), base.std_errors.to_numpy(), rtol=1e-12)
    gapped = fit_ols(
        frame["g_realinv"], X, cov={"type": "hac", "lags": 4}, time=frame["qu"] * 10
    )  # periods 10 apart: no pair is within 4 lags, so HAC collapses to HC with N/(N-K)
    robust = fit_ols(frame["g_realinv"], X, cov="robust")
    np.testing.assert_allclose(gapped.std_errors.to_numpy(), robust.std_errors.to_numpy())
