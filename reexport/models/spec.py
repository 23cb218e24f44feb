"""Declarative model specifications read from TOML.

A spec file names one data set (``[data]``), optional display labels for
terms (``[labels]``) and any number of ``[[model]]`` tables.  A model may
declare a ``[model.vary]`` table whose lists are expanded (Cartesian product)
into concrete models, so a whole robustness battery is one file.  See
``docs/spec_reference.md`` for the full reference.

Everything here is validated eagerly: unknown keys (typos), unknown
estimators or covariance types, missing ``lags`` and the like raise
:class:`~reexport.errors.BadInputError` with a one-line message naming the
file, the model and the key.  Covariance requests (:class:`CovSpec`) are
validated by :func:`reexport.models.covariance.coerce_cov`, the one validator.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reexport import config
from reexport.errors import BadInputError

# The covariance request type and its validation live in the numeric core; they are
# re-exported here because spec users have always imported them from this module.
from reexport.models.covariance import (
    COV_FIELDS,
    COV_TYPES,
    LAGGED_COV_TYPES,
    CovSpec,
    coerce_cov,
)
from reexport.models.covariance import KERNELS as KERNELS
from reexport.tables_io import resolve_table

if TYPE_CHECKING:
    from reexport.models.bootstrap import WildClusterSpec

#: Estimators :func:`reexport.models.api.fit_model` understands.
ESTIMATORS = ("ols", "panel", "ppml")
#: Fixed-effect names with a meaning of their own (the ``[data]`` entity and time
#: columns), in canonical order; any other effect names a data column or an
#: interaction of columns written ``"a^b"`` (fixest's notation).
EFFECTS = ("entity", "time")
#: Separator of the columns of an interaction effect or cluster, as in fixest.
INTERACTION = "^"
#: Weight conventions: Stata's analytic weights (normalised to sum to N) and frequency weights.
WEIGHTS_TYPES = ("aweight", "fweight")
#: Keys of ``[model.vary]`` with a built-in meaning (all others are ``{placeholders}``).
SPECIAL_VARY_KEYS = ("sample", "cov", "cov_lags")
#: Prefix of a ``[data] path`` that names a processed dataset instead of a file.
PROCESSED_PREFIX = "processed:"

_TOP_KEYS = ("data", "labels", "model")
_DATA_KEYS = ("path", "entity", "time")
_MODEL_KEYS = (
    "name",
    "formula",
    "estimator",
    "effects",
    "cov",
    "label",
    "sample",
    "vary",
    "weights",
    "weights_type",
    "drop_singletons",
    "inference",
)
_SAMPLE_KEYS = ("start", "end", "exclude_years", "label")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SampleSpec:
    """A sample restriction applied after lags are computed (as Stata's ``if``).

    Parameters
    ----------
    start, end
        First and last period kept (inclusive): ``"YYYY-MM"`` for monthly
        time columns, a year (int) for yearly ones; ``None`` leaves that side open.
    exclude_years
        Calendar years dropped from the sample.
    label
        Short name used in variant names (default derived from the bounds).
    """

    start: str | int | None = None
    end: str | int | None = None
    exclude_years: tuple[int, ...] = ()
    label: str | None = None

    @property
    def name(self) -> str:
        """``label`` or a description such as ``2017-01..2021-12 excl 2020``."""
        if self.label:
            return self.label
        parts = []
        if self.start is not None or self.end is not None:
            lo = "" if self.start is None else str(self.start)
            hi = "" if self.end is None else str(self.end)
            parts.append(f"{lo}..{hi}")
        if self.exclude_years:
            parts.append("excl " + ",".join(str(y) for y in self.exclude_years))
        return " ".join(parts) or "all"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form holding only the keys that were set."""
        out: dict[str, object] = {}
        if self.start is not None:
            out["start"] = self.start
        if self.end is not None:
            out["end"] = self.end
        if self.exclude_years:
            out["exclude_years"] = list(self.exclude_years)
        if self.label:
            out["label"] = self.label
        return out


@dataclass(frozen=True)
class ModelSpec:
    """One concrete model to estimate.

    Parameters
    ----------
    name
        Unique within the spec file (variants get expanded names).
    formula
        Wilkinson formula; see :mod:`reexport.models.formula` for the terms.
    estimator
        ``"ols"``, ``"panel"`` or ``"ppml"``.
    effects
        Fixed effects: ``"entity"``, ``"time"``, data column names and interactions
        ``"a^b"`` (any number of columns), e.g. ``("exporter^year", "importer^year")``;
        ``()`` for none.
    cov
        Covariance specification.
    entity, time
        Panel unit and period columns from ``[data]`` (``None`` when absent).
    group
        Name of the declaring model for variants expanded from ``[model.vary]``.
    variant
        The values this variant was expanded with (JSON-able).
    where
        Location for error messages, e.g. ``"spec.toml [model dk4]"``.
    sample
        Optional sample restriction.
    label
        Optional display label for tables.
    weights
        Column of observation weights (``None``: unweighted).
    weights_type
        ``"aweight"`` (Stata's analytic weights, the default) or ``"fweight"``.
    drop_singletons
        Drop fixed-effect singletons before estimating (default ``True``, as
        ``reghdfe``; ``False`` keeps them, as ``xtreg, fe``).
    inference
        Optional bootstrap inference (``inference = { type = "wild-cluster", ... }``),
        see :mod:`reexport.models.bootstrap`.
    """

    name: str
    formula: str
    estimator: str
    effects: tuple[str, ...]
    cov: CovSpec
    entity: str | None
    time: str | None
    group: str | None = None
    variant: Mapping[str, object] = field(default_factory=dict)
    where: str = ""
    sample: SampleSpec | None = None
    label: str | None = None
    weights: str | None = None
    weights_type: str = "aweight"
    drop_singletons: bool = True
    inference: WildClusterSpec | None = None

    def column(self, name: str) -> str:
        """The data column that ``name`` stands for.

        ``"entity"`` and ``"time"`` (e.g. in ``cov.by``) mean the model's entity
        and time columns when it has them; any other name is itself.
        """
        if name == "entity" and self.entity:
            return self.entity
        if name == "time" and self.time:
            return self.time
        return name

    def columns_of(self, name: str) -> tuple[str, ...]:
        """The data columns an effect or cluster name reads (``"a^b"`` reads ``a`` and ``b``)."""
        return tuple(self.column(part.strip()) for part in name.split(INTERACTION))

    def columns_by_key(self) -> tuple[tuple[str, str, str], ...]:
        """``(key, name, column)`` for every column beyond the formula this model reads.

        ``key`` is the spec key (``effects``, ``cov.by`` or ``weights``), ``name`` the
        effect or cluster as written (``"exporter^year"``) and ``column`` one data column.
        """
        found = [
            (key, name, column)
            for key, names in (("effects", self.effects), ("cov.by", self.cov.by))
            for name in names
            for column in self.columns_of(name)
        ]
        if self.weights is not None:
            found.append(("weights", self.weights, self.weights))
        return tuple(found)

    def data_columns(self) -> tuple[str, ...]:
        """Columns beyond the formula this model reads: effects, clusters and weights."""
        return tuple(dict.fromkeys(column for _, _, column in self.columns_by_key()))


@dataclass(frozen=True)
class DataSpec:
    """The ``[data]`` table.

    Parameters
    ----------
    source
        ``path`` as written in the spec.
    path
        Resolved file path (relative paths are relative to the spec file;
        ``processed:NAME`` becomes ``<data_root>/processed/NAME.csv``, or
        ``NAME.parquet`` when only that exists).
    entity, time
        Panel unit and period column names, if any.
    processed
        The processed dataset's name when ``source`` used ``processed:``.
    """

    source: str
    path: Path
    entity: str | None = None
    time: str | None = None
    processed: str | None = None

    def meta_path(self) -> Path | None:
        """The ``.meta.json`` sidecar of the data file, if one exists."""
        for candidate in (
            self.path.with_suffix(".meta.json"),
            self.path.with_name(self.path.name + ".meta.json"),
        ):
            if candidate.is_file():
                return candidate
        return None

    def synthetic(self) -> bool | None:
        """The sidecar's ``synthetic`` flag, or ``None`` when there is no sidecar.

        Raises
        ------
        BadInputError
            If the sidecar exists but is not valid JSON.
        """
        meta = self.meta_path()
        if meta is None:
            return None
        try:
            content = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{meta}: unreadable metadata sidecar ({exc})") from None
        flag = content.get("synthetic") if isinstance(content, dict) else None
        return None if flag is None else bool(flag)


@dataclass(frozen=True)
class StudySpec:
    """A parsed spec file: data, labels and the expanded models."""

    path: Path
    data: DataSpec
    labels: Mapping[str, str]
    models: tuple[ModelSpec, ...]


# --------------------------------------------------------------------------------------
# loading


def load_spec(path: str | Path) -> StudySpec:
    """Read, validate and expand a TOML spec file.

    Parameters
    ----------
    path
        The spec file.

    Returns
    -------
    StudySpec
        With variants expanded into concrete :class:`ModelSpec` objects.

    Raises
    ------
    BadInputError
        Missing or unreadable file, bad TOML, unknown keys, bad values.
    """
    spec_path = Path(path)
    try:
        text = spec_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"spec file {spec_path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"spec file {spec_path} cannot be read: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{spec_path}: bad TOML: {exc}") from None
    return parse_spec(document, spec_path)


def parse_spec(document: Mapping[str, Any], spec_path: Path) -> StudySpec:
    """Validate an already-parsed TOML document (see :func:`load_spec`)."""
    where = str(spec_path)
    _reject_unknown(document, _TOP_KEYS, where)
    data = _parse_data(document.get("data"), spec_path)
    labels = _parse_labels(document.get("labels", {}), where)
    raw_models = document.get("model")
    if raw_models is None:
        raise BadInputError(f"{where}: no [[model]] table")
    if not isinstance(raw_models, list) or not all(isinstance(m, dict) for m in raw_models):
        raise BadInputError(f"{where}: 'model' must be an array of tables ([[model]])")
    models: list[ModelSpec] = []
    for index, raw in enumerate(raw_models, start=1):
        models.extend(_parse_model(raw, index, data, where))
    seen: dict[str, str] = {}
    for model in models:
        if model.name in seen:
            raise BadInputError(f"{model.where}: duplicate model name {model.name!r}")
        seen[model.name] = model.where
    return StudySpec(path=spec_path, data=data, labels=labels, models=tuple(models))


def _reject_unknown(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise BadInputError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")


def _optional_str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _parse_data(raw: object, spec_path: Path) -> DataSpec:
    where = f"{spec_path} [data]"
    if raw is None:
        raise BadInputError(f"{spec_path}: no [data] table")
    if not isinstance(raw, dict):
        raise BadInputError(f"{spec_path}: 'data' must be a table")
    _reject_unknown(raw, _DATA_KEYS, where)
    source = _optional_str(raw, "path", where)
    if source is None:
        raise BadInputError(f"{where}: missing key 'path'")
    processed: str | None = None
    if source.startswith(PROCESSED_PREFIX):
        processed = source[len(PROCESSED_PREFIX) :].strip()
        # NAME or STUDY/NAME (a study's frames live in processed/<study>/).
        if not re.fullmatch(
            r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)?", processed
        ):
            raise BadInputError(f"{where}: bad processed dataset name {processed!r}")
        # `reexport build --format parquet` writes NAME.parquet only: CSV first, else it.
        file_path = resolve_table(config.processed_dir() / processed)
    else:
        file_path = Path(source)
        if not file_path.is_absolute():
            file_path = spec_path.parent / file_path
    return DataSpec(
        source=source,
        path=file_path,
        entity=_optional_str(raw, "entity", where),
        time=_optional_str(raw, "time", where),
        processed=processed,
    )


def _parse_labels(raw: object, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadInputError(f"{where}: 'labels' must be a table of term = \"label\"")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise BadInputError(f"{where} [labels]: label of {key!r} must be a string")
    return dict(raw)


def _parse_model(
    raw: dict[str, Any], index: int, data: DataSpec, file_where: str
) -> list[ModelSpec]:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"{file_where} [[model]] #{index}: missing or empty 'name'")
    where = f"{file_where} [model {name}]"
    _reject_unknown(raw, _MODEL_KEYS, where)
    formula = raw.get("formula")
    if not isinstance(formula, str) or "~" not in formula:
        raise BadInputError(f"{where}: 'formula' must be a string like \"y ~ x\"")
    label = _optional_str(raw, "label", where)
    vary = raw.get("vary", {})
    if not isinstance(vary, dict):
        raise BadInputError(f"{where}: 'vary' must be a table of lists")
    if not vary:
        stray = _PLACEHOLDER.search(name + (label or ""))
        if stray:
            raise BadInputError(
                f"{where}: placeholder {stray.group(0)} in name or label but no [model.vary] table"
            )
        return [build_model(raw, name, formula, label, data, where, group=None, variant={})]
    return _expand(raw, name, formula, label, vary, data, where)


def _expand(
    raw: dict[str, Any],
    name: str,
    formula: str,
    label: str | None,
    vary: dict[str, Any],
    data: DataSpec,
    where: str,
) -> list[ModelSpec]:
    keys = list(vary)
    for key in keys:
        values = vary[key]
        if not isinstance(values, list) or not values:
            raise BadInputError(f"{where} vary: {key!r} must be a non-empty list")
        if key == "cov_lags" and "cov" in vary:
            raise BadInputError(f"{where} vary: use either 'cov' or 'cov_lags', not both")
        if key not in SPECIAL_VARY_KEYS:
            for value in values:
                if isinstance(value, dict | list) or value is None:
                    raise BadInputError(
                        f"{where} vary: {key!r} values must be numbers or strings, got {value!r}"
                    )
            texts = name + formula + (label or "")
            if "{" + key + "}" not in texts:
                raise BadInputError(
                    f"{where} vary: {key!r} is not used as {{{key}}} in name, formula or label"
                )
    for text, what in ((name, "name"), (label or "", "label")):
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder not in vary:
                raise BadInputError(
                    f"{where}: placeholder {{{placeholder}}} in {what} is not a key of vary"
                )
    in_name = set(_PLACEHOLDER.findall(name))
    models: list[ModelSpec] = []
    for combo in itertools.product(*(vary[k] for k in keys)):
        values = dict(zip(keys, combo, strict=True))
        variant: dict[str, object] = {}
        shown: dict[str, str] = {}
        for key, value in values.items():
            if key == "sample":
                sample = _parse_sample(value, f"{where} vary.sample")
                variant[key] = sample.to_dict()
                shown[key] = sample.name
            elif key == "cov":
                cov = _parse_cov(value, f"{where} vary.cov")
                variant[key] = cov.to_dict()
                shown[key] = cov.type + ("" if cov.lags is None else f"({cov.lags})")
            else:
                variant[key] = value
                shown[key] = str(value)
        concrete_name = _substitute(name, shown)
        suffix = ", ".join(f"{k}={v}" for k, v in shown.items() if k not in in_name)
        if suffix:
            concrete_name = f"{concrete_name}[{suffix}]"
        concrete_formula = _substitute(formula, shown)
        concrete_label = None if label is None else _substitute(label, shown)
        overrides = dict(raw)
        if "sample" in values:
            if "sample" in raw:
                raise BadInputError(f"{where}: 'sample' is both set and varied")
            overrides["sample"] = values["sample"]
        if "cov" in values:
            overrides["cov"] = values["cov"]
        if "cov_lags" in values:
            base = raw.get("cov")
            if not isinstance(base, dict):
                raise BadInputError(f"{where}: vary.cov_lags needs a cov table with a type")
            overrides["cov"] = {**base, "lags": values["cov_lags"]}
        models.append(
            build_model(
                overrides,
                concrete_name,
                concrete_formula,
                concrete_label,
                data,
                where.replace(f"[model {name}]", f"[model {concrete_name}]"),
                group=name,
                variant=variant,
            )
        )
    return models


def _substitute(text: str, values: Mapping[str, str]) -> str:
    # Only {key} for declared vary keys is replaced: formulaic uses braces for
    # inline Python ({x**2}), which must survive untouched.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def build_model(
    raw: Mapping[str, Any],
    name: str,
    formula: str,
    label: str | None,
    data: DataSpec,
    where: str,
    *,
    group: str | None,
    variant: Mapping[str, object],
) -> ModelSpec:
    """Validate one model table (``raw``: its keys as in TOML) into a :class:`ModelSpec`.

    Shared by spec files and :func:`reexport.models.api.fit`, so both accept and
    refuse exactly the same models.  ``where`` prefixes every error message.
    """
    estimator = raw.get("estimator", "ols")
    if estimator not in ESTIMATORS:
        raise BadInputError(
            f"{where}: unknown estimator {estimator!r} (use one of {', '.join(ESTIMATORS)})"
        )
    formula, in_formula = split_formula_effects(formula, where)
    raw_effects = raw.get("effects", [])
    if isinstance(raw_effects, str):
        raw_effects = [raw_effects]
    if not isinstance(raw_effects, list):
        raise BadInputError(f'{where}: \'effects\' must be a list such as ["entity", "time"]')
    effects = _parse_effects([*in_formula, *raw_effects], estimator, where)
    cov = _parse_cov(raw.get("cov", {"type": "nonrobust"}), f"{where} cov")
    sample_raw = raw.get("sample")
    sample = None if sample_raw is None else _parse_sample(sample_raw, f"{where} sample")
    weights = _optional_str(raw, "weights", where)
    weights_type = raw.get("weights_type", "aweight")
    if weights_type not in WEIGHTS_TYPES:
        raise BadInputError(
            f"{where}: unknown 'weights_type' {weights_type!r} (use one of "
            f"{', '.join(WEIGHTS_TYPES)})"
        )
    if "weights_type" in raw and weights is None:
        raise BadInputError(f"{where}: 'weights_type' has no meaning without 'weights'")
    drop_singletons = raw.get("drop_singletons", True)
    if not isinstance(drop_singletons, bool):
        raise BadInputError(f"{where}: 'drop_singletons' must be true or false")
    if estimator == "panel" and not effects and (data.entity is None or data.time is None):
        raise BadInputError(
            f"{where}: estimator 'panel' without 'effects' needs both [data] entity and time "
            "columns"
        )
    if "entity" in effects and data.entity is None:
        raise BadInputError(f"{where}: entity effects need a [data] entity column")
    if "time" in effects and data.time is None:
        raise BadInputError(f"{where}: time effects need a [data] time column")
    if cov.type in LAGGED_COV_TYPES and data.time is None:
        raise BadInputError(f"{where}: cov type {cov.type!r} needs a [data] time column")
    if sample is not None and data.time is None:
        raise BadInputError(f"{where}: 'sample' needs a [data] time column")
    inference = None
    if raw.get("inference") is not None:
        # Imported only here: this module stays standard-library only for other specs.
        from reexport.models.bootstrap import check_estimator, parse_inference

        inference = parse_inference(raw["inference"], f"{where} inference")
        check_estimator(estimator, f"{where} inference")
    return ModelSpec(
        name=name,
        formula=formula,
        estimator=estimator,
        effects=effects,
        cov=cov,
        entity=data.entity,
        time=data.time,
        group=group,
        variant=dict(variant),
        where=where,
        sample=sample,
        label=label,
        weights=weights,
        weights_type=weights_type,
        drop_singletons=drop_singletons,
        inference=inference,
    )


