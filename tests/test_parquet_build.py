"""`reexport build --format csv|parquet|both`, and the out-of-core build of a Parquet trade table."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reexport import outofcore, panel, store, tables_io
from reexport.cli import main
from reexport.errors import BadInputError
from reexport.models import run, spec
from reexport.sources import comtrade, demo
from reexport.store import RawStore

FRAMES = ("trade_flows", "indices", "world", "destination")


@pytest.fixture
def demo_store(data_root: Path) -> RawStore:
    raw = RawStore()
    demo.write_demo(demo.DEFAULT_SEED, raw)
    return raw


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# =========================================================================== --format


def test_parquet_round_trip_sidecars_and_report(demo_store: RawStore, data_root: Path) -> None:
    out = data_root / "processed" / "porcher2025"
    result = panel.build("demo", format="parquet")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "build_report.json",
            *(f"{n}.parquet" for n in FRAMES),
            *(f"{n}.meta.json" for n in FRAMES),
        ]
    )
    report = json.loads((out / "build_report.json").read_text())
    assert set(report["outputs"]) == set(names) - {"build_report.json"}
    for name, digest in report["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    tables = {"trade_flows": result.trade_flows, "indices": result.indices, **result.frames}
    for name in FRAMES:
        back = pq.read_table(out / f"{name}.parquet")
        # Typed: periods as text, amounts float64, flags bool; no pandas metadata.
        assert back.schema.field("period").type == pa.string()
        assert back.schema.field("synthetic").type == pa.bool_()
        assert back.schema.metadata is None
        frame = back.to_pandas()
        expected = tables[name]
        assert list(frame.columns) == list(expected.columns)
        for column in expected.columns:
            left, right = frame[column], expected[column]
            if pd.api.types.is_float_dtype(right.dtype):
                assert back.schema.field(column).type == pa.float64()
                np.testing.assert_array_equal(left.to_numpy(), right.to_numpy())
            elif pd.api.types.is_integer_dtype(right.dtype):
                assert back.schema.field(column).type == pa.int64()
                assert left.tolist() == right.tolist()
            else:
                assert left.tolist() == right.tolist(), (name, column)
        meta = json.loads((out / f"{name}.meta.json").read_text())
        assert meta["file"] == f"{name}.parquet" and meta["files"] == [f"{name}.parquet"]
        assert meta["synthetic"] is True and meta["rows"] == len(expected)
        assert meta["raw_sha256"] == report["raw_sha256"]
        assert meta["table_sha256"] == tables_io.table_sha256(back)
        assert meta["table_sha256"] == tables_io.table_sha256(expected)
    problems, _notes = store.verify_processed(out)
    assert problems == []


def test_both_formats_keep_the_csv_bytes_and_agree(demo_store: RawStore, data_root: Path) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo")
    csv_only = _files(out)
    panel.build("demo", format="both")
    both = _files(out)
    for name in FRAMES:
        assert both[f"{name}.csv"] == csv_only[f"{name}.csv"]
        meta = json.loads(both[f"{name}.meta.json"])
        assert meta["file"] == f"{name}.csv"
        assert meta["files"] == [f"{name}.csv", f"{name}.parquet"]
        from_csv = pd.read_csv(io.BytesIO(both[f"{name}.csv"]), dtype={"period": str})
        from_parquet = pq.read_table(out / f"{name}.parquet").to_pandas()
        for column in from_csv.columns:
            if pd.api.types.is_float_dtype(from_csv[column].dtype):
                np.testing.assert_allclose(from_parquet[column], from_csv[column], rtol=1e-11)
            elif from_csv[column].dtype == bool:
                assert from_parquet[column].tolist() == from_csv[column].tolist()
    # A CSV-only set's sidecars are what they always were (no Parquet keys).
    assert "files" not in json.loads(csv_only["world.meta.json"])


def test_parquet_builds_are_byte_identical(demo_store: RawStore, data_root: Path) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo", format="parquet")
    first = _files(out)
    panel.build("demo", format="parquet")
    assert _files(out) == first


def test_failure_mid_write_leaves_the_previous_set(
    demo_store: RawStore, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo")
    before = _files(out)
    real_write = store.atomic_write_bytes
    calls: list[Path] = []

    def fail_on_third(path: str | Path, data: bytes) -> Path:
        calls.append(Path(path))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(store, "atomic_write_bytes", fail_on_third)
    with pytest.raises(OSError):
        panel.build("demo", format="both")
    assert len(calls) == 3 and calls[1].suffix == ".parquet"  # it failed inside the set
    assert _files(out) == before
    sets = store.sets_dir(out)
    assert sorted(p.name for p in sets.iterdir() if p.name != store.LOCK_NAME) == [
        out.resolve().name
    ]
    # Nothing of the failed build is left beside the sets either (its spool is gone).
    spools = out.parent / ".porcher2025-spool"
    assert list(spools.iterdir()) == []


def test_a_killed_builds_spool_is_removed_by_the_next(
    demo_store: RawStore, data_root: Path
) -> None:
    spools = data_root / "processed" / ".porcher2025-spool"
    dead = spools / f"{store.TEMP_PREFIX}deadbeef"
    dead.mkdir(parents=True)
    (dead / "0.arrow").write_bytes(b"left by a kill -9")
    panel.build("demo", format="parquet")
    assert list(spools.iterdir()) == []


def test_bad_format_is_exit_2_one_line(
    demo_store: RawStore, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--format", "xlsx"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "xlsx" in err and "parquet" in err
    assert not (data_root / "processed" / "porcher2025").exists()
    with pytest.raises(BadInputError, match="--format 'xml'"):
        panel.build("demo", format="xml")


def test_cli_format_parquet_and_readers_find_it(
    demo_store: RawStore, data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["build", "--format", "parquet"]) == 0
    assert "wrote 9 files" in capsys.readouterr().out
    out = data_root / "processed" / "porcher2025"
    assert not (out / "world.csv").exists()
    study_spec = spec.load_spec(Path("analyses/porcher2025/specs/world.toml").resolve())
    assert study_spec.data.path == out.parent / "porcher2025/world.parquet"
    assert study_spec.data.synthetic() is True  # the sidecar is found beside the Parquet
    loaded = run.load_data(study_spec)
    # The same data as a CSV build gives (to the CSV's 12 significant digits).
    panel.build("demo", format="csv")
    csv_spec = spec.load_spec(Path("analyses/porcher2025/specs/world.toml").resolve())
    assert csv_spec.data.path.suffix == ".csv"
    from_csv = run.load_data(csv_spec).frame
    assert list(loaded.frame.columns) == list(from_csv.columns)
    np.testing.assert_allclose(
        loaded.frame["exports_t"].to_numpy(), from_csv["exports_t"].to_numpy(), rtol=1e-11
    )
    assert tables_io.resolve_table(out / "world") == out / "world.csv"
    assert tables_io.resolve_table(out / "nothing") == out / "nothing.csv"


def test_content_checksum_ignores_chunking_and_sees_every_value() -> None:
    frame = pd.DataFrame(
        {
            "period": ["2020-01", "2020-02", None, "2020-04"],
            "value": [1.0, np.nan, 3.0, -0.0],
            "n": [1, 2, 3, 4],
            "flag": [True, False, True, False],
        }
    )
    table = tables_io.to_arrow(frame)
    whole = tables_io.table_sha256(table)
    pieces = pa.Table.from_batches(table.to_batches(max_chunksize=1))
    assert tables_io.table_sha256(pieces) == whole
    hasher = tables_io.TableHasher(table.schema)
    hasher.update(table.slice(0, 3))
    hasher.update(table.slice(3))
    assert hasher.hexdigest() == whole
    changed = frame.copy()
    changed.loc[0, "period"] = "2020-1"
    assert tables_io.table_sha256(changed) != whole
    moved = frame.copy()
    moved["period"] = ["2020-01", "2020-02", "", "2020-04"]  # empty is not missing
    assert tables_io.table_sha256(moved) != whole


# =========================================================================== out of core

REPORTERS = ["CHN", "JPN", "KOR"]
PARTNERS = ["USA", "DEU", "JPN", "VNM", "FRA"]
CODES = ["850511", "280530", "284690"]
MONTHS = panel.full_months("2019-01", "2020-06")

STUDY_TOML = """
[study]
name = "bilateral"
title = "A bilateral panel"
window = ["2019-01", "2020-06"]
facts = "facts.json"

