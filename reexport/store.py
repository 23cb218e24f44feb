"""The immutable raw store: every downloaded byte, kept as received, with a manifest.

Layout::

    <data_root>/raw/<source>/<vintage_id>/<file>          the bytes exactly as received
    <data_root>/raw/<source>/<vintage_id>/manifest.json   what was asked, where, when, sha256s
    <data_root>/raw/<source>/<vintage_id>/manifest.seal   sha256 of the manifest's canonical JSON

A *vintage* is one retrieval of one logical request.  A vintage is written
whole or not at all: its files are assembled in a hidden temp folder
(``<data_root>/raw/<source>/.tmp-<random>/``, with a lock file beside it held by
the writing process), the manifest and its seal are written last, and the folder
is renamed into place only when everything succeeded.  The temp folders of runs
that died are removed by the next write to that source.  Existing vintages are
never overwritten; a refresh writes a new vintage beside the old one.  Written
files are made read-only as a guard against accidental edits, and :func:`verify`
re-hashes everything to detect the edits the guard missed; the seal catches an
edited manifest.

Provenance: whether a vintage is the synthetic demo is decided from everything
that marks it -- the manifest's flag, the ``demo-`` id, ``synthetic:`` URLs, the
request's ``demo`` block and the demo's in-file markers (:func:`content_markers`);
a vintage where they disagree is refused (:func:`provenance_problem`).

The same module provides :func:`atomic_write_bytes` / :func:`atomic_write_text`
for processed tables and reports, :func:`replace_folder` which swaps a whole
folder of processed tables in at once, and :func:`redact` / :func:`redact_url`
which keep secrets (the Comtrade key) out of manifests, logs and messages.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import logging
import os
import re
import secrets as _secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from reexport import __version__, config
from reexport.errors import BadInputError

try:  # POSIX: a lock held by a live process tells its temp folder from a dead run's.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("reexport.store")

#: Version of the manifest layout written by this module.
MANIFEST_SCHEMA = 1
MANIFEST_NAME = "manifest.json"
#: Prefix of the hidden folders a vintage is assembled in before it is renamed into place.
TEMP_PREFIX = ".tmp-"
#: Suffix of the lock file beside each temp folder, held by the process writing it.
LOCK_SUFFIX = ".lock"
#: Beside ``manifest.json``: the sha256 of the manifest's canonical JSON, written with it.
SEAL_NAME = "manifest.seal"
#: Vintage ids of the synthetic demo start with this; real ids never do.
DEMO_ID_PREFIX = "demo-"
#: URLs recorded for demo files start with this; real ones are ``http(s):`` or ``file:``.
SYNTHETIC_URL_PREFIX = "synthetic:"
#: Test hook: seconds to sleep after each file a vintage or processed set writes, so a
#: test can kill the process between two writes.  Never set outside tests.
TEST_PAUSE_ENV = "REEXPORT_TEST_PAUSE_BETWEEN_WRITES"
#: Without ``fcntl`` (Windows) a temp folder untouched this long counts as abandoned.
STALE_AFTER_SECONDS = 24 * 3600
#: A lock file without its temp folder is removed only when older than this.
ORPHAN_LOCK_SECONDS = 600
#: The sources the package writes (others are accepted if their name is a plain identifier).
KNOWN_SOURCES = ("gpr", "gpr_daily", "comtrade", "fred", "userseries")
#: What replaces a secret in anything we write or say.
REDACTED = "REDACTED"

_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_VINTAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FILE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+=-]*$")
_COLLISION_RE = re.compile(r"^(?P<base>.+?)-(?P<n>\d+)$")
#: Query-parameter and header names whose values are treated as secrets.
_SECRET_NAME_RE = re.compile(
    r"(key|token|secret|passw|signature|auth|credential|session)", re.IGNORECASE
)
_REQUIRED_MANIFEST_KEYS = ("schema", "source", "vintage", "synthetic", "request_key", "files")
_REQUIRED_FILE_KEYS = ("name", "bytes", "sha256")


# --------------------------------------------------------------------------- secrets


def _known_secrets(extra: Iterable[str | None] = ()) -> list[str]:
    """Secret values to scrub: the configured Comtrade key plus any given ones."""
    values = [config.comtrade_key(), *extra]
    # Very short values would scrub innocent text and are not plausible keys.
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace every secret value occurring in ``text`` by ``REDACTED``.

    Parameters
    ----------
    text
        Any message, URL or log line.
    secrets
        Secret values to remove in addition to the configured Comtrade key.

    Returns
    -------
    str
        ``text`` with each secret value replaced.
    """
    for value in _known_secrets(secrets):
        text = text.replace(value, REDACTED)
    return text


def is_secret_name(name: str) -> bool:
    """Whether a header or query-parameter name suggests its value is a secret."""
    return bool(_SECRET_NAME_RE.search(name))


def redact_url(url: str, secrets: Iterable[str | None] = ()) -> str:
    """Return ``url`` with secret-looking query values (and known secret values) redacted.

    Parameters
    ----------
    url
        A full URL, possibly carrying e.g. ``subscription-key=...`` in its query.
    secrets
        Secret values to remove wherever they occur.

    Returns
    -------
    str
        The URL with user-info passwords and secret query values replaced by ``REDACTED``.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs])
    cleaned = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact(cleaned, secrets)


def _scrub(value: Any, secrets: list[str]) -> Any:
    """Deep copy of a JSON-like value with secret-named keys and secret values redacted."""
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if is_secret_name(str(k)) else _scrub(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str):
        return redact(value, secrets)
    if value is None or isinstance(value, bool | int | float):
        return value
    # Months, Paths, NamedTuples and the like are stored by their string form.
    return redact(str(value), secrets)


# --------------------------------------------------------------------------- requests


def canonical_request(request: Mapping[str, Any]) -> str:
    """Canonical JSON of a logical request: secrets redacted, keys sorted, no spaces.

    Values should be JSON-like; other objects (e.g. :class:`reexport.periods.Month`)
    are stored by their string form, so ``Month(2017, 1)`` and ``"2017-01"`` match.
    """
    if not isinstance(request, Mapping):
        raise BadInputError(f"raw store: a request must be a mapping, got {type(request).__name__}")
    scrubbed = _scrub(request, _known_secrets())
    return json.dumps(scrubbed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: Mapping[str, Any]) -> str:
    """sha256 (hex) of :func:`canonical_request`; equal requests give equal keys."""
    return hashlib.sha256(canonical_request(request).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- atomic writes


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: readers see the old file or the new one, never half.

    The bytes go to a temp file in the same directory, are fsynced, and the temp
    file is renamed over ``path``.  On any error the temp file is removed and
    ``path`` is untouched.  Parent folders are created as needed.

    Parameters
    ----------
    path
        Destination file.
    data
        The complete new content.

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    path
        Destination file.
    text
        The complete new content; newlines are written as given.
    encoding
        Text encoding (default UTF-8).

    Returns
    -------
    pathlib.Path
        The destination path.
    """
    return atomic_write_bytes(path, text.encode(encoding))


