"""The nbgrader cell vocabulary, in one place: what a cell is for and what it binds.

nbgrader keeps a cell's role in ``cell.metadata["nbgrader"]`` (``grade``, ``solution``,
``locked``, ``grade_id``, ``points``). Every stage of the grader (repair, review,
execution, feedback) asks these questions of cells; they are answered here only.
"""

from __future__ import annotations

import ast
import enum
from typing import Any

from nbformat import NotebookNode


class CellRole(str, enum.Enum):
    """What a code cell is for while a notebook is graded."""

    TEST = "test"  # a graded test cell (locked, has points)
    LOCKED = "locked"  # the instructor's read-only code (set-up, given code)
    STUDENT = "student"  # an answer cell or a cell the student added


def nbgrader_meta(cell: NotebookNode | dict) -> dict[str, Any]:
    """The cell's nbgrader metadata ({} when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def source(cell: NotebookNode | dict) -> str:
    """The cell's source as one string (nbformat allows a list of lines on disk)."""
    text = cell.get("source", "")
    return text if isinstance(text, str) else "".join(text)


def grade_id(cell: NotebookNode | dict) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_graded(cell: NotebookNode | dict) -> bool:
    """A cell with points: a test cell, or a manually graded answer."""
    return bool(nbgrader_meta(cell).get("grade"))


def points(cell: NotebookNode | dict) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0) if is_graded(cell) else 0.0


def role(cell: NotebookNode | dict) -> CellRole:
    meta = nbgrader_meta(cell)
    if meta.get("grade") and cell.get("cell_type") == "code":
        return CellRole.TEST
    if meta.get("locked") and not meta.get("solution"):
        return CellRole.LOCKED
    return CellRole.STUDENT


def is_instructor_code(cell: NotebookNode | dict) -> bool:
    """Locked code that is not a test: the set-up and given code the student cannot edit."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("locked")) and not meta.get("grade")


def max_points(nb: NotebookNode) -> float:
    """All points a notebook can give, automatic and manual."""
    return sum(points(cell) for cell in nb.cells)


def neutralize_magics(code: str) -> str:
    """IPython magics and shell escapes become ``pass`` so that :mod:`ast` can parse a cell."""
    lines = []
    for line in code.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)


def parse(code: str) -> ast.Module | None:
    """The cell's syntax tree, magics neutralised; None when it is not valid Python."""
    try:
        return ast.parse(neutralize_magics(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def bound_names(code: str, *, assignments: bool = True) -> set[str]:
    """Top-level names a cell binds: imports, functions, classes and (optionally) assignments."""
    tree = parse(code)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif assignments and isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(sub.id for sub in ast.walk(target) if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store))
    return names


def instructor_names(release_nb: NotebookNode) -> set[str]:
    """Modules, functions and classes bound by the instructor's locked code cells."""
    names: set[str] = set()
    for cell in release_nb.cells:
        if is_instructor_code(cell):
            names |= bound_names(source(cell), assignments=False)
    return names
