"""The SYNTHETIC demo vintage: a seeded, documented data-generating process (DGP).

``reexport demo`` writes made-up data in the *same raw formats* as the real
sources (the GPR ``.xls``, Comtrade JSON envelopes, FRED CSVs and a
China-customs user series), through the raw store, as vintages with id
``demo-<seed>`` and ``"synthetic": true``.  The whole chain -- parsers
included -- can then run offline, and estimates on the demo data can be
checked against the planted effects below.  :func:`write_japan_demo` adds the Japan
study's vintages (``demo-<seed>-japan``: Japan's rare-earth imports by partner;
``demo-<seed>-japan-mirror``: China's exports to Japan), drawn from a stream of their own.

Nothing here is real data.  Every number of the DGP is a module constant and is
documented, with its sources, in ``docs/demo_dgp.md``.

Marking: every manifest says ``"synthetic": true`` and its request carries a
``demo`` block; file names start with ``demo_`` (except ``EXCHUS.csv`` and
``INDPRO.csv``: the FRED parser reads the series id from the file name); the GPR
workbook's ``var_label`` dictionary carries a ``SYNTHETIC DEMO`` note; the JSON
envelopes' ``elapsedTime`` reads ``"SYNTHETIC DEMO"``; the customs user series has a
``synthetic`` column that is ``true`` in every row.  CSV files carry no comment lines
(the parsers must read them as real), so the FRED CSVs' marking is the manifest.
:func:`reexport.store.provenance_problem` checks that all of these agree.

All or nothing: :func:`write_demo` writes its vintages one after the other, so an
interrupted run (killed, disk full) can leave part of a set; ``reexport build`` uses
only complete sets (:class:`reexport.panel._Candidates`), and a new ``reexport demo``
completes the set.

Determinism: the same seed gives byte-identical files.  Timestamps inside the
files (the manifest's per-file ``retrieved``) are a constant, not the wall
clock; only the manifest's ``created`` is the time of writing.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError

if TYPE_CHECKING:
    from reexport.store import RawStore, Vintage

log = logging.getLogger("reexport.demo")

DEFAULT_SEED = 20250601
#: Version of the DGP below; bump it when any constant changes (it enters every demo request).
DGP_VERSION = 1
#: ``retrieved`` stamp written for every demo file: fixed, so re-runs are byte-identical.
DEMO_RETRIEVED = "2000-01-01T00:00:00Z"
SYNTHETIC_NOTE = "SYNTHETIC DEMO DATA (reexport demo): made up by a documented DGP, NOT real"

# --------------------------------------------------------------------------- calendar

#: GPR months written (the 1985-2019 base-100 normalisation needs the early years).
GPR_START = "1985-01"
#: Trade, customs and FRED months written.
TRADE_START = "2017-01"
END = "2024-12"
#: Window in which the GPR indices average exactly 100.
GPR_BASE = ("1985-01", "2019-12")

# --------------------------------------------------------------------------- GPR

#: log GPR deviation x_t = RHO * x_{t-1} + SIGMA * e_t, e_t ~ N(0, 1), x_0 ~ stationary.
GPR_LOG_AR_RHO = 0.85
GPR_LOG_AR_SIGMA = 0.17
#: Planted Russia-Ukraine-like spike: in these months the AR(1) recursion is overridden and
#: x_t is *set* to log(level) (the AR continues from there, so the spike decays naturally).
#: The levels copy the real file's 216.2, 319.0, 191.1 (index/100); after the base-100
#: normalisation they land a few percent lower, depending on the draw.
GPR_SPIKE = {"2022-02": 2.162, "2022-03": 3.190, "2022-04": 1.911}
#: GPRT / GPRA: log GPR plus AR(1) (rho 0.5) noise of these innovation SDs, then base-100 again.
GPRT_NOISE_SIGMA = 0.15
GPRA_NOISE_SIGMA = 0.25
GPR_COMPONENT_NOISE_RHO = 0.5

#: The 44 GPRC_/GPRHC_ countries of the real file, in its column order.
GPR_COUNTRIES = [
    "ARG",
    "AUS",
    "BEL",
    "BRA",
    "CAN",
    "CHE",
    "CHL",
    "CHN",
    "COL",
    "DEU",
    "DNK",
    "EGY",
    "ESP",
    "FIN",
    "FRA",
    "GBR",
    "HKG",
    "HUN",
    "IDN",
    "IND",
    "ISR",
    "ITA",
    "JPN",
    "KOR",
    "MEX",
    "MYS",
    "NLD",
    "NOR",
    "PER",
    "PHL",
    "POL",
    "PRT",
    "RUS",
    "SAU",
    "SWE",
    "THA",
    "TUN",
    "TUR",
    "TWN",
    "UKR",
    "USA",
    "VEN",
    "VNM",
    "ZAF",
]
COUNTRY_NAMES = {
    "ARG": "Argentina", "AUS": "Australia", "BEL": "Belgium", "BRA": "Brazil",
    "CAN": "Canada", "CHE": "Switzerland", "CHL": "Chile", "CHN": "China",
    "COL": "Colombia", "DEU": "Germany", "DNK": "Denmark", "EGY": "Egypt",
    "ESP": "Spain", "FIN": "Finland", "FRA": "France", "GBR": "United Kingdom",
    "HKG": "Hong Kong", "HUN": "Hungary", "IDN": "Indonesia", "IND": "India",
    "ISR": "Israel", "ITA": "Italy", "JPN": "Japan", "KOR": "South Korea",
    "MEX": "Mexico", "MYS": "Malaysia", "NLD": "Netherlands", "NOR": "Norway",
    "PER": "Peru", "PHL": "Philippines", "POL": "Poland", "PRT": "Portugal",
    "RUS": "Russia", "SAU": "Saudi Arabia", "SWE": "Sweden", "THA": "Thailand",
    "TUN": "Tunisia", "TUR": "Turkey", "TWN": "Taiwan", "UKR": "Ukraine",
    "USA": "United States", "VEN": "Venezuela", "VNM": "Vietnam", "ZAF": "South Africa",
}  # fmt: skip
#: Mean of each GPRC_ share (percent of articles) over 2017-01..2024-12, matched exactly.
#: USA 2.56 and AUS 0.15 are the real file's 2017-2024 means (../shared PROVENANCE.md);
#: the others are round, plausible magnitudes, not measurements.
GPRC_MEANS = {
    "ARG": 0.05, "AUS": 0.15, "BEL": 0.07, "BRA": 0.08, "CAN": 0.30, "CHE": 0.08,
    "CHL": 0.03, "CHN": 1.30, "COL": 0.06, "DEU": 0.45, "DNK": 0.04, "EGY": 0.20,
    "ESP": 0.12, "FIN": 0.06, "FRA": 0.60, "GBR": 0.85, "HKG": 0.10, "HUN": 0.04,
    "IDN": 0.08, "IND": 0.45, "ISR": 0.75, "ITA": 0.20, "JPN": 0.55, "KOR": 0.70,
    "MEX": 0.15, "MYS": 0.05, "NLD": 0.09, "NOR": 0.05, "PER": 0.02, "PHL": 0.12,
    "POL": 0.20, "PRT": 0.02, "RUS": 1.80, "SAU": 0.40, "SWE": 0.06, "THA": 0.05,
    "TUN": 0.02, "TUR": 0.45, "TWN": 0.35, "UKR": 0.90, "USA": 2.56, "VEN": 0.12,
    "VNM": 0.08, "ZAF": 0.05,
}  # fmt: skip
#: log GPRC_c = LOADING_c * x_t + eta_ct, eta AR(1) with these parameters; then scaled to the mean.
GPRC_LOADING = 0.5
GPRC_LOADING_WAR = {"RUS": 1.0, "UKR": 1.0}
GPRC_NOISE_RHO = 0.6
GPRC_NOISE_SIGMA = 0.25

# --------------------------------------------------------------------------- exports

#: Annual CN 85051110 export totals (tonnes) the smooth level path goes through.
#: Calibrated exactly (see ``CALIBRATED_YEARS``): 2017 29,907 t (Argus; Adamas), 2020 35,981.9 t
#: (mineralprices.com), 2024 58,152 t (Adamas) -- ../shared/data/repm_published_figures.csv.
#: 2019 31,674 and 2023 52,865 are implied by stated growth rates in the same file; 2018, 2021
#: and 2022 are assumptions (2021: Jan-Sep 35,896 t x 12/9 ~ 47,900; see docs/demo_dgp.md).
LEVEL_ANCHORS_T = {
    2017: 29_907.0,
    2018: 30_800.0,
    2019: 31_674.0,
    2020: 35_981.9,
    2021: 47_900.0,
    2022: 54_000.0,
    2023: 52_865.0,
    2024: 58_152.0,
}
#: Years whose simulated annual total equals the published figure (to rounding of kg).
CALIBRATED_YEARS = (2017, 2020, 2024)
#: Month-of-year factors (Jan..Dec) before normalising to mean 1: Chinese-New-Year dip in
#: February, a smaller Golden-Week dip in October, a year-end push in December.
SEASONAL_FACTORS = (1.00, 0.78, 1.02, 1.03, 1.04, 1.02, 1.01, 1.00, 1.02, 0.96, 1.04, 1.08)
#: Planted effects, tonnes per unit of the log regressor at lag ``EFFECT_LAG`` months.
#: BETA_LOG_GPR = 380: the paper's "1% rise in GPR -> +3.8 t" read as a lin-log slope.
EFFECT_LAG = 4
BETA_LOG_GPR = 380.0
BETA_LOG_GPRC_USA = 520.0
BETA_LOG_GPRC_AUS = 450.0
#: Noise u_t = RHO * u_{t-1} + SIGMA * e_t (tonnes), stationary start.
EXPORT_NOISE_RHO = 0.3
EXPORT_NOISE_SIGMA = 110.0

#: HS 850511 = CN 85051110 (rare-earth magnets) + 85051190 (other metal magnets), the latter
#: OTHER_MAGNETS_SHARE x smooth level x exp(OTHER_MAGNETS_SIGMA * e_t).
OTHER_MAGNETS_SHARE = 0.15
OTHER_MAGNETS_SIGMA = 0.08
#: Unit value of rare-earth magnets (USD/kg) by year (mid-year, log-linear between), times
#: exp(UNIT_VALUE_SIGMA * e_t).  2017 49.10 and 2024 2.86e9 USD / 58,152 t = 49.2 are
#: published (same CSV); the years between are assumptions shaped like the 2021-22 price surge.
UNIT_VALUE_USD_KG = {
    2017: 49.1,
    2018: 50.5,
    2019: 47.0,
    2020: 45.5,
    2021: 53.0,
    2022: 70.0,
    2023: 60.0,
    2024: 49.2,
}
UNIT_VALUE_SIGMA = 0.03
OTHER_MAGNETS_USD_KG = 12.0

# --------------------------------------------------------------------------- destinations

#: (ISO3, Comtrade partner code, Comtrade description, base share of China's HS 850511 exports).
#: Shares are rough magnitudes (2020 CN8 figures in ../shared for DEU, USA, KOR, VNM, THA, ITA)
#: and are normalised to sum to one.  ARE, SGP, CZE, AUT and ROU have no GPRC_ series.
PARTNERS: tuple[tuple[str, int, str, float], ...] = (
    ("DEU", 276, "Germany", 0.150),
    ("USA", 842, "USA", 0.135),
    ("KOR", 410, "Rep. of Korea", 0.100),
    ("VNM", 704, "Viet Nam", 0.075),
    ("THA", 764, "Thailand", 0.060),
    ("JPN", 392, "Japan", 0.060),
    ("IND", 699, "India", 0.050),
    ("ITA", 380, "Italy", 0.045),
    ("MEX", 484, "Mexico", 0.035),
    ("PHL", 608, "Philippines", 0.030),
    ("FRA", 251, "France", 0.030),
    ("NLD", 528, "Netherlands", 0.030),
    ("HKG", 344, "China, Hong Kong SAR", 0.030),
    ("MYS", 458, "Malaysia", 0.025),
    ("POL", 616, "Poland", 0.025),
    ("GBR", 826, "United Kingdom", 0.020),
    ("BRA", 76, "Brazil", 0.020),
    ("ESP", 724, "Spain", 0.020),
    ("SGP", 702, "Singapore", 0.020),
    ("HUN", 348, "Hungary", 0.015),
    ("CAN", 124, "Canada", 0.015),
    ("CZE", 203, "Czechia", 0.015),
    ("TUR", 792, "Türkiye", 0.010),
    ("AUT", 40, "Austria", 0.010),
    ("ROU", 642, "Romania", 0.008),
    ("ARE", 784, "United Arab Emirates", 0.006),
    ("ISR", 376, "Israel", 0.005),
)
#: Planted destination effect: log weight rises DELTA per unit of log GPRC_<partner> at lag 4.
DELTA_LOG_GPRC = 0.30
DESTINATION_NOISE_SIGMA = 0.15
#: Partners with a base share below this have zero exports in a month with ZERO_FLOW_PROB.
SMALL_PARTNER_SHARE = 0.012
ZERO_FLOW_PROB = 0.2

# --------------------------------------------------------------------------- FRED

#: EXCHUS (CNY per USD): 6.6 in 2017-01 plus a random walk with monthly SD 0.05, clipped 6..7.4.
EXCHUS_START = 6.6
EXCHUS_STEP_SIGMA = 0.05
#: INDPRO (index 2017=100): 100 x exp(0.0015 t + AR(1) rho 0.8 SD 0.006) with a 2020-04 dip of -15%.
INDPRO_TREND = 0.0015
INDPRO_NOISE_RHO = 0.8
INDPRO_NOISE_SIGMA = 0.006
INDPRO_COVID = {"2020-03": -0.05, "2020-04": -0.15, "2020-05": -0.11, "2020-06": -0.06}

#: The demo's China-customs user series: name, and the CN code it measures.
CHINA_CUSTOMS_SERIES = "demo_china_customs_85051110"
CUSTOMS_HS = "85051110"


@dataclass(frozen=True)
class DemoData:
    """Every series of one draw of the DGP, in memory (indexed by monthly ``pd.Period``).

    Attributes
    ----------
    seed
        The seed that produced it.
    gpr
        1985-01..2024-12: ``GPR``, ``GPRT``, ``GPRA`` and ``GPRC_<ISO3>`` for the 44 countries.
    customs_t
        China-customs CN 85051110 world exports, tonnes (3 decimals), 2017-01..2024-12.
    other_magnets_t
        The CN 85051190 component, tonnes (3 decimals); HS 850511 = customs + other.
    world
        HS 850511 world exports: columns ``net_weight_kg`` (int), ``value_usd`` (float, 3 dp).
    destinations
        Long frame ``period, partner, net_weight_kg, value_usd`` of the nonzero flows; they sum
        exactly to ``world`` month by month.
    fred
        ``EXCHUS`` and ``INDPRO``, 2017-01..2024-12.
    """

    seed: int
    gpr: pd.DataFrame
    customs_t: pd.Series
    other_magnets_t: pd.Series
    world: pd.DataFrame
    destinations: pd.DataFrame
    fred: pd.DataFrame


def _months(start: str, end: str) -> pd.PeriodIndex:
    return pd.period_range(start, end, freq="M")


def _ar1(
    rng: np.random.Generator,
    n: int,
    rho: float,
    sigma: float,
    overrides: Mapping[int, float] | None = None,
) -> np.ndarray:
    """A stationary AR(1) path of length ``n`` (first value drawn from the stationary law).

    ``overrides`` maps positions to values the path is set to; the recursion continues from them.
    """
    shocks = rng.standard_normal(n)
    fixed = dict(overrides or {})
    path = np.empty(n)
    path[0] = sigma / np.sqrt(1.0 - rho**2) * shocks[0]
    for t in range(1, n):
        path[t] = fixed.get(t, rho * path[t - 1] + sigma * shocks[t])
    return path


def _position(months: pd.PeriodIndex, month: str) -> int:
    """Position of ``month`` (``YYYY-MM``) in ``months``."""
    return int(np.flatnonzero(months == pd.Period(month, "M"))[0])


def _base100(values: np.ndarray, months: pd.PeriodIndex) -> np.ndarray:
    base = (months >= pd.Period(GPR_BASE[0], "M")) & (months <= pd.Period(GPR_BASE[1], "M"))
    return 100.0 * values / values[base].mean()


def _annual_interp(
    anchors: Mapping[int, float], months: pd.PeriodIndex, *, log: bool = True
) -> np.ndarray:
    """Values at mid-year for each anchor year, log-linear in between, flat beyond the ends."""
    position = np.asarray(months.year * 12 + months.month - 1, dtype=float)
    years = sorted(anchors)
    knots = np.array([y * 12 + 5.5 for y in years])
    values = np.array([anchors[y] for y in years], dtype=float)
    if log:
        return np.exp(np.interp(position, knots, np.log(values)))
    return np.interp(position, knots, values)


def _generate_gpr(rng: np.random.Generator) -> pd.DataFrame:
    months = _months(GPR_START, END)
    n = len(months)
    spike = {_position(months, m): float(np.log(v)) for m, v in GPR_SPIKE.items()}
    x = _ar1(rng, n, GPR_LOG_AR_RHO, GPR_LOG_AR_SIGMA, spike)
    frame = pd.DataFrame(index=months)
    frame["GPR"] = _base100(np.exp(x), months)
    for name, sigma in (("GPRT", GPRT_NOISE_SIGMA), ("GPRA", GPRA_NOISE_SIGMA)):
        noise = _ar1(rng, n, GPR_COMPONENT_NOISE_RHO, sigma)
        frame[name] = _base100(np.exp(x + noise), months)
    window = (months >= pd.Period(TRADE_START, "M")) & (months <= pd.Period(END, "M"))
    for iso in GPR_COUNTRIES:
        loading = GPRC_LOADING_WAR.get(iso, GPRC_LOADING)
        share = np.exp(loading * x + _ar1(rng, n, GPRC_NOISE_RHO, GPRC_NOISE_SIGMA))
        frame[f"GPRC_{iso}"] = share * (GPRC_MEANS[iso] / share[window].mean())
    return frame


def _lagged_log(series: pd.Series, months: pd.PeriodIndex) -> np.ndarray:
    """log(series) at t - EFFECT_LAG for each month t, centred on its mean over ``months``."""
    values = np.log(series.reindex(months - EFFECT_LAG).to_numpy(dtype=float))
    return values - values.mean()


def _generate_customs(rng: np.random.Generator, gpr: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """CN 85051110 exports (tonnes) and the smooth level path they were built on."""
    months = _months(TRADE_START, END)
    seasonal = np.array(SEASONAL_FACTORS) / np.mean(SEASONAL_FACTORS)
    season = seasonal[np.asarray(months.month) - 1]
    effects = (
        BETA_LOG_GPR * _lagged_log(gpr["GPR"], months)
        + BETA_LOG_GPRC_USA * _lagged_log(gpr["GPRC_USA"], months)
        + BETA_LOG_GPRC_AUS * _lagged_log(gpr["GPRC_AUS"], months)
    )
    noise = _ar1(rng, len(months), EXPORT_NOISE_RHO, EXPORT_NOISE_SIGMA)
    years = np.asarray(months.year)
    anchors = {year: total / 12.0 for year, total in LEVEL_ANCHORS_T.items()}
    # Exact calibration: move the calibrated years' anchors until those years' totals
    # (smooth level x season + effects + noise) equal the published figures.  The level
    # stays log-linear between mid-years, so the adjustment is smooth, not a year dummy.
    for _ in range(200):
        smooth = _annual_interp(anchors, months) * season
        worst = 0.0
        for year in CALIBRATED_YEARS:
            in_year = years == year
            target = LEVEL_ANCHORS_T[year] - (effects + noise)[in_year].sum()
            ratio = target / smooth[in_year].sum()
            anchors[year] *= ratio
            worst = max(worst, abs(ratio - 1.0))
        if worst < 1e-13:
            break
    smooth = _annual_interp(anchors, months) * season
    exports = smooth + effects + noise
    if (exports <= 0).any():  # pragma: no cover - impossible for the constants above
        raise BadInputError("demo: the DGP produced a non-positive export month")
    return pd.Series(np.round(exports, 3), index=months, name="customs_t"), smooth


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` into integers summing to it."""
    raw = total * weights / weights.sum()
    floor = np.floor(raw).astype(np.int64)
    short = int(total - floor.sum())
    order = np.argsort(-(raw - floor), kind="stable")
    floor[order[:short]] += 1
    return floor


