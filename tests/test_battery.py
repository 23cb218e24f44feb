"""``reexport estimate --jobs N`` and ``--scheduler``: same results as serial, in order.

The Dask tests start their own ``LocalCluster`` on 127.0.0.1 (two worker
processes, one thread each; the scheduler's HTTP server on a free loopback port,
not the 8787 default another cluster may hold) and stop it afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from statsmodels.datasets import grunfeld

from reexport.cli import main
from reexport.errors import BadInputError
from reexport.models import battery

MODELS = """
[[model]]
name = "pooled"
formula = "invest ~ value + capital"
cov = { type = "cluster", by = "firm" }
inference = { type = "wild-cluster", by = "firm", reps = 4999, seed = 3 }

[[model]]
name = "twfe"
formula = "invest ~ value + capital"
estimator = "panel"
effects = ["entity", "time"]
cov = { type = "driscoll-kraay", lags = 2 }
inference = { type = "wild-cluster", by = "firm", reps = 2999, weights = "webb" }

[[model]]
name = "lag{lag}"
formula = "invest ~ L(value, {lag}) + capital"
estimator = "panel"
effects = ["entity"]
cov = { type = "cluster", by = "firm" }
[model.vary]
lag = [0, 1, 2, 3]
sample = [{ start = 1935, label = "all" }, { start = 1940, label = "late" }]
"""

SINGULAR = """
[[model]]
name = "{name}"
formula = "invest ~ value + capital + I(value + capital)"
"""


@pytest.fixture
def grunfeld_dir(tmp_path: Path) -> Path:
    frame = grunfeld.load_pandas().data
    frame["year"] = frame["year"].astype(int)
    frame.to_csv(tmp_path / "grunfeld.csv", index=False)
    return tmp_path


def _spec(folder: Path, body: str, path: str = "grunfeld.csv") -> Path:
    spec = folder / "spec.toml"
    spec.write_text(
        f'[data]\npath = "{path}"\nentity = "firm"\ntime = "year"\n' + body, encoding="utf-8"
    )
    return spec


def _estimate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["estimate", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        # The scheduler's HTTP server on a free loopback port: 8787 may be taken.
        dashboard_address="127.0.0.1:0",
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _models_of(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text())["models"])


def test_serial_jobs_and_dask_write_the_same_file_in_spec_order(
    grunfeld_dir: Path, dask_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(grunfeld_dir, MODELS)
    outputs = {}
    printed = {}
    for name, flags in {
        "serial": [],
        "jobs": ["--jobs", "2"],
        "dask": ["--scheduler", dask_address],
    }.items():
        output = grunfeld_dir / f"{name}.json"
        code, out, err = _estimate([str(spec), "-o", str(output), *flags], capsys)
        assert code == 0, err
        outputs[name] = output.read_bytes()
        printed[name] = out.replace(str(output), "OUT")
        if name == "serial":
            assert err == ""  # not a terminal: a serial run prints no progress
        else:
            where = "2 local processes" if name == "jobs" else f"Dask cluster {dask_address}"
            assert f"running 10 models on {where}" in err
            assert "models: 10/10 done" in err
            # 11 firms: 4999 Rademacher reps enumerate 2^11 = 2048 (2 chunks); 2999 Webb: 2.
            assert "running 4 bootstrap chunks" in err and "bootstrap chunks: 4/4 done" in err
    assert outputs["jobs"] == outputs["serial"]
    assert outputs["dask"] == outputs["serial"]
    assert printed["jobs"] == printed["serial"] == printed["dask"]
    models = _models_of(grunfeld_dir / "serial.json")
    expected = ["pooled", "twfe"] + [
        f"lag{lag}[sample={window}]" for lag in range(4) for window in ("all", "late")
    ]
    assert [m["name"] for m in models] == expected
    assert models[0]["bootstrap"]["reps"] == 2048 and models[2].get("bootstrap") is None


def test_diagnostics_survive_the_trip_to_the_workers(
    grunfeld_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = MODELS.split("[[model]]")[3]
    spec = _spec(grunfeld_dir, "[[model]]" + body)
    serial, jobs = grunfeld_dir / "serial.json", grunfeld_dir / "jobs.json"
    assert _estimate([str(spec), "-o", str(serial), "--diagnostics"], capsys)[0] == 0
    code, _, err = _estimate([str(spec), "-o", str(jobs), "--diagnostics", "-j", "2"], capsys)
    assert code == 0, err
    assert jobs.read_bytes() == serial.read_bytes()
    assert all(m["diagnostics"]["tests"] for m in _models_of(jobs))


@pytest.mark.parametrize("executor", ["jobs", "dask"])
def test_a_failing_model_fails_the_run_with_the_first_error_and_writes_nothing(
    executor: str,
    grunfeld_dir: Path,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two singular models: the error is the one a serial run reports (the first).
    body = MODELS + SINGULAR.format(name="bad_first") + MODELS.replace('name = "', 'name = "b_')
    body += SINGULAR.format(name="bad_second")
    spec = _spec(grunfeld_dir, body)
    output = grunfeld_dir / "out.json"
    flags = (
        ["--jobs", "2"]
        if executor == "jobs"
        else ["--scheduler", request.getfixturevalue("dask_address")]
    )
    code, out, err = _estimate([str(spec), "-o", str(output), *flags], capsys)
    assert code == 2, err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "[model bad_first]" in errors[0] and "collinear" in errors[0]
    assert err.strip().splitlines()[-1] == errors[0]  # progress lines only before it
    assert "Traceback" not in err and out == "" and not output.exists()


def test_environment_variable_names_the_scheduler_and_jobs_overrides_it(
    grunfeld_dir: Path,
    dask_address: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = "[[model]]" + MODELS.split("[[model]]")[3]
    spec = _spec(grunfeld_dir, body)
    monkeypatch.setenv(battery.SCHEDULER_ENV, dask_address)
    code, _, err = _estimate([str(spec)], capsys)
    assert code == 0 and f"on Dask cluster {dask_address}" in err
    code, _, err = _estimate([str(spec), "--jobs", "2"], capsys)
    assert code == 0 and "on 2 local processes" in err


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--jobs", "0"], "--jobs 0: must be at least 1"),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:9"], "not allowed with argument"),
        (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
    ],
)
def test_bad_executor_options_exit_2_with_one_line(
    grunfeld_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    needle: str,
) -> None:
    monkeypatch.setattr(battery, "CONNECT_TIMEOUT", 2)
    spec = _spec(grunfeld_dir, "[[model]]" + MODELS.split("[[model]]")[3])
    output = grunfeld_dir / "out.json"
    code, _, err = _estimate([str(spec), "-o", str(output), *flags], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not output.exists()


def _blas_threads(frame: pd.DataFrame, item: int) -> list[int]:
    import numpy as np
    from threadpoolctl import threadpool_info

    np.ones((4, 4)) @ np.ones((4, 4))
    return [int(pool["num_threads"]) for pool in threadpool_info()] + [len(frame) + item]


def test_worker_processes_hold_the_frame_and_use_one_blas_thread() -> None:
    frame = pd.DataFrame({"a": range(7)})
    with battery.open_battery(frame, jobs=2) as runner:
        assert runner.remote
        answers = runner.map(_blas_threads, [0, 1, 2, 3], what="checks")
    for index, answer in enumerate(answers):
        *threads, marker = answer
        assert marker == 7 + index  # the frame is the worker's copy; order kept
        assert threads and all(t == 1 for t in threads)


def test_parquet_data_file_gives_the_csv_results(
    grunfeld_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(grunfeld_dir / "grunfeld.csv")
    frame["firm"] = frame["firm"].astype("category")  # dictionary-encoded in the file
    frame.to_parquet(grunfeld_dir / "grunfeld.parquet")
    (grunfeld_dir / "grunfeld.meta.json").write_text('{"synthetic": true}')
    body = "[[model]]" + MODELS.split("[[model]]")[3]
    results = {}
    for suffix in ("csv", "parquet"):
        spec = _spec(grunfeld_dir, body, f"grunfeld.{suffix}")
        output = grunfeld_dir / f"{suffix}.json"
        code, _, err = _estimate([str(spec), "-o", str(output)], capsys)
        assert code == 0, err
        assert "SYNTHETIC" in err  # the sidecar beside either file is read
        document = json.loads(output.read_text())
        assert document["data"]["synthetic"] is True
        results[suffix] = document["models"]
    assert results["parquet"] == results["csv"]


def test_unreadable_parquet_exits_2(grunfeld_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (grunfeld_dir / "broken.parquet").write_bytes(b"not parquet at all")
    spec = _spec(grunfeld_dir, "[[model]]" + MODELS.split("[[model]]")[3], "broken.parquet")
    code, _, err = _estimate([str(spec)], capsys)
    assert code == 2 and "cannot read" in err and "broken.parquet" in err
    assert len(err.strip().splitlines()) == 1


def test_resolve_scheduler_refuses_both_executors() -> None:
    with pytest.raises(BadInputError, match="exclude each other"):
        battery.resolve_scheduler(2, "tcp://127.0.0.1:8786")


def test_the_frame_travels_once_not_with_every_task(
    grunfeld_dir: Path,
    dask_address: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from distributed import Client

    spec = _spec(grunfeld_dir, MODELS)
    scattered: list[Any] = []
    submitted: list[Any] = []
    original_scatter, original_submit = Client.scatter, ProcessPoolExecutor.submit

    def scatter(self: Client, data: Any, *args: Any, **kwargs: Any) -> Any:
        scattered.append(data)
        return original_scatter(self, data, *args, **kwargs)

    def submit(self: ProcessPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        submitted.append(args)
        return original_submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(Client, "scatter", scatter)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", submit)
    assert _estimate([str(spec), "--scheduler", dask_address], capsys)[0] == 0
    assert len(scattered) == 1 and isinstance(scattered[0], pd.DataFrame)
    assert _estimate([str(spec), "--jobs", "2"], capsys)[0] == 0
    assert len(submitted) == 10 + 4  # models, then bootstrap chunks
    for args in submitted:
        assert not any(isinstance(value, pd.DataFrame) for value in args)


def test_a_scheduler_without_workers_exits_2_instead_of_waiting_forever(
    grunfeld_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from distributed import LocalCluster

    monkeypatch.setattr(battery, "CONNECT_TIMEOUT", 1)
    spec = _spec(grunfeld_dir, "[[model]]" + MODELS.split("[[model]]")[3])
    with LocalCluster(host="127.0.0.1", n_workers=0, dashboard_address="127.0.0.1:0") as empty:
        code, _, err = _estimate([str(spec), "--scheduler", empty.scheduler_address], capsys)
    assert code == 2 and "has no workers" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("n_items", "workers"), [(0, 2), (1, 2), (10, 2), (1000, 2), (7, 64)])
def test_batches_cover_every_item_once_in_order(n_items: int, workers: int) -> None:
    ranges = battery.batches(n_items, workers)
    assert [i for batch in ranges for i in batch] == list(range(n_items))
    assert len(ranges) <= max(workers, 1) * battery.BATCHES_PER_WORKER
    if n_items >= workers * battery.BATCHES_PER_WORKER:
        assert len(ranges) >= workers * battery.BATCHES_PER_WORKER // 2
