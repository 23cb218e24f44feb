"""Observation weights: Stata's ``[aweight=w]`` and ``[fweight=w]`` on OLS, fixed effects and PPML.

Analytic weights are checked against published Stata output (``regress`` and
``xtreg, fe`` with ``[aweight=w]``, transcribed in ``tests/results/results_stata_weights.py``)
to 1e-6 relative.  Frequency weights are checked by their defining identity: a row of
weight ``f`` is ``f`` identical rows, so every number must equal the unweighted fit on
the expanded data.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from results import results_stata_glm_weights as glm_ref
from results import results_stata_grunfeld_weights as grunfeld_aw
from results import results_stata_weights as ref_mod
from results.results_stata_glm_weights import WeightedReference
from results.results_stata_weights import PanelReference

from reexport.errors import BadInputError
from reexport.models.covariance import CovData, coerce_cov, compute_cov
from reexport.models.estimate import fit_fe, fit_ols, fit_ppml
from reexport.models.results import ModelResult

RTOL = 1e-6
#: Stata printed p-values with 7 significant digits (and t with 11): p-values of
#: t around 20 (p ~ 1e-80) move 1e-6 relative for a 1e-8 change of t.
P_RTOL = 1e-5
SLOPES = ["x1", "x2", "x3", "x4", "x5"]


def _panel_path() -> Path:
    import linearmodels

    path = Path(linearmodels.__file__).parent / "tests/panel/results/simulated-panel.dta"
    if not path.is_file():
        pytest.skip("linearmodels' simulated-panel.dta is not installed")
    return path


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return pd.read_stata(_panel_path())


def _sample(panel: pd.DataFrame, ref: PanelReference) -> pd.DataFrame:
    """The rows Stata used: complete cases of the model's variables (listwise deletion)."""
    ending = ref.terms[0].removeprefix("x1")
    columns = {f"y{ending}": "y", **{f"{x}{ending}": x for x in SLOPES}}
    frame = panel[[*columns, "w", "firm"]].rename(columns=columns).dropna()
    # The stored dta's firm_id is a row number (its generator codes a RangeIndex); the
    # panel Stata's firm_id stood for is the firm, as linearmodels' own test clusters by
    # entity, and e(N_g) = 1000 confirms.
    return frame.assign(firm_id=pd.factorize(frame["firm"])[0]).reset_index(drop=True)


def fit_reference(panel: pd.DataFrame, ref: PanelReference) -> ModelResult:
    """Fit the model Stata ran for ``ref`` (``regress`` or ``xtreg, fe``, with its vce)."""
    frame = _sample(panel, ref)
    weighted = "[aweight=w]" in ref.cmdline
    vce = ref.section.split("-")[1]
    fixed_effects = ref.cmdline.startswith("xtreg")
    # xtreg, fe vce(robust) is Stata's vce(cluster panelvar).
    cov: Any = {
        "conventional": "nonrobust",
        "robust": {"type": "cluster", "by": ["firm_id"]} if fixed_effects else "robust",
        "cluster": {"type": "cluster", "by": ["firm_id"]},
    }[vce]
    common: dict[str, Any] = {
        "cov": cov,
        "clusters": {"firm_id": frame["firm_id"].to_numpy()},
        "weights": frame["w"] if weighted else None,
    }
    if fixed_effects:
        return fit_fe(
            frame["y"],
            frame[SLOPES],
            effects={"firm_id": frame["firm_id"].to_numpy()},
            drop_singletons=False,  # xtreg, fe keeps singleton firms
            **common,
        )
    return fit_ols(frame["y"], frame[SLOPES].assign(Intercept=1.0), **common)