def _generate_trade(
    rng: np.random.Generator, gpr: pd.DataFrame, customs_t: pd.Series, smooth: np.ndarray
) -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    months = pd.PeriodIndex(customs_t.index)
    n = len(months)
    other = OTHER_MAGNETS_SHARE * smooth * np.exp(OTHER_MAGNETS_SIGMA * rng.standard_normal(n))
    other_t = pd.Series(np.round(other, 3), index=months, name="other_magnets_t")
    customs_kg = np.rint(customs_t.to_numpy() * 1000).astype(np.int64)
    other_kg = np.rint(other_t.to_numpy() * 1000).astype(np.int64)
    world_kg = customs_kg + other_kg
    unit_value = _annual_interp(UNIT_VALUE_USD_KG, months) * np.exp(
        UNIT_VALUE_SIGMA * rng.standard_normal(n)
    )
    # Work in thousandths of a dollar so partner values add up to the world value exactly.
    world_milli = np.rint((customs_kg * unit_value + other_kg * OTHER_MAGNETS_USD_KG) * 1000)
    world_milli = world_milli.astype(np.int64)

    base = np.array([p[3] for p in PARTNERS])
    base = base / base.sum()
    log_weight: np.ndarray = np.tile(np.log(base), (n, 1)).astype(float)
    for j, (iso, *_rest) in enumerate(PARTNERS):
        if f"GPRC_{iso}" in gpr.columns:
            log_weight[:, j] += DELTA_LOG_GPRC * _lagged_log(gpr[f"GPRC_{iso}"], months)
    log_weight += DESTINATION_NOISE_SIGMA * rng.standard_normal((n, len(PARTNERS)))
    weight = np.exp(log_weight)
    small = base < SMALL_PARTNER_SHARE
    zero = (rng.random((n, len(PARTNERS))) < ZERO_FLOW_PROB) & small
    weight[zero] = 0.0
    value_noise = np.exp(0.05 * rng.standard_normal((n, len(PARTNERS))))

    rows = []
    for t, period in enumerate(months):
        kg = _largest_remainder(int(world_kg[t]), weight[t])
        milli = _largest_remainder(int(world_milli[t]), kg * value_noise[t])
        for j, (iso, *_rest) in enumerate(PARTNERS):
            if kg[j] > 0:
                rows.append((period, iso, int(kg[j]), milli[j] / 1000.0))
    destinations = pd.DataFrame(rows, columns=["period", "partner", "net_weight_kg", "value_usd"])
    world = pd.DataFrame(
        {"net_weight_kg": world_kg, "value_usd": world_milli / 1000.0}, index=months
    )
    return other_t, world, destinations


