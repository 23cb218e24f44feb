"""Study declarations: a study is a folder of data (``STUDY/study.toml``), not code.

``reexport data|build|estimate|report STUDY`` read the folder's ``study.toml``
through :func:`load_study`; the package itself names no study.  The format is
documented in ``docs/study_format.md``; in short:

``[study]``
    ``name`` (the processed sub-folder ``<data_root>/processed/<name>/``), ``title``,
    ``citation``, ``window = [first, last]`` (months), ``facts`` (published or stated
    facts, a JSON file of the folder).
``[[request]]``
    What ``reexport data STUDY`` fetches (or finds stored): ``source`` (``gpr``,
    ``comtrade``, ``fred``), for Comtrade ``reporter``, ``partner``, ``hs``, ``flow``,
    ``frequency`` (lists allowed), for FRED ``series``; ``optional`` says why the
    study can do without it.
``[[frame]]``
    What ``reexport build STUDY`` writes: a selection of the tidy trade table
    (``trade``), aggregated ``by`` period (and partner or HS), the columns it takes
    (``values``), the index series joined (``indices``, ``optional_indices``, a
    per-partner ``partner_index``), ``calendar`` columns, ``implied_zeros``, a
    preferred user series (``prefer``) and ``measures``.
``[[estimate]]``
    ``name`` and ``spec`` (a model spec TOML of the folder): ``reexport estimate STUDY``
    writes ``output/results/<name>.json`` for each.
``[report]``
    ``recipe`` (``report.toml``).

Layer 2: this module reads TOML and validates names against the Comtrade area codes
(:mod:`reexport.sources.comtrade`); it never touches the raw store.  Every problem is a
:class:`~reexport.errors.BadInputError` naming the file and the key (exit 2).
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reexport.errors import BadInputError
from reexport.periods import parse_month

#: The declaration's file name inside a study folder.
DECLARATION = "study.toml"
#: Environment variable naming the study used when a command is given none.
STUDY_ENV = "REEXPORT_STUDY"
#: A one-line file in ``analyses/`` naming the default study folder (``analyses/DEFAULT``).
DEFAULT_FILE = "DEFAULT"

SOURCES = ("gpr", "comtrade", "fred")
#: Series every GPR vintage provides (the monthly workbook's columns, by pattern).
GPR_PROVIDES = ("GPR", "GPRT", "GPRA", "GPRH", "GPRHT", "GPRHA", "GPRC_*", "GPRHC_*")
#: Tidy trade columns a frame's ``values`` may take.
VALUE_COLUMNS = ("net_weight_t", "value_usd", "qty")
#: Keys a frame may be aggregated ``by`` beside ``period``.
BY_KEYS = ("partner", "hs")
WORLD = "WLD"
#: File stems every processed set has; a frame may not take them.
RESERVED_FRAME_NAMES = ("trade_flows", "indices")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_COLUMN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ISO3_RE = re.compile(r"^[A-Z]{3}$")

_STUDY_KEYS = ("name", "title", "citation", "window", "facts")
_REQUEST_KEYS = {
    "gpr": ("source", "optional"),
    "comtrade": (
        "source",
        "reporter",
        "partner",
        "hs",
        "flow",
        "frequency",
        "start",
        "end",
        "optional",
    ),
    "fred": ("source", "series", "start", "end", "optional"),
}
_FRAME_KEYS = (
    "name",
    "trade",
    "by",
    "values",
    "series_column",
    "prefer",
    "indices",
    "optional_indices",
    "partner_index",
    "implied_zeros",
    "calendar",
    "required",
    "measures",
)
_TRADE_KEYS = ("reporter", "partner", "hs", "flow")
_PREFER_KEYS = ("source", "hs", "unit")
_PARTNER_INDEX_KEYS = ("column", "series")
_MEASURE_KEYS = ("suppliers", "groups")
_ESTIMATE_KEYS = ("name", "spec")
_REPORT_KEYS = ("recipe",)
_TOP_KEYS = ("study", "request", "frame", "estimate", "report")


@dataclass(frozen=True)
class Request:
    """One input ``reexport data`` obtains.

    Attributes
    ----------
    source
        ``gpr``, ``comtrade`` or ``fred``.
    reporter, partner, hs, flow
        Comtrade: reporters (ISO3 or M49 codes as written), ``"world"``, ``"all"`` or a
        tuple of partner ISO3 codes, HS codes, flows (``X``/``M``).
    frequency
        ``M`` (monthly) or ``A`` (annual, once the pulls land).
    series
        FRED series ids.
    start, end
        Months (default: the study window).
    optional
        Why the study can do without it (empty: it cannot).
    index
        Position in the declaration (1-based), for messages.
    """

    source: str
    start: str
    end: str
    reporter: tuple[str, ...] = ()
    partner: str | tuple[str, ...] = "world"
    hs: tuple[str, ...] = ()
    flow: tuple[str, ...] = ()
    frequency: str = "M"
    series: tuple[str, ...] = ()
    optional: str = ""
    index: int = 0

    @property
    def role(self) -> str:
        """A short name for summaries: ``gpr``, ``comtrade_CHN_850511_X_all``, ``fred``."""
        if self.source != "comtrade":
            return self.source
        partner = self.partner if isinstance(self.partner, str) else "+".join(self.partner)
        parts = ["+".join(self.reporter), "+".join(self.hs), "+".join(self.flow), partner]
        return "comtrade_" + "_".join(parts)


@dataclass(frozen=True)
class Prefer:
    """A user series preferred to the frame's Comtrade series when one is stored."""

    source: str = "userseries"
    hs: tuple[str, ...] = ()
    unit: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartnerIndex:
    """A per-partner index column: ``series`` with ``{partner}`` replaced by each partner."""

    column: str
    series: str


