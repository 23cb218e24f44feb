"""PPML separation (``ppmlhdfe``'s fe / simplex / ReLU checks) and the IRLS guards.

References: ppmlhdfe's separation benchmark datasets (``tests/data/ppmlhdfe_separation``,
see the README there: each file carries ppmlhdfe's answer in its ``separated`` column)
and the worked examples of ppmlhdfe's separation primer
(https://github.com/sergiocorreia/ppmlhdfe/blob/master/guides/separation_primer.md).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import linalg

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.models import estimate, fe, separation
from reexport.models.estimate import fit_ppml
from reexport.models.separation import SEPARATION_METHODS, detect

DATA = Path(__file__).parent / "data" / "ppmlhdfe_separation"
EXAMPLES = sorted(p.stem for p in DATA.glob("*.csv"))
WHERE = "spec.toml [model sep]"
#: The examples reexport estimates; in the others a regressor separates rows and is then
#: collinear on the rows left, which reexport refuses (ppmlhdfe omits the regressor).
ESTIMABLE = ["02", "03", "04", "09", "11", "12", "13", "14"]


def _example(stem: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """(frame, design, effects, ppmlhdfe's separated mask); a constant only without effects."""
    frame = pd.read_csv(DATA / f"{stem}.csv")
    regressors = [c for c in frame.columns if c.startswith("x")]
    ids = [c for c in frame.columns if c.startswith("id")]
    design = frame[regressors].astype(float)
    if not ids:
        design.insert(0, "Intercept", 1.0)  # ppmlhdfe ..., noabsorb keeps a constant
    effects = {name: frame[name].to_numpy() for name in ids}
    return frame, design, effects, frame["separated"].to_numpy().astype(bool)


def test_all_eighteen_examples_are_present() -> None:
    assert [f"{i:02d}" for i in range(1, 19)] == EXAMPLES


# -- ppmlhdfe's benchmark datasets ---------------------------------------------------------
@pytest.mark.parametrize("stem", EXAMPLES)
def test_detect_keeps_exactly_ppmlhdfes_sample(stem: str) -> None:
    frame, design, effects, separated = _example(stem)
    # validate_tagsep.do runs ppmlhdfe with keepsingletons, hence drop_singletons=False.
    found = detect(frame["y"], design.to_numpy(), effects, drop_singletons=False)
    np.testing.assert_array_equal(~found.keep, separated)
    np.testing.assert_array_equal(found.separated, separated)
    assert sum(found.dropped_rows.values()) == separated.sum()
    assert set(found.dropped_rows) <= {"separated_fe", "separated_simplex", "separated_relu"}


@pytest.mark.parametrize("stem", [s for s in EXAMPLES if "id1" in _example(s)[2]])
def test_with_singletons_dropped_the_sample_is_ppmlhdfes_less_its_singletons(stem: str) -> None:
    """The default (``drop_singletons=True``, ppmlhdfe without ``keepsingletons``)."""
    frame, design, effects, separated = _example(stem)
    found = detect(frame["y"], design.to_numpy(), effects)
    theirs = [fe.factorize(name, values[~separated]) for name, values in effects.items()]
    expected = np.zeros(len(frame), dtype=bool)
    expected[np.flatnonzero(~separated)[fe.singleton_mask(theirs)]] = True
    np.testing.assert_array_equal(found.keep, expected)


@pytest.mark.parametrize("stem", EXAMPLES)
def test_relu_alone_finds_ppmlhdfes_answer(stem: str) -> None:
    """ppmlhdfe's own answers come from its ReLU method alone (``tagsep``)."""
    frame, design, effects, separated = _example(stem)
    found = detect(frame["y"], design.to_numpy(), effects, methods=("relu",), drop_singletons=False)
    np.testing.assert_array_equal(~found.keep, separated)
    # The rectifier itself, not the exact fallback for a rectifier that stalls.
    assert 1 <= found.relu_iterations < separation.RELU_MAXITER


@pytest.mark.parametrize("stem", EXAMPLES)
def test_simplex_alone_is_exact_without_effects_and_never_overreaches(stem: str) -> None:
    frame, design, effects, separated = _example(stem)
    found = detect(frame["y"], design.to_numpy(), effects, methods="simplex", drop_singletons=False)
    assert not (found.separated & ~separated).any()  # no false positive, ever
    if not effects:
        np.testing.assert_array_equal(found.separated, separated)


@pytest.mark.parametrize("stem", EXAMPLES)
def test_fit_ppml_on_each_example_gives_ppmlhdfes_sample_or_one_line(stem: str) -> None:
    frame, design, effects, separated = _example(stem)
    try:
        result = fit_ppml(frame["y"], design, effects=effects, drop_singletons=False, where=WHERE)
    except BadInputError as exc:
        # Separation by a regressor always leaves that regressor collinear once the
        # separated rows are gone (ppmlhdfe then omits it; reexport refuses, naming it).
        message = str(exc)
        assert "\n" not in message and message.startswith(WHERE)
        assert "singular design" in message and stem not in ESTIMABLE
        assert f"after dropping {separated.sum()} separated observation" in message
        return
    assert stem in ESTIMABLE
    assert result.nobs == int((~separated).sum())
    np.testing.assert_array_equal(np.asarray(result._rows), np.flatnonzero(~separated))
    assert np.isfinite(result.params.to_numpy()).all()
    assert np.isfinite(result.std_errors.to_numpy()).all()
    assert sum(result.dropped_rows.values()) == separated.sum()


@pytest.mark.parametrize("stem", ESTIMABLE)
# statsmodels flags the perfect fit of example 03 (y = 1 on every row ppmlhdfe keeps).
@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.PerfectSeparationWarning")
def test_estimable_examples_match_a_dummy_variable_poisson_glm(stem: str) -> None:
    """Cross-check (statsmodels GLM with explicit dummies on ppmlhdfe's sample), not a reference.

    ppmlhdfe's repository publishes the separated observations of these datasets
    but no coefficients.
    """
    frame, design, effects, separated = _example(stem)
    result = fit_ppml(frame["y"], design, effects=effects, drop_singletons=False, cov="nonrobust")
    kept = frame.loc[~separated]
    glm_design = design.loc[~separated].to_numpy()
    if effects:
        dummies = pd.get_dummies(kept[list(effects)].astype(str), dtype=float).to_numpy()
        glm_design = _independent_columns(np.column_stack([glm_design, dummies]))
    glm = sm.GLM(kept["y"].to_numpy(), glm_design, family=sm.families.Poisson())
    glm = glm.fit(tol=1e-13, maxiter=500)
    np.testing.assert_allclose(result._fitted, glm.fittedvalues, rtol=1e-7, atol=1e-9)
    if not effects:
        np.testing.assert_allclose(result.params.to_numpy(), glm.params, rtol=1e-7)
        np.testing.assert_allclose(result.std_errors.to_numpy(), glm.bse, rtol=1e-6)


def _independent_columns(matrix: np.ndarray) -> np.ndarray:
    """The columns of a pivoted QR's leading full-rank block (redundant dummies dropped)."""
    _, r, pivots = linalg.qr(matrix, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-10 * diag[0]))
    return matrix[:, np.sort(pivots[:rank])]


