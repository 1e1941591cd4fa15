"""Sakai's "Download All" and "Upload All" (Hosei's Hoppii is Sakai).

Layout, from Sakai's own code (sakaiproject/sakai, ``assignment/impl/src/java/org/
sakaiproject/assignment/impl/AssignmentServiceImpl.java``, ``zipSubmissions``, and
``SpreadsheetExporter.java``, ``CsvExporter``)::

    <assignment title>/                       root folder, the title escaped for zip names
      grades.csv                              UTF-8 with BOM; row 1: title, grade type;
                                              row 2: empty; row 3: the header Display ID, ID,
                                              Last Name, First Name, grade, Submission date,
                                              Late submission; then one row per student
      Last, First(eid)/                       ``getSortName()`` + ``(eid)`` (the internal id
                                              when the eid has characters a zip name cannot hold)
        timestamp.txt                         ``getDateSubmitted().toString()``: a Java
                                              ``Instant``, ISO 8601 in UTC (``...Z``); Sakai
                                              before 12 wrote ``yyyyMMddHHmmssSSS`` (GMT)
        Submission attachment(s)/<file>       the files handed in (``stuviewsubm.submissatt``)
        Last, First(eid)_submissionText.html  the text the student typed (inline submission)
        comments.txt                          the *instructor's* feedback comment so far
        feedbackText.html                     the instructor's inline feedback so far
        Feedback Attachment(s)/               the instructor's feedback files so far

"Upload All" takes the structure of a Download All back (Sakai's help, e.g. rSmart's
"Assignments > How to Grade Assignments in Bulk", support.apu.edu/hc/en-us/articles/221900888:
the boxes ticked at download decide how the zip must be organised for the upload): the
grade in column 5 of ``grades.csv`` for the eid in column 2 (rows after the three header
rows), ``comments.txt`` as the feedback comment and the files in ``Feedback Attachment(s)/``
as feedback attachments of the student named by the ``(eid)`` in the folder name. A student
without a submission keeps an empty grade (Sakai leaves an empty grade ungraded). The
upload side (``AssignmentAction`` in Sakai's assignment tool) was not re-read for this
module; ``read_upload_grades`` parses the file the way described here.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import PurePosixPath

import nh3

from .model import Entry, Lms, LmsDownload, LmsProblem, LmsSubmission, ProblemKind, RosterEntry
from .scores import ExportRow

STUDENT_FOLDER = re.compile(r"^(?P<sort>[^/]*)\((?P<eid>[^()/]+)\)$")
ATTACHMENTS = "Submission attachment(s)"
FEEDBACK_ATTACHMENTS = "Feedback Attachment(s)"
KNOWN_FILES = {"timestamp.txt", "comments.txt", "feedbackText.html"}
OLD_TIMESTAMP = re.compile(r"^\d{17}$")
GRADES_HEADER = ["Display ID", "ID", "Last Name", "First Name", "grade", "Submission date", "Late submission"]


def _split(path: str) -> tuple[str, str, list[str]] | None:
    """(prefix up to the student folder, folder name, parts below it) or None."""
    parts = PurePosixPath(path.replace("!/", "/")).parts
    for i, part in enumerate(parts[:-1]):
        if STUDENT_FOLDER.match(part):
            return "/".join(parts[:i]), part, list(parts[i + 1 :])
    return None


def matches(entries: Sequence[Entry]) -> int:
    """How many entries sit where Sakai's Download All puts files."""
    count = 0
    for e in entries:
        split = _split(e.path)
        if split and (split[2][0] in KNOWN_FILES or split[2][0] == ATTACHMENTS or split[2][0].endswith("_submissionText.html")):
            count += 1
    return count


def parse_timestamp(text: str) -> datetime:
    """Sakai's ``timestamp.txt``: ``2026-12-01T14:59:00.123Z`` or ``20261201145900123`` (UTC)."""
    text = text.strip().lstrip("\ufeff")
    if OLD_TIMESTAMP.match(text):
        return datetime.strptime(text, "%Y%m%d%H%M%S%f").replace(tzinfo=timezone.utc)
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _text_of(data: bytes) -> str:
    """Plain text of the student's inline HTML (tags removed, entities decoded)."""
    cleaned = nh3.clean(data.decode("utf-8", errors="replace"), tags=set())
    return html.unescape(cleaned).strip()


