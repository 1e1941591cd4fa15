"""The instructor's cells of B1-1, from the source notebook and from the template gradebook
nbgrader writes: what the judge runs as set-up and as tests, whatever a submission says."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import cells
from autograder.instructor_cells import InstructorCells

REPO = Path(__file__).resolve().parents[2]
ASSIGNMENT = "B1-1"


def read(folder: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / folder / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def source() -> nbformat.NotebookNode:
    return read("source")


@pytest.fixture(scope="module")
def release() -> nbformat.NotebookNode:
    return read("release")


@pytest.fixture(scope="module")
def instructor(source) -> InstructorCells:
    return InstructorCells.from_notebook(source)


def cell_with_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    [cell] = [c for c in nb.cells if cells.grade_id(c) == grade_id]
    return cell


def index_of(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if cells.grade_id(c) == grade_id)


def fake_locked_cell(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A cell a student made, with nbgrader metadata copied from a real locked cell."""
    meta = {"nbgrader": {"grade": False, "grade_id": grade_id, "locked": True, "schema_version": 3, "solution": False}}
    return nbformat.v4.new_code_cell(source, metadata=meta)


def student_copy(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return copy.deepcopy(release)


# --------------------------------------------------------------------------- from the notebook


def test_the_setup_is_exactly_the_setup_cell(source, instructor):
    assert instructor.setup() == [cells.source(cell_with_id(source, "setup"))]
    assert list(instructor.locked) == ["setup"]


def test_the_tests_are_the_graded_code_cells_with_their_hidden_parts(source, instructor):
    graded = [cells.grade_id(c) for c in source.cells if cells.role(c) is cells.CellRole.TEST]
    assert sorted(instructor.tests) == sorted(graded) and len(graded) == 12
    assert "### BEGIN HIDDEN TESTS" in instructor.tests["test_dense_params_random_sizes"]
    assert "_rng = np.random.default_rng(7)" in instructor.tests["test_dense_params_random_sizes"]


def test_the_answers_are_the_solution_code_cells(instructor):
    assert instructor.answers == frozenset({"softmax", "dense_params", "mlp_params", "forward", "precision_recall"})


def test_a_release_test_cell_is_judged_with_the_instructors_hidden_source(release, instructor):
    cell = cell_with_id(release, "test_dense_params_random_sizes")
    assert "HIDDEN" not in cells.source(cell)  # the student never saw the hidden part
    assert "### BEGIN HIDDEN TESTS" in instructor.test_source(cell)


def test_a_student_cell_edited_to_look_like_a_test_gets_the_instructors_source(release, instructor):
    nb = student_copy(release)
    cell = cell_with_id(nb, "test_dense_params_hidden_layer")
    cell.source = "assert True"
    assert instructor.test_source(cell) == instructor.tests["test_dense_params_hidden_layer"]


def test_a_cell_the_gradebook_does_not_know_has_no_test_source(instructor):
    assert instructor.test_source(fake_locked_cell("assert True", "evil")) is None
    assert instructor.test_source(nbformat.v4.new_code_cell("assert True")) is None


def test_the_release_gives_the_same_setup_as_the_source(release, instructor):
    assert instructor.setup() == [instructor.locked["setup"]]


def test_a_fake_locked_cell_before_the_setup_never_gets_into_the_setup(release, instructor):
    nb = student_copy(release)
    nb.cells.insert(index_of(nb, "setup"), fake_locked_cell("import numpy_forged as np", "evil"))
    assert instructor.setup() == [instructor.locked["setup"]]


def test_a_student_cell_that_copies_the_setups_grade_id_runs_the_instructors_setup_once(release, instructor):
    nb = student_copy(release)
    nb.cells.insert(0, fake_locked_cell("np = None", "setup"))
    assert instructor.setup() == [instructor.locked["setup"]]


def test_an_answer_cell_moved_above_the_setup_leaves_the_setup_whole(release, instructor):
    nb = student_copy(release)
    answer = nb.cells.pop(index_of(nb, "softmax"))
    nb.cells.insert(index_of(nb, "setup"), answer)
    assert instructor.setup() == [instructor.locked["setup"]]


def test_student_names_are_what_the_answer_and_other_student_cells_bind(release, instructor):
    names = instructor.student_names(release)
    assert {"softmax", "dense_params", "mlp_params", "forward", "precision_recall"} <= names  # answer cells
    assert {"X_train", "y_train", "X_train_flat", "model", "weights", "probs_keras", "X_check", "history"} <= names  # given cells


def test_student_names_leave_out_what_only_the_tests_and_the_setup_bind(release, instructor):
    names = instructor.student_names(release)
    assert not {"p_check", "probs_check", "_p", "_r"} & names  # bound in test cells only
    assert not {"keras", "layers", "course_utils", "MNIST_CLASSES", "get_data_mnist"} & names  # bound by the set-up


def test_an_item_assignment_binds_no_name_it_only_reads(instructor):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("table[np.arange(3), labels] = 0.5\nrow.values = [1]")])
    assert instructor.student_names(nb) == set()


def test_student_names_include_a_cell_the_student_added(release, instructor):
    nb = student_copy(release)
    nb.cells.append(nbformat.v4.new_code_cell("def my_helper(x):\n    return x\n\nscale = 2"))
    assert {"my_helper", "scale"} <= instructor.student_names(nb)


# --------------------------------------------------------------------------- from the template gradebook


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> str:
    """The template gradebook of B1-1, written by nbgrader generate_assignment as prepare() does
    (the same configuration, run in this process: no forkserver to start)."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from autograder.nbconfig import Stage, nbgrader_config
    from autograder.options import Options

    root = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", root)
    template = root / "template"
    shutil.copytree(REPO / "source" / ASSIGNMENT, template / "source" / ASSIGNMENT)
    opts = Options(assignment=ASSIGNMENT, submissions=root / "submissions", course_root=root)
    config = nbgrader_config(opts, Stage.TEMPLATE, root=template)
    GenerateAssignment(coursedir=CourseDirectory(config=config), config=config).start()
    return f"sqlite:///{template / 'gradebook.db'}"


@pytest.mark.slow
def test_the_template_gradebook_holds_the_same_tests_and_setup_as_the_source(template_db, instructor):
    stored = InstructorCells.from_gradebook(template_db, ASSIGNMENT)
    assert stored.tests == instructor.tests  # hidden parts included
    assert stored.locked == instructor.locked
    assert stored.answers == instructor.answers | {"discussion_answer"}  # the written answer is a solution cell too


@pytest.mark.slow
def test_the_template_gradebook_gives_a_student_notebook_only_the_instructors_setup(template_db, release):
    stored = InstructorCells.from_gradebook(template_db, ASSIGNMENT)
    nb = student_copy(release)
    nb.cells.insert(index_of(nb, "setup"), fake_locked_cell("import os", "evil"))
    assert stored.setup() == [cells.source(cell_with_id(read("source"), "setup"))]


@pytest.mark.slow
def test_an_assignment_the_gradebook_does_not_know_has_no_instructor_cells(template_db):
    assert InstructorCells.from_gradebook(template_db, "B9-9") == InstructorCells()
