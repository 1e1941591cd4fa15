"""Test support: run nbgrader on the course notebooks inside a throw-away course directory.

Used by the notebook tests; the autograder has its own, hardened pipeline. Besides the
nbgrader wrappers it holds what tests/notebooks/ shares: the four autogrades of one
assignment (``grade_submissions``), helpers that run single test cells in process, and the
generic checks (``assert_*``) that tests/notebooks/test_contract.py applies to every
assignment's spec (tests/notebooks/spec.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("B1-1", "B1-2", "B2-1", "B2-2", "B2-3")


def grading_env(**extra: str) -> dict[str, str]:
    """Environment for kernels started by the tests: quiet TensorFlow, grading mode."""
    env = dict(os.environ)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        COURSE_GRADING_MODE="1",
        COURSE_SYNTHETIC_DATA="missing",
        PYTHONWARNINGS="ignore",
    )
    env.update(extra)
    return env


def source_notebook(assignment: str) -> Path:
    return REPO / "source" / assignment / f"{assignment}.ipynb"


def release_notebook(assignment: str) -> Path:
    return REPO / "release" / assignment / f"{assignment}.ipynb"


def make_course(tmp: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> Path:
    """A course directory with the repository's config and source notebooks."""
    course = tmp / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(REPO / "source" / a, course / "source" / a)
    return course


def nbgrader(course: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``course``; raise with its output when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
        cwd=course,
        env=env or grading_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def generate(course: Path, assignment: str) -> Path:
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course / "release" / assignment / f"{assignment}.ipynb"


def autograde(course: Path, assignment: str, student: str, notebook: nbformat.NotebookNode | Path) -> dict[str, tuple[float, float]]:
    """Autograde one submission; return {grade_id: (score, max_score)}."""
    target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(notebook, Path):
        shutil.copy(notebook, target)
    else:
        nbformat.write(notebook, target)
    nbgrader(course, "autograde", assignment, "--student", student, "--force", "--create")
    return scores(course, assignment, student)


def scores(course: Path, assignment: str, student: str) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: (g.score, g.max_score) for g in nb.grades}


def autograded_notebook(course: Path, assignment: str, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "autograded" / student / assignment / f"{assignment}.ipynb", as_version=4)


