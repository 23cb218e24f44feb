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

Conventions a user can name instead (``small_sample=True`` only):

* ``cluster_df="conventional"`` (two-way): Cameron-Gelbach-Miller with each of
  ``V_a``, ``V_b`` and ``V_ab`` times its own ``G/(G-1)`` (``G`` of the intersection =
  distinct pairs), then ``(N-1)/(N-K)``; t(min(G_a, G_b) - 1).  R sandwich
  ``vcovCL(cluster = ~a + b)``, Petersen's ``cluster2``, fixest
  ``ssc(cluster.df = "conventional")``.  The default ``"min"`` is the row above.
* ``dk_adjust="hc1"``: the Driscoll-Kraay meat times ``N/(N-k)``, ``k`` the estimated
  coefficients (absorbed effects not counted), t(N-K): R plm ``vcovSCC(type = "HC1")``.

Weights (:class:`CovData` ``weights``): Stata's ``[aweight=w]`` (rescaled to sum to the
rows) and ``[fweight=w]`` (``N`` = their sum).  The scores are ``w_i x_i u_i`` and
``rss = sum w_i u_i^2``; the robust meat is ``sum s_i s_i'`` for aweights and
``sum s_i s_i' / w_i`` for fweights (a row of weight ``f`` is ``f`` identical rows), as
``regress`` and ``reghdfe``.  Frequency weights with HAC or Driscoll-Kraay are refused
(``newey`` and ``xtscc`` take aweights only), as are weights with ``dk_adjust="hc1"``
(plm) and analytic weights on a nonrobust Poisson covariance (``ppmlhdfe`` takes them as
pweights, which imply a robust one): :func:`check_weights_allowed`.

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

Poisson (PPML) uses the same meats with the Poisson score and Hessian and the
factors of Stata's maximum-likelihood commands (``poisson``, ``glm``,
``ppmlhdfe``): robust ``N/(N-1)``, clustered ``G/(G-1)`` (no ``(N-1)/(N-K)``;
checked against ppmlhdfe's published separation-primer output and Stata
``glm [fweight]/[pweight]`` output); its nonrobust covariance is the inverse
Hessian with no factor, and all its inference is normal (``z``).  (``fixest``
and ``pyfixest`` ``fepois`` use the OLS factors instead; the sandwich itself is
the same.)

Too few periods for a kernel estimator: HAC and Driscoll-Kraay warn (log
and ``warnings`` in the result) when the number of periods ``T`` in the
estimation sample is below 30 or the lags exceed a quarter of it
(``T < 30`` or ``L > T/4``, :func:`few_periods_warning`); the long-run
variance is then poorly estimated.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol

import numpy as np

from reexport.errors import BadInputError
from reexport.models.fe import FixedEffect, cluster_absorbed_df, dense_codes

log = logging.getLogger(__name__)

#: Covariance estimators; see :class:`CovSpec`.
COV_TYPES = ("nonrobust", "robust", "hac", "cluster", "driscoll-kraay")
#: Covariance types that need an explicit ``lags``.
LAGGED_COV_TYPES = ("hac", "driscoll-kraay")
#: Kernels accepted for ``hac`` and ``driscoll-kraay``.  Bartlett is what ``newey`` and
#: ``xtscc`` use; Parzen and quadratic spectral (``qs``) follow ``ivreg2``'s
#: ``kernel()`` definitions with bandwidth ``L + 1``.
KERNELS = ("bartlett", "parzen", "qs")
#: Small-sample factor of a two-way cluster covariance (``cluster_df``): ``"min"`` is
#: ``ivreg2, cluster(a b) small`` (one factor with ``G = min(G_a, G_b)``);
#: ``"conventional"`` is Cameron-Gelbach-Miller with each term's own ``G/(G-1)``
#: (R ``sandwich::vcovCL``, Petersen's ``cluster2``, fixest ``cluster.df = "conventional"``).
CLUSTER_DF = ("min", "conventional")
#: Small-sample convention of Driscoll-Kraay (``dk_adjust``): ``"xtscc"`` (no factor,
#: t with panels - 1 df) or ``"hc1"`` (R ``plm::vcovSCC(type = "HC1")``: ``n/(n-k)``).
DK_ADJUST = ("xtscc", "hc1")
#: Observation weight types (``weights_type``), as Stata's ``[aweight=w]`` / ``[fweight=w]``.
WEIGHT_TYPES = ("aweight", "fweight")


