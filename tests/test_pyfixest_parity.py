"""Fixed-effects and PPML conventions against pyfixest and linearmodels on a simulated panel.

pyfixest's defaults follow fixest/reghdfe: singletons dropped, small-sample
factor ``(N-1)/(N-K)`` with absorbed effects in ``K`` except those nested in a
cluster variable (counted as one), ``G/(G-1)`` with ``G = min`` over cluster
dimensions, t with ``G - 1`` degrees of freedom.  reexport must give the same
coefficients, standard errors and degrees of freedom.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reexport.models.estimate import fit_fe, fit_ppml

pf = pytest.importorskip("pyfixest")

ENTITIES, PERIODS = 300, 24


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """Unbalanced two-way panel with heteroskedastic errors, two singletons, a zero block."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "entity": np.repeat(np.arange(ENTITIES), PERIODS),
            "time": np.tile(np.arange(PERIODS), ENTITIES),
        }
    )
    frame = frame.sample(frac=0.85, random_state=1).sort_index()
    entity_effect = rng.normal(size=ENTITIES)
    time_effect = rng.normal(size=PERIODS)
    a = entity_effect[frame["entity"]]
    b = time_effect[frame["time"]]
    frame["region"] = frame["entity"] % 15  # entities are nested in regions
    frame["x1"] = rng.normal(size=len(frame)) + a
    frame["x2"] = rng.normal(size=len(frame)) + b
    noise = rng.normal(size=len(frame)) * (1 + np.abs(frame["x1"]))
    frame["y"] = 1 + 0.5 * frame["x1"] - 0.3 * frame["x2"] + a + b + noise
    frame["count"] = rng.poisson(np.exp(0.3 * frame["x1"] - 0.2 * frame["x2"] + 0.5 * a))
    # Three entities never export: PPML must drop them (their effect is -infinity).
    frame.loc[frame["entity"].isin([5, 6, 7]), "count"] = 0
    singletons = pd.DataFrame(
        {
            "entity": [1000, 1001],
            "time": [3, 4],
            "region": [1, 2],
            "x1": [0.1, 0.2],
            "x2": [0.3, 0.1],
            "y": [1.0, 2.0],
            "count": [1, 2],
        }
    )
    return pd.concat([frame, singletons], ignore_index=True)


def _design(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["x1", "x2"]].assign(Intercept=1.0)


def _clusters(frame: pd.DataFrame) -> dict[str, pd.Series]:
    return {"entity": frame["entity"], "time": frame["time"], "region": frame["region"]}


def _quiet(func: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


OLS_CASES = [
    ("iid", "nonrobust"),
    ("hetero", "robust"),
    ({"CRV1": "entity"}, {"type": "cluster", "by": ["entity"]}),  # entity FE nested
    ({"CRV1": "region"}, {"type": "cluster", "by": ["region"]}),  # entity FE nested in region
    ({"CRV1": "time"}, {"type": "cluster", "by": ["time"]}),  # time FE nested
    ({"CRV1": "entity+time"}, {"type": "cluster", "by": ["entity", "time"]}),  # two-way
]


@pytest.mark.parametrize(("vcov", "cov"), OLS_CASES, ids=[str(c[0]) for c in OLS_CASES])
def test_two_way_fe_matches_pyfixest(panel: pd.DataFrame, vcov: Any, cov: Any) -> None:
    theirs = _quiet(pf.feols, "y ~ x1 + x2 | entity + time", data=panel, vcov=vcov, fixef_tol=1e-13)
    ours = fit_fe(
        panel["y"],
        _design(panel),
        effects={"entity": panel["entity"], "time": panel["time"]},
        cov=cov,
        clusters=_clusters(panel),
    )
    assert ours.nobs == theirs._N == len(panel) - 2
    assert ours.dropped_rows == {"singletons": 2}
    assert list(ours.params.index) == ["x1", "x2"]  # the intercept is absorbed
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.coef().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), theirs.se().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours.tstats.to_numpy(), theirs.tstat().to_numpy(), rtol=1e-8)
    # pyfixest computes p as 1 - cdf, which loses relative precision in the far tail.
    np.testing.assert_allclose(ours.pvalues.to_numpy(), theirs.pvalue().to_numpy(), atol=1e-12)
    assert ours.cov.df == int(theirs._df_t)
    assert ours.r2_within == pytest.approx(theirs._r2_within, rel=1e-8)
    assert ours.r2 == pytest.approx(theirs._r2, rel=1e-8)


