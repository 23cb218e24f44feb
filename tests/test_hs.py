"""The shipped HS nomenclature: known codes of every edition, unknown codes refused (exit 2)."""

from __future__ import annotations

import base64
import configparser
import csv
import fnmatch
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.sources import comtrade, hs
from reexport.study import load_study

ROOT = Path(__file__).resolve().parents[1]
HS_DIR = ROOT / "reexport" / "data" / "hs"


def _studies() -> list[Path]:
    return sorted(p.parent for p in (ROOT / "analyses").glob("*/study.toml"))


def _study_codes() -> Iterator[tuple[str, str]]:
    for folder in _studies():
        study = load_study(folder)
        for request in study.requests:
            for code in request.hs:
                yield folder.name, code
        for frame in study.frames:
            for code in frame.hs:
                yield folder.name, code


def test_each_shipped_file_is_the_recorded_one() -> None:
    provenance = (HS_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    for name, digest in hs.SHA256.items():
        assert hashlib.sha256((HS_DIR / name).read_bytes()).hexdigest() == digest, name
        # PROVENANCE.md states the same digest the loader checks.
        assert digest in provenance, name
    # Comtrade's own Content-MD5 of HS.json (PROVENANCE.md) matches the shipped bytes.
    md5 = hashlib.md5((HS_DIR / hs.COMBINED_FILE).read_bytes()).digest()
    assert base64.b64encode(md5).decode() == "btUP6IFvQeDUvwBtkmS3pg=="


def test_every_code_the_studies_use_is_known_in_both_recent_editions() -> None:
    codes = list(_study_codes())
    assert {code for _, code in codes} >= {"280530", "2846", "850511"}
    for study, code in codes:
        assert hs.is_known(code), (study, code)
        assert hs.editions(code) == ("HS2017", "HS2022"), (study, code)
    assert hs.is_known("8505") and hs.description("8505").startswith("Electro-magnets")


def test_both_edition_tables_are_inside_comtrades_combined_hs() -> None:
    combined = json.loads((HS_DIR / hs.COMBINED_FILE).read_text(encoding="utf-8"))
    assert combined["classCode"] == "HS" and combined["className"] == "Combined HS"
    ids = {str(r["id"]) for r in combined["results"]}
    assert len(ids) == len(combined["results"]) == 8262
    for name in hs.EDITION_FILES.values():
        text = (HS_DIR / name).read_text(encoding="utf-8-sig")
        codes = {row["hscode"] for row in csv.DictReader(io.StringIO(text))} - {""}
        assert codes and codes <= ids, name


@pytest.mark.parametrize(
    ("code", "editions", "text"),
    [
        ("280530", ("HS2017", "HS2022"), "Earth-metals, rare"),
        ("850511", ("HS2017", "HS2022"), "permanent magnets"),
        # Deleted by HS2022 (fish flours moved to 0309): real for 2017-2021 data.
        ("030510", ("HS2017",), "flours, meals and pellets"),
        # New in HS2022.
        ("030910", ("HS2022",), "Flours, meals and pellets of fish"),
        # HS1992-HS2007 only (split into 010121/010129 in HS2012): real for 2010-2011 data.
        ("010110", (), "Pure-bred breeding animals"),
        ("999999", ("HS2017", "HS2022"), "not specified according to kind"),
        ("total", ("HS2017", "HS2022"), "Total of all HS2022 commodities"),
    ],
)
def test_codes_of_every_edition_are_known(code: str, editions: tuple[str, ...], text: str) -> None:
    assert hs.is_known(code)
    assert hs.editions(code) == editions
    description = hs.description(code)
    assert description is not None and text in description
    assert not description.startswith(code)  # Comtrade's "<code> - " prefix is dropped


@pytest.mark.parametrize("code", ["850599", "280599", "123456", "8599", "00", "9998"])
def test_well_formed_but_unknown_codes_are_not_known(code: str) -> None:
    assert not hs.is_known(code)
    assert hs.editions(code) == () and hs.description(code) is None
    with pytest.raises(BadInputError, match=rf"^--hs '{code}' is not in the HS nomenclature"):
        comtrade.parse_hs(code)


def test_the_message_names_the_table_and_the_heading_s_real_codes() -> None:
    with pytest.raises(BadInputError) as caught:
        comtrade.parse_hs("280530,850599")
    message = str(caught.value)
    assert "\n" not in message
    assert "reexport/data/hs/HS.json" in message
    # The nearest heading's subheadings, so a typo in the last digits is easy to fix.
    assert "8505 has 850511, 850519, 850520" in message


def test_malformed_codes_keep_the_format_message() -> None:
    with pytest.raises(BadInputError, match=r"--hs '85051X': expected 2, 4 or 6 HS digits"):
        comtrade.parse_hs("85051X")
    assert comtrade.parse_hs(" 2846 ,280530,2846") == ("280530", "2846")


def test_fetch_with_an_unknown_code_exits_2_on_one_line_and_writes_nothing(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "comtrade", "--hs", "280530,850599"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--hs '850599' is not in the HS nomenclature" in line
    raw = data_root / "raw"
    assert not raw.exists() or not any(p.is_file() for p in raw.rglob("*"))


def test_a_damaged_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    hs._table.cache_clear()
    monkeypatch.setitem(hs.SHA256, hs.COMBINED_FILE, "0" * 64)
    try:
        with pytest.raises(BadInputError, match=r"data/hs/HS.json: sha256 .* reinstall"):
            hs.is_known("850511")
    finally:
        hs._table.cache_clear()


def test_the_tables_ship_in_a_non_editable_install() -> None:
    """setup.cfg's package_data patterns cover every data file the loader reads."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    patterns = [p.strip() for p in config["options.package_data"]["reexport"].split(",")]
    for name in [*hs.SHA256, "PROVENANCE.md"]:
        relative = f"{hs.DATA_FOLDER}/{name}"
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
    assert re.search(r"^include = reexport, reexport\.\*$", (ROOT / "setup.cfg").read_text(), re.M)
