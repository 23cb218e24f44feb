"""Fixed effects: factorising, singleton removal, fast demeaning and absorbed degrees of freedom.

The within transformation: one effect is one exact sweep of (weighted) group
means, with group sums from :func:`numpy.bincount`.  Two effects where the
smaller has at most :data:`EXACT_MAX_LEVELS` levels (pairs x months, partners
x months) are absorbed *exactly* by Frisch-Waugh-Lovell on the smaller
effect: a ``G x G`` reduced system instead of iterations, so unbalanced
panels cost the same as balanced ones.  Otherwise the method of alternating
projections (as in ``reghdfe``, ``fixest`` and ``pyfixest``) sweeps until the
largest mean removed is below ``tol`` times the scale of the data.

Degrees of freedom absorbed by the fixed effects follow ``reghdfe``: the sum
of the numbers of levels, minus one redundant level for every additional
fixed effect within each connected component of the bipartite graph linking
the first two fixed effects (exact for one or two fixed effects, which is
all :mod:`reexport.models.estimate` uses).  For a connected panel this is
``G1 + G2 - 1``, the same count ``pyfixest`` and ``fixest`` use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from reexport.errors import BadInputError

#: Default convergence tolerance of the alternating projections, relative to the
#: largest absolute value in each column.  Tight, so that coefficients agree with
#: other implementations to ~1e-10 rather than to the solver's tolerance.
DEFAULT_TOL = 1e-12
DEFAULT_MAXITER = 10_000
#: Two effects are absorbed exactly (no iteration) when the smaller has at most this
#: many levels: the reduced ``G x G`` system is then cheap to solve directly.
EXACT_MAX_LEVELS = 3_000


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


def dense_codes(values: object) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` for a label column, and ``G``.

    Integer input that already is dense (every code in ``0..max`` present) is
    used as it is, so callers that factorised once do not pay for hashing again.

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
        counts = np.bincount(array)
        if (counts > 0).all():
            return array.astype(np.intp, copy=False), len(counts)
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
        Boolean mask over the observations.
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


def absorbed_df(effects: Sequence[FixedEffect]) -> int:
    """Degrees of freedom absorbed by the fixed effects (``reghdfe`` convention).

    Parameters
    ----------
    effects : sequence of FixedEffect

    Returns
    -------
    int
        ``G1`` for one effect; ``G1 + G2 - C`` for two, with ``C`` the number
        of connected components of the graph linking their levels; for more
        than two, each further effect adds ``G_j - 1`` (a conservative count,
        as ``reghdfe`` does beyond the first two).
    """
    if not effects:
        return 0
    total = effects[0].n_levels
    if len(effects) >= 2:
        first, second = effects[0], effects[1]
        graph = sparse.coo_matrix(
            (np.ones(len(first.codes)), (first.codes, second.codes)),
            shape=(first.n_levels, second.n_levels),
        ).tocsr()
        bipartite = sparse.bmat([[None, graph], [graph.T, None]])
        n_components, _ = connected_components(bipartite, directed=False)
        total += second.n_levels - n_components
    for effect in effects[2:]:
        total += effect.n_levels - 1
    return int(total)


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
        ``n x p`` array (or length-``n`` vector); not modified.
    effects : sequence of FixedEffect
        The effects to absorb; with none the input is returned as a copy.
    weights : numpy.ndarray, optional
        Observation weights (IRLS weights for Poisson); unweighted when ``None``.
    tol : float
        Stop when the largest group mean removed in a sweep is below ``tol``
        times the largest absolute value of the column.
    maxiter : int
        Maximum number of sweeps.
    method : str
        ``"auto"`` (exact for two effects when the smaller is small enough,
        else alternating projections), ``"exact"`` or ``"map"``.

    Returns
    -------
    demeaned : numpy.ndarray
        Same shape as ``matrix``.
    iterations : int
        Sweeps used.

    Raises
    ------
    BadInputError
        If the projections do not converge within ``maxiter`` sweeps.
    """
    vector = matrix.ndim == 1
    work = np.array(matrix, dtype=np.float64, copy=True, order="F")
    if vector:
        work = work[:, None]
    if not effects:
        return (work[:, 0] if vector else work), 0
    if method not in ("auto", "exact", "map"):
        raise ValueError(f"unknown demeaning method {method!r}")
    small_enough = min(e.n_levels for e in effects) <= EXACT_MAX_LEVELS
    if len(effects) == 2 and (method == "exact" or (method == "auto" and small_enough)):
        exact = _demean_two_exact(work, effects[0], effects[1], weights)
        return (exact[:, 0] if vector else exact), 1
    denominators = [
        np.bincount(effect.codes, weights=weights, minlength=effect.n_levels) for effect in effects
    ]
    scale = np.maximum(np.abs(work).max(axis=0), 1e-300)
    # One effect: a single exact sweep.  Several: alternate until the means vanish.
    sweeps_needed = 1 if len(effects) == 1 else maxiter
    active = np.arange(work.shape[1])
    iterations = 0
    for iterations in range(1, sweeps_needed + 1):  # noqa: B007 - value used after the loop
        largest = np.zeros(work.shape[1])
        for effect, denominator in zip(effects, denominators, strict=True):
            for j in active:
                column = work[:, j]
                values = column if weights is None else column * weights
                sums = np.bincount(effect.codes, weights=values, minlength=effect.n_levels)
                means = sums.astype(np.float64) / denominator
                column -= means[effect.codes]
                largest[j] = max(largest[j], float(np.abs(means).max()))
        if len(effects) == 1:
            break
        converged = largest <= tol * scale
        active = active[~converged[active]]
        if active.size == 0:
            break
    else:
        raise BadInputError(
            f"fixed-effect demeaning did not converge in {maxiter} sweeps "
            f"(effects {', '.join(e.name for e in effects)})"
        )
    return (work[:, 0] if vector else work), iterations


