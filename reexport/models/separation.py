"""Separation in Poisson models: the observations whose conditional mean is zero at the optimum.

A Poisson (PPML) maximum likelihood estimate does not exist when some
linear combination ``z`` of the regressors and fixed-effect dummies is zero
on every observation with ``y > 0``, non-negative on the observations with
``y = 0`` and positive on at least one of them: moving the coefficients
along ``z`` raises the likelihood for ever, the fitted means of the
``z > 0`` observations go to zero and some coefficients to infinity.  Those
observations are *separated*.  Dropping them leaves the estimates of every
identified parameter unchanged and makes the maximum exist (Correia,
Guimarães & Zylkin, "Verifying the existence of maximum likelihood
estimates for generalized linear models", arXiv:1903.01633, 2019/2021).

:func:`detect` finds them as ``ppmlhdfe`` does (Correia, Guimarães & Zylkin,
"Fast Poisson estimation with high-dimensional fixed effects", *Stata
Journal* 20(1), 2020, and its ``separation()`` option), with three methods:

``"fe"``
    Levels of an absorbed effect whose outcome is zero throughout: their
    dummy is a certificate ``z`` by itself.  Iterated with the removal of
    singletons, because each can create the other.
``"simplex"``
    Combinations of the regressors (and of a constant, which every set of
    absorbed effects spans).  ``z = X g`` must vanish where ``y > 0``, so ``g``
    lies in the null space of the ``y > 0`` rows of ``X``; a linear program
    (HiGHS, through :func:`scipy.optimize.linprog`) over the ``y = 0`` rows
    then finds the largest set of rows on which some such ``z`` is positive.
    When the ``y > 0`` rows of ``X`` have full column rank the null space is
    empty and no program is solved.
``"relu"``
    Combinations of regressors *and* fixed effects: the iterative rectifier
    of Correia, Guimarães & Zylkin.  Starting from ``u = 1{y = 0}``, regress
    ``u`` on the regressors and the absorbed effects by weighted least
    squares with a very large weight on the ``y > 0`` rows (the "method of
    weighting", which forces the fit to zero there), replace ``u`` on the
    ``y = 0`` rows by the positive part of the fit, and stop when the fit is
    non-negative on every ``y = 0`` row (the fit is then a certificate; its
    positive rows are separated) or when no residual of a ``y = 0`` row is
    negative (the normal equations then rule out further separation).

Counts are reported under ``singletons``, ``separated_fe``,
``separated_simplex`` and ``separated_relu``; a row counts under the first
stage that drops it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import lsmr

from reexport.errors import BadInputError
from reexport.models import fe as fe_mod

log = logging.getLogger(__name__)

#: Methods :func:`detect` knows, in the order it applies them (``ppmlhdfe``'s default set).
SEPARATION_METHODS: tuple[str, ...] = ("fe", "simplex", "relu")
#: The iterative rectifier treats fitted values within this distance of zero as zero
#: (``ppmlhdfe``'s default ``relu_tol``).
RELU_TOL = 1e-4
#: Residuals smaller than this are zero in the "no negative residual" stopping rule
#: (``ppmlhdfe``'s ``relu_zero_tol``).
RELU_ZERO_TOL = 1e-8
RELU_MAXITER = 100
#: Weight of the ``y > 0`` rows in the rectifier's least squares: ``eps ** -0.5``, the
#: rule of thumb for the method of weighting (Van Loan 1985), as ``ppmlhdfe`` uses.
CONSTRAINT_WEIGHT = float(np.finfo(np.float64).eps ** -0.5)
#: Singular values of the (column-scaled) ``y > 0`` design below this fraction of the
#: largest span its null space in the simplex method.
NULL_SPACE_TOL = 1e-9

#: When the rectifier does not finish, problems with at most this many regressors plus
#: effect levels are solved exactly by the simplex method's linear program on the
#: regressors and explicit dummies (a dense SVD of that many columns stays cheap).
EXACT_FALLBACK_MAX_COLUMNS = 2_000
#: ... and at most this many cells in the dense design (5e6 doubles = 40 MB).
EXACT_FALLBACK_MAX_CELLS = 5_000_000

#: ``dropped_rows`` key of each stage, in the order the stages run.
DROP_KEYS: dict[str, str] = {
    "singletons": "singletons",
    "fe": "separated_fe",
    "simplex": "separated_simplex",
    "relu": "separated_relu",
}
_DESCRIPTIONS = {
    "fe": "in fixed-effect groups with an all-zero outcome",
    "simplex": "separated by a combination of the regressors (simplex method)",
    "relu": "separated by a combination of regressors and fixed effects (ReLU method)",
}

EffectsArg = Sequence[fe_mod.FixedEffect] | Mapping[str, Any]


@dataclass(frozen=True)
class SeparationResult:
    """Which observations :func:`detect` keeps, and why it dropped the others.

    Attributes
    ----------
    keep : numpy.ndarray
        Boolean mask over the input rows: ``True`` for the rows to estimate on.
    dropped_by : numpy.ndarray
        For every row, ``""`` if kept, else the :data:`DROP_KEYS` value of the
        stage that dropped it (``"singletons"``, ``"separated_fe"``,
        ``"separated_simplex"`` or ``"separated_relu"``).
    relu_iterations : int
        Rectifier iterations, summed over rounds (0 if it did not run).
    rounds : int
        Rounds of simplex and rectifier: they run again on the rows left
        until a round drops nothing (a certificate found by either need not
        reach every separated row).
    methods : tuple of str
        The separation methods applied.
    """

    keep: np.ndarray
    dropped_by: np.ndarray
    relu_iterations: int = 0
    rounds: int = 0
    methods: tuple[str, ...] = ()

    @property
    def dropped_rows(self) -> dict[str, int]:
        """Rows dropped per stage (non-zero counts only), in stage order."""
        counts = {key: int(np.sum(self.dropped_by == key)) for key in DROP_KEYS.values()}
        return {key: count for key, count in counts.items() if count}

    @property
    def separated(self) -> np.ndarray:
        """Boolean mask of the rows dropped as separated (by any method; singletons excluded)."""
        return (~self.keep) & (self.dropped_by != DROP_KEYS["singletons"]) & (self.dropped_by != "")


def check_methods(methods: Sequence[str] | str, *, where: str = "") -> tuple[str, ...]:
    """Validate a choice of separation methods.

    Parameters
    ----------
    methods : sequence of str or str
        Any of :data:`SEPARATION_METHODS`; a single string is one method;
        an empty sequence disables the checks.
    where : str
        Location prefix for the error message.

    Returns
    -------
    tuple of str
        The methods, without repeats, in :data:`SEPARATION_METHODS` order.
    """
    chosen = (methods,) if isinstance(methods, str) else tuple(methods)
    unknown = [m for m in chosen if m not in SEPARATION_METHODS]
    if unknown:
        raise BadInputError(
            f"{_prefix(where)}unknown separation method {unknown[0]!r} "
            f"(known: {', '.join(SEPARATION_METHODS)})"
        )
    return tuple(m for m in SEPARATION_METHODS if m in chosen)


def detect(
    y: np.ndarray | Sequence[float],
    X: np.ndarray | Any,
    effects: EffectsArg = (),
    *,
    weights: np.ndarray | None = None,
    methods: Sequence[str] | str = SEPARATION_METHODS,
    drop_singletons: bool = True,
    row_counts: np.ndarray | None = None,
    tol: float = RELU_TOL,
    maxiter: int = RELU_MAXITER,
    where: str = "",
) -> SeparationResult:
    """Find the observations a Poisson model must drop before it is estimated (``ppmlhdfe``).

    Parameters
    ----------
    y : array-like
        Non-negative outcome, length ``n``.
    X : numpy.ndarray or pandas.DataFrame
        ``n x k`` regressors as estimated, including the constant if the model
        has one and absorbs no effect (with effects the constant is implied).
    effects : sequence of FixedEffect or mapping of name to labels
        Absorbed effects, aligned with the rows of ``y``.
    weights : numpy.ndarray, optional
        Observation weights.  Separation does not depend on positive weights;
        rows whose weight is zero carry no likelihood, so they are left out
        of every check (they neither cause nor prevent separation) and are
        reported as kept.
    methods : sequence of str
        Any of ``"fe"``, ``"simplex"``, ``"relu"`` (default all three, as
        ``ppmlhdfe``); ``()`` checks nothing (singletons are still dropped).
    drop_singletons : bool
        Drop singleton groups of the effects too (iterated together with the
        ``"fe"`` check, as ``ppmlhdfe`` does unless ``keepsingletons``).
    row_counts : numpy.ndarray, optional
        Observations each row stands for (frequency weights), for the singleton
        rule (:func:`reexport.models.fe.singleton_mask`); one per row by default.
    tol : float
        Tolerance of the rectifier: fitted values within ``tol`` of zero are zero.
    maxiter : int
        Maximum rectifier iterations per round; when reached, a warning is
        logged and the rows found so far are kept (the estimation's own
        convergence checks then refuse a fit without a finite maximum).
    where : str
        Location prefix for messages, e.g. ``"spec.toml [model m1]"``.

    Returns
    -------
    SeparationResult
    """
    chosen = check_methods(methods, where=where)
    try:
        target = np.asarray(y, dtype=np.float64)
        matrix = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadInputError(f"{_prefix(where)}separation check needs numeric data") from None
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    n = len(target)
    if matrix.shape[0] != n:
        raise BadInputError(
            f"{_prefix(where)}the design has {matrix.shape[0]} rows for {n} outcomes"
        )
    if not (np.isfinite(target).all() and np.isfinite(matrix).all()):
        raise BadInputError(f"{_prefix(where)}separation check needs finite data")
    if (target < 0).any():
        raise BadInputError(f"{_prefix(where)}ppml needs a non-negative outcome")
    fixed = _as_effects(effects)
    if any(len(f.codes) != n for f in fixed):
        raise BadInputError(f"{_prefix(where)}fixed effects and outcome differ in length")
    weighted = np.ones(n, dtype=bool)
    if weights is not None:
        weight_values = np.asarray(weights, dtype=np.float64)
        if weight_values.shape != (n,) or not np.isfinite(weight_values).all():
            raise BadInputError(f"{_prefix(where)}weights must be finite, one per row")
        if (weight_values < 0).any():
            raise BadInputError(f"{_prefix(where)}weights must not be negative")
        weighted = weight_values > 0
    # Zero-weight rows are outside every check but stay in the sample.
    active = weighted.copy()
    dropped_by = np.full(n, "", dtype=f"<U{max(len(key) for key in DROP_KEYS.values())}")

    def drop(local: np.ndarray, stage: str) -> int:
        positions = np.flatnonzero(active)[local]
        active[positions] = False
        dropped_by[positions] = DROP_KEYS[stage]
        return len(positions)

    relu_iterations = 0
    rounds = 0
    while True:
        if fixed:
            _drop_fe_and_singletons(
                target,
                fixed,
                active,
                dropped_by,
                fe_check="fe" in chosen,
                singletons=drop_singletons,
                row_counts=row_counts,
            )
        found = 0
        if "simplex" in chosen:
            found += drop(
                _simplex_separated(target[active], matrix[active], add_constant=bool(fixed)),
                "simplex",
            )
        if "relu" in chosen:
            local, iterations = _relu_separated(
                target[active],
                matrix[active],
                [f.subset(active) for f in fixed],
                tol=tol,
                maxiter=maxiter,
                where=where,
            )
            relu_iterations += iterations
            if local is None:
                local = _relu_fallback(
                    target[active], matrix[active], fixed, active, iterations, where=where
                )
            found += drop(local, "relu")
        rounds += 1
        # A certificate need not reach every separated row (the first fit of the rectifier
        # that is non-negative stops it), so look again until a round finds nothing.
        if not found:
            break
    result = SeparationResult(
        keep=active | ~weighted,
        dropped_by=dropped_by,
        relu_iterations=relu_iterations,
        rounds=rounds,
        methods=chosen,
    )
    counts = result.dropped_rows
    for method in SEPARATION_METHODS:
        count = counts.get(DROP_KEYS[method], 0)
        if count:
            log.warning(
                "%sppml: dropped %d observation%s %s",
                _prefix(where),
                count,
                "" if count == 1 else "s",
                _DESCRIPTIONS[method],
            )
    if counts.get("singletons"):
        log.info("%sdropped %d singleton observations", _prefix(where), counts["singletons"])
    return result


# -- the three methods -------------------------------------------------------------------------
def all_zero_groups(target: np.ndarray, fixed: Sequence[fe_mod.FixedEffect]) -> np.ndarray:
    """Rows to keep once fixed-effect groups whose outcome is zero throughout are dropped.

    Dropping a group can leave another group (of another effect) with only
    zero outcomes, so the check repeats until nothing changes.

    Parameters
    ----------
    target : numpy.ndarray
        Non-negative outcome.
    fixed : sequence of FixedEffect
        Effects aligned with ``target``.

    Returns
    -------
    numpy.ndarray
        Boolean mask, ``True`` for rows outside all-zero groups.
    """
    keep = np.ones(len(target), dtype=bool)
    while True:
        changed = False
        for effect in fixed:
            totals = np.bincount(
                effect.codes[keep], weights=target[keep], minlength=effect.n_levels
            )
            seen = np.bincount(effect.codes[keep], minlength=effect.n_levels)
            dead = (totals <= 0) & (seen > 0)
            newly = keep & dead[effect.codes]
            if newly.any():
                keep &= ~newly
                changed = True
        if not changed:
            return keep


def _drop_fe_and_singletons(
    target: np.ndarray,
    fixed: Sequence[fe_mod.FixedEffect],
    active: np.ndarray,
    dropped_by: np.ndarray,
    *,
    fe_check: bool,
    singletons: bool,
    row_counts: np.ndarray | None = None,
) -> int:
    """Drop singletons and all-zero groups among the ``active`` rows (in place) until neither drops a row."""
    total = 0
    while True:
        positions = np.flatnonzero(active)
        current = [f.subset(active) for f in fixed]
        if singletons:
            alone = ~fe_mod.singleton_mask(
                current, counts=None if row_counts is None else row_counts[active]
            )
            if alone.any():
                active[positions[alone]] = False
                dropped_by[positions[alone]] = DROP_KEYS["singletons"]
                total += int(alone.sum())
                continue
        if fe_check:
            dead = ~all_zero_groups(target[active], current)
            if dead.any():
                active[positions[dead]] = False
                dropped_by[positions[dead]] = DROP_KEYS["fe"]
                total += int(dead.sum())
                continue
        return total


def _scaled_columns(matrix: np.ndarray) -> np.ndarray:
    """Columns divided by their largest absolute value (all-zero columns left as they are)."""
    scale = np.abs(matrix).max(axis=0) if matrix.size else np.ones(matrix.shape[1])
    return matrix / np.where(scale > 0, scale, 1.0)


def _simplex_separated(target: np.ndarray, matrix: np.ndarray, *, add_constant: bool) -> np.ndarray:
    """Rows separated by a combination of the regressors (and a constant); boolean mask."""
    n = len(target)
    none = np.zeros(n, dtype=bool)
    boundary = target == 0
    if not boundary.any() or n == 0:
        return none
    design = _scaled_columns(matrix)
    if add_constant:
        design = np.column_stack([design, np.ones(n)])
    k = design.shape[1]
    if k == 0:
        return none
    null_basis = _null_space(design[~boundary])
    if null_basis.shape[1] == 0:
        return none  # the y > 0 rows pin every combination: nothing can be separated
    # Candidate certificates z = X g with g in the null space: z = B d on the y = 0 rows.
    candidates = design[boundary] @ null_basis
    scale = np.abs(candidates).max(axis=0)
    useful = scale > NULL_SPACE_TOL
    if not useful.any():
        return none
    candidates = candidates[:, useful] / scale[useful]
    null_basis = null_basis[:, useful] / scale[useful]
    # Rows on which every candidate vanishes cannot be separated: keep them out of the
    # program (a dummy regressor that is zero where y > 0 leaves only its own rows).
    reachable = np.abs(candidates).max(axis=1) > NULL_SPACE_TOL
    candidates = candidates[reachable]
    n0, r = candidates.shape
    from scipy.optimize import linprog  # imported here: ~70 ms that most fits never need

    # max sum(t)  s.t.  t <= B d,  0 <= t <= 1,  d free.  The certificates form a cone, so
    # the optimum puts t = 1 on exactly the rows some certificate makes positive.
    objective = np.concatenate([np.zeros(r), -np.ones(n0)])
    constraints = sparse.hstack(
        [sparse.csr_matrix(-candidates), sparse.identity(n0, format="csr")], format="csr"
    )
    bounds = [(None, None)] * r + [(0.0, 1.0)] * n0
    solution = linprog(
        objective, A_ub=constraints, b_ub=np.zeros(n0), bounds=bounds, method="highs"
    )
    if solution.status != 0 or solution.x is None:
        log.debug("simplex separation check: linear program ended with %s", solution.message)
        return none
    direction = solution.x[:r]
    certificate = design @ (null_basis @ direction)
    separated_local = solution.x[r:] > 0.5
    size = np.abs(certificate[boundary]).max(initial=0.0)
    # Accept only a genuine certificate: zero where y > 0, non-negative where y = 0.
    positive_rows = np.abs(certificate[~boundary]).max(initial=0.0)
    if size == 0 or positive_rows > 1e-9 * size or certificate[boundary].min() < -1e-7 * size:
        log.debug("simplex separation check: discarded an inexact certificate")
        return none
    result = none.copy()
    result[np.flatnonzero(boundary)[np.flatnonzero(reachable)[separated_local]]] = True
    return result


def _null_space(block: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the null space of ``block`` (``m x k``), from the SVD of its R factor."""
    m, k = block.shape
    if m == 0:
        return np.eye(k)
    small = linalg.qr(block, mode="r")[0][:k] if m > k else block
    _, singular, vt = np.linalg.svd(small, full_matrices=True)
    if singular.size == 0 or singular[0] == 0:
        return np.eye(k)
    rank = int(np.sum(singular > NULL_SPACE_TOL * singular[0]))
    return np.asarray(vt[rank:].T)


