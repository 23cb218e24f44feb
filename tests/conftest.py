"""Shared fixtures.

No test may reach the internet: the autouse fixture below points every
endpoint at a closed port on 127.0.0.1, so a test that forgets to start the
local replay server fails fast instead of calling out.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from replay_server import ReplayServer

#: ``../shared`` beside the checkout: the publisher's GPR files and recorded Comtrade bodies.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = "http://127.0.0.1:9"
    monkeypatch.setenv("REEXPORT_GPR_URL", f"{closed}/gpr_files/data_gpr_export.xls")
    monkeypatch.setenv("REEXPORT_GPR_DAILY_URL", f"{closed}/gpr_files/data_gpr_daily_recent.xls")
    monkeypatch.setenv("REEXPORT_COMTRADE_URL", closed)
    monkeypatch.setenv("REEXPORT_FRED_URL", f"{closed}/graph/fredgraph.csv")
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    # Retries must not make the suite slow.
    monkeypatch.setenv("REEXPORT_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("REEXPORT_HTTP_THROTTLE", "0")
    monkeypatch.setenv("REEXPORT_HTTP_TIMEOUT", "2")


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data``; tests needing it skip cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present beside the checkout")
    return SHARED_DATA


@pytest.fixture
def published_monthly_85051110(shared_data: Path) -> pd.DataFrame:
    """China customs' monthly CN 85051110 export tonnes as published (``period, value``).

    The stated and derived months of ``../shared/data/repm_published_figures.csv``, as
    text, one row per distinct (period, value).
    """
    figures = pd.read_csv(shared_data / "repm_published_figures.csv", dtype=str)
    return figures[
        (figures["measure"] == "export_quantity")
        & (figures["hs_code"] == "85051110")
        & figures["period"].str.fullmatch(r"\d{4}-\d{2}")
    ][["period", "value"]].drop_duplicates()


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty data root (``REEXPORT_DATA_DIR``) for one test."""
    root = tmp_path / "data"
    (root / "raw").mkdir(parents=True)
    (root / "processed").mkdir()
    monkeypatch.setenv("REEXPORT_DATA_DIR", str(root))
    yield root


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    """A started local :class:`replay_server.ReplayServer` on 127.0.0.1, stopped at teardown.

    Register routes with ``replay_server.route(path, body | file=...)``, queue
    faults with ``.queue(...)``, point a source at ``replay_server.url(path)``
    and inspect ``replay_server.requests`` afterwards.
    """
    with ReplayServer() as server:
        yield server