def _generate_fred(rng: np.random.Generator) -> pd.DataFrame:
    months = _months(TRADE_START, END)
    n = len(months)
    steps = EXCHUS_STEP_SIGMA * rng.standard_normal(n)
    steps[0] = 0.0
    exchus = np.clip(EXCHUS_START + np.cumsum(steps), 6.0, 7.4)
    log_ip = INDPRO_TREND * np.arange(n) + _ar1(rng, n, INDPRO_NOISE_RHO, INDPRO_NOISE_SIGMA)
    for month, dip in INDPRO_COVID.items():
        log_ip[_position(months, month)] += dip
    indpro = 100.0 * np.exp(log_ip)
    indpro = indpro * 100.0 / indpro[np.asarray(months.year) == 2017].mean()
    return pd.DataFrame(
        {"EXCHUS": np.round(exchus, 4), "INDPRO": np.round(indpro, 4)}, index=months
    )


def _check_seed(seed: object) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise BadInputError(f"demo: --seed {seed!r} must be a non-negative integer")


def generate(seed: int = DEFAULT_SEED) -> DemoData:
    """Draw every demo series from the DGP for ``seed`` (deterministic; nothing is written).

    Parameters
    ----------
    seed
        Seed of :func:`numpy.random.default_rng`; each block (GPR, exports, trade, FRED)
        draws from its own child stream, so changing one block leaves the others alone.

    Returns
    -------
    DemoData
        All series in memory.
    """
    _check_seed(seed)
    gpr_rng, export_rng, trade_rng, fred_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    gpr = _generate_gpr(gpr_rng)
    customs_t, smooth = _generate_customs(export_rng, gpr)
    other_t, world, destinations = _generate_trade(trade_rng, gpr, customs_t, smooth)
    fred = _generate_fred(fred_rng)
    return DemoData(seed, gpr, customs_t, other_t, world, destinations, fred)


