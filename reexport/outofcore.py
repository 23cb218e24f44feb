"""Out-of-core builds: a tidy trade table too large for memory, streamed bucket by bucket.

A trade vintage may hold its rows as a tidy **Parquet** table (``*.parquet`` files,
stored byte for byte like every raw file; columns below) instead of the JSON/CSV a
source module parses.  Such a table may have tens of millions of rows -- every reporter
x partner x product x month of a bilateral panel -- which as a pandas frame of strings
is many times its size on disk.  :func:`stream_trade` builds the same frames, quality
report and tidy ``trade_flows`` table from it without holding it at once:

1. one scan of the ``period`` column counts the rows of each month (all tables read);
2. the months are cut into consecutive **buckets** of about :data:`BUCKET_ROWS` rows;
3. one scan of the rows (pyarrow record batches) types them as
   :func:`reexport.panel.combine_trade` does and appends each row to its bucket's
   spill file (Arrow IPC, LZ4) in the spool folder;
4. each bucket in month order is read back, sorted like ``combine_trade`` and
   summarised: the frames' :class:`reexport.panel.Selection` (every cell of a frame is
   one month's rows, so it lies in one bucket), duplicates and negative amounts (their
   key holds the month), quantity-unit changes (the last unit of each series is carried
   to the next bucket), HS-edition labels per month; the sorted bucket is appended to
   the ``trade_flows`` Parquet file, which is therefore in ``combine_trade`` order.

The buckets' summaries merge into exactly what the in-memory build computes
(tests/test_parquet_build.py compares them on small tables); peak memory is about one
bucket, whatever the table's size.  What is not streamed: ``quality.trade_checks``
(unit values, imputed quantities, mirror flows need the whole table) is skipped with a
note, and a ``measures`` frame's selected rows are gathered in memory (they are one
frame's products, not the table).

A tidy Parquet trade table has the columns ``period`` (``YYYY-MM``), ``reporter``,
``partner`` (ISO3, ``WLD`` for world), ``flow`` (``X``/``M``), ``hs`` and at least one of
``value_usd``, ``net_weight_t``, ``qty``; optionally ``hs_edition``, ``qty_unit``,
``is_estimated``.  ``source`` and ``vintage`` are those of the vintage holding it.  A
real vintage's table may not carry a true ``synthetic`` column.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reexport import panel, tables_io
from reexport.errors import BadInputError
from reexport.periods import parse_month

if TYPE_CHECKING:
    import pyarrow as pa

    from reexport.store import Vintage
    from reexport.study import Frame

#: ``out_of_core=None`` streams when the Parquet trade tables hold at least this many rows.
OUT_OF_CORE_ROWS = 2_000_000
#: Rows per bucket (a bucket holds whole months, so one month may exceed it).
BUCKET_ROWS = 1_000_000
#: Rows per record batch read from a Parquet table.
BATCH_ROWS = 262_144
#: Written under ``quality.trade_checks`` of an out-of-core build.
TRADE_CHECKS_SKIPPED = (
    "out-of-core build: the unit-value, imputed-quantity, missing/zero and mirror-flow "
    "checks read the whole trade table at once and were not run; they run on builds "
    "that read the table into memory (`panel.build(out_of_core=False)`)"
)

#: Written under ``quality.trade_checks`` of an in-memory build asked to skip them.
TRADE_CHECKS_NOT_ASKED = "not run: the build was asked not to (`panel.build(trade_checks=False)`)"

#: Defaults of the columns a tidy Parquet trade table may leave out
#: (:data:`reexport.tables_io.TRADE_TABLE_COLUMNS` it must have).
DEFAULTS: dict[str, Any] = {
    "hs_edition": "",
    "value_usd": np.nan,
    "net_weight_t": np.nan,
    "qty": np.nan,
    "qty_unit": "",
    "is_estimated": False,
}


# =========================================================================== parts


@dataclass(frozen=True)
class TradePart:
    """The rows of one trade vintage: a parsed tidy frame, or Parquet tables on disk.

    Attributes
    ----------
    vintage
        The vintage.
    frame
        Its tidy frame (``parse()`` of its source module), or ``None`` for Parquet.
    paths
        Its Parquet files (checked against the manifest's sha256), else empty.
    rows
        Row count (from the Parquet footers: nothing is read to count).
    """

    vintage: Vintage
    frame: pd.DataFrame | None = None
    paths: tuple[Path, ...] = ()
    rows: int = 0


def is_parquet_vintage(vintage: Vintage) -> bool:
    """Whether a trade vintage holds tidy Parquet tables (every file ``*.parquet``)."""
    names = [str(f["name"]) for f in vintage.files]
    return bool(names) and all(tables_io.is_parquet(Path(n)) for n in names)


def trade_parts(
    vintages: Iterable[Vintage], parse: Callable[[Vintage], pd.DataFrame]
) -> list[TradePart]:
    """Each trade vintage as a :class:`TradePart`: Parquet ones checked, others parsed.

    Raises
    ------
    BadInputError
        When a Parquet file differs from its manifest sha256, is not a tidy trade
        table, or carries a true ``synthetic`` column in a real vintage.
    """
    parts = []
    for vintage in vintages:
        if not is_parquet_vintage(vintage):
            frame = parse(vintage)
            missing = [c for c in panel.TRADE_COLUMNS if c not in frame.columns]
            if missing:
                raise BadInputError(f"tidy trade frame lacks column(s) {', '.join(missing)}")
            parts.append(TradePart(vintage, frame=frame, rows=len(frame)))
            continue
        paths = tuple(_checked_file(vintage, record) for record in vintage.files)
        rows = sum(_check_schema(vintage, path) for path in paths)
        parts.append(TradePart(vintage, paths=paths, rows=rows))
    return parts


def _checked_file(vintage: Vintage, record: Mapping[str, Any]) -> Path:
    """A raw Parquet file's path after hashing it in blocks against the manifest."""
    path = vintage.file_path(str(record["name"]))
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    except OSError as exc:
        raise BadInputError(f"raw store: cannot read {path}: {exc.strerror or exc}") from None
    if digest.hexdigest() != record.get("sha256"):
        raise BadInputError(
            f"raw store: {path} differs from the sha256 in its manifest (modified after it "
            "was stored); `reexport verify` lists every such file"
        )
    return path


def _check_schema(vintage: Vintage, path: Path) -> int:
    """The row count of a tidy Parquet trade table (BadInputError naming what is wrong)."""
    return tables_io.trade_table_rows(
        path, real=not vintage.synthetic, vintage=f"{vintage.source}/{vintage.id}"
    )


def _tidy(frame: pd.DataFrame, vintage: Vintage) -> pd.DataFrame:
    """A tidy Parquet table's rows as ``TRADE_COLUMNS`` (defaults filled, provenance set)."""
    out = pd.DataFrame(index=frame.index)
    for column in panel.TRADE_COLUMNS:
        if column == "source":
            out[column] = vintage.source
        elif column == "vintage":
            out[column] = vintage.id
        elif column in frame.columns:
            out[column] = frame[column]
        else:
            out[column] = DEFAULTS[column]
    return out


def part_frame(part: TradePart) -> pd.DataFrame:
    """A part's whole tidy frame, in memory (the in-memory build)."""
    if part.frame is not None:
        return part.frame
    import pyarrow.parquet as pq

    pieces = [_tidy(pq.read_table(str(p)).to_pandas(), part.vintage) for p in part.paths]
    return pd.concat(pieces, ignore_index=True) if pieces else panel.combine_trade([])


def _batches(part: TradePart, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """A part's rows as tidy pandas frames of up to :data:`BATCH_ROWS` rows, in order."""
    if part.frame is not None:
        frame = part.frame if columns is None else part.frame[list(columns)]
        for start in range(0, len(frame), BATCH_ROWS):
            yield frame.iloc[start : start + BATCH_ROWS]
        return
    import pyarrow.parquet as pq

    for path in part.paths:
        file = pq.ParquetFile(str(path))
        wanted = None if columns is None else [c for c in columns if c in file.schema_arrow.names]
        for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            frame = batch.to_pandas()
            yield frame if columns is not None else _tidy(frame, part.vintage)


def choose_out_of_core(parts: Sequence[TradePart], out_of_core: bool | None) -> bool:
    """Whether to stream: as asked, else when the Parquet parts reach :data:`OUT_OF_CORE_ROWS`."""
    if out_of_core is not None:
        return bool(out_of_core)
    return sum(p.rows for p in parts if p.frame is None) >= OUT_OF_CORE_ROWS


# =========================================================================== streaming


@dataclass(frozen=True)
class SpooledTable:
    """A processed table held in a Parquet file instead of memory.

    Attributes
    ----------
    path
        The Parquet file (in the spool folder until the set takes it).
    rows
        Its rows.
    sha256
        sha256 of the file's bytes.
    table_sha256
        :func:`reexport.tables_io.table_sha256` of its content.
    """

    path: Path
    rows: int
    sha256: str
    table_sha256: str


@dataclass
class Streamed:
    """What :func:`stream_trade` found: the frames' summaries, the report, the tidy table."""

    selections: dict[str, panel.Selection]
    measured: dict[str, pd.DataFrame]
    quality: panel.QualityReport
    table: SpooledTable
    buckets: int
    bucket_rows: int


@dataclass
class _Unitcarry:
    """Per quantity-unit series, its last (period, unit) row so far (a sorted frame)."""

    rows: pd.DataFrame | None = None


@dataclass
class _Findings:
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    negatives: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {c: [] for c in panel.AMOUNT_COLUMNS}
    )
    units: list[dict[str, Any]] = field(default_factory=list)
    labels: list[pd.DataFrame] = field(default_factory=list)


def month_counts(parts: Sequence[TradePart]) -> dict[str, int]:
    """Rows per month (``YYYY-MM``) over every part, reading only the period column."""
    counts: dict[str, int] = {}
    months: dict[object, str] = {}
    for part in parts:
        for batch in _batches(part, ["period"]):
            for value, count in batch["period"].value_counts(dropna=False).items():
                if value not in months:
                    months[value] = str(parse_month(value, what="trade frame period"))
                counts[months[value]] = counts.get(months[value], 0) + int(count)
    return dict(sorted(counts.items()))


def plan_buckets(counts: Mapping[str, int], bucket_rows: int = BUCKET_ROWS) -> list[list[str]]:
    """Consecutive months grouped into buckets of at most ``bucket_rows`` rows (whole months)."""
    buckets: list[list[str]] = []
    size = 0
    for month, count in sorted(counts.items()):
        if not buckets or size + count > bucket_rows:
            buckets.append([])
            size = 0
        buckets[-1].append(month)
        size += count
    return buckets


def stream_trade(
    parts: Sequence[TradePart],
    frames: Mapping[str, tuple[Frame, panel.FrameInput]],
    *,
    synthetic: bool,
    spool_dir: Path | None = None,
    bucket_rows: int | None = None,
) -> Streamed:
    """Build the frames' summaries, the trade quality report and ``trade_flows`` out of core.

    Parameters
    ----------
    parts
        From :func:`trade_parts`, in the build's vintage order.
    frames
        Frame name -> (declaration, its vintages), for every frame the build makes.
    synthetic
        The value of the tables' ``synthetic`` column.
    spool_dir
        Folder for the bucket files and the ``trade_flows`` Parquet file (default: a new
        temp folder; the caller removes it).
    bucket_rows
        Rows per bucket (:func:`plan_buckets`; default :data:`BUCKET_ROWS`).

    Returns
    -------
    Streamed
        Equal to what the in-memory build computes from the same parts.
    """
    import pyarrow as pa

    spool = Path(spool_dir) if spool_dir is not None else Path(tempfile.mkdtemp(prefix="reexport-"))
    work = Path(tempfile.mkdtemp(prefix="buckets-", dir=spool))
    bucket_rows = BUCKET_ROWS if bucket_rows is None else bucket_rows
    buckets = plan_buckets(month_counts(parts), bucket_rows)
    bucket_of = {month: index for index, months in enumerate(buckets) for month in months}
    empty = panel.combine_trade([]).assign(**{panel.SYNTHETIC_COLUMN: synthetic})
    schema = tables_io.arrow_schema(empty)
    trade_schema = pa.schema([schema.field(c) for c in panel.TRADE_COLUMNS])
    _spill(parts, bucket_of, len(buckets), work, trade_schema)

    findings = _Findings()
    carry = _Unitcarry()
    pieces: dict[str, list[panel.Selection]] = {name: [] for name in frames}
    measured: dict[str, list[pd.DataFrame]] = {n: [] for n, (f, _i) in frames.items() if f.measures}
    table_path = spool / "trade_flows.parquet"
    appender = tables_io.ParquetAppender(table_path, schema)
    try:
        for index in range(len(buckets)):
            trade = _read_bucket(work / f"{index}.arrow")
            _summarise(trade, frames, findings, carry, pieces, measured)
            typed = trade.assign(**{panel.SYNTHETIC_COLUMN: synthetic})
            appender.append(tables_io.to_arrow(typed, schema))
            del trade, typed
    finally:
        table_sha = appender.close()
    quality = panel.QualityReport()
    quality.duplicates.extend(findings.duplicates)
    for column in panel.AMOUNT_COLUMNS:
        quality.negative_quantities.extend(findings.negatives[column])
    # Findings are per series in period order; buckets are in period order, so a stable
    # sort by series gives the in-memory order.
    quality.unit_changes.extend(
        sorted(findings.units, key=lambda f: tuple(f["series"][k] for k in panel.TRADE_SERIES_KEY))
    )
    labels = (
        pd.concat(findings.labels, ignore_index=True)
        if findings.labels
        else panel.edition_labels(panel.combine_trade([]))
    )
    quality.hs_edition_changes.extend(panel.edition_changes(labels))
    selections = {name: panel.Selection.merge(p) for name, p in pieces.items()}
    for name, parts_of in pieces.items():
        if not parts_of:  # no rows at all: the summary of an empty selection
            frame = frames[name][0]
            selections[name] = panel.Selection.of(
                panel.combine_trade([]), frame.by, list(frame.values.values())
            )
    gathered = {
        name: pd.concat(found, ignore_index=True) if found else panel.combine_trade([])
        for name, found in measured.items()
    }
    file_sha = _file_sha256(table_path)
    return Streamed(
        selections=selections,
        measured=gathered,
        quality=quality,
        table=SpooledTable(table_path, appender.rows, file_sha, table_sha),
        buckets=len(buckets),
        bucket_rows=bucket_rows,
    )


def _spill(
    parts: Sequence[TradePart],
    bucket_of: Mapping[str, int],
    n_buckets: int,
    work: Path,
    schema: pa.Schema,
) -> None:
    """Type every row and append it to its bucket's IPC file (parts, then rows, in order)."""
    import pyarrow as pa

    options = pa.ipc.IpcWriteOptions(compression="lz4")
    sinks = [pa.OSFile(str(work / f"{i}.arrow"), "wb") for i in range(n_buckets)]
    writers = [pa.ipc.new_stream(sink, schema, options=options) for sink in sinks]
    try:
        for part in parts:
            for batch in _batches(part):
                typed = panel.coerce_trade(batch[panel.TRADE_COLUMNS].copy())
                table = tables_io.to_arrow(typed, schema)
                targets = typed["period"].map(bucket_of).to_numpy(dtype=np.int64)
                for index in np.unique(targets):
                    rows = table.filter(pa.array(targets == index))
                    writers[int(index)].write_table(rows)
    finally:
        for writer, sink in zip(writers, sinks, strict=True):
            writer.close()
            sink.close()


def _read_bucket(path: Path) -> pd.DataFrame:
    """One bucket's rows, typed and sorted as :func:`reexport.panel.combine_trade` does."""
    import pyarrow as pa

    with pa.OSFile(str(path), "rb") as source:
        table = pa.ipc.open_stream(source).read_all()
    os.unlink(path)
    frame = table.to_pandas()
    del table
    return panel.combine_trade([frame])


def _summarise(
    trade: pd.DataFrame,
    frames: Mapping[str, tuple[Frame, panel.FrameInput]],
    findings: _Findings,
    carry: _Unitcarry,
    pieces: dict[str, list[panel.Selection]],
    measured: dict[str, list[pd.DataFrame]],
) -> None:
    """Add one bucket's findings and frame summaries."""
    findings.duplicates.extend(panel.trade_duplicates(trade))
    for column, found in panel.negative_amounts(trade).items():
        findings.negatives[column].extend(found)
    units = panel.unit_rows(trade)
    if carry.rows is not None and len(carry.rows):
        # The carried rows are earlier months: they sort first in each series and only
        # make the first change of a bucket visible.
        units = pd.concat([carry.rows, units], ignore_index=True).sort_values(
            [*panel.TRADE_SERIES_KEY, "period", "qty_unit"], kind="mergesort"
        )
    findings.units.extend(panel.unit_changes(units))
    carry.rows = units.drop_duplicates(panel.TRADE_SERIES_KEY, keep="last")
    findings.labels.append(panel.edition_labels(trade))
    for name, (frame, item) in frames.items():
        selected = trade.loc[panel._frame_rows(trade, frame, item)]
        if len(selected):
            pieces[name].append(panel.Selection.of(selected, frame.by, list(frame.values.values())))
        if frame.measures:
            measured[name].append(selected)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