def read_grades_csv(data: bytes) -> list[RosterEntry]:
    """Students listed in a Sakai ``grades.csv`` (rows after the three header rows)."""
    text = data.decode("utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    roster = []
    for row in rows[3:]:
        if len(row) >= 4 and row[1].strip():
            last, first_name = row[2].strip(), row[3].strip()
            roster.append(RosterEntry(row[1].strip(), f"{first_name} {last}".strip(), f"{last}, {first_name}({row[1].strip()})", last, first_name, row[0].strip()))
    return roster


def read(entries: Sequence[Entry]) -> LmsDownload:
    problems: list[LmsProblem] = []
    by_folder: dict[str, LmsSubmission] = {}
    roster: dict[str, RosterEntry] = {}
    for e in entries:
        if PurePosixPath(e.path).name == "grades.csv" and _split(e.path) is None:
            try:
                roster.update({r.student: r for r in read_grades_csv(e.data)})
            except (UnicodeDecodeError, csv.Error) as exc:
                problems.append(LmsProblem(e.path, ProblemKind.BAD_GRADES_FILE, str(exc)))
            continue
        split = _split(e.path)
        if split is None:
            problems.append(LmsProblem(e.path, ProblemKind.UNRECOGNISED, "not inside a 'Last, First(eid)' folder"))
            continue
        _, folder, below = split
        match = STUDENT_FOLDER.match(folder)
        sort_name = match["sort"].strip().rstrip(",").strip()
        sub = by_folder.setdefault(folder, LmsSubmission(match["eid"], _name(sort_name), None, None, [], folder))
        head = below[0]
        if head == ATTACHMENTS and len(below) > 1:
            sub.add_file(e)
        elif head == "timestamp.txt":
            try:
                sub.submitted_at = parse_timestamp(e.data.decode("utf-8", errors="replace"))
            except ValueError as exc:
                problems.append(LmsProblem(e.path, ProblemKind.BAD_TIMESTAMP, str(exc)))
        elif head.endswith("_submissionText.html"):
            sub.comment = _text_of(e.data) or None
        elif head in KNOWN_FILES or head == FEEDBACK_ATTACHMENTS:
            continue  # the instructor's own earlier feedback
        else:
            problems.append(LmsProblem(e.path, ProblemKind.UNRECOGNISED, f"Sakai puts handed-in files under {ATTACHMENTS!r}"))
    for sub in by_folder.values():
        if sub.student not in roster:
            roster[sub.student] = RosterEntry(sub.student, sub.name or "", sub.folder, *_last_first(sub.folder), sub.student)
        if not sub.files:
            problems.append(LmsProblem(sub.folder, ProblemKind.NO_ATTACHMENT, "no file under 'Submission attachment(s)'"))
    subs = sorted((s for s in by_folder.values() if s.files), key=lambda s: s.student)
    return LmsDownload(Lms.SAKAI, subs, sorted(roster.values(), key=lambda r: r.student), problems)


def _name(sort_name: str) -> str:
    last, _, first = sort_name.partition(",")
    return f"{first.strip()} {last.strip()}".strip()


def _last_first(folder: str) -> tuple[str, str]:
    match = STUDENT_FOLDER.match(folder)
    last, _, first = (match["sort"] if match else folder).partition(",")
    return last.strip(), first.strip()


def _grades_csv(title: str, rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow([title, "SCORE_GRADE_TYPE"])
    writer.writerow([""])
    writer.writerow(GRADES_HEADER)
    for row in rows:
        writer.writerow(row)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_upload(title: str, roster: Sequence[RosterEntry], grades: dict[str, ExportRow]) -> bytes:
    """The "Upload All" zip: ``<title>/grades.csv`` and, per graded student, their folder
    with ``comments.txt`` and ``Feedback Attachment(s)/feedback.html``."""
    buffer = io.BytesIO()
    root = title.replace("/", "_")
    rows = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for r in roster:
            row = grades.get(r.student)
            grade = row.grade_text() if row is not None and row.graded else ""
            submitted = row.submitted_at.isoformat() if row is not None and row.submitted_at else ""
            late = "" if row is None or row.late is None else ("Late" if row.late else "On time")
            rows.append([r.display_id or r.student, r.student, r.last_name, r.first_name, grade, submitted, late])
            if row is None or not row.graded:
                continue
            folder = f"{root}/{r.folder or f'{r.last_name}, {r.first_name}({r.student})'}"
            archive.writestr(_info(f"{folder}/comments.txt"), row.comment.encode("utf-8"))
            if row.feedback_html is not None:
                archive.writestr(_info(f"{folder}/{FEEDBACK_ATTACHMENTS}/feedback.html"), row.feedback_html.encode("utf-8"))
        archive.writestr(_info(f"{root}/grades.csv"), _grades_csv(title, rows))
    return buffer.getvalue()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def read_upload_grades(data: bytes) -> dict[str, str]:
    """eid -> grade text from an Upload All zip (what Sakai would import; used by tests)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/grades.csv"))
        text = archive.read(name).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    return {row[1]: row[4] for row in rows[3:] if len(row) > 4}