@pytest.mark.parametrize("stem", EXAMPLES)
def test_without_separation_checks_a_separated_example_is_refused_in_one_line(stem: str) -> None:
    """The IRLS guards alone: never a traceback, never an estimate that is not a maximum."""
    frame, design, effects, separated = _example(stem)
    if not separated.any():
        result = fit_ppml(frame["y"], design, effects=effects, separation=(), drop_singletons=False)
        assert result.nobs == len(frame)
        return
    with pytest.raises(BadInputError) as caught:
        fit_ppml(
            frame["y"], design, effects=effects, separation=(), drop_singletons=False, where=WHERE
        )
    message = str(caught.value)
    assert "\n" not in message and message.startswith(WHERE)
    assert any(
        reason in message
        for reason in ("no finite maximum", "diverged", "did not converge", "singular")
    ), message


def test_without_checks_the_regressor_separated_examples_say_no_finite_maximum() -> None:
    # Example 01: two rows separated by x2; IRLS used to 'converge' to x2 = -21.4.
    frame, design, effects, _ = _example("01")
    with pytest.raises(BadInputError, match="no finite maximum: the fitted mean of 2 obs"):
        fit_ppml(frame["y"], design, effects=effects, separation=(), drop_singletons=False)
    # Example 15: x3 = 1000 on a separated row; the mean used to overflow (NaN traceback).
    frame, design, effects, _ = _example("15")
    with pytest.raises(BadInputError, match="diverged at iteration .* step-halving"):
        fit_ppml(frame["y"], design, effects=effects, separation=(), drop_singletons=False)