# =========================================================================== raw formats


def gpr_xls_bytes(data: DemoData) -> bytes:
    """The demo GPR indices as a BIFF8 workbook laid out like ``data_gpr_export.xls``.

    Same sheet name (``Sheet1``), the same 115 columns in the same order,
    ``month`` as a real Excel date cell (1900 date system, format ``m/d/yy``),
    and the ``var_name``/``var_label`` data dictionary in the first rows.  The
    dictionary's first row is a ``SYNTHETIC DEMO`` note.  Only the columns the
    DGP draws (``GPR``, ``GPRT``, ``GPRA``, every ``GPRC_*``) hold numbers; the
    historical and article-count columns are left blank, and rows start in
    1985-01 (the real file starts in 1900-01).

    Parameters
    ----------
    data
        One draw of the DGP.

    Returns
    -------
    bytes
        The workbook, identical for identical ``data``.
    """
    import xlwt

    columns = _gpr_columns()
    labels = _gpr_dictionary()
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="m/d/yy")
    number_style = xlwt.easyxf(num_format_str="#,##0.00")
    for col, name in enumerate(columns):
        sheet.write(0, col, name)
    gpr = data.gpr
    drawn = [c for c in columns if c in gpr.columns]
    positions = {c: columns.index(c) for c in drawn}
    values = gpr[drawn].to_numpy(dtype=float)
    for row, period in enumerate(gpr.index, start=1):
        sheet.write(row, 0, _dt.date(period.year, period.month, 1), date_style)
        for k, name in enumerate(drawn):
            sheet.write(row, positions[name], float(values[row - 1, k]), number_style)
    name_col, label_col = len(columns) - 2, len(columns) - 1
    for row, (var, label) in enumerate(labels, start=1):
        sheet.write(row, name_col, var)
        sheet.write(row, label_col, label)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_GPR_HEAD = [
    "GPR",
    "GPRT",
    "GPRA",
    "GPRH",
    "GPRHT",
    "GPRHA",
    "SHARE_GPR",
    "N10",
    "SHARE_GPRH",
    "N3H",
    "GPRH_NOEW",
    "GPR_NOEW",
    "GPRH_AND",
    "GPR_AND",
    "GPRH_BASIC",
    "GPR_BASIC",
]


def _gpr_columns() -> list[str]:
    """The real monthly file's 115 column names, in order (../shared PROVENANCE.md)."""
    return [
        "month",
        *_GPR_HEAD,
        *(f"SHAREH_CAT_{k}" for k in range(1, 9)),
        *(f"GPRC_{c}" for c in GPR_COUNTRIES),
        *(f"GPRHC_{c}" for c in GPR_COUNTRIES),
        "var_name",
        "var_label",
    ]


def _gpr_dictionary() -> list[tuple[str, str]]:
    """``(var_name, var_label)`` rows: a synthetic note, then labels worded like the real ones."""
    recent = "(Index: 1985:2019=100)"
    rows = [
        ("SYNTHETIC_DEMO", SYNTHETIC_NOTE),
        ("month", "Date (year/month)"),
        ("GPR", f"SYNTHETIC DEMO Recent GPR {recent}"),
        ("GPRT", f"SYNTHETIC DEMO Recent GPR Threats {recent}"),
        ("GPRA", f"SYNTHETIC DEMO Recent GPR Acts {recent}"),
    ]
    rows += [
        (f"GPRC_{c}", f"SYNTHETIC DEMO Country GPR: Percent of articles ({COUNTRY_NAMES[c]})")
        for c in GPR_COUNTRIES
    ]
    return rows


#: Comtrade's description of HS 850511 (the API's wording, shortened as it writes it).
CMD_DESC_850511 = (
    "Electro-magnets; permanent magnets and articles intended to become permanent magnets "
    "after magnetisation, of metal"
)
#: HS edition China reports in: HS2017 (H5) until 2021, HS2022 (H6) from 2022, as real
#: reporters switch; the build reports the change.
HS_EDITION_SWITCH = ("2022-01", "H5", "H6")


def _hs_edition(period: pd.Period) -> str:
    switch, before, after = HS_EDITION_SWITCH
    return after if period >= pd.Period(switch, "M") else before


def comtrade_record(
    period: pd.Period, partner_code: int, partner_iso: str, partner_desc: str, kg: int, usd: float
) -> dict[str, Any]:
    """One monthly export record of China's HS 850511 with the API's 47 keys, in its order."""
    return trade_record(
        period,
        reporter=(156, "CHN", "China"),
        flow="X",
        partner=(partner_code, partner_iso, partner_desc),
        hs=("850511", CMD_DESC_850511, 6, True),
        edition=_hs_edition(period),
        kg=kg,
        usd=usd,
    )


