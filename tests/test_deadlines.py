"""Bounded fetches: silent hosts, trickling bodies and `reexport data` reaching its fallback in time.

Every test here ends in success or a clear non-zero exit, with the raw store intact.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from replay_server import ReplayServer, Reply, SilentHost, trickle

from reexport.cli import main
from reexport.errors import SourceError
from reexport.http import HttpClient
from reexport.store import RawStore

BODY = b"x" * 200
GPR_PATH = "/gpr_files/data_gpr_export.xls"


def _store_is_empty_and_clean(root: Path) -> None:
    """No vintage and no temp folder was left under ``root/raw``."""
    leftovers = [p for p in (root / "raw").rglob("*") if p.is_dir() or p.is_file()]
    source_dirs = [p for p in leftovers if p.parent == root / "raw"]
    assert [p for p in leftovers if p not in source_dirs] == []
    assert RawStore().verify() == []


def test_a_silent_host_fails_within_the_deadline_times_the_attempts() -> None:
    with SilentHost() as host:
        client = HttpClient(timeout=30, deadline=0.5, retries=1, backoff=0.01, throttle=0)
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"within the 0\.5 s deadline after 2"):
            client.get(host.url("/data"))
        elapsed = time.monotonic() - started
    # Two attempts of 0.5 s each, although the per-read timeout is 30 s.
    assert 0.9 < elapsed < 3
    assert host.accepted == 2


def test_trickling_headers_are_cut_at_the_deadline() -> None:
    """Every read returns a byte well within the timeout; only the deadline can end it."""
    headers = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 200 + b"\r\n\r\n"
    with SilentHost(trickle=headers, interval=0.02) as host:
        client = HttpClient(timeout=5, deadline=0.5, retries=0, throttle=0)
        started = time.monotonic()
        with pytest.raises(SourceError, match=r"no status line and headers within the 0\.5 s"):
            client.get(host.url("/data"))
        assert time.monotonic() - started < 1.5


def test_a_trickling_body_is_cut_at_the_deadline(replay_server: ReplayServer) -> None:
    replay_server.route("/data", default=trickle(BODY, interval=0.05))  # 10 s in all
    reports: list[str] = []
    client = HttpClient(
        timeout=5, deadline=0.6, retries=1, backoff=0.01, throttle=0, progress=reports.append
    )
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"within the 0\.6 s deadline.* after 2"):
        client.get(replay_server.url("/data"))
    assert time.monotonic() - started < 3
    assert client.calls == 2
    # The failed first attempt was reported as it happened.
    assert len(reports) == 1 and "attempt 1/2" in reports[0] and "retrying" in reports[0]


def test_a_trickle_then_a_prompt_answer_succeeds(replay_server: ReplayServer) -> None:
    replay_server.route("/data", BODY).queue(trickle(BODY, interval=0.05))
    client = HttpClient(timeout=5, deadline=0.5, retries=2, backoff=0.01, throttle=0)
    assert client.get(replay_server.url("/data")).content == BODY
    assert client.calls == 2


def test_the_deadline_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REEXPORT_HTTP_DEADLINE", "7.5")
    assert HttpClient().deadline == 7.5
    monkeypatch.setenv("REEXPORT_HTTP_DEADLINE", "0")
    with pytest.raises(Exception, match="deadline must be > 0"):
        HttpClient()
    monkeypatch.delenv("REEXPORT_HTTP_DEADLINE")
    assert HttpClient().deadline == 300  # the default: well under 10 minutes


def test_probe_tells_a_silent_host_from_a_working_one(replay_server: ReplayServer) -> None:
    client = HttpClient(throttle=0)
    with SilentHost() as host:
        started = time.monotonic()
        problem = client.probe(host.url("/"), timeout=0.3)
        assert time.monotonic() - started < 1.5
    assert problem is not None and "no HTTP answer within 0.3 s" in problem
    # Any status is an answer (the route does not exist: 404).
    assert client.probe(replay_server.url("/nothing"), timeout=2) is None


def test_fetch_gpr_from_a_trickling_server_exits_3_and_stores_nothing(
    data_root: Path,
    replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replay_server.route(GPR_PATH, default=trickle(BODY, interval=0.05))
    monkeypatch.setenv("REEXPORT_GPR_URL", replay_server.url(GPR_PATH))
    monkeypatch.setenv("REEXPORT_HTTP_DEADLINE", "1")
    monkeypatch.setenv("REEXPORT_HTTP_RETRIES", "1")
    started = time.monotonic()
    assert main(["fetch", "gpr"]) == 3
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "deadline" in err[0] and "after 2 attempts" in err[0]
    _store_is_empty_and_clean(data_root)


def test_data_against_silent_hosts_reaches_the_demo_in_seconds_with_defaults(
    tmp_path: Path,
) -> None:
    """The issue's 21-minute hang: with default settings the probe catches it at once."""
    root = tmp_path / "data"
    with SilentHost() as host:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("REEXPORT_HTTP_") and k != "COMTRADE_API_KEY"
        }
        env.update(
            REEXPORT_DATA_DIR=str(root),
            REEXPORT_GPR_URL=host.url(GPR_PATH),
            REEXPORT_GPR_DAILY_URL=host.url("/daily.xls"),
            REEXPORT_COMTRADE_URL=host.url(""),
            REEXPORT_FRED_URL=host.url("/graph/fredgraph.csv"),
        )
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "reexport.cli", "data"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 30  # default probe: 5 s for the one (shared) host, then the demo
    assert "SYNTHETIC DEMO DATA" in done.stdout
    # It said what it was trying, and why it gave up, as it went.
    assert "data: gpr: checking whether 127.0.0.1:" in done.stderr
    assert "no HTTP answer within 5 s" in done.stderr
    assert done.stdout.count("no HTTP answer within 5 s; not fetched") == 4


