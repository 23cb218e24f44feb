"""Benchmark: two-way fixed effects on a 1,000,000-row bilateral panel, side by side.

Simulates 20,000 exporter-destination pairs x 50 months with pair and month
effects, writes the panel to CSV once (cached in the system temp folder), then times,
each in a fresh Python process so peak memory is per tool:

* ``reexport estimate SPEC`` end to end from the CSV (the CLI as a user runs it:
  interpreter start, imports, reading, formula, estimation, JSON output), run
  twice (the first run may pay for cold OS file caches), and the same work
  in-process after a warm-up run;
* ``pyfixest.feols("y ~ x1 + x2 | pair + month", vcov={"CRV1": "pair"})``
  reading the same CSV (warm: run once first, so numba compilation is excluded);
* ``linearmodels.PanelOLS`` with entity and time effects, clustered by pair.

Prints a table of wall times and peak resident memory, then the coefficients
and standard errors of each to show agreement.  Not a test: run ``make bench``.

linearmodels' clustered standard errors use another small-sample scalar
(``N/(N-K)`` with every absorbed effect in ``K``, no ``G/(G-1)``), so they
differ from reghdfe/pyfixest/reexport by a constant factor; the coefficients agree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PAIRS = 20_000
MONTHS = 50
SEED = 20251128
CACHE = Path(tempfile.gettempdir()) / "reexport-bench"
CSV = CACHE / f"bilateral_{PAIRS}x{MONTHS}_{SEED}.csv"
FORMULA = "y ~ x1 + x2"
SPEC = """\
[data]
path = "{csv}"
entity = "pair"
time = "month"

