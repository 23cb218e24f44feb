"""Regression tables from results JSON: Markdown, LaTeX (booktabs), HTML and CSV.

The report layer never re-estimates.  It reads the results JSON written by
``reexport estimate`` (schema 1, see ``docs/ARCHITECTURE.md``), lays the
models out as a neutral grid (:class:`Table`) and renders that grid in four
formats, so every format shows exactly the same numbers.

Significance stars are computed here, from the coefficient and the standard
error the table shows (two-sided *t* test, degrees of freedom from the model's
covariance convention), not copied from stored p-values, so a reader who
divides the two printed numbers gets the stars the table prints.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reexport.errors import BadInputError
from reexport.markup import latex_escape, one_line
from reexport.models.results import ModelResult, ResultsFile, cluster_counts
from reexport.models.results import two_sided_p as two_sided_p  # re-exported for reports

#: Star thresholds (two-sided p-values), most significant first.
STAR_LEVELS: tuple[tuple[float, str], ...] = ((0.01, "***"), (0.05, "**"), (0.10, "*"))

#: LaTeX packages a rendered table needs; named in a comment at its top.
LATEX_PACKAGES = ("booktabs",)

Statistic = Literal["se", "t"]

# --------------------------------------------------------------------------- results

#: Results are read through the one results type; this name stays for callers of the
#: report layer (``tables.load_results(path)`` is :meth:`ResultsFile.load`).
load_results = ResultsFile.load


#: How each estimator of the results file is named in a table's footer.
ESTIMATOR_LABELS = {"ols": "OLS", "panel": "Panel OLS (within)", "ppml": "PPML"}


def estimator_label(estimator: str) -> str:
    """Readable estimator name for a table row (unknown names shown as they are)."""
    return ESTIMATOR_LABELS.get(estimator, estimator)


# --------------------------------------------------------------------------- numbers


def stars_for(p: float) -> str:
    """Stars for a two-sided p-value (``***`` < 0.01, ``**`` < 0.05, ``*`` < 0.10)."""
    if not math.isfinite(p):
        return ""
    for threshold, marks in STAR_LEVELS:
        if p < threshold:
            return marks
    return ""


def format_number(value: float | None, digits: int = 3) -> str:
    """Fixed-point text with ``digits`` decimals; tiny non-zero values keep significant digits.

    Negative zero prints as zero, missing values as an empty string.
    """
    if value is None or not math.isfinite(value):
        return ""
    if value != 0 and abs(value) < 0.5 * 10.0**-digits:
        return f"{value:.{digits}g}"
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = f"{0.0:.{digits}f}"
    return text


def format_count(value: int) -> str:
    """An observation count with thousands separators."""
    return f"{value:,}"


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Cell:
    """One table cell: text plus significance stars rendered per format."""

    text: str
    stars: str = ""

    @property
    def plain(self) -> str:
        return self.text + self.stars


@dataclass(frozen=True)
class Row:
    """A table row; ``rule_before`` draws a horizontal rule above it."""

    cells: tuple[Cell, ...]
    rule_before: bool = False


@dataclass(frozen=True)
class Table:
    """A rendered-format-neutral table: title, two header rows, body rows and notes."""

    title: str
    header: tuple[str, ...]
    subheader: tuple[str, ...] | None
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    align: tuple[str, ...] | None = None

    def alignment(self) -> tuple[str, ...]:
        """Column alignments (``l``/``r``); default: first column left, the rest right."""
        return self.align or ("l",) + ("r",) * (self.width - 1)

    @property
    def width(self) -> int:
        return len(self.header)


def _cells(*texts: str) -> tuple[Cell, ...]:
    return tuple(Cell(t) for t in texts)


def _lags_text(lags: Any) -> str:
    return f"{lags} lag" if lags == 1 else f"{lags} lags"


def describe_cov(model: ModelResult) -> str:
    """A readable label for the model's covariance, as shown in a table's covariance row.

    For example ``Classical``, ``Robust (HC1)``, ``HAC, 4 lags``, ``Clustered by partner
    (22)``, ``Clustered by partner (22) and period (92)`` or ``Driscoll-Kraay, 4 lags (92
    periods)``.  The Stata command each one reproduces is in the table's covariance note
    (``cov.convention``); an unknown type is shown as recorded.
    """
    cov = model.cov
    kind = cov.type
    small_sample = cov.small_sample
    lags = cov.lags
    kernel = cov.kernel or "bartlett"
    # Bartlett weights are Newey-West's; another kernel is named so readers see the choice.
    kernel_text = "" if kernel == "bartlett" else f" ({kernel.capitalize()} kernel)"
    counts = cluster_counts(cov.clusters)
    if kind == "nonrobust":
        return "Classical" if small_sample else "Classical (no small-sample factor)"
    if kind == "robust":
        # Stata's vce(robust) scales HC0 by N/(N-K): HC1.  Without it, HC0 (ivreg2, robust).
        return "Robust (HC1)" if small_sample else "Robust (HC0)"
    if kind == "hac":
        return "HAC" + kernel_text + ("" if lags is None else f", {_lags_text(lags)}")
    if kind == "cluster":
        by = list(cov.by) or [v for v in counts if v != "clusters"]
        if not by:
            total = counts.get("clusters")
            return "Clustered" if total is None else f"Clustered ({total} clusters)"
        parts = [f"{b} ({counts[b]})" if b in counts else b for b in by]
        return "Clustered by " + " and ".join(parts)
    if kind == "driscoll-kraay":
        text = "Driscoll-Kraay" + kernel_text
        if lags is not None:
            text += f", {_lags_text(lags)}"
        periods = counts.get("periods")
        return text if periods is None else f"{text} ({periods} periods)"
    parts = [kind]
    if lags is not None:
        parts.append(_lags_text(lags))
    parts.extend(f"{count} {variable}" for variable, count in sorted(counts.items()))
    return ", ".join(parts)


@dataclass(frozen=True)
class IndicatorRow:
    """A ``Yes``/``No`` footer row: does the model have any term matching ``pattern``?"""

    label: str
    pattern: str


def _matches_any(term: str, patterns: Sequence[str]) -> bool:
    return any(re.search(p, term) for p in patterns)


def synthetic_title(title: str, synthetic: bool) -> str:
    """Prefix a title with a plain-words synthetic-data warning when ``synthetic``."""
    return f"SYNTHETIC DEMO DATA (not real trade data): {title}" if synthetic else title


SYNTHETIC_NOTE = (
    "SYNTHETIC DEMO DATA: these estimates use the seeded synthetic demo vintage, not real "
    "trade data. They check that the pipeline recovers a planted effect; they say nothing "
    "about the real trade flows or about the facts the study checks."
)

#: The formula's constant term (``reexport.models.formula`` names it ``Intercept``).
INTERCEPT = "Intercept"
#: Row label of the constant when the spec's ``[labels]`` gives none.  One row holds
#: every column's constant, so its label must be true of every model: a spec label that
#: explains one model's constant (an intercept-only mean, say) belongs in that model's
#: column title, not here.
INTERCEPT_LABEL = "Constant"


def term_label(term: str, labels: Mapping[str, str]) -> str:
    """A coefficient row's label: the spec's ``[labels]`` entry, ``Constant``, or the term."""
    if term in labels:
        return labels[term]
    return INTERCEPT_LABEL if term == INTERCEPT else term


def _stat_note(statistic: Statistic, models: Sequence[ModelResult]) -> str:
    shown = "Standard errors in parentheses" if statistic == "se" else "t-statistics in brackets"
    dfs = sorted({m.inference_df for m in models}, key=lambda d: (d is None, d or 0.0))
    df_text = ", ".join("normal" if d is None else f"t({d:g})" for d in dfs)
    return (
        f"{shown}. Stars from a two-sided test of the coefficient divided by the standard "
        f"error shown ({df_text}): * p<0.10, ** p<0.05, *** p<0.01."
    )


def _cov_note(models: Sequence[ModelResult]) -> str:
    conventions: list[str] = []
    for m in models:
        text = f"{describe_cov(m)} ({m.cov.convention or 'convention not recorded'})"
        if text not in conventions:
            conventions.append(text)
    return "Covariance: " + "; ".join(conventions) + "."


#: How each PPML separation method is named in a table note.
_SEPARATION_WORDS = {
    "separated_fe": "fixed effects",
    "separated_simplex": "simplex",
    "separated_relu": "iterative rectifier (ReLU)",
}


def _distinct(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t for t in texts if t))


def _model_notes(models: Sequence[ModelResult]) -> list[str]:
    """What the models did beyond the covariance: weights, absorbed dof, PPML separation."""
    notes: list[str] = []
    weights = _distinct([str((m.weights or {}).get("convention") or "") for m in models])
    if weights:
        notes.append("Weights: " + "; ".join(weights) + ".")
    rules = _distinct([m.dof_rule or "" for m in models if m.effects])
    if rules:
        notes.append("Fixed effects: " + "; ".join(rules) + ".")
    separated = []
    for m in models:
        counts = m.separation
        if counts:
            parts = ", ".join(f"{n:,} by {_SEPARATION_WORDS[k]}" for k, n in counts.items())
            separated.append(f"{m.label or m.name}: {parts}")
    if separated:
        notes.append(
            "PPML observations dropped as separated (ppmlhdfe's methods): "
            + "; ".join(separated)
            + "."
        )
    return notes


def _bootstrap_p(model: ModelResult, term: str) -> float | None:
    """The wild-bootstrap p-value of ``term`` in ``model``, if it was bootstrapped."""
    pvalues = (model.bootstrap or {}).get("pvalues") or {}
    value = pvalues.get(term)
    return None if value is None else float(value)


def _bootstrap_cells(models: Sequence[ModelResult], term: str) -> tuple[Cell, ...] | None:
    """A row of wild-bootstrap p-values under a coefficient (``None`` when no model has one)."""
    values = [_bootstrap_p(m, term) for m in models]
    if all(v is None for v in values):
        return None
    return (Cell(""),) + tuple(
        Cell("" if v is None else f"{{p = {format_number(v, 3)}}}") for v in values
    )


def _bootstrap_note(models: Sequence[ModelResult]) -> str | None:
    """Name the bootstrap convention(s) behind the ``{p = ...}`` rows."""
    conventions = _distinct([str((m.bootstrap or {}).get("convention") or "") for m in models])
    if not conventions:
        return None
    return (
        "Wild cluster bootstrap p-values in braces, {p = ...}; the stars stay those of the "
        "analytic standard errors: " + "; ".join(conventions) + "."
    )


_LAG_TERM = re.compile(r"\bL\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,\s*(-?\d+)\s*\)")


def _lag_note(models: Sequence[ModelResult], terms: Sequence[str] | None = None) -> str | None:
    """Name the lags (in periods) with which lagged regressors enter, e.g. ``GPR: 4``."""
    lags: dict[str, list[int]] = {}
    for m in models:
        for term in m.terms if terms is None else [t for t in terms if m.has(t)]:
            for variable, k in _LAG_TERM.findall(term):
                found = lags.setdefault(variable, [])
                if int(k) not in found:
                    found.append(int(k))
    if not lags:
        return None
    parts = [f"{v} {', '.join(str(k) for k in sorted(ks))}" for v, ks in sorted(lags.items())]
    return (
        "Lags in months (L(x, k) = x k months earlier, by the calendar): " + "; ".join(parts) + "."
    )


def build_table(
    models: Sequence[ModelResult],
    *,
    labels: Mapping[str, str],
    title: str,
    terms: Sequence[str] | None = None,
    hide: Sequence[str] = (),
    indicators: Sequence[IndicatorRow] = (),
    column_titles: Sequence[str] | None = None,
    statistic: Statistic = "se",
    synthetic: bool = False,
    digits: int = 3,
    notes: Sequence[str] = (),
) -> Table:
    """Lay several models side by side.

    Parameters
    ----------
    models
        The models, one column each, in order.
    labels
        Term name -> display label (from the spec's ``[labels]``); unlabelled terms
        show their raw name.
    title
        Table title (prefixed with a synthetic-data warning when ``synthetic``).
    terms
        Coefficient rows in order.  Default: every term of every model in order of
        first appearance, minus those matching ``hide``.  An explicit term must
        appear in at least one model.
    hide
        Regular expressions of terms not shown as rows (e.g. month dummies).
    indicators
        ``Yes``/``No`` rows saying whether a model has any term matching a pattern (left
        out when no model has one).
    column_titles
        Column headings (default: each model's ``label`` from its spec, else its name).
    statistic
        ``"se"`` (standard errors in parentheses) or ``"t"`` (t-statistics in brackets).
    synthetic
        Whether the estimates come from the synthetic demo vintage.
    digits
        Decimals for coefficients and statistics.
    notes
        Extra notes appended after the generated ones.

    Returns
    -------
    Table

    Raises
    ------
    BadInputError
        No models, an unknown ``statistic``, a requested term present in none of the
        models, or a column-title count that does not match.
    """
    if not models:
        raise BadInputError(f"table {title!r}: no models to show")
    if statistic not in ("se", "t"):
        raise BadInputError(f"table {title!r}: statistic must be 'se' or 't', not {statistic!r}")
    if column_titles is not None and len(column_titles) != len(models):
        raise BadInputError(
            f"table {title!r}: {len(column_titles)} column titles for {len(models)} models"
        )
    if terms is None:
        ordered: list[str] = []
        for m in models:
            ordered.extend(t for t in m.terms if t not in ordered and not _matches_any(t, hide))
        # Constant last, as in Stata's esttab and most journals.
        terms = [t for t in ordered if t != INTERCEPT] + [t for t in ordered if t == INTERCEPT]
    else:
        for term in terms:
            if not any(m.has(term) for m in models):
                names = ", ".join(m.name for m in models)
                raise BadInputError(
                    f"table {title!r}: term {term!r} is in none of the models ({names})"
                )

    header = ("",) + tuple(f"({i})" for i in range(1, len(models) + 1))
    subheader = ("",) + tuple(column_titles or [m.label or m.name for m in models])
    rows: list[Row] = []
    for term in terms:
        coef_cells = [Cell(term_label(term, labels))]
        stat_cells = [Cell("")]
        for m in models:
            if not m.has(term):
                coef_cells.append(Cell(""))
                stat_cells.append(Cell(""))
                continue
            coef, se = m.coef(term), m.se(term)
            coef_cells.append(Cell(format_number(coef, digits), stars_for(m.p_value(term))))
            if statistic == "se":
                stat_cells.append(
                    Cell(f"({format_number(se, digits)})" if math.isfinite(se) else "")
                )
            else:
                t = coef / se if math.isfinite(se) and se > 0 else float("nan")
                stat_cells.append(Cell(f"[{format_number(t, 2)}]" if math.isfinite(t) else ""))
        rows.append(Row(tuple(coef_cells)))
        rows.append(Row(tuple(stat_cells)))
        boot = _bootstrap_cells(models, term)
        if boot is not None:
            rows.append(Row(boot))

    footer: list[Row] = []
    for indicator in indicators:
        present = [any(re.search(indicator.pattern, t) for t in m.terms) for m in models]
        if not any(present):
            continue  # a row of "No" says nothing (e.g. month dummies in a panel with time FE)
        footer.append(Row(_cells(indicator.label, *("Yes" if p else "No" for p in present))))
    footer.append(
        Row(
            _cells(
                "Fixed effects",
                *(", ".join(labels.get(e, e) for e in m.effects) or "None" for m in models),
            )
        )
    )
    footer.append(Row(_cells("Covariance", *(describe_cov(m) for m in models))))
    footer.append(Row(_cells("Estimator", *(estimator_label(m.estimator) for m in models))))
    footer.append(Row(_cells("Observations", *(format_count(m.nobs) for m in models))))
    footer.append(Row(_cells("R²", *(format_number(m.r2, 3) for m in models))))
    if any(m.r2_within is not None for m in models):
        footer.append(Row(_cells("Within R²", *(format_number(m.r2_within, 3) for m in models))))
    if footer:
        footer[0] = Row(footer[0].cells, rule_before=True)
    rows.extend(footer)

    all_notes = []
    if synthetic:
        all_notes.append(SYNTHETIC_NOTE)
    all_notes.append(_stat_note(statistic, models))
    all_notes.append(_cov_note(models))
    all_notes.extend(_model_notes(models))
    boot_note = _bootstrap_note(models)
    if boot_note:
        all_notes.append(boot_note)
    lag_note = _lag_note(models, terms)
    if lag_note:
        all_notes.append(lag_note)
    all_notes.extend(notes)
    return Table(
        title=synthetic_title(title, synthetic),
        header=header,
        subheader=subheader,
        rows=tuple(rows),
        notes=tuple(all_notes),
    )


def focus_term(model: ModelResult, pattern: str) -> str:
    """The single term of ``model`` matching the regular expression ``pattern``.

    Raises
    ------
    BadInputError
        If no term or more than one term matches.
    """
    matches = [t for t in model.terms if re.search(pattern, t)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise BadInputError(
            f"model {model.name!r} in {model.source} has no term matching {pattern!r} "
            f"(it has: {', '.join(model.terms) or 'none'})"
        )
    raise BadInputError(
        f"model {model.name!r} in {model.source}: {len(matches)} terms match {pattern!r} "
        f"({', '.join(matches)}); make the focus pattern more specific"
    )


def describe_variant(model: ModelResult) -> str:
    """How a model is named in tables and figures.

    Variants expanded by the spec already carry their values in the name
    (``lag_profile[lag=4]``), so the name is the description.
    """
    return model.name


def build_focus_table(
    models: Sequence[ModelResult],
    *,
    labels: Mapping[str, str],
    title: str,
    focus: str,
    statistic: Statistic = "se",
    synthetic: bool = False,
    digits: int = 3,
    notes: Sequence[str] = (),
    group_labels: Mapping[str, str] | None = None,
) -> Table:
    """One row per model showing only its focal coefficient (for robustness batteries).

    Parameters
    ----------
    models
        The models, one row each.
    labels
        Term name -> display label.
    title
        Table title.
    focus
        Regular expression selecting exactly one term per model (see :func:`focus_term`).
    statistic, synthetic, digits, notes
        As for :func:`build_table`.
    group_labels
        Display names of model groups (keyed by group, or by model name for ungrouped models).

    Raises
    ------
    BadInputError
        An empty battery, or a model without exactly one focal term.
    """
    if not models:
        raise BadInputError(f"table {title!r}: the robustness battery is empty")
    stat_head = "SE" if statistic == "se" else "t"
    header = (
        "Specification",
        "Group",
        "Regressor",
        "Coefficient",
        stat_head,
        "95% CI",
        "N",
        "R²",
        "Covariance",
    )
    rows: list[Row] = []
    previous_group: str | None = None
    for m in models:
        term = focus_term(m, focus)
        coef, se = m.coef(term), m.se(term)
        lo, hi = m.ci(term)
        if statistic == "se":
            stat = format_number(se, digits)
        else:
            stat = format_number(coef / se, 2) if math.isfinite(se) and se > 0 else ""
        ci_text = (
            f"[{format_number(lo, digits)}, {format_number(hi, digits)}]"
            if math.isfinite(lo) and math.isfinite(hi)
            else ""
        )
        group = (group_labels or {}).get(m.group or m.name, m.group or "")
        rows.append(
            Row(
                (
                    Cell(describe_variant(m)),
                    Cell(group),
                    Cell(term_label(term, labels)),
                    Cell(format_number(coef, digits), stars_for(m.p_value(term))),
                    Cell(stat),
                    Cell(ci_text),
                    Cell(format_count(m.nobs)),
                    Cell(format_number(m.r2, 3)),
                    Cell(describe_cov(m)),
                ),
                rule_before=previous_group is not None and group != previous_group,
            )
        )
        previous_group = group
    all_notes = []
    if synthetic:
        all_notes.append(SYNTHETIC_NOTE)
    all_notes.append(_stat_note(statistic, models))
    all_notes.append(_cov_note(models))
    all_notes.extend(_model_notes(models))
    lag_note = _lag_note(models, [focus_term(m, focus) for m in models])
    if lag_note:
        all_notes.append(lag_note)
    all_notes.append("95% CI as stored by the estimator under the same covariance convention.")
    all_notes.extend(notes)
    return Table(
        title=synthetic_title(title, synthetic),
        header=header,
        subheader=None,
        rows=tuple(rows),
        notes=tuple(all_notes),
        align=("l", "l", "l", "r", "r", "r", "r", "r", "l"),
    )


# --------------------------------------------------------------------------- renderers


# ``$`` starts inline math in many Markdown renderers (GitLab, Jupyter, MathJax pages).
_MD_SPECIAL = re.compile(r"([\\`*_|\[\]<>$])")


def markdown_escape(text: str) -> str:
    """Escape characters Markdown (GitHub flavour) would treat as markup in a table cell.

    The result is one line: line breaks become spaces (see :func:`one_line`).
    """
    return _MD_SPECIAL.sub(r"\\\1", one_line(text))


def _split_code_spans(text: str) -> list[tuple[bool, str]]:
    """Split ``text`` into ``(is_code_span, piece)`` parts, by CommonMark's rule.

    A run of n backticks opens a code span that the next run of exactly n backticks
    closes; a run with no closing partner is literal text.
    """
    parts: list[tuple[bool, str]] = []
    plain_start = i = 0
    while i < len(text):
        if text[i] != "`":
            i += 1
            continue
        run_end = i
        while run_end < len(text) and text[run_end] == "`":
            run_end += 1
        close_end = None
        k = run_end
        while k < len(text):
            if text[k] != "`":
                k += 1
                continue
            m = k
            while m < len(text) and text[m] == "`":
                m += 1
            if m - k == run_end - i:
                close_end = m
                break
            k = m
        if close_end is None:
            i = run_end  # no partner: literal backticks, escaped with the plain text
            continue
        if plain_start < i:
            parts.append((False, text[plain_start:i]))
        parts.append((True, text[i:close_end]))
        i = plain_start = close_end
    if plain_start < len(text):
        parts.append((False, text[plain_start:]))
    return parts


def markdown_text(text: str, *, in_table: bool = False) -> str:
    """Escape prose for Markdown but keep its code spans (`` `reexport build` ``) as code.

    Outside code spans every markup character is escaped (:func:`markdown_escape`);
    inside them nothing is, since a backslash there prints as itself.  In a table cell
    ``in_table=True`` still escapes ``|`` inside code spans, as GitHub's tables require.
    The result is one line.
    """
    pieces = []
    for is_code, piece in _split_code_spans(one_line(text)):
        if not is_code:
            pieces.append(markdown_escape(piece))
        else:
            pieces.append(piece.replace("|", "\\|") if in_table else piece)
    return "".join(pieces)


def markdown_code(text: str) -> str:
    """``text`` as one inline code span, verbatim, whatever backticks it holds.

    The fence is one backtick longer than the longest run inside, padded with a space
    when the text starts or ends with a backtick (CommonMark strips one such space).
    """
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def to_markdown(table: Table) -> str:
    """Render a GitHub-flavoured Markdown table with a bold title and notes below."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    out = [f"**{markdown_escape(table.title)}**", ""]
    head = [markdown_escape(h) for h in table.header]
    if table.subheader is not None:
        head = [
            markdown_escape(" ".join(x for x in (h, s) if x))
            for h, s in zip(table.header, table.subheader, strict=True)
        ]
    out.append(line(head))
    out.append(line([":--" if a == "l" else "--:" for a in table.alignment()]))
    for row in table.rows:
        cells = [markdown_escape(c.text) + markdown_escape(c.stars) for c in row.cells]
        out.append(line(cells))
    out.append("")
    out.extend(f"{markdown_escape(n)}  " for n in table.notes)
    return "\n".join(out).rstrip() + "\n"


def _latex_cell(cell: Cell) -> str:
    body = latex_escape(cell.text)
    if cell.stars:
        body += "\\ensuremath{^{" + cell.stars + "}}"
    return body


def to_latex(table: Table) -> str:
    """Render a booktabs ``table`` environment; the packages it needs are named at the top."""
    packages = ", ".join(LATEX_PACKAGES)
    out = [
        f"% {latex_escape(table.title)}",
        f"% Requires in the preamble: \\usepackage{{{packages}}}",
        "% Generated by reexport; every special character is escaped for text mode.",
        "\\begin{table}[htbp]",
        "\\centering",
        f"\\caption{{{latex_escape(table.title)}}}",
        "\\begin{tabular}{" + "".join(table.alignment()) + "}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in table.header) + " \\\\",
    ]
    if table.subheader is not None:
        out.append(" & ".join(latex_escape(h) for h in table.subheader) + " \\\\")
    out.append("\\midrule")
    for row in table.rows:
        if row.rule_before:
            out.append("\\midrule")
        out.append(" & ".join(_latex_cell(c) for c in row.cells) + " \\\\")
    out.append("\\bottomrule")
    out.append("\\end{tabular}")
    if table.notes:
        out.append("\\par\\smallskip")
        out.append("\\begin{minipage}{\\linewidth}\\footnotesize")
        out.extend(latex_escape(n) + "\\par" for n in table.notes)
        out.append("\\end{minipage}")
    out.append("\\end{table}")
    return "\n".join(out) + "\n"


def _html_cell(cell: Cell, tag: str) -> str:
    body = html.escape(cell.text)
    if cell.stars:
        body += f"<sup>{html.escape(cell.stars)}</sup>"
    return f"<{tag}>{body}</{tag}>"


def to_html(table: Table) -> str:
    """Render an HTML ``<table>`` fragment with caption, header, body and notes."""
    out = ['<table class="reexport-table">', f"<caption>{html.escape(table.title)}</caption>"]
    out.append("<thead>")
    out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header) + "</tr>")
    if table.subheader is not None:
        out.append(
            "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.subheader) + "</tr>"
        )
    out.append("</thead>")
    out.append("<tbody>")
    for row in table.rows:
        attr = ' class="rule"' if row.rule_before else ""
        cells = [_html_cell(row.cells[0], "th")] + [_html_cell(c, "td") for c in row.cells[1:]]
        out.append(f"<tr{attr}>" + "".join(cells) + "</tr>")
    out.append("</tbody>")
    if table.notes:
        out.append("<tfoot>")
        out.extend(
            f'<tr><td colspan="{table.width}">{html.escape(n)}</td></tr>' for n in table.notes
        )
        out.append("</tfoot>")
    out.append("</table>")
    return "\n".join(out) + "\n"


