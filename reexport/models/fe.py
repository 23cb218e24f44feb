"""Fixed effects: factorising, singleton removal, fast demeaning and absorbed degrees of freedom.

The within transformation (:func:`demean`, :class:`Demeaner`) picks a method
by the shape of the effects:

* **one effect**: one exact sweep of (weighted) group means, group sums by
  sparse products;
* **two effects**: *exact* by Frisch-Waugh-Lovell on the effect with fewer
  levels.  With ``D1`` the larger and ``D2`` the smaller effect's indicators,
  the residual is ``M1 (m - D2 g)`` where ``g`` solves the reduced system
  ``L g = D2' W M1 m``; ``L = diag(w2) - C' diag(1/w1) C`` (``C`` the
  weighted contingency table of the two effects) is a weighted graph
  Laplacian on the smaller effect's levels: singular once per connected
  component, so one level per component is fixed at zero ("grounded") and
  the rest is positive definite.  It is solved by a dense Cholesky factor
  when small (:data:`EXACT_MAX_LEVELS`), by a sparse LU factor when sparse
  (low-mobility panels: most levels touch no other level), each with one
  step of iterative refinement.  No iterations and no tolerance, so unbalanced and
  weakly connected panels cost the same as balanced ones.  Only when the
  reduced system is both large and dense does it fall back to the
  iterative method below;
* **three or more effects**: alternating projections (as in ``reghdfe``,
  ``fixest``, ``pyfixest``) while they converge fast, switching to
  conjugate gradients on the symmetric Kaczmarz operator
  ``T = M1 M2 ... MK ... M2 M1`` (``reghdfe``'s default acceleration) as
  soon as the sweeps slow down.  Both stop when one full sweep removes
  (weighted) group means no larger than ``tol`` times the largest absolute
  value of the column (or, while the sweeps shrink geometrically, when the
  sum of all further sweeps is bounded by that).

Every path takes observation weights (IRLS weights of a Poisson fit,
analytic weights).  A :class:`Demeaner` reused across calls with the same
effects warm-starts the iterative path from the previous call's solution,
which is what an IRLS loop wants (the weights change a little each step);
a warm-started column stops only once the measured rate bounds its error,
else it is demeaned again cold.  The iterative path demeans its columns in
parallel threads (:func:`demean_threads`; same bits as one thread).

Degrees of freedom absorbed by the fixed effects follow ``reghdfe``'s
documented ``dofadjustments`` (default ``pairwise clusters``): each effect
counts its levels ``K_g`` minus its redundant levels ``M_g``; ``M_1 = 0``,
``M_2`` is the number of connected components of the bipartite graph of the
first two effects (exact), and ``M_g`` for each further effect is the largest
number of components between it and any earlier effect (a conservative
count, since no exact result is known beyond two effects).  For
cluster-robust covariances an effect nested in a cluster variable counts no
levels at all and every other effect at least one redundant level, as
``reghdfe`` does (:func:`cluster_absorbed_df`).  See :func:`dof_count` and
:func:`dof_rule`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType

import numpy as np
import pandas as pd
from scipy import linalg, sparse
from scipy.sparse import linalg as sparse_linalg
from scipy.sparse.csgraph import connected_components

from reexport.errors import BadInputError

#: Default convergence tolerance of the iterative demeaning, relative to the
#: largest absolute value in each column.  Tight, so that coefficients agree with
#: other implementations to ~1e-10 rather than to the solver's tolerance.
DEFAULT_TOL = 1e-12
DEFAULT_MAXITER = 10_000
#: The reduced two-way system is solved by a dense Cholesky factor up to this many
#: levels of the smaller effect (beyond, only when it is sparse: sparse LU; a large
#: dense system goes to the iterations, whose sweeps cost far less than the ~size^3/3
#: flops of its factor, which would be paid again at every IRLS step).
EXACT_MAX_LEVELS = 1_500
#: Largest contingency table of two effects built as a dense array (entries).
DENSE_TABLE_MAX = 4_000_000
#: Dense reduced systems up to this many multiply-adds are formed with numpy's own
#: loops rather than BLAS (see :func:`_two_way_system`).
EINSUM_MAX_FLOPS = 200_000_000
#: A reduced system is factorised sparsely only when it has at most this many
#: nonzeros per row on average (beyond, fill-in makes the factor dense).
SPARSE_MAX_ROW_NNZ = 40
#: ... and only with more levels than this (below, a dense Cholesky factor is instant).
SPARSE_MIN_LEVELS = 500
#: Alternating projections switch to conjugate gradients once a sweep removes more
#: than this fraction of the previous sweep's largest mean ...
SLOW_SWEEP_RATIO = 0.25
#: ... and more than this many further sweeps would be needed at that rate.
SLOW_SWEEPS_LEFT = 8

#: The iterative demeaning runs its columns in parallel threads from this many rows on.
THREADED_MIN_ROWS = 50_000
#: ... and takes its means off with compiled loops (numba) from this many rows on; below,
#: importing numba and loading its cache would cost more than the loops save.
COMPILED_MIN_ROWS = 20_000
#: A warm-started column whose convergence is not certified within this many sweeps
#: is demeaned again from a cold start (see :func:`_iterate_column`).
WARM_CERTIFY_SWEEPS = 12

METHODS = ("auto", "exact", "map", "accelerated")


@dataclass(frozen=True)
class FixedEffect:
    """One absorbed fixed effect.

    Attributes
    ----------
    name : str
        Name shown in messages, e.g. ``"entity"`` or the column name.
    codes : numpy.ndarray
        Integer level code (0..n_levels-1) for every observation.
    n_levels : int
        Number of distinct levels present.
    """

    name: str
    codes: np.ndarray
    n_levels: int

    def subset(self, keep: np.ndarray) -> FixedEffect:
        """Return the effect restricted to the rows where ``keep`` is true, re-coded densely."""
        return factorize(self.name, self.codes[keep])

    @cached_property
    def counts(self) -> np.ndarray:
        """Observations per level."""
        return np.bincount(self.codes, minlength=self.n_levels)

    @cached_property
    def _structure(self) -> tuple[np.ndarray, np.ndarray]:
        """Row positions sorted by level (stable) and level offsets (a level x row CSR pattern).

        Index arrays are kept in the integer type scipy uses, so a graph built on
        them (:func:`mobility_groups`) copies nothing.
        """
        index_type = np.int32 if len(self.codes) < 2**31 - 1 else np.int64
        # numpy sorts 16-bit integers by radix sort (linear time): use it when the codes fit.
        keys = self.codes.astype(np.uint16) if self.n_levels <= 2**16 else self.codes
        order = np.argsort(keys, kind="stable").astype(index_type)
        indptr = np.zeros(self.n_levels + 1, dtype=index_type)
        np.cumsum(self.counts, out=indptr[1:])
        return order, indptr

    @cached_property
    def is_sorted(self) -> bool:
        """Whether the rows are sorted by level (then broadcasting means is a ``repeat``)."""
        return bool(np.all(self.codes[1:] >= self.codes[:-1]))

    def broadcast(self, values: np.ndarray) -> np.ndarray:
        """``values[codes]``: one value per level spread to its rows."""
        if self.is_sorted:
            return np.repeat(values, self.counts)
        return values[self.codes]

    @cached_property
    def _column_pattern(self) -> tuple[np.ndarray, np.ndarray]:
        """Level code and column offset of every row: the pattern of the level x row matrix."""
        n = len(self.codes)
        index_type = np.int32 if max(n, self.n_levels) < 2**31 - 1 else np.int64
        return self.codes.astype(index_type), np.arange(n + 1, dtype=index_type)

    def level_sums(self, weights: np.ndarray | None) -> sparse.csc_matrix:
        """The ``n_levels x n`` matrix ``D' W``: its product with a column gives weighted group sums.

        Stored by column (one entry per row, the weight at the row's level), so the
        weights go in as they are: no sort, no gather, and the product is a
        sequential pass over the rows.
        """
        indices, indptr = self._column_pattern
        n = len(indices)
        data = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        return sparse.csc_matrix((data, indices, indptr), shape=(self.n_levels, n), copy=False)


def dense_codes(values: object) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` for a label column, and ``G``.

    Non-negative integer input is re-coded by its sorted distinct values
    without hashing (input that already is dense is used as it is), so
    callers that factorised once do not pay for hashing again.

    Parameters
    ----------
    values : array-like

    Returns
    -------
    codes : numpy.ndarray of intp
        ``-1`` marks a missing label.
    n_levels : int
    """
    array = np.asarray(values)
    if array.dtype.kind in "iu" and array.size and array.min() >= 0:
        largest = int(array.max())
        if largest < 4 * array.size + 1024:  # a bincount over the code range stays small
            counts = np.bincount(array, minlength=largest + 1)
            present = counts > 0
            if present.all():
                return array.astype(np.intp, copy=False), len(counts)
            relabel = np.cumsum(present, dtype=np.intp) - 1
            return relabel[array], int(present.sum())
    if array.size == 0:
        return np.zeros(0, dtype=np.intp), 0
    codes, uniques = pd.factorize(pd.Series(array), sort=False)
    return codes.astype(np.intp), len(uniques)


def factorize(name: str, values: object) -> FixedEffect:
    """Turn a column of labels into a :class:`FixedEffect` with dense integer codes.

    Parameters
    ----------
    name : str
        Name of the effect (used in messages).
    values : array-like
        One label per observation; missing labels are rejected.

    Returns
    -------
    FixedEffect
    """
    codes, n_levels = dense_codes(values)
    if (codes < 0).any():
        raise BadInputError(f"fixed effect {name!r} has missing values")
    return FixedEffect(name=name, codes=codes, n_levels=n_levels)


def singleton_mask(
    effects: Sequence[FixedEffect], *, counts: np.ndarray | None = None
) -> np.ndarray:
    """Rows to keep after iteratively dropping singleton groups (as ``reghdfe`` and ``pyfixest``).

    A singleton is an observation that is alone in a level of some fixed
    effect; it is fitted perfectly, carries no information on the slopes and
    would distort the degrees of freedom.  Dropping one can create another, so
    the check repeats until no singleton is left.

    Parameters
    ----------
    effects : sequence of FixedEffect
    counts : numpy.ndarray, optional
        Observations each row stands for (frequency weights).  ``reghdfe``'s
        rule: a level is a singleton when its counts sum to 1, so a lone row of
        frequency weight 2 is two observations and stays.  Default: one per row.

    Returns
    -------
    numpy.ndarray
        Boolean mask over the observations (empty with no effects or no rows).
    """
    if not effects:
        return np.ones(0, dtype=bool)
    n = len(effects[0].codes)
    keep = np.ones(n, dtype=bool)
    while True:
        changed = False
        for effect in effects:
            sizes = np.bincount(
                effect.codes[keep],
                weights=None if counts is None else counts[keep],
                minlength=effect.n_levels,
            )
            newly = keep & (sizes[effect.codes] == 1)
            if newly.any():
                keep &= ~newly
                changed = True
        if not changed:
            return keep


# -- degrees of freedom ----------------------------------------------------------------------
def mobility_groups(first: FixedEffect, second: FixedEffect) -> int:
    """Connected components of the bipartite graph linking the levels of two effects.

    Each observation is an edge between its level of ``first`` and its level
    of ``second`` (Abowd, Creecy and Kramarz 2002; ``reghdfe``'s "mobility
    groups").  Within each component one level is redundant.

    Parameters
    ----------
    first, second : FixedEffect
        Effects over the same observations.

    Returns
    -------
    int
        Number of components (0 with no observations).
    """
    nodes = first.n_levels + second.n_levels
    if len(first.codes) == 0 or nodes == 0:
        return 0
    # Rows: the levels of ``first`` (their observations in the cached sort order), then the
    # levels of ``second`` with no stored edges; undirected components see both directions.
    order, indptr = first._structure
    indices = (second.codes[order] + first.n_levels).astype(order.dtype)
    indptr = np.concatenate([indptr, np.full(second.n_levels, indptr[-1], dtype=indptr.dtype)])
    graph = sparse.csr_matrix(
        (np.ones(len(order), dtype=np.int8), indices, indptr), shape=(nodes, nodes)
    )
    n_components, _ = connected_components(graph, directed=False)
    return int(n_components)


@dataclass(frozen=True)
class DofCount:
    """Degrees of freedom absorbed by fixed effects, as ``reghdfe`` counts them.

    Attributes
    ----------
    levels : tuple of int
        ``K_g``, the levels of each effect (``reghdfe`` "Categories").
    redundant : tuple of int
        ``M_g``, the levels counted as redundant (``reghdfe`` "Redundant");
        equal to ``K_g`` for an effect nested in a cluster variable.
    nested : tuple of bool
        Whether each effect is nested in one of the cluster variables.
    exact : bool
        Whether the count is exact (at most two effects not nested in a cluster).
    rule : str
        Short description of the rule applied (see :func:`dof_rule`).
    """

    levels: tuple[int, ...]
    redundant: tuple[int, ...]
    nested: tuple[bool, ...]
    exact: bool
    rule: str

    @property
    def absorbed(self) -> int:
        """``reghdfe``'s ``e(df_a)``: levels minus redundant levels, over all effects."""
        return int(sum(self.levels) - sum(self.redundant))

    @property
    def nested_levels(self) -> int:
        """``reghdfe``'s ``e(df_a_nested)``: levels of the effects nested in a cluster variable."""
        return int(sum(k for k, is_in in zip(self.levels, self.nested, strict=True) if is_in))


def dof_count(
    effects: Sequence[FixedEffect],
    *,
    clusters: Sequence[np.ndarray] = (),
    adjustment: str = "pairwise",
) -> DofCount:
    """Absorbed degrees of freedom by ``reghdfe``'s documented ``dofadjustments`` rule.

    ``reghdfe`` (help, option ``dofadjustments``; ``DoF.mata``):

    * ``clusters``: an effect nested in (or equal to) a cluster variable has
      all its levels redundant (``M_g = K_g``) and takes no further part;
    * every remaining effect but the first has at least one redundant level;
      with a nested effect present the first one too (the nested effect
      already absorbs the constant);
    * ``pairwise`` (default): for each pair ``h < g`` of remaining effects,
      ``M_g = max(M_g, components(h, g))``, so the second effect's count is
      exact and later ones conservative; ``firstpair`` uses the first pair
      only; ``none`` skips the component counts.

    Parameters
    ----------
    effects : sequence of FixedEffect
        In the order the user listed them (the order matters beyond two).
    clusters : sequence of numpy.ndarray
        Integer cluster codes per observation, one array per cluster variable;
        empty for covariances that do not cluster.
    adjustment : {"pairwise", "firstpair", "none"}

    Returns
    -------
    DofCount
    """
    if adjustment not in ("pairwise", "firstpair", "none"):
        raise ValueError(f"unknown degrees-of-freedom adjustment {adjustment!r}")
    levels = [effect.n_levels for effect in effects]
    nested = [_nested_in_any(effect, clusters) for effect in effects]
    redundant = [k if is_in else 0 for k, is_in in zip(levels, nested, strict=True)]
    remaining = [g for g in range(len(effects)) if not nested[g]]
    any_nested = any(nested)
    for position, g in enumerate(remaining):
        if (position > 0 or any_nested) and levels[g] > 0:
            redundant[g] = 1
    pairs = 0
    if adjustment != "none":
        for position, g in enumerate(remaining):
            for h in remaining[:position]:
                if adjustment == "firstpair" and pairs >= 1:
                    break
                redundant[g] = max(redundant[g], mobility_groups(effects[h], effects[g]))
                pairs += 1
    exact = len(remaining) <= 1 or (len(remaining) == 2 and adjustment != "none")
    rule = _describe_rule(len(effects), len(remaining), adjustment, exact)
    return DofCount(tuple(levels), tuple(redundant), tuple(nested), exact, rule)


def _describe_rule(n_effects: int, n_remaining: int, adjustment: str, exact: bool) -> str:
    if n_effects == 0:
        return "no absorbed effects"
    nested = n_effects - n_remaining
    parts = []
    if n_remaining == 1:
        parts.append("exact (one effect: its levels)")
    elif n_remaining == 2 and exact:
        parts.append("exact (two effects: levels minus connected components)")
    elif n_remaining >= 3 and adjustment == "pairwise":
        parts.append(
            "reghdfe pairwise rule beyond the first two effects (exact for the first pair; "
            "each further effect loses its largest component count with an earlier effect; "
            "conservative)"
        )
    elif n_remaining >= 2:
        parts.append(f"reghdfe {adjustment} rule (conservative)")
    if nested:
        parts.append(
            f"{nested} effect{'s' if nested > 1 else ''} nested in a cluster variable not counted "
            "(reghdfe clusters adjustment)"
        )
    return "; ".join(parts)


def absorbed_df(effects: Sequence[FixedEffect]) -> int:
    """Degrees of freedom absorbed by the fixed effects (``reghdfe`` convention, no clusters).

    Parameters
    ----------
    effects : sequence of FixedEffect

    Returns
    -------
    int
        ``G1`` for one effect; ``G1 + G2 - C`` for two, with ``C`` the number
        of connected components of the graph linking their levels; beyond,
        ``reghdfe``'s pairwise rule (:func:`dof_count`).
    """
    return dof_count(effects).absorbed


def cluster_absorbed_df(effects: Sequence[FixedEffect], clusters: Sequence[np.ndarray]) -> int:
    """Parameters the effects count for in a cluster-robust small-sample factor (``reghdfe``).

    ``reghdfe`` uses ``(N - 1) / (N - df_m - df_a - nested) * G / (G - 1)``
    with ``df_a`` from :func:`dof_count` with the cluster variables and
    ``nested = 1`` when some effect is nested in a cluster variable (the
    constant it absorbs).  This returns ``df_a + nested``; add the slopes to
    get ``K``.

    Parameters
    ----------
    effects : sequence of FixedEffect
    clusters : sequence of numpy.ndarray
        Integer cluster codes per observation, one array per cluster variable.

    Returns
    -------
    int
    """
    count = dof_count(effects, clusters=clusters)
    return count.absorbed + (1 if any(count.nested) else 0)


def dof_rule(effects: Sequence[FixedEffect], *, clusters: Sequence[np.ndarray] = ()) -> str:
    """A short human-readable description of the degrees-of-freedom rule used for ``effects``.

    E.g. ``"exact (two effects: levels minus connected components)"`` or
    ``"reghdfe pairwise rule beyond the first two effects (...)"``.
    """
    levels = len(effects)
    remaining = levels - sum(_nested_in_any(effect, clusters) for effect in effects)
    exact = remaining <= 2
    return _describe_rule(levels, remaining, "pairwise", exact)


def _nested_in_any(effect: FixedEffect, clusters: Sequence[np.ndarray]) -> bool:
    """Nested in one of the cluster variables (an effect with no levels is not)."""
    return effect.n_levels > 0 and any(is_nested(effect, codes) for codes in clusters)


def is_nested(effect: FixedEffect, cluster_codes: np.ndarray) -> bool:
    """Whether every level of ``effect`` lies inside a single cluster.

    Parameters
    ----------
    effect : FixedEffect
    cluster_codes : numpy.ndarray
        Integer cluster code per observation.

    Returns
    -------
    bool
    """
    # The cluster of each level's first observation (reversed fancy assignment keeps
    # the first write); nested iff every observation agrees with it.  O(n), no sort.
    first = np.empty(effect.n_levels, dtype=np.int64)
    first[effect.codes[::-1]] = cluster_codes[::-1]
    return bool(np.array_equal(first[effect.codes], cluster_codes))


# -- demeaning -----------------------------------------------------------------------------
def _compiled_kernels() -> ModuleType | None:
    """The numba kernels (:mod:`reexport.models._kernels`), or ``None`` where numba is missing."""
    try:
        from reexport.models import _kernels
    except ImportError:  # numba not installed for this Python: the NumPy path, same numbers
        return None
    return _kernels


class _Projections:
    """The weighted group-mean projections ``P_k`` of a set of effects for fixed weights.

    ``compiled``: take the means off with the fused loops of
    :mod:`reexport.models._kernels` (same bits as the NumPy path, about twice
    as fast on large panels); the iterative demeaning asks for them from
    :data:`COMPILED_MIN_ROWS` rows on.
    """

    def __init__(
        self, effects: Sequence[FixedEffect], weights: np.ndarray | None, *, compiled: bool = False
    ) -> None:
        self.effects = list(effects)
        self.weights = weights
        self.kernels = _compiled_kernels() if compiled and self.effects else None
        if self.kernels is not None:
            n = len(self.effects[0].codes)
            self.row_weights = np.ones(n) if weights is None else weights
        totals = [
            effect.counts.astype(np.float64)
            if weights is None
            else np.bincount(effect.codes, weights=weights, minlength=effect.n_levels)
            for effect in self.effects
        ]
        # A level with zero total weight has no mean; its rows (all weight zero) stay as they are.
        self.inverse = [np.divide(1.0, t, out=np.zeros_like(t), where=t > 0) for t in totals]

    @cached_property
    def sums(self) -> list[sparse.csc_matrix]:
        """Each effect's ``D' W`` (the NumPy path's group sums; the kernels do not need them)."""
        return [effect.level_sums(self.weights) for effect in self.effects]

    def means(self, k: int, column: np.ndarray) -> np.ndarray:
        """Weighted group means of ``column`` by effect ``k``."""
        return (self.sums[k] @ column) * self.inverse[k]

    def remove(self, k: int, column: np.ndarray) -> float:
        """``column -= P_k column`` in place; return the largest absolute mean removed."""
        if self.kernels is not None:
            effect = self.effects[k]
            scratch = np.empty(effect.n_levels)
            if effect.is_sorted:
                return float(
                    self.kernels.remove_sorted_means(
                        column, effect.counts, self.row_weights, self.inverse[k], scratch
                    )
                )
            return float(
                self.kernels.remove_means(
                    column, effect.codes, self.row_weights, self.inverse[k], scratch
                )
            )
        means = self.means(k, column)
        column -= self.effects[k].broadcast(means)
        return float(np.abs(means).max()) if means.size else 0.0

    def sweep(self, column: np.ndarray) -> float:
        """One pass over all effects in order; the largest absolute mean removed."""
        return max(self.remove(k, column) for k in range(len(self.effects)))

    def symmetric(self, column: np.ndarray) -> np.ndarray:
        """``T column`` for the symmetric Kaczmarz operator ``M1 ... MK ... M1`` (a new array)."""
        out = column.copy()
        count = len(self.effects)
        for k in list(range(count)) + list(range(count - 2, -1, -1)):
            self.remove(k, out)
        return out

    def dot(self, a: np.ndarray, b: np.ndarray) -> float:
        """The weighted inner product ``a' W b`` in which every ``P_k`` is self-adjoint."""
        return float(a @ b) if self.weights is None else float((a * self.weights) @ b)


def _iterate_column(
    column: np.ndarray,
    projections: _Projections,
    limit: float,
    maxiter: int,
    *,
    accelerate: bool,
    warm: bool = False,
) -> int:
    """Demean one column in place to within ``limit``; return the sweeps used.

    Alternating projections while they converge fast; with ``accelerate``,
    conjugate gradients on ``I - T`` (``T`` the symmetric Kaczmarz operator,
    self-adjoint and positive semi-definite in the weighted inner product)
    once the sweeps slow down.  CG solves ``(I - T) u = (I - T) r`` for the
    part ``u`` of the current residual ``r`` that lies in the span of the
    effects; ``r - u`` is the demeaned column.  Convergence is always
    confirmed by a plain sweep removing means no larger than ``limit``.

    ``warm``: the column starts close to its projection (a warm start), so a
    small sweep no longer proves a small error: along a slowly converging
    direction the sweeps are small because the rate is close to one.  A
    warm-started column therefore stops only once the rate is measured (three
    sweeps) and the geometric bound on all further sweeps,
    ``largest * ratio / (1 - ratio)``, is within ``limit`` as well; if that
    is not shown within :data:`WARM_CERTIFY_SWEEPS` sweeps (rate close to
    one, or sweeps at rounding level), it gives up and returns ``-sweeps``,
    and the caller demeans the column again from a cold start.
    """
    sweeps = 0
    previous = math.inf
    while sweeps < maxiter:
        largest = projections.sweep(column)
        sweeps += 1
        ratio = largest / previous if previous > 0 else 0.0
        previous = largest
        if largest <= limit:
            if not warm:
                return sweeps
            if sweeps >= 3 and ratio < 1 and largest * ratio / (1 - ratio) <= limit:
                return sweeps
            if sweeps >= WARM_CERTIFY_SWEEPS:
                return -sweeps
            continue
        # Geometric convergence: all further sweeps together remove at most
        # largest * ratio / (1 - ratio); stop once that is within the limit too.
        if sweeps >= 3 and ratio < 0.5 and largest * ratio / (1 - ratio) <= limit:
            return sweeps
        if accelerate and sweeps >= 3 and ratio > SLOW_SWEEP_RATIO:
            left = math.log(limit / largest) / math.log(min(ratio, 1 - 1e-12))
            if left > SLOW_SWEEPS_LEFT:
                sweeps += _conjugate_gradients(column, projections, limit, maxiter - sweeps)
                return sweeps
    raise _not_converged(projections.effects, maxiter)


def _conjugate_gradients(
    column: np.ndarray, projections: _Projections, limit: float, maxiter: int
) -> int:
    """CG on the symmetric Kaczmarz operator, in place on ``column``; return the iterations."""
    iterations = 0
    while iterations < maxiter:
        residual = column - projections.symmetric(column)  # (I - T) r
        direction = residual.copy()
        rr = projections.dot(residual, residual)
        solution = np.zeros_like(column)
        while iterations < maxiter and rr > 0:
            image = direction - projections.symmetric(direction)
            curvature = projections.dot(direction, image)
            iterations += 1
            if curvature <= 0:
                break
            step = rr / curvature
            solution += step * direction
            residual -= step * image
            if np.abs(residual).max() <= limit:
                break
            rr_next = projections.dot(residual, residual)
            direction *= rr_next / rr
            direction += residual
            rr = rr_next
        column -= solution
        # Confirm (and polish) with the same criterion as the plain sweeps; restart if short.
        iterations += 1
        if projections.sweep(column) <= limit:
            return iterations
    raise _not_converged(projections.effects, maxiter)


def _not_converged(effects: Sequence[FixedEffect], maxiter: int) -> BadInputError:
    return BadInputError(
        f"fixed-effect demeaning did not converge in {maxiter} sweeps "
        f"(effects {', '.join(e.name for e in effects)})"
    )


@dataclass(frozen=True)
class _ReducedSystem:
    """The grounded reduced Laplacian of two effects, factorised; see :func:`_two_way_system`."""

    first: FixedEffect
    second: FixedEffect
    projections: _Projections  # of the larger effect only
    second_sums: sparse.csc_matrix
    grounded: np.ndarray  # levels of ``second`` kept in the system
    matrix: np.ndarray | sparse.csr_matrix
    solve: Callable[[np.ndarray], np.ndarray]

    def apply(self, work: np.ndarray) -> np.ndarray:
        """Exact two-way demeaning of every column of ``work`` (``n x p``), in place."""
        for j in range(work.shape[1]):
            self.projections.remove(0, work[:, j])
        rhs = np.column_stack([self.second_sums @ work[:, j] for j in range(work.shape[1])])
        rhs = rhs[self.grounded]
        gamma = self.solve(rhs)
        gamma += self.solve(rhs - self.matrix @ gamma)  # one step of iterative refinement
        full = np.zeros((self.second.n_levels, work.shape[1]))
        full[self.grounded] = gamma
        for j in range(work.shape[1]):
            correction = self.second.broadcast(full[:, j])
            self.projections.remove(0, correction)
            work[:, j] -= correction
        return work


def _two_way_system(
    first: FixedEffect, second: FixedEffect, weights: np.ndarray | None, *, force: bool
) -> _ReducedSystem | None:
    """Build and factorise the reduced two-way system, or ``None`` when it is large and dense.

    ``force`` builds it whatever its size (``method="exact"``).
    """
    if first.n_levels < second.n_levels:
        first, second = second, first
    g1, g2 = first.n_levels, second.n_levels
    n = len(first.codes)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    projections = _Projections([first], weights)
    inverse1 = projections.inverse[0]
    w2 = np.bincount(second.codes, weights=w, minlength=g2)
    if g1 * g2 <= DENSE_TABLE_MAX and n >= 0.05 * g1 * g2:
        table = np.bincount(first.codes * g2 + second.codes, weights=w, minlength=g1 * g2)
        table = table.reshape(g1, g2)
        scaled = table * inverse1[:, None]
        # numpy's own loops for the small products: multi-threaded BLAS stalls on a busy
        # machine (seconds for a 50 x 20,000 x 50 product that takes milliseconds).
        if g1 * g2 * g2 <= EINSUM_MAX_FLOPS:
            product = np.einsum("ij,ik->jk", scaled, table)
        else:
            product = scaled.T @ table
        laplacian: np.ndarray | sparse.csr_matrix = np.diag(w2) - product
        pattern = sparse.csr_matrix(np.asarray(laplacian) != 0)
    else:
        table_sparse = sparse.csr_matrix((w, (first.codes, second.codes)), shape=(g1, g2))
        laplacian = (
            sparse.diags(w2) - table_sparse.T @ sparse.diags(inverse1) @ table_sparse
        ).tocsr()
        pattern = laplacian
    _, labels = connected_components(pattern, directed=False)
    # Ground the first level of every component (and every level with no weight).
    grounded = np.ones(g2, dtype=bool)
    _, first_of_component = np.unique(labels, return_index=True)
    grounded[first_of_component] = False
    grounded &= w2 > 0
    size = int(grounded.sum())
    if isinstance(laplacian, np.ndarray):
        reduced: np.ndarray | sparse.csr_matrix = laplacian[np.ix_(grounded, grounded)]
    else:
        reduced = laplacian[grounded][:, grounded].tocsr()
    solve = _factorise(reduced, size, force=force)
    if solve is None:
        return None
    return _ReducedSystem(
        first=first,
        second=second,
        projections=projections,
        second_sums=second.level_sums(weights),
        grounded=grounded,
        matrix=reduced,
        solve=solve,
    )


def _factorise(
    reduced: np.ndarray | sparse.csr_matrix, size: int, *, force: bool
) -> Callable[[np.ndarray], np.ndarray] | None:
    """A solver for the grounded (positive definite) reduced system, or ``None`` if too costly."""
    if size == 0:
        return lambda rhs: np.zeros_like(rhs)
    if isinstance(reduced, np.ndarray) and size > EXACT_MAX_LEVELS:
        reduced = sparse.csr_matrix(reduced)
    # Sparse LU when the system is sparse and big enough for a dense factor to cost.
    if (
        not isinstance(reduced, np.ndarray)
        and size > SPARSE_MIN_LEVELS
        and reduced.nnz <= SPARSE_MAX_ROW_NNZ * size
    ):
        lu = sparse_linalg.splu(
            sparse.csc_matrix(reduced),
            permc_spec="MMD_AT_PLUS_A",
            diag_pivot_thresh=0.0,
            options={"SymmetricMode": True},
        )
        return lambda rhs: lu.solve(np.asarray(rhs, dtype=np.float64))
    if size > EXACT_MAX_LEVELS and not force:
        return None
    dense = reduced if isinstance(reduced, np.ndarray) else reduced.toarray()
    try:
        factor = linalg.cho_factor(dense, check_finite=False)
    except linalg.LinAlgError:
        # Numerically semi-definite (extreme weights): least squares is still exact enough.
        return lambda rhs: linalg.lstsq(dense, rhs, check_finite=False)[0]
    return lambda rhs: linalg.cho_solve(factor, rhs, check_finite=False)


class Demeaner:
    """Reusable within transformation for one set of fixed effects.

    Keeps the effects' sort orders between calls and, for the iterative
    method, the fixed-effect part ``matrix - demeaned`` of the previous call:
    with ``warm=True`` the next call starts from ``matrix - previous part``
    (the same projection, since that part lies in the span of the effects),
    which converges in far fewer sweeps when only the weights moved a little
    (IRLS).

    Parameters
    ----------
    effects : sequence of FixedEffect
    tol, maxiter, method
        As for :func:`demean`.
    """

    def __init__(
        self,
        effects: Sequence[FixedEffect],
        *,
        tol: float = DEFAULT_TOL,
        maxiter: int = DEFAULT_MAXITER,
        method: str = "auto",
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown demeaning method {method!r}")
        self.effects = list(effects)
        self.tol = tol
        self.maxiter = maxiter
        self.method = method
        #: Keep the fixed-effect part of each iterated call for ``warm=True`` (one ``n x p``
        #: array); :func:`demean` turns it off for its throwaway demeaner.
        self.remember = True
        #: Use the compiled kernels on large panels (tests turn it off to compare the paths).
        self.compiled = True
        self._previous_part: np.ndarray | None = None

    def demean(
        self,
        matrix: np.ndarray,
        *,
        weights: np.ndarray | None = None,
        warm: bool = False,
        tol: float | None = None,
    ) -> tuple[np.ndarray, int]:
        """Subtract the (weighted) fixed-effect projection from every column of ``matrix``.

        Parameters
        ----------
        matrix : numpy.ndarray
            ``n x p`` array (or length-``n`` vector); not modified.
        weights : numpy.ndarray, optional
            Observation weights; unweighted when ``None``.
        warm : bool
            Start the iterative method from the previous call's fixed-effect
            part (ignored when the shapes differ or no previous call iterated).
        tol : float, optional
            Tolerance of this call (default: the demeaner's), e.g. from
            :func:`irls_tolerance`.

        Returns
        -------
        demeaned : numpy.ndarray
            Same shape as ``matrix``.
        iterations : int
            Sweeps used (1 for the exact methods, 0 with no effects or rows).
        """
        vector = matrix.ndim == 1
        work = np.array(matrix, dtype=np.float64, copy=True, order="F")
        if vector:
            work = work[:, None]
        effects = self.effects
        if not effects or work.shape[0] == 0:
            return (work[:, 0] if vector else work), 0
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
        iterations, iterated = self._demean(
            work, weights, warm=warm, tol=self.tol if tol is None else tol
        )
        if iterated and self.remember:
            # What the iterations removed, a vector in the span of the effects (warm starts).
            self._previous_part = np.subtract(matrix.reshape(work.shape), work)
        return (work[:, 0] if vector else work), iterations

    def _demean(
        self, work: np.ndarray, weights: np.ndarray | None, *, warm: bool, tol: float
    ) -> tuple[int, bool]:
        """Demean ``work`` in place; return the sweeps and whether the iterative method ran."""
        effects, method = self.effects, self.method
        if len(effects) == 1:
            projections = _Projections(effects, weights)
            for j in range(work.shape[1]):
                projections.remove(0, work[:, j])
            return 1, False
        if len(effects) == 2 and method in ("auto", "exact"):
            system = _two_way_system(effects[0], effects[1], weights, force=method == "exact")
            if system is not None:
                system.apply(work)
                return 1, False
        if method == "exact":
            raise ValueError("method 'exact' needs one or two effects")
        scale = np.abs(work).max(axis=0)
        previous = self._previous_part
        warm = warm and previous is not None and previous.shape == work.shape
        projections = _Projections(
            effects, weights, compiled=self.compiled and work.shape[0] >= COMPILED_MIN_ROWS
        )
        accelerate = method != "map"

        def one_column(j: int) -> int:
            column = work[:, j]
            limit = tol * max(float(scale[j]), 1e-300)
            if warm and previous is not None:
                original = column.copy()
                column -= previous[:, j]
                used = _iterate_column(
                    column, projections, limit, self.maxiter, accelerate=accelerate, warm=True
                )
                if used >= 0:
                    return used
                column[:] = original  # not certified from the warm start: again, cold
            return _iterate_column(column, projections, limit, self.maxiter, accelerate=accelerate)

        columns = range(work.shape[1])
        threads = demean_threads(work.shape[1], work.shape[0])
        if threads <= 1:
            return max(one_column(j) for j in columns), True
        # Columns are independent and the sweeps' sparse products and gathers release the GIL,
        # so threads give the same numbers as one thread, sooner.  A pool per call, never a
        # cached one: its threads would not survive the fork of a battery's worker processes.
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return max(pool.map(one_column, columns)), True


def demean_threads(columns: int, rows: int) -> int:
    """Threads the iterative demeaning of ``columns`` columns of ``rows`` rows uses.

    ``REEXPORT_NUM_THREADS`` when set (battery workers set it to 1, so that
    parallel models do not each start threads), else the CPUs this process
    may run on; never more than the columns, and one for small problems
    (below :data:`THREADED_MIN_ROWS` rows, where starting threads costs more
    than it saves).
    """
    if columns <= 1 or rows < THREADED_MIN_ROWS:
        return 1
    configured = os.environ.get("REEXPORT_NUM_THREADS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        available = int(configured)
    else:
        available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    return max(1, min(available, columns))


def irls_tolerance(criterion: float, *, final: float = DEFAULT_TOL) -> float:
    """Demeaning tolerance for one IRLS step, given the previous step's convergence criterion.

    Early IRLS steps only need to point the iteration the right way: the
    fixed point does not depend on how exactly they were demeaned, because
    each step starts again from the data.  So the tolerance is loose
    (``1e-7``) while the relative change of the deviance ``criterion`` is
    large and tightens with it (``criterion * 1e-4``) down to ``final``;
    the IRLS loop must not stop before a step at ``final`` has been taken.
    On the gravity benchmark panel this halves the sweeps, with
    coefficients equal to ``1e-14``.

    Parameters
    ----------
    criterion : float
        Previous relative change in deviance (``inf`` before the first step).
    final : float
        The tolerance of the last steps (default :data:`DEFAULT_TOL`).

    Returns
    -------
    float
    """
    return max(final, min(1e-7, criterion * 1e-4))


def demean(
    matrix: np.ndarray,
    effects: Sequence[FixedEffect],
    *,
    weights: np.ndarray | None = None,
    tol: float = DEFAULT_TOL,
    maxiter: int = DEFAULT_MAXITER,
    method: str = "auto",
) -> tuple[np.ndarray, int]:
    """Subtract the (weighted) fixed-effect projection from every column of ``matrix``.

    Parameters
    ----------
    matrix : numpy.ndarray
        ``n x p`` array (or length-``n`` vector); not modified.  Zero rows are fine.
    effects : sequence of FixedEffect
        The effects to absorb; with none the input is returned as a copy.
    weights : numpy.ndarray, optional
        Observation weights (IRLS weights for Poisson, analytic weights);
        unweighted when ``None``.
    tol : float
        Iterative methods stop when a full sweep removes no group mean larger
        than ``tol`` times the largest absolute value of the column.
    maxiter : int
        Maximum number of sweeps (or conjugate-gradient iterations).
    method : str
        ``"auto"`` (exact for one or two effects unless the reduced two-way
        system is both large and dense; accelerated iterations otherwise),
        ``"exact"`` (one or two effects, whatever the size),
        ``"accelerated"`` (alternating projections switching to conjugate
        gradients when slow) or ``"map"`` (plain alternating projections, for
        reference).

    Returns
    -------
    demeaned : numpy.ndarray
        Same shape as ``matrix``.
    iterations : int
        Sweeps used (1 for the exact methods).

    Raises
    ------
    BadInputError
        If the iterations do not converge within ``maxiter``.
    """
    demeaner = Demeaner(effects, tol=tol, maxiter=maxiter, method=method)
    demeaner.remember = False
    return demeaner.demean(matrix, weights=weights)


def effects_from_columns(columns: Mapping[str, object]) -> list[FixedEffect]:
    """Factorise several label columns at once (helper for callers holding a mapping)."""
    return [factorize(name, values) for name, values in columns.items()]
