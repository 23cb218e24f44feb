"""Wild cluster bootstrap-t for OLS and fixed-effects panel models (Roodman et al. 2019).

For every coefficient ``j`` of a model, the test of ``H0: beta_j = beta0``
compares the cluster-robust t statistic with its distribution over ``B``
bootstrap samples ``y* = X beta_r + u_r * v_g``: ``v_g`` is one weight per
cluster (Rademacher +-1, or Webb's six-point distribution), ``beta_r`` and
``u_r`` the estimates and residuals of the model *restricted* by the null
(WCR, the default and ``boottest``'s) or of the unrestricted model (WCU,
``restricted = false``).  Conventions, as ``boottest`` (Roodman, MacKinnon,
Nielsen & Webb 2019, "Fast and wild", Stata Journal 19(1)) and the Python
``wildboottest`` package:

* bootstrap-t with the CRV1 variance on the bootstrap clusters ``by``; a
  small-sample factor would multiply the observed and every bootstrap variance
  alike, so p-values and intervals do not depend on it.  The reported
  ``tstats`` are those of the model with ``cov = { type = "cluster", by = BY }``
  (Stata's ``G/(G-1) (N-1)/(N-K)``, ``K`` as ``reghdfe`` counts it), i.e. the
  ``t`` that ``boottest`` bootstraps after ``reghdfe ..., vce(cluster BY)``;
* symmetric two-sided p-value ``P = #{b : |t*_b| > |t|} / B``; exact ties
  (``|t*_b| = |t|`` up to 1e-10 relative, as the all-ones Rademacher draw gives
  under WCR) are not counted;
* Rademacher weights are fully enumerated (all ``2^G`` sign vectors, a
  deterministic p-value) when ``2^G <= reps``, as ``boottest`` does;
* the 95% interval is obtained by test inversion: the values ``beta0`` on
  either side of the estimate where ``P(beta0)`` crosses 0.05, with the same
  draws for every ``beta0`` (bracketing, then bisection to 1e-9 standard
  errors).  Under WCU this is the symmetric bootstrap-t percentile interval.

Fixed effects: the model is bootstrapped on the within-transformed data, and
the bootstrap residuals are projected off the fixed effects again in every
replication.  That is exactly the bootstrap of the dummy-variable regression
(the effects re-estimated in each replication), whether or not the effects are
nested in the bootstrap clusters.  When every effect is nested in the clusters
(partner effects, clusters by partner) the re-projection changes nothing and
the computation is the plain one of ``boottest``/``wildboottest`` on demeaned
data; for effects that cut across clusters (month effects, clusters by
partner) bootstrapping demeaned data without the re-projection would be wrong.

Everything is linear in the weights and in ``beta0``: per coefficient the
bootstrap numerator is ``c(beta0) . v`` and the cluster scores are
``M(beta0) v`` with ``c`` and ``M`` affine in ``beta0``.  A model is first
reduced to these small arrays (:func:`prepare`, ``k x G x G`` numbers); the
replications are then evaluated in chunks of :data:`CHUNK_REPS`
(:func:`run_chunk`), each chunk seeded from ``(seed, chunk index)`` so the
draws do not depend on how chunks are spread over processes or machines; and
:func:`combine` joins the chunks, computes the p-values and inverts the test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.models import fe as fe_mod

if TYPE_CHECKING:
    from reexport.models.results import ModelResult
    from reexport.models.spec import ModelSpec

#: Inference types the ``inference`` key of a model accepts.
INFERENCE_TYPES = ("wild-cluster",)
#: Bootstrap weight distributions.
WEIGHT_TYPES = ("rademacher", "webb")
_INFERENCE_KEYS = ("type", "by", "reps", "weights", "seed", "restricted")
#: Replications per chunk: the unit of work sent to an executor.  Fixed (never derived
#: from the number of workers) so that the draws, hence the results, are the same
#: serially, with ``--jobs N`` and on a Dask cluster.
CHUNK_REPS = 2000
#: Most bootstrap clusters accepted: the reduced problem holds ``k x G x G`` numbers.
MAX_CLUSTERS = 2000
#: Confidence level of the bootstrap intervals.
LEVEL = 0.95
#: ``|t*|`` within this relative distance of ``|t|`` is a tie, not an exceedance.
TIE_RTOL = 1e-10
#: Bisection stops when the bracket is narrower than this many standard errors.
BISECTION_TOL = 1e-9
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class WildClusterSpec:
    """The ``inference = { type = "wild-cluster", ... }`` request of a model.

    Parameters
    ----------
    by
        Bootstrap cluster column (``"entity"`` / ``"time"`` mean the model's
        entity / time columns).
    reps
        Bootstrap replications ``B`` (fewer when Rademacher weights are
        enumerated: ``2^G``).
    weights
        ``"rademacher"`` or ``"webb"``.
    seed
        Seed of the draws (non-negative integer).
    restricted
        Impose the null on the bootstrap data (WCR, default) or not (WCU).
    """

    by: str
    reps: int = 9999
    weights: str = "rademacher"
    seed: int = 1
    restricted: bool = True
    type: str = "wild-cluster"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (the spec's keys)."""
        return {
            "type": self.type,
            "by": self.by,
            "reps": self.reps,
            "weights": self.weights,
            "seed": self.seed,
            "restricted": self.restricted,
        }