@dataclass(frozen=True)
class CovSpec:
    """How standard errors are computed.

    Parameters
    ----------
    type
        ``"nonrobust"``, ``"robust"`` (HC1), ``"hac"`` (Newey-West),
        ``"cluster"`` (one- or two-way) or ``"driscoll-kraay"``.
    lags
        Kernel bandwidth in periods; required (explicitly) for ``hac`` and
        ``driscoll-kraay``, absent otherwise.  There is no silent default.
    by
        Cluster columns (one or two) for ``cluster``.
    small_sample
        Apply Stata's small-sample corrections (default ``True``).
    kernel
        Kernel for ``hac`` / ``driscoll-kraay`` (default ``"bartlett"``).
    cluster_df
        Two-way clustering only: ``"min"`` (default, ``ivreg2 small``) or
        ``"conventional"`` (each one-way term with its own ``G/(G-1)``); see :data:`CLUSTER_DF`.
    dk_adjust
        Driscoll-Kraay only: ``"xtscc"`` (default) or ``"hc1"`` (plm); see :data:`DK_ADJUST`.
    """

    type: str
    lags: int | None = None
    by: tuple[str, ...] = ()
    small_sample: bool = True
    kernel: str = "bartlett"
    cluster_df: str = "min"
    dk_adjust: str = "xtscc"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (``by`` as a list; the convention keys only when not the default)."""
        out: dict[str, object] = {
            "type": self.type,
            "lags": self.lags,
            "by": list(self.by),
            "small_sample": self.small_sample,
            "kernel": self.kernel,
        }
        if self.cluster_df != "min":
            out["cluster_df"] = self.cluster_df
        if self.dk_adjust != "xtscc":
            out["dk_adjust"] = self.dk_adjust
        return out


#: Fields a covariance request may carry: those of :class:`CovSpec`.
COV_FIELDS = tuple(f.name for f in fields(CovSpec))


class CovSpecLike(Protocol):
    """Anything shaped like :class:`CovSpec`."""

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
        ``n x k`` scores ``w_i x_i u_i`` (within-transformed ``x`` when effects are
        absorbed; ``w_i = 1`` without weights), one row per row of data.
    bread : numpy.ndarray
        ``k x k`` inverse Hessian.
    rss : float
        (Weighted) sum of squared residuals ``sum w_i u_i^2`` (OLS) — used by ``nonrobust``.
    nobs : int
        ``N``: rows, or the sum of the frequency weights.
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
    weights : numpy.ndarray or None
        Observation weights per row (analytic weights normalised to sum to the
        number of rows; frequency weights as given); ``None`` when unweighted.
    weights_type : str or None
        ``"aweight"`` or ``"fweight"`` (``None`` when unweighted).
    weights_name : str
        Name of the weight column, for the convention text.
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
    weights: np.ndarray | None = None
    weights_type: str | None = None
    weights_name: str = ""

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
    weights : dict or None
        ``{"column": name, "type": "aweight" | "fweight"}`` for a weighted fit.
    """

    cov: np.ndarray
    df: int | None
    factor: float
    n_clusters: dict[str, int]
    convention: str
    warnings: tuple[str, ...] = ()
    weights: dict[str, str] | None = None


