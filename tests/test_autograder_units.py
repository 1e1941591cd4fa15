"""Autograder pieces that run no kernel: ingest, repair, code review, feedback."""

from __future__ import annotations

import copy
import io
import os
import time
import zipfile

import nbformat
import pytest

from autograder import checks, ingest, repair
from autograder.feedback import HideHiddenTests


def nbg(**meta):
    return {"nbgrader": {"schema_version": 3, "grade": False, "locked": False, "solution": False, "task": False, **meta}}


def release_nb():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# header", metadata=nbg(grade_id="header", locked=True)),
        nbformat.v4.new_code_cell("import numpy as np", metadata=nbg(grade_id="setup", locked=True)),
        nbformat.v4.new_code_cell(
            'def double(x: int) -> int:\n    """Twice x."""\n    # YOUR CODE HERE\n    raise NotImplementedError()',
            metadata=nbg(grade_id="double", solution=True),
        ),
        nbformat.v4.new_code_cell('"""double doubles."""\nassert double(2) == 4, "2 の 2 倍は 4"', metadata=nbg(grade_id="test_double", grade=True, locked=True, points=1)),
        nbformat.v4.new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()", metadata=nbg(grade_id="answer_value", solution=True)),
        nbformat.v4.new_code_cell('"""answer is 5."""\nassert answer == 5, "answer"', metadata=nbg(grade_id="test_answer", grade=True, locked=True, points=2)),
        nbformat.v4.new_markdown_cell("Why?", metadata=nbg(grade_id="why_prompt", locked=True)),
        nbformat.v4.new_markdown_cell("ここに回答", metadata=nbg(grade_id="why", grade=True, solution=True, points=1)),
    ]
    return nb


def student_nb():
    nb = copy.deepcopy(release_nb())
    nb.cells[2].source = 'def double(x: int) -> int:\n    """Twice x."""\n    return 2 * x'
    nb.cells[4].source = "answer = 5"
    nb.cells[7].source = "Because."
    return nb


def ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


RELEASE_IDS = ["header", "setup", "double", "test_double", "answer_value", "test_answer", "why_prompt", "why"]


# ---------------------------------------------------------------- repair


def test_intact_submission_needs_no_repair():
    fixed = repair.repair(student_nb(), release_nb())
    assert ids(fixed.notebook) == RELEASE_IDS
    assert fixed.notes == []
    assert fixed.notebook.cells[4].source == "answer = 5"


def test_ordinary_cells_are_neither_duplicated_nor_restored():
    release = release_nb()
    release.cells.insert(2, nbformat.v4.new_code_cell("x = load_data()"))
    student = student_nb()
    student.cells.insert(2, nbformat.v4.new_code_cell("x = load_data()  # edited"))
    student.cells.insert(3, nbformat.v4.new_code_cell("print(x)"))
    fixed = repair.repair(student, release)
    sources = [c.source for c in fixed.notebook.cells]
    assert sources.count("x = load_data()  # edited") == 1 and "x = load_data()" not in sources
    assert "print(x)" in sources and len(sources) == len(student.cells)
    deleted = student_nb()  # the student removed the ordinary cell: it stays removed
    assert len(repair.repair(deleted, release).notebook.cells) == len(deleted.cells)


def test_stripped_metadata_is_recovered_by_content_and_position():
    nb = student_nb()
    nb.cells.insert(5, nbformat.v4.new_code_cell("print('my experiment')"))
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    fixed = repair.repair(nb, release_nb())
    assert [i for i in ids(fixed.notebook) if i] == RELEASE_IDS
    by_id = {i: c for i, c in zip(ids(fixed.notebook), fixed.notebook.cells)}
    assert by_id["double"].source.endswith("return 2 * x")
    assert by_id["answer_value"].source == "answer = 5"
    assert by_id["why"].source == "Because."
    assert "print('my experiment')" in [c.source for c in fixed.notebook.cells]
    assert any("metadata missing" in n for n in fixed.notes)


