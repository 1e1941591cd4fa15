"""Feedback pages: what a student may see of the tests."""

from __future__ import annotations

import nbformat
from notebook_builders import nbg

from autograder.feedback import HideHiddenTests


def test_feedback_hides_hidden_tests_and_their_tracebacks():
    cell = nbformat.v4.new_code_cell(
        '"""visible."""\nassert f(1) == 1, "f(1)"\n### BEGIN HIDDEN TESTS\nassert f(7) == 49, "大きな値で違います"\n### END HIDDEN TESTS',
        metadata=nbg(grade_id="t", grade=True, locked=True, points=1),
    )
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="大きな値で違います", traceback=["...", "assert f(7) == 49"])]
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "f(7)" not in out.source and "assert f(1) == 1" in out.source and "(hidden tests)" in out.source
    assert out.outputs[0]["traceback"] == ["AssertionError: 大きな値で違います"]