def _relu_separated(
    target: np.ndarray,
    matrix: np.ndarray,
    fixed: Sequence[fe_mod.FixedEffect],
    *,
    tol: float,
    maxiter: int,
    where: str,
) -> tuple[np.ndarray | None, int]:
    """The iterative rectifier: rows separated by regressors and effects together.

    Returns ``(mask, iterations)``; ``mask`` is ``None`` when the rectifier
    did not finish (``maxiter`` reached, or its least-squares solver stalled).
    """
    n = len(target)
    boundary = target == 0
    none = np.zeros(n, dtype=bool)
    if not boundary.any() or boundary.all():
        # With no positive outcome at all the caller refuses the model anyway.
        return none, 0
    # Candidates: the y = 0 rows not yet shown to be zero in every certificate.
    candidates = boundary.copy()

    def solver() -> _WeightedLeastSquares:
        # The method of weighting: a huge weight on the other rows forces the fit to zero there.
        weights = np.where(candidates, 1.0, CONSTRAINT_WEIGHT)
        return _WeightedLeastSquares(matrix, fixed, weights, where=where)

    least_squares = solver()
    u = candidates.astype(np.float64)
    for iteration in range(1, maxiter + 1):
        fitted = least_squares.fit(u)
        if fitted is None:
            return None, iteration
        resid = u - fitted
        fitted[~candidates] = 0.0
        # Tighter below zero than above it: a slightly negative fit must not pass as zero.
        fitted[candidates & (fitted >= -0.1 * tol) & (fitted <= tol)] = 0.0
        if (fitted[candidates] >= 0).all():
            # The fit is a certificate: in the column space, zero off the candidates and
            # non-negative on them; its positive rows are separated.
            return candidates & (fitted > 0), iteration
        resid[np.abs(resid) < RELU_ZERO_TOL] = 0.0
        if resid[candidates].min() >= 0:
            # Normal equations z'We = 0 for every certificate z, with e >= 0 on the
            # candidates: z is zero wherever e > 0.  Those rows cannot be separated, so
            # they join the rows the fit must vanish on.  (Rows with e = 0 are only
            # possible, not proven, separations: ppmlhdfe's shortcut of declaring them
            # separated here gives false positives.)
            settled = candidates & (resid > tol)
            if not (candidates & ~settled & (fitted > 0)).any():
                return none, iteration
            candidates &= ~settled
            u[settled] = 0.0
            least_squares = solver()
            continue
        u[candidates] = np.maximum(fitted[candidates], 0.0)
    return None, maxiter