def test_deleted_test_cell_is_restored_in_place():
    nb = student_nb()
    del nb.cells[5]
    fixed = repair.repair(nb, release_nb())
    assert ids(fixed.notebook) == RELEASE_IDS
    assert any("test_answer" in n for n in fixed.notes)


def test_duplicated_answer_keeps_the_last_copy_graded():
    nb = student_nb()
    first = copy.deepcopy(nb.cells[2])
    first.source = "def double(x):\n    return 0"
    nb.cells.insert(2, first)
    fixed = repair.repair(nb, release_nb())
    graded = [c for c in fixed.notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double"]
    assert len(graded) == 1 and graded[0].source.endswith("return 2 * x")
    assert "def double(x):\n    return 0" in [c.source for c in fixed.notebook.cells]  # still runs, ungraded
    assert any("appeared 2 times" in n for n in fixed.notes)


def test_duplicated_test_cell_copy_is_dropped():
    nb = student_nb()
    nb.cells.insert(4, copy.deepcopy(nb.cells[3]))
    fixed = repair.repair(nb, release_nb())
    assert ids(fixed.notebook) == RELEASE_IDS


def test_answer_cell_turned_markdown_becomes_code_again():
    nb = student_nb()
    cell = nb.cells[4]
    nb.cells[4] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
    fixed = repair.repair(nb, release_nb())
    assert fixed.notebook.cells[4].cell_type == "code" and fixed.notebook.cells[4].source == "answer = 5"
    assert any("changed back to code" in n for n in fixed.notes)


def test_foreign_kernelspec_is_replaced():
    nb = student_nb()
    nb.metadata["kernelspec"] = {"name": "conda-env-dl-py", "display_name": "conda"}
    fixed = repair.repair(nb, release_nb())
    assert fixed.notebook.metadata["kernelspec"]["name"] == "python3"
    assert any("conda-env-dl-py" in n for n in fixed.notes)


def test_edited_test_cell_source_is_put_back():
    nb = student_nb()
    nb.cells[3].source = "assert True"
    fixed = repair.repair(nb, release_nb())
    assert "double(2) == 4" in fixed.notebook.cells[3].source


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"cells": [', "invalid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"hello": 1}', "not a Jupyter notebook"),
        (b"[]", "not a Jupyter notebook"),
    ],
)
def test_unreadable_files_are_rejected_with_the_reason(raw, reason):
    with pytest.raises(repair.InvalidSubmission, match=reason):
        repair.read_submission(raw)


# ---------------------------------------------------------------- ingest


