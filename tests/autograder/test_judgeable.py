"""``release --check`` names every test the trusted judge could not judge."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from course_copies import course_copy

from autograder import cli, judgeable

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ("B1-1", "B1-2", "B2-1", "B2-2", "B2-3")


def _source(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)


def _with_test(nb: nbformat.NotebookNode, code: str, grade_id: str = "test_extra") -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(code)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 1, "solution": False, "schema_version": 3}
    nb.cells.append(cell)
    return nb


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_course_test_can_be_judged_outside_the_kernel(assignment):
    assert judgeable.problems(_source(assignment), run_setup=False) == []


def test_the_set_up_cells_of_the_course_run_in_the_judge():
    assert judgeable.problems(_source("B2-2")) == []


def test_a_test_that_rebinds_a_student_function_is_named():
    nb = _with_test(_source("B2-1"), "_student = im2col\nim2col = lambda *a: None\nassert conv2d_batched is not None")
    found = judgeable.problems(nb, run_setup=False)
    assert len(found) == 1 and found[0].startswith("test_extra: rebinds im2col"), found


def test_a_test_that_changes_a_students_object_is_named():
    nb = _with_test(_source("B2-1"), "model_conv3.trainable = False\nweights_list = [1]\nassert model_conv3")
    found = judgeable.problems(nb, run_setup=False)
    assert found == ["test_extra: changes model_conv3 (attribute or item); the judge has a copy, the student's object stays as it was"]


def test_a_test_that_only_binds_its_own_names_is_fine():
    nb = _with_test(_source("B1-1"), "_x = softmax(np.zeros((1, 2)))\n_x[0, 0] = 1.0\nfor _ in range(2):\n    pass\nassert _x.shape == (1, 2)")
    assert judgeable.problems(nb, run_setup=False) == []


def test_a_set_up_that_does_not_run_in_the_judge_is_named():
    nb = _source("B1-1")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "setup":
            cell.source += "\nimport a_module_that_is_not_installed\n"
    found = judgeable.problems(nb)
    assert len(found) == 1 and found[0].startswith("set-up: the locked set-up cells do not run in the judge (ModuleNotFoundError"), found


def test_release_check_fails_and_names_the_test(tmp_path, capsys):
    course = course_copy(tmp_path / "course")
    path = course / "source" / "B1-1" / "B1-1.ipynb"
    nbformat.write(_with_test(nbformat.read(path, as_version=4), "softmax = None\nassert True"), path)
    assert cli.main(["release", "--course", str(course), "--check", "B1-1"]) == 1
    out = capsys.readouterr().out
    assert "source/B1-1: test_extra: rebinds softmax" in out