def parse_effects(raw: object, where: str) -> tuple[str, ...]:
    """Validate fixed-effect names and put them in canonical form.

    Parameters
    ----------
    raw
        A name or a list of names: ``"entity"``, ``"time"``, a column name, or an
        interaction ``"a^b"`` of any number of columns (blanks around ``^`` ignored).
    where
        Location for error messages.

    Returns
    -------
    tuple of str
        ``entity`` and ``time`` first (in that order), then the others as written.

    Raises
    ------
    BadInputError
        A name that is not a string, an empty part (``"a^"``), a column repeated
        inside an interaction, or a repeated effect.
    """
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list | tuple) or not all(isinstance(e, str) for e in raw):
        raise BadInputError(f'{where}: \'effects\' must be a list such as ["entity", "time"]')
    names: list[str] = []
    for effect in raw:
        names.append(canonical_interaction(effect, f"{where}: effect", "effects"))
    if len(set(names)) != len(names):
        raise BadInputError(f"{where}: repeated entry in 'effects' {list(raw)!r}")
    return tuple(e for e in EFFECTS if e in names) + tuple(e for e in names if e not in EFFECTS)


def canonical_interaction(name: str, what: str, key: str) -> str:
    """``name`` with blanks around ``^`` removed; raises for empty or repeated parts.

    ``what`` starts the error message (``"spec.toml [model m]: effect"``) and ``key``
    names the spec key (``effects`` or ``by``).
    """
    parts = [part.strip() for part in name.split(INTERACTION)]
    if not all(parts):
        raise BadInputError(
            f'{what} {name!r} in {key!r} has an empty column name (write columns as "a^b")'
        )
    if len(set(parts)) != len(parts):
        raise BadInputError(f"{what} {name!r} in {key!r} repeats a column")
    return INTERACTION.join(parts)


