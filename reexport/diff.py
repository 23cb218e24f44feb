"""Vintage revisions: what changed between two stored vintages of a source (``reexport diff``).

Publishers revise: the GPR workbook at its fixed URL is overwritten every month
and its recent months change; FRED and Comtrade revise too.  :func:`diff_vintages`
parses both vintages with the source's own parser and compares them value by
value, so a result can say which vintage it used and what a newer one changes.

A *value* is one (series, period) cell: for index sources (``gpr``, ``fred``)
the series is the ``series`` column; for the daily GPR file (``gpr_daily``) each
numeric column of :func:`reexport.sources.gpr.parse_daily` (period = day); for
trade sources (``comtrade``, ``userseries``) reporter, partner, flow, HS code and
the measure (``value_usd``, ``net_weight_t``, ``qty``).  A missing (NaN) value
counts as absent: a value that appears is ``added``, one that disappears is
``removed``, one that differs is ``revised`` (compared exactly: both vintages
are read by the same parser from the publisher's bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.quality import json_value

if TYPE_CHECKING:
    from reexport.store import RawStore, Vintage

INDEX_SOURCES = ("gpr", "fred")
TRADE_SOURCES = ("comtrade", "userseries")
DAILY_SOURCE = "gpr_daily"
SOURCES = (*INDEX_SOURCES, DAILY_SOURCE, *TRADE_SOURCES)
TRADE_SERIES = ["reporter", "partner", "flow", "hs", "measure"]
TRADE_MEASURES = ["value_usd", "net_weight_t", "qty"]
CHANGE_COLUMNS = ["period", "status", "old", "new", "abs_change", "rel_change"]
#: Series lines the command prints before pointing at ``--output``.
PRINTED_SERIES = 25


# =========================================================================== values


def series_key(source: str) -> list[str]:
    """The columns naming one series of ``source`` (``period`` is the other key)."""
    if source in TRADE_SOURCES:
        return list(TRADE_SERIES)
    if source in INDEX_SOURCES or source == DAILY_SOURCE:
        return ["series"]
    raise BadInputError(f"diff: unknown source {source!r} (known: {', '.join(SOURCES)})")


def values_of(vintage: Vintage) -> pd.DataFrame:
    """One row per (series, period) value of a vintage, parsed by its source's parser.

    Returns
    -------
    pandas.DataFrame
        :func:`series_key` columns, ``period`` (str) and ``value`` (float).
    """
    source = vintage.source
    key = series_key(source)
    if source == DAILY_SOURCE:
        from reexport.sources import gpr

        daily = gpr.parse_daily(vintage)
        numeric = [c for c in daily.columns if c not in ("date", "DAY", "event")]
        frame = daily.assign(period=daily["date"].dt.strftime("%Y-%m-%d")).melt(
            id_vars=["period"], value_vars=numeric, var_name="series", value_name="value"
        )
    elif source == "fred":
        from reexport.sources import fred

        frame = fred.parse(vintage, full_history=True)
    elif source == "gpr":
        from reexport.sources import gpr

        frame = gpr.parse(vintage)
    else:
        import importlib

        trade = importlib.import_module(f"reexport.sources.{source}").parse(vintage)
        frame = trade.melt(
            id_vars=["period", "reporter", "partner", "flow", "hs"],
            value_vars=TRADE_MEASURES,
            var_name="measure",
            value_name="value",
        )
    frame = frame[[*key, "period", "value"]].astype({"period": str})
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    # Comtrade keeps exact repeats of a record (the build reports them): one value each.
    frame = frame.drop_duplicates()
    clash = frame.duplicated([*key, "period"], keep=False)
    if clash.any():
        row = frame.loc[clash].iloc[0]
        where = " ".join(str(row[k]) for k in [*key, "period"])
        raise BadInputError(
            f"{source} vintage {vintage.id}: two different values for {where}; cannot compare"
        )
    return frame.reset_index(drop=True)


def diff_frames(old: pd.DataFrame, new: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """Every value that differs between two value frames (see :func:`values_of`).

    Parameters
    ----------
    old, new
        Frames with the ``key`` columns, ``period`` and ``value``; one row per key.
    key
        The series columns.

    Returns
    -------
    pandas.DataFrame
        ``key`` columns then :data:`CHANGE_COLUMNS`, sorted by series and period:
        ``status`` is ``added`` / ``removed`` / ``revised``; ``abs_change`` =
        new - old and ``rel_change`` = (new - old) / abs(old) for revisions
        (NaN when old is 0).
    """
    on = [*key, "period"]
    merged = old[[*on, "value"]].merge(
        new[[*on, "value"]], on=on, how="outer", suffixes=("_old", "_new")
    )
    before = merged["value_old"].to_numpy(dtype=float)
    after = merged["value_new"].to_numpy(dtype=float)
    has_old, has_new = ~np.isnan(before), ~np.isnan(after)
    status = np.select(
        [has_old & has_new & (before != after), has_new & ~has_old, has_old & ~has_new],
        ["revised", "added", "removed"],
        default="",
    )
    changed = status != ""
    out = merged.loc[changed, on].reset_index(drop=True)
    out["status"] = status[changed]
    out["old"] = before[changed]
    out["new"] = after[changed]
    revised = out["status"] == "revised"
    out["abs_change"] = (out["new"] - out["old"]).where(revised)
    denominator = out["old"].abs().where(out["old"] != 0)
    out["rel_change"] = (out["abs_change"] / denominator).where(revised)
    out = out.sort_values(on, kind="mergesort").reset_index(drop=True)
    return out[[*key, *CHANGE_COLUMNS]]


# =========================================================================== vintages


def _about(vintage: Vintage) -> dict[str, Any]:
    return {"id": vintage.id, "created": vintage.created, "synthetic": vintage.synthetic}


def _data_request(vintage: Vintage) -> dict[str, Any]:
    """The request without how it was obtained (file imports add their origin and files)."""
    return {k: v for k, v in vintage.request.items() if k not in ("origin", "files")}


def summarise(changes: pd.DataFrame, key: Sequence[str]) -> list[dict[str, Any]]:
    """Per series: how many values were added, removed and revised, where, and the largest revision."""
    out = []
    for series, rows in changes.groupby(list(key), sort=True):
        values = series if isinstance(series, tuple) else (series,)
        revised = rows.loc[rows["status"] == "revised"]
        entry: dict[str, Any] = {k: json_value(v) for k, v in zip(key, values, strict=True)}
        entry.update(
            added=int((rows["status"] == "added").sum()),
            removed=int((rows["status"] == "removed").sum()),
            revised=int(len(revised)),
            first=str(rows["period"].min()),
            last=str(rows["period"].max()),
            largest_revision=None,
        )
        if len(revised):
            position = int(np.argmax(revised["abs_change"].abs().to_numpy()))
            biggest = revised.iloc[position]
            entry["largest_revision"] = {
                "period": str(biggest["period"]),
                **{c: json_value(biggest[c]) for c in ("old", "new", "abs_change", "rel_change")},
            }
        out.append(entry)
    return out


def diff_vintages(old: Vintage, new: Vintage) -> dict[str, Any]:
    """What changed from vintage ``old`` to vintage ``new`` of one source.

    Parameters
    ----------
    old, new
        Two vintages of the same source, both real or both synthetic.

    Returns
    -------
    dict
        JSON-able: ``source``, ``vintage_a`` / ``vintage_b`` (id, created,
        synthetic), ``same_request``, ``series_key``, ``counts`` (values added,
        removed, revised; series changed), ``series`` (:func:`summarise`) and
        ``changes`` (every changed value, as :func:`diff_frames`).

    Raises
    ------
    BadInputError
        For vintages of different sources, or a demo vintage against a real one.
    """
    if old.source != new.source:
        raise BadInputError(
            f"diff: {old.id} is a {old.source} vintage and {new.id} a {new.source} vintage"
        )
    if old.synthetic != new.synthetic:
        demo, real = (old, new) if old.synthetic else (new, old)
        raise BadInputError(
            f"diff: {old.source} vintage {demo.id} is the SYNTHETIC demo and {real.id} is real; "
            "a demo is never compared with real data"
        )
    key = series_key(old.source)
    changes = diff_frames(values_of(old), values_of(new), key)
    status = changes["status"]
    series = summarise(changes, key)
    return {
        "source": old.source,
        "vintage_a": _about(old),
        "vintage_b": _about(new),
        "same_request": _data_request(old) == _data_request(new),
        "series_key": [*key, "period"],
        "counts": {
            "added": int((status == "added").sum()),
            "removed": int((status == "removed").sum()),
            "revised": int((status == "revised").sum()),
            "series_changed": len(series),
        },
        "series": series,
        "changes": [
            {c: json_value(v) for c, v in row.items()} for row in changes.to_dict(orient="records")
        ],
    }


def pick_vintages(
    store: RawStore, source: str, vintage_a: str | None, vintage_b: str | None
) -> tuple[Vintage, Vintage]:
    """The two vintages to compare: as named, or the two newest real ones of ``source``."""
    series_key(source)  # unknown source: one line, exit 2
    if (vintage_a is None) != (vintage_b is None):
        raise BadInputError("diff: name two vintages (VINTAGE_A VINTAGE_B) or none")
    stored = store.vintages(source)
    if vintage_a is None or vintage_b is None:
        real = [v for v in stored if not v.synthetic]
        if len(real) < 2:
            raise BadInputError(
                f"diff: {source} has {len(real)} real vintage(s) in {store.root}; "
                "two are needed (or name two vintages)"
            )
        return real[-2], real[-1]
    by_id = {v.id: v for v in stored}
    for wanted in (vintage_a, vintage_b):
        if wanted not in by_id:
            known = ", ".join(v.id for v in stored[-6:]) or "none"
            raise BadInputError(f"diff: {source} has no vintage {wanted!r} (newest: {known})")
    if vintage_a == vintage_b:
        raise BadInputError(f"diff: both vintages are {vintage_a}")
    return by_id[vintage_a], by_id[vintage_b]


def _number(value: Any) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def summary_lines(result: dict[str, Any], limit: int = PRINTED_SERIES) -> list[str]:
    """The printed summary of :func:`diff_vintages`: a header, then one line per changed series."""
    a, b, counts = result["vintage_a"], result["vintage_b"], result["counts"]
    lines = [
        f"{result['source']}: {a['id']} -> {b['id']}: {counts['series_changed']} series changed "
        f"({counts['revised']} values revised, {counts['added']} added, "
        f"{counts['removed']} removed)"
    ]
    if not result["same_request"]:
        lines.append(
            "note: the two vintages answer different requests; values outside their "
            "overlap show as added or removed"
        )
    key = result["series_key"][:-1]
    for entry in result["series"][:limit]:
        name = " ".join(str(entry[k]) for k in key)
        text = f"  {name}: {entry['first']}..{entry['last']}"
        parts = [f"{entry[s]} {s}" for s in ("revised", "added", "removed") if entry[s]]
        text += " " + ", ".join(parts)
        big = entry["largest_revision"]
        if big is not None:
            rel = "" if big["rel_change"] is None else f", {100 * big['rel_change']:+.2f}%"
            text += (
                f"; largest {big['period']}: {_number(big['old'])} -> {_number(big['new'])} "
                f"({big['abs_change']:+.6g}{rel})"
            )
        lines.append(text)
    if len(result["series"]) > limit:
        lines.append(f"  ... {len(result['series']) - limit} more series (--output FILE.json)")
    return lines


def diff_cli(
    *,
    source: str,
    vintage_a: str | None = None,
    vintage_b: str | None = None,
    output: str | None = None,
) -> int:
    """``reexport diff SOURCE [VINTAGE_A VINTAGE_B] [--output FILE.json]``.

    Prints the summary (:func:`summary_lines`); ``output`` receives the full
    :func:`diff_vintages` result as JSON.  Exit 0 whether or not anything changed.
    """
    from reexport.store import RawStore, atomic_write_text

    old, new = pick_vintages(RawStore(), source, vintage_a, vintage_b)
    result = diff_vintages(old, new)
    if output is not None:
        atomic_write_text(Path(output), json.dumps(result, indent=1, allow_nan=False) + "\n")
    for line in summary_lines(result):
        print(line)
    if output is not None:
        print(f"full list of {len(result['changes'])} changed values: {output}")
    return 0