[[request]]
source = "comtrade"
reporter = ["CHN", "JPN", "KOR"]
partner = "all"
hs = ["280530", "284690", "850511"]
flow = ["X"]
frequency = "M"

[[frame]]
name = "world"
trade = { reporter = "CHN", partner = "WLD", hs = ["850511"], flow = "X" }
by = ["period"]
values = { exports_t = "net_weight_t", exports_usd = "value_usd" }
series_column = "export_series"

[[frame]]
name = "destination"
trade = { reporter = ["CHN", "JPN", "KOR"], partner = "all", hs = ["850511", "280530"], flow = "X" }
by = ["period", "partner"]
values = { exports_usd = "value_usd", exports_t = "net_weight_t" }
implied_zeros = true

[[frame]]
name = "products"
trade = { reporter = ["CHN", "JPN", "KOR"], partner = "all", hs = ["280530", "284690", "850511"], flow = "X" }
by = ["period", "hs"]
values = { exports_usd = "value_usd" }

[[frame]]
name = "suppliers"
trade = { reporter = ["CHN"], partner = "all", hs = ["850511"], flow = "X" }
by = ["period"]
measures = { suppliers = ["USA", "DEU"] }
"""


def bilateral_table(seed: int = 3) -> pd.DataFrame:
    """A small bilateral table with every case the checks find, in scrambled row order.

    World rows, missing months of one reporter, partners absent in some months (implied
    zeros), identical and conflicting duplicates, negative amounts, a quantity-unit change
    that falls between buckets and HS-edition changes and a mixed month.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for period in MONTHS:
        for reporter in REPORTERS:
            if reporter == "KOR" and period in ("2019-05", "2019-06"):
                continue  # not reported at all
            for code in CODES:
                edition = "H5" if period < "2019-10" else "H6"
                for partner in ["WLD", *PARTNERS]:
                    rare = 0.9 if partner == "FRA" else 0.2  # FRA: months without any flow
                    if partner == reporter or (partner != "WLD" and rng.random() < rare):
                        continue
                    unit = "kg" if (code != "284690" or period < "2020-02") else "t"
                    rows.append(
                        {
                            "period": period,
                            "reporter": reporter,
                            "partner": partner,
                            "flow": "X",
                            "hs": code,
                            "hs_edition": edition,
                            "value_usd": float(rng.integers(1, 10_000)) + rng.random(),
                            "net_weight_t": float(rng.integers(0, 50)) / 7.0,
                            "qty": float(rng.integers(0, 500)),
                            "qty_unit": unit,
                            "is_estimated": bool(rng.random() < 0.1),
                        }
                    )
    frame = pd.DataFrame(rows)
    dup_same = frame.iloc[[10, 200]]
    conflict = frame.iloc[[40]].assign(value_usd=-5.0)
    mixed = frame.iloc[[300]].assign(
        hs_edition="H4", partner="FRA" if frame.iloc[300]["partner"] != "FRA" else "USA"
    )
    frame = pd.concat([frame, dup_same, conflict, mixed], ignore_index=True)
    frame.loc[frame.index[5], "net_weight_t"] = np.nan
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def store_parquet_vintage(raw: RawStore, table: pd.DataFrame, name: str = "panel.parquet") -> None:
    """Store a tidy Parquet trade table as a real Comtrade vintage, as an import would."""
    request = comtrade.make_request(
        reporter=REPORTERS, partner="all", hs=CODES, flow=["X"], start=MONTHS[0], end=MONTHS[-1]
    )
    sink = io.BytesIO()
    table.to_parquet(sink, index=False, row_group_size=97)
    content = sink.getvalue()
    logical = {
        **request.logical(),
        "origin": "file",
        "files": [{"name": name, "sha256": hashlib.sha256(content).hexdigest()}],
    }
    with raw.writer("comtrade", logical) as writer:
        writer.add(
            name, content, url=None, params={"origin": "file"}, status=None, content_type=None
        )


