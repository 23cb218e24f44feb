"""Turn a Wilkinson formula and a data frame into a design (``y``, ``X``).

Formulas are parsed by `formulaic <https://matthewwardrop.github.io/formulaic/>`_
with a few extra, *time-aware* names available inside them:

``L(x, k=1)``
    ``x`` lagged ``k`` periods of the time column (within entity for panels);
    ``k < 0`` is a lead.  Lags follow the time index, never row order: when
    the period ``t - k`` is absent from the data the value is missing.
``D(x, k=1)``
    ``x - L(x, k)`` (the ``k``-period difference, as pandas ``diff(k)``).
``log(x)``
    Natural log (``np.log`` works as well).
``trend``
    ``1, 2, ...``: periods since the first period in the data, plus one
    (gaps in the data leave gaps in the trend).
``month`` / ``year``
    Month of year (1..12) and calendar year of a monthly time column; use
    ``C(month)`` for month-of-year dummies.

A data column with one of these names takes precedence over the derived one.
Plain formulas (``y ~ a + b``, optionally ``- 1``/``+ 0``) skip formulaic
entirely: that path only converts the needed columns to float, which keeps
million-row panels fast.

Rows with a missing or non-finite value in ``y`` or ``X`` are dropped.  Those
missing only because a lag/lead/difference reached a period absent from the
data are counted under ``"lags"``; all others under ``"missing"``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reexport.errors import BadInputError
from reexport.models.spec import SampleSpec
from reexport.periods import parse_month

#: Names usable in formulas that are functions or derived series, not data columns.
TRANSFORMS = ("L", "D", "log", "np", "C", "I", "Q", "center", "scale", "poly")
DERIVED = ("trend", "month", "year")

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PLAIN_RHS_TERM = re.compile(rf"^(?:{_IDENT}|0|1|-\s*1|-\s*0)$")
_LAG_USE = re.compile(r"\b(?:L|D)\s*\(")

#: Time frequencies: calendar months, or plain integer periods (e.g. years).
MONTHLY = "M"
INTEGER = "int"


@dataclass(frozen=True)
class Design:
    """The estimation design built from a formula.

    Parameters
    ----------
    y
        Dependent variable (float), indexed by the kept rows.
    X
        Regressors; columns are the formula's term names (``"Intercept"``
        when present, ``"np.log(L(GPR, 4))"``, ``"C(month)[T.2]"``, ...).
    rows
        Index labels of the input frame that were kept.
    dropped
        ``{"lags": n, "missing": m}`` rows dropped for lags/leads/differences
        reaching absent periods, and for any other missing value.
    outside_sample
        Rows excluded by the model's sample restriction (not counted in ``dropped``).
    y_name
        The dependent variable's term name.
    empty_levels
        Dummy columns removed because their category (or the reference
        category) has no row left after dropping rows, which would otherwise
        make the design singular (Stata omits them the same way).
    """

    y: pd.Series
    X: pd.DataFrame
    rows: pd.Index
    dropped: Mapping[str, int]
    outside_sample: int = 0
    y_name: str = field(default="")
    empty_levels: tuple[str, ...] = ()


def _at(where: str) -> str:
    """``"where: "`` as a message prefix, or nothing when there is no location."""
    return f"{where}: " if where else ""


# --------------------------------------------------------------------------------------
# time index


@dataclass(frozen=True)
class TimeIndex:
    """Integer period numbers (and entity codes) for every row of a frame.

    ``ordinal`` counts months since year 0 for monthly data and is the value
    itself for integer periods, so ``t - k`` is always ``k`` periods earlier.
    """

    ordinal: np.ndarray
    freq: str
    entity_codes: np.ndarray | None
    time: str
    entity: str | None
    entity_labels: tuple[object, ...] = ()

    @classmethod
    def build(
        cls, frame: pd.DataFrame, time: str, entity: str | None, where: str = ""
    ) -> TimeIndex:
        """Parse the time column (and factorize the entity column) of ``frame``."""
        ordinal, freq = period_ordinals(frame, time, where)
        codes: np.ndarray | None = None
        labels: tuple[object, ...] = ()
        if entity is not None:
            if entity not in frame.columns:
                raise BadInputError(f"{_at(where)}entity column {entity!r} is not in the data")
            if frame[entity].isna().any():
                raise BadInputError(f"{_at(where)}entity column {entity!r} has missing values")
            raw_codes, uniques = _factorize(frame[entity])
            codes = raw_codes.astype(np.int64)
            labels = tuple(uniques)
        return cls(
            ordinal=ordinal,
            freq=freq,
            entity_codes=codes,
            time=time,
            entity=entity,
            entity_labels=labels,
        )

    def _keys(self, ordinal: np.ndarray) -> np.ndarray:
        span = int(self.ordinal.max() - self.ordinal.min()) + 1
        base = ordinal - int(self.ordinal.min())
        if self.entity_codes is None:
            return np.where((base < 0) | (base >= span), -1, base)
        # A period outside 0..span-1 would alias another entity's period: mark it absent.
        return np.where((base < 0) | (base >= span), -1, self.entity_codes * span + base)

    def key_index(self, where: str = "") -> pd.Index:
        """Unique (entity, period) keys; raises on duplicates."""
        keys = pd.Index(self._keys(self.ordinal))
        if not keys.is_unique:
            first = int(np.flatnonzero(keys.duplicated())[0])
            raise BadInputError(f"{_at(where)}{self._duplicate_message(first)}")
        return keys

    def _duplicate_message(self, position: int) -> str:
        period = self.label(int(self.ordinal[position]))
        if self.entity is None or self.entity_codes is None:
            return f"duplicate rows for {self.time} {period}"
        unit = self.entity_labels[int(self.entity_codes[position])]
        return f"duplicate rows for ({self.entity}, {self.time}) = ({unit}, {period})"

    def label(self, ordinal: int) -> str:
        """``YYYY-MM`` or the integer period."""
        if self.freq == MONTHLY:
            return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"
        return str(ordinal)

    def shifted_positions(self, periods: int, keys: pd.Index) -> np.ndarray:
        """Row position holding period ``t - periods`` of the same entity, or -1."""
        target = self._keys(self.ordinal - periods)
        positions = keys.get_indexer(pd.Index(target))
        return np.where(target < 0, -1, positions)


def _factorize(column: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize``, twice as fast for text columns via their object array."""
    if pd.api.types.is_string_dtype(column.dtype) and not isinstance(
        column.dtype, pd.CategoricalDtype
    ):
        return pd.factorize(column.to_numpy(dtype=object), sort=False)
    return pd.factorize(column, sort=False)


