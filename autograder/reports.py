"""The run's outputs: grades.csv, grades_by_test.csv, report.json, feedback/ and the table.

Feedback pages are :mod:`.feedback_page`'s (Japanese by default, hidden tests never
shown, student content sanitised). A run limited to some students (``--student``)
updates their rows and feedback and keeps everyone else's from the earlier run in the
same folder.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime

from . import feedback_page, late
from .options import Options
from .outcomes import Outcome, StudentResult


def earlier_results(opts: Options, regraded: set[str]) -> list[StudentResult]:
    """Results an earlier run wrote to the output folder for students this run left alone."""
    try:
        report = json.loads((opts.out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if report.get("assignment") != opts.assignment:
        return []
    kept = []
    for student, data in report.get("students", {}).items():
        if student not in regraded:
            try:
                kept.append(StudentResult(**data))
            except (TypeError, ValueError):  # written by another version: skip rather than guess
                continue
    return kept


def write_outputs(opts: Options, outcome: Outcome) -> None:
    """grades.csv, grades_by_test.csv, report.json and feedback/ in the output folder."""
    out, a = outcome.out, opts.assignment
    out.mkdir(parents=True, exist_ok=True)
    regraded = {r.student for r in outcome.results}
    results = list(outcome.results)
    if opts.students is not None:
        results = sorted(results + earlier_results(opts, regraded), key=lambda r: r.student)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["student", "assignment", "score", "max_score", "manual_pending", "status", "origin", "problems",
             "submitted_at", "lateness_hours", "late_penalty", "final_score"]
        )
        for r in results:
            w.writerow(
                [r.student, a, f"{r.score:g}", f"{r.max_score:g}", f"{r.manual_pending:g}", r.status.value, r.origin, r.problem_summary(),
                 r.submitted_at or "", f"{r.lateness_hours:g}", f"{r.late_penalty:g}", f"{r.final_score:g}"]
            )
    with open(out / "grades_by_test.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "test", "score", "max_score"])
        for r in results:
            for name, (score, max_score) in sorted(r.tests.items()):
                w.writerow([r.student, a, name, f"{score:g}", f"{max_score:g}"])
    report = {
        "assignment": a,
        "lms": outcome.lms,
        "seconds": round(outcome.seconds, 1),
        "isolation": outcome.isolation,
        "ingest_problems": outcome.ingest_problems,
        "students": {r.student: r.as_dict() for r in results},
    }
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    feedback = out / "feedback"
    if opts.students is None:
        shutil.rmtree(feedback, ignore_errors=True)
    feedback.mkdir(exist_ok=True)
    for result in outcome.results:
        write_feedback(opts, result, feedback / f"{result.student}.html")


def write_feedback(opts: Options, result: StudentResult, target) -> None:
    """``result``'s feedback page from the gradebook and nbgrader's scored notebook."""
    submitted = datetime.fromisoformat(result.submitted_at) if result.submitted_at else None
    outcome = late.apply(opts.late, result.score, submitted) if opts.late else None
    page = feedback_page.page_for(
        opts.course_root, opts.assignment, opts.db, result.student, outcome, submitted, feedback_page.Lang(opts.feedback_lang)
    )
    if page is None:
        target.unlink(missing_ok=True)  # no stale feedback for a notebook that no longer grades
    else:
        target.write_text(page, encoding="utf-8")


def summary_table(outcome: Outcome) -> str:
    """The table ``course-grade`` prints: one line per student."""
    rows = [("student", "score", "max", "late", "status", "problems")]
    for r in outcome.results:
        summary = r.problem_summary()
        late_text = f"-{r.late_penalty:g}" if r.late_penalty else ""
        rows.append((r.student, f"{r.score:g}", f"{r.max_score:g}", late_text, r.status.value, summary[:90] + ("…" if len(summary) > 90 else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(lines)
