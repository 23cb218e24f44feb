"""Caldara-Iacoviello geopolitical-risk (GPR) indices: fetch the publisher's files and tidy them.

Two files, both published at fixed URLs that are overwritten at each update
(so every download is kept as its own raw vintage):

* the monthly ``data_gpr_export.xls`` (source ``gpr``; URL from
  :func:`reexport.config.gpr_url`), and
* the daily ``data_gpr_daily_recent.xls`` (source ``gpr_daily``; URL from
  :func:`reexport.config.gpr_daily_url`).

Units come from the data dictionary the publisher ships inside each file (the
``var_name``/``var_label`` columns, which are not data and are dropped):

* ``GPR``, ``GPRT``, ``GPRA`` -- "Index: 1985:2019=100", unit ``index 1985-2019=100``;
* ``GPRH``, ``GPRHT``, ``GPRHA`` -- "Index: 1900:2019=100", unit ``index 1900-2019=100``;
* ``GPRC_<ISO3>`` -- "Country GPR: Percent of articles", unit ``percent of articles``;
* ``GPRHC_<ISO3>`` -- "Country GPR Historical: Percent of articles", same unit.

The country series are shares of newspaper articles in percent, *not* indices
normalised to 100.  :func:`parse` keeps them as published by default
(``country_scale="share"``); ``country_scale="index"`` rescales each country
series so that its mean over the base period of its family is 100 (1985-2019
for ``GPRC_*``, 1900-2019 for ``GPRHC_*``, mirroring the base the publisher
uses for the aggregate indices), and the ``unit`` column says which scale a
row is on.

Reference: Caldara, D. and Iacoviello, M. (2022), "Measuring Geopolitical
Risk", American Economic Review 112(4): 1194-1225; data page
https://www.matteoiacoviello.com/gpr.htm.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from reexport import config
from reexport.errors import BadInputError, SourceError

if TYPE_CHECKING:
    from reexport.http import HttpClient
    from reexport.store import RawStore, Vintage

log = logging.getLogger(__name__)

MONTHLY_SOURCE = "gpr"
DAILY_SOURCE = "gpr_daily"
MONTHLY_FILE = "data_gpr_export.xls"
DAILY_FILE = "data_gpr_daily_recent.xls"

#: Columns of the tidy index frame, in order (docs/ARCHITECTURE.md, "Sources").
INDEX_COLUMNS = ["period", "series", "value", "unit", "source", "vintage"]

CountryScale = Literal["share", "index"]

RECENT_INDEX_UNIT = "index 1985-2019=100"
HISTORICAL_INDEX_UNIT = "index 1900-2019=100"
SHARE_UNIT = "percent of articles"

#: Aggregate monthly indices kept from the monthly file.
RECENT_SERIES = ("GPR", "GPRT", "GPRA")
HISTORICAL_SERIES = ("GPRH", "GPRHT", "GPRHA")
#: Daily indices aggregated by :func:`monthly_from_daily`.
DAILY_SERIES = ("GPRD", "GPRD_ACT", "GPRD_THREAT")

_COUNTRY_RE = re.compile(r"^GPRC_[A-Z]{3}$")
_HIST_COUNTRY_RE = re.compile(r"^GPRHC_[A-Z]{3}$")
_INDEX_LABEL_RE = re.compile(r"index\s*:?\s*\(?\s*(\d{4})\s*[:\-]\s*(\d{4})\s*=\s*100", re.I)
_DICTIONARY_COLUMNS = ("var_name", "var_label")

#: Base periods (inclusive) for rescaling country shares to an index.
_RECENT_BASE = ("1985-01", "2019-12")
_HISTORICAL_BASE = ("1900-01", "2019-12")


# --------------------------------------------------------------------------- reading bytes


#: What xlrd writes to its log when the bytes end before the workbook does.
_TRUNCATION_MARKS = ("truncated", "not 512 + multiple of sector size", "but only")


def _read_xls(content: bytes, origin: str) -> pd.DataFrame:
    """Open a legacy .xls workbook completely and read its first sheet.

    The whole workbook is parsed (every sheet, not on demand), so a file that
    was cut short cannot pass as complete.  xlrd reports damage on its log
    (by default stdout, three ``WARNING *** File is truncated`` lines); that log
    is captured here and folded into the one-line error instead.

    Raises
    ------
    SourceError
        Naming ``origin``, saying "truncated" when xlrd's log or error shows
        that the bytes end early.
    """
    if not content:
        raise SourceError(f"{origin}: empty file")
    import xlrd

    xlrd_log = io.StringIO()
    try:
        book = xlrd.open_workbook(file_contents=content, logfile=xlrd_log, on_demand=False)
        with warnings.catch_warnings():
            # pandas 3 deprecates the xlrd engine; it is still the engine that reads
            # BIFF8 .xls files without an extra dependency, so the warning is noise here.
            warnings.filterwarnings("ignore", message=".*xlrd engine is deprecated.*")
            frame = pd.read_excel(book, engine="xlrd")
    except Exception as exc:  # xlrd raises several unrelated types for damaged bytes
        said = " ".join(xlrd_log.getvalue().split())
        if any(mark in said for mark in _TRUNCATION_MARKS) or "unpack requires" in str(exc):
            raise SourceError(
                f"{origin}: the .xls workbook is truncated ({len(content):,} bytes; it ends "
                f"before its own structure does: {type(exc).__name__})"
            ) from None
        head = content[:40].decode("latin-1", errors="replace").strip().splitlines()
        first = head[0] if head else ""
        raise SourceError(
            f"{origin}: not a readable .xls workbook ({type(exc).__name__}; starts {first!r})"
        ) from None
    if xlrd_log.getvalue().strip():
        log.debug("%s: xlrd said: %s", origin, " ".join(xlrd_log.getvalue().split()))
    return frame


def _label_unit(label: str) -> str | None:
    """Map a data-dictionary label to our unit string, or ``None`` if it names no known unit."""
    match = _INDEX_LABEL_RE.search(label)
    if match:
        return f"index {match[1]}-{match[2]}=100"
    if "percent of articles" in label.lower():
        return SHARE_UNIT
    return None


def _default_unit(column: str) -> str | None:
    if column in RECENT_SERIES or column in DAILY_SERIES:
        return RECENT_INDEX_UNIT
    if column in HISTORICAL_SERIES:
        return HISTORICAL_INDEX_UNIT
    if _COUNTRY_RE.match(column) or _HIST_COUNTRY_RE.match(column):
        return SHARE_UNIT
    return None


def dictionary_units(frame: pd.DataFrame, columns: Iterable[str]) -> dict[str, str]:
    """Units for ``columns`` read from the file's own data dictionary.

    The publisher stores a dictionary in the ``var_name``/``var_label`` columns
    (e.g. ``GPR`` -> "Recent GPR (Index: 1985:2019=100)").  A column whose
    label is absent or names no recognised unit falls back to the documented
    unit for its family (see the module docstring), with a log message.

    Parameters
    ----------
    frame
        The sheet as read, still holding the dictionary columns.
    columns
        Data columns whose units are wanted.

    Returns
    -------
    dict
        Column name -> unit string.
    """
    labels: dict[str, str] = {}
    if all(c in frame.columns for c in _DICTIONARY_COLUMNS):
        pairs = frame[list(_DICTIONARY_COLUMNS)].dropna()
        labels = {
            str(n).strip(): str(lab)
            for n, lab in zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True)
        }
    units: dict[str, str] = {}
    for column in columns:
        unit = _label_unit(labels[column]) if column in labels else None
        if unit is None:
            unit = _default_unit(column)
            if column in labels:
                log.info("GPR dictionary label for %s (%r) names no unit", column, labels[column])
        if unit is None:
            raise SourceError(f"GPR file: no unit known for column {column!r}")
        units[column] = unit
    return units


def read_monthly(
    content: bytes, *, historical: bool = True, origin: str = "GPR monthly file"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read the monthly workbook into a wide frame keyed by month.

    Parameters
    ----------
    content
        The bytes of ``data_gpr_export.xls`` as published.
    historical
        Also keep ``GPRH``, ``GPRHT``, ``GPRHA`` and every ``GPRHC_*`` column
        (they start in 1900).
    origin
        Where the bytes came from, for error messages.

    Returns
    -------
    (wide, units)
        ``wide`` has a ``period`` column (``YYYY-MM`` strings, unique and
        increasing) and one float column per kept series (``GPR``, ``GPRT``,
        ``GPRA``, every ``GPRC_<ISO3>``, and the historical ones if asked);
        ``units`` maps each series to its unit.

    Raises
    ------
    SourceError
        If the bytes are not the publisher's workbook (not an .xls, no
        ``month`` or ``GPR`` column, months that are not first-of-month dates,
        duplicated months).
    """
    frame = _read_xls(content, origin)
    missing = [c for c in ("month", *RECENT_SERIES) if c not in frame.columns]
    if missing:
        raise SourceError(f"{origin}: missing column(s) {', '.join(missing)}")
    keep = list(RECENT_SERIES) + [c for c in frame.columns if _COUNTRY_RE.match(str(c))]
    if historical:
        keep += [c for c in HISTORICAL_SERIES if c in frame.columns]
        keep += [c for c in frame.columns if _HIST_COUNTRY_RE.match(str(c))]
    units = dictionary_units(frame, keep)

    months = frame["month"]
    rows = months.notna()
    # Below the data the sheet may only hold dictionary rows: they have no month.
    data = frame.loc[rows, ["month", *keep]]
    stamps = pd.to_datetime(data["month"], errors="coerce")
    if stamps.isna().any():
        bad = data.loc[stamps.isna(), "month"].iloc[0]
        raise SourceError(f"{origin}: month value {bad!r} is not a date")
    if (stamps.dt.day != 1).any():
        bad = stamps[stamps.dt.day != 1].iloc[0]
        raise SourceError(f"{origin}: month {bad:%Y-%m-%d} is not the first of a month")
    periods = stamps.dt.strftime("%Y-%m")
    if periods.duplicated().any():
        raise SourceError(f"{origin}: month {periods[periods.duplicated()].iloc[0]} appears twice")
    wide = data[keep].apply(pd.to_numeric, errors="coerce").astype(float)
    wide.insert(0, "period", periods.to_numpy())
    wide = wide.sort_values("period").reset_index(drop=True)
    return wide, units


