"""Moodle's "Download all submissions" and its offline grading worksheet.

Download layout, from Moodle's own code (moodle/moodle, ``mod/assign/classes/
downloader.php``, ``get_submission_prefix`` and ``load_submissionplugin_filelist``):

* prefix: the student's full name with ``_`` turned into spaces, ``_``, the participant's
  unique id (``get_uniqueid_for_user``), passed through ``clean_filename``; under blind
  marking the name is the word "Participant";
* "download submissions in folders" (the default since Moodle 3.1):
  ``<prefix>_assignsubmission_file/<filepath><file>``; the online text plugin writes
  ``<prefix>_assignsubmission_onlinetext/onlinetext.html``;
* without folders: ``<prefix>_assignsubmission_file_<file>``.

The download holds no submission time. Moodle writes each file with its stored
``timemodified`` as the zip entry's time (``archive_writer::add_file_from_stored_file``),
in the server's time zone; that time, read in ``zip_timezone``, is the submission time.

Grading worksheet (``mod/assign/feedback/offline/importgradeslib.php``,
``assignfeedback_offline_grade_importer::init``): the importer finds its columns by
header: "Identifier" (``recordid``), "Grade" (``gradenoun``) and one column per enabled
feedback plugin by its description ("Feedback comments"); the identifier is
"Participant <unique id>" (``hiddenuser``).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import PurePosixPath

import nh3

from .model import Entry, Lms, LmsDownload, LmsProblem, LmsSubmission, ProblemKind, RosterEntry
from .scores import ExportRow

PREFIX = re.compile(r"^(?P<name>.*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+?)(?:_(?P<file>.+))?$")
WORKSHEET_HEADER = ["Identifier", "Full name", "Status", "Grade", "Maximum Grade", "Grade can be changed", "Feedback comments"]


def _find(path: str) -> tuple[re.Match, list[str]] | None:
    parts = PurePosixPath(path.replace("!/", "/")).parts
    for i, part in enumerate(parts):
        match = PREFIX.match(part)
        if match:
            return match, list(parts[i + 1 :])
    return None


def matches(entries: Sequence[Entry]) -> int:
    return sum(1 for e in entries if _find(e.path))


def read(entries: Sequence[Entry], zip_timezone: tzinfo | None = None) -> LmsDownload:
    problems: list[LmsProblem] = []
    subs: dict[str, LmsSubmission] = {}
    listed: dict[str, RosterEntry] = {}
    for e in entries:
        if e.path.lower().endswith(".csv") and (worksheet := read_worksheet_roster(e.data)) is not None:
            listed.update({r.student: r for r in worksheet})
            continue
        found = _find(e.path)
        if found is None:
            problems.append(LmsProblem(e.path, ProblemKind.UNRECOGNISED, "no 'Full Name_<id>_assignsubmission_...' prefix"))
            continue
        match, below = found
        student = match["id"]
        sub = subs.setdefault(student, LmsSubmission(student, match["name"].strip(), None, None, [], f"{match['name']}_{student}"))
        if match["plugin"] == "onlinetext":
            sub.comment = html.unescape(nh3.clean(e.data.decode("utf-8", errors="replace"), tags=set())).strip() or None
            continue
        if match["plugin"] != "file" or not (below or match["file"]):
            problems.append(LmsProblem(e.path, ProblemKind.UNRECOGNISED, f"submission plugin {match['plugin']!r} is not a file upload"))
            continue
        sub.add_file(e)
        stamp = _entry_time(e, zip_timezone)
        if sub.submitted_at is None or stamp > sub.submitted_at:
            sub.submitted_at = stamp
    roster = {s.student: RosterEntry(s.student, s.name or "", s.folder, display_id=s.student) for s in subs.values()}
    roster.update(listed)
    for s in subs.values():
        if not s.files:
            problems.append(LmsProblem(s.folder, ProblemKind.NO_ATTACHMENT, "only online text, no file"))
    return LmsDownload(Lms.MOODLE, sorted((s for s in subs.values() if s.files), key=lambda s: s.student), sorted(roster.values(), key=lambda r: r.student), problems)


def read_worksheet_roster(data: bytes) -> list[RosterEntry] | None:
    """Everyone on a grading worksheet (None: not a worksheet), students without a submission included."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error):
        return None
    if not rows or "Identifier" not in rows[0]:
        return None
    ident = rows[0].index("Identifier")
    name = rows[0].index("Full name") if "Full name" in rows[0] else None
    roster = []
    for row in rows[1:]:
        if len(row) > ident and row[ident].startswith("Participant "):
            student = row[ident].removeprefix("Participant ").strip()
            full = row[name] if name is not None and len(row) > name else ""
            roster.append(RosterEntry(student, full, f"{full}_{student}", display_id=student))
    return roster


def _entry_time(e: Entry, zone: tzinfo | None) -> datetime:
    """A zip entry's time is local to the server (ingest labels it UTC); a file on disk is exact."""
    if "!/" in e.path and zone is not None:
        return e.modified.replace(tzinfo=zone)
    return e.modified


def write_worksheet(roster: Sequence[RosterEntry], grades: dict[str, ExportRow], max_score: float) -> bytes:
    """The grading worksheet Moodle's "Upload grading worksheet" imports."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(WORKSHEET_HEADER)
    for r in roster:
        row = grades.get(r.student)
        graded = row is not None and row.graded
        writer.writerow([
            f"Participant {r.student}",
            r.name,
            "Submitted for grading" if graded else "No submission",
            row.grade_text() if graded else "",
            f"{max_score:g}",
            "Yes",
            row.comment if graded else "",
        ])
    return buffer.getvalue().encode("utf-8")


def read_worksheet_grades(data: bytes) -> dict[str, str]:
    """participant id -> grade text, read the way Moodle's importer reads it (tests)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = rows[0]
    ident, grade = header.index("Identifier"), header.index("Grade")
    return {row[ident].removeprefix("Participant ").strip(): row[grade] for row in rows[1:]}
