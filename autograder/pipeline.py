"""From a folder or zip of handed-in notebooks to grades, feedback and a problem report.

The stages, in order (each is a module with one job):

1. :mod:`.prepare`: the assignment's template course and the main gradebook's entry;
2. :mod:`.intake`: find the notebooks and whose they are (a folder, a zip, or a Sakai,
   Moodle or Canvas download with its submission times and comments);
3. per student: parse and :mod:`.repair` the notebook, :mod:`.checks` review its code
   (a student whose file breaks any of this is ``invalid`` with the reason, nobody else
   is affected);
4. :mod:`.runner`: execute the notebooks, ``--jobs`` at a time, each in a sandboxed
   kernel (:mod:`.job`, :mod:`.sandbox_setup`, :mod:`.zygote`); or :mod:`.cluster`: on
   the workers of a Dask cluster (``--cluster``), each applying the same sandbox
   (:mod:`.cluster_worker`); ``--resume`` skips students recorded before (:mod:`.resume`);
5. :mod:`.recording`: one writer scores the executed notebooks into nbgrader's
   gradebook (with the submission times), then reads the scores back; :mod:`.late`
   takes off the late penalty;
6. :mod:`.reports`: grades.csv, grades_by_test.csv, report.json and the feedback pages.

Settings come from :class:`~.options.Options`; nbgrader's configuration for every run
from :func:`~.nbconfig.nbgrader_config`; outcomes are typed (:mod:`.outcomes`).
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import nbformat

from . import cells, checks, late, resume
from .cluster import ClusterLost
from .environment import grader_env
from .ingest import Submission
from .intake import handins
from .job import JobResult, unexecuted
from .options import Options
from .outcomes import ExecutionEvent, Outcome, Status, StudentResult, describe_events, status_of, worst
from .prepare import GradingError, assignments, prepare, require_assignment
from .recording import read_scores, record
from .repair import InvalidSubmission, Step, invalid_on_error, repair
from .reports import summary_table, write_outputs
from .runner import run_jobs

__all__ = ["GradingError", "Options", "Outcome", "StudentResult", "assignments", "grade", "require_assignment", "summary_table"]


def _review(result: StudentResult, sub: Submission, release: nbformat.NotebookNode, names: set[str]) -> nbformat.NotebookNode | None:
    """Parse, repair and review one submission; None (and ``invalid``) when it cannot be graded.

    Whatever breaks while reading, repairing or reviewing one student's file makes that
    student ``invalid`` with the reason; everyone else is graded.
    """
    try:
        nb = sub.notebook()  # InvalidSubmission when refused (too large) or unreadable
        with invalid_on_error(Step.REPAIR):
            fixed = repair(nb, release)
        with invalid_on_error(Step.REVIEW):
            findings = [str(f) for f in checks.review(fixed.notebook, names)]
    except InvalidSubmission as exc:
        result.status = Status.INVALID
        result.problems.append(f"not gradable: {exc}; scored 0")
        return None
    result.repairs = fixed.notes
    result.findings = findings
    if findings:
        result.status = worst(result.status, Status.REVIEW)
    return fixed.notebook


def _take(result: StudentResult, job: JobResult, submitted: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Fold a job's result into the student's; the notebook to record."""
    events: list[ExecutionEvent] = job.events
    result.seconds = round(job.seconds, 1)
    result.timings = {phase: round(seconds, 2) for phase, seconds in job.timings.items()}
    result.worker = job.worker
    result.isolation = job.isolation
    result.events = [e.as_dict() for e in events]
    result.problems += describe_events(events)
    result.status = worst(result.status, status_of(events, executed=job.executed is not None, findings=False))
    if job.executed is not None:
        return nbformat.reads(job.executed, as_version=4)
    result.problems.append("nbgrader could not execute this notebook; every test scored 0 (see report.json)")
    return unexecuted(submitted, "the notebook could not be executed")


def _take_earlier(result: StudentResult, job: JobResult) -> None:
    """Fold the job of an earlier run (``--resume``) into the student's result."""
    result.seconds = round(job.seconds, 1)
    result.worker = job.worker
    result.isolation = job.isolation
    result.events = [e.as_dict() for e in job.events]
    result.problems += describe_events(job.events)
    result.status = worst(result.status, status_of(job.events, executed=True, findings=False))


