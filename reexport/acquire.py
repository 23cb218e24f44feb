"""``reexport data STUDY``: get every raw input a study declares, or fall back to the demo -- loudly.

The inputs are the study's ``[[request]]`` tables (``STUDY/study.toml``, see
docs/study_format.md): one task per request, named by its role (``gpr``,
``comtrade_world`` for a Comtrade request of the World, ``comtrade_partners`` for
``partner = "all"``, ``fred``...).  A request with ``optional`` set may be missing
(listed, not an error).  A stored real user series that a frame ``prefer``s to the
Comtrade series (e.g. a customs series imported with ``reexport import-series``)
serves that Comtrade request's role when Comtrade cannot be obtained:
``reexport build`` prefers it anyway.

For each, in order:

1. a stored real vintage answering exactly this request is used as is (no network);
2. otherwise, unless ``--offline``, the source's host is probed once: a TCP connect
   and then one HTTP ``HEAD`` that must get *some* answer, each within
   :data:`PROBE_TIMEOUT` seconds (a host that accepts connections and never answers is
   caught here, in seconds).  If it answers, the source's ``fetch()`` downloads a new
   vintage with the HTTP client's retries, every attempt bounded by its overall
   deadline (``REEXPORT_HTTP_DEADLINE``); each step and every failed attempt is
   printed on stderr as it happens.  A host whose download got no complete answer
   (deadline, timeout, connection failure) is not tried again for its other inputs;
3. if that fails, the newest stored real vintage of the same source and role (an
   earlier or different request) is used, and the summary says so.

Then one of three outcomes:

* **complete** -- every input the study cannot do without has a real vintage: exit 0;
* **demo fallback** -- no input could be obtained *and* the raw store holds no real
  vintage of any source: the SYNTHETIC demo vintage is written
  (:func:`reexport.sources.demo.write_demo`) and a boxed ``SYNTHETIC DEMO DATA``
  banner goes to stdout and stderr: exit 0, so ``make data && make build`` runs the
  whole chain offline on the demo;
* **partial** -- some inputs are real and others could not be obtained: what was
  fetched is kept, the missing ones are listed with the reason, and the exit code
  is 3.  No demo is written: demo and real data never mix.

Offline (``--offline``, or no network) stays fast: stored vintages need no network,
and an unreachable or silent host is detected by the probe instead of by retrying.
A vintage imported with ``reexport fetch ... --from-file`` is a real vintage of its
source: when the download request itself is not stored, it is used (step 3) and the
summary names the file it came from.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from reexport import config
from reexport.errors import SourceError
from reexport.sources import demo as demo_source
from reexport.sources.demo import DEFAULT_SEED, banner, write_demo
from reexport.study import (
    Frame,
    Study,
    comtrade_requests,
    load_study,
    request_matches,
    serving_requests,
    userseries_matches,
)

if TYPE_CHECKING:
    from reexport.http import HttpClient
    from reexport.store import RawStore, Vintage

log = logging.getLogger("reexport.acquire")

#: Seconds the TCP connect, and then the HTTP probe, may each take before a host
#: counts as unreachable.
PROBE_TIMEOUT = 5.0
#: Sources whose real vintages make the demo fallback inapplicable.
REAL_SOURCES = ("gpr", "comtrade", "fred", "userseries")

Status = Literal["stored", "downloaded", "stored-other", "failed"]
Fetcher = Callable[..., "Vintage"]


@dataclass(frozen=True)
class Task:
    """One raw input of the study.

    Attributes
    ----------
    role
        Name in summaries (``gpr``, ``comtrade_world``...).
    source
        Raw-store source.
    url
        Where it is fetched from (its host is probed).
    fetch
        Calls the source's ``fetch()`` with ``store``, ``client`` and ``offline``.
    fallback
        Finds the newest stored real vintage serving the same role, or ``None``.
    optional
        Why the study can do without this input (empty: it cannot).  A missing
        optional input is listed but does not make the result incomplete.
    """

    role: str
    source: str
    url: str
    fetch: Fetcher
    fallback: Callable[[RawStore], Vintage | None]
    optional: str = ""


@dataclass
class Outcome:
    """What happened to one task."""

    role: str
    status: Status
    vintage: Vintage | None = None
    message: str = ""
    optional: str = ""

    @property
    def ok(self) -> bool:
        """Whether the role has a real vintage now."""
        return self.vintage is not None


@dataclass
class AcquireResult:
    """Outcomes of ``reexport data``.

    Attributes
    ----------
    outcomes
        One per task, in task order.
    demo
        The demo vintages written by the fallback, or ``None``.
    """

    outcomes: list[Outcome] = field(default_factory=list)
    demo: dict[str, Vintage] | None = None

    @property
    def complete(self) -> bool:
        """Every input the study cannot do without has a real vintage."""
        return all(o.ok or o.optional for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when complete or on the demo fallback, 3 when real inputs are missing."""
        return 0 if self.complete or self.demo is not None else SourceError.exit_code


