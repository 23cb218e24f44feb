"""Locations and endpoints, overridable from the environment.

Every value is read when asked for, not at import time, so tests can point
the package at a temporary data root or a local replay server with
``monkeypatch.setenv``.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_GPR_URL = "https://www.matteoiacoviello.com/gpr_files/data_gpr_export.xls"
DEFAULT_GPR_DAILY_URL = "https://www.matteoiacoviello.com/gpr_files/data_gpr_daily_recent.xls"
DEFAULT_COMTRADE_URL = "https://comtradeapi.un.org"
DEFAULT_FRED_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"

#: Environment variable holding the UN Comtrade subscription key.  Its value is
#: a secret: it is sent as a header and never written anywhere.
COMTRADE_KEY_ENV = "COMTRADE_API_KEY"


def data_root() -> Path:
    """Folder holding ``raw/`` and ``processed/`` (``$REEXPORT_DATA_DIR`` or ``./data``)."""
    return Path(os.environ.get("REEXPORT_DATA_DIR", "data"))


def raw_dir() -> Path:
    """The immutable raw store."""
    return data_root() / "raw"


def processed_dir() -> Path:
    """Processed, tidy tables built from the raw store."""
    return data_root() / "processed"


def gpr_url() -> str:
    return os.environ.get("REEXPORT_GPR_URL", DEFAULT_GPR_URL)


def gpr_daily_url() -> str:
    return os.environ.get("REEXPORT_GPR_DAILY_URL", DEFAULT_GPR_DAILY_URL)


def comtrade_base_url() -> str:
    return os.environ.get("REEXPORT_COMTRADE_URL", DEFAULT_COMTRADE_URL).rstrip("/")


def fred_url() -> str:
    return os.environ.get("REEXPORT_FRED_URL", DEFAULT_FRED_URL)


def comtrade_key() -> str | None:
    """The Comtrade key from the environment, or ``None`` (then the keyless preview is used)."""
    key = os.environ.get(COMTRADE_KEY_ENV, "").strip()
    return key or None
