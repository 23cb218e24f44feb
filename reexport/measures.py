"""Supplier-concentration measures on tidy trade frames (layer 3, pure pandas).

:func:`supplier_shares` turns a reporter's imports by partner into one row per
(period, product): the total, each requested partner's (or partner group's) value
and share, the Herfindahl-Hirschman index of the suppliers and their number.

Conventions
-----------
Total (the denominator of every share)
    The World row (partner ``WLD``) when the cell has one, else the sum of the
    country partners.  Area groups ("Areas, nes", EU, ASEAN ... and ``WLD``
    itself) never count as suppliers: with a World row the value that Comtrade
    leaves unallocated (or books to areas) stays in the denominator, so the
    country shares may sum to less than one, as they do in the real data.
    ``partners_total`` is the sum over country partners, whichever is used.
Missing versus zero
    Comtrade omits zero flows: a partner with no row in a month for which the
    reporter reported anything is a zero flow (value 0, share 0).  A month with
    no row at all for a product is *missing*: the row is kept, with NaN in every
    measure (never 0), for every month between the first and last month of the
    frame.  A partner row whose value is NaN makes its own share and the HHI and
    supplier count of that cell NaN (they cannot be known), and so are
    ``partners_total`` and, without a World row, the total and every share.
HHI
    On the 0-10,000 scale of competition policy (US DOJ/FTC Horizontal Merger
    Guidelines): the sum of squared percentage shares of the country partners,
    shares taken against the total above.  10,000 is a single supplier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from reexport.errors import BadInputError

#: Partner code of the World row in tidy trade frames.
WORLD = "WLD"
#: HHI scale: squared percentage shares (0..10,000).
HHI_SCALE = 10_000.0

_COUNTRY_CODE = re.compile(r"^[A-Z]{3}$")


def _default_is_group(code: str) -> bool:
    """World, and any code that is not three capital letters (Comtrade's ``_X``, ``X1``...).

    Pass :func:`reexport.sources.areas.is_group` for the official area table's rule.
    """
    return code == WORLD or not _COUNTRY_CODE.match(code)


def supplier_shares(
    trade: pd.DataFrame,
    *,
    by: Sequence[str] = ("period", "hs"),
    partner: str = "partner",
    value: str = "value_usd",
    partners: Sequence[str] = (),
    groups: Mapping[str, Sequence[str]] | None = None,
    is_group: Callable[[str], bool] | None = None,
) -> pd.DataFrame:
    """Supplier shares, HHI and number of suppliers per cell of ``by``.

    Parameters
    ----------
    trade
        Tidy trade frame (docs/ARCHITECTURE.md) of one reporter and flow, or with
        ``reporter``/``flow`` among ``by``; partner rows and, optionally, the World row.
    by
        Cell columns; with ``period`` among them every month (or year) between the
        frame's first and last period is present, missing ones as NaN rows.
    partner, value
        Partner code column (ISO3; ``WLD`` for the World row) and value column.
    partners
        Partners (ISO3) that get ``value_<ISO3>`` and ``share_<ISO3>`` columns.
    groups
        Named partner groups, e.g. ``{"IND_SEA": ["IND", "VNM", "THA", "MYS"]}``, each
        getting ``value_<name>`` and ``share_<name>`` (the sum over its members).
    is_group
        Whether a partner code is an area rather than a country (default: ``WLD`` and
        codes that are not three letters).

    Returns
    -------
    pandas.DataFrame
        One row per cell, sorted by ``by``: the ``by`` columns, ``total``,
        ``partners_total``, ``has_world`` (bool), ``value_*`` and ``share_*`` for each
        partner then each group, ``hhi`` (0-10,000) and ``n_suppliers`` (country
        partners with a positive value; float, NaN when unknown).

    Raises
    ------
    BadInputError
        A missing column, several reporters or flows not separated by ``by``, a
        partner repeated within a cell, a negative value, or a bad group.
    """
    cells = list(by)
    needed = [*cells, partner, value]
    missing = [c for c in needed if c not in trade.columns]
    if missing:
        raise BadInputError(f"supplier_shares: the trade frame has no column(s) {missing}")
    if not cells:
        raise BadInputError("supplier_shares: 'by' names no column")
    for column in ("reporter", "flow"):
        if column in trade.columns and column not in cells and trade[column].nunique() > 1:
            raise BadInputError(
                f"supplier_shares: the trade frame mixes {trade[column].nunique()} values of "
                f"{column!r}; filter it or add {column!r} to 'by'"
            )
    group_members = _check_groups(groups or {}, partners)
    frame = trade.loc[:, needed].copy()
    if "period" in cells:
        frame["period"] = frame["period"].astype(str)
        _period_range(frame["period"])  # checks the period format before anything else
    frame[partner] = frame[partner].astype(str).str.strip().str.upper()
    frame[value] = pd.to_numeric(frame[value], errors="coerce").astype(float)
    if (frame[value] < 0).any():
        bad = frame.loc[frame[value] < 0].iloc[0]
        raise BadInputError(
            f"supplier_shares: negative {value} {bad[value]} for partner {bad[partner]}"
        )
    repeated = frame.duplicated([*cells, partner])
    if repeated.any():
        row = frame.loc[repeated].iloc[0]
        key = ", ".join(f"{c}={row[c]}" for c in [*cells, partner])
        raise BadInputError(f"supplier_shares: more than one row for {key}")

    area = is_group or _default_is_group
    is_area = frame[partner].map(lambda code: bool(area(code)))
    world = frame.loc[frame[partner] == WORLD].set_index(cells)[value]
    countries = frame.loc[~is_area]
    keyed = countries.set_index([*cells, partner])[value]
    index = _cell_index(frame, cells)
    wide = keyed.unstack(partner).reindex(index)
    has_row = pd.Series(1.0, index=keyed.index).unstack(partner).reindex(index)
    reported = pd.Series(index.isin(frame.set_index(cells).index), index=index)
    # A reported cell without a partner's row is a zero flow; an unreported cell stays NaN,
    # and so does a partner whose row holds NaN.
    values = wide.where(has_row.notna() | ~reported.to_numpy()[:, None], 0.0)
    values = values.where(reported, np.nan, axis=0)

    # An unknown partner value makes the partner sum unknown (NaN), not smaller.
    partners_total = values.sum(axis=1, skipna=False).where(reported)
    world_value = world.reindex(index)
    total = world_value.where(world_value.notna(), partners_total)
    out = pd.DataFrame(index=index)
    out["total"] = total
    out["partners_total"] = partners_total
    out["has_world"] = world_value.notna().to_numpy()
    positive_total = total.where(total > 0)
    for name, members in [*((p, (p,)) for p in partners), *group_members.items()]:
        # A member absent from the whole frame has a zero flow wherever the cell is reported.
        part = values.reindex(columns=list(members), fill_value=0.0).where(reported, np.nan, axis=0)
        column_value = part.sum(axis=1, min_count=len(members)).where(reported)
        out[f"value_{name}"] = column_value
        out[f"share_{name}"] = column_value / positive_total
    shares = values.div(positive_total, axis=0)
    complete = values.notna().all(axis=1) & positive_total.notna()
    out["hhi"] = (HHI_SCALE * (shares**2).sum(axis=1)).where(complete)
    out["n_suppliers"] = (values > 0).sum(axis=1).astype(float).where(complete | (total == 0))
    return out.reset_index()


def _check_groups(
    groups: Mapping[str, Sequence[str]], partners: Sequence[str]
) -> dict[str, tuple[str, ...]]:
    checked: dict[str, tuple[str, ...]] = {}
    for name, members in groups.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", str(name)):
            raise BadInputError(f"supplier_shares: group name {name!r} must be letters/digits/_")
        if name in partners:
            raise BadInputError(f"supplier_shares: group {name!r} has a partner's name")
        codes = tuple(str(m).strip().upper() for m in members)
        if not codes or len(set(codes)) != len(codes):
            raise BadInputError(f"supplier_shares: group {name!r} is empty or repeats a member")
        checked[str(name)] = codes
    return checked


def _cell_index(frame: pd.DataFrame, cells: list[str]) -> pd.Index:
    """Every cell of the frame; with ``period`` in ``cells``, every period between its ends."""
    observed = frame[cells].drop_duplicates()
    if "period" not in cells:
        return _as_index(observed, cells)
    periods = _period_range(frame["period"])
    others = [c for c in cells if c != "period"]
    if others:
        keys = observed[others].drop_duplicates()
        grid = keys.merge(pd.DataFrame({"period": periods}), how="cross")
    else:
        grid = pd.DataFrame({"period": periods})
    return _as_index(grid[cells].sort_values(cells), cells)


def _as_index(table: pd.DataFrame, cells: list[str]) -> pd.Index:
    ordered = table.sort_values(cells)
    if len(cells) == 1:
        return pd.Index(ordered[cells[0]].to_list(), name=cells[0])
    return pd.MultiIndex.from_frame(ordered)


def _period_range(periods: pd.Series) -> list[str]:
    """Every ``YYYY-MM`` (or ``YYYY``) period from the first to the last in ``periods``."""
    text = periods.astype(str)
    if text.str.fullmatch(r"\d{4}-\d{2}").all():
        span = pd.period_range(text.min(), text.max(), freq="M")
    elif text.str.fullmatch(r"\d{4}").all():
        span = pd.period_range(text.min(), text.max(), freq="Y")
    else:
        bad = text[~text.str.fullmatch(r"\d{4}(-\d{2})?")]
        first = bad.iloc[0] if len(bad) else text.iloc[0]
        raise BadInputError(
            f"supplier_shares: period {first!r} is not YYYY-MM or YYYY (or mixes the two)"
        )
    return [str(p) for p in span]
