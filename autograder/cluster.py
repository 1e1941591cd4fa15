"""Execute a run's notebooks on a Dask distributed cluster (``course-grade grade --cluster``).

The grader's side of :mod:`.cluster_worker`: it starts a ``LocalCluster`` (``local:N``: N
worker processes of one thread each) or connects to a running scheduler
(``tcp://HOST:PORT``, or ``tls://HOST:PORT`` with the certificates of Dask's
configuration, ``distributed.comm.tls.*``), asks every worker whether it can grade, and
submits one :class:`~.cluster_worker.ClusterJob` per student, never more at once than
the cluster has worker threads (so a worker that dies takes no queued job with it).
Results come back as they finish, as from :func:`~.runner.run_jobs`; recording stays
with the grader (:mod:`.recording`), one writer.

Faults: a worker that dies mid-job makes the scheduler start the job on another worker,
at most ``--retries`` times (the scheduler's ``allowed-failures``); a job that kills
every worker it touches ends as :attr:`~.outcomes.EventKind.WORKER_LOST` (status
``error``, Dask's ``KilledWorker`` as the reason). A scheduler that goes away raises
:class:`ClusterLost`. Dask is imported only here and in :mod:`.cluster_worker`, and only
when a run names a cluster.
"""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass

import nbformat

from .job import JobResult, failed
from .nbconfig import Stage, nbgrader_config
from .options import Options
from .outcomes import EventKind
from .prepare import Prepared

#: seconds to wait for a running scheduler's first worker
WORKER_WAIT = 120


class ClusterError(RuntimeError):
    """The cluster cannot grade this run (bad address, no suitable worker); nothing was executed."""


class ClusterLost(RuntimeError):
    """The scheduler went away during the run; jobs that finished before are kept."""


@dataclass(frozen=True)
class ClusterSpec:
    """Where jobs run: a local cluster of ``workers`` processes, or the scheduler at ``address``."""

    address: str = ""
    workers: int = 0

    @property
    def local(self) -> bool:
        return not self.address

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        match = re.fullmatch(r"local:(\d+)", text)
        if match and int(match.group(1)) >= 1:
            return cls(workers=int(match.group(1)))
        if re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d+", text):
            return cls(address=text)
        raise ValueError(f"--cluster {text!r}: give local:N (N worker processes here) or a scheduler's address, tcp://HOST:PORT or tls://HOST:PORT")


def parse_resources(items: list[str] | None) -> dict[str, float] | None:
    """``["GPU=1"]`` -> ``{"GPU": 1.0}``; ValueError with what was wrong."""
    if not items:
        return None
    resources = {}
    for item in items:
        name, _, amount = item.partition("=")
        try:
            resources[name.strip()] = float(amount)
        except ValueError:
            raise ValueError(f"--resources {item!r}: give NAME=AMOUNT, e.g. GPU=1") from None
        if not name.strip() or resources[name.strip()] <= 0:
            raise ValueError(f"--resources {item!r}: give NAME=AMOUNT with a positive amount, e.g. GPU=1")
    return resources


@contextlib.contextmanager
def connect(spec: ClusterSpec, retries: int) -> Iterator:
    """A Dask client for ``spec`` whose scheduler retries a job ``retries`` times after worker deaths."""
    import dask
    from distributed import Client, LocalCluster

    from .cluster_worker import GraderPlugin

    settings = {
        # a grading job starts a child process: workers must not be daemonic processes
        "distributed.worker.daemon": False,
        "distributed.scheduler.allowed-failures": retries,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings), contextlib.ExitStack() as stack:
        if spec.local:
            cluster = stack.enter_context(
                LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
            )
            client = stack.enter_context(Client(cluster))
        else:
            from distributed.security import Security

            security = Security() if spec.address.startswith("tls://") else None
            if security is not None and not security.tls_ca_file:
                raise ClusterError(
                    f"{spec.address} needs TLS certificates: set distributed.comm.tls.ca-file, .client.cert and .client.key "
                    "in Dask's configuration (e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=ca.pem; see the README)"
                )
            try:
                client = stack.enter_context(Client(spec.address, security=security, timeout=30))
            except OSError as exc:
                raise ClusterError(f"cannot reach the Dask scheduler at {spec.address}: {exc}") from exc

            def allowed_failures(dask_scheduler, n=retries) -> None:
                dask_scheduler.allowed_failures = n

            client.run_on_scheduler(allowed_failures)
        client.register_plugin(GraderPlugin(), name=GraderPlugin.name)
        yield client


