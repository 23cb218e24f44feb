"""Immutable estimation results, their text rendering, and the results JSON file (schema 1).

A :class:`ModelResult` never changes after it is built: every table-like
attribute (``params``, ``std_errors``, ...) is a fresh pandas object built
from read-only arrays, so editing it cannot alter the result, and
:meth:`ModelResult.with_cov` returns a *new* result with other standard
errors.  What is needed to recompute standard errors (scores, inverse
Hessian, cluster and time codes) is kept privately.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from reexport.errors import BadInputError
from reexport.markup import latex_escape
from reexport.models.covariance import (
    CovData,
    CovResult,
    CovSpecLike,
    coerce_cov,
    compute_cov,
)
from reexport.store import atomic_write_text

#: Version of the results JSON layout this module writes and reads.
SCHEMA_VERSION = 1

#: Confidence level of ``conf_int``.
CONFIDENCE = 0.95

#: Keys every model entry of a results file must have.
REQUIRED_MODEL_KEYS = (
    "name",
    "estimator",
    "formula",
    "nobs",
    "params",
    "std_errors",
    "conf_int",
    "cov",
)

#: PPML separation counts in ``dropped_rows``, by detection method (``ppmlhdfe``'s
#: names: fixed effects, simplex, iterative rectifier).  Files written before the
#: methods were told apart have one key, ``separated``, read as ``separated_fe``.
SEPARATION_KEYS = ("separated_fe", "separated_simplex", "separated_relu")
LEGACY_SEPARATION_KEY = "separated"

#: The Stata equivalent of each weight type, as named in results and table notes.
_WEIGHT_CONVENTIONS = {
    "aweight": "Stata: [aweight={column}], analytic weights normalised to sum to N",
    "fweight": "Stata: [fweight={column}], frequency weights (N = sum of weights)",
}


def normalise_dropped(dropped: Mapping[str, Any]) -> dict[str, int]:
    """Dropped-row counts with the legacy ``separated`` key read as ``separated_fe``."""
    counts = {str(k): int(v) for k, v in dropped.items()}
    if LEGACY_SEPARATION_KEY in counts:
        legacy = counts.pop(LEGACY_SEPARATION_KEY)
        counts["separated_fe"] = counts.get("separated_fe", 0) + legacy
    return counts


def weights_convention(column: str, weights_type: str) -> str:
    """How a weighted model's weights are read, e.g. ``Stata: [aweight=w], ...``."""
    template = _WEIGHT_CONVENTIONS.get(weights_type, "{column} (" + weights_type + ")")
    return template.format(column=column)