def rescale_to_index(
    wide: pd.DataFrame, columns: Sequence[str], *, base: tuple[str, str]
) -> pd.DataFrame:
    """Rescale ``columns`` so each has mean 100 over the ``base`` months (inclusive).

    Parameters
    ----------
    wide
        Frame with a ``period`` column (``YYYY-MM``) and the series columns.
    columns
        Series to rescale; the others are returned unchanged.
    base
        First and last month of the base period.

    Returns
    -------
    pandas.DataFrame
        A copy with the rescaled columns.

    Raises
    ------
    SourceError
        If a series has observations but none, or a zero mean, in the base period.
        A column that is blank throughout (the demo workbook leaves the historical
        country columns blank) has nothing to rescale and is left as it is.
    """
    out = wide.copy()
    in_base = (out["period"] >= base[0]) & (out["period"] <= base[1])
    for column in columns:
        if out[column].isna().all():
            continue
        mean = out.loc[in_base, column].mean()
        if not np.isfinite(mean) or mean == 0:
            raise SourceError(
                f"GPR series {column}: cannot rescale to an index, its {base[0]}..{base[1]} "
                f"mean is {mean}"
            )
        out[column] = out[column] / mean * 100.0
    return out


def tidy(wide: pd.DataFrame, units: dict[str, str], *, source: str, vintage: str) -> pd.DataFrame:
    """Turn a wide ``period`` x series frame into the tidy index frame.

    Each series keeps the rows from its first to its last observation; gaps
    inside that span stay as NaN so a missing month is visible, while the
    decades before a series starts (``GPR`` before 1985 in a sheet that runs
    from 1900) are not padded with NaN.

    Parameters
    ----------
    wide
        ``period`` column plus one column per series.
    units
        Series -> unit.
    source, vintage
        Written into the ``source`` and ``vintage`` columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``period, series, value, unit, source, vintage``.
    """
    pieces = []
    for column in wide.columns:
        if column == "period":
            continue
        values = wide[column]
        valid = values.notna().to_numpy().nonzero()[0]
        if len(valid) == 0:
            continue
        span = slice(valid[0], valid[-1] + 1)
        pieces.append(
            pd.DataFrame(
                {
                    "period": wide["period"].iloc[span].to_numpy(),
                    "series": column,
                    "value": values.iloc[span].to_numpy(dtype=float),
                    "unit": units[column],
                }
            )
        )
    if not pieces:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in INDEX_COLUMNS})
        frame["value"] = frame["value"].astype(float)
        return frame
    frame = pd.concat(pieces, ignore_index=True)
    frame["source"] = source
    frame["vintage"] = vintage
    return frame[INDEX_COLUMNS]


