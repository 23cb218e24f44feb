"""The Python entry point of the engine: ``rx.fit(formula, data, ...)`` and ``rx.table(...)``.

One code path estimates every model: :func:`fit` (formula-first, for notebooks;
``rx.table`` is :func:`reexport.report.tables.models_table`)
builds the same :class:`~reexport.models.spec.ModelSpec` a TOML spec declares,
validated by the same rules, and hands it to :func:`fit_model`, which is also
what ``reexport estimate`` calls for each model of a spec.  So a model run from
Python and the same model run from a spec give identical results.

:func:`fit_model` materialises the formula (:mod:`reexport.models.formula`),
turns effect, cluster and weight names into integer codes and arrays, and calls
the numeric core (:func:`~reexport.models.estimate.fit_ols`,
:func:`~reexport.models.estimate.fit_fe`,
:func:`~reexport.models.estimate.fit_ppml`), which knows nothing of specs.

Effects and clusters are named ``"entity"``, ``"time"`` (the panel's columns),
any column of the data, or an interaction ``"a^b^..."`` (fixest's notation).
Each column is factorised once and interactions combine the integer codes
(``codes_a * levels_b + codes_b``, made dense again after every step), so no
string of a million rows is ever built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.models import estimate
from reexport.models import fe as fe_mod
from reexport.models.covariance import coerce_cov
from reexport.models.formula import materialize
from reexport.models.results import (
    ModelResult,
    RecomputeState,
    weights_convention,
)
from reexport.models.spec import (
    INTERACTION,
    DataSpec,
    ModelSpec,
    build_model,
    split_formula_effects,
)

#: Stata's name of an interaction of absorbed variables (``absorb(exporter#year)``).
STATA_INTERACTION = "#"


# --------------------------------------------------------------------------------------
# the formula-first API


def fit(
    formula: str,
    data: pd.DataFrame,
    *,
    estimator: str | None = None,
    cov: Mapping[str, Any] | str | Any | None = None,
    weights: str | None = None,
    weights_type: str = "aweight",
    drop_singletons: bool = True,
    time: str | None = None,
    entity: str | None = None,
    name: str = "model",
    sample: Mapping[str, Any] | None = None,
    label: str | None = None,
) -> ModelResult:
    """Estimate one model from a formula and a data frame.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 | fe1 + fe2^fe3"``: the part before ``|`` is reexport's
        formula language (``L()``, ``D()``, ``log``, ``trend``, ``month``,
        ``C()``... see :mod:`reexport.models.formula`); the part after it lists
        the fixed effects, each a column, ``entity``/``time`` or an interaction
        ``a^b``.
    data : pandas.DataFrame
    estimator : str, optional
        ``"ols"``, ``"panel"`` or ``"ppml"``; default ``"panel"`` when the
        formula has effects, else ``"ols"``.
    cov : mapping, str or CovSpec, optional
        Covariance request as in a spec's ``cov`` table, e.g.
        ``{"type": "cluster", "by": "exporter^importer"}`` or ``"robust"``;
        default ``"nonrobust"``.
    weights : str, optional
        Column of observation weights.
    weights_type : str
        ``"aweight"`` (Stata's analytic weights, default) or ``"fweight"``.
    drop_singletons : bool
        Drop fixed-effect singletons first (default, as ``reghdfe``).
    time, entity : str, optional
        Period and panel-unit columns (needed by ``L()``/``D()``, ``trend``,
        HAC and Driscoll-Kraay, and the ``entity``/``time`` effect names).
    name : str
        The model's name in results and tables.
    sample : mapping, optional
        A sample restriction as in a spec (``{"start": "2017-01", "end": 2021}``).
    label : str, optional
        Column heading in tables.

    Returns
    -------
    ModelResult
        The same immutable result ``reexport estimate`` writes.

    Raises
    ------
    BadInputError
        Any invalid option, unknown column or effect, or bad weights; the
        message is one line naming the model and the key.

    Examples
    --------
    >>> import reexport as rx  # doctest: +SKIP
    >>> res = rx.fit("trade ~ rta | exporter^year + importer^year + exporter^importer",
    ...              df, estimator="ppml", cov={"type": "cluster", "by": "exporter^importer"})
    """
    if not isinstance(data, pd.DataFrame):
        raise BadInputError(f"rx.fit: data must be a pandas DataFrame, not {type(data).__name__}")
    if not isinstance(name, str) or not name.strip():
        raise BadInputError("rx.fit: name must be a non-empty string")
    where = f"rx.fit [model {name}]"
    if not isinstance(formula, str) or "~" not in formula:
        raise BadInputError(f"{where}: 'formula' must be a string like \"y ~ x\"")
    _, effects = split_formula_effects(formula, where)
    raw: dict[str, Any] = {
        "estimator": estimator or ("panel" if effects else "ols"),
        "drop_singletons": drop_singletons,
    }
    if cov is not None:
        raw["cov"] = cov.to_dict() if hasattr(cov, "to_dict") else cov
    if weights is not None:
        raw["weights"] = weights
        raw["weights_type"] = weights_type
    elif weights_type != "aweight":
        raw["weights_type"] = weights_type  # rejected below: a type without a column
    if sample is not None:
        # A mapping is copied; anything else goes as it is, for the spec's own message.
        raw["sample"] = dict(sample) if isinstance(sample, Mapping) else sample
    for key, value in (("time", time), ("entity", entity)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BadInputError(f"{where}: {key!r} must be a column name, got {value!r}")
    data_spec = DataSpec(source="<DataFrame>", path=Path("<DataFrame>"), entity=entity, time=time)
    model = build_model(raw, name, formula, label, data_spec, where, group=None, variant={})
    return fit_model(model, data)


# --------------------------------------------------------------------------------------
# one model of a spec


class LabelCodes:
    """Integer codes of label columns and their interactions, each column factorised once.

    Used by the fit and by every later step that must group the estimation rows the
    same way (clusters added by ``with_cov``, the wild cluster bootstrap).
    """

    def __init__(self, frame: pd.DataFrame, model: ModelSpec, where: str) -> None:
        self.frame = frame
        self.model = model
        self.where = where
        self._columns: dict[str, tuple[np.ndarray, Any]] = {}

    def column(self, column: str, role: str) -> tuple[np.ndarray, Any]:
        """``(codes, uniques)`` of one data column; raises naming a missing column."""
        if column not in self._columns:
            if column not in self.frame.columns:
                raise BadInputError(f"{self.where}: {role} column {column!r} is not in the data")
            series = self.frame[column]
            codes: np.ndarray
            uniques: Any
            if pd.api.types.is_string_dtype(series.dtype) and not isinstance(
                series.dtype, pd.CategoricalDtype
            ):
                codes, uniques = pd.factorize(series.to_numpy(dtype=object), sort=False)
            else:
                codes, uniques = pd.factorize(series, sort=False)
            if (codes < 0).any():
                raise BadInputError(
                    f"{self.where}: {role} column {column!r} has missing values "
                    f"({int((codes < 0).sum())} rows)"
                )
            self._columns[column] = (codes.astype(np.int64), uniques)
        return self._columns[column]

    def named(self, name: str, role: str) -> np.ndarray:
        """Codes of an effect or cluster name: a column, ``entity``/``time`` or ``a^b^...``."""
        parts = self.model.columns_of(name)
        combined = self.column(parts[0], role)[0]
        for column in parts[1:]:
            more, more_uniques = self.column(column, role)
            # Combine integer codes, then make them dense again so that the next product
            # stays far below int64's range however many columns are interacted.
            dense, _ = pd.factorize(combined * len(more_uniques) + more, sort=False)
            combined = dense.astype(np.int64)
        return combined.astype(np.intp)


def _effect_key(model: ModelSpec, name: str) -> str:
    """The name an absorbed effect carries in conventions: Stata's ``a#b`` for ``a^b``."""
    return STATA_INTERACTION.join(model.columns_of(name))


def _weight_values(column: str, sample: pd.DataFrame, where: str) -> pd.Series:
    """The weight column of the estimation sample, named after the column.

    Only the column itself is checked here (present, numeric); its values are
    validated by the numeric core (:func:`reexport.models.estimate.fit_ols` and
    siblings: missing, negative, zero-sum, fractional frequency weights), which
    also names the column in the convention (``[aweight=<column>]``).
    """
    if column not in sample.columns:
        raise BadInputError(f"{where}: 'weights' column {column!r} is not in the data")
    series = sample[column]
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series)):
        raise BadInputError(f"{where}: 'weights' column {column!r} is not numeric")
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(values, name=column)


