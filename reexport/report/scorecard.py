"""Replication scorecard: published facts next to reproduced estimates, with verdicts.

The published facts live in a study's ``published_facts.json`` (schema 1), each
with the model and term that reproduce it, the functional-form reading it is
evaluated under and an explicit tolerance rule.  The verdicts are:

``reproduced``
    ``value`` facts: same sign and the published value lies inside the reproduced
    95% confidence interval (if the estimate is not itself significant, the reason
    says so).  ``sign`` facts: same sign and significant at 5%.
    ``comparison`` facts: same sign, significant, and larger than the reference.
``same sign, different size``
    Same sign and significant at 5% (an insignificant estimate has no established
    sign), but the published value lies outside the 95% interval (or, for a
    comparison, the coefficient is not larger than the reference).
``contradicted``
    Opposite sign and significant at 5%.
``inconclusive``
    Neither confirmed nor contradicted: not significant at 5% with either sign,
    unless the right sign's interval covers a published value (then ``reproduced``).
``not comparable``
    The model is missing from the results, its functional form differs from the
    reading the fact is evaluated under, or the data are the synthetic demo
    vintage.  On synthetic data the scorecard never says ``reproduced``; it
    reports instead whether the effect planted in the demo data was recovered.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reexport.errors import BadInputError
from reexport.models.results import ModelResult, ResultsFile
from reexport.report.tables import (
    format_number,
    markdown_code,
    markdown_escape,
    markdown_text,
)
from reexport.sources import areas, hs
from reexport.study import WORLD, Frame

FACTS_SCHEMA = 1

REPRODUCED = "reproduced"
SAME_SIGN = "same sign, different size"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"
VERDICTS = (REPRODUCED, SAME_SIGN, CONTRADICTED, INCONCLUSIVE, NOT_COMPARABLE)

#: Significance level used by the sign rules.
ALPHA = 0.05

SYNTHETIC_STATEMENT = "synthetic demo data: parameter recovery check, not a replication"

FACT_KINDS = ("value", "sign", "comparison")
READINGS = ("lin-log", "levels", "log-log", "log-lin")


@dataclass(frozen=True)
class Fact:
    """One published fact and how it is checked.

    Attributes
    ----------
    id
        Short identifier.
    statement
        The fact in words, as published.
    kind
        ``value`` (a published number), ``sign`` (a published direction) or
        ``comparison`` (this coefficient is larger than the one in ``than_model``).
    model, term
        The reproduced model and its coefficient.
    reading
        The functional form the fact is evaluated under (``lin-log``, ``levels``...).
    value, unit
        The published number (``value`` facts only) and its unit.
    sign
        The published direction: +1 or -1.
    than_model, than_term
        The reference coefficient of a ``comparison`` fact.
    source
        Where the fact was stated, when the facts file says (``title`` required;
        ``author``, ``year``, ``kind``, ``quote``, ``url``, ``page`` optional).
    operationalisation
        How a claim stated in prose is read as this coefficient (optional).
    """

    id: str
    statement: str
    kind: str
    model: str
    term: str
    reading: str
    sign: int
    value: float | None = None
    unit: str = ""
    than_model: str | None = None
    than_term: str | None = None
    source: Mapping[str, Any] | None = None
    operationalisation: str = ""


#: Keys a fact may carry (anything else is a typo and refused).
FACT_KEYS = (
    "id",
    "statement",
    "kind",
    "reading",
    "model",
    "term",
    "sign",
    "value",
    "unit",
    "than_model",
    "than_term",
    "source",
    "operationalisation",
)
#: Keys of a fact's ``source`` object.
SOURCE_KEYS = ("title", "author", "year", "kind", "quote", "url", "page")
#: Top-level keys of a facts file.
FILE_KEYS = (
    "schema",
    "citation",
    "source_note",
    "paper_data",
    "tolerances",
    "facts",
    "annual_totals",
)


def _unknown_keys(raw: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise BadInputError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _parse_source(raw: Any, where: str) -> dict[str, Any] | None:
    """A fact's ``source``: an object with a ``title`` and optional details."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: source must be an object with a 'title'")
    _unknown_keys(raw, SOURCE_KEYS, f"{where} source")
    if not isinstance(raw.get("title"), str) or not raw["title"]:
        raise BadInputError(f"{where}: source needs a string 'title'")
    for key, value in raw.items():
        if key == "year":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInputError(f"{where}: source year must be an integer")
        elif not isinstance(value, str):
            raise BadInputError(f"{where}: source {key!r} must be a string")
    return dict(raw)


def source_text(source: Mapping[str, Any] | None) -> str:
    """A fact's source in one line: ``title (kind, author, year, page): "quote" url``."""
    if not source:
        return ""
    details = [str(source[k]) for k in ("kind", "author", "year", "page") if k in source]
    text = str(source["title"])
    if details:
        text += f" ({', '.join(details)})"
    if source.get("quote"):
        text += f': "{source["quote"]}"'
    if source.get("url"):
        text += f" {source['url']}"
    return text


