"""Scores into nbgrader's gradebook, by one writer, and back out of it.

:func:`record` runs ``nbgrader autograde`` once over all executed notebooks with
execution switched off (nbgrader's own checksums, cell overwrite and score saving) and
the submission times in nbgrader's ``timestamp.txt``; a run that fails is retried
student by student so one odd notebook costs nobody else. :func:`read_scores` reads what
nbgrader recorded. nbgrader is given no due date: the late penalty is the grader's
(:mod:`.late`), so it is never taken twice.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import nbformat

from .nbconfig import Stage, nbgrader_config
from .nbgrader_runs import Converter, convert
from .options import Options
from .outcomes import Status, StudentResult, worst


def record(opts: Options, executed: dict[str, nbformat.NotebookNode], env: dict[str, str], times: dict[str, datetime]) -> None:
    """Save the scores of ``executed`` notebooks (and when each was handed in) with nbgrader."""
    a = opts.assignment
    runs = opts.workspace / "executed"
    shutil.rmtree(runs, ignore_errors=True)
    for student, nb in executed.items():
        target = runs / student / a / f"{a}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
        if student in times:
            (target.parent / "timestamp.txt").write_text(times[student].isoformat(), encoding="utf-8")
    log = opts.workspace / "record.log"
    done = convert(Converter.AUTOGRADE, nbgrader_config(opts, Stage.RECORD), log=log, env=env)
    if done.exitcode != 0:
        for student in sorted(executed):
            convert(Converter.AUTOGRADE, nbgrader_config(opts, Stage.RECORD, student=student), log=log, env=env)


def read_scores(opts: Options, results: dict[str, StudentResult]) -> None:
    """Fill in each result's scores from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    a = opts.assignment
    with Gradebook(opts.db) as gb:
        for student, result in results.items():
            try:
                notebook = gb.find_submission_notebook(a, a, student)
            except MissingEntry:
                result.problems.append("no grade recorded by nbgrader")
                result.status = worst(result.status, Status.ERROR)
                continue
            for grade in notebook.grades:
                result.tests[grade.name] = [float(grade.score), float(grade.max_score)]
                if grade.needs_manual_grade:
                    result.manual_pending += float(grade.max_score)
            result.score = float(notebook.score)
            result.max_score = float(notebook.max_score)
