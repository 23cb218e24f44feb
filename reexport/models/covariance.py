"""Covariance estimators with Stata's conventions, as small registered classes.

Every estimator is a sandwich ``c * B M B`` where ``B`` is the inverse
Hessian (``(X'X)^-1`` for OLS on the within-transformed regressors,
``(X'WX)^-1`` for Poisson) and ``M`` the "meat" built from the scores
``s_i = x_i u_i``.  What differs between conventions is the meat, the scalar
small-sample factor ``c`` and the reference distribution of the t statistics.
The default (``small_sample=True``) reproduces Stata; ``small_sample=False``
gives the asymptotic variant that ``ivreg2`` reports without ``small``.

Notation: ``N`` observations, ``K`` = estimated slopes (including the
intercept when there is one) plus the degrees of freedom absorbed by fixed
effects (see :mod:`reexport.models.fe`), ``G`` clusters, ``L`` lags.

===============  ===============================================  =====================================
type             small_sample=True (default)                      small_sample=False
===============  ===============================================  =====================================
nonrobust        ``regress``: s^2 = RSS/(N-K); t(N-K)             ``ivreg2``: s^2 = RSS/N; normal
robust           ``regress, vce(robust)``: HC0 * N/(N-K); t(N-K)  ``ivreg2, robust``: HC0; normal
hac              ``newey, lag(L)``: Bartlett weights 1-l/(L+1),   ``ivreg2, robust bw(L+1)``: same
                 * N/(N-K); t(N-K)                                meat, no factor; normal
cluster (one)    ``regress, vce(cluster c)``:                     ``ivreg2, cluster(c)``: no factor;
                 * G/(G-1) * (N-1)/(N-K); t(G-1)                  normal
cluster (two)    ``ivreg2, cluster(a b) small`` (Cameron-         ``ivreg2, cluster(a b)``: no factor;
                 Gelbach-Miller V_a + V_b - V_ab) * G/(G-1) *     normal
                 (N-1)/(N-K) with G = min(G_a, G_b); t(G-1)
driscoll-kraay   ``xtscc, lag(L)``: Bartlett over cross-section   ``ivreg2, dkraay(L+1)``: same meat;
                 sums of scores per period, no factor;            normal
                 t(N_panels - 1)
===============  ===============================================  =====================================

Other kernels (``kernel = "parzen"`` or ``"qs"``) use ``ivreg2``'s
``kernel()`` weights with ``bw(L+1)`` and the same factors; they are not
checked against Stata output here (only Bartlett is).

Lags and bandwidth: Stata's ``newey, lag(L)`` and ``xtscc, lag(L)`` weight
autocovariance ``l`` by ``1 - l/(L+1)``; ``ivreg2``'s ``bw(B)`` weights it by
``1 - l/B``.  So ``lag(L)`` equals ``bw(L+1)``; ``lags`` in a spec is always
Stata's ``lag(L)``.

HAC lags follow the time variable, not row order: autocovariance ``l`` pairs
observations exactly ``l`` periods apart (gaps contribute nothing, as with
Stata's time-series operators); with an entity column only pairs within the
same entity are used (``newey`` on ``tsset`` panel data).

Fixed effects (``reghdfe``/``fixest``/``pyfixest`` convention): ``K``
includes every absorbed degree of freedom for nonrobust, robust and HAC; for
cluster-robust covariances a fixed effect nested in a cluster variable counts
as one parameter only (like the intercept it replaces), as ``reghdfe`` and
``xtreg, fe vce(cluster)`` do.

Poisson (PPML) uses the same meats and factors with the Poisson score and
Hessian; its nonrobust covariance is the inverse Hessian with no factor and
all its inference is normal (``z``), as ``ppmlhdfe`` and ``poisson`` report.

Too few periods for a kernel estimator: HAC and Driscoll-Kraay warn (log
and ``warnings`` in the result) when the number of periods ``T`` in the
estimation sample is below 30 or the lags exceed a quarter of it
(``T < 30`` or ``L > T/4``, :func:`few_periods_warning`); the long-run
variance is then poorly estimated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

import numpy as np

from reexport.errors import BadInputError
from reexport.models.fe import FixedEffect, dense_codes, is_nested
from reexport.models.spec import KERNELS, CovSpec

log = logging.getLogger(__name__)

#: Fields a covariance request may carry: those of :class:`~reexport.models.spec.CovSpec`.
COV_FIELDS = tuple(f.name for f in fields(CovSpec))


class CovSpecLike(Protocol):
    """Anything shaped like :class:`reexport.models.spec.CovSpec`."""

    @property
    def type(self) -> str: ...
    @property
    def lags(self) -> int | None: ...
    @property
    def by(self) -> tuple[str, ...]: ...
    @property
    def small_sample(self) -> bool: ...
    @property
    def kernel(self) -> str: ...


@dataclass(frozen=True)
class CovData:
    """Everything a covariance estimator needs, in estimation-sample order.

    Attributes
    ----------
    scores : numpy.ndarray
        ``n x k`` scores ``x_i u_i`` (within-transformed ``x`` when effects are absorbed).
    bread : numpy.ndarray
        ``k x k`` inverse Hessian.
    rss : float
        Sum of squared residuals (OLS) — used by ``nonrobust``.
    nobs : int
    n_slopes : int
        Estimated coefficients (columns of the design actually estimated).
    effects : tuple of FixedEffect
        Absorbed effects (empty for pooled models).
    absorbed_df : int
        Degrees of freedom the effects absorb.
    family : str
        ``"gaussian"`` (OLS) or ``"poisson"``.
    clusters : Mapping[str, numpy.ndarray]
        Integer cluster codes by column name.
    time : numpy.ndarray or None
        Integer time (e.g. month ordinal) per observation.
    entity : numpy.ndarray or None
        Integer entity code per observation.
    """

    scores: np.ndarray
    bread: np.ndarray
    rss: float
    nobs: int
    n_slopes: int
    effects: tuple[FixedEffect, ...] = ()
    absorbed_df: int = 0
    family: str = "gaussian"
    clusters: Mapping[str, np.ndarray] = field(default_factory=dict)
    time: np.ndarray | None = None
    entity: np.ndarray | None = None

    @property
    def k_total(self) -> int:
        """``K``: slopes plus absorbed degrees of freedom."""
        return self.n_slopes + self.absorbed_df


@dataclass(frozen=True)
class CovResult:
    """A computed covariance matrix and how to do inference with it.

    Attributes
    ----------
    cov : numpy.ndarray
    df : int or None
        Degrees of freedom of the t distribution; ``None`` means normal.
    factor : float
        Small-sample factor applied.
    n_clusters : dict
        Clusters per cluster variable (empty unless clustered; for Driscoll-Kraay the
        number of periods).
    convention : str
        Human-readable Stata equivalent.
    warnings : tuple of str
    """

    cov: np.ndarray
    df: int | None
    factor: float
    n_clusters: dict[str, int]
    convention: str
    warnings: tuple[str, ...] = ()


def coerce_cov(cov: CovSpecLike | Mapping[str, Any] | str | None, *, where: str = "") -> CovSpec:
    """Normalise a covariance request and reject options the type does not use.

    Parameters
    ----------
    cov : CovSpec, mapping, str or None
        A ``spec.CovSpec`` (or anything with its attributes), a mapping with
        keys among ``type, lags, by, small_sample, kernel``, a bare type
        name, or ``None`` for ``nonrobust``.
    where : str
        Location for error messages, e.g. ``"spec.toml [model dk4]"``.

    Returns
    -------
    CovSpec

    Raises
    ------
    BadInputError
        Unknown type or option, missing or invalid lags, wrong number of cluster variables.
    """
    prefix = f"{where}: " if where else ""
    if cov is None:
        raw: dict[str, Any] = {"type": "nonrobust"}
    elif isinstance(cov, str):
        raw = {"type": cov}
    elif isinstance(cov, Mapping):
        raw = dict(cov)
        unknown = sorted(set(raw) - set(COV_FIELDS))
        if unknown:
            raise BadInputError(
                f"{prefix}unknown covariance option {unknown[0]!r} (known: {', '.join(COV_FIELDS)})"
            )
    else:
        raw = {name: getattr(cov, name) for name in COV_FIELDS if hasattr(cov, name)}
    cov_type = str(raw.get("type", "nonrobust")).strip().lower()
    estimator_class = COV_ESTIMATORS.get(cov_type)
    if estimator_class is None:
        raise BadInputError(
            f"{prefix}unknown covariance type {cov_type!r} "
            f"(known: {', '.join(sorted(COV_ESTIMATORS))})"
        )
    lags = raw.get("lags")
    by_raw = raw.get("by") or ()
    by = (by_raw,) if isinstance(by_raw, str) else tuple(str(b) for b in by_raw)
    small = raw.get("small_sample", True)
    if not isinstance(small, bool):
        raise BadInputError(f"{prefix}covariance option 'small_sample' must be true or false")
    kernel = str(raw.get("kernel") or "bartlett").lower()
    options = CovSpec(type=cov_type, lags=lags, by=by, small_sample=small, kernel=kernel)
    estimator_class.validate(options, prefix)
    return options


class CovEstimator:
    """Base class: one covariance convention.

    Subclasses set ``name`` and ``uses`` (the options beyond ``type`` and
    ``small_sample`` they read) and implement :meth:`compute` and :meth:`convention`.
    """

    name: ClassVar[str] = ""
    uses: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: CovSpec) -> None:
        self.options = options

    @classmethod
    def validate(cls, options: CovSpec, prefix: str) -> None:
        """Reject options this type does not use and check the ones it does."""
        if "lags" not in cls.uses and options.lags is not None:
            raise BadInputError(
                f"{prefix}covariance option 'lags' is not used by type {cls.name!r}"
            )
        if "by" not in cls.uses and options.by:
            raise BadInputError(f"{prefix}covariance option 'by' is not used by type {cls.name!r}")
        if "kernel" not in cls.uses and options.kernel != "bartlett":
            raise BadInputError(
                f"{prefix}covariance option 'kernel' is not used by type {cls.name!r}"
            )
        if "kernel" in cls.uses and options.kernel not in KERNELS:
            raise BadInputError(
                f"{prefix}unknown kernel {options.kernel!r} (known: {', '.join(KERNELS)})"
            )
        if "lags" in cls.uses:
            lags = options.lags
            if lags is None:
                raise BadInputError(f"{prefix}covariance type {cls.name!r} needs 'lags'")
            if isinstance(lags, bool) or not isinstance(lags, int) or lags < 0:
                raise BadInputError(
                    f"{prefix}covariance option 'lags' must be a non-negative integer, got {lags!r}"
                )

    def convention(self) -> str:
        """The Stata command this estimator reproduces."""
        raise NotImplementedError

    def compute(self, data: CovData) -> CovResult:
        """Return the covariance matrix and its inference convention."""
        raise NotImplementedError

    def describe(self, data: CovData) -> str:
        """The convention text for this estimator applied to ``data``.

        Pooled OLS: :meth:`convention`.  With absorbed effects the Stata
        equivalent is ``reghdfe`` (``ivreghdfe`` for kernel estimators); for
        Poisson it is ``ppmlhdfe`` (nonrobust: the inverse Hessian, as ``poisson``).
        """
        base = self.convention()
        options = self.options
        absorb = " ".join(e.name for e in data.effects)
        bw = int(options.lags or 0) + 1
        small = "" if options.small_sample else " (no small-sample factor)"
        by = " ".join(options.by)
        if data.family == "poisson":
            absorb_text = f" absorb({absorb})" if absorb else ""
            vce = {
                "nonrobust": "",
                "robust": " vce(robust)",
                "cluster": f" vce(cluster {by})",
            }.get(options.type)
            if options.type == "nonrobust":
                return "Stata: poisson / ppmlhdfe inverse Hessian (vce(oim))"
            if vce is None:
                return f"Poisson scores with {base.removeprefix('Stata: ')}"
            return f"Stata: ppmlhdfe,{absorb_text}{vce}{small}"
        if not data.effects:
            return base
        if options.type == "nonrobust":
            return f"Stata: reghdfe, absorb({absorb}){small}"
        if options.type == "robust":
            return f"Stata: reghdfe, absorb({absorb}) vce(robust){small}"
        if options.type == "cluster":
            return f"Stata: reghdfe, absorb({absorb}) vce(cluster {by}){small}"
        kernel = "" if options.kernel == "bartlett" else f" kernel({options.kernel})"
        if options.type == "hac":
            tail = " small" if options.small_sample else ""
            return f"Stata: ivreghdfe, absorb({absorb}) robust bw({bw}){kernel}{tail}"
        if options.small_sample:
            return f"xtscc scaling, lag({options.lags}){kernel}, after absorbing {absorb}"
        return f"Stata: ivreghdfe, absorb({absorb}) dkraay({bw}){kernel}"

    # -- helpers shared by subclasses ------------------------------------------------
    def _sandwich(self, data: CovData, meat: np.ndarray) -> np.ndarray:
        bread = data.bread
        return bread @ meat @ bread

    def _t_or_normal(self, data: CovData, df: int) -> int | None:
        if data.family == "poisson" or not self.options.small_sample:
            return None
        return df


COV_ESTIMATORS: dict[str, type[CovEstimator]] = {}


def register(cls: type[CovEstimator]) -> type[CovEstimator]:
    """Class decorator adding a covariance estimator to :data:`COV_ESTIMATORS`."""
    COV_ESTIMATORS[cls.name] = cls
    return cls


def _check_df(df: int, what: str) -> None:
    if df <= 0:
        raise BadInputError(f"no residual degrees of freedom left for {what} (df = {df})")


@register
class Nonrobust(CovEstimator):
    """Classical covariance: ``s^2 (X'X)^-1`` (``regress``; ``ivreg2`` without ``small``)."""

    name = "nonrobust"

    def convention(self) -> str:
        return "Stata: regress" if self.options.small_sample else "Stata: ivreg2 (no small)"

    def compute(self, data: CovData) -> CovResult:
        df = data.nobs - data.k_total
        if data.family == "poisson":
            return CovResult(data.bread.copy(), None, 1.0, {}, self.describe(data))
        _check_df(df, "nonrobust covariance")
        sigma2 = data.rss / df if self.options.small_sample else data.rss / data.nobs
        return CovResult(
            sigma2 * data.bread, self._t_or_normal(data, df), 1.0, {}, self.describe(data)
        )


@register
class Robust(CovEstimator):
    """Heteroskedasticity-robust HC1 (``regress, vce(robust)``) or HC0 (``ivreg2, robust``)."""

    name = "robust"

    def convention(self) -> str:
        return (
            "Stata: regress, vce(robust)" if self.options.small_sample else "Stata: ivreg2, robust"
        )

    def compute(self, data: CovData) -> CovResult:
        df = data.nobs - data.k_total
        _check_df(df, "robust covariance")
        meat = data.scores.T @ data.scores
        factor = data.nobs / df if self.options.small_sample else 1.0
        cov = factor * self._sandwich(data, meat)
        return CovResult(cov, self._t_or_normal(data, df), factor, {}, self.describe(data))


def bartlett_weights(lags: int) -> np.ndarray:
    """Weights ``1 - l/(L+1)`` for ``l = 0..L`` (Stata ``lag(L)``, i.e. ``ivreg2 bw(L+1)``)."""
    return 1.0 - np.arange(lags + 1) / (lags + 1)


def kernel_weights(kernel: str, lags: int, max_lag: int) -> np.ndarray:
    """Kernel weights for autocovariances ``0..`` with bandwidth ``B = L + 1`` (``ivreg2``).

    Parameters
    ----------
    kernel : str
        ``"bartlett"`` (``1 - z``), ``"parzen"`` (``1 - 6z^2 + 6z^3`` for
        ``z <= 1/2``, ``2(1 - z)^3`` above) or ``"qs"`` (quadratic spectral,
        which never truncates: every lag up to ``max_lag`` gets a weight);
        ``z = l / B``.
    lags : int
        Stata's ``lag(L)``.
    max_lag : int
        Largest lag that exists in the data (periods - 1).

    Returns
    -------
    numpy.ndarray
        ``w[0] = 1`` and one weight per lag.
    """
    if kernel == "bartlett":
        return bartlett_weights(lags)
    bandwidth = lags + 1
    if kernel == "parzen":
        z = np.arange(lags + 1) / bandwidth
        return np.where(z <= 0.5, 1 - 6 * z**2 + 6 * z**3, 2 * (1 - z) ** 3)
    if kernel == "qs":
        z = np.arange(1, max(max_lag, 0) + 1) / bandwidth
        arg = 6 * np.pi * z / 5
        tail = 25 / (12 * np.pi**2 * z**2) * (np.sin(arg) / arg - np.cos(arg))
        return np.concatenate([[1.0], tail])
    raise BadInputError(f"unknown kernel {kernel!r} (known: {', '.join(KERNELS)})")


#: Kernel covariances (HAC, Driscoll-Kraay) are consistent in ``T``: with fewer
#: periods than this the long-run variance is poorly estimated (simulations such
#: as Driscoll & Kraay 1998 use ``T >= 25``).
MIN_PERIODS_FOR_HAC = 30

_KERNEL_COV_NAMES = {"hac": "HAC (Newey-West)", "driscoll-kraay": "Driscoll-Kraay"}


def few_periods_warning(cov_type: str, periods: int, lags: int) -> str | None:
    """The one warning for a kernel covariance on too short a sample, or ``None``.

    The rule (the only one; :func:`reexport.models.diagnostics.cov_warnings` uses
    it too): warn when ``T < 30`` or ``L > T/4``.

    Parameters
    ----------
    cov_type : str
        ``"hac"`` or ``"driscoll-kraay"``.
    periods : int
        Distinct periods ``T`` in the sample.
    lags : int
        Stata's ``lag(L)``.
    """
    reasons = []
    if periods < MIN_PERIODS_FOR_HAC:
        reasons.append(f"fewer than {MIN_PERIODS_FOR_HAC} periods")
    if 4 * lags > periods:
        reasons.append("lags above a quarter of the periods")
    if not reasons:
        return None
    only = "only " if periods < MIN_PERIODS_FOR_HAC else ""
    return (
        f"{_KERNEL_COV_NAMES.get(cov_type, cov_type)} standard errors with lags = {lags} on "
        f"{only}{periods} periods are unreliable ({' and '.join(reasons)}): "
        "the long-run variance is poorly estimated"
    )


def _few_periods_warnings(cov_type: str, periods: int, lags: int) -> tuple[str, ...]:
    message = few_periods_warning(cov_type, periods, lags)
    if message is None:
        return ()
    log.warning(message)
    return (message,)


@register
class HAC(CovEstimator):
    """Newey-West HAC (``newey, lag(L)``; ``ivreg2, robust bw(L+1)`` without ``small``)."""

    name = "hac"
    uses = frozenset({"lags", "kernel"})

    def convention(self) -> str:
        lags = self.options.lags
        bw = int(lags or 0) + 1
        if self.options.kernel != "bartlett":
            small = " small" if self.options.small_sample else ""
            return f"Stata: ivreg2, robust bw({bw}) kernel({self.options.kernel}){small}"
        if self.options.small_sample:
            return f"Stata: newey, lag({lags})"
        return f"Stata: ivreg2, robust bw({bw})"

    def compute(self, data: CovData) -> CovResult:
        lags = int(self.options.lags or 0)
        n = data.nobs
        time = data.time if data.time is not None else np.arange(n, dtype=np.int64)
        time = np.asarray(time, dtype=np.int64)
        entity = data.entity if data.entity is not None else np.zeros(n, dtype=np.int64)
        # Wide enough that stepping back any lag never lands inside the previous entity.
        span = 2 * int(time.max() - time.min()) + 2
        keys = entity.astype(np.int64) * span + (time - time.min())
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        if np.any(np.diff(sorted_keys) == 0):
            raise BadInputError(
                "hac covariance: the time variable repeats within an entity; "
                "name the entity column (panel) or use driscoll-kraay or cluster"
            )
        scores = data.scores
        meat = scores.T @ scores
        weights = kernel_weights(self.options.kernel, lags, int(time.max() - time.min()))
        for lag in range(1, len(weights)):
            # Pair every observation with the one exactly `lag` periods earlier in the
            # same entity, if present (gaps contribute nothing, as with L. in Stata).
            target = keys - lag
            pos = np.searchsorted(sorted_keys, target)
            pos = np.minimum(pos, n - 1)
            found = sorted_keys[pos] == target
            current = np.flatnonzero(found)
            earlier = order[pos[found]]
            gamma = scores[current].T @ scores[earlier]
            meat += weights[lag] * (gamma + gamma.T)
        df = n - data.k_total
        _check_df(df, "hac covariance")
        factor = n / df if self.options.small_sample else 1.0
        cov = factor * self._sandwich(data, meat)
        periods = len(np.unique(time))
        warnings = _few_periods_warnings("hac", periods, lags)
        return CovResult(
            cov, self._t_or_normal(data, df), factor, {}, self.describe(data), warnings
        )


@register
class Cluster(CovEstimator):
    """Cluster-robust, one-way (``regress, vce(cluster c)``) or two-way (``ivreg2, cluster(a b)``)."""

    name = "cluster"
    uses = frozenset({"by"})

    @classmethod
    def validate(cls, options: CovSpec, prefix: str) -> None:
        super().validate(options, prefix)
        if len(options.by) not in (1, 2):
            raise BadInputError(
                f"{prefix}covariance type 'cluster' needs 'by' with one or two columns, "
                f"got {list(options.by)!r}"
            )
        if len(set(options.by)) != len(options.by):
            raise BadInputError(f"{prefix}covariance option 'by' repeats a column: {options.by}")

    def convention(self) -> str:
        by = " ".join(self.options.by)
        if len(self.options.by) == 1:
            if self.options.small_sample:
                return f"Stata: regress, vce(cluster {by})"
            return f"Stata: ivreg2, cluster({by})"
        if self.options.small_sample:
            return f"Stata: ivreg2, cluster({by}) small"
        return f"Stata: ivreg2, cluster({by})"

    def compute(self, data: CovData) -> CovResult:
        codes = []
        for name in self.options.by:
            if name not in data.clusters:
                raise BadInputError(f"cluster variable {name!r} was not supplied")
            codes.append(np.asarray(data.clusters[name], dtype=np.int64))
        counts = {name: _n_groups(c) for name, c in zip(self.options.by, codes, strict=True)}
        meat = _cluster_meat(data.scores, codes[0])
        if len(codes) == 2:
            both, _ = dense_codes(codes[0] * (int(codes[1].max()) + 1) + codes[1])
            meat = meat + _cluster_meat(data.scores, codes[1]) - _cluster_meat(data.scores, both)
        g_min = min(counts.values())
        if g_min < 2:
            raise BadInputError(
                f"cluster covariance needs at least 2 clusters, {self.options.by} has {g_min}"
            )
        k_eff = data.n_slopes + data.absorbed_df
        # A fixed effect nested in a cluster variable counts as one parameter only
        # (reghdfe, fixest "nested", xtreg fe vce(cluster)).
        for effect in data.effects:
            if any(is_nested(effect, c) for c in codes):
                k_eff -= effect.n_levels - 1
        n = data.nobs
        if n - k_eff <= 0:
            raise BadInputError(f"no residual degrees of freedom left (N={n}, K={k_eff})")
        factor = (
            (g_min / (g_min - 1)) * ((n - 1) / (n - k_eff)) if self.options.small_sample else 1.0
        )
        cov = factor * self._sandwich(data, meat)
        return CovResult(
            cov, self._t_or_normal(data, g_min - 1), factor, counts, self.describe(data)
        )


def _n_groups(codes: np.ndarray) -> int:
    """Number of distinct non-negative codes (``bincount``: no sort)."""
    return int(np.count_nonzero(np.bincount(codes)))


def _cluster_meat(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``sum_g (sum_{i in g} s_i)(sum_{i in g} s_i)'``, with group sums by ``bincount``."""
    dense, n_groups = dense_codes(codes)
    sums = np.column_stack(
        [
            np.bincount(dense, weights=scores[:, j], minlength=n_groups)
            for j in range(scores.shape[1])
        ]
    )
    return sums.T @ sums


@register
class DriscollKraay(CovEstimator):
    """Driscoll-Kraay (``xtscc, lag(L)``; ``ivreg2, dkraay(L+1)`` without ``small``)."""

    name = "driscoll-kraay"
    uses = frozenset({"lags", "kernel"})

    def convention(self) -> str:
        lags = self.options.lags
        bw = int(lags or 0) + 1
        kernel = "" if self.options.kernel == "bartlett" else f" kernel({self.options.kernel})"
        if self.options.small_sample:
            if kernel:
                return f"xtscc scaling (Stata: xtscc, lag({lags})) with ivreg2{kernel} weights"
            return f"Stata: xtscc, lag({lags})"
        return f"Stata: ivreg2, dkraay({bw}){kernel}"

    def compute(self, data: CovData) -> CovResult:
        if data.time is None:
            raise BadInputError("driscoll-kraay covariance needs a time column")
        lags = int(self.options.lags or 0)
        time = np.asarray(data.time, dtype=np.int64)
        position = time - time.min()
        n_positions = int(position.max()) + 1
        scores = data.scores
        # Cross-sectional sums of the scores per period; missing periods stay zero.
        per_period = np.column_stack(
            [
                np.bincount(position, weights=scores[:, j], minlength=n_positions)
                for j in range(scores.shape[1])
            ]
        )
        meat = per_period.T @ per_period
        weights = kernel_weights(self.options.kernel, lags, n_positions - 1)
        for lag in range(1, min(len(weights), n_positions)):
            gamma = per_period[lag:].T @ per_period[:-lag]
            meat += weights[lag] * (gamma + gamma.T)
        cov = self._sandwich(data, meat)
        periods = len(np.unique(time))
        n_panels = int(len(np.unique(data.entity))) if data.entity is not None else 1
        if self.options.small_sample and n_panels < 2:
            raise BadInputError(
                "driscoll-kraay (xtscc) needs a panel with at least 2 entities; "
                "for a single time series use hac"
            )
        warnings = _few_periods_warnings("driscoll-kraay", periods, lags)
        # xtscc: no scaling of the matrix; t with (number of panels - 1) df.
        return CovResult(
            cov,
            self._t_or_normal(data, n_panels - 1),
            1.0,
            {"periods": periods},
            self.describe(data),
            warnings,
        )


def compute_cov(options: CovSpec, data: CovData) -> CovResult:
    """Compute the covariance requested by ``options`` (see the module docstring)."""
    return COV_ESTIMATORS[options.type](options).compute(data)


def cluster_codes(columns: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, np.ndarray]:
    """Integer codes for each cluster column (labels of any hashable type)."""
    result = {}
    for name, values in columns.items():
        codes, _ = dense_codes(values)
        if (codes < 0).any():
            raise BadInputError(f"cluster variable {name!r} has missing values")
        result[name] = codes.astype(np.int64)
    return result
