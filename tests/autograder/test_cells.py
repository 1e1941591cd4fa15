"""The nbgrader cell vocabulary."""

from __future__ import annotations

import nbformat

from autograder import cells
from autograder.cells import CellRole


def cell(kind="code", source="", **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": nbgrader} if nbgrader else {})


def test_roles():
    assert cells.role(cell(grade=True, locked=True, points=2)) is CellRole.TEST
    assert cells.role(cell(locked=True)) is CellRole.LOCKED
    assert cells.role(cell(solution=True)) is CellRole.STUDENT
    assert cells.role(cell()) is CellRole.STUDENT
    assert cells.role(cell("markdown", grade=True, solution=True, points=2)) is CellRole.STUDENT  # a written answer


def test_points_count_automatic_and_manual_cells():
    nb = nbformat.v4.new_notebook(cells=[cell(grade=True, locked=True, points=2), cell("markdown", grade=True, solution=True, points=3), cell(locked=True)])
    assert cells.max_points(nb) == 5.0


def test_bound_names_reads_magics_and_ignores_broken_code():
    code = "%matplotlib inline\nimport numpy as np\nfrom keras import layers\nx, (y, z) = 1, (2, 3)\ndef f(): pass\nclass C: pass"
    assert cells.bound_names(code) == {"np", "layers", "x", "y", "z", "f", "C"}
    assert cells.bound_names(code, assignments=False) == {"np", "layers", "f", "C"}
    assert cells.bound_names("def broken(:") == set()


def test_instructor_names_come_from_locked_code_only():
    nb = nbformat.v4.new_notebook(cells=[cell(source="import numpy as np", locked=True), cell(source="import os", solution=True), cell(source="import sys", grade=True, locked=True, points=1)])
    assert cells.instructor_names(nb) == {"np"}


def test_source_joins_a_list_of_lines():
    assert cells.source({"cell_type": "code", "source": ["a = 1\n", "b = 2"]}) == "a = 1\nb = 2"
