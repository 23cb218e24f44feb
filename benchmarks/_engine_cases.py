"""Deterministic simulated data sets for the fixed-effects engine benchmarks.

Each case is a :class:`Case`: a generator of a :class:`pandas.DataFrame` (seeded,
so every run and every process sees identical data), the model to fit and the
pyfixest formula that expresses it.  Interactions such as ``exporter^year`` are
materialised here as one integer code column (``exp_year``), so every tool
absorbs exactly the same effects.

The shapes (issue 7):

* ``bilateral``: 20,000 exporter-destination pairs x 50 months (1M rows),
  pair + month effects, the project's main panel shape;
* ``wide``: 2,000 units x 500 periods (about 1M rows, 5% of cells missing),
  unit + period effects;
* ``lowmobility``: 40,000 workers x 4,000 firms over 5 periods (200,000
  rows) with few movers, worker + firm effects: alternating projections
  converge very slowly on such weakly connected graphs (10% of the workers
  change firm each period);
* ``gravity``: 120 countries x 20 years (285,600 directed pairs-years), PPML
  with exporter-year, importer-year and exporter-importer effects (Yotov et
  al. 2016, structural gravity), with zero flows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

SEED = 20251201
#: Probability that a worker changes firm in a period (low-mobility case).
MOVE_PROBABILITY = 0.1


@dataclass(frozen=True)
class Case:
    """One benchmark shape.

    Attributes
    ----------
    name : str
        Short key used on the command line and in the table.
    title : str
        Human-readable description printed in the table.
    estimator : str
        ``"ols"`` (two-way FE OLS) or ``"ppml"``.
    regressors : tuple of str
        Slope regressors.
    effects : tuple of str
        Columns absorbed as fixed effects.
    cluster : str
        Cluster variable of the covariance (CRV1).
    make : callable
        ``make(scale) -> DataFrame``; ``scale`` < 1 shrinks the data for ``--quick``.
    panel : tuple of str, optional
        ``(entity, time)`` index for linearmodels' ``PanelOLS`` and, when the
        second effect is not the time index, the column it absorbs as
        ``other_effects``; empty when PanelOLS cannot express the model.
    """

    name: str
    title: str
    estimator: str
    regressors: tuple[str, ...]
    effects: tuple[str, ...]
    cluster: str
    make: Callable[[float], pd.DataFrame]
    panel: tuple[str, ...] = ()

    @property
    def formula(self) -> str:
        """pyfixest formula of the model."""
        return f"y ~ {' + '.join(self.regressors)} | {' + '.join(self.effects)}"


def _two_way(
    rng: np.random.Generator, unit: np.ndarray, period: np.ndarray, n_units: int, n_periods: int
) -> pd.DataFrame:
    """Outcome and two regressors correlated with both effects, errors clustered by unit."""
    unit_effect = rng.normal(size=n_units)
    period_effect = rng.normal(scale=0.5, size=n_periods)
    a, b = unit_effect[unit], period_effect[period]
    x1 = rng.normal(size=unit.size) + 0.5 * a
    x2 = rng.normal(size=unit.size) + b
    unit_shock = rng.normal(scale=0.5, size=n_units)[unit]
    y = 0.8 * x1 - 0.4 * x2 + a + b + unit_shock + rng.normal(size=unit.size)
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y})


def make_bilateral(scale: float = 1.0) -> pd.DataFrame:
    """20,000 pairs x 50 months (balanced), pair and month effects."""
    pairs, months = max(int(20_000 * scale), 50), 50
    rng = np.random.default_rng(SEED)
    pair = np.repeat(np.arange(pairs), months)
    month = np.tile(np.arange(months), pairs)
    frame = _two_way(rng, pair, month, pairs, months)
    return frame.assign(pair=pair, month=month)


def make_wide(scale: float = 1.0) -> pd.DataFrame:
    """2,000 units x 500 periods with 5% of the cells missing at random."""
    units, periods = max(int(2_000 * scale), 20), max(int(500 * scale), 10)
    rng = np.random.default_rng(SEED + 1)
    unit = np.repeat(np.arange(units), periods)
    period = np.tile(np.arange(periods), units)
    present = rng.random(unit.size) >= 0.05
    unit, period = unit[present], period[present]
    frame = _two_way(rng, unit, period, units, periods)
    return frame.assign(unit=unit, period=period)


def make_lowmobility(scale: float = 1.0) -> pd.DataFrame:
    """Workers x firms over 5 periods; a worker changes firm with probability 10% a period.

    Firms have 10 workers on average and are linked to each other only
    through movers (a third of the workers ever move), so the worker-firm
    graph is weakly connected, as in matched employer-employee data and
    exporter-product x importer panels: plain alternating projections need
    thousands of sweeps (reexport's earlier engine: 16.7 s vs pyfixest 2.0 s).
    """
    workers, firms, periods = max(int(40_000 * scale), 400), max(int(4_000 * scale), 40), 5
    rng = np.random.default_rng(SEED + 2)
    firm = np.empty((workers, periods), dtype=np.int64)
    firm[:, 0] = rng.integers(0, firms, size=workers)
    for t in range(1, periods):
        move = rng.random(workers) < MOVE_PROBABILITY
        firm[:, t] = np.where(move, rng.integers(0, firms, size=workers), firm[:, t - 1])
    worker = np.repeat(np.arange(workers), periods)
    firm_codes = firm.ravel()
    worker_effect = rng.normal(size=workers)[worker]
    firm_effect = rng.normal(scale=0.7, size=firms)[firm_codes]
    x1 = rng.normal(size=worker.size) + 0.5 * worker_effect + 0.5 * firm_effect
    x2 = rng.normal(size=worker.size) + firm_effect
    y = 0.8 * x1 - 0.4 * x2 + worker_effect + firm_effect + rng.normal(size=worker.size)
    period = np.tile(np.arange(periods), workers)
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "y": y, "worker": worker, "firm": firm_codes, "period": period}
    )


def make_gravity(scale: float = 1.0) -> pd.DataFrame:
    """Structural gravity panel: every directed pair of countries in every year.

    Trade follows ``exp(0.4 rta - 0.8 ltariff + FE)`` times log-normal noise,
    with about 20% zero flows (small pairs), so PPML has genuine zeros.
    """
    countries, years = max(int(120 * scale), 12), max(int(20 * scale), 5)
    rng = np.random.default_rng(SEED + 3)
    exporter, importer = np.meshgrid(np.arange(countries), np.arange(countries), indexing="ij")
    off_diagonal = exporter != importer
    exporter, importer = exporter[off_diagonal], importer[off_diagonal]
    n_pairs = exporter.size
    pair = np.arange(n_pairs)
    year = np.tile(np.arange(years), n_pairs)
    exporter, importer, pair = (np.repeat(a, years) for a in (exporter, importer, pair))
    distance = rng.lognormal(mean=0.0, sigma=0.6, size=n_pairs)[pair]
    size_exp = rng.normal(size=(countries, years)).cumsum(axis=1) * 0.1
    size_imp = rng.normal(size=(countries, years)).cumsum(axis=1) * 0.1
    # Agreements switch on in a random year for a third of the pairs (within-pair variation).
    start = np.where(rng.random(n_pairs) < 0.33, rng.integers(0, years, n_pairs), years)[pair]
    rta = (year >= start).astype(np.float64)
    ltariff = np.log1p(rng.gamma(2.0, 0.03, size=n_pairs)[pair] * (1 - 0.5 * rta))
    ltariff += rng.normal(scale=0.01, size=pair.size)
    eta = (
        0.4 * rta
        - 0.8 * ltariff
        - 1.2 * np.log(distance)
        + size_exp[exporter, year]
        + size_imp[importer, year]
    )
    mean = np.exp(eta + rng.normal(scale=0.5, size=pair.size))
    small = rng.random(n_pairs)[pair] < 0.2 * distance / distance.max()
    trade = np.where(small & (rng.random(pair.size) < 0.7), 0.0, rng.poisson(mean * 50) / 50)
    return pd.DataFrame(
        {
            "y": trade,
            "rta": rta,
            "ltariff": ltariff,
            "exp_year": exporter * years + year,
            "imp_year": importer * years + year,
            "exp_imp": pair,
        }
    )


CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case(
            "bilateral",
            "bilateral 2-way FE OLS, 20,000 pairs x 50 months (1M rows)",
            "ols",
            ("x1", "x2"),
            ("pair", "month"),
            "pair",
            make_bilateral,
            panel=("pair", "month"),
        ),
        Case(
            "wide",
            "wide 2-way FE OLS, 2,000 x 500 (950k rows)",
            "ols",
            ("x1", "x2"),
            ("unit", "period"),
            "unit",
            make_wide,
            panel=("unit", "period"),
        ),
        Case(
            "lowmobility",
            "low-mobility 2-way FE OLS, 40,000 x 4,000 (200k rows)",
            "ols",
            ("x1", "x2"),
            ("worker", "firm"),
            "worker",
            make_lowmobility,
            panel=("worker", "period", "firm"),
        ),
        Case(
            "gravity",
            "3-way gravity PPML, 120 countries x 20 years (285,600 rows)",
            "ppml",
            ("rta", "ltariff"),
            ("exp_year", "imp_year", "exp_imp"),
            "exp_imp",
            make_gravity,
        ),
    )
}