@dataclass(frozen=True)
class PublishedFacts:
    """A study's ``published_facts.json``."""

    path: Path
    citation: str
    source_note: str
    paper_data: Mapping[str, Any]
    tolerances: Mapping[str, str]
    facts: tuple[Fact, ...]
    annual_totals: tuple[Mapping[str, Any], ...]


def _need(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise BadInputError(f"{where}: missing {key!r}")
    return raw[key]


def _parse_fact(raw: Any, where: str) -> Fact:
    if not isinstance(raw, dict):
        raise BadInputError(f"{where} is not an object")
    fact_id = str(_need(raw, "id", where))
    where = f"{where} ({fact_id})"
    _unknown_keys(raw, FACT_KEYS, where)
    operationalisation = raw.get("operationalisation", "")
    if not isinstance(operationalisation, str):
        raise BadInputError(f"{where}: operationalisation must be a string")
    kind = str(_need(raw, "kind", where))
    if kind not in FACT_KINDS:
        raise BadInputError(f"{where}: kind {kind!r} is not one of {', '.join(FACT_KINDS)}")
    reading = str(_need(raw, "reading", where))
    if reading not in READINGS:
        raise BadInputError(f"{where}: reading {reading!r} is not one of {', '.join(READINGS)}")
    sign = int(_need(raw, "sign", where))
    if sign not in (1, -1):
        raise BadInputError(f"{where}: sign must be 1 or -1, not {sign}")
    value = raw.get("value")
    if kind == "value":
        value = float(_need(raw, "value", where))
        if math.copysign(1, value) != sign:
            raise BadInputError(f"{where}: value {value} disagrees with sign {sign}")
    than_model = raw.get("than_model")
    than_term = raw.get("than_term")
    if kind == "comparison":
        than_model = str(_need(raw, "than_model", where))
        than_term = str(_need(raw, "than_term", where))
    return Fact(
        id=fact_id,
        statement=str(_need(raw, "statement", where)),
        kind=kind,
        model=str(_need(raw, "model", where)),
        term=str(_need(raw, "term", where)),
        reading=reading,
        sign=sign,
        value=None if value is None else float(value),
        unit=str(raw.get("unit", "")),
        than_model=than_model,
        than_term=than_term,
        source=_parse_source(raw.get("source"), where),
        operationalisation=operationalisation,
    )


def load_facts(path: str | Path) -> PublishedFacts:
    """Read a study's ``published_facts.json``.

    Raises
    ------
    BadInputError
        If the file is missing, not JSON, of another schema, has no facts or a
        fact lacks a field its kind needs.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(
            f"study folder {path.parent} has no published facts ({path.name} is missing)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{path} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(raw, dict) or raw.get("schema") != FACTS_SCHEMA:
        schema = raw.get("schema") if isinstance(raw, dict) else None
        raise BadInputError(f"{path}: schema {schema!r}, expected {FACTS_SCHEMA}")
    _unknown_keys(raw, FILE_KEYS, str(path))
    facts_raw = raw.get("facts")
    if not isinstance(facts_raw, list) or not facts_raw:
        raise BadInputError(f"{path} lists no published facts")
    facts = tuple(_parse_fact(f, f"{path}: facts[{i}]") for i, f in enumerate(facts_raw))
    ids = [f.id for f in facts]
    if len(set(ids)) != len(ids):
        raise BadInputError(f"{path}: fact ids repeat")
    tolerances = raw.get("tolerances") or {}
    totals = raw.get("annual_totals") or []
    for i, row in enumerate(totals):
        for key in ("year", "tonnes", "source_url"):
            _need(row, key, f"{path}: annual_totals[{i}]")
    return PublishedFacts(
        path=path,
        citation=str(_need(raw, "citation", str(path))),
        source_note=str(raw.get("source_note", "")),
        paper_data=dict(raw.get("paper_data") or {}),
        tolerances={str(k): str(v) for k, v in tolerances.items()},
        facts=facts,
        annual_totals=tuple(dict(t) for t in totals),
    )


# --------------------------------------------------------------------------- forms


def _is_log(expression: str) -> bool:
    return "log(" in expression.replace(" ", "")


def functional_form(model: ModelResult, term: str) -> str:
    """The functional form of ``term`` in ``model``: ``lin-log``, ``levels``, ``log-log`` or ``log-lin``.

    Read from the formula's dependent variable and the term's own expression, so
    ``exports_t ~ np.log(L(GPR, 4))`` is ``lin-log`` and ``exports_t ~ L(GPR, 4)``
    is ``levels``.  A PPML model's coefficient is a semi-elasticity of the mean, so
    its dependent variable counts as logged.
    """
    lhs = model.depvar
    log_y = _is_log(lhs) or model.estimator.lower() in {"ppml", "poisson"}
    log_x = _is_log(term)
    return {
        (False, True): "lin-log",
        (False, False): "levels",
        (True, True): "log-log",
        (True, False): "log-lin",
    }[(log_y, log_x)]


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Estimate:
    """One reproduced coefficient with its uncertainty."""

    model: str
    term: str
    form: str
    coef: float
    se: float
    ci: tuple[float, float]
    p: float
    nobs: int
    cov: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "term": self.term,
            "form": self.form,
            "coef": _clean(self.coef),
            "se": _clean(self.se),
            "ci95": [_clean(self.ci[0]), _clean(self.ci[1])],
            "p": _clean(self.p),
            "nobs": self.nobs,
            "cov": self.cov,
        }


def _clean(value: float) -> float | None:
    """JSON-safe float: NaN becomes null; values are rounded so files are stable."""
    if not math.isfinite(value):
        return None
    return float(f"{value:.10g}")


def estimate_of(model: ModelResult, term: str) -> Estimate:
    """The :class:`Estimate` of ``term``; :class:`BadInputError` if the model lacks it."""
    coef = model.coef(term)
    return Estimate(
        model=model.name,
        term=term,
        form=functional_form(model, term),
        coef=coef,
        se=model.se(term),
        ci=model.ci(term),
        p=model.p_value(term),
        nobs=model.nobs,
        cov=model.cov.convention or model.cov.type,
    )


@dataclass(frozen=True)
class FactResult:
    """The verdict on one published fact."""

    fact: Fact
    verdict: str
    detail: str
    estimate: Estimate | None
    reference: Estimate | None = None
    recovery: Mapping[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        fact = self.fact
        # Source and operationalisation only when the facts file gives them, so the
        # scorecards of facts files without them stay as they were.
        stated: dict[str, Any] = {}
        if fact.source is not None:
            stated["source"] = dict(fact.source)
        if fact.operationalisation:
            stated["operationalisation"] = fact.operationalisation
        return {
            **stated,
            "id": fact.id,
            "statement": fact.statement,
            "kind": fact.kind,
            "reading": fact.reading,
            "published": {
                "value": fact.value,
                "unit": fact.unit,
                "sign": fact.sign,
                "model": fact.model,
                "term": fact.term,
                "than_model": fact.than_model,
                "than_term": fact.than_term,
            },
            "reproduced": None if self.estimate is None else self.estimate.as_dict(),
            "reference": None if self.reference is None else self.reference.as_dict(),
            "verdict": self.verdict,
            "detail": self.detail,
            "recovery": None if self.recovery is None else dict(self.recovery),
        }


def _significant(estimate: Estimate) -> bool:
    return math.isfinite(estimate.p) and estimate.p < ALPHA


def _sign(value: float) -> int:
    return 1 if value > 0 else -1 if value < 0 else 0


def judge(fact: Fact, estimate: Estimate, reference: Estimate | None = None) -> tuple[str, str]:
    """The verdict and a one-line reason for a fact given a comparable estimate.

    Assumes the data are real and the functional forms match (see :func:`evaluate_fact`).
    """
    same_sign = _sign(estimate.coef) == fact.sign
    significant = _significant(estimate)
    p_text = f"p = {format_number(estimate.p, 3)}"
    if not same_sign:
        if significant:
            return CONTRADICTED, f"opposite sign, significant at 5% ({p_text})"
        return INCONCLUSIVE, f"opposite sign but not significant at 5% ({p_text})"
    if fact.kind == "value":
        assert fact.value is not None
        lo, hi = estimate.ci
        interval = f"the 95% CI [{format_number(lo)}, {format_number(hi)}]"
        published = f"published {format_number(fact.value)}"
        if lo <= fact.value <= hi:
            # Kept "reproduced" even when the interval is wide enough to cover zero too:
            # the data do not reject the published value; the reason says how weak that is.
            caveat = "" if significant else f"; the estimate itself is not significant ({p_text})"
            return REPRODUCED, f"{published} lies inside {interval}{caveat}"
        if not significant:
            # An insignificant estimate has no established sign, so "same sign" would claim
            # more than the data show (symmetric with an insignificant opposite sign).
            return INCONCLUSIVE, (
                f"right sign but not significant at 5% ({p_text}); "
                f"{published} lies outside {interval}"
            )
        return SAME_SIGN, (
            f"right sign, significant at 5% ({p_text}); {published} lies outside {interval}"
        )
    if not significant:
        return INCONCLUSIVE, f"right sign but not significant at 5% ({p_text})"
    if fact.kind == "sign":
        return REPRODUCED, f"right sign and significant at 5% ({p_text})"
    assert reference is not None
    if abs(estimate.coef) > abs(reference.coef):
        return REPRODUCED, (
            f"significant and larger than {reference.model} "
            f"({format_number(estimate.coef)} vs {format_number(reference.coef)})"
        )
    return SAME_SIGN, (
        f"significant but not larger than {reference.model} "
        f"({format_number(estimate.coef)} vs {format_number(reference.coef)})"
    )


def evaluate_fact(
    fact: Fact,
    models: Mapping[str, ModelResult],
    *,
    synthetic: bool,
    planted: Mapping[tuple[str, str], float] | None = None,
) -> FactResult:
    """Judge one published fact against the reproduced models.

    Parameters
    ----------
    fact
        The published fact.
    models
        Reproduced models by name.
    synthetic
        Whether the estimates come from the synthetic demo vintage: then the verdict is
        ``not comparable`` and, where an effect was planted for (model, term), the
        result says whether it was recovered (inside the 95% CI).
    planted
        (model, term) -> the value planted by the demo data-generating process.

    Raises
    ------
    BadInputError
        If the named model exists but lacks the named term.
    """
    model = models.get(fact.model)
    if model is None:
        return FactResult(fact, NOT_COMPARABLE, f"model {fact.model!r} is not in the results", None)
    estimate = estimate_of(model, fact.term)
    reference: Estimate | None = None
    if fact.kind == "comparison":
        assert fact.than_model is not None and fact.than_term is not None
        ref_model = models.get(fact.than_model)
        if ref_model is None:
            return FactResult(
                fact,
                NOT_COMPARABLE,
                f"reference model {fact.than_model!r} is not in the results",
                estimate,
            )
        reference = estimate_of(ref_model, fact.than_term)
    if synthetic:
        recovery = None
        if planted and (fact.model, fact.term) in planted:
            truth = planted[(fact.model, fact.term)]
            lo, hi = estimate.ci
            recovery = {
                "planted": truth,
                "estimate": _clean(estimate.coef),
                "ci95": [_clean(lo), _clean(hi)],
                "recovered": bool(lo <= truth <= hi),
            }
        return FactResult(fact, NOT_COMPARABLE, SYNTHETIC_STATEMENT, estimate, reference, recovery)
    if estimate.form != fact.reading:
        return FactResult(
            fact,
            NOT_COMPARABLE,
            f"model {model.name!r} is {estimate.form}; this fact is read as {fact.reading}",
            estimate,
            reference,
        )
    if reference is not None and reference.form != estimate.form:
        return FactResult(
            fact,
            NOT_COMPARABLE,
            f"reference model {reference.model!r} is {reference.form}, not {estimate.form}",
            estimate,
            reference,
        )
    verdict, detail = judge(fact, estimate, reference)
    return FactResult(fact, verdict, detail, estimate, reference)


# --------------------------------------------------------------------------- totals


def _tonnes_column(frames: Sequence[Frame]) -> str:
    """The first frame's column of net weight in tonnes (``exports_t`` if none is declared)."""
    if frames:
        for column, tidy in frames[0].values.items():
            if tidy == "net_weight_t":
                return column
    return "exports_t"


def cross_check_totals(
    frame: pd.DataFrame | None,
    totals: Sequence[Mapping[str, Any]],
    *,
    column: str = "exports_t",
) -> list[dict[str, Any]]:
    """Compare a frame's annual sums of tonnes with published annual totals.

    Parameters
    ----------
    frame
        The study frame (``period`` and ``column``), or ``None`` when it is not available.
    totals
        Rows with ``year``, ``tonnes``, ``source_url`` (and ``hs``, the code they count).
    column
        The frame's column of net weight in tonnes.

    Returns
    -------
    list of dict
        One row per published total: our sum, months covered, and the ratio ours/published
        (``None`` when the year is not fully covered).
    """
    rows: list[dict[str, Any]] = []
    sums: dict[int, tuple[float, int]] = {}
    if frame is not None and {"period", column} <= set(frame.columns):
        years = frame["period"].astype(str).str.slice(0, 4).astype(int)
        grouped = frame.assign(_year=years).groupby("_year")[column]
        for year, values in grouped:
            sums[int(str(year))] = (float(values.sum()), int(values.notna().sum()))
    for total in totals:
        year = int(total["year"])
        published = float(total["tonnes"])
        ours, months = sums.get(year, (float("nan"), 0))
        complete = months == 12
        rows.append(
            {
                "year": year,
                "published_t": published,
                "series_t": _clean(ours) if months else None,
                "months": months,
                "ratio": _clean(ours / published) if complete else None,
                "source_url": str(total["source_url"]),
                "hs": str(total.get("hs", "")),
            }
        )
    return rows


# --------------------------------------------------------------------------- card


#: How the data section names a tidy trade column.
_TIDY_COLUMNS = {
    "net_weight_t": "net weight (t)",
    "value_usd": "value (USD)",
    "qty": "quantity in the supplementary unit",
}
_FLOW_WORDS = {"X": "exports", "M": "imports"}


def _area_name(code: str, *, role: areas.Role) -> str:
    try:
        return areas.lookup(code, role=role).name
    except BadInputError:
        return code


def _hs_phrase(codes: Sequence[str]) -> str:
    """``HS 280530 (Earth-metals, rare; ...) and HS 2846 (...)``, from the shipped nomenclature."""
    parts = []
    for code in codes:
        text = hs.description(code)
        parts.append(f"HS {code}" + (f" ({text})" if text else ""))
    return _and(parts)


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _reporters(frame: Frame) -> str:
    return _and([_area_name(r, role="reporter") for r in frame.reporter])


def _flows(frame: Frame) -> str:
    return _and([_FLOW_WORDS.get(f, f) for f in frame.flow])


def _flow_adjective(frame: Frame) -> str:
    return _and([{"X": "export", "M": "import"}.get(f, f) for f in frame.flow])


def describe_frame(frame: Frame) -> str:
    """One sentence saying what a declared frame holds, from its ``study.toml`` declaration.

    Reporter names, flows, HS codes (with their descriptions from the shipped HS
    nomenclature), partners, the grain (``by``), the value columns or supplier measures
    and the joined indices: nothing here is written for one study.
    """
    to_from = "to" if frame.flow == ("X",) else "from" if frame.flow == ("M",) else "with"
    if frame.partner == WORLD:
        partners = f"{to_from} the world (Comtrade's World row)"
    elif frame.partner == "all":
        partners = f"{to_from} every partner"
    else:
        partners = f"{to_from} " + _and([_area_name(p, role="partner") for p in frame.partner])
    grain = {
        ("period",): "per month" if frame.partner == WORLD else "summed over partners per month",
        ("period", "partner"): "one row per partner and month",
        ("period", "hs"): "one row per HS code and month",
    }.get(tuple(frame.by), "by " + ", ".join(frame.by))
    if frame.implied_zeros:
        grain += f" (a partner absent in a month {_reporters(frame)} reported counts as 0)"
    details = []
    if frame.values:
        details.append(
            ", ".join(
                f"`{column}` = {_TIDY_COLUMNS.get(tidy, tidy)}"
                for column, tidy in frame.values.items()
            )
        )
    if frame.measures:
        suppliers = ", ".join(frame.measures.get("suppliers", ()))
        measured = (
            f"each supplier's share of the {_flow_adjective(frame)} value (USD), the "
            "Herfindahl-Hirschman "
            f"index and the number of suppliers, for {suppliers}"
        )
        if frame.groups:
            measured += " and the group(s) " + "; ".join(
                f"{name} ({', '.join(members)})" for name, members in frame.groups.items()
            )
        details.append(measured)
    if frame.partner_index is not None:
        details.append(
            f"each partner's `{frame.partner_index.series}` as `{frame.partner_index.column}`"
        )
    if frame.indices or frame.optional_indices:
        joined = ", ".join(frame.indices)
        if frame.optional_indices:
            optional = ", ".join(frame.optional_indices) + " when stored"
            joined = f"{joined} (and {optional})" if joined else optional
        details.append(f"joined by month with {joined}")
    text = (
        f"`{frame.name}`: UN Comtrade, {_reporters(frame)}'s monthly {_flows(frame)} of "
        f"{_hs_phrase(frame.hs)} {partners}, {grain}"
    )
    if frame.prefer is not None and frame.series_column is not None:
        # The series column says which one filled the values (the statement that follows).
        text += (
            f", or in its place a stored user series of code {' or '.join(frame.prefer.hs)}"
            f" (`{frame.series_column}` says which)"
        )
    return text + ("; " + "; ".join(details) if details else "") + "."


def describe_series(
    export_series: Sequence[str],
    *,
    synthetic: bool = False,
    frame: Frame | None = None,
    annual_totals: bool = False,
) -> str:
    """A plain statement of which series filled a frame's ``series_column``.

    Parameters
    ----------
    export_series
        The names the frame's series column holds (``comtrade_<hs>``,
        ``userseries:<name>``, ``demo...``).
    synthetic
        The data are the seeded demo vintage.
    frame
        The frame's declaration: its reporter and flow name the series, and its ``prefer``
        table names the user-series code a Comtrade series stands in for.
    annual_totals
        The facts file publishes annual totals the scorecard compares the series with.
    """
    if not export_series:
        return "The series used is not recorded in the study frame."
    who = "the reporter's monthly trade"
    if frame is not None:
        who = f"{_reporters(frame)}'s monthly {_flows(frame)}"
    preferred = list(frame.prefer.hs) if frame is not None and frame.prefer is not None else []
    preferred_text = " or ".join(preferred)
    parts = []
    for name in export_series:
        if synthetic:
            stands_for = f"a series of code {preferred_text}" if preferred else "the real series"
            parts.append(
                f"SYNTHETIC: the series (`{name}`) is made up by the seeded demo "
                "data-generating process (docs/demo_dgp.md) in the format of the real source; "
                f"it stands in for {stands_for}."
            )
        elif name.startswith("comtrade_"):
            code = name.split("_", 1)[1]
            text = f"Series used: UN Comtrade HS {code} (`{name}`: {who}, net weight in tonnes)."
            if preferred:
                text += (
                    f" HS {code} ({hs.description(code) or 'no description'}) is broader than "
                    f"the preferred code {preferred_text}, which subdivides it; a stored user "
                    "series of that code is used instead when there is one."
                )
            if annual_totals:
                text += " The scorecard compares its annual sums with the published totals below."
            parts.append(text)
        elif name.startswith("userseries:"):
            parts.append(
                f"Series used: user-supplied series `{name.split(':', 1)[1]}` imported with "
                "`reexport import-series`" + (f" (code {preferred_text})." if preferred else ".")
            )
        elif name.startswith("demo"):
            parts.append(f"Series used: the synthetic demo series (`{name}`).")
        else:
            parts.append(f"Series used: `{name}`.")
    swap = ""
    if preferred and frame is not None and frame.prefer is not None:
        unit = frame.prefer.unit[0] if frame.prefer.unit else "t"
        swap = (
            f" To use another series of code {preferred[0]}, run `reexport import-series "
            f"FILE.csv --name NAME --hs {preferred[0]} --unit {unit}` and rebuild."
        )
    return " ".join(parts) + swap


def describe_data(
    frames: Sequence[Frame],
    export_series: Sequence[str] = (),
    *,
    synthetic: bool = False,
    annual_totals: bool = False,
) -> str:
    """The scorecard's data statement: each estimated frame as its declaration says.

    Parameters
    ----------
    frames
        The declared frames the results were estimated on (first: the one whose
        ``series_column`` is ``export_series``); empty when no declaration is known.
    export_series
        The names in the first frame's series column, if it has one.
    synthetic
        The data are the seeded demo vintage.
    annual_totals
        The facts file publishes annual totals (the series statement says they are compared).
    """
    if not frames:
        if export_series:
            return describe_series(export_series, synthetic=synthetic, annual_totals=annual_totals)
        return (
            "The series used is not recorded in the study frame, and no study declaration "
            "was given to describe it."
        )
    parts = []
    if synthetic:
        parts.append(
            "SYNTHETIC: every frame below is made up by the seeded demo data-generating "
            "process (docs/demo_dgp.md) in the format of the real source, which it stands in for."
        )
    parts.extend(describe_frame(f) for f in frames)
    first = frames[0]
    if first.series_column is not None and export_series:
        parts.append(
            describe_series(
                export_series, synthetic=synthetic, frame=first, annual_totals=annual_totals
            )
        )
    # One paragraph per statement (renderers split on blank lines).
    return "\n\n".join(parts)


def statement_paragraphs(statement: str) -> list[str]:
    """The paragraphs of a data statement (:func:`describe_data` separates them by blank lines)."""
    return [p for p in statement.split("\n\n") if p.strip()]


def parameter_recovery(
    models: Mapping[str, ModelResult], planted: Mapping[tuple[str, str], float]
) -> list[dict[str, Any]]:
    """For each effect planted in the demo data: the estimate, its 95% CI and whether it covers it.

    Raises
    ------
    BadInputError
        If a named model exists but lacks the named term.
    """
    rows: list[dict[str, Any]] = []
    for (name, term), truth in sorted(planted.items()):
        model = models.get(name)
        if model is None:
            rows.append(
                {
                    "model": name,
                    "term": term,
                    "planted": truth,
                    "estimate": None,
                    "ci95": None,
                    "recovered": None,
                    "detail": "model not in the results",
                }
            )
            continue
        estimate = estimate_of(model, term)
        lo, hi = estimate.ci
        rows.append(
            {
                "model": name,
                "term": term,
                "planted": truth,
                "estimate": _clean(estimate.coef),
                "ci95": [_clean(lo), _clean(hi)],
                "recovered": bool(lo <= truth <= hi),
                "detail": "planted value inside the 95% CI"
                if lo <= truth <= hi
                else "planted value outside the 95% CI",
            }
        )
    return rows


def build_scorecard(
    facts: PublishedFacts,
    results: Sequence[ResultsFile],
    *,
    frame: pd.DataFrame | None = None,
    data_meta: Mapping[str, Any] | None = None,
    planted: Mapping[tuple[str, str], float] | None = None,
    frames: Sequence[Frame] = (),
) -> dict[str, Any]:
    """Evaluate every published fact and assemble the scorecard (JSON-ready).

    Parameters
    ----------
    facts
        The study's published facts.
    results
        Results files holding the reproduced models (model names must be unique).
    frame
        The world study frame, for the export series name and the annual-total check.
    data_meta
        The study frame's ``.meta.json`` sidecar (vintages), if available.
    planted
        Effects planted by the demo data-generating process, for the recovery check.
    frames
        The study's declared frames the results were estimated on, first the one
        ``frame`` is; the data statement describes them (:func:`describe_data`).

    Raises
    ------
    BadInputError
        No results, results files mixing synthetic demo and real data, a model name
        repeated across results files, or a named model without the named term.
    """
    if not results:
        raise BadInputError("scorecard: no results files given")
    models: dict[str, ModelResult] = {}
    for res in results:
        for model in res.models:
            if model.name in models:
                raise BadInputError(
                    f"model name {model.name!r} appears in both {models[model.name].source} "
                    f"and {res.path}"
                )
            models[model.name] = model
    kinds = {r.synthetic for r in results}
    if len(kinds) > 1:
        demo = next(r for r in results if r.synthetic)
        real = next(r for r in results if not r.synthetic)
        raise BadInputError(
            f"scorecard: results files mix synthetic demo data ({demo.path}, data.synthetic = "
            f"{json.dumps((demo.data or {}).get('synthetic'))}) and real data ({real.path}, "
            f"data.synthetic = {json.dumps((real.data or {}).get('synthetic'))})"
        )
    synthetic = any(r.synthetic for r in results) or bool((data_meta or {}).get("synthetic"))
    fact_results = [
        evaluate_fact(f, models, synthetic=synthetic, planted=planted) for f in facts.facts
    ]
    forms = {}
    for fact in facts.facts:
        for name, term in ((fact.model, fact.term), (fact.than_model, fact.than_term)):
            if name and term and name in models and name not in forms:
                forms[name] = {
                    "term": term,
                    "form": functional_form(models[name], term),
                    "formula": models[name].formula,
                }
    series: list[str] = []
    series_column = frames[0].series_column if frames else "export_series"
    if frame is not None and series_column is not None and series_column in frame.columns:
        series = sorted({str(s) for s in frame[series_column].dropna().unique()})
    counts = {v: sum(1 for r in fact_results if r.verdict == v) for v in VERDICTS}
    recovery = parameter_recovery(models, planted or {}) if synthetic else []
    return {
        "schema": 1,
        "study": facts.citation,
        "synthetic": synthetic,
        "status": SYNTHETIC_STATEMENT if synthetic else "replication against real data",
        "source_note": facts.source_note,
        "paper_data": dict(facts.paper_data),
        "tolerances": dict(facts.tolerances),
        "data": {
            "results": [
                {
                    "file": None if r.path is None else r.path.name,
                    "data_path": (r.data or {}).get("path"),
                    "data_sha256": (r.data or {}).get("sha256"),
                    "synthetic": r.synthetic,
                    "reexport_version": r.reexport_version,
                }
                for r in results
            ],
            "vintages": (data_meta or {}).get("vintages"),
            "export_series": series,
            "series_statement": describe_data(
                frames, series, synthetic=synthetic, annual_totals=bool(facts.annual_totals)
            ),
        },
        "model_forms": forms,
        "facts": [r.as_dict() for r in fact_results],
        "verdict_counts": counts,
        "parameter_recovery": recovery,
        "annual_totals": cross_check_totals(
            frame, facts.annual_totals, column=_tonnes_column(frames)
        ),
        "not_published": (
            "Every other coefficient, standard error and fit statistic: only the facts above "
            "are encoded (the source note says what the source publishes), so no other "
            "comparison is made."
        ),
    }


def scorecard_json(card: Mapping[str, Any]) -> str:
    """The scorecard as stable, indented JSON (sorted keys, trailing newline)."""
    return json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return format_number(float(value), digits)


def fact_cells(fact: Mapping[str, Any]) -> tuple[str, str, str]:
    """A scorecard fact's Published, Reproduced (95% CI) and Verdict cells, as plain text.

    Shared by the Markdown scorecard and the HTML report, so both show the same values.
    """
    pub = fact["published"]
    published = (
        f"{_num(pub['value'])} {pub['unit']}".strip()
        if pub["value"] is not None
        else ("positive" if pub["sign"] > 0 else "negative")
    )
    if fact["kind"] == "comparison":
        published += f" (larger than {pub['than_model']})"
    rep = fact["reproduced"]
    if rep is None:
        reproduced = "-"
    else:
        reproduced = f"{_num(rep['coef'])} [{_num(rep['ci95'][0])}, {_num(rep['ci95'][1])}]"
    verdict = fact["verdict"]
    recovery = fact.get("recovery")
    if recovery is not None:
        verdict += "; planted {} {}".format(
            _num(recovery["planted"]), "recovered" if recovery["recovered"] else "NOT recovered"
        )
    return published, reproduced, verdict


def fact_sources(card: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(id, operationalisation, source)`` of every fact whose file gives either, as text.

    Shared by the Markdown scorecard and the HTML report; empty for facts files that
    give neither (those scorecards then have no sources section).
    """
    rows = []
    for fact in card["facts"]:
        source = source_text(fact.get("source"))
        reading = str(fact.get("operationalisation", ""))
        if source or reading:
            rows.append((str(fact["id"]), reading, source))
    return rows


def recovery_cells(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """A parameter-recovery row's Planted, Estimate (95% CI) and Recovered cells, as text."""
    ci = row["ci95"]
    shown = "-" if ci is None else f"{_num(row['estimate'])} [{_num(ci[0])}, {_num(ci[1])}]"
    verdict = {True: "yes", False: "NO", None: "-"}[row["recovered"]]
    return _num(row["planted"]), shown, f"{verdict} ({row['detail']})"


def scorecard_markdown(card: Mapping[str, Any]) -> str:
    """The scorecard as Markdown: status, data, one row per fact, forms and totals.

    Identifiers (model names, terms, formulas, paths) are escaped character by
    character; prose (the study, statements, reasons, tolerances, the series statement)
    keeps its code spans as code (:func:`~reexport.report.tables.markdown_text`).
    """
    esc = markdown_escape
    prose = markdown_text
    code = markdown_code
    out = ["# Replication scorecard", ""]
    out.append(f"Study: {prose(card['study'])}")
    out.append("")
    if card["synthetic"]:
        out.append(
            "**SYNTHETIC DEMO DATA: parameter recovery check, not a replication.** "
            "Every estimate below comes from the seeded synthetic demo vintage, not from "
            "real trade data, so no published fact is marked reproduced; the recovery "
            "column says whether the effect planted in the demo data was recovered."
        )
    else:
        out.append(f"Status: {prose(card['status'])}.")
    out.append("")
    data = card["data"]
    out.append("## Data")
    out.append("")
    for paragraph in statement_paragraphs(data["series_statement"]):
        out.append(prose(paragraph))
        out.append("")
    for res in data["results"]:
        out.append(
            f"- results {code(str(res['file']))}: data {esc(str(res['data_path']))}, sha256 "
            f"{code(str(res['data_sha256'] or '-')[:16])}, "
            f"synthetic: {str(res['synthetic']).lower()}"
        )
    vintages = data.get("vintages")
    if vintages:
        out.append(f"- vintages: {code(json.dumps(vintages, sort_keys=True))}")
    out.append("")
    out.append("## Published facts")
    out.append("")
    out.append(
        "| Fact | Reading | Published | Model / term | Reproduced (95% CI) | Verdict | Why |"
    )
    out.append("| :-- | :-- | --: | :-- | --: | :-- | :-- |")
    for fact in card["facts"]:
        pub = fact["published"]
        published, reproduced, verdict = fact_cells(fact)
        cells = (
            f"{esc(fact['id'])}: {prose(fact['statement'], in_table=True)}",
            esc(fact["reading"]),
            prose(published, in_table=True),
            esc(f"{pub['model']} / {pub['term']}"),
            esc(reproduced),
            esc(verdict),
            prose(fact["detail"], in_table=True),
        )
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    counts = ", ".join(f"{k}: {v}" for k, v in card["verdict_counts"].items() if v)
    out.append(f"Verdicts: {esc(counts)}.")
    out.append("")
    sources = fact_sources(card)
    if sources:
        out.append("## Where each fact was stated and how it is read")
        out.append("")
        for fact_id, reading, source in sources:
            out.append(f"- {esc(fact_id)}")
            if source:
                out.append(f"  - source: {prose(source)}")
            if reading:
                out.append(f"  - read as: {prose(reading)}")
        out.append("")
    if card.get("source_note"):
        out.append(f"Source note: {prose(card['source_note'])}")
        out.append("")
    out.append(f"Not compared: {prose(card['not_published'])}")
    out.append("")
    if card["tolerances"]:
        out.append("Tolerances:")
        out.append("")
        out.extend(f"- {esc(k)}: {prose(v)}" for k, v in sorted(card["tolerances"].items()))
        out.append("")
    if card.get("parameter_recovery"):
        out.append("## Parameter recovery on the synthetic demo data")
        out.append("")
        out.append("| Model | Term | Planted | Estimate (95% CI) | Recovered |")
        out.append("| :-- | :-- | --: | --: | :-- |")
        for row in card["parameter_recovery"]:
            out.append(
                "| "
                + " | ".join(esc(x) for x in (row["model"], row["term"], *recovery_cells(row)))
                + " |"
            )
        out.append("")
    out.append("## Functional form of each reproduced model")
    out.append("")
    out.append("| Model | Term | Form | Formula |")
    out.append("| :-- | :-- | :-- | :-- |")
    for name, info in sorted(card["model_forms"].items()):
        out.append(
            f"| {esc(name)} | {esc(info['term'])} | {esc(info['form'])} | {esc(info['formula'])} |"
        )
    out.append("")
    if not card["annual_totals"]:
        # A facts file without published annual totals (e.g. stated facts) has no
        # series to compare with published totals.
        return "\n".join(out)
    codes = sorted({str(row.get("hs") or "") for row in card["annual_totals"]} - {""})
    counted = f" (code {', '.join(codes)})" if codes else ""
    out.append(f"## The series against published annual totals{counted}")
    out.append("")
    out.append("| Year | Published (t) | Series used (t) | Months | Ratio | Source |")
    out.append("| --: | --: | --: | --: | --: | :-- |")
    for row in card["annual_totals"]:
        out.append(
            f"| {row['year']} | {_num(row['published_t'], 1)} | {_num(row['series_t'], 1)} "
            f"| {row['months']} | {_num(row['ratio'], 3)} | {esc(row['source_url'])} |"
        )
    out.append("")
    if card["synthetic"]:
        out.append(
            "The series above is synthetic, so these ratios only show the scale of the demo "
            "data, not the coverage of a real series."
        )
        out.append("")
    return "\n".join(out)