# --------------------------------------------------------------------------- helpers


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def _iso(moment: _dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _check_source(source: str) -> str:
    if not isinstance(source, str) or not _SOURCE_RE.match(source):
        raise BadInputError(
            f"raw store: source name {source!r} must be a lower-case identifier "
            f"such as {', '.join(KNOWN_SOURCES)}"
        )
    return source


def _vintage_sort_key(vintage: Vintage) -> tuple[str, str, int]:
    """Oldest first: by creation time, then by id with ``-2``, ``-3`` suffixes in numeric order."""
    match = _COLLISION_RE.match(vintage.id)
    if match and _VINTAGE_RE.match(match["base"]):
        base, number = match["base"], int(match["n"])
    else:
        base, number = vintage.id, 1
    return (str(vintage.manifest.get("created", "")), base, number)


class IntegrityError(BadInputError):
    """A raw file no longer matches its manifest (edited, truncated or missing)."""


# --------------------------------------------------------------------------- provenance

#: Byte patterns only the synthetic demo writes into its files, with what they are.
_DEMO_CONTENT_MARKERS = (
    (re.compile(rb"SYNTHETIC_DEMO"), "the demo workbook's SYNTHETIC_DEMO marker row"),
    (
        re.compile(rb'"elapsedTime"\s*:\s*"SYNTHETIC DEMO"'),
        'the demo envelope\'s "elapsedTime": "SYNTHETIC DEMO"',
    ),
)
_TRUE_CELLS = {"true", "1", "yes"}
#: Only this much of a file is sniffed for a ``synthetic`` CSV column.
_CSV_SNIFF_BYTES = 1 << 22


def _csv_synthetic_column(data: bytes) -> str | None:
    """``"a synthetic column that is true"`` for a CSV whose ``synthetic`` column is true anywhere.

    The demo's user series and every processed table carry a boolean ``synthetic``
    column; a true cell marks the content itself as synthetic, wherever it is copied.
    """
    head = data[:_CSV_SNIFF_BYTES].decode("utf-8-sig", errors="replace")
    first, _, rest = head.partition("\n")
    delimiter = next((d for d in (",", ";", "\t") if d in first), None)
    if delimiter is None:
        return None
    header = [cell.strip().strip('"').lower() for cell in first.split(delimiter)]
    if "synthetic" not in header:
        return None
    column = header.index("synthetic")
    for line in rest.splitlines():
        cells = line.split(delimiter)
        if len(cells) > column and cells[column].strip().strip('"').lower() in _TRUE_CELLS:
            return "a synthetic column that is true"
    return None


def content_markers(data: bytes) -> list[str]:
    """The synthetic-demo markers found in a file's bytes (empty for real data).

    Parameters
    ----------
    data
        The file's content.

    Returns
    -------
    list of str
        What marks it: the demo workbook's ``SYNTHETIC_DEMO`` dictionary row, the demo
        Comtrade envelope's ``elapsedTime``, a CSV ``synthetic`` column that is true.
    """
    found = [what for pattern, what in _DEMO_CONTENT_MARKERS if pattern.search(data)]
    column = _csv_synthetic_column(data)
    return found + ([column] if column else [])


def _synthetic_evidence(manifest: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """What in a manifest (besides its flag) says demo, and what says real.

    The vintage id, the recorded URLs and the request's ``demo`` block are written by
    the demo and by the fetchers independently of the ``synthetic`` flag, so a flag
    edited by hand disagrees with them.
    """
    demo: list[str] = []
    real: list[str] = []
    vintage_id = str(manifest.get("vintage", ""))
    (demo if vintage_id.startswith(DEMO_ID_PREFIX) else real).append(f"its id {vintage_id}")
    request = manifest.get("request")
    if isinstance(request, Mapping) and isinstance(request.get("demo"), Mapping):
        demo.append("its request's demo block")
    for record in manifest.get("files", []):
        url = record.get("url") if isinstance(record, Mapping) else None
        if isinstance(url, str):
            synthetic_url = url.startswith(SYNTHETIC_URL_PREFIX)
            (demo if synthetic_url else real).append(f"the URL {url.split('?')[0]}")
    return list(dict.fromkeys(demo)), list(dict.fromkeys(real))


def provenance_problem(
    manifest: Mapping[str, Any], markers: Mapping[str, list[str]] | None = None
) -> str | None:
    """Why a manifest's ``synthetic`` flag disagrees with the rest of its vintage, or ``None``.

    Parameters
    ----------
    manifest
        A structurally valid manifest.
    markers
        File name -> :func:`content_markers` of its bytes, when the files were read.

    Returns
    -------
    str or None
        One sentence naming what disagrees, e.g. ``manifest says "synthetic": false, but
        its id demo-1 and the URL synthetic:demo-1 say it is the synthetic demo``.
    """
    flag = manifest.get("synthetic")
    if not isinstance(flag, bool):
        return f'has "synthetic": {flag!r}; expected true or false'
    demo, real = _synthetic_evidence(manifest)
    for name, found in sorted((markers or {}).items()):
        demo += [f"{name}: {what}" for what in found]
    if not flag and demo:
        return (
            'says "synthetic": false, but ' + _first(demo) + " say it is the synthetic demo; "
            "demo data can never pass as real"
        )
    if flag and real:
        return 'says "synthetic": true, but ' + _first(real) + " say it is real data"
    return None


def _first(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --------------------------------------------------------------------------- seals


def manifest_seal(manifest: Mapping[str, Any]) -> str:
    """sha256 (hex) of a manifest's canonical JSON (sorted keys, no spaces, UTF-8).

    Written to ``manifest.seal`` in the same step as the manifest, so any later edit of
    the manifest (a flipped ``synthetic`` flag, a changed sha256) no longer matches.
    """
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _seal_text(manifest: Mapping[str, Any]) -> str:
    return (
        json.dumps(
            {
                "manifest_sha256": manifest_seal(manifest),
                "of": "manifest.json as canonical JSON: sorted keys, separators ',' ':', UTF-8",
            },
            indent=2,
        )
        + "\n"
    )


def _read_seal(folder: Path) -> str | None:
    """The sealed sha256 of ``folder``'s manifest, ``None`` if unsealed (BadInputError if broken)."""
    path = folder / SEAL_NAME
    try:
        seal = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"raw store: {path} is not valid JSON ({exc})") from None
    value = seal.get("manifest_sha256") if isinstance(seal, dict) else None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise BadInputError(f"raw store: {path} holds no manifest_sha256")
    return value


# --------------------------------------------------------------------------- temp folders


def pause_between_writes_for_tests() -> None:
    """The test hook: sleep ``$REEXPORT_TEST_PAUSE_BETWEEN_WRITES`` seconds, if set.

    Called after each file a vintage or a processed set writes, so a test can kill
    the process between two writes.
    """
    delay = os.environ.get(TEST_PAUSE_ENV)
    if delay:
        time.sleep(float(delay))


class TempFolder:
    """A hidden ``.tmp-<token>`` folder plus a lock file held while its owner is alive.

    The lock file (``.tmp-<token>.lock``) is created and locked *before* the folder,
    and removed after the folder is gone (renamed into place or deleted), so a folder
    whose lock can be taken belongs to a run that died (killed, power cut) and may
    be removed by the next run.

    Parameters
    ----------
    parent
        Where to create it (created if needed).
    """

    def __init__(self, parent: Path) -> None:
        parent.mkdir(parents=True, exist_ok=True)
        token = _secrets.token_hex(8)
        self.lock_path = parent / f"{TEMP_PREFIX}{token}{LOCK_SUFFIX}"
        self._fd: int | None = os.open(self.lock_path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(self._fd, f"{os.getpid()}\n".encode())
            self.path = parent / f"{TEMP_PREFIX}{token}"
            self.path.mkdir()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Remove the lock file (after the folder was renamed away or deleted)."""
        if self._fd is None:
            return
        self.lock_path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _owner_alive(lock_path: Path) -> bool:
    """Whether the process that created ``lock_path`` still holds it."""
    if fcntl is None:  # pragma: no cover - Windows: judge by age
        try:
            return time.time() - lock_path.stat().st_mtime < STALE_AFTER_SECONDS
        except FileNotFoundError:
            return False
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _age(path: Path) -> float:
    """Seconds since ``path`` was last modified (0 if it is gone)."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def temp_entries(parent: Path) -> tuple[list[Path], list[Path]]:
    """``(abandoned, live)`` temp folders and orphan lock files directly in ``parent``.

    Abandoned: a ``.tmp-*`` folder whose lock file is gone or free (its run died), or a
    lock file that is free, has no folder and is older than ``ORPHAN_LOCK_SECONDS``.
    Live: a folder whose writer still runs.
    """
    abandoned: list[Path] = []
    live: list[Path] = []
    if not parent.is_dir():
        return abandoned, live
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        if entry.name.endswith(LOCK_SUFFIX) and not entry.is_dir():
            folder = entry.with_name(entry.name.removesuffix(LOCK_SUFFIX))
            # A young lock without its folder may be one a writer has just created and
            # not yet locked: leave it, or that writer's folder would lose its lock.
            stale = not folder.exists() and _age(entry) > ORPHAN_LOCK_SECONDS
            if stale and not _owner_alive(entry):
                abandoned.append(entry)
            continue
        lock = entry.with_name(entry.name + LOCK_SUFFIX)
        (live if _owner_alive(lock) else abandoned).append(entry)
    return abandoned, live


def remove_abandoned_temps(parent: Path) -> list[Path]:
    """Delete the temp folders (and lock files) of dead runs in ``parent``; return them."""
    abandoned, _live = temp_entries(parent)
    for entry in abandoned:
        if entry.is_dir() and not entry.is_symlink():
            _remove_tree(entry)
            # Its lock is free (that is what made it abandoned); it goes after the folder.
            entry.with_name(entry.name + LOCK_SUFFIX).unlink(missing_ok=True)
        else:
            entry.unlink(missing_ok=True)
    if abandoned:
        log.info("removed %d abandoned temp folder(s) in %s", len(abandoned), parent)
    return abandoned


# --------------------------------------------------------------------------- vintages


class Vintage:
    """One complete, immutable retrieval stored under ``raw/<source>/<id>/``.

    Parameters
    ----------
    path
        The vintage folder.
    manifest
        Its parsed ``manifest.json``.
    """

    def __init__(self, path: Path, manifest: dict[str, Any], *, sealed: bool = True) -> None:
        self.path = Path(path)
        self.manifest = manifest
        #: False for a vintage written before manifests were sealed (``reexport verify --seal``).
        self.sealed = sealed

    @classmethod
    def load(cls, path: Path) -> Vintage:
        """Read and check the manifest of the vintage folder ``path``.

        Besides its structure, the manifest must match its seal (``manifest.seal``,
        when present) and its ``synthetic`` flag must agree with the vintage id, the
        URLs and the request (:func:`provenance_problem`).

        Raises
        ------
        BadInputError
            If the manifest is missing, not JSON, lacks required fields, was edited
            after it was sealed, or its ``synthetic`` flag disagrees with its vintage.
        """
        manifest_path = Path(path) / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(f"raw store: {manifest_path} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"raw store: {manifest_path} is not valid JSON ({exc})") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise BadInputError(f"raw store: {manifest_path} {problem}")
        seal = _read_seal(Path(path))
        problem = provenance_problem(manifest)
        if seal is not None and seal != manifest_seal(manifest):
            raise BadInputError(
                f"raw store: {manifest_path} was edited after it was written "
                f"(it no longer matches {SEAL_NAME})"
                + (f" and {problem}" if problem else "")
                + "; a vintage is never edited: fetch, import or write it again"
            )
        if problem:
            raise BadInputError(f"raw store: {manifest_path} {problem}")
        return cls(Path(path), manifest, sealed=seal is not None)

    @property
    def source(self) -> str:
        """Source name, e.g. ``comtrade``."""
        return str(self.manifest["source"])

    @property
    def id(self) -> str:
        """Vintage id: ``YYYYMMDDTHHMMSSZ`` (``-2``... on collision) or ``demo-<seed>``."""
        return str(self.manifest["vintage"])

    @property
    def synthetic(self) -> bool:
        """True for demo vintages made by a documented data-generating process.

        Decided from everything that marks the vintage: the manifest's flag, a
        ``demo-`` id, ``synthetic:`` URLs and the request's ``demo`` block (any of
        them suffices; :meth:`load` refuses a vintage where they disagree).
        """
        demo, _real = _synthetic_evidence(self.manifest)
        return bool(self.manifest["synthetic"]) or bool(demo)

    @property
    def created(self) -> str:
        """UTC creation time, ISO 8601 with ``Z``."""
        return str(self.manifest.get("created", ""))

    @property
    def request(self) -> dict[str, Any]:
        """The logical request this vintage answers (secrets redacted)."""
        request: dict[str, Any] = self.manifest.get("request", {})
        return request

    @property
    def request_key(self) -> str:
        """sha256 of the canonical request JSON."""
        return str(self.manifest["request_key"])

    @property
    def files(self) -> list[dict[str, Any]]:
        """The file records of the manifest, in the order they were added."""
        files: list[dict[str, Any]] = self.manifest["files"]
        return files

    @property
    def names(self) -> list[str]:
        """Names of the stored files, in the order they were added."""
        return [str(record["name"]) for record in self.files]

    def file(self, name: str) -> dict[str, Any]:
        """The manifest record of file ``name``.

        Raises
        ------
        BadInputError
            If the vintage holds no file of that name.
        """
        for record in self.files:
            if record["name"] == name:
                return record
        raise BadInputError(
            f"raw store: vintage {self.source}/{self.id} has no file {name!r} "
            f"(it holds {', '.join(self.names) or 'no files'})"
        )

    def file_path(self, name: str) -> Path:
        """Path of stored file ``name`` (not re-hashed; use :meth:`read_bytes` to verify)."""
        self.file(name)
        return self.path / name

    def read_bytes(self, name: str) -> bytes:
        """Return the bytes of file ``name`` after checking them against the manifest.

        Raises
        ------
        IntegrityError
            If the file is missing or its size or sha256 differs from the manifest.
        BadInputError
            If the vintage has no file of that name.
        """
        record = self.file(name)
        path = self.path / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(
                f"raw store: {path} is listed in its manifest but missing; run `reexport verify`"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != record["bytes"] or digest != record["sha256"]:
            raise IntegrityError(
                f"raw store: {path} does not match its manifest "
                f"({len(data)} bytes, sha256 {digest[:12]}... instead of {record['bytes']} bytes, "
                f"sha256 {str(record['sha256'])[:12]}...); the raw file was modified; "
                "run `reexport verify`"
            )
        if not self.synthetic:
            markers = content_markers(data)
            if markers:
                raise IntegrityError(
                    f"raw store: {path} carries {markers[0]}, but vintage "
                    f"{self.source}/{self.id} says it is real data; demo data can never pass "
                    "as real (run `reexport verify`)"
                )
        return data

    def read_text(self, name: str, encoding: str = "utf-8") -> str:
        """:meth:`read_bytes` decoded as text."""
        return self.read_bytes(name).decode(encoding)

    def __repr__(self) -> str:
        flag = ", synthetic" if self.synthetic else ""
        return f"Vintage({self.source}/{self.id}{flag}, {len(self.files)} files)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vintage) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())


def _manifest_problem(manifest: Any) -> str | None:
    """Describe what is structurally wrong with a parsed manifest, or ``None``."""
    if not isinstance(manifest, dict):
        return "is not a JSON object"
    missing = [key for key in _REQUIRED_MANIFEST_KEYS if key not in manifest]
    if missing:
        return f"lacks {', '.join(missing)}"
    if manifest["schema"] != MANIFEST_SCHEMA:
        return f"has schema {manifest['schema']!r}; this reexport reads schema {MANIFEST_SCHEMA}"
    if not isinstance(manifest["files"], list):
        return "has a 'files' entry that is not a list"
    for index, record in enumerate(manifest["files"]):
        if not isinstance(record, dict) or any(k not in record for k in _REQUIRED_FILE_KEYS):
            return f"has a malformed files[{index}] record (needs name, bytes, sha256)"
        if not isinstance(record["name"], str) or not _FILE_RE.match(record["name"]):
            return f"has an unsafe file name {record['name']!r} in files[{index}]"
    return None


# --------------------------------------------------------------------------- writing


class VintageWriter:
    """Context manager that assembles one vintage and publishes it atomically.

    Use via :meth:`RawStore.writer`::

        with store.writer("gpr", {"url": url}) as w:
            w.add("data_gpr_export.xls", body, url=url, status=200, content_type=ctype)
        vintage = w.vintage

    Files go to a hidden temp folder; on a clean exit the manifest is written
    last and the folder is renamed to its vintage id.  On an exception the temp
    folder is removed and nothing is published.
    """

    def __init__(
        self,
        store: RawStore,
        source: str,
        request: Mapping[str, Any],
        *,
        synthetic: bool = False,
        vintage_id: str | None = None,
    ) -> None:
        self.store = store
        self.source = _check_source(source)
        self._secrets = _known_secrets()
        self.request = _scrub(request, self._secrets)
        self.request_key = request_key(request)
        self.synthetic = bool(synthetic)
        if vintage_id is not None and not _VINTAGE_RE.match(vintage_id):
            raise BadInputError(
                f"raw store: vintage id {vintage_id!r} must be letters, digits, '.', '_' or '-'"
            )
        self._started = _utc_now()
        self._requested_id = vintage_id or self._started.strftime("%Y%m%dT%H%M%SZ")
        # Provenance is fixed when the vintage is started: the id says demo exactly when
        # the flag does, and only a demo request has a `demo` block (`provenance_problem`
        # checks the same on every read).
        demo_id = self._requested_id.startswith(DEMO_ID_PREFIX)
        demo_block = isinstance(self.request.get("demo"), Mapping)
        if self.synthetic != demo_id or (demo_block and not self.synthetic):
            raise BadInputError(
                f"raw store: a {'synthetic' if self.synthetic else 'real'} {source} vintage "
                f"needs an id {'starting' if self.synthetic else 'not starting'} with "
                f"{DEMO_ID_PREFIX!r}"
                + ("" if self.synthetic else " and no 'demo' block in its request")
                + f" (got id {self._requested_id!r}{', a demo block' if demo_block else ''})"
            )
        self._records: list[dict[str, Any]] = []
        self._tmp: Path | None = None
        self._temp: TempFolder | None = None
        self.vintage: Vintage | None = None

    def __enter__(self) -> VintageWriter:
        parent = self.store.root / self.source
        parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_temps(parent)
        self._temp = TempFolder(parent)
        self._tmp = self._temp.path
        return self

    def add(
        self,
        name: str,
        content: bytes,
        *,
        url: str | None = None,
        params: Mapping[str, Any] | None = None,
        status: int | None = None,
        content_type: str | None = None,
        retrieved: str | None = None,
    ) -> dict[str, Any]:
        """Store one file of the vintage, byte-for-byte.

        Parameters
        ----------
        name
            File name inside the vintage (no folders; unique; not ``manifest.json``).
        content
            The bytes exactly as received.
        url
            Where they came from; secret query values are redacted before recording.
        params
            The query parameters sent (secret-named ones are redacted).
        status
            HTTP status of the response.
        content_type
            The response's ``Content-Type``.
        retrieved
            UTC time of retrieval (ISO 8601 ``Z``); default now.

        Returns
        -------
        dict
            The manifest record of the file.
        """
        if self._tmp is None:
            raise RuntimeError("VintageWriter.add() called outside its `with` block")
        if not isinstance(content, bytes | bytearray | memoryview):
            raise BadInputError(
                f"raw store: content of {name!r} must be bytes, got {type(content).__name__}"
            )
        if not isinstance(name, str) or not _FILE_RE.match(name) or name == MANIFEST_NAME:
            raise BadInputError(
                f"raw store: file name {name!r} must be a plain file name "
                "(letters, digits, '_', '.', '-', '+', '='; not manifest.json)"
            )
        if any(record["name"] == name for record in self._records):
            raise BadInputError(f"raw store: file {name!r} was added twice to one vintage")
        data = bytes(content)
        if url is not None and url.startswith(SYNTHETIC_URL_PREFIX) != self.synthetic:
            raise BadInputError(
                f"raw store: {name}: URL {url.split('?')[0]!r} in a "
                f"{'synthetic' if self.synthetic else 'real'} vintage (demo files have "
                f"{SYNTHETIC_URL_PREFIX!r} URLs, real ones never)"
            )
        markers = [] if self.synthetic else content_markers(data)
        if markers:
            raise BadInputError(
                f"raw store: {name} carries {markers[0]}: it is the synthetic demo's, and a "
                "real vintage cannot hold demo data"
            )
        path = self._tmp / name
        with path.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        pause_between_writes_for_tests()
        record: dict[str, Any] = {
            "name": name,
            "url": redact_url(url, self._secrets) if url is not None else None,
            "params": _scrub(dict(params), self._secrets) if params is not None else None,
            "retrieved": retrieved or _iso(_utc_now()),
            "status": status,
            "content_type": content_type,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        self._records.append(record)
        return record

    def _manifest(self, vintage_id: str) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "source": self.source,
            "vintage": vintage_id,
            "synthetic": self.synthetic,
            "created": _iso(self._started),
            "reexport_version": __version__,
            "request": self.request,
            "request_key": self.request_key,
            "files": self._records,
        }

    def _publish(self, tmp: Path) -> Vintage:
        parent = tmp.parent
        for number in range(1, 10_000):
            vintage_id = self._requested_id if number == 1 else f"{self._requested_id}-{number}"
            if (parent / vintage_id).exists():
                continue
            manifest = self._manifest(vintage_id)
            text = json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
            # The manifest and its seal are written last, after every file is on disk.
            for name, content in ((MANIFEST_NAME, text), (SEAL_NAME, _seal_text(manifest))):
                target = tmp / name
                if target.exists():
                    target.chmod(0o644)
                    target.unlink()
                with target.open("x", encoding="utf-8") as handle:
                    handle.write(content)
                    handle.flush()
                    os.fsync(handle.fileno())
            for entry in tmp.iterdir():
                entry.chmod(0o444)
            _fsync_dir(tmp)
            try:
                # Fails on Linux if another process published the same id meanwhile.
                os.rename(tmp, parent / vintage_id)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    for entry in tmp.iterdir():
                        entry.chmod(0o644)
                    continue
                raise
            _fsync_dir(parent)
            log.info(
                "raw store: wrote %s/%s (%d files)", self.source, vintage_id, len(self._records)
            )
            return Vintage(parent / vintage_id, manifest, sealed=True)
        raise BadInputError(f"raw store: too many vintages named {self._requested_id!r}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tmp, self._tmp = self._tmp, None
        temp, self._temp = self._temp, None
        if tmp is None or temp is None:
            return
        try:
            if exc_type is None:
                try:
                    self.vintage = self._publish(tmp)
                    return
                except BaseException:
                    _remove_tree(tmp)
                    raise
            _remove_tree(tmp)
        finally:
            temp.release()


def _remove_tree(path: Path) -> None:
    """Delete a folder even if its files were made read-only."""

    def _make_writable_and_retry(func: Any, target: str, _exc_info: Any) -> None:
        os.chmod(os.path.dirname(target) or ".", 0o755)
        if os.path.lexists(target) and not os.path.isdir(target):
            os.chmod(target, 0o644)
        func(target)

    if path.exists():
        shutil.rmtree(path, onerror=_make_writable_and_retry)


# --------------------------------------------------------------------------- the store


class RawStore:
    """The raw store rooted at ``<data_root>/raw``.

    Parameters
    ----------
    root
        The ``raw`` folder; default :func:`reexport.config.raw_dir` (read now).
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else config.raw_dir()

    def __repr__(self) -> str:
        return f"RawStore({str(self.root)!r})"

    def sources(self) -> list[str]:
        """Names of the source folders present, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and _SOURCE_RE.match(p.name)
        )

    def _vintage_dirs(self, source: str) -> Iterator[Path]:
        folder = self.root / _check_source(source)
        if not folder.is_dir():
            return
        for entry in folder.iterdir():
            # Hidden entries include half-written `.tmp-*` folders: never read them.
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            yield entry

    def vintages(self, source: str, *, synthetic: bool | None = None) -> list[Vintage]:
        """Complete vintages of ``source``, oldest first.

        Folders with a missing or malformed manifest are skipped (with a warning);
        :meth:`verify` reports them.

        Parameters
        ----------
        source
            Source name, e.g. ``"gpr"``.
        synthetic
            ``True`` for demo vintages only, ``False`` for real ones only, ``None`` for all.
        """
        found: list[Vintage] = []
        for folder in self._vintage_dirs(source):
            try:
                vintage = Vintage.load(folder)
            except BadInputError as exc:
                log.warning("%s; skipping it (see `reexport verify`)", exc)
                continue
            if vintage.source != source or vintage.id != folder.name:
                log.warning(
                    "raw store: %s has a manifest for %s/%s; skipping it",
                    folder,
                    vintage.source,
                    vintage.id,
                )
                continue
            if synthetic is None or vintage.synthetic == synthetic:
                found.append(vintage)
        return sorted(found, key=_vintage_sort_key)

    def latest(self, source: str, *, synthetic: bool | None = None) -> Vintage | None:
        """The newest complete vintage of ``source`` (optionally only real or only demo)."""
        candidates = self.vintages(source, synthetic=synthetic)
        return candidates[-1] if candidates else None

    def find(
        self, source: str, request: Mapping[str, Any], *, synthetic: bool | None = False
    ) -> Vintage | None:
        """The newest complete vintage of ``source`` answering exactly ``request``.

        Requests match when their canonical JSON (sorted keys, secrets redacted)
        has the same sha256, so a warm re-run can skip the network entirely.

        Parameters
        ----------
        source
            Source name.
        request
            The logical request (JSON-like mapping).
        synthetic
            ``False`` (default): real vintages only, so a fetcher's warm re-run can
            never return demo data even if a demo vintage recorded the same request.
            ``True``: demo vintages only.  ``None``: either.
        """
        key = request_key(request)
        matches = [v for v in self.vintages(source, synthetic=synthetic) if v.request_key == key]
        return matches[-1] if matches else None

    def writer(
        self,
        source: str,
        request: Mapping[str, Any],
        *,
        synthetic: bool = False,
        vintage_id: str | None = None,
    ) -> VintageWriter:
        """A :class:`VintageWriter` for a new vintage of ``source``.

        Parameters
        ----------
        source
            Source name.
        request
            The logical request the vintage answers (stored with secrets redacted).
        synthetic
            Mark the vintage as synthetic (demo data).
        vintage_id
            Explicit id such as ``demo-20250601``; default the UTC time
            ``YYYYMMDDTHHMMSSZ``.  If the id exists, ``-2``, ``-3``... is appended:
            an existing vintage is never overwritten.
        """
        return VintageWriter(self, source, request, synthetic=synthetic, vintage_id=vintage_id)

    # ----------------------------------------------------------------- verification

    def manifest_problems(self, sources: Iterable[str] | None = None) -> list[str]:
        """Manifests a build cannot trust, without re-hashing the data files.

        A folder whose manifest is missing or not valid JSON, lacks fields, was edited
        after it was sealed, disagrees with its folder name, or whose ``synthetic`` flag
        disagrees with its id, URLs or request.  :func:`reexport.panel.build` refuses to
        build while any of these exists, rather than silently going on without it.

        Parameters
        ----------
        sources
            Source folders to check (default: all present).

        Returns
        -------
        list of str
            One line per problem, naming the file.
        """
        problems: list[str] = []
        for source in sorted(sources) if sources is not None else self.sources():
            for folder in sorted(self._vintage_dirs(source), key=lambda p: p.name):
                try:
                    vintage = Vintage.load(folder)
                except BadInputError as exc:
                    problems.append(str(exc).removeprefix("raw store: "))
                    continue
                if vintage.source != source or vintage.id != folder.name:
                    problems.append(_misplaced(folder, vintage, source))
        return problems

    def verify_report(self) -> VerifyReport:
        """Re-hash every file of every vintage: problems, notes and counts.

        Problems (``verify`` fails): tampered, truncated, missing or extra files,
        missing, malformed or edited (seal mismatch) manifests, and vintages whose
        ``synthetic`` flag disagrees with their id, URLs, request or file contents.
        Notes (``verify`` still passes): temp folders of interrupted writes (removed by
        the next write to that source), temp folders being written right now, and
        vintages written before manifests were sealed.
        """
        report = VerifyReport()
        if not self.root.exists():
            return report
        if not self.root.is_dir():
            report.problems.append(f"{self.root}: the raw store is not a folder")
            return report
        for source_dir in sorted(self.root.iterdir()):
            if source_dir.name.startswith("."):
                continue
            if not source_dir.is_dir() or not _SOURCE_RE.match(source_dir.name):
                report.problems.append(f"{source_dir}: unexpected entry in the raw store")
                continue
            abandoned, live = temp_entries(source_dir)
            report.notes += [
                f"{entry}: left by an interrupted write (not a vintage; the next write to "
                f"{source_dir.name} removes it)"
                for entry in abandoned
            ]
            report.notes += [f"{entry}: being written by a running reexport" for entry in live]
            for entry in sorted(source_dir.iterdir()):
                if entry.name.startswith("."):
                    continue
                if not entry.is_dir():
                    report.problems.append(f"{entry}: unexpected file outside any vintage")
                    continue
                vintage_problems, checked, vintage = _verify_vintage(entry, source_dir.name)
                report.problems.extend(vintage_problems)
                report.n_files += checked
                report.n_vintages += 1
                if vintage is not None and not vintage.sealed:
                    report.unsealed.append(entry)
        return report

    def verify_counts(self) -> tuple[list[str], int, int]:
        """Like :meth:`verify`, also returning the numbers of files and vintages checked."""
        report = self.verify_report()
        return report.problems, report.n_files, report.n_vintages

    def verify(self) -> list[str]:
        """Re-hash every file of every vintage and list what does not match.

        See :meth:`verify_report` for what counts as a problem.

        Returns
        -------
        list of str
            One line per problem; empty when the store is intact.
        """
        return self.verify_report().problems

    def seal(self) -> list[Path]:
        """Seal every intact vintage written before manifests were sealed.

        A vintage is sealed only if :meth:`verify_report` finds no problem in it (its
        files match its manifest and its provenance agrees), so a seal never blesses
        an edited manifest that verification would catch.  The seal file is written
        atomically into the vintage folder; nothing else there changes.

        Returns
        -------
        list of pathlib.Path
            The vintage folders sealed now.
        """
        sealed = []
        for folder in self.verify_report().unsealed:
            problems, _checked, vintage = _verify_vintage(folder, folder.parent.name)
            if problems or vintage is None:
                continue
            seal = atomic_write_text(folder / SEAL_NAME, _seal_text(vintage.manifest))
            seal.chmod(0o444)
            sealed.append(folder)
        return sealed


@dataclass
class VerifyReport:
    """What :meth:`RawStore.verify_report` found.

    Attributes
    ----------
    problems
        One line per integrity problem (``verify`` exits 1 when any).
    notes
        One line per harmless finding (temp folders, unsealed vintages).
    n_files, n_vintages
        How many files were re-hashed, in how many vintages.
    unsealed
        Vintage folders without a ``manifest.seal`` (written by an older reexport).
    """

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_files: int = 0
    n_vintages: int = 0
    unsealed: list[Path] = field(default_factory=list)


def _misplaced(folder: Path, vintage: Vintage, source: str) -> str:
    return (
        f"{folder}: manifest says {vintage.source}/{vintage.id}, "
        f"but the folder is {source}/{folder.name}"
    )


def _verify_vintage(folder: Path, source: str) -> tuple[list[str], int, Vintage | None]:
    """Problems of one vintage folder, the number of files it re-hashed, and the vintage."""
    problems: list[str] = []
    try:
        vintage = Vintage.load(folder)
    except BadInputError as exc:
        return [str(exc).removeprefix("raw store: ")], 0, None
    if vintage.source != source or vintage.id != folder.name:
        problems.append(_misplaced(folder, vintage, source))
    listed = set()
    checked = 0
    markers: dict[str, list[str]] = {}
    for record in vintage.files:
        name = record["name"]
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
            continue
        data = path.read_bytes()
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
        checked += 1
        if size != record["bytes"]:
            problems.append(
                f"{path}: {size} bytes, but the manifest records {record['bytes']} (modified)"
            )
        elif digest != record["sha256"]:
            problems.append(
                f"{path}: sha256 {digest[:12]}... differs from the manifest's "
                f"{str(record['sha256'])[:12]}... (modified)"
            )
        found = content_markers(data)
        if found:
            markers[name] = found
    provenance = provenance_problem(vintage.manifest, markers)
    if provenance:
        problems.append(f"{folder / MANIFEST_NAME} {provenance}")
    for entry in sorted(folder.iterdir()):
        if entry.name not in (MANIFEST_NAME, SEAL_NAME) and entry.name not in listed:
            problems.append(f"{entry}: not listed in the vintage's manifest (extra file)")
    return problems, checked, vintage


def verify_cli(*, seal: bool = False, **_options: Any) -> int:
    """``reexport verify [--seal]``: re-hash the raw store and check the processed set.

    Prints one line per problem, then ``note:`` lines for harmless findings, then
    ``OK: N files in M vintages verified`` or ``FAILED: ...``.

    Parameters
    ----------
    seal
        First seal every intact vintage written before manifests were sealed
        (:meth:`RawStore.seal`).

    Returns
    -------
    int
        0 when everything matches, 1 when there is any problem.
    """
    store = RawStore()
    if seal:
        sealed = store.seal()
        print(f"sealed {len(sealed)} vintage(s) written before manifests were sealed")
    report = store.verify_report()
    processed_problems, processed_notes = verify_processed_root(config.processed_dir())
    problems = report.problems + processed_problems
    notes = report.notes + processed_notes
    if report.unsealed:
        notes.append(
            f"{len(report.unsealed)} vintage(s) were written before manifests were sealed, "
            "so an edit of their manifest cannot be detected; `reexport verify --seal` seals "
            "the intact ones: " + ", ".join(f"{p.parent.name}/{p.name}" for p in report.unsealed)
        )
    for problem in problems:
        print(problem)
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(
            f"FAILED: {len(problems)} problem(s) in the raw store {store.root} "
            f"or the processed set {config.processed_dir()}"
        )
        return 1
    if not store.root.exists():
        # Say so plainly: a mistyped REEXPORT_DATA_DIR should not read as "all verified".
        print(f"OK: nothing to verify, there is no raw store at {store.root}")
        return 0
    print(f"OK: {report.n_files} files in {report.n_vintages} vintages verified")
    return 0


# --------------------------------------------------------------------------- processed sets

#: The report a processed set is written with, last; it lists every other file's sha256.
SET_REPORT = "build_report.json"
#: Linux ``renameat2`` flag: swap two paths atomically (used once, to replace an old
#: real ``processed/`` folder by the symlink).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def sets_dir(out_dir: Path) -> Path:
    """Where the complete sets behind a swapped folder live: ``<parent>/.<name>-sets/``."""
    return out_dir.parent / f".{out_dir.name}-sets"


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_path`` (a second holder waits); no-op without fcntl."""
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def replace_folder(out_dir: Path) -> Iterator[Path]:
    """Stage the whole new content of ``out_dir``, then swap it in at once.

    ``out_dir`` (e.g. ``data/processed``) is a symlink to one complete set under
    :func:`sets_dir` (``data/.processed-sets/<id>/``).  The block writes into a temp
    folder there; on a clean exit the folder is fsynced, renamed to a new set id, and
    the symlink is replaced atomically (a new symlink renamed over the old one), so a
    reader of ``out_dir/<file>`` -- or a kill -9 at any instant -- sees the previous
    complete set or the new one, never a mix.  Sets other than the current one
    (abandoned temp folders, a set a killed run renamed but never pointed to) are
    removed under an exclusive lock at the start and the end of each swap.  A real
    folder left by an older reexport is swapped out the same way (Linux
    ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames) and removed.

    Parameters
    ----------
    out_dir
        The folder readers use.

    Yields
    ------
    pathlib.Path
        The empty staging folder to write every file into.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInputError(f"{out_dir} is a file, not a folder of processed tables")
    sets = sets_dir(out_dir)
    sets.mkdir(parents=True, exist_ok=True)
    with _exclusive(sets / LOCK_NAME):
        _collect_sets(out_dir)
        staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=sets))
        final = sets / f"{_utc_now():%Y%m%dT%H%M%SZ}-{_secrets.token_hex(4)}"
        try:
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the tables from other users
            yield staging
            _fsync_dir(staging)
            os.rename(staging, final)
            _fsync_dir(sets)
            _point(out_dir, final)
        except BaseException:
            _remove_tree(staging)
            if _current_set(out_dir) != final.name:
                _remove_tree(final)  # renamed but never pointed to (e.g. no room for the link)
            raise
        _collect_sets(out_dir)


#: The lock file of a sets folder.
LOCK_NAME = ".lock"


def _current_set(out_dir: Path) -> str | None:
    """Name of the set ``out_dir`` points to (``None`` if it is not a symlink)."""
    if not out_dir.is_symlink():
        return None
    return Path(os.readlink(out_dir)).name


def _collect_sets(out_dir: Path) -> None:
    """Remove every set but the current one, and stray swap links (caller holds the lock)."""
    keep = _current_set(out_dir)
    for entry in sorted(sets_dir(out_dir).iterdir()):
        if entry.name in (keep, LOCK_NAME):
            continue
        _remove_entry(entry)
    for entry in out_dir.parent.glob(f".{out_dir.name}.swap-*"):
        _remove_entry(entry)


def _remove_entry(entry: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        _remove_tree(entry)
    else:
        entry.unlink(missing_ok=True)


def _rename_exchange(a: Path, b: Path) -> bool:
    """Atomically swap paths ``a`` and ``b`` (Linux renameat2); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


#: ``os.symlink`` errors of a file system without symlinks (FAT, some network shares).
_NO_SYMLINKS = (errno.EPERM, errno.EACCES, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP)


def _point(out_dir: Path, target: Path) -> None:
    """Make ``out_dir`` a symlink to ``target``, atomically.

    Where the file system has no symlinks, ``target`` is renamed to ``out_dir`` instead
    (the old folder is renamed away first): whole sets are still swapped, but a kill
    between those two renames leaves no ``out_dir`` until the next build.
    """
    swap = out_dir.parent / f".{out_dir.name}.swap-{_secrets.token_hex(4)}"
    try:
        os.symlink(os.path.relpath(target, out_dir.parent), swap)
    except OSError as exc:
        if exc.errno not in _NO_SYMLINKS or out_dir.is_symlink():
            raise
        log.warning("%s: no symlinks here; swapping the processed set by renames", out_dir)
        if out_dir.exists():
            os.rename(out_dir, sets_dir(out_dir) / f"legacy-{_secrets.token_hex(4)}")
        os.rename(target, out_dir)
        _fsync_dir(out_dir.parent)
        return
    try:
        if out_dir.is_symlink() or not out_dir.exists():
            os.replace(swap, out_dir)
        elif _rename_exchange(swap, out_dir):
            # `swap` now holds the old real folder; the sets collection removes it.
            pass
        else:
            legacy = sets_dir(out_dir) / f"legacy-{_secrets.token_hex(4)}"
            os.rename(out_dir, legacy)
            os.replace(swap, out_dir)
    except BaseException:
        if swap.is_symlink():
            swap.unlink()
        raise
    _fsync_dir(out_dir.parent)


def verify_processed(out_dir: Path) -> tuple[list[str], list[str]]:
    """Check that ``out_dir`` holds one complete, consistent processed set.

    Every file the set's ``build_report.json`` lists must be there with its sha256;
    each CSV's ``synthetic`` column and each sidecar's ``synthetic`` flag must agree
    with the report.  Leftovers of interrupted builds are notes, not problems.

    Parameters
    ----------
    out_dir
        The processed folder (``data/processed``).

    Returns
    -------
    (problems, notes)
        Lines for ``reexport verify``.
    """
    problems: list[str] = []
    notes: list[str] = []
    sets = sets_dir(out_dir)
    if sets.is_dir():
        keep = _current_set(out_dir)
        busy = _owner_alive(sets / LOCK_NAME)
        for entry in sorted(sets.iterdir()):
            if entry.name not in (keep, LOCK_NAME):
                notes.append(
                    f"{entry}: "
                    + (
                        "being written by a running build"
                        if busy
                        else "left by an interrupted build (the next build removes it)"
                    )
                )
    if out_dir.is_symlink() and not out_dir.exists():
        return [f"{out_dir} points to {os.readlink(out_dir)}, which is missing"], notes
    # Hidden entries (a `.gitkeep` in an old checkout's folder) are not part of a set.
    entries = (
        [e for e in out_dir.iterdir() if not e.name.startswith(".")] if out_dir.is_dir() else []
    )
    if not entries:
        return problems, notes
    report_path = out_dir / SET_REPORT
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [f"{report_path} is missing: {out_dir} holds an incomplete build"], notes
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{report_path} is not valid JSON ({exc})"], notes
    outputs = report.get("outputs") if isinstance(report, dict) else None
    if not isinstance(outputs, dict):
        notes.append(
            f"{out_dir} was written by an older reexport (its build report lists no files); "
            "the next `reexport build` replaces it whole"
        )
        return problems, notes
    synthetic = bool(report.get("synthetic"))
    for name, digest in sorted(outputs.items()):
        path = out_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problems.append(f"{path}: listed in {SET_REPORT} but missing")
            continue
        if hashlib.sha256(data).hexdigest() != digest:
            problems.append(f"{path}: differs from the sha256 in {SET_REPORT} (modified)")
            continue
        says = _processed_says_synthetic(name, data)
        if says is not None and says != synthetic:
            problems.append(
                f"{path}: says synthetic {str(says).lower()}, but {SET_REPORT} says "
                f"{str(synthetic).lower()}"
            )
    listed = {*outputs, SET_REPORT}
    for entry in sorted(entries):
        if entry.name not in listed:
            notes.append(f"{entry}: not written by the build that made {out_dir}")
    return problems, notes


def verify_processed_root(root: Path) -> tuple[list[str], list[str]]:
    """:func:`verify_processed` for every study's set under ``root`` (``data/processed``).

    Each study's build swaps its own set in ``root/<study>/`` (docs/study_format.md);
    a ``root`` that is itself one set (written by an older reexport) is checked as one.
    """
    if root.is_symlink() or (root / SET_REPORT).is_file() or not root.is_dir():
        return verify_processed(root)
    problems: list[str] = []
    notes: list[str] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue  # the studies' sets folders (.<study>-sets), checked with each study
        if not child.is_dir():
            notes.append(f"{child}: not a study's processed set")
            continue
        found, noted = verify_processed(child)
        problems += found
        notes += noted
    return problems, notes


def _processed_says_synthetic(name: str, data: bytes) -> bool | None:
    """What a processed file's own content says about being synthetic (``None``: silent)."""
    if name.endswith(".meta.json"):
        try:
            meta = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        flag = meta.get("synthetic") if isinstance(meta, dict) else None
        return flag if isinstance(flag, bool) else None
    if name.endswith(".csv"):
        return _csv_synthetic_column(data) is not None
    if name.endswith(".parquet"):
        return _parquet_synthetic_column(data)
    return None


def _parquet_synthetic_column(data: bytes) -> bool | None:
    """Whether a processed Parquet table's ``synthetic`` column is true anywhere (``None``: none)."""
    import pyarrow as pa

    from reexport.tables_io import parquet_synthetic

    try:
        return parquet_synthetic(data)
    except (pa.ArrowException, OSError, ValueError):
        return None  # unreadable: the checksum check reports the file
