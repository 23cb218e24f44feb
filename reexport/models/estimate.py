"""Estimators: OLS, fixed-effects panel OLS and Poisson PPML, with Stata-convention covariances.

:func:`fit_ols`, :func:`fit_fe` and :func:`fit_ppml` take a dependent
variable, a design matrix with named columns and plain arrays; specs and
formulas are turned into those by :mod:`reexport.models.api`.

Conventions (see also :mod:`reexport.models.covariance`):

* OLS: ``regress``.  ``R^2`` is centred when the design has an intercept,
  uncentred otherwise (as Stata).
* Fixed effects (``reghdfe`` / ``pyfixest.feols`` / ``xtreg, fe``): the
  effects are absorbed by the within transformation (alternating
  projections, :mod:`reexport.models.fe`); an ``Intercept`` term is dropped
  because the effects absorb it.  Singletons are dropped first, iteratively
  (``reghdfe`` and ``pyfixest`` defaults), and counted in
  ``dropped_rows["singletons"]``.  The residual degrees of freedom are
  ``N - k - absorbed`` with ``absorbed`` exact for one or two effects;
  cluster-robust covariances count an effect nested in a cluster variable
  as a single parameter.  ``r2`` is the overall R^2 with the effects as
  regressors, ``r2_within`` the R^2 of the demeaned regression.
* Weights (``weights=``, ``weights_type=``): Stata's ``[aweight=w]`` (rescaled to
  sum to the rows) or ``[fweight=w]`` (``N`` their sum): weighted least squares,
  weighted within transformation, and the covariance conventions of
  :mod:`reexport.models.covariance`; rows of weight zero leave the sample
  (``dropped_rows["zero_weight"]``).  PPML takes them as ``ppmlhdfe`` does
  (``[fweight]``, or ``[pweight]`` for analytic weights).
* PPML (``ppmlhdfe`` / ``pyfixest.fepois``): iteratively reweighted least
  squares with weighted within transformation at every step.  Separated
  observations (whose conditional mean is zero at the optimum, so that some
  coefficient diverges) are found first as ``ppmlhdfe`` finds them
  (:mod:`reexport.models.separation`: all-zero fixed-effect groups, the
  simplex method on the regressors, the iterative rectifier on regressors
  and effects together) and dropped, counted in ``dropped_rows`` under
  ``separated_fe``, ``separated_simplex`` and ``separated_relu``.  A fit that
  still has no finite maximum is refused (:class:`BadInputError`), never
  reported; inference is normal (``z``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from reexport.errors import BadInputError
from reexport.models import fe as fe_mod
from reexport.models import separation as separation_mod
from reexport.models.covariance import (
    WEIGHT_TYPES,
    CovData,
    CovSpec,
    CovSpecLike,
    cluster_codes,
    coerce_cov,
    compute_cov,
)
from reexport.models.results import ModelResult, RecomputeState
from reexport.periods import parse_month

log = logging.getLogger(__name__)

#: Relative tolerance for rank decisions in the pivoted QR of the scaled design.
RANK_TOL = 1e-10
#: A regressor whose within-transformed norm falls below this fraction of its
#: centred norm is treated as absorbed by the fixed effects.
ABSORBED_TOL = 1e-8
#: IRLS convergence: relative change of the deviance (fixest's criterion).
IRLS_TOL = 1e-10
IRLS_MAXITER = 100
#: ... and the largest IRLS step of the linear predictor on the zero-outcome rows must be
#: below this: a deviance that has settled while such means still shrink (by about 1 per
#: iteration) is separation, not a maximum.  Loose enough to stay above the rounding the
#: demeaning leaves in the predictor (its tolerance is relative to the largest working
#: value); rows with y > 0 are left out, since where mu << y their predictor carries the
#: rounding of the huge working residual (y - mu) / mu.
IRLS_ETA_TOL = 1e-4
#: Iterations with a settled deviance but a moving linear predictor before giving up.
IRLS_STALL_LIMIT = 10
#: A linear predictor moving by more than this per iteration counts as drifting.
IRLS_DRIFT = 1e-3
#: Step-halvings tried when the fitted mean overflows, vanishes or the deviance rises.
IRLS_MAX_HALVINGS = 30

ESTIMATORS = ("ols", "panel", "ppml")
INTERCEPT = "Intercept"

CovArg = CovSpecLike | Mapping[str, Any] | str | None
ArrayLike = Sequence[Any] | np.ndarray | pd.Series | pd.Index


# -- helpers -----------------------------------------------------------------------------
def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def time_ordinals(values: ArrayLike | pd.Series, *, where: str = "") -> np.ndarray:
    """Integer time positions for HAC lags and Driscoll-Kraay periods.

    Integers are used as they are; monthly periods (``YYYY-MM`` strings and
    the other forms :func:`reexport.periods.parse_month` reads, pandas
    ``Period`` or datetimes) become month ordinals, so lags count months.

    Parameters
    ----------
    values : array-like
    where : str
        Location for error messages.

    Returns
    -------
    numpy.ndarray of int64
    """
    # pd.Series keeps a Period/datetime dtype of an Index or array (np.asarray would not).
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    series = series.reset_index(drop=True)
    if series.isna().any():
        raise BadInputError(f"{_prefix(where)}the time column has missing values")
    if pd.api.types.is_integer_dtype(series.dtype):
        return series.to_numpy(dtype=np.int64)
    if isinstance(series.dtype, pd.PeriodDtype):
        return np.asarray([p.ordinal for p in series], dtype=np.int64)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = pd.DatetimeIndex(series)
        return np.asarray(stamps.year * 12 + stamps.month - 1, dtype=np.int64)
    if pd.api.types.is_float_dtype(series.dtype):
        floats = series.to_numpy(dtype=np.float64)
        if np.all(floats == np.round(floats)):
            return floats.astype(np.int64)
        raise BadInputError(f"{_prefix(where)}the time column is not integer or monthly")
    codes, uniques = pd.factorize(series)
    ordinals = np.asarray(
        [parse_month(u, what=f"{where} time" if where else "time").ordinal for u in uniques],
        dtype=np.int64,
    )
    return ordinals[codes]


#: Largest absolute value a term, the outcome or a weight may take: squares and
#: cross-products of the design (``X'X``, norms in the rank check) must stay finite in
#: double precision (about 1.8e308) for any realistic number of rows.
MAX_ABS_VALUE = 1e150


def _too_large(values: np.ndarray) -> float | None:
    """The largest absolute value when it exceeds :data:`MAX_ABS_VALUE`, else ``None``."""
    if values.size == 0:
        return None
    largest = float(np.max(np.abs(values)))
    return largest if largest > MAX_ABS_VALUE else None


def _as_float_matrix(X: pd.DataFrame, where: str) -> np.ndarray:
    try:
        matrix = X.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"{_prefix(where)}the design has non-numeric columns") from None
    if not np.isfinite(matrix).all():
        bad = [c for c in X.columns if not np.isfinite(X[c].to_numpy(dtype=float)).all()]
        raise BadInputError(f"{_prefix(where)}term {bad[0]!r} has missing or infinite values")
    for j, column in enumerate(X.columns):
        largest = _too_large(matrix[:, j])
        if largest is not None:
            raise BadInputError(
                f"{_prefix(where)}term {str(column)!r} has values too large to estimate with "
                f"(|{column}| up to {largest:.0e}); rescale it"
            )
    return matrix


def _as_float_vector(y: pd.Series | np.ndarray, where: str) -> np.ndarray:
    vector = np.asarray(y, dtype=np.float64)
    if not np.isfinite(vector).all():
        raise BadInputError(
            f"{_prefix(where)}the dependent variable has missing or infinite values"
        )
    largest = _too_large(vector)
    if largest is not None:
        raise BadInputError(
            f"{_prefix(where)}the dependent variable has values too large to estimate with "
            f"(up to {largest:.0e}); rescale it"
        )
    return vector


def _weight_vector(
    weights: ArrayLike | None, weights_type: str, n: int, where: str
) -> tuple[np.ndarray | None, str]:
    """Validated observation weights (as given) and the weight column's name.

    Stata's rules: weights must be finite and non-negative, frequency weights whole
    numbers; rows of weight zero are left out of the sample (see :func:`_positive_rows`).

    Raises
    ------
    BadInputError
        Unknown ``weights_type``, wrong length, non-numeric, missing, infinite,
        negative, all-zero or (frequency weights) fractional values.
    """
    if weights_type not in WEIGHT_TYPES:
        raise BadInputError(
            f"{_prefix(where)}unknown weights_type {weights_type!r} "
            f"(known: {', '.join(WEIGHT_TYPES)})"
        )
    if weights is None:
        return None, ""
    name = str(getattr(weights, "name", "") or "w")
    label = f"'weights' column {name!r}"
    try:
        vector = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise BadInputError(f"{_prefix(where)}{label} is not numeric") from None
    if len(vector) != n:
        raise BadInputError(f"{_prefix(where)}{label} has {len(vector)} values for {n} rows")
    if not np.isfinite(vector).all():
        raise BadInputError(f"{_prefix(where)}{label} has missing or infinite values")
    if (vector < 0).any():
        raise BadInputError(
            f"{_prefix(where)}{label} has negative values in {int((vector < 0).sum())} rows "
            f"(smallest {vector.min():g}); weights must be >= 0"
        )
    if weights_type == "fweight" and not np.all(vector == np.round(vector)):
        fractional = vector[vector != np.round(vector)]
        raise BadInputError(
            f"{_prefix(where)}{label} has non-integer values (e.g. {fractional[0]:g}); "
            "frequency weights (fweight) must be whole numbers"
        )
    if _too_large(vector) is not None or not vector.sum() > 0:
        what = "sums to zero" if not vector.sum() > 0 else "has values too large (rescale them)"
        raise BadInputError(f"{_prefix(where)}{label} {what}")
    return vector, name


def _positive_rows(
    weights: np.ndarray | None,
    y: pd.Series | np.ndarray,
    X: pd.DataFrame,
    groups: Mapping[str, ArrayLike] | None,
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None,
    time: ArrayLike | None,
    entity: ArrayLike | None,
) -> tuple[Any, ...]:
    """Every row-aligned input cut to the rows of positive weight (Stata drops weight 0)."""
    if weights is None or (weights > 0).all():
        return weights, y, X, groups, clusters, time, entity

    def cut(values: Any) -> Any:
        if values is None:
            return None
        if isinstance(values, pd.Series | pd.DataFrame):
            return values.iloc[positive]
        if isinstance(values, pd.Index):  # keeps a Period or datetime dtype for time_ordinals
            return values[positive]
        return np.asarray(values)[positive]

    positive = np.flatnonzero(weights > 0)
    cut_groups = None if groups is None else {k: cut(v) for k, v in groups.items()}
    cut_clusters = (
        None
        if clusters is None
        else clusters.iloc[positive]
        if isinstance(clusters, pd.DataFrame)
        else {k: cut(v) for k, v in clusters.items()}
    )
    return (
        weights[positive],
        cut(y),
        X.iloc[positive],
        cut_groups,
        cut_clusters,
        cut(time),
        cut(entity),
    )


def _scaled(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Rows times ``sqrt(w)`` (weighted least squares as OLS); ``values`` itself unweighted."""
    if weights is None:
        return values
    root = np.sqrt(weights)
    return values * (root[:, None] if values.ndim == 2 else root)


