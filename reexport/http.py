"""One polite HTTP client for every source: retries, backoff, throttle, Retry-After.

:class:`HttpClient` wraps a single :class:`requests.Session`.  It retries
timeouts, connection errors, truncated bodies, ``429 Too Many Requests``
(honouring ``Retry-After``) and ``5xx`` answers with exponential backoff,
keeps a minimum interval between calls to one host, and turns the final
failure into a one-line :class:`~reexport.errors.SourceError` such as
``comtradeapi.un.org: HTTP 503 Service Unavailable after 5 attempts``.

Secrets (e.g. the Comtrade subscription key) are passed as ``secret_headers``:
they are sent, but never logged and never part of an exception message.

Every attempt has an overall *deadline* (connect, headers and every read of
the body together; default 300 s, ``$REEXPORT_HTTP_DEADLINE``) besides the
per-read *timeout*: the body is streamed and the deadline is checked between
reads, with each read's socket timeout cut to the time left, so a server that
trickles one byte a second cannot hold a call for longer than the deadline.
An attempt past its deadline fails like a timeout (retried, then
``SourceError``).  A body is complete only when it is provably so: with a
``Content-Length`` the bytes received (on the wire, before decompression) must
match it; the sources add a content check of their own for bodies without one.

Environment overrides (used by the tests): ``REEXPORT_HTTP_TIMEOUT``,
``REEXPORT_HTTP_DEADLINE``, ``REEXPORT_HTTP_RETRIES``, ``REEXPORT_HTTP_BACKOFF``,
``REEXPORT_HTTP_THROTTLE`` replace the defaults of the parameters not given
explicitly.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions

from reexport import __version__
from reexport.errors import BadInputError, SourceError
from reexport.store import is_secret_name, redact, redact_url

log = logging.getLogger("reexport.http")

T = TypeVar("T")

DEFAULT_TIMEOUT = 60.0
#: Overall seconds one attempt may take (connect + headers + whole body): 5 minutes.
DEFAULT_DEADLINE = 300.0
DEFAULT_RETRIES = 4
DEFAULT_BACKOFF = 1.0
DEFAULT_THROTTLE = 1.0
DEFAULT_MAX_RETRY_AFTER = 120.0
USER_AGENT = f"reexport/{__version__} (research data pipeline; python-requests)"
#: Seconds a probe (one HEAD, no retry) waits for any HTTP answer.
DEFAULT_PROBE_TIMEOUT = 5.0
#: Most bytes taken from the connection per read of a streamed body.  Reads return
#: what has arrived (``read1``), so a slow body never blocks one read for long.
_READ_SIZE = 64 * 1024

_RETRYABLE_EXCEPTIONS = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


#: 4xx answers that describe a transient condition (besides 429, handled with Retry-After).
_RETRYABLE_4XX = frozenset({408})


class TruncatedBodyError(requests.exceptions.ChunkedEncodingError):
    """The server closed the connection before sending the announced ``Content-Length``."""


class DeadlineExceeded(requests.exceptions.Timeout):
    """An attempt ran past its overall deadline (connect, headers and body together)."""


def _env_number(name: str, default: float, *, integer: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInputError(f"${name}={raw!r} is not a number") from None
    if value < 0 or (integer and value != int(value)):
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise BadInputError(f"${name}={raw!r} must be {kind}")
    return value


def parse_retry_after(value: str | None, *, now: _dt.datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header.

    Parameters
    ----------
    value
        The header: delta-seconds (``"120"``) or an HTTP date
        (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    now
        Current UTC time for HTTP dates (default: the clock).

    Returns
    -------
    float or None
        Non-negative seconds, or ``None`` when the header is absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    current = now or _dt.datetime.now(_dt.UTC)
    return max(0.0, (when - current).total_seconds())


def read_complete_body(response: requests.Response) -> bytes:
    """Return the whole body of ``response``, raising if it arrived truncated.

    ``requests`` (with urllib3 2) raises :class:`ChunkedEncodingError` when the
    connection closes before ``Content-Length`` bytes arrived, but not in every
    case (a decoded body, a connection reused...); this checks the length
    explicitly for uncompressed bodies, so a short body can never be mistaken
    for a complete one.  :meth:`HttpClient.get` reads bodies itself and also
    checks compressed ones against the bytes received on the wire.

    Raises
    ------
    TruncatedBodyError
        If fewer (or more) bytes than ``Content-Length`` were received.
    """
    body = response.content
    _check_length(response, len(body), None)
    return body


def _check_length(response: requests.Response, decoded: int, wire: int | None) -> None:
    """Compare the bytes received with ``Content-Length`` (decoded, or as sent on the wire).

    Without a wire count, a compressed body cannot be compared (its
    ``Content-Length`` counts compressed bytes), so only identity bodies are checked.
    """
    announced = response.headers.get("Content-Length")
    if announced is None or response.request.method == "HEAD" or response.status_code == 304:
        return
    try:
        expected = int(announced)
    except ValueError:
        return
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    received = decoded if encoding in ("", "identity") else wire
    if received is not None and received != expected:
        raise TruncatedBodyError(
            f"body truncated: received {received} of {expected} announced bytes"
        )


def _socket_of(response: requests.Response) -> socket.socket | None:
    """The socket a streamed response reads from (``None`` when it cannot be found)."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _host_of(url: str) -> str:
    """``host`` or ``host:port`` of ``url``: the unit of throttling and of error messages."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    host = parts.hostname or url
    return f"{host}:{port}" if port else host


def _origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url``, default ports made explicit.

    An unparsable port gives an origin that matches nothing (the request itself
    then reports the bad URL).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return scheme, url, -1
    return scheme, (parts.hostname or "").lower(), port


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _describe(exc: BaseException) -> str:
    """A short, URL-free description of a transport failure."""
    if isinstance(exc, TruncatedBodyError | DeadlineExceeded):
        return str(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "body truncated (connection closed early)"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "body could not be decoded"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out waiting for the response"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS/SSL error"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        for marker, meaning in (
            ("Connection refused", "connection refused"),
            ("Name or service not known", "host name not found"),
            ("nodename nor servname", "host name not found"),
            ("Temporary failure in name resolution", "host name not found"),
            ("Connection reset", "connection reset"),
            ("RemoteDisconnected", "server closed the connection without answering"),
        ):
            if marker in text:
                return meaning
        return "connection failed"
    return type(exc).__name__


class HttpClient:
    """HTTP GET with retries, backoff, per-host throttle and ``Retry-After`` support.

    Parameters
    ----------
    timeout
        Seconds to wait for the connection and for each read (default 60, or
        ``$REEXPORT_HTTP_TIMEOUT``).
    deadline
        Seconds one attempt may take in all: connect, headers and the whole body
        (default 300, or ``$REEXPORT_HTTP_DEADLINE``).  Past it the attempt fails
        like a timeout.
    retries
        Retries after the first attempt (default 4, i.e. 5 attempts, or
        ``$REEXPORT_HTTP_RETRIES``).
    backoff
        Base delay in seconds; attempt *n* waits ``backoff * 2**(n-1)`` (default 1,
        or ``$REEXPORT_HTTP_BACKOFF``).
    throttle
        Minimum seconds between two calls to the same host (default 1, or
        ``$REEXPORT_HTTP_THROTTLE``).
    max_retry_after
        Longest ``Retry-After`` the client is willing to wait; a server asking
        for longer makes the call fail at once (default 120 s).
    session
        A session to use instead of a new one (the client then does not close it).
    sleep
        The sleeping function (tests may record waits).
    progress
        Called with a one-line message whenever an attempt fails and another
        follows (``reexport data`` prints them); never with a secret.

    Attributes
    ----------
    calls : int
        Number of HTTP requests actually sent (every attempt counts).
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retries: int | None = None,
        backoff: float | None = None,
        throttle: float | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = (
            float(timeout)
            if timeout is not None
            else _env_number("REEXPORT_HTTP_TIMEOUT", DEFAULT_TIMEOUT)
        )
        self.deadline = (
            float(deadline)
            if deadline is not None
            else _env_number("REEXPORT_HTTP_DEADLINE", DEFAULT_DEADLINE)
        )
        self.retries = (
            int(retries)
            if retries is not None
            else int(_env_number("REEXPORT_HTTP_RETRIES", DEFAULT_RETRIES, integer=True))
        )
        self.backoff = (
            float(backoff)
            if backoff is not None
            else _env_number("REEXPORT_HTTP_BACKOFF", DEFAULT_BACKOFF)
        )
        self.throttle = (
            float(throttle)
            if throttle is not None
            else _env_number("REEXPORT_HTTP_THROTTLE", DEFAULT_THROTTLE)
        )
        self.max_retry_after = float(max_retry_after)
        if (
            self.timeout <= 0
            or self.deadline <= 0
            or self.retries < 0
            or self.backoff < 0
            or self.throttle < 0
        ):
            raise BadInputError(
                f"HttpClient: timeout and deadline must be > 0 and retries/backoff/throttle >= 0 "
                f"(got timeout={self.timeout}, deadline={self.deadline}, retries={self.retries}, "
                f"backoff={self.backoff}, throttle={self.throttle})"
            )
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        # Say who we are unless the caller's session already does.
        agent = str(self.session.headers.get("User-Agent", ""))
        if not agent or agent.startswith("python-requests"):
            self.session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        self._progress = progress
        self._last_call: dict[str, float] = {}
        self._lock = threading.Lock()
        self.calls = 0

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the underlying session if this client created it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    @property
    def attempts(self) -> int:
        """Total attempts per call: ``retries + 1``."""
        return self.retries + 1

    def _wait_for_host(self, host: str) -> None:
        """Sleep until ``throttle`` seconds have passed since the last call to ``host``."""
        with self._lock:
            last = self._last_call.get(host)
            now = time.monotonic()
            wait = 0.0 if last is None else last + self.throttle - now
            # Reserve the slot before sleeping so concurrent callers queue up behind it.
            self._last_call[host] = now + max(wait, 0.0)
        if wait > 0:
            log.debug("throttle: waiting %.2f s before calling %s", wait, host)
            self._sleep(wait)

    def _timeouts(self, deadline: float) -> tuple[float, float]:
        """``(connect, read)`` timeouts for the next network step: the timeout, cut to the deadline.

        Raises
        ------
        DeadlineExceeded
            When no time is left.
        """
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"no complete answer within the {self.deadline:g} s deadline")
        step = min(self.timeout, left)
        return step, step

    def _send(
        self,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        secret_headers: Mapping[str, str],
        deadline: float,
    ) -> requests.Response:
        """One GET, following redirects; secret headers go to ``url``'s origin only.

        The response is streamed (its body is read by :meth:`_read_body`).
        ``requests`` strips only ``Authorization`` when a redirect leaves the
        host, so with secret headers (``secret_headers`` and ordinary headers
        with a secret-looking name) the redirects are followed here and the
        secrets are dropped for any other scheme, host or port.
        """
        secret_names = {*secret_headers, *(k for k in headers if is_secret_name(k))}
        if not secret_names:
            return self.session.get(
                url, params=params, headers=headers, timeout=self._timeouts(deadline), stream=True
            )
        origin = _origin(url)
        response = self.session.get(
            url,
            params=params,
            headers=headers,
            timeout=self._timeouts(deadline),
            allow_redirects=False,
            stream=True,
        )
        history: list[requests.Response] = []
        while response.is_redirect:
            if len(history) >= self.session.max_redirects:
                raise requests.exceptions.TooManyRedirects(
                    f"exceeded {self.session.max_redirects} redirects"
                )
            target = urljoin(response.url, response.headers["Location"])
            history.append(response)
            response.close()
            allowed = _origin(target) == origin
            send = (
                headers if allowed else {k: v for k, v in headers.items() if k not in secret_names}
            )
            response = self.session.get(
                target,
                headers=send,
                timeout=self._timeouts(deadline),
                allow_redirects=False,
                stream=True,
            )
        response.history = history
        return response

    def _send_within(
        self,
        deadline: float,
        url: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        secret_headers: Mapping[str, str],
    ) -> requests.Response:
        """:meth:`_send` (name lookup, connect, status line and headers), ended at ``deadline``.

        Each socket read is bounded by the timeout, but a server that trickles its
        headers, or a name lookup that hangs, is not; so the send runs in a worker
        thread that is abandoned at the deadline (its connection is closed when, if
        ever, it returns).

        Raises
        ------
        DeadlineExceeded
            When no status line and headers arrived by the deadline.
        """
        outcome: dict[str, Any] = {}
        abandoned = threading.Event()

        def send() -> None:
            try:
                response = self._send(url, params, headers, secret_headers, deadline)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
                return
            outcome["response"] = response
            if abandoned.is_set():
                response.close()

        worker = threading.Thread(target=send, name=f"reexport-http-{_host_of(url)}", daemon=True)
        worker.start()
        worker.join(max(deadline - time.monotonic(), 0.0))
        if worker.is_alive():
            abandoned.set()
            raise DeadlineExceeded(
                f"no status line and headers within the {self.deadline:g} s deadline"
            )
        if "error" in outcome:
            raise outcome["error"]
        response: requests.Response = outcome["response"]
        return response

    def _read_body(self, response: requests.Response, deadline: float) -> bytes:
        """Read the streamed body of ``response`` completely, within ``deadline``.

        Each read takes what has arrived (at most :data:`_READ_SIZE` bytes), with
        the socket timeout cut to the time left, and the deadline is checked
        between reads: a trickling body fails at the deadline instead of hanging.
        The body is then checked against ``Content-Length`` and stored on the
        response, so ``response.content`` works as usual.

        Raises
        ------
        DeadlineExceeded, TruncatedBodyError, requests.exceptions.RequestException
            Transport failures (all retryable).
        """
        raw = response.raw
        chunks: list[bytes] = []
        received = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeadlineExceeded(
                        f"body not complete within the {self.deadline:g} s deadline "
                        f"({received} bytes received)"
                    )
                sock = _socket_of(response)
                if sock is not None:
                    sock.settimeout(min(self.timeout, left))
                chunk = raw.read1(_READ_SIZE, decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                received += len(chunk)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ReadTimeout(str(exc)) from None
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(str(exc)) from None
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.SSLError) as exc:
            raise requests.exceptions.ChunkedEncodingError(str(exc)) from None
        except TimeoutError:
            raise requests.exceptions.ReadTimeout("read timed out") from None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(str(exc)) from None
        finally:
            response.close()
        body = b"".join(chunks)
        wire = raw.tell() if hasattr(raw, "tell") else None
        _check_length(response, len(body), wire)
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        return body

    def _report(self, message: str) -> None:
        log.info("%s", message)
        if self._progress is not None:
            self._progress(message)

    def _backoff_delay(self, attempt: int) -> float:
        return float(self.backoff * (2 ** (attempt - 1)))

    # ----------------------------------------------------------------- public API

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """GET ``url`` and return the successful (2xx/3xx-resolved) response, body fully read.

        Parameters
        ----------
        url
            The URL (without secrets).
        params
            Query parameters.
        headers
            Ordinary request headers (may be logged).
        secret_headers
            Headers carrying secrets, e.g. ``{"Ocp-Apim-Subscription-Key": key}``:
            sent, never logged, scrubbed from every error message.

        Returns
        -------
        requests.Response
            The final response; ``response.content`` holds the complete body.

        Raises
        ------
        SourceError
            After the last attempt failed, at once for a 4xx other than 429,
            or when ``Retry-After`` asks for longer than ``max_retry_after``.
        """
        secrets = list(secret_headers.values()) if secret_headers else []
        secrets += [v for k, v in (headers or {}).items() if is_secret_name(k)]
        host = _host_of(url)
        send_headers = dict(headers or {})
        send_headers.update(secret_headers or {})
        shown = self._loggable_url(url, params, secrets)

        last_problem = ""
        for attempt in range(1, self.attempts + 1):
            self._wait_for_host(host)
            log.info("GET %s (attempt %d/%d)", shown, attempt, self.attempts)
            started = time.monotonic()
            deadline = started + self.deadline
            self.calls += 1
            wait: float | None = None
            try:
                response = self._send_within(
                    deadline, url, params, send_headers, secret_headers or {}
                )
                self._read_body(response, deadline)
            except _RETRYABLE_EXCEPTIONS as exc:
                last_problem = _describe(exc)
                if (
                    isinstance(exc, requests.exceptions.Timeout)
                    and not isinstance(exc, DeadlineExceeded)
                    and time.monotonic() >= deadline - 0.05
                ):
                    # The read timed out because its timeout was cut to the deadline.
                    last_problem = f"no complete answer within the {self.deadline:g} s deadline"
            except requests.exceptions.RequestException as exc:
                # Invalid URL, too many redirects...: retrying cannot help.
                raise SourceError(
                    redact(f"{host}: request failed ({type(exc).__name__}) for {shown}", secrets)
                ) from None
            else:
                status = response.status_code
                elapsed = time.monotonic() - started
                log.debug(
                    "%s: HTTP %d, %d bytes in %.2f s", host, status, len(response.content), elapsed
                )
                if status < 400:
                    return response
                last_problem = f"HTTP {_status_text(status)}"
                if status == 429 or (status >= 500 and "Retry-After" in response.headers):
                    asked = parse_retry_after(response.headers.get("Retry-After"))
                    if asked is not None and asked > self.max_retry_after:
                        raise SourceError(
                            redact(
                                f"{host}: {last_problem}; the server asks to retry after "
                                f"{asked:.0f} s, longer than the {self.max_retry_after:.0f} s "
                                "this client waits",
                                secrets,
                            )
                        )
                    wait = asked
                elif status < 500 and status not in _RETRYABLE_4XX:
                    raise SourceError(redact(f"{host}: {last_problem} for {shown}", secrets))
            if attempt < self.attempts:
                delay = wait if wait is not None else self._backoff_delay(attempt)
                self._report(
                    redact(
                        f"{host}: {last_problem} (attempt {attempt}/{self.attempts}); "
                        f"retrying in {delay:.3g} s",
                        secrets,
                    )
                )
                if delay > 0:
                    self._sleep(delay)
            else:
                log.info("%s: %s (attempt %d/%d)", host, last_problem, attempt, self.attempts)
        raise SourceError(redact(f"{host}: {last_problem} after {self.attempts} attempts", secrets))

    @staticmethod
    def _loggable_url(
        url: str, params: Mapping[str, Any] | None, secrets: Iterable[str | None]
    ) -> str:
        """The URL as it will be requested, with secrets redacted (for logs and messages)."""
        if params:
            # An unusable URL is reported by the request itself; show what we were given.
            with contextlib.suppress(requests.exceptions.RequestException):
                url = requests.Request("GET", url, params=dict(params)).prepare().url or url
        return redact_url(url, secrets)

    def get_checked(
        self,
        url: str,
        check: Callable[[bytes], T],
        *,
        params: Mapping[str, Any] | None = None,
        secret_headers: Mapping[str, str] | None = None,
        attempts: int = 3,
    ) -> tuple[requests.Response, T]:
        """:meth:`get`, fetching again while ``check`` rejects the body.

        Servers and gateways sometimes answer 200 with something else (an HTML
        error page, a cut-off body); such a body is fetched again, up to
        ``attempts`` times.

        Parameters
        ----------
        url, params, secret_headers
            As for :meth:`get`.
        check
            Reads the body and returns what the caller needs from it; raises
            :class:`~reexport.errors.SourceError` for a body that is not the expected one.
        attempts
            How many bodies to try.

        Returns
        -------
        tuple
            The response and what ``check`` returned for it.

        Raises
        ------
        SourceError
            From :meth:`get`, or the last rejection with "gave up after N attempts,
            nothing stored".  Rejection messages quote the body, so secret values
            are scrubbed from them before they are logged or raised.
        """
        secrets = list(secret_headers.values()) if secret_headers else []
        problem = ""
        for attempt in range(1, attempts + 1):
            response = self.get(url, params=params, secret_headers=secret_headers)
            try:
                return response, check(response.content)
            except SourceError as exc:
                problem = redact(str(exc), secrets)
                log.warning("%s (attempt %d/%d)", problem, attempt, attempts)
        raise SourceError(f"{problem}; gave up after {attempts} attempts, nothing stored")

    def get_bytes(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """:meth:`get` and return only the complete body."""
        return self.get(url, params=params, headers=headers, secret_headers=secret_headers).content

    def probe(self, url: str, timeout: float = DEFAULT_PROBE_TIMEOUT) -> str | None:
        """Whether ``url``'s server answers HTTP at all: one ``HEAD``, no retry, ``timeout`` in all.

        A TCP connect alone does not show that a server works: a host may accept
        connections and never answer.  Any HTTP status (even 404 or 405) counts
        as an answer; the probe only decides whether a full fetch is worth trying.

        Parameters
        ----------
        url
            Any URL of the server (no secrets).
        timeout
            Seconds for connect and headers together.

        Returns
        -------
        str or None
            ``None`` if a status line arrived, else a one-line reason naming the host.
        """
        host = _host_of(url)
        deadline = time.monotonic() + timeout
        self.calls += 1
        try:
            connect = max(deadline - time.monotonic(), 0.001)
            response = self.session.head(
                url, timeout=(connect, connect), allow_redirects=False, stream=True
            )
            response.close()
        except requests.exceptions.Timeout:
            return f"{host}: no HTTP answer within {timeout:g} s"
        except requests.exceptions.RequestException as exc:
            return f"{host}: {_describe(exc)}"
        log.debug("%s: answers (HTTP %d to a probe)", host, response.status_code)
        return None

    def loggable_url(self, response: requests.Response) -> str:
        """The final URL of ``response`` with secrets redacted (for manifests)."""
        return redact_url(response.url)