# -- the primer's worked examples ------------------------------------------------------------
def test_primer_single_regressor_example() -> None:
    """y = 0,0,0,1,2,3 and x = 1,1,0,0,0,0: rows 1-2 are separated (Stata's poisson: x = -18.8)."""
    y = np.array([0, 0, 0, 1, 2, 3], dtype=float)
    design = pd.DataFrame({"Intercept": 1.0, "x": [1, 1, 0, 0, 0, 0]}, dtype=float)
    found = detect(y, design.to_numpy(), ())
    np.testing.assert_array_equal(found.keep, [False, False, True, True, True, True])
    assert found.dropped_rows == {"separated_simplex": 2}
    with pytest.raises(BadInputError, match=r"'x' is identically zero \(after dropping 2 sep"):
        fit_ppml(y, design, where=WHERE)
    # The primer's trivia: on the remaining rows the constant is log(mean y) = log(1.5).
    constant_only = fit_ppml(y[found.keep], design.loc[found.keep, ["Intercept"]])
    assert constant_only.params["Intercept"] == pytest.approx(np.log(1.5), rel=1e-10)


def test_primer_two_regressor_example() -> None:
    """z = 2 x1 + x2 is 3 on row 1 and 0 elsewhere: row 1 is separated."""
    y = np.array([0, 0, 0, 1, 2, 3], dtype=float)
    x1 = [2, -1, 0, 0, 5, 6]
    x2 = [-1, 2, 0, 0, -10, -12]
    design = np.column_stack([np.ones(6), x1, x2])
    found = detect(y, design, ())
    np.testing.assert_array_equal(~found.keep, [True, False, False, False, False, False])


def test_primer_fixed_effect_examples() -> None:
    # separation(fe): individual 1 never has a positive outcome.
    y = np.array([0, 0, 0, 1, 2, 3], dtype=float)
    found = detect(y, np.zeros((6, 0)), {"id": [1, 1, 2, 2, 3, 3]})
    assert found.dropped_rows == {"separated_fe": 2}
    # fe + simplex miss this one; the ReLU method finds the third row.
    y = np.array([0, 1, 0, 0, 1], dtype=float)
    effects = {"id1": [1, 1, 2, 2, 2], "id2": [1, 1, 1, 2, 2]}
    missed = detect(y, np.zeros((5, 0)), effects, methods=("fe", "simplex"), drop_singletons=False)
    assert missed.keep.all()
    found = detect(y, np.zeros((5, 0)), effects, drop_singletons=False)
    np.testing.assert_array_equal(~found.keep, [False, False, True, False, False])
    assert found.dropped_rows == {"separated_relu": 1}
    # Three tiny positive outcomes in the (2, 1) cell: the third row is no longer separated.
    y = np.array([0, 1, 0, 0, 1, 1e-6, 1e-6, 1e-6])
    effects = {"id1": [1, 1, 2, 2, 2, 2, 2, 2], "id2": [1, 1, 1, 2, 2, 1, 1, 1]}
    assert detect(y, np.zeros((8, 0)), effects, drop_singletons=False).keep.all()


# -- the primer's published ppmlhdfe output (screenshots in ppmlhdfe's guides/figures) --------
#: . ppmlhdfe y x*   (two-regressor example; guides/figures/primer_ppmlhdfe.png)
#: "simplex method dropped 1 separated observation", "1 variable omitted because of
#: collinearity: x2"; No. of obs = 5; Deviance = 1.993162063; robust std. errors.
PRIMER_TWO_REGRESSORS = {
    "nobs": 5,
    "params": {"x1": 0.356474, "Intercept": -1.049287},
    "robust_se": {"x1": 0.1450006, "Intercept": 0.8213881},
    "deviance": 1.993162063,
}
#: . ppmlhdfe y, a(id) sep(fe)   (guides/figures/primer_sep_fe.png): No. of obs = 4,
#: "dropped 2 observations that are either singletons or separated by a fixed effect".
PRIMER_FE_DEVIANCE = 1.587649497
#: . ppmlhdfe y, a(id1 id2) sep(relu)   (guides/figures/primer_sep_relu.png): No. of obs = 4,
#: "ReLU method dropped 1 separated observation in 1 iterations".
PRIMER_RELU_DEVIANCE = 2.772588722


