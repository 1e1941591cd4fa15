"""An instructor's term end to end: Sakai download in, grades with late penalties, a manual
grade entered afterwards through nbgrader, the LMS file out, the class report and the
similarity check. One grading run (five students of the B1-1 demo) for the module.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from course_copies import course_copy

from autograder import cli, pipeline
from autograder.late import policy_from_strings
from autograder.options import Options

REPO = Path(__file__).resolve().parents[2]
A = "B1-1"
DOWNLOAD = REPO / "demo" / "lms" / "sakai" / A / "bulk_download.zip"
LATE = ["--due", "2026-12-01T23:59+09:00", "--late-penalty", "10%/day", "--late-cap", "50%"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    course = course_copy(tmp_path_factory.mktemp("term-course"))
    out = course / "grading-output" / A
    opts = Options(A, DOWNLOAD, course, out=out, jobs=2, cell_timeout=30, progress=False, late=policy_from_strings(*LATE[1::2]))
    outcome = pipeline.grade(opts)
    return course, out, {r.student: r for r in outcome.results}, outcome


def test_the_download_is_read_as_sakai_with_its_times(term):
    _, out, results, outcome = term
    assert outcome.lms == "sakai"
    assert sorted(results) == ["s1001", "s1002", "s1003", "s1004", "s1019"]
    assert results["s1003"].submitted_at.startswith("2026-12-02") or results["s1003"].lateness_hours > 24
    assert {"student": "s1020", "problem": "no submission"} in [{k: v for k, v in p.items() if k != "detail"} for p in outcome.ingest_problems]


def test_late_penalty_is_in_every_output(term):
    _, out, results, _ = term
    late = results["s1003"]  # 25 h late: two started days, 20 %
    assert (late.score, late.late_penalty, late.final_score) == (12.0, 2.4, 9.6)
    assert results["s1001"].late_penalty == 0 and results["s1001"].final_score == 12.0
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    assert rows["s1003"]["late_penalty"] == "2.4" and rows["s1003"]["final_score"] == "9.6"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["lms"] == "sakai" and report["students"]["s1019"]["late_penalty"] == 1.2  # 31 min late: one started day
    page = (out / "feedback" / "s1003.html").read_text(encoding="utf-8")
    assert "遅れ" in page or "遅延" in page, "the Japanese feedback page states the lateness"


def test_export_after_a_manual_grade_gives_every_final_score(term):
    course, out, _, _ = term
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:  # the instructor marks s1001's written answer in formgrader
        grade = gb.find_grade("discussion_answer", A, A, "s1001")
        grade.manual_score = 2.0
        gb.db.commit()
    code = cli.main(["export", A, "--course", str(course), "--out", str(out), "--lms", "sakai", "--download", str(DOWNLOAD), *LATE])
    assert code == 0
    exported = next(out.glob("*.zip"))
    with zipfile.ZipFile(exported) as archive:
        name = next(n for n in archive.namelist() if n.endswith("grades.csv"))
        rows = list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8-sig")))
        feedback = [n for n in archive.namelist() if "Feedback Attachment" in n]
    grades = {row[1]: row[4] for row in rows[3:] if len(row) > 4}
    assert float(grades["s1001"]) == 14.0  # 12 automatic + 2 manual, on time
    assert float(grades["s1003"]) == 9.6  # 12 less 20 % for 25 h late
    assert grades["s1020"] == ""  # on the roster, nothing handed in
    assert len(feedback) == 5


def test_class_report_and_similarity_are_written(term):
    course, out, _, _ = term
    assert cli.main(["report", A, "--course", str(course), "--out", str(out), *LATE]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img" in page and "s1020" not in page or "no submission" in page
    assert cli.main(["similarity", A, "--course", str(course), "--out", str(out)]) == 0
    ranked = list(csv.DictReader(open(out / "similarity.csv", encoding="utf-8")))
    top = {ranked[0]["student_a"], ranked[0]["student_b"]}
    assert top <= {"s1001", "s1003", "s1004", "s1019"}, "the identical correct solutions rank first"