def parse_monthly_bytes(
    content: bytes,
    *,
    country_scale: CountryScale = "share",
    historical: bool = True,
    vintage: str = "",
    origin: str = "GPR monthly file",
) -> pd.DataFrame:
    """Parse the monthly workbook's bytes into the tidy index frame.

    Parameters
    ----------
    content
        Bytes of ``data_gpr_export.xls``.
    country_scale
        ``"share"`` keeps ``GPRC_*``/``GPRHC_*`` as published (percent of
        articles); ``"index"`` rescales each to mean 100 over 1985-2019
        (``GPRC_*``) or 1900-2019 (``GPRHC_*``).
    historical
        Keep the 1900- historical series too.
    vintage
        Vintage id written into the ``vintage`` column.
    origin
        Where the bytes came from, for error messages.

    Returns
    -------
    pandas.DataFrame
        The tidy index frame (``period, series, value, unit, source, vintage``).
    """
    if country_scale not in ("share", "index"):
        raise BadInputError(f"country_scale {country_scale!r} is not 'share' or 'index'")
    wide, units = read_monthly(content, historical=historical, origin=origin)
    if country_scale == "index":
        recent = [c for c in wide.columns if _COUNTRY_RE.match(c) and units[c] == SHARE_UNIT]
        hist = [c for c in wide.columns if _HIST_COUNTRY_RE.match(c) and units[c] == SHARE_UNIT]
        wide = rescale_to_index(wide, recent, base=_RECENT_BASE)
        wide = rescale_to_index(wide, hist, base=_HISTORICAL_BASE)
        units = dict(units)
        units.update(dict.fromkeys(recent, RECENT_INDEX_UNIT))
        units.update(dict.fromkeys(hist, HISTORICAL_INDEX_UNIT))
    return tidy(wide, units, source=MONTHLY_SOURCE, vintage=vintage)