def trade_record(
    period: pd.Period,
    *,
    reporter: tuple[int, str, str],
    flow: str,
    partner: tuple[int, str, str],
    hs: tuple[str, str, int, bool],
    edition: str,
    kg: int,
    usd: float,
) -> dict[str, Any]:
    """One monthly Comtrade record with the API's 47 keys, in its order.

    Parameters
    ----------
    period
        The month.
    reporter, partner
        ``(code, ISO3, description)``; partner code 0 is the World row.
    flow
        ``X`` (the value is FOB: ``fobvalue``) or ``M`` (CIF: ``cifvalue``), as Comtrade
        reports exports and imports.
    hs
        ``(cmdCode, cmdDesc, aggrLevel, isLeaf)``.
    edition
        HS edition (``classificationCode``), e.g. ``H5``.
    kg, usd
        Net weight (kg; also the quantity, unit kg) and primary value (USD).
    """
    reporter_code, reporter_iso, reporter_desc = reporter
    partner_code, partner_iso, partner_desc = partner
    cmd_code, cmd_desc, aggr_level, is_leaf = hs
    return {
        "typeCode": "C",
        "freqCode": "M",
        "refPeriodId": int(f"{period.year:04d}{period.month:02d}01"),
        "refYear": period.year,
        "refMonth": period.month,
        "period": f"{period.year:04d}{period.month:02d}",
        "reporterCode": reporter_code,
        "reporterISO": reporter_iso,
        "reporterDesc": reporter_desc,
        "flowCode": flow,
        "flowDesc": "Export" if flow == "X" else "Import",
        "partnerCode": partner_code,
        "partnerISO": partner_iso,
        "partnerDesc": partner_desc,
        "partner2Code": 0,
        "partner2ISO": "W00",
        "partner2Desc": "World",
        "classificationCode": edition,
        "classificationSearchCode": "HS",
        "isOriginalClassification": True,
        "cmdCode": cmd_code,
        "cmdDesc": cmd_desc,
        "aggrLevel": aggr_level,
        "isLeaf": is_leaf,
        "customsCode": "C00",
        "customsDesc": "TOTAL CPC",
        "mosCode": "0",
        "motCode": 0,
        "motDesc": "TOTAL MOT",
        "qtyUnitCode": 8,
        "qtyUnitAbbr": "kg",
        "qty": float(kg),
        "isQtyEstimated": False,
        "altQtyUnitCode": 8,
        "altQtyUnitAbbr": "kg",
        "altQty": float(kg),
        "isAltQtyEstimated": False,
        "netWgt": float(kg),
        "isNetWgtEstimated": False,
        "grossWgt": None,
        "isGrossWgtEstimated": False,
        "cifvalue": usd if flow == "M" else None,
        "fobvalue": usd if flow == "X" else None,
        "primaryValue": usd,
        "legacyEstimationFlag": 0,
        "isReported": True,
        "isAggregate": partner_code == 0,
    }


