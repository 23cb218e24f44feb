"""Run many independent tasks over one data frame: in-process, in local processes, or on Dask.

A *battery* is what ``reexport estimate`` fans out: one task per model, then
one per chunk of bootstrap replications.  Every executor runs
``task(frame, item)`` for each item and returns the answers **in the order of
the items**, whatever order they finish in, so a parallel run gives exactly
what a serial run gives.  Remote executors send the items in consecutive
batches (about :data:`BATCHES_PER_WORKER` per worker, :func:`batches`), one
task per batch, so that the executor's cost per task stays small next to the
models' own.

* :class:`SerialBattery` runs in this process (the default).
* :class:`ProcessBattery` (``--jobs N``) uses ``N`` local worker processes;
  the frame reaches each worker once, through the pool initializer (inherited
  by ``fork`` on Linux, pickled once per worker when ``fork`` is unsafe or
  unavailable), not with every task.
* :class:`DaskBattery` (``--scheduler tcp://HOST:PORT`` or
  ``REEXPORT_DASK_SCHEDULER``) sends the tasks to an existing
  ``dask.distributed`` cluster; the frame is scattered to the workers once
  (``broadcast=True``) and every task refers to it.  The workers need
  ``reexport`` installed (the same version).

Workers limit BLAS/OpenMP to one thread (``threadpoolctl`` and the usual
environment variables), so ``N`` processes use ``N`` cores rather than
``N x cores`` threads fighting for them.  The serial executor does the same for
the duration of the battery: results are then bit-identical whichever executor
runs them, and the models of a battery (design matrices with a handful of
columns) gain nothing from BLAS threads: on the 1,000-model benchmark battery,
2 cores shared with other jobs, serial took 118 s with OpenBLAS's default
threads and 33 s with one.

Failures: an exception in a task fails the battery.  Tasks after the failed
one are cancelled, tasks before it are awaited, and the exception of the
*earliest* failing item is raised, so the error line is the one a serial run
prints.  Progress goes to ``stderr``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Protocol, TextIO, TypeVar

import pandas as pd

from reexport.errors import BadInputError

Item = TypeVar("Item")
Out = TypeVar("Out")
Task = Callable[[pd.DataFrame, Any], Any]

#: Environment variable naming a Dask scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "REEXPORT_DASK_SCHEDULER"
#: Tasks per worker a battery is cut into (see :func:`batches`).
BATCHES_PER_WORKER = 8
#: Seconds to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = 15
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "REEXPORT_NUM_THREADS",  # reexport's own demeaning threads (fe.demean_threads)
)


class Battery(Protocol):
    """What every executor offers."""

    #: Human-readable description, e.g. ``"2 local processes"``.
    description: str
    #: Whether tasks run in other processes (answers then cross a pickle boundary).
    remote: bool

    def map(self, task: Task, items: Sequence[Any], *, what: str) -> list[Any]:
        """``[task(frame, item) for item in items]``, in item order."""
        ...


class Progress:
    """Counts finished tasks and prints a line to ``stderr`` now and then.

    A line is printed at the first task, at every tenth of the total and at the
    end, but not more often than every half second (except the last).  Disabled
    (``enabled=False``) it only counts.
    """

    def __init__(
        self, total: int, what: str, where: str, stream: TextIO | None, *, enabled: bool
    ) -> None:
        self.total = total
        self.what = what
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.start = time.perf_counter()
        self._last_print = -1.0
        self._next_step = 1
        if enabled:
            print(f"running {total} {what} on {where}", file=self.stream, flush=True)

    def advance(self, count: int = 1) -> None:
        """``count`` more tasks finished."""
        self.done += count
        if not self.enabled:
            return
        now = time.perf_counter()
        finished = self.done == self.total
        due = self.done >= self._next_step and now - self._last_print >= 0.5
        if finished or due:
            elapsed = now - self.start
            print(
                f"  {self.what}: {self.done}/{self.total} done ({elapsed:.1f} s)",
                file=self.stream,
                flush=True,
            )
            self._last_print = now
            self._next_step = self.done + max(1, self.total // 10)


# --------------------------------------------------------------------------------------
# worker-side helpers (module level: they are pickled by reference)

_WORKER_FRAME: pd.DataFrame | None = None
_THREADS_LIMITED = False


def limit_threads() -> None:
    """Limit BLAS and OpenMP pools of this process to one thread (once per process)."""
    global _THREADS_LIMITED
    if _THREADS_LIMITED:
        return
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    _THREADS_LIMITED = True


def _init_worker(frame: pd.DataFrame) -> None:
    global _WORKER_FRAME
    _WORKER_FRAME = frame
    limit_threads()


def _call_with_worker_frame(task: Task, batch: Sequence[Any]) -> list[Any]:
    if _WORKER_FRAME is None:
        raise RuntimeError("worker process was started without its data frame")
    return [task(_WORKER_FRAME, item) for item in batch]


def _call_on_dask_worker(task: Task, frame: pd.DataFrame, batch: Sequence[Any]) -> list[Any]:
    limit_threads()
    return [task(frame, item) for item in batch]


def batches(n_items: int, workers: int) -> list[range]:
    """Consecutive item ranges, about :data:`BATCHES_PER_WORKER` per worker.

    One task per batch rather than per item keeps the per-task cost of the
    executor (pickling, scheduling, a round trip) small next to the models, while
    several batches per worker still balance uneven models.
    """
    size = max(1, -(-n_items // (max(workers, 1) * BATCHES_PER_WORKER)))
    return [range(start, min(start + size, n_items)) for start in range(0, n_items, size)]


# --------------------------------------------------------------------------------------
# executors


class SerialBattery:
    """Runs the tasks one after another in this process.

    Progress is shown only when ``stream`` is a terminal: a serial run prints
    on ``stderr`` what it always printed (a failing model: one error line).
    """

    remote = False

    def __init__(self, frame: pd.DataFrame, stream: TextIO | None = None) -> None:
        self.frame = frame
        self.stream = stream
        self.description = "this process"

    def map(self, task: Task, items: Sequence[Any], *, what: str) -> list[Any]:
        stream = self.stream if self.stream is not None else sys.stderr
        interactive = bool(getattr(stream, "isatty", lambda: False)())
        progress = Progress(len(items), what, self.description, stream, enabled=interactive)
        from threadpoolctl import threadpool_limits

        answers = []
        # One BLAS thread, as in every worker: bit-identical results across executors,
        # and small models run faster without BLAS threads competing for the cores.
        with threadpool_limits(limits=1):
            for item in items:
                answers.append(task(self.frame, item))
                progress.advance()
        return answers


def _collect(
    futures: dict[Any, int],
    sizes: Sequence[int],
    cancel: Callable[[list[Any]], None],
    progress: Progress,
    wait: Any,
) -> list[Any]:
    """Answers of batch ``futures`` (future -> batch index), flattened in item order.

    A batch runs its items in order and stops at the first failure, and batches
    are consecutive, so the failure of the earliest failing batch is the earliest
    failure of all: it is the one raised, once every batch before it is done.
    """
    answers: list[list[Any]] = [[] for _ in futures]
    failure: tuple[int, BaseException] | None = None
    for future in wait(list(futures)):
        index = futures[future]
        if future.cancelled():
            continue
        error = future.exception()
        if error is not None:
            if failure is None or index < failure[0]:
                failure = (index, error)
                cancel([f for f, i in futures.items() if i > index and not f.done()])
            continue
        answers[index] = future.result()
        progress.advance(sizes[index])
    if failure is not None:
        raise failure[1]
    return [answer for batch in answers for answer in batch]


def _start_method() -> str:
    """``fork`` when it is safe, else ``forkserver`` or ``spawn``.

    ``fork`` hands the frame to each worker without pickling it, but forking a
    process that runs other threads (a Dask client, a GUI) can deadlock the
    child; then a fresh server process forks the workers and the frame is
    pickled once per worker (the initializer's arguments), never per task.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


class ProcessBattery:
    """Runs the tasks in ``jobs`` local worker processes, each holding the frame once."""

    remote = True

    def __init__(self, frame: pd.DataFrame, jobs: int, stream: TextIO | None = None) -> None:
        context = multiprocessing.get_context(_start_method())
        self.pool = ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(frame,)
        )
        self.workers = jobs
        self.stream = stream
        self.description = f"{jobs} local processes"

    def map(self, task: Task, items: Sequence[Any], *, what: str) -> list[Any]:
        progress = Progress(len(items), what, self.description, self.stream, enabled=True)
        ranges = batches(len(items), self.workers)
        futures: dict[Future[Any], int] = {
            self.pool.submit(_call_with_worker_frame, task, [items[i] for i in batch]): index
            for index, batch in enumerate(ranges)
        }

        def cancel(pending: list[Future[Any]]) -> None:
            for future in pending:
                future.cancel()

        return _collect(futures, [len(b) for b in ranges], cancel, progress, as_completed)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskBattery:
    """Runs the tasks on an existing ``dask.distributed`` cluster; the frame is scattered once."""

    remote = True

    def __init__(self, frame: pd.DataFrame, address: str, stream: TextIO | None = None) -> None:
        from distributed import Client

        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            text = str(exc).strip().splitlines()
            reason = text[0] if text else type(exc).__name__
            raise BadInputError(
                f"--scheduler {address}: cannot reach the Dask scheduler ({reason})"
            ) from None
        try:
            # A scheduler without workers would leave every task pending forever.
            self.client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.client.close()
            raise BadInputError(
                f"--scheduler {address}: the Dask scheduler has no workers ({exc})"
            ) from None
        workers = self.client.scheduler_info().get("workers", {})
        self.workers = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.frame = self.client.scatter(frame, broadcast=True, hash=False)
        self.stream = stream
        self.description = f"Dask cluster {address} ({len(workers)} workers)"

    def map(self, task: Task, items: Sequence[Any], *, what: str) -> list[Any]:
        from distributed import as_completed as dask_completed

        progress = Progress(len(items), what, self.description, self.stream, enabled=True)
        ranges = batches(len(items), self.workers)
        futures = {
            self.client.submit(
                _call_on_dask_worker, task, self.frame, [items[i] for i in batch], pure=False
            ): index
            for index, batch in enumerate(ranges)
        }

        def cancel(pending: list[Any]) -> None:
            if pending:
                self.client.cancel(pending)

        def completed(pending: list[Any]) -> Any:
            # Not the default client (set_as_default=False): name the loop explicitly.
            return dask_completed(pending, loop=self.client.loop)

        return _collect(futures, [len(b) for b in ranges], cancel, progress, completed)

    def close(self) -> None:
        self.client.close()