def read_daily(content: bytes, *, origin: str = "GPR daily file") -> pd.DataFrame:
    """Read the daily workbook into a frame with one row per day.

    Parameters
    ----------
    content
        Bytes of ``data_gpr_daily_recent.xls``.
    origin
        Where the bytes came from, for error messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (datetime64, from ``DAY``), ``DAY`` (int ``YYYYMMDD``),
        ``GPRD``, ``GPRD_ACT``, ``GPRD_THREAT`` and, when present, ``N10D``,
        ``GPRD_MA30``, ``GPRD_MA7`` and ``event``; sorted by day.  The data
        dictionary columns are dropped.

    Raises
    ------
    SourceError
        If the bytes are not the daily workbook, ``DAY`` is not a valid
        ``YYYYMMDD`` integer, or a day appears twice.
    """
    frame = _read_xls(content, origin)
    missing = [c for c in ("DAY", *DAILY_SERIES) if c not in frame.columns]
    if missing:
        raise SourceError(f"{origin}: missing column(s) {', '.join(missing)}")
    frame = frame.loc[frame["DAY"].notna()]
    day_numbers = pd.to_numeric(frame["DAY"], errors="coerce")
    if day_numbers.isna().any() or (day_numbers % 1 != 0).any():
        bad = frame.loc[day_numbers.isna() | (day_numbers % 1 != 0), "DAY"].iloc[0]
        raise SourceError(f"{origin}: DAY value {bad!r} is not an integer YYYYMMDD")
    days = day_numbers.astype("int64")
    dates = pd.to_datetime(days.astype(str), format="%Y%m%d", errors="coerce")
    if dates.isna().any():
        raise SourceError(f"{origin}: DAY value {days[dates.isna()].iloc[0]} is not a date")
    if dates.duplicated().any():
        raise SourceError(f"{origin}: DAY {days[dates.duplicated()].iloc[0]} appears twice")
    optional = [c for c in ("N10D", "GPRD_MA30", "GPRD_MA7") if c in frame.columns]
    out = pd.DataFrame({"date": dates.to_numpy(), "DAY": days.to_numpy()})
    for column in (*DAILY_SERIES, *optional):
        out[column] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    if "event" in frame.columns:
        out["event"] = frame["event"].astype(object).where(frame["event"].notna(), "").to_numpy()
    out.attrs["units"] = dictionary_units(frame, DAILY_SERIES)
    return out.sort_values("date").reset_index(drop=True)


