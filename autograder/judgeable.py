"""Can every test of a source notebook be judged outside the student's kernel? (``release --check``)

The judge (:mod:`.trusted`) runs a test on plain data copied out of the student's kernel
and calls student functions there. A test that needs the student's live objects cannot be
judged that way, and would fail for every student, the solution included:

* it rebinds a name a student cell binds (``im2col = recording_wrapper``): the student's
  functions run in their kernel and never see the test's binding;
* it changes an attribute or an item of a student's value (``model.trainable = False``,
  ``weights[0] = ...``): it changes the judge's copy, not the student's object;
* its set-up cells do not run in the judge.

:func:`problems` names each such test, so that the author fixes it before release.
"""

from __future__ import annotations

import ast

from nbformat import NotebookNode

from . import cells
from .instructor_cells import InstructorCells


def _top_level_binds(code: str) -> set[str]:
    """Names the cell binds in the notebook's namespace (``global`` ones included)."""
    names = cells.bound_names(code)
    tree = cells.parse(code)
    for node in tree.body if tree else []:
        if isinstance(node, ast.Global):
            names.update(node.names)
    return names


def _mutated(code: str, fetched: set[str]) -> set[str]:
    """Student names whose attributes or items the cell assigns or deletes."""
    tree = cells.parse(code)
    found: set[str] = set()
    for node in ast.walk(tree) if tree else []:
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, (ast.Attribute, ast.Subscript)):
                    base = sub.value
                    while isinstance(base, (ast.Attribute, ast.Subscript)):
                        base = base.value
                    if isinstance(base, ast.Name) and base.id in fetched:
                        found.add(base.id)
    return found


def problems(nb: NotebookNode, *, run_setup: bool = True) -> list[str]:
    """One line per test that cannot be judged outside the student's kernel."""
    instructor = InstructorCells.from_notebook(nb)
    setup = instructor.setup()
    setup_names: set[str] = set()
    for code in setup:
        setup_names |= cells.bound_names(code)
    student = instructor.student_names(nb) - {"_"}
    found = []
    for gid, code in instructor.tests.items():
        rebinds = sorted(_top_level_binds(code) & student)
        if rebinds:
            found.append(
                f"{gid}: rebinds {', '.join(rebinds)}, which a student cell binds; the student's code runs in "
                "its own kernel and would not see it (test a function of plain data instead)"
            )
        mutated = sorted(_mutated(code, cells.free_names(code) - setup_names))
        if mutated:
            found.append(f"{gid}: changes {', '.join(mutated)} (attribute or item); the judge has a copy, the student's object stays as it was")
    if run_setup and instructor.tests:
        from .trusted import Judge

        try:
            Judge(setup, cell_timeout=1)
        except Exception as exc:
            found.append(f"set-up: the locked set-up cells do not run in the judge ({type(exc).__name__}: {exc})")
    return found
