"""FRED monthly series (controls such as EXCHUS, INDPRO) from the keyless CSV download.

``GET {config.fred_url()}?id=SERIES`` (default
``https://fred.stlouisfed.org/graph/fredgraph.csv``) returns the whole history
of one series as CSV::

    observation_date,EXCHUS
    2017-01-01,6.8876
    2017-02-01,.

The date column is called ``observation_date`` in current downloads and
``DATE`` in older ones; both are accepted.  A ``.`` marks a missing value.
Each series is stored as its own file (``EXCHUS.csv``) in one raw vintage per
request; :func:`parse` keeps the months of the request (``start``..``end``).
Only monthly series are accepted (every date the first of a month).
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reexport import config
from reexport.errors import BadInputError, SourceError
from reexport.periods import Month, parse_month

if TYPE_CHECKING:
    from reexport.http import HttpClient
    from reexport.store import RawStore, Vintage

log = logging.getLogger(__name__)

SOURCE = "fred"
INDEX_COLUMNS = ["period", "series", "value", "unit", "source", "vintage"]
DATE_COLUMNS = ("observation_date", "DATE")
#: How many times a body that is not a FRED CSV is fetched before giving up.
BODY_ATTEMPTS = 3

#: Units of the series the studies use (from the FRED series pages).  Other ids are
#: accepted; their unit is recorded as ``UNKNOWN_UNIT``.
UNITS = {
    "EXCHUS": "CNY per USD",
    "INDPRO": "index 2017=100",
    "CPIAUCSL": "index 1982-1984=100",
    "FEDFUNDS": "percent",
    "UNRATE": "percent",
    "TWEXBGSMTH": "index Jan 2006=100",
}
UNKNOWN_UNIT = "see FRED series notes"

_SERIES_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,39}$")


def parse_series_list(text: str | Sequence[str]) -> list[str]:
    """Parse ``--series``: comma-separated FRED ids, upper-cased, duplicates removed, order kept.

    Raises
    ------
    BadInputError
        For an empty list or an id that is not letters, digits and underscores.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    ids: list[str] = []
    for item in items:
        series_id = item.strip().upper()
        if not series_id:
            continue
        if not _SERIES_RE.match(series_id):
            raise BadInputError(f"--series: {item.strip()!r} is not a FRED series id")
        if series_id not in ids:
            ids.append(series_id)
    if not ids:
        raise BadInputError(f"--series {text!r}: name at least one FRED series id")
    return ids


