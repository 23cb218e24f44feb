"""Estimators: OLS, fixed-effects panel OLS and Poisson PPML, with Stata-convention covariances.

:func:`fit` takes a :class:`reexport.models.spec.ModelSpec` and a data frame;
the lower-level :func:`fit_ols`, :func:`fit_fe` and :func:`fit_ppml` take a
dependent variable, a design matrix with named columns and plain arrays.

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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import linalg

from reexport.errors import BadInputError
from reexport.models import fe as fe_mod
from reexport.models import separation as separation_mod
from reexport.models.covariance import (
    CovData,
    CovSpecLike,
    cluster_codes,
    coerce_cov,
    compute_cov,
)
from reexport.models.results import ModelResult, RecomputeState
from reexport.periods import parse_month

if TYPE_CHECKING:
    from reexport.models.spec import CovSpec, ModelSpec

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


def _as_float_matrix(X: pd.DataFrame, where: str) -> np.ndarray:
    try:
        matrix = X.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"{_prefix(where)}the design has non-numeric columns") from None
    if not np.isfinite(matrix).all():
        bad = [c for c in X.columns if not np.isfinite(X[c].to_numpy(dtype=float)).all()]
        raise BadInputError(f"{_prefix(where)}term {bad[0]!r} has missing or infinite values")
    return matrix


def _as_float_vector(y: pd.Series | np.ndarray, where: str) -> np.ndarray:
    vector = np.asarray(y, dtype=np.float64)
    if not np.isfinite(vector).all():
        raise BadInputError(
            f"{_prefix(where)}the dependent variable has missing or infinite values"
        )
    return vector


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
) -> CovData:
    """Covariance inputs of a fit, with clusters, time and entity cut to the kept rows.

    ``clusters``, ``time`` and ``entity`` are aligned with the rows of the design
    as given; ``keep`` (``None`` = all) selects the estimation sample.  Raises
    naming a requested cluster variable that was not supplied.
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
        nobs=scores.shape[0],
        n_slopes=scores.shape[1],
        effects=tuple(effects),
        absorbed_df=absorbed_df,
        family=family,
        clusters=codes,
        time=time_codes,
        entity=_entity_codes(entity, keep),
    )


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
    where : str
        Location for error messages.
    name, formula : str
        Carried into the result.

    Returns
    -------
    ModelResult
    """
    options = coerce_cov(cov, where=where)
    names = [str(c) for c in X.columns]
    matrix = _as_float_matrix(X, where)
    target = _as_float_vector(y, where)
    check_rank(matrix, names, where=where)
    beta, bread = _solve_ls(matrix, target)
    fitted = matrix @ beta
    resid = target - fitted
    rss = float(resid @ resid)
    n, k = matrix.shape
    has_intercept = INTERCEPT in names
    tss = float(((target - target.mean()) ** 2).sum()) if has_intercept else float(target @ target)
    data = _cov_data(
        options,
        scores=matrix * resid[:, None],
        bread=bread,
        rss=rss,
        clusters=clusters,
        time=time,
        entity=entity,
        keep=None,
        where=where,
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
        nobs=n,
        df_resid=n - k,
        state=RecomputeState(data),
        r2=1.0 - rss / tss if tss > 0 else None,
        depvar=str(getattr(y, "name", "") or ""),
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
    cov, clusters, time, entity, where, name, formula
        As for :func:`fit_ols`.
    drop_singletons : bool
        Drop singleton groups first (default, as ``reghdfe`` and ``pyfixest``).
    tol : float
        Convergence tolerance of the alternating projections.

    Returns
    -------
    ModelResult
    """
    if not effects:
        result = fit_ols(
            y, X, cov=cov, clusters=clusters, time=time, entity=entity,
            where=where, name=name, formula=formula,
        )  # fmt: skip
        return result
    options = coerce_cov(cov, where=where)
    names = [str(c) for c in X.columns if str(c) != INTERCEPT]
    matrix = _as_float_matrix(X[[c for c in X.columns if str(c) != INTERCEPT]], where)
    target = _as_float_vector(y, where)
    fixed = fe_mod.effects_from_columns(effects)
    keep: np.ndarray | None = None
    dropped: dict[str, int] = {}
    if drop_singletons:
        mask = fe_mod.singleton_mask(fixed)
        if not mask.all():
            keep = mask
            dropped["singletons"] = int((~mask).sum())
            fixed = [f.subset(mask) for f in fixed]
            matrix, target = matrix[mask], target[mask]
            log.info("%sdropped %d singleton observations", _prefix(where), dropped["singletons"])
    n, k = matrix.shape
    stacked = np.column_stack([target, matrix])
    demeaned, iterations = fe_mod.demean(stacked, fixed, tol=tol)
    log.debug("%sdemeaning converged in %d sweeps", _prefix(where), iterations)
    y_within, x_within = demeaned[:, 0], demeaned[:, 1:]
    check_rank(x_within, names, where=where, reference=matrix)
    absorbed = fe_mod.absorbed_df(fixed)
    if k:
        beta, bread = _solve_ls(x_within, y_within)
    else:
        beta, bread = np.zeros(0), np.zeros((0, 0))
    resid = y_within - x_within @ beta
    rss = float(resid @ resid)
    tss = float(((target - target.mean()) ** 2).sum())
    tss_within = float(y_within @ y_within)
    data = _cov_data(
        options,
        scores=x_within * resid[:, None],
        bread=bread,
        rss=rss,
        clusters=clusters,
        time=time,
        entity=entity,
        keep=keep,
        where=where,
        effects=fixed,
        absorbed_df=absorbed,
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
        nobs=n,
        df_resid=n - k - absorbed,
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
    effects = effects or {}
    columns = [c for c in X.columns if not (effects and str(c) == INTERCEPT)]
    names = [str(c) for c in columns]
    matrix = _as_float_matrix(X[columns], where)
    target = _as_float_vector(y, where)
    if (target < 0).any():
        raise BadInputError(f"{_prefix(where)}ppml needs a non-negative outcome")
    fixed = fe_mod.effects_from_columns(effects)
    found = separation_mod.detect(
        target, matrix, fixed, methods=separation, drop_singletons=drop_singletons, where=where
    )
    keep, dropped = found.keep, found.dropped_rows
    fixed = [f.subset(keep) for f in fixed]
    separated = int(found.separated.sum())
    plural = "s" if separated != 1 else ""
    context = f" (after dropping {separated} separated observation{plural})" if separated else ""
    matrix, target = matrix[keep], target[keep]
    if len(target) == 0 or target.sum() <= 0:
        raise BadInputError(f"{_prefix(where)}ppml: the outcome is zero everywhere")
    n, k = matrix.shape
    reference = matrix if fixed else None
    mu = (target + target.mean()) / 2.0
    eta = np.log(mu)
    deviance_old = np.inf
    x_within = matrix
    weights = mu
    beta = np.zeros(k)
    stalled = 0
    zero_outcome = target == 0
    for iteration in range(1, maxiter + 1):
        weights = mu
        working = eta + (target - mu) / mu
        stacked = np.column_stack([working, matrix])
        demeaned = _ppml_demean(stacked, fixed, weights, where=where, iteration=iteration)
        z_within, x_within = demeaned[:, 0], demeaned[:, 1:]
        root = np.sqrt(weights)
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
            target, eta, beta, eta_new, beta_new, deviance_old, where=where, iteration=iteration
        )
        deviance_change = abs(deviance - deviance_old) / (0.1 + abs(deviance))
        if deviance_change < tol:
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
    weights = mu
    if fixed and k:
        x_within, _ = fe_mod.demean(matrix, fixed, weights=weights)
    root = np.sqrt(weights)[:, None]
    check_rank(
        x_within * root,
        names,
        where=where,
        reference=None if reference is None else reference * root,
    )
    if k:
        _, bread = _solve_ls(x_within * np.sqrt(weights)[:, None], np.zeros(n))
    else:
        bread = np.zeros((0, 0))
    response_resid = target - mu
    absorbed = fe_mod.absorbed_df(fixed)
    data = _cov_data(
        options,
        scores=x_within * response_resid[:, None],
        bread=bread,
        rss=float(response_resid @ response_resid),
        clusters=clusters,
        time=time,
        entity=entity,
        keep=keep,
        where=where,
        effects=fixed,
        absorbed_df=absorbed,
        family="poisson",
    )
    cov_result = _compute(options, data, where)
    corr = np.corrcoef(target, mu)[0, 1] if n > 1 and np.std(mu) > 0 else np.nan
    return ModelResult.build(
        name=name,
        estimator="ppml",
        formula=formula,
        terms=tuple(names),
        params=beta,
        options=options,
        cov_result=cov_result,
        nobs=n,
        df_resid=n - k - absorbed,
        state=RecomputeState(data),
        r2=float(corr**2) if np.isfinite(corr) else None,
        effects=tuple(effects),
        dropped_rows={k_: v for k_, v in dropped.items() if v},
        depvar=str(getattr(y, "name", "") or ""),
        _resid=response_resid,
        _fitted=mu,
        _rows=X.index[keep],
    )


