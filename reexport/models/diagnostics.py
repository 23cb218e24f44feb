"""Diagnostic battery for a model: unit roots, collinearity, residual tests, structural break.

Every test states its settings in the returned dict, so a reader of the JSON
knows exactly what was run:

- ADF (``statsmodels.tsa.stattools.adfuller``): constant, lag length by AIC
  up to Schwert's ``12 (n/100)^(1/4)``.
- KPSS (``kpss``): level stationarity (constant), Newey-West bandwidth by
  ``nlags="auto"`` (Hobijn et al.); p-values are interpolated from a table
  bounded to [0.01, 0.10] and flagged when bounded.
- VIF for every non-constant regressor (auxiliary regressions with a constant).
- Breusch-Pagan (LM form, regressors = the model's X), Breusch-Godfrey
  (LM form; 12 lags for monthly data, 1 for integer periods), Durbin-Watson,
  Ramsey RESET (F form, powers 2 and 3 of the *standardised* fitted values, see
  :func:`ramsey_reset`), Jarque-Bera.
- Chow test at a break period: ``F = ((S - S1 - S2)/k) / ((S1 + S2)/(n - 2k))``
  with ``F(k, n - 2k)`` degrees of freedom, identical to the F test that all
  interactions of the regressors with a post-break dummy are zero.

The residual tests use the pooled OLS of ``y`` on the model's design (the
Stata ``estat`` tests after ``regress``).  For panel models the serial
correlation and unit-root tests, which need one time series, are skipped with
a note.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.models.covariance import few_periods_warning
from reexport.models.formula import MONTHLY, Design, TimeIndex, materialize
from reexport.models.spec import LAGGED_COV_TYPES, ModelSpec
from reexport.periods import parse_month


def cov_warnings(model: ModelSpec, n_periods: int | None) -> list[str]:
    """The warning for HAC / Driscoll-Kraay on too few periods or with too wide a bandwidth.

    The rule and wording are :func:`reexport.models.covariance.few_periods_warning`'s
    (``T < 30`` or ``L > T/4``), the same the estimator attaches to its results.

    Parameters
    ----------
    model
        The model (its ``cov`` is inspected).
    n_periods
        Distinct time periods in the model's sample (``None`` when unknown).
    """
    cov = model.cov
    if cov.type not in LAGGED_COV_TYPES or n_periods is None or cov.lags is None:
        return []
    message = few_periods_warning(cov.type, n_periods, cov.lags)
    return [] if message is None else [message]


# --------------------------------------------------------------------------------------
# individual tests


def _ols(y: np.ndarray, x: np.ndarray) -> Any:
    import statsmodels.api as sm

    return sm.OLS(y, x).fit()


def chow_test(y: np.ndarray, x: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    """Chow (1960) test of equal coefficients before and after a break.

    Parameters
    ----------
    y
        Dependent variable (n,).
    x
        Regressors (n, k), including the constant if the model has one.
    after
        Boolean (n,): True for observations in the second regime.

    Returns
    -------
    dict
        ``statistic`` (F), ``df_num`` = k, ``df_denom`` = n - 2k, ``pvalue``,
        the three sums of squared residuals and both regime sizes.

    Raises
    ------
    BadInputError
        When a regime has no more observations than regressors.
    """
    from scipy import stats

    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    after = np.asarray(after, dtype=bool)
    n, k = x.shape
    n2 = int(after.sum())
    n1 = n - n2
    if n1 <= k or n2 <= k:
        raise BadInputError(
            f"Chow test needs more than {k} observations on each side of the break "
            f"(have {n1} before, {n2} after)"
        )
    for regime, rows in (("before", ~after), ("after", after)):
        rank = int(np.linalg.matrix_rank(x[rows]))
        if rank < k:
            # F(k, n - 2k) assumes k free coefficients in each regime.
            raise BadInputError(
                f"Chow test: the regressors are collinear within the regime {regime} the "
                f"break (rank {rank} < {k}), e.g. a dummy that never varies there"
            )
    ssr_pooled = _ssr(y, x)
    ssr_before = _ssr(y[~after], x[~after])
    ssr_after = _ssr(y[after], x[after])
    unrestricted = ssr_before + ssr_after
    df_denom = n - 2 * k
    statistic = ((ssr_pooled - unrestricted) / k) / (unrestricted / df_denom)
    return {
        "test": "Chow",
        "statistic": float(statistic),
        "df_num": k,
        "df_denom": df_denom,
        "pvalue": float(stats.f.sf(statistic, k, df_denom)),
        "ssr_pooled": ssr_pooled,
        "ssr_before": ssr_before,
        "ssr_after": ssr_after,
        "n_before": n1,
        "n_after": n2,
    }


def _ssr(y: np.ndarray, x: np.ndarray) -> float:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    return float(resid @ resid)


def ramsey_reset(y: np.ndarray, x: np.ndarray, power: int = 3) -> dict[str, Any]:
    """Ramsey (1969) RESET, F form, on powers of the standardised fitted values.

    Adds ``z**2 .. z**power`` to ``x``, where ``z = (yhat - mean) / sd`` are the
    standardised OLS fitted values, and tests that their coefficients are zero:
    ``F = ((S_r - S_u) / q) / (S_u / (n - k - q))`` with ``q = power - 1``.

    With a constant in ``x`` the powers of ``z`` together with the constant span
    the same space as the powers of ``yhat`` (``z**j`` is a polynomial in ``yhat``
    and vice versa), so in exact arithmetic ``F`` equals statsmodels'
    ``linear_reset(test_type="fitted")``.  In floating point it does not when
    ``yhat`` varies little around a large mean: ``yhat**2`` and ``yhat**3`` are
    then nearly collinear with the constant, the auxiliary design is numerically
    rank-deficient and the raw-power F is spurious.  Standardising avoids that.

    Parameters
    ----------
    y
        Dependent variable (n,).
    x
        Regressors (n, k), including a constant.
    power
        Highest power of the fitted values (at least 2).

    Returns
    -------
    dict
        ``statistic``, ``pvalue``, ``df_num``, ``df_denom``.

    Raises
    ------
    ValueError
        If the fitted values are (nearly) constant or take too few distinct values
        for the powers to add information, or too few observations remain.
    """
    from scipy import stats

    if power < 2:
        raise ValueError(f"RESET power must be at least 2, got {power}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted_values = x @ coef
    resid = y - fitted_values
    ssr_restricted = float(resid @ resid)
    spread = float(np.std(fitted_values))
    if not spread > 1e-12 * max(1.0, float(np.max(np.abs(fitted_values)))):
        raise ValueError("the fitted values are constant")
    z = (fitted_values - fitted_values.mean()) / spread
    added = np.column_stack([z**j for j in range(2, power + 1)])
    augmented = np.column_stack([x, added])
    n, k = x.shape
    q = added.shape[1]
    df_denom = n - k - q
    if df_denom <= 0:
        raise ValueError(f"{n} observations are too few for {k + q} coefficients")
    # Rank on unit-norm columns, so the check does not depend on the data's scale.
    norms = np.linalg.norm(augmented, axis=0)
    if np.linalg.matrix_rank(augmented / np.where(norms > 0, norms, 1.0)) < k + q:
        raise ValueError("the powers of the fitted values are collinear with the regressors")
    ssr_unrestricted = _ssr(y, augmented)
    statistic = ((ssr_restricted - ssr_unrestricted) / q) / (ssr_unrestricted / df_denom)
    return {
        "statistic": float(statistic),
        "pvalue": float(stats.f.sf(statistic, q, df_denom)),
        "df_num": int(q),
        "df_denom": int(df_denom),
    }


def unit_root_tests(series: pd.Series, name: str) -> list[dict[str, Any]]:
    """ADF and KPSS on one time-ordered series (see the module docstring for settings)."""
    from statsmodels.tools.sm_exceptions import InterpolationWarning
    from statsmodels.tsa.stattools import adfuller, kpss

    values = series.to_numpy(dtype=np.float64)
    out: list[dict[str, Any]] = []
    adf_stat, adf_p, adf_lag, adf_n, adf_crit, _ = adfuller(
        values, regression="c", autolag="AIC", result_object=False
    )
    out.append(
        {
            "test": "ADF",
            "series": name,
            "statistic": float(adf_stat),
            "pvalue": float(adf_p),
            "lags": int(adf_lag),
            "nobs": int(adf_n),
            "critical_values": {k: float(v) for k, v in adf_crit.items()},
            "settings": "regression='c' (constant), autolag='AIC', maxlag=12*(n/100)^(1/4)",
            "null": "unit root",
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InterpolationWarning)
        kpss_stat, kpss_p, kpss_lag, kpss_crit = kpss(values, regression="c", nlags="auto")
    bounded = any(issubclass(w.category, InterpolationWarning) for w in caught)
    out.append(
        {
            "test": "KPSS",
            "series": name,
            "statistic": float(kpss_stat),
            "pvalue": float(kpss_p),
            "pvalue_bounded": bounded,
            "lags": int(kpss_lag),
            "critical_values": {k: float(v) for k, v in kpss_crit.items()},
            "settings": "regression='c' (level stationarity), nlags='auto' (Hobijn et al.)",
            "null": "stationary",
        }
    )
    return out


def vif(x: pd.DataFrame) -> dict[str, float | None]:
    """Variance inflation factor of every non-constant column.

    Each column is regressed on the others plus a constant (added when the
    design has none); a perfectly collinear column gets ``None`` (infinite).
    """
    columns = [c for c in x.columns if x[c].nunique() > 1]
    out: dict[str, float | None] = {}
    values = x[columns].to_numpy(dtype=np.float64)
    ones = np.ones((len(x), 1))
    for i, column in enumerate(columns):
        target = values[:, i]
        others = np.hstack([ones, np.delete(values, i, axis=1)])
        ssr = _ssr(target, others)
        centered = target - target.mean()
        tss = float(centered @ centered)
        r2 = 1.0 - ssr / tss
        out[column] = None if r2 >= 1.0 - 1e-12 else float(1.0 / (1.0 - r2))
    return out


# --------------------------------------------------------------------------------------
# the battery


def _time_order(model: ModelSpec, frame: pd.DataFrame, design: Design) -> np.ndarray:
    """Positions that sort the design's rows by time."""
    assert model.time is not None
    index = TimeIndex.build(frame.loc[design.rows], model.time, None, model.where)
    return np.argsort(index.ordinal, kind="stable")


