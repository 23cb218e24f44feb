"""The raw store: atomic vintages, immutability, warm-run lookup, verification, secrets."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reexport import cli, store
from reexport.errors import BadInputError
from reexport.periods import Month
from reexport.store import (
    MANIFEST_NAME,
    IntegrityError,
    RawStore,
    atomic_write_bytes,
    atomic_write_text,
    redact,
    redact_url,
    request_key,
)

REQUEST = {"reporter": "156", "partner": "world", "hs": "850511", "start": "2017-01"}


def _write(
    raw: RawStore,
    source: str = "comtrade",
    request: dict[str, object] | None = None,
    files: dict[str, bytes] | None = None,
    **kwargs: object,
) -> store.Vintage:
    files = files if files is not None else {"2017-01_2017-12.json": b'{"data": []}'}
    with raw.writer(source, request if request is not None else REQUEST, **kwargs) as writer:  # type: ignore[arg-type]
        for name, content in files.items():
            writer.add(
                name,
                content,
                url=f"synthetic:{kwargs['vintage_id']}"
                if kwargs.get("synthetic")
                else f"https://example.invalid/{name}",
                params={"period": "201701"},
                status=200,
                content_type="application/json",
            )
    assert writer.vintage is not None
    return writer.vintage


def _force_write(path: Path, data: bytes) -> None:
    """Tamper with a read-only raw file the way a careless user could."""
    path.chmod(0o644)
    path.write_bytes(data)


@pytest.fixture
def raw(data_root: Path) -> RawStore:
    return RawStore()


def test_default_root_follows_data_dir(data_root: Path) -> None:
    assert RawStore().root == data_root / "raw"


def test_vintage_holds_bytes_as_received_with_manifest(raw: RawStore) -> None:
    body = b"\x00\x01binary \xff body\r\n"
    vintage = _write(raw, files={"data.xls": body, "second.json": b"[]"})

    assert vintage.path.parent == raw.root / "comtrade"
    assert vintage.path.name == vintage.id
    assert (vintage.path / "data.xls").read_bytes() == body
    assert vintage.read_bytes("data.xls") == body
    assert vintage.names == ["data.xls", "second.json"]

    manifest = json.loads((vintage.path / MANIFEST_NAME).read_text())
    assert manifest == vintage.manifest
    assert manifest["schema"] == 1
    assert manifest["source"] == "comtrade"
    assert manifest["vintage"] == vintage.id
    assert manifest["synthetic"] is False
    assert manifest["request"] == REQUEST
    assert manifest["request_key"] == request_key(REQUEST)
    assert manifest["reexport_version"]
    record = vintage.file("data.xls")
    assert record["bytes"] == len(body)
    assert record["sha256"] == hashlib.sha256(body).hexdigest()
    assert record["status"] == 200
    assert record["content_type"] == "application/json"
    assert record["url"] == "https://example.invalid/data.xls"
    assert record["params"] == {"period": "201701"}
    # UTC retrieval time as the id: YYYYMMDDTHHMMSSZ.
    assert len(vintage.id) == 16 and vintage.id.endswith("Z") and vintage.id[8] == "T"


def test_written_files_are_read_only(raw: RawStore) -> None:
    vintage = _write(raw)
    for entry in vintage.path.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o444, entry.name


def test_exception_inside_writer_leaves_nothing(raw: RawStore) -> None:
    with pytest.raises(RuntimeError, match="network died"), raw.writer("gpr", {"url": "x"}) as w:
        w.add("part1.xls", b"first part")
        raise RuntimeError("network died")
    folder = raw.root / "gpr"
    assert list(folder.iterdir()) == []
    assert raw.vintages("gpr") == []
    assert raw.verify() == []


def test_interrupt_inside_writer_leaves_nothing(raw: RawStore) -> None:
    with pytest.raises(KeyboardInterrupt), raw.writer("comtrade", REQUEST) as w:
        w.add("2017.json", b"{}")
        raise KeyboardInterrupt
    assert list((raw.root / "comtrade").iterdir()) == []


def test_failure_while_publishing_leaves_nothing(
    raw: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_rename(src: str | Path, dst: str | Path) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(store.os, "rename", failing_rename)
    with pytest.raises(OSError, match="I/O error"), raw.writer("gpr", {}) as w:
        w.add("a.xls", b"x")
    assert list((raw.root / "gpr").iterdir()) == []
    assert raw.verify() == []


def test_bad_file_name_aborts_the_whole_vintage(raw: RawStore) -> None:
    with pytest.raises(BadInputError, match="plain file name"), raw.writer("gpr", {}) as w:
        w.add("ok.xls", b"x")
        w.add("../escape.xls", b"y")
    assert list((raw.root / "gpr").iterdir()) == []
    assert not (raw.root / "escape.xls").exists()


@pytest.mark.parametrize("name", ["manifest.json", ".hidden", "a/b", "", "sub\\x"])
def test_unsafe_or_reserved_names_are_refused(raw: RawStore, name: str) -> None:
    with pytest.raises(BadInputError), raw.writer("gpr", {}) as w:
        w.add(name, b"x")


def test_duplicate_file_name_is_refused(raw: RawStore) -> None:
    with pytest.raises(BadInputError, match="added twice"), raw.writer("gpr", {}) as w:
        w.add("a.xls", b"x")
        w.add("a.xls", b"y")
    assert raw.latest("gpr") is None


def test_content_must_be_bytes(raw: RawStore) -> None:
    with pytest.raises(BadInputError, match="must be bytes"), raw.writer("gpr", {}) as w:
        w.add("a.csv", "text")  # type: ignore[arg-type]


@pytest.mark.parametrize("source", ["GPR", "../x", "", "gpr daily", ".tmp"])
def test_bad_source_names_are_refused(raw: RawStore, source: str) -> None:
    with pytest.raises(BadInputError, match="source name"):
        raw.writer(source, {})


def test_bad_vintage_id_is_refused(raw: RawStore) -> None:
    with pytest.raises(BadInputError, match="vintage id"):
        raw.writer("gpr", {}, vintage_id="../demo")


def test_refresh_writes_a_new_vintage_and_keeps_old_bytes(raw: RawStore) -> None:
    old = _write(raw, files={"f.json": b"old bytes"})
    new = _write(raw, files={"f.json": b"new bytes"})
    assert new.id != old.id
    assert old.read_bytes("f.json") == b"old bytes"
    assert new.read_bytes("f.json") == b"new bytes"
    assert [v.id for v in raw.vintages("comtrade")] == [old.id, new.id]
    assert raw.latest("comtrade") == new
    assert raw.find("comtrade", REQUEST) == new


def test_explicit_id_collision_gets_a_suffix_never_overwrites(raw: RawStore) -> None:
    first = _write(raw, "gpr", {"demo": 1}, {"a.csv": b"1"}, synthetic=True, vintage_id="demo-1")
    second = _write(raw, "gpr", {"demo": 1}, {"a.csv": b"2"}, synthetic=True, vintage_id="demo-1")
    third = _write(raw, "gpr", {"demo": 1}, {"a.csv": b"3"}, synthetic=True, vintage_id="demo-1")
    assert (first.id, second.id, third.id) == ("demo-1", "demo-1-2", "demo-1-3")
    assert first.read_bytes("a.csv") == b"1"
    assert raw.latest("gpr") == third


def test_rename_race_with_another_writer_picks_the_next_id(
    raw: RawStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename
    calls: list[str] = []

    def racing_rename(src: str | Path, dst: str | Path) -> None:
        # Another process publishes the same id between our check and our rename.
        if not calls:
            Path(dst).mkdir()
            (Path(dst) / "someone-else.txt").write_bytes(b"theirs")
        calls.append(str(dst))
        real_rename(src, dst)

    monkeypatch.setattr(store.os, "rename", racing_rename)
    vintage = _write(raw, "gpr", {}, {"a.xls": b"mine"}, vintage_id="v1")
    assert vintage.id == "v1-2"
    assert (raw.root / "gpr" / "v1" / "someone-else.txt").read_bytes() == b"theirs"
    assert vintage.read_bytes("a.xls") == b"mine"
    assert not any(p.name.startswith(".tmp-") for p in (raw.root / "gpr").iterdir())


def test_find_matches_canonical_request(raw: RawStore) -> None:
    vintage = _write(raw, request={"hs": "850511", "start": Month(2017, 1), "partners": ("USA",)})
    same_other_order = {"partners": ["USA"], "start": "2017-01", "hs": "850511"}
    assert raw.find("comtrade", same_other_order) == vintage
    assert raw.find("comtrade", {**same_other_order, "start": "2017-02"}) is None
    assert raw.find("gpr", same_other_order) is None


def test_find_and_latest_filter_synthetic(raw: RawStore) -> None:
    real = _write(raw, "gpr", {"url": "u"}, {"a.xls": b"real"})
    demo = _write(raw, "gpr", {"url": "u"}, {"a.xls": b"demo"}, synthetic=True, vintage_id="demo-7")
    assert demo.synthetic is True and real.synthetic is False
    assert raw.latest("gpr", synthetic=True) == demo
    assert raw.latest("gpr", synthetic=False) == real
    assert raw.find("gpr", {"url": "u"}, synthetic=False) == real
    assert raw.find("gpr", {"url": "u"}, synthetic=True) == demo
    assert raw.find("gpr", {"url": "u"}, synthetic=None) == demo  # the newer of the two


def test_find_never_returns_demo_data_by_default(raw: RawStore) -> None:
    """A fetcher's warm re-run must not pick up a demo vintage that recorded the same request."""
    _write(raw, "gpr", {"url": "u"}, {"a.xls": b"demo"}, synthetic=True, vintage_id="demo-7")
    assert raw.find("gpr", {"url": "u"}) is None
    real = _write(raw, "gpr", {"url": "u"}, {"a.xls": b"real"})
    assert raw.find("gpr", {"url": "u"}) == real
    assert raw.latest("fred") is None


