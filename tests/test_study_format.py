"""Study folders as data: the documented minimal example runs with no package edit, and a
bad declaration is refused with one line naming the file and the key (exit 2)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reexport import acquire, cli, panel
from reexport.errors import BadInputError
from reexport.study import load_study

ROOT = Path(__file__).resolve().parents[1]
FORMAT_DOC = ROOT / "docs" / "study_format.md"
PORCHER = ROOT / "analyses" / "porcher2025"

#: ``analyses/mystudy/<file>``: followed by a fenced block with the file's content.
_FILE_BLOCK = re.compile(r"^`analyses/mystudy/([^`]+)`:\n\n```[a-z]*\n(.*?)^```", re.M | re.S)


def copy_minimal_example(parent: Path) -> Path:
    """Write every file of the doc's minimal example into ``parent/mystudy``, as a user would."""
    section = FORMAT_DOC.read_text(encoding="utf-8").split("## A minimal study to copy", 1)[1]
    files = _FILE_BLOCK.findall(section)
    assert {name for name, _ in files} >= {"study.toml", "specs/main.toml", "report.toml"}
    folder = parent / "mystudy"
    for name, text in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_the_documented_minimal_study_runs_on_the_demo(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_minimal_example(tmp_path / "analyses")
    # Offline with an empty store, `reexport data STUDY` writes the synthetic demo.
    assert cli.main(["data", str(folder), "--offline"]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    assert cli.main(["build", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "build mystudy (demo)" in out
    processed = data_root / "processed" / "mystudy"
    monthly = pd.read_csv(processed / "monthly.csv", dtype={"period": str})
    assert list(monthly.columns) == ["period", "tonnes", "GPR", "month", "year", "synthetic"]
    assert len(monthly) == 96 and monthly["synthetic"].all()
    report = json.loads((processed / "build_report.json").read_text())
    assert report["study"]["name"] == "mystudy" and report["synthetic"] is True
    assert cli.main(["estimate", str(folder)]) == 0
    results = json.loads((folder / "output" / "results" / "main.json").read_text())
    assert results["data"]["synthetic"] is True
    assert [m["name"] for m in results["models"]] == ["gpr"]
    assert cli.main(["report", str(folder)]) == 0
    index = (folder / "output" / "report.md").read_text()
    assert "SYNTHETIC DEMO DATA" in index
    assert (folder / "output" / "tables" / "main.md").is_file()


def test_two_studies_keep_their_own_processed_sets(data_root: Path, tmp_path: Path) -> None:
    folder = copy_minimal_example(tmp_path / "analyses")
    assert cli.main(["demo"]) == 0
    assert cli.main(["build", str(PORCHER)]) == 0
    porcher = data_root / "processed" / "porcher2025"
    before = {p.name: p.read_bytes() for p in porcher.iterdir()}
    assert cli.main(["build", str(folder)]) == 0
    # Building the second study neither wiped nor changed the first study's set.
    assert {p.name: p.read_bytes() for p in porcher.iterdir()} == before
    assert (data_root / "processed" / "mystudy" / "monthly.csv").is_file()
    assert cli.main(["verify"]) == 0


def test_the_porcher_declaration_builds_the_world_and_destination_frames() -> None:
    study = load_study(PORCHER)
    assert study.name == "porcher2025"
    assert [f.name for f in study.frames] == ["world", "destination"]
    world, destination = study.frames
    assert world.by == ("period",) and world.prefer is not None
    assert destination.by == ("period", "partner") and destination.implied_zeros
    assert destination.partner_index is not None
    assert [e.name for e in study.estimates] == ["world", "destination"]


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    folder = copy_minimal_example(tmp_path / "analyses")
    path = folder / "study.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('reporter = ["CHN"]', 'reporter = ["XYZ"]', r"\[\[request\]\] #2: reporter: 'XYZ'"),
        ('hs = ["850511"]\nflow', 'hs = ["8505111"]\nflow', r"\[\[request\]\] #2: hs: HS code"),
        (
            'hs = ["850511"]\nflow',
            'hs = ["850599"]\nflow',
            r"\[\[request\]\] #2: hs: HS code '850599' is not in the HS nomenclature "
            r"\(reexport/data/hs/HS.json",
        ),
        (
            'trade = { reporter = "CHN", partner = "WLD", hs = ["850511"]',
            'trade = { reporter = "CHN", partner = "WLD", hs = ["280599"]',
            r"\[\[frame\]\] 'monthly' trade: hs: HS code '280599' is not in the HS nomenclature",
        ),
        ('indices = ["GPR"]', 'indices = ["EXCHUS"]', r"'monthly': indices: no \[\[request\]\]"),
        (
            'trade = { reporter = "CHN", partner = "WLD", hs = ["850511"]',
            'trade = { reporter = "CHN", partner = "WLD", hs = ["2846"]',
            r"'monthly': trade: no \[\[request\]\] provides",
        ),
        ('facts = "stated_facts.json"', 'facts = "none.json"', r"\[study\]: facts: .*none.json"),
        ('name = "mystudy"', 'nmae = "mystudy"', r"\[study\]: unknown key 'nmae'"),
        ("[[frame]]", "[[frames]]", r"unknown key 'frames'"),
        ('by = ["period"]', 'by = ["partner"]', r"'monthly': by: "),
        (
            'values = { tonnes = "net_weight_t" }',
            'values = { tonnes = "weight" }',
            r"values.tonnes",
        ),
    ],
)
def test_a_bad_declaration_is_one_line_naming_file_and_key(
    tmp_path: Path,
    data_root: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    message: str,
) -> None:
    folder = _edited(tmp_path, old, new)
    with pytest.raises(BadInputError, match=message):
        load_study(folder)
    for command in ("data", "build", "estimate"):
        assert cli.main([command, str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(folder / "study.toml") in err, err
        assert re.search(message, err), err


def test_a_folder_without_a_declaration_or_a_study_part(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="has no study.toml"):
        load_study(tmp_path)
    with pytest.raises(BadInputError, match="does not exist"):
        load_study(tmp_path / "missing")
    folder = copy_minimal_example(tmp_path / "analyses")
    text = (folder / "study.toml").read_text()
    (folder / "study.toml").write_text(text.split("[[request]]", 1)[0])
    with pytest.raises(BadInputError, match=r"study.toml: no \[\[request\]\] tables"):
        load_study(folder)
    shutil.rmtree(folder / "specs")
    (folder / "study.toml").write_text(text)
    with pytest.raises(BadInputError, match=r"\[\[estimate\]\] #1: spec: .*does not exist"):
        load_study(folder)


def test_the_default_study_comes_from_the_environment_or_analyses_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reexport import study

    monkeypatch.delenv(study.STUDY_ENV, raising=False)
    assert study.default_folder().resolve() == PORCHER.resolve()
    folder = copy_minimal_example(tmp_path / "analyses")
    monkeypatch.setenv(study.STUDY_ENV, str(folder))
    assert load_study().name == "mystudy"


def test_an_all_partner_pull_supplies_the_world_frame(data_root: Path, tmp_path: Path) -> None:
    """A study that requests only `partner = "all"` builds its world frame from the World rows."""
    folder = _edited(tmp_path, 'partner = "world"', 'partner = "all"')
    assert cli.main(["demo"]) == 0
    result = panel.build("demo", study=folder)
    (item,) = result.inputs.frames.values()
    assert item.vintage is not None and item.vintage.request["partner"] == "all"
    trade = result.trade_flows
    world = trade[trade["partner"] == "WLD"].set_index("period")["net_weight_t"]
    monthly = result.frames["monthly"].set_index("period")["tonnes"]
    assert len(monthly) == 96 and (monthly - world.reindex(monthly.index)).abs().max() == 0


def test_data_tasks_are_the_declared_requests(tmp_path: Path) -> None:
    folder = copy_minimal_example(tmp_path / "analyses")
    tasks = acquire.study_tasks(load_study(folder))
    assert [(t.role, t.source, t.optional) for t in tasks] == [
        ("gpr", "gpr", ""),
        ("comtrade_world", "comtrade", ""),
    ]
    porcher = acquire.study_tasks(load_study(PORCHER))
    assert [t.role for t in porcher] == ["gpr", "comtrade_world", "comtrade_partners", "fred"]
    assert porcher[-1].optional


def test_build_report_carries_the_trade_quality_checks(data_root: Path) -> None:
    """build_report.json holds reexport.quality's checks of the study's tidy trade table."""
    from reexport import quality

    assert cli.main(["demo"]) == 0
    result = panel.build("demo", study=PORCHER)
    checks = result.report["quality"]["trade_checks"]
    expected = quality.trade_checks(result.trade_flows, window=("2017-01", "2024-12"))
    assert json.loads(json.dumps(checks["checks"])) == json.loads(json.dumps(expected))
    assert checks["checks"]["settings"]["window"] == ["2017-01", "2024-12"]
    assert checks["checks"]["settings"]["area_classifier"] == "comtrade reference table"
    # China's exports only: no importer's side to mirror.
    assert checks["mirror"] == []
