"""The immutable raw store: every downloaded byte, kept as received, with a manifest.

Layout::

    <data_root>/raw/<source>/<vintage_id>/<file>          the bytes exactly as received
    <data_root>/raw/<source>/<vintage_id>/manifest.json   what was asked, where, when, sha256s

A *vintage* is one retrieval of one logical request.  A vintage is written
whole or not at all: its files are assembled in a hidden temp folder
(``<data_root>/raw/<source>/.tmp-<random>/``), the manifest is written last, and
the folder is renamed into place only when everything succeeded.  Existing
vintages are never overwritten; a refresh writes a new vintage beside the old
one.  Written files are made read-only as a guard against accidental edits,
and :func:`verify` re-hashes everything to detect the edits the guard missed.

The same module provides :func:`atomic_write_bytes` / :func:`atomic_write_text`
for processed tables and reports, and :func:`redact` / :func:`redact_url` which
keep secrets (the Comtrade key) out of manifests, logs and messages.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from reexport import __version__, config
from reexport.errors import BadInputError

log = logging.getLogger("reexport.store")

#: Version of the manifest layout written by this module.
MANIFEST_SCHEMA = 1
MANIFEST_NAME = "manifest.json"
#: Prefix of the hidden folders a vintage is assembled in before it is renamed into place.
TEMP_PREFIX = ".tmp-"
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

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.manifest = manifest

    @classmethod
    def load(cls, path: Path) -> Vintage:
        """Read and check the manifest of the vintage folder ``path``.

        Raises
        ------
        BadInputError
            If the manifest is missing, not JSON, or lacks required fields.
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
        return cls(Path(path), manifest)

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
        """True for demo vintages made by a documented data-generating process."""
        return bool(self.manifest["synthetic"])

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
        self._records: list[dict[str, Any]] = []
        self._tmp: Path | None = None
        self.vintage: Vintage | None = None

    def __enter__(self) -> VintageWriter:
        parent = self.store.root / self.source
        parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=parent))
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
        path = self._tmp / name
        with path.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
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
            # The manifest is written last, after every file is on disk.
            manifest_path = tmp / MANIFEST_NAME
            manifest_path.unlink(missing_ok=True)
            with manifest_path.open("x", encoding="utf-8") as handle:
                handle.write(text)
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
            return Vintage(parent / vintage_id, manifest)
        raise BadInputError(f"raw store: too many vintages named {self._requested_id!r}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is None:
            return
        if exc_type is None:
            try:
                self.vintage = self._publish(tmp)
                return
            except BaseException:
                _remove_tree(tmp)
                raise
        _remove_tree(tmp)


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

    def verify_counts(self) -> tuple[list[str], int, int]:
        """Like :meth:`verify`, also returning the numbers of files and vintages checked."""
        problems: list[str] = []
        n_files = 0
        n_vintages = 0
        if not self.root.exists():
            return problems, 0, 0
        if not self.root.is_dir():
            return [f"{self.root}: the raw store is not a folder"], 0, 0
        for source_dir in sorted(self.root.iterdir()):
            if source_dir.name.startswith("."):
                continue
            if not source_dir.is_dir() or not _SOURCE_RE.match(source_dir.name):
                problems.append(f"{source_dir}: unexpected entry in the raw store")
                continue
            for entry in sorted(source_dir.iterdir()):
                if entry.name.startswith(TEMP_PREFIX):
                    problems.append(
                        f"{entry}: leftover temp folder of an interrupted write "
                        "(not a vintage; safe to delete)"
                    )
                    continue
                if entry.name.startswith("."):
                    continue
                if not entry.is_dir():
                    problems.append(f"{entry}: unexpected file outside any vintage")
                    continue
                vintage_problems, checked = _verify_vintage(entry, source_dir.name)
                problems.extend(vintage_problems)
                n_files += checked
                n_vintages += 1
        return problems, n_files, n_vintages

    def verify(self) -> list[str]:
        """Re-hash every file of every vintage and list what does not match.

        Reports tampered or truncated files, files missing from a vintage,
        files present but not in the manifest, missing or malformed manifests,
        and leftover ``.tmp-*`` folders of interrupted writes.

        Returns
        -------
        list of str
            One line per problem; empty when the store is intact.
        """
        return self.verify_counts()[0]


def _verify_vintage(folder: Path, source: str) -> tuple[list[str], int]:
    """Problems of one vintage folder and the number of files it re-hashed."""
    problems: list[str] = []
    try:
        vintage = Vintage.load(folder)
    except BadInputError as exc:
        return [str(exc).removeprefix("raw store: ")], 0
    if vintage.source != source or vintage.id != folder.name:
        problems.append(
            f"{folder}: manifest says {vintage.source}/{vintage.id}, "
            f"but the folder is {source}/{folder.name}"
        )
    listed = set()
    checked = 0
    for record in vintage.files:
        name = record["name"]
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: listed in the manifest but missing")
            continue
        digest, size = _sha256_file(path)
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
    for entry in sorted(folder.iterdir()):
        if entry.name != MANIFEST_NAME and entry.name not in listed:
            problems.append(f"{entry}: not listed in the vintage's manifest (extra file)")
    return problems, checked


def verify_cli(**_options: Any) -> int:
    """``reexport verify``: re-hash the raw store and print the result.

    Prints ``OK: N files in M vintages verified`` or one line per problem.

    Returns
    -------
    int
        0 when everything matches, 1 when there is any problem.
    """
    store = RawStore()
    problems, n_files, n_vintages = store.verify_counts()
    if problems:
        for problem in problems:
            print(problem)
        print(f"FAILED: {len(problems)} problem(s) in the raw store {store.root}")
        return 1
    if not store.root.exists():
        # Say so plainly: a mistyped REEXPORT_DATA_DIR should not read as "all verified".
        print(f"OK: nothing to verify, there is no raw store at {store.root}")
        return 0
    print(f"OK: {n_files} files in {n_vintages} vintages verified")
    return 0