def _latest_comtrade(wanted: Any) -> Callable[[RawStore], Vintage | None]:
    """Newest real Comtrade vintage answering the request ``wanted`` (any months)."""
    logical = wanted.logical()

    def find(store: RawStore) -> Vintage | None:
        found = [
            v
            for v in store.vintages("comtrade", synthetic=False)
            if request_matches(v.request, logical)
        ]
        return found[-1] if found else None

    return find


def _preferred_series(frames: list[Frame]) -> Callable[[RawStore], Vintage | None]:
    """Newest real user series one of ``frames`` prefers to Comtrade (``prefer``).

    ``reexport build`` uses such a series instead of Comtrade's for that frame, so it
    serves the Comtrade request's role when Comtrade could not be obtained.
    """

    def find(store: RawStore) -> Vintage | None:
        found = [
            v
            for v in store.vintages("userseries", synthetic=False)
            if any(userseries_matches(v.request, frame) for frame in frames)
        ]
        return found[-1] if found else None

    return find


def _comtrade_fallback(
    wanted: Any, preferring: list[Frame]
) -> Callable[[RawStore], Vintage | None]:
    """Another stored vintage of the same request, else a user series a frame prefers."""
    latest, preferred = _latest_comtrade(wanted), _preferred_series(preferring)

    def find(store: RawStore) -> Vintage | None:
        return latest(store) or preferred(store)

    return find


def _roles(study: Study) -> dict[int, str]:
    """Role names of the study's requests: short (``comtrade_world``) unless two collide."""
    short: dict[int, str] = {}
    for request in study.requests:
        if request.source != "comtrade":
            short[request.index] = request.source
        elif request.partner == "world":
            short[request.index] = "comtrade_world"
        elif request.partner == "all":
            short[request.index] = "comtrade_partners"
        else:
            short[request.index] = "comtrade_" + "+".join(request.partner)
    names = list(short.values())
    return {
        index: (name if names.count(name) == 1 else f"{name}_{index}")
        for index, name in short.items()
    }


def study_tasks(study: Study | None = None) -> list[Task]:
    """The study's raw inputs (its ``[[request]]`` tables), with URLs read from the configuration now.

    A Comtrade request with several reporters, HS codes or flows is one task per
    combination until ``comtrade.make_request`` takes lists
    (:func:`reexport.study.comtrade_requests`).
    """
    from reexport.sources import comtrade, fred, gpr

    study = study if study is not None else load_study()
    roles = _roles(study)
    tasks: list[Task] = []
    for request in study.requests:
        role = roles[request.index]
        if request.source == "gpr":
            tasks.append(
                Task(
                    role,
                    "gpr",
                    config.gpr_url(),
                    lambda **options: gpr.fetch(**options),
                    lambda store: store.latest("gpr", synthetic=False),
                    optional=request.optional,
                )
            )
        elif request.source == "fred":
            series, start, end = ",".join(request.series), request.start, request.end

            def fred_fetch(
                series: str = series, start: str = start, end: str = end, **options: Any
            ) -> Vintage:
                return fred.fetch(series, start, end, **options)

            tasks.append(
                Task(
                    role,
                    "fred",
                    config.fred_url(),
                    fred_fetch,
                    lambda store: store.latest("fred", synthetic=False),
                    optional=request.optional,
                )
            )
        else:
            wanted = comtrade_requests(request, where=f"{study.path} [[request]] #{request.index}")
            preferring = [
                f
                for f in study.frames
                if f.prefer is not None and request in serving_requests(study, f)
            ]
            for n, one in enumerate(wanted):

                def comtrade_fetch(one: Any = one, **options: Any) -> Vintage:
                    return comtrade.fetch(one, progress=False, **options)

                tasks.append(
                    Task(
                        role if len(wanted) == 1 else f"{role}:{n + 1}",
                        "comtrade",
                        config.comtrade_base_url(),
                        comtrade_fetch,
                        _comtrade_fallback(one, preferring),
                        optional=request.optional,
                    )
                )
    return tasks


