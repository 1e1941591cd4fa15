"""Final scores read from nbgrader's gradebook: what the exports write.

The gradebook is read at export time, so marks an instructor entered in formgrader after
grading count: nbgrader's score of a submission is the sum of its grades, each the manual
score when one was given, else the automatic one. The final score is that minus the late
penalty of :mod:`autograder.late` (nbgrader's own late penalty is not used: no due date is
given to nbgrader, so its ``late_submission_penalty`` stays 0 and nothing is taken twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .. import late as late_rules


@dataclass
class ExportRow:
    student: str
    max_score: float
    score: float | None = None  # nbgrader's, manual grades included; None: nothing graded
    outcome: late_rules.LateOutcome | None = None
    submitted_at: datetime | None = None
    manual_pending: bool = False
    manual_comments: list[str] = field(default_factory=list)
    late_flag: bool | None = None  # the LMS's own marker (Canvas)
    feedback_html: str | None = None

    @property
    def graded(self) -> bool:
        return self.score is not None

    @property
    def final(self) -> float | None:
        if self.score is None:
            return None
        return self.outcome.final if self.outcome is not None else self.score

    @property
    def late_penalty(self) -> float:
        return self.outcome.penalty if self.outcome is not None else 0.0

    @property
    def late(self) -> bool | None:
        if self.outcome is not None and self.outcome.late:
            return True
        if self.late_flag is not None:
            return self.late_flag
        return None if self.submitted_at is None else False

    def grade_text(self) -> str:
        value = self.final
        return "" if value is None else f"{round(value, 2):g}"

    @property
    def comment(self) -> str:
        """One line for the LMS's comment field (Japanese, what students read)."""
        if self.score is None:
            return ""
        text = f"自動採点と手動採点の合計 {self.score:g} / {self.max_score:g} 点"
        if self.outcome is not None and self.outcome.late:
            text += f"、提出遅れ {self.outcome.units} 単位で {self.outcome.percent:g} % 減点 (-{self.outcome.penalty:g} 点)"
        text += f"、最終 {self.grade_text()} 点。"
        if self.manual_pending:
            text += " 手動採点がまだ終わっていない設問があります。"
        if self.manual_comments:
            text += " " + " / ".join(self.manual_comments)
        return text


def read_rows(
    db_url: str,
    assignment: str,
    students: Sequence[str],
    policy: late_rules.LatePolicy | None = None,
    submitted_at: Mapping[str, datetime] | None = None,
) -> dict[str, ExportRow]:
    """One row per student in ``students``; a student nbgrader never graded gets ``score=None``.

    ``submitted_at`` (from the LMS download) wins over the time nbgrader recorded
    (``timestamp.txt`` in ``submitted/<student>/<assignment>/``, stored in UTC).
    """
    from nbgrader.api import Gradebook, MissingEntry

    submitted_at = submitted_at or {}
    rows: dict[str, ExportRow] = {}
    with Gradebook(db_url) as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for student in students:
            row = ExportRow(student, max_score)
            rows[student] = row
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            row.score = float(sub.score)
            row.manual_pending = bool(sub.needs_manual_grade)
            stamp = submitted_at.get(student)
            if stamp is None and sub.timestamp is not None:
                stamp = sub.timestamp.replace(tzinfo=timezone.utc) if sub.timestamp.tzinfo is None else sub.timestamp
            row.submitted_at = stamp
            row.outcome = late_rules.apply(policy, row.score, stamp) if policy is not None else None
            for nb in sub.notebooks:
                row.manual_comments += [c.manual_comment for c in nb.comments if c.manual_comment]
    return rows