def test_readers_ignore_temp_and_broken_folders(raw: RawStore) -> None:
    good = _write(raw, "fred")
    (raw.root / "fred" / ".tmp-abandoned").mkdir()
    (raw.root / "fred" / ".tmp-abandoned" / "x.csv").write_bytes(b"half")
    broken = raw.root / "fred" / "20990101T000000Z"
    broken.mkdir()
    (broken / MANIFEST_NAME).write_text("{not json")
    assert raw.vintages("fred") == [good]
    assert raw.latest("fred") == good


def test_read_bytes_detects_tampering(raw: RawStore) -> None:
    vintage = _write(raw, files={"f.json": b"original"})
    _force_write(vintage.path / "f.json", b"origina1")
    with pytest.raises(IntegrityError, match="does not match its manifest"):
        vintage.read_bytes("f.json")
    (vintage.path / "f.json").unlink()
    with pytest.raises(IntegrityError, match="missing"):
        vintage.read_bytes("f.json")
    with pytest.raises(BadInputError, match="has no file 'other.json'"):
        vintage.read_bytes("other.json")


def test_verify_clean_store(raw: RawStore) -> None:
    _write(raw, files={"a": b"1", "b": b"2"})
    _write(raw, "gpr")
    assert raw.verify() == []
    assert raw.verify_counts() == ([], 3, 2)


