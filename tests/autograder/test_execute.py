"""HardenedExecute and the guarded kernel on small notebooks, without the whole pipeline.

One kernelspec starts ``autograder.sandbox_kernel`` without a sandbox (isolation has its
own tests), so what is checked here is the executor's handling of timeouts, dead kernels
and output floods, and the kernel's restoring of patched functions before test cells.
"""

from __future__ import annotations

import json
import sys

import nbformat
import pytest
from traitlets.config import Config

from autograder.execute import HardenedExecute
from autograder.outcomes import EventKind

pytestmark = pytest.mark.slow


def _meta(**nbgrader):
    return {"nbgrader": {"schema_version": 3, "grade": False, "locked": False, "solution": False, **nbgrader}}


def setup(code):
    return nbformat.v4.new_code_cell(code, metadata=_meta(grade_id=f"setup{abs(hash(code))}", locked=True))


def student(code):
    return nbformat.v4.new_code_cell(code, metadata=_meta(grade_id=f"answer{abs(hash(code))}", solution=True))


def graded(code, points=1):
    return nbformat.v4.new_code_cell(code, metadata=_meta(grade_id=f"test{abs(hash(code))}", grade=True, locked=True, points=points))


@pytest.fixture(scope="module")
def run(tmp_path_factory, monkeypatch_module):
    """Execute a list of cells with HardenedExecute; return (notebook, executor)."""
    jupyter = tmp_path_factory.mktemp("jupyter")
    spec = jupyter / "kernels" / "guarded"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "autograder.sandbox_kernel", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "guarded", "language": "python"}))
    monkeypatch_module.setenv("JUPYTER_PATH", str(jupyter))

    def execute(cells, timeout=10, output_limit=200_000):
        nb = nbformat.v4.new_notebook(cells=cells)
        c = Config()
        c.HardenedExecute.kernel_name = "guarded"
        c.HardenedExecute.timeout = timeout
        c.HardenedExecute.interrupt_on_timeout = True
        c.HardenedExecute.cell_output_limit = output_limit
        executor = HardenedExecute(config=c)
        nb, _ = executor(nb, {"metadata": {"path": str(jupyter)}})
        return nb, executor

    return execute


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def kinds(executor):
    return [e.kind for e in executor.events]


def errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


def test_an_endless_cell_is_interrupted_and_the_rest_runs(run):
    nb, ex = run([student("while True:\n    pass"), graded("assert 1 + 1 == 2")], timeout=3)
    assert EventKind.TIMEOUT in kinds(ex)
    assert not errors(nb.cells[1]), "the test after the interrupted cell ran and passed"


def test_a_dead_kernel_marks_every_later_test_as_not_run(run):
    nb, ex = run([student("import os\nos._exit(3)"), graded("assert True"), graded("assert True")])
    assert kinds(ex)[0] is EventKind.KERNEL_DIED
    assert kinds(ex).count(EventKind.NOT_RUN) == 2
    assert all(errors(c) and errors(c)[0].ename == "NotExecuted" for c in nb.cells[1:]), "not-run tests carry an error, so they score 0"


def test_an_output_flood_is_cut_while_it_arrives(run):
    nb, ex = run([student("for i in range(20000):\n    print('x' * 50)")], output_limit=10_000)
    assert EventKind.OUTPUT_TRUNCATED in kinds(ex)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert len(text) < 20_000 and "further output dropped" in text


def test_the_guard_restores_numpy_testing_before_a_test_cell(run):
    cells = [
        setup("import numpy as np"),
        student("np.testing.assert_allclose = lambda *args, **kwargs: None"),
        graded("np.testing.assert_allclose(1.0, 2.0)"),
    ]
    nb, ex = run(cells)
    assert errors(nb.cells[2]) and errors(nb.cells[2])[0].ename == "AssertionError", "the real assert_allclose ran"
    restored = [e for e in ex.events if e.kind is EventKind.INTEGRITY_RESTORED]
    assert restored and "numpy.testing.assert_allclose" in restored[0].detail


def test_the_guard_puts_back_names_the_instructor_bound(run):
    cells = [setup("import numpy as np"), student("class _Yes:\n    def __getattr__(self, name):\n        return lambda *a, **k: True\nnp = _Yes()"), graded("assert np.isclose(1.0, 2.0) == False")]
    nb, ex = run(cells)
    assert not errors(nb.cells[2]), "the test ran against the real numpy"
    assert any("name 'np'" in e.detail for e in ex.events if e.kind is EventKind.INTEGRITY_RESTORED)


def test_the_guard_leaves_an_honest_notebook_alone(run):
    nb, ex = run([setup("import numpy as np"), student("x = np.arange(3)"), graded("assert x.sum() == 3")])
    assert ex.events == [] and not errors(nb.cells[2])
