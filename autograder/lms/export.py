"""``course-grade export``: the gradebook's final scores in the file each LMS imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path

from .. import late as late_rules
from . import canvas, moodle, sakai
from .model import RosterEntry
from .scores import ExportRow, read_rows


class ExportFormat(Enum):
    SAKAI = "sakai"  # Upload All zip
    MOODLE = "moodle"  # grading worksheet CSV
    CANVAS = "canvas"  # gradebook import CSV
    CSV = "csv"  # plain table

    @property
    def filename(self) -> str:
        return {"sakai": "sakai-upload-all.zip", "moodle": "moodle-grading-worksheet.csv", "canvas": "canvas-gradebook-import.csv", "csv": "final-grades.csv"}[self.value]


PLAIN_HEADER = ["student", "name", "score", "max_score", "late_penalty", "final", "lateness_hours", "submitted_at", "late", "manual_pending", "status"]


def final_scores(
    db_url: str,
    assignment: str,
    roster: Sequence[RosterEntry],
    policy: late_rules.LatePolicy | None = None,
    submitted_at: Mapping[str, datetime] | None = None,
    late_flags: Mapping[str, bool] | None = None,
    feedback_html: Mapping[str, str] | None = None,
) -> dict[str, ExportRow]:
    """Rows for everyone on ``roster``, scores read from the gradebook at ``db_url``."""
    rows = read_rows(db_url, assignment, [r.student for r in roster], policy, submitted_at)
    for student, row in rows.items():
        row.late_flag = (late_flags or {}).get(student)
        row.feedback_html = (feedback_html or {}).get(student)
    return rows


def _plain(roster: Sequence[RosterEntry], rows: Mapping[str, ExportRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PLAIN_HEADER)
    for r in roster:
        row = rows[r.student]
        hours = row.outcome.lateness.total_seconds() / 3600 if row.outcome is not None else 0.0
        writer.writerow([
            r.student, r.name,
            "" if row.score is None else f"{row.score:g}", f"{row.max_score:g}",
            f"{row.late_penalty:g}", row.grade_text(), f"{hours:.2f}",
            row.submitted_at.isoformat() if row.submitted_at else "",
            "" if row.late is None else ("yes" if row.late else "no"),
            "yes" if row.manual_pending else "no",
            "graded" if row.graded else "no submission",
        ])
    return buffer.getvalue().encode("utf-8")


def export(
    fmt: ExportFormat | str,
    assignment: str,
    db_url: str,
    out_dir: Path,
    roster: Sequence[RosterEntry],
    policy: late_rules.LatePolicy | None = None,
    submitted_at: Mapping[str, datetime] | None = None,
    late_flags: Mapping[str, bool] | None = None,
    feedback_html: Mapping[str, str] | None = None,
    title: str | None = None,
    lms_assignment_id: str | None = None,
) -> Path:
    """Write the import file for ``fmt`` into ``out_dir`` and return its path.

    ``roster``: everyone the LMS lists (students without a submission get an empty grade);
    ``title``: the assignment's name in the LMS (Sakai's root folder, Canvas's column;
    default ``assignment``); ``feedback_html``: student -> page (Sakai's feedback attachment).
    """
    fmt = ExportFormat(fmt)
    rows = final_scores(db_url, assignment, roster, policy, submitted_at, late_flags, feedback_html)
    max_score = next(iter(rows.values())).max_score if rows else 0.0
    title = title or assignment
    if fmt is ExportFormat.SAKAI:
        data = sakai.write_upload(title, roster, rows)
    elif fmt is ExportFormat.MOODLE:
        data = moodle.write_worksheet(roster, rows, max_score)
    elif fmt is ExportFormat.CANVAS:
        data = canvas.write_import(title, roster, rows, max_score, lms_assignment_id)
    else:
        data = _plain(roster, rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / fmt.filename
    target.write_bytes(data)
    return target
