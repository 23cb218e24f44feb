"""Trade-data quality checks as trade economists run them (layer 3: pure functions).

Everything here reads a tidy trade frame (``docs/ARCHITECTURE.md``: ``period,
reporter, partner, flow, hs, hs_edition, value_usd, net_weight_t, qty, qty_unit,
is_estimated, source, vintage``) and returns plain data; nothing is fixed, dropped
or written.  The checks and their thresholds are documented in
``docs/quality_checks.md``.

* :func:`trade_checks` -- a JSON-able dict of findings: quantities imputed from
  values (a unit value constant across months or across partners), unit-value
  outliers, missing and zero months, partner codes that are areas rather than
  countries, and HS-edition switches.  :func:`finding_lines` renders it as one
  line per finding for a build summary or a report.
* :func:`mirror_flows` / :func:`mirror_summary` -- an exporter's reported exports
  to a partner against that partner's reported imports from it (the CIF/FOB
  ratio), per period and HS code.

The build (``reexport build``) calls these and stores :func:`trade_checks` under
``quality`` in ``build_report.json``; duplicates, negative amounts and unit
changes stay in :func:`reexport.panel.trade_quality`, which this module reuses
for the HS-edition switches.

Unit values are USD per kilogram: ``value_usd / (net_weight_t * 1000)``.  A row
without a positive value and a positive weight has no unit value and is left out
of the unit-value checks (it shows up in the missing/zero check instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.periods import month_range, parse_month

#: Relative spread (max - min) / min under which unit values count as "the same".
#: Two independently measured value/weight pairs (values in dollars, weights in
#: kilograms, both rounded by the reporter) practically never agree to six digits,
#: while quantities computed as value / fixed price agree to float noise (about
#: 1e-9 in the 2017 HS 850511 rows of China).
UV_RELATIVE_TOLERANCE = 1e-6
#: Shortest run of consecutive observed months with one unit value that is flagged.
MIN_CONSTANT_RUN = 3
#: Modified z-score above which a unit value is an outlier (Iglewicz and Hoaglin,
#: "How to Detect and Handle Outliers", ASQC 1993: 0.6745 * (x - median) / MAD > 3.5).
OUTLIER_Z = 3.5
#: 0.6745 is the standard-normal 75th percentile, so 0.6745 / MAD scales the
#: median absolute deviation to a standard deviation under normality.
_MAD_TO_Z = 0.6745
#: Fewest unit values a series needs before outliers are judged.
MIN_OUTLIER_POINTS = 12

#: One trade series: a row key without the period (the same as :data:`reexport.panel.TRADE_SERIES_KEY`;
#: kept here because panel imports this module at load time).
SERIES_KEY = ["reporter", "partner", "flow", "hs", "source", "vintage"]
#: A series across partners: what is compared when partners should differ.
PARTNERLESS_KEY = ["reporter", "flow", "hs", "source", "vintage"]
WORLD = "WLD"


#: CIF/FOB band most bilateral mirror ratios fall in.  The IMF's Direction of Trade
#: Statistics converts between the two with a single CIF/FOB factor of 1.06
#: (Direction of Trade Statistics Yearbook 2017, "Introduction": "A CIF/FOB factor of
#: 1.06 is currently used"); freight and insurance rarely exceed 20 % of value.
CIF_FOB_BAND = (1.0, 1.2)
CIF_FOB_SOURCE = (
    "IMF, Direction of Trade Statistics Yearbook 2017: one CIF/FOB factor of 1.06 "
    "converts exports FOB to partner imports CIF; band 1.0-1.2 = up to 20% freight and insurance"
)

IsGroup = Callable[[str], bool]


# =========================================================================== helpers


def json_value(value: Any) -> Any:
    """A plain Python scalar for JSON (numpy scalars unwrapped; NaN and infinities -> ``None``)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _round(value: float, digits: int = 10) -> float | None:
    """Round for a deterministic, readable JSON (``None`` for NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


def _key_dict(names: Sequence[str], values: Any) -> dict[str, Any]:
    values = values if isinstance(values, tuple) else (values,)
    return {n: json_value(v) for n, v in zip(names, values, strict=True)}


def _check_columns(trade: pd.DataFrame, what: str) -> None:
    # Imported here: panel's build calls this module, so a module-level import
    # would be circular.
    from reexport.panel import TRADE_COLUMNS

    missing = [c for c in TRADE_COLUMNS if c not in trade.columns]
    if missing:
        raise BadInputError(f"{what}: the trade frame has no column(s) {', '.join(missing)}")


def _is_annual(period: str) -> bool:
    return len(period) == 4 and period.isdigit()


def _periods_between(first: str, last: str) -> list[str]:
    """Every period ``first..last``: years for ``YYYY``, months for ``YYYY-MM``."""
    if _is_annual(first) and _is_annual(last):
        return [str(y) for y in range(int(first), int(last) + 1)]
    if _is_annual(first) or _is_annual(last):
        raise BadInputError(f"window {first}..{last} mixes a year and a month")
    return [str(m) for m in month_range(parse_month(first), parse_month(last))]


def unit_values(trade: pd.DataFrame) -> pd.Series:
    """USD per kg of each row; NaN where value or weight is missing, zero or negative."""
    value = pd.to_numeric(trade["value_usd"], errors="coerce")
    weight = pd.to_numeric(trade["net_weight_t"], errors="coerce") * 1000.0
    ok = (value > 0) & (weight > 0)
    return (value / weight).where(ok)


def fallback_is_group(code: str) -> bool:
    """The partner codes known to be areas without a reference table.

    ``WLD`` (the tidy frame's World; Comtrade ``0`` / ``W00``) and any code that is
    not three letters: the Comtrade parser keeps the numeric code of an area it has
    no ISO3 label for (``899`` "Areas, nes", ``97`` EU ...), and Comtrade labels
    areas with codes such as ``_X`` or ``X1``.  Letter codes of areas (``EUR``...)
    need the official table: pass ``reexport.sources.areas.is_group``.
    """
    text = str(code).strip().upper()
    return text in (WORLD, "W00") or not (len(text) == 3 and text.isalpha())


def reference_is_group(code: str) -> bool:
    """Whether a partner code is an area in Comtrade's reference table (the default).

    :func:`reexport.sources.areas.is_group` (World, "nes" areas, EU, ASEAN, bunkers
    ...); a code the table does not know (a bloc label such as ``"Adversary"`` in a
    third party's aggregates) falls back to :func:`fallback_is_group`.
    """
    from reexport.errors import BadInputError
    from reexport.sources import areas

    try:
        areas.lookup(str(code), role="partner")
    except BadInputError:
        return fallback_is_group(code)
    return areas.is_group(str(code))


# =========================================================================== imputed quantities


def _constant(values: np.ndarray, tolerance: float) -> bool:
    """Whether ``values`` (all positive) agree: (max - min) <= ``tolerance`` * min."""
    low = float(values.min())
    return float(values.max()) - low <= tolerance * low


def _constant_runs(values: np.ndarray, tolerance: float, min_run: int) -> list[tuple[int, int]]:
    """Maximal runs ``[start, stop)`` of consecutive observations with one unit value.

    One pass keeping the run's minimum and maximum (what :func:`_constant` compares).
    """
    numbers = values.tolist()
    runs = []
    start = 0
    low = high = numbers[0] if numbers else 0.0
    for stop in range(1, len(numbers) + 1):
        if stop < len(numbers):
            value = numbers[stop]
            new_low, new_high = min(low, value), max(high, value)
            if new_high - new_low <= tolerance * new_low:
                low, high = new_low, new_high
                continue
            low = high = value
        if stop - start >= min_run:
            runs.append((start, stop))
        start = stop
    return runs


def constant_across_months(
    trade: pd.DataFrame,
    *,
    tolerance: float = UV_RELATIVE_TOLERANCE,
    min_run: int = MIN_CONSTANT_RUN,
) -> list[dict[str, Any]]:
    """Runs of months in which one series has the same unit value (quantities imputed).

    A statistical office that lacks quantities often imputes them as value divided
    by a fixed unit value; the weights then move in lock-step with the values and
    every month of the run has the same unit value.

    Returns
    -------
    list of dict
        One finding per run of at least ``min_run`` consecutive observed periods:
        ``series``, ``first``, ``last``, ``periods``, ``unit_value_usd_per_kg``
        (the run's median), ``relative_spread`` and ``estimated_rows`` (rows of
        the run carrying Comtrade's is-estimated flag).
    """
    frame = trade.assign(_uv=unit_values(trade)).dropna(subset=["_uv"])
    findings = []
    for key, rows in frame.groupby(SERIES_KEY, sort=True):
        # An exact repeat of a row (kept by the parser, reported by the build) is one month.
        rows = rows.drop_duplicates(["period", "_uv"]).sort_values("period", kind="mergesort")
        periods = rows["period"].astype(str).tolist()
        values = rows["_uv"].to_numpy(dtype=float)
        estimated = rows["is_estimated"].fillna(False).astype(bool).to_numpy()
        for start, stop in _constant_runs(values, tolerance, min_run):
            run = values[start:stop]
            median = float(np.median(run))
            findings.append(
                {
                    "check": "constant_unit_value_across_months",
                    "series": _key_dict(SERIES_KEY, key),
                    "first": periods[start],
                    "last": periods[stop - 1],
                    "periods": periods[start:stop],
                    "unit_value_usd_per_kg": _round(median),
                    "relative_spread": _round((run.max() - run.min()) / run.min(), 3),
                    "estimated_rows": int(estimated[start:stop].sum()),
                }
            )
    return findings


def constant_across_partners(
    trade: pd.DataFrame,
    *,
    is_group: IsGroup = fallback_is_group,
    tolerance: float = UV_RELATIVE_TOLERANCE,
) -> list[dict[str, Any]]:
    """Periods in which every partner of a reporter's series has the same unit value.

    Different destinations buy different grades at different prices, so equal
    unit values across partners mean the quantities were derived from the values.
    Areas (``is_group``: World and other aggregates) are left out, since an area
    holding a single partner would match it trivially; at least two partners
    with a unit value are needed.

    Returns
    -------
    list of dict
        One finding per reporter/flow/HS series that has such periods:
        ``series``, ``periods``, ``partners`` (those compared), and
        ``unit_value_usd_per_kg`` per period.
    """
    countries = trade.loc[~trade["partner"].astype(str).map(is_group).astype(bool)]
    frame = countries.assign(_uv=unit_values(countries)).dropna(subset=["_uv"])
    findings = []
    for key, rows in frame.groupby(PARTNERLESS_KEY, sort=True):
        flagged: dict[str, float] = {}
        partners: set[str] = set()
        for period, month in rows.groupby("period", sort=True):
            values = month["_uv"].to_numpy(dtype=float)
            if month["partner"].nunique() >= 2 and _constant(values, tolerance):
                flagged[str(period)] = float(np.median(values))
                partners.update(month["partner"].astype(str))
        if flagged:
            findings.append(
                {
                    "check": "constant_unit_value_across_partners",
                    "series": _key_dict(PARTNERLESS_KEY, key),
                    "periods": sorted(flagged),
                    "partners": sorted(partners),
                    "unit_value_usd_per_kg": {p: _round(v) for p, v in sorted(flagged.items())},
                }
            )
    return findings


# =========================================================================== outliers


def unit_value_outliers(
    trade: pd.DataFrame, *, z: float = OUTLIER_Z, min_points: int = MIN_OUTLIER_POINTS
) -> list[dict[str, Any]]:
    """Months whose log unit value lies far from the series' median (modified z-score).

    Per series, ``m = 0.6745 * (log uv - median) / MAD`` with MAD the median
    absolute deviation of log uv; a month is an outlier when ``|m| > z``.  Series
    with fewer than ``min_points`` unit values, or a MAD of zero (a constant unit
    value, reported by :func:`constant_across_months` instead), are not judged.

    Returns
    -------
    list of dict
        One finding per outlying month: ``series``, ``period``,
        ``unit_value_usd_per_kg``, ``median_usd_per_kg`` (the series' median unit
        value), ``modified_z``.
    """
    frame = trade.assign(_uv=unit_values(trade)).dropna(subset=["_uv"])
    findings = []
    for key, rows in frame.groupby(SERIES_KEY, sort=True):
        if len(rows) < min_points:
            continue
        logs = np.log(rows["_uv"].to_numpy(dtype=float))
        median = float(np.median(logs))
        mad = float(np.median(np.abs(logs - median)))
        if mad == 0.0:
            continue
        scores = _MAD_TO_Z * (logs - median) / mad
        order = np.argsort(rows["period"].astype(str).to_numpy(), kind="mergesort")
        periods = rows["period"].astype(str).to_numpy()
        for i in order:
            if abs(scores[i]) > z:
                findings.append(
                    {
                        "check": "unit_value_outlier",
                        "series": _key_dict(SERIES_KEY, key),
                        "period": str(periods[i]),
                        "unit_value_usd_per_kg": _round(float(np.exp(logs[i]))),
                        "median_usd_per_kg": _round(math.exp(median)),
                        "modified_z": _round(float(scores[i]), 4),
                    }
                )
    return findings


# =========================================================================== coverage


def missing_and_zero(trade: pd.DataFrame, window: tuple[str, str]) -> list[dict[str, Any]]:
    """Per series, the periods of ``window`` without a value, with a zero value, or without weight.

    Comtrade lists only nonzero flows, so in a by-partner pull a missing month may
    be a zero flow; a missing World month is a month not reported.

    Returns
    -------
    list of dict
        One finding per series with any gap: ``series``, ``window``,
        ``expected`` (periods in the window), ``missing`` (no row, or no value),
        ``zero_value`` (a value of 0) and ``no_weight`` (a positive value without
        a positive weight: the quantity is missing).
    """
    expected = _periods_between(*window)
    findings = []
    for key, rows in trade.groupby(SERIES_KEY, sort=True):
        value = pd.to_numeric(rows["value_usd"], errors="coerce")
        weight = pd.to_numeric(rows["net_weight_t"], errors="coerce")
        periods = rows["period"].astype(str)
        valued = set(periods[value.notna()])
        zero = sorted(set(periods[value == 0]))
        no_weight = sorted(set(periods[(value > 0) & ~(weight > 0)]))
        missing = [p for p in expected if p not in valued]
        if missing or zero or no_weight:
            findings.append(
                {
                    "check": "missing_and_zero",
                    "series": _key_dict(SERIES_KEY, key),
                    "window": list(window),
                    "expected": len(expected),
                    "missing": missing,
                    "zero_value": zero,
                    "no_weight": no_weight,
                }
            )
    return findings


def area_partners(trade: pd.DataFrame, is_group: IsGroup) -> list[dict[str, Any]]:
    """Partner codes that are areas (World, regions, "Areas, nes"), not countries.

    Returns
    -------
    list of dict
        One finding per area code: ``partner``, ``rows``, ``first``, ``last``,
        ``value_usd`` (summed over its rows).
    """
    findings = []
    for partner, rows in trade.groupby("partner", sort=True):
        if not is_group(str(partner)):
            continue
        periods = rows["period"].astype(str)
        findings.append(
            {
                "check": "area_partner",
                "partner": str(partner),
                "rows": int(len(rows)),
                "first": periods.min(),
                "last": periods.max(),
                "value_usd": _round(float(pd.to_numeric(rows["value_usd"]).sum()), 15),
            }
        )
    return findings


def hs_editions(trade: pd.DataFrame) -> list[dict[str, Any]]:
    """The HS editions of each reporter/flow/HS series and the months it switches.

    The switches (and months that mix editions) are those of
    :func:`reexport.panel.trade_quality`; this adds each edition's span.  Only
    series with more than one edition are listed.

    Returns
    -------
    list of dict
        ``series``, ``editions`` (``edition``, ``first``, ``last``, ``periods`` in
        order of first use), ``switches`` (``period``, ``from``, ``to``) and
        ``mixed_periods`` (periods reported in two editions at once).
    """
    from reexport.panel import trade_quality  # here, as in _check_columns

    edition_key = ["reporter", "flow", "hs", "source", "vintage"]
    labelled = trade.loc[trade["hs_edition"].fillna("").astype(str) != ""]
    if labelled.empty:
        return []
    # trade_quality needs only one row per series, month and edition (its other
    # checks then find nothing): this keeps it fast on an all-partner pull.
    labels = labelled.drop_duplicates([*edition_key, "period", "hs_edition"]).assign(
        partner="", qty_unit="", value_usd=0.0, net_weight_t=0.0, qty=0.0
    )
    switches: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for change in trade_quality(labels).hs_edition_changes:
        series = tuple(change["series"][k] for k in edition_key)
        switches.setdefault(series, []).append(change)
    findings = []
    for key, rows in labelled.groupby(edition_key, sort=True):
        spans = (
            rows.assign(period=rows["period"].astype(str))
            .groupby("hs_edition")["period"]
            .agg(["min", "max", "nunique"])
            .sort_values(["min", "max"], kind="mergesort")
        )
        if len(spans) < 2:
            continue
        changes = switches.get(tuple(json_value(v) for v in key), [])
        findings.append(
            {
                "check": "hs_edition_change",
                "series": _key_dict(edition_key, key),
                "editions": [
                    {
                        "edition": str(e),
                        "first": s["min"],
                        "last": s["max"],
                        "periods": int(s["nunique"]),
                    }
                    for e, s in spans.iterrows()
                ],
                "switches": [
                    {"period": c["period"], "from": c["from"], "to": c["to"]}
                    for c in changes
                    if not c["mixed"]
                ],
                "mixed_periods": sorted(c["period"] for c in changes if c["mixed"]),
            }
        )
    return findings


# =========================================================================== all checks

_CHECKS = ("across_months", "across_partners", "outliers", "coverage", "editions")


def _window_for(window: tuple[str, str], freq: str) -> tuple[str, str]:
    """``window`` in the periods of ``freq``: years for annual rows, months for monthly."""
    first, last = window
    if freq == "A":
        return first[:4], last[:4]
    return (
        first if not _is_annual(first) else f"{first}-01",
        last if not _is_annual(last) else f"{last}-12",
    )


def trade_checks(
    trade: pd.DataFrame,
    *,
    window: tuple[str, str] | None = None,
    is_group: IsGroup | None = None,
    tolerance: float = UV_RELATIVE_TOLERANCE,
    outlier_z: float = OUTLIER_Z,
) -> dict[str, Any]:
    """Every trade-data quality check on a tidy trade frame, as a JSON-able dict.

    Parameters
    ----------
    trade
        Tidy trade frame (monthly ``YYYY-MM`` or annual ``YYYY`` periods).
    window
        ``(first, last)`` period: only rows in it are checked, and the
        missing/zero check expects every period of it.  Default: the frame's
        first to last period.
    is_group
        Whether a partner code is an area rather than a country; pass
        ``reexport.sources.areas.is_group`` (Comtrade's official table).  Default:
        :func:`reference_is_group` (that table, and :func:`fallback_is_group` for
        codes it does not know).
    tolerance
        Relative spread under which unit values are equal (:data:`UV_RELATIVE_TOLERANCE`).
    outlier_z
        Modified z-score threshold of the unit-value outliers (:data:`OUTLIER_Z`).

    Returns
    -------
    dict
        ``settings`` (window, thresholds, which area classifier), ``counts``
        (findings per check) and one list per check: ``imputed_quantities``
        (``across_months``, ``across_partners``), ``unit_value_outliers``,
        ``missing_and_zero``, ``area_partners``, ``hs_editions``.  Lists are in
        series/period order, so equal frames give equal dicts.

    Raises
    ------
    BadInputError
        For a frame without the tidy columns, or a window whose end precedes its start.
    """
    _check_columns(trade, "quality checks")
    classifier = is_group if is_group is not None else reference_is_group
    frame = trade.assign(period=trade["period"].astype(str))
    if window is not None:
        first, last = str(window[0]), str(window[1])
        if _is_annual(first) == _is_annual(last) and first > last:
            raise BadInputError(f"quality window {first}..{last}: the end precedes the start")
        _periods_between(first, last)  # a malformed window: one line, exit 2
        window = (first, last)
    # Monthly and annual rows are checked apart: a year is not a month of its series.
    annual = frame["period"].map(_is_annual).astype(bool)
    windows: dict[str, list[str]] = {}
    checked: list[pd.DataFrame] = []
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in _CHECKS}
    for freq, part in (("M", frame.loc[~annual]), ("A", frame.loc[annual])):
        if part.empty:
            continue
        if window is not None:
            bounds = _window_for(window, freq)
            part = part.loc[(part["period"] >= bounds[0]) & (part["period"] <= bounds[1])]
        else:
            bounds = (part["period"].min(), part["period"].max())
        windows[freq] = list(bounds)
        checked.append(part)
        found["across_months"] += constant_across_months(part, tolerance=tolerance)
        found["across_partners"] += constant_across_partners(
            part, is_group=classifier, tolerance=tolerance
        )
        found["outliers"] += unit_value_outliers(part, z=outlier_z)
        found["coverage"] += missing_and_zero(part, bounds)
        found["editions"] += hs_editions(part)
    across_months, across_partners = found["across_months"], found["across_partners"]
    outliers, coverage, editions = found["outliers"], found["coverage"], found["editions"]
    in_window = pd.concat(checked) if checked else frame.iloc[0:0]
    areas = area_partners(in_window, classifier)
    return {
        "settings": {
            "window": windows.get("M", windows.get("A")),
            "annual_window": windows.get("A") if "M" in windows else None,
            "rows": int(len(in_window)),
            "unit_value": "value_usd / (net_weight_t * 1000), USD per kg",
            "uv_relative_tolerance": tolerance,
            "min_constant_run": MIN_CONSTANT_RUN,
            "outlier_rule": f"|0.6745 * (log uv - median) / MAD| > {outlier_z} "
            f"(Iglewicz-Hoaglin), series with >= {MIN_OUTLIER_POINTS} unit values",
            "area_classifier": "caller" if is_group is not None else "comtrade reference table",
        },
        "counts": {
            "constant_unit_value_across_months": len(across_months),
            "constant_unit_value_across_partners": len(across_partners),
            "unit_value_outliers": len(outliers),
            "series_with_gaps": len(coverage),
            "area_partners": len(areas),
            "hs_edition_changes": len(editions),
        },
        "imputed_quantities": {"across_months": across_months, "across_partners": across_partners},
        "unit_value_outliers": outliers,
        "missing_and_zero": coverage,
        "area_partners": areas,
        "hs_editions": editions,
    }


def _series_text(series: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in series.items() if v not in ("", None))


def _span(periods: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(periods[:limit])
    return shown + (f" ... ({len(periods)} in all)" if len(periods) > limit else "")


def finding_lines(checks: Mapping[str, Any]) -> list[str]:
    """One human-readable line per finding of :func:`trade_checks`, in its order."""
    lines = []
    imputed = checks["imputed_quantities"]
    for f in imputed["across_months"]:
        lines.append(
            f"quantities look imputed: unit value {f['unit_value_usd_per_kg']} USD/kg in every "
            f"month {f['first']}..{f['last']} ({len(f['periods'])} months): {_series_text(f['series'])}"
        )
    for f in imputed["across_partners"]:
        lines.append(
            f"quantities look imputed: one unit value across {len(f['partners'])} partners in "
            f"{_span(f['periods'])}: {_series_text(f['series'])}"
        )
    for f in checks["unit_value_outliers"]:
        lines.append(
            f"unit-value outlier {f['period']}: {f['unit_value_usd_per_kg']} USD/kg against a "
            f"median {f['median_usd_per_kg']} (modified z {f['modified_z']}): "
            f"{_series_text(f['series'])}"
        )
    for f in checks["missing_and_zero"]:
        parts = [
            f"{label} {_span(f[name])}"
            for name, label in (
                ("missing", "missing"),
                ("zero_value", "zero"),
                ("no_weight", "no weight"),
            )
            if f[name]
        ]
        lines.append(f"{'; '.join(parts)}: {_series_text(f['series'])}")
    for f in checks["area_partners"]:
        lines.append(
            f"partner {f['partner']} is an area, not a country ({f['rows']} rows, "
            f"{f['first']}..{f['last']})"
        )
    for f in checks["hs_editions"]:
        steps = " -> ".join(e["edition"] for e in f["editions"])
        when = ", ".join(f"{s['period']} ({s['from']}->{s['to']})" for s in f["switches"])
        lines.append(f"HS editions {steps} switching {when}: {_series_text(f['series'])}")
    return lines


# =========================================================================== mirror flows

MIRROR_COLUMNS = [
    "period",
    "hs",
    "value_fob",
    "value_cif",
    "ratio_cif_fob",
    "weight_exporter_t",
    "weight_importer_t",
    "sides",
]


def _one_side(
    trade: pd.DataFrame, *, reporter: str, partner: str, flow: str, hs: Sequence[str] | None
) -> pd.DataFrame:
    rows = trade.loc[
        (trade["reporter"] == reporter) & (trade["partner"] == partner) & (trade["flow"] == flow)
    ]
    if hs is not None:
        rows = rows.loc[rows["hs"].astype(str).isin([str(h) for h in hs])]
    rows = rows.assign(period=rows["period"].astype(str), hs=rows["hs"].astype(str))
    distinct = rows[["period", "hs", "value_usd", "net_weight_t"]].drop_duplicates()
    clash = distinct.duplicated(["period", "hs"], keep=False)
    if clash.any():
        first = distinct.loc[clash].iloc[0]
        raise BadInputError(
            f"mirror flows: {reporter} reports flow {flow} to {partner} of HS {first['hs']} in "
            f"{first['period']} more than once with different values; pick one vintage first"
        )
    return distinct.drop_duplicates(["period", "hs"])


def mirror_flows(
    trade: pd.DataFrame, *, exporter: str, importer: str, hs: Sequence[str] | None = None
) -> pd.DataFrame:
    """The exporter's reported exports to the importer against the importer's reported imports.

    Exports are valued free on board (FOB) at the exporter's border, imports at
    cost, insurance and freight (CIF) at the importer's, so the CIF/FOB ratio of a
    well-measured flow is a little above 1 (:data:`CIF_FOB_BAND`).

    Parameters
    ----------
    trade
        Tidy trade frame holding both sides: flow ``X`` with reporter ``exporter``
        and partner ``importer``; flow ``M`` with reporter ``importer`` and partner
        ``exporter`` (one vintage of each: differing duplicates are refused).
    exporter, importer
        ISO3 codes as in the frame.
    hs
        HS codes to compare (default: every code either side reports).

    Returns
    -------
    pandas.DataFrame
        :data:`MIRROR_COLUMNS`, one row per (period, hs) either side reports, sorted
        by hs and period: ``value_fob`` (exporter's value), ``value_cif``
        (importer's), ``ratio_cif_fob`` (NaN unless both are positive),
        ``weight_exporter_t``, ``weight_importer_t`` and ``sides`` (``both``,
        ``exporter`` or ``importer``: who reported the month).

    Raises
    ------
    BadInputError
        For a frame without the tidy columns, or ``exporter == importer``.
    """
    _check_columns(trade, "mirror flows")
    if exporter == importer:
        raise BadInputError(f"mirror flows: exporter and importer are both {exporter}")
    exports = _one_side(trade, reporter=exporter, partner=importer, flow="X", hs=hs)
    imports = _one_side(trade, reporter=importer, partner=exporter, flow="M", hs=hs)
    merged = exports.merge(
        imports, on=["period", "hs"], how="outer", suffixes=("_x", "_m"), indicator=True
    )
    fob = pd.to_numeric(merged["value_usd_x"], errors="coerce")
    cif = pd.to_numeric(merged["value_usd_m"], errors="coerce")
    out = pd.DataFrame(
        {
            "period": merged["period"],
            "hs": merged["hs"],
            "value_fob": fob,
            "value_cif": cif,
            "ratio_cif_fob": (cif / fob).where((fob > 0) & (cif > 0)),
            "weight_exporter_t": pd.to_numeric(merged["net_weight_t_x"], errors="coerce"),
            "weight_importer_t": pd.to_numeric(merged["net_weight_t_m"], errors="coerce"),
            "sides": merged["_merge"]
            .map({"both": "both", "left_only": "exporter", "right_only": "importer"})
            .astype(object),
        }
    )
    out = out.sort_values(["hs", "period"], kind="mergesort").reset_index(drop=True)
    out.attrs.update(exporter=exporter, importer=importer)
    return out[MIRROR_COLUMNS]


def _mirror_stats(frame: pd.DataFrame, band: tuple[float, float]) -> dict[str, Any]:
    ratios = frame["ratio_cif_fob"].dropna().to_numpy(dtype=float)
    # Weights are not valued CIF or FOB: the two sides should report the same tonnes.
    exported, imported = frame["weight_exporter_t"], frame["weight_importer_t"]
    weights = (imported / exported).where((exported > 0) & (imported > 0)).dropna().to_numpy()
    low, high = band
    in_band = int(((ratios >= low) & (ratios <= high)).sum())
    return {
        "periods": int(len(frame)),
        "both_sides": int((frame["sides"] == "both").sum()),
        "with_ratio": int(len(ratios)),
        "median_ratio": _round(float(np.median(ratios))) if len(ratios) else None,
        "share_in_band": _round(in_band / len(ratios)) if len(ratios) else None,
        "below_band": int((ratios < low).sum()),
        "above_band": int((ratios > high).sum()),
        "median_weight_ratio": _round(float(np.median(weights))) if len(weights) else None,
        "exporter_only": sorted(frame.loc[frame["sides"] == "exporter", "period"].astype(str)),
        "importer_only": sorted(frame.loc[frame["sides"] == "importer", "period"].astype(str)),
    }


def mirror_summary(
    frame: pd.DataFrame, *, band: tuple[float, float] = CIF_FOB_BAND
) -> dict[str, Any]:
    """Summary of a :func:`mirror_flows` frame: overall and per HS code.

    Parameters
    ----------
    frame
        Output of :func:`mirror_flows`.
    band
        ``(low, high)`` CIF/FOB ratios counted as the usual freight-and-insurance
        margin (inclusive; default :data:`CIF_FOB_BAND`).

    Returns
    -------
    dict
        ``exporter``, ``importer``, ``band``, ``band_source`` and, overall and in
        ``by_hs``: ``periods``, ``both_sides``, ``with_ratio`` (both values
        positive), ``median_ratio``, ``share_in_band``, ``below_band``,
        ``above_band``, ``median_weight_ratio`` (importer's tonnes over the
        exporter's, where both are positive), ``exporter_only`` and ``importer_only`` (periods one side
        alone reports).
    """
    missing = [c for c in MIRROR_COLUMNS if c not in frame.columns]
    if missing:
        raise BadInputError(f"mirror summary: not a mirror_flows frame (no {', '.join(missing)})")
    low, high = float(band[0]), float(band[1])
    if not 0 < low <= high:
        raise BadInputError(f"mirror summary: band {low}..{high} is not 0 < low <= high")
    overall = _mirror_stats(frame, (low, high))
    del overall["exporter_only"], overall["importer_only"]
    return {
        "exporter": frame.attrs.get("exporter"),
        "importer": frame.attrs.get("importer"),
        "band": [low, high],
        "band_source": CIF_FOB_SOURCE,
        **overall,
        "by_hs": {
            str(code): _mirror_stats(rows, (low, high))
            for code, rows in frame.groupby("hs", sort=True)
        },
    }