def resolve_scheduler(jobs: int | None, scheduler: str | None) -> str | None:
    """The Dask scheduler to use: ``--scheduler``, else ``$REEXPORT_DASK_SCHEDULER`` unless ``--jobs``.

    Raises
    ------
    BadInputError
        ``--jobs`` below 1, or both ``--jobs`` and ``--scheduler``.
    """
    if jobs is not None and jobs < 1:
        raise BadInputError(f"--jobs {jobs}: must be at least 1")
    if jobs is not None and scheduler:
        raise BadInputError("--jobs and --scheduler exclude each other: choose one executor")
    if scheduler:
        return scheduler
    if jobs is None:
        return os.environ.get(SCHEDULER_ENV) or None
    return None


@contextmanager
def open_battery(
    frame: pd.DataFrame,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    stream: TextIO | None = None,
) -> Iterator[SerialBattery | ProcessBattery | DaskBattery]:
    """The executor for ``--jobs`` / ``--scheduler`` (see :func:`resolve_scheduler`).

    Parameters
    ----------
    frame
        The data every task receives.
    jobs
        Local worker processes; ``None`` or 1 runs serially.
    scheduler
        ``tcp://HOST:PORT`` of a Dask scheduler.
    stream
        Where progress goes (default ``sys.stderr``).
    """
    address = resolve_scheduler(jobs, scheduler)
    battery: SerialBattery | ProcessBattery | DaskBattery
    if address:
        battery = DaskBattery(frame, address, stream)
    elif jobs is not None and jobs > 1:
        battery = ProcessBattery(frame, jobs, stream)
    else:
        battery = SerialBattery(frame, stream)
    try:
        yield battery
    finally:
        if not isinstance(battery, SerialBattery):
            battery.close()
