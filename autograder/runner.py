"""Run a grading run's jobs on this machine, ``--jobs`` at a time.

Each job gets a worker slot, its sandbox (:mod:`.sandbox_setup`) and a child process
(:mod:`.nbgrader_runs`) that executes it (:mod:`.job`); kernels are forked from the run's
zygote (:mod:`.zygote`), which has TensorFlow imported. A job that fails or runs past
``--job-timeout`` yields a result without an executed notebook, never an exception.
"""

from __future__ import annotations

import queue
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat

from . import zygote
from .environment import kernel_env
from .job import JobResult, JobSpec, execute, failed
from .nbconfig import Stage, nbgrader_config
from .nbgrader_runs import call
from .options import Options
from .outcomes import EventKind
from .prepare import Prepared
from .sandbox_setup import job_sandbox, matplotlib_config


def start_zygote(opts: Options, base: Path) -> zygote.Zygote | None:
    """The run's kernel zygote; None where it cannot be used."""
    if not (opts.zygote and zygote.Zygote.available()):
        return None
    folder = Path(tempfile.mkdtemp(prefix="zygote-", dir=base))  # 0700: the grader's only
    env = dict(kernel_env(opts), MPLCONFIGDIR=str(matplotlib_config(folder / "matplotlib")))
    return zygote.Zygote(str(folder), env, str(opts.workspace / "zygote.log"))


def _run_one(
    opts: Options, prepared: Prepared, student: str, notebook: nbformat.NotebookNode, slots: queue.Queue[int],
    base: Path, forker: zygote.Zygote | None, env: dict[str, str],
) -> JobResult:
    slot = slots.get()
    try:
        hidden = [forker.folder] if forker is not None else []
        with job_sandbox(opts, base, student, slot, forker.provisioner() if forker else None, hidden) as box:
            spec = JobSpec(
                assignment=opts.assignment,
                student=student,
                notebook=nbformat.writes(notebook),
                template_db=prepared.template_db,
                config=nbgrader_config(opts, Stage.EXECUTE, kernel_name=box.kernel_name, ipc_dir=str(box.folder)),
                kernel_env=kernel_env(opts),
                workdir=str(box.folder),
                isolation_status_file=str(box.status_file) if opts.isolate else "",
            )
            jobs_log = opts.workspace / "jobs"
            jobs_log.mkdir(exist_ok=True)
            done = call(
                execute, spec, cwd=box.folder, env=dict(env, JUPYTER_PATH=str(box.jupyter_path)),
                log=jobs_log / f"{student}.log", timeout=opts.job_timeout,
            )
        if done.timed_out:
            return failed(student, EventKind.JOB_TIMEOUT, f"grading took over {opts.job_timeout} s", opts.job_timeout)
        if done.exitcode != 0 or not isinstance(done.value, JobResult):
            return failed(student, EventKind.GRADER_ERROR, done.error or f"the job ended with exit code {done.exitcode}")
        return done.value
    finally:
        slots.put(slot)


def run_jobs(opts: Options, prepared: Prepared, pending: list[tuple[str, nbformat.NotebookNode]], env: dict[str, str]) -> Iterator[JobResult]:
    """Execute ``pending`` notebooks; yield each job's result as it finishes."""
    if not pending:
        return
    base = Path(tempfile.mkdtemp(prefix="course-grade-"))
    base.chmod(0o711)
    forker = start_zygote(opts, base)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(opts.jobs):
        slots.put(slot)
    bar = None
    if opts.progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc=f"grading {opts.assignment}", unit="nb", file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=opts.jobs) as pool:
            futures = {pool.submit(_run_one, opts, prepared, s, nb, slots, base, forker, env): s for s, nb in pending}
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