def assert_matches_stata(result: ModelResult, ref: PanelReference) -> None:
    """Coefficients, standard errors, e(V), t, p, N and the t df equal Stata's."""
    k = len(result.terms)  # xtreg, fe: the slopes; regress: the slopes and _cons
    np.testing.assert_allclose(result.params.to_numpy(), ref.params[:k], rtol=RTOL)
    np.testing.assert_allclose(result.cov_params.to_numpy(), ref.cov_matrix[:k, :k], rtol=RTOL)
    np.testing.assert_allclose(
        result.std_errors.to_numpy(), np.sqrt(np.diag(ref.cov_matrix))[:k], rtol=RTOL
    )
    np.testing.assert_allclose(result.tstats.to_numpy(), ref.tstats[:k], rtol=RTOL)
    np.testing.assert_allclose(result.pvalues.to_numpy(), ref.pvalues[:k], rtol=P_RTOL)
    assert result.nobs == ref.nobs
    assert result.cov.df == ref.df_r


WEIGHTED = [r for r in ref_mod.REFERENCES.values() if "[aweight=w]" in r.cmdline]


@pytest.mark.parametrize("ref", WEIGHTED, ids=lambda r: r.section)
def test_aweights_reproduce_stata(panel: pd.DataFrame, ref: PanelReference) -> None:
    result = fit_reference(panel, ref)
    assert_matches_stata(result, ref)
    # e(rss) is the weighted sum of squares with the weights normalised to sum to N.
    frame = _sample(panel, ref)
    w = frame["w"].to_numpy() * len(frame) / frame["w"].sum()
    resid = result.resid
    assert resid is not None
    assert float(w @ resid.to_numpy() ** 2) == pytest.approx(ref.rss, rel=RTOL)
    assert "[aweight=w]" in result.cov.convention


def test_aweight_conventions_are_named(panel: pd.DataFrame) -> None:
    robust = fit_reference(panel, ref_mod.POOLED_ROBUST_AW_FULL)
    assert robust.cov.convention == "Stata: regress [aweight=w], vce(robust)"
    plain = fit_reference(panel, ref_mod.POOLED_CONVENTIONAL_AW_FULL)
    assert plain.cov.convention == "Stata: regress [aweight=w]"
    within = fit_reference(panel, ref_mod.XTREG_FE_CLUSTER_AW_HEAVY)
    assert (
        within.cov.convention == "Stata: reghdfe [aweight=w], absorb(firm_id) vce(cluster firm_id)"
    )


def test_aweights_are_scale_free_and_zero_weights_leave_the_sample(panel: pd.DataFrame) -> None:
    frame = _sample(panel, ref_mod.POOLED_ROBUST_AW_FULL)
    X = frame[SLOPES].assign(Intercept=1.0)
    base = fit_ols(frame["y"], X, cov="robust", weights=frame["w"])
    scaled = fit_ols(frame["y"], X, cov="robust", weights=frame["w"] * 37.5)
    np.testing.assert_allclose(scaled.params, base.params, rtol=1e-12)
    np.testing.assert_allclose(scaled.std_errors, base.std_errors, rtol=1e-12)
    # Stata leaves rows of weight zero out of the sample (and out of N).
    w = frame["w"].to_numpy().copy()
    w[:100] = 0.0
    zeroed = fit_ols(frame["y"], X, cov="robust", weights=w)
    rest = frame.iloc[100:]
    direct = fit_ols(rest["y"], rest[SLOPES].assign(Intercept=1.0), cov="robust", weights=rest["w"])
    np.testing.assert_allclose(zeroed.std_errors, direct.std_errors, rtol=1e-12)
    assert zeroed.nobs == direct.nobs == len(frame) - 100
    assert zeroed.dropped_rows == {"zero_weight": 100}