def test_a_chunked_body_is_read_whole(replay_server: ReplayServer) -> None:
    """Bodies read chunk by chunk (``read1``) still decode Transfer-Encoding: chunked."""
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(BODY[i : i + 7]), BODY[i : i + 7]) for i in range(0, 200, 7)
    )
    replay_server.route(
        "/chunked",
        default=Reply(
            200, chunked + b"0\r\n\r\n", headers={"Transfer-Encoding": "chunked"}, omit_length=True
        ),
    )
    client = HttpClient(deadline=5, throttle=0)
    assert client.get(replay_server.url("/chunked")).content == BODY


def test_a_chunked_body_cut_short_is_a_failed_attempt(replay_server: ReplayServer) -> None:
    replay_server.route(
        "/chunked",
        default=Reply(
            200, b"a\r\n0123456789\r\n", headers={"Transfer-Encoding": "chunked"}, omit_length=True
        ),
    )
    client = HttpClient(deadline=5, retries=1, backoff=0.01, throttle=0)
    with pytest.raises(SourceError, match="truncated.* after 2 attempts"):
        client.get(replay_server.url("/chunked"))


def test_data_against_trickling_sources_reaches_the_demo_within_the_deadlines(
    data_root: Path,
    replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The host answers the probe (HEAD has no body), then trickles every body."""
    for path in (GPR_PATH, "/graph/fredgraph.csv", "/public/v1/preview/C/M/HS"):
        replay_server.route(path, default=trickle(BODY, interval=0.05))
    monkeypatch.setenv("REEXPORT_GPR_URL", replay_server.url(GPR_PATH))
    monkeypatch.setenv("REEXPORT_FRED_URL", replay_server.url("/graph/fredgraph.csv"))
    monkeypatch.setenv("REEXPORT_COMTRADE_URL", replay_server.base_url)
    monkeypatch.setenv("REEXPORT_HTTP_DEADLINE", "0.5")
    monkeypatch.setenv("REEXPORT_HTTP_RETRIES", "1")
    started = time.monotonic()
    assert main(["data"]) == 0
    # 2 attempts x 0.5 s, plus the probe and the demo.
    assert time.monotonic() - started < 30
    captured = capsys.readouterr()
    assert "SYNTHETIC DEMO DATA" in captured.out
    assert "data: gpr: it answers" in captured.err
    assert "within the 0.5 s deadline (attempt 1/2); retrying" in captured.err
    # All sources share one host here: once the GPR download failed on the deadline,
    # the others are not tried again (their deadlines would all run out the same way).
    assert captured.err.count("failed:") == 1
    assert captured.out.count("did not answer for gpr; not fetched") == 3
    assert all(v.synthetic for s in RawStore().sources() for v in RawStore().vintages(s))
