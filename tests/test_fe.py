"""Fixed-effect absorption: every demeaning path against a direct dummy regression, zero rows, DoF.

The reference for the within transformation is the definition itself: the
residual of a (weighted) least-squares regression of each column on the full
set of dummy variables of all effects, computed densely with ``lstsq``.

The degrees-of-freedom counts follow ``reghdfe``'s documented
``dofadjustments`` rule (help file, option ``dofadjustments``; the rule is
implemented in ``DoF.mata`` of https://github.com/sergiocorreia/reghdfe):
exact for one or two effects (levels minus connected components), pairwise
maximum of component counts for every further effect, and effects nested in
a cluster variable not counted for cluster-robust covariances.  The exact
cases are also checked against the rank of the dummy matrix.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reexport.errors import BadInputError
from reexport.models import fe


def _dummies(effects: list[fe.FixedEffect]) -> np.ndarray:
    n = len(effects[0].codes)
    blocks = []
    for effect in effects:
        block = np.zeros((n, effect.n_levels))
        block[np.arange(n), effect.codes] = 1.0
        blocks.append(block)
    return np.hstack(blocks)


def _dummy_residuals(
    matrix: np.ndarray, effects: list[fe.FixedEffect], weights: np.ndarray | None
) -> np.ndarray:
    """Residuals of a weighted regression of every column on all the effects' dummies."""
    dummies = _dummies(effects)
    root = np.ones(len(matrix)) if weights is None else np.sqrt(weights)
    coef, *_ = np.linalg.lstsq(dummies * root[:, None], matrix * root[:, None], rcond=None)
    return matrix - dummies @ coef


def _unbalanced_effects(rng: np.random.Generator, n: int, levels: tuple[int, ...]) -> list:
    return [fe.factorize(f"e{i}", rng.integers(0, g, n)) for i, g in enumerate(levels)]


