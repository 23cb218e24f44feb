"""User-supplied monthly series (e.g. China-customs CN 85051110 tonnages), stored like a fetch.

``reexport import-series FILE`` reads a CSV with a period column and a value
column (and optionally a partner column of ISO3 codes), validates it, and
stores the file byte-for-byte as a raw vintage of source ``userseries``.  The
vintage's request records the series' name, unit, commodity code, reporter,
flow, column names and the file's sha256, so importing the same file again is
a warm hit and an edited file becomes a new vintage.

Validation (every failure is a one-line ``BadInputError``, exit code 2,
naming the file, the line and the value):

* periods parse with :func:`reexport.periods.parse_month` (``2017-01``,
  ``201701``, ``2017m1``, ``2017/01``, ``2017-01-01`` ...) and are not after the
  current month (UTC): nobody has observed a future month;
* values are plain non-negative numbers (no blanks: leave a missing month out);
* no (period, partner) appears twice;
* the unit is ``t`` (tonnes), ``kg`` or ``USD``;
* partners, when given, are three-letter codes (``WLD`` for world);
* the file is not the synthetic demo's (a ``synthetic`` column that is true):
  ``import-series`` stores real series only.

:func:`parse` returns the tidy trade frame: tonnes (``t``, or ``kg`` / 1000)
fill ``net_weight_t``; ``USD`` fills ``value_usd``.  Without a partner column
the partner is ``WLD``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reexport.errors import BadInputError
from reexport.periods import Month, parse_month

if TYPE_CHECKING:
    from reexport.store import RawStore, Vintage

SOURCE = "userseries"
UNITS = ("t", "kg", "USD")
TRADE_COLUMNS = [
    "period", "reporter", "partner", "flow", "hs", "hs_edition", "value_usd", "net_weight_t",
    "qty", "qty_unit", "is_estimated", "source", "vintage",
]  # fmt: skip

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_ISO3_RE = re.compile(r"^[A-Z]{3}$")
_HS_RE = re.compile(r"^\d{2,10}$")
_NUMBER_RE = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FILE_NAME_RE = re.compile(r"[^A-Za-z0-9_.+=-]")


@dataclass(frozen=True)
class SeriesSpec:
    """What a user series measures and where its columns are.

    Attributes
    ----------
    name
        Short name (default: the file's stem), e.g. ``china_customs_85051110``.
    unit
        ``t``, ``kg`` or ``USD``.
    hs
        Commodity code measured (default CN ``85051110``).
    reporter
        Reporter ISO3 (default ``CHN``).
    flow
        ``X`` or ``M``.
    period_column, value_column, partner_column
        Column names in the CSV header (``partner_column`` optional).
    """

    name: str
    unit: str = "t"
    hs: str = "85051110"
    reporter: str = "CHN"
    flow: str = "X"
    period_column: str = "period"
    value_column: str = "value"
    partner_column: str | None = None

    def request(self, sha256: str) -> dict[str, Any]:
        """The logical request stored in the manifest (includes the file's sha256)."""
        return {
            "name": self.name,
            "unit": self.unit,
            "hs": self.hs,
            "reporter": self.reporter,
            "flow": self.flow,
            "columns": {
                "period": self.period_column,
                "value": self.value_column,
                "partner": self.partner_column,
            },
            "sha256": sha256,
        }

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> SeriesSpec:
        """Rebuild the spec from a stored vintage's request."""
        columns = request.get("columns", {})
        return cls(
            name=str(request["name"]),
            unit=str(request["unit"]),
            hs=str(request["hs"]),
            reporter=str(request["reporter"]),
            flow=str(request["flow"]),
            period_column=str(columns.get("period", "period")),
            value_column=str(columns.get("value", "value")),
            partner_column=columns.get("partner"),
        )


def make_spec(
    file: str | Path,
    *,
    name: str | None = None,
    unit: str = "t",
    hs: str = "85051110",
    reporter: str = "CHN",
    flow: str = "X",
    period_column: str = "period",
    value_column: str = "value",
    partner_column: str | None = None,
) -> SeriesSpec:
    """Validate the import options into a :class:`SeriesSpec`.

    Raises
    ------
    BadInputError
        Naming the offending option and value.
    """
    series_name = name if name is not None else Path(file).stem
    if not _NAME_RE.match(series_name):
        raise BadInputError(
            f"--name {series_name!r}: use letters, digits, '_', '.', '-' (at most 80 characters)"
        )
    unit_text = unit.strip()
    canonical = {u.lower(): u for u in UNITS}.get(unit_text.lower())
    if canonical is None:
        raise BadInputError(f"--unit {unit!r} is not one of {', '.join(UNITS)}")
    if not _HS_RE.match(hs.strip()):
        raise BadInputError(f"--hs {hs!r}: expected 2 to 10 digits (e.g. 85051110)")
    reporter_code = reporter.strip().upper()
    if not _ISO3_RE.match(reporter_code):
        raise BadInputError(f"--reporter {reporter!r}: expected an ISO3 code such as CHN")
    flow_code = flow.strip().upper()
    if flow_code not in ("X", "M"):
        raise BadInputError(f"--flow {flow!r}: expected X (exports) or M (imports)")
    columns = [period_column, value_column] + ([partner_column] if partner_column else [])
    if len(set(columns)) != len(columns):
        raise BadInputError(f"column options name the same column twice: {', '.join(columns)}")
    return SeriesSpec(
        name=series_name,
        unit=canonical,
        hs=hs.strip(),
        reporter=reporter_code,
        flow=flow_code,
        period_column=period_column,
        value_column=value_column,
        partner_column=partner_column or None,
    )


def read_rows(content: bytes, spec: SeriesSpec, *, origin: str) -> pd.DataFrame:
    """Validate a user CSV and return its rows as ``period, partner, value``.

    Parameters
    ----------
    content
        The file's bytes (UTF-8, optionally with a BOM; comma, semicolon or tab separated).
    spec
        Column names and unit.
    origin
        The file name, for messages.

    Returns
    -------
    pandas.DataFrame
        ``period`` (``YYYY-MM``), ``partner`` (ISO3, ``WLD`` without a partner
        column), ``value`` (float, in ``spec.unit``), sorted by partner and period.

    Raises
    ------
    BadInputError
        One line naming the file, the line number and the offending value.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{origin}: not UTF-8 text (byte {exc.start})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise BadInputError(f"{origin}: empty file (expected a header line)")
    delimiter = _delimiter(lines[0])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader)]
    wanted = [spec.period_column, spec.value_column]
    if spec.partner_column:
        wanted.append(spec.partner_column)
    for column in wanted:
        if column not in header:
            raise BadInputError(
                f"{origin}: no column {column!r} in the header (it has {', '.join(header)})"
            )
        if header.count(column) > 1:
            raise BadInputError(f"{origin}: column {column!r} appears twice in the header")
    at = {column: header.index(column) for column in wanted}
    latest = current_month()
    records: list[tuple[str, str, float]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        where = f"{origin} line {line}"
        month = parse_month(row[at[spec.period_column]].strip(), what=f"{where}: period")
        if month.ordinal > latest.ordinal:
            raise BadInputError(
                f"{where}: column {spec.period_column!r} month {month} is after the current "
                f"month {latest}; a series cannot hold a month nobody has observed yet"
            )
        period = str(month)
        value = _value(row[at[spec.value_column]], where)
        partner = "WLD"
        if spec.partner_column:
            partner = row[at[spec.partner_column]].strip().upper()
            if not _ISO3_RE.match(partner):
                raise BadInputError(
                    f"{where}: partner {row[at[spec.partner_column]]!r} is not an ISO3 code"
                )
        key = (period, partner)
        if key in seen:
            raise BadInputError(
                f"{where}: period {period} partner {partner} repeats line {seen[key]}"
            )
        seen[key] = line
        records.append((period, partner, value))
    if not records:
        raise BadInputError(f"{origin}: no data rows below the header")
    frame = pd.DataFrame(records, columns=["period", "partner", "value"])
    frame["value"] = frame["value"].astype(float)
    return frame.sort_values(["partner", "period"]).reset_index(drop=True)


def current_month() -> Month:
    """This month (UTC): the last month a user series may hold."""
    today = _dt.datetime.now(_dt.UTC)
    return Month(today.year, today.month)


def _delimiter(header_line: str) -> str:
    """The separator of the header line: comma unless only semicolons or tabs appear."""
    if "," in header_line:
        return ","
    for candidate in (";", "\t"):
        if candidate in header_line:
            return candidate
    return ","


def _value(cell: str, where: str) -> float:
    text = cell.strip()
    if not text:
        raise BadInputError(f"{where}: empty value (leave a missing month out instead)")
    if not _NUMBER_RE.match(text):
        if text.startswith("-") and _NUMBER_RE.match(text[1:]):
            raise BadInputError(f"{where}: value {text!r} is negative")
        raise BadInputError(f"{where}: value {text!r} is not a plain number")
    value = float(text)
    if not math.isfinite(value):
        raise BadInputError(f"{where}: value {text!r} is not finite")
    return value


def to_trade_frame(rows: pd.DataFrame, spec: SeriesSpec, *, vintage: str = "") -> pd.DataFrame:
    """The tidy trade frame of validated rows (see :func:`read_rows`).

    ``t`` fills ``net_weight_t``; ``kg`` fills it divided by 1000; ``USD``
    fills ``value_usd``.  The other measure is NaN.
    """
    values = rows["value"].to_numpy(dtype=float)
    nan = float("nan")
    frame = pd.DataFrame(
        {
            "period": rows["period"].to_numpy(dtype=object),
            "reporter": spec.reporter,
            "partner": rows["partner"].to_numpy(dtype=object),
            "flow": spec.flow,
            "hs": spec.hs,
            "hs_edition": "",
            "value_usd": values if spec.unit == "USD" else nan,
            "net_weight_t": values / 1000.0 if spec.unit == "kg" else values,
            "qty": nan,
            "qty_unit": "",
            "is_estimated": False,
            "source": SOURCE,
            "vintage": vintage,
        },
        columns=TRADE_COLUMNS,
    )
    if spec.unit == "USD":
        frame["net_weight_t"] = nan
    frame["value_usd"] = frame["value_usd"].astype(float)
    frame["net_weight_t"] = frame["net_weight_t"].astype(float)
    frame["qty"] = frame["qty"].astype(float)
    frame["is_estimated"] = frame["is_estimated"].astype(bool)
    return frame


def parse(vintage: Vintage) -> pd.DataFrame:
    """Tidy trade frame of a stored ``userseries`` vintage (validated again on read)."""
    if vintage.source != SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not userseries")
    spec = SeriesSpec.from_request(vintage.request)
    if len(vintage.names) != 1:
        raise BadInputError(f"userseries vintage {vintage.id} holds {len(vintage.names)} files")
    name = vintage.names[0]
    rows = read_rows(
        vintage.read_bytes(name), spec, origin=f"userseries vintage {vintage.id} file {name}"
    )
    return to_trade_frame(rows, spec, vintage=vintage.id)


def _stored_name(path: Path) -> str:
    """The file's own name when the store accepts it, else a cleaned-up version."""
    cleaned = _FILE_NAME_RE.sub("_", path.name).lstrip(".-") or "series.csv"
    return cleaned if cleaned != "manifest.json" else "series_manifest.json"


def import_series(
    file: str | Path, spec: SeriesSpec, *, store: RawStore | None = None
) -> tuple[Vintage, bool, pd.DataFrame]:
    """Validate ``file`` and store it byte-for-byte as a ``userseries`` vintage.

    Parameters
    ----------
    file
        The CSV file.
    spec
        What it measures (see :func:`make_spec`).
    store
        Raw store (default under :func:`reexport.config.raw_dir`).

    Returns
    -------
    (vintage, warm, rows)
        The vintage, whether it was already stored (same bytes, same spec),
        and the validated rows.

    Raises
    ------
    BadInputError
        If the file cannot be read or fails validation; nothing is stored.
    """
    from reexport.store import RawStore, content_markers

    path = Path(file)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise BadInputError(f"import-series: file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise BadInputError(f"import-series: {str(path)!r} is a folder, not a file") from None
    except OSError as exc:
        raise BadInputError(f"import-series: cannot read {str(path)!r} ({exc.strerror})") from None
    rows = read_rows(content, spec, origin=str(path))
    markers = content_markers(content)
    if markers:
        raise BadInputError(
            f"import-series: {path} carries {markers[0]}: it is synthetic demo data, and "
            "import-series stores real series only"
        )
    request = spec.request(hashlib.sha256(content).hexdigest())
    store = store if store is not None else RawStore()
    existing = store.find(SOURCE, request)
    if existing is not None:
        return existing, True, rows
    with store.writer(SOURCE, request) as writer:
        writer.add(
            _stored_name(path),
            content,
            url=path.resolve().as_uri(),
            params=None,
            status=None,
            content_type="text/csv",
        )
    assert writer.vintage is not None  # set when the `with` block exits cleanly
    return writer.vintage, False, rows


def import_cli(
    *,
    file: str,
    name: str | None = None,
    unit: str = "t",
    hs: str = "85051110",
    reporter: str = "CHN",
    flow: str = "X",
    period_column: str = "period",
    value_column: str = "value",
    partner_column: str | None = None,
) -> int | None:
    """``reexport import-series FILE [...]``: validate, store, and print a summary."""
    spec = make_spec(
        file,
        name=name,
        unit=unit,
        hs=hs,
        reporter=reporter,
        flow=flow,
        period_column=period_column,
        value_column=value_column,
        partner_column=partner_column,
    )
    vintage, warm, rows = import_series(file, spec)
    span = f"{rows['period'].min()}..{rows['period'].max()}"
    partners = rows["partner"].nunique()
    print(
        f"userseries: vintage {vintage.id} "
        f"({'warm: this file is already stored' if warm else 'stored'}), 1 file, "
        f"{len(rows)} rows, {span}, {partners} partner{'s' if partners != 1 else ''}, "
        f"series {spec.name} ({spec.unit}, hs {spec.hs}, {spec.reporter} {spec.flow})"
    )
    return 0
