"""The instructor's cells of an assignment, read from the template gradebook (never from a submission).

A submission's notebook says which cells are tests and which are set-up, but a student can
add a cell with any metadata. What the trusted judge runs comes from the template
gradebook only (written by ``nbgrader generate_assignment`` from source/): the test
cells by grade id, with their hidden tests, and the locked set-up cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nbformat import NotebookNode

from . import cells


@dataclass(frozen=True)
class InstructorCells:
    tests: dict[str, str] = field(default_factory=dict)  # grade id of a graded code cell -> its source
    locked: dict[str, str] = field(default_factory=dict)  # grade id of locked code that is no test -> source
    answers: frozenset[str] = frozenset()  # grade ids of solution cells
    order: tuple[str, ...] = ()  # every grade id in the instructor's notebook order

    @classmethod
    def from_gradebook(cls, db_url: str, assignment: str, notebook: str | None = None) -> InstructorCells:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(db_url) as gb:
            try:
                row = gb.find_notebook(notebook or assignment, assignment)
            except MissingEntry:
                return cls()
            graded = {c.name for c in row.grade_cells if c.cell_type == "code"}
            answers = frozenset(c.name for c in row.solution_cells)
            order = _saved_order(gb, row.id)
            sources = {c.name: c for c in row.source_cells if c.cell_type == "code"}
            tests = {name: sources[name].source for name in graded if name in sources}
            locked = {
                name: c.source for name, c in sources.items()
                if c.locked and name not in graded and name not in answers
            }
        return cls(tests, locked, answers, order)

    @classmethod
    def from_notebook(cls, nb: NotebookNode) -> InstructorCells:
        """The same, from an instructor's notebook (the source or the release)."""
        tests, locked, answers, order = {}, {}, set(), []
        for cell in nb.cells:
            gid = cells.grade_id(cell)
            if gid:
                order.append(gid)
            if not gid or cell.cell_type != "code":
                continue
            meta = cells.nbgrader_meta(cell)
            if meta.get("solution"):
                answers.add(gid)
            if cells.role(cell) is cells.CellRole.TEST:
                tests[gid] = cells.source(cell)
            elif cells.is_instructor_code(cell) and not meta.get("solution"):
                locked[gid] = cells.source(cell)
        return cls(tests, locked, frozenset(answers), tuple(order))

    def setup(self) -> list[str]:
        """The set-up: the instructor's locked cells before the first answer or test, in the
        instructor's order (a submission's order does not matter), with the instructor's source."""
        out = []
        for gid in self.order:
            if gid in self.tests or gid in self.answers:
                break
            if gid in self.locked and self.locked[gid] not in out:
                out.append(self.locked[gid])
        return out

    def test_source(self, cell: NotebookNode) -> str | None:
        """The instructor's source of a graded test cell; None for a cell the gradebook does not know."""
        gid = cells.grade_id(cell)
        return self.tests.get(gid) if gid else None

    def student_names(self, nb: NotebookNode) -> set[str]:
        """Names bound by the code cells that are not the instructor's tests or set-up."""
        setup = set(self.setup())
        names: set[str] = set()
        for cell in nb.cells:
            if cell.cell_type != "code" or cells.grade_id(cell) in self.tests or cells.source(cell) in setup:
                continue
            names |= cells.bound_names(cells.source(cell))
        return names


def _saved_order(gb, notebook_id: str) -> tuple[str, ...]:
    """Grade ids of a notebook's cells as nbgrader saved them: in the notebook's order
    (the template gradebook is SQLite; its ids are random, its row ids are not)."""
    from sqlalchemy import text

    rows = gb.db.execute(text("SELECT name FROM source_cell WHERE notebook_id = :id ORDER BY rowid"), {"id": notebook_id})
    return tuple(name for (name,) in rows)

