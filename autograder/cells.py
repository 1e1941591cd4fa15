"""The nbgrader cell vocabulary, in one place: what a cell is for and what it binds.

nbgrader keeps a cell's role in ``cell.metadata["nbgrader"]`` (``grade``, ``solution``,
``locked``, ``grade_id``, ``points``). Every stage of the grader (repair, review,
execution, feedback) asks these questions of cells; they are answered here only.
"""

from __future__ import annotations

import ast
import builtins
import enum
from collections.abc import Iterator
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


def target_names(target: ast.AST) -> Iterator[ast.Name]:
    """The names an assignment target binds (``a, *b = ...``), not the bases of ``a.x`` or ``a[0]``."""
    if isinstance(target, ast.Name):
        yield target
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from target_names(element)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def bound_names(code: str, *, assignments: bool = True) -> set[str]:
    """Top-level names a cell binds: imports, functions, classes and (optionally) assignments,
    loop and ``with`` targets."""
    tree = parse(code)
    if tree is None:
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif not assignments:
            continue
        elif isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
        for target in targets:
            names.update(name.id for name in target_names(target))
    return names


def _loads_and_binds(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Every name a cell reads and every name it binds, at any depth."""
    loads: set[str] = set()
    binds: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loads if isinstance(node.ctx, ast.Load) else binds).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        elif isinstance(node, ast.arg):
            binds.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                binds.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            binds.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            binds.update(node.names)
    return loads, binds


def free_names(code: str) -> set[str]:
    """Names the cell reads and does not bind itself (builtins left out)."""
    tree = parse(code)
    if tree is None:
        return set()
    loads, binds = _loads_and_binds(tree)
    return loads - binds - set(dir(builtins))


def read_before_bound(code: str) -> set[str]:
    """Names the cell both reads and binds (it may read another cell's value first)."""
    tree = parse(code)
    if tree is None:
        return set()
    loads, binds = _loads_and_binds(tree)
    return (loads & binds) - set(dir(builtins))


def instructor_names(release_nb: NotebookNode) -> set[str]:
    """Modules, functions and classes bound by the instructor's locked code cells."""
    names: set[str] = set()
    for cell in release_nb.cells:
        if is_instructor_code(cell):
            names |= bound_names(source(cell), assignments=False)
    return names
