"""A local, fault-injecting HTTP server for testing fetchers without the internet.

It listens on ``127.0.0.1`` on an ephemeral port, serves *routes* registered
by the test (bytes or a file, e.g. the real ``../shared/data/gpr/data_gpr_export.xls``)
and can script failures per route as a queue: each request to a route takes
the next queued :class:`Reply`; when the queue is empty the route's default
reply is served.  Every request is recorded (method, path, query, headers)
so tests can assert what was sent, or that a warm re-run sent nothing.

Typical use through the ``replay_server`` fixture (``tests/conftest.py``)::

    def test_gpr_retries(replay_server, monkeypatch, shared_data):
        route = replay_server.route(
            "/gpr_files/data_gpr_export.xls",
            file=shared_data / "gpr" / "data_gpr_export.xls",
            content_type="application/vnd.ms-excel",
        )
        route.queue(too_many_requests(retry_after=1), unavailable())
        monkeypatch.setenv("REEXPORT_GPR_URL", replay_server.url("/gpr_files/data_gpr_export.xls"))
        ...
        assert len(replay_server.requests_for("/gpr_files/data_gpr_export.xls")) == 3

Routes match on the path and optionally on the query: ``query={"period": "201701"}``
(every listed parameter must have that value) or any callable taking the query
as ``dict[str, str]``.  Routes with a query condition are tried before routes
without one; among equals the first registered wins.  An unmatched request
gets ``404`` with a plain-text body naming the path.

Fault helpers: :func:`too_many_requests`, :func:`server_error`, :func:`unavailable`,
:func:`slow` (a delay longer than the client's timeout), :func:`truncated`
(``Content-Length`` larger than what is sent, then the connection closes),
:func:`trickle` (the body one byte at a time, e.g. one a second),
:func:`cut_at_line` (the first lines of a body, *without* ``Content-Length``,
then the connection closes: only a content check can tell it is short),
:func:`cut_file` (the first bytes of a file served as if complete, e.g. a
truncated ``.xls``), :func:`html_error_page` (``200`` with an HTML body),
:func:`json_reply` (any JSON body, e.g. one missing fields) and :class:`Reply`
itself for any status/body/headers.

:class:`SilentHost` is a different kind of server: it accepts TCP connections
on 127.0.0.1 and never answers (nor reads), like a host behind a broken proxy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

QueryCondition = Mapping[str, str] | Callable[[dict[str, str]], bool]


@dataclass
class Reply:
    """One scripted answer.

    Parameters
    ----------
    status
        HTTP status code.
    body
        Body bytes (``str`` is encoded as UTF-8).
    headers
        Extra response headers, e.g. ``{"Retry-After": "2"}``.
    content_type
        ``Content-Type`` header.
    delay
        Seconds to wait before answering at all (simulates a hung server).
    truncate_to
        If set, announce ``Content-Length: len(body)`` but send only this many
        body bytes, then close the connection.
    omit_length
        Send no ``Content-Length``; the end of the body is the connection closing.
    trickle
        Seconds to wait before each body byte (sent one at a time).
    """

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
    delay: float = 0.0
    truncate_to: int | None = None
    omit_length: bool = False
    trickle: float | None = None

    @property
    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


def too_many_requests(
    retry_after: float | str | None = 1, body: str = "Too Many Requests"
) -> Reply:
    """``429`` with ``Retry-After`` (seconds, or an HTTP date as a string; ``None`` omits it)."""
    headers = {} if retry_after is None else {"Retry-After": _retry_after_text(retry_after)}
    return Reply(429, body, headers=headers, content_type="text/plain")


def server_error(status: int = 500, body: str = "Internal Server Error") -> Reply:
    """A ``5xx`` answer (default ``500``)."""
    return Reply(status, body, content_type="text/plain")


def unavailable(retry_after: float | str | None = None) -> Reply:
    """``503 Service Unavailable`` (optionally with ``Retry-After``)."""
    headers = {} if retry_after is None else {"Retry-After": _retry_after_text(retry_after)}
    return Reply(503, "Service Unavailable", headers=headers, content_type="text/plain")


def slow(delay: float, reply: Reply | None = None) -> Reply:
    """``reply`` (default an empty ``200``) sent only after ``delay`` seconds.

    Make ``delay`` longer than the client's timeout to provoke a read timeout.
    The wait ends early when the server stops, so teardown stays quick.
    """
    base = reply or Reply(200, b"late")
    return dataclasses.replace(base, headers=dict(base.headers), delay=delay)


def truncated(body: bytes | str, send: int | None = None, content_type: str = "") -> Reply:
    """``200`` announcing ``len(body)`` bytes but sending only ``send`` (default half), then closing."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    keep = len(data) // 2 if send is None else send
    return Reply(
        200, data, content_type=content_type or "application/octet-stream", truncate_to=keep
    )


