"""The ``reexport`` command line: a thin layer over the typed Python API.

Each subcommand names the function that does the work as ``"module:function"``;
the module is imported only when that subcommand runs, so ``reexport --help``
and ``reexport --version`` never import pandas, statsmodels or matplotlib.
The parsed options are passed to the function as keyword arguments, so every
option below is also a parameter of the API function of the same name.

Exit codes: 0 success; 2 bad input (arguments, files, specs); 3 a source could
not be reached or answered wrongly after retries.  Expected failures print one
line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from reexport import __version__
from reexport.errors import BadInputError, ReexportError

log = logging.getLogger("reexport")

#: Keys of the parsed namespace that belong to the CLI, not to the handler.
_CLI_KEYS = {"handler", "verbose", "command", "fetch_source", "help_parser"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a one-line message with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise BadInputError(f"{self.prog}: {message}")


def _add(
    sub: argparse._SubParsersAction[_Parser], name: str, handler: str, help_text: str
) -> _Parser:
    parser: _Parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def _store_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--refresh",
        action="store_true",
        help="download again into a new vintage even if this request is already stored",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="make no network call: use only what the raw store holds",
    )


def _from_file_flag(
    parser: argparse.ArgumentParser, what: str, *, repeatable: bool = False
) -> None:
    parser.add_argument(
        "--from-file",
        metavar="PATH",
        default=None,
        action="append" if repeatable else "store",
        help=f"store a file downloaded by hand instead of downloading ({what}); it is checked "
        "like a download and stored byte for byte as a real vintage, its origin recorded",
    )


def _study_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "study",
        nargs="?",
        default=None,
        help="study folder holding study.toml, e.g. analyses/NAME (default: $REEXPORT_STUDY, "
        "else the folder named in analyses/DEFAULT; see docs/study_format.md)",
    )


def build_parser() -> _Parser:
    parser = _Parser(
        prog="reexport",
        description="Export-flow econometrics: fetch trade and geopolitical-risk data, "
        "build tidy panels, estimate, and report.",
    )
    parser.add_argument("--version", action="version", version=f"reexport {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress (-vv for debug detail)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # --- data layer -------------------------------------------------------------
    fetch = sub.add_parser(
        "fetch",
        help="download a source into the raw store",
        description="Download a source into the raw store (data/raw/), keeping every byte.",
    )
    fetch.set_defaults(help_parser=fetch)
    fsub = fetch.add_subparsers(dest="fetch_source", metavar="SOURCE", parser_class=_Parser)

    gpr = _add(
        fsub,
        "gpr",
        "reexport.sources.gpr:fetch_cli",
        "Caldara-Iacoviello geopolitical-risk indices (monthly file; --daily for the daily file)",
    )
    gpr.add_argument("--daily", action="store_true", help="fetch the daily file instead")
    _store_flags(gpr)
    _from_file_flag(gpr, "the .xls workbook (data_gpr_export.xls, or with --daily the daily file)")

    ct = _add(
        fsub,
        "comtrade",
        "reexport.sources.comtrade:fetch_cli",
        "UN Comtrade trade flows, monthly or annual (key from $COMTRADE_API_KEY, else the "
        "keyless preview)",
    )
    ct.add_argument(
        "--reporter",
        default="156",
        help="reporter ISO3 or M49 codes, comma-separated (default 156, China)",
    )
    ct.add_argument(
        "--partner",
        default="world",
        help="'world', 'all' (every partner and the World totals), or comma-separated ISO3 or "
        "M49 codes of Comtrade's official area table (default world)",
    )
    ct.add_argument("--hs", default="850511", help="HS codes, comma-separated (default 850511)")
    ct.add_argument(
        "--flow",
        default="X",
        help="X exports, M imports, X,M or both (default X)",
    )
    ct.add_argument(
        "--frequency",
        default="M",
        help="M monthly (periods YYYY-MM) or A annual (periods YYYY) (default M)",
    )
    ct.add_argument(
        "--start", default="2017-01", help="first month YYYY-MM, or year YYYY (default 2017-01)"
    )
    ct.add_argument(
        "--end", default="2024-12", help="last month YYYY-MM, or year YYYY (default 2024-12)"
    )
    _store_flags(ct)
    _from_file_flag(
        ct,
        "an API answer saved as JSON, or the CSV the Comtrade website exports; repeat it for "
        "more files; the options above say what they must answer",
        repeatable=True,
    )

    fred = _add(
        fsub,
        "fred",
        "reexport.sources.fred:fetch_cli",
        "FRED monthly series as keyless CSV (controls such as EXCHUS, INDPRO)",
    )
    fred.add_argument(
        "--series",
        default=None,
        help="comma-separated FRED ids (default EXCHUS,INDPRO; with --from-file, the files')",
    )
    fred.add_argument("--start", default="2017-01", help="first month YYYY-MM (default 2017-01)")
    fred.add_argument("--end", default="2024-12", help="last month YYYY-MM (default 2024-12)")
    _store_flags(fred)
    _from_file_flag(
        fred, "a FRED CSV (fredgraph.csv) of one series; repeat it for more series", repeatable=True
    )

    imp = _add(
        sub,
        "import-series",
        "reexport.sources.userseries:import_cli",
        "store a user-supplied monthly series (CSV: period, value[, partner]) as a raw vintage",
    )
    imp.add_argument("file", help="CSV file with a period column and a value column")
    imp.add_argument("--name", default=None, help="series name (default: the file's stem)")
    imp.add_argument("--unit", default="t", help="unit of the value column (default t)")
    imp.add_argument(
        "--hs", default="85051110", help="commodity code it measures (default 85051110)"
    )
    imp.add_argument("--reporter", default="CHN", help="reporter ISO3 (default CHN)")
    imp.add_argument("--flow", default="X", help="flow code (default X)")
    imp.add_argument("--period-column", default="period", help="name of the period column")
    imp.add_argument("--value-column", default="value", help="name of the value column")
    imp.add_argument(
        "--partner-column", default=None, help="name of an optional partner (ISO3) column"
    )

    verify = _add(
        sub,
        "verify",
        "reexport.store:verify_cli",
        "re-hash every raw file and report any that no longer matches its manifest "
        "(or whose manifest was edited, or disagrees about being synthetic), and check "
        "that data/processed holds one complete build",
    )
    verify.add_argument(
        "--seal",
        action="store_true",
        help="first seal the intact vintages written before manifests were sealed",
    )

    diff = _add(
        sub,
        "diff",
        "reexport.diff:diff_cli",
        "list the series and periods that changed between two stored vintages of a source "
        "(added, removed, revised by how much)",
    )
    diff.add_argument("source", help="gpr, gpr_daily, fred, comtrade or userseries")
    diff.add_argument(
        "vintage_a", nargs="?", default=None, help="older vintage id (default: second newest real)"
    )
    diff.add_argument(
        "vintage_b", nargs="?", default=None, help="newer vintage id (default: newest real)"
    )
    diff.add_argument("--output", "-o", default=None, help="write every changed value as JSON here")

    demo = _add(
        sub,
        "demo",
        "reexport.acquire:demo_cli",
        "write the SYNTHETIC demo vintages a study needs (seeded, documented "
        "data-generating process)",
    )
    demo.add_argument(
        "study",
        nargs="?",
        default=None,
        help="study folder whose inputs the demo must cover (default: the default study)",
    )
    demo.add_argument("--seed", type=int, default=20250601, help="random seed (default 20250601)")

    data = _add(
        sub,
        "data",
        "reexport.acquire:data_cli",
        "fetch every input a study declares (its [[request]] tables); if none can be reached "
        "and no real vintage exists, write the SYNTHETIC demo vintage instead, saying so loudly",
    )
    _study_argument(data)
    data.add_argument(
        "--offline", action="store_true", help="use only stored vintages (demo if none)"
    )

    build = _add(
        sub,
        "build",
        "reexport.panel:build_cli",
        "build a study's tidy tables and frames (its [[frame]] tables) from the newest raw "
        "vintages into data/processed/<study name>/",
    )
    _study_argument(build)
    build.add_argument(
        "--vintage",
        choices=("auto", "real", "demo"),
        default="auto",
        help="which vintages to build from: real, demo, or auto (real if present, else demo)",
    )
    build.add_argument(
        "--country-scale",
        choices=("share", "index"),
        default="share",
        help="GPRC_* country series as published (share: percent of articles) or rescaled "
        "to a 1985-2019 mean of 100 (index)",
    )
    build.add_argument(
        "--export-series",
        default="auto",
        metavar="auto|comtrade|userseries[:NAME]",
        help="series of the frame with a series_column: auto (the user series the frame "
        "prefers if stored, else Comtrade), comtrade, userseries (the preferred one) or "
        "userseries:NAME",
    )
    build.add_argument(
        "--format",
        choices=("csv", "parquet", "both"),
        default="csv",
        help="files of each processed table: <name>.csv (default), <name>.parquet (typed, "
        "deterministic) or both, beside one <name>.meta.json sidecar; a large Parquet trade "
        "vintage is built out of core either way (docs/study_format.md)",
    )

    # --- estimation -------------------------------------------------------------
    est = _add(
        sub,
        "estimate",
        "reexport.report.study:estimate_cli",
        "estimate every model in a TOML spec, or every [[estimate]] of a study folder, and "
        "print (or write) the results",
    )
    est.add_argument(
        "spec",
        nargs="?",
        default=None,
        help="model spec (TOML; see docs/spec_reference.md) or a study folder (default: the "
        "default study, see docs/study_format.md)",
    )
    est.add_argument(
        "--output",
        "-o",
        default=None,
        help="write results JSON here (for a study folder: the folder of NAME.json files, "
        "default STUDY/output/results)",
    )
    est.add_argument(
        "--diagnostics", action="store_true", help="run the diagnostic battery for each model"
    )
    executor = est.add_mutually_exclusive_group()
    executor.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="fit the models (and bootstrap replications) in N local processes; "
        "results are identical to a serial run",
    )
    executor.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="send the models to this dask.distributed scheduler (default: "
        "$REEXPORT_DASK_SCHEDULER when set and --jobs is not given)",
    )

    diag = _add(
        sub,
        "diagnose",
        "reexport.models.run:diagnose_cli",
        "run unit-root, collinearity, heteroskedasticity, autocorrelation, specification, "
        "normality and structural-break tests for the models in a spec",
    )
    diag.add_argument("spec", help="model spec (TOML)")
    diag.add_argument("--output", "-o", default=None, help="write diagnostics JSON here")
    diag.add_argument(
        "--break-date",
        default=None,
        help="Chow test: first period of the second regime, YYYY-MM (or an integer period "
        "such as a year); default: no Chow test",
    )

    # --- reports ----------------------------------------------------------------
    rep = _add(
        sub,
        "report",
        "reexport.report.study:report_cli",
        "write tables, figures, the replication scorecard and the report index for a study",
    )
    _study_argument(rep)
    rep.add_argument(
        "--results",
        default=None,
        help="results JSON: KEY=PATH[,KEY=PATH], a folder of KEY.json files, or one file "
        "for a single-results study (default: the files named in STUDY/report.toml)",
    )
    rep.add_argument("--output", "-o", default=None, help="output folder (default STUDY/output)")

    return parser


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, func_name = target.partition(":")
    module = importlib.import_module(module_name)
    func: Callable[..., Any] = getattr(module, func_name)
    return func


class _ScrubSecrets(logging.Filter):
    """Removes secrets from every record a handler emits, third-party loggers included.

    Our own code never logs the Comtrade key, but urllib3 and requests log URLs
    at debug level (``-vv``), so a key written into a misconfigured URL would be
    printed by them.  The filter formats each record's message, replaces the
    configured key (:func:`reexport.store.redact`) and the value of every
    secret-named query parameter (``subscription-key=...``, ``token=...``) with
    ``REDACTED``, and does the same to a formatted traceback.
    """

    _QUERY_VALUE = re.compile(r"([?&;]([^=&#\s\"']+)=)([^&#\s\"']+)")

    def _clean(self, text: str) -> str:
        from reexport.store import REDACTED, is_secret_name, redact

        def replace(match: re.Match[str]) -> str:
            return match[1] + REDACTED if is_secret_name(match[2]) else match[0]

        return redact(self._QUERY_VALUE.sub(replace, text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = self._clean(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # On the handlers, not the loggers: records of child loggers (urllib3, requests)
    # reach the root handlers without passing through the root logger's filters.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _ScrubSecrets) for f in handler.filters):
            handler.addFilter(_ScrubSecrets())


def _scrubbed(message: str) -> str:
    """The last line of defence: the Comtrade key never reaches the terminal.

    Every layer below already keeps the key out of its messages; this catches
    any path that was missed, and folds the message onto one line.
    """
    from reexport.store import redact  # stdlib-only; imported on the error path alone

    return " ".join(redact(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _configure_logging(args.verbose)
        handler = getattr(args, "handler", None)
        if handler is None:
            # `reexport` or `reexport fetch` alone: show what can be run there.
            getattr(args, "help_parser", parser).print_help(sys.stderr)
            if args.command == "fetch":
                raise BadInputError("reexport fetch: name a source (gpr, comtrade, fred)")
            return 2
        kwargs = {k: v for k, v in vars(args).items() if k not in _CLI_KEYS}
        result = _resolve(handler)(**kwargs)
    except ReexportError as exc:
        print(f"reexport: error: {_scrubbed(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        # A file-system refusal (data root is a file, output path exists as a
        # file, permission denied, disk full) is bad input about files, not a
        # bug: one line naming the path, exit 2.  Writes are atomic, so nothing
        # half-written is left behind.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"reexport: error: {_scrubbed(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        return BadInputError.exit_code
    except KeyboardInterrupt:
        print("reexport: interrupted; nothing partial was written", file=sys.stderr)
        return 130
    if isinstance(result, int):
        return result
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
