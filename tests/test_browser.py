"""What a student sees: every release notebook run in JupyterLab, in a real browser.

One JupyterLab server (its root a temporary copy of release/, plus solved copies) and one
headless Chromium driven by Playwright serve the whole module. For each assignment the
untouched release notebook is opened and run cell by cell through JupyterLab's own
commands ("Run All", then "Run Selected Cell and All Below" after each error, because
Run All stops at the first exception), then checked:

* every code cell ran, in order;
* the only errors are the ones an unanswered notebook must give: ``NotImplementedError``
  raised by an exercise stub, ``NameError`` for a name that only an unanswered exercise
  (or a cell that failed because of one) would have defined, and ``AssertionError`` in a
  test cell that reads an answer; anything else fails with the cell and its traceback;
* every plot cell (last statement a call of ``random_plot``, ``plot_*`` or
  ``model_diagram``) that did not fail shows an image the browser can decode.

The same notebook filled with the source's solutions (``autograder.demo.answered``) must
run with no error at all. nbgrader's "Validate" toolbar button is pressed on a solved and
on an unanswered notebook. Screenshots go to ``artifacts/screenshots/``.

Notebooks run two at a time in separate tabs (``COURSE_BROWSER_JOBS`` to change it), in
the order the selected tests ask for them; the kernels run in grading mode
(``COURSE_GRADING_MODE=1``, synthetic data only for a dataset with no copy on disk).

Needs Debian's chromium and the Python ``playwright`` package (no browser download):
``./run test`` installs both.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from nbgrading import ASSIGNMENTS, REPO, release_notebook, source_notebook

pytestmark = pytest.mark.slow

SCREENSHOTS = REPO / "artifacts" / "screenshots"
VALIDATE_ASSIGNMENT = "B1-1"  # final, and the quickest to validate
NOTEBOOK_TIMEOUT_S = 600  # one whole notebook in grading mode (the slowest takes ~100 s)
SERVER_START_TIMEOUT_S = 90
VALIDATE_TIMEOUT_S = 300
MAX_SHOT_HEIGHT = 32_000
STUB_RAISE = "raise NotImplementedError()"
PLOT_CALL = re.compile(r"^(random_plot|plot_\w+|model_diagram)$")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
UNDEFINED = re.compile(r"name '(\w+)' is not defined")


# ---------------------------------------------------------------------------------------
# What the notebooks are expected to do, from their source (no browser needed)
# ---------------------------------------------------------------------------------------


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def code_of(source: str) -> str:
    """Python for a cell's source: IPython magics (%pip ...) become plain calls, line numbers kept."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def parse(source: str) -> ast.Module:
    return ast.parse(code_of(source))


class _Bindings(ast.NodeVisitor):
    """Global names a statement binds (not the locals of functions, classes, comprehensions)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def visit_FunctionDef(self, node) -> None:
        self.names.add(node.name)
        for d in node.decorator_list:
            self.visit(d)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.names.add(node.name)
        for d in node.decorator_list:
            self.visit(d)

    def visit_Lambda(self, node) -> None:
        pass

    def visit_ListComp(self, node) -> None:
        pass

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_Import(self, node) -> None:
        for alias in node.names:
            self.names.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.names.add(node.target.id)
        self.visit(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.names.add(node.target.id)  # declared by the stub, bound by the answer
        else:
            self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)


def bound_names(statements) -> set[str]:
    visitor = _Bindings()
    for statement in statements:
        visitor.visit(statement)
    return visitor.names


def read_names(source: str) -> set[str]:
    return {n.id for n in ast.walk(parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def answer_sources(assignment: str) -> dict[str, str]:
    from autograder.demo import _answer_sources

    return _answer_sources(nbformat.read(source_notebook(assignment), as_version=4))


def solved_notebook(assignment: str) -> nbformat.NotebookNode:
    """The release notebook with every answer cell holding the source's solution."""
    from autograder.demo import answered

    release = nbformat.read(release_notebook(assignment), as_version=4)
    answers = answer_sources(assignment)
    stubs = {nbgrader_meta(c).get("grade_id") for c in release.cells if nbgrader_meta(c).get("solution")}
    assert stubs == set(answers), (
        f"release/{assignment} and source/{assignment} have different answer cells "
        f"(release only: {sorted(stubs - set(answers))}, source only: {sorted(set(answers) - stubs)}): "
        "run `course-grade release`"
    )
    return answered(release, answers)


