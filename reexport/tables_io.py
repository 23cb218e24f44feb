"""Processed tables on disk: CSV or Parquet, written deterministically and read back alike.

``reexport build --format csv|parquet|both`` writes each processed table as
``<name>.csv``, ``<name>.parquet`` or both, beside one sidecar ``<name>.meta.json``.
This module holds what every layer needs to agree on about those files:

* :func:`parse_formats` -- the ``--format`` option (one clear line on a bad value);
* :func:`to_arrow`, :func:`parquet_bytes`, :class:`ParquetAppender` -- typed,
  deterministic Parquet (strings such as ``period`` ``YYYY-MM`` as UTF-8, amounts as
  float64, counts as int64, flags as bool; no pandas metadata, no timestamps, fixed
  writer options, so the same table gives the same bytes under one pyarrow version);
* :class:`TableHasher` / :func:`table_sha256` -- a checksum of a table's *content*
  (column names, types and values), independent of how it is chunked or encoded, so
  an out-of-core build that writes a table bucket by bucket and an in-memory build
  record the same ``table_sha256`` for the same table;
* :func:`resolve_table` and :func:`read_table` -- how readers (``processed:STUDY/NAME``
  specs, report figures, tests) find a processed table that may exist as CSV, Parquet
  or both (CSV first when both exist: it is what every earlier build wrote).

Layer 1: imports nothing of reexport but the errors; numpy, pandas and pyarrow are
imported when used (a spec naming ``processed:STUDY/NAME`` resolves it without them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reexport.errors import BadInputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: The values of ``reexport build --format``.
FORMAT_CHOICES = ("csv", "parquet", "both")
#: File suffix of each table format.
SUFFIXES = {"csv": ".csv", "parquet": ".parquet"}
#: Suffixes a processed table may have, in the order readers look for them.
READ_ORDER = (".csv", ".parquet")

#: Parquet writer settings: fixed so that the bytes depend only on the table (and the
#: pyarrow version, which Parquet's ``created_by`` records).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": False,
}
#: Rows per Parquet row group of tables written in one piece.
ROW_GROUP_ROWS = 1 << 20


def parse_formats(text: str) -> tuple[str, ...]:
    """``--format`` as the formats to write, CSV first: ``("csv",)``, ``("parquet",)`` or both.

    Raises
    ------
    BadInputError
        For any other value (one line naming it and the choices).
    """
    value = str(text).strip().lower()
    if value not in FORMAT_CHOICES:
        raise BadInputError(f"--format {text!r}: expected one of {', '.join(FORMAT_CHOICES)}")
    return ("csv", "parquet") if value == "both" else (value,)


def resolve_table(stem: Path) -> Path:
    """The file of a processed table ``stem`` (``.../world`` or ``.../world.csv``).

    CSV when it exists (every build before Parquet wrote it, and ``--format both`` keeps
    it), else Parquet when that exists, else the CSV path (so a reader's "does not
    exist" message names the default).
    """
    stem = Path(stem)
    if stem.suffix.lower() in READ_ORDER:
        stem = stem.with_suffix("")
    for suffix in READ_ORDER:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file():
            return candidate
    return stem.with_name(stem.name + READ_ORDER[0])


def is_parquet(path: Path) -> bool:
    """Whether a file is Parquet by its suffix (``.parquet`` or ``.pq``)."""
    return Path(path).suffix.lower() in (".parquet", ".pq")


def read_table(path: Path, *, text_columns: Sequence[str] = ("period", "hs")) -> pd.DataFrame:
    """A processed table as pandas, the same frame whether it is CSV or Parquet.

    Parameters
    ----------
    path
        A ``.csv`` or ``.parquet`` file (see :func:`resolve_table`).
    text_columns
        Columns read as text from a CSV (codes such as ``hs`` must keep leading zeros).

    Returns
    -------
    pandas.DataFrame
        Strings for codes and periods, floats for amounts, bool flags.
    """
    import pandas as pd

    path = Path(path)
    if is_parquet(path):
        import pyarrow.parquet as pq

        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        return frame
    header = pd.read_csv(path, nrows=0).columns
    return pd.read_csv(path, dtype={c: str for c in text_columns if c in header})


#: Columns a tidy Parquet trade table (a raw file of a trade vintage) must have, and
#: the amounts of which it needs at least one (docs/study_format.md).
TRADE_TABLE_COLUMNS = ("period", "reporter", "partner", "flow", "hs")
TRADE_TABLE_AMOUNTS = ("value_usd", "net_weight_t", "qty")


def parquet_synthetic(source: Path | bytes) -> bool | None:
    """Whether a Parquet table's ``synthetic`` column is true anywhere (``None``: no such column).

    Parameters
    ----------
    source
        The file, or its bytes (then exactly the bytes that are checked are those stored).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    file = pq.ParquetFile(pa.BufferReader(source) if isinstance(source, bytes) else str(source))
    if "synthetic" not in file.schema_arrow.names:
        return None
    flags = file.read(columns=["synthetic"]).column("synthetic")
    return bool(pc.any(pc.cast(flags, pa.bool_())).as_py())


def trade_table_rows(
    path: Path, *, real: bool = True, vintage: str = "", data: bytes | None = None
) -> int:
    """Check a tidy Parquet trade table's columns (footer only) and return its row count.

    For importers of such files (``reexport fetch ... --from-file``) and the build.

    Parameters
    ----------
    path
        The Parquet file (named in messages).
    real
        Refuse a true ``synthetic`` column (the file would be the synthetic demo's).
    vintage
        The vintage it belongs to, for the message.
    data
        The file's bytes when the caller holds them (an import checks what it stores).

    Raises
    ------
    BadInputError
        An unreadable file, a missing column or a true ``synthetic`` column in real data.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source: Path | bytes = path if data is None else data
    try:
        file = pq.ParquetFile(pa.BufferReader(data) if data is not None else str(path))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable Parquet file ({exc})") from None
    names = set(file.schema_arrow.names)
    missing = [c for c in TRADE_TABLE_COLUMNS if c not in names]
    if missing or not names & set(TRADE_TABLE_AMOUNTS):
        lacks = missing or [" or ".join(TRADE_TABLE_AMOUNTS)]
        raise BadInputError(
            f"{path}: a tidy trade table needs column(s) {', '.join(lacks)} "
            f"(it has {', '.join(sorted(names))})"
        )
    if real and parquet_synthetic(source):
        raise BadInputError(
            f"{path}: its synthetic column is true, so it is the synthetic demo's, "
            f"but {('vintage ' + vintage) if vintage else 'the data'} is real"
        )
    return int(file.metadata.num_rows)


# --------------------------------------------------------------------------- writing


def _arrow_type(values: pd.Series) -> pa.DataType:
    import pandas as pd
    import pyarrow as pa

    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(dtype):
        return pa.int64()
    if pd.api.types.is_float_dtype(dtype):
        return pa.float64()
    return pa.string()


def arrow_schema(frame: pd.DataFrame) -> pa.Schema:
    """The typed schema of a processed frame: string, float64, int64 or bool per column."""
    import pyarrow as pa

    return pa.schema([pa.field(str(c), _arrow_type(frame[c])) for c in frame.columns])


def to_arrow(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """A pandas frame as an Arrow table of :func:`arrow_schema` (no index, no pandas metadata).

    Text columns hold ``str`` or missing values; anything else in them (a number in an
    object column) is written as its ``str``, as the CSV would show it.
    """
    import pyarrow as pa

    schema = schema if schema is not None else arrow_schema(frame)
    arrays = []
    for field in schema:
        values = frame[field.name]
        if field.type == pa.string():
            try:
                arrays.append(pa.array(values, type=pa.string(), from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                as_text = [None if _missing(v) else str(v) for v in values.tolist()]
                arrays.append(pa.array(as_text, type=pa.string()))
        else:
            arrays.append(pa.array(values.to_numpy(), type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def _missing(value: object) -> bool:
    import numpy as np
    import pandas as pd

    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def parquet_bytes(table: pa.Table) -> bytes:
    """The deterministic Parquet bytes of ``table`` (:data:`PARQUET_OPTIONS`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)
    return bytes(sink.getvalue().to_pybytes())


class ParquetAppender:
    """Write a Parquet file piece by piece (one row group per piece), hashing its content.

    For tables too large to hold at once: each :meth:`append` adds row groups, and
    :attr:`hasher` accumulates :func:`table_sha256` of the whole table as it goes.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.schema = schema
        self.rows = 0
        self.hasher = TableHasher(schema)
        self._writer = pq.ParquetWriter(str(self.path), schema, **PARQUET_OPTIONS)

    def append(self, table: pa.Table) -> None:
        """Add ``table`` (of :attr:`schema`) as the next row group(s)."""
        table = table.cast(self.schema)
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        self.hasher.update(table)
        self.rows += table.num_rows

    def close(self) -> str:
        """Finish the file; returns the content checksum (:func:`table_sha256`)."""
        self._writer.close()
        return self.hasher.hexdigest()


# --------------------------------------------------------------------------- content checksum


class TableHasher:
    """An incremental content checksum of a table, independent of chunking and encoding.

    Per column, three streams are hashed: the validity of each row (one byte per row),
    the fixed-width values (nulls as zero), and for strings their lengths and UTF-8
    bytes, each stream on its own, so feeding a table in any number of pieces gives the
    same digest.  The final digest covers the column names and types too.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._streams = [
            (hashlib.sha256(), hashlib.sha256(), hashlib.sha256()) for _ in range(len(schema))
        ]

    def update(self, table: pa.Table) -> None:
        """Feed the next rows (a table of the hasher's schema)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        for index, field in enumerate(self.schema):
            valid_h, data_h, length_h = self._streams[index]
            column = table.column(field.name)
            for chunk in column.chunks:
                if isinstance(chunk, pa.DictionaryArray):
                    chunk = chunk.dictionary_decode()
                valid = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=np.uint8)
                valid_h.update(valid.tobytes())
                if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
                    filled = chunk.fill_null("")
                    lengths = pc.binary_length(filled).to_numpy(zero_copy_only=False)
                    length_h.update(np.asarray(lengths, dtype="<i8").tobytes())
                    data_h.update(_string_bytes(filled.cast(pa.large_string())))
                elif pa.types.is_boolean(field.type):
                    values = chunk.fill_null(False).to_numpy(zero_copy_only=False)
                    data_h.update(np.asarray(values, dtype=np.uint8).tobytes())
                else:
                    values = chunk.fill_null(0).to_numpy(zero_copy_only=False)
                    as_float = pa.types.is_floating(field.type)
                    data_h.update(np.asarray(values, dtype="<f8" if as_float else "<i8").tobytes())

    def hexdigest(self) -> str:
        """The checksum of everything fed so far."""
        total = hashlib.sha256()
        for field, streams in zip(self.schema, self._streams, strict=True):
            total.update(f"{field.name}\x00{field.type}\x00".encode())
            for stream in streams:
                total.update(stream.digest())
        return total.hexdigest()


def _string_bytes(array: pa.Array) -> bytes:
    """The UTF-8 bytes of a large_string array's values, concatenated (its data buffer span)."""
    import numpy as np

    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype="<i8")[array.offset : array.offset + len(array) + 1]
    if buffers[2] is None or len(offsets) == 0:
        return b""
    data = memoryview(buffers[2])
    return bytes(data[int(offsets[0]) : int(offsets[-1])])


def table_sha256(table: pa.Table | pd.DataFrame) -> str:
    """The content checksum of a whole table (:class:`TableHasher`).

    A pandas frame is first typed with :func:`to_arrow`.
    """
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        table = to_arrow(table)
    hasher = TableHasher(table.schema)
    hasher.update(table)
    return hasher.hexdigest()


def iter_parquet_frames(path: Path, columns: Iterable[str] | None = None) -> Iterable[pd.DataFrame]:
    """A Parquet file's row groups, one pandas frame each (for streaming it to CSV)."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(str(path))
    for group in range(file.num_row_groups):
        table = file.read_row_group(group, columns=list(columns) if columns else None)
        yield table.to_pandas()
