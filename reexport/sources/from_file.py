"""Sources from a file: store a file the user downloaded by hand as a real vintage.

Behind a firewall a user can often still download the publishers' files in a
browser.  ``reexport fetch gpr|fred|comtrade --from-file PATH`` stores such a
file byte for byte, as a vintage of the same source a download would produce,
after the same content checks a download gets (a short or damaged file, an
HTML page saved by mistake and a demo file are refused with exit 2, and
nothing is stored).

Provenance: the vintage's request says ``"origin": "file"`` and lists each
file's name (the base name only: a private folder never enters the store) and
sha256; each file record's ``params`` says the same, and its ``url``,
``status`` and ``content_type`` are empty, because nothing was downloaded.  The
request holds the sha256s, so importing the same file again is a warm re-run
and an edited file becomes a new vintage.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reexport.errors import BadInputError, SourceError

if TYPE_CHECKING:
    from reexport.store import RawStore, VintageWriter

#: The request's ``origin`` for a vintage imported from a file.
FILE_ORIGIN = "file"


@dataclass(frozen=True)
class LocalFile:
    """A file the user named, read once.

    Attributes
    ----------
    name
        Its base name (what provenance records).
    content
        Its bytes.
    sha256
        Hex sha256 of ``content``.
    """

    name: str
    content: bytes
    sha256: str

    @property
    def label(self) -> str:
        """How messages name it: ``--from-file NAME``."""
        return f"--from-file {self.name}"


def read_local_file(path: str | os.PathLike[str]) -> LocalFile:
    """Read a ``--from-file`` argument.

    Raises
    ------
    BadInputError
        If it does not exist, is not a file, cannot be read or is empty.
    """
    target = Path(path)
    if not target.exists():
        raise BadInputError(f"--from-file {path}: no such file")
    if not target.is_file():
        raise BadInputError(f"--from-file {path}: not a file")
    try:
        content = target.read_bytes()
    except OSError as exc:
        raise BadInputError(f"--from-file {path}: cannot be read ({exc.strerror})") from None
    if not content:
        raise BadInputError(f"--from-file {path}: the file is empty")
    return LocalFile(target.name, content, hashlib.sha256(content).hexdigest())


def as_bad_input(exc: SourceError) -> BadInputError:
    """A content check's ``SourceError`` about a user's file, as bad input (exit 2)."""
    return BadInputError(str(exc))


def refuse_demo_copy(local: LocalFile, store: RawStore) -> None:
    """Refuse a SYNTHETIC demo file: one with the demo's content marker, or a stored demo file.

    The demo's CSV files carry no marker in their content (the parsers read them
    as real), so a copy taken out of ``data/raw/*/demo-*`` is also recognised by
    its sha256.

    Raises
    ------
    BadInputError
        Naming the marker or the demo vintage the file belongs to.
    """
    from reexport.store import content_markers

    # The store's own marker list (the one it checks every real vintage against).
    markers = content_markers(local.content)
    if markers:
        raise BadInputError(
            f"{local.label}: {markers[0]} says this is the SYNTHETIC demo, not real data; "
            "download the real file"
        )
    for source in store.sources():
        for vintage in store.vintages(source, synthetic=True):
            for record in vintage.files:
                if record.get("sha256") == local.sha256:
                    raise BadInputError(
                        f"{local.label}: this is the SYNTHETIC demo file {record['name']} of "
                        f"{source}/{vintage.id}, not real data; download the real file"
                    )


def file_request(base: dict[str, Any], files: list[LocalFile]) -> dict[str, Any]:
    """The logical request of an import: what the data answer, plus the files' names and sha256s."""
    return {
        **base,
        "origin": FILE_ORIGIN,
        "files": [{"name": f.name, "sha256": f.sha256} for f in files],
    }


def add_file(writer: VintageWriter, stored_name: str, local: LocalFile) -> None:
    """Add ``local`` to a vintage being written, byte for byte, with its origin recorded."""
    writer.add(
        stored_name,
        local.content,
        url=None,
        params={"origin": FILE_ORIGIN, "file": local.name, "sha256": local.sha256},
        status=None,
        content_type=None,
    )


def store_files(
    store: RawStore, source: str, request: dict[str, Any], files: list[tuple[str, LocalFile]]
) -> tuple[Any, bool]:
    """Store checked files as one vintage of ``source``, or find the identical import.

    Parameters
    ----------
    store
        The raw store.
    source
        Raw-store source (``gpr``, ``gpr_daily``, ``fred``, ``comtrade``).
    request
        From :func:`file_request`.
    files
        ``(name inside the vintage, file)`` pairs, already validated.

    Returns
    -------
    (Vintage, bool)
        The vintage and whether it was already stored (a warm re-run).
    """
    for _stored_name, local in files:
        refuse_demo_copy(local, store)
    existing = store.find(source, request)
    if existing is not None:
        return existing, True
    with store.writer(source, request) as writer:
        for stored_name, local in files:
            add_file(writer, stored_name, local)
    assert writer.vintage is not None  # set when the `with` block exits cleanly
    return writer.vintage, False
