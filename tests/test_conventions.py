"""Conventions a user can name, each against published output.

* ``drop_singletons = False``: ``xtreg, fe`` on unbalanced panels with singleton firms
  (published Stata output, ``tests/results/results_stata_weights.py``).
* ``cluster_df = "conventional"``: two-way clustering with each term's own ``G/(G-1)``
  (R sandwich ``vcovCL``; Petersen's web page), beside the default ``"min"``
  (``ivreg2, cluster(a b) small``, checked in ``tests/test_covariance_stata.py``).
* ``dk_adjust = "hc1"``: Driscoll-Kraay with plm's ``vcovSCC(type = "HC1")`` factor.

Also the design checks that name their reason: values too large to square, and a
panel in which every observation is a singleton.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from results import results_r_conventions as r_ref
from results import results_stata_weights as stata_ref
from results.results_stata_weights import PanelReference
from test_weights import assert_matches_stata, fit_reference

from reexport.errors import BadInputError
from reexport.models.covariance import CovSpec, coerce_cov
from reexport.models.estimate import fit_fe, fit_ols, fit_ppml
from reexport.models.spec import parse_spec

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    import linearmodels

    path = Path(linearmodels.__file__).parent / "tests/panel/results/simulated-panel.dta"
    if not path.is_file():
        pytest.skip("linearmodels' simulated-panel.dta is not installed")
    return pd.read_stata(path)


# -- keeping singletons: xtreg, fe ---------------------------------------------------------
UNBALANCED = [
    r for r in stata_ref.REFERENCES.values() if "[aweight" not in r.cmdline and "xtreg" in r.cmdline
]


@pytest.mark.parametrize("ref", UNBALANCED, ids=lambda r: r.section)
def test_xtreg_fe_on_unbalanced_panels_keeps_singletons(
    panel: pd.DataFrame, ref: PanelReference
) -> None:
    result = fit_reference(panel, ref)
    assert_matches_stata(result, ref)
    assert "singletons" not in result.dropped_rows


def test_dropping_singletons_changes_n_as_reghdfe_does(panel: pd.DataFrame) -> None:
    ref = stata_ref.XTREG_FE_CONVENTIONAL_HEAVY
    kept = fit_reference(panel, ref)
    ending = "_heavy"
    columns = [f"{v}{ending}" for v in ["y", "x1", "x2", "x3", "x4", "x5"]]
    frame = panel[[*columns, "firm"]].dropna()
    single_firms = int((frame.groupby("firm").size() == 1).sum())
    dropped = fit_fe(
        frame[columns[0]], frame[columns[1:]], effects={"firm": frame["firm"].to_numpy()}
    )
    assert single_firms > 0
    assert dropped.dropped_rows["singletons"] == single_firms
    assert dropped.nobs == ref.nobs - single_firms
    # Singletons carry no information on the slopes: the estimates are the same.
    np.testing.assert_allclose(dropped.params, kept.params, rtol=1e-9)


# -- two-way clustering, Cameron-Gelbach-Miller per term ---------------------------------------
@pytest.fixture(scope="module")
def petersen() -> pd.DataFrame:
    import statsmodels

    path = Path(statsmodels.__file__).parent / "stats/tests/test_data.txt"
    if not path.is_file():
        pytest.skip("statsmodels' copy of Petersen's test data is not installed")
    return pd.read_csv(path, sep=r"\s+", header=None, names=["firm", "year", "x", "y"])


def _petersen_fit(frame: pd.DataFrame, cov: Any) -> Any:
    X = pd.DataFrame({"Intercept": 1.0, "x": frame["x"]})
    return fit_ols(frame["y"], X, cov=cov, clusters={"firm": frame["firm"], "year": frame["year"]})


def _assert_vcovcl(result: Any, published: list[float]) -> None:
    reference = np.asarray(published).reshape(2, 2)
    ours = result.cov_params.to_numpy()
    np.testing.assert_allclose(np.diag(ours), np.diag(reference), rtol=1e-6)
    # The off-diagonal is a difference of nearly equal sums: the 7-digit data copy moves
    # it by ~1e-6 relative, i.e. 1e-8 of the variances.
    np.testing.assert_allclose(ours[0, 1], reference[0, 1], rtol=5e-6, atol=1e-10)


def test_two_way_conventional_matches_sandwich_vcovcl(petersen: pd.DataFrame) -> None:
    cov = {"type": "cluster", "by": ["firm", "year"], "cluster_df": "conventional"}
    result = _petersen_fit(petersen, cov)
    _assert_vcovcl(result, r_ref.SANDWICH_VCOVCL_FIRM_YEAR)
    np.testing.assert_array_equal(
        np.round(result.std_errors.to_numpy(), 4), r_ref.PETERSEN_SE_FIRM_YEAR
    )
    assert result.cov.df == 9  # t(min(G) - 1), as fixest
    assert result.cov.convention.startswith("R sandwich: vcovCL(cluster = ~firm + year)")
    assert 'fixest ssc(cluster.df = "conventional")' in result.cov.convention


def test_two_way_default_stays_ivreg2_min_g(petersen: pd.DataFrame) -> None:
    assert CovSpec(type="cluster").cluster_df == "min"
    default = _petersen_fit(petersen, {"type": "cluster", "by": ["firm", "year"]})
    assert default.cov.convention == "Stata: ivreg2, cluster(firm year) small"
    # One G/(G-1) with G = min(500, 10) = 10 is not Petersen's per-term adjustment.
    rounded = np.round(default.std_errors.to_numpy(), 4)
    assert not np.array_equal(rounded, r_ref.PETERSEN_SE_FIRM_YEAR)


def test_one_way_clusters_are_the_same_under_both_conventions(petersen: pd.DataFrame) -> None:
    for cluster_df in ("min", "conventional"):
        result = _petersen_fit(
            petersen, {"type": "cluster", "by": ["firm"], "cluster_df": cluster_df}
        )
        _assert_vcovcl(result, r_ref.SANDWICH_VCOVCL_FIRM)
        assert result.cov.convention == "Stata: regress, vce(cluster firm)"


# -- Driscoll-Kraay with plm's HC1 factor ------------------------------------------------------
@pytest.fixture(scope="module")
def produc() -> pd.DataFrame:
    return pd.read_csv(DATA / "produc.csv")


def _produc_fit(frame: pd.DataFrame, cov: Any) -> Any:
    X = pd.DataFrame(
        {
            "Intercept": 1.0,
            "log(pcap)": np.log(frame["pcap"]),
            "log(pc)": np.log(frame["pc"]),
            "log(emp)": np.log(frame["emp"]),
            "unemp": frame["unemp"],
        }
    )
    return fit_ols(np.log(frame["gsp"]), X, cov=cov, time=frame["year"], entity=frame["state"])


def test_driscoll_kraay_hc1_matches_plm_vcovscc(produc: pd.DataFrame) -> None:
    reference = r_ref.PLM_SCC_HC1_LAG4
    result = _produc_fit(produc, {"type": "driscoll-kraay", "lags": 4, "dk_adjust": "hc1"})
    # plm printed 7 decimals for estimates and standard errors, 4 for t, p as shown:
    # agreement to half a unit in the last printed place.
    np.testing.assert_allclose(result.params, reference["params"], rtol=0, atol=5e-8)
    np.testing.assert_allclose(result.std_errors, reference["std_errors"], rtol=0, atol=5e-8)
    np.testing.assert_allclose(result.tstats, reference["tstats"], rtol=0, atol=5e-5)
    for term, p in reference["pvalues"].items():
        assert result.pvalues[term] == pytest.approx(p, abs=5e-7)
    assert result.cov.df == reference["df"]
    assert result.cov.factor == pytest.approx(816 / 811)
    assert result.cov.convention == 'R plm: vcovSCC(type = "HC1", maxlag = 4)'


def test_driscoll_kraay_default_is_plm_hc0_meat(produc: pd.DataFrame) -> None:
    # plm's default vcovSCC (HC0) has xtscc's meat and no factor.
    result = _produc_fit(produc, {"type": "driscoll-kraay", "lags": 2})
    np.testing.assert_allclose(
        result.std_errors, r_ref.PLM_SCC_HC0_LAG2_STD_ERRORS, rtol=0, atol=5e-8
    )
    assert result.cov.convention == "Stata: xtscc, lag(2)"
    assert result.cov.df == 47  # xtscc: t(panels - 1)


# -- option keys: validation and the spec --------------------------------------------------------
@pytest.mark.parametrize(
    ("cov", "message"),
    [
        ({"type": "cluster", "by": ["a", "b"], "cluster_df": "max"}, "unknown cluster_df 'max'"),
        (
            {"type": "robust", "cluster_df": "conventional"},
            "'cluster_df' is not used by type 'robust'",
        ),
        (
            {
                "type": "cluster",
                "by": ["a", "b"],
                "cluster_df": "conventional",
                "small_sample": False,
            },
            "cannot be combined with small_sample = false",
        ),
        ({"type": "driscoll-kraay", "lags": 2, "dk_adjust": "hc3"}, "unknown dk_adjust 'hc3'"),
        ({"type": "hac", "lags": 2, "dk_adjust": "hc1"}, "'dk_adjust' is not used by type 'hac'"),
        (
            {"type": "driscoll-kraay", "lags": 2, "dk_adjust": "hc1", "small_sample": False},
            "cannot be combined with small_sample = false",
        ),
    ],
)
def test_bad_convention_options(cov: dict[str, Any], message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        coerce_cov(cov, where="spec.toml [model m] cov")


def test_spec_cov_tables_take_the_convention_keys(tmp_path: Path) -> None:
    document = {
        "data": {"path": "panel.csv", "entity": "firm", "time": "year"},
        "model": [
            {
                "name": "cgm",
                "formula": "y ~ x",
                "cov": {"type": "cluster", "by": ["firm", "year"], "cluster_df": "conventional"},
            },
            {
                "name": "scc",
                "formula": "y ~ x",
                "cov": {"type": "driscoll-kraay", "lags": 4, "dk_adjust": "hc1"},
            },
        ],
    }
    spec = parse_spec(document, tmp_path / "spec.toml")
    cgm, scc = spec.models
    assert cgm.cov == CovSpec(type="cluster", by=("firm", "year"), cluster_df="conventional")
    assert scc.cov == CovSpec(type="driscoll-kraay", lags=4, dk_adjust="hc1")
    assert scc.cov.to_dict()["dk_adjust"] == "hc1"
    assert "cluster_df" not in CovSpec(type="robust").to_dict()
    document["model"] = [
        {"name": "m", "formula": "y ~ x", "cov": {"type": "robust", "cluster_dof": 1}}
    ]
    with pytest.raises(BadInputError, match="unknown key 'cluster_dof'"):
        parse_spec(document, tmp_path / "spec.toml")


# -- design checks that say why ----------------------------------------------------------------
def test_values_too_large_are_named_without_a_numpy_warning() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"Intercept": 1.0, "x": rng.normal(size=50) * 1e300})
    y = rng.normal(size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any numpy overflow warning fails the test
        with pytest.raises(BadInputError) as info:
            fit_ols(y, X, where="spec.toml [model big]")
        with pytest.raises(BadInputError, match="dependent variable has values too large"):
            fit_ols(y * 1e300, X.assign(x=1.0 + rng.normal(size=50)), where="m")
    message = str(info.value)
    assert message.startswith("spec.toml [model big]: term 'x' has values too large")
    assert "rescale it" in message and "collinear" not in message and "\n" not in message


def test_a_panel_of_singletons_is_a_one_line_error() -> None:
    frame = pd.DataFrame({"firm": np.arange(12), "x": np.arange(12.0), "y": np.arange(12.0) ** 2})
    expected = (
        "m: no observations left after dropping 12 singleton observations "
        "(set drop_singletons = false to keep them)"
    )
    with pytest.raises(BadInputError) as info:
        fit_fe(frame["y"], frame[["x"]], effects={"firm": frame["firm"].to_numpy()}, where="m")
    assert str(info.value) == expected
    with pytest.raises(BadInputError) as info:
        fit_ppml(
            frame["y"] + 1.0, frame[["x"]], effects={"firm": frame["firm"].to_numpy()}, where="m"
        )
    assert str(info.value) == expected


def test_the_inline_cov_examples_of_the_spec_reference_are_valid() -> None:
    import re
    import tomllib

    reference = Path(__file__).resolve().parents[1] / "docs" / "spec_reference.md"
    examples = re.findall(r"`(cov = \{[^`]*\})`", reference.read_text(encoding="utf-8"))
    named = [e for e in examples if "cluster_df" in e or "dk_adjust" in e]
    assert len(named) >= 2
    for example in named:
        coerce_cov(tomllib.loads(example)["cov"], where="docs/spec_reference.md")


def test_plm_hc1_is_refused_for_ppml(produc: pd.DataFrame) -> None:
    X = pd.DataFrame({"unemp": produc["unemp"]})
    with pytest.raises(BadInputError, match="no definition for ppml"):
        fit_ppml(
            produc["gsp"].astype(float), X, effects={"state": produc["state"].to_numpy()},
            cov={"type": "driscoll-kraay", "lags": 2, "dk_adjust": "hc1"},
            time=produc["year"], entity=produc["state"], where="m",
        )  # fmt: skip