def _run(opts: Options, prepared, pending: list[tuple[str, nbformat.NotebookNode]], env: dict[str, str]):
    """The run's jobs on this machine, or on the Dask cluster ``opts.cluster`` names."""
    if opts.cluster:
        from .cluster import run_jobs as run_on_cluster

        return run_on_cluster(opts, prepared, pending)
    return run_jobs(opts, prepared, pending, env)


def _submission_time(sub: Submission, result: StudentResult, fields) -> datetime | None:
    """When the student handed in: the LMS's time where it wrote one, else the file's."""
    if fields is not None:
        result.comment = fields.comment
        result.lms_late = fields.late_flag
    stamp = fields.submitted_at if fields is not None and fields.submitted_at else sub.modified
    if stamp is None:
        return None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    result.submitted_at = stamp.isoformat()
    return stamp


def _apply_late(opts: Options, result: StudentResult, submitted_at: datetime | None) -> None:
    outcome = late.apply(opts.late, result.score, submitted_at)
    result.lateness_hours = round(outcome.lateness.total_seconds() / 3600, 2)
    result.late_penalty = round(outcome.penalty, 4)
    result.final_score = round(outcome.final, 4)
    if outcome.penalty:
        result.problems.append(f"late by {result.lateness_hours:g} h: {outcome.percent:g} % ({outcome.penalty:g} points) taken off")


def grade(opts: Options) -> Outcome:
    """Grade ``opts.submissions`` for ``opts.assignment``; write and return the outcome."""
    started = time.monotonic()
    require_assignment(opts.course_root, opts.assignment)
    opts.workspace.mkdir(parents=True, exist_ok=True)
    os.chmod(opts.workspace.parent, 0o700)
    env = grader_env()
    prepared = prepare(opts, env)

    found = handins(opts)
    names = cells.instructor_names(prepared.release)
    max_points = cells.max_points(prepared.release)
    results: dict[str, StudentResult] = {}
    times: dict[str, datetime] = {}
    pending: dict[str, nbformat.NotebookNode] = {}
    for sub in found.submissions:
        result = results[sub.student] = StudentResult(sub.student, sub.origin, max_score=max_points, problems=list(sub.notes))
        stamp = _submission_time(sub, result, found.fields.get(sub.student))
        if stamp is not None:
            times[sub.student] = stamp
        notebook = _review(result, sub, prepared.release, names)
        if notebook is not None:
            pending[sub.student] = notebook

    digests = {s: resume.fingerprint(opts, nbformat.writes(nb)) for s, nb in pending.items()}
    earlier = resume.recorded_earlier(opts, digests) if opts.resume else {}
    for student, job in earlier.items():  # --resume: recorded before from the same notebook
        _take_earlier(results[student], job)
        del pending[student]
    executed: dict[str, nbformat.NotebookNode] = {}
    jobs: dict[str, JobResult] = {}
    isolation: dict = next((j.isolation for j in earlier.values() if j.isolation), {})
    lost: ClusterLost | None = None
    try:
        for job in _run(opts, prepared, list(pending.items()), env):
            executed[job.student] = _take(results[job.student], job, pending[job.student])
            jobs[job.student] = job
            isolation = isolation or job.isolation
    except ClusterLost as exc:  # keep and record what finished; a re-run with --resume does the rest
        lost = exc

    if executed:
        record(opts, executed, env, times)
    read_scores(opts, {s: results[s] for s in [*executed, *earlier]})
    resume.save(opts, {s: (digests[s], j) for s, j in jobs.items() if j.executed is not None and "no grade recorded by nbgrader" not in results[s].problems})
    if lost is not None:
        for student in sorted(set(pending) - set(executed)):
            results[student].status = worst(results[student].status, Status.ERROR)
            results[student].problems.append("not graded: the cluster's scheduler went away; run again with --resume")
    for student, result in results.items():
        _apply_late(opts, result, times.get(student))
    ordered = [results[s] for s in sorted(results)]
    lms_name = found.lms.value if found.lms else None
    outcome = Outcome(ordered, found.problems, isolation, opts.out, time.monotonic() - started, lms_name)
    write_outputs(opts, outcome)
    if lost is not None:
        raise GradingError(
            f"{lost}. {len(executed)} notebook(s) executed before it were recorded, {len(pending) - len(executed)} were not graded "
            f"(see {opts.out / 'grades.csv'}); start the scheduler again and re-run the same command with --resume to grade only those."
        )
    return outcome