@dataclass(frozen=True)
class Frame:
    """One processed frame ``reexport build STUDY`` writes (``<name>.csv``).

    Attributes
    ----------
    name
        File stem inside the study's processed folder.
    reporter, partner, hs, flow
        The tidy trade rows it reads: reporter ISO3 codes, ``"WLD"`` (world totals),
        ``"all"`` (every partner but the world row) or partner ISO3 codes, HS codes,
        flows.
    by
        ``("period",)``, ``("period", "partner")`` or ``("period", "hs")``.
    values
        Output column -> tidy trade column (``net_weight_t``, ``value_usd``, ``qty``),
        summed over what ``by`` does not keep.
    series_column
        Optional column naming which series filled the values (``comtrade_<hs>`` or
        ``userseries:<name>``).
    prefer
        A user series preferred to Comtrade (``--export-series auto``), or ``None``.
    indices, optional_indices
        Index series joined by period (``fnmatch`` patterns such as ``GPRC_*``):
        required ones must be in the data, optional ones are joined when present.
    partner_index
        Per-partner index column (partners without the series are dropped and listed).
    implied_zeros
        A partner absent in a month the reporter reported is a zero flow.
    calendar
        Add ``month`` (1..12) and ``year``.
    required
        ``build`` refuses without its trade vintage; an optional frame is skipped and noted.
    measures
        ``{"suppliers": [...]}``: supplier shares, HHI and counts per cell of ``by``
        (:func:`reexport.measures.supplier_shares`).
    groups
        Named partner groups whose summed shares the measures also give
        (``measures.groups``, e.g. ``{"IND_SEA": ("IND", "VNM", ...)}``).
    """

    name: str
    reporter: tuple[str, ...]
    partner: str | tuple[str, ...]
    hs: tuple[str, ...]
    flow: tuple[str, ...]
    by: tuple[str, ...] = ("period",)
    values: Mapping[str, str] = field(default_factory=dict)
    series_column: str | None = None
    prefer: Prefer | None = None
    indices: tuple[str, ...] = ()
    optional_indices: tuple[str, ...] = ()
    partner_index: PartnerIndex | None = None
    implied_zeros: bool = False
    calendar: bool = True
    required: bool = True
    measures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    """A model spec of the study and the results file it gives."""

    name: str
    spec: Path


