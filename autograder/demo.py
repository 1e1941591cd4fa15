"""Build the demo class: generated submissions that exercise every path of the grader.

``python -m autograder.demo`` writes ``demo/submissions/<assignment>/`` from the release
and source notebooks: for every assignment a correct, a partly answered and a Colab-renamed
submission; for B1-1 also one of each kind of breakage the grader must survive. The
expected outcome of each is in :data:`EXPECTED` (used by the tests and the README).
"""

from __future__ import annotations

import copy
import io
import re
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat

from . import cells

REPO = Path(__file__).resolve().parents[1]
BREAKAGE_ASSIGNMENT = "B1-1"
SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)

# B1-1's first answer is softmax; this one is wrong everywhere (every row sums to 0)
WRONG_FIRST_ANSWER = 'def softmax(z: np.ndarray) -> np.ndarray:\n    """Wrong on purpose."""\n    return np.zeros_like(z)'

# what each breakage submission is, by student id (B1-1 only)
BREAKAGES = {
    "s1004": "two files: an older unanswered 'B1-1.ipynb' and a newer answered 'B1-1 (1).ipynb'",
    "s1005": "all nbgrader metadata stripped by an editor",
    "s1006": "a test cell deleted",
    "s1007": "an answer cell duplicated (duplicate grade id)",
    "s1008": "an answer code cell turned into markdown",
    "s1009": "truncated file: invalid JSON",
    "s1010": "an endless loop (while True: pass) in an extra cell",
    "s1011": "os._exit(1) after the first graded part",
    "s1012": "a memory bomb after the first graded part",
    "s1013": "an extra cell printing 300,000 lines",
    "s1014": "ignores SIGINT, then loops forever, after the first graded part",
    "s1015": "a wrong softmax, plus an IPython input transformer that rewrites every assert",
    "s1016": "a wrong softmax, plus numpy.allclose / numpy.testing.assert_allclose monkeypatched",
    "s1017": "a wrong softmax, plus 'np' rebound to an object whose every function returns True",
    "s1018": "handed in inside a zip",
    "s1019": "written in a local conda kernel (different kernelspec)",
}


def _answer_sources(source_nb: nbformat.NotebookNode) -> dict[str, str]:
    answers = {}
    for cell in source_nb.cells:
        meta = cells.nbgrader_meta(cell)
        if meta.get("solution"):
            answers[meta["grade_id"]] = SOLUTION.sub("", cell.source).strip("\n")
    return answers


_meta = cells.nbgrader_meta