def coerce_cov(cov: CovSpecLike | Mapping[str, Any] | str | None, *, where: str = "") -> CovSpec:
    """Normalise a covariance request and reject options the type does not use.

    The one validator of covariance requests: the spec layer (``cov`` tables in a
    TOML spec), :func:`reexport.models.estimate.fit_ols` and friends, and
    ``ModelResult.with_cov`` all go through it.

    Parameters
    ----------
    cov : CovSpec, mapping, str or None
        A :class:`CovSpec` (or anything with its attributes), a mapping with
        keys among :data:`COV_FIELDS`, a bare type name, or ``None`` for ``nonrobust``.
    where : str
        Location for error messages, e.g. ``"spec.toml [model dk4] cov"``.

    Returns
    -------
    CovSpec

    Raises
    ------
    BadInputError
        Unknown type or option, missing or invalid lags, wrong number of cluster
        variables, an option the type does not use.
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
    by_list = [by_raw] if isinstance(by_raw, str) else by_raw
    if not isinstance(by_list, list | tuple) or not all(isinstance(b, str) and b for b in by_list):
        raise BadInputError(f"{prefix}'by' must be a column name or a list of one or two")
    small = raw.get("small_sample", True)
    if not isinstance(small, bool):
        raise BadInputError(f"{prefix}covariance option 'small_sample' must be true or false")
    options = CovSpec(
        type=cov_type,
        lags=lags,
        by=tuple(by_list),
        small_sample=small,
        kernel=str(raw.get("kernel") or "bartlett").lower(),
        cluster_df=str(raw.get("cluster_df") or "min").lower(),
        dk_adjust=str(raw.get("dk_adjust") or "xtscc").lower(),
    )
    estimator_class.validate(options, prefix)
    return options


def check_weights_allowed(options: CovSpec, weights_type: str | None, *, family: str) -> None:
    """Refuse a weighted fit whose covariance has no Stata (or ppmlhdfe) definition.

    Frequency weights stand for repeated rows, which a time-series kernel cannot
    order (``newey`` and ``xtscc`` take analytic weights only); ``ppmlhdfe`` takes
    frequency and probability weights, and probability weights imply a robust
    covariance.

    Raises
    ------
    BadInputError
        One line naming ``weights_type`` and the covariance type.
    """
    if weights_type is None:
        return
    if weights_type not in WEIGHT_TYPES:
        raise BadInputError(
            f"unknown weights_type {weights_type!r} (known: {', '.join(WEIGHT_TYPES)})"
        )
    if weights_type == "fweight" and options.type in LAGGED_COV_TYPES:
        command = "newey" if options.type == "hac" else "xtscc"
        raise BadInputError(
            f"weights_type 'fweight' cannot be used with covariance type {options.type!r}: "
            f"frequency weights repeat rows within a period, and Stata's {command} takes "
            "aweights only"
        )
    if options.type == "driscoll-kraay" and options.dk_adjust == "hc1":
        raise BadInputError(
            "covariance option dk_adjust = 'hc1' cannot be used with weights "
            "(plm's vcovSCC is not defined for weighted regressions)"
        )
    if family == "poisson" and weights_type == "aweight" and options.type == "nonrobust":
        raise BadInputError(
            "weights_type 'aweight' on ppml needs a robust covariance (ppmlhdfe takes such "
            "weights as [pweight=w], which implies vce(robust)); use type 'robust', 'cluster' "
            "or weights_type 'fweight'"
        )


class CovEstimator:
    """Base class: one covariance convention.

    Subclasses set ``name`` and ``uses`` (the options beyond ``type`` and
    ``small_sample`` they read) and implement :meth:`compute` and :meth:`convention`.
    """

    name: ClassVar[str] = ""
    uses: ClassVar[frozenset[str]] = frozenset()
    #: Convention options of this type and their values, the default first; any other
    #: value is a small-sample factor, so it needs ``small_sample``.
    conventions: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, options: CovSpec) -> None:
        self.options = options

    @classmethod
    def validate(cls, options: CovSpec, prefix: str) -> None:
        """Reject options this type does not use and check the ones it does."""
        unused = "is not used by type {name!r} (it has no meaning there)"
        if "lags" not in cls.uses and options.lags is not None:
            raise BadInputError(f"{prefix}covariance option 'lags' " + unused.format(name=cls.name))
        if "by" not in cls.uses and options.by:
            raise BadInputError(f"{prefix}covariance option 'by' " + unused.format(name=cls.name))
        for key, default in (("kernel", "bartlett"), ("cluster_df", "min"), ("dk_adjust", "xtscc")):
            if key not in cls.uses and getattr(options, key) != default:
                raise BadInputError(
                    f"{prefix}covariance option {key!r} " + unused.format(name=cls.name)
                )
        for key, values in cls.conventions.items():
            value = getattr(options, key)
            if value not in values:
                raise BadInputError(f"{prefix}unknown {key} {value!r} (known: {', '.join(values)})")
            if value != values[0] and not options.small_sample:
                raise BadInputError(
                    f"{prefix}covariance option {key!r} chooses a small-sample factor; "
                    "it cannot be combined with small_sample = false"
                )
        if "kernel" in cls.uses and options.kernel not in KERNELS:
            raise BadInputError(
                f"{prefix}unknown kernel {options.kernel!r} (known: {', '.join(KERNELS)})"
            )
        if "lags" in cls.uses:
            lags = options.lags
            if lags is None:
                raise BadInputError(
                    f"{prefix}covariance type {cls.name!r} needs 'lags' "
                    "(an explicit 'lags': there is no default)"
                )
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
        A weighted fit names its weights as Stata writes them, e.g.
        ``"Stata: regress [aweight=w], vce(robust)"`` (``[pweight=w]`` for
        ``ppmlhdfe``, which has no analytic weights).
        """
        return _with_weight_clause(self._describe_unweighted(data), data)

    def _describe_unweighted(self, data: CovData) -> str:
        base = self.convention()
        options = self.options
        absorb = " ".join(e.name for e in data.effects)
        if _is_r_convention(options):
            family = ", Poisson scores" if data.family == "poisson" else ""
            return base + family + (f", after absorbing {absorb}" if absorb else "")
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

    def weights_record(self, data: CovData) -> dict[str, str] | None:
        """The ``weights`` entry of a :class:`CovResult` (``None`` when unweighted)."""
        if data.weights_type is None:
            return None
        return {"column": data.weights_name, "type": data.weights_type}

    # -- helpers shared by subclasses ------------------------------------------------
    def _sandwich(self, data: CovData, meat: np.ndarray) -> np.ndarray:
        bread = data.bread
        return bread @ meat @ bread

    def _t_or_normal(self, data: CovData, df: int) -> int | None:
        if data.family == "poisson" or not self.options.small_sample:
            return None
        return df


