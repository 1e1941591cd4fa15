"""Feedback that shows each test's points and message but not the hidden tests."""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.DOTALL)


class HideHiddenTests(NbGraderPreprocessor):
    """Remove hidden test code and the tracebacks that would quote it.

    nbgrader's feedback shows a test cell's full source, hidden part included, and the
    traceback of a failing assert prints the line that failed. Here a test cell keeps its
    visible part, and an error keeps only its type and message (the assert's own text,
    written for students), e.g. ``AssertionError: 行の和が 1 になっていません``.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            if "### BEGIN HIDDEN TESTS" in cell.source:
                cell.source = HIDDEN.sub("# (hidden tests)\n", cell.source).rstrip()
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