def test_primer_two_regressor_estimates_match_ppmlhdfe() -> None:
    """ppmlhdfe omits x2 once row 1 is dropped; reexport refuses it, so the user drops x2."""
    y = np.array([0, 0, 0, 1, 2, 3], dtype=float)
    design = pd.DataFrame(
        {"x1": [2, -1, 0, 0, 5, 6], "x2": [-1, 2, 0, 0, -10, -12], "Intercept": 1.0}, dtype=float
    )
    with pytest.raises(BadInputError, match=r"'x1' is collinear with 'x2' \(after dropping 1 sep"):
        fit_ppml(y, design)
    kept = detect(y, design.to_numpy(), ()).keep
    result = fit_ppml(y[kept], design.loc[kept, ["x1", "Intercept"]], cov="robust")
    reference = PRIMER_TWO_REGRESSORS
    assert result.nobs == reference["nobs"]
    for term, value in reference["params"].items():
        assert result.params[term] == pytest.approx(value, abs=5e-7)
    assert estimate._poisson_deviance(y[kept], result._fitted) == pytest.approx(
        reference["deviance"], abs=5e-10
    )
    # Stata's ML commands (poisson, ppmlhdfe) scale the robust HC0 by N/(N-1), as reexport's
    # PPML does: the published standard errors are reproduced directly.
    assert result.cov.factor == pytest.approx(5 / 4, rel=1e-12)
    for term, value in reference["robust_se"].items():
        assert result.std_errors[term] == pytest.approx(value, abs=5e-8)


def test_primer_fixed_effect_fits_match_ppmlhdfes_deviance() -> None:
    y = np.array([0, 0, 0, 1, 2, 3], dtype=float)
    result = fit_ppml(y, pd.DataFrame(index=range(6)), effects={"id": [1, 1, 2, 2, 3, 3]})
    assert (result.nobs, result.dropped_rows) == (4, {"separated_fe": 2})
    deviance = estimate._poisson_deviance(y[np.asarray(result._rows)], result._fitted)
    assert deviance == pytest.approx(PRIMER_FE_DEVIANCE, abs=5e-10)
    y = np.array([0, 1, 0, 0, 1], dtype=float)
    effects = {"id1": [1, 1, 2, 2, 2], "id2": [1, 1, 1, 2, 2]}
    result = fit_ppml(y, pd.DataFrame(index=range(5)), effects=effects)
    assert (result.nobs, result.dropped_rows) == (4, {"separated_relu": 1})
    deviance = estimate._poisson_deviance(y[np.asarray(result._rows)], result._fitted)
    assert deviance == pytest.approx(PRIMER_RELU_DEVIANCE, abs=5e-10)


