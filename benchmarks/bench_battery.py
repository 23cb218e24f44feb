"""Benchmark: a 1,000-model battery of panel models, serial vs ``--jobs 2`` vs a 2-worker Dask cluster.

Simulates a destination panel (40 partners x 180 months, partner and month
effects), writes it to CSV once (cached in the system temp folder) and a spec
whose ``[model.vary]`` expands one two-way fixed-effects model over 25 lags x
40 sample windows = 1,000 models (clustered by partner).  Then, in this one
process, the spec's models are estimated three times with
:func:`reexport.models.run.estimate_results`:

* serially (the default executor; one BLAS thread, as every worker);
* with ``jobs=2`` (two local worker processes, the pool start included);
* on a ``dask.distributed.LocalCluster`` with two single-threaded worker
  processes on 127.0.0.1 that this script starts itself (cluster start-up is
  timed separately; sending the data to the workers is included).

The three results documents must be identical (checked); the table gives wall
times and ratios.  Because the machine may be shared, the available parallelism
(a CPU-bound loop in two processes against one; 2.0 on two idle cores) is
measured before and after and printed with the table: a parallel speed-up
cannot exceed it.  Each executor runs ``--repeat`` rounds (serial and
``--jobs`` alternating) and the best is shown.  CPU seconds are this process's
plus those of its exited children: the ``--jobs`` workers are counted, the
Dask workers (children of the cluster's nannies, still alive) are not.  ``--quick`` runs 200 models.  Not a test: run ``make bench``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PARTNERS = 40
MONTHS = 180
SEED = 20261201
CACHE = Path(tempfile.gettempdir()) / "reexport-bench"
CSV = CACHE / f"destination_{PARTNERS}x{MONTHS}_{SEED}.csv"
SPEC = """\
[data]
path = "{csv}"
entity = "partner"
time = "period"