def _relu_fallback(
    target: np.ndarray,
    matrix: np.ndarray,
    fixed: Sequence[fe_mod.FixedEffect],
    active: np.ndarray,
    iterations: int,
    *,
    where: str,
) -> np.ndarray:
    """Rows separated by regressors and effects when the rectifier did not finish.

    A small problem is solved exactly: the linear program of the simplex
    method over the regressors and the explicit effect dummies (which spans
    every certificate).  A large one drops nothing, with a warning; the
    estimation then refuses a fit without a finite maximum.
    """
    current = [f.subset(active) for f in fixed]
    columns = matrix.shape[1] + sum(f.n_levels for f in current)
    if columns <= EXACT_FALLBACK_MAX_COLUMNS and len(target) * columns <= EXACT_FALLBACK_MAX_CELLS:
        dummies = [np.eye(f.n_levels)[f.codes] for f in current]
        design = np.column_stack([_scaled_columns(matrix), *dummies])
        log.info(
            "%sppml: ReLU separation check stopped after %d iterations; solved exactly instead",
            _prefix(where),
            iterations,
        )
        return _simplex_separated(target, design, add_constant=False)
    log.warning(
        "%sppml: ReLU separation check did not converge in %d iterations; no row dropped by it",
        _prefix(where),
        iterations,
    )
    return np.zeros(len(target), dtype=bool)


