"""`reexport fetch gpr|fred|comtrade --from-file`: files downloaded by hand become real vintages.

Real files come from ``../shared/data`` (the publisher's GPR workbooks, FRED CSVs and
recorded Comtrade bodies), read in place.  The Comtrade website's CSV export is written
here in the format of a real export (see :func:`website_csv`), filled with the synthetic
test records of ``tests/fixtures/comtrade`` or with the demo DGP's numbers: those
numbers are made up and only exercise the mechanics.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reexport.cli import main
from reexport.errors import SourceError
from reexport.sources import comtrade, demo, fred, gpr
from reexport.store import RawStore

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "comtrade"
WORLD_2017 = FIXTURES / "monthly_world_2017.json"
PARTNERS_2023 = FIXTURES / "monthly_partners_2023-01_2023-02.json"


def website_csv(records: list[dict[str, Any]]) -> bytes:
    """Records as the Comtrade website exports them (comtradeplus.un.org, "Download" as CSV).

    Format as in a real export (``TradeData.csv`` of China's 2022 trade in the public
    repository nikolinanikolovska/Economic-Analysis-Trade-ML, commit a41e4e9e): the
    API's 47 field names as an unquoted header; every value quoted text; booleans
    ``"true"``/``"false"``; a null an empty unquoted cell; one extra comma at the end
    of every data line; CRLF line ends; ISO-8859-1 text.
    """

    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return '"true"' if value else '"false"'
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return '"' + str(value).replace('"', '""') + '"'

    lines = [",".join(comtrade.RECORD_KEYS)]
    lines += [",".join(cell(r.get(k)) for k in comtrade.RECORD_KEYS) + "," for r in records]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _records(path: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(path.read_text())["data"]
    return data


def _only_source_folders(root: Path) -> None:
    """The raw store holds no vintage and no temp folder (a refusal stored nothing)."""
    assert [p for p in (root / "raw").glob("*/*")] == []
    assert RawStore().verify() == []


# --------------------------------------------------------------------------- GPR


@pytest.mark.shared
def test_gpr_workbook_from_a_file_is_a_real_vintage_with_its_origin(
    data_root: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_data / "gpr" / "data_gpr_export.xls"
    assert main(["fetch", "gpr", "--from-file", str(source)]) == 0
    assert "(imported from the file data_gpr_export.xls)" in capsys.readouterr().out
    (vintage,) = RawStore().vintages("gpr")
    assert not vintage.synthetic
    assert vintage.read_bytes("data_gpr_export.xls") == source.read_bytes()
    record = vintage.files[0]
    sha = record["sha256"]
    assert record["params"] == {"origin": "file", "file": "data_gpr_export.xls", "sha256": sha}
    assert record["url"] is None and record["status"] is None
    assert vintage.request["origin"] == "file"
    assert vintage.request["files"] == [{"name": "data_gpr_export.xls", "sha256": sha}]
    # No private folder entered the store.
    assert str(source.parent) not in (vintage.path / "manifest.json").read_text()
    assert gpr.parse(vintage)["series"].nunique() > 90
    # The same file again: a warm re-run, no second vintage.
    assert main(["fetch", "gpr", "--from-file", str(source)]) == 0
    assert "warm: already imported" in capsys.readouterr().out
    assert len(RawStore().vintages("gpr")) == 1
    # `reexport data --offline` uses it and says where it came from.
    assert main(["data", "--offline"]) == 3  # no trade data: incomplete, no demo
    assert "gpr: gpr/" in (out := capsys.readouterr().out)
    assert "imported from the file data_gpr_export.xls" in out


@pytest.mark.shared
def test_daily_gpr_from_a_file(data_root: Path, shared_data: Path) -> None:
    daily = shared_data / "gpr" / "data_gpr_daily_recent.xls"
    assert main(["fetch", "gpr", "--daily", "--from-file", str(daily)]) == 0
    (vintage,) = RawStore().vintages("gpr_daily")
    assert vintage.read_bytes("data_gpr_daily_recent.xls") == daily.read_bytes()
    # The monthly file is not the daily one.
    monthly = shared_data / "gpr" / "data_gpr_export.xls"
    assert main(["fetch", "gpr", "--daily", "--from-file", str(monthly)]) == 2


@pytest.mark.shared
def test_bad_gpr_files_are_refused_with_exit_2_and_nothing_stored(
    data_root: Path, shared_data: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    whole = (shared_data / "gpr" / "data_gpr_export.xls").read_bytes()
    cut = tmp_path / "data_gpr_export.xls"
    cut.write_bytes(whole[: len(whole) // 3])
    page = tmp_path / "saved.xls"
    page.write_text("<!DOCTYPE html><html><body>Access denied</body></html>")
    fake = tmp_path / "demo.xls"
    fake.write_bytes(demo.gpr_xls_bytes(demo.generate(5)))
    expected = {
        cut: "the .xls workbook is truncated",
        page: "not a readable .xls workbook",
        fake: "SYNTHETIC_DEMO marker row says this is the SYNTHETIC demo",
        tmp_path / "missing.xls": "no such file",
    }
    for path, message in expected.items():
        assert main(["fetch", "gpr", "--from-file", str(path)]) == 2
        out, err = capfd.readouterr()
        (line,) = err.strip().splitlines()
        assert message in line and out == ""  # xlrd printed nothing either
    _only_source_folders(data_root)


# --------------------------------------------------------------------------- FRED


@pytest.mark.shared
def test_fred_csvs_from_files(
    data_root: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [shared_data / "fred" / "EXCHUS.csv", shared_data / "fred" / "INDPRO.csv"]
    argv = ["fetch", "fred", "--from-file", str(files[0]), "--from-file", str(files[1])]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "imported from EXCHUS.csv, INDPRO.csv" in out
    assert "EXCHUS 96/96 months, INDPRO 96/96 months" in out
    (vintage,) = RawStore().vintages("fred")
    assert vintage.names == ["EXCHUS.csv", "INDPRO.csv"]
    assert vintage.read_bytes("INDPRO.csv") == files[1].read_bytes()
    assert vintage.request["series"] == ["EXCHUS", "INDPRO"]
    assert fred.parse(vintage)["period"].nunique() == 96
    # --series must name what the files hold.
    assert main([*argv, "--series", "EXCHUS"]) == 2


def test_fred_file_cut_before_the_end_or_from_the_demo_is_refused(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = demo.fred_csv_bytes(demo.generate(9), "EXCHUS")
    cut = tmp_path / "EXCHUS.csv"
    cut.write_bytes(b"".join(body.splitlines(keepends=True)[:49]))  # 48 months, a line boundary
    assert main(["fetch", "fred", "--from-file", str(cut)]) == 2
    err = capsys.readouterr().err
    assert "ends at 2020-12, before --end 2024-12, so it may be cut short" in err
    # A copy of a stored demo file has no marker in its content: its sha256 gives it away.
    assert main(["demo", "--seed", "9"]) == 0
    copy = tmp_path / "copy" / "EXCHUS.csv"
    copy.parent.mkdir()
    shutil.copy(next((data_root / "raw" / "fred").glob("demo-9/EXCHUS.csv")), copy)
    capsys.readouterr()
    assert main(["fetch", "fred", "--from-file", str(copy)]) == 2
    assert "SYNTHETIC demo file EXCHUS.csv of fred/demo-9" in capsys.readouterr().err
    assert RawStore().vintages("fred", synthetic=False) == []


# --------------------------------------------------------------------------- Comtrade


def test_comtrade_website_csv_export_parses_like_the_api_answer(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "TradeData_12_1_2026.csv"
    export.write_bytes(website_csv(_records(WORLD_2017)))
    argv = ["fetch", "comtrade", "--start", "2017-01", "--end", "2017-12"]
    assert main([*argv, "--from-file", str(export)]) == 0
    out = capsys.readouterr().out
    assert "imported from TradeData_12_1_2026.csv" in out and "12/12 months" in out
    (vintage,) = RawStore().vintages("comtrade")
    assert vintage.names == ["file_01.csv"]
    assert vintage.read_bytes(vintage.names[0]) == export.read_bytes()
    from_csv = comtrade.parse(vintage)
    from_api = comtrade.parse_bytes(WORLD_2017.read_bytes())
    columns = [c for c in comtrade.TRADE_COLUMNS if c != "vintage"]
    assert from_csv[columns].equals(from_api[columns])  # breakdown rows dropped in both
    # The JSON answer itself, saved from a browser, is accepted too (another file: a new vintage).
    assert main([*argv, "--from-file", str(WORLD_2017)]) == 0
    assert [v.names for v in RawStore().vintages("comtrade")][1] == ["file_01.json"]


def test_comtrade_files_that_do_not_answer_the_request_are_refused(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    records = _records(WORLD_2017)
    lines = website_csv(records).split(b"\r\n")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"\r\n".join(lines[:5]) + b"\r\n" + lines[5][:40])  # cut mid-line
    short = tmp_path / "short.json"
    short.write_text(
        json.dumps({"elapsedTime": "1", "count": 14, "data": records[:7], "error": ""})
    )
    partners = tmp_path / "partners.csv"
    partners.write_bytes(website_csv(_records(PARTNERS_2023)))
    fake = tmp_path / "demo.json"
    fake.write_bytes(demo.comtrade_bodies(demo.generate(3), "world")[0][1])
    annual = (
        shared_data
        / "comtrade"
        / "comtradr_recorded_body_data_v1_get_C_A_HS_reporter156_2010_TOTAL.json"
    )
    cases = [
        (cut, ["--end", "2017-12"], "fields where the header has 47, so the file is cut short"),
        (short, ["--end", "2017-12"], "counts 14 rows but holds 7, so it is truncated"),
        (
            partners,
            ["--start", "2023-01", "--end", "2023-02"],
            "but the request is --partner world",
        ),
        (partners, ["--partner", "all", "--end", "2022-12"], "month(s) 2023-01, 2023-02"),
        (fake, ["--end", "2017-12"], 'the demo envelope\'s "elapsedTime": "SYNTHETIC DEMO"'),
        (annual, ["--end", "2017-12"], "is annual"),
    ]
    for path, options, message in cases:
        assert main(["fetch", "comtrade", *options, "--from-file", str(path)]) == 2, message
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert message in line
    _only_source_folders(data_root)
    # The partner file does answer a request for those partners.
    argv = ["--partner", "all", "--start", "2023-01", "--end", "2023-02", "--from-file"]
    assert main(["fetch", "comtrade", *argv, str(partners)]) == 0


def test_several_comtrade_exports_make_one_vintage(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A span downloaded in pieces (the API answers 12 months a call) is one vintage."""
    records = [r for r in _records(WORLD_2017) if r["motCode"] == 0 and r["customsCode"] == "C00"]
    first, second = tmp_path / "h1.csv", tmp_path / "h2.csv"
    first.write_bytes(website_csv(records[:6]))
    second.write_bytes(website_csv(records[6:]))
    argv = ["fetch", "comtrade", "--end", "2017-12", "--from-file", str(first)]
    assert main([*argv, "--from-file", str(second)]) == 0
    assert "2 files, 12 rows, 12/12 months" in capsys.readouterr().out
    (vintage,) = RawStore().vintages("comtrade")
    assert vintage.names == ["file_01.csv", "file_02.csv"]
    # Two files that disagree about one month are refused, as two API answers would be.
    changed = [dict(r, netWgt=1.0) for r in records[5:7]]
    clash = tmp_path / "clash.csv"
    clash.write_bytes(website_csv(changed))
    assert main([*argv, "--from-file", str(clash)]) == 2
    assert "two different rows for period 2017-06" in capsys.readouterr().err
    assert len(RawStore().vintages("comtrade")) == 1