def _is_r_convention(options: CovSpec) -> bool:
    """Whether ``options`` name a convention defined by an R package rather than Stata."""
    two_way_conventional = (
        options.type == "cluster" and len(options.by) == 2 and options.cluster_df == "conventional"
    )
    return two_way_conventional or (options.type == "driscoll-kraay" and options.dk_adjust == "hc1")


def _with_weight_clause(text: str, data: CovData) -> str:
    """``text`` with the Stata weight clause after the command (``regress [aweight=w], ...``)."""
    if data.weights_type is None:
        return text
    kind = data.weights_type
    if data.family == "poisson" and kind == "aweight":
        kind = "pweight"  # ppmlhdfe takes fweights and pweights only
    clause = f"[{kind}={data.weights_name or 'w'}]"
    if not text.startswith("Stata: "):
        return f"{text}, weighted {clause}"
    rest = text.removeprefix("Stata: ")
    cut = min((i for i in (rest.find(","), rest.find(" ")) if i >= 0), default=len(rest))
    return f"Stata: {rest[:cut]} {clause}{rest[cut:]}"


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
        scores = data.scores
        if data.weights_type == "fweight" and data.weights is not None:
            # A row with frequency weight f is f identical rows: sum f (x u)(x u)', while
            # the scores carry f x u (regress/reghdfe [fweight]).
            meat = (scores / data.weights[:, None]).T @ scores
        else:
            meat = scores.T @ scores
        if not self.options.small_sample:
            factor = 1.0
        elif data.family == "poisson":
            # Stata's ML commands (poisson, glm, ppmlhdfe): N/(N-1), not N/(N-K).
            factor = data.nobs / (data.nobs - 1)
        else:
            factor = data.nobs / df
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
    uses = frozenset({"by", "cluster_df"})
    conventions = {"cluster_df": CLUSTER_DF}

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
        if len(self.options.by) == 2 and self.options.cluster_df == "conventional":
            formula = " + ".join(self.options.by)
            return (
                f"R sandwich: vcovCL(cluster = ~{formula}) (Cameron-Gelbach-Miller, each term "
                'G/(G-1); fixest ssc(cluster.df = "conventional"))'
            )
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
        g_min = min(counts.values())
        if g_min < 2:
            raise BadInputError(
                f"cluster covariance needs at least 2 clusters, {self.options.by} has {g_min}"
            )
        conventional = self.options.cluster_df == "conventional"
        terms = [(1.0, codes[0])]
        if len(codes) == 2:
            both, _ = dense_codes(codes[0] * (int(codes[1].max()) + 1) + codes[1])
            terms += [(1.0, codes[1]), (-1.0, both)]
        meat = np.zeros((data.scores.shape[1],) * 2)
        for sign, term_codes in terms:
            term = _cluster_meat(data.scores, term_codes)
            if conventional:
                # Cameron-Gelbach-Miller: each one-way term with its own G/(G-1).
                groups = _n_groups(term_codes)
                term = term * (groups / (groups - 1) if groups > 1 else 1.0)
            meat += sign * term
        # reghdfe's count: an effect nested in a cluster variable counts as one parameter
        # (like the intercept it replaces), with redundancies among the rest counted by
        # the pairwise rule (fe.cluster_absorbed_df; exact for one or two effects).
        k_eff = data.n_slopes + (
            cluster_absorbed_df(data.effects, codes) if data.effects else data.absorbed_df
        )
        n = data.nobs
        if n - k_eff <= 0:
            raise BadInputError(f"no residual degrees of freedom left (N={n}, K={k_eff})")
        cluster_factor = 1.0 if conventional else g_min / (g_min - 1)
        if not self.options.small_sample:
            factor = 1.0
        elif data.family == "poisson":
            # Stata's ML commands (poisson, glm, ppmlhdfe): G/(G-1) only, no (N-1)/(N-K).
            factor = cluster_factor
        else:
            factor = cluster_factor * ((n - 1) / (n - k_eff))
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
    uses = frozenset({"lags", "kernel", "dk_adjust"})
    conventions = {"dk_adjust": DK_ADJUST}

    def convention(self) -> str:
        lags = self.options.lags
        bw = int(lags or 0) + 1
        kernel = "" if self.options.kernel == "bartlett" else f" kernel({self.options.kernel})"
        if self.options.dk_adjust == "hc1":
            kernel_text = f" with ivreg2{kernel} weights" if kernel else ""
            return f'R plm: vcovSCC(type = "HC1", maxlag = {lags}){kernel_text}'
        if self.options.small_sample:
            if kernel:
                return f"xtscc scaling (Stata: xtscc, lag({lags})) with ivreg2{kernel} weights"
            return f"Stata: xtscc, lag({lags})"
        return f"Stata: ivreg2, dkraay({bw}){kernel}"

    def compute(self, data: CovData) -> CovResult:
        if data.time is None:
            raise BadInputError("driscoll-kraay covariance needs a time column")
        if self.options.dk_adjust == "hc1" and data.family == "poisson":
            raise BadInputError(
                "covariance option dk_adjust = 'hc1' is plm's convention for linear panel "
                "models; it has no definition for ppml"
            )
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
        warnings = _few_periods_warnings("driscoll-kraay", periods, lags)
        if self.options.dk_adjust == "hc1":
            # plm::vcovSCC(type = "HC1"): residuals scaled by sqrt(n/(n-k)), k the
            # estimated coefficients (absorbed effects not counted); t(N - K).
            df = data.nobs - data.k_total
            _check_df(df, "driscoll-kraay covariance")
            factor = data.nobs / (data.nobs - data.n_slopes)
            return CovResult(
                factor * cov,
                self._t_or_normal(data, df),
                factor,
                {"periods": periods},
                self.describe(data),
                warnings,
            )
        n_panels = int(len(np.unique(data.entity))) if data.entity is not None else 1
        if self.options.small_sample and n_panels < 2:
            raise BadInputError(
                "driscoll-kraay (xtscc) needs a panel with at least 2 entities; "
                "for a single time series use hac"
            )
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
    """Compute the covariance requested by ``options`` (see the module docstring).

    Raises
    ------
    BadInputError
        For a weighted fit whose covariance has no published definition
        (:func:`check_weights_allowed`), or inputs the estimator cannot use.
    """
    check_weights_allowed(options, data.weights_type, family=data.family)
    estimator = COV_ESTIMATORS[options.type](options)
    return replace(estimator.compute(data), weights=estimator.weights_record(data))


def cluster_codes(columns: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, np.ndarray]:
    """Integer codes for each cluster column (labels of any hashable type)."""
    result = {}
    for name, values in columns.items():
        codes, _ = dense_codes(values)
        if (codes < 0).any():
            raise BadInputError(f"cluster variable {name!r} has missing values")
        result[name] = codes.astype(np.int64)
    return result