class _WeightedLeastSquares:
    """Weighted least-squares fits of vectors on fixed regressors and absorbed effects.

    With at most one effect the within transformation is exact (one sweep of
    group means), so the regressors are demeaned once and every fit is a
    projection on their orthonormal basis.  With two or more effects the
    extreme weights of the method of weighting stall alternating projections
    (their sweeps grow in proportion to the weight ratio), so the fit solves
    the joint sparse problem, regressors and effect dummies together, with
    LSMR on unit-norm columns (diagonal preconditioning, as ``ppmlhdfe``
    switches to LSMR for this step), warm-started from the previous fit.
    """

    #: LSMR stopping tolerances (relative); fitted values are then good to ~1e-10.
    LSMR_TOL = 1e-12
    LSMR_MAXITER = 20_000

    def __init__(
        self,
        matrix: np.ndarray,
        fixed: Sequence[fe_mod.FixedEffect],
        weights: np.ndarray,
        *,
        where: str,
    ) -> None:
        self.fixed = list(fixed)
        self.weights = weights
        self.root = np.sqrt(weights)
        self.where = where
        scaled = _scaled_columns(matrix)
        self.basis: np.ndarray | None = None
        self.design: sparse.csr_matrix | None = None
        self.solution: np.ndarray | None = None
        if len(self.fixed) <= 1:
            if scaled.shape[1]:
                x_within = _demean(scaled, self.fixed, weights, where)
                self.basis = _column_basis(x_within * self.root[:, None])
            return
        self.design, self.norms, self.system = _joint_design(scaled, self.fixed, weights)

    def fit(self, target: np.ndarray) -> np.ndarray | None:
        """Fitted values of ``target``; ``None`` if the iterative solver did not converge."""
        if self.design is None:
            within = _demean(target, self.fixed, self.weights, self.where)
            if self.basis is not None:
                within = within - (self.basis @ (self.basis.T @ (within * self.root))) / self.root
            return np.asarray(target - within)
        answer = lsmr(
            self.system,
            target * self.root,
            atol=self.LSMR_TOL,
            btol=self.LSMR_TOL,
            maxiter=self.LSMR_MAXITER,
            x0=self.solution,
        )
        if answer[1] == 7:  # iteration limit
            log.debug("ReLU separation check: LSMR reached %d iterations", self.LSMR_MAXITER)
            return None
        self.solution = answer[0]
        return np.asarray(self.design @ (answer[0] / self.norms))