def test_verify_reports_each_kind_of_problem(raw: RawStore) -> None:
    tampered = _write(raw, "comtrade", {"n": 1}, {"t.json": b"good"})
    missing = _write(raw, "comtrade", {"n": 2}, {"m.json": b"here"})
    extra = _write(raw, "comtrade", {"n": 3}, {"e.json": b"ok"})
    same_size = _write(raw, "fred", {"n": 4}, {"s.csv": b"abc"})
    _force_write(tampered.path / "t.json", b"evil!")
    (missing.path / "m.json").unlink()
    (extra.path / "stray.txt").write_bytes(b"who put this here")
    _force_write(same_size.path / "s.csv", b"abd")
    (raw.root / "comtrade" / ".tmp-deadbeef").mkdir()
    no_manifest = raw.root / "gpr" / "20200101T000000Z"
    no_manifest.mkdir(parents=True)
    bad_manifest = raw.root / "gpr" / "20200102T000000Z"
    bad_manifest.mkdir()
    (bad_manifest / MANIFEST_NAME).write_text(json.dumps({"schema": 1, "source": "gpr"}))

    report = raw.verify_report()
    problems = report.problems
    text = "\n".join(problems)
    assert len(problems) == 6, text
    assert f"{tampered.path / 't.json'}: 5 bytes, but the manifest records 4" in text
    assert f"{missing.path / 'm.json'}: listed in the manifest but missing" in text
    assert f"{extra.path / 'stray.txt'}: not listed" in text
    assert f"{same_size.path / 's.csv'}: sha256" in text
    # A temp folder of an interrupted write is not a vintage and not a problem: a note.
    assert report.notes == [
        f"{raw.root / 'comtrade' / '.tmp-deadbeef'}: left by an interrupted write (not a "
        "vintage; the next write to comtrade removes it)"
    ]
    assert f"{no_manifest / MANIFEST_NAME} is missing" in text
    assert "lacks vintage, synthetic, request_key, files" in text