def test_one_way_fe_matches_pyfixest(panel: pd.DataFrame) -> None:
    theirs = _quiet(pf.feols, "y ~ x1 + x2 | entity", data=panel, vcov={"CRV1": "entity"})
    ours = fit_fe(
        panel["y"],
        _design(panel),
        effects={"entity": panel["entity"]},
        cov={"type": "cluster", "by": ["entity"]},
        clusters=_clusters(panel),
    )
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.coef().to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), theirs.se().to_numpy(), rtol=1e-8)
    # xtreg, fe vce(cluster) convention: K = slopes + 1 once the nested effect is discounted.
    n, k = ours.nobs, 3
    assert ours.cov.factor == pytest.approx(300 / 299 * (n - 1) / (n - k), rel=1e-12)


PPML_CASES = [
    ("hetero", "robust"),
    ({"CRV1": "entity"}, {"type": "cluster", "by": ["entity"]}),
    ({"CRV1": "region"}, {"type": "cluster", "by": ["region"]}),
]


@pytest.mark.parametrize(("vcov", "cov"), PPML_CASES, ids=[str(c[0]) for c in PPML_CASES])
def test_ppml_matches_pyfixest_fepois(panel: pd.DataFrame, vcov: Any, cov: Any) -> None:
    theirs = _quiet(
        pf.fepois,
        "count ~ x1 + x2 | entity + time",
        data=panel,
        vcov=vcov,
        fixef_tol=1e-13,
        iwls_tol=1e-12,
    )
    ours = fit_ppml(
        panel["count"],
        _design(panel),
        effects={"entity": panel["entity"], "time": panel["time"]},
        cov=cov,
        clusters=_clusters(panel),
    )
    assert ours.nobs == theirs._N
    # Never-exporting entities (5, 6, 7 by construction, plus any all-zero by chance)
    # are separated; the two singletons are dropped first.
    totals = panel.groupby("entity")["count"].transform("sum")
    separated = int(((totals == 0) & (panel["entity"] < 1000)).sum())
    assert separated >= int(panel["entity"].isin([5, 6, 7]).sum())
    assert ours.dropped_rows == {"singletons": 2, "separated_fe": separated}
    np.testing.assert_allclose(ours.params.to_numpy(), theirs.coef().to_numpy(), rtol=1e-9)
    # pyfixest's fepois scales the sandwich like OLS (N/(N-K); G/(G-1) (N-1)/(N-K)); reexport
    # follows Stata's ML commands (ppmlhdfe): N/(N-1) robust, G/(G-1) clustered.  The
    # sandwiches agree; the factors are each side's convention.
    n = ours.nobs
    k = n - ours.df_resid  # slopes plus absorbed levels
    if vcov == "hetero":
        theirs_factor, ours_factor = n / (n - k), n / (n - 1)
    else:
        by = cov["by"][0]
        g = ours.cov.clusters[by]
        kept = panel.loc[ours._rows]
        # An entity effect nested in the clusters counts as one parameter (fixest "nested").
        nested = bool((kept.groupby("entity")[by].nunique() == 1).all())
        entities = kept["entity"].nunique()
        k_cluster = k - (entities - 1 if nested else 0)
        theirs_factor, ours_factor = g / (g - 1) * (n - 1) / (n - k_cluster), g / (g - 1)
    assert ours.cov.factor == pytest.approx(ours_factor, rel=1e-12)
    np.testing.assert_allclose(
        ours.std_errors.to_numpy() * np.sqrt(theirs_factor / ours_factor),
        theirs.se().to_numpy(),
        rtol=1e-7,
    )
    assert ours.cov.df is None  # PPML inference is normal (z), as ppmlhdfe


def test_ppml_nonrobust_is_the_inverse_hessian(panel: pd.DataFrame) -> None:
    """Stata's poisson/ppmlhdfe nonrobust: no small-sample factor (pyfixest's k_adj=False)."""
    theirs = _quiet(
        pf.fepois,
        "count ~ x1 + x2 | entity + time",
        data=panel,
        vcov="iid",
        ssc=pf.ssc(k_adj=False),
        fixef_tol=1e-13,
        iwls_tol=1e-12,
    )
    ours = fit_ppml(
        panel["count"], _design(panel), effects={"entity": panel["entity"], "time": panel["time"]}
    )
    np.testing.assert_allclose(ours.std_errors.to_numpy(), theirs.se().to_numpy(), rtol=1e-7)