def answered(release_nb, answers: dict[str, str], only: set[str] | None = None):
    """The release notebook with (some of) its answer cells filled in as a student would."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if _meta(cell).get("solution") and gid in answers and (only is None or gid in only):
            cell.source = answers[gid]
    return nb


def _first_part_end(nb) -> int:
    """Index just after the test cells that follow the first answer cell."""
    seen_answer = False
    for i, cell in enumerate(nb.cells):
        meta = _meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            seen_answer = True
        elif seen_answer and meta.get("grade") and cell.cell_type == "code":
            j = i
            while j + 1 < len(nb.cells) and _meta(nb.cells[j + 1]).get("grade"):
                j += 1
            return j + 1
    return len(nb.cells)


def _first_answer(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if _meta(c).get("solution") and c.cell_type == "code")


def _with_cell(nb, index: int, code: str):
    nb = copy.deepcopy(nb)
    nb.cells.insert(index, nbformat.v4.new_code_cell(code, id=f"student-cell-{index}"))
    return nb


def _write(folder: Path, name: str, nb) -> None:
    nbformat.write(nb, folder / name)


def build(root: Path = REPO, dest: Path | None = None, assignments: list[str] | None = None) -> Path:
    """Write the demo class for ``assignments`` (default: every source notebook)."""
    dest = dest or root / "demo" / "submissions"
    for source_path in sorted((root / "source").glob("*/*.ipynb")):
        a = source_path.parent.name
        if assignments is not None and a not in assignments:
            continue
        shutil.rmtree(dest / a, ignore_errors=True)
        release_path = root / "release" / a / f"{a}.ipynb"
        if not release_path.is_file():
            raise SystemExit(f"{release_path} is missing: run `course-grade release` first")
        release = nbformat.read(release_path, as_version=4)
        answers = _answer_sources(nbformat.read(source_path, as_version=4))
        folder = dest / a
        folder.mkdir(parents=True)
        correct = answered(release, answers)
        half = set(sorted(answers)[: len(answers) // 2])
        _write(folder, f"s1001_{a}.ipynb", correct)
        _write(folder, f"s1002_{a}.ipynb", answered(release, answers, only=half))
        colab = copy.deepcopy(correct)
        colab.metadata["colab"] = {"provenance": [], "name": f"Copy of {a}.ipynb"}
        colab.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        _write(folder, f"s1003_Copy of {a}.ipynb", colab)
        if a == BREAKAGE_ASSIGNMENT:
            _breakages(folder, a, release, correct)
    return dest


def _breakages(folder: Path, a: str, release, correct) -> None:
    import os
    import time

    end = _first_part_end(correct)
    first = _first_answer(correct)

    old = folder / f"s1004_{a}.ipynb"
    _write(folder, old.name, release)
    stamp = time.time() - 3600
    os.utime(old, (stamp, stamp))
    _write(folder, f"s1004_{a} (1).ipynb", correct)

    stripped = copy.deepcopy(correct)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    _write(folder, f"s1005_{a}.ipynb", stripped)

    deleted = copy.deepcopy(correct)
    test_index = next(i for i, c in enumerate(deleted.cells) if _meta(c).get("grade") and c.cell_type == "code")
    del deleted.cells[test_index]
    _write(folder, f"s1006_{a}.ipynb", deleted)

    duplicated = copy.deepcopy(correct)
    twin = copy.deepcopy(duplicated.cells[first])
    twin.id = f"{twin.get('id', 'cell')}-copy"  # JupyterLab gives a pasted cell a new id
    duplicated.cells.insert(first, twin)
    _write(folder, f"s1007_{a}.ipynb", duplicated)

    retyped = copy.deepcopy(correct)
    cell = retyped.cells[first]
    retyped.cells[first] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata, id=cell.get("id"))
    _write(folder, f"s1008_{a}.ipynb", retyped)

    (folder / f"s1009_{a}.ipynb").write_text(nbformat.writes(correct)[:1500], encoding="utf-8")
    _write(folder, f"s1010_{a}.ipynb", _with_cell(correct, first + 1, "while True:\n    pass"))
    _write(folder, f"s1011_{a}.ipynb", _with_cell(correct, end, "import os\n\nos._exit(1)"))
    _write(folder, f"s1012_{a}.ipynb", _with_cell(correct, end, 'hog = []\nwhile True:\n    hog.append(b"x" * 2**27)'))
    _write(folder, f"s1013_{a}.ipynb", _with_cell(correct, first + 1, 'for i in range(300_000):\n    print("spam", i)'))
    _write(
        folder,
        f"s1014_{a}.ipynb",
        _with_cell(correct, end, "import signal\nimport time\n\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"),
    )
    transformer = (
        "def _always_pass(lines):\n"
        '    return [line.replace("assert ", "assert True or ") for line in lines]\n\n'
        "get_ipython().input_transformers_post.append(_always_pass)"
    )
    # the three cheats hand in a wrong first answer and try to make its tests pass anyway
    wrong = copy.deepcopy(correct)
    wrong.cells[first].source = WRONG_FIRST_ANSWER
    first_test = next(i for i, c in enumerate(wrong.cells) if i > first and _meta(c).get("grade"))
    _write(folder, f"s1015_{a}.ipynb", _with_cell(wrong, first_test, transformer))
    patch = (
        "np.allclose = lambda *args, **kwargs: True\n"
        "np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)\n"
        "np.testing.assert_allclose = lambda *args, **kwargs: None"
    )
    _write(folder, f"s1016_{a}.ipynb", _with_cell(wrong, first_test, patch))
    fake = "class _Yes:\n    def __getattr__(self, name):\n        return lambda *args, **kwargs: True\n\n\nnp = _Yes()"
    _write(folder, f"s1017_{a}.ipynb", _with_cell(wrong, first_test, fake))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # a fixed date keeps the generated demo byte-for-byte reproducible
        archive.writestr(zipfile.ZipInfo(f"{a}.ipynb", date_time=(2026, 6, 1, 12, 0, 0)), nbformat.writes(correct))
    (folder / f"s1018_{a}.zip").write_bytes(buffer.getvalue())
    conda = copy.deepcopy(correct)
    conda.metadata["kernelspec"] = {"name": "conda-env-dl-py", "display_name": "Python [conda env:dl]", "language": "python"}
    _write(folder, f"s1019_{a}.ipynb", conda)
    (folder / "README.txt").write_text("Demo class generated by `python -m autograder.demo`; see autograder/demo.py.\n", encoding="utf-8")
    _write(folder, f"{a}.ipynb", correct)  # no student id in the name: reported, not graded


if __name__ == "__main__":
    print(f"demo class written to {build(assignments=sys.argv[1:] or None)}")
