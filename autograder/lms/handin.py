"""From an LMS download to what the grading pipeline takes: ingest's ``Submission`` objects.

For the lead's wiring in ``pipeline.grade``: when :func:`autograder.lms.detect` (or
``--lms``) names an LMS, ``handins(download, assignment)`` replaces ``ingest()``'s id
guessing: the student id is the one the LMS wrote, ``modified`` is the LMS's submission
time when it wrote one, and :class:`LmsFields` carries what the outputs must show
(submission time, the student's comment, the LMS's late marker).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from ..ingest import ASSIGNMENT_ID, Submission
from .model import LmsDownload


@dataclass(frozen=True)
class LmsFields:
    """Per student, what ``report.json`` should carry next to the grade."""

    submitted_at: datetime | None
    comment: str | None
    late_flag: bool | None

    def as_dict(self) -> dict:
        return {
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "comment": self.comment,
            "lms_late": self.late_flag,
        }


def handins(download: LmsDownload, assignment: str) -> tuple[list[Submission], dict[str, LmsFields], list[dict]]:
    """(one notebook per student, LMS fields per student, problems in ingest's shape).

    A student with several notebooks: the one named for ``assignment`` if exactly one is,
    else the last in the LMS's order (Sakai numbers repeats ``name+1.ipynb``), and the
    others are reported; files that are not notebooks are reported, never dropped silently.
    """
    problems = [p.as_dict() for p in download.problems]
    chosen: list[Submission] = []
    fields: dict[str, LmsFields] = {}
    for sub in download.submissions:
        notebooks = [(path, data) for path, data in sub.files if path.lower().endswith(".ipynb")]
        for path, _ in sub.files:
            if not path.lower().endswith(".ipynb"):
                problems.append({"file": path, "student": sub.student, "problem": "not a notebook, ignored"})
        if not notebooks:
            problems.append({"student": sub.student, "problem": "no notebook in the submission", "detail": sub.folder})
            continue
        named = [n for n in notebooks if assignment.upper() in {m.upper() for m in ASSIGNMENT_ID.findall(PurePosixPath(n[0]).name)}]
        path, data = named[0] if len(named) == 1 else notebooks[-1]
        notes = []
        if len(notebooks) > 1:
            others = [p for p, _ in notebooks if p != path]
            notes.append(f"{len(notebooks)} notebooks handed in: graded {PurePosixPath(path).name!r}")
            problems.append({"student": sub.student, "problem": "duplicate submissions", "detail": f"kept {path}, ignored {', '.join(others)}"})
        if sub.submitted_at is None:
            notes.append("the LMS wrote no submission time: the file's time in the download is used")
        stamp = sub.submitted_at or sub.modified
        chosen.append(Submission(sub.student, path, data, stamp, notes))
        fields[sub.student] = LmsFields(sub.submitted_at, sub.comment, sub.late_flag)
    listed = {s.student for s in download.submissions}
    for r in download.roster:
        if r.student not in listed:
            problems.append({"student": r.student, "problem": "no submission"})
    return chosen, fields, problems