def _normalised(weights: np.ndarray, weights_type: str) -> np.ndarray:
    """Analytic weights rescaled to sum to the rows (Stata ``aweight``); fweights as given."""
    if weights_type == "aweight":
        return weights * (len(weights) / weights.sum())
    return weights


def _singleton_mask(
    effects: Sequence[fe_mod.FixedEffect],
    weights: np.ndarray | None,
    weights_type: str,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Rows kept after dropping singletons: counted in rows, or in frequency weights.

    ``rows`` (a mask over ``weights``) selects the weights of the rows ``effects`` cover.
    """
    if weights is None or weights_type != "fweight":
        return fe_mod.singleton_mask(effects)
    return fe_mod.singleton_mask(effects, counts=weights if rows is None else weights[rows])


def _no_rows_left(where: str, singletons: int) -> BadInputError:
    return BadInputError(
        f"{_prefix(where)}no observations left after dropping {singletons} singleton "
        "observations (set drop_singletons = false to keep them)"
    )


def check_rank(
    matrix: np.ndarray,
    names: Sequence[str],
    *,
    where: str = "",
    reference: np.ndarray | None = None,
) -> None:
    """Raise :class:`BadInputError` naming collinear terms if ``matrix`` lacks full column rank.

    Parameters
    ----------
    matrix : numpy.ndarray
        The design actually estimated (within-transformed when effects are absorbed).
    names : sequence of str
        Column names.
    where : str
        Location prefix, e.g. ``"spec.toml [model m1]"``.
    reference : numpy.ndarray, optional
        The design before the within transformation; a column whose
        transformed norm is negligible relative to its centred original is
        reported as collinear with the fixed effects.
    """
    n, k = matrix.shape
    if k == 0:
        return
    if n < k:
        raise BadInputError(
            f"{_prefix(where)}singular design: {n} observations for {k} coefficients"
        )
    if reference is not None:
        centred = np.linalg.norm(reference - reference.mean(axis=0), axis=0)
        remaining = np.linalg.norm(matrix, axis=0)
        absorbed = [
            names[j] for j in range(k) if remaining[j] <= ABSORBED_TOL * max(centred[j], 1e-300)
        ]
        if absorbed:
            raise BadInputError(
                f"{_prefix(where)}singular design: {absorbed[0]!r} is collinear with the "
                "fixed effects"
            )
    norms = np.linalg.norm(matrix, axis=0)
    zero = [names[j] for j in range(k) if norms[j] == 0]
    if zero:
        raise BadInputError(f"{_prefix(where)}singular design: {zero[0]!r} is identically zero")
    scaled = matrix / norms
    _, r, pivots = linalg.qr(scaled, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > RANK_TOL * diag[0]))
    if rank == k:
        return
    independent = np.sort(pivots[:rank])
    dependent = int(pivots[rank])
    coef, *_ = np.linalg.lstsq(scaled[:, independent], scaled[:, dependent], rcond=None)
    partners = [names[independent[i]] for i in np.flatnonzero(np.abs(coef) > 1e-6)]
    partner_text = ", ".join(repr(p) for p in partners) or "the other terms"
    raise BadInputError(
        f"{_prefix(where)}singular design: {names[dependent]!r} is collinear with {partner_text}"
    )


def _solve_ls(matrix: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares via QR; returns ``(beta, (X'X)^-1)``."""
    q, r = linalg.qr(matrix, mode="economic")
    beta = linalg.solve_triangular(r, q.T @ target)
    r_inv = linalg.solve_triangular(r, np.eye(r.shape[0]))
    return beta, r_inv @ r_inv.T


def _cluster_lookup_from(
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None, keep: np.ndarray | None
) -> dict[str, np.ndarray]:
    if clusters is None:
        return {}
    columns = (
        {c: clusters[c].to_numpy() for c in clusters.columns}
        if isinstance(clusters, pd.DataFrame)
        else {name: np.asarray(values) for name, values in clusters.items()}
    )
    if keep is not None:
        columns = {name: values[keep] for name, values in columns.items()}
    return cluster_codes(columns)


def _cov_data(
    options: CovSpec,
    *,
    scores: np.ndarray,
    bread: np.ndarray,
    rss: float,
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None,
    time: ArrayLike | None,
    entity: ArrayLike | None,
    keep: np.ndarray | None,
    where: str,
    effects: Sequence[fe_mod.FixedEffect] = (),
    absorbed_df: int = 0,
    family: str = "gaussian",
    weights: np.ndarray | None = None,
    weights_type: str = "aweight",
    weights_name: str = "",
) -> CovData:
    """Covariance inputs of a fit, with clusters, time and entity cut to the kept rows.

    ``clusters``, ``time`` and ``entity`` are aligned with the rows of the design
    as given; ``keep`` (``None`` = all) selects the estimation sample.  Raises
    naming a requested cluster variable that was not supplied.  ``weights`` (on the
    estimation sample, already normalised) make ``N`` the sum of the frequency
    weights for ``weights_type = "fweight"``; ``scores`` and ``rss`` must already
    carry them.
    """
    codes = _cluster_lookup_from(clusters, keep)
    for name in options.by:
        if name not in codes:
            raise BadInputError(f"{_prefix(where)}cluster variable {name!r} was not supplied")
    time_codes = None if time is None else time_ordinals(time, where=where)
    if time_codes is not None and keep is not None:
        time_codes = time_codes[keep]
    return CovData(
        scores=scores,
        bread=bread,
        rss=rss,
        nobs=_effective_nobs(scores.shape[0], weights, weights_type),
        n_slopes=scores.shape[1],
        effects=tuple(effects),
        absorbed_df=absorbed_df,
        family=family,
        clusters=codes,
        time=time_codes,
        entity=_entity_codes(entity, keep),
        weights=weights,
        weights_type=None if weights is None else weights_type,
        weights_name=weights_name,
    )


def _effective_nobs(rows: int, weights: np.ndarray | None, weights_type: str) -> int:
    """``N``: the rows, or the sum of the frequency weights (Stata ``[fweight]``)."""
    if weights is None or weights_type != "fweight":
        return rows
    return int(round(float(weights.sum())))


def _entity_codes(entity: ArrayLike | None, keep: np.ndarray | None) -> np.ndarray | None:
    if entity is None:
        return None
    values = np.asarray(entity)
    if keep is not None:
        values = values[keep]
    codes, _ = fe_mod.dense_codes(values)
    return codes.astype(np.int64)


# -- OLS ---------------------------------------------------------------------------------
def fit_ols(
    y: pd.Series | np.ndarray,
    X: pd.DataFrame,
    *,
    cov: CovArg = None,
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None = None,
    time: ArrayLike | None = None,
    entity: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    weights_type: str = "aweight",
    where: str = "",
    name: str = "",
    formula: str = "",
) -> ModelResult:
    """Ordinary least squares (Stata ``regress``) with a Stata-convention covariance.

    Parameters
    ----------
    y : pandas.Series or numpy.ndarray
        Dependent variable.
    X : pandas.DataFrame
        Design; column names are the term names (include ``Intercept`` for a constant).
    cov : CovSpec, mapping, str or None
        Covariance request (default ``nonrobust``).
    clusters : mapping or DataFrame, optional
        Cluster columns by name, aligned with the rows of ``X``.
    time : array-like, optional
        Time per row (integers or months) for HAC / Driscoll-Kraay; HAC uses
        row order when omitted.
    entity : array-like, optional
        Entity per row: HAC lags stay within an entity; Driscoll-Kraay counts panels.
    weights : array-like, optional
        Observation weights aligned with the rows of ``X`` (weighted least squares);
        rows of weight zero are left out (and counted in ``dropped_rows["zero_weight"]``).
    weights_type : {"aweight", "fweight"}
        ``"aweight"``: Stata's ``[aweight=w]`` (rescaled to sum to the rows, ``N`` the
        rows); ``"fweight"``: ``[fweight=w]`` (whole numbers, ``N`` their sum).
    where : str
        Location for error messages.
    name, formula : str
        Carried into the result.

    Returns
    -------
    ModelResult
    """
    options = coerce_cov(cov, where=where)
    raw_weights, weights_name = _weight_vector(weights, weights_type, len(X), where)
    zero_weight = 0 if raw_weights is None else int((raw_weights == 0).sum())
    raw_weights, y, X, _, clusters, time, entity = _positive_rows(
        raw_weights, y, X, None, clusters, time, entity
    )
    names = [str(c) for c in X.columns]
    matrix = _as_float_matrix(X, where)
    target = _as_float_vector(y, where)
    check_rank(matrix, names, where=where)
    n, k = matrix.shape
    w = None if raw_weights is None else _normalised(raw_weights, weights_type)
    beta, bread = _solve_ls(_scaled(matrix, w), _scaled(target, w))
    fitted = matrix @ beta
    resid = target - fitted
    weighted_resid = resid if w is None else w * resid
    rss = float(resid @ weighted_resid)
    has_intercept = INTERCEPT in names
    centre = np.average(target, weights=w) if has_intercept else 0.0
    tss = float(((target - centre) ** 2 * (1.0 if w is None else w)).sum())
    data = _cov_data(
        options,
        scores=matrix * weighted_resid[:, None],
        bread=bread,
        rss=rss,
        clusters=clusters,
        time=time,
        entity=entity,
        keep=None,
        where=where,
        weights=w,
        weights_type=weights_type,
        weights_name=weights_name,
    )
    cov_result = _compute(options, data, where)
    index = X.index
    return ModelResult.build(
        name=name,
        estimator="ols",
        formula=formula,
        terms=tuple(names),
        params=beta,
        options=options,
        cov_result=cov_result,
        nobs=data.nobs,
        df_resid=data.nobs - k,
        state=RecomputeState(data),
        r2=1.0 - rss / tss if tss > 0 else None,
        depvar=str(getattr(y, "name", "") or ""),
        dropped_rows={"zero_weight": zero_weight} if zero_weight else {},
        _resid=resid,
        _fitted=fitted,
        _rows=index,
    )


def _compute(options: CovSpec, data: CovData, where: str) -> Any:
    try:
        return compute_cov(options, data)
    except BadInputError as exc:
        if where and not str(exc).startswith(where):
            raise BadInputError(f"{_prefix(where)}{exc}") from None
        raise


# -- fixed effects -------------------------------------------------------------------------
def fit_fe(
    y: pd.Series | np.ndarray,
    X: pd.DataFrame,
    *,
    effects: Mapping[str, ArrayLike],
    cov: CovArg = None,
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None = None,
    time: ArrayLike | None = None,
    entity: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    weights_type: str = "aweight",
    drop_singletons: bool = True,
    tol: float = fe_mod.DEFAULT_TOL,
    where: str = "",
    name: str = "",
    formula: str = "",
) -> ModelResult:
    """Linear regression absorbing one or more fixed effects (``reghdfe`` / ``pyfixest.feols``).

    Parameters
    ----------
    y, X
        As for :func:`fit_ols`; an ``Intercept`` column is dropped (absorbed).
    effects : mapping
        Fixed-effect label columns by name, aligned with the rows of ``X``;
        an empty mapping gives pooled OLS.
    cov, clusters, time, entity, weights, weights_type, where, name, formula
        As for :func:`fit_ols`.  With weights the within transformation is
        weighted (``reghdfe``/``areg`` with ``[aweight]``/``[fweight]``).
    drop_singletons : bool
        Drop singleton groups first (default, as ``reghdfe`` and ``pyfixest``);
        ``False`` keeps them, as ``xtreg, fe`` and ``areg`` do.  With frequency
        weights a singleton is a level whose weights sum to 1 (``reghdfe``).
    tol : float
        Convergence tolerance of the alternating projections.

    Returns
    -------
    ModelResult
    """
    if not effects:
        result = fit_ols(
            y, X, cov=cov, clusters=clusters, time=time, entity=entity, weights=weights,
            weights_type=weights_type, where=where, name=name, formula=formula,
        )  # fmt: skip
        return result
    options = coerce_cov(cov, where=where)
    raw_weights, weights_name = _weight_vector(weights, weights_type, len(X), where)
    dropped: dict[str, int] = {}
    if raw_weights is not None and (raw_weights == 0).any():
        dropped["zero_weight"] = int((raw_weights == 0).sum())
    raw_weights, y, X, effects, clusters, time, entity = _positive_rows(
        raw_weights, y, X, effects, clusters, time, entity
    )
    names = [str(c) for c in X.columns if str(c) != INTERCEPT]
    matrix = _as_float_matrix(X[[c for c in X.columns if str(c) != INTERCEPT]], where)
    target = _as_float_vector(y, where)
    fixed = fe_mod.effects_from_columns(effects)
    keep: np.ndarray | None = None
    if drop_singletons:
        mask = _singleton_mask(fixed, raw_weights, weights_type)
        if not mask.all():
            keep = mask
            dropped["singletons"] = int((~mask).sum())
            if not mask.any():
                raise _no_rows_left(where, dropped["singletons"])
            fixed = [f.subset(mask) for f in fixed]
            matrix, target = matrix[mask], target[mask]
            raw_weights = None if raw_weights is None else raw_weights[mask]
            log.info("%sdropped %d singleton observations", _prefix(where), dropped["singletons"])
    n, k = matrix.shape
    w = None if raw_weights is None else _normalised(raw_weights, weights_type)
    stacked = np.column_stack([target, matrix])
    demeaned, iterations = fe_mod.demean(stacked, fixed, tol=tol, weights=w)
    log.debug("%sdemeaning converged in %d sweeps", _prefix(where), iterations)
    y_within, x_within = demeaned[:, 0], demeaned[:, 1:]
    check_rank(_scaled(x_within, w), names, where=where, reference=_scaled(matrix, w))
    absorbed = fe_mod.absorbed_df(fixed)
    if k:
        beta, bread = _solve_ls(_scaled(x_within, w), _scaled(y_within, w))
    else:
        beta, bread = np.zeros(0), np.zeros((0, 0))
    resid = y_within - x_within @ beta
    weighted_resid = resid if w is None else w * resid
    rss = float(resid @ weighted_resid)
    weight_or_one = 1.0 if w is None else w
    tss = float(((target - np.average(target, weights=w)) ** 2 * weight_or_one).sum())
    tss_within = float((y_within**2 * weight_or_one).sum())
    data = _cov_data(
        options,
        scores=x_within * weighted_resid[:, None],
        bread=bread,
        rss=rss,
        clusters=clusters,
        time=time,
        entity=entity,
        keep=keep,
        where=where,
        effects=fixed,
        absorbed_df=absorbed,
        weights=w,
        weights_type=weights_type,
        weights_name=weights_name,
    )
    cov_result = _compute(options, data, where)
    index = X.index if keep is None else X.index[keep]
    return ModelResult.build(
        name=name,
        estimator="panel",
        formula=formula,
        terms=tuple(names),
        params=beta,
        options=options,
        cov_result=cov_result,
        nobs=data.nobs,
        df_resid=data.nobs - k - absorbed,
        state=RecomputeState(data),
        r2=1.0 - rss / tss if tss > 0 else None,
        r2_within=1.0 - rss / tss_within if tss_within > 0 else None,
        effects=tuple(effects),
        dropped_rows=dropped,
        depvar=str(getattr(y, "name", "") or ""),
        _resid=resid,
        _fitted=target - resid,
        _rows=index,
    )


# -- Poisson PPML --------------------------------------------------------------------------
def fit_ppml(
    y: pd.Series | np.ndarray,
    X: pd.DataFrame,
    *,
    effects: Mapping[str, ArrayLike] | None = None,
    cov: CovArg = None,
    clusters: Mapping[str, ArrayLike] | pd.DataFrame | None = None,
    time: ArrayLike | None = None,
    entity: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    weights_type: str = "aweight",
    drop_singletons: bool = True,
    separation: Sequence[str] = separation_mod.SEPARATION_METHODS,
    tol: float = IRLS_TOL,
    maxiter: int = IRLS_MAXITER,
    where: str = "",
    name: str = "",
    formula: str = "",
) -> ModelResult:
    """Poisson pseudo-maximum likelihood with optional fixed effects (``ppmlhdfe``).

    Parameters
    ----------
    y : pandas.Series or numpy.ndarray
        Non-negative outcome (levels, not logs; zeros allowed).
    X : pandas.DataFrame
        Design; ``Intercept`` is dropped when effects are absorbed.
    effects : mapping, optional
        Fixed-effect label columns by name.
    cov, clusters, time, entity, where, name, formula
        As for :func:`fit_ols`.
    weights, weights_type
        Observation weights, as ``ppmlhdfe``: ``"fweight"`` is ``[fweight=w]``;
        ``"aweight"`` is ``[pweight=w]`` (ppmlhdfe has no analytic weights; the
        point estimates are the same, and the covariance must be robust or
        clustered).  The IRLS weights are ``w * mu``.
    drop_singletons : bool
        Drop singleton groups first (as ``ppmlhdfe`` and ``pyfixest``).
    separation : sequence of str
        Separation checks run before fitting (:func:`reexport.models.separation.detect`):
        any of ``"fe"``, ``"simplex"``, ``"relu"``; default all three, as
        ``ppmlhdfe``.  Rows dropped are counted in ``dropped_rows`` under
        ``separated_fe``, ``separated_simplex`` and ``separated_relu``.
    tol : float
        Convergence tolerance on the relative change in deviance (``fixest``'s
        criterion); the linear predictor of the zero-outcome rows must also
        have stopped moving (largest step below :data:`IRLS_ETA_TOL`).
    maxiter : int
        Maximum IRLS iterations.

    Returns
    -------
    ModelResult
        Response residuals ``y - mu`` in ``resid``; ``r2`` is the squared
        correlation of ``y`` and ``mu``.

    Raises
    ------
    BadInputError
        One line naming the model (``where``) when the fit has no finite
        maximum or cannot reach it: no convergence in ``maxiter`` iterations,
        the fitted mean of zero-outcome rows still falling once the deviance
        has converged (separation the chosen checks did not remove), the
        fitted mean overflowing even after step-halving, or a design that is
        (or becomes, under the IRLS weights) singular.
    """
    options = coerce_cov(cov, where=where)
    raw_weights, weights_name = _weight_vector(weights, weights_type, len(X), where)
    zero_weight = 0 if raw_weights is None else int((raw_weights == 0).sum())
    raw_weights, y, X, effects, clusters, time, entity = _positive_rows(
        raw_weights, y, X, effects, clusters, time, entity
    )
    effects = effects or {}
    columns = [c for c in X.columns if not (effects and str(c) == INTERCEPT)]
    names = [str(c) for c in columns]
    matrix = _as_float_matrix(X[columns], where)
    target = _as_float_vector(y, where)
    if (target < 0).any():
        raise BadInputError(f"{_prefix(where)}ppml needs a non-negative outcome")
    fixed = fe_mod.effects_from_columns(effects)
    found = separation_mod.detect(
        target,
        matrix,
        fixed,
        methods=separation,
        drop_singletons=drop_singletons,
        row_counts=raw_weights if weights_type == "fweight" else None,
        where=where,
    )
    keep, dropped = found.keep, found.dropped_rows
    fixed = [f.subset(keep) for f in fixed]
    separated = int(found.separated.sum())
    plural = "s" if separated != 1 else ""
    context = f" (after dropping {separated} separated observation{plural})" if separated else ""
    matrix, target = matrix[keep], target[keep]
    w = None if raw_weights is None else _normalised(raw_weights[keep], weights_type)
    obs_weights = np.ones(len(target)) if w is None else w
    if len(target) == 0 and dropped.get("singletons"):
        raise _no_rows_left(where, dropped["singletons"])
    if len(target) == 0 or target.sum() <= 0:
        raise BadInputError(f"{_prefix(where)}ppml: the outcome is zero everywhere")
    n, k = matrix.shape
    reference = matrix if fixed else None
    mu = (target + target.mean()) / 2.0
    eta = np.log(mu)
    deviance_old = np.inf
    x_within = matrix
    irls_weights = mu
    beta = np.zeros(k)
    stalled = 0
    zero_outcome = target == 0
    # One demeaner for the whole loop; early steps demean loosely (fe.irls_tolerance), as
    # fixest does, and the loop only stops after a step demeaned to the final tolerance.
    # Each step warm-starts from the previous step's fixed-effect part.  Where that part
    # drifts (separated data with the checks off, ppmlhdfe example 03) small sweeps do not
    # prove a small error, so the demeaner certifies the rate before stopping and otherwise
    # starts the column again cold (fe._iterate_column): the drift that proves there is
    # no finite maximum is not hidden.
    demeaner = fe_mod.Demeaner(fixed) if fixed else None
    deviance_change = np.inf
    for iteration in range(1, maxiter + 1):
        irls_weights = mu * obs_weights
        working = eta + (target - mu) / mu
        stacked = np.column_stack([working, matrix])
        step_tol = fe_mod.irls_tolerance(deviance_change)
        demeaned = _ppml_demean(
            stacked, demeaner, irls_weights, tol=step_tol, where=where, iteration=iteration
        )
        z_within, x_within = demeaned[:, 0], demeaned[:, 1:]
        root = np.sqrt(irls_weights)
        beta_new = beta
        if k:
            beta_new = _ppml_solve(
                x_within * root[:, None],
                z_within * root,
                names,
                where=where,
                iteration=iteration,
                reference=None if reference is None else reference * root[:, None],
                context=context,
            )
        # Without effects the predictor is X b exactly; `working - resid` would cancel
        # catastrophically on rows whose working residual (y - mu) / mu is huge.
        eta_new = working - (z_within - x_within @ beta_new) if fixed else matrix @ beta_new
        # The full Newton step on the zero-outcome rows (where separation shows as a mean
        # falling for ever) measures convergence, even when step-halving shortens it.
        step = np.where(zero_outcome, eta_new - eta, 0.0)
        eta, beta, mu, deviance = _ppml_step(
            target,
            eta,
            beta,
            eta_new,
            beta_new,
            deviance_old,
            obs_weights,
            where=where,
            iteration=iteration,
        )
        deviance_change = abs(deviance - deviance_old) / (0.1 + abs(deviance))
        if deviance_change < tol and step_tol <= fe_mod.DEFAULT_TOL:
            if np.abs(step).max() < IRLS_ETA_TOL:
                break
            # Counted, not reset: near a receding optimum the deviance criterion flickers.
            stalled += 1
            if stalled >= IRLS_STALL_LIMIT:
                raise _no_maximum(step, found.methods, where=where)
        deviance_old = deviance
    else:
        if stalled and _falling(step).any():
            raise _no_maximum(step, found.methods, where=where)
        raise BadInputError(
            f"{_prefix(where)}ppml did not converge in {maxiter} iterations (relative deviance "
            f"change {deviance_change:.1e}, largest step of the linear predictor "
            f"{np.abs(step).max():.1e})"
        )
    # Covariance ingredients at the solution: Hessian X~'WX~ with the final weights.
    irls_weights = mu * obs_weights
    if fixed and k:
        # Demeaning is a projection that annihilates the effects, so the last step's
        # (nearly demeaned) x~ projects to the same answer as x, in far fewer sweeps.
        x_within, _ = fe_mod.demean(x_within, fixed, weights=irls_weights)
    root = np.sqrt(irls_weights)[:, None]
    check_rank(
        x_within * root,
        names,
        where=where,
        reference=None if reference is None else reference * root,
    )
    if k:
        _, bread = _solve_ls(x_within * np.sqrt(irls_weights)[:, None], np.zeros(n))
    else:
        bread = np.zeros((0, 0))
    response_resid = target - mu
    absorbed = fe_mod.absorbed_df(fixed)
    data = _cov_data(
        options,
        scores=x_within * (obs_weights * response_resid)[:, None],
        bread=bread,
        rss=float(response_resid @ (obs_weights * response_resid)),
        clusters=clusters,
        time=time,
        entity=entity,
        keep=keep,
        where=where,
        effects=fixed,
        absorbed_df=absorbed,
        family="poisson",
        weights=w,
        weights_type=weights_type,
        weights_name=weights_name,
    )
    cov_result = _compute(options, data, where)
    corr = _weighted_corr(target, mu, w) if n > 1 and np.std(mu) > 0 else np.nan
    return ModelResult.build(
        name=name,
        estimator="ppml",
        formula=formula,
        terms=tuple(names),
        params=beta,
        options=options,
        cov_result=cov_result,
        nobs=data.nobs,
        df_resid=data.nobs - k - absorbed,
        state=RecomputeState(data),
        r2=float(corr**2) if np.isfinite(corr) else None,
        effects=tuple(effects),
        dropped_rows={k_: v for k_, v in {**dropped, "zero_weight": zero_weight}.items() if v},
        depvar=str(getattr(y, "name", "") or ""),
        _resid=response_resid,
        _fitted=mu,
        _rows=X.index[keep],
    )


def _weighted_corr(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None) -> float:
    """Correlation of ``a`` and ``b`` (weighted; ``numpy.corrcoef`` when unweighted)."""
    if weights is None:
        return float(np.corrcoef(a, b)[0, 1])
    cov = np.cov(a, b, aweights=weights)
    return float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))