def period_ordinals(frame: pd.DataFrame, time: str, where: str = "") -> tuple[np.ndarray, str]:
    """Period numbers of ``frame[time]`` and the frequency (``"M"`` or ``"int"``).

    Monthly periods may be written in any form :func:`reexport.periods.parse_month`
    accepts (``YYYY-MM`` in processed files), or be pandas monthly periods or
    first-of-month dates; integer columns (e.g. years) step by one.
    """
    if time not in frame.columns:
        raise BadInputError(f"{_at(where)}time column {time!r} is not in the data")
    column = frame[time]
    if column.isna().any():
        raise BadInputError(f"{_at(where)}time column {time!r} has missing values")
    dtype = column.dtype
    if isinstance(dtype, pd.PeriodDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        accessor = column.dt
        ordinal = accessor.year.to_numpy(np.int64) * 12 + accessor.month.to_numpy(np.int64) - 1
        return ordinal, MONTHLY
    if pd.api.types.is_bool_dtype(dtype):
        raise BadInputError(f"{_at(where)}time column {time!r} is boolean, not a period")
    if pd.api.types.is_integer_dtype(dtype):
        return column.to_numpy(np.int64), INTEGER
    if pd.api.types.is_float_dtype(dtype):
        values = column.to_numpy(np.float64)
        if not np.all(values == np.round(values)):
            raise BadInputError(f"{_at(where)}time column {time!r} has non-integer numbers")
        return values.astype(np.int64), INTEGER
    codes, uniques = _factorize(column)
    parsed = np.empty(len(uniques), dtype=np.int64)
    for i, value in enumerate(uniques):
        try:
            parsed[i] = parse_month(value, what=f"{time} value").ordinal
        except BadInputError as exc:
            raise BadInputError(f"{_at(where)}{exc}") from None
    return parsed[codes], MONTHLY


# --------------------------------------------------------------------------------------
# formula inspection


def split_formula(formula: str, where: str = "") -> tuple[str, str]:
    """The left- and right-hand sides of ``"y ~ x"``."""
    if formula.count("~") != 1:
        raise BadInputError(f"{_at(where)}formula {formula!r} must have exactly one '~'")
    lhs, rhs = (part.strip() for part in formula.split("~"))
    if not lhs or not rhs:
        raise BadInputError(f"{_at(where)}formula {formula!r} needs both sides of '~'")
    return lhs, rhs


def _plain_terms(formula: str) -> tuple[str, list[str], bool] | None:
    """``(y, [x...], intercept)`` for formulas made only of column names, else ``None``."""
    if "~" not in formula or formula.count("~") != 1:
        return None
    lhs, rhs = (part.strip() for part in formula.split("~"))
    if not re.fullmatch(_IDENT, lhs):
        return None
    pieces = [p.strip() for p in re.split(r"\+", rhs.replace("-", "+-"))]
    if any(not p for p in pieces):
        return None
    intercept = True
    names: list[str] = []
    for piece in pieces:
        if not _PLAIN_RHS_TERM.match(piece):
            return None
        compact = piece.replace(" ", "")
        if compact in ("0", "-1"):
            intercept = False
        elif compact in ("1", "-0"):
            intercept = intercept or compact == "1"
        elif piece in names:
            continue
        else:
            names.append(piece)
    if lhs in names:
        return None
    return lhs, names, intercept


def required_variables(formula: str, where: str = "") -> set[str]:
    """Names a formula reads from the data (derived names such as ``trend`` included).

    Raises
    ------
    BadInputError
        When the formula does not parse.
    """
    split_formula(formula, where)
    plain = _plain_terms(formula)
    if plain is not None:
        return {plain[0], *plain[1]}
    from formulaic import Formula
    from formulaic.errors import FormulaicError

    try:
        names = set(Formula(formula).required_variables)
    except (FormulaicError, SyntaxError, ValueError) as exc:
        raise BadInputError(_formula_error(formula, exc, where)) from None
    return {name for name in names if name not in TRANSFORMS}


def data_columns(
    formula: str, available: Collection[str], *, time: str | None, where: str = ""
) -> set[str]:
    """The columns of ``available`` a formula needs; raises naming any that is absent.

    ``trend`` needs ``time``; ``month``/``year`` need a monthly ``time`` (checked
    when the design is built) unless the data has such columns.
    """
    needed: set[str] = set()
    for name in sorted(required_variables(formula, where)):
        if name in available:
            needed.add(name)
        elif name in DERIVED:
            if time is None:
                raise BadInputError(
                    f"{_at(where)}{name!r} in formula {formula!r} needs a [data] time column"
                )
        else:
            raise BadInputError(
                f"{_at(where)}column {name!r} (formula {formula!r}) is not in the data"
            )
    return needed


def _formula_error(formula: str, exc: BaseException, where: str) -> str:
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    first = re.sub(r"\x1b\[[0-9;]*m|[⧚⧛]", "", first).strip()
    return f"{_at(where)}formula {formula!r} does not parse: {first}"


# --------------------------------------------------------------------------------------
# materialization


def materialize(
    formula: str,
    frame: pd.DataFrame,
    *,
    time: str | None,
    entity: str | None,
    where: str = "",
    sample: SampleSpec | None = None,
) -> Design:
    """Build ``y`` and ``X`` for ``formula`` from ``frame``.

    Parameters
    ----------
    formula
        Wilkinson formula; see the module docstring for ``L``, ``D``, ``trend``...
    frame
        The data; its index labels identify rows in :attr:`Design.rows`.
    time, entity
        Period and panel-unit columns (``None`` when absent).
    where
        Location for error messages, e.g. ``"spec.toml [model dk4]"``.
    sample
        Optional restriction applied after lags are computed, so a window's
        first observations can use lagged values from before the window.

    Returns
    -------
    Design

    Raises
    ------
    BadInputError
        Formula that does not parse, unknown column, lags without a time
        column, duplicate (entity, time) rows, no rows left.
    """
    lhs, _ = split_formula(formula, where)
    needs_time_index = bool(_LAG_USE.search(formula)) or sample is not None
    derived_wanted = [
        name for name in DERIVED if re.search(rf"\b{name}\b", formula) and name not in frame.columns
    ]
    index: TimeIndex | None = None
    if needs_time_index or derived_wanted:
        if time is None:
            raise BadInputError(
                f"{_at(where)}formula {formula!r} uses lags, trend or month but there is no "
                "[data] time column"
            )
        index = TimeIndex.build(frame, time, entity, where)

    plain = _plain_terms(formula)
    if plain is not None and not derived_wanted and not _LAG_USE.search(formula):
        built = _plain_design(plain, frame, where, formula)
    else:
        built = None
    lag_absent = np.zeros(len(frame), dtype=bool)
    categorical_terms: list[tuple[list[str], bool]] = []
    if built is None:
        y_full, x_full, categorical_terms = _formulaic_design(
            formula, frame, index, lag_absent, derived_wanted, where
        )
    else:
        y_full, x_full = built

    keep = np.ones(len(frame), dtype=bool)
    if sample is not None:
        assert index is not None  # needs_time_index covers sample
        keep = sample_mask(sample, index, where)
    x_values = x_full.to_numpy(dtype=np.float64)
    valid = np.isfinite(y_full) & np.isfinite(x_values).all(axis=1)
    in_sample_invalid = keep & ~valid
    lag_drops = int(np.count_nonzero(in_sample_invalid & lag_absent))
    missing_drops = int(np.count_nonzero(in_sample_invalid & ~lag_absent))
    final = keep & valid
    if not final.any():
        raise BadInputError(
            f"{_at(where)}no rows left for formula {formula!r} "
            f"({lag_drops} dropped for lags, {missing_drops} for missing values)"
        )
    rows = frame.index[final]
    y = pd.Series(y_full[final], index=rows, name=lhs)
    x = pd.DataFrame(x_values[final], index=rows, columns=list(x_full.columns))
    empty = _empty_levels(x, categorical_terms)
    if empty:
        x = x.drop(columns=list(empty))
    return Design(
        y=y,
        X=x,
        rows=rows,
        dropped={"lags": lag_drops, "missing": missing_drops},
        outside_sample=int(np.count_nonzero(~keep)),
        y_name=lhs,
        empty_levels=empty,
    )


def _empty_levels(
    x: pd.DataFrame, categorical_terms: list[tuple[list[str], bool]]
) -> tuple[str, ...]:
    """Dummy columns to remove after rows were dropped (see :attr:`Design.empty_levels`)."""
    removed: list[str] = []
    for columns, main_effect in categorical_terms:
        present = [c for c in columns if c in x.columns]
        block = x[present].to_numpy()
        nonzero = [
            c for c, any_set in zip(present, (block != 0).any(axis=0), strict=True) if any_set
        ]
        removed.extend(c for c in present if c not in nonzero)
        # The reference category vanished: the remaining dummies add up to the intercept.
        if (
            main_effect
            and nonzero
            and "Intercept" in x.columns
            and np.all(x[nonzero].to_numpy().sum(axis=1) == 1.0)
        ):
            removed.append(nonzero[0])
    return tuple(removed)


def _as_float(column: pd.Series, name: str, where: str) -> np.ndarray | None:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return None


def _plain_design(
    plain: tuple[str, list[str], bool], frame: pd.DataFrame, where: str, formula: str
) -> tuple[np.ndarray, pd.DataFrame] | None:
    """The fast path; ``None`` when a column is not numeric (formulaic encodes it)."""
    lhs, names, intercept = plain
    for name in (lhs, *names):
        if name not in frame.columns:
            raise BadInputError(
                f"{_at(where)}column {name!r} (formula {formula!r}) is not in the data"
            )
    y = _as_float(frame[lhs], lhs, where)
    if y is None:
        raise BadInputError(f"{_at(where)}dependent variable {lhs!r} is not numeric")
    columns: dict[str, np.ndarray] = {}
    if intercept:
        columns["Intercept"] = np.ones(len(frame))
    for name in names:
        values = _as_float(frame[name], name, where)
        if values is None:
            return None
        columns[name] = values
    return y, pd.DataFrame(columns, copy=False)


def _formulaic_design(
    formula: str,
    frame: pd.DataFrame,
    index: TimeIndex | None,
    lag_absent: np.ndarray,
    derived: list[str],
    where: str,
) -> tuple[np.ndarray, pd.DataFrame, list[tuple[list[str], bool]]]:
    from formulaic import model_matrix
    from formulaic.errors import FactorEvaluationError, FormulaicError

    context = _context(frame, index, lag_absent, derived, where)
    for name in sorted(required_variables(formula, where)):
        if name not in frame.columns and name not in context:
            raise BadInputError(
                f"{_at(where)}column {name!r} (formula {formula!r}) is not in the data"
            )
    try:
        # log(0) is -inf and is dropped as missing below; no need to warn.
        with np.errstate(divide="ignore", invalid="ignore"):
            matrices = model_matrix(formula, frame, context=context, na_action="ignore")
    except BadInputError:
        raise
    except FactorEvaluationError as exc:
        missing = re.search(r"`([^`]+)` is not present in the dataset", str(exc))
        if missing:
            raise BadInputError(
                f"{_at(where)}column {missing.group(1)!r} (formula {formula!r}) is not in the data"
            ) from None
        raise BadInputError(_formula_error(formula, exc, where)) from None
    except (FormulaicError, SyntaxError, ValueError, TypeError, KeyError) as exc:
        raise BadInputError(_formula_error(formula, exc, where)) from None
    lhs_matrix = matrices.lhs
    if lhs_matrix.shape[1] != 1:
        raise BadInputError(
            f"{_at(where)}formula {formula!r} must have a single numeric dependent variable"
        )
    y = np.asarray(lhs_matrix.iloc[:, 0], dtype=np.float64)
    rhs = matrices.rhs
    names = [str(c) for c in rhs.columns]
    x = pd.DataFrame(np.asarray(rhs, dtype=np.float64), columns=names, copy=False)
    if len(y) != len(frame) or len(x) != len(frame):
        raise BadInputError(f"{_at(where)}formula {formula!r} changed the number of rows")
    return y, x, _categorical_terms(rhs.model_spec, names)


def _categorical_terms(model_spec: Any, names: list[str]) -> list[tuple[list[str], bool]]:
    """``(columns, is_single_factor)`` for every term that involves a categorical factor."""
    categorical = {
        factor
        for factor, (kind, _state) in model_spec.encoder_state.items()
        if getattr(kind, "value", kind) == "categorical"
    }
    terms: list[tuple[list[str], bool]] = []
    for term, indices in model_spec.term_indices.items():
        factors = [str(f.expr) for f in term.factors]
        if any(f in categorical for f in factors):
            terms.append(([names[i] for i in indices], len(factors) == 1))
    return terms


def _context(
    frame: pd.DataFrame,
    index: TimeIndex | None,
    lag_absent: np.ndarray,
    derived: list[str],
    where: str,
) -> dict[str, Any]:
    n_rows = len(frame)
    keys: list[pd.Index] = []

    def lag(x: Any, k: int = 1) -> pd.Series:
        if index is None:
            raise BadInputError(f"{_at(where)}L()/D() need a [data] time column")
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise BadInputError(f"{_at(where)}lag order must be an integer, got {k!r}")
        values = _float_values(x)
        if values.shape != (n_rows,):
            raise BadInputError(f"{_at(where)}L() needs a single column")
        if k == 0:
            return pd.Series(values, index=frame.index)
        if not keys:
            keys.append(index.key_index(where))
        positions = index.shifted_positions(int(k), keys[0])
        absent = positions < 0
        lag_absent[absent] = True
        out = np.where(absent, np.nan, values[np.where(absent, 0, positions)])
        return pd.Series(out, index=frame.index)

    def diff(x: Any, k: int = 1) -> pd.Series:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k == 0:
            raise BadInputError(f"{_at(where)}D() order must be a non-zero integer, got {k!r}")
        values = _float_values(x)
        return pd.Series(values, index=frame.index) - lag(x, k)

    context: dict[str, Any] = {"L": lag, "D": diff, "log": np.log, "np": np}
    if index is not None:
        for name in derived:
            context[name] = pd.Series(_derived(name, index, where), index=frame.index)
    return context


def _float_values(x: Any) -> np.ndarray:
    if isinstance(x, pd.Series):
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(x, dtype=np.float64)


def _derived(name: str, index: TimeIndex, where: str) -> np.ndarray:
    """``trend``, ``month`` or ``year`` for every row."""
    if name == "trend":
        return (index.ordinal - index.ordinal.min() + 1).astype(np.float64)
    if index.freq != MONTHLY:
        raise BadInputError(
            f"{_at(where)}{name!r} is derived only from a monthly time column; "
            f"{index.time!r} holds integers"
        )
    if name == "month":
        return index.ordinal % 12 + 1
    return index.ordinal // 12


def sample_mask(sample: SampleSpec, index: TimeIndex, where: str = "") -> np.ndarray:
    """Rows of ``index`` inside the sample window."""
    ordinal = index.ordinal
    keep = np.ones(len(ordinal), dtype=bool)
    for bound, is_start in ((sample.start, True), (sample.end, False)):
        if bound is None:
            continue
        limit = _bound_ordinal(bound, is_start, index.freq, where)
        keep &= ordinal >= limit if is_start else ordinal <= limit
    if sample.exclude_years:
        years = ordinal // 12 if index.freq == MONTHLY else ordinal
        keep &= ~np.isin(years, np.asarray(sample.exclude_years, dtype=np.int64))
    return keep


def _bound_ordinal(bound: str | int, is_start: bool, freq: str, where: str) -> int:
    text = str(bound)
    if freq == MONTHLY:
        if re.fullmatch(r"\d{4}", text):
            return int(text) * 12 + (0 if is_start else 11)
        return parse_month(text, what=f"{where} sample bound").ordinal
    if not re.fullmatch(r"-?\d+", text):
        raise BadInputError(
            f"{_at(where)}sample bound {bound!r} is a month but the time column holds integers"
        )
    return int(text)
