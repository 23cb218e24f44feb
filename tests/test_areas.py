"""Comtrade's official area tables (reexport/data/comtrade) and the lookups built on them."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from importlib import resources
from pathlib import Path

import pytest

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.sources import areas, comtrade


def data_file(name: str) -> bytes:
    return (resources.files("reexport") / "data" / "comtrade" / name).read_bytes()


def test_reporters_file_is_the_published_file_byte_for_byte() -> None:
    content = data_file("Reporters.json")
    # The server's own headers recorded with the body (SOURCE.md): Content-Length and the
    # base64 md5 Azure blob storage computed over the published file.
    assert len(content) == 80_812
    assert base64.b64encode(hashlib.md5(content).digest()).decode() == "kIdb05NEGcYvZBFDlPOPcw=="
    assert hashlib.sha256(content).hexdigest() == areas.SHA256["Reporters.json"]
    results = json.loads(content)["results"]
    assert len(results) == 255
    assert {"id", "text", "reporterCodeIsoAlpha3", "isGroup", "entryEffectiveDate"} <= set(
        results[0]
    )


def test_source_notes_name_every_shipped_hash() -> None:
    notes = data_file("SOURCE.md").decode()
    for name, digest in areas.SHA256.items():
        assert hashlib.sha256(data_file(name)).hexdigest() == digest
        assert digest in notes, name
    for text in ("3d5b52d6a3e10093b24b7883fb62f3d49b1ba4c8", "comtradeapi.un.org/files/v1/app"):
        assert text in notes


def test_partner_table_agrees_with_the_reporter_file_wherever_both_list_an_area() -> None:
    rows = list(csv.DictReader(io.StringIO(data_file("partner_areas.csv").decode())))
    assert len(rows) == 310 and len({r["id"] for r in rows}) == 310
    partners = {a.code: a for a in areas.areas("partner")}
    reporters = {a.code: a for a in areas.areas("reporter")}
    shared = set(partners) & set(reporters)
    # The converted partner table and the byte-exact reporter file come from the same
    # publication (both Last-Modified 2025-06-05): every area in both has one ISO3 and name.
    assert len(shared) == 253 and set(reporters) - shared == {97, 975}  # EU, ASEAN
    for code in shared:
        assert (partners[code].iso3, partners[code].name.strip()) == (
            reporters[code].iso3,
            reporters[code].name.strip(),
        )


@pytest.mark.parametrize(
    ("text", "role", "code", "iso3"),
    [
        ("JPN", "partner", 392, "JPN"),
        ("jpn", "reporter", 392, "JPN"),
        ("392", "partner", 392, "JPN"),
        (392, "reporter", 392, "JPN"),
        ("USA", "partner", 842, "USA"),  # 840 is in the partner table too; data use 842
        ("USA", "reporter", 842, "USA"),
        ("840", "partner", 840, "USA"),
        ("FRA", "partner", 251, "FRA"),
        ("CHE", "partner", 757, "CHE"),
        ("NOR", "partner", 579, "NOR"),
        ("IND", "reporter", 699, "IND"),  # 356 "India (...1974)" has expired
        ("DEU", "reporter", 276, "DEU"),
        ("TWN", "partner", 490, "TWN"),
        ("WLD", "partner", 0, "WLD"),
        ("world", "partner", 0, "WLD"),
        ("0", "partner", 0, "WLD"),
        ("899", "partner", 899, "_X"),
        ("EUR", "reporter", 97, "EUR"),
    ],
)
def test_lookup_by_iso3_or_m49(text: str | int, role: areas.Role, code: int, iso3: str) -> None:
    area = areas.lookup(text, role=role)
    assert (area.code, area.iso3) == (code, iso3)


def test_every_code_of_the_old_hand_typed_table_is_kept() -> None:
    # The 99 ISO3 -> code pairs the module typed by hand before the official table shipped.
    old = {
        "ARG": 32, "AUS": 36, "BEL": 56, "BRA": 76, "CAN": 124, "CHE": 757, "CHL": 152,
        "CHN": 156, "COL": 170, "DEU": 276, "DNK": 208, "EGY": 818, "ESP": 724, "FIN": 246,
        "FRA": 251, "GBR": 826, "HKG": 344, "HUN": 348, "IDN": 360, "IND": 699, "ISR": 376,
        "ITA": 380, "JPN": 392, "KOR": 410, "MEX": 484, "MYS": 458, "NLD": 528, "NOR": 579,
        "PER": 604, "PHL": 608, "POL": 616, "PRT": 620, "RUS": 643, "SAU": 682, "SWE": 752,
        "THA": 764, "TUN": 788, "TUR": 792, "TWN": 490, "UKR": 804, "USA": 842, "VEN": 862,
        "VNM": 704, "ZAF": 710, "ARE": 784, "ARM": 51, "AUT": 40, "AZE": 31, "BGD": 50,
        "BGR": 100, "BLR": 112, "CRI": 188, "CYP": 196, "CZE": 203, "DOM": 214, "DZA": 12,
        "ECU": 218, "EST": 233, "ETH": 231, "GEO": 268, "GHA": 288, "GRC": 300, "GTM": 320,
        "HRV": 191, "IRL": 372, "IRN": 364, "IRQ": 368, "ISL": 352, "JOR": 400, "KAZ": 398,
        "KEN": 404, "KHM": 116, "KWT": 414, "LAO": 418, "LKA": 144, "LTU": 440, "LUX": 442,
        "LVA": 428, "MAC": 446, "MAR": 504, "MLT": 470, "MMR": 104, "MNG": 496, "NGA": 566,
        "NZL": 554, "OMN": 512, "PAK": 586, "PAN": 591, "QAT": 634, "ROU": 642, "SGP": 702,
        "SRB": 688, "SVK": 703, "SVN": 705, "TZA": 834, "URY": 858, "UZB": 860,
    }  # fmt: skip
    for role in ("partner", "reporter"):
        assert {iso: areas.lookup(iso, role=role).code for iso in old} == old  # type: ignore[arg-type]
    assert {iso: comtrade.COMTRADE_AREAS[iso] for iso in old} == old


@pytest.mark.parametrize(
    ("text", "role", "expected"),
    [
        ("XYZ", "partner", "--partner 'XYZ': not an ISO3 or M49 code of Comtrade's partner"),
        ("JAP", "partner", "did you mean JPN"),
        ("9999", "reporter", "--reporter '9999': no reporter area with Comtrade code 9999"),
        ("A79", "partner", "names several partner areas; give the code: 473 (LAIA, nes), 636"),
        ("WLD", "reporter", "--reporter 'WLD'"),  # World reports nothing
    ],
)
def test_unknown_or_ambiguous_areas_are_one_line(
    text: str, role: areas.Role, expected: str
) -> None:
    with pytest.raises(BadInputError) as caught:
        areas.lookup(text, role=role)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_is_group_marks_areas_that_are_not_countries() -> None:
    for area in ("WLD", 0, "899", "_X", "490", "492", "837", "X2", "XX", "EUR", "R4", "975"):
        assert areas.is_group(area), area
    for country in ("JPN", "CHN", 156, "USA", "842", "IND", "DEU", "KOR"):
        assert not areas.is_group(country), country
    assert areas.is_group("R4", role="reporter") and not areas.is_group("ABC")
    groups = {a.code for a in areas.areas("reporter") if a.is_group}
    assert groups == {97, 490, 975}  # the file's own isGroup flags, nothing added


def test_iso3_of_code() -> None:
    assert [areas.iso3_of_code(c) for c in (0, "392", 490, 97, 12345, "x")] == [
        "WLD",
        "JPN",
        "TWN",
        "EUR",
        None,
        None,
    ]


def test_cli_unknown_reporter_is_exit_2_on_one_line(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fetch", "comtrade", "--reporter", "JPX", "--offline"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--reporter 'JPX'" in line and "JPN" in line
