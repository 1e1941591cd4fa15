"""Canvas's "Download Submissions" zip and its gradebook import CSV.

Zip entry names, from Canvas's own code (instructure/canvas-lms, ``lib/content_zipper.rb``,
``get_filename``, ``get_user_name``, ``add_upload_submission``)::

    <sortable name, lower case, only word characters>[_LATE]_<user id>_<attachment id>_<file>

The name is ``sortable_name`` ("Last, First") with ``_<digits>_`` runs collapsed and then
every non-word character removed (``sanitize_user_name``, ``sanitize_file_name``); ``LATE``
is inserted when Canvas itself judged the submission late (older Canvas wrote ``late``);
under anonymous grading the name is absent and the id is ``anon_<anonymous id>``. The zip
holds no submission time, so lateness on Canvas is Canvas's own marker (and Canvas applies
its own late policy in its gradebook; this tool does not take points off twice).

Gradebook import (Canvas Guides, "How do I import grades in the Gradebook?"): a CSV with
the columns Student, ID, SIS User ID, SIS Login ID, Section and one column per assignment
named ``<assignment name> (<assignment id>)``; a second row "Points Possible" may follow
the header. Rows are matched by the Canvas ID; an empty cell leaves the grade unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import PurePosixPath

from .model import Entry, Lms, LmsDownload, LmsProblem, LmsSubmission, ProblemKind, RosterEntry
from .scores import ExportRow

NAME = re.compile(r"^(?:(?P<name>[^\W_]+)_)?(?:(?P<late>LATE|late)_)?(?P<id>\d+|anon_[A-Za-z0-9]+)_(?P<attachment>\d+)_(?P<file>.+)$")
IMPORT_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def matches(entries: Sequence[Entry]) -> int:
    return sum(1 for e in entries if NAME.match(PurePosixPath(e.path.replace("!/", "/")).name))


def read(entries: Sequence[Entry]) -> LmsDownload:
    problems: list[LmsProblem] = []
    subs: dict[str, LmsSubmission] = {}
    listed: dict[str, RosterEntry] = {}
    for e in entries:
        name = PurePosixPath(e.path.replace("!/", "/")).name
        if name.lower().endswith(".csv") and (book := read_gradebook_roster(e.data)) is not None:
            listed.update({r.student: r for r in book})
            continue
        match = NAME.match(name)
        if not match:
            problems.append(LmsProblem(e.path, ProblemKind.UNRECOGNISED, "not '<name>_<user id>_<attachment id>_<file>'"))
            continue
        student = match["id"]
        prefix = name[: match.start("attachment") - 1]
        sub = subs.setdefault(student, LmsSubmission(student, match["name"] or None, None, None, [], prefix, late_flag=False))
        sub.add_file(e)
        sub.late_flag = sub.late_flag or bool(match["late"])
    roster = {s.student: RosterEntry(s.student, s.name or "", s.folder, display_id=s.student) for s in subs.values()}
    roster.update(listed)
    return LmsDownload(Lms.CANVAS, sorted(subs.values(), key=lambda s: s.student), sorted(roster.values(), key=lambda r: r.student), problems)


def read_gradebook_roster(data: bytes) -> list[RosterEntry] | None:
    """Everyone in a Canvas gradebook export (None: not one); SIS User ID kept as display id."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        return None
    if not rows or rows[0][:2] != ["Student", "ID"]:
        return None
    roster = []
    for row in rows[1:]:
        if len(row) > 2 and row[1].strip().isdigit():
            last, _, first = row[0].partition(",")
            roster.append(RosterEntry(row[1].strip(), row[0].strip(), "", last.strip(), first.strip(), row[2].strip()))
    return roster


def write_import(title: str, roster: Sequence[RosterEntry], grades: dict[str, ExportRow], max_score: float, assignment_id: str | None = None) -> bytes:
    """The gradebook import CSV; without ``assignment_id`` Canvas offers to create the column."""
    column = f"{title} ({assignment_id})" if assignment_id else title
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*IMPORT_HEADER, column])
    writer.writerow(["Points Possible", "", "", "", "", f"{max_score:g}"])
    for r in roster:
        row = grades.get(r.student)
        writer.writerow([r.name, r.student, "", "", "", row.grade_text() if row is not None and row.graded else ""])
    return buffer.getvalue().encode("utf-8")


def read_import_grades(data: bytes) -> dict[str, str]:
    """Canvas ID -> grade text of the (only) assignment column (tests)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return {row[1]: row[5] for row in rows[1:] if row and row[0] != "Points Possible"}
