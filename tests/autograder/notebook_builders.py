"""Small notebooks for the autograder's unit tests: a release and a correct submission."""

from __future__ import annotations

import copy

import nbformat

RELEASE_IDS = ["header", "setup", "double", "test_double", "answer_value", "test_answer", "why_prompt", "why"]


def nbg(**meta) -> dict:
    """Cell metadata as nbgrader writes it, with ``meta`` overriding the defaults."""
    return {"nbgrader": {"schema_version": 3, "grade": False, "locked": False, "solution": False, "task": False, **meta}}


def release_nb() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# header", metadata=nbg(grade_id="header", locked=True)),
        nbformat.v4.new_code_cell("import numpy as np", metadata=nbg(grade_id="setup", locked=True)),
        nbformat.v4.new_code_cell(
            'def double(x: int) -> int:\n    """Twice x."""\n    # YOUR CODE HERE\n    raise NotImplementedError()',
            metadata=nbg(grade_id="double", solution=True),
        ),
        nbformat.v4.new_code_cell('"""double doubles."""\nassert double(2) == 4, "2 の 2 倍は 4"', metadata=nbg(grade_id="test_double", grade=True, locked=True, points=1)),
        nbformat.v4.new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()", metadata=nbg(grade_id="answer_value", solution=True)),
        nbformat.v4.new_code_cell('"""answer is 5."""\nassert answer == 5, "answer"', metadata=nbg(grade_id="test_answer", grade=True, locked=True, points=2)),
        nbformat.v4.new_markdown_cell("Why?", metadata=nbg(grade_id="why_prompt", locked=True)),
        nbformat.v4.new_markdown_cell("ここに回答", metadata=nbg(grade_id="why", grade=True, solution=True, points=1)),
    ]
    return nb


def student_nb() -> nbformat.NotebookNode:
    nb = copy.deepcopy(release_nb())
    nb.cells[2].source = 'def double(x: int) -> int:\n    """Twice x."""\n    return 2 * x'
    nb.cells[4].source = "answer = 5"
    nb.cells[7].source = "Because."
    return nb


def ids(nb: nbformat.NotebookNode) -> list[str | None]:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