def parse_inference(raw: object, where: str) -> WildClusterSpec:
    """Validate a model's ``inference`` table.

    Parameters
    ----------
    raw
        The TOML value.
    where
        Location for error messages, e.g. ``"spec.toml [model m1] inference"``.

    Raises
    ------
    BadInputError
        Unknown keys or type, missing ``by``, bad ``reps``/``weights``/``seed``.
    """
    if not isinstance(raw, dict):
        raise BadInputError(
            f'{where}: must be a table such as {{ type = "wild-cluster", by = "partner" }}'
        )
    for key in raw:
        if key not in _INFERENCE_KEYS:
            raise BadInputError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(_INFERENCE_KEYS)})"
            )
    kind = raw.get("type")
    if kind not in INFERENCE_TYPES:
        raise BadInputError(
            f"{where}: unknown inference type {kind!r} (use {', '.join(INFERENCE_TYPES)})"
        )
    by = raw.get("by")
    if not isinstance(by, str) or not by.strip():
        raise BadInputError(f"{where}: 'by' must name one cluster column (one-way clustering)")
    reps = raw.get("reps", 9999)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 99:
        raise BadInputError(f"{where}: 'reps' must be an integer of at least 99, got {reps!r}")
    weights = raw.get("weights", "rademacher")
    if weights not in WEIGHT_TYPES:
        raise BadInputError(
            f"{where}: unknown weights {weights!r} (use one of {', '.join(WEIGHT_TYPES)})"
        )
    seed = raw.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise BadInputError(f"{where}: 'seed' must be a non-negative integer, got {seed!r}")
    restricted = raw.get("restricted", True)
    if not isinstance(restricted, bool):
        raise BadInputError(f"{where}: 'restricted' must be true or false")
    return WildClusterSpec(
        by=by.strip(), reps=reps, weights=weights, seed=seed, restricted=restricted
    )


def check_estimator(estimator: str, where: str) -> None:
    """Refuse a wild cluster bootstrap for estimators it is not implemented for (PPML)."""
    if estimator not in ("ols", "panel"):
        raise BadInputError(
            f"{where}: the wild cluster bootstrap is implemented for estimator 'ols' and "
            f"'panel', not {estimator!r}"
        )


# --------------------------------------------------------------------------------------
# the reduced problem of one model