def probe(url: str, timeout: float | None = None) -> str | None:
    """Try one TCP connection to ``url``'s host; ``None`` if it connects, else the reason.

    Both the name lookup and the connect are bounded by ``timeout`` (the lookup runs
    in a daemon thread, since :func:`socket.getaddrinfo` has no timeout of its own).
    """
    timeout = PROBE_TIMEOUT if timeout is None else timeout
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found: dict[str, object] = {}

    def lookup() -> None:
        try:
            found["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            found["error"] = exc

    worker = threading.Thread(target=lookup, name=f"probe-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return f"{host}: name lookup timed out after {timeout:g} s ({LOOKUP_TIMEOUT_MARK})"
    if "error" in found:
        return f"{host}: name lookup failed ({_reason(found['error'])})"
    addresses = found.get("addresses")
    assert isinstance(addresses, list)
    family, kind, proto, _name, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as connection:
            connection.settimeout(timeout)
            connection.connect(address)
    except OSError as exc:
        return f"{host}:{port} unreachable ({_reason(exc)})"
    return None


#: Phrases of a transport failure (no complete answer at all): after one, the host's other
#: inputs are not fetched, so that ``reexport data`` does not wait out its deadlines again.
_NO_ANSWER_MARKS = (
    "deadline",
    "timed out",
    "connection refused",
    "connection failed",
    "connection reset",
    "closed the connection",
)

#: Marks a probe failure that means "no network at all", so other hosts are not probed.
LOOKUP_TIMEOUT_MARK = "no network?"


def _reason(exc: object) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def acquire(
    *,
    offline: bool = False,
    store: RawStore | None = None,
    client: HttpClient | None = None,
    tasks: list[Task] | None = None,
    study: Study | None = None,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> AcquireResult:
    """Obtain every study input (see the module docstring for the rules).

    Parameters
    ----------
    offline
        Make no network call: use stored vintages only (and the demo if none exist).
    store
        Raw store (default under :func:`reexport.config.raw_dir`).
    client
        HTTP client for downloads (default: one created when first needed).
    tasks
        The inputs (default :func:`study_tasks` of ``study``).
    study
        The study declaration (default: :func:`reexport.study.load_study`'s default study).
    seed
        Seed of the demo written by the fallback.
    progress
        Called with a line for each step (which source, which host, each failed
        attempt); default: the ``reexport.acquire`` log at INFO.

    Returns
    -------
    AcquireResult
        Per-task outcomes and the demo vintages, if the fallback applied.
    """
    from reexport.store import RawStore

    store = store if store is not None else RawStore()
    runner = _Runner(store, offline, client, progress)
    result = AcquireResult()
    try:
        for task in tasks if tasks is not None else study_tasks(study):
            outcome = runner.run(task)
            log.info("data: %s -> %s %s", task.role, outcome.status, outcome.message)
            result.outcomes.append(outcome)
    finally:
        runner.close()
    if not any(o.ok for o in result.outcomes) and not _has_real_data(store):
        result.demo = write_study_demo(study, seed, store)
    return result


def write_study_demo(
    study: Study | None = None, seed: int = DEFAULT_SEED, store: RawStore | None = None
) -> dict[str, Vintage]:
    """Write the synthetic demo sets a study's requests need (every one loudly synthetic).

    The base set (:func:`reexport.sources.demo.write_demo`: GPR, FRED, China's HS 850511
    exports, the customs series) always; the Japan set
    (:func:`reexport.sources.demo.write_japan_demo`) when one of the study's Comtrade
    requests is one the Japan vintages answer.  Which set serves which request is read
    from the demo's own request records, so the package names no study.
    """
    declared = study if study is not None else load_study(None)
    written = write_demo(seed, store)
    wanted = [
        one.logical()
        for request in declared.requests
        if request.source == "comtrade"
        for one in comtrade_requests(request)
    ]
    japan = demo_source.japan_requests().values()
    if any(request_matches(offer, want) for offer in japan for want in wanted):
        written.update(demo_source.write_japan_demo(seed, store))
    return written


def demo_cli(*, seed: int = DEFAULT_SEED, study: str | None = None) -> int:
    """``reexport demo [STUDY] [--seed N]``: write the demo sets the study needs, loudly."""
    declared = load_study(Path(study) if study is not None else None)
    vintages = write_study_demo(declared, seed)
    print(
        banner(
            [
                "SYNTHETIC DEMO DATA -- NOT REAL",
                f"seed {seed}, DGP version {demo_source.DGP_VERSION} (docs/demo_dgp.md)",
                'every vintage is marked "synthetic": true',
            ]
        )
    )
    for role, vintage in vintages.items():
        print(f"  {role}: {vintage.source}/{vintage.id} ({len(vintage.files)} files, synthetic)")
    return 0


class _Runner:
    """Runs tasks against one store, probing each host once and opening a client lazily."""

    def __init__(
        self,
        store: RawStore,
        offline: bool,
        client: HttpClient | None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.offline = offline
        self.client = client
        self._own_client = client is None
        self._unreachable: dict[str, str | None] = {}
        self._network_down: str | None = None
        self._progress = progress

    def _say(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)
        else:
            log.info("%s", message)

    def _http(self) -> HttpClient:
        if self.client is None:
            from reexport.http import HttpClient

            self.client = HttpClient(progress=lambda message: self._say(f"    {message}"))
        return self.client

    def close(self) -> None:
        if self._own_client and self.client is not None:
            self.client.close()

    def _probe(self, role: str, url: str) -> str | None:
        """``None`` if ``url``'s host answers HTTP (probed once per host), else why not."""
        host = urlsplit(url).netloc
        if host not in self._unreachable:
            self._say(f"data: {role}: checking whether {host} answers ...")
            problem = self._network_down or probe(url)
            if LOOKUP_TIMEOUT_MARK in (problem or ""):
                # Name lookups hang: the machine is offline; don't wait on every host.
                self._network_down = problem
            if problem is None:
                problem = self._http().probe(url, timeout=PROBE_TIMEOUT)
            self._unreachable[host] = problem
            self._say(f"data: {role}: {'it answers' if problem is None else problem}")
        return self._unreachable[host]

    def run(self, task: Task) -> Outcome:
        try:
            vintage = task.fetch(store=self.store, offline=True)
            self._say(f"data: {task.role}: already stored ({vintage.source}/{vintage.id})")
            return Outcome(task.role, "stored", vintage)
        except SourceError as exc:
            reason = str(exc)
        if not self.offline:
            problem = self._probe(task.role, task.url)
            if problem is not None:
                reason = f"{problem}; not fetched"
            else:
                client = self._http()
                self._say(
                    f"data: {task.role}: downloading from {urlsplit(task.url).netloc} "
                    f"(up to {client.attempts} attempts of at most {client.deadline:g} s each) ..."
                )
                try:
                    vintage = task.fetch(store=self.store, client=client, offline=False)
                    self._say(f"data: {task.role}: stored {vintage.source}/{vintage.id}")
                    return Outcome(task.role, "downloaded", vintage)
                except SourceError as exc:
                    reason = str(exc)
                    self._say(f"data: {task.role}: failed: {reason}")
                    if any(mark in reason for mark in _NO_ANSWER_MARKS):
                        # Its other inputs would wait out the same deadlines again.
                        host = urlsplit(task.url).netloc
                        self._unreachable[host] = f"{host} did not answer for {task.role}"
        other = task.fallback(self.store)
        if other is not None:
            imported = _imported_file(other)
            if other.source == "userseries":
                message = (
                    f"the user series {other.request.get('name') or other.id} "
                    "is preferred by the study's frame"
                )
            elif imported:
                message = f"imported from the file {imported}"
            else:
                message = f"using stored vintage {other.id} (another request)"
            return Outcome(
                task.role, "stored-other", other, f"{message}; this one failed: {reason}"
            )
        return Outcome(task.role, "failed", None, reason, optional=task.optional)


def _imported_file(vintage: Vintage) -> str | None:
    """The file name(s) a ``--from-file`` vintage was imported from, or ``None`` for a download."""
    if vintage.request.get("origin") != "file":
        return None
    return ", ".join(str((f.get("params") or {}).get("file", f["name"])) for f in vintage.files)


def _has_real_data(store: RawStore) -> bool:
    return any(store.latest(source, synthetic=False) is not None for source in REAL_SOURCES)


def summary_lines(result: AcquireResult) -> list[str]:
    """Human-readable outcome, one line per input plus a verdict."""
    lines = []
    for outcome in result.outcomes:
        if outcome.vintage is not None:
            what = {
                "stored": "already stored, no download",
                "downloaded": "downloaded",
                "stored-other": outcome.message,
                "failed": "",
            }[outcome.status]
            lines.append(
                f"  {outcome.role}: {outcome.vintage.source}/{outcome.vintage.id} ({what})"
            )
        elif outcome.optional:
            lines.append(
                f"  {outcome.role}: not obtained (optional: {outcome.optional}): {outcome.message}"
            )
        else:
            lines.append(f"  {outcome.role}: NOT OBTAINED: {outcome.message}")
    if result.complete:
        skipped = [o.role for o in result.outcomes if not o.ok]
        lines.append(
            "data: every input has a real vintage; next: `reexport build`"
            if not skipped
            else f"data: every required input has a real vintage ({', '.join(skipped)}: "
            "optional, not obtained); next: `reexport build`"
        )
    elif result.demo is not None:
        lines.append(
            "data: no source could be reached and no real vintage is stored, so the "
            "SYNTHETIC demo vintage was written instead:"
        )
        for role, vintage in result.demo.items():
            lines.append(f"  demo {role}: {vintage.source}/{vintage.id} (synthetic)")
        lines.append("next: `reexport build` (it will build the demo, marked SYNTHETIC)")
    else:
        missing = [o.role for o in result.outcomes if not o.ok and not o.optional]
        lines.append(
            f"data: INCOMPLETE: {', '.join(missing)} could not be obtained; what was fetched "
            "is kept; rerun `reexport data` when the source is reachable (exit 3)"
        )
    return lines


DEMO_BANNER = [
    "SYNTHETIC DEMO DATA -- NOT REAL",
    "No source could be reached and no real vintage is stored,",
    "so `reexport data` fell back to the demo (docs/demo_dgp.md).",
    "Every table, estimate and report built from it is made up.",
]


def data_cli(*, study: str | None = None, offline: bool = False) -> int:
    """``reexport data [STUDY] [--offline]``: obtain the study's inputs; see the module docstring.

    Returns
    -------
    int
        0 when every input is real, or on the demo fallback (with a banner on stdout and
        stderr); 3 when some real inputs are missing.
    """
    result = acquire(
        offline=offline,
        study=load_study(study),
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if result.demo is not None:
        box = banner(DEMO_BANNER)
        print(box, file=sys.stderr)
        print(box)
    for line in summary_lines(result):
        print(line)
    if not result.complete and result.demo is None:
        missing = ", ".join(o.role for o in result.outcomes if not o.ok and not o.optional)
        print(f"reexport: error: data incomplete: {missing} not obtained", file=sys.stderr)
    return result.exit_code