[[model]]
name = "lag{{lag}}"
formula = "np.log(exports_t) ~ np.log(L(gpr_country, {{lag}})) + L(demand, 1)"
estimator = "panel"
effects = ["entity", "time"]
cov = {{ type = "cluster", by = "partner" }}
[model.vary]
lag = {lags}
sample = {samples}
"""


def simulate() -> Path:
    """The synthetic destination panel (cached)."""
    if CSV.is_file():
        return CSV
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    periods = pd.period_range("2010-01", periods=MONTHS, freq="M").astype(str)
    partner = np.repeat([f"P{i:02d}" for i in range(PARTNERS)], MONTHS)
    period = np.tile(periods, PARTNERS)
    month_effect = np.tile(rng.normal(size=MONTHS), PARTNERS)
    partner_effect = np.repeat(rng.normal(size=PARTNERS), MONTHS)
    gpr_country = np.exp(rng.normal(size=PARTNERS * MONTHS) * 0.3 + partner_effect * 0.2)
    demand = rng.normal(size=PARTNERS * MONTHS) + np.tile(rng.normal(size=MONTHS), PARTNERS)
    log_exports = (
        2.0 + partner_effect + month_effect - 0.2 * np.log(gpr_country)
        + 0.1 * demand + rng.normal(size=PARTNERS * MONTHS) * 0.5
    )  # fmt: skip
    frame = pd.DataFrame(
        {
            "period": period,
            "partner": partner,
            "exports_t": np.exp(log_exports),
            "gpr_country": gpr_country,
            "demand": demand,
        }
    )
    frame.to_csv(CSV, index=False)
    return CSV


def write_spec(folder: Path, n_models: int) -> Path:
    """A spec of ``n_models`` = 25 lags x (``n_models`` / 25) sample windows."""
    lags = list(range(25))
    windows = n_models // len(lags)
    starts = pd.period_range("2012-01", periods=windows, freq="M").astype(str)
    samples = ", ".join(f'{{ start = "{s}", label = "from {s}" }}' for s in starts)
    spec = folder / "battery.toml"
    spec.write_text(SPEC.format(csv=simulate(), lags=lags, samples=f"[{samples}]"))
    return spec


def _spin(_: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i * i
    return time.perf_counter() - start


def available_parallelism() -> float:
    """Throughput of a CPU-bound loop in 2 processes relative to 1 (2.0 on 2 idle cores).

    On a machine shared with other jobs this is below 2, and so is any parallel speed-up.
    """
    import multiprocessing

    start = time.perf_counter()
    for i in range(4):
        _spin(i)
    one = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, range(2))  # start-up and imports outside the timing
        start = time.perf_counter()
        pool.map(_spin, range(4))
        two = time.perf_counter() - start
    return one / two


def cpu_seconds() -> float:
    """CPU time of this process and of every child process that has been waited for."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(label: str, run: Any) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    document = run()
    elapsed = time.perf_counter() - start
    print(f"  {label}: {elapsed:.2f} s", file=sys.stderr)
    return elapsed, document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 models instead of 1,000")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds per executor; the best is shown (2)"
    )
    args = parser.parse_args()
    n_models = 200 if args.quick else 1000

    from dataclasses import replace

    from distributed import LocalCluster

    parallelism_before = available_parallelism()
    from reexport.models.run import estimate_spec, load_data
    from reexport.models.spec import load_spec

    with tempfile.TemporaryDirectory() as folder:
        study = load_spec(write_spec(Path(folder), n_models))
        data = load_data(study)
        print(
            f"battery: {len(study.models)} two-way FE panel models on {len(data.frame):,} rows "
            f"({PARTNERS} partners x {MONTHS} months); {os.cpu_count()} cores",
            file=sys.stderr,
        )

        def run(**executor: Any) -> dict[str, Any]:
            return estimate_spec(study, data, out=io.StringIO(), **executor)

        # Warm-up: imports and first-call costs are paid before any timing.
        estimate_spec(replace(study, models=study.models[:5]), data, out=io.StringIO())
        serial_label = "serial (1 process, 1 BLAS thread)"
        jobs_label = "--jobs 2 (local processes, pool start included)"
        dask_label = "Dask LocalCluster, 2 workers (data scatter included)"
        runs: dict[str, list[tuple[float, float]]] = {serial_label: [], jobs_label: []}
        reference: dict[str, Any] | None = None
        same_jobs = True
        # Serial and --jobs rounds alternate so that a change in the machine's load hits
        # both; the best round of each is reported.  They run before any Dask client
        # exists, so --jobs forks its workers as the command line does.
        for round_number in range(args.repeat):
            for label, executor in ((serial_label, {}), (jobs_label, {"jobs": 2})):
                cpu = cpu_seconds()
                seconds, document = timed(f"{label} #{round_number + 1}", partial(run, **executor))
                # The pool's workers have exited and been waited for: their CPU counts.
                runs[label].append((seconds, cpu_seconds() - cpu))
                if reference is None:
                    reference = document
                same_jobs = same_jobs and json.dumps(document) == json.dumps(reference)

        start = time.perf_counter()
        cluster = LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            # The scheduler's HTTP server on a free loopback port: 8787 may be taken.
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
        startup = time.perf_counter() - start
        runs[dask_label] = []
        same_dask = True
        try:
            address = cluster.scheduler_address
            for round_number in range(args.repeat):
                cpu = cpu_seconds()
                seconds, document = timed(
                    f"dask #{round_number + 1}", partial(run, scheduler=address)
                )
                # Dask workers are not our children: their CPU is not counted here.
                runs[dask_label].append((seconds, cpu_seconds() - cpu))
                same_dask = same_dask and json.dumps(document) == json.dumps(reference)
        finally:
            cluster.close()
        rows = [(label, *min(measured)) for label, measured in runs.items()]
        serial = rows[0][1]

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{len(study.models)}-model battery ({'quick' if args.quick else 'full'} run)")
    print(
        f"{'executor (best of ' + str(args.repeat) + ')':<{width}}  {'wall s':>8}  "
        f"{'models/s':>9}  {'vs serial':>9}  {'CPU s':>7}"
    )
    for label, seconds, cpu_used in rows:
        print(
            f"{label:<{width}}  {seconds:>8.2f}  {len(study.models) / seconds:>9.1f}  "
            f"{serial / seconds:>8.2f}x  {cpu_used:>7.2f}"
        )
    print(f"(Dask cluster start-up, not included above: {startup:.2f} s)")
    print(
        "(CPU s: this process and its exited children, i.e. the --jobs workers; not the Dask workers)"
    )
    print(
        f"available parallelism before / after (CPU-bound loop, 2 processes vs 1): "
        f"{parallelism_before:.2f}x / {available_parallelism():.2f}x"
    )
    print(f"identical results: --jobs 2 {same_jobs}, Dask {same_dask}")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if same_jobs and same_dask else 1


if __name__ == "__main__":
    sys.exit(main())
