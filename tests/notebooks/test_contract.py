"""The contract of every graded notebook (STYLE.md, "The contract of a graded cell"),
checked for each assignment in tests/notebooks/spec.py.

Four autogrades per assignment, made once per session (conftest.py): the solution, the
untouched release, plausible wrong answers and alternative correct answers. Run one
assignment with ``-k B2-2``.
"""

from __future__ import annotations

import nbformat
import pytest
from spec import SPECS, NotebookSpec

import nbgrading as nbg

pytestmark = pytest.mark.slow

SPEC_LIST = list(SPECS.values())
by_spec = pytest.mark.parametrize("spec", SPEC_LIST, ids=[s.assignment for s in SPEC_LIST])


@pytest.fixture
def graded(spec: NotebookSpec, graded_assignments) -> nbg.Graded:
    return graded_assignments(spec.assignment)


# --------------------------------------------------------------------------- the committed notebook


@by_spec
def test_notebook_declares_the_tests_and_written_answers_with_their_points(spec):
    nbg.assert_declared_points(spec.assignment, spec.auto, spec.manual, total=spec.total)


@by_spec
def test_part_headings_state_the_points_of_their_cells(spec):
    nbg.assert_heading_points(spec.assignment, spec.headings)


@by_spec
def test_committed_notebook_has_no_outputs_and_one_kernelspec(spec):
    nbg.assert_committed_notebook_clean(spec.assignment)


# --------------------------------------------------------------------------- the four autogrades


@by_spec
def test_solution_gets_full_points_and_its_tests_print_nothing_to_stderr(spec, graded):
    nbg.assert_full_points(graded.scores["solution"], spec.auto)
    nbg.assert_clean_test_cells(graded, "solution", spec.auto)


@by_spec
def test_written_answers_wait_for_a_person_and_an_untouched_one_scores_zero(spec, graded):
    for gid in spec.manual:
        assert nbg.grade_of(graded.course, spec.assignment, "solution", gid) == (None, True), gid
        assert nbg.grade_of(graded.course, spec.assignment, "untouched", gid) == (0.0, False), gid


@by_spec
def test_untouched_release_scores_zero_on_every_test(spec, graded):
    nbg.assert_zero_points(graded.scores["untouched"], spec.auto)


@by_spec
def test_wrong_answers_lose_exactly_the_tests_meant_to_catch_them(spec, graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], spec.auto, spec.wrong_zero)
    nbg.assert_full_exactly_on(graded.scores["wrong"], spec.auto, set(spec.auto) - spec.wrong_zero)


@by_spec
def test_wrong_answers_pass_the_visible_checks_and_fail_in_the_hidden_part(spec, graded):
    nbg.assert_hidden_block_caught(graded, spec.wrong_zero, set(spec.auto) - spec.wrong_zero)


@by_spec
def test_alternative_correct_answers_get_full_points(spec, graded):
    nbg.assert_full_points(graded.scores["alternative"], spec.auto)
    nbg.assert_clean_test_cells(graded, "alternative", spec.auto)


@by_spec
def test_alternative_correct_answers_raise_no_review_flag(spec, graded):
    assert nbg.review_findings(graded, "alternative") == []


@by_spec
def test_every_answer_cell_has_a_wrong_and_an_alternative_answer(spec):
    nb = nbg.read_source(spec.assignment)
    answers = {
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }
    assert set(spec.wrong) == answers
    assert set(spec.alternative) == answers


# --------------------------------------------------------------------------- the release


@by_spec
def test_release_contains_no_solutions_and_no_hidden_tests(spec, graded):
    nbg.assert_release_hides_solutions(
        graded,
        spec.forbidden,
        hidden_in=spec.hidden_in,
        min_hidden_lines=spec.min_hidden_lines,
        skip_lines_shown_visibly=spec.skip_lines_shown_visibly,
    )
    for gid in spec.manual:
        answer = nbg.cell_by_grade_id(nbformat.read(graded.release, as_version=4), gid)
        assert answer.source == "ここに回答を書いてください。", gid


@by_spec
def test_release_stubs_keep_signature_and_docstring(spec, graded):
    nbg.assert_release_stubs(graded, spec.stubs)


@by_spec
def test_no_expected_value_is_printed_before_its_answer_cell(spec, graded):
    nbg.assert_no_value_before_answer(graded, spec.given_away)
