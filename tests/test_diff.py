"""``reexport diff``: values added, removed and revised between two vintages.

The small FRED and user-series files below are written here (invented numbers,
documented formats) for exact expectations; the real case is the publisher's GPR
workbook in two vintages in ``../shared/data/gpr/`` (see its PROVENANCE.md),
imported into a temporary raw store as ``reexport fetch gpr --from-file`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from reexport import diff
from reexport.cli import main
from reexport.errors import BadInputError
from reexport.sources import comtrade, fred, gpr, userseries
from reexport.store import RawStore

EXCHUS_A = "observation_date,EXCHUS\n2017-01-01,6.9\n2017-02-01,6.8\n2017-03-01,6.85\n"
EXCHUS_B = "observation_date,EXCHUS\n2017-01-01,6.9\n2017-02-01,6.5\n2017-03-01,.\n"
INDPRO_A = "observation_date,INDPRO\n2017-01-01,100\n2017-02-01,0\n2017-03-01,.\n"
INDPRO_B = "observation_date,INDPRO\n2017-01-01,100\n2017-02-01,2\n2017-03-01,101\n"


def import_fred(tmp_path: Path, store: RawStore, tag: str, exchus: str, indpro: str) -> str:
    folder = tmp_path / tag
    folder.mkdir()
    paths = []
    for name, text in (("EXCHUS", exchus), ("INDPRO", indpro)):
        path = folder / f"{name}.csv"
        path.write_text(text)
        paths.append(path)
    vintage, _warm = fred.import_files(paths, "2017-01", "2017-03", store=store)
    return vintage.id


def test_diff_frames_exact_statuses() -> None:
    old = pd.DataFrame(
        {
            "series": ["A", "A", "A", "B"],
            "period": ["1", "2", "3", "1"],
            "value": [1.0, 2.0, 3.0, 0.0],
        }
    )
    new = pd.DataFrame(
        {
            "series": ["A", "A", "B", "C"],
            "period": ["1", "2", "1", "1"],
            "value": [1.0, 2.5, 4.0, 7.0],
        }
    )
    out = diff.diff_frames(old, new, ["series"])
    assert out[["series", "period", "status"]].values.tolist() == [
        ["A", "2", "revised"],
        ["A", "3", "removed"],
        ["B", "1", "revised"],
        ["C", "1", "added"],
    ]
    assert out["abs_change"].iloc[0] == 0.5 and out["rel_change"].iloc[0] == 0.25
    assert pd.isna(out["rel_change"].iloc[2])  # old value 0: no relative change
    assert pd.isna(out["abs_change"].iloc[1]) and out["old"].iloc[1] == 3.0


def test_fred_vintages_exact(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RawStore()
    a = import_fred(tmp_path, store, "a", EXCHUS_A, INDPRO_A)
    b = import_fred(tmp_path, store, "b", EXCHUS_B, INDPRO_B)
    out = tmp_path / "diff.json"
    assert main(["diff", "fred", "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    assert (result["vintage_a"]["id"], result["vintage_b"]["id"]) == (a, b)
    assert result["counts"] == {"added": 1, "removed": 1, "revised": 2, "series_changed": 2}
    assert result["same_request"] is True  # other files, the same months asked
    changes = {(c["series"], c["period"]): c for c in result["changes"]}
    assert set(changes) == {
        ("EXCHUS", "2017-02"),
        ("EXCHUS", "2017-03"),
        ("INDPRO", "2017-02"),
        ("INDPRO", "2017-03"),
    }
    exchus = changes[("EXCHUS", "2017-02")]
    assert exchus["status"] == "revised" and exchus["old"] == 6.8 and exchus["new"] == 6.5
    assert exchus["abs_change"] == pytest.approx(-0.3)
    assert exchus["rel_change"] == pytest.approx(-0.3 / 6.8)
    assert changes[("EXCHUS", "2017-03")]["status"] == "removed"
    assert changes[("INDPRO", "2017-03")] == {
        "series": "INDPRO",
        "period": "2017-03",
        "status": "added",
        "old": None,
        "new": 101.0,
        "abs_change": None,
        "rel_change": None,
    }
    assert changes[("INDPRO", "2017-02")]["rel_change"] is None  # from 0
    printed = capsys.readouterr().out
    assert f"fred: {a} -> {b}: 2 series changed (2 values revised, 1 added, 1 removed)" in printed
    assert "EXCHUS: 2017-02..2017-03 1 revised, 1 removed; largest 2017-02: 6.8 -> 6.5" in printed
    # Named explicitly, in the other direction: added and removed swap.
    assert main(["diff", "fred", b, a]) == 0
    assert "(2 values revised, 1 added, 1 removed)" in capsys.readouterr().out


def test_trade_source_compares_every_measure(data_root: Path, tmp_path: Path) -> None:
    store = RawStore()
    path = tmp_path / "cc.csv"
    path.write_text("period,value\n2020-01,10\n2020-02,20\n")
    spec = userseries.make_spec(path, name="cc")
    old, _warm, _rows = userseries.import_series(path, spec, store=store)
    path.write_text("period,value\n2020-01,10\n2020-02,21\n2020-03,5\n")
    new, _warm, _rows = userseries.import_series(path, spec, store=store)
    result = diff.diff_vintages(old, new)
    revised = [c for c in result["changes"] if c["status"] == "revised"]
    assert [(c["measure"], c["period"], c["old"], c["new"]) for c in revised] == [
        ("net_weight_t", "2020-02", 20.0, 21.0)
    ]
    added = [c for c in result["changes"] if c["status"] == "added"]
    assert [(c["measure"], c["period"]) for c in added] == [("net_weight_t", "2020-03")]
    assert result["series_key"] == ["reporter", "partner", "flow", "hs", "measure", "period"]


COMTRADE_FIXTURES = Path(__file__).parent / "fixtures" / "comtrade"


def test_comtrade_vintages(data_root: Path, tmp_path: Path) -> None:
    """Two imports of the (synthetic-schema, invented-number) 2017 World fixture, one revised."""
    original = COMTRADE_FIXTURES / "monthly_world_2017.json"
    body = json.loads(original.read_text())
    for record in body["data"]:
        if (
            record["period"] == "201705"
            and record["motCode"] == 0
            and record["customsCode"] == "C00"
        ):
            old_value = record["primaryValue"]
            record["primaryValue"] = record["fobvalue"] = old_value + 1000.0
            record["netWgt"] = None
    revised = tmp_path / "revised.json"
    revised.write_text(json.dumps(body, separators=(",", ":")))
    request = comtrade.make_request(start="2017-01", end="2017-12")
    store = RawStore()
    old, _warm = comtrade.import_files([original], request, store=store)
    new, _warm = comtrade.import_files([revised], request, store=store)
    result = diff.diff_vintages(old, new)
    assert result["same_request"] is True
    assert [(c["measure"], c["period"], c["status"]) for c in result["changes"]] == [
        ("net_weight_t", "2017-05", "removed"),
        ("value_usd", "2017-05", "revised"),
    ]
    value = result["changes"][1]
    assert value["partner"] == "WLD" and value["abs_change"] == 1000.0
    assert value["old"] == old_value and value["rel_change"] == pytest.approx(1000.0 / old_value)


def test_bad_input_one_line(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RawStore()
    assert main(["diff", "nosuch"]) == 2
    assert "unknown source 'nosuch'" in capsys.readouterr().err
    a = import_fred(tmp_path, store, "a", EXCHUS_A, INDPRO_A)
    assert main(["diff", "fred"]) == 2
    assert "fred has 1 real vintage(s)" in capsys.readouterr().err
    assert main(["diff", "fred", a]) == 2
    assert main(["diff", "fred", a, "20990101T000000Z"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "no vintage '20990101T000000Z'" in err
    with store.writer("fred", {"demo": {"seed": 7}}, synthetic=True, vintage_id="demo-7") as writer:
        writer.add("EXCHUS.csv", b"observation_date,EXCHUS\n2017-01-01,7\n", url="synthetic:x")
    demo = "demo-7"
    assert main(["diff", "fred", demo, a]) == 2
    err = capsys.readouterr().err
    assert f"vintage {demo} is the SYNTHETIC demo and {a} is real" in err
    assert err.count("\n") == 1
    # The default pair is real vintages only: the demo is never picked.
    b = import_fred(tmp_path, store, "b", EXCHUS_B, INDPRO_B)
    first, second = diff.pick_vintages(store, "fred", None, None)
    assert (first.id, second.id) == (a, b)
    with pytest.raises(BadInputError, match="both vintages"):
        diff.pick_vintages(store, "fred", a, a)


def test_real_gpr_vintages(
    shared_data: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = shared_data / "gpr" / "vintage_2025-12" / "data_gpr_export.xls"
    newer = shared_data / "gpr" / "data_gpr_export.xls"
    assert main(["fetch", "gpr", "--from-file", str(older)]) == 0
    assert main(["fetch", "gpr", "--from-file", str(newer)]) == 0
    capsys.readouterr()
    out = tmp_path / "gpr.json"
    assert main(["diff", "gpr", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    changes = {(c["series"], c["period"]): c for c in result["changes"]}
    # By hand from the two workbooks: GPR 2025-12 read 127.32, now 130.96 (PROVENANCE.md).
    sheets = {
        name: pd.read_excel(path, usecols=["month", "GPR", "GPRC_CHN"])
        .assign(period=lambda f: f["month"].dt.strftime("%Y-%m"))
        .set_index("period")
        for name, path in (("old", older), ("new", newer))
    }
    gpr_2025_12 = changes[("GPR", "2025-12")]
    assert gpr_2025_12["status"] == "revised"
    assert gpr_2025_12["old"] == pytest.approx(sheets["old"].loc["2025-12", "GPR"])
    assert gpr_2025_12["new"] == pytest.approx(sheets["new"].loc["2025-12", "GPR"])
    assert round(gpr_2025_12["old"], 2) == 127.32 and round(gpr_2025_12["new"], 2) == 130.96
    china = changes[("GPRC_CHN", "2025-08")]
    assert china["old"] == pytest.approx(sheets["old"].loc["2025-08", "GPRC_CHN"])
    assert china["new"] == pytest.approx(sheets["new"].loc["2025-08", "GPRC_CHN"])
    # 2026-01..2026-04 are new; 2017-2024 are identical in both vintages.
    assert [
        changes[("GPR", p)]["status"] for p in ("2026-01", "2026-02", "2026-03", "2026-04")
    ] == ["added"] * 4
    assert changes[("GPR", "2026-03")]["new"] == pytest.approx(sheets["new"].loc["2026-03", "GPR"])
    assert min(period for _series, period in changes) == "2025-01"
    assert result["counts"]["removed"] == 0
    (gpr_summary,) = [s for s in result["series"] if s["series"] == "GPR"]
    assert gpr_summary["added"] == 4 and gpr_summary["revised"] >= 1
    assert gpr_summary["first"] >= "2025-01"
    assert printed.startswith("gpr: ")
    # The parser's own reading agrees with the diff on an unchanged month.
    old_vintage = RawStore().vintages("gpr")[0]
    frame = gpr.parse(old_vintage)
    value = frame.loc[(frame["series"] == "GPR") & (frame["period"] == "2022-03"), "value"].item()
    assert round(value, 1) == 319.0
