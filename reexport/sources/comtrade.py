"""UN Comtrade trade flows (API v1), monthly or annual: plan the calls, fetch every page, tidy.

Endpoints (base from :func:`reexport.config.comtrade_base_url`; ``{F}`` is ``M``
monthly or ``A`` annual):

* keyed: ``GET {base}/data/v1/get/C/{F}/HS`` with the subscription key from
  ``$COMTRADE_API_KEY`` sent as the ``Ocp-Apim-Subscription-Key`` header -- the
  key is a secret and never enters a URL, manifest, log line or message;
* keyless: ``GET {base}/public/v1/preview/C/{F}/HS``, which returns at most 500
  rows per call.  Requests are split so that no call can reach the cap (fewer
  periods per call, lists split); a response that still reaches it is
  refused with :class:`~reexport.errors.SourceError`, never silently truncated.

Query parameters: ``reporterCode``, ``partnerCode`` (``0`` = World; omitted =
every partner, World included), ``cmdCode``, ``flowCode`` -- each a
comma-separated list -- ``period`` (comma-separated ``YYYYMM`` or ``YYYY``, at
most 12 per call, so a keyed 2017-2024 monthly pull is 8 calls), ``motCode=0``,
``customsCode=C00``, ``partner2Code=0`` (the totals over mode of transport,
customs procedure and second partner), ``includeDesc=true`` and, keyed,
``maxRecords``.  :func:`plan_calls` puts as much into each call as the row caps
allow.

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

Reporters and partners are named by ISO3 or by Comtrade's area codes, for every
area of Comtrade's official reference tables shipped with the package
(:mod:`reexport.sources.areas`).  The codes are M49 codes except for a few areas
(USA 842, France 251, India 699, Norway 579, Switzerland 757).  Comtrade
reports Taiwan as area 490 "Other Asia, nes" (ISO-like code ``S19``), which the
tidy frame calls ``TWN``.
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from tqdm import tqdm

from reexport import config
from reexport.errors import BadInputError, SourceError
from reexport.periods import Month, chunks, month_range, parse_month
from reexport.sources import areas, hs

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
    "qty", "qty_unit", "is_estimated", "source", "vintage", "freq",
]  # fmt: skip
#: What to do with annual records: refuse them, drop them, or keep them (period ``YYYY``).
AnnualRule = Literal["reject", "drop", "keep"]


class _AreaCodes(Mapping[str, int]):
    """ISO3 -> Comtrade partner code for every ISO3 that names one current area.

    A read-only view of the official table (:mod:`reexport.sources.areas`), kept
    under the name the module used when it held a hand-typed subset.
    """

    @functools.cached_property
    def _codes(self) -> dict[str, int]:
        codes = {}
        for area in areas.areas("partner"):
            try:
                if areas.lookup(area.iso3, role="partner").code == area.code:
                    codes[area.iso3] = area.code
            except BadInputError:
                continue  # an ISO3 shared by several current areas: use the code
        return codes

    def __getitem__(self, iso3: str) -> int:
        return self._codes[iso3]

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __len__(self) -> int:
        return len(self._codes)


#: ISO3 -> Comtrade partner area code, from the official reference table.
COMTRADE_AREAS: Mapping[str, int] = _AreaCodes()
#: Comtrade's non-ISO area labels mapped to the codes the tidy frame uses.
AREA_ALIASES = {"W00": "WLD", "S19": "TWN"}

Partner = Literal["world", "all"] | tuple[str, ...]
Frequency = Literal["M", "A"]
_FLOWS = ("X", "M", "RX", "RM")


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class ComtradeRequest:
    """One logical request: reporters' flows of HS codes with partners over a span of periods.

    Attributes
    ----------
    reporters
        Sorted reporter area codes (156 = China).
    partner
        ``"world"``, ``"all"`` or a sorted tuple of partner labels: the tidy ISO3
        code of each area, or its Comtrade code when that ISO3 names several areas.
    hs_codes
        Sorted HS codes (2, 4 or 6 digits, or ``TOTAL``).
    flows
        Sorted flows: ``X`` exports, ``M`` imports (``RX``/``RM`` re-exports/imports).
    start, end
        First and last month, inclusive (annual requests: January of the first
        year and December of the last).
    frequency
        ``"M"`` monthly or ``"A"`` annual.
    """

    reporters: tuple[int, ...]
    partner: Partner
    hs_codes: tuple[str, ...]
    flows: tuple[str, ...]
    start: Month
    end: Month
    frequency: Frequency = "M"

    @property
    def annual(self) -> bool:
        """Whether the request is for annual data."""
        return self.frequency == "A"

    def periods(self) -> list[str]:
        """Every period asked for, as the API writes them (``YYYYMM`` or ``YYYY``)."""
        if self.annual:
            return [str(y) for y in range(self.start.year, self.end.year + 1)]
        return [m.compact for m in month_range(self.start, self.end)]

    def partner_codes(self) -> tuple[int, ...] | None:
        """Comtrade codes of the partner list (``(0,)`` for World, ``None`` for all)."""
        if self.partner == "world":
            return (areas.WORLD_CODE,)
        if self.partner == "all":
            return None
        return tuple(sorted(areas.lookup(p, role="partner").code for p in self.partner))

    def logical(self) -> dict[str, Any]:
        """The JSON-like request recorded in the manifest and matched on warm re-runs.

        A request of one reporter, HS code and flow, monthly, is written exactly as
        before several of them could be asked at once (scalars, no ``frequency``),
        so the vintages stored then still answer it.  The endpoint (keyed or
        preview) is not part of it: both serve the same final data, and each
        file's URL is recorded in the manifest.
        """

        def one_or_list(values: tuple[Any, ...]) -> Any:
            return values[0] if len(values) == 1 else list(values)

        partner = self.partner if isinstance(self.partner, str) else list(self.partner)
        span = (
            (str(self.start.year), str(self.end.year))
            if self.annual
            else (str(self.start), str(self.end))
        )
        logical: dict[str, Any] = {
            "api": f"comtrade v1 C/{self.frequency}/HS",
            "reporter": one_or_list(self.reporters),
            "partner": partner,
            "hs": one_or_list(self.hs_codes),
            "flow": one_or_list(self.flows),
            "start": span[0],
            "end": span[1],
            "motCode": 0,
            "customsCode": "C00",
            "partner2Code": 0,
        }
        if self.annual:
            logical["frequency"] = "A"
        return logical

    def describe(self) -> str:
        """One line naming what is asked for (for messages)."""
        span = self.logical()
        return (
            f"reporter {','.join(map(str, self.reporters))} partner {_partner_text(self.partner)} "
            f"hs {','.join(self.hs_codes)} flow {','.join(self.flows)} "
            f"{'annual ' if self.annual else ''}{span['start']}..{span['end']}"
        )


def area_code(iso3: str, *, what: str = "partner") -> int:
    """Comtrade area code of an ISO3 (or M49) code, from the official table.

    Raises
    ------
    BadInputError
        If the official partner table has no such area (naming it and ``what``).
    """
    return areas.lookup(iso3, role="partner", what=what).code


def _split(text: str | int | Sequence[str | int]) -> list[str]:
    """Items of a comma-separated option or a list of values, stripped, empty ones dropped."""
    items = [text] if isinstance(text, (str, int)) else list(text)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def parse_partner(text: str | Sequence[str | int]) -> Partner:
    """Parse ``--partner``: ``world``, ``all`` or ISO3/M49 codes (comma-separated or a list).

    Returns
    -------
    ``"world"``, ``"all"`` or a sorted tuple of unique partner labels (tidy ISO3
    codes; the Comtrade code where an ISO3 names several current areas).

    Raises
    ------
    BadInputError
        For an empty list or an area that is not in Comtrade's official table.
    """
    items = _split(text)
    lowered = [i.lower() for i in items]
    if lowered in (["world"], ["wld"], ["0"]):
        return "world"
    if lowered == ["all"]:
        return "all"
    if not items:
        raise BadInputError(f"--partner {text!r}: expected world, all or ISO3/M49 codes")
    if "all" in lowered:
        raise BadInputError(f"--partner {text!r}: 'all' cannot be combined with other partners")
    labels = set()
    for item in items:
        area = areas.lookup(item, role="partner", what="--partner")
        # The ISO3 label when it finds this very area again, else the code.
        try:
            same = areas.lookup(area.iso3, role="partner").code == area.code
        except BadInputError:
            same = False
        labels.add(area.iso3 if same else str(area.code))
    return tuple(sorted(labels))


def parse_reporters(text: str | int | Sequence[str | int]) -> tuple[int, ...]:
    """Parse ``--reporter``: ISO3 or M49 codes, comma-separated or a list; sorted codes."""
    items = _split(text)
    if not items:
        raise BadInputError(f"--reporter {text!r}: expected ISO3 or M49 codes such as CHN or 156")
    return tuple(sorted({areas.lookup(i, role="reporter", what="--reporter").code for i in items}))


def parse_hs(text: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``--hs``: HS codes of 2, 4 or 6 digits (or ``TOTAL``), comma-separated or a list.

    Each code must be in the shipped HS nomenclature (:mod:`reexport.sources.hs`), so a
    mistyped but well-formed code is refused before any call is spent on it.
    """
    items = _split(text)
    if not items:
        raise BadInputError(f"--hs {text!r}: expected HS codes such as 850511")
    return tuple(sorted({hs.check(code, what="--hs") for code in items}))


