"""``reexport estimate`` and ``reexport diagnose``: spec file in, printed summary and JSON out.

Everything that can be checked before estimating is checked first (spec,
data file, columns, duplicate (entity, time) rows, covariance lags against
the number of periods), so bad input fails fast with exit code 2 and a
one-line message.  The output file is written only after every model has
been estimated, atomically (temporary file + rename): a failure leaves nothing.

The models (and the chunks of their bootstrap replications) run through a
battery of :mod:`reexport.models.battery`: in this process by default, in
``--jobs N`` local processes, or on a Dask cluster (``--scheduler``); the
results are the same, in the same order, whichever is used.  The data file may
be CSV or Parquet (``.parquet``, read with pyarrow).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from reexport import __version__
from reexport.errors import BadInputError
from reexport.models.battery import open_battery, resolve_scheduler
from reexport.models.bootstrap import (
    BootstrapProblem,
    ChunkStats,
    combine,
    prepare,
    run_chunk,
    summary_lines,
)
from reexport.models.diagnostics import cov_warnings, diagnose
from reexport.models.formula import TimeIndex, data_columns, sample_mask
from reexport.models.results import SCHEMA_VERSION, ModelResult, ResultsFile, jsonable
from reexport.models.spec import LAGGED_COV_TYPES, ModelSpec, StudySpec, load_spec
from reexport.store import atomic_write_text
from reexport.tables_io import is_parquet


@dataclass(frozen=True)
class LoadedData:
    """The data a spec names, read once for all its models."""

    frame: pd.DataFrame
    path: Path
    sha256: str
    synthetic: bool | None
    n_periods: int | None

    def describe(self, spec: StudySpec) -> dict[str, object]:
        """The ``data`` block of the results file."""
        return {
            "path": str(self.path),
            "source": spec.data.source,
            "sha256": self.sha256,
            "synthetic": self.synthetic,
            "rows": len(self.frame),
        }


# --------------------------------------------------------------------------------------
# data


def needed_columns(spec: StudySpec, header: Iterable[str]) -> list[str]:
    """Columns of the data file the spec's models use; raises naming any that is absent."""
    available = set(header)
    data_where = f"{spec.path} [data]"
    needed: set[str] = set()
    for key, column in (("entity", spec.data.entity), ("time", spec.data.time)):
        if column is not None:
            if column not in available:
                raise BadInputError(
                    f"{data_where}: {key} column {column!r} is not in {spec.data.path}"
                )
            needed.add(column)
    for model in spec.models:
        found = data_columns(model.formula, available, time=model.time, where=model.where)
        needed |= found
        for key, name, column in model.columns_by_key():
            if column not in available:
                within = "" if name == column else f" (in {name!r})"
                raise BadInputError(
                    f"{model.where} {key}: column {column!r}{within} is not in {spec.data.path}"
                )
            needed.add(column)
        if model.inference is not None:
            column = model.column(model.inference.by)
            if column not in available:
                raise BadInputError(
                    f"{model.where} inference: cluster column {column!r} is not in {spec.data.path}"
                )
            needed.add(column)
    return [column for column in header if column in needed]


def _hash_file(path: Path, out: list[str]) -> None:
    # Runs in a thread: failures are reported by the caller (empty ``out``), not raised here.
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    except OSError:
        return
    out.append(digest.hexdigest())


def load_data(spec: StudySpec) -> LoadedData:
    """Read the columns the spec needs and hash the file.

    Raises
    ------
    BadInputError
        Missing or unreadable data file, missing columns, bad time column,
        duplicate (entity, time) rows.
    """
    path = spec.data.path
    where = f"{spec.path} [data] path"
    if not path.is_file():
        hint = " (run `reexport build` first)" if spec.data.processed else ""
        raise BadInputError(f"{where}: data file {path} does not exist{hint}")
    parquet = is_parquet(path)
    try:
        header = _parquet_columns(path) if parquet else list(pd.read_csv(path, nrows=0).columns)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BadInputError(f"{where}: cannot read {path}: {_first_line(exc)}") from None
    columns = needed_columns(spec, header)
    # sha256 runs beside the parser: hashlib releases the GIL on large blocks.
    digest: list[str] = []
    hasher = threading.Thread(target=_hash_file, args=(path, digest), daemon=True)
    hasher.start()
    try:
        if parquet:
            frame = _read_parquet(path, columns)
        else:
            frame = pd.read_csv(path, usecols=columns, engine="c")
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BadInputError(f"{where}: cannot read {path}: {_first_line(exc)}") from None
    finally:
        hasher.join()
    if not digest:
        raise BadInputError(f"{where}: cannot read {path} to hash it")
    if frame.empty:
        raise BadInputError(f"{where}: data file {path} has no rows")
    keys = {
        spec.data.entity,
        spec.data.time,
        *(column for m in spec.models for column in m.data_columns() if column != m.weights),
    }
    _refuse_mixed_columns(frame, [c for c in frame.columns if c not in keys], path)
    n_periods: int | None = None
    if spec.data.time is not None:
        data_where = f"{spec.path} [data] {path.name}"
        index = TimeIndex.build(frame, spec.data.time, spec.data.entity, data_where)
        index.key_index(data_where)
        n_periods = int(pd.unique(index.ordinal).size)
    return LoadedData(
        frame=frame,
        path=path,
        sha256=digest[0],
        synthetic=spec.data.synthetic(),
        n_periods=n_periods,
    )


