"""Integrity of the data layer under tampering and interruption (issue 8, items 3-7).

Flipped synthetic flags, edited and broken manifests, kill -9 during `build` and during
`demo`, a full disk, and a user series from the future.  Each case ends in success or a
clear non-zero exit, and afterwards the raw store and the processed folder are intact:
the previous complete set or the new one, and `reexport verify` passes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from publisher_bodies import as_published

from reexport import cli, panel, store
from reexport.errors import BadInputError
from reexport.sources import demo, userseries
from reexport.store import MANIFEST_NAME, SEAL_NAME, IntegrityError, RawStore

REEXPORT = Path(sys.executable).with_name("reexport")
SEED = 7


def _edit_manifest(folder: Path, change: dict[str, object]) -> None:
    """Edit a vintage's manifest the way a user with a text editor could."""
    path = folder / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    manifest.update(change)
    path.chmod(0o644)
    path.write_text(json.dumps(manifest, indent=2))


def _unseal(folder: Path) -> None:
    """Remove a vintage's seal, as in a store written before manifests were sealed."""
    (folder / SEAL_NAME).unlink()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def demo_root(data_root: Path) -> Path:
    demo.write_demo(SEED, RawStore())
    return data_root


# --------------------------------------------------------------------------- provenance


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "unsealed"])
def test_a_flipped_synthetic_flag_fails_verify_and_build(
    demo_root: Path, sealed: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case: every manifest says "synthetic": false; ids, URLs and markers say demo."""
    raw = RawStore()
    for source in raw.sources():
        for folder in sorted((raw.root / source).iterdir()):
            if not sealed:
                _unseal(folder)
            _edit_manifest(folder, {"synthetic": False})
    assert cli.main(["verify"]) == 1
    out = capsys.readouterr().out
    assert out.count('says "synthetic": false') == 5
    assert f"demo-{SEED}: its id demo-{SEED}" not in out  # each line names the file first
    assert f"gpr/demo-{SEED}/manifest.json" in out and "demo data can never pass as real" in out
    assert cli.main(["build"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to build" in err and f"demo-{SEED}" in err
    assert not (demo_root / "processed" / "porcher2025" / "world.csv").exists()
    # Nothing treats the flipped vintages as real.
    assert raw.latest("gpr", synthetic=False) is None


def test_an_edited_manifest_breaks_its_seal(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An edit that keeps provenance consistent (a changed sha256 and file) is still caught."""
    raw = RawStore()
    vintage = raw.latest("fred", synthetic=True)
    assert vintage is not None and vintage.sealed
    path = vintage.path / "EXCHUS.csv"
    forged = path.read_bytes().replace(b"2017-01-01,", b"2017-01-01,9")
    path.chmod(0o644)
    path.write_bytes(forged)
    files = [dict(record) for record in vintage.files]
    files[0] |= {"bytes": len(forged), "sha256": store.hashlib.sha256(forged).hexdigest()}
    _edit_manifest(vintage.path, {"files": files})
    assert cli.main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "fred/demo-7/manifest.json was edited after it was written" in out
    assert cli.main(["build", "--vintage", "demo"]) == 2
    assert "no longer matches manifest.seal" in capsys.readouterr().err


def test_demo_content_never_enters_a_real_vintage(
    demo_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The in-file markers: a demo workbook, envelope or customs CSV cannot be stored as real."""
    raw = RawStore()
    draw = demo.generate(SEED)
    bodies = {
        "data_gpr_export.xls": demo.gpr_xls_bytes(draw),
        "2017-01_2017-12.json": demo.comtrade_bodies(draw, "world")[0][1],
        "series.csv": demo.customs_csv_bytes(draw),
    }
    for name, body in bodies.items():
        refused = pytest.raises(BadInputError, match="a real vintage cannot hold demo data")
        with refused, raw.writer("gpr", {"test": name}) as writer:
            writer.add(name, body, url="https://example.invalid/x")
        # The same body without the markers (a publisher's) is stored as usual.
        with raw.writer("gpr", {"test": name, "published": True}) as writer:
            writer.add(name, as_published(body), url="https://example.invalid/x")
    customs = tmp_path / "copied_demo_series.csv"
    customs.write_bytes(bodies["series.csv"])
    assert cli.main(["import-series", str(customs)]) == 2
    err = capsys.readouterr().err
    assert "synthetic column that is true" in err and "stores real series only" in err
    # A real vintage forged from demo files (folder renamed, manifest rewritten and
    # resealed consistently) is caught by its content, on read and by verify.
    source = raw.latest("gpr", synthetic=True)
    assert source is not None
    forged = raw.root / "gpr" / "20240101T000000Z"
    shutil.copytree(source.path, forged)
    manifest = dict(source.manifest, vintage=forged.name, synthetic=False, request={"x": 1})
    manifest["files"] = [dict(f, url="https://example.invalid/x") for f in manifest["files"]]
    for name in (MANIFEST_NAME, SEAL_NAME):
        (forged / name).chmod(0o644)
    (forged / MANIFEST_NAME).write_text(json.dumps(manifest))
    (forged / SEAL_NAME).write_text(store._seal_text(manifest))
    vintage = store.Vintage.load(forged)
    with pytest.raises(IntegrityError, match="SYNTHETIC_DEMO marker row, but vintage"):
        vintage.read_bytes(vintage.names[0])
    problems = raw.verify()
    assert (
        len(problems) == 1
        and "SYNTHETIC_DEMO marker row say it is the synthetic demo" in (problems[0])
    )


def test_verify_seal_seals_intact_old_vintages_only(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store written before seals: verify passes with a note; --seal seals the intact ones."""
    raw = RawStore()
    folders = [f for s in raw.sources() for f in sorted((raw.root / s).iterdir())]
    for folder in folders:
        _unseal(folder)
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "note: 5 vintage(s) were written before manifests were sealed" in out
    assert out.splitlines()[-1] == "OK: 20 files in 5 vintages verified"
    # The build still works on an old store, and says the vintages are unsealed.
    assert cli.main(["build"]) == 0
    assert "written before manifests were sealed" in capsys.readouterr().out
    # A tampered old vintage is never sealed (that would bless the edit).
    tampered = raw.root / "fred" / f"demo-{SEED}" / "INDPRO.csv"
    tampered.chmod(0o644)
    tampered.write_bytes(tampered.read_bytes() + b"2025-01-01,1\n")
    assert cli.main(["verify", "--seal"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("sealed 4 vintage(s)") and "INDPRO.csv" in out
    assert not (tampered.parent / SEAL_NAME).exists()
    assert all((f / SEAL_NAME).exists() for f in folders if f != tampered.parent)


# --------------------------------------------------------------------------- broken manifests


def test_a_broken_manifest_stops_the_build_and_keeps_the_old_set(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case: EXCHUS and INDPRO silently vanished from the study frame."""
    assert cli.main(["build"]) == 0
    capsys.readouterr()
    before = _snapshot(demo_root / "processed" / "porcher2025")
    manifest = demo_root / "raw" / "fred" / f"demo-{SEED}" / MANIFEST_NAME
    manifest.chmod(0o644)
    manifest.write_text('{"schema": 1, "source": "fred", ')
    assert cli.main(["build"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{manifest} is not valid JSON" in err
    assert _snapshot(demo_root / "processed" / "porcher2025") == before
    assert cli.main(["verify"]) == 1
    assert f"{manifest} is not valid JSON" in capsys.readouterr().out
    # The way out the message names: move the folder away and write the vintage again.
    shutil.move(manifest.parent, demo_root / "broken-fred-vintage")
    assert cli.main(["build"]) == 2
    assert "no fred: an interrupted `reexport demo`" in capsys.readouterr().err
    assert cli.main(["demo", "--seed", str(SEED)]) == 0
    assert cli.main(["build"]) == 0
    assert cli.main(["verify"]) == 0


# --------------------------------------------------------------------------- processed sets


def test_build_swaps_whole_sets_and_verify_checks_them(
    demo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    processed = demo_root / "processed" / "porcher2025"
    processed.mkdir(parents=True)
    (processed / "world.csv").write_text("an old file of an older reexport\n")
    assert cli.main(["build"]) == 0
    assert processed.is_symlink()
    first = os.readlink(processed)
    names = sorted(p.name for p in processed.iterdir())
    expected = [
        f"{n}{ext}"
        for n in ("trade_flows", "indices", "world", "destination")
        for ext in (".csv", ".meta.json")
    ]
    assert names == sorted([*expected, "build_report.json"])
    assert cli.main(["build", "--export-series", "comtrade"]) == 0
    second = os.readlink(processed)
    assert second != first
    # Only the current set is kept; the legacy folder's content is gone with it.
    sets = store.sets_dir(processed)
    assert sorted(p.name for p in sets.iterdir()) == [".lock", Path(second).name]
    capsys.readouterr()
    assert cli.main(["verify"]) == 0
    assert "note:" not in capsys.readouterr().out
    # A processed table edited by hand, or a sidecar's flipped flag, fails verify.
    meta = processed / "world.meta.json"
    meta.write_text(meta.read_text().replace('"synthetic": true', '"synthetic": false'))
    assert cli.main(["verify"]) == 1
    assert "world.meta.json: differs from the sha256" in capsys.readouterr().out


def test_an_old_checkouts_empty_processed_folder_verifies(demo_root: Path) -> None:
    """A `data/processed` holding only an old checkout's `.gitkeep` is no incomplete build."""
    processed = demo_root / "processed" / "porcher2025"
    processed.mkdir(parents=True)
    (processed / ".gitkeep").write_text("")
    assert store.verify_processed(processed) == ([], [])
    panel.build("demo")
    assert processed.is_symlink() and store.verify_processed(processed) == ([], [])


def test_an_old_real_processed_folder_is_swapped_out_without_renameat2(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processed = demo_root / "processed" / "porcher2025"
    processed.mkdir(parents=True)
    (processed / "stale.csv").write_text("x\n")
    monkeypatch.setattr(store, "_rename_exchange", lambda a, b: False)
    panel.build("demo")
    assert processed.is_symlink() and not (processed / "stale.csv").exists()
    assert store.verify_processed(processed) == ([], [])


def test_without_symlinks_whole_sets_are_swapped_by_renames(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data root on a file system without symlinks (FAT, some shares) still builds."""

    def refused(*_args: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(store.os, "symlink", refused)
    processed = demo_root / "processed" / "porcher2025"
    panel.build("demo")
    first = _snapshot(processed)
    panel.build("demo", country_scale="index")
    assert not processed.is_symlink() and _snapshot(processed) != first
    assert store.verify_processed(processed) == ([], [])
    assert [p.name for p in store.sets_dir(processed).iterdir()] == [".lock"]


def test_no_room_for_the_new_link_keeps_the_old_set_and_no_orphan(
    demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step (the symlink) fails: the renamed new set is removed, the old one stays."""
    panel.build("demo")
    processed = demo_root / "processed" / "porcher2025"
    before, current = _snapshot(processed), os.readlink(processed)

    def no_space(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "symlink", no_space)
    with pytest.raises(OSError, match="No space left"):
        panel.build("demo", country_scale="index")
    assert os.readlink(processed) == current and _snapshot(processed) == before
    sets = store.sets_dir(processed)
    assert sorted(p.name for p in sets.iterdir()) == [".lock", Path(current).name]


# --------------------------------------------------------------------------- kill -9


def _spawn(args: list[str], root: Path, pause: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ, REEXPORT_DATA_DIR=str(root), **{store.TEST_PAUSE_ENV: str(pause)})
    return subprocess.Popen(
        [str(REEXPORT), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_for(condition: object, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if process.poll() is not None:
            pytest.fail(f"the process ended (exit {process.returncode}) before the kill point")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the kill point was not reached in time")
        time.sleep(0.02)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def _staged_files(root: Path) -> int:
    sets = store.sets_dir(root / "processed" / "porcher2025")
    staging = [p for p in sets.glob(".tmp-*") if p.is_dir()] if sets.is_dir() else []
    return sum(1 for folder in staging for _ in folder.iterdir())


@pytest.mark.parametrize("kill_after_files", [0, 1, 5, 9])
def test_kill_9_during_build_leaves_the_previous_complete_set(
    demo_root: Path, kill_after_files: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed before, between or after the writes of a new set: the old set stays whole."""
    assert cli.main(["build"]) == 0
    before = _snapshot(demo_root / "processed" / "porcher2025")
    process = _spawn(["build", "--country-scale", "index"], demo_root, pause=0.5)
    if kill_after_files:
        # The 9th file is the build report: the pause after it is just before the swap.
        _wait_for(lambda: _staged_files(demo_root) >= kill_after_files, process)
    else:
        time.sleep(0.3)  # still importing: nothing written yet
    _kill(process)
    assert _snapshot(demo_root / "processed" / "porcher2025") == before
    capsys.readouterr()
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr().out
    if kill_after_files:
        assert "left by an interrupted build (the next build removes it)" in out
    # The next build removes the leftovers and swaps in its new set.
    assert cli.main(["build", "--country-scale", "index"]) == 0
    assert _snapshot(demo_root / "processed" / "porcher2025") != before
    assert [
        p.name for p in store.sets_dir(demo_root / "processed" / "porcher2025").glob(".tmp-*")
    ] == []
    capsys.readouterr()
    assert cli.main(["verify"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_kill_9_at_random_instants_of_build_leaves_one_complete_set(demo_root: Path) -> None:
    """No test hook: builds killed after random delays leave set A or set B, never a mix."""
    import random

    processed = demo_root / "processed" / "porcher2025"
    panel.build("demo", country_scale="index")
    index_set = _snapshot(processed)
    panel.build("demo")
    share_set = _snapshot(processed)
    rng = random.Random(8)
    for attempt in range(6):
        scale = "index" if attempt % 2 == 0 else "share"
        process = _spawn(["build", "--country-scale", scale], demo_root, pause=0)
        time.sleep(rng.uniform(0.5, 4.0))
        if process.poll() is None:
            _kill(process)
        now = _snapshot(processed)
        assert now in (index_set, share_set)
        assert store.verify_processed(processed)[0] == []
    panel.build("demo")
    assert _snapshot(processed) == share_set
    # The killed runs' leftovers are gone: the lock and the current set remain.
    assert sorted(p.name for p in store.sets_dir(processed).iterdir()) == [
        ".lock",
        Path(os.readlink(processed)).name,
    ]


def _published(root: Path) -> int:
    raw = root / "raw"
    return sum(1 for p in raw.glob("*/demo-*") if (p / MANIFEST_NAME).exists())


def _temp_files(root: Path) -> int:
    return sum(
        1 for folder in (root / "raw").glob("*/.tmp-*") if folder.is_dir() for _ in folder.iterdir()
    )


@pytest.mark.parametrize("published", [0, 1, 2, 4])
def test_kill_9_during_demo_never_leaves_a_set_the_build_uses(
    data_root: Path, published: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after `published` demo vintages (and half of the next): no partial set is used."""
    process = _spawn(["demo", "--seed", str(SEED)], data_root, pause=0.2)
    _wait_for(lambda: _published(data_root) >= published and _temp_files(data_root) >= 1, process)
    _kill(process)
    assert _published(data_root) == published
    capsys.readouterr()
    assert cli.main(["verify"]) == 0
    assert "left by an interrupted write" in capsys.readouterr().out
    assert cli.main(["build", "--vintage", "demo"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ("is incomplete" in err) if published else ("run `reexport demo` first" in err)
    # The next `reexport demo` completes the set and removes the killed run's temp folder.
    assert cli.main(["demo", "--seed", str(SEED)]) == 0
    assert list((data_root / "raw").glob("*/.tmp-*")) == []
    assert cli.main(["build", "--vintage", "demo"]) == 0
    capsys.readouterr()
    assert cli.main(["verify"]) == 0
    assert "note:" not in capsys.readouterr().out


# --------------------------------------------------------------------------- full disk


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 12 MB tmpfs as the data root (root only, where mounting works; skipped otherwise)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    root = mount / "data"
    root.mkdir()
    monkeypatch.setenv("REEXPORT_DATA_DIR", str(root))
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(root: Path, leave: int) -> Path:
    """Write a ballast file leaving about ``leave`` bytes free on the disk of ``root``."""
    ballast = root.parent / "ballast"
    free = shutil.disk_usage(root).free
    ballast.write_bytes(b"\0" * max(free - leave, 0))
    return ballast


def test_a_full_disk_during_build_keeps_the_old_set(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--seed", str(SEED)]) == 0
    assert cli.main(["build"]) == 0
    before = _snapshot(small_disk / "processed" / "porcher2025")
    ballast = _fill(small_disk, leave=600_000)  # less than one processed set
    capsys.readouterr()
    assert cli.main(["build", "--country-scale", "index"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert _snapshot(small_disk / "processed" / "porcher2025") == before
    assert list(store.sets_dir(small_disk / "processed" / "porcher2025").glob(".tmp-*")) == []
    assert cli.main(["verify"]) == 0
    ballast.unlink()
    assert cli.main(["build", "--country-scale", "index"]) == 0
    assert _snapshot(small_disk / "processed" / "porcher2025") != before


def test_a_full_disk_during_demo_leaves_no_set_the_build_uses(
    small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ballast = _fill(small_disk, leave=1_500_000)  # the GPR workbook fits, Comtrade does not
    assert cli.main(["demo", "--seed", str(SEED)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err
    assert _published(small_disk) >= 1
    assert list((small_disk / "raw").glob("*/.tmp-*")) == []
    assert cli.main(["verify"]) == 0
    capsys.readouterr()
    assert cli.main(["build", "--vintage", "demo"]) == 2
    assert "is incomplete" in capsys.readouterr().err
    ballast.unlink()
    assert cli.main(["demo", "--seed", str(SEED)]) == 0
    assert cli.main(["build", "--vintage", "demo"]) == 0


# --------------------------------------------------------------------------- future months


def test_a_user_series_from_the_future_is_refused(
    data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The audit's case: 2099-01 was accepted and the build spanned 985 months."""
    latest = userseries.current_month()
    series = tmp_path / "customs.csv"
    series.write_text(f"period,value\n2019-01,10\n{latest},11\n2099-01,12\n")
    assert cli.main(["import-series", str(series)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{series} line 4: column 'period' month 2099-01 is after the current month" in err
    assert RawStore().vintages("userseries") == []
    # The current month itself is fine.
    series.write_text(f"period,value\n2019-01,10\n{latest},11\n")
    assert cli.main(["import-series", str(series)]) == 0