@dataclass(frozen=True)
class CovInfo:
    """How the standard errors were computed.

    Attributes
    ----------
    type, lags, by, small_sample, kernel
        The request (see :class:`reexport.models.spec.CovSpec`).
    convention : str
        Stata equivalent, e.g. ``"Stata: newey, lag(4)"``.
    df : int or None
        Degrees of freedom of the t distribution used for p-values and
        intervals; ``None`` means the normal distribution.
    clusters : dict or None
        Number of clusters per cluster variable (``{"periods": T}`` for
        Driscoll-Kraay); ``None`` when not clustered.
    factor : float
        Small-sample factor applied to the sandwich.
    weights : dict or None
        ``{"column": name, "type": "aweight" | "fweight"}`` for a weighted fit.
    """

    type: str
    lags: int | None
    by: tuple[str, ...]
    small_sample: bool
    kernel: str
    convention: str
    df: int | None
    clusters: Mapping[str, int] | None
    factor: float
    weights: Mapping[str, str] | None = None

    @classmethod
    def from_result(cls, options: CovSpecLike, result: CovResult) -> CovInfo:
        return cls(
            type=options.type,
            lags=options.lags,
            by=options.by,
            small_sample=options.small_sample,
            kernel=options.kernel,
            convention=result.convention,
            df=result.df,
            clusters=dict(result.n_clusters) or None,
            factor=float(result.factor),
            weights=result.weights,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``clusters`` maps cluster variable to count; ``weights`` when weighted)."""
        record: dict[str, Any] = {
            "type": self.type,
            "lags": self.lags,
            "by": list(self.by),
            "clusters": dict(self.clusters) if self.clusters else None,
            "small_sample": self.small_sample,
            "kernel": self.kernel,
            "convention": self.convention,
            "df": self.df,
            "factor": self.factor,
        }
        if self.weights:
            record["weights"] = dict(self.weights)
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, df_resid: int | None = None) -> CovInfo:
        """Read a ``cov`` record; older layouts are completed as the report always read them.

        A bare cluster count (``"clusters": 22``) becomes ``{"clusters": 22}``; a record
        without ``df`` gets (smallest cluster count - 1) when clustered, else ``df_resid``
        with the small-sample corrections and the normal distribution without them.
        """
        clusters = cluster_counts(data.get("clusters"))
        if "df" in data:
            df = data["df"]
        elif clusters:
            df = min(clusters.values()) - 1
        elif bool(data.get("small_sample", True)):
            df = df_resid
        else:
            df = None
        return cls(
            type=str(data.get("type", "unknown")),
            lags=data.get("lags"),
            by=tuple(str(b) for b in data.get("by") or ()),
            small_sample=bool(data.get("small_sample", True)),
            kernel=str(data.get("kernel") or "bartlett"),
            convention=str(data.get("convention") or ""),
            df=None if df is None else int(df),
            clusters=clusters or None,
            factor=float(data.get("factor", 1.0)),
            weights=data.get("weights"),
        )


def cluster_counts(raw: Any) -> dict[str, int]:
    """Cluster counts as ``{variable: count}`` (a bare number is read as one variable)."""
    if isinstance(raw, Mapping):
        return {str(k): int(v) for k, v in raw.items() if v is not None}
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return {"clusters": int(raw)}
    return {}


@dataclass(frozen=True)
class RecomputeState:
    """Private material to recompute the covariance of a fitted model.

    Attributes
    ----------
    cov_data : CovData
        Scores, inverse Hessian, effects, time and entity codes (clusters of
        the original request included).
    cluster_lookup : callable or None
        Returns the integer codes of a cluster column by name, for clusters
        that were not part of the original request.
    """

    cov_data: CovData
    cluster_lookup: Callable[[str], np.ndarray] | None = None


def _readonly(values: Any) -> np.ndarray:
    array = np.array(values, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


def two_sided_p(coef: float, se: float, df: float | None) -> float:
    """Two-sided p-value of ``coef / se`` under t(``df``), or the normal if ``df`` is None.

    Returns NaN when the standard error is missing, zero or not finite.
    """
    if not (math.isfinite(coef) and math.isfinite(se)) or se <= 0:
        return float("nan")
    tstat = -abs(coef / se)
    if df is None or df <= 0:
        return float(2.0 * special.ndtr(tstat))
    return float(2.0 * special.stdtr(df, tstat))


def inference(
    params: np.ndarray, cov: np.ndarray, df: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standard errors, t statistics, two-sided p-values and 95% intervals.

    Parameters
    ----------
    params : numpy.ndarray
    cov : numpy.ndarray
    df : int or None
        t degrees of freedom; ``None`` for the normal distribution.

    Returns
    -------
    tuple of numpy.ndarray
        ``(se, t, p, ci)`` with ``ci`` of shape ``(k, 2)``.
    """
    variances = np.diag(cov)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(np.where(variances >= 0, variances, np.nan))
        tstat = params / se
    # scipy.special rather than scipy.stats: same functions, a fraction of the import time.
    if df is None:
        pvalues = 2 * special.ndtr(-np.abs(tstat))
        crit = float(special.ndtri(0.5 + CONFIDENCE / 2))
    else:
        pvalues = 2 * special.stdtr(df, -np.abs(tstat))
        crit = float(special.stdtrit(df, 0.5 + CONFIDENCE / 2))
    ci = np.column_stack([params - crit * se, params + crit * se])
    return se, tstat, pvalues, ci