def _threads_by_host(client) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        counts[address.rsplit("://", 1)[-1].rsplit(":", 1)[0]] += int(info.get("nthreads", 1))
    return dict(counts)


def _threads(client) -> int:
    return sum(int(info.get("nthreads", 1)) for info in client.scheduler_info(n_workers=-1)["workers"].values())


def _preflight(client, opts: Options) -> dict[str, str]:
    """Ask every worker whether it will grade; ClusterError naming those that will not."""
    from .cluster_worker import check_worker

    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError as exc:
        raise ClusterError(f"no Dask worker joined the scheduler in {WORKER_WAIT} s; start workers (see the README)") from exc
    answers = client.run(check_worker, opts.allow_unisolated, opts.isolate)
    refusing = {address: a for address, a in answers.items() if a["problems"]}
    if refusing:
        lines = [f"worker {a['name']} ({address}): " + "; ".join(a["problems"]) for address, a in sorted(refusing.items())]
        raise ClusterError("workers that cannot grade:\n  " + "\n  ".join(lines))
    if opts.resources:
        offered = [info.get("resources", {}) for info in client.scheduler_info(n_workers=-1)["workers"].values()]
        if not any(all(have.get(k, 0) >= v for k, v in opts.resources.items()) for have in offered):
            wanted = " ".join(f"{k}={v:g}" for k, v in opts.resources.items())
            raise ClusterError(f"no worker offers --resources {wanted}; start workers with e.g. dask worker ... --resources \"{wanted}\"")
    return {a["name"]: a["isolation"] for a in answers.values()}


def run_jobs(opts: Options, prepared: Prepared, pending: list[tuple[str, nbformat.NotebookNode]]) -> Iterator[JobResult]:
    """Execute ``pending`` on the cluster ``opts.cluster``; yield each job's result as it finishes."""
    if not pending:
        return
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    from .cluster_worker import ClusterJob, WorkerSettings, grade_on_worker

    spec = ClusterSpec.parse(opts.cluster or "")
    with connect(spec, opts.retries) as client:
        _preflight(client, opts)
        template = (prepared.template / "gradebook.db").read_bytes()
        config = nbgrader_config(opts, Stage.EXECUTE)
        settings = WorkerSettings.from_options(opts, _threads_by_host(client))
        waiting = [ClusterJob(student, nbformat.writes(nb), template, config, settings) for student, nb in pending]
        waiting.reverse()
        run = uuid.uuid4().hex[:8]
        students: dict[str, str] = {}
        bar = None
        if opts.progress:
            from tqdm import tqdm

            bar = tqdm(total=len(pending), desc=f"grading {opts.assignment} on {opts.cluster}", unit="nb", file=sys.stderr)

        def submit() -> object:
            job = waiting.pop()
            key = f"grade-{opts.assignment}-{job.student}-{run}"
            students[key] = job.student
            return client.submit(grade_on_worker, job, key=key, pure=False, resources=opts.resources)

        try:
            running = as_completed([submit() for _ in range(min(len(waiting), max(1, _threads(client))))])
            for future in running:
                student = students[future.key]
                try:
                    result = future.result()
                except KilledWorker as exc:
                    result = failed(student, EventKind.WORKER_LOST, f"{opts.retries + 1} workers died running it (Dask's {type(exc).__name__}: {exc})")
                except CancelledError as exc:
                    raise ClusterLost(f"the connection to the Dask scheduler {opts.cluster} was lost ({exc})") from exc
                except Exception as exc:  # the job raised on its worker: this student only
                    result = failed(student, EventKind.GRADER_ERROR, f"{type(exc).__name__}: {exc}")
                if not isinstance(result, JobResult):
                    result = failed(student, EventKind.GRADER_ERROR, f"the worker returned {type(result).__name__}")
                if bar is not None:
                    bar.update(1)
                yield result
                while waiting and running.count() < max(1, _threads(client)):
                    running.add(submit())
        finally:
            if bar is not None:
                bar.close()
