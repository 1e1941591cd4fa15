"""Submissions of hostile students for tests/autograder/test_trusted_verdicts.py.

Each builder takes the release (and source) notebook of an assignment and returns the
notebook a student would hand in: the solution, the plausible wrong or alternative answers
of tests/notebooks/spec.py, or the untouched release with a few lines a student could pass
around put into its answer cells. The attack code is text only: it runs nowhere but in the
grader's sandboxed kernel.
"""

from __future__ import annotations

import ast
import copy
import re

import nbformat

SOLUTION_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


# --------------------------------------------------------------------------- the attacks, as text

#: Replaces the kernel session's ``send``: error messages never leave the kernel and an
#: error reply goes out as ``ok``, so a failing test cell looks like a passing one.
FORGE_SEND = """
_session = get_ipython().kernel.session
_plain_send = _session.send


def _forged_send(stream, msg_or_type, content=None, parent=None, ident=None, buffers=None, track=False, header=None, metadata=None):
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("header", {}).get("msg_type")
    if kind == "error":
        return None
    if kind == "execute_reply" and isinstance(content, dict) and content.get("status") == "error":
        content = {"status": "ok", "execution_count": content.get("execution_count"), "user_expressions": {}, "payload": []}
    return _plain_send(stream, msg_or_type, content, parent, ident, buffers, track, header, metadata)


_session.send = _forged_send
"""

#: The cruder version: only the error messages are dropped, the reply still says "error".
DROP_ERRORS = """
_session = get_ipython().kernel.session
_plain_send = _session.send


def _quiet_send(stream, msg_or_type, *args, **kwargs):
    if msg_or_type == "error":
        return None
    return _plain_send(stream, msg_or_type, *args, **kwargs)


_session.send = _quiet_send
"""

#: An ``int`` that equals (and is ordered like) anything.
ALWAYS_EQUAL_INT = """
class _AlwaysEqualInt(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = int.__hash__


def _cheat():
    return _AlwaysEqualInt(0)
"""

#: An ``ndarray`` that equals anything, has any shape, is close to anything under
#: np.allclose / np.isclose / np.array_equal and passes np.all, whatever it is asked.
ALWAYS_EQUAL_ARRAY = """
import numpy as _np


class _AnyShape(tuple):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = tuple.__hash__


class _AlwaysEqualArray(_np.ndarray):
    def __new__(cls):
        return _np.ones(1).view(cls)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __lt__ = __le__ = __gt__ = __ge__ = __eq__
    __hash__ = None

    def __bool__(self):
        return True

    @property
    def shape(self):
        return _AnyShape((1,))

    def __iter__(self):
        return iter((self, self))

    def __getitem__(self, key):
        return self

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in {"allclose", "isclose", "array_equal", "array_equiv", "all", "any"}:
            return True
        if func.__name__ == "shape":
            return _AnyShape((1,))
        return self

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self


def _cheat():
    return _AlwaysEqualArray()
"""

#: NumPy's implementation modules rebound: numpy.allclose and numpy.all answer True for
#: anything. The guard restores the names of ``numpy`` itself, not of ``numpy._core.*``.
NUMPY_SUBMODULE_PATCH = """
import numpy._core.fromnumeric as _fromnumeric
import numpy._core.numeric as _numeric

_any_all = _fromnumeric._wrapreduction_any_all


def _all_true(obj, ufunc, method, *args, **kwargs):
    return True if method == "all" else _any_all(obj, ufunc, method, *args, **kwargs)


_numeric.isclose = lambda *args, **kwargs: True
_fromnumeric._wrapreduction_any_all = _all_true
"""


# --------------------------------------------------------------------------- notebooks


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells a student answers in (nbgrader ``solution`` cells), in order."""
    return [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("solution")]


def solution_answers(source: nbformat.NotebookNode) -> dict[str, str]:
    """Answer cell -> the source notebook's solution, markers removed."""
    return {grade_id(c): SOLUTION_MARKERS.sub("", c.source).strip("\n") for c in answer_cells(source)}


def test_points(release: nbformat.NotebookNode) -> dict[str, float]:
    """Every autograded test cell of the release and its points."""
    out = {}
    for cell in release.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade"):
            out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def answered(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release with the answer cells in ``answers`` filled in as a student would."""
    nb = copy.deepcopy(release)
    for cell in answer_cells(nb):
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb


def with_code_first(nb: nbformat.NotebookNode, code: str) -> nbformat.NotebookNode:
    """``nb`` with ``code`` run at the start of its first answer cell."""
    nb = copy.deepcopy(nb)
    first = answer_cells(nb)[0]
    first.source = code.strip("\n") + "\n\n\n" + first.source
    return nb


def _cheating_answer(solution: str) -> str:
    """What the solution binds, each bound to ``_cheat()``: a function returns it, a
    variable is it (a dict keeps its keys, given in the stub's comment, with cheating values)."""
    lines = []
    for node in ast.parse(solution).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lines.append(f"def {node.name}(*args, **kwargs):\n    return _cheat()\n")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    continue
                if isinstance(node.value, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.value.keys):
                    keys = ", ".join(repr(k.value) + ": _cheat()" for k in node.value.keys)
                    lines.append(f"{target.id} = {{{keys}}}\n")
                else:
                    lines.append(f"{target.id} = _cheat()\n")
    return "\n".join(lines)


def cheating_submission(release: nbformat.NotebookNode, source: nbformat.NotebookNode, cheat_class: str) -> nbformat.NotebookNode:
    """The release whose every answer binds the solution's names to always-equal objects
    made by ``cheat_class`` (:data:`ALWAYS_EQUAL_INT` or :data:`ALWAYS_EQUAL_ARRAY`)."""
    answers = {gid: _cheating_answer(code) for gid, code in solution_answers(source).items()}
    first = grade_id(answer_cells(release)[0])
    answers[first] = cheat_class.strip("\n") + "\n\n\n" + answers[first]
    return answered(release, answers)