def _group_means(
    work: np.ndarray, effect: FixedEffect, weights: np.ndarray | None, denominator: np.ndarray
) -> np.ndarray:
    """Subtract the (weighted) group means of ``effect`` from every column, in place."""
    for j in range(work.shape[1]):
        column = work[:, j]
        values = column if weights is None else column * weights
        sums = np.bincount(effect.codes, weights=values, minlength=effect.n_levels)
        column -= (sums / denominator)[effect.codes]
    return work


def _demean_two_exact(
    work: np.ndarray, first: FixedEffect, second: FixedEffect, weights: np.ndarray | None
) -> np.ndarray:
    """Exact two-way within transformation by Frisch-Waugh-Lovell on the smaller effect.

    With ``D1`` the larger and ``D2`` the smaller effect's indicators and
    ``M1`` the (weighted) projection off ``D1``, the residual of ``m`` on both
    is ``M1 m - M1 D2 g`` with ``g`` solving ``(D2' W M1 D2) g = D2' W M1 m``.
    ``D2' W M1 D2 = diag(w2) - C' diag(1/w1) C`` (``C`` the weighted
    contingency table of the two effects) is only ``G2 x G2``; it is singular
    by one per connected component, so the minimum-norm solution is used
    (any solution gives the same residual).  One pass, no iteration, no
    tolerance: the answer does not depend on how unbalanced the panel is.
    """
    if first.n_levels < second.n_levels:
        first, second = second, first
    w = np.ones(len(first.codes)) if weights is None else weights
    w1 = np.bincount(first.codes, weights=w, minlength=first.n_levels)
    w2 = np.bincount(second.codes, weights=w, minlength=second.n_levels)
    table = sparse.coo_matrix(
        (w, (first.codes, second.codes)), shape=(first.n_levels, second.n_levels)
    ).tocsr()
    reduced = np.diag(w2) - (table.T @ sparse.diags(1.0 / w1) @ table).toarray()
    pinv = np.linalg.pinv(reduced, rcond=1e-12, hermitian=True)
    _group_means(work, first, weights, w1)
    rhs = np.column_stack(
        [
            np.bincount(second.codes, weights=work[:, j] * w, minlength=second.n_levels)
            for j in range(work.shape[1])
        ]
    )
    gamma = pinv @ rhs
    correction = np.asfortranarray(gamma[second.codes])
    _group_means(correction, first, weights, w1)
    work -= correction
    return work


def effects_from_columns(columns: Mapping[str, object]) -> list[FixedEffect]:
    """Factorise several label columns at once (helper for callers holding a mapping)."""
    return [factorize(name, values) for name, values in columns.items()]
