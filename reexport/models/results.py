"""Immutable estimation results, their text rendering, and the results JSON file (schema 1).

A :class:`ModelResult` never changes after it is built: every table-like
attribute (``params``, ``std_errors``, ...) is a fresh pandas object built
from read-only arrays, so editing it cannot alter the result, and
:meth:`ModelResult.with_cov` returns a *new* result with other standard
errors.  What is needed to recompute standard errors (scores, inverse
Hessian, cluster and time codes) is kept privately.
"""

from __future__ import annotations

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
from reexport.models.covariance import (
    CovData,
    CovResult,
    CovSpecLike,
    coerce_cov,
    compute_cov,
)
from reexport.models.spec import CovSpec
from reexport.store import atomic_write_text

#: Version of the results JSON layout this module writes and reads.
SCHEMA_VERSION = 1

#: Confidence level of ``conf_int``.
CONFIDENCE = 0.95


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

    @classmethod
    def from_result(cls, options: CovSpec, result: CovResult) -> CovInfo:
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
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``clusters`` maps cluster variable to count)."""
        return {
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CovInfo:
        return cls(
            type=str(data["type"]),
            lags=data.get("lags"),
            by=tuple(data.get("by") or ()),
            small_sample=bool(data.get("small_sample", True)),
            kernel=str(data.get("kernel", "bartlett")),
            convention=str(data.get("convention", "")),
            df=data.get("df"),
            clusters=data.get("clusters"),
            factor=float(data.get("factor", 1.0)),
        )


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
    variant: Mapping[str, object] = field(default_factory=dict)
    dropped_rows: Mapping[str, int] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    depvar: str = ""
    label: str | None = None
    sample: Mapping[str, object] | None = None
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
        options: CovSpec,
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
    def conf_int(self) -> pd.DataFrame:
        """95% confidence intervals: columns ``lower`` and ``upper``."""
        return pd.DataFrame(self._conf_int, index=list(self.terms), columns=["lower", "upper"])

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

    # -- rendering ------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text table in the spirit of ``linearmodels``' summaries."""
        width = 86
        dist = "normal" if self.cov.df is None else f"t({self.cov.df})"
        r2 = "-" if self.r2 is None else f"{self.r2:.4f}"
        r2w = "-" if self.r2_within is None else f"{self.r2_within:.4f}"
        lines = [
            f"Model {self.name} ({self.estimator})".center(width),
            "=" * width,
            f"Formula: {self.formula}",
            f"Effects: {', '.join(self.effects) or 'none':<30}Observations: {self.nobs}",
            f"R-squared: {r2:<28}R-squared (within): {r2w}",
            f"Covariance: {self.cov.type} — {self.cov.convention}; inference {dist}",
        ]
        dropped = {k: v for k, v in self.dropped_rows.items() if v}
        if dropped:
            lines.append("Dropped rows: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
        if self.group:
            lines.append(f"Group: {self.group} {dict(self.variant)}")
        lines.append("-" * width)
        header = f"{'':<24}{'Parameter':>11}{'Std. Err.':>11}{'T-stat':>9}{'P-value':>9}"
        header += f"{'Lower CI':>11}{'Upper CI':>11}"
        lines.append(header)
        lines.append("-" * width)
        for i, term in enumerate(self.terms):
            label = term if len(term) <= 23 else term[:20] + "..."
            lines.append(
                f"{label:<24}{self._params[i]:>11.4g}{self._se[i]:>11.4g}{self._tstats[i]:>9.3f}"
                f"{self._pvalues[i]:>9.4f}{self._conf_int[i, 0]:>11.4g}{self._conf_int[i, 1]:>11.4g}"
            )
        lines.append("=" * width)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

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
        if self.bootstrap is not None:
            record["bootstrap"] = dict(self.bootstrap)
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "results") -> ModelResult:
        """Rebuild a result from its JSON entry (no covariance matrix, no ``with_cov``)."""
        try:
            terms = tuple(data["params"])

            def column(key: str) -> np.ndarray:
                values = data[key]
                return _readonly([np.nan if values[t] is None else values[t] for t in terms])

            ci = [[np.nan if v is None else v for v in data["conf_int"][t]] for t in terms]
            return cls(
                name=str(data["name"]),
                estimator=str(data["estimator"]),
                formula=str(data["formula"]),
                terms=terms,
                nobs=int(data["nobs"]),
                df_resid=int(data["df_resid"]),
                cov=CovInfo.from_dict(data["cov"]),
                _params=column("params"),
                _se=column("std_errors"),
                _tstats=column("tstats"),
                _pvalues=column("pvalues"),
                _conf_int=_readonly(np.array(ci, dtype=float).reshape(len(terms), 2)),
                r2=data.get("r2"),
                r2_within=data.get("r2_within"),
                effects=tuple(data.get("effects") or ()),
                group=data.get("group"),
                variant=dict(data.get("variant") or {}),
                dropped_rows=dict(data.get("dropped_rows") or {}),
                diagnostics=data.get("diagnostics"),
                warnings=tuple(data.get("warnings") or ()),
                depvar=str(data.get("depvar", "")),
                label=data.get("label"),
                sample=data.get("sample"),
                bootstrap=data.get("bootstrap"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"{where}: malformed model entry ({exc!r})") from None


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ResultsFile:
    """The results JSON written by ``reexport estimate --output`` (schema 1).

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
    """

    models: tuple[ModelResult, ...]
    spec: str | None = None
    data: Mapping[str, Any] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    reexport_version: str = ""

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
        """Read a results file, refusing any schema other than 1."""
        source = Path(path)
        try:
            payload = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(f"results file {source} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"results file {source} is not readable JSON ({exc})") from None
        if not isinstance(payload, dict):
            raise BadInputError(f"results file {source} is not a JSON object")
        schema = payload.get("schema")
        if schema != SCHEMA_VERSION:
            raise BadInputError(
                f"results file {source} has schema {schema}; this reexport reads schema "
                f"{SCHEMA_VERSION}"
            )
        models = payload.get("models")
        if not isinstance(models, list):
            raise BadInputError(f"results file {source} has no 'models' list")
        return cls(
            models=tuple(
                ModelResult.from_dict(m, where=f"results file {source} model {i}")
                for i, m in enumerate(models)
            ),
            spec=payload.get("spec"),
            data=payload.get("data"),
            labels=dict(payload.get("labels") or {}),
            reexport_version=str(payload.get("reexport_version", "")),
        )


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