@dataclass(frozen=True)
class BootstrapProblem:
    """One model reduced to what its replications need (picklable, ``k x G x G`` numbers).

    Attributes
    ----------
    spec : WildClusterSpec
    terms : tuple of str
    params, se : numpy.ndarray
        Estimates and CRV1 standard errors without small-sample factor (``k``).
    tstats : numpy.ndarray
        The model's cluster-robust t statistics on ``by`` (Stata convention), reported.
    numer0, numer1 : numpy.ndarray
        ``k x G``: the bootstrap numerator of coefficient ``j`` under
        ``beta0`` is ``(numer0[j] - beta0 * numer1[j]) . v``.
    scores0, scores1 : numpy.ndarray
        ``k x G x G``: its bootstrap cluster scores are ``(scores0[j] - beta0 * scores1[j]) v``.
    n_clusters, nobs : int
    enumerate_all : bool
        Rademacher weights are enumerated (``2^G <= reps``).
    """

    spec: WildClusterSpec
    terms: tuple[str, ...]
    params: np.ndarray
    se: np.ndarray
    tstats: np.ndarray
    numer0: np.ndarray
    numer1: np.ndarray
    scores0: np.ndarray
    scores1: np.ndarray
    n_clusters: int
    nobs: int
    enumerate_all: bool

    @property
    def total_reps(self) -> int:
        """Replications actually run: ``2^G`` when enumerated, else ``reps``."""
        return 2**self.n_clusters if self.enumerate_all else self.spec.reps

    @property
    def n_chunks(self) -> int:
        """Number of :data:`CHUNK_REPS` chunks the replications are split into."""
        return -(-self.total_reps // CHUNK_REPS)


def within_design(
    model: ModelSpec, frame: pd.DataFrame, result: ModelResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[fe_mod.FixedEffect]]:
    """The estimation sample of a fitted model: ``(y~, X~, cluster codes, effects)``.

    The formula is materialised again and cut to the rows the estimator kept
    (after singletons); with effects, ``y`` and ``X`` are within-transformed.

    Raises
    ------
    BadInputError
        A cluster column with missing values, fewer than two clusters, weights.
    RuntimeError
        If the rebuilt design does not reproduce the model's estimates (a bug).
    """
    from reexport.models.formula import materialize

    spec = model.inference
    if spec is None:
        raise ValueError(f"model {model.name!r} requests no bootstrap")
    where = f"{model.where or model.name} inference"
    if getattr(model, "weights", None):
        raise BadInputError(f"{where}: the wild cluster bootstrap does not support weights")
    design = materialize(
        model.formula,
        frame,
        time=model.time,
        entity=model.entity,
        where=model.where,
        sample=model.sample,
    )
    rows = result._rows if result._rows is not None else design.rows
    missing = [t for t in result.terms if t not in design.X.columns]
    if missing:
        raise RuntimeError(f"{where}: term {missing[0]!r} is not in the rebuilt design")
    y = design.y.loc[rows].to_numpy(dtype=np.float64)
    X = design.X.loc[rows, list(result.terms)].to_numpy(dtype=np.float64)
    sample = frame.loc[rows]
    from reexport.models.api import LabelCodes

    # Effects and the bootstrap cluster are read exactly as the fit reads them
    # (columns, entity/time, interactions a^b).
    labels = LabelCodes(sample, model, where)
    effects = [fe_mod.factorize(name, labels.named(name, "effect")) for name in model.effects]
    if effects:
        demeaned, _ = fe_mod.demean(np.column_stack([y, X]), effects)
        y, X = demeaned[:, 0], demeaned[:, 1:]
    cluster_codes = labels.named(spec.by, "cluster")
    if len(model.columns_of(spec.by)) == 1:
        # One column: clusters in sorted label order (as boottest), so the draw each
        # cluster gets does not depend on the row order of the data.
        cluster_codes, _ = pd.factorize(sample[model.column(spec.by)], sort=True)
    codes, n_clusters = fe_mod.dense_codes(cluster_codes)
    uniques = range(n_clusters)
    if len(uniques) < 2:
        raise BadInputError(f"{where}: the bootstrap needs at least two clusters of {spec.by!r}")
    if len(uniques) > MAX_CLUSTERS:
        raise BadInputError(
            f"{where}: {len(uniques)} clusters of {spec.by!r}; the wild cluster bootstrap is "
            f"meant for few clusters and is limited to {MAX_CLUSTERS} (its memory grows as G^2)"
        )
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    scale = max(float(np.abs(result._params).max(initial=0.0)), 1.0)
    if not np.allclose(beta, result._params, rtol=1e-6, atol=1e-9 * scale):
        raise RuntimeError(f"{where}: the rebuilt design does not reproduce the estimates")
    return y, X, codes.astype(np.intp), effects


def _cluster_sums(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """``G x p`` sums of the rows of ``values`` (``n x p``) within each cluster."""
    out = np.zeros((n_clusters, values.shape[1]))
    np.add.at(out, codes, values)
    return out


class _Pieces:
    """Numerator vector and score matrix of one coefficient for one residual vector.

    For residuals ``u`` (restricted residuals or the derivative in ``beta0``) the
    bootstrap data ``X beta_r + P v`` with ``P[:, g] = M_D(u * 1{cluster g})``
    give the numerator ``c . v`` and cluster scores ``M v`` (see the module doc).
    """

    def __init__(
        self,
        X: np.ndarray,
        bread_row: np.ndarray,
        bread: np.ndarray,
        u: np.ndarray,
        codes: np.ndarray,
        n_clusters: int,
        effects: Sequence[fe_mod.FixedEffect],
        project: bool,
    ) -> None:
        z = X @ bread_row  # x_i' a_j per observation
        if project:
            # Effects not nested in the clusters: the bootstrap errors u * v_g leave the
            # span orthogonal to the effects and must be projected back (LSDV bootstrap).
            columns = np.zeros((len(u), n_clusters))
            columns[np.arange(len(u)), codes] = u
            P, _ = fe_mod.demean(columns, effects)
            scores = X.T @ P  # k x G: X_g' u_g (X is orthogonal to the effects)
            K = _cluster_sums(z[:, None] * P, codes, n_clusters)
        else:
            scores = _cluster_sums(X * u[:, None], codes, n_clusters).T
            K = np.diag(np.bincount(codes, weights=z * u, minlength=n_clusters))
        fitted = X @ (bread @ scores)  # n x G: X A S
        L = _cluster_sums(z[:, None] * fitted, codes, n_clusters)
        self.numer = scores.T @ bread_row  # c_g = a_j' S_g
        self.scores = K - L


def prepare(model: ModelSpec, frame: pd.DataFrame, result: ModelResult) -> BootstrapProblem:
    """Reduce a fitted OLS or panel model to its :class:`BootstrapProblem`.

    Parameters
    ----------
    model
        The spec (its ``inference`` must be set).
    frame
        The data the model was fitted on.
    result
        The fitted model (``fit(model, frame)``).
    """
    spec = model.inference
    if spec is None:
        raise ValueError(f"model {model.name!r} requests no bootstrap")
    y, X, codes, effects = within_design(model, frame, result)
    n, k = X.shape
    n_clusters = int(codes.max()) + 1
    project = any(not fe_mod.is_nested(effect, codes) for effect in effects)
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ (X.T @ y)
    resid = y - X @ beta
    cluster_scores = _cluster_sums(X * resid[:, None], codes, n_clusters)  # G x k
    se = np.sqrt(((cluster_scores @ bread) ** 2).sum(axis=0))
    numer = np.zeros((2, k, n_clusters))
    scores = np.zeros((2, k, n_clusters, n_clusters))
    for j in range(k):
        if spec.restricted:
            others = np.delete(X, j, axis=1)
            if others.shape[1]:
                coef = np.linalg.lstsq(others, np.column_stack([y, X[:, j]]), rcond=None)[0]
                partialled = np.column_stack([y, X[:, j]]) - others @ coef
            else:
                partialled = np.column_stack([y, X[:, j]])
            # u_r(beta0) = M1 y - beta0 M1 x_j: the two pieces are affine in beta0.
            residuals = (partialled[:, 0], partialled[:, 1])
        else:
            residuals = (resid, np.zeros(n))
        for piece, u in enumerate(residuals):
            if not u.any():
                continue
            part = _Pieces(X, bread[j], bread, u, codes, n_clusters, effects, project)
            numer[piece, j] = part.numer
            scores[piece, j] = part.scores
    # Stata's convention for the reported t: the model clustered on the bootstrap clusters.
    clustered = result.with_cov({"type": "cluster", "by": [spec.by]})
    return BootstrapProblem(
        spec=spec,
        terms=tuple(result.terms),
        params=beta,
        se=se,
        tstats=np.asarray(clustered._tstats, dtype=np.float64),
        numer0=numer[0],
        numer1=numer[1],
        scores0=scores[0],
        scores1=scores[1],
        n_clusters=n_clusters,
        nobs=n,
        enumerate_all=spec.weights == "rademacher" and 2**n_clusters <= spec.reps,
    )


# --------------------------------------------------------------------------------------
# replications


def draw_weights(problem: BootstrapProblem, chunk: int) -> np.ndarray:
    """The ``G x b`` weights of replication chunk ``chunk`` (deterministic given the seed)."""
    start = chunk * CHUNK_REPS
    stop = min(start + CHUNK_REPS, problem.total_reps)
    if not 0 <= start < stop:
        raise ValueError(f"chunk {chunk} is outside 0..{problem.n_chunks - 1}")
    G = problem.n_clusters
    if problem.enumerate_all:
        index = np.arange(start, stop, dtype=np.int64)
        bits = (index[None, :] >> np.arange(G, dtype=np.int64)[:, None]) & 1
        return 1.0 - 2.0 * bits
    rng = np.random.default_rng(np.random.SeedSequence([problem.spec.seed, chunk]))
    if problem.spec.weights == "rademacher":
        return 1.0 - 2.0 * rng.integers(0, 2, size=(G, stop - start))
    return _WEBB[rng.integers(0, 6, size=(G, stop - start))]


@dataclass(frozen=True)
class ChunkStats:
    """Per coefficient and replication of one chunk, the pieces of ``t*_b(beta0)``.

    ``t* = (n0 - beta0 n1) / sqrt(q0 - 2 beta0 q01 + beta0^2 q1)``; each array is ``k x b``.
    """

    n0: np.ndarray
    n1: np.ndarray
    q0: np.ndarray
    q01: np.ndarray
    q1: np.ndarray


def run_chunk(problem: BootstrapProblem, chunk: int) -> ChunkStats:
    """Evaluate the replications of one chunk (the unit of work sent to executors)."""
    v = draw_weights(problem, chunk)
    e0 = np.einsum("jhg,gb->jhb", problem.scores0, v)
    e1 = np.einsum("jhg,gb->jhb", problem.scores1, v)
    return ChunkStats(
        n0=problem.numer0 @ v,
        n1=problem.numer1 @ v,
        q0=np.einsum("jhb,jhb->jb", e0, e0),
        q01=np.einsum("jhb,jhb->jb", e0, e1),
        q1=np.einsum("jhb,jhb->jb", e1, e1),
    )


class _Distribution:
    """The bootstrap t statistics of one coefficient as a function of ``beta0``."""

    def __init__(self, stats: Sequence[ChunkStats], j: int, estimate: float, se: float) -> None:
        self.n0 = np.concatenate([s.n0[j] for s in stats])
        self.n1 = np.concatenate([s.n1[j] for s in stats])
        self.q0 = np.concatenate([s.q0[j] for s in stats])
        self.q01 = np.concatenate([s.q01[j] for s in stats])
        self.q1 = np.concatenate([s.q1[j] for s in stats])
        self.estimate = estimate
        self.se = se

    def pvalue(self, beta0: float) -> float:
        """Symmetric bootstrap p-value of ``H0: beta_j = beta0``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            observed = abs(self.estimate - beta0) / self.se
            variance = self.q0 - 2.0 * beta0 * self.q01 + beta0 * beta0 * self.q1
            boot = np.abs(self.n0 - beta0 * self.n1) / np.sqrt(np.maximum(variance, 0.0))
        exceeds = boot > observed * (1.0 + TIE_RTOL) + 1e-300
        return float(np.count_nonzero(exceeds & ~np.isnan(boot)) / self.n0.size)

    def bound(self, side: int, alpha: float) -> float | None:
        """The interval end on ``side`` (-1 lower, +1 upper); ``None`` if unbounded."""
        inside, step = self.estimate, 2.0 * self.se
        outside = None
        for _ in range(60):
            candidate = self.estimate + side * step
            if self.pvalue(candidate) <= alpha:
                outside = candidate
                break
            inside, step = candidate, step * 2.0
        if outside is None:
            return None
        while abs(outside - inside) > BISECTION_TOL * self.se:
            middle = 0.5 * (inside + outside)
            if self.pvalue(middle) <= alpha:
                outside = middle
            else:
                inside = middle
        return 0.5 * (inside + outside)


def convention(problem: BootstrapProblem) -> str:
    """One line naming what was computed, e.g. for table notes."""
    spec = problem.spec
    kind = "WCR" if spec.restricted else "WCU"
    draws = (
        f"all {problem.total_reps} Rademacher sign vectors (2^{problem.n_clusters}, enumerated)"
        if problem.enumerate_all
        else f"{spec.weights.capitalize()}, {problem.total_reps} reps, seed {spec.seed}"
    )
    return (
        f"wild cluster bootstrap-t, {kind}, {draws}; {problem.n_clusters} clusters of "
        f"{spec.by}; symmetric p, {LEVEL:.0%} CI by test inversion "
        "(Roodman et al. 2019, boottest)"
    )


def combine(problem: BootstrapProblem, stats: Sequence[ChunkStats]) -> dict[str, Any]:
    """p-values and intervals from all chunks of a problem: the results-file record.

    Returns
    -------
    dict
        ``{"type", "by", "clusters", "reps", "reps_requested", "weights", "restricted",
        "seed", "enumerated", "level", "convention", "tstats", "pvalues", "conf_int"}``,
        the last three keyed by term (intervals ``[lower, upper]``, ``None`` = unbounded).
    """
    if len(stats) != problem.n_chunks:
        raise ValueError(f"{len(stats)} chunks given, {problem.n_chunks} expected")
    tstats: dict[str, float] = {}
    pvalues: dict[str, float] = {}
    intervals: dict[str, list[float | None]] = {}
    alpha = 1.0 - LEVEL
    for j, term in enumerate(problem.terms):
        estimate, se = float(problem.params[j]), float(problem.se[j])
        tstats[term] = float(problem.tstats[j])
        distribution = _Distribution(stats, j, estimate, se)
        pvalues[term] = distribution.pvalue(0.0)
        intervals[term] = [distribution.bound(-1, alpha), distribution.bound(+1, alpha)]
    spec = problem.spec
    return {
        "type": spec.type,
        "by": spec.by,
        "clusters": problem.n_clusters,
        "reps": problem.total_reps,
        "reps_requested": spec.reps,
        "weights": spec.weights,
        "restricted": spec.restricted,
        "seed": spec.seed,
        "enumerated": problem.enumerate_all,
        "level": LEVEL,
        "convention": convention(problem),
        "tstats": tstats,
        "pvalues": pvalues,
        "conf_int": intervals,
    }


def wild_cluster_bootstrap(
    model: ModelSpec, frame: pd.DataFrame, result: ModelResult
) -> dict[str, Any]:
    """Serial convenience: prepare, run every chunk and combine (see :func:`combine`)."""
    problem = prepare(model, frame, result)
    return combine(problem, [run_chunk(problem, c) for c in range(problem.n_chunks)])


def summary_lines(record: Mapping[str, Any]) -> list[str]:
    """Readable lines for a ``bootstrap`` record (used by ``reexport estimate``)."""
    lines = [f"bootstrap: {record.get('convention', '')}"]
    intervals = record.get("conf_int") or {}
    for term, pvalue in (record.get("pvalues") or {}).items():
        lo, hi = (intervals.get(term) or [None, None])[:2]
        lo_text = "-inf" if lo is None else f"{lo:.4g}"
        hi_text = "inf" if hi is None else f"{hi:.4g}"
        lines.append(f"  {term}: p = {pvalue:.4f}, {LEVEL:.0%} CI [{lo_text}, {hi_text}]")
    return lines