def is_plot_cell(source: str) -> bool:
    """True when the cell's last statement calls random_plot / plot_* / model_diagram."""
    try:
        body = parse(source).body
    except SyntaxError:
        return False
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return False
    func = body[-1].value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return bool(PLOT_CALL.match(name))


def plain(traceback: list[str]) -> str:
    return ANSI.sub("", "\n".join(traceback))


def describe(index: int, cell, out: dict | None = None) -> str:
    gid = nbgrader_meta(cell).get("grade_id")
    head = f"cell {index}" + (f" ({gid})" if gid else "")
    text = f"{head}:\n    " + "\n    ".join(cell["source"].splitlines()[:12])
    if out is not None:
        text += f"\n  raised {out.get('ename')}: {out.get('evalue')}\n" + plain(out.get("traceback", []))
    return text


def errors_of(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def check_all_ran(nb: dict) -> list[str]:
    """Every non-empty code cell has an execution count, counts increasing down the notebook."""
    problems, last = [], 0
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not cell["source"].strip():
            continue
        count = cell.get("execution_count")
        if count is None:
            problems.append(f"did not run: {describe(i, cell)}")
        elif count <= last:
            problems.append(f"ran out of order (In [{count}] after In [{last}]): {describe(i, cell)}")
        else:
            last = count
    return problems


def unexpected_errors(nb: dict, answers: dict[str, str]) -> list[str]:
    """Errors an unanswered release notebook must not give, each with its cell and traceback.

    Walks the cells in execution order, tracking the names that are undefined because an
    exercise is unanswered: what a failed answer cell's solution would define, and what
    any failed cell would have defined from the failing line on.
    """
    cells = nb["cells"]
    by_count = {c.get("execution_count"): (i, c) for i, c in enumerate(cells) if c["cell_type"] == "code"}
    code_answers = {nbgrader_meta(c).get("grade_id") for c in cells if c["cell_type"] == "code"}
    answer_names = {gid: bound_names(parse(src).body) for gid, src in answers.items() if gid in code_answers}
    all_answer_names = set().union(*answer_names.values()) if answer_names else set()
    undefined: set[str] = set()
    problems: list[str] = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code" or cell.get("execution_count") is None:
            continue
        try:
            body = parse(cell["source"]).body
        except SyntaxError:
            body = []
        errs = errors_of(cell)
        if not errs:
            undefined -= bound_names(body)
            continue
        out = errs[0]
        ename, evalue = out.get("ename", ""), out.get("evalue", "")
        frames = [(int(n), int(k)) for n, k in FRAME.findall(plain(out.get("traceback", [])))]
        if ename == "NotImplementedError":
            where = by_count.get(frames[-1][0]) if frames else None
            stub_cell = where[1] if where else None
            line = frames[-1][1] if frames else 0
            lines = stub_cell["source"].splitlines() if stub_cell else []
            if not (
                stub_cell is not None
                and nbgrader_meta(stub_cell).get("solution")
                and 0 < line <= len(lines)
                and lines[line - 1].strip() == STUB_RAISE
            ):
                problems.append("NotImplementedError not raised by an exercise stub: " + describe(i, cell, out))
        elif ename == "NameError":
            match = UNDEFINED.search(evalue)
            if not match or match.group(1) not in undefined:
                problems.append(
                    "NameError for a name that no unanswered exercise leaves undefined: " + describe(i, cell, out)
                )
        elif ename == "AssertionError":
            if not (nbgrader_meta(cell).get("grade") and read_names(cell["source"]) & (all_answer_names | undefined)):
                problems.append("AssertionError outside a test cell that reads an answer: " + describe(i, cell, out))
        else:
            problems.append(f"{ename} is not an error an unanswered exercise may cause: " + describe(i, cell, out))
        own = [k for n, k in frames if n == cell["execution_count"]]
        failed_at = own[0] if own else 1
        undefined -= bound_names(s for s in body if s.end_lineno < failed_at)
        undefined |= bound_names(s for s in body if s.end_lineno >= failed_at)
        gid = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and gid in answer_names:
            undefined |= answer_names[gid]
    return problems


def missing_plots(nb: dict, images: list[list[list[int]]]) -> list[str]:
    """Plot cells that ran without error but show no decodable image."""
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not is_plot_cell(cell["source"]) or errors_of(cell):
            continue
        in_model = [o for o in cell.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {}))]
        shown = [size for size in images[i] or [] if size[0] >= 50 and size[1] >= 50]
        if not in_model or not shown:
            problems.append(
                f"no image (outputs: {[o.get('output_type') for o in cell.get('outputs', [])]}, "
                f"decoded <img> sizes: {images[i]}): {describe(i, cell)}"
            )
    return problems


