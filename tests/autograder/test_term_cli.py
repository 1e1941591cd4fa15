"""export / similarity / report as course-grade subcommands, on a course folder built in tmp."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest
from conftest import StudentGrades, build_gradebook, enter_manual_grade

from autograder import term_cli
from autograder.late import LateError
from autograder.lms import sakai

REPO = Path(__file__).resolve().parents[2]
FULL = {"test_softmax_rows_sum_to_one": 2, "test_softmax_hidden": 3, "test_dense_params": 5}
STUDENTS = ["s1001", "s1002", "s1003", "s1004", "s1019"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grade")
    term_cli.add_subcommands(p.add_subparsers(dest="command", required=True))
    return p


def run(*argv: str) -> int:
    args = parser().parse_args(list(argv))
    return args.func(args)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """What `course-grade grade` leaves for the Sakai demo download: gradebook, autograded/, report.json."""
    root = tmp_path_factory.mktemp("course")
    for sub in ("source", "release"):
        shutil.copytree(REPO / sub / "B1-1", root / sub / "B1-1")
    demo = REPO / "demo" / "submissions" / "B1-1"
    files = {"s1001": "s1001_B1-1.ipynb", "s1002": "s1002_B1-1.ipynb", "s1003": "s1003_Copy of B1-1.ipynb", "s1004": "s1004_B1-1 (1).ipynb", "s1019": "s1019_B1-1.ipynb"}
    for student, name in files.items():
        target = root / "autograded" / student / "B1-1" / "B1-1.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(demo / name, target)
    build_gradebook(root / "gradebook.db", {s: StudentGrades(auto=FULL) for s in STUDENTS})
    report = {
        "assignment": "B1-1", "seconds": 60.0, "isolation": {}, "ingest_problems": [{"file": "B1-1.ipynb", "problem": "unknown student"}],
        "students": {s: {"student": s, "origin": files[s], "status": "graded", "score": 10.0, "max_score": 12.0, "manual_pending": 2.0,
                         "tests": {k: [float(v), float(v)] for k, v in FULL.items()}, "repairs": [], "findings": [], "events": [], "problems": [], "seconds": 9.0}
                     for s in STUDENTS},
    }
    (root / "grading-output" / "B1-1").mkdir(parents=True)
    (root / "grading-output" / "B1-1" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    return root


def test_export_sakai_from_the_download_with_late_rule(course):
    enter_manual_grade(f"sqlite:///{course / 'gradebook.db'}", "s1001", "discussion_answer", 2)
    code = run("export", "B1-1", "--lms", "sakai", "--course", str(course), "--download", str(REPO / "demo/lms/sakai/B1-1"),
               "--due", "2026-12-01T23:59+09:00", "--late-penalty", "10%/day", "--late-cap", "50%")
    assert code == 0
    data = (course / "grading-output" / "B1-1" / "sakai-upload-all.zip").read_bytes()
    assert sakai.read_upload_grades(data) == {"s1001": "12", "s1002": "10", "s1003": "8", "s1004": "10", "s1019": "9", "s1020": ""}
    page = (course / "grading-output" / "B1-1" / "feedback-pages" / "s1003.html").read_text(encoding="utf-8")
    assert "2 単位遅れ、20 % 減点" in page and "BEGIN HIDDEN" not in page


def test_export_csv_without_download_uses_the_last_run(course):
    assert run("export", "B1-1", "--lms", "csv", "--course", str(course)) == 0
    text = (course / "grading-output" / "B1-1" / "final-grades.csv").read_text()
    assert text.count("\n") == 1 + len(STUDENTS)


def test_similarity_writes_the_ranked_pairs(course):
    assert run("similarity", "B1-1", "--course", str(course)) == 0
    pairs = json.loads((course / "grading-output" / "B1-1" / "similarity.json").read_text())
    assert len(pairs) == 10 and pairs[0]["score"] >= pairs[-1]["score"]


def test_report_uses_gradebook_totals(course):
    enter_manual_grade(f"sqlite:///{course / 'gradebook.db'}", "s1001", "discussion_answer", 2)
    assert run("report", "B1-1", "--course", str(course)) == 0
    page = (course / "grading-output" / "B1-1" / "report.html").read_text(encoding="utf-8")
    assert "gradebook totals" in page and "mean 10.40" in page  # s1001's manual 2 points counted


def test_export_refuses_a_download_of_no_known_lms(course, tmp_path):
    (tmp_path / "x_B1-1.ipynb").write_text("{}")
    with pytest.raises(SystemExit, match="--lms"):
        run("export", "B1-1", "--lms", "csv", "--course", str(course), "--download", str(tmp_path))


def test_bad_late_option_is_a_clear_error(course):
    with pytest.raises(LateError, match="time zone"):
        run("export", "B1-1", "--lms", "csv", "--course", str(course), "--due", "2026-12-01")