def _ppml_demean(
    stacked: np.ndarray,
    demeaner: fe_mod.Demeaner | None,
    weights: np.ndarray,
    *,
    tol: float,
    where: str,
    iteration: int,
) -> np.ndarray:
    """IRLS within transformation; a demeaning failure names the model and the iteration."""
    if demeaner is None:
        return stacked
    try:
        demeaned, _ = demeaner.demean(stacked, weights=weights, warm=True, tol=tol)
    except BadInputError as exc:
        raise BadInputError(f"{_prefix(where)}ppml iteration {iteration}: {exc}") from None
    return demeaned


def _ppml_solve(
    weighted_x: np.ndarray,
    weighted_z: np.ndarray,
    names: Sequence[str],
    *,
    where: str,
    iteration: int,
    reference: np.ndarray | None,
    context: str = "",
) -> np.ndarray:
    """One IRLS least-squares step, refusing a design that is or turns singular under the weights.

    The first iteration runs the full :func:`check_rank` (naming a collinear
    term; ``context`` is appended, e.g. that separated rows were dropped,
    which is how a separating regressor becomes collinear); later iterations
    check the triangular factor they use anyway, and only when it is
    degenerate call :func:`check_rank` for the message.
    """
    if iteration == 1:
        try:
            check_rank(weighted_x, names, where=where, reference=reference)
        except BadInputError as exc:
            raise BadInputError(f"{exc}{context}") from None
    norms = np.linalg.norm(weighted_x, axis=0)
    if np.isfinite(weighted_x).all() and (norms > 0).all():
        q, r = linalg.qr(weighted_x, mode="economic")
        # |R_jj| / |x_j| is the sine of the angle between column j and the earlier ones.
        if (np.abs(np.diag(r)) > RANK_TOL * norms).all():
            return np.asarray(linalg.solve_triangular(r, q.T @ weighted_z))
    try:
        check_rank(weighted_x, names, where=where)
    except (BadInputError, ValueError, np.linalg.LinAlgError) as exc:
        text = str(exc) if isinstance(exc, BadInputError) else f"{_prefix(where)}singular design"
        raise BadInputError(f"{text} (under the ppml weights of iteration {iteration})") from None
    raise BadInputError(
        f"{_prefix(where)}ppml: the weighted design turned singular at iteration {iteration}"
    )


