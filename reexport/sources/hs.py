"""The Harmonized System (HS) nomenclature: which HS codes exist, and what they name.

Three tables ship with the package (``reexport/data/hs/``; where each file comes from,
its sha256 and what the fields mean are in ``PROVENANCE.md`` there), all byte for byte:

* ``HS.json`` -- UN Comtrade's official reference ``files/v1/app/reference/HS.json``,
  "Combined HS": every chapter, heading and subheading of every HS edition from HS1992
  to HS2022 (8,262 codes).  It is the list Comtrade's API takes ``cmdCode`` from for
  ``clCode=HS``, so it decides :func:`is_known`;
* ``harmonized-system-2017.csv`` and ``harmonized-system-2022.csv`` -- HS2017 (Comtrade
  ``H5``) and HS2022 (``H6``) as recorded by the public repository
  ``datasets/harmonized-system``; they say which of the two newest editions list a code
  (:func:`editions`) and give the edition's description.

Comtrade serves data "as reported": the Japan study's 2010-2024 months are reported in
HS2007, HS2012, HS2017 and HS2022 in turn.  A code of any edition is therefore a real
request (``010110`` is HS1992-HS2007 only, ``030510`` HS2017 only, ``030910`` HS2022
only), and checking against one edition alone would wrongly refuse it.  No
parent-heading fallback is made: it would accept any six digits under a real heading
(``850599``), which is exactly the mistake to catch.  Comtrade's ``99`` / ``9999`` /
``999999`` ("Commodities not specified according to kind") are in its classification,
hence known.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from dataclasses import dataclass

from reexport.errors import BadInputError
from reexport.sources.packaged import packaged_bytes

DATA_FOLDER = "data/hs"
#: Comtrade's Combined HS: the codes of every edition, HS1992 to HS2022.
COMBINED_FILE = "HS.json"
#: Edition label -> shipped edition table, oldest first.
EDITION_FILES = {
    "HS2017": "harmonized-system-2017.csv",
    "HS2022": "harmonized-system-2022.csv",
}
#: sha256 of the shipped files (PROVENANCE.md); checked when they are loaded.
SHA256 = {
    COMBINED_FILE: "be126fb18bf0b3f34e84872414606847c09b6935b11185946ccb3cc1e6d2b98b",
    "harmonized-system-2017.csv": "cdc9a537622feeb8c872f8e7c3bc279170180cf3eec010ed658ff98a44063fa2",
    "harmonized-system-2022.csv": "e77ee9e1cfd15a42d1fadeb2c0618d10f6b9ed9aec0e5d66826dc7ef9d3126a5",
}
#: Where messages send the reader.
TABLE_LABEL = f"reexport/{DATA_FOLDER}/{COMBINED_FILE}, Comtrade's Combined HS of every edition"

_CODE_RE = re.compile(r"^(\d{2}|\d{4}|\d{6}|TOTAL)$")


@dataclass(frozen=True)
class Entry:
    """One HS code as one table lists it.

    Attributes
    ----------
    code
        2, 4 or 6 digits, or ``TOTAL``.
    description
        The edition's text for the code.
    parent
        The code one level up (``TOTAL`` for a chapter).
    edition
        ``HS2017`` or ``HS2022``; ``HS`` for Comtrade's Combined HS (all editions).
    """

    code: str
    description: str
    parent: str
    edition: str


def _data_text(name: str) -> str:
    content = packaged_bytes(DATA_FOLDER, name, SHA256[name], "PROVENANCE.md")
    # The HS2017 file starts with a UTF-8 byte-order mark; utf-8-sig drops it.
    return content.decode("utf-8-sig")


@functools.cache
def _editions() -> dict[str, tuple[Entry, ...]]:
    """Every code of the HS2017 and HS2022 tables -> its entries, oldest edition first."""
    table: dict[str, list[Entry]] = {}
    for edition, name in EDITION_FILES.items():
        for row in csv.DictReader(io.StringIO(_data_text(name))):
            code = (row["hscode"] or "").strip()
            if not code:
                continue  # the HS2017 file ends with an empty ",,,," record
            entry = Entry(code, row["description"].strip(), row["parent"].strip(), edition)
            table.setdefault(code, []).append(entry)
    return {code: tuple(entries) for code, entries in table.items()}


@functools.cache
def _table() -> dict[str, Entry]:
    """Every code of Comtrade's Combined HS -> its entry (edition ``HS``)."""
    results = json.loads(_data_text(COMBINED_FILE))["results"]
    table = {}
    for row in results:
        code = str(row["id"]).strip()
        # Comtrade writes "850511 - Magnets; ..."; the code prefix is dropped.
        text = str(row["text"]).strip()
        text = text.split(" - ", 1)[1] if text.startswith(f"{code} - ") else text
        table[code] = Entry(code, text.strip(" -"), str(row["parent"]).strip(), "HS")
    return table


def normalise(code: str) -> str:
    """The code as the tables write it: stripped and upper-cased (``total`` -> ``TOTAL``)."""
    return str(code).strip().upper()


def is_known(code: str) -> bool:
    """Whether ``code`` is a chapter, heading or subheading of any HS edition, or ``TOTAL``."""
    return normalise(code) in _table()


def editions(code: str) -> tuple[str, ...]:
    """Which of the shipped edition tables (HS2017, HS2022) list ``code``, oldest first.

    Empty for a code of HS2012 or older editions only (known, but not in either table)
    and for an unknown code.
    """
    return tuple(e.edition for e in _editions().get(normalise(code), ()))


def description(code: str) -> str | None:
    """The newest edition's description of ``code``, or None for an unknown code.

    HS2022's text, else HS2017's, else Comtrade's Combined HS text (older editions).
    """
    key = normalise(code)
    entries = _editions().get(key)
    if entries:
        return entries[-1].description
    entry = _table().get(key)
    return entry.description if entry is not None else None


def check(code: str, *, what: str) -> str:
    """``code`` normalised, or a one-line error when it is malformed or not in the tables.

    Parameters
    ----------
    code
        The HS code as the user wrote it.
    what
        How the message names the value: ``--hs``, or ``"<file> <table>: hs: HS code"``
        for a study file; the code follows it in quotes.

    Raises
    ------
    BadInputError
        The code is not 2, 4 or 6 digits nor ``TOTAL``, or no HS edition has it.
    """
    key = normalise(code)
    if not _CODE_RE.match(key):
        raise BadInputError(f"{what} {code!r}: expected 2, 4 or 6 HS digits (e.g. 850511) or TOTAL")
    if key not in _table():
        raise BadInputError(
            f"{what} {code!r} is not in the HS nomenclature ({TABLE_LABEL}){_hint(key)}"
        )
    return key


def _hint(code: str) -> str:
    """Name the nearest known parent's codes, so a typo in the last digits is easy to fix."""
    table = _table()
    for length in (4, 2):
        parent = code[:length]
        if len(code) > length and parent in table:
            children = sorted(c for c, e in table.items() if e.parent == parent)
            shown = ", ".join(children[:8]) + (" ..." if len(children) > 8 else "")
            return f"; {parent} has {shown}"
    return ""