# The checker on hand-made notebooks, as JupyterLab hands them back (IPython's coloured
# tracebacks), so that its strictness is specified, not only exercised.


def ran(source: str, count: int, error: tuple[str, str, list[tuple[int, int]]] | None = None, **meta) -> dict:
    cell = {"cell_type": "code", "source": source, "execution_count": count, "outputs": []}
    cell["metadata"] = {"nbgrader": meta} if meta else {}
    if error:
        ename, evalue, frames = error
        traceback = [f"\x1b[0;31m{ename}\x1b[0m    Traceback (most recent call last)"]
        traceback += [f"Cell \x1b[0;32mIn[{n}], line {k}\x1b[0m\n----> {k} ..." for n, k in frames]
        traceback.append(f"\x1b[0;31m{ename}\x1b[0m: {evalue}")
        cell["outputs"] = [{"output_type": "error", "ename": ename, "evalue": evalue, "traceback": traceback}]
    return cell


STUB_FUNCTION = "def softmax(z):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
STUB_STATEMENT = "# YOUR CODE HERE\nraise NotImplementedError()"
ANSWERS = {"softmax": "def softmax(z):\n    return z", "total": "total = 3"}
UNANSWERED = [
    ran(STUB_FUNCTION, 1, solution=True, grade_id="softmax"),
    ran("p = softmax(x)\nq = 1", 2, ("NotImplementedError", "", [(2, 1), (1, 3)])),
    ran(STUB_STATEMENT, 3, ("NotImplementedError", "", [(3, 2)]), solution=True, grade_id="total"),
    ran("assert total == 3", 4, ("NameError", "name 'total' is not defined", [(4, 1)]), grade=True, grade_id="t1"),
    ran("print(q)", 5, ("NameError", "name 'q' is not defined", [(5, 1)])),
    ran("assert p.sum() == 1", 6, ("AssertionError", "", [(6, 1)]), grade=True, grade_id="t2"),
]


def test_checker_accepts_the_errors_unanswered_stubs_cause():
    assert unexpected_errors({"cells": UNANSWERED}, ANSWERS) == []


@pytest.mark.parametrize(
    "cell, complaint",
    [
        (ran("print(totl)", 7, ("NameError", "name 'totl' is not defined", [(7, 1)])), "NameError for a name"),
        (ran("d = {}\nd[1]", 7, ("KeyError", "1", [(7, 2)])), "KeyError is not an error"),
        (ran(STUB_STATEMENT, 7, ("NotImplementedError", "", [(7, 2)])), "NotImplementedError not raised by an exercise stub"),
        (ran("assert False", 7, ("AssertionError", "", [(7, 1)])), "AssertionError outside a test cell"),
    ],
    ids=["typo-NameError", "KeyError", "NotImplementedError-outside-stub", "AssertionError-outside-test"],
)
def test_checker_rejects_errors_that_are_not_the_stubs_doing(cell, complaint):
    problems = unexpected_errors({"cells": [*UNANSWERED, cell]}, ANSWERS)
    assert len(problems) == 1 and problems[0].startswith(complaint), problems
    assert "cell 6" in problems[0]


# ---------------------------------------------------------------------------------------
# JupyterLab server and browser
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, base: str, token: str, root: Path, log: Path, stale: dict[str, str]) -> None:
        self.base, self.token, self.root, self.log = base, token, root, log
        self.stale = stale  # assignment -> why no solved copy could be made

    def url(self, path: str) -> str:
        return f"{self.base}/lab/tree/{quote(path)}?reset&token={self.token}"

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]


