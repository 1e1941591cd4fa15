"""Test support: run nbgrader on the course notebooks inside a throw-away course directory.

Used by the notebook tests; the autograder has its own, hardened pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("B1-1", "B1-2", "B2-1", "B2-2", "B2-3")


def grading_env(**extra: str) -> dict[str, str]:
    """Environment for kernels started by the tests: quiet TensorFlow, grading mode."""
    env = dict(os.environ)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        COURSE_GRADING_MODE="1",
        COURSE_SYNTHETIC_DATA="missing",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def source_notebook(assignment: str) -> Path:
    return REPO / "source" / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str) -> Path:
    return REPO / "release" / assignment / f"{assignment}.ipynb"


def make_course(tmp: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> Path:
    """A course directory with the repository's config and source notebooks."""
    course = tmp / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(REPO / "source" / a, course / "source" / a)
    return course


def nbgrader(course: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course``; raise with its output when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
        cwd=course,
        env=env or grading_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def generate(course: Path, assignment: str) -> Path:
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course / "release" / assignment / f"{assignment}.ipynb"


def autograde(course: Path, assignment: str, student: str, notebook: nbformat.NotebookNode | Path) -> dict[str, tuple[float, float]]:
    """Autograde one submission; return {grade_id: (score, max_score)}."""
    target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, Path):
        shutil.copy(notebook, target)
    else:
        nbformat.write(notebook, target)
    nbgrader(course, "autograde", assignment, "--student", student, "--force", "--create")
    return scores(course, assignment, student)


def scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def autograded_notebook(course: Path, assignment: str, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)


def cell_by_grade_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def with_answers(nb_path: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of a notebook whose answer cells (by grade_id) hold other code."""
    nb = nbformat.read(nb_path, as_version=4)
    for grade_id, code in answers.items():
        cell_by_grade_id(nb, grade_id).source = code
    return nb


def auto_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Points of every autograded (code) test cell, by grade_id."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, ename) of every error output in an executed notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((i, out.get("ename", "")))
    return found


def dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)