def write(folder, name, data=b"{}", age=0):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_ingest_reads_ids_from_names_colab_copies_and_folders(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb")
    write(tmp_path, "s2_Copy of B2-2.ipynb")
    write(tmp_path, "s3/B2-2 (1).ipynb")
    got = ingest.ingest(tmp_path, "B2-2")
    assert [(s.student, s.origin) for s in got.submissions] == [
        ("s1", "s1_B2-2.ipynb"),
        ("s2", "s2_Copy of B2-2.ipynb"),
        ("s3", "s3/B2-2 (1).ipynb"),
    ]
    assert got.problems == []


def test_ingest_keeps_the_newest_duplicate_and_reports_it(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb", b"old", age=3600)
    write(tmp_path, "s1_B2-2 (1).ipynb", b"new")
    got = ingest.ingest(tmp_path, "B2-2")
    assert [s.data for s in got.submissions] == [b"new"]
    assert got.problems[0]["problem"] == "duplicate submissions"


def test_ingest_reports_unknown_and_foreign_files(tmp_path):
    write(tmp_path, "B2-2.ipynb")
    write(tmp_path, "notes.txt")
    write(tmp_path, "s1_B2-1.ipynb")
    write(tmp_path, ".ipynb_checkpoints/s1_B2-2-checkpoint.ipynb")
    got = ingest.ingest(tmp_path, "B2-2")
    assert got.submissions == []
    problems = {p["file"]: p["problem"] for p in got.problems}
    assert problems == {
        "B2-2.ipynb": "unknown student",
        "notes.txt": "not a notebook, ignored",
        "s1_B2-1.ipynb": "named for B2-1, not B2-2: ignored",
    }


def test_ingest_opens_lms_zips_and_zips_inside_them(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("B2-2.ipynb", "{}")
    outer = tmp_path / "lms.zip"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("s1_B2-2.ipynb", "{}")
        z.writestr("__MACOSX/._s1_B2-2.ipynb", "junk")
        z.writestr("s2_B2-2.zip", inner.getvalue())
    got = ingest.ingest(outer, "B2-2")
    assert [s.student for s in got.submissions] == ["s1", "s2"]
    assert got.problems == []


def test_roster_ids_are_found_anywhere_in_the_path(tmp_path):
    roster = write(tmp_path, "roster.csv", "id,name\n21X1234,Taro\n21X5678,Hanako\n21X9999,Jiro\n".encode())
    subs = tmp_path / "subs"
    write(subs, "Taro Yamada_21X1234_assignsubmission_file_/Copy of B2-2.ipynb")
    write(subs, "B2-2 21X5678.ipynb")
    got = ingest.ingest(subs, "B2-2", roster=ingest.read_roster(roster))
    assert sorted(s.student for s in got.submissions) == ["21X1234", "21X5678"]
    assert {"student": "21X9999", "problem": "no submission"} in got.problems


def test_only_selected_students_are_taken(tmp_path):
    write(tmp_path, "s1_B2-2.ipynb")
    write(tmp_path, "s2_B2-2.ipynb")
    assert [s.student for s in ingest.ingest(tmp_path, "B2-2", only={"s2"}).submissions] == ["s2"]


def test_custom_id_pattern(tmp_path):
    write(tmp_path, "B2-2-20251234.ipynb")
    got = ingest.ingest(tmp_path, "B2-2", id_pattern=r"-(?P<student>\d{8})\.ipynb$")
    assert [s.student for s in got.submissions] == ["20251234"]


# ---------------------------------------------------------------- code review


def review(code):
    nb = student_nb()
    nb.cells.insert(5, nbformat.v4.new_code_cell(code))
    return [f.what for f in checks.review(nb, checks.instructor_names(release_nb()))]


def test_review_flags_input_transformers():
    found = review("get_ipython().input_transformers_post.append(lambda lines: lines)")
    assert any("IPython internals" in f for f in found)


def test_review_flags_monkeypatching_numpy_testing():
    assert review("np.testing.assert_allclose = lambda *a, **k: None") == ["monkeypatches np.testing.assert_allclose"]


def test_review_flags_rebinding_instructor_names():
    assert review("np = object()") == ["rebinds 'np', which the instructor's cells define"]


def test_review_flags_signal_and_exit():
    found = review("import signal, os\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nos._exit(0)")
    assert any("signal handling" in f for f in found) and any("os._exit" in f for f in found)


def test_review_flags_replacing_modules_and_threads():
    found = review("import sys, threading\nsys.modules['numpy'] = None")
    assert "monkeypatches sys.modules[...]" in found
    assert any("threads" in f for f in found)


def test_review_ignores_ordinary_student_code():
    assert review("import numpy\nx = np.zeros(3)\nmodel = None\nfor i in range(3):\n    x[i] = i\n%time y = 1\n!ls") == []


# ---------------------------------------------------------------- feedback


def test_feedback_hides_hidden_tests_and_their_tracebacks():
    cell = nbformat.v4.new_code_cell(
        '"""visible."""\nassert f(1) == 1, "f(1)"\n### BEGIN HIDDEN TESTS\nassert f(7) == 49, "大きな値で違います"\n### END HIDDEN TESTS',
        metadata=nbg(grade_id="t", grade=True, locked=True, points=1),
    )
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="大きな値で違います", traceback=["...", "assert f(7) == 49"])]
    out, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "f(7)" not in out.source and "assert f(1) == 1" in out.source and "(hidden tests)" in out.source
    assert out.outputs[0]["traceback"] == ["AssertionError: 大きな値で違います"]