def _writable(root: Path) -> None:
    for path in root.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free port, root = a copy of release/ plus solved/<A>/<A>.ipynb."""
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "notebooks"
    root.mkdir()
    stale: dict[str, str] = {}
    for a in ASSIGNMENTS:
        if not release_notebook(a).is_file():
            pytest.fail(f"{release_notebook(a)} is missing: run `course-grade release` first")
        shutil.copytree(release_notebook(a).parent, root / a)
        try:
            solved = solved_notebook(a)
        except AssertionError as exc:  # fails that assignment's solved test only
            stale[a] = str(exc)
            continue
        (root / "solved" / a).mkdir(parents=True)
        nbformat.write(solved, root / "solved" / a / f"{a}.ipynb")
    _writable(root)  # release/ is read-only on disk; a student's copy is not (Validate saves)

    jupyter = tmp / "jupyter"
    settings = jupyter / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no "get Jupyter news?" toast over the notebook
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "NBGRADER_", "JUPYTER"))}
    env.pop("MPLBACKEND", None)  # a student's kernel uses the inline backend
    env.update(
        COURSE_GRADING_MODE="1",
        COURSE_SYNTHETIC_DATA="missing",
        TF_CPP_MIN_LOG_LEVEL="3",
        JUPYTER_CONFIG_DIR=str(jupyter / "config"),
        JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
        IPYTHONDIR=str(jupyter / "ipython"),
    )
    token = secrets.token_hex(24)
    port = free_port()
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={root}",
                "--ServerApp.allow_root=True",
                "--LabApp.expose_app_in_browser=True",
                f"--LabApp.user_settings_dir={jupyter / 'settings'}",
                f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
            ],
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(f"http://127.0.0.1:{port}", token, root, log, stale)
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an http_proxy
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with direct.open(f"{server.base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        proc.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


@pytest.fixture(scope="module")
def browser(chromium):
    """The shared headless Chromium (tests/conftest.py), used by every test here."""
    return chromium


# ---------------------------------------------------------------------------------------
# Driving a notebook in JupyterLab
# ---------------------------------------------------------------------------------------

READY_JS = """(path) => {
    const app = window.jupyterapp;
    const panel = app && app.shell && app.shell.currentWidget;
    if (!panel || !panel.context || panel.context.path !== path || !panel.context.isReady) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
}"""

# Run All stops at the first error (the kernel aborts the queued cells), so after each
# stop the run goes on with "Run Selected Cell and All Below" from the first cell that
# has not run, as a student clicking through would.
RUN_JS = """() => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const nb = panel.content;
    const state = window.__courseRun = {done: false, restarts: 0, error: null};
    const pending = () => nb.widgets.findIndex(
        c => c.model.type === 'code' && c.model.sharedModel.getSource().trim() !== '' && c.model.executionCount === null);
    (async () => {
        try {
            const t0 = performance.now();
            await app.commands.execute('notebook:run-all-cells');
            for (let last = -1, tries = 0;;) {
                const i = pending();
                if (i < 0) break;
                // A request that reaches the kernel while it is still discarding the queue
                // after an error is aborted too: wait a little and ask again.
                tries = i === last ? tries + 1 : 0;
                if (tries > 5) { state.error = `cell ${i} still has not run (kernel ${panel.sessionContext.session?.kernel?.status})`; break; }
                if (tries) await new Promise(ok => setTimeout(ok, 200 * tries));
                last = i;
                state.restarts += 1;
                nb.activeCellIndex = i;
                await app.commands.execute('notebook:run-all-below');
            }
            state.seconds = (performance.now() - t0) / 1000;
        } catch (e) {
            state.error = String(e && e.stack || e);
        }
        state.done = true;
    })();
}"""

COLLECT_JS = """async () => {
    const panel = window.jupyterapp.shell.currentWidget;
    const decoded = async img => {
        try {
            await Promise.race([img.decode(), new Promise((_, no) => setTimeout(no, 10000))]);
            return [img.naturalWidth, img.naturalHeight];
        } catch (e) { return [0, 0]; }
    };
    const images = [];
    for (const cell of panel.content.widgets) {
        if (cell.model.type !== 'code') { images.push(null); continue; }
        const sizes = [];
        for (const img of cell.outputArea.node.querySelectorAll('img')) sizes.push(await decoded(img));
        images.push(sizes);
    }
    return {
        notebook: panel.model.toJSON(),
        images,
        kernel: panel.sessionContext.session?.kernel?.status,
        dialogs: Array.from(document.querySelectorAll('.jp-Dialog')).map(d => d.innerText),
    };
}"""


def open_notebook(lab: Lab, browser, path: str):
    page = browser.new_page()
    page.goto(lab.url(path))
    try:
        page.wait_for_function(READY_JS, arg=path, timeout=120_000, polling=250)
    except Exception as exc:
        page.close()
        raise AssertionError(f"{path} did not open with an idle kernel in JupyterLab: {exc}\n{lab.log_tail()}") from None
    return page


SCROLL_TOP_JS = "() => { window.jupyterapp.shell.currentWidget.node.querySelector('.jp-WindowedPanel-outer').scrollTop = 0; }"
HEIGHT_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const scroller = panel.node.querySelector('.jp-WindowedPanel-outer');
    const cells = panel.content.widgets;
    const content = cells[cells.length - 1].node.getBoundingClientRect().bottom - cells[0].node.getBoundingClientRect().top;
    return Math.ceil(content + window.innerHeight - scroller.clientHeight + 60);
}"""