def _gap_note(model: ModelSpec, frame: pd.DataFrame, design: Design) -> str | None:
    """A note when the series skips periods, or ``None``.

    The serial-correlation and unit-root tests read the residuals and series in
    time order; across a missing period they pair rows that are not adjacent in
    time, so the reader must know the sample has gaps.
    """
    assert model.time is not None
    index = TimeIndex.build(frame.loc[design.rows], model.time, None, model.where)
    ordinals = np.unique(index.ordinal)
    steps = np.diff(ordinals)
    gaps = np.flatnonzero(steps > 1)
    if not len(gaps):
        return None
    missing = int((steps[gaps] - 1).sum())
    first = index.label(int(ordinals[gaps[0]] + 1))
    return (
        f"the sample skips {missing} period(s) in {len(gaps)} gap(s) (first {first}): "
        "ADF/KPSS, Breusch-Godfrey and Durbin-Watson treat the rows on either side of a "
        "gap as consecutive"
    )


def _is_single_series(model: ModelSpec, frame: pd.DataFrame, design: Design) -> bool:
    if model.time is None:
        return False
    if model.entity is None:
        return True
    return int(frame.loc[design.rows, model.entity].nunique()) == 1


def _break_mask(
    model: ModelSpec, frame: pd.DataFrame, design: Design, break_date: str
) -> np.ndarray:
    if model.time is None:
        raise BadInputError(f"{model.where}: --break-date needs a [data] time column")
    index = TimeIndex.build(frame.loc[design.rows], model.time, None, model.where)
    if index.freq == MONTHLY:
        cut = parse_month(break_date, what="--break-date").ordinal
    else:
        try:
            cut = int(break_date)
        except ValueError:
            raise BadInputError(
                f"--break-date {break_date!r}: {model.time!r} holds integers, give one"
            ) from None
    return np.asarray(index.ordinal >= cut)


