"""The command layer: cheap start-up, exit codes, and docs that cover every command."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reexport import __version__
from reexport.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "statsmodels", "matplotlib", "linearmodels", "scipy", "formulaic")


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    """Every runnable command path, e.g. ``fetch gpr``, ``build``."""
    found: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix}{name}"
                nested = _subcommands(sub, prefix=f"{path} ")
                found.extend(nested or [path])
    return found


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["fetch", "--help"]])
def test_help_and_version_do_not_import_heavy_libraries(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from reexport.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert "HEAVY=\n" in done.stderr, done.stderr


def test_version_prints_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"reexport {__version__}"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["no-such-command"], "no-such-command"),
        (["fetch", "comtrade", "--bogus"], "--bogus"),
        (["build", "--vintage", "neither"], "neither"),
        (["fetch"], "name a source"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    err_lines = [line for line in err.splitlines() if line.startswith("reexport")]
    assert err_lines and needle in err_lines[-1]
    assert "Traceback" not in err


def test_every_command_has_help_text() -> None:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"command {choice.dest} has no help text"


def test_readme_documents_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _subcommands(build_parser())
    assert len(commands) >= 10
    missing = [c for c in commands if f"reexport {c}" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_make_help_documents_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", makefile, flags=re.M))
    documented = set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):.*## ", makefile, flags=re.M))
    phony = set(re.findall(r"^\.PHONY:(.*)$", makefile, flags=re.M)[0].split())
    assert phony <= documented, f"undocumented phony targets: {phony - documented}"
    assert {"help", "install", "data", "test", "reproduce", "bench"} <= targets


def test_fetch_without_source_shows_the_fetch_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch"]) == 2
    err = capsys.readouterr().err
    assert "usage: reexport fetch" in err
    assert "{gpr,comtrade,fred}" in err or "gpr" in err.split("usage:")[1]


@pytest.mark.parametrize("argv", [["demo"], ["build", "--vintage", "demo"]])
def test_data_root_that_is_a_file_is_one_line_exit_2(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    not_a_folder = tmp_path / "data"
    not_a_folder.write_text("I am a file\n")
    monkeypatch.setenv("REEXPORT_DATA_DIR", str(not_a_folder))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("reexport: error:")
    assert not_a_folder.read_text() == "I am a file\n"


def test_error_messages_never_show_the_comtrade_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even a message that somehow quotes the key is scrubbed at the last step."""
    secret = "k3y-THAT-must-NEVER-show"
    monkeypatch.setenv("COMTRADE_API_KEY", secret)
    assert main(["fetch", "comtrade", "--start", f"bad-{secret}"]) == 2
    err = capsys.readouterr().err
    assert secret not in err
    assert "REDACTED" in err