def _envelope(records: list[dict[str, Any]]) -> bytes:
    envelope = {
        "elapsedTime": "SYNTHETIC DEMO",
        "count": len(records),
        "data": records,
        "error": "",
    }
    # Compact separators, as the real API writes its bodies.
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def comtrade_bodies(data: DemoData, partner: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """The demo Comtrade answers for ``partner`` ``"world"`` or ``"all"``.

    One body per call of the keyed plan the comtrade fetcher would make for
    reporter 156, HS 850511, flow X, 2017-01..2024-12 (12 months per call), with
    the fetcher's file names prefixed ``demo_``.  ``"all"`` answers hold the
    World row (partner 0) and one row per destination with a nonzero flow, as
    the API answers when ``partnerCode`` is omitted.

    Returns
    -------
    list of (file name, body, query parameters the fetcher would have sent)
    """
    from reexport.sources import comtrade

    request = comtrade.make_request(partner=partner, start=TRADE_START, end=END)
    by_month: dict[str, list[tuple[int, str, str, int, float]]] = {}
    world = data.world
    for period, kg, usd in zip(
        world.index.astype(str), world["net_weight_kg"], world["value_usd"], strict=True
    ):
        by_month[period] = [(0, "W00", "World", int(kg), float(usd))]
    if partner == "all":
        codes = {iso: (code, desc) for iso, code, desc, _share in PARTNERS}
        dest = data.destinations
        for period, iso, kg, usd in zip(
            dest["period"].astype(str),
            dest["partner"],
            dest["net_weight_kg"],
            dest["value_usd"],
            strict=True,
        ):
            code, desc = codes[str(iso)]
            by_month[period].append((code, str(iso), desc, int(kg), float(usd)))
    bodies = []
    for call in comtrade.plan_calls(request, keyed=True):
        records = [
            comtrade_record(pd.Period(str(month), "M"), *entry)
            for month in call.months
            for entry in sorted(by_month[str(month)], key=lambda e: e[0])
        ]
        params = comtrade.call_params(request, call, keyed=True)
        bodies.append((f"demo_{call.name}", _envelope(records), params))
    return bodies


def fred_csv_bytes(data: DemoData, series: str) -> bytes:
    """One FRED series as ``fredgraph.csv`` writes it: ``observation_date,<ID>`` then daily dates."""
    lines = [f"observation_date,{series}"]
    column = data.fred[series]
    for period, value in zip(column.index.astype(str), column.to_numpy(), strict=True):
        lines.append(f"{period}-01,{value:.4f}")
    return ("\n".join(lines) + "\n").encode("ascii")


def customs_csv_bytes(data: DemoData) -> bytes:
    """The China-customs CN 85051110 world series in the ``import-series`` CSV format.

    A third column, ``synthetic``, is ``true`` in every row: the file says in its own
    content that it is the demo's (``import-series`` reads only the period and value
    columns, and refuses to store a file whose ``synthetic`` column is true as real).
    """
    lines = ["period,value,synthetic"]
    series = data.customs_t
    for period, value in zip(series.index.astype(str), series.to_numpy(), strict=True):
        lines.append(f"{period},{value:.3f},true")
    return ("\n".join(lines) + "\n").encode("ascii")


# =========================================================================== Japan study

# The Japan rare-earth demo: Japan's monthly imports (reporter 392, flow M) of rare-earth
# metals, compounds and permanent magnets by partner, 2010-01..2024-12, and China's reported
# exports to Japan of the same codes (the mirror flow).  Documented in docs/demo_dgp.md
# ("Japan's rare-earth imports").  It draws from its own child stream of the seed (the fifth),
# so the vintages above are byte-identical with or without it.

#: Months of the Japan vintages (the 2010 embargo year through the end of the GPR file).
JAPAN_START = "2010-01"
#: The embargo months: China's shipments to Japan were held up from late September 2010
#: (the Senkaku boat collision) until about November.
JAPAN_EMBARGO = ("2010-09", "2010-11")
#: China's value shipped to Japan in the embargo months is cut by this fraction (all codes).
JAPAN_EMBARGO_CUT = 0.5
#: (cmdCode, cmdDesc, aggrLevel, isLeaf) of the three products.
JAPAN_PRODUCTS: tuple[tuple[str, str, int, bool], ...] = (
    (
        "280530",
        "Rare-earth metals, scandium and yttrium, whether or not intermixed or interalloyed",
        6,
        True,
    ),
    (
        "2846",
        "Compounds, inorganic or organic, of rare-earth metals, of yttrium or of scandium or "
        "of mixtures of these metals",
        4,
        False,
    ),
    ("850511", CMD_DESC_850511, 6, True),
)
#: The partners of the Japan vintages: (ISO3, Comtrade code, Comtrade description).
JAPAN_PARTNERS: tuple[tuple[str, int, str], ...] = (
    ("CHN", 156, "China"),
    ("IND", 699, "India"),
    ("VNM", 704, "Viet Nam"),
    ("THA", 764, "Thailand"),
    ("MYS", 458, "Malaysia"),
    ("PHL", 608, "Philippines"),
    ("AUS", 36, "Australia"),
    ("USA", 842, "USA"),
    ("FRA", 251, "France"),
    ("EST", 233, "Estonia"),
    ("KOR", 410, "Rep. of Korea"),
    ("DEU", 276, "Germany"),
)
#: India and the Southeast Asian partners: the "diversification" group of the commentary.
JAPAN_IND_SEA = ("IND", "VNM", "THA", "MYS", "PHL")

#: China's share of Japan's imports (by value) in 2010-01, before the embargo, and its
#: planted linear trend per month (share points / month = per-year figure / 12).
JAPAN_CHINA_SHARE_2010_280530 = 0.78
JAPAN_CHINA_SHARE_2010_2846 = 0.62
JAPAN_CHINA_SHARE_2010_850511 = 0.72
JAPAN_CHINA_TREND_280530 = -0.009 / 12
JAPAN_CHINA_TREND_2846 = -0.015 / 12
JAPAN_CHINA_TREND_850511 = -0.003 / 12
#: The India + Southeast Asia share in 2010-01 and its planted trend per month.
JAPAN_IND_SEA_SHARE_2010_280530 = 0.05
JAPAN_IND_SEA_SHARE_2010_2846 = 0.08
JAPAN_IND_SEA_SHARE_2010_850511 = 0.08
JAPAN_IND_SEA_TREND_280530 = 0.008 / 12
JAPAN_IND_SEA_TREND_2846 = 0.012 / 12
JAPAN_IND_SEA_TREND_850511 = 0.004 / 12
#: Planted effects on China's share: share points per unit of the centred log index at
#: lag JAPAN_EFFECT_LAG months (every product).
JAPAN_EFFECT_LAG = 3
JAPAN_BETA_LOG_GPRC_JPN = -0.04
JAPAN_BETA_LOG_GPRC_CHN = -0.03
#: Share noise: AR(1) in share points (China) and i.i.d. (India + Southeast Asia).
JAPAN_CHINA_NOISE_RHO = 0.5
JAPAN_CHINA_NOISE_SIGMA = 0.025
JAPAN_IND_SEA_NOISE_SIGMA = 0.01
#: Weights splitting the India + Southeast Asia share, and the rest of the world's share,
#: among partners (normalised; times exp(JAPAN_SPLIT_SIGMA * e) each month).
JAPAN_IND_SEA_WEIGHTS = {
    "280530": {"VNM": 0.60, "IND": 0.10, "MYS": 0.10, "THA": 0.15, "PHL": 0.05},
    "2846": {"MYS": 0.45, "IND": 0.30, "VNM": 0.15, "THA": 0.07, "PHL": 0.03},
    "850511": {"VNM": 0.35, "THA": 0.25, "PHL": 0.20, "MYS": 0.15, "IND": 0.05},
}
JAPAN_REST_WEIGHTS = {
    "280530": {"USA": 0.30, "EST": 0.30, "KOR": 0.20, "FRA": 0.15, "AUS": 0.05},
    "2846": {"FRA": 0.35, "USA": 0.25, "EST": 0.20, "AUS": 0.10, "KOR": 0.10},
    "850511": {"DEU": 0.35, "USA": 0.30, "KOR": 0.25, "FRA": 0.10},
}
JAPAN_SPLIT_SIGMA = 0.15
#: Rest-of-world partners with a weight below this ship nothing in a month with probability
#: JAPAN_ZERO_FLOW_PROB (their share goes to the other rest-of-world partners).
JAPAN_SMALL_WEIGHT = 0.12
JAPAN_ZERO_FLOW_PROB = 0.2
#: Japan's total monthly imports (million USD, CIF) at mid-year: log-linear in between,
#: times the season and exp(AR(1) noise).  Shaped like the 2011 rare-earth price bubble;
#: assumptions of plausible magnitude, not measurements.
JAPAN_TOTAL_MUSD = {
    "280530": {2010: 25, 2011: 45, 2012: 15, 2013: 12, 2015: 9, 2018: 10, 2020: 8, 2022: 15, 2024: 10},
    "2846": {2010: 45, 2011: 95, 2012: 30, 2013: 22, 2015: 18, 2018: 20, 2020: 17, 2022: 28, 2024: 20},
    "850511": {2010: 30, 2011: 38, 2012: 32, 2015: 30, 2018: 36, 2020: 32, 2022: 45, 2024: 42},
}  # fmt: skip
JAPAN_TOTAL_NOISE_RHO = 0.5
JAPAN_TOTAL_NOISE_SIGMA = 0.10
#: Unit values (USD/kg, CIF) at mid-year, log-linear in between; each partner-month times
#: exp(JAPAN_UNIT_VALUE_SIGMA * e).  Assumptions shaped like the 2011 bubble, not measurements.
JAPAN_UNIT_VALUE_USD_KG = {
    "280530": {2010: 30, 2011: 90, 2012: 55, 2013: 30, 2014: 25, 2016: 18, 2020: 20, 2022: 40, 2024: 25},
    "2846": {2010: 15, 2011: 45, 2012: 25, 2013: 12, 2014: 9, 2016: 7, 2020: 7, 2022: 14, 2024: 8},
    "850511": {2010: 25, 2011: 40, 2012: 35, 2014: 28, 2020: 25, 2022: 38, 2024: 30},
}  # fmt: skip
JAPAN_UNIT_VALUE_SIGMA = 0.05
#: Mirror flow: China's reported FOB exports = Japan's CIF imports from China / (1 + margin),
#: times exp(JAPAN_MIRROR_SIGMA * e) (timing and valuation differences); weights times
#: exp(JAPAN_MIRROR_WEIGHT_SIGMA * e).
JAPAN_CIF_FOB_MARGIN = 0.06
JAPAN_MIRROR_SIGMA = 0.05
JAPAN_MIRROR_WEIGHT_SIGMA = 0.03
#: HS editions Japan and China report in: HS2007 (H3) to 2011, HS2012 (H4) 2012-2016,
#: HS2017 (H5) 2017-2021, HS2022 (H6) from 2022.
JAPAN_HS_EDITIONS = (("2010-01", "H3"), ("2012-01", "H4"), ("2017-01", "H5"), ("2022-01", "H6"))


@dataclass(frozen=True)
class JapanData:
    """One draw of the Japan DGP, in memory.

    Attributes
    ----------
    seed
        The seed that produced it.
    imports
        Japan's imports, long: ``period`` (``pd.Period``), ``hs``, ``partner`` (ISO3, ``WLD``
        for the World row), ``net_weight_kg`` (int), ``value_usd`` (float, 3 dp).  Partners
        with no trade in a month have no row; the World row is the exact sum of the others.
    mirror
        China's reported exports to Japan: ``period``, ``hs``, ``net_weight_kg``, ``value_usd``.
    planted
        The planted shares before the split into partners: ``period``, ``hs``, ``china_share``,
        ``ind_sea_share`` (China's share before the embargo cut).
    """

    seed: int
    imports: pd.DataFrame
    mirror: pd.DataFrame
    planted: pd.DataFrame


def japan_constant(name: str, hs: str) -> float:
    """The per-product constant ``JAPAN_<name>_<hs>`` (e.g. ``japan_constant("CHINA_TREND", "2846")``)."""
    value = globals().get(f"JAPAN_{name}_{hs}")
    if not isinstance(value, float):
        raise BadInputError(f"demo: no Japan constant JAPAN_{name}_{hs}")
    return value


def _japan_rng(seed: int) -> np.random.Generator:
    """The fifth child stream of the seed (the first four are the Porcher blocks')."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(5)[4])


def _split(rng: np.random.Generator, weights: Mapping[str, float], n: int) -> pd.DataFrame:
    """Monthly fractions (rows sum to one) of ``weights`` times exp(JAPAN_SPLIT_SIGMA * e)."""
    base = np.array(list(weights.values()), dtype=float)
    noisy = base * np.exp(JAPAN_SPLIT_SIGMA * rng.standard_normal((n, len(base))))
    return pd.DataFrame(noisy, columns=list(weights))


def generate_japan(seed: int = DEFAULT_SEED, gpr: pd.DataFrame | None = None) -> JapanData:
    """Draw Japan's rare-earth imports by partner and China's mirror exports for ``seed``.

    Parameters
    ----------
    seed
        Seed of the DGP (the same seed as the Porcher vintages: one demo set).
    gpr
        The draw's GPR frame (``generate(seed).gpr``); drawn when not given.

    Returns
    -------
    JapanData
    """
    _check_seed(seed)
    if gpr is None:
        gpr = generate(seed).gpr
    rng = _japan_rng(seed)
    months = _months(JAPAN_START, END)
    n = len(months)
    trend = np.arange(n, dtype=float)
    embargo = (months >= pd.Period(JAPAN_EMBARGO[0], "M")) & (
        months <= pd.Period(JAPAN_EMBARGO[1], "M")
    )
    effect = JAPAN_BETA_LOG_GPRC_JPN * _centred_lagged_log(
        gpr["GPRC_JPN"], months
    ) + JAPAN_BETA_LOG_GPRC_CHN * _centred_lagged_log(gpr["GPRC_CHN"], months)
    seasonal = np.array(SEASONAL_FACTORS) / np.mean(SEASONAL_FACTORS)
    season = seasonal[np.asarray(months.month) - 1]
    import_rows: list[tuple[pd.Period, str, str, int, float]] = []
    mirror_rows: list[tuple[pd.Period, str, int, float]] = []
    planted_rows: list[tuple[pd.Period, str, float, float]] = []
    for hs, *_desc in JAPAN_PRODUCTS:
        china = (
            japan_constant("CHINA_SHARE_2010", hs)
            + japan_constant("CHINA_TREND", hs) * trend
            + effect
            + _ar1(rng, n, JAPAN_CHINA_NOISE_RHO, JAPAN_CHINA_NOISE_SIGMA)
        )
        ind_sea = (
            japan_constant("IND_SEA_SHARE_2010", hs)
            + japan_constant("IND_SEA_TREND", hs) * trend
            + JAPAN_IND_SEA_NOISE_SIGMA * rng.standard_normal(n)
        )
        rest = 1.0 - china - ind_sea
        if min(china.min(), ind_sea.min(), rest.min()) <= 0.01:  # pragma: no cover
            raise BadInputError(f"demo: seed {seed} drew a Japan share outside (0.01, 1) for {hs}")
        total = (
            1e6
            * _annual_interp(JAPAN_TOTAL_MUSD[hs], months)
            * season
            * np.exp(_ar1(rng, n, JAPAN_TOTAL_NOISE_RHO, JAPAN_TOTAL_NOISE_SIGMA))
        )
        group = _split(rng, JAPAN_IND_SEA_WEIGHTS[hs], n)
        others = _split(rng, JAPAN_REST_WEIGHTS[hs], n)
        small = [iso for iso, w in JAPAN_REST_WEIGHTS[hs].items() if w < JAPAN_SMALL_WEIGHT]
        zero = rng.random((n, len(small))) < JAPAN_ZERO_FLOW_PROB
        others.loc[:, small] = others[small].to_numpy() * ~zero
        shares = pd.concat(
            [
                pd.DataFrame({"CHN": china}),
                group.div(group.sum(axis=1), axis=0).mul(ind_sea, axis=0),
                others.div(others.sum(axis=1), axis=0).mul(rest, axis=0),
            ],
            axis=1,
        )
        value = shares.mul(total, axis=0)
        value.loc[embargo, "CHN"] *= 1.0 - JAPAN_EMBARGO_CUT
        unit_value = _annual_interp(JAPAN_UNIT_VALUE_USD_KG[hs], months)
        noise = np.exp(JAPAN_UNIT_VALUE_SIGMA * rng.standard_normal(value.shape))
        kg = np.rint(value.to_numpy() / (unit_value[:, None] * noise)).astype(np.int64)
        milli = np.rint(value.to_numpy() * 1000).astype(np.int64)
        mirror_value = np.exp(JAPAN_MIRROR_SIGMA * rng.standard_normal(n))
        mirror_weight = np.exp(JAPAN_MIRROR_WEIGHT_SIGMA * rng.standard_normal(n))
        china_column = list(shares.columns).index("CHN")
        for t, period in enumerate(months):
            for j, iso in enumerate(shares.columns):
                if milli[t, j] > 0:
                    import_rows.append((period, hs, str(iso), int(kg[t, j]), milli[t, j] / 1000))
            world_milli = int(milli[t][milli[t] > 0].sum())
            import_rows.append(
                (period, hs, "WLD", int(kg[t][milli[t] > 0].sum()), world_milli / 1000)
            )
            fob = milli[t, china_column] / (1.0 + JAPAN_CIF_FOB_MARGIN) * mirror_value[t]
            mirror_rows.append(
                (
                    period,
                    hs,
                    int(np.rint(kg[t, china_column] * mirror_weight[t])),
                    float(np.rint(fob)) / 1000,
                )
            )
            planted_rows.append((period, hs, float(china[t]), float(ind_sea[t])))
    return JapanData(
        seed=seed,
        imports=pd.DataFrame(
            import_rows, columns=["period", "hs", "partner", "net_weight_kg", "value_usd"]
        ),
        mirror=pd.DataFrame(mirror_rows, columns=["period", "hs", "net_weight_kg", "value_usd"]),
        planted=pd.DataFrame(
            planted_rows, columns=["period", "hs", "china_share", "ind_sea_share"]
        ),
    )


def _centred_lagged_log(series: pd.Series, months: pd.PeriodIndex) -> np.ndarray:
    """log(series) at t - JAPAN_EFFECT_LAG, centred on its mean over ``months``."""
    values = np.log(series.reindex(months - JAPAN_EFFECT_LAG).to_numpy(dtype=float))
    return values - values.mean()


def _japan_edition(period: pd.Period) -> str:
    edition = JAPAN_HS_EDITIONS[0][1]
    for start, name in JAPAN_HS_EDITIONS:
        if period >= pd.Period(start, "M"):
            edition = name
    return edition


JAPAN_REPORTER = (392, "JPN", "Japan")
CHINA_REPORTER = (156, "CHN", "China")
JAPAN_HS = tuple(p[0] for p in JAPAN_PRODUCTS)


def japan_requests() -> dict[str, dict[str, Any]]:
    """The logical Comtrade requests the Japan vintages answer (without the ``demo`` block).

    ``imports``: Japan (392), every partner, the three HS codes, imports, monthly;
    ``mirror``: China (156), partner Japan, the same codes, exports, monthly.
    """
    common = {
        "api": "comtrade v1 C/M/HS",
        "hs": list(JAPAN_HS),
        "frequency": "M",
        "start": JAPAN_START,
        "end": END,
        "motCode": 0,
        "customsCode": "C00",
        "partner2Code": 0,
    }
    return {
        "imports": {**common, "reporter": 392, "partner": "all", "flow": "M"},
        "mirror": {**common, "reporter": 156, "partner": ["JPN"], "flow": "X"},
    }


def japan_bodies(data: JapanData, which: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """The Comtrade answers of the Japan vintage ``which`` (``imports`` or ``mirror``).

    One body per 12 months (the keyed API's limit), named ``demo_YYYY-MM_YYYY-MM.json``,
    records sorted by month, HS code and partner code; ``imports`` answers hold the World
    row and every partner with trade that month, as the API answers an all-partner call.

    Returns
    -------
    list of (file name, body, query parameters a keyed call would have sent)
    """
    products = {p[0]: p for p in JAPAN_PRODUCTS}
    codes = {iso: (code, desc) for iso, code, desc in JAPAN_PARTNERS} | {"WLD": (0, "World")}
    if which == "imports":
        frame = data.imports
        reporter, flow = JAPAN_REPORTER, "M"
    elif which == "mirror":
        frame = data.mirror.assign(partner="JPN")
        reporter, flow = CHINA_REPORTER, "X"
        codes = {"JPN": (392, "Japan")}
    else:
        raise BadInputError(f"demo: unknown Japan vintage {which!r} (imports or mirror)")
    order = {hs: k for k, hs in enumerate(JAPAN_HS)}
    records: dict[pd.Period, list[tuple[int, int, dict[str, Any]]]] = {}
    for period, hs, iso, kg, usd in zip(
        frame["period"],
        frame["hs"],
        frame["partner"],
        frame["net_weight_kg"],
        frame["value_usd"],
        strict=True,
    ):
        code, desc = codes[str(iso)]
        record = trade_record(
            period,
            reporter=reporter,
            flow=flow,
            partner=(code, "W00" if code == 0 else str(iso), desc),
            hs=products[str(hs)],
            edition=_japan_edition(period),
            kg=int(kg),
            usd=float(usd),
        )
        records.setdefault(period, []).append((order[str(hs)], code, record))
    months = _months(JAPAN_START, END)
    bodies = []
    for first in range(0, len(months), MAX_MONTHS_PER_BODY):
        span = months[first : first + MAX_MONTHS_PER_BODY]
        body = [r for m in span for *_key, r in sorted(records[m], key=lambda e: e[:2])]
        params = {
            "reporterCode": str(reporter[0]),
            "cmdCode": ",".join(JAPAN_HS),
            "flowCode": flow,
            "period": ",".join(f"{m.year:04d}{m.month:02d}" for m in span),
            "motCode": "0",
            "customsCode": "C00",
            "partner2Code": "0",
            "includeDesc": "true",
            "maxRecords": "250000",
        }
        if which == "mirror":
            params["partnerCode"] = "392"
        bodies.append((f"demo_{span[0]}_{span[-1]}.json", _envelope(body), params))
    return bodies


#: Months per Comtrade body (the keyed API's limit of 12 periods per call).
MAX_MONTHS_PER_BODY = 12


# =========================================================================== the store


def demo_request(seed: int, source: str, **request: Any) -> dict[str, Any]:
    """The logical request of a demo vintage: the real request's fields plus a ``demo`` block.

    The ``demo`` block (seed, DGP version, note) makes the request differ from any
    real one, so a fetcher's warm re-run can never mistake a demo vintage for data.
    """
    return {
        **request,
        "demo": {
            "seed": seed,
            "dgp_version": DGP_VERSION,
            "source": source,
            "note": SYNTHETIC_NOTE,
        },
    }


def _write_vintage(
    store: RawStore,
    source: str,
    request: dict[str, Any],
    vintage_id: str,
    files: list[tuple[str, bytes, dict[str, str] | None, str]],
) -> Vintage:
    """Write one synthetic vintage, or return the demo vintage already holding this request."""
    existing = store.find(source, request, synthetic=True)
    if existing is not None:
        log.info("demo: %s/%s already stored", source, existing.id)
        return existing
    with store.writer(source, request, synthetic=True, vintage_id=vintage_id) as writer:
        for name, content, params, content_type in files:
            writer.add(
                name,
                content,
                url=f"synthetic:{vintage_id}",
                params=params,
                status=None,
                content_type=content_type,
                retrieved=DEMO_RETRIEVED,
            )
    assert writer.vintage is not None  # set when the `with` block exits cleanly
    return writer.vintage


def write_demo(seed: int = DEFAULT_SEED, store: RawStore | None = None) -> dict[str, Vintage]:
    """Draw the DGP for ``seed`` and store it as synthetic vintages (``"synthetic": true``).

    Vintages (ids ``demo-<seed>``; the Comtrade by-partner one ``demo-<seed>-partners``):

    * ``gpr``: ``demo_data_gpr_export.xls``;
    * ``comtrade`` (partner ``world``): ``demo_2017-01_2017-12.json`` ... (8 bodies);
    * ``comtrade`` (partner ``all``): the same file names, World plus every destination;
    * ``fred``: ``EXCHUS.csv`` and ``INDPRO.csv`` (the FRED parser takes the series id
      from the file name, so these carry no ``demo_`` prefix; the manifest marks them);
    * ``userseries``: ``demo_china_customs_85051110.csv`` (CN 85051110, world, tonnes).

    A re-run with the same seed returns the vintages already stored (the same
    bytes); nothing is overwritten.

    Parameters
    ----------
    seed
        Seed of the DGP.
    store
        Raw store (default under :func:`reexport.config.raw_dir`).

    Returns
    -------
    dict
        ``gpr``, ``comtrade_world``, ``comtrade_all``, ``fred``, ``userseries`` -> Vintage.
    """
    from reexport.sources import comtrade, fred, gpr
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    data = generate(seed)
    vid = f"demo-{seed}"
    out: dict[str, Vintage] = {}
    out["gpr"] = _write_vintage(
        store,
        gpr.MONTHLY_SOURCE,
        demo_request(seed, "gpr", dataset="gpr", file=gpr.MONTHLY_FILE),
        vid,
        [(f"demo_{gpr.MONTHLY_FILE}", gpr_xls_bytes(data), None, "application/vnd.ms-excel")],
    )
    for partner, suffix in (("world", ""), ("all", "-partners")):
        logical = comtrade.make_request(partner=partner, start=TRADE_START, end=END).logical()
        out[f"comtrade_{partner}"] = _write_vintage(
            store,
            comtrade.SOURCE,
            demo_request(seed, "comtrade", **logical),
            vid + suffix,
            [(n, b, p, "application/json") for n, b, p in comtrade_bodies(data, partner)],
        )
    fred_request = fred.make_request(list(data.fred.columns), TRADE_START, END)
    out["fred"] = _write_vintage(
        store,
        fred.SOURCE,
        demo_request(seed, "fred", **fred_request),
        vid,
        [
            (f"{s}.csv", fred_csv_bytes(data, s), {"id": s}, "text/csv")
            for s in fred_request["series"]
        ],
    )
    out["userseries"] = _write_userseries(store, data, vid)
    return out


def _write_userseries(store: RawStore, data: DemoData, vintage_id: str) -> Vintage:
    """The customs series as ``reexport import-series`` would store it, marked synthetic."""
    import hashlib

    from reexport.sources import userseries

    content = customs_csv_bytes(data)
    spec = userseries.SeriesSpec(name=CHINA_CUSTOMS_SERIES, unit="t", hs=CUSTOMS_HS)
    request = demo_request(
        data.seed, "userseries", **spec.request(hashlib.sha256(content).hexdigest())
    )
    return _write_vintage(
        store,
        userseries.SOURCE,
        request,
        vintage_id,
        [(f"{CHINA_CUSTOMS_SERIES}.csv", content, None, "text/csv")],
    )


def write_japan_demo(seed: int = DEFAULT_SEED, store: RawStore | None = None) -> dict[str, Vintage]:
    """Store the Japan study's synthetic Comtrade vintages for ``seed``.

    * ``comtrade`` ``demo-<seed>-japan``: Japan's (392) monthly imports of HS 280530, 2846
      and 850511 from every partner, with the World row, 2010-01..2024-12 (15 bodies);
    * ``comtrade`` ``demo-<seed>-japan-mirror``: China's (156) reported exports of the same
      codes to Japan (the mirror flow), same months.

    Both carry the demo's marks (flag, ``demo-`` id, ``synthetic:`` URLs, the
    ``"elapsedTime": "SYNTHETIC DEMO"`` envelopes).  ``reexport demo`` does not write
    them (about 7 MB of JSON that the Porcher study does not need); the Japan study's
    offline data step does.  The GPR vintage of the same seed
    (:func:`write_demo`) holds the indices the Japan study joins; a re-run returns
    the stored vintages.

    Returns
    -------
    dict
        ``comtrade_japan``, ``comtrade_japan_mirror`` -> Vintage.
    """
    from reexport.sources import comtrade
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    data = generate_japan(seed)
    requests = japan_requests()
    out: dict[str, Vintage] = {}
    for which, suffix in (("imports", "-japan"), ("mirror", "-japan-mirror")):
        role = "comtrade_japan" if which == "imports" else "comtrade_japan_mirror"
        out[role] = _write_vintage(
            store,
            comtrade.SOURCE,
            demo_request(seed, "comtrade", **requests[which]),
            f"demo-{seed}{suffix}",
            [(n, b, p, "application/json") for n, b, p in japan_bodies(data, which)],
        )
    return out


BANNER_WIDTH = 72


def banner(lines: list[str]) -> str:
    """A box of ``#`` around ``lines``, for messages nobody should miss."""
    width = max(BANNER_WIDTH, *(len(line) + 6 for line in lines))
    rule = "#" * width
    body = [f"## {line:<{width - 6}} ##" for line in lines]
    return "\n".join([rule, *body, rule])
