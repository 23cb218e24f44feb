"""HttpClient against the local replay server: retries, Retry-After, timeouts, truncation, secrets."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import logging
import time
from pathlib import Path

import pytest
import requests
from replay_server import (
    ReplayServer,
    Reply,
    html_error_page,
    json_reply,
    server_error,
    slow,
    too_many_requests,
    truncated,
    unavailable,
)

from reexport.errors import BadInputError, SourceError
from reexport.http import HttpClient, TruncatedBodyError, parse_retry_after, read_complete_body
from reexport.store import RawStore

BODY = b'{"data": [{"period": "201701", "netWgt": 1234.5}]}'
SECRET = "key-0123456789abcdef-SECRET"


def _client(**kwargs: float) -> HttpClient:
    options: dict[str, float] = {"backoff": 0.01, "throttle": 0.0, "timeout": 2.0}
    options.update(kwargs)
    return HttpClient(**options)  # type: ignore[arg-type]


def test_plain_get_returns_complete_body(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY, content_type="application/json")
    client = _client()
    response = client.get(replay_server.url("/data"), params={"period": "201701"})
    assert response.status_code == 200
    assert response.content == BODY
    assert client.calls == 1
    (request,) = replay_server.requests
    assert request.path == "/data"
    assert request.query == {"period": "201701"}
    assert str(request.header("user-agent")).startswith("reexport/")


def test_429_retry_after_seconds_is_honoured(replay_server: ReplayServer) -> None:
    route = replay_server.route("/data", BODY).queue(too_many_requests(retry_after=1))
    client = _client()
    started = time.monotonic()
    assert client.get(replay_server.url("/data")).content == BODY
    waited = time.monotonic() - started
    assert client.calls == 2 and route.pending() == 0
    first, second = replay_server.requests
    assert second.time - first.time >= 0.95
    assert waited < 1.9  # the Retry-After, not the (much smaller) backoff plus extra


def test_429_retry_after_http_date_in_past_retries_at_once(replay_server: ReplayServer) -> None:
    past = email.utils.format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), usegmt=True)
    replay_server.route("/data", BODY).queue(too_many_requests(retry_after=past))
    waits: list[float] = []
    client = HttpClient(backoff=5, throttle=0, sleep=waits.append)
    assert client.get(replay_server.url("/data")).content == BODY
    assert waits == []  # a date in the past means "now", not the 5 s backoff


def test_429_asking_for_too_long_fails_at_once(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY).queue(too_many_requests(retry_after=3600))
    client = _client(max_retry_after=120)
    with pytest.raises(SourceError) as info:
        client.get(replay_server.url("/data"))
    message = str(info.value)
    assert "HTTP 429 Too Many Requests" in message and "3600 s" in message and "120 s" in message
    assert client.calls == 1


def test_429_without_retry_after_uses_backoff(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY).queue(too_many_requests(retry_after=None))
    waits: list[float] = []
    client = HttpClient(backoff=0.25, throttle=0, sleep=waits.append)
    assert client.get(replay_server.url("/data")).content == BODY
    assert waits == [0.25]


@pytest.mark.parametrize(
    "faults",
    [[server_error(500)], [unavailable(), server_error(502)], [Reply(408, "Request Timeout")]],
)
def test_5xx_then_success(replay_server: ReplayServer, faults: list[Reply]) -> None:
    replay_server.route("/data", BODY).queue(*faults)
    client = _client()
    assert client.get(replay_server.url("/data")).content == BODY
    assert client.calls == len(faults) + 1


def test_persistent_503_fails_after_all_attempts(replay_server: ReplayServer) -> None:
    replay_server.route("/data", status=503, body="down")
    client = _client()
    with pytest.raises(SourceError) as info:
        client.get(replay_server.url("/data"))
    host = f"127.0.0.1:{replay_server.port}"
    assert str(info.value) == f"{host}: HTTP 503 Service Unavailable after 5 attempts"
    assert len(replay_server.requests) == 5 == client.calls
    assert info.value.exit_code == 3


def test_backoff_doubles_between_attempts(replay_server: ReplayServer) -> None:
    replay_server.route("/data", status=500)
    waits: list[float] = []
    client = HttpClient(retries=3, backoff=0.5, throttle=0, sleep=waits.append)
    with pytest.raises(SourceError, match="after 4 attempts"):
        client.get(replay_server.url("/data"))
    assert waits == [0.5, 1.0, 2.0]


def test_environment_overrides_defaults_but_not_arguments(
    replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REEXPORT_HTTP_RETRIES", "1")
    monkeypatch.setenv("REEXPORT_HTTP_THROTTLE", "0.5")
    client = HttpClient()
    assert (client.retries, client.backoff, client.throttle, client.timeout) == (1, 0.01, 0.5, 2)
    assert HttpClient(retries=2, timeout=9).retries == 2
    assert HttpClient(timeout=9).timeout == 9
    replay_server.route("/data", status=500)
    with pytest.raises(SourceError, match="after 2 attempts"):
        HttpClient(throttle=0).get(replay_server.url("/data"))


@pytest.mark.parametrize(
    ("name", "value"), [("REEXPORT_HTTP_RETRIES", "two"), ("REEXPORT_HTTP_RETRIES", "1.5")]
)
def test_bad_environment_value_is_bad_input(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(BadInputError, match=name):
        HttpClient()


def test_timeout_then_success(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY).queue(slow(3.0))
    client = _client(timeout=0.3)
    started = time.monotonic()
    assert client.get(replay_server.url("/data")).content == BODY
    assert client.calls == 2
    assert time.monotonic() - started < 2.5


def test_persistent_timeout_fails(replay_server: ReplayServer) -> None:
    replay_server.route("/data", default=slow(3.0))
    client = _client(timeout=0.2, retries=1)
    with pytest.raises(SourceError, match="timed out waiting for the response after 2 attempts"):
        client.get(replay_server.url("/data"))


def test_read_complete_body_checks_content_length() -> None:
    prepared = requests.Request("GET", "http://127.0.0.1:9/x").prepare()
    response = requests.Response()
    response._content = b"abc"
    response.request = prepared
    response.headers["Content-Length"] = "3"
    assert read_complete_body(response) == b"abc"
    response.headers["Content-Length"] = "10"
    with pytest.raises(TruncatedBodyError, match="received 3 of 10"):
        read_complete_body(response)
    # A compressed body's Content-Length counts compressed bytes: not comparable.
    response.headers["Content-Encoding"] = "gzip"
    assert read_complete_body(response) == b"abc"


def test_gzip_body_is_not_mistaken_for_truncated(replay_server: ReplayServer) -> None:
    packed = gzip.compress(BODY * 20)
    replay_server.route(
        "/data", packed, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )
    client = _client()
    assert client.get(replay_server.url("/data")).content == BODY * 20
    assert client.calls == 1


def test_requests_itself_rejects_a_short_body(replay_server: ReplayServer) -> None:
    """The library behaviour the client relies on: a short body raises, it is not returned."""
    replay_server.route("/data", default=truncated(BODY, send=10))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(replay_server.url("/data"), timeout=2)


def test_truncated_body_then_success(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY).queue(truncated(BODY, send=10), truncated(BODY, send=0))
    client = _client()
    response = client.get(replay_server.url("/data"))
    assert response.content == BODY
    assert client.calls == 3


def test_persistent_truncation_fails(replay_server: ReplayServer) -> None:
    replay_server.route("/data", default=truncated(BODY))
    client = _client(retries=2)
    with pytest.raises(SourceError, match="truncated.* after 3 attempts"):
        client.get(replay_server.url("/data"))


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_fail_immediately(replay_server: ReplayServer, status: int) -> None:
    replay_server.route("/data", status=status, body="no")
    client = _client()
    with pytest.raises(SourceError, match=f"HTTP {status} ") as info:
        client.get(replay_server.url("/data"), params={"period": "201701"})
    assert client.calls == 1
    assert "/data?period=201701" in str(info.value)


def test_unmatched_path_is_404(replay_server: ReplayServer) -> None:
    client = _client()
    with pytest.raises(SourceError, match="HTTP 404 Not Found"):
        client.get(replay_server.url("/nothing-here"))


def test_connection_refused_is_retried_then_fails() -> None:
    client = _client(retries=1)
    with pytest.raises(SourceError, match=r"127\.0\.0\.1:9: connection refused after 2 attempts"):
        client.get("http://127.0.0.1:9/data")
    assert client.calls == 2


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:9/data", "not a url", "http://"])
def test_invalid_url_is_a_source_error_without_retry(url: str) -> None:
    client = _client()
    with pytest.raises(SourceError, match="request failed"):
        client.get(url, params={"period": "201701"})
    assert client.calls == 1


def test_200_bodies_are_returned_for_the_caller_to_judge(replay_server: ReplayServer) -> None:
    replay_server.route("/page", default=html_error_page())
    replay_server.route("/json", default=json_reply({"elapsedTime": "0.1 secs"}))
    client = _client()
    page = client.get(replay_server.url("/page"))
    assert page.headers["Content-Type"].startswith("text/html") and b"<html>" in page.content
    assert client.get(replay_server.url("/json")).json() == {"elapsedTime": "0.1 secs"}


def test_secret_header_is_sent_but_never_shown(
    replay_server: ReplayServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="reexport")
    replay_server.route("/ok", BODY)
    replay_server.route("/down", status=503)
    replay_server.route("/denied", status=401)
    client = _client(retries=1)
    secret = {"Ocp-Apim-Subscription-Key": SECRET}

    client.get(replay_server.url("/ok"), secret_headers=secret)
    with pytest.raises(SourceError) as down:
        client.get(replay_server.url("/down"), secret_headers=secret)
    with pytest.raises(SourceError) as denied:
        # Even a caller who wrongly puts the key in the query does not leak it.
        client.get(
            replay_server.url("/denied"), params={"subscription-key": SECRET}, secret_headers=secret
        )

    assert [r.header("ocp-apim-subscription-key") for r in replay_server.requests] == [SECRET] * 4
    assert SECRET not in str(down.value) and SECRET not in str(denied.value)
    assert "subscription-key=REDACTED" in str(denied.value)
    assert caplog.records, "the client should log its calls"
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text


def test_throttle_spaces_calls_to_one_host(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY)
    client = _client(throttle=0.2)
    for _ in range(3):
        client.get(replay_server.url("/data"))
    times = [r.time for r in replay_server.requests]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert len(gaps) == 2 and all(gap >= 0.19 for gap in gaps), gaps


def test_secret_header_does_not_follow_a_redirect_to_another_host() -> None:
    # requests drops only Authorization on a cross-host redirect; a subscription key in
    # its own header would be handed to whatever host the redirect names.
    with ReplayServer() as origin, ReplayServer() as elsewhere:
        elsewhere.route("/landing", BODY)
        origin.route("/moved", status=302, headers={"Location": elsewhere.url("/landing")})
        origin.route("/same", status=302, headers={"Location": origin.url("/data")})
        origin.route("/data", BODY)
        client = _client()
        key = {"Ocp-Apim-Subscription-Key": SECRET}
        assert client.get(origin.url("/moved"), secret_headers=key).content == BODY
        (landed,) = elsewhere.requests
        assert landed.header("ocp-apim-subscription-key") is None
        assert SECRET not in str(landed.headers)
        # Likewise an ordinary header whose name says it is a secret.
        client.get(origin.url("/moved"), headers={"X-Api-Token": SECRET})
        assert elsewhere.requests[-1].header("x-api-token") is None
        # A redirect within the origin keeps the key (the keyed API needs it).
        assert client.get(origin.url("/same"), secret_headers=key).content == BODY
        assert origin.requests[-1].path == "/data"
        assert origin.requests[-1].header("ocp-apim-subscription-key") == SECRET


def test_get_checked_fetches_again_until_the_body_is_right(replay_server: ReplayServer) -> None:
    def check(content: bytes) -> int:
        if not content.startswith(b"{"):
            raise SourceError(f"not JSON, it starts {content[:9]!r} ({SECRET})")
        return len(content)

    route = replay_server.route("/data", BODY).queue(html_error_page())
    client = _client()
    response, size = client.get_checked(replay_server.url("/data"), check)
    assert size == len(BODY) and response.content == BODY and route.pending() == 0
    replay_server.route("/bad", default=html_error_page())
    with pytest.raises(SourceError) as caught:
        client.get_checked(
            replay_server.url("/bad"), check, attempts=2, secret_headers={"X-Key": SECRET}
        )
    message = str(caught.value)
    assert message.endswith("gave up after 2 attempts, nothing stored")
    assert SECRET not in message and "\n" not in message


def test_throttle_is_per_host() -> None:
    with ReplayServer() as first, ReplayServer() as second:
        first.route("/a", b"1")
        second.route("/b", b"2")
        waits: list[float] = []
        client = HttpClient(throttle=30, sleep=waits.append)
        client.get(first.url("/a"))
        client.get(second.url("/b"))
        assert waits == []  # different host:port, no wait
        client.get(first.url("/a"))
        assert len(waits) == 1 and 29 < waits[0] <= 30


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 11, 28, 15, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 0 ", now=now) == 0.0
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("Sat, 28 Nov 2026 15:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2026 14:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


def test_replay_server_routes_by_query_and_serves_files(
    replay_server: ReplayServer, shared_data: Path
) -> None:
    xls = shared_data / "gpr" / "data_gpr_export.xls"
    replay_server.route("/gpr", file=xls, content_type="application/vnd.ms-excel")
    replay_server.route("/get", b"generic")
    replay_server.route("/get", b"jan", query={"period": "201701"})
    replay_server.route("/get", b"many", query=lambda q: "," in q.get("period", ""))
    client = _client()
    assert client.get(replay_server.url("/gpr")).content == xls.read_bytes()
    assert client.get(replay_server.url("/get"), params={"period": "201701"}).content == b"jan"
    assert client.get(replay_server.url("/get"), params={"period": "1,2"}).content == b"many"
    assert client.get(replay_server.url("/get"), params={"period": "201702"}).content == b"generic"
    assert [r.query.get("period") for r in replay_server.requests_for("/get")] == [
        "201701",
        "1,2",
        "201702",
    ]


def test_warm_rerun_makes_zero_calls(replay_server: ReplayServer, data_root: Path) -> None:
    """The pattern every fetcher follows: look in the store first, fetch only on a miss."""
    replay_server.route("/gpr.xls", BODY)
    url = replay_server.url("/gpr.xls")
    request = {"url": "gpr.xls"}

    def fetch(client: HttpClient) -> str:
        raw = RawStore()
        found = raw.find("gpr", request)
        if found is not None:
            return found.id
        response = client.get(url)
        with raw.writer("gpr", request) as writer:
            writer.add(
                "gpr.xls",
                response.content,
                url=response.url,
                status=response.status_code,
                content_type=response.headers.get("Content-Type"),
            )
        assert writer.vintage is not None
        return writer.vintage.id

    cold = _client()
    first_id = fetch(cold)
    assert cold.calls == 1 and len(replay_server.requests) == 1
    replay_server.clear_requests()
    warm = _client()
    assert fetch(warm) == first_id
    assert warm.calls == 0 and replay_server.requests == []


def test_replay_server_stops_promptly_with_a_pending_slow_reply() -> None:
    server = ReplayServer().start()
    server.route("/slow", default=slow(30))
    with pytest.raises(SourceError):
        HttpClient(timeout=0.2, retries=0, throttle=0).get(server.url("/slow"))
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(RuntimeError):
        _ = server.port