def monthly_from_daily(
    frame: pd.DataFrame,
    *,
    series: Sequence[str] = DAILY_SERIES,
    complete_only: bool = True,
    vintage: str = "",
) -> pd.DataFrame:
    """Aggregate the daily indices to monthly means, as a tidy index frame.

    The monthly mean of ``GPRD`` is close to, but not the same number as, the
    monthly ``GPR`` (the publisher computes that from monthly article counts);
    the series keep their daily names so the two are never confused.

    Parameters
    ----------
    frame
        Output of :func:`read_daily` (needs ``date`` and the ``series`` columns).
    series
        Daily columns to aggregate.
    complete_only
        Drop months that do not have every calendar day (the last month of a
        file published mid-month), so a partial month never looks complete.
    vintage
        Vintage id for the ``vintage`` column.

    Returns
    -------
    pandas.DataFrame
        Tidy index frame with ``source`` ``gpr_daily``.
    """
    missing = [c for c in ("date", *series) if c not in frame.columns]
    if missing:
        raise BadInputError(f"daily GPR frame lacks column(s) {', '.join(missing)}")
    months = frame["date"].dt.to_period("M")
    grouped = frame.groupby(months)
    means = grouped[list(series)].mean()
    if complete_only:
        counts = grouped["date"].nunique()
        full = counts == pd.PeriodIndex(counts.index).days_in_month
        dropped = list(counts.index[~full].astype(str))
        if dropped:
            log.info("GPR daily: dropping incomplete month(s) %s", ", ".join(dropped))
        means = means.loc[full]
    wide = means.reset_index(drop=False)
    wide = wide.rename(columns={wide.columns[0]: "period"})
    wide["period"] = wide["period"].astype(str)
    units = dict(frame.attrs.get("units", {}))
    for column in series:
        units.setdefault(column, _default_unit(column) or RECENT_INDEX_UNIT)
    return tidy(wide, units, source=DAILY_SOURCE, vintage=vintage)


# --------------------------------------------------------------------------- store + network


def parse(
    vintage: Vintage, *, country_scale: CountryScale = "share", historical: bool = True
) -> pd.DataFrame:
    """Tidy index frame from a stored ``gpr`` or ``gpr_daily`` vintage.

    Parameters
    ----------
    vintage
        A raw vintage of source ``gpr`` (monthly file) or ``gpr_daily`` (daily
        file, aggregated to complete-month means by :func:`monthly_from_daily`).
    country_scale
        ``"share"`` (default, as published) or ``"index"``; see the module docstring.
    historical
        Keep the 1900- historical series of the monthly file.

    Returns
    -------
    pandas.DataFrame
        ``period, series, value, unit, source, vintage``.
    """
    name, content = _single_file(vintage)
    origin = f"{vintage.source} vintage {vintage.id} file {name}"
    if vintage.source == DAILY_SOURCE:
        return monthly_from_daily(read_daily(content, origin=origin), vintage=vintage.id)
    if vintage.source != MONTHLY_SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not gpr")
    return parse_monthly_bytes(
        content,
        country_scale=country_scale,
        historical=historical,
        vintage=vintage.id,
        origin=origin,
    )


def parse_daily(vintage: Vintage) -> pd.DataFrame:
    """The daily frame (one row per day, see :func:`read_daily`) of a ``gpr_daily`` vintage."""
    if vintage.source != DAILY_SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not gpr_daily")
    name, content = _single_file(vintage)
    frame = read_daily(content, origin=f"gpr_daily vintage {vintage.id} file {name}")
    frame.attrs["vintage"] = vintage.id
    return frame


def _single_file(vintage: Vintage) -> tuple[str, bytes]:
    names = [str(f["name"]) for f in vintage.files]
    if len(names) != 1:
        raise SourceError(
            f"{vintage.source} vintage {vintage.id} holds {len(names)} files, expected one"
        )
    return names[0], vintage.read_bytes(names[0])