def test_verify_flags_manifest_for_another_folder(raw: RawStore) -> None:
    vintage = _write(raw, "gpr")
    moved = vintage.path.with_name("20000101T000000Z")
    vintage.path.rename(moved)
    problems = raw.verify()
    assert len(problems) == 1
    assert "but the folder is gpr/20000101T000000Z" in problems[0]


def test_secrets_never_enter_the_manifest(raw: RawStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "s3cr3t-comtrade-key-0123456789"
    monkeypatch.setenv("COMTRADE_API_KEY", key)
    request = {"reporter": "156", "note": f"called with {key}", "subscription_key": key}
    with raw.writer("comtrade", request) as writer:
        writer.add(
            "a.json",
            b"{}",
            url=f"https://comtradeapi.un.org/data/v1/get/C/M/HS?period=201701&subscription-key={key}",
            params={"period": "201701", "subscription-key": key, "token": "tok-abcdef"},
            status=200,
            content_type="application/json",
        )
    assert writer.vintage is not None
    manifest_text = (writer.vintage.path / MANIFEST_NAME).read_text()
    assert key not in manifest_text
    assert "tok-abcdef" not in manifest_text
    record = writer.vintage.file("a.json")
    assert record["url"].endswith("?period=201701&subscription-key=REDACTED")
    assert record["params"] == {
        "period": "201701",
        "subscription-key": "REDACTED",
        "token": "REDACTED",
    }
    assert writer.vintage.request["note"] == "called with REDACTED"
    # The same logical request still finds its vintage.
    assert raw.find("comtrade", request) == writer.vintage


def test_redaction_helpers() -> None:
    assert redact("key=abcdef and abcdef", ["abcdef"]) == "key=REDACTED and REDACTED"
    assert redact("short xy", ["xy"]) == "short xy"  # too short to be a key
    assert (
        redact_url("https://user:pw@h.org/p?a=1&api_key=zz&Token=q#f")
        == "https://user:REDACTED@h.org/p?a=1&api_key=REDACTED&Token=REDACTED#f"
    )
    assert redact_url("https://h.org/p?reporterCode=156") == "https://h.org/p?reporterCode=156"


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "table.csv"
    atomic_write_text(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]


def test_atomic_write_failure_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def failing_replace(src: str | Path, dst: str | Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_verify_cli_ok_and_failure(data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK: 0 files in 0 vintages verified"

    vintage = _write(RawStore(), files={"a.json": b"1", "b.json": b"2"})
    assert cli.main(["verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK: 2 files in 1 vintages verified"

    _force_write(vintage.path / "a.json", b"X")
    assert cli.main(["verify"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(str(vintage.path / "a.json")) and "(modified)" in out[0]
    assert out[-1].startswith("FAILED: 1 problem(s)")


def test_verify_cli_says_when_there_is_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REEXPORT_DATA_DIR", str(tmp_path / "mistyped"))
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("OK: nothing to verify, there is no raw store at")
    assert "mistyped" in out


def test_importing_the_store_is_light() -> None:
    code = (
        "import sys, reexport.store; "
        "print(sorted(m for m in ('pandas', 'numpy', 'requests', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_temp_folders_of_dead_runs_are_notes_and_removed_by_the_next_write(
    raw: RawStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 8 item 6: a killed fetch's temp folder failed `verify` until deleted by hand."""
    folder = raw.root / "gpr"
    live = store.TempFolder(folder)  # a writer that is still running (this process holds it)
    (live.path / "part.xls").write_bytes(b"half")
    dead = folder / ".tmp-0123456789abcdef"  # a killed run's: its lock is free
    dead.mkdir()
    (dead / "part.xls").write_bytes(b"half")
    (folder / ".tmp-0123456789abcdef.lock").write_text("12345\n")
    legacy = folder / ".tmp-oldstyle"  # an older reexport's, without a lock file
    legacy.mkdir()
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out
    assert f"note: {dead}: left by an interrupted write" in out
    assert f"note: {legacy}: left by an interrupted write" in out
    assert f"note: {live.path}: being written by a running reexport" in out
    _write(raw, "gpr")
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == sorted(
        [live.path.name, live.lock_path.name]
    )
    shutil.rmtree(live.path)
    live.release()
    assert cli.main(["verify"]) == 0
    assert "note:" not in capsys.readouterr().out
