"""Exceptions that map to the command line's exit codes.

Expected failures raise one of these; the CLI prints ``str(exc)`` as a single
line on stderr and exits with ``exc.exit_code``.  Anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations


class ReexportError(Exception):
    """Base class for expected, user-facing failures."""

    exit_code = 1


class BadInputError(ReexportError):
    """Bad arguments, files or specs (exit code 2).

    The message names the offending value and where it came from
    (file, model name, key).
    """

    exit_code = 2


class SourceError(ReexportError):
    """A data source could not be reached or answered wrongly after retries (exit code 3)."""

    exit_code = 3