def fetch(
    *,
    daily: bool = False,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    refresh: bool = False,
    offline: bool = False,
) -> Vintage:
    """Download the monthly (or daily) GPR file into the raw store, bytes as received.

    The body is checked before anything is stored: it must be an .xls
    workbook with the expected columns (an HTML error page served with status
    200 is refused).  A bad body is fetched again a couple of times, then
    ``SourceError`` is raised and nothing is written.

    Parameters
    ----------
    daily
        Fetch the daily file (source ``gpr_daily``) instead of the monthly one.
    store
        Raw store (default: the one under :func:`reexport.config.raw_dir`).
    client
        HTTP client (default: a new :class:`reexport.http.HttpClient`).
    refresh
        Download again into a new vintage even if this request is stored.
    offline
        Make no network call; return the stored vintage for this request.

    Returns
    -------
    Vintage
        The stored (new or existing) vintage.
    """
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    source, url, name = _target(daily)
    request = {"dataset": source, "url": url, "file": name}
    if not refresh:
        existing = store.find(source, request)
        if existing is not None:
            return existing
    if offline:
        raise SourceError(
            f"offline: no stored {source} vintage for {url}; run `reexport fetch gpr"
            f"{' --daily' if daily else ''}` without --offline first"
        )
    from reexport.http import HttpClient

    client = client if client is not None else HttpClient()
    check = read_daily if daily else read_monthly
    last_error: SourceError | None = None
    for _attempt in range(_BODY_ATTEMPTS):
        response = client.get(url)
        if response.status_code != 200:
            raise SourceError(f"{source}: {url} answered HTTP {response.status_code}")
        try:
            check(response.content, origin=f"{source} download from {url}")
        except SourceError as exc:
            last_error = exc
            log.warning("%s; fetching again", exc)
            continue
        with store.writer(source, request) as writer:
            writer.add(
                name,
                response.content,
                url=url,
                params={},
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
            )
        assert writer.vintage is not None  # set when the `with` block exits cleanly
        return writer.vintage
    assert last_error is not None
    raise SourceError(f"{last_error} (after {_BODY_ATTEMPTS} attempts; nothing stored)")


#: How many times a body that is not the expected workbook is fetched before giving up.
_BODY_ATTEMPTS = 3


def _target(daily: bool) -> tuple[str, str, str]:
    if daily:
        return DAILY_SOURCE, config.gpr_daily_url(), DAILY_FILE
    return MONTHLY_SOURCE, config.gpr_url(), MONTHLY_FILE


def import_file(
    path: str | os.PathLike[str], *, daily: bool = False, store: RawStore | None = None
) -> tuple[Vintage, bool]:
    """Store a GPR workbook the user downloaded by hand as a real vintage, byte for byte.

    The file gets the checks a download gets: it must open fully as the monthly
    (or, with ``daily``, the daily) workbook, with the expected columns; a
    truncated or HTML file and the SYNTHETIC demo workbook are refused.  See
    :mod:`reexport.sources.from_file` for how its origin is recorded.

    Parameters
    ----------
    path
        The ``.xls`` file.
    daily
        It is the daily file (source ``gpr_daily``).
    store
        Raw store (default under :func:`reexport.config.raw_dir`).

    Returns
    -------
    (Vintage, bool)
        The vintage, and whether this very file was already imported.

    Raises
    ------
    BadInputError
        For a missing, unreadable, damaged or demo file (nothing is stored).
    """
    from reexport.sources import from_file
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    local = from_file.read_local_file(path)
    source, _url, name = _target(daily)
    try:
        (read_daily if daily else read_monthly)(local.content, origin=local.label)
    except SourceError as exc:
        raise from_file.as_bad_input(exc) from None
    request = from_file.file_request({"dataset": source, "file": name}, [local])
    return from_file.store_files(store, source, request, [(name, local)])


def fetch_cli(
    *,
    daily: bool = False,
    refresh: bool = False,
    offline: bool = False,
    from_file: str | None = None,
) -> int | None:
    """``reexport fetch gpr [--daily] [--refresh|--offline] [--from-file PATH]``: fetch, summarise.

    With ``from_file`` nothing is downloaded: the file is imported by :func:`import_file`.
    """
    from reexport.store import RawStore

    store = RawStore()
    source, _url, _name = _target(daily)
    if from_file is not None:
        vintage, warm = import_file(from_file, daily=daily, store=store)
        how = f"{'warm: already imported' if warm else 'imported'} from the file {Path(from_file).name}"
    else:
        before = {v.id for v in store.vintages(source)}
        vintage = fetch(daily=daily, store=store, refresh=refresh, offline=offline)
        how = "warm: already stored" if vintage.id in before else "downloaded"
    frame = parse(vintage)
    periods = frame.loc[frame["series"] == ("GPRD" if daily else "GPR"), "period"]
    span = f"{periods.min()}..{periods.max()}" if len(periods) else "no months"
    print(
        f"{source}: vintage {vintage.id} ({how}), "
        f"{len(vintage.files)} file, {frame['series'].nunique()} series, {len(frame)} rows, "
        f"{span}"
    )
    return 0
