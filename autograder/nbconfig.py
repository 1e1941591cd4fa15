"""One function turns the grader's settings into nbgrader's configuration, for every run.

nbgrader is configured with traitlets: the course's ``nbgrader_config.py`` first, then
what a stage of the grader needs on top, with preprocessors switched on and off through
their ``enabled`` flags as nbgrader's own apps do. No configuration file is generated.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

from traitlets.config import Config

from .environment import TF_LOG_PATTERN
from .nbgrader_runs import load_course_config
from .options import CELL_OUTPUT_LIMIT, Options


class Stage(str, enum.Enum):
    """The nbgrader runs of the grader and of ``course-grade release``."""

    RELEASE = "release"  # generate release/ for students (no gradebook)
    TEMPLATE = "template"  # generate the assignment in the private template course
    REGISTER = "register"  # make the main gradebook know the assignment
    EXECUTE = "execute"  # the preprocessors of one grading job
    RECORD = "record"  # score executed notebooks into the main gradebook (no execution)


def _relative(path: Path, root: Path) -> str:
    """nbgrader's directory settings are names inside the course root."""
    return os.path.relpath(path, root)


def nbgrader_config(
    opts: Options,
    stage: Stage,
    *,
    root: Path | None = None,
    student: str | None = None,
    release_dir: Path | None = None,
    kernel_name: str = "",
    ipc_dir: str = "",
) -> Config:
    """The whole configuration of one nbgrader run of ``stage`` for ``opts.assignment``.

    ``root``: the course directory of the run (the template course for ``TEMPLATE``);
    ``student``: limit the run to one student; ``release_dir``: where ``RELEASE`` and
    ``REGISTER`` write the student version; ``kernel_name``/``ipc_dir``: the grading
    kernel of an ``EXECUTE`` job.
    """
    root = (root or opts.course_root).resolve()
    config = load_course_config(opts.course_root)
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.assignment_id = opts.assignment
    if student is not None:
        c.CourseDirectory.student_id = student
    c.BaseConverter.force = True

    if stage is Stage.RELEASE:
        c.CourseDirectory.release_directory = str(release_dir or root / "release")
        c.GenerateAssignment.no_database = True
        c.SaveCells.enabled = False
    elif stage is Stage.TEMPLATE:
        c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
        c.GenerateAssignment.create_assignment = True
    elif stage is Stage.REGISTER:
        c.CourseDirectory.db_url = opts.db
        c.CourseDirectory.release_directory = _relative(release_dir or opts.workspace / "release", root)
        c.GenerateAssignment.create_assignment = True
    elif stage is Stage.EXECUTE:
        c.HardenedExecute.kernel_name = kernel_name
        c.HardenedExecute.ipc_dir = ipc_dir
        c.HardenedExecute.timeout = int(opts.cell_timeout)
        c.HardenedExecute.interrupt_on_timeout = True
        c.HardenedExecute.memory_limit_mb = int(opts.memory_mb)
        c.HardenedExecute.cell_output_limit = CELL_OUTPUT_LIMIT
        c.IgnorePattern.enabled = True
        c.IgnorePattern.pattern = TF_LOG_PATTERN
    elif stage is Stage.RECORD:
        # the notebooks were executed by the jobs: keep their outputs, run nothing
        c.CourseDirectory.db_url = opts.db
        c.CourseDirectory.submitted_directory = _relative(opts.workspace / "executed", root)
        c.Autograde.create_student = True
        c.ClearOutput.enabled = False
        c.Execute.enabled = False
        c.IgnorePattern.enabled = True
        c.IgnorePattern.pattern = TF_LOG_PATTERN
    config.merge(c)
    return config