# -- frequency weights: equal to the expanded data --------------------------------------------
def _fweight_panel(seed: int = 7) -> pd.DataFrame:
    """A small unbalanced panel with integer weights 1..3 and some single-row firms."""
    rng = np.random.default_rng(seed)
    rows = []
    for firm in range(40):
        periods = 1 if firm % 9 == 0 else int(rng.integers(2, 6))
        for t in rng.choice(12, size=periods, replace=False):
            rows.append((firm, int(t)))
    frame = pd.DataFrame(rows, columns=["firm", "period"])
    n = len(frame)
    frame["x1"] = rng.normal(size=n)
    frame["x2"] = rng.normal(size=n) + 0.1 * frame["period"]
    frame["y"] = 1.0 + 0.5 * frame["x1"] - 0.3 * frame["x2"] + rng.normal(size=n)
    frame["count"] = np.exp(0.3 + 0.4 * frame["x1"] - 0.2 * frame["x2"]) * rng.gamma(2.0, 0.5, n)
    frame["fw"] = rng.integers(1, 4, size=n)
    # Two single-row firms with weight 2 are not singletons (two observations each).
    single = frame.index[frame["firm"] % 9 == 0]
    frame.loc[single[:2], "fw"] = 2
    frame.loc[single[2:], "fw"] = 1
    return frame


def _expanded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[frame.index.repeat(frame["fw"])].reset_index(drop=True)