def _joint_design(
    scaled: np.ndarray, fixed: Sequence[fe_mod.FixedEffect], weights: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray, sparse.csr_matrix]:
    """The regressors and every effect's dummies as one sparse ``n x (k + sum G)`` matrix.

    Returns ``(design, norms, system)``: the design, the weighted norm of each
    of its columns (1 for an empty column) and ``W^(1/2) design / norms``, the
    matrix LSMR solves with.  Every row holds exactly ``k + len(fixed)``
    entries (its regressors, then one 1 per effect), so both are written
    directly as CSR arrays sharing one index pattern: no triplet sort, no
    stacking, no sparse products.
    """
    n, k = scaled.shape
    width = k + len(fixed)
    offsets = np.cumsum([k] + [f.n_levels for f in fixed])
    columns = int(offsets[-1])
    index_type = np.int32 if max(n * width, columns) < 2**31 - 1 else np.int64
    indices = np.empty((n, width), dtype=index_type)
    indices[:, :k] = np.arange(k, dtype=index_type)
    values = np.ones((n, width))
    values[:, :k] = scaled
    norms_squared = np.empty(columns)
    norms_squared[:k] = weights @ np.square(scaled)
    for position, (effect, offset) in enumerate(zip(fixed, offsets[:-1], strict=True)):
        indices[:, k + position] = effect.codes + offset
        norms_squared[offset : offset + effect.n_levels] = np.bincount(
            effect.codes, weights=weights, minlength=effect.n_levels
        )
    norms = np.sqrt(norms_squared)
    norms[norms == 0] = 1.0
    indptr = np.arange(0, n * width + 1, width, dtype=index_type)
    flat_indices = indices.ravel()
    design = sparse.csr_matrix((values.ravel(), flat_indices, indptr), shape=(n, columns))
    weighted = (values * np.sqrt(weights)[:, None]).ravel() / norms[flat_indices]
    system = sparse.csr_matrix((weighted, flat_indices, indptr), shape=(n, columns))
    return design, norms, system


def _column_basis(matrix: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis of the column space of ``matrix`` (rank-revealing pivoted QR)."""
    norms = np.linalg.norm(matrix, axis=0)
    present = norms > 0
    if not present.any():
        return None
    scaled = matrix[:, present] / norms[present]
    q, r, _ = linalg.qr(scaled, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-10 * diag[0]))
    return np.asarray(q[:, :rank]) if rank else None


def _demean(
    values: np.ndarray, fixed: Sequence[fe_mod.FixedEffect], weights: np.ndarray, where: str
) -> np.ndarray:
    """Weighted within transformation; a failure names the model and the separation check."""
    if not fixed:
        return values.copy()
    try:
        demeaned, _ = fe_mod.demean(values, fixed, weights=weights)
    except BadInputError as exc:
        raise BadInputError(f"{_prefix(where)}ppml separation check (ReLU): {exc}") from None
    return demeaned


def _as_effects(effects: EffectsArg) -> list[fe_mod.FixedEffect]:
    if isinstance(effects, Mapping):
        return fe_mod.effects_from_columns(effects)
    return list(effects)


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""
