"""A Dask worker's side of grading on a cluster: one job's bytes in, its result out.

A :class:`ClusterJob` is plain data: the student's repaired notebook, the template
gradebook *as bytes* (the instructor's cells the job puts back) and nbgrader's execute
configuration. A worker needs nothing but the installed package: it never sees the
course directory or the main gradebook. :func:`grade_on_worker` writes the template to
a private file, sets up the same sandbox as a local run (:func:`~.sandbox_setup.job_sandbox`
through :func:`~.runner.execute_in_sandbox`), executes the notebook in a child process and
returns a :class:`~.job.JobResult` naming the worker and the isolation its kernel achieved.

Each worker process keeps its own state (:func:`_state`): a private folder, a kernel
zygote started at its first job (it dies with the worker process, and
:class:`GraderPlugin` stops it when the worker closes) and the answer of an isolation
probe. A worker that cannot give kernels their own namespaces (no root, no user
namespaces) refuses jobs unless the grader passed ``--allow-unisolated``.

Test-only hooks (read by the worker, set only by tests/autograder/test_cluster.py):
``COURSE_GRADE_TEST_POISON=STUDENT`` makes a worker kill itself whenever it starts
STUDENT's job; ``COURSE_GRADE_TEST_CRASH_ONCE=STUDENT:FOLDER`` kills the first worker
that runs STUDENT's job one second into it (a marker file in FOLDER says it happened).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from traitlets.config import Config

from . import zygote
from .environment import grader_env, kernel_env
from .job import JobResult, execute_with_parent
from .options import Options
from .runner import execute_in_sandbox, start_zygote

POISON_ENV = "COURSE_GRADE_TEST_POISON"  # test-only
CRASH_ONCE_ENV = "COURSE_GRADE_TEST_CRASH_ONCE"  # test-only
PLUGIN_NAME = "course-grade"
_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000


class WorkerRefused(RuntimeError):
    """This worker will not run grading jobs (it cannot sandbox kernels, or cannot start children)."""


@dataclass(frozen=True)
class WorkerSettings:
    """The run's settings a worker needs (the same for every job of the run)."""

    assignment: str
    course_root: str  # the grader's: hidden from kernels where it exists on the worker too
    private: tuple[str, ...]  # the grader's workspace, submissions and output folder: hidden likewise
    cell_timeout: int
    memory_mb: int
    job_timeout: int
    train_size: int
    test_size: int
    epochs: int
    synthetic: str
    isolate: bool
    zygote: bool
    allow_unisolated: bool
    threads_by_host: dict[str, int] = field(default_factory=dict)  # worker threads per host: kernels share its cores

    @classmethod
    def from_options(cls, opts: Options, threads_by_host: dict[str, int]) -> WorkerSettings:
        return cls(
            opts.assignment, str(opts.course_root), (str(opts.workspace), str(Path(opts.submissions).resolve()), str(opts.out)),
            opts.cell_timeout, opts.memory_mb, opts.job_timeout, opts.train_size, opts.test_size, opts.epochs, opts.synthetic,
            opts.isolate, opts.zygote, opts.allow_unisolated, dict(threads_by_host),
        )

    def options(self, here: Path, host: str, own_threads: int) -> Options:
        """The run's :class:`Options` as this worker applies them."""
        root = Path(self.course_root) if Path(self.course_root).is_dir() else here / "course"
        root.mkdir(exist_ok=True)
        return Options(
            self.assignment, Path(self.private[1]), root, out=Path(self.private[2]), jobs=max(1, self.threads_by_host.get(host, own_threads)),
            cell_timeout=self.cell_timeout, memory_mb=self.memory_mb, job_timeout=self.job_timeout, train_size=self.train_size,
            test_size=self.test_size, epochs=self.epochs, synthetic=self.synthetic, isolate=self.isolate, zygote=self.zygote, progress=False,
        )


@dataclass(frozen=True)
class ClusterJob:
    """One submission to execute, as bytes and plain data."""

    student: str
    notebook: str  # the repaired submission, nbformat JSON
    template_gradebook: bytes  # the template course's SQLite gradebook
    config: Config  # nbconfig.Stage.EXECUTE, without the job's kernel
    settings: WorkerSettings


def isolation_probe() -> str:
    """How kernels on this machine get their namespaces: "root", "userns" or "" (they cannot)."""
    as_root = os.geteuid() == 0
    flags = _CLONE_NEWNS | _CLONE_NEWNET | (0 if as_root else _CLONE_NEWUSER)
    code = f"import ctypes, sys; sys.exit(0 if ctypes.CDLL(None, use_errno=True).unshare({flags}) == 0 else 1)"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if done.returncode != 0 or not sys.platform.startswith("linux"):
        return ""
    return "root" if as_root else "userns"