# -- API details -----------------------------------------------------------------------------
def test_fit_ppml_records_counts_per_method_and_warns_once_per_method(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame, design, effects, separated = _example("04")
    with caplog.at_level(logging.WARNING, logger="reexport"):
        result = fit_ppml(frame["y"], design, effects=effects, drop_singletons=False, where=WHERE)
    assert result.dropped_rows == {"separated_fe": 82, "separated_relu": 1}
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 2
    assert lines[0].startswith(f"{WHERE}: ppml: dropped 82 observations in fixed-effect groups")
    assert "dropped 1 observation separated by a combination of regressors and fixed" in lines[1]


def test_fit_ppml_separation_option_selects_methods() -> None:
    frame, design, effects, _ = _example("04")
    # The fe check alone leaves the row only the ReLU method finds: no finite maximum.
    with pytest.raises(BadInputError, match="no finite maximum.*checks used: fe\\)$"):
        fit_ppml(frame["y"], design, effects=effects, separation=("fe",), drop_singletons=False)
    relu = fit_ppml(
        frame["y"], design, effects=effects, separation=("relu",), drop_singletons=False
    )
    assert relu.dropped_rows == {"separated_relu": 83}
    with pytest.raises(BadInputError, match="unknown separation method 'mu'"):
        fit_ppml(frame["y"], design, effects=effects, separation=("fe", "mu"), where=WHERE)


def test_zero_weight_rows_neither_cause_nor_prevent_separation() -> None:
    y = np.array([0, 0, 5, 1, 2, 3], dtype=float)
    effects = {"id": [1, 1, 1, 2, 2, 2]}
    # Row 3 (y = 5) carries no weight, so group 1 has only zero outcomes that count.
    found = detect(y, np.zeros((6, 0)), effects, weights=np.array([1, 1, 0, 1, 1, 1.0]))
    np.testing.assert_array_equal(found.keep, [False, False, True, True, True, True])
    assert found.dropped_rows == {"separated_fe": 2}
    with pytest.raises(BadInputError, match="weights must not be negative"):
        detect(y, np.zeros((6, 0)), effects, weights=-np.ones(6))


def test_detect_iterates_singletons_and_separation() -> None:
    # Dropping the all-zero group of id2 = 9 leaves row 4 alone in id1 = 3.
    y = np.array([1, 2, 3, 1, 0, 0, 2, 1], dtype=float)
    effects = {"id1": [1, 1, 2, 2, 3, 3, 4, 4], "id2": [5, 6, 5, 6, 9, 9, 6, 5]}
    found = detect(y, np.zeros((8, 0)), effects)
    assert found.dropped_rows == {"separated_fe": 2}
    assert found.keep.sum() == 6


def test_relu_iteration_limit_falls_back_to_the_exact_program(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Example 07 takes the rectifier 66 iterations (ppmlhdfe calls it the hardest case).
    frame, design, effects, separated = _example("07")
    y, x = frame["y"], design.to_numpy()
    found = detect(y, x, effects, methods="relu", maxiter=10, drop_singletons=False)
    np.testing.assert_array_equal(found.separated, separated)
    assert found.dropped_rows == {"separated_relu": 4} and found.relu_iterations >= 10
    # Too large for the exact program: a warning, nothing dropped (the IRLS guards decide).
    monkeypatch.setattr(separation, "EXACT_FALLBACK_MAX_COLUMNS", 0)
    with caplog.at_level(logging.WARNING, logger="reexport"):
        found = detect(y, x, effects, methods="relu", maxiter=10, where=WHERE)
    assert found.keep.all()
    assert f"{WHERE}: ppml: ReLU separation check did not converge in 10 iterations" in caplog.text


def test_detect_agrees_with_the_exact_program_on_random_designs() -> None:
    """Against the simplex program over regressors plus explicit dummies (exact, small data).

    Random sparse designs with many zeros, one or two effects: each method set must
    flag exactly the rows the exact program flags (no false positive, none missed).
    """
    rng = np.random.default_rng(20261201)
    with_separation = 0
    for _ in range(150):
        n = int(rng.integers(6, 40))
        codes = [rng.integers(0, int(rng.integers(2, 6)), n) for _ in range(2)]
        k = int(rng.integers(0, 3))
        x = rng.integers(-2, 3, (n, k)).astype(float) * (rng.random((n, k)) < 0.5)
        y = rng.poisson(1.0, n).astype(float) * (rng.random(n) < 0.6)
        if y.sum() == 0:
            continue
        effects = [fe.factorize(f"id{j}", c) for j, c in enumerate(codes)]
        effects = effects[: int(rng.integers(1, 3))]
        dummies = [np.eye(f.n_levels)[f.codes] for f in effects]
        exact = separation._simplex_separated(y, np.column_stack([x, *dummies]), add_constant=False)
        with_separation += int(exact.any())
        for methods in [("relu",), SEPARATION_METHODS]:
            found = detect(y, x, effects, methods=methods, drop_singletons=False)
            np.testing.assert_array_equal(found.separated, exact)
    assert with_separation >= 30  # the draw does exercise separation


def test_irls_refuses_non_convergence_in_one_line() -> None:
    frame, design, effects, _ = _example("11")
    expected = rf"^{re.escape(WHERE)}: ppml did not converge in 2 iterations \(relative deviance"
    with pytest.raises(BadInputError, match=expected):
        fit_ppml(frame["y"], design, effects=effects, maxiter=2, where=WHERE)


def test_irls_refuses_a_design_that_turns_singular_under_the_weights() -> None:
    weighted = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]])
    with pytest.raises(BadInputError, match=r"collinear .*ppml weights of iteration 3\)$"):
        estimate._ppml_solve(
            weighted, np.ones(4), ["Intercept", "a", "b"], where=WHERE, iteration=3, reference=None
        )


