"""Processed data: tidy tables and a study's frames built from raw vintages (``reexport build``).

What is built comes from the study's declaration (``STUDY/study.toml``, read by
:mod:`reexport.study`; format in docs/study_format.md); this module names no study.
Two layers:

* pure functions from tidy frames (the ``parse()`` output of the source modules) to
  processed frames plus a quality report -- :func:`combine_trade`,
  :func:`combine_indices`, :func:`trade_quality`, :func:`index_quality`, and the three
  frame kinds :func:`period_frame` (``by = ["period"]``), :func:`partner_frame`
  (``by = ["period", "partner"]``) and :func:`product_frame` (``by = ["period", "hs"]``);
* :func:`build`, which picks the vintages (:func:`select_inputs`), parses them,
  calls the pure functions and writes ``<data_root>/processed/<study>/`` atomically.

Time is handled by period, never by row order.  Study frames have one row for
every month of the study range; a month without data stays in the frame with
NaN values and is listed in the report.  Duplicates, negative quantities,
unit changes and HS-edition changes are detected and reported; they are not
silently fixed (a month whose duplicate rows disagree gets NaN, since no
single value is right).  No lag is computed here: lags belong to the models.

By-partner flows (``implied_zeros = true``): Comtrade lists only nonzero flows, so a
partner absent from a month that the reporter did report (its world row exists) traded
zero that month; the frame says 0 and the report counts these implied zeros.  In a
month the reporter did not report at all, every partner is NaN (missing).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import importlib
import json
import logging
import math
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from reexport import __version__, config
from reexport.errors import BadInputError
from reexport.periods import Month, month_range, parse_month
from reexport.quality import json_value
from reexport.study import (
    Frame,
    Study,
    comtrade_requests,
    request_matches,
    serving_requests,
    userseries_matches,
)

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

#: Last column of every processed CSV: True in a build from the synthetic demo vintage.
SYNTHETIC_COLUMN = "synthetic"

#: Floats in processed CSVs: 12 significant digits, so a build is byte-identical.
FLOAT_FORMAT = "%.12g"

_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")


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
    out = coerce_trade(pd.concat(pieces, ignore_index=True) if pieces else _empty(TRADE_COLUMNS))
    out = out.sort_values(
        [*TRADE_KEY, "net_weight_t", "value_usd", "qty", "qty_unit", "hs_edition"],
        kind="mergesort",
        na_position="last",
    )
    return out.reset_index(drop=True)[TRADE_COLUMNS]


def coerce_trade(out: pd.DataFrame) -> pd.DataFrame:
    """The column types of :func:`combine_trade`, row by row (no sorting), in place.

    Each value is converted on its own, so coercing a table in pieces gives the pieces
    of the coerced table (the out-of-core build relies on it).
    """
    out["period"] = _normalise_periods(out["period"], "trade frame")
    for column in ("reporter", "partner", "flow", "hs", "hs_edition", "qty_unit", "source"):
        out[column] = out[column].fillna("").astype(str)
    out["vintage"] = out["vintage"].fillna("").astype(str)
    for column in ("value_usd", "net_weight_t", "qty"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    out["is_estimated"] = out["is_estimated"].fillna(False).astype(bool)
    return out


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
                "key": dict(zip(key, map(json_value, group), strict=True)),
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
    report.duplicates.extend(trade_duplicates(trade))
    for found in negative_amounts(trade).values():
        report.negative_quantities.extend(found)
    report.unit_changes.extend(unit_changes(unit_rows(trade)))
    report.hs_edition_changes.extend(edition_changes(edition_labels(trade)))
    return report


#: The amounts checked for negative values, in the order findings are listed.
AMOUNT_COLUMNS = ("net_weight_t", "qty", "value_usd")
#: One HS-edition series: a reporter's flow of one code in one vintage (all partners).
EDITION_KEY = ["reporter", "flow", "hs", "source", "vintage"]


def trade_duplicates(trade: pd.DataFrame) -> list[dict[str, Any]]:
    """Duplicated ``TRADE_KEY`` rows of a typed trade frame, in key order (see ``_duplicates``)."""
    return _duplicates(trade, TRADE_KEY, ["net_weight_t", "value_usd", "qty", "qty_unit"])


def negative_amounts(trade: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per amount column (:data:`AMOUNT_COLUMNS`), its negative rows in frame order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for column in AMOUNT_COLUMNS:
        negative = trade[trade[column] < 0]
        found[column] = [
            {
                "key": {k: json_value(row[k]) for k in TRADE_KEY},
                "column": column,
                "value": json_value(row[column]),
            }
            for _, row in negative.iterrows()
        ]
    return found


def unit_rows(trade: pd.DataFrame) -> pd.DataFrame:
    """The rows with a quantity unit, as (series key, period, unit), sorted for :func:`unit_changes`."""
    units = trade.loc[trade["qty_unit"] != "", [*TRADE_SERIES_KEY, "period", "qty_unit"]]
    return units.sort_values([*TRADE_SERIES_KEY, "period", "qty_unit"], kind="mergesort")


def unit_changes(units: pd.DataFrame) -> list[dict[str, Any]]:
    """Each change of a series' quantity unit from one row to the next (sorted :func:`unit_rows`).

    Findings are in series order, then period order.
    """
    if units.empty:
        return []
    keys = units[TRADE_SERIES_KEY]
    same_series = (keys == keys.shift()).all(axis=1).to_numpy()
    unit = units["qty_unit"].to_numpy(dtype=object)
    previous = np.roll(unit, 1)
    changed = same_series & (unit != previous)
    changed[0] = False
    found = []
    for position in np.flatnonzero(changed):
        row = units.iloc[position]
        found.append(
            {
                "series": {k: json_value(row[k]) for k in TRADE_SERIES_KEY},
                "period": str(row["period"]),
                "from": str(previous[position]),
                "to": str(unit[position]),
            }
        )
    return found


def edition_labels(trade: pd.DataFrame) -> pd.DataFrame:
    """Per HS-edition series (:data:`EDITION_KEY`) and month: its editions, ``+``-joined.

    The label of a month with rows of several editions reads e.g. ``H4+H5``; months
    without an edition are absent.  Sorted by series, then period.
    """
    editions = trade.loc[trade["hs_edition"] != "", [*EDITION_KEY, "period", "hs_edition"]]
    distinct = editions.drop_duplicates().sort_values(
        [*EDITION_KEY, "period", "hs_edition"], kind="mergesort"
    )
    labels = distinct.groupby([*EDITION_KEY, "period"], sort=True)["hs_edition"].agg("+".join)
    return labels.rename("label").reset_index()


def edition_changes(labels: pd.DataFrame) -> list[dict[str, Any]]:
    """HS-edition findings from :func:`edition_labels`: mixed months, then changes, per series."""
    found: list[dict[str, Any]] = []
    for key, rows in labels.groupby(EDITION_KEY, sort=True):
        series = dict(zip(EDITION_KEY, map(json_value, key), strict=True))
        rows = rows.sort_values("period", kind="mergesort")
        for period, label in zip(rows["period"], rows["label"], strict=True):
            if "+" in str(label):
                found.append(
                    {"series": series, "period": period, "from": label, "to": label, "mixed": True}
                )
        for period, before, after in _changes(rows["period"], rows["label"]):
            found.append(
                {"series": series, "period": period, "from": before, "to": after, "mixed": False}
            )
    return found


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


def _one_value(frame: pd.DataFrame, keys: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Per ``keys``, the row's values; NaN where duplicate rows of one key disagree."""
    keys, columns = list(keys), list(columns)
    distinct = frame[[*keys, *columns]].drop_duplicates()
    conflicting = distinct.duplicated(keys, keep=False)
    out = distinct.drop_duplicates(keys).set_index(keys)[columns].astype(float)
    bad = distinct.loc[conflicting, keys].drop_duplicates()
    if len(bad):
        out.loc[pd.MultiIndex.from_frame(bad) if len(keys) > 1 else bad[keys[0]]] = np.nan
    return out.sort_index()