def to_csv(table: Table) -> str:
    """Render the grid as CSV: title row, header rows, body, then ``Note`` rows.

    One record per line: line breaks inside cells become spaces, so line-based tools
    (``wc -l``, ``grep``, spreadsheet imports) see the grid as it is.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def write(cells: Sequence[str]) -> None:
        writer.writerow([one_line(c) for c in cells])

    write(["Title", table.title] + [""] * (table.width - 2))
    write(table.header)
    if table.subheader is not None:
        write(table.subheader)
    for row in table.rows:
        write([c.plain for c in row.cells])
    for note in table.notes:
        write(["Note", note] + [""] * (table.width - 2))
    return buffer.getvalue()


#: Output format -> (file suffix, renderer).
FORMATS = {
    "md": to_markdown,
    "tex": to_latex,
    "html": to_html,
    "csv": to_csv,
}


def render(table: Table, fmt: str) -> str:
    """Render ``table`` in ``fmt`` (``md``, ``tex``, ``html`` or ``csv``)."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise BadInputError(
            f"unknown table format {fmt!r} (choose from {', '.join(FORMATS)})"
        ) from None
    return renderer(table)


#: How ``models_table`` names its formats (``latex`` and ``markdown`` are accepted too).
TABLE_FORMATS = {
    "latex": "tex",
    "tex": "tex",
    "md": "md",
    "markdown": "md",
    "html": "html",
    "csv": "csv",
}


