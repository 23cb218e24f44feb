"""Processed data: tidy tables and study frames built from raw vintages (``reexport build``).

Two layers:

* pure functions from tidy frames (the ``parse()`` output of the source modules) to
  processed frames plus a quality report -- :func:`combine_trade`,
  :func:`combine_indices`, :func:`trade_quality`, :func:`index_quality`,
  :func:`study_world`, :func:`study_destination`; and
* :func:`build`, which picks the vintages (:func:`select_inputs`), parses them,
  calls the pure functions and writes ``<data_root>/processed/`` atomically.

Time is handled by period, never by row order.  Study frames have one row for
every month of the study range; a month without data stays in the frame with
NaN values and is listed in the report.  Duplicates, negative quantities,
unit changes and HS-edition changes are detected and reported; they are not
silently fixed (a month whose duplicate rows disagree gets NaN, since no
single value is right).  No lag is computed here: lags belong to the models.

Destination flows: Comtrade lists only nonzero flows, so a partner absent from
a month that the reporter did report (its world row exists) traded zero that
month; the study frame says 0 and the report counts these implied zeros.  In a
month the reporter did not report at all, every partner is NaN (missing).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from reexport import __version__, config
from reexport.errors import BadInputError
from reexport.periods import Month, month_range, parse_month

if TYPE_CHECKING:
    from reexport.store import RawStore, Vintage

log = logging.getLogger("reexport.panel")

VintageKind = Literal["auto", "real", "demo"]
#: ``share``: GPRC_* as published (percent of articles); ``index``: 1985-2019 mean = 100.
CountryScale = Literal["share", "index"]
COUNTRY_SCALES = ("share", "index")

TRADE_COLUMNS = [
    "period",
    "reporter",
    "partner",
    "flow",
    "hs",
    "hs_edition",
    "value_usd",
    "net_weight_t",
    "qty",
    "qty_unit",
    "is_estimated",
    "source",
    "vintage",
]
INDEX_COLUMNS = ["period", "series", "value", "unit", "source", "vintage"]
#: A trade row's identity: two rows with the same key are duplicates.
TRADE_KEY = ["period", "reporter", "partner", "flow", "hs", "source", "vintage"]
#: One trade *series* (a row key without the period).
TRADE_SERIES_KEY = ["reporter", "partner", "flow", "hs", "source", "vintage"]
INDEX_KEY = ["period", "series", "source", "vintage"]

WORLD = "WLD"
#: Aggregate GPR series carried into the study frames, then every ``GPRC_*``.
GPR_SERIES = ("GPR", "GPRT", "GPRA")
CONTROL_SERIES = ("EXCHUS", "INDPRO")
COMTRADE_EXPORT_SERIES = "comtrade_850511"
CUSTOMS_HS = "85051110"
COMTRADE_HS = "850511"

#: Last column of every processed CSV: True in a build from the synthetic demo vintage.
SYNTHETIC_COLUMN = "synthetic"

#: Floats in processed CSVs: 12 significant digits, so a build is byte-identical.
FLOAT_FORMAT = "%.12g"

_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")
_GPRC_RE = re.compile(r"^GPRC_([A-Z]{3})$")


# =========================================================================== tidy tables


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def combine_trade(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack tidy trade frames into one typed frame sorted by key (no row added or lost).

    Parameters
    ----------
    frames
        Tidy trade frames (``TRADE_COLUMNS``; see docs/ARCHITECTURE.md).

    Returns
    -------
    pandas.DataFrame
        Exactly ``TRADE_COLUMNS``: strings for codes, floats for amounts, bool
        ``is_estimated``; sorted by ``TRADE_KEY`` then the amounts (stable).

    Raises
    ------
    BadInputError
        If a frame lacks a column or holds a period that is not a month.
    """
    pieces = []
    for frame in frames:
        missing = [c for c in TRADE_COLUMNS if c not in frame.columns]
        if missing:
            raise BadInputError(f"tidy trade frame lacks column(s) {', '.join(missing)}")
        pieces.append(frame[TRADE_COLUMNS])
    out = pd.concat(pieces, ignore_index=True) if pieces else _empty(TRADE_COLUMNS)
    out["period"] = _normalise_periods(out["period"], "trade frame")
    for column in ("reporter", "partner", "flow", "hs", "hs_edition", "qty_unit", "source"):
        out[column] = out[column].fillna("").astype(str)
    out["vintage"] = out["vintage"].fillna("").astype(str)
    for column in ("value_usd", "net_weight_t", "qty"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["is_estimated"] = out["is_estimated"].fillna(False).astype(bool)
    out = out.sort_values(
        [*TRADE_KEY, "net_weight_t", "value_usd", "qty", "qty_unit", "hs_edition"],
        kind="mergesort",
        na_position="last",
    )
    return out.reset_index(drop=True)[TRADE_COLUMNS]


def combine_indices(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack tidy index frames into one typed frame sorted by key (no row added or lost).

    Parameters
    ----------
    frames
        Tidy index frames (``INDEX_COLUMNS``).

    Returns
    -------
    pandas.DataFrame
        Exactly ``INDEX_COLUMNS``, float ``value``, sorted by source, series, period.
    """
    pieces = []
    for frame in frames:
        missing = [c for c in INDEX_COLUMNS if c not in frame.columns]
        if missing:
            raise BadInputError(f"tidy index frame lacks column(s) {', '.join(missing)}")
        pieces.append(frame[INDEX_COLUMNS])
    out = pd.concat(pieces, ignore_index=True) if pieces else _empty(INDEX_COLUMNS)
    out["period"] = _normalise_periods(out["period"], "index frame")
    for column in ("series", "unit", "source", "vintage"):
        out[column] = out[column].fillna("").astype(str)
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    out = out.sort_values(
        ["source", "vintage", "series", "period", "value", "unit"],
        kind="mergesort",
        na_position="last",
    )
    return out.reset_index(drop=True)[INDEX_COLUMNS]


def _normalise_periods(values: pd.Series, what: str) -> pd.Series:
    """Every period as ``YYYY-MM`` (BadInputError naming the first bad one)."""
    cache: dict[object, str] = {}
    out = []
    for value in values.tolist():
        if value not in cache:
            cache[value] = str(parse_month(value, what=f"{what} period"))
        out.append(cache[value])
    return pd.Series(out, index=values.index, dtype=object)


def full_months(start: str | Month, end: str | Month) -> list[str]:
    """Every month ``start..end`` inclusive as ``YYYY-MM`` strings."""
    return [str(m) for m in month_range(parse_month(start), parse_month(end))]


# =========================================================================== quality


@dataclass
class QualityReport:
    """What the builder found wrong or notable in its inputs (nothing here is 'fixed').

    Attributes
    ----------
    missing_months
        Label (``exports``, ``GPR``, ``EXCHUS``, ``destination``...) -> months of the
        study range with no value.
    duplicates
        One entry per duplicated key: the key, the row count, whether the values conflict
        and the ``resolution`` (what the build did about it).
    negative_quantities
        Trade rows with a negative weight, quantity or value.
    unit_changes
        Series whose unit changes between consecutive months (trade ``qty_unit`` or index unit).
    hs_edition_changes
        Reporter/flow/commodity series whose HS edition changes, or is mixed within a month.
    dropped_partners
        Destination partners without a ``GPRC_`` series (rows dropped from the study frame).
    non_country_partners
        Partner codes that are not ISO3 countries (aggregates), left out of the destination frame.
    implied_zero_flows
        (partner, month) cells set to 0 because the reporter reported that month without them.
    """

    missing_months: dict[str, list[str]] = field(default_factory=dict)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    negative_quantities: list[dict[str, Any]] = field(default_factory=list)
    unit_changes: list[dict[str, Any]] = field(default_factory=list)
    hs_edition_changes: list[dict[str, Any]] = field(default_factory=list)
    dropped_partners: list[str] = field(default_factory=list)
    non_country_partners: list[str] = field(default_factory=list)
    implied_zero_flows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (keys in a fixed order)."""
        return {
            "missing_months": {k: self.missing_months[k] for k in sorted(self.missing_months)},
            "duplicates": self.duplicates,
            "negative_quantities": self.negative_quantities,
            "unit_changes": self.unit_changes,
            "hs_edition_changes": self.hs_edition_changes,
            "dropped_partners": self.dropped_partners,
            "non_country_partners": self.non_country_partners,
            "implied_zero_flows": self.implied_zero_flows,
        }

    def problems(self) -> list[str]:
        """One human-readable line per finding, for the build summary."""
        lines = []
        for label, months in sorted(self.missing_months.items()):
            if months:
                lines.append(f"missing months in {label}: {_month_list(months)}")
        for dup in self.duplicates:
            what = "conflicting" if dup["conflicting"] else "identical"
            lines.append(
                f"duplicate rows ({dup['rows']}, {what}): {_describe_key(dup['key'])} "
                f"-- {dup['resolution']}"
            )
        for neg in self.negative_quantities:
            lines.append(f"negative {neg['column']} {neg['value']}: {_describe_key(neg['key'])}")
        for change in self.unit_changes:
            lines.append(
                f"unit change {change['from']!r} -> {change['to']!r} in {change['period']}: "
                f"{_describe_key(change['series'])}"
            )
        for change in self.hs_edition_changes:
            lines.append(
                f"HS edition {change['from']} -> {change['to']} in {change['period']}: "
                f"{_describe_key(change['series'])}"
            )
        if self.dropped_partners:
            lines.append(
                "destinations without a GPRC_ series (dropped): " + ", ".join(self.dropped_partners)
            )
        if self.non_country_partners:
            lines.append(
                "non-country partner codes left out: " + ", ".join(self.non_country_partners)
            )
        return lines


def _month_list(months: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(months[:limit])
    more = f" ... ({len(months)} in all)" if len(months) > limit else ""
    return shown + more


def _describe_key(key: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in key.items() if v not in ("", None))


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


RESOLUTION_IDENTICAL = "all rows kept in the tidy table; the study frames use their one value"
RESOLUTION_CONFLICTING = "all rows kept in the tidy table; the study frames leave the cell NaN"


def _duplicates(
    frame: pd.DataFrame, key: Sequence[str], values: Sequence[str]
) -> list[dict[str, Any]]:
    """One finding per ``key`` that has more than one row, in key order.

    ``conflicting`` says whether those rows disagree on any of ``values``;
    ``resolution`` says what the build did with them (every row stays in the
    tidy tables; the study frames need one value per cell).
    """
    grouped = frame.groupby(list(key), sort=True, dropna=False)
    sizes = grouped.size()
    findings = []
    for group in sizes[sizes > 1].index:
        rows = grouped.get_group(group)
        distinct = rows[list(values)].astype(str).drop_duplicates()
        findings.append(
            {
                "key": dict(zip(key, map(_json_scalar, group), strict=True)),
                "rows": int(len(rows)),
                "conflicting": bool(len(distinct) > 1),
                "resolution": RESOLUTION_CONFLICTING if len(distinct) > 1 else RESOLUTION_IDENTICAL,
            }
        )
    return findings


def trade_quality(trade: pd.DataFrame, report: QualityReport | None = None) -> QualityReport:
    """Find duplicates, negative amounts, unit changes and HS-edition changes in a trade frame.

    Parameters
    ----------
    trade
        Output of :func:`combine_trade`.
    report
        Report to add to (default: a new one).

    Returns
    -------
    QualityReport
        The report, with the trade findings appended.
    """
    report = report if report is not None else QualityReport()
    report.duplicates.extend(
        _duplicates(trade, TRADE_KEY, ["net_weight_t", "value_usd", "qty", "qty_unit"])
    )
    for column in ("net_weight_t", "qty", "value_usd"):
        negative = trade[trade[column] < 0]
        for _, row in negative.iterrows():
            report.negative_quantities.append(
                {
                    "key": {k: _json_scalar(row[k]) for k in TRADE_KEY},
                    "column": column,
                    "value": _json_scalar(row[column]),
                }
            )
    for key, rows in trade.groupby(TRADE_SERIES_KEY, sort=True, dropna=False):
        series = dict(zip(TRADE_SERIES_KEY, map(_json_scalar, key), strict=True))
        units = rows.loc[rows["qty_unit"] != "", ["period", "qty_unit"]].sort_values(
            ["period", "qty_unit"], kind="mergesort"
        )
        for period, before, after in _changes(units["period"], units["qty_unit"]):
            report.unit_changes.append(
                {"series": series, "period": period, "from": before, "to": after}
            )
    edition_key = ["reporter", "flow", "hs", "source", "vintage"]
    for key, rows in trade.groupby(edition_key, sort=True, dropna=False):
        series = dict(zip(edition_key, map(_json_scalar, key), strict=True))
        editions = rows.loc[rows["hs_edition"] != "", ["period", "hs_edition"]]
        per_month = editions.groupby("period")["hs_edition"].agg(lambda s: "+".join(sorted(set(s))))
        per_month = per_month.sort_index()
        for period, label in zip(per_month.index, per_month.to_numpy(), strict=True):
            if "+" in str(label):
                report.hs_edition_changes.append(
                    {"series": series, "period": period, "from": label, "to": label, "mixed": True}
                )
        for period, before, after in _changes(
            pd.Series(per_month.index), pd.Series(per_month.to_numpy())
        ):
            report.hs_edition_changes.append(
                {"series": series, "period": period, "from": before, "to": after, "mixed": False}
            )
    return report


def _changes(periods: pd.Series, values: pd.Series) -> list[tuple[str, str, str]]:
    """(period, before, after) wherever ``values`` (sorted by period) changes."""
    out = []
    previous: str | None = None
    for period, value in zip(periods.tolist(), values.tolist(), strict=True):
        if previous is not None and value != previous:
            out.append((str(period), str(previous), str(value)))
        previous = value
    return out


def index_quality(indices: pd.DataFrame, report: QualityReport | None = None) -> QualityReport:
    """Find duplicated (period, series) rows and unit changes in an index frame.

    Parameters
    ----------
    indices
        Output of :func:`combine_indices`.
    report
        Report to add to (default: a new one).

    Returns
    -------
    QualityReport
        The report, with the index findings appended.
    """
    report = report if report is not None else QualityReport()
    report.duplicates.extend(_duplicates(indices, INDEX_KEY, ["value", "unit"]))
    for key, rows in indices.groupby(["series", "source", "vintage"], sort=True):
        ordered = rows.sort_values("period", kind="mergesort")
        series = dict(zip(["series", "source", "vintage"], key, strict=True))
        for period, before, after in _changes(ordered["period"], ordered["unit"]):
            report.unit_changes.append(
                {"series": series, "period": period, "from": before, "to": after}
            )
    return report


# =========================================================================== study frames


def _one_value_per_period(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per period, the row's values; NaN where duplicate rows of one period disagree."""
    columns = list(columns)
    distinct = frame[["period", *columns]].drop_duplicates()
    conflicting = distinct["period"].duplicated(keep=False)
    out = distinct.drop_duplicates("period").set_index("period")[columns].astype(float)
    out.loc[out.index.isin(distinct.loc[conflicting, "period"])] = np.nan
    return out.sort_index()


def _wide_indices(indices: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Index series ``names`` as columns, keyed by period (NaN where duplicates conflict)."""
    names = list(names)
    rows = indices.loc[indices["series"].isin(names), ["series", "period", "value"]]
    distinct = rows.drop_duplicates()
    conflicting = distinct.loc[distinct.duplicated(["series", "period"], keep=False)]
    wide = distinct.drop_duplicates(["series", "period"]).pivot(
        index="period", columns="series", values="value"
    )
    for series, period in zip(conflicting["series"], conflicting["period"], strict=True):
        wide.loc[period, series] = np.nan
    return wide.reindex(columns=names).astype(float)


def study_series_names(indices: pd.DataFrame) -> list[str]:
    """Index series that go into the study frames: GPR, GPRT, GPRA, every GPRC_*, controls."""
    present = set(indices["series"])
    gprc = sorted(s for s in present if _GPRC_RE.match(s))
    return [
        *(s for s in GPR_SERIES if s in present),
        *gprc,
        *(s for s in CONTROL_SERIES if s in present),
    ]


def _calendar(frame: pd.DataFrame) -> pd.DataFrame:
    frame["month"] = [int(p[5:7]) for p in frame["period"]]
    frame["year"] = [int(p[:4]) for p in frame["period"]]
    return frame


def study_world(
    trade: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    months: Sequence[str],
    export_series: str,
    export_rows: pd.Series,
    report: QualityReport | None = None,
) -> pd.DataFrame:
    """One row per month of ``months``: China's world exports beside the indices.

    Parameters
    ----------
    trade
        Output of :func:`combine_trade`.
    indices
        Output of :func:`combine_indices`.
    months
        The study range (``YYYY-MM``, consecutive); every month gets a row.
    export_series
        Label written into ``export_series`` (``comtrade_850511`` or ``userseries:<name>``).
    export_rows
        Boolean mask over ``trade`` selecting the export series' rows (world partner).
    report
        Missing months are added to it (labels ``exports`` and each index series).

    Returns
    -------
    pandas.DataFrame
        ``period, exports_t, exports_usd, export_series, GPR, GPRT, GPRA, GPRC_*...,
        EXCHUS, INDPRO`` (when present), ``month, year``.
    """
    report = report if report is not None else QualityReport()
    study_months = _check_consecutive(months)
    selected = trade.loc[export_rows]
    partners = set(selected["partner"])
    if partners - {WORLD}:
        raise BadInputError(
            f"export series {export_series}: rows for partner(s) "
            f"{', '.join(sorted(partners - {WORLD}))}, expected only {WORLD}"
        )
    exports = _one_value_per_period(selected, ["net_weight_t", "value_usd"]).reindex(study_months)
    frame = pd.DataFrame({"period": list(study_months)})
    frame["exports_t"] = exports["net_weight_t"].to_numpy()
    frame["exports_usd"] = exports["value_usd"].to_numpy()
    frame["export_series"] = export_series
    report.missing_months["exports"] = [
        m for m, v in zip(study_months, frame["exports_t"], strict=True) if not np.isfinite(v)
    ]
    names = study_series_names(indices)
    wide = _wide_indices(indices, names).reindex(study_months)
    for name in names:
        frame[name] = wide[name].to_numpy()
        gaps = [m for m, v in zip(study_months, frame[name], strict=True) if not np.isfinite(v)]
        if gaps:
            report.missing_months[name] = gaps
    for required in ("GPR",):
        if required not in names:
            report.missing_months[required] = list(study_months)
    return _calendar(frame)


def study_destination(
    trade: pd.DataFrame,
    indices: pd.DataFrame,
    *,
    months: Sequence[str],
    destination_rows: pd.Series,
    report: QualityReport | None = None,
) -> pd.DataFrame:
    """One row per (destination, month): exports to each partner with its country GPR.

    Parameters
    ----------
    trade
        Output of :func:`combine_trade`.
    indices
        Output of :func:`combine_indices`.
    months
        The study range; every (partner, month) gets a row.
    destination_rows
        Boolean mask over ``trade`` selecting the by-partner vintage's rows (its
        world row, if any, marks the months the reporter reported).
    report
        Dropped partners, implied zeros and missing months are added to it.

    Returns
    -------
    pandas.DataFrame
        ``period, partner, exports_t, exports_usd, gpr_country, GPR, month, year``,
        sorted by partner then period.
    """
    report = report if report is not None else QualityReport()
    study_months = _check_consecutive(months)
    rows = trade.loc[destination_rows]
    world_rows = rows[rows["partner"] == WORLD]
    partners_all = sorted(set(rows["partner"]) - {WORLD})
    countries = [p for p in partners_all if _COUNTRY_RE.match(p)]
    report.non_country_partners = sorted(set(partners_all) - set(countries))
    gprc = {m[1] for s in set(indices["series"]) if (m := _GPRC_RE.match(s))}
    report.dropped_partners = [p for p in countries if p not in gprc]
    kept = [p for p in countries if p in gprc]
    # The months the reporter reported: its World row, else any partner row.
    reported = set(world_rows["period"]) if len(world_rows) else set(rows["period"])
    report.missing_months["destination"] = [m for m in study_months if m not in reported]
    wide = _wide_indices(indices, ["GPR", *(f"GPRC_{p}" for p in kept)]).reindex(study_months)
    pieces = []
    implied_zero = 0
    for partner in kept:
        flows = _one_value_per_period(
            rows[rows["partner"] == partner], ["net_weight_t", "value_usd"]
        )
        has_row = np.array([m in flows.index for m in study_months])
        # Comtrade omits zero flows: absent in a reported month means nothing was shipped.
        zero_fill = ~has_row & np.array([m in reported for m in study_months])
        implied_zero += int(zero_fill.sum())
        flows = flows.reindex(study_months)
        exports_t = np.where(zero_fill, 0.0, flows["net_weight_t"].to_numpy())
        exports_usd = np.where(zero_fill, 0.0, flows["value_usd"].to_numpy())
        pieces.append(
            pd.DataFrame(
                {
                    "period": list(study_months),
                    "partner": partner,
                    "exports_t": exports_t,
                    "exports_usd": exports_usd,
                    "gpr_country": wide[f"GPRC_{partner}"].to_numpy(),
                    "GPR": wide["GPR"].to_numpy() if "GPR" in wide else np.nan,
                }
            )
        )
    report.implied_zero_flows = implied_zero
    columns = ["period", "partner", "exports_t", "exports_usd", "gpr_country", "GPR"]
    frame = pd.concat(pieces, ignore_index=True) if pieces else _empty(columns)
    return _calendar(frame[columns].copy())


def _check_consecutive(months: Sequence[str]) -> list[str]:
    """``months`` as a list of ``YYYY-MM`` strings, checked to be consecutive and non-empty."""
    parsed = [parse_month(m, what="study month") for m in months]
    if not parsed:
        raise BadInputError("study months: the range is empty")
    for a, b in zip(parsed, parsed[1:], strict=False):
        if b.ordinal - a.ordinal != 1:
            raise BadInputError(f"study months must be consecutive: {a} is followed by {b}")
    return [str(m) for m in parsed]


# =========================================================================== vintages


@dataclass(frozen=True)
class Inputs:
    """The raw vintages one build reads, all real or all demo.

    Attributes
    ----------
    kind
        ``"real"`` or ``"demo"``.
    gpr
        The monthly GPR vintage.
    export
        The vintage of the world export series (a user series or Comtrade world).
    export_series
        ``userseries:<name>`` or ``comtrade_850511``.
    comtrade_world
        The Comtrade HS 850511 world vintage, if any (also the export vintage when no
        user series exists).
    destination
        The Comtrade by-partner (``partner=all``) vintage, if any.
    controls
        FRED vintages (EXCHUS, INDPRO), possibly empty.
    export_choice
        The ``--export-series`` option the export series was chosen by.
    notes
        What the build should tell its user about the store: incomplete demo sets it
        skipped, user series it left out and why, vintages without a seal.
    """

    kind: Literal["real", "demo"]
    gpr: Vintage
    export: Vintage
    export_series: str
    comtrade_world: Vintage | None
    destination: Vintage | None
    controls: tuple[Vintage, ...]
    export_choice: str = "auto"
    notes: tuple[str, ...] = ()

    def roles(self) -> dict[str, Vintage]:
        """Role name -> vintage, for reports (sorted, without repeats)."""
        roles: dict[str, Vintage] = {"gpr": self.gpr, "export": self.export}
        if self.comtrade_world is not None and self.comtrade_world != self.export:
            roles["comtrade_world"] = self.comtrade_world
        if self.destination is not None:
            roles["destination"] = self.destination
        for vintage in self.controls:
            roles[f"controls:{vintage.id}"] = vintage
        return dict(sorted(roles.items()))


def _request_text(vintage: Vintage, key: str) -> str:
    return str(vintage.request.get(key, "")).strip().lower()


def _demo_seed(vintage: Vintage) -> object:
    """The seed of a demo vintage (``None`` for real ones)."""
    block = vintage.request.get("demo")
    return block.get("seed") if isinstance(block, dict) else None


class _Candidates:
    """The store's vintages of one kind; for the demo, only those of one complete demo set.

    Demo vintages of different seeds are different draws of the DGP, so one build
    never combines them.  ``reexport demo`` writes a set of vintages (GPR, Comtrade
    world and by partner, FRED, the customs user series) one after the other, so an
    interrupted run (killed, disk full) leaves part of a set: the seed used is that of
    the newest demo GPR vintage whose set is complete, and incomplete sets are listed
    in :attr:`incomplete` (never used).
    """

    def __init__(self, store: RawStore, synthetic: bool) -> None:
        self.store = store
        self.synthetic = synthetic
        self.seed: object = None
        #: ``(seed, missing roles)`` of demo sets left incomplete by an interrupted run.
        self.incomplete: list[tuple[object, list[str]]] = []
        if synthetic:
            seeds = []
            for vintage in reversed(store.vintages("gpr", synthetic=True)):
                seed = _demo_seed(vintage)
                if seed not in seeds:
                    seeds.append(seed)
            for seed in seeds:
                self.seed = seed
                missing = self.missing_demo_roles()
                if not missing:
                    break
                self.incomplete.append((seed, missing))
            else:
                self.seed = seeds[0] if seeds else None

    def missing_demo_roles(self) -> list[str]:
        """The members of the current seed's demo set that are not stored."""
        roles = {
            "gpr": self.newest("gpr"),
            "comtrade world": self.comtrade("world"),
            "comtrade by partner": self.comtrade("all"),
            "fred": self.newest("fred"),
            "customs user series": self.customs_series(),
        }
        return [role for role, vintage in roles.items() if vintage is None]

    def of(self, source: str) -> list[Vintage]:
        found = self.store.vintages(source, synthetic=self.synthetic)
        if self.synthetic and self.seed is not None:
            found = [v for v in found if _demo_seed(v) == self.seed]
        return found

    def newest(self, source: str) -> Vintage | None:
        found = self.of(source)
        return found[-1] if found else None

    def comtrade(self, partner: str) -> Vintage | None:
        """Newest Comtrade vintage of China's HS 850511 exports for ``partner`` (world/all)."""
        found = [
            v
            for v in self.of("comtrade")
            if _request_text(v, "partner") == partner
            and _request_text(v, "hs") == COMTRADE_HS
            and _request_text(v, "flow") == "x"
            and _request_text(v, "reporter") in ("156", "chn")
        ]
        return found[-1] if found else None

    def customs_series(self) -> Vintage | None:
        """Newest user series of China's CN 85051110 world exports in tonnes (or kg)."""
        found = []
        for v in self.of("userseries"):
            columns = v.request.get("columns") or {}
            if (
                _request_text(v, "hs") == CUSTOMS_HS
                and _request_text(v, "flow") == "x"
                and _request_text(v, "reporter") in ("chn", "156")
                and _request_text(v, "unit") in ("t", "kg")
                # A series with a partner column is by destination, not the world total.
                and not columns.get("partner")
            ):
                found.append(v)
        return found[-1] if found else None

    def named_series(self, name: str) -> Vintage | None:
        """Newest user series called ``name`` (``reexport import --name``)."""
        found = [v for v in self.of("userseries") if _series_name(v) == name]
        return found[-1] if found else None


def _series_name(vintage: Vintage) -> str:
    return str(vintage.request.get("name") or vintage.id)


def parse_export_choice(text: str) -> tuple[str, str | None]:
    """``--export-series`` as ``(kind, name)``: ``auto``, ``comtrade`` or ``userseries[:NAME]``.

    Raises
    ------
    BadInputError
        For any other value, or an empty ``NAME``.
    """
    kind, colon, name = text.strip().partition(":")
    if kind == "userseries" and (not colon or name.strip()):
        return kind, (name.strip() or None)
    if kind in ("auto", "comtrade") and not colon:
        return kind, None
    raise BadInputError(
        f"--export-series {text!r}: expected auto, comtrade, userseries or userseries:NAME"
    )


def _pick(store: RawStore, synthetic: bool, export_choice: str = "auto") -> dict[str, Any]:
    candidates = _Candidates(store, synthetic)
    if synthetic and candidates.incomplete and candidates.missing_demo_roles():
        seed, missing = candidates.incomplete[0]
        raise BadInputError(
            f"build --vintage demo: the demo set of seed {seed} in {store.root} is incomplete "
            f"(no {', '.join(missing)}: an interrupted `reexport demo`) and no complete demo "
            f"set is stored; run `reexport demo --seed {seed}` again to complete it"
        )
    kind, name = parse_export_choice(export_choice)
    world = candidates.comtrade("world")
    fred = candidates.newest("fred")
    if kind == "comtrade":
        user = None
    elif name is not None:
        user = candidates.named_series(name)
        if user is not None:
            _check_world_exports(user)
    else:
        user = candidates.customs_series()
    export = user if kind != "comtrade" and user is not None else None
    if kind in ("auto", "comtrade") and export is None:
        export = world
    notes = [
        f"the demo set of seed {seed} is incomplete (no {', '.join(missing)}: an interrupted "
        f"`reexport demo`), so the complete set of seed {candidates.seed} is used; "
        f"`reexport demo --seed {seed}` completes it"
        for seed, missing in candidates.incomplete
    ]
    return {
        "gpr": candidates.newest("gpr"),
        "export": export,
        "export_series": (
            f"userseries:{_series_name(user)}"
            if user is not None and export is user
            else COMTRADE_EXPORT_SERIES
        ),
        "comtrade_world": world,
        "destination": candidates.comtrade("all"),
        "controls": () if fred is None else (fred,),
        "notes": tuple(notes),
    }


def _by_destination(vintage: Vintage) -> bool:
    return bool((vintage.request.get("columns") or {}).get("partner"))


def _ignored_user_series(store: RawStore, inputs: Inputs) -> list[str]:
    """One note per stored user series with a partner column: why the build left it out."""
    notes = []
    used = set(inputs.roles().values())
    for vintage in store.vintages("userseries"):
        if vintage in used or not _by_destination(vintage):
            continue
        kind = "synthetic" if vintage.synthetic else "real"
        notes.append(
            f"{kind} user series {_series_name(vintage)} ({vintage.source}/{vintage.id}) "
            "was not used: it is by destination (it has a partner column), and the study "
            f"frames take China's world exports ({inputs.export_series}); study_destination "
            "comes from the Comtrade by-partner vintage"
        )
    return notes


def _check_world_exports(vintage: Vintage) -> None:
    """Refuse a user series that is not a world export series (it cannot fill study_world)."""
    name = _series_name(vintage)
    if _by_destination(vintage):
        raise BadInputError(
            f"--export-series userseries:{name}: user series {vintage.id} is by destination "
            "(it has a partner column), not China's world exports"
        )
    if _request_text(vintage, "flow") != "x":
        raise BadInputError(
            f"--export-series userseries:{name}: user series {vintage.id} is flow "
            f"{_request_text(vintage, 'flow').upper() or '?'}, not exports (X)"
        )


def _describe_choice(export_choice: str) -> str:
    kind, name = parse_export_choice(export_choice)
    if kind == "comtrade":
        return "Comtrade HS 850511 world export series"
    if name is not None:
        return f"user series named {name!r}"
    if kind == "userseries":
        return "China-customs user series (CN 85051110, world, t or kg)"
    return "export series"


def select_inputs(
    store: RawStore, vintage: VintageKind = "auto", *, export_series: str = "auto"
) -> Inputs:
    """Choose the vintages to build from; real and demo never mix.

    ``auto`` builds from real vintages when a real GPR vintage and a real export
    series both exist, from the demo when neither does, and refuses a mix
    (real GPR with only demo trade, or the reverse).  ``real``/``demo`` insist on
    that kind.  Within a kind the newest vintage of each input is used (for the
    demo, all from the seed of the newest demo GPR vintage); the
    export series (``export_series="auto"``) is a China-customs user series
    (CN 85051110, world, tonnes) when one exists, else Comtrade's HS 850511 world
    exports; ``comtrade`` insists on the latter, ``userseries`` on the former and
    ``userseries:NAME`` on the newest user series of that name (a world export series).
    The real/demo decision of ``vintage="auto"`` does not depend on ``export_series``.

    Raises
    ------
    BadInputError
        For an unknown ``vintage`` or ``export_series`` value, a missing GPR or export
        series of the chosen kind, or a real/demo mix under ``auto``.
    """
    if vintage not in ("auto", "real", "demo"):
        raise BadInputError(f"--vintage {vintage!r}: expected auto, real or demo")
    parse_export_choice(export_series)
    real = _pick(store, synthetic=False)
    if vintage == "auto":
        has_gpr, has_export = real["gpr"] is not None, real["export"] is not None
        if has_gpr != has_export:
            have, lack = ("GPR", "export series") if has_gpr else ("export series", "GPR")
            raise BadInputError(
                f"build --vintage auto: the raw store {store.root} has a real {have} vintage but "
                f"no real {lack}, and real and demo data never mix; fetch the missing source "
                "(`reexport data`) or build the demo explicitly with `--vintage demo`"
            )
        vintage = "real" if has_gpr else "demo"
    chosen = _pick(store, synthetic=vintage == "demo", export_choice=export_series)
    choice_kind, choice_name = parse_export_choice(export_series)
    if chosen["export"] is None and choice_name is not None:
        # The named series may exist with the other provenance: say what it is.
        other = _Candidates(store, synthetic=vintage != "demo").named_series(choice_name)
        if other is not None:
            _check_world_exports(other)
            raise BadInputError(
                f"build --vintage {vintage} --export-series {export_series}: user series "
                f"{choice_name} ({other.source}/{other.id}) is "
                f"{'synthetic' if other.synthetic else 'real'}, but this build is "
                f"{vintage}, and real and demo data never mix"
            )
    for role, what in (("gpr", "GPR"), ("export", _describe_choice(export_series))):
        if chosen[role] is None:
            hint = "`reexport data`" if vintage == "real" else "`reexport demo`"
            option = "" if export_series == "auto" else f" --export-series {export_series}"
            raise BadInputError(
                f"build --vintage {vintage}{option}: no {vintage} {what} vintage in the raw "
                f"store {store.root}; run {hint} first"
                + ("" if role == "gpr" or export_series == "auto" else ", or choose another")
            )
    inputs = Inputs(kind=vintage, **chosen, export_choice=export_series)
    flags = {v.synthetic for v in inputs.roles().values()}
    if flags != {vintage == "demo"}:  # defensive: selection above filters by kind
        raise BadInputError("build: refusing to mix real and demo vintages")
    notes = [*inputs.notes, *_ignored_user_series(store, inputs)]
    unsealed = [f"{v.source}/{v.id}" for v in inputs.roles().values() if not v.sealed]
    if unsealed:
        notes.append(
            f"{len(unsealed)} vintage(s) used were written before manifests were sealed "
            f"({', '.join(unsealed)}); `reexport verify --seal` seals them"
        )
    return dataclasses.replace(inputs, notes=tuple(notes))


# =========================================================================== building


@dataclass
class BuildResult:
    """What :func:`build` produced (frames in memory, plus where they were written).

    Attributes
    ----------
    inputs
        The vintages used.
    months
        The study range.
    trade_flows, indices, study_world, study_destination
        The processed frames (``study_destination`` is ``None`` without a by-partner vintage).
    quality
        The quality report.
    report
        The ``build_report.json`` content.
    written
        Paths written.
    """

    inputs: Inputs
    months: list[str]
    trade_flows: pd.DataFrame
    indices: pd.DataFrame
    study_world: pd.DataFrame
    study_destination: pd.DataFrame | None
    quality: QualityReport
    report: dict[str, Any]
    written: list[Path] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        """True when built from the demo vintage."""
        return self.inputs.kind == "demo"


def _parse(vintage: Vintage, *, country_scale: CountryScale = "share") -> pd.DataFrame:
    """The tidy frame of a vintage, via its source module's ``parse``.

    For a GPR vintage on the ``index`` country scale, the ``GPRC_*`` series are
    ``gpr.parse(country_scale="index")``'s (mean 100 over 1985-2019); the historical
    series (``GPRH*``, ``GPRHC_*``) stay as published, because a file may leave the
    historical country columns blank (the demo does) and a blank series has no
    base-period mean to rescale by.
    """
    import importlib

    module = importlib.import_module(f"reexport.sources.{vintage.source}")
    frame: pd.DataFrame = module.parse(vintage)
    if vintage.source == "gpr" and country_scale == "index":
        recent = module.parse(vintage, country_scale="index", historical=False)
        historical = frame.loc[~frame["series"].isin(set(recent["series"]))]
        frame = pd.concat([recent, historical], ignore_index=True)
    return frame


def _study_months(inputs: Inputs, export: pd.DataFrame) -> list[str]:
    """The export series' months: its request's start..end widened to every observed month."""
    bounds = [m for m in export["period"]]
    for key in ("start", "end"):
        value = inputs.export.request.get(key)
        if value:
            bounds.append(str(parse_month(value, what=f"{inputs.export.source} request {key}")))
    if not bounds:
        raise BadInputError(
            f"build: the export series {inputs.export_series} "
            f"({inputs.export.source}/{inputs.export.id}) holds no rows"
        )
    return full_months(min(bounds), max(bounds))


def export_coverage(world: pd.DataFrame, inputs: Inputs) -> dict[str, Any]:
    """Which export series was chosen, and which months of the study window it covers.

    The study frame spans the export series' own months, so a short series silently
    shrinks it; this record makes that visible.  The reference window is the one
    ``reexport data`` fetches (2017-01..2024-12, :data:`reexport.acquire.START` and
    ``END``), widened to the study frame's months if they reach beyond it.

    Parameters
    ----------
    world
        The :func:`study_world` frame.
    inputs
        The vintages used.

    Returns
    -------
    dict
        ``series``, ``choice`` (the ``--export-series`` option), ``vintage``
        (``source/id``), ``months_with_value`` with ``first``/``last``,
        ``window`` (``start``, ``end``, ``months``) and ``missing_in_window`` (every
        window month without a value, inside the study frame or outside it).
    """
    from reexport.acquire import END, START

    has_value = world["exports_t"].notna() | world["exports_usd"].notna()
    covered = [str(p) for p in world.loc[has_value, "period"]]
    window = full_months(
        min(START, str(world["period"].min())), max(END, str(world["period"].max()))
    )
    present = set(covered)
    return {
        "series": inputs.export_series,
        "choice": inputs.export_choice,
        "vintage": f"{inputs.export.source}/{inputs.export.id}",
        "months_with_value": len(covered),
        "first": covered[0] if covered else None,
        "last": covered[-1] if covered else None,
        "window": {"start": window[0], "end": window[-1], "months": len(window)},
        "missing_in_window": [m for m in window if m not in present],
    }


def _raw_files(inputs: Inputs) -> dict[str, str]:
    """``source/vintage/file`` -> sha256 of every raw file the build read."""
    files: dict[str, str] = {}
    for vintage in inputs.roles().values():
        for record in vintage.files:
            files[f"{vintage.source}/{vintage.id}/{record['name']}"] = str(record["sha256"])
    return dict(sorted(files.items()))


def _vintage_entry(vintage: Vintage) -> dict[str, Any]:
    return {
        "source": vintage.source,
        "vintage": vintage.id,
        "synthetic": vintage.synthetic,
        "request": vintage.request,
        "files": [{"name": f["name"], "sha256": f["sha256"]} for f in vintage.files],
    }


def build_frames(inputs: Inputs, *, country_scale: CountryScale = "share") -> BuildResult:
    """Parse the chosen vintages and build every processed frame (nothing is written).

    Parameters
    ----------
    inputs
        From :func:`select_inputs`.
    country_scale
        ``share`` (default): the ``GPRC_*`` series as published, percent of articles;
        ``index``: each rescaled to mean 100 over 1985-2019, as
        ``gpr.parse(country_scale="index")`` does (the historical ``GPRHC_*`` stay shares).

    Returns
    -------
    BuildResult
        Frames and report; ``written`` is empty.  Every frame ends with the boolean
        column ``synthetic`` (:data:`SYNTHETIC_COLUMN`), True for a demo build.
    """
    trade_vintages = [inputs.export]
    for extra in (inputs.comtrade_world, inputs.destination):
        if extra is not None and extra not in trade_vintages:
            trade_vintages.append(extra)
    trade = combine_trade(_parse(v) for v in trade_vintages)
    if country_scale not in COUNTRY_SCALES:
        raise BadInputError(f"--country-scale {country_scale!r}: expected share or index")
    indices = combine_indices(
        _parse(v, country_scale=country_scale) for v in (inputs.gpr, *inputs.controls)
    )
    quality = trade_quality(trade)
    index_quality(indices, quality)

    export_rows = (trade["source"] == inputs.export.source) & (trade["vintage"] == inputs.export.id)
    if inputs.export.source == "comtrade":
        export_rows &= (trade["partner"] == WORLD) & (trade["hs"] == COMTRADE_HS)
    export_rows &= trade["flow"] == "X"
    months = _study_months(inputs, trade.loc[export_rows])
    world = study_world(
        trade,
        indices,
        months=months,
        export_series=inputs.export_series,
        export_rows=export_rows,
        report=quality,
    )
    if "GPR" not in indices["series"].to_numpy():
        raise BadInputError(f"build: GPR vintage {inputs.gpr.id} holds no GPR series")
    destination = None
    if inputs.destination is not None:
        destination_rows = (
            (trade["source"] == "comtrade")
            & (trade["vintage"] == inputs.destination.id)
            & (trade["flow"] == "X")
            & (trade["hs"] == COMTRADE_HS)
        )
        destination = study_destination(
            trade, indices, months=months, destination_rows=destination_rows, report=quality
        )
    # Every processed table says in its own content whether it is the synthetic demo,
    # so a CSV copied away from its sidecar still says so.
    for frame in (trade, indices, world, destination):
        if frame is not None:
            frame[SYNTHETIC_COLUMN] = inputs.kind == "demo"
    report = {
        "schema": 1,
        "reexport_version": __version__,
        "synthetic": inputs.kind == "demo",
        "kind": inputs.kind,
        "export_series": inputs.export_series,
        "export": export_coverage(world, inputs),
        "country_scale": country_scale,
        "months": {"start": months[0], "end": months[-1], "count": len(months)},
        "vintages": {role: _vintage_entry(v) for role, v in inputs.roles().items()},
        "raw_sha256": _raw_files(inputs),
        "rows": {
            "trade_flows": len(trade),
            "indices": len(indices),
            "study_world": len(world),
            "study_destination": None if destination is None else len(destination),
        },
        "quality": quality.to_dict(),
        "notes": list(inputs.notes),
    }
    return BuildResult(inputs, months, trade, indices, world, destination, quality, report)


def to_csv_text(frame: pd.DataFrame) -> str:
    """Deterministic CSV: no index, ``\\n`` line ends, floats as ``%.12g``, NaN as empty."""
    text: str = frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return text


def sidecar_path(csv_path: Path) -> Path:
    """``study_world.csv`` -> ``study_world.meta.json``."""
    return csv_path.with_suffix(".meta.json")


def _sidecar(result: BuildResult, name: str, frame: pd.DataFrame) -> str:
    meta = {
        "schema": 1,
        "file": name,
        "synthetic": result.synthetic,
        "note": SYNTHETIC_NOTE if result.synthetic else "",
        "export_series": result.inputs.export_series,
        "country_scale": result.report["country_scale"],
        "rows": len(frame),
        "vintages": {role: f"{v.source}/{v.id}" for role, v in result.inputs.roles().items()},
        "raw_sha256": result.report["raw_sha256"],
    }
    return json.dumps(meta, indent=2, sort_keys=False) + "\n"


SYNTHETIC_NOTE = (
    "SYNTHETIC DEMO DATA: made up by reexport's documented DGP (docs/demo_dgp.md), NOT real"
)
OUTPUT_NAMES = ("trade_flows", "indices", "study_world", "study_destination")
#: The raw sources a build reads; a broken manifest in any of them stops the build.
BUILD_SOURCES = ("gpr", "comtrade", "fred", "userseries")


def write_outputs(result: BuildResult, out_dir: Path) -> list[Path]:
    """Write the whole processed set and swap it in at once (all or nothing).

    Every file is rendered first, then written into a staging folder beside the
    current set, and :func:`reexport.store.replace_folder` swaps the new set in
    atomically, so ``out_dir`` holds the previous complete set or the new one -- after
    a kill -9 or a full disk too, never a mix (no stale ``study_destination`` beside
    a fresh ``study_world``).  ``build_report.json`` lists the sha256 of every other
    file of the set (``outputs``), which ``reexport verify`` checks.

    Returns
    -------
    list of pathlib.Path
        The files, as paths under ``out_dir``.
    """
    from reexport.store import (
        SET_REPORT,
        atomic_write_text,
        pause_between_writes_for_tests,
        replace_folder,
    )

    frames = {
        "trade_flows": result.trade_flows,
        "indices": result.indices,
        "study_world": result.study_world,
        "study_destination": result.study_destination,
    }
    contents: list[tuple[str, str]] = []
    for name in OUTPUT_NAMES:
        frame = frames[name]
        if frame is None:
            continue
        csv_name = f"{name}.csv"
        contents.append((csv_name, to_csv_text(frame)))
        contents.append((sidecar_path(Path(csv_name)).name, _sidecar(result, csv_name, frame)))
    result.report["outputs"] = {
        name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in contents
    }
    report_text = json.dumps(result.report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    contents.append((SET_REPORT, report_text))
    with replace_folder(out_dir) as staging:
        for name, text in contents:
            atomic_write_text(staging / name, text)
            pause_between_writes_for_tests()
    return [out_dir / name for name, _text in contents]


def build(
    vintage: VintageKind = "auto",
    *,
    store: RawStore | None = None,
    out_dir: Path | None = None,
    country_scale: CountryScale = "share",
    export_series: str = "auto",
) -> BuildResult:
    """Build the processed tables and study frames from the raw store.

    Parameters
    ----------
    vintage
        ``auto`` (real if present, else demo; a mix is refused), ``real`` or ``demo``.
    country_scale
        Scale of the ``GPRC_*`` series, see :func:`build_frames`.
    export_series
        ``auto``, ``comtrade``, ``userseries`` or ``userseries:NAME``, see
        :func:`select_inputs`.
    store
        Raw store (default under :func:`reexport.config.raw_dir`).
    out_dir
        Output folder (default :func:`reexport.config.processed_dir`).

    Returns
    -------
    BuildResult
        Frames, report and written paths.

    Raises
    ------
    BadInputError
        When the inputs are missing, mixed, or malformed, or when a manifest of a source
        the build reads is unreadable, edited after sealing, or disagrees about being
        synthetic (exit 2, naming the file): a build never silently goes on without a
        source.
    """
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    out_dir = out_dir if out_dir is not None else config.processed_dir()
    problems = store.manifest_problems(BUILD_SOURCES)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInputError(
            f"build: refusing to build from a raw store it cannot trust: {problems[0]}{more}; "
            "`reexport verify` lists every problem; restore the vintage from a backup, or "
            "move its folder out of the raw store and fetch, import or write it again"
        )
    inputs = select_inputs(store, vintage, export_series=export_series)
    for role, chosen in inputs.roles().items():
        log.info("build: %s <- %s/%s", role, chosen.source, chosen.id)
    result = build_frames(inputs, country_scale=country_scale)
    result.written = write_outputs(result, out_dir)
    return result


def summary_lines(result: BuildResult) -> list[str]:
    """The build summary printed by ``reexport build``."""
    months = result.months
    world = result.study_world
    lines = []
    if result.synthetic:
        lines.append("SYNTHETIC DEMO DATA -- built from the demo vintage, NOT real data")
    lines.append(
        f"build ({result.inputs.kind}): {months[0]}..{months[-1]} ({len(months)} months), "
        f"export series {result.inputs.export_series}"
    )
    scale = result.report["country_scale"]
    lines.append(
        "  GPRC_* country series: "
        + ("index, 1985-2019 mean = 100" if scale == "index" else "share, percent of articles")
    )
    for role, v in result.inputs.roles().items():
        lines.append(f"  {role}: {v.source}/{v.id}{' (synthetic)' if v.synthetic else ''}")
    export = result.report["export"]
    lines.append(
        f"  export series {export['series']} ({export['vintage']}, --export-series "
        f"{export['choice']}): values in {export['months_with_value']} months"
        + (f", {export['first']}..{export['last']}" if export["first"] else "")
    )
    missing = export["missing_in_window"]
    if missing:
        window = export["window"]
        lines.append(
            f"  WARNING: the export series lacks {len(missing)} of the {window['months']} "
            f"months of {window['start']}..{window['end']}: {_month_list(missing)}; "
            f"the study frames span {months[0]}..{months[-1]}"
        )
    lines.append(
        f"  study_world: {len(world)} rows, exports_t present in "
        f"{int(world['exports_t'].notna().sum())}/{len(world)} months"
    )
    if result.study_destination is not None:
        dest = result.study_destination
        lines.append(
            f"  study_destination: {len(dest)} rows, {dest['partner'].nunique()} partners, "
            f"{result.quality.implied_zero_flows} implied zero flows"
        )
    else:
        lines.append("  study_destination: not built (no Comtrade partner=all vintage)")
    lines += [f"  note: {note}" for note in result.inputs.notes]
    problems = result.quality.problems()
    lines.append(f"  quality: {len(problems)} finding(s)" + (":" if problems else ""))
    lines += [f"    - {p}" for p in problems]
    if result.written:
        lines.append(f"  wrote {len(result.written)} files to {result.written[0].parent}")
    return lines


def build_cli(
    *,
    vintage: VintageKind = "auto",
    country_scale: CountryScale = "share",
    export_series: str = "auto",
) -> int | None:
    """``reexport build [--vintage ...] [--country-scale ...] [--export-series ...]``.

    Builds, writes and prints a summary (which export series, and its month coverage).
    """
    result = build(vintage, country_scale=country_scale, export_series=export_series)
    for line in summary_lines(result):
        print(line)
    return 0