def trickle(
    body: bytes | str, interval: float = 1.0, content_type: str = "application/octet-stream"
) -> Reply:
    """``200`` announcing the whole body, then sending it one byte every ``interval`` seconds."""
    return Reply(200, body, content_type=content_type, trickle=interval)


def cut_at_line(
    body: bytes | str, lines: int, content_type: str = "text/csv; charset=utf-8"
) -> Reply:
    """The first ``lines`` lines of ``body``, without ``Content-Length``, then the connection closes.

    The body ends at a line boundary, so to the client it looks complete: only a
    check of its content (e.g. "does the CSV reach the requested month?") can tell.
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    kept = b"".join(data.splitlines(keepends=True)[:lines])
    return Reply(200, kept, content_type=content_type, omit_length=True)


def cut_file(data: bytes, keep: int, content_type: str = "application/vnd.ms-excel") -> Reply:
    """The first ``keep`` bytes of a file, served with a matching ``Content-Length``.

    The transfer itself is complete, the file is not (a truncated ``.xls`` that a
    proxy cached, say): only opening it can tell.
    """
    return Reply(200, data[:keep], content_type=content_type)


def html_error_page(status: int = 200, title: str = "Service temporarily unavailable") -> Reply:
    """An HTML error page (by default with status ``200``, as some gateways do)."""
    html = (
        f"<!DOCTYPE html><html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>Please try again later.</p></body></html>"
    )
    return Reply(status, html, content_type="text/html; charset=utf-8")


def json_reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON body (e.g. one missing the fields a parser needs)."""
    return Reply(
        status,
        json.dumps(payload).encode("utf-8"),
        headers=dict(headers or {}),
        content_type="application/json",
    )