def _ppml_step(
    target: np.ndarray,
    eta: np.ndarray,
    beta: np.ndarray,
    eta_new: np.ndarray,
    beta_new: np.ndarray,
    deviance_old: float,
    obs_weights: np.ndarray,
    *,
    where: str,
    iteration: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Take the IRLS step, halving it while the fitted mean is not finite and positive.

    R's ``glm`` halves a step whose deviance is not finite; as ``glm2``
    (Marschner 2011), a step is also halved while the deviance rises (beyond
    a 1e-9 relative slack for rounding).  Returns ``(eta, beta, mu, deviance)``.
    """
    fraction = 1.0
    for _ in range(IRLS_MAX_HALVINGS + 1):
        eta_try = eta + fraction * (eta_new - eta)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            mu = np.exp(eta_try)
        if np.isfinite(mu).all() and (mu > 0).all():
            deviance = _poisson_deviance(target, mu, obs_weights)
            if np.isfinite(deviance) and deviance <= deviance_old + 1e-9 * abs(deviance_old):
                return eta_try, beta + fraction * (beta_new - beta), mu, deviance
        fraction /= 2.0
    finite = eta_new[np.isfinite(eta_new)]
    span = f" (linear predictor up to {np.abs(finite).max():.3g})" if finite.size else ""
    raise BadInputError(
        f"{_prefix(where)}ppml diverged at iteration {iteration}: the fitted mean overflows or "
        f"vanishes even after step-halving{span}"
    )


def _falling(step: np.ndarray) -> np.ndarray:
    """Rows whose predictor drifts, if every drifting row falls (separation's signature), else none.

    ``step`` is the last full IRLS step of the linear predictor, zero on rows
    with a positive outcome.
    """
    moving = np.abs(step) > IRLS_DRIFT
    return moving if (step[moving] < 0).all() else np.zeros_like(moving)


def _no_maximum(step: np.ndarray, methods: Sequence[str], *, where: str) -> BadInputError:
    """The error for a fit whose deviance settled while zero-outcome rows' predictor still moves."""
    falling = _falling(step)
    checks = ", ".join(methods) or "none"
    count = int(falling.sum())
    if count:
        return BadInputError(
            f"{_prefix(where)}ppml has no finite maximum: the fitted mean of {count} "
            f"observation{'' if count == 1 else 's'} with a zero outcome keeps falling towards "
            f"zero (separation not removed by the checks used: {checks})"
        )
    return BadInputError(
        f"{_prefix(where)}ppml did not converge: the deviance settled but the linear predictor "
        f"of observations with a zero outcome still moves by {np.abs(step).max():.1e}"
    )


def _poisson_deviance(
    target: np.ndarray, mu: np.ndarray, weights: np.ndarray | float = 1.0
) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(target > 0, target * np.log(target / mu), 0.0)
    return float(2.0 * np.sum(weights * (term - (target - mu))))
