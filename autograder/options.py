"""Every setting of a grading run, with its one default.

The command line (:mod:`.cli`), the course's ``nbgrader_config.py``, the benchmark and
the tests all read their defaults from here; nothing else states one. The grading-mode
data sizes are the notebooks' own (:mod:`course_utils.config`), so what the notebooks
tell students is what the grader does.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from course_utils import config as course_config

from .late import LatePolicy

#: seconds one cell may run before it is interrupted
CELL_TIMEOUT = 60
#: resident memory (MiB, children included) a notebook's kernel may use
MEMORY_MB = 3072
#: seconds one whole notebook may take, kernel start included
JOB_TIMEOUT = 900
#: submissions executed at once
JOBS = 2
#: characters of output kept per cell; the rest is dropped as it arrives
CELL_OUTPUT_LIMIT = 200_000
#: student ids are taken from file names with this pattern (text before the first "_")
ID_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.-]*)_"
#: when the loaders may hand out synthetic data while grading (see course_utils.config)
SYNTHETIC = "missing"
#: times a cluster job is started again after the worker running it died
RETRIES = 2


@dataclass
class Options:
    """What to grade and how; one instance per grading run."""

    assignment: str
    submissions: Path
    course_root: Path
    out: Path | None = None
    jobs: int = JOBS
    roster: Path | None = None
    id_pattern: str = ID_PATTERN
    students: set[str] | None = None
    db_url: str | None = None
    cell_timeout: int = CELL_TIMEOUT
    memory_mb: int = MEMORY_MB
    job_timeout: int = JOB_TIMEOUT
    train_size: int = course_config.DEFAULT_GRADING_TRAIN_SIZE
    test_size: int = course_config.DEFAULT_GRADING_TEST_SIZE
    epochs: int = course_config.DEFAULT_GRADING_EPOCHS
    synthetic: str = SYNTHETIC
    isolate: bool = True
    zygote: bool = True
    progress: bool = True
    lms: str | None = None  # sakai, moodle or canvas; None: recognised from the download's layout
    lms_timezone: str | None = None  # the zone of times an LMS writes without one (Moodle's zip)
    late: LatePolicy | None = None  # due date and penalty; None: no late penalty
    feedback_lang: str = "ja"  # the feedback pages' language (ja or en)
    cluster: str | None = None  # None: this machine; local:N, tcp://HOST:PORT or tls://HOST:PORT (autograder.cluster)
    retries: int = RETRIES  # cluster only: restarts of a job whose worker died
    resources: dict[str, float] | None = None  # cluster only: worker resources each job needs, e.g. {"GPU": 1}
    allow_unisolated: bool = False  # cluster only: let workers that cannot sandbox kernels grade
    resume: bool = False  # skip students recorded earlier from the same notebook and settings (autograder.resume)

    def __post_init__(self) -> None:
        self.submissions = Path(self.submissions)
        self.course_root = Path(self.course_root).resolve()
        self.out = (Path(self.out) if self.out else self.course_root / "grading-output" / self.assignment).resolve()
        for name in ("jobs", "cell_timeout", "memory_mb", "job_timeout", "train_size", "test_size", "epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if int(self.retries) < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries!r}")

    @property
    def workspace(self) -> Path:
        """The grader's private working folder for this assignment (never shown to kernels)."""
        return self.course_root / ".grading" / self.assignment

    @property
    def db(self) -> str:
        """The main gradebook's URL."""
        return self.db_url or f"sqlite:///{self.course_root / 'gradebook.db'}"

    @property
    def threads_per_job(self) -> int:
        """CPU threads TensorFlow and OpenMP may use in each of the ``jobs`` kernels."""
        return max(1, (os.cpu_count() or 1) // self.jobs)


def default(name: str):
    """The default of an :class:`Options` field, for the command line's help texts."""
    field = {f.name: f for f in dataclasses.fields(Options)}[name]
    return field.default
