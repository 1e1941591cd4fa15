"""The run's outputs: grades.csv, grades_by_test.csv, report.json, feedback/ and the table.

A run limited to some students (``--student``) updates their rows and feedback and keeps
everyone else's from the earlier run in the same folder.
"""

from __future__ import annotations

import csv
import json
import shutil

from .options import Options
from .outcomes import Outcome, StudentResult
from .recording import feedback_page


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
        w.writerow(["student", "assignment", "score", "max_score", "manual_pending", "status", "origin", "problems"])
        for r in results:
            w.writerow([r.student, a, f"{r.score:g}", f"{r.max_score:g}", f"{r.manual_pending:g}", r.status.value, r.origin, r.problem_summary()])
    with open(out / "grades_by_test.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "test", "score", "max_score"])
        for r in results:
            for name, (score, max_score) in sorted(r.tests.items()):
                w.writerow([r.student, a, name, f"{score:g}", f"{max_score:g}"])
    report = {
        "assignment": a,
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
    for student in regraded:
        page = feedback_page(opts, student)
        target = feedback / f"{student}.html"
        if page.is_file():
            shutil.copy(page, target)
        else:
            target.unlink(missing_ok=True)  # no stale feedback for a notebook that no longer grades


def summary_table(outcome: Outcome) -> str:
    """The table ``course-grade`` prints: one line per student."""
    rows = [("student", "score", "max", "status", "problems")]
    for r in outcome.results:
        summary = r.problem_summary()
        rows.append((r.student, f"{r.score:g}", f"{r.max_score:g}", r.status.value, summary[:90] + ("…" if len(summary) > 90 else "")))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    return "\n".join(lines)
