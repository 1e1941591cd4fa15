"""B2-2 "CNN の畳み込み層の深さと識別能": the source notebook grades as intended.

One module fixture builds a throw-away course, generates the release and autogrades
three submissions: the solution, the untouched release and a notebook with plausible
wrong answers. Every test reads those results (or the notebooks themselves).
"""

from __future__ import annotations

import pytest

import nbgrading as nbg

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



@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return nbg.grade_three_ways(tmp_path_factory, A, WRONG_ANSWERS)


def test_autograded_tests_and_points_are_the_expected_ones():
    nbg.assert_declared_points(A, EXPECTED_POINTS, total=9)


def test_part_headings_state_the_points_of_their_tests_and_written_answers():
    nbg.assert_heading_points(A, {"B2-2-1": 7, "B2-2-2": 5})


def test_solution_gets_full_points_on_every_autograded_test(graded):
    nbg.assert_full_points(graded.scores["solution"], EXPECTED_POINTS)


def test_solution_runs_without_errors_and_its_tests_print_nothing_to_stderr(graded):
    nbg.assert_clean_test_cells(graded, "solution", EXPECTED_POINTS)


def test_untouched_release_scores_zero_on_every_test(graded):
    # Every test depends on an answer cell: none is answer-independent.
    nbg.assert_zero_points(graded.scores["untouched"], EXPECTED_POINTS)


def test_wrong_answers_score_zero_exactly_on_the_tests_that_should_catch_them(graded):
    nbg.assert_zero_exactly_on(graded.scores["wrong"], EXPECTED_POINTS, WRONG_ZERO)
    nbg.assert_full_exactly_on(graded.scores["wrong"], EXPECTED_POINTS, WRONG_FULL)


def test_wrong_answers_pass_the_visible_checks_and_fail_in_the_hidden_part(graded):
    nbg.assert_hidden_block_caught(graded, WRONG_ZERO, WRONG_FULL)


def test_release_contains_no_solutions_and_no_hidden_tests(graded):
    nbg.assert_release_hides_solutions(graded, ("183462",), hidden_in=EXPECTED_POINTS)
    nbg.assert_release_stubs(
        graded,
        {
            "build_conv3_3x3": "def build_conv3_3x3() -> keras.Model:",
            "build_conv1_5x5": "def build_conv1_5x5() -> keras.Model:",
            "receptive_field": "def receptive_field(layers: list[tuple[int, int]]) -> int:",
        },
    )


def _receptive_field_own_stride(layers):
    """Wrong: multiplies each kernel by the product of strides up to and including its own."""
    size, jump = 1, 1
    for kernel, stride in layers:
        jump *= stride
        size += (kernel - 1) * jump
    return size


def test_receptive_field_tests_reject_the_own_stride_answer_in_their_hidden_part():
    gid = "test_receptive_field_with_strides"
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, gid, receptive_field=_receptive_field_own_stride)
    with pytest.raises(AssertionError):
        nbg.run_code(nbg.hidden_block(A, gid), receptive_field=_receptive_field_own_stride)


def test_receptive_field_stride_one_test_rejects_a_hard_coded_visible_case():
    gid = "test_receptive_field_stride_one"
    nbg.run_code(nbg.visible_part(A, gid), receptive_field=lambda layers: 5)
    with pytest.raises(AssertionError):
        nbg.run_test_cell(A, gid, receptive_field=lambda layers: 5)


def test_committed_notebook_has_no_outputs_and_one_kernelspec():
    nbg.assert_committed_notebook_clean(A)
