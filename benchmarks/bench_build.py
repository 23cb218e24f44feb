"""Benchmark: building a 20-million-row bilateral panel from Parquet, out of core vs in memory.

Generates (seeded, synthetic, in a temp folder) a tidy bilateral trade table --
reporter x partner x product x month, value and weight, plus each reporter's World
rows -- as one Parquet file, stores it as a real Comtrade vintage of a temp raw store
(as ``reexport fetch comtrade --from-file`` would keep it: byte for byte, sha256 in the
manifest) and declares a study with three frames over it: one reporter's world exports
of one product (``by = ["period"]``), exports to every partner of five products summed
over reporters (``by = ["period", "partner"]``) and every product by month
(``by = ["period", "hs"]``, all of the table).  Then it runs ``panel.build`` twice, each
in a fresh Python process:

* ``out-of-core``: :mod:`reexport.outofcore` (bucket by bucket, pyarrow batches);
* ``in-memory``: the same build reading the whole table into pandas
  (``out_of_core=False``), as every build did before.

Both write Parquet sets (``--format parquet``) and both skip ``quality.trade_checks``
(whole-table unit-value, imputed-quantity and mirror checks that only an in-memory
build can run, at about a minute per million rows here), so they do the same work.  For each it prints wall time, peak
resident memory (the child's ``VmHWM``, and ``ru_maxrss`` from ``wait4``) and the
ratios; the frames and the tidy table of the two builds must have the same content
checksums (``table_sha256`` of their sidecars; checked).  ``--quick`` runs a
1-million-row table.  Not a test: run ``make bench`` (``BENCH_FLAGS=--quick``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261202
FULL = {"months": 180, "reporters": 25, "partners": 60, "products": 75}  # 20.25M rows
QUICK = {"months": 60, "reporters": 10, "partners": 40, "products": 42}  # 1.0M rows
START_YEAR = 2010
RAW_NAME = "bilateral.parquet"
ROOT = Path(__file__).resolve().parent.parent


def _codes(size: dict[str, int]) -> tuple[list[str], list[str], list[str]]:
    """Real reporter and partner ISO3 codes (Comtrade's tables) and real HS6 codes.

    The products are the first six-digit codes of HS chapters 28 and 85 (inorganic
    chemicals; electrical machinery, where the magnets are) in the shipped
    nomenclature, since requests refuse codes no HS edition has.
    """
    sys.path.insert(0, str(ROOT))
    from reexport.sources import areas, hs

    countries = [
        a.iso3
        for a in areas.areas("reporter")
        if a.current and not a.is_group and a.iso3 and len(a.iso3) == 3 and a.iso3 != "WLD"
    ]
    countries = sorted(dict.fromkeys(countries))
    reporters = countries[: size["reporters"]]
    partners = [c for c in countries if c not in reporters][: size["partners"]]
    candidates = [
        f"{c:04d}{s:02d}" for c in (*range(2801, 2854), *range(8501, 8549)) for s in range(0, 100)
    ]
    products = [code for code in candidates if hs.is_known(code)][: size["products"]]
    if len(products) < size["products"]:
        raise SystemExit(f"only {len(products)} HS6 codes in chapters 28 and 85")
    return reporters, partners, products


def generate(path: Path, size: dict[str, int]) -> int:
    """Write the synthetic table, one row group per month; returns its row count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    reporters, partners, products = _codes(size)
    rng = np.random.default_rng(SEED)
    # Every reporter trades with every partner and product (a dense panel), and reports
    # its World total of each product.
    cells_r = np.repeat(np.arange(len(reporters)), len(partners) * len(products))
    cells_p = np.tile(np.repeat(np.arange(len(partners)), len(products)), len(reporters))
    cells_h = np.tile(np.arange(len(products)), len(reporters) * len(partners))
    world_r = np.repeat(np.arange(len(reporters)), len(products))
    world_h = np.tile(np.arange(len(products)), len(reporters))
    reporter_dict = pa.array(reporters)
    partner_dict = pa.array([*partners, "WLD"])
    product_dict = pa.array(products)
    rows = 0
    writer = None
    try:
        for month in range(size["months"]):
            period = f"{START_YEAR + month // 12}-{month % 12 + 1:02d}"
            n = len(cells_r) + len(world_r)
            value = rng.lognormal(10.0, 1.5, n)
            weight = value / rng.uniform(20_000, 60_000, n)
            partner_index = np.concatenate([cells_p, np.full(len(world_r), len(partners))])
            table = pa.table(
                {
                    "period": pa.array([period] * n),
                    "reporter": pa.DictionaryArray.from_arrays(
                        pa.array(np.concatenate([cells_r, world_r]).astype(np.int32)),
                        reporter_dict,
                    ).cast(pa.string()),
                    "partner": pa.DictionaryArray.from_arrays(
                        pa.array(partner_index.astype(np.int32)), partner_dict
                    ).cast(pa.string()),
                    "flow": pa.array(["X"] * n),
                    "hs": pa.DictionaryArray.from_arrays(
                        pa.array(np.concatenate([cells_h, world_h]).astype(np.int32)), product_dict
                    ).cast(pa.string()),
                    "hs_edition": pa.array(["H4" if month < 96 else "H5"] * n),
                    "value_usd": pa.array(np.round(value, 2)),
                    "net_weight_t": pa.array(np.round(weight, 6)),
                    "qty_unit": pa.array(["kg"] * n),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(str(path), table.schema, compression="zstd")
            writer.write_table(table)
            rows += n
    finally:
        if writer is not None:
            writer.close()
    return rows


def prepare(folder: Path, size: dict[str, int]) -> tuple[Path, Path, int]:
    """The raw store (one Comtrade vintage holding the table) and the study folder."""
    sys.path.insert(0, str(ROOT))
    from reexport.sources import comtrade
    from reexport.store import RawStore

    reporters, partners, products = _codes(size)
    table = folder / RAW_NAME
    rows = generate(table, size)
    content = table.read_bytes()
    table.unlink()
    last = size["months"] - 1
    start, end = f"{START_YEAR}-01", f"{START_YEAR + last // 12}-{last % 12 + 1:02d}"
    request = comtrade.make_request(
        reporter=reporters, partner="all", hs=products, flow=["X"], start=start, end=end
    )
    logical = {
        **request.logical(),
        "origin": "file",
        "files": [{"name": RAW_NAME, "sha256": hashlib.sha256(content).hexdigest()}],
    }
    data_root = folder / "data"
    with RawStore(data_root / "raw").writer("comtrade", logical) as writer:
        writer.add(
            RAW_NAME, content, url=None, params={"origin": "file"}, status=None, content_type=None
        )
    del content
    study = folder / "study"
    study.mkdir()
    (study / "facts.json").write_text("{}\n")

    def toml_list(values: list[str]) -> str:
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    (study / "study.toml").write_text(
        f"""[study]
name = "bench"
title = "Synthetic bilateral panel (benchmark)"
window = ["{start}", "{end}"]
facts = "facts.json"

[[request]]
source = "comtrade"
reporter = {toml_list(reporters)}
partner = "all"
hs = {toml_list(products)}
flow = ["X"]
frequency = "M"

[[frame]]
name = "world"
trade = {{ reporter = "{reporters[0]}", partner = "WLD", hs = ["{products[0]}"], flow = "X" }}
by = ["period"]
values = {{ exports_t = "net_weight_t", exports_usd = "value_usd" }}
series_column = "export_series"

[[frame]]
name = "destination"
trade = {{ reporter = {toml_list(reporters)}, partner = "all", hs = {toml_list(products[:5])}, flow = "X" }}
by = ["period", "partner"]
values = {{ exports_t = "net_weight_t", exports_usd = "value_usd" }}
implied_zeros = true

[[frame]]
name = "products"
trade = {{ reporter = {toml_list(reporters)}, partner = "all", hs = {toml_list(products)}, flow = "X" }}
by = ["period", "hs"]
values = {{ exports_usd = "value_usd" }}
"""
    )
    return data_root, study, rows


def child(mode: str, study: str, out_dir: str) -> None:
    """One build in this (fresh) process; prints a JSON line with its time and memory."""
    sys.path.insert(0, str(ROOT))
    from reexport import panel

    started = time.perf_counter()
    result = panel.build(
        "real",
        study=study,
        out_dir=Path(out_dir),
        format="parquet",
        out_of_core=mode == "out-of-core",
        # The whole-table checks of quality.trade_checks exist only in memory (minutes
        # per million rows); both builds skip them so they do the same work.
        trade_checks=False,
    )
    wall = time.perf_counter() - started
    status = Path("/proc/self/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    print(
        json.dumps(
            {
                "wall_s": wall,
                "vmhwm_kb": hwm,
                "rows": result.report["rows"],
                "buckets": result.report.get("out_of_core", {}).get("buckets"),
            }
        )
    )


def _watch(process: subprocess.Popen[str], limit_kb: int, killed: list[int]) -> None:
    """Kill the child if its resident memory passes ``limit_kb`` (the machine is shared)."""
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            text = status.read_text()
        except OSError:
            return
        rss = next((int(x.split()[1]) for x in text.splitlines() if x.startswith("VmRSS")), 0)
        if rss > limit_kb:
            killed.append(rss)
            process.kill()
            return
        time.sleep(0.2)


def run_child(
    mode: str, data_root: Path, study: Path, out_dir: Path, limit_kb: int
) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and collect its report and rusage."""
    env = {**os.environ, "REEXPORT_DATA_DIR": str(data_root), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--child", mode, str(study), str(out_dir)]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    killed: list[int] = []
    watcher = threading.Thread(target=_watch, args=(process, limit_kb, killed), daemon=True)
    watcher.start()
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    watcher.join()
    if killed:
        raise SystemExit(
            f"bench_build: the {mode} build passed {limit_kb / 2**20:.1f} GiB resident "
            f"({killed[0] / 2**20:.1f} GiB) and was stopped (--max-rss-gib)"
        )
    if process.returncode != 0:
        raise SystemExit(f"bench_build: the {mode} build failed (exit {process.returncode})")
    record: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    record["process_s"] = time.perf_counter() - started
    record["maxrss_kb"] = usage.ru_maxrss
    record["checksums"] = {
        p.name: json.loads(p.read_text()).get("table_sha256")
        for p in sorted(out_dir.glob("*.meta.json"))
    }
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-million-row table")
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=18.0,
        help="stop a build whose resident memory passes this (default 18 GiB)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("MODE", "STUDY", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    size = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="reexport-bench-build-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        data_root, study, rows = prepare(folder, size)
        raw = next((data_root / "raw" / "comtrade").glob("*/" + RAW_NAME))
        print(
            f"bilateral panel: {rows:,} rows ({size['reporters']} reporters x "
            f"{size['partners']} partners x {size['products']} products x {size['months']} "
            f"months, + World rows), Parquet {raw.stat().st_size / 2**20:.0f} MiB; "
            f"generated and stored in {time.perf_counter() - started:.1f} s"
        )
        results = {}
        for mode in ("out-of-core", "in-memory"):
            out_dir = data_root / "processed" / mode
            limit = int(args.max_rss_gib * 2**20)
            results[mode] = run_child(mode, data_root, study, out_dir, limit)
        same = results["out-of-core"]["checksums"] == results["in-memory"]["checksums"]
        header = (
            f"{'build':<12} {'wall s':>8} {'peak RSS MiB':>13} {'maxrss MiB':>11} {'buckets':>8}"
        )
        print(header)
        print("-" * len(header))
        for mode, record in results.items():
            print(
                f"{mode:<12} {record['wall_s']:>8.1f} {record['vmhwm_kb'] / 1024:>13.0f} "
                f"{record['maxrss_kb'] / 1024:>11.0f} {record['buckets'] or '-':>8}"
            )
        ooc, mem = results["out-of-core"], results["in-memory"]
        print(
            f"ratios in-memory / out-of-core: wall {mem['wall_s'] / ooc['wall_s']:.2f}x, "
            f"peak RSS {mem['vmhwm_kb'] / ooc['vmhwm_kb']:.2f}x"
        )
        print(f"frames and tidy table identical (content checksums): {same}")
        if not same:
            print(json.dumps(results, indent=1))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