def _assert_same_fit(weighted: ModelResult, expanded: ModelResult) -> None:
    np.testing.assert_allclose(weighted.params, expanded.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.cov_params, expanded.cov_params, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(weighted.pvalues, expanded.pvalues, rtol=1e-7, atol=1e-14)
    assert weighted.nobs == expanded.nobs
    assert weighted.df_resid == expanded.df_resid
    assert weighted.cov.df == expanded.cov.df
    if weighted.r2 is not None:
        assert weighted.r2 == pytest.approx(expanded.r2, rel=1e-9)


FWEIGHT_COVS = [
    "nonrobust",
    "robust",
    {"type": "cluster", "by": ["firm"]},
    {"type": "cluster", "by": ["firm", "period"]},
    {"type": "cluster", "by": ["firm", "period"], "cluster_df": "conventional"},
]


@pytest.mark.parametrize("cov", FWEIGHT_COVS, ids=str)
def test_fweights_equal_the_expanded_data_ols(cov: Any) -> None:
    frame = _fweight_panel()
    big = _expanded(frame)

    def run(data: pd.DataFrame, weights: Any) -> ModelResult:
        return fit_ols(
            data["y"],
            data[["x1", "x2"]].assign(Intercept=1.0),
            cov=cov,
            clusters={"firm": data["firm"], "period": data["period"]},
            weights=weights,
            weights_type="fweight",
        )

    weighted = run(frame, frame["fw"])
    _assert_same_fit(weighted, run(big, None))
    assert weighted.nobs == int(frame["fw"].sum())
    assert "[fweight=fw]" in weighted.cov.convention


@pytest.mark.parametrize("cov", FWEIGHT_COVS, ids=str)
def test_fweights_equal_the_expanded_data_fixed_effects(cov: Any) -> None:
    frame = _fweight_panel()
    big = _expanded(frame)

    def run(data: pd.DataFrame, weights: Any) -> ModelResult:
        return fit_fe(
            data["y"],
            data[["x1", "x2"]],
            effects={"firm": data["firm"].to_numpy(), "period": data["period"].to_numpy()},
            cov=cov,
            clusters={"firm": data["firm"], "period": data["period"]},
            weights=weights,
            weights_type="fweight",
        )

    weighted = run(frame, frame["fw"])
    expanded = run(big, None)
    _assert_same_fit(weighted, expanded)
    # The lone rows of weight 1 are singletons; those of weight 2 are not (reghdfe's rule).
    assert weighted.dropped_rows["singletons"] > 0
    assert weighted.dropped_rows["singletons"] == expanded.dropped_rows["singletons"]


@pytest.mark.parametrize(
    "cov", ["nonrobust", "robust", {"type": "cluster", "by": ["firm"]}], ids=str
)
def test_fweights_equal_the_expanded_data_ppml(cov: Any) -> None:
    frame = _fweight_panel()
    big = _expanded(frame)

    def run(data: pd.DataFrame, weights: Any) -> ModelResult:
        return fit_ppml(
            data["count"],
            data[["x1", "x2"]],
            effects={"firm": data["firm"].to_numpy()},
            cov=cov,
            clusters={"firm": data["firm"]},
            weights=weights,
            weights_type="fweight",
        )

    weighted, expanded = run(frame, frame["fw"]), run(big, None)
    _assert_same_fit(weighted, expanded)
    # Lone rows of weight 1 are singletons, those of weight 2 are not (ppmlhdfe's rule).
    assert weighted.dropped_rows["singletons"] == expanded.dropped_rows["singletons"] > 0


def test_ppml_aweights_are_ppmlhdfe_pweights() -> None:
    frame = _fweight_panel()
    effects = {"firm": frame["firm"].to_numpy()}
    X = frame[["x1", "x2"]]
    result = fit_ppml(
        frame["count"], X, effects=effects, cov="robust", weights=frame["fw"] * 0.5,
        drop_singletons=False,
    )  # fmt: skip
    assert result.cov.convention == "Stata: ppmlhdfe [pweight=fw], absorb(firm) vce(robust)"
    # Analytic weights only rescale: the point estimates are those of the fweight fit.
    as_counts = fit_ppml(
        frame["count"], X, effects=effects, cov="robust", weights=frame["fw"],
        weights_type="fweight", drop_singletons=False,
    )  # fmt: skip
    np.testing.assert_allclose(result.params, as_counts.params, rtol=1e-9)
    with pytest.raises(BadInputError, match="ppmlhdfe takes such weights as \\[pweight=w\\]"):
        fit_ppml(frame["count"], X, effects=effects, weights=frame["fw"])


# -- refusals ---------------------------------------------------------------------------------
def _small() -> tuple[pd.Series, pd.DataFrame]:
    frame = _fweight_panel()
    return frame["y"], frame[["x1", "x2"]].assign(Intercept=1.0)


@pytest.mark.parametrize(
    ("mutate", "weights_type", "message"),
    [
        (
            lambda w: w.where(w.index != 3, -1.0),
            "aweight",
            "'weights' column 'w' has negative values in 1 rows",
        ),
        (lambda w: w * 0.0, "aweight", "'weights' column 'w' sums to zero"),
        (
            lambda w: w.where(w.index != 5),
            "aweight",
            "'weights' column 'w' has missing or infinite",
        ),
        (lambda w: w.where(w.index != 5, np.inf), "fweight", "missing or infinite"),
        (
            lambda w: w + 0.5,
            "fweight",
            "'weights' column 'w' has non-integer values \\(e.g. 1.5\\)",
        ),
        (lambda w: w, "pweight", "unknown weights_type 'pweight'"),
        (lambda w: w.iloc[:-1], "aweight", "has 1 fewer|values for"),
    ],
)
def test_bad_weights_are_one_line_errors(mutate: Any, weights_type: str, message: str) -> None:
    y, X = _small()
    weights = mutate(pd.Series(np.ones(len(y)), name="w"))
    with pytest.raises(BadInputError, match=message) as info:
        fit_ols(y, X, weights=weights, weights_type=weights_type, where="spec.toml [model m]")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("spec.toml [model m]: ")


@pytest.mark.parametrize("cov_type", ["hac", "driscoll-kraay"])
def test_fweights_with_a_kernel_covariance_are_refused(cov_type: str) -> None:
    frame = _fweight_panel()
    with pytest.raises(
        BadInputError, match=f"'fweight' cannot be used with covariance type '{cov_type}'"
    ):
        fit_ols(
            frame["y"], frame[["x1"]].assign(Intercept=1.0), cov={"type": cov_type, "lags": 1},
            time=frame["period"], entity=frame["firm"], weights=frame["fw"], weights_type="fweight",
        )  # fmt: skip


def test_aweights_with_kernel_covariances_weight_the_scores() -> None:
    # newey / xtscc [aweight]: with lag 0 the HAC covariance is regress [aweight], vce(robust).
    frame = _fweight_panel()
    X = frame[["x1", "x2"]].assign(Intercept=1.0)
    common: dict[str, Any] = {
        "time": frame["period"],
        "entity": frame["firm"],
        "weights": frame["fw"],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hac0 = fit_ols(frame["y"], X, cov={"type": "hac", "lags": 0}, **common)
    robust = fit_ols(frame["y"], X, cov="robust", **common)
    np.testing.assert_allclose(hac0.cov_params, robust.cov_params, rtol=1e-12)
    assert hac0.cov.convention == "Stata: newey [aweight=fw], lag(0)"
    dk = fit_ols(frame["y"], X, cov={"type": "driscoll-kraay", "lags": 2}, **common)
    assert dk.cov.convention == "Stata: xtscc [aweight=fw], lag(2)"


def test_cov_result_carries_the_weights_entry() -> None:
    data = CovData(
        scores=np.ones((4, 1)), bread=np.eye(1), rss=1.0, nobs=4, n_slopes=1,
        weights=np.ones(4), weights_type="aweight", weights_name="pop",
    )  # fmt: skip
    result = compute_cov(coerce_cov("robust"), data)
    assert result.weights == {"column": "pop", "type": "aweight"}
    assert (
        compute_cov(coerce_cov("robust"), CovData(np.ones((4, 1)), np.eye(1), 1.0, 4, 1)).weights
        is None
    )


def test_results_json_keeps_the_weights(panel: pd.DataFrame) -> None:
    from reexport.models.results import ModelResult as Result

    result = fit_reference(panel, ref_mod.POOLED_ROBUST_AW_FULL)
    record = result.to_dict()
    assert record["cov"]["weights"] == {"column": "w", "type": "aweight"}
    assert record["cov"]["convention"] == "Stata: regress [aweight=w], vce(robust)"
    assert Result.from_dict(record).cov.weights == {"column": "w", "type": "aweight"}
    unweighted = fit_ols(pd.Series([1.0, 2.0, 4.0]), pd.DataFrame({"Intercept": [1.0] * 3}))
    assert "weights" not in unweighted.to_dict()["cov"]


def test_zero_weights_leave_fixed_effect_and_ppml_samples() -> None:
    frame = _fweight_panel()
    w = frame["fw"].astype(float).to_numpy().copy()
    w[::7] = 0.0
    rest = frame[w > 0]
    for fit, outcome in ((fit_fe, "y"), (fit_ppml, "count")):
        zeroed = fit(
            frame[outcome], frame[["x1", "x2"]], effects={"firm": frame["firm"].to_numpy()},
            cov={"type": "cluster", "by": ["firm"]}, clusters={"firm": frame["firm"]}, weights=w,
        )  # fmt: skip
        direct = fit(
            rest[outcome], rest[["x1", "x2"]], effects={"firm": rest["firm"].to_numpy()},
            cov={"type": "cluster", "by": ["firm"]}, clusters={"firm": rest["firm"]},
            weights=w[w > 0],
        )  # fmt: skip
        np.testing.assert_allclose(zeroed.params, direct.params, rtol=1e-10)
        np.testing.assert_allclose(zeroed.std_errors, direct.std_errors, rtol=1e-10)
        assert zeroed.nobs == direct.nobs
        assert zeroed.dropped_rows["zero_weight"] == int((w == 0).sum())


def test_weighted_ppml_cross_checks_with_pyfixest_fepois() -> None:
    # No published ppmlhdfe output with weights is at hand; pyfixest's fepois (a
    # cross-check, not a reference) implements the same weighted likelihood.
    pf = pytest.importorskip("pyfixest")
    frame = _fweight_panel()
    frame["aw"] = 0.7 * frame["fw"] + 0.3
    ours = fit_ppml(
        frame["count"], frame[["x1", "x2"]], effects={"firm": frame["firm"].to_numpy()},
        cov={"type": "cluster", "by": ["firm"]}, clusters={"firm": frame["firm"]},
        weights=frame["aw"], drop_singletons=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pf.fepois(
            "count ~ x1 + x2 | firm", data=frame, weights="aw", vcov={"CRV1": "firm"},
            fixef_rm="none",
        )  # fmt: skip
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.coef().to_numpy(), rtol=1e-8)
    # Same sandwich; pyfixest scales it by (N-1)/(N-K) on top of G/(G-1), ppmlhdfe (and
    # reexport) by G/(G-1) only.  The firm effect is nested in the clusters: K = 2 + 1.
    n = ours.nobs
    np.testing.assert_allclose(
        ours.std_errors.to_numpy() * np.sqrt((n - 1) / (n - 3)),
        theirs.se().to_numpy(),
        rtol=1e-6,
    )


# -- weighted regress and Poisson glm (statsmodels' Stata references) ---------------------------
@pytest.fixture(scope="module")
def cpunish() -> tuple[pd.Series, pd.DataFrame]:
    from statsmodels.datasets import cpunish as dataset

    data = dataset.load_pandas()
    exog = data.exog.astype(float)
    X = pd.DataFrame(
        {
            "income": exog["INCOME"],
            "perpoverty": exog["PERPOVERTY"],
            "perblack": exog["PERBLACK"],
            "LN_VC100k96": np.log(exog["VC100k96"]),
            "south": exog["SOUTH"],
            "degree": exog["DEGREE"],
            "Intercept": 1.0,
        }
    )
    return data.endog.astype(float).rename("executions"), X


CPUNISH_CLUSTER = {"type": "cluster", "by": ["id"]}


def _cpunish_fit(data: Any, fit: Any, cov: Any, weights_type: str) -> ModelResult:
    y, X = data
    return fit(
        y, X, cov=cov, clusters={"id": np.arange(1, 18) // 2},
        weights=pd.Series(glm_ref.FWEIGHT, name="fweight", dtype=float), weights_type=weights_type,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ref", "cov", "weights_type"),
    [
        (glm_ref.REGRESS_AWEIGHT_ROBUST, "robust", "aweight"),
        (glm_ref.REGRESS_AWEIGHT_CLUSTER, CPUNISH_CLUSTER, "aweight"),
        (glm_ref.REGRESS_FWEIGHT_CLUSTER, CPUNISH_CLUSTER, "fweight"),
    ],
    ids=lambda v: getattr(v, "cmdline", str(v))[-45:],
)
def test_weighted_regress_reproduces_stata(
    cpunish: Any, ref: WeightedReference, cov: Any, weights_type: str
) -> None:
    result = _cpunish_fit(cpunish, fit_ols, cov, weights_type)
    np.testing.assert_allclose(result.params, ref.params, rtol=RTOL)
    np.testing.assert_allclose(result.std_errors, ref.std_errors, rtol=RTOL)
    np.testing.assert_allclose(result.cov_params, ref.cov_matrix, rtol=RTOL, atol=1e-12)
    assert result.nobs == ref.nobs  # 33 = the sum of the frequency weights


#: Stata's glm stops at ~1e-6 relative change, so its Poisson estimates carry that error.
GLM_RTOL = 5e-6


def _assert_cov_close(ours: np.ndarray, reference: np.ndarray, tol: float) -> None:
    """Covariances equal on the correlation scale: ``|diff_ij| <= tol * se_i * se_j``.

    Small off-diagonal elements (near-zero correlations) inherit the error of the
    estimates; relative to the standard errors that error stays at ``tol``.
    """
    se = np.sqrt(np.diag(reference))
    np.testing.assert_array_less(np.abs(ours - reference), tol * np.outer(se, se))


def test_ppml_fweights_reproduce_stata_glm_poisson(cpunish: Any) -> None:
    ref = glm_ref.GLM_POISSON_FWEIGHT
    result = _cpunish_fit(cpunish, fit_ppml, "nonrobust", "fweight")
    np.testing.assert_allclose(result.params, ref.params, rtol=GLM_RTOL)
    np.testing.assert_allclose(result.std_errors, ref.std_errors, rtol=GLM_RTOL)
    _assert_cov_close(result.cov_params.to_numpy(), ref.cov_matrix, GLM_RTOL)
    assert result.nobs == ref.nobs == 33


@pytest.mark.parametrize(
    ("ref", "cov", "weights_type"),
    [
        (glm_ref.GLM_POISSON_FWEIGHT_ROBUST, "robust", "fweight"),
        (glm_ref.GLM_POISSON_FWEIGHT_CLUSTER, CPUNISH_CLUSTER, "fweight"),
        (glm_ref.GLM_POISSON_PWEIGHT_ROBUST, "robust", "aweight"),
        (glm_ref.GLM_POISSON_PWEIGHT_CLUSTER, CPUNISH_CLUSTER, "aweight"),
    ],
    ids=lambda v: getattr(v, "cmdline", str(v))[-45:],
)
def test_weighted_poisson_sandwich_reproduces_stata_glm(
    cpunish: Any, ref: WeightedReference, cov: Any, weights_type: str
) -> None:
    # The weighted scores and Hessian are Stata's; the scalar factor is a convention
    # of its own (glm: N/(N-1) robust, G/(G-1) clustered), so it is swapped before
    # comparing.
    result = _cpunish_fit(cpunish, fit_ppml, cov, weights_type)
    n = result.nobs
    stata_factor = n / (n - 1) if cov == "robust" else 9 / 8  # G = 9 clusters
    assert result.cov.clusters in (None, {"id": 9})
    sandwich = result.cov_params.to_numpy() / result.cov.factor
    _assert_cov_close(sandwich * stata_factor, ref.cov_matrix, GLM_RTOL)
    np.testing.assert_allclose(
        np.sqrt(np.diag(sandwich * stata_factor)), ref.std_errors, rtol=GLM_RTOL
    )
    np.testing.assert_allclose(result.params, ref.params, rtol=GLM_RTOL)
    assert n == ref.nobs


# -- Grunfeld with [aw=1/mvalue] (statsmodels' Stata references) --------------------------------
@pytest.mark.parametrize(
    ("ref", "cov", "convention"),
    [
        (grunfeld_aw.REGRESS_AW_ROBUST, "robust", "regress [aweight=w], vce(robust)"),
        (
            grunfeld_aw.REGRESS_AW_CLUSTER,
            {"type": "cluster", "by": ["company"]},
            "regress [aweight=w], vce(cluster company)",
        ),
        (
            grunfeld_aw.IVREG2_AW_CLUSTER,
            {"type": "cluster", "by": ["company"], "small_sample": False},
            "ivreg2 [aweight=w], cluster(company)",
        ),
    ],
    ids=lambda v: getattr(v, "cmdline", str(v))[:50],
)
def test_grunfeld_aweights_reproduce_stata(ref: Any, cov: Any, convention: str) -> None:
    from statsmodels.datasets import grunfeld as dataset
    from test_covariance_stata import GRUNFELD_P_RTOL, assert_matches

    data = dataset.load_pandas().data.iloc[:200]
    X = pd.DataFrame(
        {"mvalue": data["value"], "kstock": data["capital"], "Intercept": 1.0}, index=data.index
    )
    result = fit_ols(
        data["invest"], X, cov=cov, clusters={"company": data["firm"].astype(str)},
        weights=pd.Series(1.0 / data["value"].to_numpy(), name="w"),
    )  # fmt: skip
    assert_matches(result, ref, p_rtol=GRUNFELD_P_RTOL)
    assert result.cov.convention == f"Stata: {convention}"
    resid = result.resid
    assert resid is not None
    w = 1.0 / data["value"].to_numpy()
    rss = float((w * 200 / w.sum()) @ resid.to_numpy() ** 2)
    assert rss == pytest.approx(243790.0687679817, rel=1e-7)
