"""Declarative model specifications read from TOML.

A spec file names one data set (``[data]``), optional display labels for
terms (``[labels]``) and any number of ``[[model]]`` tables.  A model may
declare a ``[model.vary]`` table whose lists are expanded (Cartesian product)
into concrete models, so a whole robustness battery is one file.  See
``docs/spec_reference.md`` for the full reference.

Everything here is validated eagerly: unknown keys (typos), unknown
estimators or covariance types, missing ``lags`` and the like raise
:class:`~reexport.errors.BadInputError` with a one-line message naming the
file, the model and the key.  This module imports only the standard library.
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

if TYPE_CHECKING:
    from reexport.models.bootstrap import WildClusterSpec

#: Estimators ``reexport.models.estimate.fit`` understands.
ESTIMATORS = ("ols", "panel", "ppml")
#: Covariance estimators; see :class:`CovSpec`.
COV_TYPES = ("nonrobust", "robust", "hac", "cluster", "driscoll-kraay")
#: Covariance types that need an explicit ``lags``.
LAGGED_COV_TYPES = ("hac", "driscoll-kraay")
#: Kernels accepted for ``hac`` and ``driscoll-kraay``.  Bartlett is what ``newey`` and
#: ``xtscc`` use; Parzen and quadratic spectral (``qs``) follow ``ivreg2``'s
#: ``kernel()`` definitions with bandwidth ``L + 1``.
KERNELS = ("bartlett", "parzen", "qs")
#: Fixed-effect dimensions, in canonical order.
EFFECTS = ("entity", "time")
#: Keys of ``[model.vary]`` with a built-in meaning (all others are ``{placeholders}``).
SPECIAL_VARY_KEYS = ("sample", "cov", "cov_lags")
#: Prefix of a ``[data] path`` that names a processed dataset instead of a file.
PROCESSED_PREFIX = "processed:"

_TOP_KEYS = ("data", "labels", "model")
_DATA_KEYS = ("path", "entity", "time")
_MODEL_KEYS = ("name", "formula", "estimator", "effects", "cov", "label", "sample", "vary",
               "inference")  # fmt: skip
_COV_KEYS = ("type", "lags", "by", "small_sample", "kernel")
_SAMPLE_KEYS = ("start", "end", "exclude_years", "label")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class CovSpec:
    """How standard errors are computed.

    Parameters
    ----------
    type
        ``"nonrobust"``, ``"robust"`` (HC1), ``"hac"`` (Newey-West),
        ``"cluster"`` (one- or two-way) or ``"driscoll-kraay"``.
    lags
        Kernel bandwidth in periods; required (explicitly) for ``hac`` and
        ``driscoll-kraay``, absent otherwise.  There is no silent default.
    by
        Cluster columns (one or two) for ``cluster``.
    small_sample
        Apply Stata's small-sample corrections (default ``True``).
    kernel
        Kernel for ``hac`` / ``driscoll-kraay`` (default ``"bartlett"``).
    """

    type: str
    lags: int | None = None
    by: tuple[str, ...] = ()
    small_sample: bool = True
    kernel: str = "bartlett"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (``by`` as a list)."""
        return {
            "type": self.type,
            "lags": self.lags,
            "by": list(self.by),
            "small_sample": self.small_sample,
            "kernel": self.kernel,
        }


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
        Fixed effects: ``()``, ``("entity",)``, ``("time",)`` or ``("entity", "time")``.
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


@dataclass(frozen=True)
class DataSpec:
    """The ``[data]`` table.

    Parameters
    ----------
    source
        ``path`` as written in the spec.
    path
        Resolved file path (relative paths are relative to the spec file;
        ``processed:NAME`` becomes ``<data_root>/processed/NAME.csv``).
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
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", processed):
            raise BadInputError(f"{where}: bad processed dataset name {processed!r}")
        file_path = config.processed_dir() / f"{processed}.csv"
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
        return [_build_model(raw, name, formula, label, data, where, group=None, variant={})]
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
            _build_model(
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


def _build_model(
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
    estimator = raw.get("estimator", "ols")
    if estimator not in ESTIMATORS:
        raise BadInputError(
            f"{where}: unknown estimator {estimator!r} (use one of {', '.join(ESTIMATORS)})"
        )
    effects = _parse_effects(raw.get("effects", []), estimator, where)
    cov = _parse_cov(raw.get("cov", {"type": "nonrobust"}), f"{where} cov")
    sample_raw = raw.get("sample")
    sample = None if sample_raw is None else _parse_sample(sample_raw, f"{where} sample")
    if estimator == "panel" and (data.entity is None or data.time is None):
        raise BadInputError(f"{where}: estimator 'panel' needs both [data] entity and time columns")
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
        inference=inference,
    )


def _parse_effects(raw: object, estimator: str, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise BadInputError(f'{where}: \'effects\' must be a list such as ["entity", "time"]')
    for effect in raw:
        if effect not in EFFECTS:
            raise BadInputError(
                f"{where}: unknown effect {effect!r} in 'effects' (use entity and/or time)"
            )
    if len(set(raw)) != len(raw):
        raise BadInputError(f"{where}: repeated entry in 'effects' {raw!r}")
    if raw and estimator == "ols":
        raise BadInputError(f'{where}: \'effects\' need estimator "panel" (or "ppml"), not "ols"')
    return tuple(e for e in EFFECTS if e in raw)


def _parse_cov(raw: object, where: str) -> CovSpec:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict):
        raise BadInputError(f'{where}: must be a table such as {{ type = "robust" }}')
    _reject_unknown(raw, _COV_KEYS, where)
    cov_type = raw.get("type")
    if cov_type not in COV_TYPES:
        raise BadInputError(
            f"{where}: unknown covariance type {cov_type!r} (use one of {', '.join(COV_TYPES)})"
        )
    lags = raw.get("lags")
    if cov_type in LAGGED_COV_TYPES:
        if lags is None:
            raise BadInputError(f"{where}: {cov_type} needs an explicit 'lags' (no default)")
        if isinstance(lags, bool) or not isinstance(lags, int) or lags < 0:
            raise BadInputError(f"{where}: 'lags' must be a non-negative integer, got {lags!r}")
    elif lags is not None:
        raise BadInputError(f"{where}: 'lags' has no meaning for covariance type {cov_type!r}")
    by_raw = raw.get("by", [])
    by = (by_raw,) if isinstance(by_raw, str) else by_raw
    if not isinstance(by, list | tuple) or not all(isinstance(b, str) and b for b in by):
        raise BadInputError(f"{where}: 'by' must be a column name or a list of one or two")
    if cov_type == "cluster":
        if not 1 <= len(by) <= 2:
            raise BadInputError(f"{where}: cluster needs 'by' with one or two columns")
        if len(set(by)) != len(by):
            raise BadInputError(f"{where}: repeated cluster column in 'by' {list(by)!r}")
    elif by:
        raise BadInputError(f"{where}: 'by' has no meaning for covariance type {cov_type!r}")
    small_sample = raw.get("small_sample", True)
    if not isinstance(small_sample, bool):
        raise BadInputError(f"{where}: 'small_sample' must be true or false")
    kernel = raw.get("kernel", "bartlett")
    if kernel not in KERNELS:
        raise BadInputError(f"{where}: unknown kernel {kernel!r} (use one of {', '.join(KERNELS)})")
    if kernel != "bartlett" and cov_type not in LAGGED_COV_TYPES:
        raise BadInputError(f"{where}: 'kernel' has no meaning for covariance type {cov_type!r}")
    return CovSpec(type=cov_type, lags=lags, by=tuple(by), small_sample=small_sample, kernel=kernel)


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