CASES = [
    ((25,), "auto"),
    ((30, 8), "auto"),
    ((30, 8), "exact"),
    ((30, 8), "accelerated"),
    ((30, 8), "map"),
    ((20, 9, 6), "auto"),
    ((20, 9, 6), "accelerated"),
    ((20, 9, 6), "map"),
    ((15, 12, 7, 4), "auto"),
]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("levels", "method"), CASES)
def test_demeaning_equals_a_dummy_regression(
    levels: tuple[int, ...], method: str, weighted: bool
) -> None:
    rng = np.random.default_rng(len(levels) * 10 + weighted)
    n = 300
    effects = _unbalanced_effects(rng, n, levels)
    matrix = rng.normal(size=(n, 3)) * [1.0, 50.0, 0.01]
    weights = rng.uniform(0.05, 5.0, n) if weighted else None
    demeaned, _ = fe.demean(matrix, effects, weights=weights, method=method)
    expected = _dummy_residuals(matrix, effects, weights)
    scale = np.abs(matrix).max(axis=0)
    assert np.abs(demeaned - expected).max(axis=0) / scale == pytest.approx(0, abs=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_and_iterative_two_way_paths_equal_the_dummy_regression(
    monkeypatch: pytest.MonkeyPatch, weighted: bool
) -> None:
    """Shrink the size thresholds so small data take the sparse-LU and the fallback paths."""
    rng = np.random.default_rng(3)
    workers, firms, periods = 120, 40, 4
    firm = rng.integers(0, firms, workers)[:, None].repeat(periods, axis=1)
    moves = rng.random((workers, periods)) < 0.15
    firm = np.where(moves, rng.integers(0, firms, (workers, periods)), firm)
    effects = [
        fe.factorize("worker", np.repeat(np.arange(workers), periods)),
        fe.factorize("firm", firm.ravel()),
    ]
    n = workers * periods
    matrix = rng.normal(size=(n, 2))
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    expected = _dummy_residuals(matrix, effects, weights)
    monkeypatch.setattr(fe, "EXACT_MAX_LEVELS", 5)
    monkeypatch.setattr(fe, "SPARSE_MIN_LEVELS", 5)
    monkeypatch.setattr(fe, "DENSE_TABLE_MAX", 0)
    sparse_lu, sweeps = fe.demean(matrix, effects, weights=weights)
    assert sweeps == 1
    np.testing.assert_allclose(sparse_lu, expected, atol=1e-10)
    monkeypatch.setattr(fe, "SPARSE_MAX_ROW_NNZ", 0)  # "too dense": iterate instead
    iterated, iterations = fe.demean(matrix, effects, weights=weights)
    assert iterations > 1
    np.testing.assert_allclose(iterated, expected, atol=1e-10)
    exact, _ = fe.demean(matrix, effects, weights=weights, method="exact")
    np.testing.assert_allclose(exact, expected, atol=1e-10)


def _chain_panel(rng: np.random.Generator) -> list[fe.FixedEffect]:
    """Three effects on a long chain of weakly linked firms: plain projections crawl."""
    firms, per_firm = 60, 6
    firm = np.repeat(np.arange(firms), per_firm)
    worker = np.arange(firm.size) // 2  # two observations per worker ...
    # ... and every third worker straddles two neighbouring firms (a chain of movers).
    straddle = (np.arange(firm.size) % 6 == 5) & (firm < firms - 1)
    firm = np.where(straddle, firm + 1, firm)
    period = rng.integers(0, 4, firm.size)
    return [fe.factorize("worker", worker), fe.factorize("firm", firm), fe.factorize("t", period)]


def test_accelerated_iterations_beat_plain_projections_on_a_weak_chain() -> None:
    rng = np.random.default_rng(11)
    effects = _chain_panel(rng)
    n = len(effects[0].codes)
    matrix = rng.normal(size=(n, 2))
    weights = rng.uniform(0.5, 2.0, n)
    expected = _dummy_residuals(matrix, effects, weights)
    fast, fast_sweeps = fe.demean(matrix, effects, weights=weights, method="accelerated")
    np.testing.assert_allclose(fast, expected, atol=1e-10)
    assert fast_sweeps < 300
    # Plain alternating projections need about 10^5 sweeps here.
    with pytest.raises(BadInputError, match="did not converge"):
        fe.demean(matrix, effects, weights=weights, method="map", maxiter=3_000)


def test_warm_started_demeaner_gives_the_same_projection_in_fewer_sweeps() -> None:
    rng = np.random.default_rng(5)
    effects = _unbalanced_effects(rng, 2_000, (150, 60, 12))
    matrix = rng.normal(size=(2_000, 2))
    weights = rng.uniform(0.5, 2.0, 2_000)
    demeaner = fe.Demeaner(effects)
    _, cold_sweeps = demeaner.demean(matrix, weights=weights)
    moved = weights * (1 + 1e-6 * rng.normal(size=2_000))
    warm, warm_sweeps = demeaner.demean(matrix, weights=moved, warm=True)
    cold, _ = fe.demean(matrix, effects, weights=moved)
    np.testing.assert_allclose(warm, cold, atol=1e-10)
    assert warm_sweeps < cold_sweeps
    # A different matrix of the same shape is still projected correctly from the warm start.
    other = rng.normal(size=(2_000, 2)) * 7
    np.testing.assert_allclose(
        demeaner.demean(other, weights=moved, warm=True)[0],
        fe.demean(other, effects, weights=moved)[0],
        atol=1e-9,
    )


def test_a_warm_start_on_a_slow_chain_is_not_taken_for_convergence() -> None:
    """Small sweeps after a warm start do not prove a small error where projections crawl."""
    rng = np.random.default_rng(11)
    effects = _chain_panel(rng)
    n = len(effects[0].codes)
    matrix = rng.normal(size=(n, 1))
    weights = rng.uniform(0.5, 2.0, n)
    demeaner = fe.Demeaner(effects)
    demeaner.demean(matrix, weights=weights)
    assert demeaner._previous_part is not None
    moved = weights * (1 + 1e-10 * rng.normal(size=n))
    cold, _ = fe.demean(matrix, effects, weights=moved)
    limit = fe.DEFAULT_TOL * float(np.abs(matrix).max())
    # The plain rule (stop at the first sweep below the limit) stops after a few sweeps
    # from the warm start, more than three limits away from the projection ...
    column = matrix[:, 0] - demeaner._previous_part[:, 0]
    projections = fe._Projections(effects, moved)
    sweeps = fe._iterate_column(column, projections, limit, 10_000, accelerate=True)
    assert sweeps < 10 and np.abs(column - cold[:, 0]).max() > 3 * limit
    # ... the demeaner measures the rate first, and here starts again from cold.
    warm, _ = demeaner.demean(matrix, weights=moved, warm=True)
    np.testing.assert_allclose(warm, cold, rtol=0, atol=limit)


def test_threads_give_the_same_bits_as_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    effects = _unbalanced_effects(rng, 3_000, (200, 90, 15))
    matrix = rng.normal(size=(3_000, 3))
    weights = rng.uniform(0.5, 2.0, 3_000)
    monkeypatch.setattr(fe, "THREADED_MIN_ROWS", 0)
    results = {}
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("REEXPORT_NUM_THREADS", threads)
        assert fe.demean_threads(3, 3_000) == int(threads)
        results[threads], _ = fe.demean(matrix, effects, weights=weights)
    assert results["1"].tobytes() == results["2"].tobytes() == results["3"].tobytes()
    np.testing.assert_allclose(
        results["2"], _dummy_residuals(matrix, effects, weights), rtol=0, atol=1e-10
    )
    monkeypatch.setenv("REEXPORT_NUM_THREADS", "8")
    assert fe.demean_threads(3, 3_000) == 3  # never more threads than columns
    monkeypatch.setattr(fe, "THREADED_MIN_ROWS", 50_000)
    assert fe.demean_threads(3, 3_000) == 1  # small problems stay on one thread


@pytest.mark.parametrize("weighted", [True, False])
def test_compiled_kernels_give_the_numpy_paths_bits(
    monkeypatch: pytest.MonkeyPatch, weighted: bool
) -> None:
    pytest.importorskip("numba")
    rng = np.random.default_rng(21)
    n = 4_000
    effects = _unbalanced_effects(rng, n, (300, 40, 9))
    # One effect sorted by level: the kernels' contiguous path.
    effects.append(fe.factorize("block", np.repeat(np.arange(n // 8), 8)))
    assert effects[-1].is_sorted and not effects[0].is_sorted
    matrix = rng.normal(size=(n, 2)) * [1.0, 1e3]
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    monkeypatch.setattr(fe, "COMPILED_MIN_ROWS", 0)
    results = {}
    for compiled in (True, False):
        demeaner = fe.Demeaner(effects)
        demeaner.compiled = compiled
        results[compiled] = demeaner.demean(matrix, weights=weights)
    assert results[True][1] == results[False][1]
    assert results[True][0].tobytes() == results[False][0].tobytes()
    np.testing.assert_allclose(
        results[True][0], _dummy_residuals(matrix, effects, weights), rtol=0, atol=1e-8
    )
    # A NaN is never taken for convergence, on either path.
    projections = fe._Projections(effects, weights, compiled=True)
    assert projections.kernels is not None
    column = matrix[:, 0].copy()
    column[17] = np.nan
    assert np.isnan(projections.remove(0, column)) and np.isnan(projections.remove(3, column))


def test_rows_with_zero_weight_do_not_move_the_others() -> None:
    effects = [fe.factorize("a", [0, 0, 1, 1, 2, 2]), fe.factorize("b", [0, 1, 0, 1, 0, 1])]
    weights = np.array([1.0, 2.0, 1.0, 3.0, 0.0, 0.0])
    matrix = np.arange(6.0)
    out, _ = fe.demean(matrix, effects, weights=weights)
    kept = weights > 0
    expected = _dummy_residuals(matrix[kept, None], [e.subset(kept) for e in effects], None)
    np.testing.assert_allclose(out[kept], expected[:, 0], atol=1e-12)
    assert np.isfinite(out).all()


def test_vector_input_and_no_effects() -> None:
    vector = np.array([1.0, 2.0, 4.0, 8.0])
    copy, sweeps = fe.demean(vector, [])
    assert sweeps == 0 and copy is not vector
    np.testing.assert_array_equal(copy, vector)
    effect = fe.factorize("g", [0, 0, 1, 1])
    out, _ = fe.demean(vector, [effect])
    np.testing.assert_allclose(out, [-0.5, 0.5, -2.0, 2.0])


def test_unknown_method_and_exact_with_three_effects_are_refused() -> None:
    effects = _unbalanced_effects(np.random.default_rng(0), 50, (5, 4, 3))
    with pytest.raises(ValueError, match="unknown demeaning method"):
        fe.demean(np.zeros(50), effects, method="magic")
    with pytest.raises(ValueError, match="one or two effects"):
        fe.demean(np.zeros(50), effects, method="exact")


def test_non_convergence_is_a_bad_input_error() -> None:
    effects = _chain_panel(np.random.default_rng(2))
    matrix = np.random.default_rng(2).normal(size=len(effects[0].codes))
    with pytest.raises(BadInputError, match="did not converge in 3 sweeps"):
        fe.demean(matrix, effects, method="map", maxiter=3)


# -- zero rows -----------------------------------------------------------------------------
def test_a_panel_of_singletons_leaves_zero_rows_that_every_function_accepts() -> None:
    entity = fe.factorize("entity", [0, 1, 2, 3])
    period = fe.factorize("time", [0, 0, 1, 1])
    keep = fe.singleton_mask([entity, period])
    assert not keep.any()
    empty = [entity.subset(keep), period.subset(keep)]
    assert [e.n_levels for e in empty] == [0, 0]
    assert fe.singleton_mask(empty).shape == (0,)
    assert fe.absorbed_df(empty) == 0
    assert fe.cluster_absorbed_df(empty, [np.zeros(0, dtype=np.int64)]) == 0
    for effects in (empty[:1], empty, [*empty, empty[0]]):
        for weights in (None, np.zeros(0)):
            out, sweeps = fe.demean(np.zeros((0, 3)), effects, weights=weights)
            assert out.shape == (0, 3) and sweeps == 0
    vector, _ = fe.demean(np.zeros(0), empty)
    assert vector.shape == (0,)


def test_dense_codes_relabels_sparse_integers_and_empty_input() -> None:
    codes, levels = fe.dense_codes(np.array([7, 3, 7, 100]))
    assert levels == 3 and list(codes) == [1, 0, 1, 2]
    codes, levels = fe.dense_codes(np.array([10**12, 5]))
    assert levels == 2 and sorted(codes) == [0, 1]
    codes, levels = fe.dense_codes(np.zeros(0, dtype=np.int64))
    assert levels == 0 and codes.shape == (0,)


# -- degrees of freedom --------------------------------------------------------------------
def _rank(effects: list[fe.FixedEffect]) -> int:
    return int(np.linalg.matrix_rank(_dummies(effects)))


def test_dof_one_effect_counts_its_levels() -> None:
    effect = fe.factorize("firm", [0, 0, 1, 2, 2, 2])
    count = fe.dof_count([effect])
    assert count.absorbed == 3 == _rank([effect])
    assert count.exact and count.rule == "exact (one effect: its levels)"


def test_dof_two_effects_subtract_one_level_per_connected_component() -> None:
    # Three mobility groups: {a0, a1, b0, b1}, {a2, b2}, {a3, a4, b3}.
    first = fe.factorize("a", [0, 0, 1, 1, 2, 2, 3, 4])
    second = fe.factorize("b", [0, 1, 0, 1, 2, 2, 3, 3])
    assert fe.mobility_groups(first, second) == 3
    count = fe.dof_count([first, second])
    assert count.levels == (5, 4) and count.redundant == (0, 3)
    assert count.absorbed == 5 + 4 - 3 == _rank([first, second])
    assert count.exact
    assert fe.dof_rule([first, second]) == count.rule
    assert count.rule == "exact (two effects: levels minus connected components)"


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000), n=st.integers(2, 40), g1=st.integers(1, 8), g2=st.integers(1, 8)
)
def test_dof_two_effects_equal_the_rank_of_the_dummies(seed: int, n: int, g1: int, g2: int) -> None:
    rng = np.random.default_rng(seed)
    effects = _unbalanced_effects(rng, n, (g1, g2))
    assert fe.absorbed_df(effects) == _rank(effects)


def test_dof_three_effects_follow_the_reghdfe_pairwise_rule() -> None:
    """``M3 = max(components(A, C), components(B, C))``; conservative against the true rank."""
    a = fe.factorize("a", [0, 0, 1, 1, 2, 2, 3, 3])
    b = fe.factorize("b", [0, 1, 0, 1, 2, 3, 2, 3])  # components(a, b) = 2
    c = fe.factorize("c", [0, 0, 0, 0, 1, 1, 2, 2])  # components(a, c) = 3, components(b, c) = 2
    assert fe.mobility_groups(a, b) == 2
    assert fe.mobility_groups(a, c) == 3
    assert fe.mobility_groups(b, c) == 2
    count = fe.dof_count([a, b, c])
    assert count.levels == (4, 4, 3)
    assert count.redundant == (0, 2, 3)
    assert count.absorbed == 4 + 4 + 3 - 2 - 3 == 6
    assert not count.exact
    assert count.rule.startswith("reghdfe pairwise rule beyond the first two effects")
    assert fe.dof_rule([a, b, c]) == count.rule
    assert count.absorbed >= _rank([a, b, c])  # never fewer than the true rank
    # firstpair stops after the first pair: the third effect keeps one redundant level.
    assert fe.dof_count([a, b, c], adjustment="firstpair").redundant == (0, 2, 1)
    assert fe.dof_count([a, b, c], adjustment="none").redundant == (0, 1, 1)
    # The order matters beyond two effects (reghdfe uses the order of absorb()).
    assert fe.dof_count([c, a, b]).redundant == (0, 3, 2)


def test_dof_balanced_three_way_panel() -> None:
    """Exporter x importer x year, every cell once: (E-1)(...) counted pairwise."""
    exporters, importers, years = 4, 3, 5
    grid = np.array(np.meshgrid(range(exporters), range(importers), range(years), indexing="ij"))
    e, i, t = (fe.factorize(name, axis.ravel()) for name, axis in zip("eit", grid, strict=True))
    count = fe.dof_count([e, i, t])
    # Every pair is connected: one redundant level for each effect after the first.
    assert count.redundant == (0, 1, 1)
    assert count.absorbed == exporters + importers + years - 2 == _rank([e, i, t])


def test_effects_nested_in_a_cluster_are_not_counted() -> None:
    entity = fe.factorize("entity", [0, 0, 1, 1, 2, 2, 3, 3])
    region = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    time = fe.factorize("time", [0, 1, 0, 1, 0, 1, 0, 1])
    count = fe.dof_count([entity, time], clusters=[region])
    assert count.nested == (True, False)
    assert count.redundant == (4, 1)  # time loses one level: the nested effect took the constant
    assert count.absorbed == 1 and count.nested_levels == 4
    # reghdfe: K = slopes + df_a + 1 (the constant of the nested effect).
    assert fe.cluster_absorbed_df([entity, time], [region]) == 2
    assert "nested in a cluster variable" in count.rule
    assert fe.dof_rule([entity, time], clusters=[region]) == count.rule
    # Both effects nested (entity in region, region itself): only the constant is counted.
    region_effect = fe.factorize("region", region)
    assert fe.cluster_absorbed_df([entity, region_effect], [region]) == 1
    # Nothing nested (one cluster per observation): the plain count, 4 + 2 - 1.
    assert (
        fe.cluster_absorbed_df([entity, time], [np.arange(8)])
        == fe.absorbed_df([entity, time])
        == 5
    )


def test_no_effects() -> None:
    assert fe.absorbed_df([]) == 0
    assert fe.dof_rule([]) == "no absorbed effects"


# -- IRLS support ----------------------------------------------------------------------------
def test_irls_tolerance_is_loose_early_and_final_near_convergence() -> None:
    assert fe.irls_tolerance(np.inf) == 1e-7
    assert fe.irls_tolerance(1e-5) == pytest.approx(1e-9)
    assert fe.irls_tolerance(1e-9) == fe.DEFAULT_TOL
    assert fe.irls_tolerance(1e-9, final=1e-11) == 1e-11


def _poisson_irls(
    y: np.ndarray, x: np.ndarray, effects: list[fe.FixedEffect], *, adaptive: bool
) -> tuple[np.ndarray, int]:
    """A bare PPML IRLS (as estimate.fit_ppml) with a warm-started demeaner."""
    demeaner = fe.Demeaner(effects)
    mu = (y + y.mean()) / 2
    eta, previous, criterion, sweeps = np.log(mu), np.inf, np.inf, 0
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        working = eta + (y - mu) / mu
        step_tol = fe.irls_tolerance(criterion) if adaptive else fe.DEFAULT_TOL
        within, used = demeaner.demean(
            np.column_stack([working, x]), weights=mu, warm=adaptive, tol=step_tol
        )
        sweeps += used
        root = np.sqrt(mu)[:, None]
        beta = np.linalg.lstsq(within[:, 1:] * root, within[:, :1] * root, rcond=None)[0][:, 0]
        eta = working - (within[:, 0] - within[:, 1:] @ beta)
        mu = np.exp(eta)
        deviance = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - y + mu)
        criterion = abs(deviance - previous) / (0.1 + abs(deviance))
        previous = deviance
        if criterion < 1e-10 and step_tol <= fe.DEFAULT_TOL:
            return beta, sweeps
    raise AssertionError("IRLS did not converge")


def test_loose_early_irls_steps_reach_the_same_estimate_in_fewer_sweeps() -> None:
    rng = np.random.default_rng(4)
    n = 3_000
    effects = _unbalanced_effects(rng, n, (60, 40, 15))
    x = rng.normal(size=(n, 2))
    mean = np.exp(0.3 * x[:, 0] - 0.2 * x[:, 1] + 0.5 * rng.normal(size=60)[effects[0].codes])
    y = rng.poisson(mean).astype(np.float64)
    tight, tight_sweeps = _poisson_irls(y, x, effects, adaptive=False)
    loose, loose_sweeps = _poisson_irls(y, x, effects, adaptive=True)
    np.testing.assert_allclose(loose, tight, rtol=1e-10)
    assert loose_sweeps < tight_sweeps