class Intervals(pd.DataFrame):
    """95% confidence intervals that can also be called for another level.

    A plain :class:`pandas.DataFrame` (columns ``lower``, ``upper``) whose call
    ``intervals(level=0.95)`` returns the intervals at ``level``; operations on it
    give ordinary data frames.
    """

    # Kept on the object itself, not in ``attrs``: pandas propagates and compares
    # ``attrs`` (concat), which arrays would break.
    _metadata = ["_interval_inputs"]
    _interval_inputs: tuple[np.ndarray, np.ndarray, int | None]

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    def __call__(self, level: float = CONFIDENCE) -> pd.DataFrame:
        if not 0 < level < 1:
            raise BadInputError(f"confidence level must be between 0 and 1, got {level!r}")
        params, se, df = self._interval_inputs
        if df is None:
            crit = float(special.ndtri(0.5 + level / 2))
        else:
            crit = float(special.stdtrit(df, 0.5 + level / 2))
        bounds = np.column_stack([params - crit * se, params + crit * se])
        return pd.DataFrame(bounds, index=self.index.copy(), columns=["lower", "upper"])


@dataclass(frozen=True, eq=False)
class ModelResult:
    """One estimated model.  Immutable; see the module docstring.

    Use the properties (``params``, ``std_errors``, ``tstats``, ``pvalues``,
    ``conf_int``, ``cov_params``) rather than the underscored fields.
    """

    name: str
    estimator: str
    formula: str
    terms: tuple[str, ...]
    nobs: int
    df_resid: int
    cov: CovInfo
    _params: np.ndarray = field(repr=False)
    _se: np.ndarray = field(repr=False)
    _tstats: np.ndarray = field(repr=False)
    _pvalues: np.ndarray = field(repr=False)
    _conf_int: np.ndarray = field(repr=False)
    _cov_matrix: np.ndarray | None = field(default=None, repr=False)
    r2: float | None = None
    r2_within: float | None = None
    effects: tuple[str, ...] = ()
    group: str | None = None
    variant: Mapping[str, Any] = field(default_factory=dict)
    dropped_rows: Mapping[str, int] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    depvar: str = ""
    label: str | None = None
    sample: Mapping[str, object] | None = None
    dof_rule: str | None = None
    weights: Mapping[str, Any] | None = None
    source: str = field(default="", repr=False)
    _resid: np.ndarray | None = field(default=None, repr=False)
    _fitted: np.ndarray | None = field(default=None, repr=False)
    _rows: pd.Index | None = field(default=None, repr=False)
    _state: RecomputeState | None = field(default=None, repr=False)
    #: Wild cluster bootstrap record (``reexport.models.bootstrap.combine``), if requested.
    bootstrap: Mapping[str, Any] | None = None

    # -- construction ---------------------------------------------------------------
    @classmethod
    def build(
        cls,
        *,
        name: str,
        estimator: str,
        formula: str,
        terms: tuple[str, ...],
        params: np.ndarray,
        options: CovSpecLike,
        cov_result: CovResult,
        nobs: int,
        df_resid: int,
        state: RecomputeState | None = None,
        **extra: Any,
    ) -> ModelResult:
        """Assemble a result from estimates and a computed covariance."""
        se, tstat, pvalues, ci = inference(params, cov_result.cov, cov_result.df)
        for key in ("_resid", "_fitted"):
            if extra.get(key) is not None:
                extra[key] = _readonly(extra[key])
        return cls(
            name=name,
            estimator=estimator,
            formula=formula,
            terms=tuple(terms),
            nobs=int(nobs),
            df_resid=int(df_resid),
            cov=CovInfo.from_result(options, cov_result),
            _params=_readonly(params),
            _se=_readonly(se),
            _tstats=_readonly(tstat),
            _pvalues=_readonly(pvalues),
            _conf_int=_readonly(ci),
            _cov_matrix=_readonly(cov_result.cov),
            warnings=tuple(cov_result.warnings) + tuple(extra.pop("warnings", ())),
            _state=state,
            **extra,
        )

    # -- tables -------------------------------------------------------------------
    @property
    def params(self) -> pd.Series:
        """Coefficients, indexed by term name."""
        return pd.Series(self._params, index=list(self.terms), name="params")

    @property
    def std_errors(self) -> pd.Series:
        return pd.Series(self._se, index=list(self.terms), name="std_errors")

    @property
    def tstats(self) -> pd.Series:
        return pd.Series(self._tstats, index=list(self.terms), name="tstats")

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values (t with ``cov.df`` degrees of freedom, or normal)."""
        return pd.Series(self._pvalues, index=list(self.terms), name="pvalues")

    @property
    def conf_int(self) -> Intervals:
        """95% confidence intervals: columns ``lower`` and ``upper``.

        Read as a table (``res.conf_int["lower"]``) or called as in statsmodels and
        linearmodels: ``res.conf_int()`` is the same table, ``res.conf_int(0.90)``
        the 90% intervals under the same distribution (``t(cov.df)`` or normal).
        """
        intervals = Intervals(self._conf_int, index=list(self.terms), columns=["lower", "upper"])
        intervals._interval_inputs = (self._params, self._se, self.cov.df)
        return intervals

    @property
    def cov_params(self) -> pd.DataFrame:
        """The coefficient covariance matrix (not available for results loaded from JSON)."""
        if self._cov_matrix is None:
            raise BadInputError(
                f"model {self.name!r}: the covariance matrix is not stored in results files"
            )
        return pd.DataFrame(self._cov_matrix, index=list(self.terms), columns=list(self.terms))

    @property
    def resid(self) -> pd.Series | None:
        """Residuals on the estimation sample (response residuals for PPML)."""
        if self._resid is None:
            return None
        return pd.Series(self._resid, index=self._rows, name="resid")

    @property
    def fitted(self) -> pd.Series | None:
        """Fitted values on the estimation sample (including absorbed effects)."""
        if self._fitted is None:
            return None
        return pd.Series(self._fitted, index=self._rows, name="fitted")

    # -- transformations ---------------------------------------------------------------
    def with_cov(self, cov: CovSpecLike | Mapping[str, Any] | str) -> ModelResult:
        """A new result with the same estimates and a different covariance estimator.

        Parameters
        ----------
        cov : CovSpec, mapping or str
            The covariance request (see :func:`reexport.models.covariance.coerce_cov`).

        Returns
        -------
        ModelResult
            A new object; ``self`` is unchanged.
        """
        if self._state is None:
            raise BadInputError(
                f"model {self.name!r} was loaded from a results file and cannot recompute "
                "standard errors; re-estimate it"
            )
        options = coerce_cov(cov, where=f"model {self.name!r}")
        data = self._state.cov_data
        missing = [b for b in options.by if b not in data.clusters]
        if missing:
            if self._state.cluster_lookup is None:
                raise BadInputError(
                    f"model {self.name!r}: cluster variable {missing[0]!r} is not available"
                )
            clusters = dict(data.clusters)
            for name in missing:
                clusters[name] = self._state.cluster_lookup(name)
            data = replace(data, clusters=clusters)
        cov_result = compute_cov(options, data)
        se, tstat, pvalues, ci = inference(self._params, cov_result.cov, cov_result.df)
        return replace(
            self,
            cov=CovInfo.from_result(options, cov_result),
            _se=_readonly(se),
            _tstats=_readonly(tstat),
            _pvalues=_readonly(pvalues),
            _conf_int=_readonly(ci),
            _cov_matrix=_readonly(cov_result.cov),
            warnings=tuple(cov_result.warnings),
            _state=RecomputeState(data, self._state.cluster_lookup),
        )

    def with_diagnostics(self, diagnostics: Mapping[str, Any] | None) -> ModelResult:
        """A new result carrying ``diagnostics`` (a JSON-ready mapping)."""
        return replace(self, diagnostics=None if diagnostics is None else dict(diagnostics))

    # -- one term at a time (what tables and figures read) ----------------------------
    def has(self, term: str) -> bool:
        """Whether ``term`` is among the model's coefficients."""
        return term in self.terms

    def _position(self, term: str) -> int:
        if term not in self.terms:
            where = f" in {self.source}" if self.source else ""
            raise BadInputError(
                f"model {self.name!r}{where} has no term {term!r} "
                f"(it has: {', '.join(self.terms) or 'none'})"
            )
        return self.terms.index(term)

    def coef(self, term: str) -> float:
        """The coefficient of ``term``; :class:`BadInputError` if the model has no such term."""
        return float(self._params[self._position(term)])

    def se(self, term: str) -> float:
        """The standard error of ``term`` (NaN when not available)."""
        return float(self._se[self._position(term)])

    def ci(self, term: str) -> tuple[float, float]:
        """The 95% confidence interval of ``term``."""
        lower, upper = self._conf_int[self._position(term)]
        return (float(lower), float(upper))

    @property
    def inference_df(self) -> int | None:
        """Degrees of freedom of the *t* distribution of the inference; ``None`` = normal."""
        return self.cov.df

    def p_value(self, term: str) -> float:
        """Two-sided p-value of coefficient / standard error, as a table shows them.

        Computed from the two numbers rather than read from ``pvalues``, so a
        reader who divides them gets the significance a table prints.
        """
        return two_sided_p(self.coef(term), self.se(term), self.inference_df)

    @property
    def separation(self) -> dict[str, int]:
        """PPML rows dropped as separated, by method (``separated_fe`` ...); empty if none."""
        counts = normalise_dropped(self.dropped_rows)
        return {k: counts[k] for k in SEPARATION_KEYS if counts.get(k)}

    # -- rendering ------------------------------------------------------------------
    def _facts(self) -> list[tuple[str, str]]:
        """``(label, value)`` pairs of the summary's header block."""
        dist = "normal" if self.cov.df is None else f"t({self.cov.df})"
        facts = [
            ("Dep. variable", self.depvar or self.formula.split("~", 1)[0].strip()),
            ("Estimator", self.estimator),
            ("Formula", self.formula),
            ("Effects", " + ".join(self.effects) or "none"),
            ("Observations", f"{self.nobs:,}"),
            ("R-squared", "-" if self.r2 is None else f"{self.r2:.4f}"),
        ]
        if self.r2_within is not None:
            facts.append(("R-squared (within)", f"{self.r2_within:.4f}"))
        facts.append(("Covariance", f"{self.cov.type}: {self.cov.convention}"))
        facts.append(("Inference", dist))
        if self.weights:
            facts.append(("Weights", str(self.weights.get("convention", ""))))
        if self.dof_rule:
            facts.append(("Fixed-effect dof", self.dof_rule))
        dropped = {k: v for k, v in self.dropped_rows.items() if v}
        if dropped:
            facts.append(("Dropped rows", ", ".join(f"{k} {v}" for k, v in dropped.items())))
        if self.group:
            facts.append(("Group", f"{self.group} {dict(self.variant)}"))
        return facts

    def _coefficient_rows(self) -> list[tuple[str, list[str]]]:
        rows = []
        for i, term in enumerate(self.terms):
            rows.append(
                (
                    term,
                    [
                        f"{self._params[i]:.4g}",
                        f"{self._se[i]:.4g}",
                        f"{self._tstats[i]:.3f}",
                        f"{self._pvalues[i]:.4f}",
                        f"{self._conf_int[i, 0]:.4g}",
                        f"{self._conf_int[i, 1]:.4g}",
                    ],
                )
            )
        return rows

    _COLUMNS = ("Parameter", "Std. Err.", "T-stat", "P-value", "Lower CI", "Upper CI")

    def summary(self, format: str = "text") -> str:
        """The model as a table in the spirit of ``linearmodels``' summaries.

        Parameters
        ----------
        format : str
            ``"text"`` (default), ``"html"`` (what notebooks show) or ``"latex"``.
        """
        if format == "html":
            return self._summary_html()
        if format == "latex":
            return self._summary_latex()
        if format != "text":
            raise BadInputError(f"summary format {format!r} unknown (use text, html or latex)")
        width = 86
        lines = [f"Model {self.name} ({self.estimator})".center(width), "=" * width]
        lines.extend(f"{label + ':':<20}{value}" for label, value in self._facts())
        lines.append("-" * width)
        header = f"{'':<24}{'Parameter':>11}{'Std. Err.':>11}{'T-stat':>9}{'P-value':>9}"
        header += f"{'Lower CI':>11}{'Upper CI':>11}"
        lines.append(header)
        lines.append("-" * width)
        widths = (11, 11, 9, 9, 11, 11)
        for term, cells in self._coefficient_rows():
            label = term if len(term) <= 23 else term[:20] + "..."
            lines.append(
                f"{label:<24}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
            )
        lines.append("=" * width)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def _summary_html(self) -> str:
        esc = html.escape
        out = [
            '<table class="reexport-summary">',
            f"<caption>Model {esc(self.name)} ({esc(self.estimator)})</caption>",
            "<tbody>",
        ]
        out.extend(
            f'<tr><th style="text-align:left">{esc(label)}</th>'
            f'<td colspan="6" style="text-align:left">{esc(value)}</td></tr>'
            for label, value in self._facts()
        )
        out.append("</tbody></table>")
        out.append('<table class="reexport-coefficients">')
        out.append("<thead><tr><th></th>" + "".join(f"<th>{c}</th>" for c in self._COLUMNS))
        out.append("</tr></thead><tbody>")
        for term, cells in self._coefficient_rows():
            out.append(
                f"<tr><th>{esc(term)}</th>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>"
            )
        out.append("</tbody></table>")
        out.extend(f"<p>Warning: {esc(w)}</p>" for w in self.warnings)
        return "\n".join(out)

    def _summary_latex(self) -> str:
        out = [
            "\\begin{tabular}{l" + "r" * len(self._COLUMNS) + "}",
            "\\toprule",
            f"\\multicolumn{{{len(self._COLUMNS) + 1}}}{{c}}{{Model "
            f"{latex_escape(self.name)} ({latex_escape(self.estimator)})}} \\\\",
            "\\midrule",
        ]
        out.extend(
            f"{latex_escape(label)} & \\multicolumn{{{len(self._COLUMNS)}}}{{l}}"
            f"{{{latex_escape(value)}}} \\\\"
            for label, value in self._facts()
        )
        out.append("\\midrule")
        out.append(" & " + " & ".join(latex_escape(c) for c in self._COLUMNS) + " \\\\")
        out.append("\\midrule")
        for term, cells in self._coefficient_rows():
            out.append(
                latex_escape(term) + " & " + " & ".join(latex_escape(c) for c in cells) + " \\\\"
            )
        out.append("\\bottomrule")
        out.append("\\end{tabular}")
        return "\n".join(out) + "\n"

    def _repr_html_(self) -> str:
        return self._summary_html()

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """The model's entry in the results JSON (schema 1; keys are term names)."""

        def by_term(values: np.ndarray) -> dict[str, float | None]:
            return {t: _json_float(v) for t, v in zip(self.terms, values, strict=True)}

        record: dict[str, Any] = {
            "name": self.name,
            "group": self.group,
            "variant": dict(self.variant),
            "estimator": self.estimator,
            "formula": self.formula,
            "depvar": self.depvar,
            "effects": list(self.effects),
            "nobs": self.nobs,
            "df_resid": self.df_resid,
            "params": by_term(self._params),
            "std_errors": by_term(self._se),
            "tstats": by_term(self._tstats),
            "pvalues": by_term(self._pvalues),
            "conf_int": {
                t: [_json_float(lo), _json_float(hi)]
                for t, (lo, hi) in zip(self.terms, self._conf_int, strict=True)
            },
            "r2": _json_float(self.r2),
            "r2_within": _json_float(self.r2_within),
            "cov": self.cov.to_dict(),
            "dropped_rows": {k: int(v) for k, v in self.dropped_rows.items()},
            "warnings": list(self.warnings),
            "diagnostics": None if self.diagnostics is None else dict(self.diagnostics),
        }
        # The spec's display label and sample restriction, only when the model has them.
        if self.label is not None:
            record["label"] = self.label
        if self.sample is not None:
            record["sample"] = dict(self.sample)
        if self.dof_rule is not None:
            record["dof_rule"] = self.dof_rule
        if self.weights is not None:
            record["weights"] = dict(self.weights)
        if self.bootstrap is not None:
            record["bootstrap"] = dict(self.bootstrap)
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "(in memory)") -> ModelResult:
        """Rebuild a result from its JSON entry (no covariance matrix, no ``with_cov``).

        ``where`` names the file in messages and is kept as :attr:`source`.  An old
        ``dropped_rows["separated"]`` is read as ``separated_fe``.

        Raises
        ------
        BadInputError
            When an entry lacks a required key or holds malformed values.
        """
        if not isinstance(data, Mapping):
            raise BadInputError(f"results file {where}: a model entry is not an object")
        missing = [key for key in REQUIRED_MODEL_KEYS if key not in data]
        if missing:
            label = data.get("name", "?")
            raise BadInputError(
                f"results file {where}, model {label!r}: missing {', '.join(missing)} "
                "(written by an incompatible reexport? re-run `reexport estimate`)"
            )
        try:
            terms = tuple(str(t) for t in data["params"])

            def column(key: str) -> np.ndarray:
                values = data.get(key) or {}
                return _readonly([_nan_if_none(values.get(t)) for t in terms])

            bounds = data["conf_int"] or {}
            ci = [[_nan_if_none(v) for v in (bounds.get(t) or (None, None))] for t in terms]
            df_resid = int(data.get("df_resid") or 0)
            dropped = normalise_dropped(data.get("dropped_rows") or {})
            formula = str(data["formula"])
            return cls(
                name=str(data["name"]),
                estimator=str(data["estimator"]),
                formula=formula,
                terms=terms,
                nobs=int(data["nobs"]),
                df_resid=df_resid,
                cov=CovInfo.from_dict(data["cov"] or {}, df_resid=data.get("df_resid")),
                _params=column("params"),
                _se=column("std_errors"),
                _tstats=column("tstats"),
                _pvalues=column("pvalues"),
                _conf_int=_readonly(np.array(ci, dtype=float).reshape(len(terms), 2)),
                r2=_float_or_none(data.get("r2")),
                r2_within=_float_or_none(data.get("r2_within")),
                effects=tuple(str(e) for e in data.get("effects") or ()),
                group=data.get("group"),
                variant=dict(data.get("variant") or {}),
                dropped_rows=dropped,
                diagnostics=data.get("diagnostics"),
                warnings=tuple(data.get("warnings") or ()),
                depvar=str(data.get("depvar") or formula.split("~", 1)[0].strip()),
                label=str(data["label"]) if data.get("label") else None,
                sample=data.get("sample"),
                dof_rule=data.get("dof_rule"),
                weights=data.get("weights"),
                source=where,
                bootstrap=data.get("bootstrap"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadInputError(f"results file {where}: malformed model entry ({exc!r})") from None


def _nan_if_none(value: Any) -> float:
    return np.nan if value is None else float(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ResultsFile:
    """The results JSON written by ``reexport estimate --output`` (schema 1).

    The one reader and writer of results files: the report layer reads them
    through :meth:`load` too.

    Attributes
    ----------
    models : tuple of ModelResult
    spec : str or None
        Path of the spec the models came from.
    data : mapping or None
        ``{"path": ..., "sha256": ..., "synthetic": bool}`` of the data used.
    labels : mapping
        Term name to display label.
    reexport_version : str
    path : Path or None
        The file it was loaded from (``None`` for results built in memory).
    """

    models: tuple[ModelResult, ...]
    spec: str | None = None
    data: Mapping[str, Any] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    reexport_version: str = ""
    path: Path | None = None

    @property
    def synthetic(self) -> bool:
        """Whether the estimates were computed from the synthetic demo vintage."""
        return bool((self.data or {}).get("synthetic", False))

    def model(self, name: str) -> ModelResult:
        """The model called ``name``; :class:`BadInputError` naming the file if absent."""
        for model in self.models:
            if model.name == name:
                return model
        raise BadInputError(
            f"results file {self.path or '(in memory)'} has no model {name!r} "
            f"(it has: {', '.join(m.name for m in self.models) or 'none'})"
        )

    def group(self, group: str) -> tuple[ModelResult, ...]:
        """The models whose ``group`` is ``group``, in file order."""
        return tuple(m for m in self.models if m.group == group)

    def to_dict(self) -> dict[str, Any]:
        """The document :meth:`save` writes: plain JSON types, NaN and infinities as ``null``."""
        from reexport import __version__

        return jsonable(
            {
                "schema": SCHEMA_VERSION,
                "reexport_version": self.reexport_version or __version__,
                "spec": self.spec,
                "data": None if self.data is None else dict(self.data),
                "labels": dict(self.labels),
                "models": [model.to_dict() for model in self.models],
            }
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the file atomically (temp file + rename); returns the path.

        This is the one writer of results files (``reexport estimate --output`` uses it).
        """
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        return atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ResultsFile:
        """Read and check a results file.

        Raises
        ------
        BadInputError
            A missing or unreadable file, one that is not a JSON object, another
            schema than 1 (an older or newer reexport), no models, a model lacking
            a required key, or a model name used twice.
        """
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInputError(
                f"results file {source} does not exist (run `reexport estimate SPEC -o {source}`)"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"results file {source} cannot be read: {exc}") from None
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(
                f"results file {source} is not readable JSON (line {exc.lineno})"
            ) from None
        if not isinstance(payload, dict):
            raise BadInputError(f"results file {source} is not a JSON object")
        schema = payload.get("schema")
        if schema != SCHEMA_VERSION:
            version = payload.get("reexport_version") or "an unknown version"
            raise BadInputError(
                f"results file {source} has schema {schema!r} (written by reexport {version}); "
                f"this reexport reads schema {SCHEMA_VERSION}: re-run `reexport estimate`"
            )
        models = payload.get("models")
        if not isinstance(models, list) or not models:
            raise BadInputError(f"results file {source} holds no models")
        loaded = tuple(ModelResult.from_dict(m, where=str(source)) for m in models)
        names = [m.name for m in loaded]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise BadInputError(f"results file {source} repeats model names: {', '.join(repeated)}")
        return cls(
            models=loaded,
            spec=payload.get("spec"),
            data=payload.get("data"),
            labels={str(k): str(v) for k, v in (payload.get("labels") or {}).items()},
            reexport_version=str(payload.get("reexport_version", "")),
            path=source,
        )


def load_results(path: str | os.PathLike[str]) -> ResultsFile:
    """Read a results file written by ``reexport estimate --output`` (:meth:`ResultsFile.load`)."""
    return ResultsFile.load(path)


def jsonable(value: Any) -> Any:
    """``value`` with plain JSON types only; NaN and infinities become ``null``.

    Mappings get string keys, tuples and arrays become lists, numpy scalars
    Python numbers and paths strings.

    Raises
    ------
    TypeError
        For any other object (as :func:`json.dumps` would): a value that is not
        data is a bug to surface, not a string to write.
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON data")