# --------------------------------------------------------------------------- the README's recipe


def _demo_customs_csv(path: Path) -> None:
    """A China-customs CSV (period,value in t), a stand-in with the demo DGP's made-up numbers."""
    rows = csv.DictReader(io.StringIO(demo.customs_csv_bytes(demo.generate(41)).decode()))
    lines = [f"{row['period']},{float(row['value']):.1f}\n" for row in rows]
    path.write_text("period,value\n" + "".join(lines))


def _demo_partner_export(path: Path) -> None:
    """China's HS 850511 exports by partner, 2017-2024, as the website exports them (made up)."""
    records: list[dict[str, Any]] = []
    for _name, body, _params in demo.comtrade_bodies(demo.generate(41), "all"):
        records += json.loads(body)["data"]
    path.write_bytes(website_csv(records))


@pytest.mark.slow
@pytest.mark.shared
def test_the_offline_recipe_runs_from_a_clean_data_dir(tmp_path: Path, shared_data: Path) -> None:
    """README "Offline: data downloaded by hand": demo run, imports, then a real `make reproduce`."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    data, out = tmp_path / "data", tmp_path / "output"
    customs, export = tmp_path / "customs_85051110.csv", tmp_path / "TradeData.csv"
    _demo_customs_csv(customs)
    _demo_partner_export(export)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMTRADE")}
    env["REEXPORT_DATA_DIR"] = str(data)
    reexport = str(Path(sys.executable).with_name("reexport"))
    make = ["make", "-s", "-C", str(ROOT), "reproduce", f"DATA_DIR={data}", f"STUDY_OUT={out}"]

    def run(command: list[str]) -> str:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return done.stdout

    started = time.monotonic()
    run([*make, "DEMO=1"])
    assert json.loads((out / "scorecard.json").read_text())["synthetic"] is True
    run([reexport, "import-series", str(customs), "--name", "customs_85051110", "--unit", "t"])
    run([reexport, "fetch", "gpr", "--from-file", str(shared_data / "gpr" / "data_gpr_export.xls")])
    run([reexport, "fetch", "comtrade", "--partner", "all", "--from-file", str(export)])
    run([*make, "REPRODUCE_DATA_FLAGS=--offline"])
    scorecard = json.loads((out / "scorecard.json").read_text())
    assert scorecard["synthetic"] is False
    report = json.loads((data / "processed" / "porcher2025" / "build_report.json").read_text())
    assert report["synthetic"] is False
    # Nothing changed: nothing to do.  DEMO=1 again would rebuild from the demo (a dry run
    # shows the plan; running it costs another reproduce).
    assert "reexport" not in run([*make[:1], "-n", *make[2:]])
    plan = run([*make[:1], "-n", *make[2:], "DEMO=1"])
    assert "reexport build analyses/porcher2025 --vintage demo" in plan, plan
    print(f"offline recipe: {time.monotonic() - started:.1f} s")


def test_export_csv_cells_are_read_as_the_api_would_give_them() -> None:
    records = _records(WORLD_2017)
    back = comtrade.read_export_csv(website_csv(records))
    assert len(back) == len(records)
    first = back[0]
    assert first["isQtyEstimated"] is False and first["isReported"] is True
    assert first["cifvalue"] is None and first["period"] == "201701"
    # UTF-8 with a BOM reads the same; a flag that is not a boolean is refused.
    bom = b"\xef\xbb\xbf" + website_csv(records).decode("latin-1").encode("utf-8")
    assert comtrade.read_export_csv(bom) == back
    broken = website_csv(records).replace(b'"false"', b'"maybe"', 1)
    with pytest.raises(SourceError, match="is not true/false"):
        comtrade.read_export_csv(broken)
