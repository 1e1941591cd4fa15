"""What grading found, typed: execution events, a student's status and result, the run.

The strings that reach ``report.json`` and ``grades.csv`` are the enums' values, so
the files keep their shape; in code every outcome is a member, and one function
(:func:`worst`) decides which status wins.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class EventKind(str, enum.Enum):
    """Something that happened while a notebook ran (reported, some of it scored)."""

    TIMEOUT = "timeout"  # a cell ran too long and was interrupted; the rest ran
    TIMEOUT_IGNORED_INTERRUPT = "timeout-ignored-interrupt"  # ... and ignored it: kernel stopped
    KERNEL_DIED = "kernel-died"  # crash, os._exit, a signal or the memory limit
    KERNEL_ERROR = "kernel-error"  # the kernel could not start
    NOT_RUN = "not-run"  # a test cell after the kernel stopped: scored 0
    OUTPUT_TRUNCATED = "output-truncated"
    INTEGRITY_RESTORED = "integrity-restored"  # the guard undid a patch before a test
    VERDICT_DIFFERS = "verdict-differs"  # the kernel reported a pass the judge did not confirm
    JOB_TIMEOUT = "job-timeout"  # the whole notebook took too long
    GRADER_ERROR = "grader-error"  # a bug of the grader's, reported rather than fatal
    WORKER_LOST = "worker-lost"  # cluster: every worker that ran the job died (retries used up)

    @property
    def stopped_the_kernel(self) -> bool:
        return self in {EventKind.KERNEL_DIED, EventKind.TIMEOUT_IGNORED_INTERRUPT, EventKind.JOB_TIMEOUT}


@dataclass(frozen=True)
class ExecutionEvent:
    kind: EventKind
    cell: int | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "cell": self.cell, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionEvent:
        return cls(EventKind(data["kind"]), data.get("cell"), data.get("detail", ""))

    def describe(self) -> str:
        where = f"cell {self.cell}: " if self.cell is not None else ""
        return f"{self.kind.value} ({where}{self.detail})"


class Status(str, enum.Enum):
    """A student's overall state in grades.csv, from best to worst."""

    GRADED = "graded"  # ran and was scored
    REVIEW = "review"  # scored, but an instructor should look (tricks found or defeated)
    PARTIAL = "partial"  # the kernel stopped early: scored on what ran
    ERROR = "error"  # could not be executed or recorded: every test scored 0
    INVALID = "invalid"  # not a notebook (bad JSON, too large ...): scored 0


_RANK = {status: rank for rank, status in enumerate(Status)}


def worst(*statuses: Status) -> Status:
    """The status that wins when several apply (the order of :class:`Status`)."""
    return max(statuses, key=_RANK.__getitem__, default=Status.GRADED)


def status_of(events: list[ExecutionEvent], *, executed: bool, findings: bool) -> Status:
    """A graded notebook's status from what happened to it."""
    found = [Status.GRADED]
    if findings or any(e.kind in (EventKind.INTEGRITY_RESTORED, EventKind.VERDICT_DIFFERS) for e in events):
        found.append(Status.REVIEW)
    if any(e.kind.stopped_the_kernel for e in events):
        found.append(Status.PARTIAL)
    if not executed or any(e.kind is EventKind.KERNEL_ERROR for e in events):
        found.append(Status.ERROR)
    return worst(*found)


def describe_events(events: list[ExecutionEvent]) -> list[str]:
    """One problem line per event; test cells not run are counted in one line."""
    problems = [e.describe() for e in events if e.kind is not EventKind.NOT_RUN]
    not_run = sum(1 for e in events if e.kind is EventKind.NOT_RUN)
    if not_run:
        problems.append(f"{not_run} test cell(s) not run after the kernel stopped: scored 0")
    return problems


@dataclass
class StudentResult:
    student: str
    origin: str
    status: Status = Status.GRADED
    score: float = 0.0
    max_score: float = 0.0
    manual_pending: float = 0.0
    tests: dict[str, list[float]] = field(default_factory=dict)
    repairs: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the job (sanitise, kernel start, cells, judge, kernel stop)
    submitted_at: str | None = None  # ISO 8601 with offset, as the LMS wrote it (or the file's time)
    comment: str | None = None  # what the student wrote to the LMS with the file
    lms_late: bool | None = None  # the LMS's own late marker, where it writes one
    lateness_hours: float = 0.0  # after the due date (0 when on time or no due date)
    late_penalty: float = 0.0  # points taken off for lateness
    final_score: float = 0.0  # score - late_penalty
    worker: str = ""  # the cluster worker that executed the notebook ("" on the grader's machine)
    isolation: dict = field(default_factory=dict)  # what the notebook's kernel sandbox achieved

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    def problem_summary(self) -> str:
        items = list(self.problems)
        items += [f"repaired: {r}" for r in self.repairs]
        items += [f"review: {f}" for f in self.findings]
        return "; ".join(items)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass
class Outcome:
    results: list[StudentResult]
    ingest_problems: list[dict]
    isolation: dict
    out: Path
    seconds: float
    lms: str | None = None  # the LMS whose download was graded