def _parquet_columns(path: Path) -> list[str]:
    # pyarrow's errors (ArrowInvalid ...) derive from ValueError or OSError.
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def _read_parquet(path: Path, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` of a Parquet file as the frame ``read_csv`` would give.

    Dictionary-encoded (categorical) columns are decoded to their values, so a
    Parquet file and the CSV of the same table estimate identically.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    frame = table.to_pandas()
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            frame[column] = values.astype(values.cat.categories.dtype)
    return frame.reset_index(drop=True)


def _refuse_mixed_columns(frame: pd.DataFrame, columns: list[str], path: Path) -> None:
    """Refuse text columns that are mostly numbers (``".."``, ``"-"`` placeholders).

    Formulas would otherwise silently turn such a column into category dummies.
    Columns with no number at all (country codes, names) are genuine categories.
    """
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if numbers.notna().any() and bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise BadInputError(
                f"{path}: column {column!r} mixes numbers with text such as "
                f"{values.iloc[first]!r} (line {first + 2})"
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def check_model(model: ModelSpec, data: LoadedData) -> None:
    """Checks that need the data: covariance lags against the number of periods."""
    if model.cov.type in LAGGED_COV_TYPES and model.cov.lags is not None:
        periods = _periods_in_sample(model, data)
        if periods is not None and model.cov.lags >= periods:
            raise BadInputError(
                f"{model.where} cov: lags = {model.cov.lags} is not shorter than the sample "
                f"({periods} periods)"
            )


def _periods_in_sample(model: ModelSpec, data: LoadedData) -> int | None:
    if model.time is None:
        return None
    if model.sample is None:
        return data.n_periods
    index = TimeIndex.build(data.frame, model.time, model.entity, model.where)
    keep = sample_mask(model.sample, index, model.where)
    return int(pd.unique(index.ordinal[keep]).size)


# --------------------------------------------------------------------------------------
# results


def atomic_write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write ``document`` as JSON (NaN as ``null``) atomically: temp file + rename."""
    atomic_write_text(path, json.dumps(jsonable(document), indent=2, allow_nan=False) + "\n")


def _fmt(value: object, width: int = 11) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return " " * (width - 1) + "."
    if isinstance(value, float | int):
        return f"{float(value):{width}.4g}"
    return f"{str(value):>{width}}"


def print_summary(record: Mapping[str, Any], out: TextIO | None = None) -> None:
    """A readable coefficient table for one model's results record."""
    out = out or sys.stdout
    cov = record.get("cov") or {}
    cov_text = cov.get("convention") or cov.get("type", "")
    title = f"== {record['name']}: {record.get('estimator', '')} {record.get('formula', '')}"
    print(title, file=out)
    effects = record.get("effects") or []
    facts = [f"n = {record.get('nobs')}", f"cov: {cov_text}"]
    if effects:
        facts.append("effects: " + " + ".join(effects))
    for key in ("r2", "r2_within"):
        value = record.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            facts.append(f"{key} = {value:.4f}")
    dropped = record.get("dropped_rows") or {}
    if any(dropped.values()):
        facts.append("dropped: " + ", ".join(f"{k} {v}" for k, v in dropped.items()))
    print("   " + "; ".join(facts), file=out)
    params = record.get("params") or {}
    ses = record.get("std_errors") or {}
    tstats = record.get("tstats") or {}
    pvalues = record.get("pvalues") or {}
    width = max([len(str(term)) for term in params] + [4])
    print(f"   {'term':<{width}} {'coef':>11} {'std.err':>11} {'t':>11} {'p':>11}", file=out)
    for term, coef in params.items():
        print(
            f"   {term:<{width}} {_fmt(coef)} {_fmt(ses.get(term))} {_fmt(tstats.get(term))} "
            f"{_fmt(pvalues.get(term))}",
            file=out,
        )
    bootstrap = record.get("bootstrap")
    if bootstrap:
        for line in summary_lines(bootstrap):
            print(f"   {line}", file=out)
    for warning in record.get("warnings") or []:
        print(f"   warning: {warning}", file=out)


def _check_output(output: str | None) -> Path | None:
    if output is None:
        return None
    path = Path(output)
    if path.is_dir():
        raise BadInputError(f"--output {output} is a folder, not a file")
    if not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise BadInputError(f"--output {output}: folder {path.parent} does not exist")
    return path


def _header(spec: StudySpec, data: LoadedData) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "reexport_version": __version__,
        "spec": str(spec.path),
        "data": data.describe(spec),
        "labels": dict(spec.labels),
    }


def _synthetic_banner(data: LoadedData) -> None:
    if data.synthetic:
        print(
            f"NOTE: {data.path} is SYNTHETIC demo data; these estimates say nothing about "
            "the real world.",
            file=sys.stderr,
        )


@dataclass(frozen=True)
class _FitJob:
    """One model to fit in a battery task."""

    model: ModelSpec
    diagnostics: bool
    portable: bool


@dataclass(frozen=True)
class _Fitted:
    """What a fit task sends back.

    ``result`` is the :class:`ModelResult` itself in this process, and its
    results-file record when it crosses a process boundary: a result holds a
    closure over the data frame (to recompute standard errors) that must not
    travel.  ``problem`` is the reduced bootstrap of the model, if requested.
    """

    result: ModelResult | dict[str, Any]
    problem: BootstrapProblem | None


def _fit_model(model: ModelSpec, frame: pd.DataFrame) -> ModelResult:
    """The spec-level estimator: the one place :func:`reexport.models.api.fit_model` is called from."""
    from reexport.models.api import fit_model

    return fit_model(model, frame)


def fit_task(frame: pd.DataFrame, job: _FitJob) -> _Fitted:
    """Battery task: fit one model (and its diagnostics and bootstrap preparation)."""
    result = _fit_model(job.model, frame)
    if job.diagnostics:
        result = result.with_diagnostics(diagnose(job.model, frame))
    problem = None if job.model.inference is None else prepare(job.model, frame, result)
    return _Fitted(result.to_dict() if job.portable else result, problem)


def bootstrap_task(frame: pd.DataFrame, item: tuple[BootstrapProblem, int]) -> ChunkStats:
    """Battery task: one chunk of bootstrap replications (the frame is not needed)."""
    problem, chunk = item
    return run_chunk(problem, chunk)


def estimate_results(
    spec: StudySpec,
    data: LoadedData,
    *,
    diagnostics: bool = False,
    out: TextIO | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> ResultsFile:
    """Fit every model of ``spec`` on ``data``, printing a summary of each.

    Parameters
    ----------
    spec, data
        The spec and its loaded data.
    diagnostics
        Also run the diagnostic battery for every model.
    out
        Where the summaries go (default stdout).
    jobs, scheduler
        Executor: ``jobs`` local processes or a Dask scheduler address (see
        :func:`reexport.models.battery.open_battery`); serial by default.
        Results are identical whichever is used.

    Returns
    -------
    ResultsFile
        Its models are the fitted results of a serial run; models fitted in
        other processes are rebuilt from their results records (as
        :meth:`ResultsFile.load` does), so they cannot recompute standard
        errors (``with_cov``) or give ``cov_params``.
    """
    out = out or sys.stdout
    for model in spec.models:
        check_model(model, data)
    with open_battery(data.frame, jobs=jobs, scheduler=scheduler) as battery:
        jobs_list = [_FitJob(model, diagnostics, battery.remote) for model in spec.models]
        fitted: list[_Fitted] = battery.map(fit_task, jobs_list, what="models")
        # Chunks of replications of every bootstrapped model fan out like the models.
        chunks = [
            (index, (item.problem, chunk))
            for index, item in enumerate(fitted)
            if item.problem is not None
            for chunk in range(item.problem.n_chunks)
        ]
        stats: list[ChunkStats] = []
        if chunks:
            stats = battery.map(bootstrap_task, [c for _, c in chunks], what="bootstrap chunks")
    by_model: dict[int, list[ChunkStats]] = {}
    for (index, _), chunk_stats in zip(chunks, stats, strict=True):
        by_model.setdefault(index, []).append(chunk_stats)
    results: list[ModelResult] = []
    for index, item in enumerate(fitted):
        result = item.result
        if isinstance(result, dict):
            result = ModelResult.from_dict(result, where=spec.models[index].where)
        if item.problem is not None:
            result = replace(result, bootstrap=combine(item.problem, by_model[index]))
        results.append(result)
    # Print only once every model has been fitted: a spec that fails at its last
    # model (a singular design, say) prints one error line, not half the tables.
    for result in results:
        record = result.to_dict()
        print_summary(record, out)
        if diagnostics:
            print_diagnostics(record["diagnostics"], out)
        print(file=out)
    return ResultsFile(
        models=tuple(results),
        spec=str(spec.path),
        data=data.describe(spec),
        labels=dict(spec.labels),
        reexport_version=__version__,
    )


def estimate_spec(
    spec: StudySpec,
    data: LoadedData,
    *,
    diagnostics: bool = False,
    out: TextIO | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Fit every model of ``spec`` on ``data`` and return the results document (as written)."""
    return estimate_results(
        spec, data, diagnostics=diagnostics, out=out, jobs=jobs, scheduler=scheduler
    ).to_dict()


def estimate_cli(
    spec: str,
    output: str | None = None,
    diagnostics: bool = False,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> int:
    """``reexport estimate SPEC [--output FILE] [--diagnostics] [--jobs N | --scheduler ADDR]``.

    Parameters
    ----------
    spec
        Path of the TOML spec.
    output
        Where to write the results JSON (nothing is written when ``None``).
    diagnostics
        Also run the diagnostic battery for every model.
    jobs
        Fit the models in this many local processes.
    scheduler
        ``tcp://HOST:PORT`` of a Dask scheduler to send the models to (default
        ``$REEXPORT_DASK_SCHEDULER`` unless ``jobs`` is given).

    Returns
    -------
    int
        0 on success.
    """
    resolve_scheduler(jobs, scheduler)  # refuse bad --jobs before reading anything
    output_path = _check_output(output)
    study = load_spec(spec)
    data = load_data(study)
    _synthetic_banner(data)
    results = estimate_results(study, data, diagnostics=diagnostics, jobs=jobs, scheduler=scheduler)
    if output_path is not None:
        results.save(output_path)
        print(f"wrote {output_path} ({len(results.models)} models)")
    return 0


# --------------------------------------------------------------------------------------
# diagnostics


def print_diagnostics(report: Mapping[str, Any], out: TextIO | None = None) -> None:
    """A compact, readable rendering of :func:`reexport.models.diagnostics.diagnose`."""
    out = out or sys.stdout
    print(f"   diagnostics (on {report.get('residuals_from', 'OLS residuals')}):", file=out)
    for test in report.get("tests", []):
        stat = test.get("statistic")
        pvalue = test.get("pvalue")
        label = "stat"
        if test.get("df_num") is not None and test.get("df_denom") is not None:
            label = f"F({test['df_num']}, {test['df_denom']})"
        stat_text = "" if stat is None else f"{label} = {stat:.4g}"
        relation = "="
        if test.get("pvalue_bounded") and pvalue is not None:
            # KPSS p-values come from a table and stop at its ends.
            relation = "<=" if pvalue <= 0.01 else ">="
        p_text = "" if pvalue is None else f", p {relation} {pvalue:.4g}"
        settings = test.get("settings") or ""
        series = f" [{test['series']}]" if test.get("series") else ""
        print(f"     {test['test']}{series}: {stat_text}{p_text}  ({settings})", file=out)
    vif = report.get("vif") or {}
    if vif:
        parts = ", ".join(f"{term} {value:.2f}" for term, value in vif.items() if value is not None)
        print(f"     VIF: {parts}", file=out)
    for note in report.get("notes", []):
        print(f"     note: {note}", file=out)
    for warning in report.get("warnings", []):
        print(f"     warning: {warning}", file=out)


def diagnose_cli(spec: str, output: str | None = None, break_date: str | None = None) -> int:
    """``reexport diagnose SPEC [--output FILE] [--break-date YYYY-MM]``.

    Runs the diagnostic battery on every model of the spec (see
    :func:`reexport.models.diagnostics.diagnose`), prints it and optionally
    writes it as JSON (atomically).
    """
    output_path = _check_output(output)
    study = load_spec(spec)
    data = load_data(study)
    _synthetic_banner(data)
    reports: list[dict[str, Any]] = []
    for model in study.models:
        check_model(model, data)
    for model in study.models:
        report = diagnose(model, data.frame, break_date=break_date)
        for warning in cov_warnings(model, _periods_in_sample(model, data)):
            report.setdefault("warnings", []).append(warning)
        print(f"== {model.name}: {model.formula}")
        print_diagnostics(report)
        print()
        reports.append(
            {
                "name": model.name,
                "group": model.group,
                "variant": dict(model.variant),
                "formula": model.formula,
                "diagnostics": report,
            }
        )
    document = {**_header(study, data), "break_date": break_date, "models": reports}
    if output_path is not None:
        atomic_write_json(output_path, document)
        print(f"wrote {output_path} ({len(reports)} models)")
    return 0
