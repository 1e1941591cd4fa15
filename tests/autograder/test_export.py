"""Round trip: LMS download in, gradebook (a manual grade entered later), export out, parsed back."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import StudentGrades, build_gradebook, enter_manual_grade  # tests/autograder/conftest.py

from autograder import demo_lms, late, lms
from autograder.ingest import collect
from autograder.lms import canvas, moodle, sakai

REPO = Path(__file__).resolve().parents[2]
POLICY = late.policy_from_strings(demo_lms.DUE, "10%/day", "50%")
AUTO = {"test_softmax_rows_sum_to_one": 2, "test_softmax_hidden": 3, "test_dense_params": 5}
HALF = {"test_softmax_rows_sum_to_one": 2, "test_softmax_hidden": 0, "test_dense_params": 5}
PARSE = {"sakai": sakai.read_upload_grades, "moodle": moodle.read_worksheet_grades, "canvas": canvas.read_import_grades}


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Per LMS: the demo download read, and a gradebook where everyone who handed in is graded."""
    built = {}
    for name in PARSE:
        got = lms.download(collect(REPO / "demo" / "lms" / name / "B1-1")[0], lms.Lms(name), ZoneInfo(demo_lms.SERVER_TIMEZONE))
        students = {}
        for i, sub in enumerate(got.submissions):
            stamp = sub.submitted_at.astimezone(timezone.utc).replace(tzinfo=None) if sub.submitted_at else None
            students[sub.student] = StudentGrades(auto=HALF if i == 1 else AUTO, timestamp=stamp)
        db = tmp_path_factory.mktemp(name) / "gradebook.db"
        build_gradebook(db, students)
        built[name] = (got, db)
    return built


@pytest.fixture
def graded_download(templates, tmp_path):
    """A fresh copy of the template gradebook for ``name`` (tests enter manual grades in it)."""

    def make(name: str, _unused: Path | None = None):
        got, db = templates[name]
        copy = tmp_path / "gradebook.db"
        shutil.copy(db, copy)
        return got, f"sqlite:///{copy}"

    return make


def expected(got, manual_student: str) -> dict[str, str]:
    """Final score per roster student computed by hand from the rule (empty: no submission)."""
    out = {}
    for r in got.roster:
        sub = next((s for s in got.submissions if s.student == r.student), None)
        if sub is None:
            out[r.student] = ""
            continue
        i = got.submissions.index(sub)
        score = sum((HALF if i == 1 else AUTO).values()) + (2 if r.student == manual_student else 0)
        final = late.apply(POLICY, score, sub.submitted_at).final if sub.submitted_at else score
        out[r.student] = f"{round(final, 2):g}"
    return out


@pytest.mark.parametrize("name", ["sakai", "moodle", "canvas"])
def test_export_parsed_back_gives_every_students_final_score(name, graded_download, tmp_path):
    got, url = graded_download(name, tmp_path)
    manual_student = got.submissions[0].student
    enter_manual_grade(url, manual_student, "discussion_answer", 2, "よく書けています。")  # after grading, as in formgrader
    policy = POLICY if name != "canvas" else None  # Canvas applies its own late policy
    path = lms.export(name, "B1-1", url, tmp_path / "out", got.roster, policy, {s.student: s.submitted_at for s in got.submissions if s.submitted_at})
    grades = PARSE[name](path.read_bytes())
    want = expected(got, manual_student) if policy else {
        r.student: (f"{sum((HALF if got.submissions.index(s) == 1 else AUTO).values()) + (2 if r.student == manual_student else 0):g}" if (s := next((x for x in got.submissions if x.student == r.student), None)) else "")
        for r in got.roster
    }
    assert grades == want


def test_sakai_demo_scores_include_the_manual_grade_and_the_late_penalty(graded_download, tmp_path):
    got, url = graded_download("sakai", tmp_path)
    enter_manual_grade(url, "s1001", "discussion_answer", 2)
    grades = sakai.read_upload_grades(lms.export("sakai", "B1-1", url, tmp_path, got.roster, POLICY).read_bytes())
    # s1001 on time 10 + 2 manual; s1003 25 h late (2 days, 20 %) of 10; s1019 31 min late (10 %); s1020 nothing
    assert grades == {"s1001": "12", "s1002": "7", "s1003": "8", "s1004": "10", "s1019": "9", "s1020": ""}


def test_sakai_upload_all_zip_has_the_structure_sakai_reads(graded_download, tmp_path):
    got, url = graded_download("sakai", tmp_path)
    feedback = {"s1001": "<html><body>ok</body></html>"}
    path = lms.export("sakai", "B1-1", url, tmp_path, got.roster, POLICY, feedback_html=feedback)
    names = zipfile.ZipFile(io.BytesIO(path.read_bytes())).namelist()
    assert "B1-1/grades.csv" in names
    assert "B1-1/Sato, Hanako(s1001)/Feedback Attachment(s)/feedback.html" in names
    assert "B1-1/Sato, Hanako(s1001)/comments.txt" in names
    assert not any("s1020" in n for n in names if n != "B1-1/grades.csv")  # nothing handed in, no folder


def test_plain_csv_carries_score_penalty_and_lateness(graded_download, tmp_path):
    got, url = graded_download("sakai", tmp_path)
    text = lms.export("csv", "B1-1", url, tmp_path, got.roster, POLICY).read_text()
    row = next(line for line in text.splitlines() if line.startswith("s1003,"))
    assert row.split(",")[2:8] == ["10", "12", "2", "8", "25.02", "2026-12-02T16:00:00+00:00"]


def test_gradebook_time_is_used_when_the_download_gives_none(graded_download, tmp_path):
    got, url = graded_download("sakai", tmp_path)
    rows = lms.final_scores(url, "B1-1", got.roster, POLICY)  # no submitted_at passed: nbgrader's timestamp
    assert rows["s1003"].late and rows["s1003"].final == pytest.approx(8.0)