def _ppml_demean(
    stacked: np.ndarray,
    fixed: Sequence[fe_mod.FixedEffect],
    weights: np.ndarray,
    *,
    where: str,
    iteration: int,
) -> np.ndarray:
    """IRLS within transformation; a demeaning failure names the model and the iteration."""
    if not fixed:
        return stacked
    try:
        demeaned, _ = fe_mod.demean(stacked, fixed, weights=weights)
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
            deviance = _poisson_deviance(target, mu)
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


def _poisson_deviance(target: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(target > 0, target * np.log(target / mu), 0.0)
    return float(2.0 * np.sum(term - (target - mu)))


# -- spec-level entry point ------------------------------------------------------------------
def fit(model: ModelSpec, frame: pd.DataFrame) -> ModelResult:
    """Estimate one model of a spec on ``frame``.

    Materialises the formula (time-aware lags, dropping incomplete rows),
    absorbs the requested effects, estimates with ``model.estimator`` and
    computes ``model.cov``.

    Parameters
    ----------
    model : reexport.models.spec.ModelSpec
    frame : pandas.DataFrame
        The study frame (e.g. ``study_world.csv`` read by the caller).

    Returns
    -------
    ModelResult
        Carrying the spec's name, group, variant and the dropped-row counts.
    """
    from reexport.models.formula import materialize

    where = model.where or f"model {model.name}"
    if model.estimator not in ESTIMATORS:
        raise BadInputError(
            f"{where}: unknown estimator {model.estimator!r} (known: {', '.join(ESTIMATORS)})"
        )
    options = coerce_cov(model.cov, where=where)
    design = materialize(
        model.formula,
        frame,
        time=model.time,
        entity=model.entity,
        where=where,
        sample=getattr(model, "sample", None),
    )
    sample = frame.loc[design.rows]

    # Each label column is factorised once and its integer codes reused for effects,
    # clusters, entity and time (hashing a million strings repeatedly dominated runtime).
    encoded: dict[str, tuple[np.ndarray, Any]] = {}

    def codes_of(name: str, role: str) -> np.ndarray:
        if name not in sample.columns:
            raise BadInputError(f"{where}: {role} column {name!r} is not in the data")
        if name not in encoded:
            codes, uniques = pd.factorize(sample[name], sort=False)
            if (codes < 0).any():
                raise BadInputError(f"{where}: {role} column {name!r} has missing values")
            encoded[name] = (codes.astype(np.intp), uniques)
        return encoded[name][0]

    effect_columns: dict[str, np.ndarray] = {}
    for effect in model.effects:
        if effect == "entity":
            if not model.entity:
                raise BadInputError(f"{where}: effects include 'entity' but no entity is named")
            effect_columns[model.entity] = codes_of(model.entity, "entity")
        elif effect == "time":
            if not model.time:
                raise BadInputError(f"{where}: effects include 'time' but no time is named")
            effect_columns[model.time] = codes_of(model.time, "time")
        else:
            raise BadInputError(f"{where}: unknown effect {effect!r} (known: 'entity', 'time')")

    cluster_columns = {b: codes_of(model.column(b), "cluster") for b in options.by}
    time_values: np.ndarray | None = None
    if model.time:
        time_codes = codes_of(model.time, "time")
        time_values = time_ordinals(encoded[model.time][1], where=where)[time_codes]
    entity_values = codes_of(model.entity, "entity") if model.entity else None
    common: dict[str, Any] = {
        "cov": options,
        "clusters": cluster_columns,
        "time": time_values,
        "entity": entity_values,
        "where": where,
        "name": model.name,
        "formula": model.formula,
    }
    if model.estimator == "ppml":
        result = fit_ppml(design.y, design.X, effects=effect_columns, **common)
    elif effect_columns:
        result = fit_fe(design.y, design.X, effects=effect_columns, **common)
    else:
        result = fit_ols(design.y, design.X, **common)

    kept_rows = result._rows if result._rows is not None else design.rows

    def lookup(name: str) -> np.ndarray:
        values = frame.loc[kept_rows]
        source = model.column(name)
        if source not in values.columns:
            raise BadInputError(f"{where}: cluster column {source!r} is not in the data")
        return cluster_codes({name: values[source].to_numpy()})[name]

    dropped = {str(k): int(v) for k, v in dict(design.dropped).items()}
    dropped.update(result.dropped_rows)
    state = result._state
    sample_spec = getattr(model, "sample", None)
    return replace(
        result,
        estimator=model.estimator,
        effects=tuple(model.effects),
        group=model.group,
        variant=dict(model.variant),
        label=getattr(model, "label", None),
        sample=None if sample_spec is None else sample_spec.to_dict(),
        dropped_rows=dropped,
        _state=None if state is None else RecomputeState(state.cov_data, lookup),
    )
