"""The wild cluster bootstrap against published ``boottest`` output (Stata).

Reference numbers are in ``results/results_boottest.py``: boottest's own published log
(``unit tests.log`` in github:droodman/boottest) for its help-file example,
``regress hasinsurance selfemployed post post_self, cluster(year)`` on the 16-row
data set ``data/boottest_collapsed.csv`` (8 year clusters). Which checks are exact and
which are within Monte Carlo error:

* **Rademacher, enumerated (exact).** With 8 clusters, boottest runs all
  ``2^8 = 256`` sign vectors, and so does reexport (``2^G <= reps``), so the p-value
  has no Monte Carlo error. It is a count over 256 draws. Under WCR two draws
  (``v = +1`` and ``v = -1`` for every cluster) give ``|t*| = |t|`` exactly. reexport
  does not count them (strict ``|t*| > |t|``, as documented in
  ``reexport.models.bootstrap``). The published output is consistent with that:
  the Julia engine prints 18/256 = 0.0703 in every log version read, which is
  reexport's count. boottest's Mata engine prints 18/256 in version 4.5.2 and 19/256
  = 0.0742 in 4.5.3, on the same data: the strict count plus one of the two tied
  draws, counted by floating-point chance. So the test requires the Julia values
  exactly and allows the Mata ones that one tied draw.
* **Confidence sets (exact p-value curve, boottest's stopping rule).** Inverted with
  the enumeration, the p-value is a step function of the null value, moving in steps
  of 2/256 (``v`` and ``-v`` give the same ``|t*|``). boottest's bound search
  (Chandrupatla's method in ``boottest.mata``, ``search()``) stops at the first
  trial point whose p-value is within ``1/B`` of 0.05. So a published bound is any
  point of the step next to the crossing, not the crossing itself. The test therefore
  requires reexport's p-value at each published (Julia) bound to pass boottest's
  own rule ``|P - 0.05| < 1/256``. It also requires the p-value to stay within that
  band on the whole segment between reexport's bound and the published one, i.e.
  both are the same crossing. Measured: reexport's bounds for ``post_self``
  [0.038207, 0.071284] and for ``post`` [-0.029337, -0.012942] are where the count
  drops from 14 to 12 of 256. The Julia bounds lie on the 12/256 step beside
  them. The Mata bounds are not used: they move between boottest releases on the
  same data (``post`` lower bound -.02928 in 4.5.2, -.02978 in 4.5.3), which lines up
  with the tied-draw noise above.
* **Webb weights (Monte Carlo).** boottest's 9,999,999 draws and reexport's
  ``WEBB_REPS`` are independent estimates of the same p. Their difference has
  standard deviation ``sqrt(p (1 - p) (1 / B_boottest + 1 / B_reexport))``. The test
  allows 3.5 of those plus the print rounding (0.00005).

The null ``term = b`` is tested through the public path as ``term = 0`` after moving
``b * term`` to the left-hand side. That regression has coefficient ``beta - b`` and the
same residuals, standard errors and (under WCR) restricted model, so its bootstrap
p-value is that of ``term = b``.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from results import results_boottest as ref
from results.results_boottest import BoottestReference

from reexport.cli import main
from reexport.models import bootstrap as bs
from reexport.models.api import fit_model
from reexport.models.spec import ModelSpec, parse_spec

DATA = Path(__file__).resolve().parent / "data" / "boottest_collapsed.csv"
REGRESSORS = "selfemployed + post + post_self"
#: Rademacher draws boottest enumerates for 8 clusters.
ENUMERATION = 2**8
#: boottest's printed p-values and t statistics have 4 decimals.
PRINT_ROUNDING = 0.5e-4
#: Webb replications on reexport's side, and the seed (any fixed seed will do).
WEBB_REPS = 199_999
WEBB_SEED = 20_240_219
#: Monte Carlo tolerance, in standard deviations of the difference of two p-values.
MC_SDS = 3.5


def _model(weights: str, reps: int, seed: int) -> ModelSpec:
    document = {
        "data": {"path": "boottest_collapsed.csv"},
        "model": [
            {
                "name": "boottest",
                "formula": f"y ~ {REGRESSORS}",
                "estimator": "ols",
                "inference": {
                    "type": "wild-cluster",
                    "by": "year",
                    "reps": reps,
                    "weights": weights,
                    "seed": seed,
                },
            }
        ],
    }
    return parse_spec(document, Path("spec.toml")).models[0]


@functools.cache
def _bootstrap(
    term: str, null: float, weights: str = "rademacher", reps: int = 999, seed: int = 1
) -> dict[str, Any]:
    """The bootstrap record for ``term = null`` (see the module docstring for the shift)."""
    frame = pd.read_csv(DATA)
    frame["y"] = frame["hasinsurance"] - null * frame[term]
    model = _model(weights, reps, seed)
    return bs.wild_cluster_bootstrap(model, frame, fit_model(model, frame))


def _pvalue(term: str, null: float) -> float:
    return float(_bootstrap(term, null)["pvalues"][term])


def _id(reference: BoottestReference) -> str:
    version = "2026" if ref.COMMIT_2026 in reference.source else "2025"
    return f"{reference.engine}-{version}-{reference.term}-{reference.weights}"


def test_data_file_is_the_published_example() -> None:
    frame = pd.read_csv(DATA)
    assert frame.shape == (16, 5) and frame["year"].nunique() == 8
    assert (frame["post_self"] == frame["post"] * frame["selfemployed"]).all()


@pytest.mark.parametrize("reference", ref.ENUMERATED + ref.WEBB, ids=_id)
def test_t_statistic_matches_boottest(reference: BoottestReference) -> None:
    record = _bootstrap(reference.term, reference.null)
    assert record["tstats"][reference.term] == pytest.approx(reference.t, abs=PRINT_ROUNDING)


@pytest.mark.parametrize("reference", ref.ENUMERATED, ids=_id)
def test_enumerated_pvalue_matches_boottest_up_to_the_tied_draw(
    reference: BoottestReference,
) -> None:
    record = _bootstrap(reference.term, reference.null)
    assert record["enumerated"] is True and record["reps"] == reference.reps == ENUMERATION
    exceeding = record["pvalues"][reference.term] * ENUMERATION
    assert exceeding == round(exceeding)  # a count over the 256 sign vectors
    printed = reference.pvalue * ENUMERATION
    # 4 printed decimals pin the count down to one integer.
    assert abs(printed - round(printed)) <= PRINT_ROUNDING * ENUMERATION
    extra = round(printed) - round(exceeding)
    if reference.engine == "julia":
        assert extra == 0
    else:
        assert extra in (0, 1), "Mata may count one of the two draws with |t*| = |t|"


JULIA_BOUNDS = [
    pytest.param(reference, side, id=f"{_id(reference)}-{'lower' if side == 0 else 'upper'}")
    for reference in ref.ENUMERATED
    if reference.engine == "julia" and reference.ci is not None
    for side in (0, 1)
]


@pytest.mark.parametrize(("reference", "side"), JULIA_BOUNDS)
def test_published_interval_bound_is_the_same_crossing_as_reexports(
    reference: BoottestReference, side: int
) -> None:
    assert reference.ci is not None
    published = reference.ci[side]
    ours = _bootstrap(reference.term, 0.0)["conf_int"][reference.term][side]
    assert ours is not None
    band = 1.0 / ENUMERATION  # boottest's stopping rule: |P - alpha| < 1/B
    alpha = 1.0 - bs.LEVEL
    # From just beside reexport's bound out to the published one the p-value never
    # leaves boottest's band: no other crossing of 5% lies between the two.
    for fraction in (0.25, 0.5, 0.75, 1.0):
        point = ours + fraction * (published - ours)
        assert abs(_pvalue(reference.term, point) - alpha) < band, (point, published, ours)


@pytest.mark.parametrize("reference", ref.WEBB, ids=_id)
def test_webb_pvalue_within_monte_carlo_error_of_boottest(reference: BoottestReference) -> None:
    record = _bootstrap(reference.term, reference.null, "webb", WEBB_REPS, WEBB_SEED)
    assert record["enumerated"] is False and record["reps"] == WEBB_REPS
    p = reference.pvalue
    sd = math.sqrt(p * (1.0 - p) * (1.0 / reference.reps + 1.0 / WEBB_REPS))
    ours = record["pvalues"][reference.term]
    assert abs(ours - p) <= MC_SDS * sd + PRINT_ROUNDING, (ours, p, sd)


def test_reexport_estimate_reproduces_the_published_enumeration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(DATA)
    frame["y"] = frame["hasinsurance"]
    frame.to_csv(tmp_path / "boottest_collapsed.csv", index=False)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[data]\npath = "boottest_collapsed.csv"\n\n'
        f'[[model]]\nname = "boottest"\nformula = "y ~ {REGRESSORS}"\nestimator = "ols"\n'
        'inference = { type = "wild-cluster", by = "year", reps = 999, seed = 1 }\n',
        encoding="utf-8",
    )
    output = tmp_path / "out.json"
    assert main(["estimate", str(spec), "-o", str(output)]) == 0
    assert "all 256 Rademacher sign vectors" in capsys.readouterr().out
    record = json.loads(output.read_text())["models"][0]["bootstrap"]
    direct = _bootstrap("post", 0.0)
    assert record["pvalues"] == pytest.approx(direct["pvalues"], abs=1e-15)
    for term in ("post", "post_self"):
        assert record["conf_int"][term] == pytest.approx(direct["conf_int"][term], rel=1e-12)
    assert record["pvalues"]["post"] == ref.JULIA_2026_POST.pvalue == 0.0
    assert record["tstats"]["post"] == pytest.approx(ref.JULIA_2026_POST.t, abs=PRINT_ROUNDING)
