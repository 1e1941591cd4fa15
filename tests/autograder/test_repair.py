"""Putting damaged submissions back into the release's shape, and reading them."""

from __future__ import annotations

import copy

import nbformat
import pytest
from notebook_builders import RELEASE_IDS, ids, release_nb, student_nb

from autograder import repair


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


def deeply_nested(depth: int) -> bytes:
    return b'{"cells": [], "metadata": {"x": ' + b"[" * depth + b"]" * depth + b'}, "nbformat": 4, "nbformat_minor": 5}'


def test_submission_as_saved_by_jupyter_is_read():
    nb = student_nb()
    assert repair.read_submission(nbformat.writes(nb).encode()).cells[4].source == "answer = 5"


def test_colab_notebook_without_cell_ids_is_read():
    nb = student_nb()
    raw = nbformat.writes(nb)
    data = nbformat.reads(raw, as_version=4)
    data.nbformat_minor = 0
    for cell in data.cells:
        cell.pop("id", None)
    text = nbformat.writes(data, version=nbformat.NO_CONVERT)
    assert len(repair.read_submission(text.encode()).cells) == len(nb.cells)


def test_deeply_nested_json_is_invalid_with_the_reason_in_both_languages():
    with pytest.raises(repair.InvalidSubmission) as invalid:
        repair.read_submission(deeply_nested(100_000))
    assert "入れ子が深すぎ" in invalid.value.ja and "nested too deeply" in invalid.value.en
    assert "Jupyter" in invalid.value.ja and "save it again" in invalid.value.en  # what to do about it
    assert str(invalid.value) == f"{invalid.value.ja} / {invalid.value.en}"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"cells": [1, 2], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        b'{"cells": [{"cell_type": "code"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        b'{"cells": [{"cell_type": "code", "source": 3, "metadata": {}, "outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        b'{"cells": [], "metadata": {}, "nbformat": 99, "nbformat_minor": 0}',
        b'{"worksheets": [{"cells": 5}], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}',
    ],
    ids=["cells-not-objects", "cell-without-source", "source-a-number", "unknown-version", "broken-v3"],
)
def test_json_that_is_no_valid_notebook_is_invalid_not_a_crash(raw):
    with pytest.raises(repair.InvalidSubmission) as invalid:
        repair.read_submission(raw)
    assert invalid.value.ja and invalid.value.en


def test_file_over_the_size_limit_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(repair.json, "loads", lambda *a, **k: pytest.fail("parsed"))
    with pytest.raises(repair.InvalidSubmission, match="too large"):
        repair.read_submission(b" " * 2048, max_bytes=1024)


def test_any_failure_while_reading_becomes_invalid_submission(monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("inside nbformat")

    monkeypatch.setattr(repair.nbformat, "reads", broken)
    with pytest.raises(repair.InvalidSubmission, match="ZeroDivisionError: inside nbformat"):
        repair.read_submission(nbformat.writes(student_nb()).encode())


def test_guard_turns_any_exception_of_one_students_step_into_invalid_submission():
    with pytest.raises(repair.InvalidSubmission) as invalid:
        with repair.invalid_on_error(repair.Step.REPAIR):
            {}["grade_id"]
    assert invalid.value.en.startswith("repair failed (KeyError: 'grade_id')")
    assert invalid.value.ja.startswith("修復中にエラーが起きました (KeyError: 'grade_id')")


def test_guard_reports_recursion_as_nesting():
    def deep(n):
        return deep(n + 1)

    with pytest.raises(repair.InvalidSubmission, match="nested too deeply"):
        with repair.invalid_on_error(repair.Step.REVIEW):
            deep(0)


def test_guard_keeps_the_reason_of_an_invalid_submission():
    reason = repair.InvalidSubmission("日本語", "English")
    with pytest.raises(repair.InvalidSubmission) as invalid:
        with repair.invalid_on_error(repair.Step.REPAIR):
            raise reason
    assert invalid.value is reason


def test_invalid_submission_survives_pickling():
    import pickle

    copy_ = pickle.loads(pickle.dumps(repair.InvalidSubmission("日本語", "English")))
    assert (copy_.ja, copy_.en, str(copy_)) == ("日本語", "English", "日本語 / English")