def _test(
    name: str, statistic: float, pvalue: float, settings: str, **extra: Any
) -> dict[str, Any]:
    return {
        "test": name,
        "statistic": float(statistic),
        "pvalue": None if pvalue is None or not math.isfinite(pvalue) else float(pvalue),
        "settings": settings,
        **extra,
    }


def diagnose(
    model: ModelSpec,
    frame: pd.DataFrame,
    *,
    break_date: str | None = None,
    design: Design | None = None,
) -> dict[str, Any]:
    """Run the diagnostic battery for one model.

    Parameters
    ----------
    model
        The model (formula, time/entity columns, sample).
    frame
        The data.
    break_date
        Period of the first observation after the break (``YYYY-MM`` or an
        integer period) for the Chow test; ``None`` skips it.
    design
        A design already built for this model (built here otherwise).

    Returns
    -------
    dict
        JSON-able: ``tests`` (list of dicts with ``test``, ``statistic``,
        ``pvalue``, ``settings``...), ``vif``, ``chow`` (or ``None``),
        ``notes``, ``warnings``, ``nobs``, ``residuals_from``.
    """
    from statsmodels.stats.diagnostic import acorr_breusch_godfrey, het_breuschpagan
    from statsmodels.stats.stattools import durbin_watson, jarque_bera

    if design is None:
        design = materialize(
            model.formula,
            frame,
            time=model.time,
            entity=model.entity,
            where=model.where,
            sample=model.sample,
        )
    notes: list[str] = []
    if model.estimator == "ppml":
        notes.append("PPML model: the residual tests use the linear OLS of the same design")
    if model.effects:
        notes.append(
            "fixed effects are not part of these residual tests (pooled OLS of the design)"
        )
    single = _is_single_series(model, frame, design)
    x_frame = design.X
    y_values = design.y.to_numpy(dtype=np.float64)
    if single:
        order = _time_order(model, frame, design)
        x_frame = x_frame.iloc[order]
        y_values = y_values[order]
        gap_note = _gap_note(model, frame, design)
        if gap_note:
            notes.append(gap_note)
    x_values = x_frame.to_numpy(dtype=np.float64)
    n, k = x_values.shape
    from reexport.models.estimate import check_rank

    # The tests below would silently use a pseudo-inverse: refuse as estimation does.
    check_rank(x_values, [str(c) for c in x_frame.columns], where=model.where)
    if n <= k + 1:
        raise BadInputError(f"{model.where}: {n} observations are too few for diagnostics")
    has_constant = bool((x_frame.nunique() == 1).any()) if k else False
    fitted = _ols(y_values, x_values)
    tests: list[dict[str, Any]] = []

    if single:
        for name, series in [(design.y_name, pd.Series(y_values)), *x_frame.items()]:
            if series.nunique() <= 2:
                continue  # constants and dummies
            if str(name) == "trend":
                continue
            try:
                tests.extend(unit_root_tests(pd.Series(series.to_numpy()), str(name)))
            except (ValueError, np.linalg.LinAlgError) as exc:
                notes.append(f"ADF/KPSS on {name} not computed: {exc}")
    else:
        notes.append("panel or no time column: ADF/KPSS, Breusch-Godfrey and Durbin-Watson skipped")

    if has_constant and k > 1:
        lm, lm_p, _f, _fp = het_breuschpagan(fitted.resid, x_values)
        tests.append(
            _test(
                "Breusch-Pagan", lm, lm_p, "LM form (Koenker=False), regressors = model X", df=k - 1
            )
        )
    else:
        notes.append("Breusch-Pagan skipped: needs a constant and at least one regressor")

    if single:
        index = TimeIndex.build(frame.loc[design.rows], model.time or "", None, model.where)
        bg_lags = 12 if index.freq == MONTHLY else 1
        bg_lags = min(bg_lags, max(1, n - k - 1))
        try:
            lm, lm_p, _f, _fp = acorr_breusch_godfrey(fitted, nlags=bg_lags, result_object=False)
            tests.append(
                _test("Breusch-Godfrey", lm, lm_p, f"LM form, {bg_lags} lags", lags=bg_lags)
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"Breusch-Godfrey not computed: {exc}")
        tests.append(
            {
                "test": "Durbin-Watson",
                "statistic": float(durbin_watson(fitted.resid)),
                "pvalue": None,
                "settings": "residuals in time order; 2 means no first-order autocorrelation",
            }
        )

    if has_constant and k > 1:
        try:
            reset = ramsey_reset(y_values, x_values, power=3)
            tests.append(
                _test(
                    "Ramsey RESET",
                    reset["statistic"],
                    reset["pvalue"],
                    "F form, standardised fitted values to powers 2 and 3",
                    df_num=reset["df_num"],
                    df_denom=reset["df_denom"],
                )
            )
        except (ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"Ramsey RESET not computed: {exc}")
    jb, jb_p, skew, kurtosis = jarque_bera(fitted.resid)
    tests.append(
        _test(
            "Jarque-Bera",
            float(jb),
            float(jb_p),
            "residual skewness and kurtosis, chi2(2)",
            skew=float(skew),
            kurtosis=float(kurtosis),
        )
    )

    chow = None
    if break_date is not None:
        after = _break_mask(model, frame, design, break_date)
        if single:
            after = after[order]
        try:
            chow = {**chow_test(y_values, x_values, after), "break": break_date}
            chow["settings"] = f"break at {break_date} (first period of the second regime)"
            tests.append(chow)
        except BadInputError as exc:
            raise BadInputError(f"{model.where}: {exc}") from None

    vifs = vif(x_frame) if k > 1 else {}
    return {
        "nobs": n,
        "residuals_from": "pooled OLS of y on the model's design",
        "tests": tests,
        "vif": vifs,
        "chow": chow,
        "notes": notes,
        "warnings": [],
    }