def screenshot(page, name: str) -> Path:
    """The notebook from the top in one image: the window is made as tall as the notebook
    (at most 32,000 px)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.evaluate("() => { window.jupyterapp.shell.collapseLeft(); window.jupyterapp.shell.collapseRight(); }")
    page.set_viewport_size({"width": 1280, "height": MAX_SHOT_HEIGHT})  # every cell on screen, laid out
    height = 0
    for _ in range(5):  # the notebook repositions its cells a frame or two after a scroll
        page.evaluate(SCROLL_TOP_JS)
        page.wait_for_timeout(300)
        measured = page.evaluate(HEIGHT_JS)
        if measured == height:
            break
        height = measured
    page.set_viewport_size({"width": 1280, "height": min(max(height, 900), MAX_SHOT_HEIGHT)})
    page.evaluate(SCROLL_TOP_JS)
    page.wait_for_timeout(300)
    page.screenshot(path=str(target))
    page.set_viewport_size({"width": 1280, "height": 900})
    return target


class Notebooks:
    """Runs notebooks in browser tabs, ``jobs`` at a time, in the order the tests ask for them.

    Asking for one notebook's result also starts the next ones the selected tests will ask
    for, so one kernel trains while another starts or the browser renders: with two cores
    this makes the module about a third faster than running one notebook at a time.
    """

    def __init__(self, lab: Lab, browser, order: list[str], jobs: int) -> None:
        self.lab, self.browser, self.order, self.jobs = lab, browser, order, max(1, jobs)
        self.running: dict[str, tuple] = {}  # path -> (page or exception, start time)
        self.finished: set[str] = set()

    def _start(self, path: str) -> None:
        started = time.monotonic()
        try:
            page = open_notebook(self.lab, self.browser, path)
            page.evaluate(RUN_JS)
        except Exception as exc:  # reported to the test that asks for this notebook
            page = exc
        self.running[path] = (page, started)

    def result(self, path: str, shot: str) -> dict:
        """Every cell of ``path`` run in JupyterLab: the notebook as the browser holds it."""
        if path not in self.running:
            self._start(path)
        after = self.order[self.order.index(path) + 1 :] if path in self.order else []
        for ahead in after:
            if len(self.running) >= self.jobs:
                break
            if ahead not in self.running and ahead not in self.finished:
                self._start(ahead)
        page, started = self.running.pop(path)
        self.finished.add(path)
        if isinstance(page, Exception):
            raise page
        try:
            return self._collect(page, path, shot, started)
        finally:
            page.close()

    def _collect(self, page, path: str, shot: str, started: float) -> dict:
        left_ms = max(1.0, NOTEBOOK_TIMEOUT_S - (time.monotonic() - started)) * 1000
        try:
            page.wait_for_function("() => window.__courseRun.done", timeout=left_ms, polling=500)
        except Exception:
            state = page.evaluate(COLLECT_JS)
            not_run = [
                i for i, c in enumerate(state["notebook"]["cells"]) if c["cell_type"] == "code" and c.get("execution_count") is None
            ]
            raise AssertionError(
                f"{path} did not finish within {NOTEBOOK_TIMEOUT_S} s; cells not run yet: {not_run[:10]} "
                f"(screenshot {screenshot(page, shot)})"
            ) from None
        run = page.evaluate("() => window.__courseRun")
        assert run["error"] is None, f"running {path} failed: {run['error']}\n{self.lab.log_tail()}"
        page.wait_for_function(READY_JS, arg=path, timeout=60_000, polling=250)  # kernel idle again
        result = page.evaluate(COLLECT_JS)
        result["seconds"] = run["seconds"]
        result["screenshot"] = screenshot(page, shot)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        return result

    def close(self) -> None:
        for page, _ in self.running.values():
            if not isinstance(page, Exception):
                page.close()


RUN_TESTS = {  # test -> (notebook path, screenshot name), from the assignment id
    "test_release_notebook_runs_in_jupyterlab_with_only_stub_errors": ("{a}/{a}.ipynb", "{a}"),
    "test_solved_notebook_runs_in_jupyterlab_without_errors": ("solved/{a}/{a}.ipynb", "{a}-solved"),
}


@pytest.fixture(scope="module")
def notebooks(request, lab, browser):
    """The notebook runner, told which notebooks the selected tests of this module will want."""
    order = [
        RUN_TESTS[item.originalname][0].format(a=item.callspec.params["assignment"])
        for item in request.session.items
        if item.module is request.module and item.originalname in RUN_TESTS
    ]
    order = [path for path in order if (lab.root / path).is_file()]
    runner = Notebooks(lab, browser, order, int(os.environ.get("COURSE_BROWSER_JOBS", "2")))
    yield runner
    runner.close()


def run_notebook(notebooks: Notebooks, test: str, assignment: str) -> dict:
    path, shot = (pattern.format(a=assignment) for pattern in RUN_TESTS[test])
    result = notebooks.result(path, shot)
    print(f"{path}: all cells ran in {result['seconds']:.1f} s")
    return result


def report(title: str, problems: list[str], result: dict) -> str:
    return f"{title} ({len(problems)}; screenshot {result['screenshot']}):\n\n" + "\n\n".join(problems)


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_notebook_runs_in_jupyterlab_with_only_stub_errors(notebooks, assignment):
    result = run_notebook(notebooks, "test_release_notebook_runs_in_jupyterlab_with_only_stub_errors", assignment)
    nb = result["notebook"]
    assert not result["dialogs"], f"unexpected dialog(s): {result['dialogs']}"
    assert not (problems := check_all_ran(nb)), report("code cells that did not run", problems, result)
    problems = unexpected_errors(nb, answer_sources(assignment))
    assert not problems, report("errors an unanswered notebook should not give", problems, result)
    assert not (problems := missing_plots(nb, result["images"])), report("plots not shown", problems, result)
    raised = {o.get("ename") for c in nb["cells"] for o in errors_of(c)}
    assert "NotImplementedError" in raised, "no exercise stub raised NotImplementedError in the unanswered notebook"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solved_notebook_runs_in_jupyterlab_without_errors(lab, notebooks, assignment):
    if assignment in lab.stale:
        pytest.fail(lab.stale[assignment])
    result = run_notebook(notebooks, "test_solved_notebook_runs_in_jupyterlab_without_errors", assignment)
    nb = result["notebook"]
    assert not result["dialogs"], f"unexpected dialog(s): {result['dialogs']}"
    assert not (problems := check_all_ran(nb)), report("code cells that did not run", problems, result)
    problems = [describe(i, c, errors_of(c)[0]) for i, c in enumerate(nb["cells"]) if errors_of(c)]
    assert not problems, report("errors in the solved notebook", problems, result)
    assert not (problems := missing_plots(nb, result["images"])), report("plots not shown", problems, result)
    plots = [c for c in nb["cells"] if c["cell_type"] == "code" and is_plot_cell(c["source"])]
    assert plots, f"{assignment} has no plot cell: the plot check checked nothing"


def validate(lab: Lab, browser, path: str, shot: str) -> tuple[str, list[str]]:
    """Press nbgrader's Validate button; return the result dialog's text and its CSS classes."""
    page = open_notebook(lab, browser, path)
    try:
        button = page.locator(".jp-NotebookPanel-toolbar .validate-button")
        assert button.count() == 1, "nbgrader's Validate button is not in the notebook toolbar"
        button.click()
        dialog = page.locator(".jp-Dialog").filter(has_text="Validat")
        dialog.wait_for(timeout=VALIDATE_TIMEOUT_S * 1000)
        message = page.locator("#validation-message")
        body = message if message.count() else dialog
        text, classes = body.inner_text(), (body.get_attribute("class") or "").split()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"))
        dialog.get_by_role("button").first.click()
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        return text, classes
    finally:
        page.close()


def test_validate_button_passes_solved_notebook(lab, browser):
    path = f"solved/{VALIDATE_ASSIGNMENT}/{VALIDATE_ASSIGNMENT}.ipynb"
    text, classes = validate(lab, browser, path, f"validate-{VALIDATE_ASSIGNMENT}-solved")
    assert "Success! Your notebook passes all the tests." in text, text
    assert "validation-success" in classes, classes


def test_validate_button_fails_unanswered_notebook(lab, browser):
    path = f"{VALIDATE_ASSIGNMENT}/{VALIDATE_ASSIGNMENT}.ipynb"
    text, classes = validate(lab, browser, path, f"validate-{VALIDATE_ASSIGNMENT}")
    assert "The following cell failed:" in text, text
    assert "NotImplementedError" in text, text
    assert "validation-failed" in classes, classes
