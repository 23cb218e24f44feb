"""UN Comtrade's official area tables: reporter and partner codes by ISO3 or M49 code.

The tables ship with the package (``reexport/data/comtrade/``; where each file comes
from, its sha256 and what was changed are in ``SOURCE.md`` there):

* ``Reporters.json`` -- the official ``files/v1/app/reference/Reporters.json``, byte
  for byte;
* ``partner_areas.csv`` -- the official ``partnerAreas.json`` as converted by R
  comtradr (years instead of dates; no byte-exact copy could be obtained).

Comtrade's area codes are UN M49 codes except a few areas (USA 842, France 251,
India 699, Norway 579, Switzerland 757). ``TWN`` names area 490 "Other Asia, nes",
the code under which Comtrade reports Taiwan (the tidy frame calls it ``TWN``).
World is area 0, ``WLD`` in the tidy frame.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from reexport.errors import BadInputError
from reexport.sources.packaged import packaged_bytes

Role = Literal["partner", "reporter"]

#: Package data folder of the reference tables.
DATA_FOLDER = "data/comtrade"
REPORTERS_FILE = "Reporters.json"
PARTNERS_FILE = "partner_areas.csv"
#: sha256 of the shipped files (SOURCE.md); checked when they are loaded.
SHA256 = {
    REPORTERS_FILE: "b4dcc8e9844a98e75222c8e87a8b8bb84f88b35f8fe29029ab6ccf89ecf7114f",
    PARTNERS_FILE: "655cb4c3c64278c5fd27799b0e3a70de5385fe5d0792d6fbbe37c68bd4c9044c",
}
WORLD_CODE = 0
#: Codes the tidy frame uses where Comtrade writes its own labels.
ALIASES = {"WLD": WORLD_CODE, "W00": WORLD_CODE, "WORLD": WORLD_CODE, "TWN": 490}
#: Comtrade's non-ISO labels of areas mapped to the tidy frame's codes.
TIDY_ISO = {WORLD_CODE: "WLD", 490: "TWN"}


@dataclass(frozen=True)
class Area:
    """One area of Comtrade's reference table.

    Attributes
    ----------
    code
        Comtrade area code (M49 for most areas; 0 = World).
    iso3
        The tidy frame's code: ISO3 as in the table, ``WLD`` for World, ``TWN`` for 490.
    name
        The official name (``text``).
    is_group
        True for areas that are not countries: World, groups (EU, ASEAN) and the
        "not elsewhere specified" areas, bunkers, free zones, special categories.
    current
        False when the table gives the area an expiry (a former area, e.g. "USA (...1980)").
    """

    code: int
    iso3: str
    name: str
    is_group: bool
    current: bool = True


@dataclass(frozen=True)
class _Table:
    by_code: dict[int, Area]
    by_iso3: dict[str, tuple[Area, ...]]


def _data_bytes(name: str) -> bytes:
    return packaged_bytes(DATA_FOLDER, name, SHA256[name], "SOURCE.md")


def _is_not_country(flag: bool, name: str, note: str, iso3: str) -> bool:
    """Official ``isGroup``, a "not elsewhere specified" area, or an ISO user-assigned X code."""
    nes = name.rstrip().endswith(", nes") or "not elsewhere specified" in note
    return flag or nes or (bool(iso3) and iso3.startswith("X"))


def _tidy_iso(code: int, iso3: str) -> str:
    return TIDY_ISO.get(code, iso3.strip())


def _reporter_areas() -> list[Area]:
    results = json.loads(_data_bytes(REPORTERS_FILE).decode("utf-8"))["results"]
    areas = []
    for row in results:
        code = int(row["reporterCode"])
        iso3 = str(row.get("reporterCodeIsoAlpha3") or "").strip()
        areas.append(
            Area(
                code=code,
                iso3=_tidy_iso(code, iso3),
                name=str(row["text"]),
                is_group=_is_not_country(
                    bool(row["isGroup"]), str(row["text"]), str(row.get("reporterNote") or ""), iso3
                ),
                current=not row.get("entryExpiredDate"),
            )
        )
    return areas


def _partner_areas() -> list[Area]:
    text = _data_bytes(PARTNERS_FILE).decode("utf-8")
    areas = []
    for row in csv.DictReader(io.StringIO(text)):
        code = int(row["id"])
        iso3 = row["iso3"].strip()
        areas.append(
            Area(
                code=code,
                iso3=_tidy_iso(code, iso3),
                name=row["text"],
                is_group=_is_not_country(row["is_group"] == "true", row["text"], row["note"], iso3),
                current=not row["exit_year"],
            )
        )
    return areas


@functools.cache
def _table(role: Role) -> _Table:
    areas = _reporter_areas() if role == "reporter" else _partner_areas()
    by_code = {a.code: a for a in areas}
    by_iso3: dict[str, list[Area]] = {}
    for area in areas:
        by_iso3.setdefault(area.iso3.upper(), []).append(area)
    return _Table(by_code, {k: tuple(v) for k, v in by_iso3.items()})


def _check_role(role: str) -> Role:
    if role not in ("partner", "reporter"):
        raise BadInputError(f"area role {role!r}: expected 'partner' or 'reporter'")
    return role  # type: ignore[return-value]


def areas(role: Role = "partner") -> list[Area]:
    """Every area of the official table for ``role``, in code order."""
    table = _table(_check_role(role))
    return [table.by_code[c] for c in sorted(table.by_code)]


def lookup(text: str | int, *, role: Role = "partner", what: str | None = None) -> Area:
    """The area named by an ISO3 code (``JPN``) or a Comtrade/M49 code (``392``).

    Case-insensitive; ``WLD``/``W00``/``world`` is World (0) and ``TWN`` is 490.
    An ISO3 code that names several areas (a current one and the areas it
    replaced) resolves to the current one.

    Parameters
    ----------
    text
        The code as the user wrote it.
    role
        ``"partner"`` (partner areas table) or ``"reporter"`` (reporters table).
    what
        How to name the value in messages (default ``--partner`` / ``--reporter``).

    Raises
    ------
    BadInputError
        One line naming the unknown or ambiguous value, with close matches.
    """
    table = _table(_check_role(role))
    label = what or f"--{role}"
    raw = str(text).strip()
    key = raw.upper()
    if re.fullmatch(r"\d{1,4}", key):
        code = int(key)
        if code in table.by_code:
            return table.by_code[code]
        raise BadInputError(
            f"{label} {raw!r}: no {role} area with Comtrade code {code} in the official table"
        )
    if key in ALIASES and ALIASES[key] in table.by_code:
        return table.by_code[ALIASES[key]]
    found = table.by_iso3.get(key, ())
    current = [a for a in found if a.current]
    if len(current) > 1 and role == "partner":
        # Several current partner areas share an ISO3 (USA 840 and 842, FRA 250 and 251,
        # CHE 756 and 757): Comtrade's data use the code it gives the same country as a
        # reporter, so that one is meant.
        reporters = _table("reporter").by_code
        current = [a for a in current if a.code in reporters] or current
    if len(current) == 1:
        return current[0]
    if found:
        choices = ", ".join(f"{a.code} ({a.name})" for a in (current or list(found)))
        raise BadInputError(f"{label} {raw!r} names several {role} areas; give the code: {choices}")
    near = difflib.get_close_matches(key, list(table.by_iso3), n=3, cutoff=0.6)
    names = {a.name.upper(): a for a in table.by_code.values()}
    near += [names[n].iso3 for n in difflib.get_close_matches(key, list(names), n=2, cutoff=0.7)]
    hint = f"; did you mean {', '.join(dict.fromkeys(near))}?" if near else ""
    raise BadInputError(
        f"{label} {raw!r}: not an ISO3 or M49 code of Comtrade's {role} areas{hint}"
    )


def is_group(iso3_or_code: str | int, *, role: Role = "partner") -> bool:
    """Whether an area is not a country (World, EU, ASEAN, "Areas, nes", bunkers ...).

    Accepts what :func:`lookup` accepts.  A code in neither table is not known to
    be a group, so it is False (quality checks then report it as unknown, not as an area).
    """
    try:
        return lookup(iso3_or_code, role=role).is_group
    except BadInputError:
        if role == "partner":
            try:
                return lookup(iso3_or_code, role="reporter").is_group
            except BadInputError:
                return False
        return False


def iso3_of_code(code: Any, *, role: Role = "partner") -> str | None:
    """The tidy frame's ISO3 of a Comtrade area code, or None if the code is unknown."""
    try:
        number = int(code)
    except (TypeError, ValueError):
        return None
    area = _table(_check_role(role)).by_code.get(number)
    if area is None and role == "partner":
        area = _table("reporter").by_code.get(number)
    return area.iso3 if area is not None else None