def _retry_after_text(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass
class RecordedRequest:
    """What the server received.

    Attributes
    ----------
    method, path, query_string
        As sent; ``path`` excludes the query.
    query
        Query parameters (last value wins for repeated names).
    headers
        Request headers with their original capitalisation; use :meth:`header`
        for case-insensitive lookup.
    time
        ``time.monotonic()`` at arrival (for spacing assertions).
    """

    method: str
    path: str
    query_string: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Route:
    """A registered path (optionally with a query condition), its default reply and fault queue."""

    def __init__(self, path: str, default: Reply, query: QueryCondition | None = None) -> None:
        self.path = path
        self.default = default
        self.condition = query
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.hits = 0

    def queue(self, *replies: Reply) -> Route:
        """Append replies served, in order, before the default one. Returns the route."""
        with self._lock:
            self._queue.extend(replies)
        return self

    def pending(self) -> int:
        """Queued replies not yet served."""
        with self._lock:
            return len(self._queue)

    def matches(self, path: str, query: dict[str, str]) -> bool:
        if path != self.path:
            return False
        if self.condition is None:
            return True
        if callable(self.condition):
            return bool(self.condition(query))
        return all(query.get(k) == str(v) for k, v in self.condition.items())

    def next_reply(self) -> Reply:
        with self._lock:
            self.hits += 1
            return self._queue.popleft() if self._queue else self.default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class name
        """Silence the default stderr access log; requests are recorded instead."""

    def setup(self) -> None:
        super().setup()
        self.server.replay._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.replay._connection_closed(self.connection)

    def _handle(self) -> None:
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        replay = self.server.replay
        replay._record(
            RecordedRequest(
                method=self.command,
                path=split.path,
                query_string=split.query,
                query=query,
                headers=dict(self.headers.items()),
                time=time.monotonic(),
                body=body,
            )
        )
        route = replay._match(split.path, query)
        reply = (
            route.next_reply()
            if route
            else Reply(404, f"no route for {split.path}", content_type="text/plain")
        )
        if reply.delay and replay._stopping.wait(reply.delay):
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        data = reply.body_bytes
        closes = reply.truncate_to is not None or reply.omit_length
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if not reply.omit_length:
                self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if closes:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                body = data if reply.truncate_to is None else data[: reply.truncate_to]
                if reply.trickle is None:
                    self.wfile.write(body)
                else:
                    self._trickle(body, reply.trickle)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. it timed out first): nothing left to do.
            self.close_connection = True
            return
        if closes:
            self.close_connection = True

    def _trickle(self, body: bytes, interval: float) -> None:
        """Send ``body`` one byte at a time, ``interval`` seconds apart, until the server stops."""
        stopping = self.server.replay._stopping
        for index in range(len(body)):
            if stopping.wait(interval):
                self.close_connection = True
                return
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()

    do_GET = _handle
    do_HEAD = _handle
    do_POST = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects are expected in fault tests; keep stderr quiet."""


class ReplayServer:
    """Threaded HTTP server on ``127.0.0.1`` serving registered routes with scripted faults.

    Use as a context manager or call :meth:`start` / :meth:`stop`.  The
    ``replay_server`` pytest fixture yields a started instance.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> ReplayServer:
        """Bind an ephemeral port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.replay = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed handlers, and close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        # Keep-alive connections would otherwise hold handler threads open.
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the replay server is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """Full URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ----------------------------------------------------------------- routes

    def route(
        self,
        path: str,
        body: bytes | str | None = None,
        *,
        file: str | Path | None = None,
        status: int = 200,
        content_type: str = "application/octet-stream",
        headers: Mapping[str, str] | None = None,
        query: QueryCondition | None = None,
        default: Reply | None = None,
    ) -> Route:
        """Register a route and return it (queue faults on it with :meth:`Route.queue`).

        Parameters
        ----------
        path
            The path to answer, e.g. ``"/data/v1/get/C/M/HS"`` (no query).
        body, file
            The default body, as bytes/str or read once from a file.
        status, content_type, headers
            Of the default reply.
        query
            Only match requests whose query has these values, or for which
            this callable returns true.
        default
            A complete default :class:`Reply` instead of the fields above.
        """
        if default is None:
            if file is not None:
                if body is not None:
                    raise ValueError("give either body or file, not both")
                body = Path(file).read_bytes()
            default = Reply(
                status, body if body is not None else b"", dict(headers or {}), content_type
            )
        new = Route(path, default, query)
        with self._lock:
            self._routes.append(new)
        return new

    def _match(self, path: str, query: dict[str, str]) -> Route | None:
        with self._lock:
            routes = list(self._routes)
        ordered = [r for r in routes if r.condition is not None] + [
            r for r in routes if r.condition is None
        ]
        for candidate in ordered:
            if candidate.matches(path, query):
                return candidate
        return None

    # ----------------------------------------------------------------- requests

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[RecordedRequest]:
        """Requests received for ``path``."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        """Forget the recorded requests (e.g. before a warm re-run)."""
        with self._lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget every route and every recorded request."""
        with self._lock:
            self._routes.clear()
            self._requests.clear()


class SilentHost:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers.

    Requests to it connect fine and then wait for a status line that never
    comes, which is what a host behind a broken proxy or firewall does.  Use as
    a context manager; :attr:`accepted` counts the connections taken.

    Parameters
    ----------
    trickle
        Bytes to send on every connection, one byte every ``interval`` seconds
        (e.g. a status line and headers that never end), instead of silence.
    interval
        Seconds between two trickled bytes.
    """

    def __init__(self, trickle: bytes = b"", interval: float = 1.0) -> None:
        self._trickle = trickle
        self._interval = interval
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.accepted = 0

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)  # keep it open, say nothing (or trickle)
            self.accepted += 1
            if self._trickle:
                threading.Thread(target=self._send_slowly, args=(connection,), daemon=True).start()

    def _send_slowly(self, connection: socket.socket) -> None:
        for index in range(len(self._trickle)):
            if self._stopping.wait(self._interval):
                return
            try:
                connection.sendall(self._trickle[index : index + 1])
            except OSError:
                return

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:<port><path>``."""
        return f"http://127.0.0.1:{self.port}" + (path if path.startswith("/") else "/" + path)

    def __enter__(self) -> SilentHost:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        for connection in self._held:
            with contextlib.suppress(OSError):
                connection.close()
        self._listener.close()
