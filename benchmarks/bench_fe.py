"""Benchmark: the fixed-effects engine against pyfixest (and linearmodels), side by side.

Four shapes (see ``_engine_cases.py``): bilateral two-way FE OLS (20,000
pairs x 50 months, 1M rows), wide two-way FE OLS (2,000 x 500), the hard
low-mobility two-way FE OLS (40,000 workers x 4,000 firms, 200k rows) and
three-way gravity PPML (120 countries x 20 years, exporter-year +
importer-year + exporter-importer effects).  Every model clusters by its
first effect (gravity: by pair).

Each data set is simulated with a fixed seed and written once to a CSV in the
system temp folder (``reexport-bench/``); every tool reads the same file.
Two measurements per tool:

* **end to end**: a fresh Python process per tool and run (interpreter
  start, imports, reading the CSV, the fit, printing the coefficients),
  timed from outside; its peak memory (``ru_maxrss`` of the child, from
  ``os.wait4``) is the tool's own;
* **in-process**: the fit alone, inside one process holding the data, after
  a warm-up fit of every tool (imports, caches and compilation excluded).

Both interleave the tools (``reexport, pyfixest, [linearmodels]``, then
again) and report the minimum over the repeats (default 3): the machine is
shared, so a burst of load should hit every tool, and ratios are what
matters.  linearmodels, a side reference and the slowest, runs once.
reexport is called through its numeric API,
``reexport.models.estimate.fit_fe`` / ``fit_ppml``; pyfixest through
``feols`` / ``fepois`` with its defaults; linearmodels through ``PanelOLS``
(two-way OLS shapes only).

``--quick`` shrinks every shape (a smoke run, not a measurement).
Not a test: run ``make bench``.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _engine_cases import CASES, SEED, Case  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "reexport-bench"
QUICK_SCALE = 0.02
TOOLS = ("reexport", "pyfixest", "linearmodels")


# -- data ------------------------------------------------------------------------------------
def csv_for(case: Case, scale: float) -> Path:
    """Write the case's data once (deterministic: fixed seed) and return the CSV path."""
    path = CACHE / f"{case.name}_{scale:g}_{SEED}.csv"
    if path.is_file():
        return path
    CACHE.mkdir(exist_ok=True)
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    case.make(scale).to_csv(temp, index=False, float_format="%.17g")
    os.replace(temp, path)
    return path


# -- the fits, one per tool --------------------------------------------------------------------
def _fit_reexport(case: Case, frame: pd.DataFrame) -> dict[str, float]:
    from reexport.models.estimate import fit_fe, fit_ppml

    fit = fit_ppml if case.estimator == "ppml" else fit_fe
    result = fit(
        frame["y"],
        frame[list(case.regressors)],
        effects={name: frame[name].to_numpy() for name in case.effects},
        cov={"type": "cluster", "by": [case.cluster]},
        clusters={case.cluster: frame[case.cluster].to_numpy()},
    )
    return {str(k): float(v) for k, v in result.params.items()}


def _fit_pyfixest(case: Case, frame: pd.DataFrame) -> dict[str, float]:
    import pyfixest as pf

    estimator = pf.fepois if case.estimator == "ppml" else pf.feols
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator(case.formula, data=frame, vcov={"CRV1": case.cluster})
    return {str(k): float(v) for k, v in fitted.coef().items()}


def _fit_linearmodels(case: Case, frame: pd.DataFrame) -> dict[str, float]:
    from linearmodels import PanelOLS

    entity, period, *other = case.panel
    indexed = frame.set_index([entity, period])
    fitted = PanelOLS(
        indexed["y"],
        indexed[list(case.regressors)],
        entity_effects=True,
        time_effects=not other,
        other_effects=indexed[other] if other else None,
    ).fit(cov_type="clustered", cluster_entity=True)
    return {str(k): float(v) for k, v in fitted.params.items()}


FITS = {"reexport": _fit_reexport, "pyfixest": _fit_pyfixest, "linearmodels": _fit_linearmodels}


def worker(tool: str, case_name: str, csv: Path, mode: str, repeats: int) -> None:
    """Child process: read the CSV, fit, print one JSON line.

    ``mode="e2e"``: one tool, one fit (the parent times the whole process).
    ``mode="inproc"``: every tool (``tool="all"``) in this one process: a
    warm-up fit each, then ``repeats`` rounds of the tools back to back (so a
    burst of load on the shared machine hits all of them), linearmodels in the
    last round only; the minimum seconds per tool.
    """
    case = CASES[case_name]
    frame = pd.read_csv(csv)
    if mode == "e2e":
        print(json.dumps({"params": FITS[tool](case, frame)}))
        return
    tools = _tools(case)
    params = {name: FITS[name](case, frame) for name in tools}
    seconds = {name: float("inf") for name in tools}
    for repeat in range(repeats):
        for name in tools:
            if name == "linearmodels" and repeat < repeats - 1:
                continue  # a side reference, and slow: timed once
            start = time.perf_counter()
            params[name] = FITS[name](case, frame)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    print(json.dumps({"params": params, "seconds": seconds}))