def split_formula_effects(formula: str, where: str = "") -> tuple[str, tuple[str, ...]]:
    """Split ``"y ~ x1 + x2 | fe1 + fe2^fe3"`` into the formula and its effects.

    The part after a ``|`` outside parentheses lists fixed effects joined by ``+``
    (fixest's notation); a formula without ``|`` has no effects.

    Returns
    -------
    tuple
        ``(formula, effects)``; effects as written (see :func:`parse_effects`).
    """
    depth = 0
    bar = -1
    for position, char in enumerate(formula):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            if bar >= 0:
                raise BadInputError(
                    f"{where}: formula {formula!r} has more than one '|' (write effects once)"
                )
            bar = position
    if bar < 0:
        return formula, ()
    head, tail = formula[:bar].strip(), formula[bar + 1 :].strip()
    if not tail or "~" in tail:
        raise BadInputError(
            f"{where}: formula {formula!r} needs fixed effects after '|', e.g. 'y ~ x | a + b^c'"
        )
    return head, tuple(part.strip() for part in tail.split("+"))


def _parse_effects(raw: object, estimator: str, where: str) -> tuple[str, ...]:
    effects = parse_effects(raw, where)
    if effects and estimator == "ols":
        raise BadInputError(f'{where}: \'effects\' need estimator "panel" (or "ppml"), not "ols"')
    return effects


