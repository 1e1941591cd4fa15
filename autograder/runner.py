"""Run a grading run's jobs on this machine, ``--jobs`` at a time.

One job more than ``--jobs`` is under way: it starts its kernel while the others execute
and waits for a turn (:mod:`.gate`). Each job gets a worker slot, its sandbox (:mod:`.sandbox_setup`) and a child process
(:mod:`.nbgrader_runs`) that executes it (:mod:`.job`); kernels are forked from the run's
zygote (:mod:`.zygote`), which has TensorFlow imported. A job that fails or runs past
``--job-timeout`` yields a result without an executed notebook, never an exception.
"""

from __future__ import annotations

import copy
import queue
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
from traitlets.config import Config

from . import zygote
from .environment import kernel_env
from .gate import Keeper
from .job import JobResult, JobSpec, execute, failed
from .nbconfig import Stage, nbgrader_config
from .nbgrader_runs import call, pipe
from .options import Options
from .outcomes import EventKind
from .prepare import Prepared
from .sandbox_setup import job_sandbox, matplotlib_config


def start_zygote(opts: Options, base: Path, log: Path | None = None) -> zygote.Zygote | None:
    """The run's kernel zygote (its output in ``log``, else the workspace); None where it cannot be used."""
    if not (opts.zygote and zygote.Zygote.available()):
        return None
    folder = Path(tempfile.mkdtemp(prefix="zygote-", dir=base))  # 0700: the grader's only
    env = dict(kernel_env(opts), MPLCONFIGDIR=str(matplotlib_config(folder / "matplotlib")))
    return zygote.Zygote(str(folder), env, str(log or opts.workspace / "zygote.log"))


def execute_in_sandbox(
    opts: Options, student: str, notebook: str, template_db: str, config: Config, slot: int,
    base: Path, forker: zygote.Zygote | None, env: dict[str, str], logs: Path, extra_hidden: tuple[str, ...] = (),
    target: Callable[[JobSpec], JobResult] = execute, turns: threading.Semaphore | None = None,
) -> JobResult:
    """Run one job (``notebook`` as nbformat JSON) in its sandbox and a child process.

    ``config``: nbgrader's EXECUTE configuration, without the job's kernel (set here).
    Used by :func:`run_jobs` and by cluster workers (:mod:`.cluster_worker`). ``turns``: the
    job starts its kernel at once but executes cells only while it holds one (:mod:`.gate`).
    """
    hidden = [forker.folder] if forker is not None else []
    with job_sandbox(opts, base, student, slot, forker.provisioner() if forker else None, [*hidden, *extra_hidden]) as box:
        keeper, child_end = None, None
        if turns is not None:
            parent_end, child_end = pipe()
            keeper = Keeper(parent_end, turns)
        own = copy.deepcopy(config)
        own.merge(Config({"HardenedExecute": {"kernel_name": box.kernel_name, "ipc_dir": str(box.folder)}}))
        spec = JobSpec(
            assignment=opts.assignment,
            student=student,
            notebook=notebook,
            template_db=template_db,
            config=own,
            kernel_env=kernel_env(opts),
            workdir=str(box.folder),
            isolation_status_file=str(box.status_file) if opts.isolate else "",
            gate=child_end,
        )
        logs.mkdir(exist_ok=True)
        try:
            done = call(
                target, spec, cwd=box.folder, env=dict(env, JUPYTER_PATH=str(box.jupyter_path)),
                log=logs / f"{student}.log", timeout=opts.job_timeout,
            )
        finally:
            if keeper is not None:
                child_end.close()
                keeper.close()
    if done.timed_out:
        return failed(student, EventKind.JOB_TIMEOUT, f"grading took over {opts.job_timeout} s", opts.job_timeout)
    if done.exitcode != 0 or not isinstance(done.value, JobResult):
        return failed(student, EventKind.GRADER_ERROR, done.error or f"the job ended with exit code {done.exitcode}")
    return done.value


def _run_one(
    opts: Options, prepared: Prepared, student: str, notebook: nbformat.NotebookNode, slots: queue.Queue[int],
    base: Path, forker: zygote.Zygote | None, env: dict[str, str], config: Config, turns: threading.Semaphore,
) -> JobResult:
    slot = slots.get()
    try:
        return execute_in_sandbox(
            opts, student, nbformat.writes(notebook), prepared.template_db, config, slot, base, forker, env, opts.workspace / "jobs", turns=turns,
        )
    finally:
        slots.put(slot)


def run_jobs(opts: Options, prepared: Prepared, pending: list[tuple[str, nbformat.NotebookNode]], env: dict[str, str]) -> Iterator[JobResult]:
    """Execute ``pending`` notebooks; yield each job's result as it finishes."""
    if not pending:
        return
    base = Path(tempfile.mkdtemp(prefix="course-grade-"))
    base.chmod(0o711)
    forker = start_zygote(opts, base)
    config = nbgrader_config(opts, Stage.EXECUTE)
    # one job more than --jobs: it starts its kernel while the others execute (gate.py)
    running = opts.jobs + 1
    turns = threading.Semaphore(opts.jobs)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(running):
        slots.put(slot)
    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc=f"grading {opts.assignment}", unit="nb", file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=running) as pool:
            futures = {pool.submit(_run_one, opts, prepared, s, nb, slots, base, forker, env, config, turns): s for s, nb in pending}
            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:  # a grading bug must not cost other students
                    result = failed(futures[future], EventKind.GRADER_ERROR, repr(exc))
                if bar is not None:
                    bar.update(1)
                yield result
    finally:
        if bar is not None:
            bar.close()
        if forker is not None:
            forker.stop()
        import shutil

        shutil.rmtree(base, ignore_errors=True)