def cell_by_grade_id(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def with_answers(nb_path: Path, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of a notebook whose answer cells (by grade_id) hold other code."""
    nb = nbformat.read(nb_path, as_version=4)
    for grade_id, code in answers.items():
        cell_by_grade_id(nb, grade_id).source = code
    return nb


def auto_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Points of every autograded (code) test cell, by grade_id."""
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def errors(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, ename) of every error output in an executed notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append((i, out.get("ename", "")))
    return found


def dump(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)


# --------------------------------------------------------------------------- notebook test cells

HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def read_source(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(source_notebook(assignment), as_version=4)


def cell_source(assignment: str, grade_id: str) -> str:
    """The code of one cell of the source notebook (a test cell: hidden part included)."""
    return cell_by_grade_id(read_source(assignment), grade_id).source


def hidden_block(assignment: str, grade_id: str) -> str:
    """The hidden part of a test cell of the source notebook; fails when it has none."""
    match = HIDDEN_BLOCK.search(cell_source(assignment, grade_id))
    assert match, f"{grade_id} has no hidden block"
    return match.group(1)


def visible_part(assignment: str, grade_id: str) -> str:
    """What the release keeps of a test cell: everything before its hidden block."""
    return cell_source(assignment, grade_id).split("### BEGIN HIDDEN TESTS")[0]


def run_code(*sources: str, **names) -> dict:
    """Execute code (answer cells, then a test cell) in one namespace holding ``np`` and ``names``."""
    import numpy as np

    namespace = {"np": np, **names}
    for source in sources:
        exec(compile(source, "<test cell>", "exec"), namespace)
    return namespace


def run_test_cell(assignment: str, grade_id: str, **names) -> dict:
    """Run one test cell of the source notebook (hidden part included) on the given names."""
    import numpy as np

    namespace = {"np": np, **names}
    exec(compile(cell_source(assignment, grade_id), grade_id, "exec"), namespace)
    return namespace


def grade_of(course: Path, assignment: str, student: str, grade_id: str) -> tuple[float | None, bool]:
    """(auto_score, needs_manual_grade) of one cell; scores() reports a written answer as 0 either way."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grade = gb.find_grade(grade_id, assignment, assignment, student)
        return grade.auto_score, grade.needs_manual_grade


# --------------------------------------------------------------------------- three autogrades


@dataclass
class Graded:
    """A throw-away course after generate_assignment and the three autogrades."""

    assignment: str
    course: Path
    release: Path
    scores: dict[str, dict[str, tuple[float, float]]]  # student -> {grade_id: (score, max_score)}

    def notebook(self, student: str) -> nbformat.NotebookNode:
        return autograded_notebook(self.course, self.assignment, student)


def grade_submissions(
    tmp_path_factory, assignment: str, wrong_answers: dict[str, str], alternative_answers: dict[str, str]
) -> Graded:
    """Generate the release and autograde four submissions: the source notebook
    ("solution"), the untouched release ("untouched"), the source with ``wrong_answers``
    ("wrong") and the source with ``alternative_answers``, other correct ways to answer
    ("alternative")."""
    course = make_course(tmp_path_factory.mktemp("course"), (assignment,))
    release = generate(course, assignment)
    source = source_notebook(assignment)
    scores = {
        "solution": autograde(course, assignment, "solution", source),
        "untouched": autograde(course, assignment, "untouched", release),
        "wrong": autograde(course, assignment, "wrong", with_answers(source, wrong_answers)),
        "alternative": autograde(course, assignment, "alternative", with_answers(source, alternative_answers)),
    }
    return Graded(assignment, course, release, scores)


def review_findings(graded: Graded, student: str) -> list[str]:
    """What course-grade's static review reports about a submission (empty: no review flag)."""
    from autograder import checks

    submitted = nbformat.read(graded.course / "submitted" / student / graded.assignment / f"{graded.assignment}.ipynb", as_version=4)
    release = nbformat.read(graded.release, as_version=4)
    return [str(f) for f in checks.review(submitted, checks.instructor_names(release))]


# --------------------------------------------------------------------------- checks of the committed notebook


def assert_declared_points(
    assignment: str, auto: dict[str, float], manual: dict[str, float] | None = None, total: float | None = None
) -> None:
    """The autograded test cells and their points are ``auto``; the manually graded cells
    in ``manual`` carry their points; all of them add up to ``total``."""
    nb = read_source(assignment)
    assert auto_points(nb) == {gid: float(p) for gid, p in auto.items()}
    for gid, points in (manual or {}).items():
        assert cell_by_grade_id(nb, gid).metadata["nbgrader"]["points"] == points, gid
    if total is not None:
        assert sum(auto.values()) + sum((manual or {}).values()) == total


def assert_heading_points(assignment: str, expected: dict[str, float]) -> dict[str, str]:
    """Every "## 課題 <part> ... (N 点)" heading states N as in ``expected`` and N is the sum
    of the points of the graded cells up to the next "## " heading; no graded cell lies
    outside such a part. Returns the heading of each part, "## " left off."""
    pattern = re.compile(rf"## 課題 ({re.escape(assignment)}-\d) .* \((\d+) 点\)")
    headings: dict[str, str] = {}
    stated: dict[str, float] = {}
    totals: dict[str, float] = {}
    outside: list[str] = []
    part = None
    for cell in read_source(assignment).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            heading = pattern.match(cell.source)
            assert heading or not cell.source.startswith("## 課題"), cell.source.splitlines()[0]
            part = heading.group(1) if heading else None
            if part:
                headings[part] = cell.source.splitlines()[0][3:]
                stated[part] = float(heading.group(2))
                totals[part] = 0.0
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            if part:
                totals[part] += float(meta["points"])
            else:
                outside.append(meta["grade_id"])
    assert stated == {p: float(v) for p, v in expected.items()}
    assert totals == stated
    assert outside == []
    return headings


def assert_committed_notebook_clean(assignment: str) -> None:
    """The committed source notebook: nbformat 4, the python3 kernelspec, no outputs."""
    raw = json.loads(source_notebook(assignment).read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    assert raw["metadata"]["kernelspec"] == KERNELSPEC
    code = [(i, c) for i, c in enumerate(raw["cells"]) if c["cell_type"] == "code"]
    assert [i for i, c in code if c["outputs"] != [] or c["execution_count"] is not None] == []


# --------------------------------------------------------------------------- checks of the autogrades


def assert_full_points(scores: dict[str, tuple[float, float]], points: dict[str, float]) -> None:
    """Every test in ``points`` scored its full points (and is worth them)."""
    got = {gid: scores[gid] for gid in points}
    assert got == {gid: (float(p), float(p)) for gid, p in points.items()}, dump(scores)


def assert_zero_points(scores: dict[str, tuple[float, float]], points: dict[str, float]) -> None:
    """Every test in ``points`` scored 0 (out of its points)."""
    got = {gid: scores[gid] for gid in points}
    assert got == {gid: (0.0, float(p)) for gid, p in points.items()}, dump(scores)


def assert_zero_exactly_on(scores: dict[str, tuple[float, float]], points: dict[str, float], zero) -> None:
    """Of the tests in ``points``, exactly those in ``zero`` scored 0."""
    assert {gid for gid in points if scores[gid][0] == 0} == set(zero), dump(scores)


def assert_full_exactly_on(scores: dict[str, tuple[float, float]], points: dict[str, float], full) -> None:
    """Of the tests in ``points``, exactly those in ``full`` scored their full points."""
    got = {gid for gid, p in points.items() if scores[gid] == (float(p), float(p))}
    assert got == set(full), dump(scores)


def assert_clean_test_cells(graded: Graded, student: str, grade_ids) -> None:
    """The autograded notebook has no error output and its test cells wrote nothing to stderr."""
    nb = graded.notebook(student)
    assert errors(nb) == []
    for gid in grade_ids:
        outputs = cell_by_grade_id(nb, gid).get("outputs", [])
        assert not [o for o in outputs if o.get("name") == "stderr"], gid


def _message_of(block: str, message: str) -> bool:
    """True when ``message`` is one of the assert messages written in ``block``: a plain
    string in it, or what an f-string of it starts with before its first placeholder."""
    if not message:
        return False
    if message in block:
        return True
    prefixes = re.findall(r'f"([^"{]{6,})', block) + re.findall(r"f'([^'{]{6,})", block)
    return any(message.startswith(prefix) for prefix in prefixes)


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failing_line(error) -> int:
    """The line of the test cell itself that raised, from an error output's traceback."""
    text = ANSI.sub("", "\n".join(error.get("traceback", [])))
    first = re.search(r"Cell In\[\d+\], line (\d+)", text)  # the outermost frame: the cell
    return int(first.group(1)) if first else 0


def assert_hidden_block_caught(graded: Graded, zero, full=(), student: str = "wrong") -> None:
    """Each test in ``zero`` failed with one AssertionError whose message belongs to an assert
    of its hidden block (so every visible assert before it passed); those in ``full`` raised nothing."""
    nb = graded.notebook(student)
    for gid in sorted(zero):
        failures = [o for o in cell_by_grade_id(nb, gid).outputs if o.output_type == "error"]
        assert len(failures) == 1, gid
        if failures[0].ename == "AssertionError":
            assert _message_of(hidden_block(graded.assignment, gid), failures[0].evalue), (gid, failures[0].evalue)
        else:  # an answer that crashes on the hidden cases: the failing line is a hidden one
            assert _failing_line(failures[0]) > len(visible_part(graded.assignment, gid).splitlines()), (gid, failures[0].ename)
    for gid in sorted(full):
        assert not [o for o in cell_by_grade_id(nb, gid).outputs if o.output_type == "error"], gid


# --------------------------------------------------------------------------- checks of the release


def assert_release_hides_solutions(
    graded: Graded,
    forbidden=(),
    *,
    hidden_in=(),
    min_hidden_lines: int = 1,
    skip_lines_shown_visibly: bool = False,
) -> None:
    """The generated release holds no solution or hidden-test marker, none of ``forbidden``,
    and no line (over 12 characters) of any hidden block of the source notebook.

    ``hidden_in``: test cells that must have a hidden block. ``min_hidden_lines``: how many
    such lines there must be at least. ``skip_lines_shown_visibly``: a hidden line that the
    visible part of some test cell also has (``_raised = False``) may appear in the release.
    """
    text = graded.release.read_text(encoding="utf-8")
    sources = "\n".join(c.source for c in nbformat.read(graded.release, as_version=4).cells)
    for marker in (*SOLUTION_MARKERS, *forbidden):
        assert marker not in text and marker not in sources, marker
    for gid in hidden_in:
        hidden_block(graded.assignment, gid)
    hidden_lines: set[str] = set()
    cells = read_source(graded.assignment).cells
    shown: set[str] = set()
    if skip_lines_shown_visibly:
        shown = {line.strip() for cell in cells for line in cell.source.split("### BEGIN HIDDEN TESTS")[0].splitlines()}
    for cell in cells:
        for block in HIDDEN_BLOCK.findall(cell.source):
            hidden_lines |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12} - shown
    assert len(hidden_lines) >= min_hidden_lines
    assert sorted(line for line in hidden_lines if line in sources) == []


def assert_release_stubs(graded: Graded, stubs: dict[str, str]) -> None:
    """Each answer cell in ``stubs`` starts with the given head (a signature or a typed name),
    keeps a docstring when it is a function, and raises NotImplementedError."""
    nb = nbformat.read(graded.release, as_version=4)
    for gid, head in stubs.items():
        source = cell_by_grade_id(nb, gid).source
        assert source.startswith(head), gid
        assert "raise NotImplementedError()" in source, gid
        if head.startswith("def "):
            assert '"""' in source, gid


def _number_pattern(value: str) -> re.Pattern:
    """``value`` as a token of its own: not part of a longer number, name or decimal;
    a whole number also matches when written with thousands separators (183,462)."""
    forms = {re.escape(value)}
    if value.isdigit() and len(value) > 3:
        forms.add(re.escape(f"{int(value):,}"))
    return re.compile(rf"(?<![\w.,])(?:{'|'.join(sorted(forms))})(?![\w]|[.,]\d)")


def prose_before_answer(graded: Graded, answer_id: str, *, from_part: bool) -> str:
    """The markdown cells of the release before the answer cell ``answer_id``: all of
    them, or (``from_part``) those from the "## " heading of the answer's part on."""
    cells = nbformat.read(graded.release, as_version=4).cells
    end = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
    start = 0
    if from_part:
        start = max((i for i in range(end) if cells[i].cell_type == "markdown" and cells[i].source.startswith("## ")), default=0)
    text = "\n".join(c.source for c in cells[start:end] if c.cell_type == "markdown")
    return re.sub(r"\d+ 点", "", text)  # points ("(5 点)", "1 点 x 2") are not answers


def assert_no_value_before_answer(graded: Graded, given_away: dict[str, tuple[str, ...]]) -> None:
    """No value in ``given_away[answer_id]`` (what the hidden tests expect) appears in the
    prose of the release before that answer cell: a student has to work it out, not copy
    it. A value of two or more characters is looked for in all the prose before the
    answer; a single digit, which prose uses for much else ("5x5 のカーネル"), in the
    answer's own part."""
    found = {}
    for answer_id, values in given_away.items():
        hits = [
            v
            for v in values
            if _number_pattern(v).search(prose_before_answer(graded, answer_id, from_part=len(v) == 1))
        ]
        if hits:
            found[answer_id] = hits
    assert found == {}, dump(found)