@dataclass(frozen=True)
class Study:
    """A parsed study folder.

    Attributes
    ----------
    folder
        The study folder.
    path
        Its ``study.toml``.
    name, title, citation
        From ``[study]``; ``name`` names the processed sub-folder.
    window
        ``(first, last)`` month of the study.
    facts
        Path of the published or stated facts.
    requests, frames, estimates
        The declaration's tables, in order.
    recipe
        The report recipe (``report.toml``).
    """

    folder: Path
    path: Path
    name: str
    title: str
    citation: str
    window: tuple[str, str]
    facts: Path
    requests: tuple[Request, ...]
    frames: tuple[Frame, ...]
    estimates: tuple[Estimate, ...]
    recipe: Path

    def frame(self, name: str) -> Frame:
        """The frame called ``name`` (BadInputError if there is none)."""
        for frame in self.frames:
            if frame.name == name:
                return frame
        raise BadInputError(f"{self.path}: no [[frame]] named {name!r}")

    def requests_of(self, source: str) -> list[Request]:
        """The requests of one source, in declaration order."""
        return [r for r in self.requests if r.source == source]


# --------------------------------------------------------------------------- helpers


def _fail(where: str, key: str, message: str) -> BadInputError:
    return BadInputError(f"{where}: {key}: {message}")