def _parse_cov(raw: object, where: str) -> CovSpec:
    """A ``cov`` table (or bare type name) of a spec, validated by :func:`coerce_cov`."""
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise BadInputError(f'{where}: must be a table such as {{ type = "robust" }}')
    _reject_unknown(raw, COV_FIELDS, where)
    if raw.get("type") is None:
        raise BadInputError(
            f"{where}: missing covariance 'type' (use one of {', '.join(COV_TYPES)})"
        )
    return coerce_cov(raw, where=where)


def _parse_sample(raw: object, where: str) -> SampleSpec:
    if not isinstance(raw, dict):
        raise BadInputError(f'{where}: must be a table such as {{ start = "2017-01" }}')
    _reject_unknown(raw, _SAMPLE_KEYS, where)
    bounds: dict[str, str | int | None] = {}
    for key in ("start", "end"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise BadInputError(f'{where}: {key!r} must be a period such as "2017-01" or a year')
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"\d{4}(-\d{2})?", value):
                raise BadInputError(f"{where}: {key!r} {value!r} is not YYYY-MM or YYYY")
        bounds[key] = value
    exclude = raw.get("exclude_years", [])
    if not isinstance(exclude, list) or not all(
        isinstance(y, int) and not isinstance(y, bool) for y in exclude
    ):
        raise BadInputError(f"{where}: 'exclude_years' must be a list of years")
    label = _optional_str(raw, "label", where)
    sample = SampleSpec(
        start=bounds["start"], end=bounds["end"], exclude_years=tuple(exclude), label=label
    )
    if sample.start is None and sample.end is None and not sample.exclude_years:
        raise BadInputError(f"{where}: empty sample (give start, end or exclude_years)")
    return sample