def read_csv(
    content: bytes, series_id: str, *, origin: str = "FRED CSV"
) -> list[tuple[str, float]]:
    """Read one FRED CSV body into ``(YYYY-MM, value)`` pairs.

    Parameters
    ----------
    content
        The body as downloaded.
    series_id
        The id that must head the value column.
    origin
        Where the bytes came from, for messages.

    Returns
    -------
    list of (str, float)
        One pair per row in file order; ``.`` or an empty cell gives NaN.

    Raises
    ------
    SourceError
        For a body that is not this series' CSV (HTML page, wrong header,
        unreadable number), a date that is not the first of a month (not a
        monthly series) or a month that appears twice.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{origin}: not UTF-8 text, so not a FRED CSV") from None
    if text.lstrip()[:1] == "<":
        raise SourceError(f"{origin}: an HTML page, not a FRED CSV")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SourceError(f"{origin}: empty body, not a FRED CSV")
    header = [h.strip() for h in rows[0]]
    if len(header) != 2 or header[0] not in DATE_COLUMNS or header[1].upper() != series_id:
        raise SourceError(
            f"{origin}: header {','.join(header)[:80]!r} is not "
            f"'observation_date,{series_id}' (or 'DATE,{series_id}')"
        )
    pairs: list[tuple[str, float]] = []
    seen: set[str] = set()
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise SourceError(f"{origin} line {line_number}: {len(row)} fields, expected 2")
        date_text, value_text = row[0].strip(), row[1].strip()
        try:
            month = parse_month(date_text, what=f"{origin} line {line_number} date")
        except BadInputError as exc:
            raise SourceError(f"{exc} (only monthly FRED series are supported)") from None
        period = str(month)
        if period in seen:
            raise SourceError(f"{origin} line {line_number}: month {period} appears twice")
        seen.add(period)
        if value_text in (".", ""):
            value = math.nan
        else:
            try:
                value = float(value_text)
            except ValueError:
                raise SourceError(
                    f"{origin} line {line_number}: value {value_text!r} is not a number"
                ) from None
        pairs.append((period, value))
    return pairs


def tidy(
    pairs: Sequence[tuple[str, float]],
    series_id: str,
    *,
    vintage: str = "",
    start: Month | None = None,
    end: Month | None = None,
) -> pd.DataFrame:
    """Tidy index frame of one series, optionally restricted to ``start``..``end``."""
    frame = pd.DataFrame(pairs, columns=["period", "value"])
    frame["period"] = frame["period"].astype(object)
    frame["value"] = frame["value"].astype(float)
    if start is not None:
        frame = frame.loc[frame["period"] >= str(start)]
    if end is not None:
        frame = frame.loc[frame["period"] <= str(end)]
    frame.insert(1, "series", series_id)
    frame["unit"] = UNITS.get(series_id, UNKNOWN_UNIT)
    frame["source"] = SOURCE
    frame["vintage"] = vintage
    return frame[INDEX_COLUMNS].sort_values("period").reset_index(drop=True)


def parse(vintage: Vintage, *, full_history: bool = False) -> pd.DataFrame:
    """Tidy index frame of every series of a stored ``fred`` vintage.

    Parameters
    ----------
    vintage
        A raw vintage of source ``fred`` (one ``<ID>.csv`` per series).
    full_history
        Keep every month in the files instead of the request's ``start``..``end``.

    Returns
    -------
    pandas.DataFrame
        ``period, series, value, unit, source, vintage``.
    """
    if vintage.source != SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not fred")
    request = vintage.request
    start = None if full_history or not request.get("start") else parse_month(request["start"])
    end = None if full_history or not request.get("end") else parse_month(request["end"])
    frames = []
    for record in vintage.files:
        name = str(record["name"])
        series_id = name.removesuffix(".csv")
        pairs = read_csv(
            vintage.read_bytes(name), series_id, origin=f"fred vintage {vintage.id} file {name}"
        )
        frames.append(tidy(pairs, series_id, vintage=vintage.id, start=start, end=end))
    if not frames:
        return tidy([], "", vintage=vintage.id).iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def make_request(
    series: str | Sequence[str] = "EXCHUS,INDPRO", start: str = "2017-01", end: str = "2024-12"
) -> dict[str, Any]:
    """The logical request (validated): series ids and the month span."""
    ids = parse_series_list(series)
    first = parse_month(start, what="--start")
    last = parse_month(end, what="--end")
    if last < first:
        raise BadInputError(f"--start {first} is after --end {last}")
    return {"series": ids, "start": str(first), "end": str(last)}


def fetch(
    series: str | Sequence[str] = "EXCHUS,INDPRO",
    start: str = "2017-01",
    end: str = "2024-12",
    *,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    refresh: bool = False,
    offline: bool = False,
) -> Vintage:
    """Download each series' CSV into one raw vintage (or reuse the stored one).

    Parameters
    ----------
    series
        FRED ids, comma-separated or as a list.
    start, end
        Months the tidy frame will keep (the files hold the whole history).
    store, client
        Raw store and HTTP client (defaults: new ones from the configuration).
    refresh
        Download again even if this request is stored.
    offline
        Make no network call; return the stored vintage or raise.

    Returns
    -------
    Vintage
        The stored vintage.

    Raises
    ------
    SourceError
        When a download fails after retries or is not the series' CSV; nothing is stored.
    """
    from reexport.store import RawStore

    request = make_request(series, start, end)
    store = store if store is not None else RawStore()
    if not refresh:
        existing = store.find(SOURCE, request)
        if existing is not None:
            return existing
    if offline:
        raise SourceError(
            f"offline: no stored fred vintage for {','.join(request['series'])} "
            f"{request['start']}..{request['end']}; run the fetch without --offline first"
        )
    from reexport.http import HttpClient

    client = client if client is not None else HttpClient()
    url = config.fred_url()
    last_wanted = parse_month(request["end"])
    with store.writer(SOURCE, request) as writer:
        for series_id in request["series"]:
            response = _download_complete(client, url, series_id, last_wanted)
            writer.add(
                f"{series_id}.csv",
                response.content,
                url=client.loggable_url(response),
                params={"id": series_id},
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
            )
    assert writer.vintage is not None  # set when the `with` block exits cleanly
    return writer.vintage


def last_month(pairs: Sequence[tuple[str, float]]) -> str | None:
    """The last month a FRED CSV lists (a ``.`` row counts: FRED listed the month)."""
    return max((period for period, _ in pairs), default=None)


def _download_complete(client: HttpClient, url: str, series_id: str, end: Month) -> Any:
    """Download one series' CSV until a body is provably complete.

    A FRED CSV carries no length of its own and may come without
    ``Content-Length``: a body cut at a line boundary looks like a valid CSV
    that stops early.  So a body must reach the requested ``end`` month, or
    FRED must say the series really ends where the body does: asked for the
    observations from the month after the body's last one (``cosd``), it
    lists none.  A short body is a failed attempt; after :data:`BODY_ATTEMPTS`
    a ``SourceError`` is raised (and the caller stores nothing).
    """
    origin = f"fred download of {series_id}"
    check = functools.partial(read_csv, series_id=series_id, origin=origin)
    problem = ""
    for attempt in range(1, BODY_ATTEMPTS + 1):
        response, pairs = client.get_checked(
            url, check, params={"id": series_id}, attempts=BODY_ATTEMPTS
        )
        last = last_month(pairs)
        if last is not None and last >= str(end):
            return response
        if last is not None and _fred_lists_nothing_after(client, url, series_id, last):
            log.info("%s: FRED lists no observation after %s, the series' last", origin, last)
            return response
        problem = (
            f"{origin}: the CSV ends at {last or 'no month'}, before the requested end {end}, "
            "and FRED lists later observations, so the body is short"
        )
        log.warning("%s (attempt %d/%d)", problem, attempt, BODY_ATTEMPTS)
    raise SourceError(f"{problem}; gave up after {BODY_ATTEMPTS} attempts, nothing stored")


def _fred_lists_nothing_after(client: HttpClient, url: str, series_id: str, last: str) -> bool:
    """Whether FRED, asked for ``series_id`` from the month after ``last``, lists no month."""
    following = parse_month(last).shift(1)
    try:
        _response, pairs = client.get_checked(
            url,
            functools.partial(read_csv, series_id=series_id, origin=f"fred check of {series_id}"),
            params={"id": series_id, "cosd": f"{following}-01"},
            attempts=1,
        )
    except SourceError as exc:
        log.info("fred: could not confirm the end of %s: %s", series_id, exc)
        return False
    return not any(period > last for period, _ in pairs)


def coverage(frame: pd.DataFrame, series: Sequence[str], start: str, end: str) -> list[str]:
    """Per series, ``"ID n/N months"``: months of ``start..end`` stored with a value, of all.

    Months absent from the file and months FRED lists as ``.`` both count as missing,
    so a summary can never claim more than the vintage holds.
    """
    from reexport.periods import month_range

    wanted = [str(m) for m in month_range(parse_month(start), parse_month(end))]
    parts = []
    for series_id in series:
        rows = frame.loc[(frame["series"] == series_id) & frame["value"].notna(), "period"]
        have = len(set(rows) & set(wanted))
        parts.append(f"{series_id} {have}/{len(wanted)} months")
    return parts


def _header_series(content: bytes) -> str:
    """The series id a FRED CSV's header names (``"?"`` when the header is not FRED's)."""
    first = content[:200].decode("utf-8-sig", errors="replace").splitlines()[:1]
    cells = [c.strip() for c in first[0].split(",")] if first else []
    return cells[1].upper() if len(cells) == 2 and cells[1] else "?"


def import_files(
    paths: Sequence[str | os.PathLike[str]],
    start: str = "2017-01",
    end: str = "2024-12",
    *,
    series: str | Sequence[str] | None = None,
    store: RawStore | None = None,
) -> tuple[Vintage, bool]:
    """Store FRED CSVs the user downloaded by hand (one per series) as one real vintage.

    Each file gets a download's checks: it must be a monthly FRED CSV of the
    series its header names, and it must reach ``end`` (a file cannot be asked,
    as FRED can, whether the series ends earlier, so a file that stops before
    ``end`` is refused: it may be cut short).  Files are stored byte for byte as
    ``<ID>.csv``; see :mod:`reexport.sources.from_file` for the provenance.

    Parameters
    ----------
    paths
        One CSV per series (``fredgraph.csv`` as the FRED site serves it).
    start, end
        The months the vintage answers for (as ``reexport fetch fred``).
    series
        If given, the ids the files must hold (in any order).
    store
        Raw store (default under :func:`reexport.config.raw_dir`).

    Returns
    -------
    (Vintage, bool)
        The vintage, and whether these very files were already imported.

    Raises
    ------
    BadInputError
        For a missing or unreadable file, one that is not a monthly FRED CSV, that
        ends before ``end``, a series given twice, or ids other than ``series``.
    """
    from reexport.sources import from_file
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    locals_ = [from_file.read_local_file(p) for p in paths]
    if not locals_:
        raise BadInputError("--from-file: name at least one FRED CSV")
    ids: list[str] = []
    wanted_end = parse_month(end, what="--end")
    for local in locals_:
        series_id = _header_series(local.content)
        try:
            pairs = read_csv(local.content, series_id, origin=local.label)
        except SourceError as exc:
            raise from_file.as_bad_input(exc) from None
        last = last_month(pairs)
        if last is None or last < str(wanted_end):
            raise BadInputError(
                f"{local.label}: the {series_id} CSV ends at {last or 'no month'}, before "
                f"--end {wanted_end}, so it may be cut short; download it again with every "
                f"observation, or pass --end {last}"
                if last
                else f"{local.label}: the {series_id} CSV holds no observation"
            )
        if series_id in ids:
            raise BadInputError(f"{local.label}: a second file for series {series_id}")
        ids.append(series_id)
    if series is not None and sorted(parse_series_list(series)) != sorted(ids):
        raise BadInputError(
            f"--series {','.join(parse_series_list(series))}: the files hold {','.join(ids)}"
        )
    request = from_file.file_request(make_request(ids, start, end), locals_)
    return from_file.store_files(
        store,
        SOURCE,
        request,
        [(f"{sid}.csv", local) for sid, local in zip(ids, locals_, strict=True)],
    )


def fetch_cli(
    *,
    series: str | None = None,
    start: str = "2017-01",
    end: str = "2024-12",
    refresh: bool = False,
    offline: bool = False,
    from_file: Sequence[str] | None = None,
) -> int | None:
    """``reexport fetch fred [--series ...] [--start ...] [--end ...] [--from-file CSV ...]``.

    Fetches (or, with ``from_file``, imports by :func:`import_files`) and prints what
    the vintage holds: per series the months of the request stored with a value.
    """
    from reexport.http import HttpClient
    from reexport.store import RawStore

    store = RawStore()
    if from_file:
        vintage, warm = import_files(from_file, start, end, series=series, store=store)
        names = ", ".join(Path(p).name for p in from_file)
        how = f"{'warm: already imported' if warm else 'imported'} from {names}"
    else:
        before = {v.id for v in store.vintages(SOURCE)}
        with HttpClient() as client:
            vintage = fetch(
                series or "EXCHUS,INDPRO",
                start,
                end,
                store=store,
                client=client,
                refresh=refresh,
                offline=offline,
            )
            calls = client.calls
        warm = vintage.id in before
        how = "warm: already stored, 0 calls" if warm else f"downloaded, {calls} HTTP calls"
    frame = parse(vintage)
    series_ids = [str(name).removesuffix(".csv") for name in vintage.names]
    request = vintage.request
    print(
        f"fred: vintage {vintage.id} ({how}), {len(vintage.files)} files "
        f"({', '.join(vintage.names)}), "
        f"{', '.join(coverage(frame, series_ids, request['start'], request['end']))} "
        f"with a value in {request['start']}..{request['end']}"
    )
    return 0
