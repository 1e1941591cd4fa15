"""The demo class as Sakai, Moodle and Canvas hand it to an instructor.

``python -m autograder.demo_lms`` writes ``demo/lms/{sakai,moodle,canvas}/B1-1/`` from the
committed ``demo/submissions/B1-1/`` notebooks: five students who answered all or half of
B1-1, three on time and two late against :data:`DUE`, and one student on the roster who
handed nothing in. Each LMS gives a zip, so each folder holds that zip, and for Moodle
and Canvas also the roster file an instructor downloads next to it (Moodle's grading
worksheet, Canvas's gradebook export), which is where the student without a submission
appears. The bytes are reproducible (fixed zip times), and a test checks that the
committed files are what this module makes.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "B1-1"
DUE = "2026-12-01T23:59+09:00"
SERVER_TIMEZONE = "Asia/Tokyo"  # the zone the demo Moodle server writes zip times in
UTC = timezone.utc


@dataclass(frozen=True)
class DemoStudent:
    eid: str  # Sakai eid = the course's student id
    last: str
    first: str
    source: str | None  # file in demo/submissions/B1-1, None: nothing handed in
    submitted: datetime | None  # UTC
    moodle_id: int
    canvas_id: int
    comment: str | None = None


STUDENTS = [
    DemoStudent("s1001", "Sato", "Hanako", "s1001_B1-1.ipynb", datetime(2026, 12, 1, 10, 0, tzinfo=UTC), 5000101, 2101),
    DemoStudent("s1002", "Suzuki", "Taro", "s1002_B1-1.ipynb", datetime(2026, 12, 1, 12, 30, tzinfo=UTC), 5000102, 2102, "後半は時間が足りませんでした。"),
    DemoStudent("s1003", "Takahashi", "Yui", "s1003_Copy of B1-1.ipynb", datetime(2026, 12, 2, 16, 0, tzinfo=UTC), 5000103, 2103),
    DemoStudent("s1004", "Tanaka", "Ren", "s1004_B1-1 (1).ipynb", datetime(2026, 11, 30, 8, 15, tzinfo=UTC), 5000104, 2104),
    DemoStudent("s1019", "Ito", "Sora", "s1019_B1-1.ipynb", datetime(2026, 12, 1, 15, 30, tzinfo=UTC), 5000105, 2105),
    DemoStudent("s1020", "Watanabe", "Mio", None, None, 5000106, 2106),
]


def due() -> datetime:
    return datetime.fromisoformat(DUE)


def _zip(files: list[tuple[str, bytes, datetime]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, stamp in files:
            info = zipfile.ZipInfo(name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def _csv(rows: list[list[str]], bom: bool = False, quote_all: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def _late(s: DemoStudent) -> bool:
    return s.submitted is not None and s.submitted > due()


def sakai(notebooks: Path) -> dict[str, bytes]:
    """Sakai's Download All zip (``AssignmentServiceImpl.zipSubmissions``; see lms/sakai.py)."""
    stamp = datetime(2026, 12, 3, 9, 0)
    files = []
    rows = [[ASSIGNMENT, "SCORE_GRADE_TYPE"], [""], ["Display ID", "ID", "Last Name", "First Name", "grade", "Submission date", "Late submission"]]
    for s in STUDENTS:
        submitted = s.submitted.isoformat().replace("+00:00", "Z") if s.submitted else ""
        rows.append([s.eid, s.eid, s.last, s.first, "", submitted, ("Late" if _late(s) else "On time") if s.submitted else "Unknown"])
        if s.source is None:
            continue
        folder = f"{ASSIGNMENT}/{s.last}, {s.first}({s.eid})/"
        files.append((folder + "timestamp.txt", submitted.encode(), stamp))
        files.append((folder + f"{s.last}, {s.first}({s.eid})_submissionText.html", f"<p>{s.comment or ''}</p>".encode(), stamp))
        files.append((folder + "comments.txt", b"", stamp))
        files.append((folder + "Submission attachment(s)/B1-1.ipynb", (notebooks / s.source).read_bytes(), stamp))
    files.append((f"{ASSIGNMENT}/grades.csv", _csv(rows, bom=True, quote_all=True), stamp))
    return {"bulk_download.zip": _zip(files)}


