"""The autograder on the demo class: every kind of breakage gets the right score and reason.

B1-1 has 12 automatic points: softmax 4 (the first part), parameters 3, forward pass 3
(which calls the student's softmax), precision and recall 2, plus 3 manual points. One
grading run (two workers) covers all cases below.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from course_copies import course_copy

from autograder import demo, pipeline, sandbox_setup

REPO = Path(__file__).resolve().parents[2]
A = "B1-1"
FULL, SOFTMAX, WRONG_SOFTMAX = 12.0, 4.0, 5.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return course_copy(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    opts = pipeline.Options(
        assignment=A,
        submissions=REPO / "demo" / "submissions" / A,
        course_root=course,
        out=out,
        jobs=2,
        cell_timeout=30,
        progress=False,
    )
    outcome = pipeline.grade(opts)
    return {r.student: r for r in outcome.results}, outcome, out


def events(result, kind):
    return [e for e in result.events if e["kind"] == kind]


def test_committed_demo_class_is_what_the_generator_makes(tmp_path):
    demo.build(REPO, tmp_path, assignments=[A])
    made = sorted(p.name for p in (tmp_path / A).iterdir())
    shipped = sorted(p.name for p in (REPO / "demo" / "submissions" / A).iterdir())
    assert made == shipped
    for name in made:
        assert (tmp_path / A / name).read_bytes() == (REPO / "demo" / "submissions" / A / name).read_bytes(), name


def test_correct_and_colab_submissions_get_full_automatic_points(graded):
    results, _, _ = graded
    for student in ("s1001", "s1003", "s1018"):
        assert results[student].score == FULL, student
        assert results[student].max_score == 15 and results[student].manual_pending == 3
        assert results[student].status == "graded"


def test_partly_answered_submission_gets_the_points_of_its_answers(graded):
    results, _, _ = graded
    assert results["s1002"].score == 2.0  # dense_params answered, the rest left as stubs


def test_newest_of_duplicate_files_is_graded_and_reported(graded):
    results, outcome, _ = graded
    assert results["s1004"].score == FULL
    assert results["s1004"].origin == "s1004_B1-1 (1).ipynb"
    assert any(p.get("student") == "s1004" and p["problem"] == "duplicate submissions" for p in outcome.ingest_problems)


@pytest.mark.parametrize(
    "student, note",
    [
        ("s1005", "nbgrader metadata missing"),
        ("s1006", "restored from the release: test_softmax_rows_sum_to_one"),
        ("s1007", "answer cell 'softmax' appeared 2 times"),
        ("s1008", "changed back to code"),
        ("s1019", "kernelspec 'conda-env-dl-py' replaced"),
    ],
)
def test_damaged_notebooks_are_repaired_and_fully_graded(graded, student, note):
    results, _, _ = graded
    assert results[student].score == FULL, results[student].problem_summary()
    assert any(note in r for r in results[student].repairs), results[student].repairs


def test_invalid_json_scores_zero_with_the_reason(graded):
    r = graded[0]["s1009"]
    assert (r.score, r.max_score, r.status) == (0.0, 15.0, "invalid")
    assert "invalid JSON" in r.problems[0]


def test_endless_loop_is_interrupted_and_the_rest_graded(graded):
    r = graded[0]["s1010"]
    assert r.score == FULL
    assert events(r, "timeout") and r.status == "graded"


@pytest.mark.parametrize(
    "student, kind, detail",
    [
        ("s1011", "kernel-died", "the kernel died"),
        ("s1012", "kernel-died", "memory limit exceeded"),
        ("s1014", "timeout-ignored-interrupt", ""),
    ],
)
def test_dead_or_stuck_kernel_keeps_the_points_of_what_ran(graded, student, kind, detail):
    r = graded[0][student]
    assert r.score == SOFTMAX, r.problem_summary()  # the first part ran before the breakage
    assert r.status == "partial"
    assert any(detail in e["detail"] for e in events(r, kind)), r.events
    assert any("not run after the kernel stopped" in p for p in r.problems)


def test_output_flood_is_cut_and_graded(graded):
    r = graded[0]["s1013"]
    assert r.score == FULL and events(r, "output-truncated")


@pytest.mark.parametrize(
    "student, restored",
    [
        ("s1015", "input transformers"),
        ("s1016", "numpy.testing.assert_allclose"),
        ("s1017", "name 'np'"),
    ],
)
def test_cheats_are_defeated_and_flagged(graded, student, restored):
    r = graded[0][student]
    # without the guard these would get all 12 points; a wrong softmax loses its own
    # part and the forward pass that calls it
    assert r.score == WRONG_SOFTMAX, r.problem_summary()
    assert any(restored in e["detail"] for e in events(r, "integrity-restored")), r.events
    assert r.status == "review"


def test_static_review_names_the_tricks(graded):
    results, _, _ = graded
    assert any("IPython internals" in f for f in results["s1015"].findings)
    assert any("monkeypatches np.testing.assert_allclose" in f for f in results["s1016"].findings)
    assert any("rebinds 'np'" in f for f in results["s1017"].findings)
    assert any("signal handling" in f for f in results["s1014"].findings)


def test_unknown_files_are_reported_not_graded(graded):
    results, outcome, _ = graded
    problems = {p.get("file"): p["problem"] for p in outcome.ingest_problems if p.get("file")}
    assert problems["B1-1.ipynb"] == "unknown student"
    assert problems["README.txt"] == "not a notebook, ignored"
    assert len(results) == 19


def test_kernel_ran_isolated(graded):
    _, outcome, _ = graded
    iso = outcome.isolation
    assert iso.get("errors") == [], iso
    assert iso["network"].startswith("none")
    assert any(p.endswith("/source") for p in iso["hidden"])
    if iso["namespaces"] == "root":
        assert iso["uid"] >= sandbox_setup.FIRST_SANDBOX_UID


def test_grades_csv_has_every_student_and_test(graded):
    results, _, out = graded
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    assert [r["student"] for r in rows] == sorted(results)
    by_student = {r["student"]: r for r in rows}
    assert by_student["s1011"]["status"] == "partial" and by_student["s1011"]["score"] == "4"
    tests = list(csv.DictReader(open(out / "grades_by_test.csv", encoding="utf-8")))
    s1001 = {t["test"]: float(t["score"]) for t in tests if t["student"] == "s1001"}
    assert len(s1001) == 13 and sum(s1001.values()) == FULL  # 12 tests + the written answer


def test_report_json_lists_every_problem(graded):
    _, _, out = graded
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["students"]["s1012"]["status"] == "partial"
    assert any(p["problem"] == "unknown student" for p in report["ingest_problems"])


def test_feedback_shows_points_and_messages_but_no_hidden_tests(graded):
    _, _, out = graded
    raw = (out / "feedback" / "s1015.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", raw))
    assert "BEGIN HIDDEN TESTS" not in text and "隠しテストの内容は表示されません" in text
    assert "5 / 15" in text, "the page shows the student's points"
    source = nbformat.read(REPO / "source" / A / f"{A}.ipynb", as_version=4)
    hidden_lines = {
        line.strip()
        for cell in source.cells
        if "### BEGIN HIDDEN TESTS" in cell.source
        for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
        if len(line.strip()) > 25 and not line.strip().startswith("#")
    }
    assert hidden_lines and not [line for line in hidden_lines if line in text]
    assert (out / "feedback" / "s1001.html").is_file()


def test_regrading_one_student_is_idempotent(graded, course):
    results, _, out = graded
    opts = pipeline.Options(
        assignment=A,
        submissions=REPO / "demo" / "submissions" / A,
        course_root=course,
        out=out / "again",
        students={"s1001"},
        progress=False,
    )
    again = pipeline.grade(opts)
    assert [(r.student, r.score) for r in again.results] == [("s1001", FULL)]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert len(gb.find_assignment(A).submissions) == 18  # one per graded student, none doubled


def test_regrading_some_students_keeps_everyone_elses_outputs(graded, course, tmp_path):
    results, _, out = graded
    partial = tmp_path / "partial-out"
    shutil.copytree(out, partial)
    before = (partial / "grades.csv").read_text(encoding="utf-8")
    feedback_before = sorted(p.name for p in (partial / "feedback").iterdir())
    opts = pipeline.Options(
        assignment=A,
        submissions=REPO / "demo" / "submissions" / A,
        course_root=course,
        out=partial,
        students={"s1002"},
        progress=False,
    )
    pipeline.grade(opts)
    assert (partial / "grades.csv").read_text(encoding="utf-8") == before, "a one-student re-run changed the class's grades.csv"
    assert sorted(p.name for p in (partial / "feedback").iterdir()) == feedback_before
    report = json.loads((partial / "report.json").read_text(encoding="utf-8"))
    assert set(report["students"]) == set(results)


def _as_expected(report: dict) -> dict:
    """The parts of report.json that say what each student got and why (no timings)."""

    def problem(text: str) -> str:
        return re.sub(r"\d+ MiB > ", "N MiB > ", text)

    return {
        student: {
            "origin": d["origin"],
            "status": d["status"],
            "score": d["score"],
            "max_score": d["max_score"],
            "manual_pending": d["manual_pending"],
            "tests": d["tests"],
            "repairs": d["repairs"],
            "problems": [problem(p) for p in d["problems"]],
            "events": [[e["kind"], e["cell"]] for e in d["events"]],
        }
        for student, d in sorted(report["students"].items())
    }


def test_demo_class_grades_exactly_as_before_the_redesign(graded):
    """Scores, statuses, reasons and events of the demo class, as the pre-redesign grader gave them."""
    _, _, out = graded
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    expected = json.loads((Path(__file__).parent / "data" / "demo_B1-1_expected.json").read_text(encoding="utf-8"))
    want = {s: {k: v for k, v in d.items() if k != "findings"} for s, d in expected["students"].items()}
    assert _as_expected(report) == want
    for student, data in expected["students"].items():  # the review may now find more, never less
        assert set(data["findings"]) <= set(report["students"][student]["findings"]), student