def _summed(frame: pd.DataFrame, keys: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Per ``keys``: the sum over the trade series (reporter, flow, HS) of one value each.

    A cell whose duplicate rows conflict is NaN and keeps the sum NaN: no single value is
    right, so no total is either.
    """
    series = [k for k in ("reporter", "partner", "flow", "hs") if k not in keys]
    single = _one_value(frame, [*keys, *series], columns).reset_index()
    grouped = single.groupby(list(keys), sort=True)[list(columns)]
    # math.fsum is the correctly rounded sum of a cell's values (NaN if any is NaN),
    # whatever their order and whatever other cells are summed in the same call; pandas'
    # grouped sum can differ in the last bit with the other groups of the call, and a
    # frame built bucket by bucket (reexport.outofcore) must equal one built at once.
    total = grouped.agg(math.fsum).astype(float)
    return total


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


def index_names(
    indices: pd.DataFrame,
    required: Sequence[str],
    optional: Sequence[str] = (),
    *,
    frame: str = "frame",
) -> list[str]:
    """The index series a frame joins: each pattern expanded over the series present.

    Patterns (``GPRC_*``) expand to every matching series, sorted; the order is that of
    the declaration.  A required name or pattern matching nothing is bad input.
    """
    present = sorted(set(indices["series"]))
    names: list[str] = []
    for pattern, needed in [*((p, True) for p in required), *((p, False) for p in optional)]:
        found = [s for s in present if fnmatch.fnmatchcase(s, pattern)]
        if not found and needed:
            raise BadInputError(
                f"build: frame {frame!r} needs the index series {pattern!r}, which no vintage "
                "of this build holds"
            )
        names += [s for s in found if s not in names]
    return names


def _calendar(frame: pd.DataFrame) -> pd.DataFrame:
    frame["month"] = [int(p[5:7]) for p in frame["period"]]
    frame["year"] = [int(p[:4]) for p in frame["period"]]
    return frame


def _gaps(months: Sequence[str], values: pd.Series) -> list[str]:
    return [
        m for m, v in zip(months, values.to_numpy(dtype=float), strict=True) if not np.isfinite(v)
    ]


@dataclass
class Selection:
    """What a study frame needs of its selected trade rows (not the rows themselves).

    The frame builders take this summary instead of the rows, so a frame is made the same
    way from a table in memory (:meth:`of`) and from one streamed bucket by bucket
    (:mod:`reexport.outofcore` merges the buckets' summaries with :meth:`merge`; every
    cell's rows share its period, so they are always in one bucket).

    Attributes
    ----------
    sums
        :func:`_summed` over the frame's keys (``["period"]``, ``["partner", "period"]``
        over the non-World rows, or ``["hs", "period"]``); ``None`` when there is none.
    partners, periods, world_periods, codes
        The selected rows' partners, periods, periods of World rows and HS codes.
    rows
        How many rows were selected.
    """

    sums: pd.DataFrame | None
    partners: frozenset[str] = frozenset()
    periods: frozenset[str] = frozenset()
    world_periods: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    rows: int = 0

    @classmethod
    def of(cls, selected: pd.DataFrame, by: Sequence[str], sources: Sequence[str]) -> Selection:
        """The summary of ``selected`` (rows of a typed trade frame) for a frame keyed ``by``."""
        sources = list(dict.fromkeys(sources))
        sums: pd.DataFrame | None
        if not sources:  # a measures frame: its rows are used, not sums
            sums = None
        elif tuple(by) == ("period",):
            sums = _summed(selected, ["period"], sources)
        elif tuple(by) == ("period", "partner"):
            partner_rows = selected[selected["partner"] != WORLD]
            sums = (
                _summed(partner_rows, ["partner", "period"], sources) if len(partner_rows) else None
            )
        else:
            sums = _summed(selected, ["hs", "period"], sources) if len(selected) else None
        world = selected["partner"] == WORLD
        return cls(
            sums=sums,
            partners=frozenset(selected["partner"]),
            periods=frozenset(selected["period"]),
            world_periods=frozenset(selected.loc[world, "period"]),
            codes=frozenset(selected["hs"]),
            rows=len(selected),
        )

    @classmethod
    def merge(cls, parts: Sequence[Selection]) -> Selection:
        """One summary of disjoint sets of periods (the buckets of an out-of-core build)."""
        sums = [p.sums for p in parts if p.sums is not None]
        merged = pd.concat(sums).sort_index(kind="mergesort") if sums else None
        if merged is not None and len(sums) == 1:
            merged = sums[0]
        return cls(
            sums=merged,
            partners=frozenset().union(*(p.partners for p in parts)),
            periods=frozenset().union(*(p.periods for p in parts)),
            world_periods=frozenset().union(*(p.world_periods for p in parts)),
            codes=frozenset().union(*(p.codes for p in parts)),
            rows=sum(p.rows for p in parts),
        )


def _selection(
    trade: pd.DataFrame | None,
    rows: pd.Series | None,
    selection: Selection | None,
    by: Sequence[str],
    sources: Sequence[str],
) -> Selection:
    """The frame builders' input: the given summary, or that of ``trade.loc[rows]``."""
    if selection is not None:
        return selection
    if trade is None or rows is None:
        raise TypeError("a frame builder needs trade and rows, or a selection")
    return Selection.of(trade.loc[rows], by, sources)


def period_frame(
    trade: pd.DataFrame | None,
    indices: pd.DataFrame,
    *,
    months: Sequence[str],
    rows: pd.Series | None = None,
    selection: Selection | None = None,
    values: Mapping[str, str],
    indices_required: Sequence[str] = (),
    indices_optional: Sequence[str] = (),
    series_column: str | None = None,
    series_label: str = "",
    calendar: bool = True,
    name: str = "frame",
    report: QualityReport | None = None,
) -> pd.DataFrame:
    """One row per month of ``months``: the selected world trade beside the indices.

    (A frame declared ``by = ["period"]``: e.g. a reporter's world exports.)

    Parameters
    ----------
    trade, indices
        Outputs of :func:`combine_trade` and :func:`combine_indices`.
    months
        The study range (``YYYY-MM``, consecutive); every month gets a row.
    rows
        Boolean mask over ``trade`` selecting the frame's rows (world partner only).
    selection
        Instead of ``trade`` and ``rows``: the :class:`Selection` summary of those rows
        (what an out-of-core build has).
    values
        Output column -> tidy trade column, summed over the selected HS codes, reporters
        and flows (a cell whose duplicates conflict is NaN).
    indices_required, indices_optional
        Index series (patterns allowed) joined by period, see :func:`index_names`.
    series_column, series_label
        A column naming which series filled the values (omitted when ``None``).
    calendar
        Add ``month`` and ``year``.
    name
        The frame's name: the label of its missing months in ``report``.
    report
        Missing months are added to it (labels ``name`` and each index series).

    Returns
    -------
    pandas.DataFrame
        ``period``, the ``values`` columns, ``series_column``, the index series,
        ``month, year``.
    """
    report = report if report is not None else QualityReport()
    study_months = _check_consecutive(months)
    sources = list(dict.fromkeys(values.values()))
    selection = _selection(trade, rows, selection, ("period",), sources)
    partners = set(selection.partners)
    if partners - {WORLD}:
        raise BadInputError(
            f"frame {name} ({series_label or 'trade'}): rows for partner(s) "
            f"{', '.join(sorted(partners - {WORLD}))}, expected only {WORLD}"
        )
    assert selection.sums is not None  # a period frame always has its (maybe empty) sums
    sums = selection.sums.reindex(study_months)
    frame = pd.DataFrame({"period": list(study_months)})
    for column, source in values.items():
        frame[column] = sums[source].to_numpy()
    if series_column is not None:
        frame[series_column] = series_label
    first = next(iter(values))
    report.missing_months[name] = _gaps(study_months, frame[first])
    names = index_names(indices, indices_required, indices_optional, frame=name)
    wide = _wide_indices(indices, names).reindex(study_months)
    for index in names:
        frame[index] = wide[index].to_numpy()
        gaps = _gaps(study_months, frame[index])
        if gaps:
            report.missing_months[index] = gaps
    return _calendar(frame) if calendar else frame


def partner_frame(
    trade: pd.DataFrame | None,
    indices: pd.DataFrame,
    *,
    months: Sequence[str],
    rows: pd.Series | None = None,
    selection: Selection | None = None,
    values: Mapping[str, str],
    partner_index: tuple[str, str] | None = None,
    indices_required: Sequence[str] = (),
    indices_optional: Sequence[str] = (),
    implied_zeros: bool = True,
    calendar: bool = True,
    name: str = "frame",
    report: QualityReport | None = None,
) -> pd.DataFrame:
    """One row per (partner, month): the trade with each partner, with its own index.

    (A frame declared ``by = ["period", "partner"]``.)

    Parameters
    ----------
    trade, indices
        Outputs of :func:`combine_trade` and :func:`combine_indices`.
    months
        The study range; every (partner, month) gets a row.
    rows
        Boolean mask over ``trade`` selecting the by-partner rows (the world row, if
        any, marks the months the reporter reported).
    selection
        Instead of ``trade`` and ``rows``: their :class:`Selection` summary.
    values
        Output column -> tidy trade column.
    partner_index
        ``(column, series pattern with {partner})``: e.g. ``("gpr_country",
        "GPRC_{partner}")``; partners without the series are dropped and listed.
    indices_required, indices_optional
        Index series joined by period.
    implied_zeros
        Comtrade omits zero flows: a partner absent from a month the reporter reported
        is 0 (counted in ``report.implied_zero_flows``); NaN in a month not reported.
    calendar
        Add ``month`` and ``year``.
    name
        The frame's name (label of the months the reporter did not report).
    report
        Dropped partners, implied zeros and missing months are added to it.

    Returns
    -------
    pandas.DataFrame
        ``period, partner``, the ``values`` columns, the partner-index column, the
        indices, ``month, year``; sorted by partner then period.
    """
    report = report if report is not None else QualityReport()
    study_months = _check_consecutive(months)
    sources = list(dict.fromkeys(values.values()))
    selection = _selection(trade, rows, selection, ("period", "partner"), sources)
    partners_all = sorted(set(selection.partners) - {WORLD})
    countries = [p for p in partners_all if _COUNTRY_RE.match(p)]
    report.non_country_partners = sorted(
        {*report.non_country_partners, *(set(partners_all) - set(countries))}
    )
    kept = countries
    own: dict[str, str] = {}
    if partner_index is not None:
        present = set(indices["series"])
        own = {p: partner_index[1].replace("{partner}", p) for p in countries}
        dropped = [p for p in countries if own[p] not in present]
        report.dropped_partners = sorted({*report.dropped_partners, *dropped})
        kept = [p for p in countries if own[p] in present]
    # The months the reporter reported: its World row, else any partner row.
    reported = set(selection.world_periods) or set(selection.periods)
    report.missing_months[name] = [m for m in study_months if m not in reported]
    names = index_names(indices, indices_required, indices_optional, frame=name)
    # Without a partner_index no partner has its own series (own is empty).
    wide = _wide_indices(indices, [*names, *(own[p] for p in kept if p in own)]).reindex(
        study_months
    )
    sums = selection.sums
    in_reported = np.array([m in reported for m in study_months])
    pieces = []
    implied_zero = 0
    for partner in kept:
        flows = (
            sums.xs(partner, level="partner")
            if sums is not None and partner in sums.index.get_level_values("partner")
            else pd.DataFrame(columns=sources, dtype=float)
        )
        has_row = np.array([m in flows.index for m in study_months])
        zero_fill = ~has_row & in_reported if implied_zeros else np.zeros(len(study_months), bool)
        implied_zero += int(zero_fill.sum())
        flows = flows.reindex(study_months)
        piece = pd.DataFrame({"period": list(study_months), "partner": partner})
        for column, source in values.items():
            piece[column] = np.where(zero_fill, 0.0, flows[source].to_numpy(dtype=float))
        if partner_index is not None:
            piece[partner_index[0]] = wide[own[partner]].to_numpy()
        for index in names:
            piece[index] = wide[index].to_numpy()
        pieces.append(piece)
    report.implied_zero_flows += implied_zero
    columns = [
        "period",
        "partner",
        *values,
        *([partner_index[0]] if partner_index is not None else []),
        *names,
    ]
    frame = pd.concat(pieces, ignore_index=True) if pieces else _empty(columns)
    frame = frame[columns].copy()
    return _calendar(frame) if calendar else frame


def product_frame(
    trade: pd.DataFrame | None,
    indices: pd.DataFrame,
    *,
    months: Sequence[str],
    rows: pd.Series | None = None,
    selection: Selection | None = None,
    values: Mapping[str, str],
    indices_required: Sequence[str] = (),
    indices_optional: Sequence[str] = (),
    calendar: bool = True,
    name: str = "frame",
    report: QualityReport | None = None,
) -> pd.DataFrame:
    """One row per (HS code, month): the selected trade summed over partners, with indices.

    (A frame declared ``by = ["period", "hs"]``.)  With world rows selected (partner
    ``WLD``) those are used; otherwise the partners' rows are summed.  Like
    :func:`period_frame`, it takes ``trade`` and a ``rows`` mask, or their ``selection``.

    Returns
    -------
    pandas.DataFrame
        ``period, hs``, the ``values`` columns, the indices, ``month, year``.
    """
    report = report if report is not None else QualityReport()
    study_months = _check_consecutive(months)
    sources = list(dict.fromkeys(values.values()))
    selection = _selection(trade, rows, selection, ("period", "hs"), sources)
    codes = sorted(selection.codes)
    sums = selection.sums
    names = index_names(indices, indices_required, indices_optional, frame=name)
    wide = _wide_indices(indices, names).reindex(study_months)
    pieces = []
    for code in codes:
        assert sums is not None  # codes is empty without rows
        flows = sums.xs(code, level="hs").reindex(study_months)
        piece = pd.DataFrame({"period": list(study_months), "hs": code})
        for column, source in values.items():
            piece[column] = flows[source].to_numpy(dtype=float)
        report.missing_months[f"{name}:{code}"] = _gaps(study_months, piece[next(iter(values))])
        for index in names:
            piece[index] = wide[index].to_numpy()
        pieces.append(piece)
    columns = ["period", "hs", *values, *names]
    frame = pd.concat(pieces, ignore_index=True) if pieces else _empty(columns)
    frame = frame[columns].copy()
    return _calendar(frame) if calendar else frame


def supplier_measures(
    trade: pd.DataFrame,
    *,
    by: Sequence[str],
    suppliers: Sequence[str],
    groups: Mapping[str, Sequence[str]] | None = None,
    months: Sequence[str] = (),
) -> pd.DataFrame:
    """Supplier shares, HHI and supplier counts of the selected trade, per cell of ``by``.

    A frame declaring ``measures = { suppliers = [...], groups = {...} }``:
    :func:`reexport.measures.supplier_shares` on the selected rows, with the World row
    kept as the denominator where the pull has it and Comtrade's reference table
    deciding which partner codes are areas.  When ``hs`` is not a ``by`` key the
    selected codes are summed per partner and month first (``hs`` then reads
    ``"280530+2846"``).  Every month of ``months`` is a row (NaN where nothing was
    reported).
    """
    from reexport import measures, quality

    selected = trade
    if "hs" not in by and len(selected):
        codes = "+".join(sorted(set(selected["hs"].astype(str))))
        keys = ["period", "reporter", "flow", "partner"]
        # min_count=1: a partner whose every code is missing stays missing, not 0.
        summed = selected.groupby(keys, as_index=False, sort=True)["value_usd"].sum(min_count=1)
        selected = summed.assign(hs=codes)

    frame: pd.DataFrame = measures.supplier_shares(
        selected,
        by=tuple(by),
        partners=tuple(suppliers),
        groups={k: tuple(v) for k, v in (groups or {}).items()} or None,
        is_group=quality.reference_is_group,
    )
    if months and "period" in by:
        frame = frame.set_index(list(by))
        if tuple(by) == ("period",):
            frame = frame.reindex(pd.Index(list(months), name="period"))
        else:
            others = [frame.index.unique(level=k) for k in by if k != "period"]
            full = pd.MultiIndex.from_product(
                [list(months) if k == "period" else others.pop(0) for k in by], names=list(by)
            )
            frame = frame.reindex(full)
        frame = frame.reset_index()
    return frame.reset_index(drop=True)


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
class FrameInput:
    """The trade vintage one frame reads.

    Attributes
    ----------
    vintage
        The vintage its values come from (a Comtrade vintage, or the preferred user
        series), ``None`` when an optional frame has none (then it is not built).
    series
        ``comtrade_<hs>`` or ``userseries:<name>``.
    comtrade
        The Comtrade vintage serving the frame, if any (also when a user series is used).
    more
        Further Comtrade vintages the frame reads with ``vintage``: a request with several
        reporters, HS codes or flows is stored as one vintage per combination until
        multi-code pulls land (:func:`reexport.study.comtrade_requests`).
    """

    vintage: Vintage | None
    series: str
    comtrade: Vintage | None = None
    more: tuple[Vintage, ...] = ()


@dataclass(frozen=True)
class Inputs:
    """The raw vintages one build of a study reads, all real or all demo.

    Attributes
    ----------
    kind
        ``"real"`` or ``"demo"``.
    study
        The study declaration.
    gpr
        The monthly GPR vintage (``None`` if the study requests none).
    frames
        Frame name -> its trade vintage.
    controls
        FRED vintages, possibly empty.
    export_choice
        The ``--export-series`` option the preferred series was chosen by.
    notes
        What the build should tell its user about the store: incomplete demo sets it
        skipped, user series it left out and why, vintages without a seal.
    """

    kind: Literal["real", "demo"]
    study: Study
    gpr: Vintage | None
    frames: Mapping[str, FrameInput]
    controls: tuple[Vintage, ...]
    export_choice: str = "auto"
    notes: tuple[str, ...] = ()

    @property
    def series_frame(self) -> str:
        """The frame whose series is recorded as the build's ``export_series``."""
        with_series = [f.name for f in self.study.frames if f.series_column is not None]
        return with_series[0] if with_series else self.study.frames[0].name

    @property
    def export(self) -> Vintage:
        """The vintage of :attr:`series_frame` (a user series or Comtrade)."""
        vintage = self.frames[self.series_frame].vintage
        if vintage is None:  # select_inputs refuses a required frame without one
            raise BadInputError(f"build: frame {self.series_frame!r} has no trade vintage")
        return vintage

    @property
    def export_series(self) -> str:
        """``userseries:<name>`` or ``comtrade_<hs>`` of :attr:`series_frame`."""
        return self.frames[self.series_frame].series

    def trade_vintages(self) -> list[Vintage]:
        """Every trade vintage read, without repeats, in frame order."""
        out: list[Vintage] = []
        for item in self.frames.values():
            for vintage in (item.vintage, item.comtrade, *item.more):
                if vintage is not None and vintage not in out:
                    out.append(vintage)
        return out

    def roles(self) -> dict[str, Vintage]:
        """Role name -> vintage, for reports (sorted, without repeats)."""
        roles: dict[str, Vintage] = {}
        if self.gpr is not None:
            roles["gpr"] = self.gpr
        for name, item in self.frames.items():
            if item.vintage is not None:
                roles[f"frame:{name}"] = item.vintage
            if item.comtrade is not None and item.comtrade != item.vintage:
                roles[f"frame:{name}:comtrade"] = item.comtrade
            for n, vintage in enumerate(item.more, 2):
                roles[f"frame:{name}:{n}"] = vintage
        for vintage in self.controls:
            roles[f"controls:{vintage.id}"] = vintage
        return dict(sorted(roles.items()))


def _demo_seed(vintage: Vintage) -> object:
    """The seed of a demo vintage (``None`` for real ones)."""
    block = vintage.request.get("demo")
    return block.get("seed") if isinstance(block, dict) else None


class _Candidates:
    """The store's vintages of one kind; for the demo, only those of one complete demo set.

    Demo vintages of different seeds are different draws of the DGP, so one build
    never combines them.  ``reexport demo`` writes a set of vintages one after the
    other, so an interrupted run (killed, disk full) leaves part of a set: the seed used
    is that of the newest demo GPR vintage whose set holds every input the study
    declares (each request and each preferred user series), and incomplete sets are
    listed in :attr:`incomplete` (never used).
    """

    def __init__(self, store: RawStore, synthetic: bool, study: Study) -> None:
        self.store = store
        self.synthetic = synthetic
        self.study = study
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
        """The inputs of the study that the current seed's demo set does not hold."""
        missing = []
        for request in self.study.requests:
            if request.source == "comtrade":
                if any(self.comtrade(one) is None for one in comtrade_requests(request)):
                    missing.append(f"comtrade {request.role}")
            elif self.newest(request.source) is None:
                missing.append(request.source)
        for frame in self.study.frames:
            if frame.prefer is not None and self.preferred_series(frame) is None:
                missing.append(f"user series preferred by frame {frame.name}")
        return missing

    def of(self, source: str) -> list[Vintage]:
        found = self.store.vintages(source, synthetic=self.synthetic)
        if self.synthetic and self.seed is not None:
            found = [v for v in found if _demo_seed(v) == self.seed]
        return found

    def newest(self, source: str) -> Vintage | None:
        found = self.of(source)
        return found[-1] if found else None

    def comtrade(self, wanted: Any) -> Vintage | None:
        """Newest Comtrade vintage answering the request ``wanted`` (whatever its months)."""
        logical = wanted.logical()
        found = [v for v in self.of("comtrade") if request_matches(v.request, logical)]
        return found[-1] if found else None

    def preferred_series(self, frame: Frame) -> Vintage | None:
        """Newest user series the frame prefers (its reporter and flow, the preferred HS/unit)."""
        found = [v for v in self.of("userseries") if userseries_matches(v.request, frame)]
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


def _comtrade_label(frame: Frame) -> str:
    return "comtrade_" + "+".join(frame.hs)


def _as_set(value: Any) -> set[str]:
    values = value if isinstance(value, list | tuple | set | frozenset) else [value]
    return {str(v).upper() for v in values}


def _selects(frame: Frame, request: Any) -> bool:
    """Whether a Comtrade request holds rows of the frame's HS codes and flows."""
    return bool(_as_set(request.hs_codes) & set(frame.hs)) and bool(
        _as_set(request.flows) & set(frame.flow)
    )


def _frame_input(
    candidates: _Candidates, frame: Frame, export_choice: str, chooses: bool
) -> FrameInput:
    """The vintage a frame reads: its preferred user series (per ``export_choice``) or Comtrade."""
    comtrade: Vintage | None = None
    more: tuple[Vintage, ...] = ()
    for request in serving_requests(candidates.study, frame):
        # Only the combinations the frame selects (its reporters, HS codes and flows).
        wanted = [one for one in comtrade_requests(request) if _selects(frame, one)]
        found = [candidates.comtrade(one) for one in wanted]
        if found and all(v is not None for v in found):
            comtrade, more = found[0], tuple(v for v in found[1:] if v is not None)
            break
    label = _comtrade_label(frame)
    if not chooses:
        return FrameInput(comtrade, label, comtrade, more)
    kind, name = parse_export_choice(export_choice)
    user = None
    if kind != "comtrade":
        if name is not None:
            user = candidates.named_series(name)
            if user is not None:
                _check_world_series(user, frame)
        elif frame.prefer is not None:
            user = candidates.preferred_series(frame)
    if user is not None:
        return FrameInput(user, f"userseries:{_series_name(user)}", comtrade)
    if kind in ("auto", "comtrade"):
        return FrameInput(comtrade, label, comtrade, more)
    return FrameInput(None, label, comtrade)


def _pick(
    store: RawStore, synthetic: bool, study: Study, export_choice: str = "auto"
) -> dict[str, Any]:
    candidates = _Candidates(store, synthetic, study)
    if synthetic and candidates.incomplete and candidates.missing_demo_roles():
        seed, missing = candidates.incomplete[0]
        raise BadInputError(
            f"build --vintage demo: the demo set of seed {seed} in {store.root} is incomplete "
            f"(no {', '.join(missing)}: an interrupted `reexport demo`) and no complete demo "
            f"set is stored; run `reexport demo --seed {seed}` again to complete it"
        )
    chooser = next((f.name for f in study.frames if f.series_column is not None), None)
    frames = {
        frame.name: _frame_input(candidates, frame, export_choice, frame.name == chooser)
        for frame in study.frames
    }
    fred = candidates.newest("fred") if study.requests_of("fred") else None
    notes = [
        f"the demo set of seed {seed} is incomplete (no {', '.join(missing)}: an interrupted "
        f"`reexport demo`), so the complete set of seed {candidates.seed} is used; "
        f"`reexport demo --seed {seed}` completes it"
        for seed, missing in candidates.incomplete
    ]
    return {
        "gpr": candidates.newest("gpr") if study.requests_of("gpr") else None,
        "frames": frames,
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
            "was not used: it is by destination (it has a partner column), and the frame "
            f"{inputs.series_frame!r} takes world totals ({inputs.export_series}); by-partner "
            "frames come from Comtrade by-partner vintages"
        )
    return notes


def _check_world_series(vintage: Vintage, frame: Frame) -> None:
    """Refuse a user series that cannot fill the frame (by destination, or another flow)."""
    name = _series_name(vintage)
    if _by_destination(vintage):
        raise BadInputError(
            f"--export-series userseries:{name}: user series {vintage.id} is by destination "
            f"(it has a partner column), not the world totals frame {frame.name!r} takes"
        )
    flow = str(vintage.request.get("flow", "")).strip().upper()
    if flow not in frame.flow:
        raise BadInputError(
            f"--export-series userseries:{name}: user series {vintage.id} is flow "
            f"{flow or '?'}, not {'/'.join(frame.flow)} as frame {frame.name!r} needs"
        )


def _describe(frame: Frame, export_choice: str, chooses: bool) -> str:
    kind, name = parse_export_choice(export_choice)
    partner = frame.partner if isinstance(frame.partner, str) else ",".join(frame.partner)
    comtrade = (
        f"Comtrade {'/'.join(frame.reporter)} HS {'+'.join(frame.hs)} "
        f"{'/'.join(frame.flow)} partner {partner} series (frame {frame.name!r})"
    )
    if not chooses or kind == "comtrade":
        return comtrade
    if name is not None:
        return f"user series named {name!r}"
    if kind == "userseries" and frame.prefer is not None:
        return f"user series of HS {'+'.join(frame.prefer.hs)} preferred by frame {frame.name!r}"
    return comtrade


def select_inputs(
    store: RawStore,
    vintage: VintageKind = "auto",
    *,
    export_series: str = "auto",
    study: Study | None = None,
) -> Inputs:
    """Choose the vintages to build a study from; real and demo never mix.

    ``auto`` builds from real vintages when every input the study cannot do without (its
    GPR vintage, the trade vintage of each required frame) is real, from the demo when
    none is, and refuses a mix.  ``real``/``demo`` insist on that kind.  Within a kind the
    newest vintage of each input is used (for the demo, all from the seed of the newest
    complete demo set).  A frame with a ``series_column`` reads, under
    ``export_series="auto"``, the user series it ``prefer``s when one is stored, else
    Comtrade; ``comtrade`` insists on the latter, ``userseries`` on the former and
    ``userseries:NAME`` on the newest user series of that name (world totals).  Under
    ``vintage="auto"`` the build is real when every required input is real with the
    series ``export_series`` names, or with the default choice.

    Raises
    ------
    BadInputError
        For an unknown ``vintage`` or ``export_series`` value, a missing required input of
        the chosen kind, or a real/demo mix under ``auto``.
    """
    from reexport.study import load_study

    study = study if study is not None else load_study()
    if vintage not in ("auto", "real", "demo"):
        raise BadInputError(f"--vintage {vintage!r}: expected auto, real or demo")
    parse_export_choice(export_series)
    required = [f for f in study.frames if f.required]

    def needed(picked: Mapping[str, Any]) -> dict[str, bool]:
        have = {f"frame {f.name!r}": picked["frames"][f.name].vintage is not None for f in required}
        if study.requests_of("gpr"):
            have = {"GPR": picked["gpr"] is not None, **have}
        return have

    if vintage == "auto":
        # The real side as the user asked for it (a series named with --export-series
        # counts), else as by default: a named series stored only as demo must not turn
        # the decision into a mix, it gets its own message below.
        have = needed(_pick(store, synthetic=False, study=study, export_choice=export_series))
        if len(set(have.values())) > 1:
            have = needed(_pick(store, synthetic=False, study=study))
        if len(set(have.values())) > 1:
            present = ", ".join(k for k, v in have.items() if v)
            absent = ", ".join(k for k, v in have.items() if not v)
            raise BadInputError(
                f"build --vintage auto: the raw store {store.root} has a real vintage for "
                f"{present} but no real vintage for {absent}, and real and demo data never "
                "mix; fetch the missing source (`reexport data`) or build the demo explicitly "
                "with `--vintage demo`"
            )
        vintage = "real" if all(have.values()) else "demo"
    chosen = _pick(store, synthetic=vintage == "demo", study=study, export_choice=export_series)
    _, choice_name = parse_export_choice(export_series)
    chooser = next((f for f in study.frames if f.series_column is not None), None)
    if chooser is not None and chosen["frames"][chooser.name].vintage is None and choice_name:
        # The named series may exist with the other provenance: say what it is.
        other = _Candidates(store, vintage != "demo", study).named_series(choice_name)
        if other is not None:
            _check_world_series(other, chooser)
            raise BadInputError(
                f"build --vintage {vintage} --export-series {export_series}: user series "
                f"{choice_name} ({other.source}/{other.id}) is "
                f"{'synthetic' if other.synthetic else 'real'}, but this build is "
                f"{vintage}, and real and demo data never mix"
            )
    hint = "`reexport data`" if vintage == "real" else "`reexport demo`"
    option = "" if export_series == "auto" else f" --export-series {export_series}"
    if study.requests_of("gpr") and chosen["gpr"] is None:
        raise BadInputError(
            f"build --vintage {vintage}{option}: no {vintage} GPR vintage in the raw "
            f"store {store.root}; run {hint} first"
        )
    notes = list(chosen["notes"])
    for frame in study.frames:
        if chosen["frames"][frame.name].vintage is not None:
            continue
        what = _describe(frame, export_series, chooser is not None and frame is chooser)
        if frame.required:
            raise BadInputError(
                f"build --vintage {vintage}{option}: no {vintage} {what} vintage in the raw "
                f"store {store.root}; run {hint} first"
                + ("" if export_series == "auto" else ", or choose another")
            )
        notes.append(f"frame {frame.name!r} not built: no {vintage} {what} vintage is stored")
    inputs = Inputs(
        kind=vintage,
        study=study,
        gpr=chosen["gpr"],
        frames=chosen["frames"],
        controls=chosen["controls"],
        export_choice=export_series,
        notes=tuple(notes),
    )
    flags = {v.synthetic for v in inputs.roles().values()}
    if flags - {vintage == "demo"}:  # defensive: selection above filters by kind
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
    trade_flows, indices
        The tidy tables.
    frames
        Frame name -> the processed frame (frames without a vintage are absent).
    quality
        The quality report.
    report
        The ``build_report.json`` content.
    written
        Paths written.
    spooled
        Tables held on disk instead of in memory (an out-of-core build's
        ``trade_flows``); :func:`write_outputs` moves them into the set.
    """

    inputs: Inputs
    months: list[str]
    trade_flows: pd.DataFrame
    indices: pd.DataFrame
    frames: dict[str, pd.DataFrame]
    quality: QualityReport
    report: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    spooled: dict[str, Any] = field(default_factory=dict)

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
    module = importlib.import_module(f"reexport.sources.{vintage.source}")
    frame: pd.DataFrame = module.parse(vintage)
    if vintage.source == "gpr" and country_scale == "index":
        recent = module.parse(vintage, country_scale="index", historical=False)
        historical = frame.loc[~frame["series"].isin(set(recent["series"]))]
        frame = pd.concat([recent, historical], ignore_index=True)
    return frame


def _study_months(inputs: Inputs, periods: Iterable[str]) -> list[str]:
    """The series frame's months: its vintage's request start..end widened to every observed month."""
    vintage = inputs.export
    bounds = [str(m) for m in periods]
    for key in ("start", "end"):
        value = vintage.request.get(key)
        if value:
            bounds.append(str(parse_month(value, what=f"{vintage.source} request {key}")))
    if not bounds:
        raise BadInputError(
            f"build: the series {inputs.export_series} of frame {inputs.series_frame!r} "
            f"({vintage.source}/{vintage.id}) holds no rows"
        )
    return full_months(min(bounds), max(bounds))


def export_coverage(frame: pd.DataFrame, inputs: Inputs) -> dict[str, Any]:
    """Which series filled the series frame, and which months of the study window it covers.

    The frames span that series' own months, so a short series silently shrinks them;
    this record makes that visible.  The reference window is the study's declared
    ``window``, widened to the frame's months if they reach beyond it.

    Parameters
    ----------
    frame
        The series frame (:attr:`Inputs.series_frame`, e.g. a world frame).
    inputs
        The vintages used.

    Returns
    -------
    dict
        ``frame``, ``series``, ``choice`` (the ``--export-series`` option), ``vintage``
        (``source/id``), ``months_with_value`` with ``first``/``last``, ``window``
        (``start``, ``end``, ``months``) and ``missing_in_window`` (every window month
        without a value, inside the frame or outside it).
    """
    spec = inputs.study.frame(inputs.series_frame)
    columns = list(spec.values)
    has_value = frame[columns].notna().any(axis=1)
    covered = [str(p) for p in frame.loc[has_value, "period"]]
    start, end = inputs.study.window
    window = full_months(
        min(start, str(frame["period"].min())), max(end, str(frame["period"].max()))
    )
    present = set(covered)
    return {
        "frame": inputs.series_frame,
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


def _frame_rows(trade: pd.DataFrame, frame: Frame, item: FrameInput) -> pd.Series:
    """Mask over ``trade``: the rows of ``item``'s vintage that the frame selects."""
    vintage = item.vintage
    assert vintage is not None  # only frames with a vintage are built
    ids = (
        {vintage.id} if vintage.source == "userseries" else {vintage.id, *(v.id for v in item.more)}
    )
    rows = (trade["source"] == vintage.source) & trade["vintage"].isin(ids)
    rows &= trade["flow"].isin(frame.flow)
    if vintage.source == "userseries":
        # The preferred series measures its own code (e.g. CN 85051110), world totals.
        return rows
    rows &= trade["hs"].isin(frame.hs)
    # A vintage of a request with several reporters (a bilateral table) holds rows the
    # frame does not name; a one-reporter vintage holds only the frame's own.
    rows &= trade["reporter"].isin(_reporter_forms(frame.reporter))
    if frame.partner == WORLD:
        rows &= trade["partner"] == WORLD
    elif isinstance(frame.partner, tuple):
        rows &= trade["partner"].isin({*frame.partner, WORLD})
    return rows


def _reporter_forms(reporters: Sequence[str]) -> set[str]:
    """Each reporter as the frame writes it and in its other form (ISO3 <-> M49 code)."""
    from reexport.sources import areas, comtrade

    forms = set(reporters)
    for code in reporters:
        if code.isdigit():
            iso3 = areas.iso3_of_code(code, role="reporter")
            if iso3 is not None:
                forms.add(iso3)
        else:
            forms.add(str(comtrade.area_code(code, what="reporter")))
    return forms


def trade_quality_checks(trade: pd.DataFrame, study: Study) -> dict[str, Any]:
    """The trade economists' checks written under ``quality`` in build_report.json.

    :func:`reexport.quality.trade_checks` over the study window (partner areas told
    apart by Comtrade's reference table) and, for every pair of a reporter's exports
    and a partner's imports the tidy table holds, :func:`reexport.quality.mirror_flows`
    summarised by :func:`reexport.quality.mirror_summary`.
    """
    from reexport import quality

    checks: dict[str, Any] = {"checks": quality.trade_checks(trade, window=study.window)}
    exports = trade.loc[(trade["flow"] == "X") & (trade["partner"] != WORLD)]
    imports = trade.loc[(trade["flow"] == "M") & (trade["partner"] != WORLD)]
    pairs = sorted(
        set(zip(exports["reporter"], exports["partner"], strict=True))
        & set(zip(imports["partner"], imports["reporter"], strict=True))
    )
    checks["mirror"] = [
        {
            "exporter": exporter,
            "importer": importer,
            "summary": quality.mirror_summary(
                quality.mirror_flows(trade, exporter=exporter, importer=importer)
            ),
        }
        for exporter, importer in pairs
    ]
    return checks


def _build_frame(
    selection: Selection,
    measured_rows: pd.DataFrame | None,
    indices: pd.DataFrame,
    frame: Frame,
    item: FrameInput,
    months: Sequence[str],
    quality: QualityReport,
) -> pd.DataFrame:
    common: dict[str, Any] = {
        "months": months,
        "selection": selection,
        "values": frame.values,
        "indices_required": frame.indices,
        "indices_optional": frame.optional_indices,
        "calendar": frame.calendar,
        "name": frame.name,
        "report": quality,
    }
    if frame.measures:
        assert measured_rows is not None  # collected for every measures frame
        measured = supplier_measures(
            measured_rows,
            by=frame.by,
            suppliers=frame.measures["suppliers"],
            groups=frame.groups,
            months=months,
        )
        names = index_names(indices, frame.indices, frame.optional_indices, frame=frame.name)
        wide = _wide_indices(indices, names)
        out = measured.merge(wide, left_on="period", right_index=True, how="left")
        return _calendar(out) if frame.calendar else out
    if frame.by == ("period",):
        return period_frame(
            None,
            indices,
            series_column=frame.series_column,
            series_label=item.series,
            **common,
        )
    if frame.by == ("period", "partner"):
        pi = frame.partner_index
        return partner_frame(
            None,
            indices,
            partner_index=None if pi is None else (pi.column, pi.series),
            implied_zeros=frame.implied_zeros,
            **common,
        )
    return product_frame(None, indices, **common)


def build_frames(
    inputs: Inputs,
    *,
    country_scale: CountryScale = "share",
    out_of_core: bool | None = None,
    spool_dir: Path | None = None,
    trade_checks: bool = True,
) -> BuildResult:
    """Parse the chosen vintages and build the study's frames (nothing is written).

    Parameters
    ----------
    inputs
        From :func:`select_inputs`.
    country_scale
        ``share`` (default): the ``GPRC_*`` series as published, percent of articles;
        ``index``: each rescaled to mean 100 over 1985-2019, as
        ``gpr.parse(country_scale="index")`` does (the historical ``GPRHC_*`` stay shares).
    out_of_core
        ``None`` (default): stream the trade table bucket by bucket
        (:mod:`reexport.outofcore`) when its Parquet vintages hold at least
        :data:`reexport.outofcore.OUT_OF_CORE_ROWS` rows, else read it into memory;
        ``True`` / ``False`` insist.  Both give the same frames and report.
    trade_checks
        Run :func:`trade_quality_checks` (whole-table checks: unit values, imputed
        quantities, missing/zero months, mirror flows) on an in-memory build; ``False``
        skips them as an out-of-core build always does (recorded under
        ``quality.trade_checks``).
    spool_dir
        Where an out-of-core build writes its temporary files and the tidy
        ``trade_flows`` table (default: the system's temp folder); :func:`build` puts it
        beside the processed sets so the table is moved, not copied, into the set.

    Returns
    -------
    BuildResult
        Frames and report; ``written`` is empty.  Every frame ends with the boolean
        column ``synthetic`` (:data:`SYNTHETIC_COLUMN`), True for a demo build.  An
        out-of-core build leaves ``trade_flows`` empty (its columns only) and holds the
        table in ``spooled["trade_flows"]``, a Parquet file.
    """
    if country_scale not in COUNTRY_SCALES:
        raise BadInputError(f"--country-scale {country_scale!r}: expected share or index")
    from reexport import outofcore

    study = inputs.study
    synthetic = inputs.kind == "demo"
    index_vintages = [v for v in (inputs.gpr, *inputs.controls) if v is not None]
    indices = combine_indices(_parse(v, country_scale=country_scale) for v in index_vintages)
    if inputs.gpr is not None and "GPR" not in indices["series"].to_numpy():
        raise BadInputError(f"build: GPR vintage {inputs.gpr.id} holds no GPR series")
    built = [f for f in study.frames if inputs.frames[f.name].vintage is not None]
    wanted = {f.name: (f, inputs.frames[f.name]) for f in built}
    parts = outofcore.trade_parts(inputs.trade_vintages(), _parse)
    spooled: dict[str, outofcore.SpooledTable] = {}
    if outofcore.choose_out_of_core(parts, out_of_core):
        streamed = outofcore.stream_trade(parts, wanted, synthetic=synthetic, spool_dir=spool_dir)
        trade = combine_trade([])
        quality, selections, measured = streamed.quality, streamed.selections, streamed.measured
        spooled["trade_flows"] = streamed.table
        trade_rows = streamed.table.rows
        checks: dict[str, Any] = {"skipped": outofcore.TRADE_CHECKS_SKIPPED}
        streaming: dict[str, Any] | None = {
            "buckets": streamed.buckets,
            "bucket_rows": streamed.bucket_rows,
        }
    else:
        trade = combine_trade(outofcore.part_frame(p) for p in parts)
        quality = trade_quality(trade)
        selections, measured = {}, {}
        for name, (frame, item) in wanted.items():
            selected = trade.loc[_frame_rows(trade, frame, item)]
            selections[name] = Selection.of(selected, frame.by, list(frame.values.values()))
            if frame.measures:
                measured[name] = selected
        trade_rows = len(trade)
        checks = (
            trade_quality_checks(trade, study)
            if trade_checks
            else {"skipped": outofcore.TRADE_CHECKS_NOT_ASKED}
        )
        streaming = None
    index_quality(indices, quality)

    months = _study_months(inputs, selections[inputs.series_frame].periods)
    frames: dict[str, pd.DataFrame] = {}
    for frame in built:
        frames[frame.name] = _build_frame(
            selections[frame.name],
            measured.get(frame.name),
            indices,
            frame,
            inputs.frames[frame.name],
            months,
            quality,
        )
    # Every processed table says in its own content whether it is the synthetic demo,
    # so a CSV copied away from its sidecar still says so.
    for table in (trade, indices, *frames.values()):
        table[SYNTHETIC_COLUMN] = synthetic
    quality_record = quality.to_dict()
    quality_record["trade_checks"] = checks
    report = {
        "schema": 1,
        "reexport_version": __version__,
        "study": {"name": study.name, "folder": str(study.folder), "window": list(study.window)},
        "synthetic": inputs.kind == "demo",
        "kind": inputs.kind,
        "export_series": inputs.export_series,
        "export": export_coverage(frames[inputs.series_frame], inputs),
        "country_scale": country_scale,
        "months": {"start": months[0], "end": months[-1], "count": len(months)},
        "vintages": {role: _vintage_entry(v) for role, v in inputs.roles().items()},
        "raw_sha256": _raw_files(inputs),
        "rows": {
            "trade_flows": trade_rows,
            "indices": len(indices),
            **{f.name: (len(frames[f.name]) if f.name in frames else None) for f in study.frames},
        },
        "quality": quality_record,
        "notes": list(inputs.notes),
    }
    if streaming is not None:
        report["out_of_core"] = streaming
    return BuildResult(inputs, months, trade, indices, frames, quality, report, spooled=spooled)


def to_csv_text(frame: pd.DataFrame) -> str:
    """Deterministic CSV: no index, ``\\n`` line ends, floats as ``%.12g``, NaN as empty."""
    text: str = frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
    return text


def sidecar_path(csv_path: Path) -> Path:
    """``world.csv`` (or ``world.parquet``) -> ``world.meta.json``: one sidecar per table."""
    return csv_path.with_suffix(".meta.json")


def _sidecar(
    result: BuildResult,
    files: Sequence[str],
    rows: int,
    table_sha256: str | None = None,
) -> str:
    """A table's sidecar: provenance of the set, and which files hold the table.

    A CSV-only set's sidecars are those every earlier build wrote (``file``); with
    Parquet, ``files`` lists each file of the table and ``table_sha256`` is the
    checksum of its typed content (:func:`reexport.tables_io.table_sha256`), the same
    for an in-memory and an out-of-core build of the same table.
    """
    meta: dict[str, Any] = {
        "schema": 1,
        "file": files[0],
        "study": result.inputs.study.name,
        "synthetic": result.synthetic,
        "note": SYNTHETIC_NOTE if result.synthetic else "",
        "export_series": result.inputs.export_series,
        "country_scale": result.report["country_scale"],
        "rows": rows,
        "vintages": {role: f"{v.source}/{v.id}" for role, v in result.inputs.roles().items()},
        "raw_sha256": result.report["raw_sha256"],
    }
    if table_sha256 is not None:
        meta["files"] = list(files)
        meta["table_sha256"] = table_sha256
    return json.dumps(meta, indent=2, sort_keys=False) + "\n"


SYNTHETIC_NOTE = (
    "SYNTHETIC DEMO DATA: made up by reexport's documented DGP (docs/demo_dgp.md), NOT real"
)
#: The tidy tables of every processed set; frames of the study follow them.
TIDY_NAMES = ("trade_flows", "indices")
#: The raw sources a build reads; a broken manifest in any of them stops the build.
BUILD_SOURCES = ("gpr", "comtrade", "fred", "userseries")


def study_processed_dir(study: Study, root: Path | None = None) -> Path:
    """Where a study's processed set lives: ``<data_root>/processed/<study name>/``."""
    root = root if root is not None else config.processed_dir()
    return root / study.name


def _prepare_root(root: Path) -> None:
    """Make ``root`` (``data/processed``) a plain folder holding one set per study.

    An older reexport made ``processed`` itself one swapped set (a symlink to
    ``.processed-sets/<id>``, or a real folder of CSVs with a ``build_report.json``).
    That flat set named no study, so it is removed (``reexport build STUDY`` rebuilds
    each study's frames in ``processed/<study>/``) and ``root`` becomes a plain folder.
    """
    from reexport.store import SET_REPORT, sets_dir

    if root.is_symlink():
        old_sets = sets_dir(root)
        root.unlink()
        shutil.rmtree(old_sets, ignore_errors=True)
    elif (root / SET_REPORT).is_file():
        legacy = root.parent / f".{root.name}-legacy-{secrets.token_hex(4)}"
        os.rename(root, legacy)
        shutil.rmtree(legacy, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)


def write_outputs(
    result: BuildResult, out_dir: Path, *, formats: Sequence[str] = ("csv",)
) -> list[Path]:
    """Write the study's whole processed set and swap it in at once (all or nothing).

    Every file is rendered first, then written into a staging folder beside the
    current set, and :func:`reexport.store.replace_folder` swaps the new set in
    atomically, so ``out_dir`` (``processed/<study>``) holds the previous complete set
    or the new one -- after a kill -9, a full disk or any error while writing too, never
    a mix (no stale frame beside a fresh one).  Other studies' sets are other folders: a
    build never touches them.  ``build_report.json`` (written last) lists the sha256 of
    every other file of the set (``outputs``), which ``reexport verify`` checks.

    Parameters
    ----------
    result
        From :func:`build_frames`.
    out_dir
        The study's processed folder.
    formats
        ``("csv",)`` (default), ``("parquet",)`` or both
        (:func:`reexport.tables_io.parse_formats`): each table as ``<name>.csv``,
        ``<name>.parquet`` or both, beside its one sidecar ``<name>.meta.json``.
        Tables an out-of-core build spooled to disk are streamed into the set (to CSV
        one row group at a time) or moved into it (Parquet).

    Returns
    -------
    list of pathlib.Path
        The files, as paths under ``out_dir``.
    """
    from reexport import tables_io
    from reexport.store import (
        SET_REPORT,
        atomic_write_bytes,
        pause_between_writes_for_tests,
        replace_folder,
    )

    unknown = [f for f in formats if f not in tables_io.SUFFIXES]
    if unknown or not formats:
        raise BadInputError(f"--format {','.join(formats)!r}: expected csv, parquet or both")
    formats = [f for f in ("csv", "parquet") if f in formats]
    tables = {"trade_flows": result.trade_flows, "indices": result.indices, **result.frames}
    # In-memory tables are rendered before the swap begins: a rendering error leaves the
    # old set untouched without even staging a new one.
    rendered: list[tuple[str, bytes]] = []
    spooled_names: list[str] = []
    for name, frame in tables.items():
        if name in result.spooled:
            spooled_names.append(name)
            continue
        files = [f"{name}{tables_io.SUFFIXES[f]}" for f in formats]
        table_sha: str | None = None
        for file_name, fmt in zip(files, formats, strict=True):
            if fmt == "csv":
                rendered.append((file_name, to_csv_text(frame).encode("utf-8")))
            else:
                arrow = tables_io.to_arrow(frame)
                table_sha = tables_io.table_sha256(arrow)
                rendered.append((file_name, tables_io.parquet_bytes(arrow)))
        sidecar = _sidecar(result, files, len(frame), table_sha)
        rendered.append((sidecar_path(Path(files[0])).name, sidecar.encode("utf-8")))
    outputs: dict[str, str] = {}
    written: list[str] = []
    _prepare_root(out_dir.parent)
    with replace_folder(out_dir) as staging:
        for name in spooled_names:
            for file_name, digest in _write_spooled(
                result.spooled[name], name, formats, staging, result
            ):
                outputs[file_name] = digest
                written.append(file_name)
                pause_between_writes_for_tests()
        for file_name, data in rendered:
            atomic_write_bytes(staging / file_name, data)
            outputs[file_name] = hashlib.sha256(data).hexdigest()
            written.append(file_name)
            pause_between_writes_for_tests()
        # The report lists the files in table order, as every earlier build did.
        order = {n: i for i, n in enumerate(_file_order(tables, formats))}
        result.report["outputs"] = dict(sorted(outputs.items(), key=lambda kv: order[kv[0]]))
        report_text = json.dumps(result.report, indent=2, sort_keys=False, allow_nan=False) + "\n"
        atomic_write_bytes(staging / SET_REPORT, report_text.encode("utf-8"))
        written.append(SET_REPORT)
        pause_between_writes_for_tests()
    ordered = sorted(written[:-1], key=lambda n: order[n]) + [SET_REPORT]
    return [out_dir / name for name in ordered]


def _file_order(tables: Mapping[str, Any], formats: Sequence[str]) -> list[str]:
    """Every file of a set but the report, table by table: its data files, then its sidecar."""
    from reexport import tables_io

    names = []
    for name in tables:
        names += [f"{name}{tables_io.SUFFIXES[f]}" for f in formats]
        names.append(f"{name}.meta.json")
    return names


def _write_spooled(
    table: Any, name: str, formats: Sequence[str], staging: Path, result: BuildResult
) -> list[tuple[str, str]]:
    """Put a spooled table (a Parquet file) into the staging folder in each format.

    Returns ``(file name, sha256)`` of each file written, the sidecar last.
    """
    from reexport import tables_io
    from reexport.store import atomic_write_bytes

    done: list[tuple[str, str]] = []
    files = [f"{name}{tables_io.SUFFIXES[f]}" for f in formats]
    if "csv" in formats:
        digest = hashlib.sha256()
        target = staging / f"{name}.csv"
        with target.open("wb") as out:
            first = True
            for piece in tables_io.iter_parquet_frames(table.path):
                text = to_csv_text(piece)
                if not first:
                    text = text.split("\n", 1)[1]  # the header once
                data = text.encode("utf-8")
                out.write(data)
                digest.update(data)
                first = False
            if first:  # no row group at all: the header of the empty table
                data = to_csv_text(combine_trade([]).assign(**{SYNTHETIC_COLUMN: False})).encode()
                out.write(data)
                digest.update(data)
            out.flush()
            os.fsync(out.fileno())
        done.append((target.name, digest.hexdigest()))
    if "parquet" in formats:
        target = staging / f"{name}.parquet"
        try:
            os.replace(table.path, target)
        except OSError:  # another file system: copy instead
            shutil.copyfile(table.path, target)
        done.append((target.name, table.sha256))
    table_sha = table.table_sha256 if "parquet" in formats else None
    sidecar = _sidecar(result, files, table.rows, table_sha).encode("utf-8")
    atomic_write_bytes(staging / f"{name}.meta.json", sidecar)
    done.append((f"{name}.meta.json", hashlib.sha256(sidecar).hexdigest()))
    return done


def build(
    vintage: VintageKind = "auto",
    *,
    study: str | Path | Study | None = None,
    store: RawStore | None = None,
    out_dir: Path | None = None,
    country_scale: CountryScale = "share",
    export_series: str = "auto",
    format: str = "csv",
    out_of_core: bool | None = None,
    trade_checks: bool = True,
) -> BuildResult:
    """Build a study's processed tables and frames from the raw store.

    Parameters
    ----------
    vintage
        ``auto`` (real if present, else demo; a mix is refused), ``real`` or ``demo``.
    study
        The study folder (or its parsed declaration); default
        :func:`reexport.study.default_folder`.
    country_scale
        Scale of the ``GPRC_*`` series, see :func:`build_frames`.
    export_series
        ``auto``, ``comtrade``, ``userseries`` or ``userseries:NAME``, see
        :func:`select_inputs`.
    store
        Raw store (default under :func:`reexport.config.raw_dir`).
    out_dir
        Output folder (default :func:`study_processed_dir`, ``processed/<study name>``).
    format
        ``csv`` (default), ``parquet`` or ``both``: the files of each table
        (:func:`write_outputs`).
    out_of_core
        Stream the trade table instead of reading it into memory: ``None`` decides by its
        size (:func:`build_frames`).
    trade_checks
        Run the whole-table trade checks on an in-memory build (:func:`build_frames`).

    Returns
    -------
    BuildResult
        Frames, report and written paths.

    Raises
    ------
    BadInputError
        When the declaration is malformed, the inputs are missing, mixed, or malformed,
        or when a manifest of a source the build reads is unreadable, edited after
        sealing, or disagrees about being synthetic (exit 2, naming the file): a build
        never silently goes on without a source.
    """
    from reexport import tables_io
    from reexport.store import RawStore, TempFolder, remove_abandoned_temps
    from reexport.study import Study as StudyType
    from reexport.study import load_study

    formats = tables_io.parse_formats(format)
    declared = study if isinstance(study, StudyType) else load_study(study)
    store = store if store is not None else RawStore()
    out_dir = out_dir if out_dir is not None else study_processed_dir(declared)
    problems = store.manifest_problems(BUILD_SOURCES)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInputError(
            f"build: refusing to build from a raw store it cannot trust: {problems[0]}{more}; "
            "`reexport verify` lists every problem; restore the vintage from a backup, or "
            "move its folder out of the raw store and fetch, import or write it again"
        )
    inputs = select_inputs(store, vintage, export_series=export_series, study=declared)
    for role, chosen in inputs.roles().items():
        log.info("build: %s <- %s/%s", role, chosen.source, chosen.id)
    _prepare_root(out_dir.parent)
    # The spool sits beside the sets, on their file system, so a spooled table is moved
    # into the new set rather than copied.  It is removed whatever happens; one left by
    # a killed build (its lock free) is removed by the next build of the study.
    spools = out_dir.parent / f".{out_dir.name}-spool"
    remove_abandoned_temps(spools)
    temp = TempFolder(spools)
    spool = temp.path
    try:
        result = build_frames(
            inputs,
            country_scale=country_scale,
            out_of_core=out_of_core,
            spool_dir=spool,
            trade_checks=trade_checks,
        )
        result.written = write_outputs(result, out_dir, formats=formats)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        temp.release()
    return result


def summary_lines(result: BuildResult) -> list[str]:
    """The build summary printed by ``reexport build``."""
    months = result.months
    study = result.inputs.study
    lines = []
    if result.synthetic:
        lines.append("SYNTHETIC DEMO DATA -- built from the demo vintage, NOT real data")
    lines.append(
        f"build {study.name} ({result.inputs.kind}): {months[0]}..{months[-1]} "
        f"({len(months)} months), series {result.inputs.export_series}"
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
    for frame in study.frames:
        table = result.frames.get(frame.name)
        if table is None:
            lines.append(f"  {frame.name}: not built (no trade vintage for it is stored)")
            continue
        first = next(iter(frame.values), None)
        line = f"  {frame.name}: {len(table)} rows"
        if "partner" in frame.by:
            line += f", {table['partner'].nunique()} partners"
            if frame.implied_zeros:
                line += f", {result.quality.implied_zero_flows} implied zero flows"
        elif first is not None and frame.by == ("period",):
            line += f", {first} present in {int(table[first].notna().sum())}/{len(table)} months"
        lines.append(line)
    lines += [f"  note: {note}" for note in result.inputs.notes]
    problems = result.quality.problems()
    lines.append(f"  quality: {len(problems)} finding(s)" + (":" if problems else ""))
    lines += [f"    - {p}" for p in problems]
    if result.written:
        lines.append(f"  wrote {len(result.written)} files to {result.written[0].parent}")
    return lines


def build_cli(
    *,
    study: str | None = None,
    vintage: VintageKind = "auto",
    country_scale: CountryScale = "share",
    export_series: str = "auto",
    format: str = "csv",
) -> int | None:
    """``reexport build [STUDY] [--vintage ...] [--country-scale ...] [--export-series ...] [--format ...]``.

    Builds the study's frames into ``processed/<study name>/``, writes them (CSV, Parquet
    or both) and prints a summary (which series, and its month coverage).
    """
    result = build(
        vintage,
        study=study,
        country_scale=country_scale,
        export_series=export_series,
        format=format,
    )
    for line in summary_lines(result):
        print(line)
    return 0