def models_table(
    results: ModelResult | Sequence[ModelResult] | ResultsFile,
    format: str = "md",
    *,
    title: str = "Estimates",
    labels: Mapping[str, str] | None = None,
    column_titles: Sequence[str] | None = None,
    statistic: str = "se",
    digits: int = 3,
    hide: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """Render models side by side as ``reexport report`` does (``rx.table``).

    Parameters
    ----------
    results : ModelResult, sequence of ModelResult, or ResultsFile
        Fitted (:func:`fit`) or loaded models; a whole results file shows all its
        models, labelled by its ``[labels]`` unless ``labels`` is given.
    format : str
        ``"latex"`` (or ``"tex"``), ``"md"``, ``"html"`` or ``"csv"``.
    title, labels, column_titles, statistic, digits, hide, notes
        As for :func:`reexport.report.tables.build_table`.

    Returns
    -------
    str
    """
    file_labels: Mapping[str, str] = {}
    if isinstance(results, ResultsFile):
        models, file_labels = list(results.models), results.labels
    elif isinstance(results, ModelResult):
        models = [results]
    else:
        models = list(results)
    fmt = TABLE_FORMATS.get(str(format).lower())
    if fmt is None:
        raise BadInputError(
            f"rx.table: unknown format {format!r} (use one of latex, md, html, csv)"
        )
    if statistic not in ("se", "t"):
        raise BadInputError(f"rx.table: statistic must be 'se' or 't', not {statistic!r}")
    built = build_table(
        models,
        labels=dict(file_labels if labels is None else labels),
        title=title,
        hide=hide,
        column_titles=column_titles,
        statistic="se" if statistic == "se" else "t",
        digits=digits,
        notes=notes,
    )
    return render(built, fmt)
