"""Gradebooks built with nbgrader's own API (no notebook is ever run in these tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

ASSIGNMENT = "B1-1"


@dataclass
class Cell:
    name: str
    points: float
    manual: bool = False  # a written answer graded by hand in formgrader


@dataclass
class StudentGrades:
    auto: dict[str, float] = field(default_factory=dict)  # grade id -> automatic score
    manual: dict[str, float] = field(default_factory=dict)  # grade id -> score entered by hand
    comments: dict[str, str] = field(default_factory=dict)  # solution cell -> manual comment
    timestamp: datetime | None = None  # stored by nbgrader as naive UTC


CELLS = [
    Cell("test_softmax_rows_sum_to_one", 2),
    Cell("test_softmax_hidden", 3),
    Cell("test_dense_params", 5),
    Cell("discussion_answer", 2, manual=True),
]


def build_gradebook(path: Path, students: dict[str, StudentGrades], cells: list[Cell] = CELLS, assignment: str = ASSIGNMENT) -> str:
    """A SQLite gradebook at ``path`` with ``students`` graded as given; returns its URL."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{path}"
    with Gradebook(url) as gb:
        gb.add_assignment(assignment)
        gb.add_notebook(assignment, assignment)
        for cell in cells:
            gb.add_grade_cell(cell.name, assignment, assignment, max_score=cell.points, cell_type="markdown" if cell.manual else "code")
            if cell.manual:
                gb.add_solution_cell(cell.name, assignment, assignment)
        for student, grades in students.items():
            gb.add_student(student)
            kwargs = {"timestamp": grades.timestamp} if grades.timestamp else {}
            gb.add_submission(assignment, student, **kwargs)
            for cell in cells:
                grade = gb.find_grade(cell.name, assignment, assignment, student)
                if cell.manual:
                    grade.auto_score = None
                    grade.needs_manual_grade = cell.name not in grades.manual
                else:
                    grade.auto_score = grades.auto.get(cell.name, 0.0)
                    grade.needs_manual_grade = False
                if cell.name in grades.manual:
                    grade.manual_score = grades.manual[cell.name]
            for name, text in grades.comments.items():
                gb.find_comment(name, assignment, assignment, student).manual_comment = text
            gb.db.commit()
    return url


def enter_manual_grade(url: str, student: str, cell: str, score: float, comment: str | None = None, assignment: str = ASSIGNMENT) -> None:
    """What formgrader does when an instructor types a mark (and a comment)."""
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        grade = gb.find_grade(cell, assignment, assignment, student)
        grade.manual_score = score
        grade.needs_manual_grade = False
        if comment is not None:
            gb.find_comment(cell, assignment, assignment, student).manual_comment = comment
        gb.db.commit()


@pytest.fixture
def gradebook_factory(tmp_path):
    def make(students: dict[str, StudentGrades], cells: list[Cell] = CELLS) -> str:
        return build_gradebook(tmp_path / "gradebook.db", students, cells)

    return make


# ---------------------------------------------------------------------------------------
# Debian's Chromium driven by Playwright, launched as tests/test_browser.py launches it
# ---------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's tmp dir and in artifacts/screenshots/."""
    target = tmp_path / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / target.name).write_bytes(target.read_bytes())
    return target
