"""UN Comtrade monthly trade flows (API v1): plan the calls, fetch every page, tidy the records.

Endpoints (base from :func:`reexport.config.comtrade_base_url`):

* keyed: ``GET {base}/data/v1/get/C/M/HS`` with the subscription key from
  ``$COMTRADE_API_KEY`` sent as the ``Ocp-Apim-Subscription-Key`` header -- the
  key is a secret and never enters a URL, manifest, log line or message;
* keyless: ``GET {base}/public/v1/preview/C/M/HS``, which returns at most 500
  rows per call.  Requests are split so that no call can reach the cap (fewer
  months per call, partner lists split); a response that still reaches it is
  refused with :class:`~reexport.errors.SourceError`, never silently truncated.

Query parameters: ``reporterCode``, ``partnerCode`` (``0`` = World; omitted =
every partner, World included), ``cmdCode``, ``flowCode``, ``period``
(comma-separated ``YYYYMM``, at most 12 per call, so a keyed 2017-2024 pull is
8 calls), ``motCode=0``, ``customsCode=C00``, ``partner2Code=0`` (the totals
over mode of transport, customs procedure and second partner),
``includeDesc=true`` and, keyed, ``maxRecords``.

Every call of one logical request goes into ONE raw vintage (one JSON file per
call), assembled in a temp folder: a failure midway stores nothing.

Response envelope (real recorded bodies, ``../shared/data/comtrade/PROVENANCE.md``):
``{"elapsedTime": str, "count": int, "data": [...], "error": ""}``; each
record has 47 keys.  ``count: 0`` with ``data: []`` is a valid, empty answer.
Anything else -- an HTML page served with status 200, JSON without those keys,
a non-empty ``error`` -- is fetched again a couple of times, then refused.

HS scope: HS6 ``850511`` ("permanent magnets ... of metal") includes CN
``85051190`` (magnets of other metals, e.g. ferrite-free alnico) besides
``85051110`` (rare-earth permanent magnets), so Comtrade's 850511 tonnages
exceed the China-customs REPM tonnages (CN 85051110).  Import the customs
series with ``reexport import-series`` when the 8-digit line is needed.

Partners are identified by UN Comtrade's own area codes, which are M49 codes
except for a few areas (USA 842, France 251, India 699, Norway 579,
Switzerland 757); Comtrade reports Taiwan as area 490 "Other Asia, nes"
(ISO-like code ``S19``), which the tidy frame calls ``TWN``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from tqdm import tqdm

from reexport import config
from reexport.errors import BadInputError, SourceError
from reexport.periods import Month, chunks, month_range, parse_month

if TYPE_CHECKING:
    from reexport.http import HttpClient
    from reexport.store import RawStore, Vintage

log = logging.getLogger(__name__)

SOURCE = "comtrade"
KEYED_PATH = "/data/v1/get/C/M/HS"
PREVIEW_PATH = "/public/v1/preview/C/M/HS"
KEY_HEADER = "Ocp-Apim-Subscription-Key"

#: The keyless preview returns at most this many rows per call.
PREVIEW_CAP = 500
#: ``maxRecords`` sent on the keyed endpoint (its documented maximum).
KEYED_MAX_RECORDS = 250_000
#: The API accepts at most 12 periods per call.
MAX_PERIODS_PER_CALL = 12
#: Upper bound on partner areas in one month's answer for "all partners" (Comtrade lists
#: about 250 partner areas); used to size keyless calls so they cannot reach the cap.
ALL_PARTNERS_BOUND = 300
#: How many times a body that is not the documented envelope is fetched before giving up.
BODY_ATTEMPTS = 3

ENVELOPE_KEYS = ("elapsedTime", "count", "data", "error")
#: The 47 keys of a record, in the order the API writes them (from the recorded bodies).
RECORD_KEYS = (
    "typeCode", "freqCode", "refPeriodId", "refYear", "refMonth", "period", "reporterCode",
    "reporterISO", "reporterDesc", "flowCode", "flowDesc", "partnerCode", "partnerISO",
    "partnerDesc", "partner2Code", "partner2ISO", "partner2Desc", "classificationCode",
    "classificationSearchCode", "isOriginalClassification", "cmdCode", "cmdDesc", "aggrLevel",
    "isLeaf", "customsCode", "customsDesc", "mosCode", "motCode", "motDesc", "qtyUnitCode",
    "qtyUnitAbbr", "qty", "isQtyEstimated", "altQtyUnitCode", "altQtyUnitAbbr", "altQty",
    "isAltQtyEstimated", "netWgt", "isNetWgtEstimated", "grossWgt", "isGrossWgtEstimated",
    "cifvalue", "fobvalue", "primaryValue", "legacyEstimationFlag", "isReported", "isAggregate",
)  # fmt: skip
#: Fields this module reads; a record lacking any of them is refused.
REQUIRED_RECORD_KEYS = (
    "freqCode", "refYear", "refMonth", "period", "reporterCode", "flowCode", "partnerCode",
    "partner2Code", "classificationCode", "cmdCode", "customsCode", "motCode", "qtyUnitAbbr",
    "qty", "isQtyEstimated", "isAltQtyEstimated", "netWgt", "isNetWgtEstimated",
    "isGrossWgtEstimated", "primaryValue",
)  # fmt: skip
ESTIMATION_FLAGS = (
    "isQtyEstimated",
    "isAltQtyEstimated",
    "isNetWgtEstimated",
    "isGrossWgtEstimated",
)

#: Columns of the tidy trade frame, in order (docs/ARCHITECTURE.md, "Sources").
TRADE_COLUMNS = [
    "period", "reporter", "partner", "flow", "hs", "hs_edition", "value_usd", "net_weight_t",
    "qty", "qty_unit", "is_estimated", "source", "vintage",
]  # fmt: skip

#: ISO3 -> UN Comtrade area code: every country of the GPR file (GPRC_*) plus the main
#: destinations of China's permanent-magnet exports and other large traders.  Comtrade's
#: codes equal UN M49 except USA 842, FRA 251, IND 699, NOR 579, CHE 757 and Taiwan
#: (490, "Other Asia, nes").
COMTRADE_AREAS: dict[str, int] = {
    # the 44 GPR countries
    "ARG": 32, "AUS": 36, "BEL": 56, "BRA": 76, "CAN": 124, "CHE": 757, "CHL": 152,
    "CHN": 156, "COL": 170, "DEU": 276, "DNK": 208, "EGY": 818, "ESP": 724, "FIN": 246,
    "FRA": 251, "GBR": 826, "HKG": 344, "HUN": 348, "IDN": 360, "IND": 699, "ISR": 376,
    "ITA": 380, "JPN": 392, "KOR": 410, "MEX": 484, "MYS": 458, "NLD": 528, "NOR": 579,
    "PER": 604, "PHL": 608, "POL": 616, "PRT": 620, "RUS": 643, "SAU": 682, "SWE": 752,
    "THA": 764, "TUN": 788, "TUR": 792, "TWN": 490, "UKR": 804, "USA": 842, "VEN": 862,
    "VNM": 704, "ZAF": 710,
    # other destinations and traders
    "ARE": 784, "ARM": 51, "AUT": 40, "AZE": 31, "BGD": 50, "BGR": 100, "BLR": 112,
    "CRI": 188, "CYP": 196, "CZE": 203, "DOM": 214, "DZA": 12, "ECU": 218, "EST": 233,
    "ETH": 231, "GEO": 268, "GHA": 288, "GRC": 300, "GTM": 320, "HRV": 191, "IRL": 372,
    "IRN": 364, "IRQ": 368, "ISL": 352, "JOR": 400, "KAZ": 398, "KEN": 404, "KHM": 116,
    "KWT": 414, "LAO": 418, "LKA": 144, "LTU": 440, "LUX": 442, "LVA": 428, "MAC": 446,
    "MAR": 504, "MLT": 470, "MMR": 104, "MNG": 496, "NGA": 566, "NZL": 554, "OMN": 512,
    "PAK": 586, "PAN": 591, "QAT": 634, "ROU": 642, "SGP": 702, "SRB": 688, "SVK": 703,
    "SVN": 705, "TZA": 834, "URY": 858, "UZB": 860,
}  # fmt: skip
#: Comtrade's non-ISO area labels mapped to the codes the tidy frame uses.
AREA_ALIASES = {"W00": "WLD", "S19": "TWN"}
_CODE_TO_ISO = {code: iso for iso, code in COMTRADE_AREAS.items()} | {0: "WLD"}

Partner = Literal["world", "all"] | tuple[str, ...]
_HS_RE = re.compile(r"^(\d{2}|\d{4}|\d{6}|TOTAL)$")
_FLOWS = ("X", "M", "RX", "RM")


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class ComtradeRequest:
    """One logical request: a reporter's monthly flows of one HS code over a span of months.

    Attributes
    ----------
    reporter
        Reporter area code (156 = China).
    partner
        ``"world"``, ``"all"`` or a sorted tuple of ISO3 codes.
    hs
        HS code (2, 4 or 6 digits, or ``TOTAL``).
    flow
        ``X`` exports, ``M`` imports (``RX``/``RM`` re-exports/imports).
    start, end
        First and last month, inclusive.
    """

    reporter: int
    partner: Partner
    hs: str
    flow: str
    start: Month
    end: Month

    def logical(self) -> dict[str, Any]:
        """The JSON-like request recorded in the manifest and matched on warm re-runs.

        The endpoint (keyed or preview) is not part of it: both serve the same
        final data, and each file's URL is recorded in the manifest.
        """
        partner = self.partner if isinstance(self.partner, str) else list(self.partner)
        return {
            "api": "comtrade v1 C/M/HS",
            "reporter": self.reporter,
            "partner": partner,
            "hs": self.hs,
            "flow": self.flow,
            "start": str(self.start),
            "end": str(self.end),
            "motCode": 0,
            "customsCode": "C00",
            "partner2Code": 0,
        }


def area_code(iso3: str, *, what: str = "partner") -> int:
    """Comtrade area code of an ISO3 country code.

    Raises
    ------
    BadInputError
        If the code is not in :data:`COMTRADE_AREAS` (naming it and ``what``).
    """
    key = iso3.strip().upper()
    if key not in COMTRADE_AREAS:
        raise BadInputError(
            f"{what} {iso3!r} is not a known ISO3 code (known: {', '.join(sorted(COMTRADE_AREAS))})"
        )
    return COMTRADE_AREAS[key]


def parse_partner(text: str) -> Partner:
    """Parse ``--partner``: ``world``, ``all`` or comma-separated ISO3 codes.

    Returns
    -------
    ``"world"``, ``"all"`` or a sorted tuple of unique upper-case ISO3 codes.

    Raises
    ------
    BadInputError
        For an empty list or an unknown ISO3 code.
    """
    lowered = text.strip().lower()
    if lowered in ("world", "wld", "0"):
        return "world"
    if lowered == "all":
        return "all"
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not codes:
        raise BadInputError(f"--partner {text!r}: expected world, all or ISO3 codes")
    for code in codes:
        area_code(code, what="--partner")
    return tuple(sorted(set(codes)))


def make_request(
    *,
    reporter: str | int = "156",
    partner: str = "world",
    hs: str = "850511",
    flow: str = "X",
    start: str = "2017-01",
    end: str = "2024-12",
) -> ComtradeRequest:
    """Validate CLI-style options into a :class:`ComtradeRequest`.

    Parameters
    ----------
    reporter
        Comtrade reporter code (``156``) or ISO3 (``CHN``).
    partner
        ``world``, ``all`` or comma-separated ISO3 codes.
    hs
        HS code: 2, 4 or 6 digits, or ``TOTAL``.
    flow
        ``X``, ``M``, ``RX`` or ``RM``.
    start, end
        First and last month (``YYYY-MM``).

    Raises
    ------
    BadInputError
        Naming the offending option and value.
    """
    text = str(reporter).strip()
    if text.isdigit():
        reporter_code = int(text)
    elif re.fullmatch(r"[A-Za-z]{3}", text):
        reporter_code = area_code(text, what="--reporter")
    else:
        raise BadInputError(
            f"--reporter {reporter!r}: expected a Comtrade code such as 156 or ISO3"
        )
    hs_code = str(hs).strip().upper()
    if not _HS_RE.match(hs_code):
        raise BadInputError(f"--hs {hs!r}: expected 2, 4 or 6 HS digits (e.g. 850511) or TOTAL")
    flow_code = str(flow).strip().upper()
    if flow_code not in _FLOWS:
        raise BadInputError(f"--flow {flow!r}: expected one of {', '.join(_FLOWS)}")
    first = parse_month(start, what="--start")
    last = parse_month(end, what="--end")
    if last < first:
        raise BadInputError(f"--start {first} is after --end {last}")
    return ComtradeRequest(
        reporter=reporter_code,
        partner=parse_partner(partner),
        hs=hs_code,
        flow=flow_code,
        start=first,
        end=last,
    )


@dataclass(frozen=True)
class Call:
    """One API call of a plan: the months and partner codes it asks for, and its file name."""

    name: str
    months: tuple[Month, ...]
    partner_codes: tuple[int, ...] | None  # None = every partner (partnerCode omitted)
    row_bound: int  # most rows the call can return once the total filters are applied


def plan_calls(request: ComtradeRequest, *, keyed: bool) -> list[Call]:
    """Split a request into API calls.

    Keyed calls carry 12 months each (the API's limit).  Keyless (preview)
    calls are sized so that their worst-case row count -- months x partners,
    one total row per partner and month -- stays below the 500-row cap:
    World takes 12 months per call, a list of *n* partners ``499 // n``
    months, more than 499 partners are split into several lists, and "all"
    partners take one month per call (at most about 250 partner areas).

    Returns
    -------
    list of Call
        In chronological order; file names are ``YYYY-MM_YYYY-MM[_pN].json``.
    """
    limit = KEYED_MAX_RECORDS if keyed else PREVIEW_CAP
    if request.partner == "world":
        groups: list[tuple[int, ...] | None] = [(0,)]
        per_month = 1
    elif request.partner == "all":
        groups = [None]
        per_month = ALL_PARTNERS_BOUND
    else:
        codes = tuple(sorted(COMTRADE_AREAS[c] for c in request.partner))
        size = min(len(codes), limit - 1)
        groups = [codes[i : i + size] for i in range(0, len(codes), size)]
        per_month = size
    months_per_call = max(1, min(MAX_PERIODS_PER_CALL, (limit - 1) // per_month))
    calls = []
    for months in chunks(request.start, request.end, months_per_call):
        for number, group in enumerate(groups, start=1):
            suffix = f"_p{number}" if len(groups) > 1 else ""
            rows = len(months) * (len(group) if group is not None else per_month)
            calls.append(
                Call(
                    name=f"{months[0]}_{months[-1]}{suffix}.json",
                    months=tuple(months),
                    partner_codes=group,
                    row_bound=rows,
                )
            )
    return calls


def call_params(request: ComtradeRequest, call: Call, *, keyed: bool) -> dict[str, str]:
    """Query parameters of one call (never the key: that travels in a header)."""
    params = {
        "reporterCode": str(request.reporter),
        "cmdCode": request.hs,
        "flowCode": request.flow,
        "period": ",".join(m.compact for m in call.months),
        "motCode": "0",
        "customsCode": "C00",
        "partner2Code": "0",
        "includeDesc": "true",
    }
    if call.partner_codes is not None:
        params["partnerCode"] = ",".join(str(c) for c in call.partner_codes)
    if keyed:
        params["maxRecords"] = str(KEYED_MAX_RECORDS)
    return params


# --------------------------------------------------------------------------- parsing bodies


def read_envelope(content: bytes, *, origin: str = "Comtrade response") -> dict[str, Any]:
    """Check that ``content`` is the documented JSON envelope and return it.

    Parameters
    ----------
    content
        A response body.
    origin
        Where it came from, for messages.

    Returns
    -------
    dict
        The decoded envelope (``elapsedTime``, ``count``, ``data``, ``error``).

    Raises
    ------
    SourceError
        For a body that is not JSON (e.g. an HTML error page), lacks envelope
        keys, has the wrong types, or reports a non-empty ``error``.
    """
    text = content.lstrip()
    if not text:
        raise SourceError(f"{origin}: empty body, not the Comtrade JSON envelope")
    if text[:1] == b"<":
        raise SourceError(f"{origin}: an HTML/XML page, not the Comtrade JSON envelope")
    try:
        envelope = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{origin}: not valid JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(envelope, dict):
        raise SourceError(f"{origin}: JSON {type(envelope).__name__}, not the Comtrade envelope")
    missing = [k for k in ENVELOPE_KEYS if k not in envelope]
    if missing:
        message = envelope.get("message") or envelope.get("error")
        extra = f"; it says {str(message)[:120]!r}" if message else ""
        raise SourceError(f"{origin}: JSON lacks envelope key(s) {', '.join(missing)}{extra}")
    error = envelope["error"]
    if error not in ("", None):
        # The server's text, on one line (the message must stay a single line).
        said = " ".join(str(error).split())[:200]
        raise SourceError(f"{origin}: the API reports an error: {said}")
    count, data = envelope["count"], envelope["data"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise SourceError(f"{origin}: envelope count {count!r} is not a non-negative integer")
    if not isinstance(data, list):
        raise SourceError(f"{origin}: envelope data is {type(data).__name__}, not a list")
    return envelope


def read_complete_envelope(content: bytes, *, origin: str = "Comtrade response") -> dict[str, Any]:
    """:func:`read_envelope`, then :func:`check_count`: the body must hold the rows it counts.

    Used as the fetcher's body check, so a short answer is an attempt that failed
    and is fetched again.
    """
    envelope = read_envelope(content, origin=origin)
    check_count(envelope, origin=origin)
    return envelope


def check_cap(envelope: Mapping[str, Any], *, cap: int, origin: str) -> None:
    """Refuse an answer that reached the row cap or whose ``count`` is not its number of rows.

    ``count`` is the envelope's own statement of how many records it carries, so
    a body is complete only when it equals ``len(data)``.

    Raises
    ------
    SourceError
        If ``count > len(data)``, ``count >= cap``, ``len(data) >= cap`` or
        ``count < len(data)``.
    """
    count, rows = int(envelope["count"]), len(envelope["data"])
    if count > rows:
        raise SourceError(
            f"{origin}: the answer counts {count} rows but holds {rows}, so it is truncated"
        )
    if count >= cap or rows >= cap:
        raise SourceError(
            f"{origin}: {max(count, rows)} rows reach the {cap}-row cap of this endpoint, so the "
            "answer may be truncated; set COMTRADE_API_KEY or narrow the request"
        )
    check_count(envelope, origin=origin)


def check_count(envelope: Mapping[str, Any], *, origin: str) -> None:
    """Refuse an envelope whose ``count`` is not its number of rows (a short or padded body).

    Raises
    ------
    SourceError
        Saying "truncated" when it holds fewer rows than it counts.
    """
    count, rows = int(envelope["count"]), len(envelope["data"])
    if count > rows:
        raise SourceError(
            f"{origin}: the answer counts {count} rows but holds {rows}, so it is truncated"
        )
    if count != rows:
        raise SourceError(
            f"{origin}: the answer counts {count} rows but holds {rows}, so it is not the "
            "answer it says it is"
        )


def _iso(value: Any, code: Any) -> str:
    text = str(value).strip().upper() if value not in (None, "") else ""
    if text:
        return AREA_ALIASES.get(text, text)
    try:
        return _CODE_TO_ISO.get(int(code), str(code))
    except (TypeError, ValueError):
        return str(code)


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def records_table(records: Sequence[Any], *, origin: str = "Comtrade response") -> pd.DataFrame:
    """Normalise raw records into one row per record, keeping what the tidy frame needs.

    Works for annual and monthly records alike (use :func:`to_trade_frame` for
    the monthly tidy frame).

    Returns
    -------
    pandas.DataFrame
        Columns ``freq, period_code, ref_year, ref_month, reporter_code,
        reporter, flow, partner_code, partner, partner2_code, customs, mot, hs,
        hs_edition, value_usd, net_weight_kg, qty, qty_unit, is_estimated,
        is_total``.

    Raises
    ------
    SourceError
        If a record is not an object or lacks a required field.
    """
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise SourceError(f"{origin}: record {index} is {type(record).__name__}, not an object")
        missing = [k for k in REQUIRED_RECORD_KEYS if k not in record]
        if missing:
            raise SourceError(f"{origin}: record {index} lacks field(s) {', '.join(missing)}")
        partner2 = record["partner2Code"]
        rows.append(
            {
                "freq": str(record["freqCode"]),
                "period_code": str(record["period"]),
                "ref_year": record["refYear"],
                "ref_month": record["refMonth"],
                "reporter_code": record["reporterCode"],
                "reporter": _iso(record.get("reporterISO"), record["reporterCode"]),
                "flow": str(record["flowCode"]),
                "partner_code": record["partnerCode"],
                "partner": _iso(record.get("partnerISO"), record["partnerCode"]),
                "partner2_code": partner2,
                "customs": str(record["customsCode"]),
                "mot": record["motCode"],
                "hs": str(record["cmdCode"]),
                "hs_edition": str(record["classificationCode"] or ""),
                "value_usd": _number(record["primaryValue"]),
                "net_weight_kg": _number(record["netWgt"]),
                "qty": _number(record["qty"]),
                "qty_unit": str(record["qtyUnitAbbr"] or ""),
                "is_estimated": any(bool(record.get(flag)) for flag in ESTIMATION_FLAGS),
                "is_total": (
                    _int_or_none(partner2) == 0
                    and str(record["customsCode"]) == "C00"
                    and _int_or_none(record["motCode"]) == 0
                ),
            }
        )
    columns = [
        "freq", "period_code", "ref_year", "ref_month", "reporter_code", "reporter", "flow",
        "partner_code", "partner", "partner2_code", "customs", "mot", "hs", "hs_edition",
        "value_usd", "net_weight_kg", "qty", "qty_unit", "is_estimated", "is_total",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _monthly_period(row: Mapping[Any, Any], origin: str) -> str:
    """``YYYY-MM`` of a monthly record, checking ``period``, ``refYear`` and ``refMonth`` agree."""
    where = f"{origin}: record for period {row['period_code']!r} partner {row['partner']}"
    if row["freq"] != "M" or _int_or_none(row["ref_month"]) == 52:
        raise SourceError(
            f"{where} is annual (freqCode {row['freq']!r}, refMonth {row['ref_month']!r}), "
            "not monthly"
        )
    month = _int_or_none(row["ref_month"])
    year = _int_or_none(row["ref_year"])
    if month is None or not 1 <= month <= 12 or year is None:
        raise SourceError(f"{where} has refYear {row['ref_year']!r} refMonth {row['ref_month']!r}")
    if not re.fullmatch(r"\d{6}", row["period_code"]) or row["period_code"] != f"{year}{month:02d}":
        raise SourceError(f"{where} does not match refYear {year} refMonth {month}")
    return f"{year:04d}-{month:02d}"


def to_trade_frame(
    table: pd.DataFrame,
    *,
    vintage: str = "",
    annual: Literal["reject", "drop"] = "reject",
    origin: str = "Comtrade response",
) -> pd.DataFrame:
    """The tidy trade frame of the monthly total rows of a :func:`records_table`.

    Rows that are not totals over second partner, customs procedure and mode
    of transport (``partner2Code 0``, ``customsCode C00``, ``motCode 0``) are
    dropped, so breakdown rows are never added to the totals.

    Parameters
    ----------
    table
        Output of :func:`records_table`.
    vintage
        Vintage id for the ``vintage`` column.
    annual
        ``"reject"`` (default) raises on an annual record (``freqCode "A"`` /
        ``refMonth 52``); ``"drop"`` drops such records with a warning.
    origin
        Where the records came from, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRADE_COLUMNS`; ``net_weight_t`` is ``netWgt`` / 1000.

    Raises
    ------
    SourceError
        For annual records (unless dropped), inconsistent periods, or two
        different total rows for one period, reporter, partner, flow and HS code.
    """
    totals = table.loc[table["is_total"]]
    if len(totals) < len(table):
        log.info("%s: dropped %d breakdown (non-total) rows", origin, len(table) - len(totals))
    is_annual = (totals["freq"] != "M") | (totals["ref_month"].map(_int_or_none) == 52)
    if annual == "drop" and is_annual.any():
        log.warning("%s: dropped %d annual records", origin, int(is_annual.sum()))
        totals = totals.loc[~is_annual]
    periods = [_monthly_period(row, origin) for row in totals.to_dict("records")]
    frame = pd.DataFrame(
        {
            "period": pd.Series(periods, dtype=object),
            "reporter": totals["reporter"].to_numpy(dtype=object),
            "partner": totals["partner"].to_numpy(dtype=object),
            "flow": totals["flow"].to_numpy(dtype=object),
            "hs": totals["hs"].to_numpy(dtype=object),
            "hs_edition": totals["hs_edition"].to_numpy(dtype=object),
            "value_usd": totals["value_usd"].to_numpy(dtype=float),
            "net_weight_t": totals["net_weight_kg"].to_numpy(dtype=float) / 1000.0,
            "qty": totals["qty"].to_numpy(dtype=float),
            "qty_unit": totals["qty_unit"].to_numpy(dtype=object),
            "is_estimated": totals["is_estimated"].to_numpy(dtype=bool),
        }
    )
    frame["source"] = SOURCE
    frame["vintage"] = vintage
    return _check_duplicates(frame[TRADE_COLUMNS], origin)


def _check_duplicates(frame: pd.DataFrame, origin: str, known_repeats: int = 0) -> pd.DataFrame:
    """Refuse two different rows for the same key; keep exact repeats, sorted by key.

    Exact repeats are kept (and logged, beyond the ``known_repeats`` already logged
    per file) rather than dropped: duplicates must be detected and reported, not
    silently fixed, and ``reexport build`` lists them in its quality report (see
    :func:`reexport.panel.trade_quality`).
    """
    key = ["period", "reporter", "partner", "flow", "hs"]
    distinct = frame.drop_duplicates()
    clash = distinct.duplicated(key, keep=False)
    if clash.any():
        first = distinct.loc[clash].iloc[0]
        raise SourceError(
            f"{origin}: two different rows for period {first['period']} reporter "
            f"{first['reporter']} partner {first['partner']} flow {first['flow']} hs {first['hs']}"
        )
    repeats = len(frame) - len(distinct) - known_repeats
    if repeats > 0:
        log.warning("%s: %d exact duplicate record(s) kept for the build report", origin, repeats)
    return frame.sort_values(key, kind="mergesort").reset_index(drop=True)


def read_export_csv(content: bytes, *, origin: str = "Comtrade CSV export") -> list[dict[str, Any]]:
    """Records of a CSV exported from the Comtrade website (comtradeplus.un.org).

    The export uses the API's record field names as its header (``typeCode,
    freqCode, refPeriodId, ... isAggregate``) and one line per record.  As seen
    in a real export (a China 2022 ``TradeData.csv`` published in the public
    repository nikolinanikolovska/Economic-Analysis-Trade-ML, commit a41e4e9e):
    every value is quoted text, booleans are ``"true"``/``"false"``, a null is an
    empty unquoted cell, each data line ends with one extra comma, lines end
    with CRLF, and the text is ISO-8859-1 (``Côte d'Ivoire`` as one byte).
    UTF-8 (with or without BOM) is read too.

    Returns
    -------
    list of dict
        One record per line, keyed by the header; empty cells are ``None`` and the
        ``is*`` flags booleans, other values stay text (the record parser converts them).

    Raises
    ------
    SourceError
        For an HTML page, a header lacking the fields the parser needs, a line
        whose number of fields differs from the header's (a file cut mid-line),
        or a flag that is not true/false.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    if text.lstrip()[:1] == "<":
        raise SourceError(f"{origin}: an HTML page, not a Comtrade CSV export")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise SourceError(f"{origin}: empty file, not a Comtrade CSV export")
    header = [cell.strip() for cell in rows[0]]
    if header and header[-1] == "":
        header = header[:-1]
    missing = [k for k in REQUIRED_RECORD_KEYS if k not in header]
    if missing:
        raise SourceError(
            f"{origin}: not a Comtrade CSV export (its header lacks {', '.join(missing[:5])}"
            f"{'...' if len(missing) > 5 else ''})"
        )
    records = []
    for line_number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) == len(header) + 1 and row[-1] == "":
            row = row[:-1]  # the export ends every data line with a comma
        if len(row) != len(header):
            raise SourceError(
                f"{origin} line {line_number}: {len(row)} fields where the header has "
                f"{len(header)}, so the file is cut short or damaged"
            )
        records.append(
            {
                key: _export_cell(key, cell, origin, line_number)
                for key, cell in zip(header, row, strict=True)
            }
        )
    return records


def _export_cell(key: str, cell: str, origin: str, line_number: int) -> Any:
    text = cell.strip()
    if not text:
        return None
    if re.fullmatch(r"is[A-Z]\w*", key):
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise SourceError(f"{origin} line {line_number}: {key} {text!r} is not true/false")
        return lowered in ("true", "1")
    return text


def read_records(content: bytes, *, name: str = "", origin: str = "Comtrade response") -> list[Any]:
    """The records of a stored Comtrade file: an API envelope, or the website's CSV export.

    A ``.csv`` name is read by :func:`read_export_csv`; anything else must be the
    API's JSON envelope (:func:`read_complete_envelope`: its ``count`` must equal
    its rows).
    """
    if name.lower().endswith(".csv"):
        return read_export_csv(content, origin=origin)
    data: list[Any] = read_complete_envelope(content, origin=origin)["data"]
    return data


def parse_bytes(
    content: bytes,
    *,
    vintage: str = "",
    annual: Literal["reject", "drop"] = "reject",
    origin: str = "Comtrade response",
    name: str = "",
) -> pd.DataFrame:
    """Tidy trade frame of one stored file (checked by :func:`read_records`; totals, monthly)."""
    table = records_table(read_records(content, name=name, origin=origin), origin=origin)
    return to_trade_frame(table, vintage=vintage, annual=annual, origin=origin)


def parse(vintage: Vintage, *, annual: Literal["reject", "drop"] = "reject") -> pd.DataFrame:
    """Tidy trade frame of every file of a stored ``comtrade`` vintage.

    Note that HS6 ``850511`` also covers CN ``85051190`` (permanent magnets of
    other metals), so its tonnages exceed China-customs REPM figures for CN
    ``85051110``; see the module docstring.

    Parameters
    ----------
    vintage
        A raw vintage of source ``comtrade`` (one JSON body per API call).
    annual
        What to do with annual records, see :func:`to_trade_frame`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRADE_COLUMNS`, sorted by period, reporter, partner, flow, hs.
    """
    if vintage.source != SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not comtrade")
    frames = []
    for record in vintage.files:
        name = str(record["name"])
        origin = f"comtrade vintage {vintage.id} file {name}"
        frames.append(
            parse_bytes(
                vintage.read_bytes(name),
                vintage=vintage.id,
                annual=annual,
                origin=origin,
                name=name,
            )
        )
    if not frames:
        return _empty_frame()
    if len(frames) == 1:
        return frames[0]
    within_files = sum(len(f) - len(f.drop_duplicates()) for f in frames)
    frame = pd.concat(frames, ignore_index=True)
    return _check_duplicates(frame, f"comtrade vintage {vintage.id}", within_files)


def _empty_frame() -> pd.DataFrame:
    frame = to_trade_frame(records_table([]))
    return frame


# --------------------------------------------------------------------------- fetching


def fetch(
    request: ComtradeRequest,
    *,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    refresh: bool = False,
    offline: bool = False,
    key: str | None = None,
    progress: bool | None = None,
) -> Vintage:
    """Fetch every call of ``request`` into one new raw vintage (or reuse the stored one).

    Parameters
    ----------
    request
        The logical request (see :func:`make_request`).
    store
        Raw store (default under :func:`reexport.config.raw_dir`).
    client
        HTTP client (default a new :class:`reexport.http.HttpClient`).
    refresh
        Download again into a new vintage even if the request is stored.
    offline
        Make no network call: return the stored vintage or raise.
    key
        Subscription key; default ``$COMTRADE_API_KEY``.  Without one the
        keyless preview endpoint is used, split to stay under its 500-row cap.
    progress
        Show a progress bar; default: only when stderr is a terminal.

    Returns
    -------
    Vintage
        The stored vintage answering ``request``.

    Raises
    ------
    SourceError
        When a call fails after retries, answers with something other than
        the documented envelope, or reaches its row cap; nothing is stored.
    """
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    logical = request.logical()
    if not refresh:
        existing = store.find(SOURCE, logical)
        if existing is not None:
            return existing
    if offline:
        raise SourceError(
            f"offline: no stored comtrade vintage for reporter {request.reporter} partner "
            f"{_partner_text(request.partner)} hs {request.hs} flow {request.flow} "
            f"{request.start}..{request.end}; run the fetch without --offline first"
        )
    from reexport.http import HttpClient

    key = key if key is not None else config.comtrade_key()
    keyed = bool(key)
    client = client if client is not None else HttpClient()
    url = config.comtrade_base_url() + (KEYED_PATH if keyed else PREVIEW_PATH)
    cap = KEYED_MAX_RECORDS if keyed else PREVIEW_CAP
    secret_headers = {KEY_HEADER: key} if key else None
    calls = plan_calls(request, keyed=keyed)
    # A bar only helps when there are several calls to wait for.
    show = (sys.stderr.isatty() and len(calls) > 1) if progress is None else progress
    with (
        store.writer(SOURCE, logical) as writer,
        tqdm(total=len(calls), desc="comtrade", unit="call", disable=not show) as bar,
    ):
        for call in calls:
            params = call_params(request, call, keyed=keyed)
            origin = f"comtrade call {call.name}"
            try:
                response, envelope = client.get_checked(
                    url,
                    functools.partial(read_complete_envelope, origin=origin),
                    params=params,
                    secret_headers=secret_headers,
                    attempts=BODY_ATTEMPTS,
                )
            except SourceError as exc:
                # Transport failures name only the host; say which call (months,
                # partners) failed, so a user knows what to retry.
                if origin in str(exc):
                    raise
                raise SourceError(f"{origin}: {exc}; nothing was stored") from exc
            check_cap(envelope, cap=cap, origin=origin)
            # Parse now so a body we could not use later is refused before anything is stored.
            to_trade_frame(records_table(envelope["data"], origin=origin), origin=origin)
            writer.add(
                call.name,
                response.content,
                url=client.loggable_url(response),
                params=params,
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
            )
            bar.update(1)
    assert writer.vintage is not None  # set when the `with` block exits cleanly
    return writer.vintage


def _partner_text(partner: Partner) -> str:
    return partner if isinstance(partner, str) else ",".join(partner)


def import_files(
    paths: Sequence[str | os.PathLike[str]],
    request: ComtradeRequest,
    *,
    store: RawStore | None = None,
) -> tuple[Vintage, bool]:
    """Store Comtrade files the user downloaded by hand as one real vintage of ``request``.

    Accepted: an API answer saved from the browser (the JSON envelope: its
    ``count`` must equal its rows) or the website's CSV export
    (:func:`read_export_csv`); several files (e.g. one per year, when the
    website or the API answers a few months a query) go into one vintage.  The records get a
    download's checks (the fields the parser needs, monthly total rows, no two
    different rows for one key, across files too) and must answer ``request``:
    its reporter, HS code and flow, months in ``start..end``, and only World
    (``--partner world``) or only the listed partners.  An HTML page and the
    SYNTHETIC demo's files are refused.  Stored byte for byte as
    ``file_01.csv``, ``file_02.json``...; see :mod:`reexport.sources.from_file`
    for the provenance.

    Returns
    -------
    (Vintage, bool)
        The vintage, and whether these very files were already imported for ``request``.

    Raises
    ------
    BadInputError
        For a missing, unreadable or damaged file, or records that do not answer
        ``request`` (nothing is stored).
    """
    from reexport.sources import from_file
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    locals_ = [from_file.read_local_file(p) for p in paths]
    if not locals_:
        raise BadInputError("--from-file: name at least one Comtrade file")
    named: list[tuple[str, from_file.LocalFile]] = []
    frames = []
    for number, local in enumerate(locals_, start=1):
        is_json = local.content.lstrip()[:1] == b"{"
        stored_name = f"file_{number:02d}{'.json' if is_json else '.csv'}"
        try:
            records = read_records(local.content, name=stored_name, origin=local.label)
            table = records_table(records, origin=local.label)
            frame = to_trade_frame(table, origin=local.label)
        except SourceError as exc:
            raise from_file.as_bad_input(exc) from None
        _check_answers(table, frame, request, local.label)
        named.append((stored_name, local))
        frames.append(frame)
    if len(frames) > 1:
        try:
            _check_duplicates(pd.concat(frames, ignore_index=True), "--from-file files")
        except SourceError as exc:
            raise from_file.as_bad_input(exc) from None
    logical = from_file.file_request(request.logical(), locals_)
    return from_file.store_files(store, SOURCE, logical, named)


def _check_answers(
    table: pd.DataFrame, frame: pd.DataFrame, request: ComtradeRequest, origin: str
) -> None:
    """Refuse records that are not an answer to ``request`` (another reporter, code, flow...)."""

    def refuse(what: str, found: Any, wanted: str) -> None:
        raise BadInputError(
            f"{origin}: holds {what} {found}, but the request is {wanted}; pass the matching "
            "--reporter/--partner/--hs/--flow/--start/--end, or export the right data"
        )

    totals = table.loc[table["is_total"]]
    reporters = sorted(
        {code for c in totals["reporter_code"] if (code := _int_or_none(c)) is not None}
    )
    if reporters and reporters != [request.reporter]:
        refuse("reporter code(s)", ", ".join(map(str, reporters)), f"--reporter {request.reporter}")
    for column, wanted, option in (("flow", request.flow, "--flow"), ("hs", request.hs, "--hs")):
        found = sorted(set(frame[column]) - {wanted})
        if found:
            refuse(column, ", ".join(found), f"{option} {wanted}")
    outside = sorted(
        p for p in set(frame["period"]) if not str(request.start) <= p <= str(request.end)
    )
    if outside:
        refuse("month(s)", ", ".join(outside[:3]), f"{request.start}..{request.end}")
    partners = set(frame["partner"])
    if request.partner == "world" and partners - {"WLD"}:
        refuse("partner(s)", ", ".join(sorted(partners - {"WLD"})[:5]), "--partner world")
    if isinstance(request.partner, tuple) and partners - set(request.partner):
        extra = sorted(partners - set(request.partner))
        refuse("partner(s)", ", ".join(extra[:5]), f"--partner {','.join(request.partner)}")


def fetch_cli(
    *,
    reporter: str = "156",
    partner: str = "world",
    hs: str = "850511",
    flow: str = "X",
    start: str = "2017-01",
    end: str = "2024-12",
    refresh: bool = False,
    offline: bool = False,
    from_file: Sequence[str] | None = None,
) -> int | None:
    """``reexport fetch comtrade ... [--from-file PATH ...]``: fetch (or import), parse, summarise."""
    from reexport.http import HttpClient
    from reexport.store import RawStore

    request = make_request(
        reporter=reporter, partner=partner, hs=hs, flow=flow, start=start, end=end
    )
    store = RawStore()
    if from_file:
        vintage, warm = import_files(from_file, request, store=store)
        names = ", ".join(Path(p).name for p in from_file)
        how = f"{'warm: already imported' if warm else 'imported'} from {names}"
    else:
        before = {v.id for v in store.vintages(SOURCE)}
        with HttpClient() as client:
            vintage = fetch(request, store=store, client=client, refresh=refresh, offline=offline)
            calls = client.calls
        warm = vintage.id in before
        how = "warm: already stored, 0 calls" if warm else f"downloaded, {calls} HTTP calls"
    frame = parse(vintage)
    months = len(list(month_range(request.start, request.end)))
    covered = frame["period"].nunique()
    print(
        f"comtrade: vintage {vintage.id} ({how}), {len(vintage.files)} files, {len(frame)} rows, "
        f"{covered}/{months} months with data, partner {_partner_text(request.partner)}, "
        f"hs {request.hs}, flow {request.flow}"
    )
    return 0


def iso_codes() -> list[str]:
    """ISO3 codes accepted by ``--partner`` / ``--reporter``, sorted."""
    return sorted(COMTRADE_AREAS)