@pytest.fixture
def bilateral(data_root: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "bilateral"
    folder.mkdir()
    (folder / "study.toml").write_text(STUDY_TOML)
    (folder / "facts.json").write_text("{}\n")
    store_parquet_vintage(RawStore(), bilateral_table())
    return folder


def test_out_of_core_equals_in_memory(
    bilateral: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = data_root / "processed" / "bilateral"
    memory = panel.build("real", study=bilateral, format="both", out_of_core=False)
    memory_files = _files(out)
    monkeypatch.setattr(outofcore, "BUCKET_ROWS", 100)  # many buckets of one or two months
    streamed = panel.build("real", study=bilateral, format="both", out_of_core=True)
    streamed_files = _files(out)
    assert streamed.report["out_of_core"]["buckets"] >= 5

    for name in ("world", "destination", "products", "suppliers"):
        pd.testing.assert_frame_equal(streamed.frames[name], memory.frames[name], check_exact=True)
    # Same tidy table, same order, same bytes as CSV; same typed content as Parquet.
    assert streamed_files["trade_flows.csv"] == memory_files["trade_flows.csv"]
    meta = {
        kind: json.loads(files["trade_flows.meta.json"])
        for kind, files in (("memory", memory_files), ("streamed", streamed_files))
    }
    assert meta["memory"]["table_sha256"] == meta["streamed"]["table_sha256"]
    assert meta["memory"]["rows"] == meta["streamed"]["rows"] == len(memory.trade_flows)
    for name in ("world", "destination", "products", "suppliers"):
        assert streamed_files[f"{name}.csv"] == memory_files[f"{name}.csv"]
        assert streamed_files[f"{name}.parquet"] == memory_files[f"{name}.parquet"]
    # The same quality report, but for the whole-table checks an out-of-core build skips.
    quality = {k: v for k, v in memory.report["quality"].items() if k != "trade_checks"}
    assert {k: v for k, v in streamed.report["quality"].items() if k != "trade_checks"} == quality
    assert streamed.report["quality"]["trade_checks"] == {"skipped": outofcore.TRADE_CHECKS_SKIPPED}
    found = memory.quality
    assert found.duplicates and any(d["conflicting"] for d in found.duplicates)
    assert found.negative_quantities and found.unit_changes and found.implied_zero_flows
    assert any(c["mixed"] for c in found.hs_edition_changes)
    assert {c["to"] for c in found.hs_edition_changes if not c["mixed"]} >= {"H6"}
    assert found.missing_months["destination"] == []
    streamed_report = {
        k: v for k, v in streamed.report.items() if k not in ("quality", "out_of_core", "outputs")
    }
    memory_report = {k: v for k, v in memory.report.items() if k not in ("quality", "outputs")}
    assert streamed_report == memory_report
    problems, _notes = store.verify_processed(out)
    assert problems == []


def test_out_of_core_is_chosen_by_size(
    bilateral: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = panel.build("real", study=bilateral, format="parquet")
    assert "out_of_core" not in small.report and len(small.trade_flows)
    monkeypatch.setattr(outofcore, "OUT_OF_CORE_ROWS", 100)
    large = panel.build("real", study=bilateral, format="parquet")
    assert large.report["out_of_core"]["buckets"] >= 1
    assert large.trade_flows.empty  # held on disk, never in memory
    out = data_root / "processed" / "bilateral"
    assert pq.read_metadata(out / "trade_flows.parquet").num_rows == len(small.trade_flows)
    for name in ("world", "destination", "products"):
        pd.testing.assert_frame_equal(large.frames[name], small.frames[name], check_exact=True)


def test_plan_buckets_keeps_months_whole_and_in_order() -> None:
    counts = {"2020-01": 5, "2020-02": 1, "2020-03": 9, "2020-04": 2, "2020-05": 2}
    assert outofcore.plan_buckets(counts, 6) == [
        ["2020-01", "2020-02"],
        ["2020-03"],
        ["2020-04", "2020-05"],
    ]


def test_a_modified_raw_parquet_is_refused(bilateral: Path, data_root: Path) -> None:
    vintage = RawStore().latest("comtrade")
    assert vintage is not None
    path = vintage.file_path("panel.parquet")
    path.chmod(0o644)
    table = pq.read_table(path).to_pandas()
    table.loc[0, "value_usd"] = 1.0
    table.to_parquet(path, index=False)
    with pytest.raises(BadInputError, match="differs from the sha256"):
        panel.build("real", study=bilateral, out_of_core=True)


def test_a_parquet_table_without_trade_columns_is_refused(data_root: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bilateral"
    folder.mkdir()
    (folder / "study.toml").write_text(STUDY_TOML)
    (folder / "facts.json").write_text("{}\n")
    store_parquet_vintage(RawStore(), bilateral_table().drop(columns=["partner"]))
    with pytest.raises(BadInputError, match="needs column\\(s\\) partner"):
        panel.build("real", study=folder)
    assert not (data_root / "processed" / "bilateral").exists()


def test_a_real_parquet_vintage_with_a_true_synthetic_column_is_refused(
    data_root: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "bilateral"
    folder.mkdir()
    (folder / "study.toml").write_text(STUDY_TOML)
    (folder / "facts.json").write_text("{}\n")
    store_parquet_vintage(RawStore(), bilateral_table().assign(synthetic=True))
    with pytest.raises(BadInputError, match="synthetic column is true"):
        panel.build("real", study=folder)


def _reference_unit_and_edition_changes(trade: pd.DataFrame) -> tuple[list, list]:
    """The loop over series that trade_quality ran before it was vectorised (the reference)."""
    units_found, editions_found = [], []
    for key, rows in trade.groupby(panel.TRADE_SERIES_KEY, sort=True, dropna=False):
        series = dict(zip(panel.TRADE_SERIES_KEY, key, strict=True))
        units = rows.loc[rows["qty_unit"] != "", ["period", "qty_unit"]].sort_values(
            ["period", "qty_unit"], kind="mergesort"
        )
        previous = None
        for period, unit in zip(units["period"], units["qty_unit"], strict=True):
            if previous is not None and unit != previous:
                units_found.append(
                    {"series": series, "period": period, "from": previous, "to": unit}
                )
            previous = unit
    for key, rows in trade.groupby(panel.EDITION_KEY, sort=True, dropna=False):
        series = dict(zip(panel.EDITION_KEY, key, strict=True))
        editions = rows.loc[rows["hs_edition"] != "", ["period", "hs_edition"]]
        per_month = editions.groupby("period")["hs_edition"].agg(lambda s: "+".join(sorted(set(s))))
        for period, label in per_month.sort_index().items():
            if "+" in label:
                editions_found.append(
                    {"series": series, "period": period, "from": label, "to": label, "mixed": True}
                )
        previous = None
        for period, label in per_month.sort_index().items():
            if previous is not None and label != previous:
                editions_found.append(
                    {
                        "series": series,
                        "period": period,
                        "from": previous,
                        "to": label,
                        "mixed": False,
                    }
                )
            previous = label
    return units_found, editions_found


@pytest.mark.parametrize("seed", range(8))
def test_vectorised_unit_and_edition_checks_match_the_series_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    table = pd.DataFrame(
        {
            "period": rng.choice(MONTHS[:8], n),
            "reporter": rng.choice(["CHN", "JPN"], n),
            "partner": rng.choice(["WLD", "USA", "DEU"], n),
            "flow": rng.choice(["X", "M"], n),
            "hs": rng.choice(CODES[:2], n),
            "hs_edition": rng.choice(["", "H5", "H6"], n),
            "value_usd": rng.choice([1.0, -2.0, np.nan], n),
            "net_weight_t": rng.choice([1.0, np.nan], n),
            "qty": 1.0,
            "qty_unit": rng.choice(["", "kg", "t"], n),
            "is_estimated": False,
            "source": "comtrade",
            "vintage": rng.choice(["v1", "v2"], n),
        }
    )
    trade = panel.combine_trade([table])
    units, editions = _reference_unit_and_edition_changes(trade)
    assert units and editions
    report = panel.trade_quality(trade)
    assert report.unit_changes == units
    assert report.hs_edition_changes == editions


# =========================================================================== --from-file X.parquet
IMPORT_ARGS = [
    "fetch",
    "comtrade",
    "--reporter",
    ",".join(REPORTERS),
    "--partner",
    "all",
    "--hs",
    ",".join(CODES),
    "--flow",
    "X",
    "--start",
    MONTHS[0],
    "--end",
    MONTHS[-1],
]


def test_a_parquet_table_imported_from_the_cli_builds_out_of_core(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bilateral"
    folder.mkdir()
    (folder / "study.toml").write_text(STUDY_TOML)
    (folder / "facts.json").write_text("{}\n")
    path = tmp_path / "panel.parquet"
    bilateral_table().to_parquet(path, index=False, row_group_size=97)
    assert main([*IMPORT_ARGS, "--from-file", str(path)]) == 0
    vintage = RawStore().latest("comtrade")
    assert vintage is not None and not vintage.synthetic
    assert [f["name"] for f in vintage.files] == ["file_01.parquet"]
    assert vintage.read_bytes("file_01.parquet") == path.read_bytes()  # byte for byte
    # A second import of the same file finds the stored vintage.
    assert main([*IMPORT_ARGS, "--from-file", str(path)]) == 0
    assert len(RawStore().vintages("comtrade")) == 1
    streamed = panel.build("real", study=folder, format="parquet", out_of_core=True)
    memory = panel.build("real", study=folder, format="parquet", out_of_core=False)
    assert streamed.report["out_of_core"]["buckets"] >= 1
    for name in ("world", "destination", "products"):
        pd.testing.assert_frame_equal(streamed.frames[name], memory.frames[name], check_exact=True)
    capsys.readouterr()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.assign(hs=t["hs"].where(t.index != 3, "850519")), "holds hs 850519"),
        (lambda t: t.assign(flow="M"), "holds flow M"),
        (
            lambda t: t.assign(period=t["period"].where(t.index != 7, "2018-12")),
            "holds month\\(s\\) 2018-12",
        ),
        (
            lambda t: t.assign(reporter=t["reporter"].where(t.index != 2, "USA")),
            "holds reporter\\(s\\) 842",
        ),
        (lambda t: t.drop(columns=["hs"]), "needs column\\(s\\) hs"),
        (lambda t: t.assign(synthetic=True), "synthetic column is true"),
    ],
)
def test_a_parquet_import_that_does_not_answer_the_request_exits_2(
    data_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: object,
    message: str,
) -> None:
    path = tmp_path / "panel.parquet"
    assert callable(change)
    change(bilateral_table()).to_parquet(path, index=False)
    capsys.readouterr()
    assert main([*IMPORT_ARGS, "--from-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and __import__("re").search(message, err), err
    assert RawStore().vintages("comtrade") == []


def test_a_parquet_only_build_feeds_estimate_verify_and_the_report_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    study = Path(__file__).resolve().parents[1] / "analyses" / "japan_rare_earths"
    monkeypatch.setenv("REEXPORT_DATA_DIR", str(tmp_path / "data"))
    assert main(["data", str(study), "--offline"]) == 0
    assert main(["build", str(study), "--format", "parquet"]) == 0
    processed = tmp_path / "data" / "processed" / "japan_rare_earths"
    assert not list(processed.glob("*.csv")) and (processed / "metals.parquet").is_file()
    assert main(["verify"]) == 0
    results = tmp_path / "results"
    assert main(["estimate", str(study), "--output", str(results)]) == 0
    output = tmp_path / "report"
    assert main(["report", str(study), "--output", str(output), "--results", str(results)]) == 0
    for name in ("figure1_partner_shares", "figure2_hhi", "figure3_china_share_gpr"):
        assert (output / "figures" / f"{name}.png").stat().st_size > 10_000
    # The same estimates as from the CSV set (up to the CSV's decimal text of the amounts).
    assert main(["build", str(study)]) == 0
    from_csv = tmp_path / "results_csv"
    assert main(["estimate", str(study), "--output", str(from_csv)]) == 0
    for path in sorted(results.glob("*.json")):
        ours = json.loads(path.read_text())["models"]
        theirs = json.loads((from_csv / path.name).read_text())["models"]
        assert [m["name"] for m in ours] == [m["name"] for m in theirs]
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(
                list(a["params"].values()), list(b["params"].values()), rtol=1e-7, atol=1e-12
            )
    capsys.readouterr()


def test_verify_reads_the_synthetic_flag_of_a_processed_parquet(
    demo_store: RawStore, data_root: Path
) -> None:
    out = data_root / "processed" / "porcher2025"
    panel.build("demo", format="parquet")
    assert store.verify_processed(out)[0] == []
    # A forged table that says real inside a synthetic set, with its checksum re-listed.
    report_path = out / "build_report.json"
    report = json.loads(report_path.read_text())
    world = out / "world.parquet"
    forged = pq.read_table(world).to_pandas().assign(synthetic=False)
    sink = io.BytesIO()
    forged.to_parquet(sink, index=False)
    folder = world.resolve().parent
    folder.chmod(0o755)
    target = folder / "world.parquet"
    target.chmod(0o644)
    target.write_bytes(sink.getvalue())
    report["outputs"]["world.parquet"] = hashlib.sha256(sink.getvalue()).hexdigest()
    (folder / "build_report.json").chmod(0o644)
    (folder / "build_report.json").write_text(json.dumps(report))
    problems, _ = store.verify_processed(out)
    assert any("world.parquet: says synthetic false" in p for p in problems), problems