def parse_flows(text: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``--flow``: ``X``, ``M`` (``RX``, ``RM``), several comma-separated, or ``both``."""
    items = _split(text)
    if [i.lower() for i in items] == ["both"]:
        return ("M", "X")
    if not items:
        raise BadInputError(f"--flow {text!r}: expected X, M or both")
    for item in items:
        if item.upper() not in _FLOWS:
            raise BadInputError(f"--flow {item!r}: expected one of {', '.join(_FLOWS)} or both")
    return tuple(sorted({i.upper() for i in items}))


def _parse_span(start: str, end: str, frequency: Frequency) -> tuple[Month, Month]:
    if frequency == "A":
        years = []
        for text, option in ((start, "--start"), (end, "--end")):
            raw = str(text).strip()
            if re.fullmatch(r"\d{4}", raw):
                years.append(int(raw))
            else:
                years.append(parse_month(raw, what=option).year)
        first, last = Month(years[0], 1), Month(years[1], 12)
        if last < first:
            raise BadInputError(f"--start {years[0]} is after --end {years[1]}")
        return first, last
    first = parse_month(start, what="--start")
    last = parse_month(end, what="--end")
    if last < first:
        raise BadInputError(f"--start {first} is after --end {last}")
    return first, last


def make_request(
    *,
    reporter: str | int | Sequence[str | int] = "156",
    partner: str | Sequence[str | int] = "world",
    hs: str | Sequence[str] = "850511",
    flow: str | Sequence[str] = "X",
    start: str = "2017-01",
    end: str = "2024-12",
    frequency: str = "M",
) -> ComtradeRequest:
    """Validate CLI-style options into a :class:`ComtradeRequest`.

    Parameters
    ----------
    reporter
        Reporter ISO3 (``CHN``) or Comtrade/M49 codes (``156``): comma-separated text or a list.
    partner
        ``world``, ``all``, or partner ISO3/M49 codes (comma-separated or a list).
    hs
        HS codes: 2, 4 or 6 digits, or ``TOTAL`` (comma-separated or a list).
    flow
        ``X``, ``M``, ``RX``, ``RM``, several of them, or ``both`` (X and M).
    start, end
        First and last month (``YYYY-MM``); annual requests take years (``YYYY``;
        a ``YYYY-MM`` counts as its year).
    frequency
        ``M`` monthly or ``A`` annual.

    Raises
    ------
    BadInputError
        Naming the offending option and value (unknown areas with close matches).
    """
    freq = str(frequency).strip().upper()
    if freq not in ("M", "A"):
        raise BadInputError(f"--frequency {frequency!r}: expected M (monthly) or A (annual)")
    frequency_code: Frequency = "A" if freq == "A" else "M"
    first, last = _parse_span(start, end, frequency_code)
    return ComtradeRequest(
        reporters=parse_reporters(reporter),
        partner=parse_partner(partner),
        hs_codes=parse_hs(hs),
        flows=parse_flows(flow),
        start=first,
        end=last,
        frequency=frequency_code,
    )


@dataclass(frozen=True)
class Call:
    """One API call of a plan: what it asks for, and its file name.

    ``months`` holds the months of a monthly call (empty for an annual one);
    ``periods`` the API's period codes either way.
    """

    name: str
    months: tuple[Month, ...]
    partner_codes: tuple[int, ...] | None  # None = every partner (partnerCode omitted)
    row_bound: int  # most rows the call can return once the total filters are applied
    periods: tuple[str, ...] = ()
    reporters: tuple[int, ...] = ()
    hs_codes: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()


def _groups(values: tuple[Any, ...], size: int) -> list[tuple[Any, ...]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def plan_calls(request: ComtradeRequest, *, keyed: bool) -> list[Call]:
    """Split a request into as few API calls as the caps allow.

    Every call may carry several reporters, partners, HS codes and flows (the API
    takes comma-separated lists) and up to 12 periods (the API's limit).  A call's
    worst-case row count is periods x reporters x partners x HS codes x flows (one
    total row each; "all" partners count as :data:`ALL_PARTNERS_BOUND`); it must stay
    below the cap (500 rows keyless, ``maxRecords`` keyed).  While it would not, the
    longest list (on ties: partners, HS codes, reporters, flows) is cut into the
    largest pieces that fit, then the next; "all" partners cannot be cut.  Then as
    many periods go into each call as fit.  A one-reporter, one-code, one-flow request is planned exactly
    as before such lists existed.

    Returns
    -------
    list of Call
        In chronological order; file names are ``YYYY-MM_YYYY-MM.json`` (annual
        ``YYYY_YYYY.json``) with ``_rN``/``_hN``/``_fN``/``_pN`` when reporters,
        HS codes, flows or partners are split into several calls.
    """
    limit = KEYED_MAX_RECORDS if keyed else PREVIEW_CAP
    partner_codes = request.partner_codes()
    partner_values: tuple[Any, ...] = partner_codes if partner_codes is not None else (None,)
    # name, values, rows per value, whether it can be split
    dims: list[list[Any]] = [
        ["p", partner_values, ALL_PARTNERS_BOUND if partner_codes is None else 1],
        ["h", request.hs_codes, 1],
        ["r", request.reporters, 1],
        ["f", request.flows, 1],
    ]
    sizes = {d[0]: len(d[1]) for d in dims}

    def bound() -> int:
        total = 1
        for name, _values, rows in dims:
            total *= sizes[name] * rows
        return total

    for name, values, rows in sorted(dims, key=lambda d: -len(d[1])):
        if bound() <= limit - 1:
            break
        others = bound() // (sizes[name] * rows)
        sizes[name] = max(1, min(len(values), (limit - 1) // max(1, others * rows)))
    per_period = bound()
    grouped = {name: _groups(values, sizes[name]) for name, values, _rows in dims}
    periods_per_call = max(1, min(MAX_PERIODS_PER_CALL, (limit - 1) // per_period))
    if request.annual:
        years = [int(p) for p in request.periods()]
        runs: list[tuple[tuple[Month, ...], tuple[str, ...], str]] = [
            ((), tuple(str(y) for y in run), f"{run[0]}_{run[-1]}")
            for run in _groups(tuple(years), periods_per_call)
        ]
    else:
        runs = [
            (tuple(months), tuple(m.compact for m in months), f"{months[0]}_{months[-1]}")
            for months in chunks(request.start, request.end, periods_per_call)
        ]
    calls = []
    for months, periods, stem in runs:
        for r_no, reporters in enumerate(grouped["r"], start=1):
            for h_no, hs_codes in enumerate(grouped["h"], start=1):
                for f_no, flows in enumerate(grouped["f"], start=1):
                    for p_no, partners in enumerate(grouped["p"], start=1):
                        suffix = "".join(
                            f"_{tag}{number}"
                            for tag, number in (("r", r_no), ("h", h_no), ("f", f_no), ("p", p_no))
                            if len(grouped[tag]) > 1
                        )
                        codes = None if partner_codes is None else tuple(partners)
                        width = ALL_PARTNERS_BOUND if codes is None else len(codes)
                        calls.append(
                            Call(
                                name=f"{stem}{suffix}.json",
                                months=months,
                                partner_codes=codes,
                                row_bound=len(periods)
                                * width
                                * len(reporters)
                                * len(hs_codes)
                                * len(flows),
                                periods=periods,
                                reporters=tuple(reporters),
                                hs_codes=tuple(hs_codes),
                                flows=tuple(flows),
                            )
                        )
    return calls


def call_params(request: ComtradeRequest, call: Call, *, keyed: bool) -> dict[str, str]:
    """Query parameters of one call (never the key: that travels in a header)."""
    params = {
        "reporterCode": ",".join(str(c) for c in call.reporters),
        "cmdCode": ",".join(call.hs_codes),
        "flowCode": ",".join(call.flows),
        "period": ",".join(call.periods),
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


def endpoint_path(request: ComtradeRequest, *, keyed: bool) -> str:
    """The API path of a request: ``/data/v1/get/C/{M|A}/HS`` or the keyless preview's."""
    return (KEYED_PATH if keyed else PREVIEW_PATH).replace("/C/M/", f"/C/{request.frequency}/")


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
    return areas.iso3_of_code(code) or str(code)


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


def _annual_period(row: Mapping[Any, Any], origin: str) -> str:
    """``YYYY`` of an annual record, checking ``period`` and ``refYear`` agree."""
    where = f"{origin}: annual record for period {row['period_code']!r} partner {row['partner']}"
    year = _int_or_none(row["ref_year"])
    if year is None or row["period_code"] != str(year):
        raise SourceError(f"{where} does not match refYear {row['ref_year']!r}")
    return f"{year:04d}"


def _is_annual_row(row: Mapping[Any, Any]) -> bool:
    return bool(row["freq"] != "M" or _int_or_none(row["ref_month"]) == 52)


def to_trade_frame(
    table: pd.DataFrame,
    *,
    vintage: str = "",
    annual: AnnualRule = "reject",
    origin: str = "Comtrade response",
) -> pd.DataFrame:
    """The tidy trade frame of the total rows of a :func:`records_table`.

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
        ``refMonth 52``); ``"drop"`` drops such records with a warning;
        ``"keep"`` keeps them with period ``YYYY`` and ``freq`` ``"A"``.
    origin
        Where the records came from, for messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRADE_COLUMNS`; ``net_weight_t`` is ``netWgt`` / 1000 and
        ``freq`` is ``"M"`` (period ``YYYY-MM``) or ``"A"`` (period ``YYYY``).

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
    rows = totals.to_dict("records")
    if annual == "keep":
        freqs = ["A" if _is_annual_row(row) else "M" for row in rows]
    else:
        freqs = ["M"] * len(rows)  # annual rows raise in _monthly_period
    periods = [
        _annual_period(row, origin) if freq == "A" else _monthly_period(row, origin)
        for row, freq in zip(rows, freqs, strict=True)
    ]
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
    frame["freq"] = pd.Series(freqs, dtype=object)
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
    annual: AnnualRule = "reject",
    origin: str = "Comtrade response",
    name: str = "",
) -> pd.DataFrame:
    """Tidy trade frame of one stored file (checked by :func:`read_records`; totals, monthly)."""
    table = records_table(read_records(content, name=name, origin=origin), origin=origin)
    return to_trade_frame(table, vintage=vintage, annual=annual, origin=origin)


def parse(vintage: Vintage, *, annual: AnnualRule | None = None) -> pd.DataFrame:
    """Tidy trade frame of every file of a stored ``comtrade`` vintage.

    Note that HS6 ``850511`` also covers CN ``85051190`` (permanent magnets of
    other metals), so its tonnages exceed China-customs REPM figures for CN
    ``85051110``; see the module docstring.

    Parameters
    ----------
    vintage
        A raw vintage of source ``comtrade`` (one JSON body per API call).
    annual
        What to do with annual records, see :func:`to_trade_frame`; default
        ``"keep"`` for a vintage of an annual request (``"frequency": "A"``),
        else ``"reject"``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRADE_COLUMNS`, sorted by period, reporter, partner, flow, hs.
        The rows of an all-partner vintage include the World totals (partner
        ``WLD``): Comtrade answers a query without ``partnerCode`` with every
        partner and World, so such a vintage serves any frame that needs the
        reporter's world totals as well as the by-partner flows.
    """
    if vintage.source != SOURCE:
        raise BadInputError(f"vintage {vintage.id} is source {vintage.source!r}, not comtrade")
    if annual is None:
        annual = "keep" if vintage.request.get("frequency") == "A" else "reject"
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
            f"offline: no stored comtrade vintage for {request.describe()}; "
            "run the fetch without --offline first"
        )
    from reexport.http import HttpClient

    key = key if key is not None else config.comtrade_key()
    keyed = bool(key)
    client = client if client is not None else HttpClient()
    url = config.comtrade_base_url() + endpoint_path(request, keyed=keyed)
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
            to_trade_frame(
                records_table(envelope["data"], origin=origin),
                origin=origin,
                annual="keep" if request.annual else "reject",
            )
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
    parquet = [local.content[:4] == PARQUET_MAGIC for local in locals_]
    if any(parquet):
        if not all(parquet):
            raise BadInputError(
                "--from-file: a tidy Parquet trade table cannot be mixed with Comtrade "
                "JSON/CSV files in one import"
            )
        for number, (path, local) in enumerate(zip(paths, locals_, strict=True), start=1):
            _check_parquet_answers(Path(path), local.content, request, local.label)
            named.append((f"file_{number:02d}.parquet", local))
        logical = from_file.file_request(request.logical(), locals_)
        return from_file.store_files(store, SOURCE, logical, named)
    for number, local in enumerate(locals_, start=1):
        is_json = local.content.lstrip()[:1] == b"{"
        stored_name = f"file_{number:02d}{'.json' if is_json else '.csv'}"
        try:
            records = read_records(local.content, name=stored_name, origin=local.label)
            table = records_table(records, origin=local.label)
            frame = to_trade_frame(
                table, origin=local.label, annual="keep" if request.annual else "reject"
            )
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


#: The first (and last) four bytes of every Parquet file.
PARQUET_MAGIC = b"PAR1"


def _parquet_distinct(source: Path | bytes, column: str) -> set[str]:
    """The distinct non-missing values of one column of a Parquet file, a row group at a time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    file = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else str(source))
    values: set[str] = set()
    for group in range(file.num_row_groups):
        array = file.read_row_group(group, columns=[column]).column(column)
        values.update(str(v) for v in pc.unique(array).to_pylist() if v is not None)
    return values


def _check_parquet_answers(path: Path, data: bytes, request: ComtradeRequest, origin: str) -> None:
    """Refuse a tidy Parquet trade table that is not an answer to ``request``.

    The same questions as :func:`_check_answers` (reporters, partners, HS codes,
    flows, periods), asked of the distinct values of each key column, read one
    column and one row group at a time, so a table of tens of millions of rows
    is checked in little memory.  Columns and the ``synthetic`` flag are checked
    by :func:`reexport.tables_io.trade_table_rows`.  ``data`` are the file's
    bytes as read for storing: the bytes checked are the bytes stored.
    """
    from reexport import tables_io

    tables_io.trade_table_rows(path, real=True, data=data)
    found = {
        column: _parquet_distinct(data, column)
        for column in ("reporter", "partner", "flow", "hs", "period")
    }

    def refuse(what: str, extra: set[str], wanted: str) -> None:
        raise BadInputError(
            f"{origin}: holds {what} {', '.join(sorted(extra)[:5])}, but the request is "
            f"{wanted}; pass the matching --reporter/--partner/--hs/--flow/--start/--end, "
            "or export the right data"
        )

    reporters: set[int] = set()
    for text in found["reporter"]:
        try:
            reporters.add(areas.lookup(text, role="reporter").code)
        except BadInputError:
            refuse("reporter", {text}, "a Comtrade reporter (ISO3 or M49)")
    if reporters - set(request.reporters):
        wanted = ",".join(map(str, request.reporters))
        refuse("reporter(s)", {str(r) for r in reporters - set(request.reporters)}, wanted)
    for column, wanted_codes, option in (
        ("flow", request.flows, "--flow"),
        ("hs", request.hs_codes, "--hs"),
    ):
        if found[column] - set(wanted_codes):
            refuse(column, found[column] - set(wanted_codes), f"{option} {','.join(wanted_codes)}")
    outside = found["period"] - set(tidy_periods(request))
    if outside:
        span = request.logical()
        what = "year(s)" if request.annual else "month(s)"
        refuse(what, outside, f"{span['start']}..{span['end']}")
    partners = found["partner"]
    if request.partner == "world" and partners - {"WLD"}:
        refuse("partner(s)", partners - {"WLD"}, "--partner world")
    if isinstance(request.partner, tuple):
        wanted_partners = {areas.lookup(p, role="partner").iso3 for p in request.partner}
        if partners - wanted_partners - {"WLD"}:
            refuse(
                "partner(s)",
                partners - wanted_partners - {"WLD"},
                f"--partner {','.join(request.partner)}",
            )


def _parquet_summary(vintage: Any) -> tuple[int, int]:
    """Rows and distinct periods of a vintage of tidy Parquet tables (one column read)."""
    import pyarrow.parquet as pq

    rows, periods = 0, set()
    for record in vintage.files:
        path = vintage.file_path(record["name"])
        rows += pq.ParquetFile(str(path)).metadata.num_rows
        periods |= _parquet_distinct(path, "period")
    return rows, len(periods)


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
    wanted_reporters = ",".join(map(str, request.reporters))
    if set(reporters) - set(request.reporters):
        refuse("reporter code(s)", ", ".join(map(str, reporters)), f"--reporter {wanted_reporters}")
    for column, wanted, option in (
        ("flow", request.flows, "--flow"),
        ("hs", request.hs_codes, "--hs"),
    ):
        found = sorted(set(frame[column]) - set(wanted))
        if found:
            refuse(column, ", ".join(found), f"{option} {','.join(wanted)}")
    span = request.logical()
    wanted_periods = set(tidy_periods(request))
    outside = sorted(set(frame["period"]) - wanted_periods)
    if outside:
        what = "year(s)" if request.annual else "month(s)"
        refuse(what, ", ".join(outside[:3]), f"{span['start']}..{span['end']}")
    partners = set(frame["partner"])
    if request.partner == "world" and partners - {"WLD"}:
        refuse("partner(s)", ", ".join(sorted(partners - {"WLD"})[:5]), "--partner world")
    if isinstance(request.partner, tuple):
        wanted_partners = {areas.lookup(p, role="partner").iso3 for p in request.partner}
        if partners - wanted_partners:
            extra = sorted(partners - wanted_partners)
            refuse("partner(s)", ", ".join(extra[:5]), f"--partner {','.join(request.partner)}")


def fetch_cli(
    *,
    reporter: str = "156",
    partner: str = "world",
    hs: str = "850511",
    flow: str = "X",
    start: str = "2017-01",
    end: str = "2024-12",
    frequency: str = "M",
    refresh: bool = False,
    offline: bool = False,
    from_file: Sequence[str] | None = None,
) -> int | None:
    """``reexport fetch comtrade ... [--from-file PATH ...]``: fetch (or import), parse, summarise.

    ``--reporter``, ``--partner``, ``--hs`` and ``--flow`` take comma-separated lists
    (ISO3 or M49 codes for areas; ``--flow both``); ``--frequency A`` asks for annual data.
    """
    from reexport import tables_io
    from reexport.http import HttpClient
    from reexport.store import RawStore

    request = make_request(
        reporter=reporter,
        partner=partner,
        hs=hs,
        flow=flow,
        start=start,
        end=end,
        frequency=frequency,
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
    if vintage.files and all(tables_io.is_parquet(Path(f["name"])) for f in vintage.files):
        rows, covered = _parquet_summary(vintage)  # a tidy table, built as it is (outofcore)
    else:
        frame = parse(vintage)
        rows, covered = len(frame), frame["period"].nunique()
    periods = len(request.periods())
    unit = "years" if request.annual else "months"
    print(
        f"comtrade: vintage {vintage.id} ({how}), {len(vintage.files)} files, {rows} rows, "
        f"{covered}/{periods} {unit} with data, reporter {','.join(map(str, request.reporters))}, "
        f"partner {_partner_text(request.partner)}, hs {','.join(request.hs_codes)}, "
        f"flow {','.join(request.flows)}"
    )
    return 0


def covers(
    logical: Mapping[str, Any],
    *,
    reporter: str | int,
    partner: str | int,
    hs: str,
    flow: str,
    frequency: str = "M",
) -> bool:
    """Whether a stored vintage's request (``vintage.request``) asks for these rows.

    Lets a build find its series in any pull: an all-partner request covers every
    partner, World (``WLD``) included, so one ``--partner all`` vintage supplies both
    the world totals and the by-partner flows; a list covers its partners; a
    multi-code, multi-reporter or two-flow request covers each of them.

    Parameters
    ----------
    logical
        A Comtrade manifest request (:meth:`ComtradeRequest.logical`, old or new form).
    reporter, partner
        ISO3 or Comtrade/M49 codes (``WLD`` or ``0`` for World).
    hs, flow, frequency
        One HS code, one flow (``X``/``M``...), ``M`` or ``A``.
    """

    def values(key: str) -> list[str]:
        raw = logical.get(key)
        items = raw if isinstance(raw, list) else [raw]
        return [str(item).strip().upper() for item in items if item is not None]

    if not str(logical.get("api", "")).startswith("comtrade v1"):
        return False
    if str(logical.get("frequency", "M")).upper() != str(frequency).strip().upper():
        return False
    if str(hs).strip().upper() not in values("hs") or str(flow).strip().upper() not in values(
        "flow"
    ):
        return False
    try:
        wanted_reporter = areas.lookup(reporter, role="reporter").code
        reporters = {areas.lookup(r, role="reporter").code for r in values("reporter")}
        if wanted_reporter not in reporters:
            return False
        wanted_partner = areas.lookup(partner, role="partner").code
        partners = values("partner")
        if partners == ["ALL"]:
            return True
        if partners == ["WORLD"]:
            return wanted_partner == areas.WORLD_CODE
        return wanted_partner in {areas.lookup(p, role="partner").code for p in partners}
    except BadInputError:
        return False


def tidy_periods(request: ComtradeRequest) -> list[str]:
    """The tidy frame's periods of a request: ``YYYY-MM`` monthly, ``YYYY`` annual."""
    if request.annual:
        return request.periods()
    return [str(m) for m in month_range(request.start, request.end)]


def iso_codes() -> list[str]:
    """ISO3 codes accepted by ``--partner`` / ``--reporter``, sorted."""
    return sorted(COMTRADE_AREAS)
