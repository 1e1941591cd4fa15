"""One grading job: a student's repaired notebook in, the executed notebook and events out.

:func:`execute` runs in a child process (see :mod:`.nbgrader_runs`). It does what
``nbgrader autograde`` does before scoring, with nbgrader's own preprocessors: clear the
outputs, put back the instructor's versions of locked and test cells and the kernelspec
(read from the template gradebook, never written), check the cell metadata; then it
executes the notebook with :class:`~autograder.execute.HardenedExecute` in the job's
sandboxed kernel, where every graded test cell is judged outside the kernel
(:mod:`.trusted`, from the instructor's cells in :mod:`.instructor_cells`). Scoring happens later, in one nbgrader run over all executed notebooks
(:mod:`.recording`). A job writes nothing but its kernel's folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import nbformat
from traitlets.config import Config

from .outcomes import EventKind, ExecutionEvent


@dataclass(frozen=True)
class JobSpec:
    """Everything one job needs, as plain data."""

    assignment: str
    student: str
    notebook: str  # the repaired submission, nbformat JSON
    template_db: str  # gradebook URL of the template course (read only)
    config: Config  # nbconfig.Stage.EXECUTE
    kernel_env: dict[str, str]
    workdir: str  # the kernel's working folder
    isolation_status_file: str = ""
    gate: Any = None  # the child's end of a pipe to a :class:`~autograder.gate.Keeper` (None: run at once)


@dataclass
class JobResult:
    student: str
    executed: str | None  # the executed notebook, nbformat JSON; None when it could not run
    events: list[ExecutionEvent] = field(default_factory=list)
    isolation: dict = field(default_factory=dict)
    seconds: float = 0.0
    worker: str = ""  # the cluster worker that ran it ("" on the grader's own machine)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the job


def execute(spec: JobSpec) -> JobResult:
    """Sanitise and execute one notebook (in a child process)."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern, OverwriteCells, OverwriteKernelspec

    from .execute import HardenedExecute
    from .instructor_cells import InstructorCells

    started = time.monotonic()
    nb = nbformat.reads(spec.notebook, as_version=4)
    resources = {
        "nbgrader": {"db_url": spec.template_db, "assignment": spec.assignment, "notebook": spec.assignment, "student": spec.student},
        "metadata": {"path": spec.workdir},
    }
    for preprocessor in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
        nb, resources = preprocessor(config=spec.config)(nb, resources)
    instructor = InstructorCells.from_gradebook(spec.template_db, spec.assignment)
    sanitised = time.monotonic()
    executor = HardenedExecute(config=spec.config, kernel_env=spec.kernel_env, isolation_status_file=spec.isolation_status_file)
    executor.use_judge(instructor)
    if spec.gate is not None:
        from .gate import Gate

        executor.gate = Gate(spec.gate)
    nb, resources = executor(nb, resources)
    nb, resources = IgnorePattern(config=spec.config)(nb, resources)
    timings = {"sanitise": sanitised - started, **executor.timings}
    return JobResult(spec.student, nbformat.writes(nb), list(executor.events), executor.isolation, time.monotonic() - started, timings=timings)


def execute_with_parent(spec: JobSpec) -> JobResult:
    """:func:`execute` in a child that dies with its parent (a cluster worker's forkserver).

    A cluster worker that is killed takes its forkserver with it; its job must not run on
    unwatched (the job is retried elsewhere).
    """
    from .sandbox_kernel import die_with_parent

    die_with_parent()
    return execute(spec)


def unexecuted(notebook: nbformat.NotebookNode, reason: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose code cells all carry an error: graded 0 on every test."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(notebook)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("error", ename="NotExecuted", evalue=reason, traceback=[f"NotExecuted: {reason}"])]
    return nb


def failed(student: str, kind: EventKind, detail: str, seconds: float = 0.0) -> JobResult:
    """The result of a job that produced no executed notebook."""
    return JobResult(student, None, [ExecutionEvent(kind, None, detail)], {}, seconds)