def test_check_methods() -> None:
    assert separation.check_methods(["relu", "fe"]) == ("fe", "relu")
    assert separation.check_methods("simplex") == ("simplex",)
    assert separation.check_methods(()) == ()
    assert SEPARATION_METHODS == ("fe", "simplex", "relu")
    with pytest.raises(BadInputError, match=r"^m: unknown separation method 'ir'"):
        separation.check_methods(("ir",), where="m")


# -- end to end through the CLI --------------------------------------------------------------
def _entrants_panel(tmp_path: Path) -> Path:
    """Firms a-c trade in 2001-2004 only; d-f trade from 2005 (zeros before); g never.

    The zeros of d-f in 2001-2004 are separated by the fixed effects together
    (firm d-f minus year 2005-2008 is zero wherever trade is positive), which no
    single all-zero group shows; firm g is an all-zero group.
    """
    rng = np.random.default_rng(7)
    rows: list[dict[str, Any]] = []
    for firm in "abcdefg":
        years = range(2001, 2005) if firm in "abc" else range(2001, 2009)
        for year in years:
            x = float(rng.normal())
            positive = firm in "abc" or (firm in "def" and year >= 2005)
            flow = float(rng.poisson(np.exp(2.0 + 0.3 * x))) if positive else 0.0
            rows.append({"firm": firm, "year": year, "x": x, "flow": flow})
    frame = pd.DataFrame(rows)
    assert (frame.loc[frame["flow"] == 0, "firm"].isin(list("defg"))).all()
    path = tmp_path / "entrants.csv"
    frame.to_csv(path, index=False)
    return path


PPML_SPEC = """[data]
path = "entrants.csv"
entity = "firm"
time = "year"

[[model]]
name = "sep"
formula = "{formula}"
estimator = "ppml"
effects = ["entity", "time"]
cov = {{ type = "cluster", by = "firm" }}
"""


def _estimate(
    tmp_path: Path, formula: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    _entrants_panel(tmp_path)
    spec = tmp_path / "spec.toml"
    spec.write_text(PPML_SPEC.format(formula=formula), encoding="utf-8")
    code = main(["estimate", str(spec), "--output", str(tmp_path / "results.json")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_separated_panel_exits_0_and_prints_the_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _estimate(tmp_path, "flow ~ x", capsys)
    assert code == 0, err
    assert "separated_fe 8, separated_relu 12" in out  # run.print_summary's "dropped:" facts
    results = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert '"separated_relu": 12' in results


def test_cli_regressor_separation_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # x_zero is positive on some zero-outcome rows only: it separates them and is then
    # identically zero on the rows left.
    path = _entrants_panel(tmp_path)
    frame = pd.read_csv(path)
    frame["x_zero"] = np.where((frame["firm"] == "a") & (frame["flow"] == 0), 1.0, 0.0)
    frame.loc[(frame["firm"] == "b") & (frame["year"] == 2001), "flow"] = 0.0
    frame.loc[(frame["firm"] == "b") & (frame["year"] == 2001), "x_zero"] = 1.0
    frame.to_csv(path, index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(PPML_SPEC.format(formula="flow ~ x + x_zero"), encoding="utf-8")
    code = main(["estimate", str(spec), "--output", str(tmp_path / "results.json")])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if "error" in line.lower() or "[model" in line]
    assert len(lines) == 1, err
    assert "[model sep]: singular design: 'x_zero' is collinear" in lines[0]
    assert lines[0].endswith("(after dropping 21 separated observations)")
    assert not (tmp_path / "results.json").exists()


def test_cli_ppml_without_a_finite_maximum_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Switch the separation checks off underneath the spec so that only the IRLS guards
    # stand between the separated panel and a reported estimate.
    real_detect = separation.detect

    def no_checks(*args: Any, **kwargs: Any) -> separation.SeparationResult:
        return real_detect(*args, **{**kwargs, "methods": ()})

    monkeypatch.setattr(separation, "detect", no_checks)
    code, out, err = _estimate(tmp_path, "flow ~ x", capsys)
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "[model sep]: ppml has no finite maximum: the fitted mean of 20 obs" in lines[0]
    assert lines[0].endswith("(separation not removed by the checks used: none)")
    assert not (tmp_path / "results.json").exists()
