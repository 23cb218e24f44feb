"""`reexport data`: real vintages when reachable, the demo only when nothing real exists."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from publisher_bodies import as_published
from replay_server import ReplayServer

from reexport import acquire
from reexport.cli import main
from reexport.sources import demo
from reexport.store import RawStore

GPR_PATH = "/gpr_files/data_gpr_export.xls"
FRED_PATH = "/graph/fredgraph.csv"
COMTRADE_PATH = "/data/v1/get/C/M/HS"  # the keyed endpoint (a test key is set below)

#: Bodies in the sources' real formats, drawn from the demo DGP; the local server plays the
#: publishers, so the vintages it yields count as *real* downloads for these tests.
DRAW = demo.generate(77)


def _serve(server: ReplayServer, monkeypatch: pytest.MonkeyPatch, *, comtrade: bool = True) -> None:
    server.route(
        GPR_PATH, as_published(demo.gpr_xls_bytes(DRAW)), content_type="application/vnd.ms-excel"
    )
    monkeypatch.setenv("REEXPORT_GPR_URL", server.url(GPR_PATH))
    for series in ("EXCHUS", "INDPRO"):
        server.route(
            FRED_PATH,
            demo.fred_csv_bytes(DRAW, series),
            query={"id": series},
            content_type="text/csv",
        )
    monkeypatch.setenv("REEXPORT_FRED_URL", server.url(FRED_PATH))
    monkeypatch.setenv("REEXPORT_COMTRADE_URL", server.base_url)
    monkeypatch.setenv("COMTRADE_API_KEY", "test-key-not-secret-0000")
    if not comtrade:
        return
    for partner in ("world", "all"):
        for _name, body, params in demo.comtrade_bodies(DRAW, partner):

            def matches(query: dict[str, str], want: dict[str, str] = params) -> bool:
                return query.get("period") == want["period"] and query.get(
                    "partnerCode"
                ) == want.get("partnerCode")

            server.route(
                COMTRADE_PATH, as_published(body), query=matches, content_type="application/json"
            )


def _kinds(store: RawStore) -> dict[str, list[bool]]:
    """Source -> synthetic flag of each stored vintage (sources with none left out)."""
    kinds = {s: [v.synthetic for v in store.vintages(s)] for s in store.sources()}
    return {s: flags for s, flags in kinds.items() if flags}


def test_offline_with_an_empty_store_writes_the_demo_loudly(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "--offline"]) == 0
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "SYNTHETIC DEMO DATA -- NOT REAL" in stream
        assert stream.lstrip().startswith("#" * 20)
    assert "NOT OBTAINED" in captured.out
    store = RawStore()
    assert _kinds(store) == {
        "comtrade": [True, True],
        "fred": [True],
        "gpr": [True],
        "userseries": [True],
    }
    # The chain runs on: the build picks the demo and says so.
    assert main(["build"]) == 0
    assert "SYNTHETIC DEMO DATA" in capsys.readouterr().out


def test_unreachable_sources_fall_back_to_the_demo_quickly(
    data_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    # conftest points every source at a closed port on 127.0.0.1.
    assert main(["data"]) == 0
    assert time.monotonic() - started < 15
    out = capsys.readouterr().out
    assert "unreachable" in out and "SYNTHETIC DEMO DATA" in out
    assert all(all(flags) for flags in _kinds(RawStore()).values())


def test_complete_fetch_then_a_warm_rerun_makes_no_call(
    data_root: Path,
    replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _serve(replay_server, monkeypatch)
    result = acquire.acquire()
    assert [o.status for o in result.outcomes] == ["downloaded"] * 4
    assert result.complete and result.demo is None and result.exit_code == 0
    calls = len(replay_server.requests)
    assert calls == 1 + 1 + 8 + 8 + 2  # one HEAD probe of the (shared) host, then the downloads
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" not in out and out.count("already stored, no download") == 4
    assert len(replay_server.requests) == calls
    assert _kinds(RawStore()) == {"comtrade": [False, False], "fred": [False], "gpr": [False]}
    # With real GPR and real trade the build is real; the test key never reached a manifest.
    assert panel_kind() == "real"
    for manifest in data_root.rglob("manifest.json"):
        assert "test-key-not-secret" not in manifest.read_text()


def panel_kind() -> str:
    from reexport import panel

    return panel.build("auto").inputs.kind


def test_partial_fetch_keeps_what_came_and_exits_3_without_demo(
    data_root: Path,
    replay_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _serve(replay_server, monkeypatch, comtrade=False)  # Comtrade answers 404
    assert main(["data"]) == 3
    captured = capsys.readouterr()
    assert "SYNTHETIC" not in captured.out + captured.err
    assert "INCOMPLETE: comtrade_world, comtrade_partners" in captured.out
    assert captured.err.strip().splitlines()[-1].startswith("reexport: error: data incomplete")
    assert _kinds(RawStore()) == {"fred": [False], "gpr": [False]}

    # Offline afterwards: the stored real vintages are used, still no demo, still exit 3.
    assert main(["data", "--offline"]) == 3
    out = capsys.readouterr().out
    assert out.count("already stored, no download") == 2
    assert _kinds(RawStore()) == {"fred": [False], "gpr": [False]}


def test_a_stored_vintage_of_another_request_is_used_when_the_source_fails(
    data_root: Path, replay_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(replay_server, monkeypatch)
    assert acquire.acquire().complete
    stored_gpr = RawStore().latest("gpr")
    # The publisher moves the file: the new URL is another request, and it cannot be reached.
    monkeypatch.setenv("REEXPORT_GPR_URL", "http://127.0.0.1:9/moved.xls")
    result = acquire.acquire()
    gpr_outcome = result.outcomes[0]
    assert gpr_outcome.status == "stored-other" and gpr_outcome.vintage == stored_gpr
    assert "unreachable" in gpr_outcome.message
    assert result.complete and result.exit_code == 0 and result.demo is None


def test_probe_reports_a_closed_port() -> None:
    assert "unreachable" in str(acquire.probe("http://127.0.0.1:9/x", timeout=2))


def test_hanging_name_lookups_are_bounded(
    data_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A machine without network whose DNS hangs: one bounded probe, then the demo."""
    lookups: list[str] = []

    def hanging_lookup(host: str, *args: object, **kwargs: object) -> list[object]:
        lookups.append(host)
        time.sleep(3)
        raise OSError("lookup gave up")

    monkeypatch.setattr(acquire.socket, "getaddrinfo", hanging_lookup)
    monkeypatch.setattr(acquire, "PROBE_TIMEOUT", 0.2)
    for variable, url in (
        ("REEXPORT_GPR_URL", "https://gpr.example.invalid/x.xls"),
        ("REEXPORT_COMTRADE_URL", "https://comtrade.example.invalid"),
        ("REEXPORT_FRED_URL", "https://fred.example.invalid/f.csv"),
    ):
        monkeypatch.setenv(variable, url)
    started = time.monotonic()
    assert main(["data"]) == 0
    assert time.monotonic() - started < 2.5
    assert lookups == ["gpr.example.invalid"]
    out = capsys.readouterr().out
    assert out.count("name lookup timed out") == 4 and "SYNTHETIC DEMO DATA" in out