def _tools(case: Case) -> list[str]:
    return [t for t in TOOLS if t != "linearmodels" or case.panel]


def _child(cmd: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run ``cmd``; return its JSON line, wall seconds and its own peak RSS in MB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        # wait4 gives this child's own resource usage (ru_maxrss in kB on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd[2:8])} failed:\n{err.read()[-3000:]}")
        return json.loads(out.read().strip().splitlines()[-1]), seconds, usage.ru_maxrss / 1024


# -- the comparison ----------------------------------------------------------------------------
def _max_relative_difference(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-300) for k in theirs)


def compare(case: Case, csv: Path, repeats: int) -> dict[str, dict[str, Any]]:
    """Time every tool on one case, end to end and in-process; interleaved repeats, min kept."""
    tools = _tools(case)
    runs: dict[str, dict[str, Any]] = {t: {"e2e": [], "mb": 0.0} for t in tools}
    base = [sys.executable, __file__, "--case", case.name, "--csv", str(csv)]
    for repeat in range(repeats):
        for tool in tools:
            if tool == "linearmodels" and repeat:
                continue  # a side reference, and slow: measured once
            result, seconds, peak = _child([*base, "--worker", tool, "--mode", "e2e"])
            runs[tool]["e2e"].append(seconds)
            runs[tool]["mb"] = max(runs[tool]["mb"], peak)
            runs[tool]["params"] = result["params"]
    cmd = [*base, "--worker", "all", "--mode", "inproc", "--repeats", str(repeats)]
    result, _, _ = _child(cmd)
    for tool in tools:
        runs[tool]["inproc"] = result["seconds"][tool]
    return runs


def _print_table(rows: list[tuple[Case, int, dict[str, dict[str, Any]]]]) -> None:
    header = (
        f"{'shape':<62}{'run':<13}{'reexport s':>11}{'pyfixest s':>11}{'ratio':>7}"
        f"{'max rel diff':>14}{'rx MB':>7}{'pf MB':>7}{'linearmodels s (ratio)':>24}"
    )
    print(header)
    print("-" * len(header))
    for case, n_rows, runs in rows:
        ours, theirs = runs["reexport"], runs["pyfixest"]
        diff = _max_relative_difference(ours["params"], theirs["params"])
        label = f"{case.title}"
        for run, key in (("end to end", "e2e"), ("in-process", "inproc")):
            rx = min(ours[key]) if key == "e2e" else ours[key]
            pf = min(theirs[key]) if key == "e2e" else theirs[key]
            lm_text = "-"
            if "linearmodels" in runs:
                lm = runs["linearmodels"]
                lm_s = min(lm[key]) if key == "e2e" else lm[key]
                lm_text = f"{lm_s:.2f} ({lm_s / pf:.2f})"
            print(
                f"{label:<62}{run:<13}{rx:>11.2f}{pf:>11.2f}{rx / pf:>7.2f}{diff:>14.1e}"
                f"{ours['mb']:>7.0f}{theirs['mb']:>7.0f}{lm_text:>24}"
            )
            label = f"  ({n_rows:,} rows)"
    print(
        "\nratio = reexport / pyfixest seconds (<= 1: reexport as fast or faster); max rel diff = "
        "largest |b_reexport - b_pyfixest| / |b_pyfixest| over the slopes; MB = peak RSS of the "
        "tool's own fresh end-to-end process; linearmodels ratio is to pyfixest."
    )
    for case, _, runs in rows:
        if "linearmodels" in runs:
            lm_diff = _max_relative_difference(
                runs["linearmodels"]["params"], runs["pyfixest"]["params"]
            )
            print(f"linearmodels vs pyfixest max rel diff on {case.name}: {lm_diff:.1e}")


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python benchmarks/bench_fe.py [--quick] [--case NAME ...]``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data: a smoke run")
    parser.add_argument("--case", action="append", choices=sorted(CASES), help="repeatable")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", choices=(*TOOLS, "all"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("e2e", "inproc"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.case[0], args.csv, args.mode, args.repeats)
        return
    scale = QUICK_SCALE if args.quick else 1.0
    repeats = 1 if args.quick else args.repeats
    rows = []
    for name in args.case or list(CASES):
        case = CASES[name]
        started = time.perf_counter()
        csv = csv_for(case, scale)
        n_rows = sum(1 for _ in csv.open()) - 1
        print(f"{case.name}: {csv} ready in {time.perf_counter() - started:.1f}s", flush=True)
        rows.append((case, n_rows, compare(case, csv, repeats)))
    print()
    _print_table(rows)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