def _known(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise BadInputError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _table(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise BadInputError(f"{where}: missing [{key}] table")
        return {}
    if not isinstance(value, dict):
        raise _fail(where, key, "must be a table")
    return value


def _tables(raw: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(where, key, f"must be an array of tables ([[{key}]])")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = raw.get(key, default)
    if value is None:
        raise BadInputError(f"{where}: missing key {key!r}")
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, key, f"must be a non-empty string, not {value!r}")
    return value.strip()


def _texts(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> tuple[str, ...]:
    """A string or a list of strings as a tuple (upper-case not applied)."""
    value = raw.get(key)
    if value is None:
        if required:
            raise BadInputError(f"{where}: missing key {key!r}")
        return ()
    items = [value] if isinstance(value, str | int) else value
    if not isinstance(items, list) or not items:
        raise _fail(where, key, f"must be a string or a non-empty list of strings, not {value!r}")
    out = []
    for item in items:
        if not isinstance(item, str | int) or isinstance(item, bool) or not str(item).strip():
            raise _fail(where, key, f"bad entry {item!r}")
        out.append(str(item).strip())
    return tuple(out)


def _bool(raw: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise _fail(where, key, f"must be true or false, not {value!r}")
    return value


def _month(text: str, where: str, key: str) -> str:
    try:
        return str(parse_month(text, what=key))
    except BadInputError as exc:
        raise _fail(where, key, str(exc)) from None


def _window(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, str]:
    value = raw.get(key)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, str) for v in value):
        raise _fail(where, key, 'must be ["YYYY-MM", "YYYY-MM"]')
    first, last = _month(value[0], where, key), _month(value[1], where, key)
    if last < first:
        raise _fail(where, key, f"{first} is after {last}")
    return first, last


def _area(text: str, where: str, key: str) -> str:
    """An area as the Comtrade module knows it: ISO3 upper-cased, or an M49 number."""
    from reexport.sources import comtrade

    code = text.strip().upper()
    if code.isdigit():
        return code
    if not _ISO3_RE.match(code):
        raise _fail(where, key, f"{text!r} is neither an ISO3 nor an M49 code")
    try:
        comtrade.area_code(code, what=key)
    except BadInputError:
        raise _fail(
            where, key, f"{text!r} is not a known ISO3 code in Comtrade's area table"
        ) from None
    return code


def _hs(text: str, where: str, key: str) -> str:
    """A code of the shipped HS nomenclature (any shipped edition), or one line naming the key."""
    from reexport.sources import hs

    return hs.check(text, what=f"{where}: {key}: HS code")


def _flows(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    flows = tuple(f.upper() for f in _texts(raw, "flow", where, required=False) or ("X",))
    for flow in flows:
        if flow not in ("X", "M"):
            raise _fail(where, "flow", f"{flow!r}: expected X (exports) or M (imports)")
    return flows


def _partner(raw: Mapping[str, Any], where: str, *, frame: bool) -> str | tuple[str, ...]:
    value = raw.get("partner", WORLD if frame else "world")
    if isinstance(value, str) and value.strip().lower() in ("world", "wld"):
        return WORLD if frame else "world"
    if isinstance(value, str) and value.strip().lower() == "all":
        return "all"
    codes = _texts(raw, "partner", where, required=True)
    return tuple(sorted({_area(c, where, "partner") for c in codes}))


# --------------------------------------------------------------------------- parsing


def _request(raw: dict[str, Any], index: int, window: tuple[str, str], where: str) -> Request:
    here = f"{where} [[request]] #{index}"
    source = _text(raw, "source", here)
    if source not in SOURCES:
        raise _fail(here, "source", f"{source!r} is not one of {', '.join(SOURCES)}")
    _known(raw, _REQUEST_KEYS[source], here)
    start = _month(str(raw.get("start", window[0])), here, "start")
    end = _month(str(raw.get("end", window[1])), here, "end")
    optional = str(raw.get("optional", "")).strip()
    if source == "gpr":
        return Request(source, start, end, optional=optional, index=index)
    if source == "fred":
        series = tuple(s.upper() for s in _texts(raw, "series", here, required=True))
        return Request(source, start, end, series=series, optional=optional, index=index)
    frequency = str(raw.get("frequency", "M")).strip().upper()
    if frequency not in ("M", "A"):
        raise _fail(here, "frequency", f"{frequency!r}: expected M (monthly) or A (annual)")
    if frequency == "A":
        raise _fail(here, "frequency", "annual Comtrade requests are not supported yet")
    request = Request(
        source,
        start,
        end,
        reporter=tuple(
            _area(r, here, "reporter") for r in _texts(raw, "reporter", here, required=True)
        ),
        partner=_partner(raw, here, frame=False),
        hs=tuple(_hs(h, here, "hs") for h in _texts(raw, "hs", here, required=True)),
        flow=_flows(raw, here),
        frequency=frequency,
        optional=optional,
        index=index,
    )
    comtrade_requests(request, where=here)  # every combination must be a valid request
    return request


def comtrade_requests(request: Request, *, where: str = "") -> list[Any]:
    """The :class:`reexport.sources.comtrade.ComtradeRequest` objects of one request.

    One :func:`reexport.sources.comtrade.make_request` with the declaration's lists
    (several reporters, HS codes and flows at once; the planner splits calls only as
    the caps require).

    Raises
    ------
    BadInputError
        Naming ``where`` and the offending value.
    """
    from reexport.sources import comtrade

    partner = request.partner if isinstance(request.partner, str) else list(request.partner)
    try:
        # One request with the lists: Comtrade's planner makes as few calls as the caps
        # allow, and a single reporter/code/flow keeps the request key of older stores.
        return [
            comtrade.make_request(
                reporter=list(request.reporter),
                partner=partner,
                hs=list(request.hs),
                flow=list(request.flow),
                start=request.start,
                end=request.end,
            )
        ]
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc}" if where else str(exc)) from None


def _frame(raw: dict[str, Any], index: int, where: str) -> Frame:
    here = f"{where} [[frame]] #{index}"
    _known(raw, _FRAME_KEYS, here)
    name = _text(raw, "name", here)
    if not _NAME_RE.match(name):
        raise _fail(here, "name", f"{name!r}: lower-case letters, digits, '_' and '-' only")
    here = f"{where} [[frame]] {name!r}"
    trade = raw.get("trade")
    if not isinstance(trade, dict):
        raise BadInputError(f"{here}: missing key 'trade' (a table: reporter, partner, hs, flow)")
    _known(trade, _TRADE_KEYS, f"{here} trade")
    by = _texts(raw, "by", here, required=False) or ("period",)
    if by[0] != "period" or len(by) > 2 or (len(by) == 2 and by[1] not in BY_KEYS):
        raise _fail(
            here,
            "by",
            f'{list(by)}: expected ["period"] or ["period", one of {", ".join(BY_KEYS)}]',
        )
    values_raw = raw.get("values", {})
    if not isinstance(values_raw, dict):
        raise _fail(here, "values", "must be a table of column = tidy trade column")
    values: dict[str, str] = {}
    for column, source in values_raw.items():
        if not _COLUMN_RE.match(column):
            raise _fail(here, f"values.{column}", "not a valid column name")
        if source not in VALUE_COLUMNS:
            raise _fail(
                here, f"values.{column}", f"{source!r} is not one of {', '.join(VALUE_COLUMNS)}"
            )
        values[column] = source
    measures_raw = raw.get("measures", {})
    if not isinstance(measures_raw, dict):
        raise _fail(here, "measures", "must be a table")
    _known(measures_raw, _MEASURE_KEYS, f"{here} measures")
    measures: dict[str, tuple[str, ...]] = {}
    groups: dict[str, tuple[str, ...]] = {}
    if measures_raw:
        measures["suppliers"] = tuple(
            _area(c, here, "measures.suppliers")
            for c in _texts(measures_raw, "suppliers", here, required=True)
        )
        groups_raw = measures_raw.get("groups", {})
        if not isinstance(groups_raw, dict):
            raise _fail(here, "measures.groups", 'must be a table such as { SEA = ["VNM", "THA"] }')
        for group, _members in groups_raw.items():
            if not _COLUMN_RE.match(str(group)):
                raise _fail(here, f"measures.groups.{group}", "not a valid column name")
            groups[str(group)] = tuple(
                _area(c, here, f"measures.groups.{group}")
                for c in _texts(groups_raw, group, here, required=True)
            )
    if not values and not measures:
        raise BadInputError(f"{here}: missing key 'values' (or 'measures')")
    prefer = None
    if "prefer" in raw:
        prefer_raw = raw["prefer"]
        if not isinstance(prefer_raw, dict):
            raise _fail(here, "prefer", "must be a table")
        _known(prefer_raw, _PREFER_KEYS, f"{here} prefer")
        source = str(prefer_raw.get("source", "userseries"))
        if source != "userseries":
            raise _fail(here, "prefer.source", f"{source!r}: only userseries can be preferred")
        prefer = Prefer(
            source,
            tuple(_texts(prefer_raw, "hs", here, required=True)),
            tuple(u.lower() for u in _texts(prefer_raw, "unit", here, required=False)),
        )
    partner_index = None
    if "partner_index" in raw:
        pi = raw["partner_index"]
        if not isinstance(pi, dict):
            raise _fail(here, "partner_index", "must be a table: column, series")
        _known(pi, _PARTNER_INDEX_KEYS, f"{here} partner_index")
        partner_index = PartnerIndex(
            _text(pi, "column", f"{here} partner_index"),
            _text(pi, "series", f"{here} partner_index"),
        )
        if "{partner}" not in partner_index.series:
            raise _fail(here, "partner_index.series", "must contain {partner}")
        if "partner" not in by:
            raise _fail(here, "partner_index", 'needs by = ["period", "partner"]')
    series_column = raw.get("series_column")
    if series_column is not None and (
        not isinstance(series_column, str) or not _COLUMN_RE.match(series_column)
    ):
        raise _fail(here, "series_column", f"{series_column!r} is not a valid column name")
    if prefer is not None and (by != ("period",) or series_column is None):
        raise _fail(here, "prefer", 'needs by = ["period"] and a series_column')
    if measures and "partner" not in trade:
        trade = {**trade, "partner": "all"}  # supplier shares need every partner's rows
    partner = _partner(trade, f"{here} trade", frame=True)
    if "partner" in by and partner == WORLD:
        raise _fail(here, "trade.partner", 'by partner needs partner = "all" or a list')
    return Frame(
        name=name,
        reporter=tuple(
            _area(r, f"{here} trade", "reporter")
            for r in _texts(trade, "reporter", f"{here} trade", required=True)
        ),
        partner=partner,
        hs=tuple(
            _hs(h, f"{here} trade", "hs")
            for h in _texts(trade, "hs", f"{here} trade", required=True)
        ),
        flow=_flows(trade, f"{here} trade"),
        by=by,
        values=values,
        series_column=series_column,
        prefer=prefer,
        indices=_texts(raw, "indices", here, required=False),
        optional_indices=_texts(raw, "optional_indices", here, required=False),
        partner_index=partner_index,
        implied_zeros=_bool(raw, "implied_zeros", here, False),
        calendar=_bool(raw, "calendar", here, True),
        required=_bool(raw, "required", here, True),
        measures=measures,
        groups=groups,
    )


def provided_series(study: Study) -> list[str]:
    """Patterns of the index series the study's requests provide (GPR columns, FRED ids)."""
    out: list[str] = []
    for request in study.requests:
        if request.source == "gpr":
            out += GPR_PROVIDES
        elif request.source == "fred":
            out += request.series
    return out


def _provides(patterns: Sequence[str], wanted: str) -> bool:
    """Whether a series name or pattern ``wanted`` is among ``patterns`` (both may glob)."""
    return any(fnmatch.fnmatchcase(wanted, p) or fnmatch.fnmatchcase(p, wanted) for p in patterns)


def serving_requests(study: Study, frame: Frame) -> list[Request]:
    """The Comtrade requests whose rows can fill ``frame``, best first.

    A request serves a frame when it covers the frame's reporters, HS codes and flows;
    for partners, a world frame is served by a ``world`` request first, then by an
    ``all`` request (an all-partner pull holds the World rows); a by-partner frame
    by an ``all`` request, or a request listing every partner the frame names.
    """
    exact: list[Request] = []
    other: list[Request] = []
    for request in study.requests_of("comtrade"):
        if not (
            set(frame.reporter) <= set(request.reporter)
            and set(frame.hs) <= set(request.hs)
            and set(frame.flow) <= set(request.flow)
        ):
            continue
        if frame.partner == WORLD:
            (exact if request.partner == "world" else other).append(request)
        elif request.partner == "all":
            (exact if frame.partner == "all" else other).append(request)
        elif (
            isinstance(frame.partner, tuple)
            and isinstance(request.partner, tuple)
            and set(frame.partner) <= set(request.partner)
        ):
            exact.append(request)
    return exact + other


def _check_consistency(study: Study) -> None:
    """Every frame's trade and series must come from a request of the study."""
    provided = provided_series(study)
    for frame in study.frames:
        here = f"{study.path} [[frame]] {frame.name!r}"
        if not serving_requests(study, frame):
            partner = frame.partner if isinstance(frame.partner, str) else ",".join(frame.partner)
            raise BadInputError(
                f"{here}: trade: no [[request]] provides reporter {','.join(frame.reporter)} "
                f"partner {partner} hs {','.join(frame.hs)} flow {','.join(frame.flow)}"
            )
        for key, names in (
            ("indices", frame.indices),
            ("optional_indices", frame.optional_indices),
        ):
            for name in names:
                if not _provides(provided, name):
                    raise BadInputError(
                        f"{here}: {key}: no [[request]] provides the series {name!r} "
                        "(gpr provides GPR, GPRT, GPRA, GPRC_*; fred the ids of its 'series')"
                    )
        if frame.partner_index is not None and not _provides(
            provided, frame.partner_index.series.replace("{partner}", "*")
        ):
            raise BadInputError(
                f"{here}: partner_index.series: no [[request]] provides "
                f"{frame.partner_index.series!r}"
            )
    frame_names = [f.name for f in study.frames]
    if len(set(frame_names)) != len(frame_names):
        raise BadInputError(f"{study.path}: [[frame]] names must be unique")
    for reserved in RESERVED_FRAME_NAMES:
        if reserved in frame_names:
            raise BadInputError(
                f"{study.path} [[frame]] {reserved!r}: name: reserved for the tidy table "
                f"{reserved}.csv of every build"
            )


def load_study(folder: str | Path | None = None) -> Study:
    """Read and check ``STUDY/study.toml`` (``folder=None``: :func:`default_folder`).

    Raises
    ------
    BadInputError
        A missing folder, file or required part, an unknown key, a request naming an
        unknown area or HS code, a frame whose trade or series no request provides:
        one line naming the file and the key.
    """
    folder = default_folder() if folder is None else Path(folder)
    if folder.is_file() and folder.name == DECLARATION:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInputError(f"study folder {folder} does not exist")
    path = folder / DECLARATION
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"study folder {folder} has no {DECLARATION}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{where}: bad TOML: {exc}") from None
    _known(raw, _TOP_KEYS, where)
    head = _table(raw, "study", where, required=True)
    _known(head, _STUDY_KEYS, f"{where} [study]")
    name = _text(head, "name", f"{where} [study]")
    if not _NAME_RE.match(name):
        raise _fail(
            f"{where} [study]", "name", f"{name!r}: lower-case letters, digits, '_' and '-' only"
        )
    window = _window(head, "window", f"{where} [study]")
    facts = folder / _text(head, "facts", f"{where} [study]")
    if not facts.is_file():
        raise _fail(f"{where} [study]", "facts", f"{facts} does not exist")
    requests = tuple(
        _request(r, i, window, where) for i, r in enumerate(_tables(raw, "request", where), 1)
    )
    if not requests:
        raise BadInputError(f"{where}: no [[request]] tables (what does the study need?)")
    frames = tuple(_frame(f, i, where) for i, f in enumerate(_tables(raw, "frame", where), 1))
    if not frames:
        raise BadInputError(f"{where}: no [[frame]] tables (what does `reexport build` write?)")
    estimates = []
    for i, item in enumerate(_tables(raw, "estimate", where), 1):
        here = f"{where} [[estimate]] #{i}"
        _known(item, _ESTIMATE_KEYS, here)
        spec = folder / _text(item, "spec", here)
        if not spec.is_file():
            raise _fail(here, "spec", f"{spec} does not exist")
        estimates.append(Estimate(_text(item, "name", here), spec))
    if len({e.name for e in estimates}) != len(estimates):
        raise BadInputError(f"{where}: [[estimate]] names must be unique")
    report = _table(raw, "report", where, required=False)
    _known(report, _REPORT_KEYS, f"{where} [report]")
    study = Study(
        folder=folder,
        path=path,
        name=name,
        title=_text(head, "title", f"{where} [study]"),
        citation=str(head.get("citation", "")),
        window=window,
        facts=facts,
        requests=requests,
        frames=frames,
        estimates=tuple(estimates),
        recipe=folder / str(report.get("recipe", "report.toml")),
    )
    _check_consistency(study)
    return study


def default_folder() -> Path:
    """The study a command given none uses.

    ``$REEXPORT_STUDY`` if set; else the folder named by ``analyses/DEFAULT`` (one line,
    a folder name inside ``analyses/``), looked up in the working directory and then
    beside the package's source checkout.  The package itself names no study.

    Raises
    ------
    BadInputError
        When none of these names a study.
    """
    named = os.environ.get(STUDY_ENV, "").strip()
    if named:
        return Path(named)
    roots = [Path.cwd(), Path(__file__).resolve().parents[1]]
    for root in roots:
        marker = root / "analyses" / DEFAULT_FILE
        if marker.is_file():
            text = marker.read_text(encoding="utf-8").strip()
            if text:
                return root / "analyses" / text
    raise BadInputError(
        f"no study given: name a study folder (e.g. analyses/NAME), set ${STUDY_ENV}, or "
        f"write the folder's name into analyses/{DEFAULT_FILE}"
    )


# --------------------------------------------------------------------------- matching vintages


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(sorted(str(v).strip().upper() for v in value))
    return str(value if value is not None else "").strip().upper()


def request_matches(stored: Mapping[str, Any], logical: Mapping[str, Any]) -> bool:
    """Whether a stored Comtrade vintage's request answers ``logical`` (its months aside).

    Reporter, partner, HS code and flow must agree (codes compared as text, partner lists
    as sets); the months may differ: a longer or shorter vintage serves, and ``build``
    reports the months it lacks.
    """
    return all(
        _as_text(stored.get(key)) == _as_text(logical.get(key))
        for key in ("reporter", "partner", "hs", "flow")
    )


def userseries_matches(stored: Mapping[str, Any], frame: Frame) -> bool:
    """Whether a stored user series is the series ``frame`` prefers (``prefer``).

    Same reporter (ISO3 or M49 code as the frame writes it, or the other form) and flow,
    one of the preferred HS codes and units, and world totals (no partner column).
    """
    from reexport.sources import comtrade

    if frame.prefer is None:
        return False
    reporters = set(frame.reporter)
    for code in frame.reporter:
        if not code.isdigit():
            reporters.add(str(comtrade.area_code(code, what="reporter")))
    columns = stored.get("columns") or {}
    unit = str(stored.get("unit", "")).strip().lower()
    return (
        _as_text(stored.get("hs")) in frame.prefer.hs
        and _as_text(stored.get("flow")) in frame.flow
        and _as_text(stored.get("reporter")) in reporters
        and (not frame.prefer.unit or unit in frame.prefer.unit)
        and not (isinstance(columns, dict) and columns.get("partner"))
    )