def _rows(frame: pd.DataFrame, rows: pd.Index, columns: Sequence[str | None]) -> pd.DataFrame:
    """The ``columns`` of ``frame`` that exist, on ``rows`` (no copy of the other columns)."""
    present = [c for c in dict.fromkeys(columns) if c is not None and c in frame.columns]
    subset = frame[present]
    # ``rows`` are labels of ``frame`` in its order, so the same length means all of them.
    return subset if len(rows) == len(frame) else subset.loc[rows]


def fit_model(model: ModelSpec, frame: pd.DataFrame) -> ModelResult:
    """Estimate one model of a spec (or of :func:`fit`) on ``frame``.

    Materialises the formula (time-aware lags, dropping incomplete rows),
    builds the effect, cluster, time, entity and weight arrays of the
    estimation sample, estimates with ``model.estimator`` and computes
    ``model.cov``.

    Parameters
    ----------
    model : reexport.models.spec.ModelSpec
    frame : pandas.DataFrame
        The data (e.g. a study's processed ``world.csv`` read by the caller).  Residuals and
        fitted values are indexed by its index labels (by row number when the
        labels repeat).

    Returns
    -------
    ModelResult
        Carrying the spec's name, group, variant, label, sample, the
        dropped-row counts, the weights convention and the degrees-of-freedom rule.
    """
    where = model.where or f"model {model.name}"
    if model.estimator not in estimate.ESTIMATORS:
        raise BadInputError(
            f"{where}: unknown estimator {model.estimator!r} "
            f"(known: {', '.join(estimate.ESTIMATORS)})"
        )
    options = coerce_cov(model.cov, where=where)
    if not frame.index.is_unique:
        # Rows are matched by index label below; repeated labels (a concat) would
        # duplicate them, so such a frame is numbered 0..n-1 first.
        frame = frame.reset_index(drop=True)
    for effect in model.effects:
        for part in effect.split(INTERACTION):
            part = part.strip()
            if part in ("entity", "time") and not getattr(model, part):
                raise BadInputError(f"{where}: effects include {part!r} but no {part} is named")
    for key, name, column in model.columns_by_key():
        if column not in frame.columns:
            role = {"effects": "effect", "cov.by": "cluster", "weights": "'weights'"}[key]
            within = "" if name == column else f" (in {name!r})"
            raise BadInputError(f"{where}: {role} column {column!r}{within} is not in the data")
    design = materialize(
        model.formula,
        frame,
        time=model.time,
        entity=model.entity,
        where=where,
        sample=model.sample,
    )
    sample = _rows(frame, design.rows, (*model.data_columns(), model.time, model.entity))
    codes = LabelCodes(sample, model, where)
    effect_columns = {_effect_key(model, e): codes.named(e, "effect") for e in model.effects}
    cluster_columns = {b: codes.named(b, "cluster") for b in options.by}
    time_values: np.ndarray | None = None
    if model.time:
        time_codes, time_uniques = codes.column(model.time, "time")
        time_values = estimate.time_ordinals(time_uniques, where=where)[time_codes]
    entity_values = codes.column(model.entity, "entity")[0] if model.entity else None
    common: dict[str, Any] = {
        "cov": options,
        "clusters": cluster_columns,
        "time": time_values,
        "entity": entity_values,
        "where": where,
        "name": model.name,
        "formula": model.formula,
    }
    if model.weights is not None:
        common["weights"] = _weight_values(model.weights, sample, where)
        common["weights_type"] = model.weights_type
    if model.estimator == "ppml":
        result = estimate.fit_ppml(
            design.y,
            design.X,
            effects=effect_columns,
            drop_singletons=model.drop_singletons,
            **common,
        )
    elif effect_columns:
        result = estimate.fit_fe(
            design.y,
            design.X,
            effects=effect_columns,
            drop_singletons=model.drop_singletons,
            **common,
        )
    else:
        result = estimate.fit_ols(design.y, design.X, **common)

    kept_rows = result._rows if result._rows is not None else design.rows

    def lookup(name: str) -> np.ndarray:
        # Clusters asked for later by ``with_cov``: same names, on the kept rows.
        kept = _rows(frame, kept_rows, model.columns_of(name))
        return LabelCodes(kept, model, where).named(name, "cluster")

    dropped = {str(k): int(v) for k, v in dict(design.dropped).items()}
    dropped.update(result.dropped_rows)
    state = result._state
    rule = result.dof_rule
    if rule is None and state is not None:
        effects_used = state.cov_data.effects
        clusters_used = (
            tuple(state.cov_data.clusters.values()) if model.cov.type == "cluster" else ()
        )
        rule = fe_mod.dof_rule(effects_used, clusters=clusters_used) if effects_used else None
    weights_info = result.weights
    if model.weights is not None and weights_info is None:
        weights_info = {
            "column": model.weights,
            "type": model.weights_type,
            "convention": weights_convention(model.weights, model.weights_type),
        }
    return replace(
        result,
        estimator=model.estimator,
        effects=tuple(model.effects),
        group=model.group,
        variant=dict(model.variant),
        label=model.label,
        sample=None if model.sample is None else model.sample.to_dict(),
        dropped_rows=dropped,
        dof_rule=rule,
        weights=weights_info,
        _state=None if state is None else RecomputeState(state.cov_data, lookup),
    )