class _WorkerState:
    """What one worker process keeps between jobs."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="course-grade-worker-"))
        self.base.chmod(0o711)  # kernels reach their own folders in it, nothing else
        self.private = self.base / "private"  # template gradebooks: the worker's only
        self.private.mkdir(mode=0o700)
        self.slots = itertools.count()
        self.lock = threading.Lock()
        self.isolation: str | None = None
        self.forker: zygote.Zygote | None = None
        self.forker_env: dict[str, str] = {}

    def probe(self) -> str:
        with self.lock:
            if self.isolation is None:
                self.isolation = isolation_probe()
            return self.isolation

    def zygote(self, opts: Options) -> zygote.Zygote | None:
        """This worker's zygote for kernels with ``opts``' environment (started at the first job)."""
        env = kernel_env(opts)
        with self.lock:
            if self.forker is not None and (self.forker_env != env or self.forker.process.poll() is not None):
                self.forker.stop()
                self.forker = None
            if self.forker is None:
                self.forker = start_zygote(opts, self.base, self.base / "zygote.log")
                self.forker_env = env
            return self.forker

    def close(self) -> None:
        with self.lock:
            if self.forker is not None:
                self.forker.stop()
                self.forker = None
        shutil.rmtree(self.base, ignore_errors=True)


_STATES: dict[int, _WorkerState] = {}
_STATES_LOCK = threading.Lock()


def _state() -> _WorkerState:
    with _STATES_LOCK:
        pid = os.getpid()
        if pid not in _STATES:
            _STATES[pid] = _WorkerState()
        return _STATES[pid]


def close_state() -> None:
    """Stop this process's zygote and remove its folder (the worker is closing)."""
    with _STATES_LOCK:
        state = _STATES.pop(os.getpid(), None)
    if state is not None:
        state.close()


class GraderPlugin(WorkerPlugin):
    """Registered by the grader on every worker: stops the worker's zygote when it closes."""

    name = PLUGIN_NAME

    def teardown(self, worker) -> None:
        close_state()


def worker_name(worker=None) -> str:
    """The name of ``worker`` (default: the one this runs in), its address when it has no other."""
    worker = worker or get_worker()
    return str(worker.name if worker.name is not None else worker.address)


def check_worker(allow_unisolated: bool, isolate: bool = True, dask_worker=None) -> dict:
    """Whether this worker will grade, and the isolation it can give (``client.run`` passes ``dask_worker``)."""
    problems = []
    if multiprocessing.current_process().daemon:
        problems.append(
            "its process is daemonic and cannot start a job's child process: start workers with "
            "DASK_DISTRIBUTED__WORKER__DAEMON=False (or dask worker --no-nanny)"
        )
    isolation = _state().probe()
    if isolate and not isolation and not allow_unisolated:
        problems.append(
            "it cannot give kernels their own namespaces (not root, no unprivileged user namespaces): run the "
            "worker as root or enable user namespaces (sysctl kernel.unprivileged_userns_clone=1), or grade "
            "with --allow-unisolated if you accept student code running unsandboxed there"
        )
    return {"name": worker_name(dask_worker), "isolation": isolation or "none", "problems": problems}


def _test_hooks(student: str) -> None:
    """Test-only: kill this worker for a poison student, or once, mid-job, for a crash test."""
    if os.environ.get(POISON_ENV) == student:
        os.kill(os.getpid(), signal.SIGKILL)
    crash = os.environ.get(CRASH_ONCE_ENV, "")
    if crash.partition(":")[0] == student:
        marker = Path(crash.partition(":")[2]) / student
        with contextlib.suppress(FileExistsError):
            marker.touch(exist_ok=False)
            threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGKILL)).start()


def grade_on_worker(job: ClusterJob) -> JobResult:
    """Execute ``job`` on this worker, sandboxed; its result, naming the worker."""
    _test_hooks(job.student)
    settings = job.settings
    state = _state()
    checked = check_worker(settings.allow_unisolated, settings.isolate)
    if checked["problems"]:
        raise WorkerRefused(f"worker {checked['name']} refuses grading jobs: " + "; ".join(checked["problems"]))
    worker = get_worker()
    host = worker.address.rsplit("://", 1)[-1].rsplit(":", 1)[0]
    opts = settings.options(state.base, host, worker.state.nthreads)
    slot = next(state.slots)
    template = state.private / f"{slot}-template.db"
    template.write_bytes(job.template_gradebook)
    try:
        forker = state.zygote(opts)
        result = execute_in_sandbox(
            opts, job.student, job.notebook, f"sqlite:///{template}", job.config, slot, state.base, forker,
            grader_env(), state.base / "jobs", (str(state.private),), target=execute_with_parent,
        )
    finally:
        template.unlink(missing_ok=True)
    result.worker = checked["name"]
    return result
