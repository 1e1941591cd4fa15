"""B2-2 "CNN の畳み込み層の深さと識別能": the source notebook grades as intended.

One module fixture builds a throw-away course, generates the release and autogrades
three submissions: the solution, the untouched release and a notebook with plausible
wrong answers. Every test reads those results (or the notebooks themselves).
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

from nbgrading import (
    auto_points,
    autograde,
    autograded_notebook,
    cell_by_grade_id,
    errors,
    generate,
    make_course,
    source_notebook,
    with_answers,
)

pytestmark = pytest.mark.slow

A = "B2-2"

EXPECTED_POINTS = {
    "test_conv3_3x3_architecture": 1.0,
    "test_conv1_5x5_architecture": 1.0,
    "test_param_counts_include_biases": 1.0,
    "test_weights_per_channel_pair": 1.0,
    "test_rf_two_3x3": 1.0,
    "test_rf_three_3x3": 1.0,
    "test_receptive_field_stride_one": 1.0,
    "test_receptive_field_with_strides": 2.0,
}

WRONG_ANSWERS = {
    # "valid" padding: 32 -> 30 -> 28 -> 26, so the layer order still looks right.
    "build_conv3_3x3": '''
def build_conv3_3x3() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
''',
    # The 5x5 model built with the 3x3 kernel copied from model_conv1.
    "build_conv1_5x5": '''
def build_conv1_5x5() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dense(20, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
''',
    # Weights only, biases forgotten: 183462 - 96 - 20 - 10 and 166502 - 32 - 20 - 10.
    "param_counts": "params_conv3_3x3 = 183336\nparams_conv1_5x5 = 166440\n",
    # 3x3 counted once (9) however many layers are stacked.
    "weights_per_channel_pair": (
        'weights_per_channel_pair = {"two_3x3": 9, "one_5x5": 25, "three_3x3": 9, "one_7x7": 49}\n'
    ),
    # "A 3x3 kernel sees 3 pixels" and "three 3x3 layers see 3 x 3 = 9".
    "rf_stacked_3x3": "rf_two_3x3 = 3\nrf_three_3x3 = 9\n",
    # Strides ignored: right for every stride-1 stack, wrong once a stride follows a layer.
    "receptive_field": '''
def receptive_field(layers: list[tuple[int, int]]) -> int:
    return 1 + sum(k - 1 for k, _ in layers)
''',
}

# What the wrong submission scores 0 on; it keeps the stride-one test, which the
# stride-ignoring receptive_field answers correctly.
WRONG_ZERO = {
    "test_conv3_3x3_architecture",
    "test_conv1_5x5_architecture",
    "test_param_counts_include_biases",
    "test_weights_per_channel_pair",
    "test_rf_two_3x3",
    "test_rf_three_3x3",
    "test_receptive_field_with_strides",
}
WRONG_FULL = {"test_receptive_field_stride_one"}

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def _source() -> nbformat.NotebookNode:
    return nbformat.read(source_notebook(A), as_version=4)


def _hidden_block(grade_id: str) -> str:
    match = HIDDEN.search(cell_by_grade_id(_source(), grade_id).source)
    assert match, f"{grade_id} has no hidden block"
    return match.group(1)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("course"), (A,))
    release = generate(course, A)
    scores = {
        "solution": autograde(course, A, "solution", source_notebook(A)),
        "untouched": autograde(course, A, "untouched", release),
        "wrong": autograde(course, A, "wrong", with_answers(source_notebook(A), WRONG_ANSWERS)),
    }
    return SimpleNamespace(course=course, release=release, scores=scores)


def test_autograded_tests_and_points_are_the_expected_ones():
    assert auto_points(_source()) == EXPECTED_POINTS
    assert sum(EXPECTED_POINTS.values()) == 9


def test_part_headings_state_the_points_of_their_tests_and_written_answers():
    nb = _source()
    totals: dict[str, float] = {}
    stated: dict[str, float] = {}
    part = None
    for cell in nb.cells:
        heading = re.match(r"## 課題 (B2-2-\d) .*\((\d+) 点\)", cell.source)
        if cell.cell_type == "markdown" and heading:
            part = heading.group(1)
            stated[part] = float(heading.group(2))
            totals[part] = 0.0
        meta = cell.metadata.get("nbgrader", {})
        if part and meta.get("grade"):
            totals[part] += float(meta["points"])
    assert stated == {"B2-2-1": 7.0, "B2-2-2": 5.0}
    assert totals == stated


def test_solution_gets_full_points_on_every_autograded_test(graded):
    got = {gid: graded.scores["solution"][gid] for gid in EXPECTED_POINTS}
    assert got == {gid: (pts, pts) for gid, pts in EXPECTED_POINTS.items()}


def test_solution_runs_without_errors_and_its_tests_print_nothing_to_stderr(graded):
    nb = autograded_notebook(graded.course, A, "solution")
    assert errors(nb) == []
    for gid in EXPECTED_POINTS:
        streams = [o.get("name") for o in cell_by_grade_id(nb, gid).get("outputs", []) if o.output_type == "stream"]
        assert "stderr" not in streams, gid


def test_untouched_release_scores_zero_on_every_test(graded):
    # Every test depends on an answer cell: none is answer-independent.
    got = {gid: graded.scores["untouched"][gid] for gid in EXPECTED_POINTS}
    assert got == {gid: (0.0, pts) for gid, pts in EXPECTED_POINTS.items()}


def test_wrong_answers_score_zero_exactly_on_the_tests_that_should_catch_them(graded):
    wrong = graded.scores["wrong"]
    assert {gid for gid in EXPECTED_POINTS if wrong[gid][0] == 0} == WRONG_ZERO
    assert {gid for gid in EXPECTED_POINTS if wrong[gid][0] == wrong[gid][1]} == WRONG_FULL


def test_wrong_answers_pass_the_visible_checks_and_fail_in_the_hidden_part(graded):
    nb = autograded_notebook(graded.course, A, "wrong")
    for gid in sorted(WRONG_ZERO):
        failures = [o for o in cell_by_grade_id(nb, gid).outputs if o.output_type == "error"]
        assert len(failures) == 1, gid
        assert failures[0].ename == "AssertionError", (gid, failures[0].ename)
        # The message belongs to an assert of the hidden block, so every visible assert before it passed.
        assert failures[0].evalue and failures[0].evalue in _hidden_block(gid), (gid, failures[0].evalue)


def test_release_contains_no_solutions_and_no_hidden_tests(graded):
    text = graded.release.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text
    assert "BEGIN HIDDEN TESTS" not in text
    release_sources = "\n".join(c.source for c in nbformat.read(graded.release, as_version=4).cells)
    for gid in EXPECTED_POINTS:
        for line in _hidden_block(gid).splitlines():
            if len(line.strip()) > 15:
                assert line.strip() not in release_sources, (gid, line)
    assert "183462" not in text and "NotImplementedError" in text


def _run_test_cell(source: str, **names) -> None:
    exec(compile(source, "<test cell>", "exec"), {"np": np, **names})


def _receptive_field_own_stride(layers):
    """Wrong: multiplies each kernel by the product of strides up to and including its own."""
    size, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        size += (kernel - 1) * jump
    return size


def test_receptive_field_tests_reject_the_own_stride_answer_in_their_hidden_part():
    source = cell_by_grade_id(_source(), "test_receptive_field_with_strides").source
    with pytest.raises(AssertionError):
        _run_test_cell(source, receptive_field=_receptive_field_own_stride)
    with pytest.raises(AssertionError):
        _run_test_cell(_hidden_block("test_receptive_field_with_strides"), receptive_field=_receptive_field_own_stride)


def test_receptive_field_stride_one_test_rejects_a_hard_coded_visible_case():
    source = cell_by_grade_id(_source(), "test_receptive_field_stride_one").source
    visible = source.split("### BEGIN HIDDEN TESTS")[0]
    _run_test_cell(visible, receptive_field=lambda layers: 5)
    with pytest.raises(AssertionError):
        _run_test_cell(source, receptive_field=lambda layers: 5)


def test_committed_notebook_has_no_outputs_and_one_kernelspec():
    nb = _source()
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"] == {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