[[model]]
name = "twoway_fe"
formula = "y ~ x1 + x2"
estimator = "panel"
effects = ["entity", "time"]
cov = {{ type = "cluster", by = ["pair"] }}
"""


def simulate() -> Path:
    """Write the simulated panel once; later runs reuse it."""
    if CSV.is_file():
        return CSV
    CACHE.mkdir(exist_ok=True)
    rng = np.random.default_rng(SEED)
    pair = np.repeat(np.arange(PAIRS), MONTHS)
    month = np.tile(np.arange(MONTHS), PAIRS)
    pair_effect = rng.normal(scale=1.0, size=PAIRS)
    month_effect = rng.normal(scale=0.5, size=MONTHS)
    x1 = rng.normal(size=pair.size) + 0.5 * pair_effect[pair]
    x2 = rng.normal(size=pair.size) + month_effect[month]
    # Errors correlated within pair (AR(1)-like through a pair shock) so clustering matters.
    pair_shock = rng.normal(scale=0.5, size=PAIRS)[pair]
    y = 0.8 * x1 - 0.4 * x2 + pair_effect[pair] + month_effect[month] + pair_shock
    y += rng.normal(size=pair.size)
    exporters = np.array([f"E{i:03d}" for i in range(200)])
    destinations = np.array([f"D{i:03d}" for i in range(100)])
    labels = np.char.add(
        np.char.add(exporters[np.arange(PAIRS) // 100], "-"), destinations[np.arange(PAIRS) % 100]
    )
    periods = pd.period_range("2017-01", periods=MONTHS, freq="M").astype(str).to_numpy()
    frame = pd.DataFrame(
        {"pair": labels[pair], "month": periods[month], "y": y, "x1": x1, "x2": x2}
    )
    temp = CSV.with_suffix(".tmp")
    frame.to_csv(temp, index=False, float_format="%.10g")
    os.replace(temp, CSV)
    return CSV


def _run_reexport(csv: Path, spec_dir: Path) -> dict[str, Any]:
    from reexport.models.run import estimate_spec, load_data
    from reexport.models.spec import load_spec

    spec_path = spec_dir / "spec.toml"
    study = load_spec(spec_path)
    data = load_data(study)
    with open(os.devnull, "w") as sink:
        document = estimate_spec(study, data, out=sink)
    model = document["models"][0]
    return {"params": model["params"], "se": model["std_errors"]}


def _run_pyfixest(csv: Path) -> dict[str, Any]:
    import pyfixest as pf

    frame = pd.read_csv(csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = pf.feols(f"{FORMULA} | pair + month", data=frame, vcov={"CRV1": "pair"})
    return {"params": fitted.coef().to_dict(), "se": fitted.se().to_dict()}


def _run_linearmodels(csv: Path) -> dict[str, Any]:
    from linearmodels import PanelOLS

    frame = pd.read_csv(csv)
    frame["month"] = pd.PeriodIndex(frame["month"], freq="M").to_timestamp()
    indexed = frame.set_index(["pair", "month"])
    fitted = PanelOLS(
        indexed["y"], indexed[["x1", "x2"]], entity_effects=True, time_effects=True
    ).fit(cov_type="clustered", cluster_entity=True)
    return {"params": fitted.params.to_dict(), "se": fitted.std_errors.to_dict()}


WORKERS = {"reexport": _run_reexport, "pyfixest": _run_pyfixest, "linearmodels": _run_linearmodels}


def worker(tool: str, csv: Path, spec_dir: Path) -> None:
    """Run one tool twice (warm-up, then timed) and print a JSON line."""
    run = WORKERS[tool]
    args: tuple[Any, ...] = (csv, spec_dir) if tool == "reexport" else (csv,)
    run(*args)
    start = time.perf_counter()
    out = run(*args)
    out["seconds"] = time.perf_counter() - start
    print(json.dumps(out))


def _child(cmd: list[str]) -> tuple[str, float, float]:
    """Run ``cmd``; return its stdout, wall seconds and its own peak RSS in MB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        # wait4 gives this child's own resource usage (ru_maxrss in kB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:5])} failed:\n{err.read()}")
        return out.read(), seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--spec-dir", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.csv, args.spec_dir)
        return

    t0 = time.perf_counter()
    csv = simulate()
    print(f"data: {csv} ({csv.stat().st_size / 1e6:.0f} MB, {PAIRS * MONTHS:,} rows), "
          f"ready in {time.perf_counter() - t0:.1f}s")  # fmt: skip
    rows: list[tuple[str, float, float | None, dict[str, Any] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec_dir = Path(tmp)
        (spec_dir / "spec.toml").write_text(SPEC.format(csv=csv.as_posix()), encoding="utf-8")
        out_json = spec_dir / "results.json"
        cli = [sys.executable, "-m", "reexport", "estimate", str(spec_dir / "spec.toml"),
               "--output", str(out_json)]  # fmt: skip
        # First run: cold OS caches for the libraries; repeat: warm, like pyfixest's timed run.
        for label in ("reexport estimate CLI (first run)", "reexport estimate CLI (repeat)"):
            _, cli_seconds, cli_peak = _child(cli)
            document = json.loads(out_json.read_text(encoding="utf-8"))
            model = document["models"][0]
            fitted = {"params": model["params"], "se": model["std_errors"]}
            rows.append((label, cli_seconds, cli_peak, fitted))
        for tool in ("reexport", "pyfixest", "linearmodels"):
            cmd = [sys.executable, __file__, "--worker", tool, "--csv", str(csv),
                   "--spec-dir", str(spec_dir)]  # fmt: skip
            stdout, _, peak = _child(cmd)
            result = json.loads(stdout.strip().splitlines()[-1])
            result["peak_mb"] = peak
            label = {
                "reexport": "reexport load+fit (in-process, warm)",
                "pyfixest": "pyfixest read_csv+feols (warm)",
                "linearmodels": "linearmodels read_csv+PanelOLS",
            }[tool]
            rows.append((label, result["seconds"], result["peak_mb"], result))

    print()
    print(f"{'run':<42}{'wall s':>9}{'peak MB':>10}")
    for label, seconds, peak, _ in rows:
        peak_text = "-" if peak is None else f"{peak:.0f}"
        print(f"{label:<42}{seconds:>9.2f}{peak_text:>10}")
    seconds = {label: s for label, s, _, _ in rows}
    pyfixest_seconds = seconds["pyfixest read_csv+feols (warm)"]
    print(
        "\nreexport / pyfixest: "
        f"in-process {seconds['reexport load+fit (in-process, warm)'] / pyfixest_seconds:.2f}x, "
        f"CLI repeat {seconds['reexport estimate CLI (repeat)'] / pyfixest_seconds:.2f}x, "
        f"CLI first run {seconds['reexport estimate CLI (first run)'] / pyfixest_seconds:.2f}x "
        "(target <= 2x; the CLI includes interpreter start and imports, pyfixest's run does not)"
    )
    print(f"\n{'run':<42}{'x1':>14}{'se(x1)':>12}{'x2':>14}{'se(x2)':>12}")
    for label, _, _, result in rows:
        if result is None:
            continue
        p, s = result["params"], result["se"]
        print(f"{label:<42}{p['x1']:>14.8f}{s['x1']:>12.8f}{p['x2']:>14.8f}{s['x2']:>12.8f}")
    print(
        "\nlinearmodels' clustered SEs use N/(N-K) with every absorbed effect in K and no "
        "G/(G-1); reexport and pyfixest follow reghdfe."
    )


if __name__ == "__main__":
    main()