def test_ppml_without_effects_matches_statsmodels_glm(panel: pd.DataFrame) -> None:
    import statsmodels.api as sm

    X = _design(panel)
    glm = sm.GLM(panel["count"], X, family=sm.families.Poisson()).fit(tol=1e-13)
    ours = fit_ppml(panel["count"], X, cov="nonrobust")
    np.testing.assert_allclose(ours.params.to_numpy(), glm.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), glm.bse.to_numpy(), rtol=1e-7)


def test_linearmodels_panelols_conventions(panel: pd.DataFrame) -> None:
    """Coefficients and nonrobust/robust SEs agree exactly with PanelOLS(debiased=True).

    PanelOLS's clustered covariance uses another scalar: ``N/(N-K)`` with every
    absorbed effect in ``K`` and no ``G/(G-1)``; the meat is the same, which the
    last check shows by rescaling the asymptotic (``small_sample=False``) matrix.
    """
    from linearmodels import PanelOLS

    indexed = panel.set_index(["entity", "time"])
    model = PanelOLS(indexed["y"], indexed[["x1", "x2"]], entity_effects=True, time_effects=True)
    effects = {"entity": panel["entity"], "time": panel["time"]}
    common: dict[str, Any] = {"effects": effects, "clusters": _clusters(panel)}
    for cov_type, cov in (("unadjusted", "nonrobust"), ("robust", "robust")):
        theirs = model.fit(cov_type=cov_type, debiased=True)
        ours = fit_fe(panel["y"], _design(panel), cov=cov, drop_singletons=False, **common)
        np.testing.assert_allclose(ours.params.to_numpy(), theirs.params.to_numpy(), rtol=1e-10)
        np.testing.assert_allclose(
            ours.std_errors.to_numpy(), theirs.std_errors.to_numpy(), rtol=1e-8
        )
    theirs = model.fit(cov_type="clustered", cluster_entity=True, debiased=True)
    ours = fit_fe(
        panel["y"],
        _design(panel),
        cov={"type": "cluster", "by": ["entity"], "small_sample": False},
        drop_singletons=False,
        **common,
    )
    k_all = ours.nobs - ours.df_resid
    scale = ours.nobs / (ours.nobs - k_all)
    np.testing.assert_allclose(
        ours.std_errors.to_numpy() * np.sqrt(scale), theirs.std_errors.to_numpy(), rtol=1e-8
    )


def test_driscoll_kraay_meat_matches_linearmodels_kernel_covariance() -> None:
    """Driscoll-Kraay pooled and with entity effects against linearmodels' kernel covariance.

    linearmodels (``debiased=False``): ``bandwidth=L`` is Stata's ``lag(L)``.  Pooled,
    its unscaled matrix equals ``ivreg2, dkraay(L+1)``; with effects it multiplies by
    ``N/(N - absorbed)``, which is the only difference.
    """
    from linearmodels import PanelOLS, PooledOLS
    from statsmodels.datasets import grunfeld

    data = grunfeld.load_pandas().data.iloc[:200].copy()
    data["year"] = data["year"].astype(int)
    indexed = data.set_index(["firm", "year"])
    cov = {"type": "driscoll-kraay", "lags": 4, "small_sample": False}
    common: dict[str, Any] = {"cov": cov, "time": data["year"], "entity": data["firm"]}
    X = data[["value", "capital"]]

    theirs = PooledOLS(indexed["invest"], indexed[["value", "capital"]].assign(const=1.0)).fit(
        cov_type="kernel", kernel="bartlett", bandwidth=4, debiased=False
    )
    ours = fit_fe(data["invest"], X.assign(Intercept=1.0), effects={}, **common)
    np.testing.assert_allclose(ours.std_errors.to_numpy(), theirs.std_errors.to_numpy(), rtol=1e-10)

    theirs = PanelOLS(indexed["invest"], indexed[["value", "capital"]], entity_effects=True).fit(
        cov_type="kernel", kernel="bartlett", bandwidth=4, debiased=False
    )
    ours = fit_fe(data["invest"], X, effects={"firm": data["firm"]}, **common)
    scale = ours.nobs / (ours.nobs - 10)
    np.testing.assert_allclose(
        ours.std_errors.to_numpy() * np.sqrt(scale), theirs.std_errors.to_numpy(), rtol=1e-10
    )