def moodle(notebooks: Path) -> dict[str, bytes]:
    """Moodle's download (folders, the default) and grading worksheet (see lms/moodle.py)."""
    zone = ZoneInfo(SERVER_TIMEZONE)
    files = []
    sheet = [["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed", "Feedback comments"]]
    for s in STUDENTS:
        name = f"{s.first} {s.last}"
        sheet.append([f"Participant {s.moodle_id}", name, f"{s.eid}@example.ac.jp", "Submitted for grading" if s.source else "No submission", "", "12.00", "Yes", ""])
        if s.source is None:
            continue
        prefix = f"{name}_{s.moodle_id}_assignsubmission_"
        local = s.submitted.astimezone(zone).replace(tzinfo=None)
        files.append((prefix + "file/B1-1.ipynb", (notebooks / s.source).read_bytes(), local))
        if s.comment:
            files.append((prefix + "onlinetext/onlinetext.html", f"<p>{s.comment}</p>".encode(), local))
    return {"DL2026-B1-1-42.zip": _zip(files), "grading-worksheet.csv": _csv(sheet)}


def canvas(notebooks: Path) -> dict[str, bytes]:
    """Canvas's submissions zip (``ContentZipper#get_filename``) and gradebook export."""
    stamp = datetime(2026, 12, 3, 0, 0)
    files = []
    book = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", f"{ASSIGNMENT} (9001)"], ["Points Possible", "", "", "", "", "12.00"]]
    for i, s in enumerate(STUDENTS):
        book.append([f"{s.last}, {s.first}", str(s.canvas_id), s.eid, s.eid, "DL 2026", ""])
        if s.source is None:
            continue
        name = f"{s.last}{s.first}".lower()
        late = "_LATE" if _late(s) else ""
        files.append((f"{name}{late}_{s.canvas_id}_{70000 + i}_B1-1.ipynb", (notebooks / s.source).read_bytes(), stamp))
    return {"submissions.zip": _zip(files), "gradebook.csv": _csv(book)}


README = f"""The demo class of {ASSIGNMENT} as each LMS hands it to an instructor (generated by
`python -m autograder.demo_lms`; see autograder/demo_lms.py and, for where each format
detail comes from, autograder/lms/sakai.py, moodle.py, canvas.py).

  sakai/{ASSIGNMENT}/bulk_download.zip       Sakai "Download All" (Hoppii)
  moodle/{ASSIGNMENT}/DL2026-{ASSIGNMENT}-42.zip   Moodle "Download all submissions" (zip times: {SERVER_TIMEZONE})
  moodle/{ASSIGNMENT}/grading-worksheet.csv  Moodle's grading worksheet (the roster)
  canvas/{ASSIGNMENT}/submissions.zip        Canvas "Download Submissions"
  canvas/{ASSIGNMENT}/gradebook.csv          Canvas gradebook export (the roster)

Due {DUE}: s1001, s1002, s1004 on time; s1003 (25 h) and s1019 (31 min) late;
s1020 is on the roster and handed nothing in.
"""

BUILDERS = {"sakai": sakai, "moodle": moodle, "canvas": canvas}


def generate(root: Path = REPO) -> dict[Path, bytes]:
    """Every demo file (path relative to ``root``) and its bytes."""
    notebooks = root / "demo" / "submissions" / ASSIGNMENT
    out = {Path("demo") / "lms" / "README.txt": README.encode("utf-8")}
    for lms, build in BUILDERS.items():
        for name, data in build(notebooks).items():
            out[Path("demo") / "lms" / lms / ASSIGNMENT / name] = data
    return out


def write(root: Path = REPO) -> list[Path]:
    written = []
    for rel, data in generate(root).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(REPO), file=sys.stdout)
