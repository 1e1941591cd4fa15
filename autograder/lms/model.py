"""The LMS-independent view of a bulk download: who handed in what, when, with what comment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol


class Lms(Enum):
    SAKAI = "sakai"  # Sakai "Download All" (Hosei's Hoppii is Sakai)
    MOODLE = "moodle"  # Moodle "Download all submissions"
    CANVAS = "canvas"  # Canvas "Download Submissions"


class Entry(Protocol):
    """One file of the download, as :mod:`autograder.ingest` collects it (``_Entry``)."""

    path: str  # posix path relative to the download root (``a.zip!/inner`` inside zips)
    data: bytes
    modified: datetime


@dataclass
class LmsSubmission:
    student: str  # the id the LMS wrote: Sakai eid, Moodle participant id, Canvas user id
    name: str | None  # the name the LMS wrote, if any
    submitted_at: datetime | None  # tz-aware, from what the LMS wrote (None: it wrote none)
    comment: str | None  # what the student typed next to the upload, if the LMS exports it
    files: list[tuple[str, bytes]]  # (path inside the download, content)
    folder: str  # the student's folder (or file-name prefix) in the download
    late_flag: bool | None = None  # the LMS's own "late" marker, where it writes one
    modified: datetime | None = None  # newest file time in the download (not a submission time)

    def add_file(self, entry: Entry) -> None:
        self.files.append((entry.path, entry.data))
        if self.modified is None or entry.modified > self.modified:
            self.modified = entry.modified


@dataclass(frozen=True)
class RosterEntry:
    """A student the LMS knows, with or without a submission (for the exports)."""

    student: str
    name: str = ""
    folder: str = ""  # Sakai: ``Last, First(eid)``; Moodle: ``Full Name_<id>``
    last_name: str = ""
    first_name: str = ""
    display_id: str = ""


class ProblemKind(Enum):
    UNRECOGNISED = "file not in the LMS's layout"
    BAD_TIMESTAMP = "timestamp the LMS wrote cannot be read"
    NO_ATTACHMENT = "submission without attachment"
    BAD_GRADES_FILE = "grades file cannot be read"


@dataclass(frozen=True)
class LmsProblem:
    path: str
    kind: ProblemKind
    detail: str = ""

    def as_dict(self) -> dict:
        """The shape of ingest's problems (``report.json`` ``ingest_problems``)."""
        return {"file": self.path, "problem": self.kind.value, "detail": self.detail}


@dataclass
class LmsDownload:
    lms: Lms
    submissions: list[LmsSubmission]
    roster: list[RosterEntry]
    problems: list[LmsProblem] = field(default_factory=list)
